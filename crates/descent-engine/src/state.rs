//! The state of a run, shared by the training loop (which produces it), the writers (which
//! store it) and the summaries (which read it back): rows of metrics, the budget, the
//! progress carried into checkpoints, and the record of a finished run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{RunSpec, SweepPoint};
use crate::metric::Metric;

/// What a run reports while it goes: called with (steps done, total steps if known).
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Sync);

/// The facts of a run's budget, fixed before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Steps to take (None: only a time limit).
    pub steps: Option<u64>,
    /// Wall-clock limit.
    pub seconds: Option<f64>,
    /// Batches per epoch.
    pub batches_per_epoch: u64,
    /// Steps between logged rows.
    pub log_every: u64,
    /// Steps between evaluations.
    pub eval_every: u64,
    /// Steps between checkpoints (0: none).
    pub checkpoint_every: u64,
}

/// The state a run carries from step to step (and into a checkpoint).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progressed {
    /// Steps taken.
    pub step: u64,
    /// Items seen.
    pub samples: u64,
    /// Wall seconds spent before this process (resumed runs).
    pub seconds_before: f64,
    /// Train loss at step 0 (the divergence reference).
    pub initial_loss: Option<f64>,
    /// Metric rows so far.
    pub rows: Vec<MetricsRow>,
    /// `(step, wall seconds)` of each row.
    pub timing: Vec<(u64, f64)>,
    /// Landscape coordinates so far.
    pub trajectory: Vec<TrajectoryRow>,
    /// `(step, name, value)` of further measurements.
    pub measurements: Vec<(u64, String, f64)>,
    /// What each probe carries between measurements.
    #[serde(default)]
    pub probes: Vec<Vec<f64>>,
    /// A plateau schedule's state.
    #[serde(default)]
    pub plateau: Option<PlateauState>,
    /// What the state belongs to: run id, backend and resolved experiment. A checkpoint is
    /// only resumed by the same run.
    pub fingerprint: String,
    /// `(step, point)` of the probes' profiles (last: checkpoints store fields in order).
    #[serde(default)]
    pub profiles: Vec<(u64, ProfilePoint)>,
}

impl Progressed {
    /// The last value of each measurement, for [`RunRecord::measured`].
    pub fn last_measured(&self) -> BTreeMap<String, f64> {
        self.measurements
            .iter()
            .map(|(_, name, value)| (name.clone(), *value))
            .collect()
    }
}

/// When the target was first reached: `(step, seconds)`.
pub type TargetReached = Option<(u64, f64)>;

/// What a run leaves besides its files: for `descent compare`.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `run.json`.
    pub record: RunRecord,
    /// Every float parameter, flattened in visiting order.
    pub parameters: Vec<f64>,
    /// The metric rows.
    pub rows: Vec<MetricsRow>,
    /// `(step, wall seconds)` per row.
    pub timing: Vec<(u64, f64)>,
}

/// What a plateau schedule (PyTorch's `ReduceLROnPlateau`) remembers between evaluations,
/// as a checkpoint stores it: the fields of descent-optim's `ReduceLrOnPlateauRecord`, which
/// is a burn record, not a serde type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The current learning rate.
    pub lr: f64,
    /// The best metric seen so far.
    pub best: f64,
    /// Evaluations since the last improvement.
    pub num_bad_epochs: usize,
    /// Evaluations of cooldown left.
    pub cooldown_counter: usize,
    /// Evaluations so far.
    pub last_epoch: usize,
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Optimizer steps taken before this row's measurements.
    pub step: u64,
    /// The epoch this step is in.
    pub epoch: u64,
    /// Items seen before this step.
    pub samples: u64,
    /// Learning rate of this step's update.
    pub lr: Option<f64>,
    /// Loss on this step's batch, before the update.
    pub train_loss: Option<f64>,
    /// Global L2 norm of this step's gradient (before clipping).
    pub grad_norm: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss (landscapes: the full objective).
    pub test_loss: Option<f64>,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
}

impl MetricsRow {
    /// The value of `metric` in this row, if measured here.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TrainLoss => self.train_loss,
            Metric::ValLoss => self.val_loss,
            Metric::ValAccuracy => self.val_accuracy,
            Metric::TestLoss => self.test_loss,
            Metric::TestAccuracy => self.test_accuracy,
            Metric::FullTrainLoss | Metric::FullTrainAccuracy => None,
        }
    }

    /// The value in `column` (the counts as numbers), if there is one.
    pub fn value(&self, column: MetricsColumn) -> Option<f64> {
        match column {
            MetricsColumn::Step => Some(self.step as f64),
            MetricsColumn::Epoch => Some(self.epoch as f64),
            MetricsColumn::Samples => Some(self.samples as f64),
            MetricsColumn::Lr => self.lr,
            MetricsColumn::GradNorm => self.grad_norm,
            MetricsColumn::TrainLoss => self.train_loss,
            MetricsColumn::ValLoss => self.val_loss,
            MetricsColumn::ValAccuracy => self.val_accuracy,
            MetricsColumn::TestLoss => self.test_loss,
            MetricsColumn::TestAccuracy => self.test_accuracy,
        }
    }
}

/// The header of `metrics.csv`: the names of [`MetricsColumn::ALL`], joined by commas.
pub const METRICS_HEADER: &str =
    "step,epoch,samples,lr,train_loss,grad_norm,val_loss,val_accuracy,test_loss,test_accuracy";

/// A column of `metrics.csv`: a field of [`MetricsRow`], named once here (the metrics by
/// [`Metric::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsColumn {
    /// [`MetricsRow::step`].
    Step,
    /// [`MetricsRow::epoch`].
    Epoch,
    /// [`MetricsRow::samples`].
    Samples,
    /// [`MetricsRow::lr`].
    Lr,
    /// [`MetricsRow::train_loss`].
    TrainLoss,
    /// [`MetricsRow::grad_norm`].
    GradNorm,
    /// [`MetricsRow::val_loss`].
    ValLoss,
    /// [`MetricsRow::val_accuracy`].
    ValAccuracy,
    /// [`MetricsRow::test_loss`].
    TestLoss,
    /// [`MetricsRow::test_accuracy`].
    TestAccuracy,
}

impl MetricsColumn {
    /// Every column, in the order of [`METRICS_HEADER`].
    pub const ALL: [MetricsColumn; 10] = [
        MetricsColumn::Step,
        MetricsColumn::Epoch,
        MetricsColumn::Samples,
        MetricsColumn::Lr,
        MetricsColumn::TrainLoss,
        MetricsColumn::GradNorm,
        MetricsColumn::ValLoss,
        MetricsColumn::ValAccuracy,
        MetricsColumn::TestLoss,
        MetricsColumn::TestAccuracy,
    ];

    /// The column's name in the header.
    pub const fn name(self) -> &'static str {
        match self {
            MetricsColumn::Step => "step",
            MetricsColumn::Epoch => "epoch",
            MetricsColumn::Samples => "samples",
            MetricsColumn::Lr => "lr",
            MetricsColumn::GradNorm => "grad_norm",
            MetricsColumn::TrainLoss => Metric::TrainLoss.name(),
            MetricsColumn::ValLoss => Metric::ValLoss.name(),
            MetricsColumn::ValAccuracy => Metric::ValAccuracy.name(),
            MetricsColumn::TestLoss => Metric::TestLoss.name(),
            MetricsColumn::TestAccuracy => Metric::TestAccuracy.name(),
        }
    }
}

/// The header of `timing.csv`: the step and the wall seconds of training until then.
pub const TIMING_COLUMNS: [&str; 2] = [MetricsColumn::Step.name(), "wall_seconds"];

/// The header of `measurements.csv`: one measurement a row.
pub const MEASUREMENTS_COLUMNS: [&str; 3] = [MetricsColumn::Step.name(), "name", "value"];

/// One point of a probe's profile: a value over other axes than the step, such as the loss
/// along a slice's direction (`x`, and `y` for a 2-D slice), an interpolation's `a`, or an
/// eigenvalue density's `λ`. `series` tells apart repeats at the same step (the random
/// directions of a slice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilePoint {
    /// The profile's name, e.g. `slice_1d_train`.
    pub name: String,
    /// Which repeat.
    pub series: u32,
    /// The first axis.
    pub x: f64,
    /// The second axis, for surfaces.
    pub y: Option<f64>,
    /// The value there.
    pub value: f64,
}

/// The columns of `profiles.csv`.
pub const PROFILES_COLUMNS: [&str; 6] = [
    MetricsColumn::Step.name(),
    "name",
    "series",
    "x",
    "y",
    "value",
];

/// One point of the loss on the segment between two runs' final parameters
/// (`barriers.csv`): `(1 - a) w_a + a w_b` for the runs of seeds `seed_a` and `seed_b` of one
/// group (variant and sweep point), or for two variants' runs of one seed (then
/// `seed_a == seed_b`).
#[derive(Debug, Clone, PartialEq)]
pub struct BarrierPoint {
    /// The group: the variant (or `a ↔ b`, two variants), and the sweep point's label after a
    /// space.
    pub group: String,
    /// The first run's seed.
    pub seed_a: u64,
    /// The second run's seed.
    pub seed_b: u64,
    /// `train` or `test`.
    pub set: String,
    /// Where on the line.
    pub a: f64,
    /// The data loss there.
    pub loss: f64,
    /// The accuracy there, for classifiers.
    pub accuracy: Option<f64>,
}

/// The columns of `barriers.csv`.
pub const BARRIERS_COLUMNS: [&str; 7] =
    ["group", "seed_a", "seed_b", "set", "a", "loss", "accuracy"];

/// One row of `trajectory.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    /// The step.
    pub step: u64,
    /// The coordinates.
    pub w: Vec<f64>,
    /// The landscape's value there.
    pub loss: Option<f64>,
}

impl TrajectoryRow {
    /// The header of `trajectory.csv` for `dim` coordinates: `step,w0,…,loss`.
    pub fn columns(dim: usize) -> Vec<String> {
        std::iter::once(MetricsColumn::Step.name().to_owned())
            .chain((0..dim).map(|i| format!("w{i}")))
            .chain(std::iter::once("loss".to_owned()))
            .collect()
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// It used its budget.
    Finished,
    /// Its loss became non-finite or passed the threshold at `step`.
    Diverged {
        /// The step.
        step: u64,
    },
}

/// How a run ended, as `run.json`'s `status` names it: `"finished"` or `"diverged"` (the
/// step is `diverged_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It used its budget.
    Finished,
    /// Its loss became non-finite or passed the threshold.
    Diverged,
}

impl Outcome {
    /// The name `run.json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Diverged => "diverged",
        }
    }
}

/// `run.json`: everything about a finished run that the summary needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id (its directory's name).
    pub run_id: String,
    /// Position in the unsharded run list.
    pub index: usize,
    /// The variant.
    pub variant: String,
    /// The sweep point.
    pub point: SweepPoint,
    /// The seed.
    pub seed: u64,
    /// `finished` or `diverged`.
    pub status: Outcome,
    /// The step at which it diverged.
    pub diverged_at: Option<u64>,
    /// Steps taken.
    pub steps: u64,
    /// Items seen.
    pub samples: u64,
    /// The last row's values.
    pub last: MetricsRow,
    /// The lowest train loss, validation and test loss and the highest accuracies seen.
    pub best: Best,
    /// First step at which the target was reached.
    pub steps_to_target: Option<u64>,
    /// Wall seconds until then (not reproducible).
    pub seconds_to_target: Option<f64>,
    /// Wall seconds of the whole run (not reproducible).
    pub seconds: f64,
    /// The budget the run had.
    pub limits: Limits,
    /// The last value of each measurement (`measurements.csv`). JSON has no NaN: a
    /// measurement that came out NaN (a probe's loss on the way to divergence) is written as
    /// `null` and read back as NaN.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nan_for_null"
    )]
    pub measured: BTreeMap<String, f64>,
}

fn nan_for_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let read = BTreeMap::<String, Option<f64>>::deserialize(deserializer)?;
    Ok(read
        .into_iter()
        .map(|(name, value)| (name, value.unwrap_or(f64::NAN)))
        .collect())
}

/// Best values over a run (lowest losses, highest accuracies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Lowest train loss.
    pub train_loss: Option<f64>,
    /// Lowest validation loss.
    pub val_loss: Option<f64>,
    /// Highest validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Lowest test loss.
    pub test_loss: Option<f64>,
    /// Highest test accuracy.
    pub test_accuracy: Option<f64>,
}

impl Best {
    /// The best finite value of each metric over `rows`.
    pub fn over(rows: &[MetricsRow]) -> Best {
        let best = |m: Metric| {
            rows.iter()
                .filter_map(|r| r.get(m))
                .filter(|v| v.is_finite())
                .reduce(|a, b| m.better(a, b))
        };
        Best {
            train_loss: best(Metric::TrainLoss),
            val_loss: best(Metric::ValLoss),
            val_accuracy: best(Metric::ValAccuracy),
            test_loss: best(Metric::TestLoss),
            test_accuracy: best(Metric::TestAccuracy),
        }
    }

    /// The best value of `metric`.
    pub fn of(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TrainLoss => self.train_loss,
            Metric::ValLoss => self.val_loss,
            Metric::ValAccuracy => self.val_accuracy,
            Metric::TestLoss => self.test_loss,
            Metric::TestAccuracy => self.test_accuracy,
            Metric::FullTrainLoss | Metric::FullTrainAccuracy => None,
        }
    }
}

impl RunRecord {
    /// The record of `run` ending with `status` after `state`.
    pub fn new(
        run: &RunSpec,
        status: RunStatus,
        state: &Progressed,
        target: TargetReached,
        limits: Limits,
    ) -> RunRecord {
        let rows = &state.rows;
        let best = Best::over(rows);
        let (outcome, diverged_at) = match status {
            RunStatus::Finished => (Outcome::Finished, None),
            RunStatus::Diverged { step } => (Outcome::Diverged, Some(step)),
        };
        RunRecord {
            run_id: run.id.clone(),
            index: run.index,
            variant: run.variant.clone(),
            point: run.point.clone(),
            seed: run.seed,
            status: outcome,
            diverged_at,
            steps: state.step,
            samples: state.samples,
            last: rows.last().cloned().unwrap_or_default(),
            best,
            steps_to_target: target.map(|t| t.0),
            seconds_to_target: target.map(|t| t.1),
            seconds: state.timing.last().map_or(0.0, |t| t.1),
            limits,
            measured: state.last_measured(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_measurement_reads_back_from_json_as_nan() {
        #[derive(Serialize, Deserialize)]
        struct Holder {
            #[serde(deserialize_with = "nan_for_null")]
            measured: BTreeMap<String, f64>,
        }
        let written = serde_json::to_string(&Holder {
            measured: [("loss".to_string(), f64::NAN), ("top".to_string(), 2.5)].into(),
        })
        .unwrap();
        assert_eq!(written, r#"{"measured":{"loss":null,"top":2.5}}"#);
        let read: Holder = serde_json::from_str(&written).unwrap();
        assert!(read.measured["loss"].is_nan());
        assert_eq!(read.measured["top"], 2.5);
    }

    #[test]
    fn the_header_names_every_column_once() {
        let names: Vec<&str> = MetricsColumn::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.join(","), METRICS_HEADER);
        let row = MetricsRow {
            step: 3,
            epoch: 1,
            samples: 96,
            lr: Some(0.5),
            test_accuracy: Some(0.25),
            ..MetricsRow::default()
        };
        assert_eq!(row.value(MetricsColumn::Samples), Some(96.0));
        for metric in Metric::ALL {
            let column = MetricsColumn::ALL
                .into_iter()
                .find(|c| c.name() == metric.name())
                .unwrap();
            assert_eq!(row.value(column), row.get(metric));
        }
    }

    #[test]
    fn outcomes_are_written_by_name() {
        for outcome in [Outcome::Finished, Outcome::Diverged] {
            let text = serde_json::to_string(&outcome).unwrap();
            assert_eq!(text, format!("\"{}\"", outcome.name()));
            assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), outcome);
        }
    }
}
