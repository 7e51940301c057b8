//! Inverse-square-root decay with an optional linear warm-up.

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "InverseSqrtLr";

/// Configuration of [`InverseSqrtLr`].
#[derive(Config, Debug)]
pub struct InverseSqrtLrConfig {
    /// The peak learning rate, reached at the end of the warm-up (at step 0 without one).
    pub initial_lr: LearningRate,
    /// The number of linear warm-up steps (0: none).
    #[config(default = 0)]
    pub warmup_steps: usize,
}

impl InverseSqrtLrConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<InverseSqrtLr> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        Ok(InverseSqrtLr {
            initial_lr: self.initial_lr,
            warmup_steps: self.warmup_steps,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<InverseSqrtLr>> {
        self.build().map(Scheduler::new)
    }
}

/// Inverse-square-root decay, the "Noam" schedule of *Attention Is All You Need*
/// (Vaswani et al. 2017) and fairseq's `inverse_sqrt`, normalised so that its peak is
/// `initial_lr`. With `n = k + 1` (the 1-based optimizer step) and `w = warmup_steps`:
///
/// - `lr(k) = initial_lr * n / w` while `n <= w` (linear warm-up, reaching `initial_lr` at
///   `n = w`);
/// - `lr(k) = initial_lr * sqrt(max(w, 1) / n)` afterwards.
///
/// Without warm-up it is simply `initial_lr / sqrt(k + 1)`. This equals the Noam formula
/// `d^-0.5 * min(n^-0.5, n * w^-1.5)` rescaled by `initial_lr * sqrt(w)`. PyTorch has no
/// such class (it is usually written with `LambdaLR`).
#[derive(Clone, Debug)]
pub struct InverseSqrtLr {
    initial_lr: LearningRate,
    warmup_steps: usize,
}

impl Schedule for InverseSqrtLr {
    fn lr(&self, step: usize) -> LearningRate {
        let n = step as f64 + 1.0;
        let w = self.warmup_steps as f64;
        if n <= w {
            self.initial_lr * n / w
        } else {
            self.initial_lr * (w.max(1.0) / n).sqrt()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn without_warmup() {
        let s = InverseSqrtLrConfig::new(1.0).build().unwrap();
        assert_eq!(s.lr(0), 1.0);
        assert_eq!(s.lr(3), 0.5);
        assert_eq!(s.lr(99), 0.1);
    }

    #[test]
    fn with_warmup() {
        let s = InverseSqrtLrConfig::new(1.0)
            .with_warmup_steps(4)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..4).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![0.25, 0.5, 0.75, 1.0]);
        assert_eq!(s.lr(15), 0.5);
        assert!(s.lr(4) < 1.0);
    }

    #[test]
    fn rejects_negative_lr() {
        assert!(InverseSqrtLrConfig::new(-1.0).build().is_err());
    }
}
