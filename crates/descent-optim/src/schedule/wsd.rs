//! Warmup-stable-decay: linear warm-up, a long plateau, then a short decay.

use core::f64::consts::PI;

use burn::config::Config;
use burn::optim::LearningRate;

use super::{Schedule, Scheduler};

use crate::validate;

const OWNER: &str = "WarmupStableDecay";

/// The shape of the decay phase of [`WarmupStableDecay`], as a function of the progress
/// `p` in `[0, 1)` through the decay (1 at its start, 0 at its end).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum DecayShape {
    /// `1 - p`.
    Linear,
    /// `(1 + cos(pi * p)) / 2`.
    Cosine,
    /// `1 - sqrt(p)` (Hägele et al. 2024 found it best for WSD).
    OneMinusSqrt,
}

impl DecayShape {
    fn factor(self, p: f64) -> f64 {
        match self {
            Self::Linear => 1.0 - p,
            Self::Cosine => (1.0 + (PI * p).cos()) / 2.0,
            Self::OneMinusSqrt => 1.0 - p.sqrt(),
        }
    }
}

/// Configuration of [`WarmupStableDecay`].
#[derive(Config, Debug)]
pub struct WarmupStableDecayConfig {
    /// The peak learning rate of the stable phase.
    pub initial_lr: LearningRate,
    /// The number of steps of the linear warm-up (0: none).
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// The warm-up starts at `warmup_start_factor * initial_lr`, in `[0, 1]`.
    #[config(default = 0.0)]
    pub warmup_start_factor: f64,
    /// The number of steps at `initial_lr`.
    pub stable_steps: usize,
    /// The number of steps of the decay (0: drop straight to `final_lr`).
    pub decay_steps: usize,
    /// The learning rate at the end of the decay and after it.
    #[config(default = 0.0)]
    pub final_lr: LearningRate,
    /// The shape of the decay.
    #[config(default = "DecayShape::Linear")]
    pub decay_shape: DecayShape,
}

impl WarmupStableDecayConfig {
    /// Check every field and build the schedule.
    pub fn build(&self) -> crate::Result<WarmupStableDecay> {
        validate::non_negative(OWNER, "initial_lr", self.initial_lr)?;
        validate::unit_closed(OWNER, "warmup_start_factor", self.warmup_start_factor)?;
        validate::non_negative(OWNER, "final_lr", self.final_lr)?;
        Ok(WarmupStableDecay {
            initial_lr: self.initial_lr,
            warmup_steps: self.warmup_steps,
            warmup_start_factor: self.warmup_start_factor,
            stable_steps: self.stable_steps,
            decay_steps: self.decay_steps,
            final_lr: self.final_lr,
            decay_shape: self.decay_shape,
        })
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<WarmupStableDecay>> {
        self.build().map(Scheduler::new)
    }
}

/// Warmup-stable-decay (WSD; Hu et al. 2024, *MiniCPM*; Hägele et al. 2024, *Scaling Laws
/// and Compute-Optimal Training Beyond Fixed Training Durations*). With `W`, `S`, `D` the
/// warm-up, stable and decay lengths, `s` the warm-up start factor and `f` the decay shape:
///
/// - `k < W`: `lr = initial_lr * (s + (1 - s) * k / W)` (linear, `initial_lr` reached at `k = W`);
/// - `W <= k < W + S`: `lr = initial_lr`;
/// - `W + S <= k < W + S + D`: `lr = final_lr + (initial_lr - final_lr) * f(p)` with
///   `p = (k - W - S) / D`;
/// - afterwards `lr = final_lr`.
///
/// PyTorch has no such class (it can be written as a `SequentialLR` of `LinearLR`,
/// `ConstantLR` and a decay); optax neither.
#[derive(Clone, Debug)]
pub struct WarmupStableDecay {
    initial_lr: LearningRate,
    warmup_steps: usize,
    warmup_start_factor: f64,
    stable_steps: usize,
    decay_steps: usize,
    final_lr: LearningRate,
    decay_shape: DecayShape,
}

impl Schedule for WarmupStableDecay {
    fn lr(&self, step: usize) -> LearningRate {
        if step < self.warmup_steps {
            let t = step as f64 / self.warmup_steps as f64;
            let s = self.warmup_start_factor;
            return self.initial_lr * (s + (1.0 - s) * t);
        }
        let k = step - self.warmup_steps;
        if k < self.stable_steps {
            return self.initial_lr;
        }
        let k = k - self.stable_steps;
        if k < self.decay_steps {
            let p = k as f64 / self.decay_steps as f64;
            return self.final_lr + (self.initial_lr - self.final_lr) * self.decay_shape.factor(p);
        }
        self.final_lr
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn three_phases() {
        let s = WarmupStableDecayConfig::new(1.0, 2, 4)
            .with_warmup_steps(2)
            .with_final_lr(0.2)
            .build()
            .unwrap();
        let lrs: Vec<f64> = (0..10).map(|k| s.lr(k)).collect();
        let want = [0.0, 0.5, 1.0, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2];
        for (a, b) in lrs.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{lrs:?}");
        }
    }

    #[test]
    fn shapes() {
        for shape in [
            DecayShape::Linear,
            DecayShape::Cosine,
            DecayShape::OneMinusSqrt,
        ] {
            assert_eq!(shape.factor(0.0), 1.0);
            assert!(shape.factor(1.0).abs() < 1e-15);
        }
        let s = WarmupStableDecayConfig::new(1.0, 0, 4)
            .with_decay_shape(DecayShape::OneMinusSqrt)
            .build()
            .unwrap();
        assert_eq!(s.lr(1), 0.5);
    }

    #[test]
    fn rejects_bad_fields() {
        assert!(WarmupStableDecayConfig::new(-1.0, 1, 1).build().is_err());
        assert!(
            WarmupStableDecayConfig::new(1.0, 1, 1)
                .with_warmup_start_factor(2.0)
                .build()
                .is_err()
        );
        assert!(
            WarmupStableDecayConfig::new(1.0, 1, 1)
                .with_final_lr(-0.1)
                .build()
                .is_err()
        );
    }
}
