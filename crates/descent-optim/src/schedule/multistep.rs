//! Decay by `gamma` at each of a list of milestones.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};
use crate::error::OptimError;
use crate::validate;

const OWNER: &str = "MultiStepLr";

/// Configuration of [`MultiStepLr`]; defaults are PyTorch's `MultiStepLR` defaults.
#[derive(Config, Debug)]
pub struct MultiStepLrConfig {
    /// The learning rate before the first milestone.
    pub initial_lr: LearningRate,
    /// The steps at which the learning rate is multiplied by `gamma`, strictly increasing.
    pub milestones: Vec<usize>,
    /// The multiplicative decay applied at each milestone (> 0).
    #[config(default = 0.1)]
    pub gamma: f64,
}

impl MultiStepLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<MultiStepLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::positive(OWNER, "gamma", self.gamma)?;
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(OptimError::Inconsistent {
                owner: OWNER,
                message: format!(
                    "`milestones` must be strictly increasing, got {:?}",
                    self.milestones
                ),
            });
        }
        Ok(MultiStepLr {
            initial_lr: self.initial_lr,
            milestones: self.milestones.clone(),
            gamma: self.gamma,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<MultiStepLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `MultiStepLR`: `lr(k) = initial_lr * gamma^n(k)` where `n(k)` is the number
/// of milestones `<= k`.
///
/// PyTorch also accepts repeated milestones (each one counting); here they must be
/// strictly increasing.
#[derive(Clone, Debug)]
pub struct MultiStepLr {
    initial_lr: LearningRate,
    milestones: Vec<usize>,
    gamma: f64,
}

impl Schedule for MultiStepLr {
    fn lr(&self, step: usize) -> LearningRate {
        let n = self.milestones.partition_point(|&m| m <= step);
        self.initial_lr * self.gamma.powf(n as f64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decays_at_milestones() {
        let s = MultiStepLrConfig::new(1.0, vec![2, 4])
            .with_gamma(0.5)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..6).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
    }

    #[test]
    fn rejects_unordered_milestones() {
        let r = MultiStepLrConfig::new(1.0, vec![4, 2]).build();
        assert!(matches!(r, Err(OptimError::Inconsistent { .. })));
        assert!(MultiStepLrConfig::new(1.0, vec![2, 2]).build().is_err());
    }
}
