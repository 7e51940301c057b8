//! Cosine annealing without restarts.

use core::f64::consts::PI;

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "CosineAnnealingLr";

/// Configuration of [`CosineAnnealingLr`]; defaults are PyTorch's `CosineAnnealingLR` defaults.
#[derive(Config, Debug)]
pub struct CosineAnnealingLrConfig {
    /// The learning rate at step 0 (PyTorch's base lr).
    pub initial_lr: LearningRate,
    /// Half the period of the cosine: the step at which the learning rate reaches `eta_min`.
    pub t_max: usize,
    /// The lowest learning rate.
    #[config(default = 0.0)]
    pub eta_min: LearningRate,
}

impl CosineAnnealingLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<CosineAnnealingLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::at_least_one(OWNER, "t_max", self.t_max)?;
        validate::non_negative(OWNER, "eta_min", self.eta_min)?;
        Ok(CosineAnnealingLr {
            initial_lr: self.initial_lr,
            t_max: self.t_max,
            eta_min: self.eta_min,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<CosineAnnealingLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `CosineAnnealingLR` (SGDR's annealing, Loshchilov & Hutter 2017, without
/// restarts):
///
/// `lr(k) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * k / t_max)) / 2`.
///
/// Like PyTorch's, it keeps following the cosine after `t_max`: the learning rate rises
/// back to `initial_lr` at `2 * t_max` and so on (period `2 * t_max`); there is no jump.
/// Clamp the number of steps (or use [`SequentialLr`](super::SequentialLr)) if that is not
/// wanted. PyTorch computes it recursively from the previous learning rate; this closed
/// form (PyTorch's own `_get_closed_form_lr`) agrees to about 1e-16.
#[derive(Clone, Debug)]
pub struct CosineAnnealingLr {
    initial_lr: LearningRate,
    t_max: usize,
    eta_min: LearningRate,
}

impl Schedule for CosineAnnealingLr {
    fn lr(&self, step: usize) -> LearningRate {
        // Reduce the step modulo the period so the angle stays exact for huge steps.
        let k = match self.t_max.checked_mul(2) {
            Some(period) => step % period,
            None => step,
        };
        let cos = (PI * k as f64 / self.t_max as f64).cos();
        self.eta_min + (self.initial_lr - self.eta_min) * (1.0 + cos) / 2.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_cosine_past_t_max() {
        let s = CosineAnnealingLrConfig::new(1.0, 4)
            .with_eta_min(0.2)
            .build()
            .unwrap();
        assert_eq!(s.lr(0), 1.0);
        assert!((s.lr(2) - 0.6).abs() < 1e-15);
        assert!((s.lr(4) - 0.2).abs() < 1e-15);
        assert!((s.lr(6) - 0.6).abs() < 1e-15);
        assert!((s.lr(8) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn rejects_zero_t_max() {
        assert!(CosineAnnealingLrConfig::new(1.0, 0).build().is_err());
    }
}
