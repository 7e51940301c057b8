//! Noisy (perturbed) gradient descent: GD plus seeded isotropic Gaussian noise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::config::Config;
use burn::optim::LearningRate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`NoisyGd`].
#[derive(Config, Debug)]
pub struct NoisyGdConfig {
    /// Standard deviation `sigma` of the noise added to every coordinate at every step.
    pub noise_std: f64,
    /// Seed of the noise; the same seed gives the same noise on every machine and backend.
    #[config(default = 0)]
    pub seed: u64,
    /// Multiply the noise by the learning rate (`theta - eta (g + sigma xi)`, noise in the
    /// gradient) instead of adding it to the parameters (`theta - eta g + sigma xi`).
    #[config(default = false)]
    pub scale_with_lr: bool,
}

/// Gradient descent with seeded isotropic Gaussian noise, the tool for saddle-escape studies.
///
/// ```text
/// theta_t = theta_{t-1} - eta g_t + sigma xi_t                (default)
/// theta_t = theta_{t-1} - eta (g_t + sigma xi_t)              (scale_with_lr)
/// xi_t ~ N(0, I), drawn from ChaCha8 keyed by (seed, parameter index, t)
/// ```
///
/// The noise is drawn on the host in `f64` and then cast, so it is the same on every
/// backend and precision, and a run resumed from a record continues with the same noise.
/// Parameters are numbered in the order the optimizer first sees them (the module's
/// traversal order, which is fixed), so two parameter tensors never share noise.
///
/// References: Ge, Huang, Jin & Yuan, *Escaping From Saddle Points* (COLT 2015);
/// Jin et al., *How to Escape Saddle Points Efficiently* (ICML 2017).
#[derive(Debug)]
pub struct NoisyGd {
    noise_std: f64,
    seed: u64,
    scale_with_lr: bool,
    next_stream: Arc<AtomicU64>,
}

impl Clone for NoisyGd {
    /// A clone numbers new parameters on its own, starting where the original stands.
    fn clone(&self) -> Self {
        Self {
            noise_std: self.noise_std,
            seed: self.seed,
            scale_with_lr: self.scale_with_lr,
            next_stream: Arc::new(AtomicU64::new(self.next_stream.load(Ordering::Relaxed))),
        }
    }
}

optimizer_state! {
    /// State of [`NoisyGd`] for one parameter tensor.
    pub struct NoisyGdState {
        /// Number of steps taken, `t`.
        pub step: Scalar<u64>,
        /// Index of this parameter's noise stream.
        pub stream: Scalar<u64>,
        /// Unused; ties the record to the backend and rank.
        pub marker: OptionTensor,
    }
}

impl OptimConfig for NoisyGdConfig {
    type Optimizer = NoisyGd;
    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("NoisyGD", "noise_std", self.noise_std)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(NoisyGd {
            noise_std: self.noise_std,
            seed: self.seed,
            scale_with_lr: self.scale_with_lr,
            next_stream: Arc::new(AtomicU64::new(0)),
        })
    }
}

impl NoisyGd {
    /// The standard normal draws for parameter `stream` at step `step`, `len` of them.
    pub fn noise(&self, stream: u64, step: u64, len: usize) -> Vec<f64> {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&stream.to_le_bytes());
        key[16..24].copy_from_slice(&step.to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(key);
        (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
    }
}

impl NoisyGd {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<NoisyGdState<T>>,
    ) -> (T, Option<NoisyGdState<T>>) {
        let (stream, step) = match state {
            Some(s) => (s.stream, s.step + 1),
            None => (self.next_stream.fetch_add(1, Ordering::Relaxed), 1),
        };
        let mut tensor = tensor.sub(grad.mul_scalar(lr));
        if self.noise_std > 0.0 {
            let draws = self.noise(stream, step, tensor.num_elements());
            // Same shape, device and dtype as the parameters (burn's device-wide default
            // dtype need not be this tensor's).
            let noise = tensor.with_values(draws);
            let scale = if self.scale_with_lr {
                lr * self.noise_std
            } else {
                self.noise_std
            };
            tensor = tensor.add(noise.mul_scalar(scale));
        }
        (
            tensor,
            Some(NoisyGdState {
                step,
                stream,
                marker: None,
            }),
        )
    }
}
