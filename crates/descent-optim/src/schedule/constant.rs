//! A constant factor for a first stretch of steps, then the plain learning rate.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "ConstantLr";

/// Configuration of [`ConstantLr`]; defaults are PyTorch's `ConstantLR` defaults.
#[derive(Config, Debug)]
pub struct ConstantLrConfig {
    /// The learning rate once the first `total_iters` steps are over.
    pub initial_lr: LearningRate,
    /// The factor applied to `initial_lr` during the first `total_iters` steps, in `[0, 1]`.
    #[config(default = "1.0 / 3.0")]
    pub factor: f64,
    /// How many steps use the reduced learning rate.
    #[config(default = 5)]
    pub total_iters: usize,
}

impl ConstantLrConfig {
    /// A plain constant learning rate (`factor = 1`).
    pub fn plain(initial_lr: LearningRate) -> Self {
        Self::new(initial_lr).with_factor(1.0)
    }

    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<ConstantLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::unit_closed(OWNER, "factor", self.factor)?;
        Ok(ConstantLr {
            initial_lr: self.initial_lr,
            factor: self.factor,
            total_iters: self.total_iters,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<ConstantLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `ConstantLR`:
///
/// `lr(k) = initial_lr * factor` for `k < total_iters`, `initial_lr` afterwards.
///
/// With `factor = 1` (or `total_iters = 0`) it is a plain constant learning rate.
#[derive(Clone, Debug)]
pub struct ConstantLr {
    initial_lr: LearningRate,
    factor: f64,
    total_iters: usize,
}

impl Schedule for ConstantLr {
    fn lr(&self, step: usize) -> LearningRate {
        if step < self.total_iters {
            self.initial_lr * self.factor
        } else {
            self.initial_lr
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn factor_then_plain() {
        let s = ConstantLrConfig::new(0.1)
            .with_factor(0.5)
            .with_total_iters(2)
            .build()
            .unwrap();
        assert_eq!(s.lr(0), 0.05);
        assert_eq!(s.lr(1), 0.05);
        assert_eq!(s.lr(2), 0.1);
        assert_eq!(s.lr(1000), 0.1);
    }

    #[test]
    fn plain_constant() {
        let s = ConstantLrConfig::plain(0.3).build().unwrap();
        assert!((0..10).all(|k| s.lr(k) == 0.3));
    }

    #[test]
    fn rejects_bad_factor() {
        assert!(ConstantLrConfig::new(0.1).with_factor(1.5).build().is_err());
        assert!(ConstantLrConfig::new(-0.1).build().is_err());
    }
}
