//! Linear interpolation of a factor of the learning rate (the usual warm-up).

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "LinearLr";

/// Configuration of [`LinearLr`]; defaults are PyTorch's `LinearLR` defaults.
#[derive(Config, Debug)]
pub struct LinearLrConfig {
    /// The learning rate that the factors multiply.
    pub initial_lr: LearningRate,
    /// The factor at step 0, in `(0, 1]`.
    #[config(default = "1.0 / 3.0")]
    pub start_factor: f64,
    /// The factor from step `total_iters` on, in `[0, 1]`.
    #[config(default = 1.0)]
    pub end_factor: f64,
    /// The number of steps over which the factor moves from start to end (at least 1).
    #[config(default = 5)]
    pub total_iters: usize,
}

impl LinearLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<LinearLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::unit_open_left(OWNER, "start_factor", self.start_factor)?;
        validate::unit_closed(OWNER, "end_factor", self.end_factor)?;
        validate::at_least_one(OWNER, "total_iters", self.total_iters)?;
        Ok(LinearLr {
            initial_lr: self.initial_lr,
            start_factor: self.start_factor,
            end_factor: self.end_factor,
            total_iters: self.total_iters,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<LinearLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `LinearLR`:
///
/// `lr(k) = initial_lr * (start + (end - start) * min(k, total_iters) / total_iters)`.
///
/// PyTorch computes it recursively; the closed form agrees to about 1e-16. PyTorch accepts
/// `total_iters = 0`, which leaves the learning rate at `start_factor` forever; here it is
/// rejected.
#[derive(Clone, Debug)]
pub struct LinearLr {
    initial_lr: LearningRate,
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl Schedule for LinearLr {
    fn lr(&self, step: usize) -> LearningRate {
        let t = step.min(self.total_iters) as f64 / self.total_iters as f64;
        self.initial_lr * (self.start_factor + (self.end_factor - self.start_factor) * t)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_holds() {
        let s = LinearLrConfig::new(1.0)
            .with_start_factor(0.5)
            .with_total_iters(2)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..4).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![0.5, 0.75, 1.0, 1.0]);
    }

    #[test]
    fn rejects_bad_factors() {
        assert!(
            LinearLrConfig::new(1.0)
                .with_start_factor(0.0)
                .build()
                .is_err()
        );
        assert!(
            LinearLrConfig::new(1.0)
                .with_end_factor(1.5)
                .build()
                .is_err()
        );
        assert!(
            LinearLrConfig::new(1.0)
                .with_total_iters(0)
                .build()
                .is_err()
        );
    }
}
