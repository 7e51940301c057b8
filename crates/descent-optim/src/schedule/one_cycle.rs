//! The one-cycle policy: warm up to a peak, then anneal far below the start.

use core::f64::consts::PI;

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};
use crate::error::OptimError;
use crate::validate;

const OWNER: &str = "OneCycleLr";

/// How [`OneCycleLr`] moves between two values within a phase (PyTorch's `anneal_strategy`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AnnealStrategy {
    /// Half a cosine: `end + (start - end) / 2 * (1 + cos(pi * pct))`.
    Cos,
    /// A straight line: `(end - start) * pct + start`.
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Self::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Self::Linear => (end - start) * pct + start,
        }
    }
}

/// Configuration of [`OneCycleLr`]; defaults are PyTorch's `OneCycleLR` defaults.
#[derive(Config, Debug)]
pub struct OneCycleLrConfig {
    /// The peak learning rate.
    pub max_lr: LearningRate,
    /// The length of the cycle in steps (at least 2, in practice many more).
    pub total_steps: usize,
    /// The fraction of the cycle spent increasing the learning rate, in `(0, 1)`
    /// (at most 0.5 with `three_phase`).
    #[config(default = 0.3)]
    pub pct_start: f64,
    /// How the learning rate (and momentum) move within a phase.
    #[config(default = "AnnealStrategy::Cos")]
    pub anneal_strategy: AnnealStrategy,
    /// The starting learning rate is `max_lr / div_factor` (> 0).
    #[config(default = 25.0)]
    pub div_factor: f64,
    /// The final learning rate is `max_lr / div_factor / final_div_factor` (> 0).
    #[config(default = 1e4)]
    pub final_div_factor: f64,
    /// Use fastai's three phases (up, symmetric down, then annihilation) instead of two.
    #[config(default = false)]
    pub three_phase: bool,
    /// Whether momentum cycles inversely to the learning rate.
    #[config(default = true)]
    pub cycle_momentum: bool,
    /// The momentum at the learning-rate peak, in `[0, 1)`.
    #[config(default = 0.85)]
    pub base_momentum: f64,
    /// The momentum at the start and end of the cycle, in `[0, 1)`.
    #[config(default = 0.95)]
    pub max_momentum: f64,
}

impl OneCycleLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<OneCycleLr> {
        validate::non_negative(OWNER, "max_lr", self.max_lr)?;
        validate::at_least_one(OWNER, "total_steps", self.total_steps)?;
        if !(self.pct_start > 0.0 && self.pct_start < 1.0) {
            return Err(OptimError::InvalidHyperparameter {
                owner: OWNER,
                field: "pct_start",
                value: self.pct_start.to_string(),
                allowed: "in (0, 1)",
            });
        }
        validate::positive(OWNER, "div_factor", self.div_factor)?;
        validate::positive(OWNER, "final_div_factor", self.final_div_factor)?;
        if self.cycle_momentum {
            validate::unit_half_open(OWNER, "base_momentum", self.base_momentum)?;
            validate::unit_half_open(OWNER, "max_momentum", self.max_momentum)?;
        }

        let initial_lr = self.max_lr / self.div_factor;
        let min_lr = initial_lr / self.final_div_factor;
        let (lo_m, hi_m) = (self.base_momentum, self.max_momentum);
        let total = self.total_steps as f64;
        // Exactly PyTorch's phase ends (floats, e.g. 0.3 * 100 - 1 = 29.000000000000004).
        let phases = if self.three_phase {
            vec![
                Phase::new(
                    self.pct_start * total - 1.0,
                    initial_lr,
                    self.max_lr,
                    hi_m,
                    lo_m,
                ),
                Phase::new(
                    2.0 * self.pct_start * total - 2.0,
                    self.max_lr,
                    initial_lr,
                    lo_m,
                    hi_m,
                ),
                Phase::new(total - 1.0, initial_lr, min_lr, hi_m, hi_m),
            ]
        } else {
            vec![
                Phase::new(
                    self.pct_start * total - 1.0,
                    initial_lr,
                    self.max_lr,
                    hi_m,
                    lo_m,
                ),
                Phase::new(total - 1.0, self.max_lr, min_lr, lo_m, hi_m),
            ]
        };
        // Every phase must be non-empty, or PyTorch divides by zero (or goes backwards).
        let mut start = 0.0;
        for (i, phase) in phases.iter().enumerate() {
            if phase.end_step <= start {
                return Err(OptimError::Inconsistent {
                    owner: OWNER,
                    message: format!(
                        "phase {} of the cycle is empty (ends at step {} <= its start {}): \
                         increase `total_steps` or move `pct_start` (total_steps = {}, \
                         pct_start = {}, three_phase = {})",
                        i + 1,
                        phase.end_step,
                        start,
                        self.total_steps,
                        self.pct_start,
                        self.three_phase
                    ),
                });
            }
            start = phase.end_step;
        }
        Ok(OneCycleLr {
            phases,
            total_steps: self.total_steps,
            anneal_strategy: self.anneal_strategy,
            cycle_momentum: self.cycle_momentum,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<OneCycleLr>> {
        self.build().map(Scheduler::new)
    }
}

#[derive(Clone, Copy, Debug)]
struct Phase {
    end_step: f64,
    start_lr: f64,
    end_lr: f64,
    start_momentum: f64,
    end_momentum: f64,
}

impl Phase {
    fn new(end_step: f64, start_lr: f64, end_lr: f64, start_m: f64, end_m: f64) -> Self {
        Self {
            end_step,
            start_lr,
            end_lr,
            start_momentum: start_m,
            end_momentum: end_m,
        }
    }
}

/// PyTorch's `OneCycleLR` (Smith & Topin 2018, *Super-Convergence*), with PyTorch's exact
/// phase boundaries and floating-point operations.
///
/// The learning rate starts at `max_lr / div_factor`, reaches `max_lr` at step
/// `pct_start * total_steps - 1` (a float: with the defaults and 100 steps the peak is at
/// step 29, a hair before it), then anneals to `max_lr / div_factor / final_div_factor` at
/// step `total_steps - 1`. Within a phase running from `start` to `end`,
/// `pct = (k - start) / (end - start)` and the value is `anneal(from, to, pct)`. With
/// `three_phase`, the second phase goes back down to the starting learning rate at step
/// `2 * pct_start * total_steps - 2` and a third one anneals to the final value. Momentum
/// moves the opposite way, between `max_momentum` and `base_momentum`.
///
/// Difference from PyTorch: PyTorch raises past `total_steps` (and extrapolates at exactly
/// `total_steps`); here every step `>= total_steps - 1` returns the final values.
#[derive(Clone, Debug)]
pub struct OneCycleLr {
    phases: Vec<Phase>,
    total_steps: usize,
    anneal_strategy: AnnealStrategy,
    cycle_momentum: bool,
}

impl OneCycleLr {
    /// The phase containing `step` and the progress `pct` through it.
    fn locate(&self, step: usize) -> (Phase, f64) {
        let k = step.min(self.total_steps.saturating_sub(1)) as f64;
        let mut start = 0.0;
        let last = self.phases.len().saturating_sub(1);
        for (i, phase) in self.phases.iter().enumerate() {
            if k <= phase.end_step || i == last {
                return (*phase, (k - start) / (phase.end_step - start));
            }
            start = phase.end_step;
        }
        // Unreachable: `build` always creates at least two phases.
        (Phase::new(1.0, 0.0, 0.0, 0.0, 0.0), 0.0)
    }
}

impl Schedule for OneCycleLr {
    fn lr(&self, step: usize) -> LearningRate {
        let (phase, pct) = self.locate(step);
        self.anneal_strategy
            .anneal(phase.start_lr, phase.end_lr, pct)
    }

    fn momentum(&self, step: usize) -> Option<f64> {
        if !self.cycle_momentum {
            return None;
        }
        let (phase, pct) = self.locate(step);
        Some(
            self.anneal_strategy
                .anneal(phase.start_momentum, phase.end_momentum, pct),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn linear_cycle_endpoints() {
        let s = OneCycleLrConfig::new(1.0, 11)
            .with_pct_start(6.0 / 11.0)
            .with_anneal_strategy(AnnealStrategy::Linear)
            .with_div_factor(10.0)
            .with_final_div_factor(10.0)
            .build()
            .unwrap();
        assert!((s.lr(0) - 0.1).abs() < 1e-15);
        assert!((s.lr(5) - 1.0).abs() < 1e-12);
        assert!((s.lr(10) - 0.01).abs() < 1e-15);
        assert!((s.lr(1000) - 0.01).abs() < 1e-15);
        assert!((s.momentum(0).unwrap() - 0.95).abs() < 1e-15);
        assert!((s.momentum(5).unwrap() - 0.85).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(
            OneCycleLrConfig::new(1.0, 100)
                .with_pct_start(0.0)
                .build()
                .is_err()
        );
        assert!(
            OneCycleLrConfig::new(1.0, 100)
                .with_pct_start(1.0)
                .build()
                .is_err()
        );
        assert!(OneCycleLrConfig::new(1.0, 0).build().is_err());
        assert!(
            OneCycleLrConfig::new(1.0, 100)
                .with_div_factor(0.0)
                .build()
                .is_err()
        );
        // pct_start * total_steps <= 1 leaves the first phase empty.
        let r = OneCycleLrConfig::new(1.0, 2).build();
        assert!(matches!(r, Err(OptimError::Inconsistent { .. })));
        let r = OneCycleLrConfig::new(1.0, 100)
            .with_pct_start(0.6)
            .with_three_phase(true)
            .build();
        assert!(matches!(r, Err(OptimError::Inconsistent { .. })));
    }
}
