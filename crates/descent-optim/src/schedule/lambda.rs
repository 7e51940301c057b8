//! Schedules from a closure: PyTorch's `LambdaLR` and `MultiplicativeLR`.

use std::sync::Arc;

use burn::optim::LearningRate;

use super::Schedule;

use crate::validate;

/// A factor as a function of the step, shared between clones.
pub type LrLambda = Arc<dyn Fn(usize) -> f64 + Send + Sync>;

/// PyTorch's `LambdaLR`: `lr(k) = initial_lr * f(k)`.
///
/// Not serialisable (it holds a closure), so it has no config; build it with
/// [`LambdaLr::new`] and wrap it with [`Scheduler::new`](super::Scheduler::new).
#[derive(Clone)]
pub struct LambdaLr {
    initial_lr: LearningRate,
    factor: LrLambda,
}

impl LambdaLr {
    /// `lr(k) = initial_lr * factor(k)`; `initial_lr` must be finite and `>= 0`.
    pub fn new(initial_lr: LearningRate, factor: LrLambda) -> crate::Result<Self> {
        validate::non_negative("LambdaLr", "initial_lr", initial_lr)?;
        Ok(Self { initial_lr, factor })
    }
}

impl core::fmt::Debug for LambdaLr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LambdaLr")
            .field("initial_lr", &self.initial_lr)
            .finish_non_exhaustive()
    }
}

impl Schedule for LambdaLr {
    fn lr(&self, step: usize) -> LearningRate {
        self.initial_lr * (self.factor)(step)
    }
}

/// PyTorch's `MultiplicativeLR`: `lr(0) = initial_lr`, `lr(k) = lr(k - 1) * f(k)`.
///
/// As a pure function of the step this is the product `initial_lr * f(1) * ... * f(k)`,
/// computed in the same order as PyTorch, so **each call costs `O(k)`**. Fine for short runs
/// and tests; for long runs write the closed form with [`LambdaLr`] (a constant factor is
/// [`ExponentialLr`](super::ExponentialLr)).
#[derive(Clone)]
pub struct MultiplicativeLr {
    initial_lr: LearningRate,
    factor: LrLambda,
}

impl MultiplicativeLr {
    /// `lr(k) = initial_lr * factor(1) * ... * factor(k)`; `initial_lr` must be finite and
    /// `>= 0`.
    pub fn new(initial_lr: LearningRate, factor: LrLambda) -> crate::Result<Self> {
        validate::non_negative("MultiplicativeLr", "initial_lr", initial_lr)?;
        Ok(Self { initial_lr, factor })
    }
}

impl core::fmt::Debug for MultiplicativeLr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MultiplicativeLr")
            .field("initial_lr", &self.initial_lr)
            .finish_non_exhaustive()
    }
}

impl Schedule for MultiplicativeLr {
    fn lr(&self, step: usize) -> LearningRate {
        (1..=step).fold(self.initial_lr, |lr, k| lr * (self.factor)(k))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn lambda_multiplies_the_base() {
        let s = LambdaLr::new(2.0, Arc::new(|k| 1.0 / (k as f64 + 1.0))).unwrap();
        assert_eq!(s.lr(0), 2.0);
        assert_eq!(s.lr(3), 0.5);
    }

    #[test]
    fn multiplicative_accumulates() {
        let s = MultiplicativeLr::new(1.0, Arc::new(|k| k as f64)).unwrap();
        assert_eq!(s.lr(0), 1.0);
        assert_eq!(s.lr(4), 24.0);
        assert!(MultiplicativeLr::new(-1.0, Arc::new(|_| 1.0)).is_err());
    }
}
