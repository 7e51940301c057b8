//! Reading back what runs left on disk ([`crate::output`] writes it): the one typed reader
//! of a run directory (`run.json` as a [`RunRecord`], `metrics.csv` as [`MetricsRow`]s,
//! `timing.csv`, `measurements.csv`, `profiles.csv` as [`ProfilePoint`]s, `trajectory.csv`
//! as [`TrajectoryRow`]s) and of an
//! experiment directory (its finished runs in run-list order, its `config.toml` and other
//! files). The summary, the plots, the report, the TensorBoard files and `descent export`
//! all read through it.
//!
//! A file that is there but does not read as the runner writes it is an error naming the
//! file (and for a table the line), never a default.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::error::UsageError;
use crate::output::{
    BARRIERS_CSV, MEASUREMENTS_CSV, METRICS_CSV, PARAMETERS_BIN, PARAMETERS_MAGIC, PROFILES_CSV,
    RUN_JSON, SNAPSHOTS_DIR, TIMING_CSV, TRAJECTORY_CSV,
};
use crate::state::{
    BARRIERS_COLUMNS, BarrierPoint, MEASUREMENTS_COLUMNS, MetricsColumn, MetricsRow,
    PROFILES_COLUMNS, ProfilePoint, RunRecord, TIMING_COLUMNS, TrajectoryRow,
};

/// One row of `measurements.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The step it was taken at.
    pub step: u64,
    /// The measurement's name (a probe's, such as `sharpness`).
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// One run's directory and the files in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `run.json`, or `None` while the run has not finished (there is none). A record that
    /// does not read as a [`RunRecord`] (a field missing or of the wrong kind) is a
    /// [`UsageError`] naming the file.
    pub fn record(&self) -> Result<Option<RunRecord>> {
        let path = self.path.join(RUN_JSON);
        if !path.exists() {
            return Ok(None);
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let record = serde_json::from_slice(&bytes).map_err(|e| {
            UsageError(format!(
                "{}: damaged run record ({e}); delete the run's directory and `descent resume` to rerun it",
                path.display()
            ))
        })?;
        Ok(Some(record))
    }

    /// The rows of `metrics.csv`, `None` when there is none.
    pub fn metrics(&self) -> Result<Option<Vec<MetricsRow>>> {
        let names = MetricsColumn::ALL.map(MetricsColumn::name);
        read_rows(&self.path.join(METRICS_CSV), &names, |cells| {
            let mut row = MetricsRow::default();
            for (i, column) in MetricsColumn::ALL.into_iter().enumerate() {
                match column {
                    MetricsColumn::Step => row.step = cells.count(i)?,
                    MetricsColumn::Epoch => row.epoch = cells.count(i)?,
                    MetricsColumn::Samples => row.samples = cells.count(i)?,
                    MetricsColumn::Lr => row.lr = cells.optional(i)?,
                    MetricsColumn::TrainLoss => row.train_loss = cells.optional(i)?,
                    MetricsColumn::GradNorm => row.grad_norm = cells.optional(i)?,
                    MetricsColumn::ValLoss => row.val_loss = cells.optional(i)?,
                    MetricsColumn::ValAccuracy => row.val_accuracy = cells.optional(i)?,
                    MetricsColumn::TestLoss => row.test_loss = cells.optional(i)?,
                    MetricsColumn::TestAccuracy => row.test_accuracy = cells.optional(i)?,
                }
            }
            Ok(row)
        })
    }

    /// `timing.csv`: `(step, wall seconds of training until then)`, `None` when there is
    /// none.
    pub fn timing(&self) -> Result<Option<Vec<(u64, f64)>>> {
        read_rows(&self.path.join(TIMING_CSV), &TIMING_COLUMNS, |cells| {
            Ok((cells.count(0)?, cells.number(1)?))
        })
    }

    /// The rows of `measurements.csv`, `None` when there is none.
    pub fn measurements(&self) -> Result<Option<Vec<Measurement>>> {
        read_rows(
            &self.path.join(MEASUREMENTS_CSV),
            &MEASUREMENTS_COLUMNS,
            |cells| {
                Ok(Measurement {
                    step: cells.count(0)?,
                    name: cells.text(1).to_owned(),
                    value: cells.number(2)?,
                })
            },
        )
    }

    /// The final parameters of `parameters.bin`, `None` when there is none.
    pub fn parameters(&self) -> Result<Option<Vec<f64>>> {
        let path = self.path.join(PARAMETERS_BIN);
        if !path.is_file() {
            return Ok(None);
        }
        read_parameter_file(&path).map(Some)
    }

    /// The parameters the run ended with: `parameters.bin`, or else its snapshot at
    /// `steps` (the run's last step); `None` when it kept neither.
    pub fn final_parameters(&self, steps: u64) -> Result<Option<Vec<f64>>> {
        if let Some(parameters) = self.parameters()? {
            return Ok(Some(parameters));
        }
        if self.snapshot_steps()?.contains(&steps) {
            return self.snapshot(steps).map(Some);
        }
        Ok(None)
    }

    /// The steps of the run's parameter snapshots (`snapshots/<step>.bin`), ascending; empty
    /// when it has none.
    pub fn snapshot_steps(&self) -> Result<Vec<u64>> {
        let dir = self.path.join(SNAPSHOTS_DIR);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut steps = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let name = entry?.file_name();
            let step = name
                .to_str()
                .and_then(|n| n.strip_suffix(".bin"))
                .and_then(|n| n.parse::<u64>().ok());
            steps.extend(step);
        }
        steps.sort_unstable();
        Ok(steps)
    }

    /// The parameters of the snapshot at `step`.
    pub fn snapshot(&self, step: u64) -> Result<Vec<f64>> {
        read_parameter_file(&self.path.join(SNAPSHOTS_DIR).join(format!("{step}.bin")))
    }

    /// The rows of `profiles.csv` as `(step, point)`, `None` when there is none.
    pub fn profiles(&self) -> Result<Option<Vec<(u64, ProfilePoint)>>> {
        read_rows(&self.path.join(PROFILES_CSV), &PROFILES_COLUMNS, |cells| {
            let series = cells.count(2)?;
            Ok((
                cells.count(0)?,
                ProfilePoint {
                    name: cells.text(1).to_owned(),
                    series: u32::try_from(series).unwrap_or(u32::MAX),
                    x: cells.number(3)?,
                    y: cells.optional(4)?,
                    value: cells.number(5)?,
                },
            ))
        })
    }

    /// The rows of `trajectory.csv` (landscapes), `None` when there is none; each has as
    /// many coordinates as the header names.
    pub fn trajectory(&self) -> Result<Option<Vec<TrajectoryRow>>> {
        let path = self.path.join(TRAJECTORY_CSV);
        // The header names the coordinates: step, w0, …, loss.
        let dim = match header_of(&path)? {
            Some(header) => header.len().saturating_sub(2),
            None => return Ok(None),
        };
        let names = TrajectoryRow::columns(dim);
        read_rows(&path, &names, |cells| {
            Ok(TrajectoryRow {
                step: cells.count(0)?,
                w: (1..=dim).map(|i| cells.number(i)).collect::<Result<_>>()?,
                loss: cells.optional(dim + 1)?,
            })
        })
    }
}

/// A finished run: its directory and its `run.json`.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The run's directory.
    pub dir: RunDir,
    /// Its `run.json`.
    pub record: RunRecord,
}

/// An experiment directory: `config.toml`, the runs' directories, the summaries.
#[derive(Debug, Clone)]
pub struct ExperimentDir {
    path: PathBuf,
}

impl ExperimentDir {
    /// The experiment directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> ExperimentDir {
        ExperimentDir { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rows of `barriers.csv`, `None` when there is none.
    pub fn barriers(&self) -> Result<Option<Vec<BarrierPoint>>> {
        read_rows(&self.path.join(BARRIERS_CSV), &BARRIERS_COLUMNS, |cells| {
            Ok(BarrierPoint {
                group: cells.text(0).to_owned(),
                seed_a: cells.count(1)?,
                seed_b: cells.count(2)?,
                set: cells.text(3).to_owned(),
                a: cells.number(4)?,
                loss: cells.number(5)?,
                accuracy: cells.optional(6)?,
            })
        })
    }

    /// The finished runs (the subdirectories holding a `run.json`), in run-list order.
    pub fn runs(&self) -> Result<Vec<StoredRun>> {
        let dir = &self.path;
        // A wrong path is the user's (exit 2); a directory that cannot be read, the machine's.
        if !dir.is_dir() {
            return Err(
                UsageError(format!("{}: no such experiment directory", dir.display())).into(),
            );
        }
        let mut runs = Vec::new();
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if !path.is_dir() {
                continue;
            }
            let run = RunDir::new(path);
            if let Some(record) = run.record()? {
                runs.push(StoredRun { dir: run, record });
            }
        }
        runs.sort_by_key(|r| r.record.index);
        Ok(runs)
    }

    /// The text of its file `name` (`summary.md`, `config.toml`).
    pub fn text(&self, name: &str) -> Result<String> {
        let path = self.path.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }

    /// `config.toml`, the resolved experiment, as a TOML table.
    pub fn config(&self) -> Result<toml::Table> {
        let path = self.path.join("config.toml");
        self.text("config.toml")?
            .parse()
            .with_context(|| format!("parsing {}", path.display()))
    }
}

/// A file of `parameters.bin`'s format: the magic bytes, then little-endian `f64`s.
fn read_parameter_file(path: &Path) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(values) = bytes.strip_prefix(PARAMETERS_MAGIC.as_slice()) else {
        bail!("{}: not a descent parameter file", path.display());
    };
    if !values.len().is_multiple_of(8) {
        bail!("{}: truncated", path.display());
    }
    Ok(values
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// The cells of one row of a table being read, for messages that name the file and line.
struct Cells<'a> {
    path: &'a Path,
    /// As an editor counts: the header is line 1.
    line: usize,
    header: &'a [String],
    record: &'a csv::StringRecord,
}

impl Cells<'_> {
    fn text(&self, i: usize) -> &str {
        self.record.get(i).unwrap_or("")
    }

    fn name(&self, i: usize) -> &str {
        self.header.get(i).map_or("", String::as_str)
    }

    /// A whole number (a step, a count).
    fn count(&self, i: usize) -> Result<u64> {
        let cell = self.text(i);
        cell.parse().with_context(|| {
            format!(
                "{} line {}: {} {cell:?} is not a whole number",
                self.path.display(),
                self.line,
                self.name(i)
            )
        })
    }

    /// A number (`NaN` and `inf` included, as the runner writes them).
    fn number(&self, i: usize) -> Result<f64> {
        let cell = self.text(i);
        cell.parse().with_context(|| {
            format!(
                "{} line {}: {:?} = {cell:?} is not a number",
                self.path.display(),
                self.line,
                self.name(i)
            )
        })
    }

    /// A number, or `None` for an empty cell (not measured at this row).
    fn optional(&self, i: usize) -> Result<Option<f64>> {
        if self.text(i).is_empty() {
            Ok(None)
        } else {
            self.number(i).map(Some)
        }
    }
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The header of the CSV file `path`, `None` when there is no such file.
fn header_of(path: &Path) -> Result<Option<Vec<String>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let header = reader(path)?
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .iter()
        .map(str::to_owned)
        .collect();
    Ok(Some(header))
}

/// The rows of the CSV file `path`, each read by `row`, after checking that its header is
/// `columns`; `None` when there is no such file.
fn read_rows<T, S: AsRef<str>>(
    path: &Path,
    columns: &[S],
    mut row: impl FnMut(&Cells) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(header) = header_of(path)? else {
        return Ok(None);
    };
    if !header
        .iter()
        .map(String::as_str)
        .eq(columns.iter().map(AsRef::as_ref))
    {
        let expected: Vec<&str> = columns.iter().map(AsRef::as_ref).collect();
        bail!(
            "{}: its header is {:?}, not {:?}",
            path.display(),
            header.join(","),
            expected.join(",")
        );
    }
    let mut reader = reader(path)?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("reading {} line {line}", path.display()))?;
        rows.push(row(&Cells {
            path,
            line,
            header: &header,
            record: &record,
        })?);
    }
    Ok(Some(rows))
}

/// Run records and files for the tests of the modules that read them, here and in
/// descent-runner (feature `testing`, which its tests switch on): not part of the API.
#[cfg(any(test, feature = "testing"))]
#[allow(clippy::unwrap_used)] // test helpers: failing loudly is the point
pub mod testing {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::config::SweepPoint;
    use crate::state::{Best, Limits, MetricsRow, Outcome, RunRecord};

    /// A finished run's record, diverged at `diverged_at` when given.
    pub fn record(
        id: &str,
        variant: &str,
        point: SweepPoint,
        seed: u64,
        diverged_at: Option<u64>,
    ) -> RunRecord {
        RunRecord {
            run_id: id.into(),
            index: 0,
            variant: variant.into(),
            point,
            seed,
            status: if diverged_at.is_some() {
                Outcome::Diverged
            } else {
                Outcome::Finished
            },
            diverged_at,
            steps: 0,
            samples: 0,
            last: MetricsRow::default(),
            best: Best::default(),
            steps_to_target: None,
            seconds_to_target: None,
            seconds: 0.0,
            limits: Limits {
                steps: None,
                seconds: None,
                batches_per_epoch: 1,
                log_every: 1,
                eval_every: 1,
                checkpoint_every: 0,
            },
            measured: BTreeMap::new(),
        }
    }

    /// A sweep point of one key, labelled `label`.
    pub fn point(label: &str, key: &str, value: serde_json::Value) -> SweepPoint {
        SweepPoint {
            label: label.to_owned(),
            values: [(key.to_owned(), value)].into(),
        }
    }

    /// Writes `record` as `dir/run.json`, creating `dir`.
    pub fn write_record(dir: &Path, record: &RunRecord) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("run.json"),
            serde_json::to_vec_pretty(record).unwrap(),
        )
        .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{point, record, write_record};
    use super::*;
    use crate::config::SweepPoint;
    use crate::error::is_usage;
    use crate::state::{METRICS_HEADER, Progressed};

    #[test]
    fn reads_back_what_the_runner_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sgd-s3");
        std::fs::create_dir_all(&dir).unwrap();
        let rows = vec![
            MetricsRow {
                step: 0,
                epoch: 0,
                samples: 0,
                lr: Some(0.1),
                train_loss: Some(2.5),
                ..MetricsRow::default()
            },
            MetricsRow {
                step: 10,
                epoch: 1,
                samples: 320,
                lr: Some(0.05),
                train_loss: Some(f64::NAN),
                grad_norm: Some(f64::INFINITY),
                test_accuracy: Some(0.125),
                ..MetricsRow::default()
            },
        ];
        let state = Progressed {
            step: 10,
            samples: 320,
            rows: rows.clone(),
            timing: vec![(0, 0.0), (10, 0.25)],
            trajectory: vec![TrajectoryRow {
                step: 10,
                w: vec![1.0, -2.5e-30],
                loss: None,
            }],
            measurements: vec![(10, "sharpness".into(), 19.5)],
            ..Progressed::default()
        };
        let mut written = record(
            "sgd-s3",
            "sgd",
            point("lr=0.1", "variants.*.lr", 0.1.into()),
            3,
            Some(10),
        );
        written.index = 7;
        crate::output::write_run(&dir, &state, &written).unwrap();

        let run = RunDir::new(&dir);
        assert_eq!(run.record().unwrap(), Some(written.clone()));
        let read = run.metrics().unwrap().unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0], rows[0]);
        assert!(read[1].train_loss.is_some_and(f64::is_nan));
        assert_eq!(read[1].grad_norm, Some(f64::INFINITY));
        assert_eq!(read[1].test_accuracy, Some(0.125));
        assert_eq!(run.timing().unwrap(), Some(state.timing.clone()));
        assert_eq!(run.trajectory().unwrap(), Some(state.trajectory.clone()));
        let measured = run.measurements().unwrap().unwrap();
        assert_eq!(
            measured,
            [Measurement {
                step: 10,
                name: "sharpness".into(),
                value: 19.5
            }]
        );

        // Beside it a run without measurements, one not finished and a stray file.
        let other = tmp.path().join("adam-s0");
        write_record(
            &other,
            &record("adam-s0", "adam", SweepPoint::default(), 0, None),
        );
        std::fs::create_dir_all(tmp.path().join("unfinished")).unwrap();
        std::fs::write(tmp.path().join("config.toml"), "name = 'x'\n").unwrap();
        let other = RunDir::new(&other);
        assert_eq!(other.metrics().unwrap(), None);
        assert_eq!(other.measurements().unwrap(), None);
        assert_eq!(other.trajectory().unwrap(), None);

        let experiment = ExperimentDir::new(tmp.path());
        let runs = experiment.runs().unwrap();
        let ids: Vec<&str> = runs.iter().map(|r| r.record.run_id.as_str()).collect();
        assert_eq!(ids, ["adam-s0", "sgd-s3"], "in run-list order");
        assert_eq!(runs[1].dir, run);
        let config = experiment.config().unwrap();
        assert_eq!(config.get("name").and_then(|v| v.as_str()), Some("x"));
    }

    #[test]
    fn a_record_without_a_seed_is_refused_naming_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        write_record(&dir, &record("r", "sgd", SweepPoint::default(), 4, None));
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
        json.as_object_mut().unwrap().remove("seed");
        std::fs::write(dir.join("run.json"), json.to_string()).unwrap();
        let err = RunDir::new(&dir).record().unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("run.json") && msg.contains("damaged run record") && msg.contains("seed"),
            "{msg}"
        );
        assert!(is_usage(&err));
        // And so is the whole experiment.
        let err = ExperimentDir::new(tmp.path()).runs().unwrap_err();
        assert!(format!("{err:#}").contains("run.json"), "{err:#}");
    }

    #[test]
    fn a_malformed_table_names_its_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        let run = RunDir::new(tmp.path());
        std::fs::write(
            tmp.path().join("metrics.csv"),
            format!("{METRICS_HEADER}\n0,0,0,,1.0,,,,,\n1,0,32,,oops,,,,,\n"),
        )
        .unwrap();
        let msg = format!("{:#}", run.metrics().unwrap_err());
        assert!(
            msg.contains("metrics.csv") && msg.contains("line 3") && msg.contains("train_loss"),
            "{msg}"
        );
        // A header other than the runner's is refused, not read as something else.
        std::fs::write(tmp.path().join("metrics.csv"), "step,train_loss\n0,1.0\n").unwrap();
        let msg = format!("{:#}", run.metrics().unwrap_err());
        assert!(
            msg.contains("metrics.csv") && msg.contains("header"),
            "{msg}"
        );
        std::fs::write(tmp.path().join("timing.csv"), "step,wall_seconds\n-1,0.5\n").unwrap();
        let msg = format!("{:#}", run.timing().unwrap_err());
        assert!(
            msg.contains("timing.csv") && msg.contains("line 2"),
            "{msg}"
        );
    }
}
