//! Cosine annealing with warm restarts (SGDR).

use core::f64::consts::PI;

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "CosineAnnealingWarmRestarts";

/// Configuration of [`CosineAnnealingWarmRestarts`]; defaults are PyTorch's.
#[derive(Config, Debug)]
pub struct CosineAnnealingWarmRestartsConfig {
    /// The learning rate at step 0 and after every restart.
    pub initial_lr: LearningRate,
    /// The length of the first period, in steps (at least 1).
    pub t_0: usize,
    /// The factor by which each period is longer than the previous one (at least 1).
    #[config(default = 1)]
    pub t_mult: usize,
    /// The lowest learning rate.
    #[config(default = 0.0)]
    pub eta_min: LearningRate,
}

impl CosineAnnealingWarmRestartsConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<CosineAnnealingWarmRestarts> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::at_least_one(OWNER, "t_0", self.t_0)?;
        validate::at_least_one(OWNER, "t_mult", self.t_mult)?;
        validate::non_negative(OWNER, "eta_min", self.eta_min)?;
        Ok(CosineAnnealingWarmRestarts {
            initial_lr: self.initial_lr,
            t_0: self.t_0,
            t_mult: self.t_mult,
            eta_min: self.eta_min,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<CosineAnnealingWarmRestarts>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `CosineAnnealingWarmRestarts` (SGDR, Loshchilov & Hutter 2017):
///
/// `lr(k) = eta_min + (initial_lr - eta_min) * (1 + cos(pi * t_cur / t_i)) / 2`,
///
/// where period `i` lasts `t_i = t_0 * t_mult^i` steps and `t_cur` counts the steps since
/// the last restart (`t_cur = k mod t_0` when `t_mult = 1`). At a restart the learning rate
/// jumps back to `initial_lr`. Identical to PyTorch's when stepped without an explicit epoch.
#[derive(Clone, Debug)]
pub struct CosineAnnealingWarmRestarts {
    initial_lr: LearningRate,
    t_0: usize,
    t_mult: usize,
    eta_min: LearningRate,
}

impl CosineAnnealingWarmRestarts {
    /// `(t_cur, t_i)` for `step`: the position within the current period and its length.
    fn position(&self, step: usize) -> (usize, usize) {
        if self.t_mult == 1 {
            return (step % self.t_0, self.t_0);
        }
        // At most log_{t_mult}(step) iterations; once a period would overflow `usize`, `step`
        // necessarily lies inside the current one.
        let (mut t_cur, mut t_i) = (step, self.t_0);
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = match t_i.checked_mul(self.t_mult) {
                Some(next) => next,
                None => usize::MAX,
            };
        }
        (t_cur, t_i)
    }
}

impl Schedule for CosineAnnealingWarmRestarts {
    fn lr(&self, step: usize) -> LearningRate {
        let (t_cur, t_i) = self.position(step);
        let cos = (PI * t_cur as f64 / t_i as f64).cos();
        self.eta_min + (self.initial_lr - self.eta_min) * (1.0 + cos) / 2.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn periods_grow_by_t_mult() {
        let s = CosineAnnealingWarmRestartsConfig::new(1.0, 2)
            .with_t_mult(2)
            .build()
            .unwrap();
        let pos: Vec<(usize, usize)> = (0..8).map(|k| s.position(k)).collect();
        assert_eq!(
            pos,
            vec![
                (0, 2),
                (1, 2),
                (0, 4),
                (1, 4),
                (2, 4),
                (3, 4),
                (0, 8),
                (1, 8)
            ]
        );
        assert_eq!(s.lr(2), 1.0);
        assert!((s.lr(4) - 0.5).abs() < 1e-15);
        let huge = s.lr(usize::MAX);
        assert!(huge.is_finite());
    }

    #[test]
    fn rejects_zero_periods() {
        assert!(
            CosineAnnealingWarmRestartsConfig::new(1.0, 0)
                .build()
                .is_err()
        );
        assert!(
            CosineAnnealingWarmRestartsConfig::new(1.0, 3)
                .with_t_mult(0)
                .build()
                .is_err()
        );
    }
}
