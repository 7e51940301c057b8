//! Reading an experiment directory back: `run.json`, `metrics.csv`, `timing.csv` and
//! `trajectory.csv` of every run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// One value of a sweep point: the runner writes numbers, and strings for settings
/// such as `"full"` batches.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PointValue {
    /// A number (a learning rate, a batch size).
    Num(f64),
    /// Anything else, shown as written.
    Text(String),
}

impl std::fmt::Display for PointValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointValue::Num(v) => write!(f, "{v}"),
            PointValue::Text(s) => f.write_str(s),
        }
    }
}

/// The numeric columns of a `metrics.csv`, by header name, one entry per row.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics {
    /// The `step` column.
    pub steps: Vec<u64>,
    /// Every other column; `None` where the cell was empty.
    pub columns: HashMap<String, Vec<Option<f64>>>,
}

/// One run, as read from its directory.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    /// `run_id`, or the directory name when the file has none.
    pub id: String,
    /// The optimizer variant's name.
    pub variant: String,
    /// The sweep point's label (`"lr=0.1"`); empty when nothing was swept.
    pub label: String,
    /// The sweep point's values, by key.
    pub values: BTreeMap<String, PointValue>,
    /// The seed; runs without one sort first.
    pub seed: u64,
    /// Whether the run diverged.
    pub diverged: bool,
    /// The step it diverged at, when the runner recorded it.
    pub diverged_at: Option<u64>,
    /// Its metrics (empty when `metrics.csv` is missing).
    pub metrics: Metrics,
    /// Wall seconds by step, from `timing.csv`, when there is one.
    pub wall: Option<BTreeMap<u64, f64>>,
    /// The first two coordinates of every recorded iterate, from `trajectory.csv`.
    pub trajectory: Option<Vec<[f64; 2]>>,
    /// Probe values by name, as `(step, value)`, from `measurements.csv`.
    pub measurements: BTreeMap<String, Vec<(u64, f64)>>,
    /// Batches per epoch (`run.json`'s limits), when recorded.
    pub batches_per_epoch: Option<u64>,
}

impl Run {
    /// The finite values of `column` by step, up to the step the run diverged at:
    /// what a plot may draw of this run.
    pub fn series(&self, column: &str) -> Vec<(u64, f64)> {
        let Some(values) = self.metrics.columns.get(column) else {
            return self
                .measurements
                .get(column)
                .into_iter()
                .flatten()
                .filter(|(step, v)| self.diverged_at.is_none_or(|at| *step <= at) && v.is_finite())
                .copied()
                .collect();
        };
        self.metrics
            .steps
            .iter()
            .zip(values)
            .filter(|(step, _)| self.diverged_at.is_none_or(|at| **step <= at))
            .filter_map(|(step, v)| v.filter(|v| v.is_finite()).map(|v| (*step, v)))
            .collect()
    }
}

/// Reads every run directory (a subdirectory holding a `run.json`) of `dir`, in name
/// order.
pub(crate) fn load(dir: &Path, threads: usize) -> Result<Vec<Run>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading directory {}", dir.display()))?;
        let path = entry.path();
        if path.join("run.json").is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    super::map_ordered(&paths, threads, |p| load_run(p))
        .into_iter()
        .collect()
}

fn load_run(dir: &Path) -> Result<Run> {
    let json_path = dir.join("run.json");
    let text = std::fs::read_to_string(&json_path)
        .with_context(|| format!("reading {}", json_path.display()))?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", json_path.display()))?;
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = json
        .get("run_id")
        .and_then(Value::as_str)
        .map_or(dir_name, str::to_owned);
    let variant = json
        .get("variant")
        .and_then(Value::as_str)
        .unwrap_or("run")
        .to_owned();
    let point = json.get("point");
    let mut values = BTreeMap::new();
    if let Some(map) = point
        .and_then(|p| p.get("values"))
        .and_then(Value::as_object)
    {
        for (key, value) in map {
            let value = match value {
                Value::Number(n) => n.as_f64().map(PointValue::Num),
                Value::String(s) => Some(PointValue::Text(s.clone())),
                Value::Bool(b) => Some(PointValue::Text(b.to_string())),
                _ => None,
            };
            if let Some(value) = value {
                values.insert(key.clone(), value);
            }
        }
    }
    let label = point
        .and_then(|p| p.get("label"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        });
    let seed = json.get("seed").and_then(Value::as_u64).unwrap_or(0);
    let batches_per_epoch = json
        .get("limits")
        .and_then(|l| l.get("batches_per_epoch"))
        .and_then(Value::as_u64);
    let diverged_at = json.get("diverged_at").and_then(Value::as_u64);
    let diverged =
        json.get("status").and_then(Value::as_str) == Some("diverged") || diverged_at.is_some();

    let metrics_path = dir.join("metrics.csv");
    let metrics = if metrics_path.is_file() {
        read_metrics(&metrics_path)?
    } else {
        Metrics::default()
    };
    let timing_path = dir.join("timing.csv");
    let wall = if timing_path.is_file() {
        let timing = read_metrics(&timing_path)?;
        timing.columns.get("wall_seconds").map(|secs| {
            timing
                .steps
                .iter()
                .zip(secs)
                .filter_map(|(step, s)| s.filter(|s| s.is_finite()).map(|s| (*step, s)))
                .collect()
        })
    } else {
        None
    };
    let trajectory_path = dir.join("trajectory.csv");
    let trajectory = if trajectory_path.is_file() {
        let t = read_metrics(&trajectory_path)?;
        match (t.columns.get("w0"), t.columns.get("w1")) {
            (Some(w0), Some(w1)) => Some(
                w0.iter()
                    .zip(w1)
                    .map(|(a, b)| [a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)])
                    .collect(),
            ),
            _ => None,
        }
    } else {
        None
    };

    let measurements_path = dir.join("measurements.csv");
    let measurements = if measurements_path.is_file() {
        read_measurements(&measurements_path)?
    } else {
        BTreeMap::new()
    };

    Ok(Run {
        id,
        variant,
        label,
        values,
        seed,
        diverged,
        diverged_at,
        metrics,
        wall,
        trajectory,
        measurements,
        batches_per_epoch,
    })
}

/// Reads a `measurements.csv` (`step,name,value` rows) into series by name.
fn read_measurements(path: &Path) -> Result<BTreeMap<String, Vec<(u64, f64)>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for (line_number, line) in text.lines().enumerate().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let parsed = match cells[..] {
            [step, name, value] => step
                .parse::<u64>()
                .ok()
                .zip(value.parse::<f64>().ok())
                .map(|(s, v)| (name, s, v)),
            _ => None,
        };
        let Some((name, step, value)) = parsed else {
            bail!(
                "{}:{}: expected step,name,value",
                path.display(),
                line_number + 1
            );
        };
        series
            .entry(name.to_string())
            .or_default()
            .push((step, value));
    }
    Ok(series)
}

/// Reads a CSV whose first column is `step` and whose other cells are numbers or empty.
fn read_metrics(path: &Path) -> Result<Metrics> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .clone();
    let Some(step_col) = headers.iter().position(|h| h == "step") else {
        bail!("{} has no `step` column", path.display());
    };
    let mut metrics = Metrics::default();
    let mut columns: Vec<(usize, Vec<Option<f64>>)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != step_col)
        .map(|(i, _)| (i, Vec::new()))
        .collect();
    for (row, record) in reader.records().enumerate() {
        // Line numbers as an editor shows them: the header is line 1.
        let line = row + 2;
        let record = record.with_context(|| format!("reading {} line {line}", path.display()))?;
        let step = record.get(step_col).unwrap_or("");
        let step: u64 = step.parse().with_context(|| {
            format!(
                "{} line {line}: step {step:?} is not a whole number",
                path.display()
            )
        })?;
        metrics.steps.push(step);
        for (i, values) in &mut columns {
            let cell = record.get(*i).unwrap_or("");
            let value = if cell.is_empty() {
                None
            } else {
                Some(cell.parse::<f64>().with_context(|| {
                    format!(
                        "{} line {line}: {:?} = {cell:?} is not a number",
                        path.display(),
                        &headers[*i]
                    )
                })?)
            };
            values.push(value);
        }
    }
    for (i, values) in columns {
        metrics.columns.insert(headers[i].to_owned(), values);
    }
    Ok(metrics)
}
