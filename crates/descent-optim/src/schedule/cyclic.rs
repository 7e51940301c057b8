//! Cyclical learning rates (and momentum) between two bounds.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "CyclicLr";

/// The amplitude policy of [`CyclicLr`] (PyTorch's `mode`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CyclicMode {
    /// Constant amplitude (PyTorch's `"triangular"`).
    Triangular,
    /// The amplitude halves every cycle (PyTorch's `"triangular2"`).
    Triangular2,
    /// The amplitude is scaled by `gamma^k` at step `k` (PyTorch's `"exp_range"`).
    ExpRange,
}

/// Configuration of [`CyclicLr`]; defaults are PyTorch's `CyclicLR` defaults.
#[derive(Config, Debug)]
pub struct CyclicLrConfig {
    /// The lower bound of the learning rate (PyTorch overwrites the optimizer's lr with it).
    pub base_lr: LearningRate,
    /// The upper bound of the learning rate (reached only when the amplitude is not scaled).
    pub max_lr: LearningRate,
    /// Steps in the increasing half of a cycle (at least 1).
    #[config(default = 2000)]
    pub step_size_up: usize,
    /// Steps in the decreasing half of a cycle; `None` means `step_size_up`.
    pub step_size_down: Option<usize>,
    /// The amplitude policy.
    #[config(default = "CyclicMode::Triangular")]
    pub mode: CyclicMode,
    /// The per-step amplitude decay of [`CyclicMode::ExpRange`] (> 0).
    #[config(default = 1.0)]
    pub gamma: f64,
    /// Whether momentum cycles inversely to the learning rate.
    #[config(default = true)]
    pub cycle_momentum: bool,
    /// The momentum at the top of the learning-rate cycle, in `[0, 1)`.
    #[config(default = 0.8)]
    pub base_momentum: f64,
    /// The momentum at the bottom of the learning-rate cycle, in `[0, 1)`.
    #[config(default = 0.9)]
    pub max_momentum: f64,
}

impl CyclicLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<CyclicLr> {
        validate::non_negative(OWNER, "base_lr", self.base_lr)?;
        validate::non_negative(OWNER, "max_lr", self.max_lr)?;
        validate::at_least_one(OWNER, "step_size_up", self.step_size_up)?;
        validate::positive(OWNER, "gamma", self.gamma)?;
        if self.cycle_momentum {
            validate::unit_half_open(OWNER, "base_momentum", self.base_momentum)?;
            validate::unit_half_open(OWNER, "max_momentum", self.max_momentum)?;
        }
        let up = self.step_size_up as f64;
        let down = self.step_size_down.unwrap_or(self.step_size_up) as f64;
        let total_size = up + down;
        Ok(CyclicLr {
            base_lr: self.base_lr,
            max_lr: self.max_lr,
            total_size,
            step_ratio: up / total_size,
            mode: self.mode,
            gamma: self.gamma,
            momentum: self
                .cycle_momentum
                .then_some((self.base_momentum, self.max_momentum)),
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<CyclicLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `CyclicLR` (Smith 2017, *Cyclical Learning Rates for Training Neural
/// Networks*), with the same floating-point operations:
///
/// - `cycle = floor(1 + k / total)`, `x = 1 + k / total - cycle`, where
///   `total = step_size_up + step_size_down`, `ratio = step_size_up / total`;
/// - `s = x / ratio` if `x <= ratio`, else `(x - 1) / (ratio - 1)` (0 → 1 → 0 over a cycle);
/// - `lr(k) = base_lr + (max_lr - base_lr) * s * scale`,
///   `momentum(k) = max_momentum - (max_momentum - base_momentum) * s * scale`,
///
/// with `scale = 1` (triangular), `1 / 2^(cycle - 1)` (triangular2) or `gamma^k` (exp_range):
/// PyTorch's `scale_mode` is `"cycle"` for the first two and `"iterations"` for exp_range.
/// Custom `scale_fn`s are not supported.
#[derive(Clone, Debug)]
pub struct CyclicLr {
    base_lr: LearningRate,
    max_lr: LearningRate,
    total_size: f64,
    step_ratio: f64,
    mode: CyclicMode,
    gamma: f64,
    momentum: Option<(f64, f64)>,
}

impl CyclicLr {
    /// `(s, scale)`: the position in the triangle and the amplitude factor at `step`.
    fn factors(&self, step: usize) -> (f64, f64) {
        let k = step as f64;
        let cycle = (1.0 + k / self.total_size).floor();
        let x = 1.0 + k / self.total_size - cycle;
        let s = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let scale = match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange => self.gamma.powf(k),
        };
        (s, scale)
    }
}

impl Schedule for CyclicLr {
    fn lr(&self, step: usize) -> LearningRate {
        let (s, scale) = self.factors(step);
        let base_height = (self.max_lr - self.base_lr) * s;
        self.base_lr + base_height * scale
    }

    fn momentum(&self, step: usize) -> Option<f64> {
        let (base_momentum, max_momentum) = self.momentum?;
        let (s, scale) = self.factors(step);
        let base_height = (max_momentum - base_momentum) * s;
        Some(max_momentum - base_height * scale)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn triangle() {
        let s = CyclicLrConfig::new(0.0, 1.0)
            .with_step_size_up(2)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..6).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![0.0, 0.5, 1.0, 0.5, 0.0, 0.5]);
        assert_eq!(s.momentum(2), Some(0.8));
        assert_eq!(s.momentum(0), Some(0.9));
    }

    #[test]
    fn triangular2_halves() {
        let s = CyclicLrConfig::new(0.0, 1.0)
            .with_step_size_up(1)
            .with_mode(CyclicMode::Triangular2)
            .build()
            .unwrap();
        assert_eq!(s.lr(1), 1.0);
        assert_eq!(s.lr(3), 0.5);
        assert_eq!(s.lr(5), 0.25);
    }

    #[test]
    fn no_momentum_when_not_cycled() {
        let s = CyclicLrConfig::new(0.0, 1.0)
            .with_cycle_momentum(false)
            .with_max_momentum(2.0)
            .build()
            .unwrap();
        assert_eq!(s.momentum(3), None);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(CyclicLrConfig::new(-1.0, 1.0).build().is_err());
        assert!(
            CyclicLrConfig::new(0.0, 1.0)
                .with_step_size_up(0)
                .build()
                .is_err()
        );
        assert!(
            CyclicLrConfig::new(0.0, 1.0)
                .with_gamma(0.0)
                .build()
                .is_err()
        );
        assert!(
            CyclicLrConfig::new(0.0, 1.0)
                .with_max_momentum(1.0)
                .build()
                .is_err()
        );
    }
}
