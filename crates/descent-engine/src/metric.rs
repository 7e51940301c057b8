//! The metrics a run records in `metrics.csv`, by name, with the direction that is better.
//! Targets, best values, summaries and plots all go through [`Metric`], so a metric's name
//! is spelled once.

use serde::{Deserialize, Serialize};

/// A metric of `metrics.csv` that a target can name and a summary aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Loss on the step's mini-batch, before the update.
    TrainLoss,
    /// Loss on the validation split.
    ValLoss,
    /// Accuracy on the validation split.
    ValAccuracy,
    /// Loss on the test set (for landscapes: the full objective).
    TestLoss,
    /// Accuracy on the test set.
    TestAccuracy,
    /// The training objective on every training item (the `full_train` probe).
    FullTrainLoss,
    /// Accuracy on every training item (the `full_train` probe).
    FullTrainAccuracy,
}

impl Metric {
    /// Every metric of `metrics.csv`, in column order (the `full_train` ones are probe
    /// measurements, in `measurements.csv`).
    pub const ALL: [Metric; 5] = [
        Metric::TrainLoss,
        Metric::ValLoss,
        Metric::ValAccuracy,
        Metric::TestLoss,
        Metric::TestAccuracy,
    ];

    /// The name in experiment files and column headers.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::TrainLoss => "train_loss",
            Metric::ValLoss => "val_loss",
            Metric::ValAccuracy => "val_accuracy",
            Metric::TestLoss => "test_loss",
            Metric::TestAccuracy => "test_accuracy",
            Metric::FullTrainLoss => "full_train_loss",
            Metric::FullTrainAccuracy => "full_train_accuracy",
        }
    }

    /// Whether a probe measures it (`measurements.csv`) rather than every run
    /// (`metrics.csv`): a target on it needs `[[measure]] kind = "full_train"`.
    pub fn measured(self) -> bool {
        matches!(self, Metric::FullTrainLoss | Metric::FullTrainAccuracy)
    }

    /// Whether larger values are better (accuracies) or smaller ones (losses).
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::ValAccuracy | Metric::TestAccuracy | Metric::FullTrainAccuracy
        )
    }

    /// Whether `value` reaches `target` in this metric's better direction.
    pub fn reaches(self, value: f64, target: f64) -> bool {
        if self.higher_is_better() {
            value >= target
        } else {
            value <= target
        }
    }

    /// The better of two values.
    pub fn better(self, a: f64, b: f64) -> f64 {
        if self.higher_is_better() {
            a.max(b)
        } else {
            a.min(b)
        }
    }

    /// `<=` or `>=`: how a target on this metric reads.
    pub fn comparison(self) -> &'static str {
        if self.higher_is_better() { ">=" } else { "<=" }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for m in Metric::ALL {
            let text = serde_json::to_string(&m).unwrap();
            assert_eq!(text, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Metric>(&text).unwrap(), m);
        }
        assert!(Metric::TestAccuracy.reaches(0.9, 0.9) && !Metric::TestLoss.reaches(0.2, 0.1));
    }
}
