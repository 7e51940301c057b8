//! Decay by `gamma` every `step_size` steps.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "StepLr";

/// Configuration of [`StepLr`]; defaults are PyTorch's `StepLR` defaults.
#[derive(Config, Debug)]
pub struct StepLrConfig {
    /// The learning rate of the first `step_size` steps.
    pub initial_lr: LearningRate,
    /// How many steps pass between two decays (at least 1).
    pub step_size: usize,
    /// The multiplicative decay applied every `step_size` steps (> 0).
    #[config(default = 0.1)]
    pub gamma: f64,
}

impl StepLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<StepLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::at_least_one(OWNER, "step_size", self.step_size)?;
        validate::positive(OWNER, "gamma", self.gamma)?;
        Ok(StepLr {
            initial_lr: self.initial_lr,
            step_size: self.step_size,
            gamma: self.gamma,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<StepLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `StepLR`: `lr(k) = initial_lr * gamma^floor(k / step_size)`.
///
/// PyTorch multiplies the previous learning rate by `gamma`; the closed form agrees with
/// it to the last few bits.
#[derive(Clone, Debug)]
pub struct StepLr {
    initial_lr: LearningRate,
    step_size: usize,
    gamma: f64,
}

impl Schedule for StepLr {
    fn lr(&self, step: usize) -> LearningRate {
        let n = step / self.step_size;
        self.initial_lr * self.gamma.powf(n as f64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decays_every_step_size() {
        let s = StepLrConfig::new(1.0, 3).with_gamma(0.5).build().unwrap();
        let lrs: Vec<f64> = (0..7).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(StepLrConfig::new(1.0, 0).build().is_err());
        assert!(StepLrConfig::new(1.0, 2).with_gamma(0.0).build().is_err());
    }
}
