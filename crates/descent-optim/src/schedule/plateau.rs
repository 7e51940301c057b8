//! Reduce the learning rate when a metric stops improving.

use burn::config::Config;
use burn::optim::LearningRate;

use crate::validate;

const OWNER: &str = "ReduceLrOnPlateau";

/// Whether the monitored metric should go down or up.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` defines a significant improvement.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative: better than `best * (1 -/+ threshold)`.
    Rel,
    /// Absolute: better than `best -/+ threshold`.
    Abs,
}

/// Configuration of [`ReduceLrOnPlateau`]; defaults are PyTorch's `ReduceLROnPlateau` defaults.
#[derive(Config, Debug)]
pub struct ReduceLrOnPlateauConfig {
    /// The learning rate before any reduction.
    pub initial_lr: LearningRate,
    /// Whether the metric should decrease or increase.
    #[config(default = "PlateauMode::Min")]
    pub mode: PlateauMode,
    /// The factor applied to the learning rate at a reduction, in `[0, 1)`.
    #[config(default = 0.1)]
    pub factor: f64,
    /// How many calls without improvement are tolerated before a reduction.
    #[config(default = 10)]
    pub patience: usize,
    /// The least improvement that counts (>= 0), see `threshold_mode`.
    #[config(default = 1e-4)]
    pub threshold: f64,
    /// Whether `threshold` is relative or absolute.
    #[config(default = "ThresholdMode::Rel")]
    pub threshold_mode: ThresholdMode,
    /// How many calls after a reduction during which bad calls are not counted.
    #[config(default = 0)]
    pub cooldown: usize,
    /// The learning rate never goes below this (>= 0).
    #[config(default = 0.0)]
    pub min_lr: LearningRate,
    /// A reduction smaller than this is skipped (>= 0).
    #[config(default = 1e-8)]
    pub eps: f64,
}

impl ReduceLrOnPlateauConfig {
    /// Check every field and build the (stateful) scheduler.
    ///
    /// There is no `init` returning a [`Scheduler`](super::Scheduler): this one needs the
    /// metric at every step, see [`ReduceLrOnPlateau::step`].
    pub fn build(&self) -> crate::Result<ReduceLrOnPlateau> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::unit_half_open(OWNER, "factor", self.factor)?;
        validate::non_negative(OWNER, "threshold", self.threshold)?;
        validate::non_negative(OWNER, "min_lr", self.min_lr)?;
        validate::non_negative(OWNER, "eps", self.eps)?;
        Ok(ReduceLrOnPlateau {
            mode: self.mode,
            factor: self.factor,
            patience: self.patience,
            threshold: self.threshold,
            threshold_mode: self.threshold_mode,
            cooldown: self.cooldown,
            min_lr: self.min_lr,
            eps: self.eps,
            state: ReduceLrOnPlateauRecord {
                lr: self.initial_lr,
                best: match self.mode {
                    PlateauMode::Min => f64::INFINITY,
                    PlateauMode::Max => f64::NEG_INFINITY,
                },
                num_bad_epochs: 0,
                cooldown_counter: 0,
                last_epoch: 0,
            },
        })
    }
}

/// Everything [`ReduceLrOnPlateau`] remembers between calls; save it to resume.
#[cfg_attr(feature = "burn-0-21", derive(burn::record::Record))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceLrOnPlateauRecord {
    /// The current learning rate.
    pub lr: LearningRate,
    /// The best metric seen so far (`±inf` before the first call).
    pub best: f64,
    /// Calls since the last improvement (reset by a reduction and during cooldown).
    pub num_bad_epochs: usize,
    /// Calls of cooldown left.
    pub cooldown_counter: usize,
    /// How many times [`ReduceLrOnPlateau::step`] was called.
    pub last_epoch: usize,
}

/// PyTorch's `ReduceLROnPlateau`, call for call.
///
/// After each evaluation call [`step`](Self::step) with the metric. A metric is an
/// improvement if it beats the best one by the threshold (`min`/`rel`:
/// `m < best * (1 - threshold)`; `min`/`abs`: `m < best - threshold`; `max`/`rel`:
/// `m > best * (1 + threshold)`; `max`/`abs`: `m > best + threshold`). Once more than
/// `patience` calls in a row bring no improvement, the learning rate becomes
/// `max(lr * factor, min_lr)` (unless that changes it by no more than `eps`), the
/// counter restarts and `cooldown` calls are ignored. A NaN metric is never an
/// improvement, as in PyTorch. Unlike the other schedules it is not a function of the
/// step, so it does not implement [`Schedule`](super::Schedule); save and resume it with
/// [`to_record`](Self::to_record) and [`load_record`](Self::load_record).
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: usize,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lr: LearningRate,
    eps: f64,
    state: ReduceLrOnPlateauRecord,
}

impl ReduceLrOnPlateau {
    /// The learning rate for the next optimizer step.
    pub fn lr(&self) -> LearningRate {
        self.state.lr
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.state.best
    }

    fn is_better(&self, metric: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > best + self.threshold,
        }
    }

    /// Report the latest metric; returns the learning rate for the next optimizer step.
    pub fn step(&mut self, metric: f64) -> LearningRate {
        let better = self.is_better(metric, self.state.best);
        let state = &mut self.state;
        state.last_epoch = state.last_epoch.saturating_add(1);
        if better {
            state.best = metric;
            state.num_bad_epochs = 0;
        } else {
            state.num_bad_epochs = state.num_bad_epochs.saturating_add(1);
        }
        if state.cooldown_counter > 0 {
            state.cooldown_counter -= 1;
            state.num_bad_epochs = 0;
        }
        if state.num_bad_epochs > self.patience {
            let new_lr = (state.lr * self.factor).max(self.min_lr);
            if state.lr - new_lr > self.eps {
                state.lr = new_lr;
            }
            state.cooldown_counter = self.cooldown;
            state.num_bad_epochs = 0;
        }
        state.lr
    }

    /// The state to save.
    pub fn to_record(&self) -> ReduceLrOnPlateauRecord {
        self.state
    }

    /// Resume from a saved state (into a scheduler built from the same config).
    pub fn load_record(mut self, record: ReduceLrOnPlateauRecord) -> Self {
        self.state = record;
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn reduces_after_patience() {
        let mut s = ReduceLrOnPlateauConfig::new(1.0)
            .with_patience(2)
            .with_factor(0.5)
            .build()
            .unwrap();
        assert_eq!(s.step(1.0), 1.0); // improvement over +inf
        assert_eq!(s.step(1.0), 1.0); // bad 1
        assert_eq!(s.step(1.0), 1.0); // bad 2
        assert_eq!(s.step(1.0), 0.5); // bad 3 > patience
        assert_eq!(s.step(0.5), 0.5);
        assert!(s.is_better(0.1, s.best()));
    }

    #[test]
    fn cooldown_and_min_lr() {
        let mut s = ReduceLrOnPlateauConfig::new(1.0)
            .with_mode(PlateauMode::Max)
            .with_patience(0)
            .with_cooldown(1)
            .with_min_lr(0.3)
            .with_factor(0.5)
            .build()
            .unwrap();
        assert_eq!(s.step(1.0), 1.0);
        assert_eq!(s.step(1.0), 0.5);
        assert_eq!(s.step(1.0), 0.5); // cooldown
        assert_eq!(s.step(1.0), 0.3); // clamped at min_lr
        assert_eq!(s.step(f64::NAN), 0.3);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(
            ReduceLrOnPlateauConfig::new(1.0)
                .with_factor(1.0)
                .build()
                .is_err()
        );
        assert!(
            ReduceLrOnPlateauConfig::new(1.0)
                .with_threshold(-1.0)
                .build()
                .is_err()
        );
        assert!(ReduceLrOnPlateauConfig::new(f64::NAN).build().is_err());
    }
}
