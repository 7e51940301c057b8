//! Polynomial decay to zero.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "PolynomialLr";

/// Configuration of [`PolynomialLr`]; defaults are PyTorch's `PolynomialLR` defaults.
#[derive(Config, Debug)]
pub struct PolynomialLrConfig {
    /// The learning rate at step 0.
    pub initial_lr: LearningRate,
    /// The number of steps to reach zero (at least 1).
    #[config(default = 5)]
    pub total_iters: usize,
    /// The power of the polynomial (>= 0; 1 is linear decay).
    #[config(default = 1.0)]
    pub power: f64,
}

impl PolynomialLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<PolynomialLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::at_least_one(OWNER, "total_iters", self.total_iters)?;
        validate::non_negative(OWNER, "power", self.power)?;
        Ok(PolynomialLr {
            initial_lr: self.initial_lr,
            total_iters: self.total_iters,
            power: self.power,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<PolynomialLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `PolynomialLR`:
///
/// `lr(k) = initial_lr * (1 - min(k, total_iters) / total_iters)^power`,
///
/// zero from `total_iters` on. PyTorch computes it recursively; the closed form agrees to
/// about 1e-16.
#[derive(Clone, Debug)]
pub struct PolynomialLr {
    initial_lr: LearningRate,
    total_iters: usize,
    power: f64,
}

impl Schedule for PolynomialLr {
    fn lr(&self, step: usize) -> LearningRate {
        let t = step.min(self.total_iters) as f64 / self.total_iters as f64;
        self.initial_lr * (1.0 - t).powf(self.power)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn decays_to_zero() {
        let s = PolynomialLrConfig::new(1.0)
            .with_total_iters(4)
            .with_power(2.0)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..6).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(
            PolynomialLrConfig::new(1.0)
                .with_total_iters(0)
                .build()
                .is_err()
        );
        assert!(
            PolynomialLrConfig::new(1.0)
                .with_power(-1.0)
                .build()
                .is_err()
        );
    }
}
