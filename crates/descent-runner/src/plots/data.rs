//! An experiment's runs as the plots draw them, read through [`crate::run_files`]: each
//! run's `run.json`, `metrics.csv`, `timing.csv`, `measurements.csv` and `trajectory.csv`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Result;

use crate::run_files::{ExperimentDir, Measurement, StoredRun};
use crate::state::{MetricsColumn, MetricsRow, Outcome, ProfilePoint, TrajectoryRow};

/// One value of a sweep point: the runner writes numbers, and strings for settings
/// such as `"full"` batches.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PointValue {
    /// A number (a learning rate, a batch size).
    Num(f64),
    /// Anything else, shown as written.
    Text(String),
}

impl PointValue {
    /// A swept value as `run.json` holds it: a number (also a list of one number: the
    /// width of a one-hidden-layer MLP, `hidden = [64]`), or a string, flag or longer list
    /// shown as written; `None` for anything else.
    fn of(value: &serde_json::Value) -> Option<PointValue> {
        match value {
            serde_json::Value::Number(n) => n.as_f64().map(PointValue::Num),
            serde_json::Value::String(s) => Some(PointValue::Text(s.clone())),
            serde_json::Value::Bool(b) => Some(PointValue::Text(b.to_string())),
            serde_json::Value::Array(items) => match &items[..] {
                [serde_json::Value::Number(n)] => n.as_f64().map(PointValue::Num),
                _ => Some(PointValue::Text(value.to_string())),
            },
            serde_json::Value::Null | serde_json::Value::Object(_) => None,
        }
    }
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

impl Metrics {
    /// The columns of `rows`, each by its header name.
    fn of(rows: &[MetricsRow]) -> Metrics {
        let columns = MetricsColumn::ALL
            .into_iter()
            .filter(|c| *c != MetricsColumn::Step)
            .map(|c| {
                (
                    c.name().to_owned(),
                    rows.iter().map(|r| r.value(c)).collect(),
                )
            })
            .collect();
        Metrics {
            steps: rows.iter().map(|r| r.step).collect(),
            columns,
        }
    }
}

/// One run, as read from its directory.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    /// `run_id`.
    pub id: String,
    /// The optimizer variant's name.
    pub variant: String,
    /// The sweep point's label (`"lr=0.1"`); empty when nothing was swept.
    pub label: String,
    /// The sweep point's values, by key.
    pub values: BTreeMap<String, PointValue>,
    /// The seed.
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
    /// Batches per epoch (`run.json`'s limits).
    pub batches_per_epoch: u64,
    /// The probes' profiles as `(step, point)`, from `profiles.csv`.
    pub profiles: Vec<(u64, ProfilePoint)>,
}

impl Run {
    /// Whether `metrics.csv` has a value in `column` at any step.
    pub fn logs(&self, column: &str) -> bool {
        self.metrics
            .columns
            .get(column)
            .is_some_and(|v| v.iter().flatten().next().is_some())
    }

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
    let mut stored = ExperimentDir::new(dir).runs()?;
    stored.sort_by(|a, b| a.dir.cmp(&b.dir));
    super::map_ordered(&stored, threads, load_run)
        .into_iter()
        .collect()
}

fn load_run(stored: &StoredRun) -> Result<Run> {
    let (record, dir) = (&stored.record, &stored.dir);
    let values = record
        .point
        .values
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), PointValue::of(value)?)))
        .collect();
    let metrics = dir
        .metrics()?
        .map_or_else(Metrics::default, |rows| Metrics::of(&rows));
    let wall = dir.timing()?.map(|timing| {
        timing
            .into_iter()
            .filter(|(_, seconds)| seconds.is_finite())
            .collect()
    });
    let trajectory = dir.trajectory()?.and_then(|rows| first_two(&rows));
    let measurements = by_name(dir.measurements()?.unwrap_or_default());
    Ok(Run {
        id: record.run_id.clone(),
        variant: record.variant.clone(),
        label: record.point.label.clone(),
        values,
        seed: record.seed,
        diverged: record.status == Outcome::Diverged || record.diverged_at.is_some(),
        diverged_at: record.diverged_at,
        metrics,
        wall,
        trajectory,
        measurements,
        batches_per_epoch: record.limits.batches_per_epoch,
        profiles: dir.profiles()?.unwrap_or_default(),
    })
}

/// The first two coordinates of every iterate, `None` for fewer than two dimensions.
fn first_two(rows: &[TrajectoryRow]) -> Option<Vec<[f64; 2]>> {
    rows.iter()
        .map(|r| match r.w[..] {
            [w0, w1, ..] => Some([w0, w1]),
            _ => None,
        })
        .collect()
}

/// The measurements as series by name, each in file order.
fn by_name(measurements: Vec<Measurement>) -> BTreeMap<String, Vec<(u64, f64)>> {
    let mut series: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for m in measurements {
        series.entry(m.name).or_default().push((m.step, m.value));
    }
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_one_number_sweeps_as_that_number() {
        let of = |text: &str| PointValue::of(&serde_json::from_str(text).unwrap_or_default());
        assert_eq!(of("[64]"), Some(PointValue::Num(64.0)));
        assert_eq!(of("0.5"), Some(PointValue::Num(0.5)));
        assert_eq!(of("[64,32]"), Some(PointValue::Text("[64,32]".into())));
        assert_eq!(of("\"full\""), Some(PointValue::Text("full".into())));
        assert_eq!(of("{\"epochs\":10}"), None);
    }
}
