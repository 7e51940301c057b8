//! `descent export`: every run of an experiment in one long table, ready for pandas or
//! polars: `pd.read_csv("OUT/EXPERIMENT/export/metrics.csv")`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::usage;
use crate::output;
use crate::run_files::{ExperimentDir, RunDir};
use crate::state::{MEASUREMENTS_COLUMNS, MetricsColumn, RunRecord, TIMING_COLUMNS};

/// The columns every row starts with: which run it belongs to.
const RUN_COLUMNS: [&str; 5] = ["run_id", "variant", "point", "seed", "status"];

/// Writes `<dir>/export/metrics.csv` (one row per logged step per run: the run's identity,
/// its sweep values (a key named like a metrics column, as a variant's own `lr`, as
/// `sweep.<key>`), its `metrics.csv` row and the training seconds from `timing.csv`) and,
/// when runs measured anything, `<dir>/export/measurements.csv` (one row per measurement).
/// Cells are written as the runs wrote them ([`output::metrics_cells`], [`output::number`],
/// [`output::seconds_cell`]), so numbers read back exactly. Returns the files.
pub fn export(dir: &Path) -> Result<Vec<PathBuf>> {
    let runs = ExperimentDir::new(dir).runs()?;
    if runs.is_empty() {
        return Err(usage(format!(
            "{} holds no runs (no subdirectory has a run.json)",
            dir.display()
        )));
    }
    let keys: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r.record.point.values.keys().cloned())
        .collect();
    let out = dir.join("export");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut metrics = Table::default();
    let mut measurements = Table::default();
    for run in &runs {
        let identity = identity(&run.record, &keys);
        add_rows(&run.dir, &identity, &mut metrics, &mut measurements)?;
    }
    // A variant's own sweep key (`lr`) would share its name with a metrics column: it
    // becomes `sweep.lr`.
    let taken: BTreeSet<&String> = metrics
        .columns
        .iter()
        .chain(&measurements.columns)
        .collect();
    let run_columns: Vec<String> = RUN_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(keys.iter().map(|k| {
            if taken.contains(k) || RUN_COLUMNS.contains(&k.as_str()) {
                format!("sweep.{k}")
            } else {
                k.clone()
            }
        }))
        .collect();
    let mut written = Vec::new();
    for (name, table) in [("metrics.csv", metrics), ("measurements.csv", measurements)] {
        let path = out.join(name);
        if table.rows.is_empty() {
            // No stale table from an earlier export.
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
            continue;
        }
        output::write_atomic(&path, &table.to_csv(&run_columns)?)?;
        written.push(path);
    }
    Ok(written)
}

/// The cells every row of `record`'s run starts with: [`RUN_COLUMNS`], then its value of
/// each sweep key in `keys` (empty where it has none).
fn identity(record: &RunRecord, keys: &BTreeSet<String>) -> Vec<String> {
    let mut identity = vec![
        record.run_id.clone(),
        record.variant.clone(),
        record.point.label.clone(),
        record.seed.to_string(),
        record.status.name().to_owned(),
    ];
    identity.extend(keys.iter().map(|k| {
        record
            .point
            .values
            .get(k)
            .map_or(String::new(), |v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    }));
    identity
}

/// Adds the run's `metrics.csv` rows (each with its training seconds) to `metrics` and its
/// `measurements.csv` rows to `measurements`.
fn add_rows(
    run: &RunDir,
    identity: &[String],
    metrics: &mut Table,
    measurements: &mut Table,
) -> Result<()> {
    let wall: BTreeMap<u64, f64> = run.timing()?.unwrap_or_default().into_iter().collect();
    if let Some(rows) = run.metrics()? {
        let columns: Vec<String> = MetricsColumn::ALL
            .iter()
            .map(|c| c.name())
            .chain([TIMING_COLUMNS[1]])
            .map(str::to_owned)
            .collect();
        for row in &rows {
            let seconds = wall
                .get(&row.step)
                .map(|s| output::seconds_cell(*s))
                .unwrap_or_default();
            let mut cells = Vec::from(output::metrics_cells(row));
            cells.push(seconds);
            metrics.add(identity, &columns, cells);
        }
    }
    if let Some(rows) = run.measurements()? {
        let columns = MEASUREMENTS_COLUMNS.map(str::to_owned);
        for m in rows {
            let cells = vec![m.step.to_string(), m.name, output::number(m.value)];
            measurements.add(identity, &columns, cells);
        }
    }
    Ok(())
}

/// Rows whose columns are the union of every run's, in the order first seen.
#[derive(Default)]
struct Table {
    columns: Vec<String>,
    rows: Vec<(Vec<String>, BTreeMap<usize, String>)>,
}

impl Table {
    fn add(&mut self, identity: &[String], header: &[String], cells: Vec<String>) {
        let mut row = BTreeMap::new();
        for (name, cell) in header.iter().zip(cells) {
            let column = match self.columns.iter().position(|c| c == name) {
                Some(i) => i,
                None => {
                    self.columns.push(name.clone());
                    self.columns.len() - 1
                }
            };
            row.insert(column, cell);
        }
        self.rows.push((identity.to_vec(), row));
    }

    fn to_csv(&self, run_columns: &[String]) -> Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(run_columns.iter().chain(&self.columns))?;
        for (identity, row) in &self.rows {
            let cells = (0..self.columns.len()).map(|i| row.get(&i).map_or("", String::as_str));
            writer.write_record(identity.iter().map(String::as_str).chain(cells))?;
        }
        writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the table: {e}"))
    }
}

/// `descent export`.
pub fn execute(dir: &Path) -> Result<()> {
    for path in export(dir)? {
        println!("written: {}", path.display());
    }
    Ok(())
}
