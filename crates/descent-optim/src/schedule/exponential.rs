//! Decay by `gamma` every step.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "ExponentialLr";

/// Configuration of [`ExponentialLr`] (PyTorch's `ExponentialLR`, whose `gamma` is required).
#[derive(Config, Debug)]
pub struct ExponentialLrConfig {
    /// The learning rate of the first step.
    pub initial_lr: LearningRate,
    /// The multiplicative decay applied every step (> 0).
    pub gamma: f64,
}

impl ExponentialLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<ExponentialLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::positive(OWNER, "gamma", self.gamma)?;
        Ok(ExponentialLr {
            initial_lr: self.initial_lr,
            gamma: self.gamma,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<ExponentialLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `ExponentialLR`: `lr(k) = initial_lr * gamma^k`.
///
/// PyTorch multiplies the previous learning rate by `gamma`; the closed form agrees to
/// about 1e-16 relative over hundreds of steps.
#[derive(Clone, Debug)]
pub struct ExponentialLr {
    initial_lr: LearningRate,
    gamma: f64,
}

impl Schedule for ExponentialLr {
    fn lr(&self, step: usize) -> LearningRate {
        self.initial_lr * self.gamma.powf(step as f64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decays_every_step() {
        let s = ExponentialLrConfig::new(1.0, 0.5).build().unwrap();
        assert_eq!(s.lr(0), 1.0);
        assert_eq!(s.lr(3), 0.125);
    }

    #[test]
    fn rejects_non_positive_gamma() {
        assert!(ExponentialLrConfig::new(1.0, 0.0).build().is_err());
        assert!(ExponentialLrConfig::new(1.0, -0.5).build().is_err());
    }
}
