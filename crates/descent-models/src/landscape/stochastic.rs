//! Finite sums with controlled gradient noise: `l_i(w) = f(w) + xi_i . w`.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use descent_data::rng::{Purpose, stream};
use rand_distr::{Distribution, StandardNormal};

use super::{DefaultNoise, Landscape, LandscapeEntry, constant};
use crate::ModelError;

/// DeepOBS's start point for `two_d_rosenbrock`: `(u, v) = (-0.5, 1.5)`.
pub const TWO_D_ROSENBROCK_START: [f64; 2] = [-0.5, 1.5];

/// The size of DeepOBS's `two_d` data set (`train_size`).
pub const TWO_D_ROSENBROCK_EXAMPLES: usize = 10_000;

/// A landscape `f` as the finite sum `F(w) = 1/n sum_i l_i(w)`, `l_i(w) = f(w) + xi_i . w`.
///
/// The noise vectors `xi_i` are `n` seeded Gaussian draws with standard deviation `sigma` per
/// coordinate, minus their mean, so `sum_i xi_i = 0` (to rounding): the full-batch loss is `f`
/// and its gradient `grad f`, with the same minimisers, while the mini-batch gradient
/// `grad f(w) + mean_{i in S} xi_i` is unbiased and, for `B` indices drawn without replacement,
/// has per-coordinate variance `s_j^2 (n - B) / (B (n - 1))`, `s_j^2 = 1/n sum_i xi_ij^2`
/// ([`Self::minibatch_variance`]; `s_j^2` is close to `sigma^2` for large `n`). The noise does not
/// depend on `w`, so the Hessian of every `l_i` is that of `f`.
#[derive(Debug, Clone)]
pub struct Stochastic {
    landscape: Landscape,
    /// `None` when the noise vectors were given, not drawn ([`Self::from_examples`]).
    sigma: Option<f64>,
    seed: u64,
    noise: Vec<Vec<f64>>,
}

impl Stochastic {
    /// `landscape` as a sum of `examples >= 1` terms, noise scale `sigma >= 0`, drawn by
    /// ChaCha8 from `seed`.
    pub fn new(
        landscape: Landscape,
        examples: usize,
        sigma: f64,
        seed: u64,
    ) -> Result<Self, ModelError> {
        if examples == 0 {
            return Err(ModelError::NoExamples);
        }
        if !sigma.is_finite() || sigma < 0.0 {
            return Err(ModelError::NoiseScale(sigma));
        }
        Ok(Self::generate(landscape, examples, sigma, seed))
    }

    /// DeepOBS's `two_d_rosenbrock`: the 2-D Rosenbrock function plus `u x + v y` with
    /// `(x, y)` one of 10 000 draws of a standard normal (DeepOBS's `two_d` data set:
    /// `train_size = 10000`, `noise_level = 1.0`); start at [`TWO_D_ROSENBROCK_START`].
    ///
    /// Definition from `deepobs/tensorflow/testproblems/two_d_rosenbrock.py` and
    /// `deepobs/tensorflow/datasets/two_d.py` (github.com/fsschneider/DeepOBS; the loss there is
    /// `(1 - u)^2 + 100 (v - u^2)^2 + u x + v y`, averaged over the batch). Two differences:
    /// DeepOBS draws with NumPy's seed 42 and does not centre the draws (so its full-batch
    /// optimum is slightly off `(1, 1)`); here the draws come from `seed` and are centred.
    pub fn two_d_rosenbrock(seed: u64) -> Self {
        Self::generate(
            Landscape::rosenbrock(),
            TWO_D_ROSENBROCK_EXAMPLES,
            1.0,
            seed,
        )
    }

    /// `landscape` as the finite sum with these noise vectors (at least one, each of the
    /// landscape's dimension, finite), centred here so they sum to zero as drawn ones do.
    /// `seed` is recorded as the seed they came from.
    pub fn from_examples(
        landscape: Landscape,
        noise: Vec<Vec<f64>>,
        seed: u64,
    ) -> Result<Self, ModelError> {
        if noise.is_empty() {
            return Err(ModelError::NoExamples);
        }
        for (index, xi) in noise.iter().enumerate() {
            if xi.len() != landscape.dim() {
                return Err(ModelError::Dimension {
                    landscape: landscape.name(),
                    expected: landscape.dim(),
                    got: xi.len(),
                });
            }
            if let Some(&value) = xi.iter().find(|v| !v.is_finite()) {
                return Err(ModelError::NonFinite {
                    what: "noise vector",
                    index,
                    value,
                });
            }
        }
        Ok(Self::centred(landscape, noise, None, seed))
    }

    fn generate(landscape: Landscape, examples: usize, sigma: f64, seed: u64) -> Self {
        let dim = landscape.dim();
        let mut rng = stream(seed, Purpose::LandscapeNoise, 0);
        let noise: Vec<Vec<f64>> = (0..examples)
            .map(|_| {
                (0..dim)
                    .map(|_| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        sigma * z
                    })
                    .collect::<Vec<f64>>()
            })
            .collect();
        Self::centred(landscape, noise, Some(sigma), seed)
    }

    fn centred(
        landscape: Landscape,
        mut noise: Vec<Vec<f64>>,
        sigma: Option<f64>,
        seed: u64,
    ) -> Self {
        let examples = noise.len() as f64;
        for j in 0..landscape.dim() {
            let mean = noise.iter().map(|xi| xi[j]).sum::<f64>() / examples;
            for xi in &mut noise {
                xi[j] -= mean;
            }
        }
        Stochastic {
            landscape,
            sigma,
            seed,
            noise,
        }
    }

    /// The deterministic landscape `f` (the full-batch loss).
    pub fn landscape(&self) -> &Landscape {
        &self.landscape
    }

    /// The number of examples `n`.
    pub fn examples(&self) -> usize {
        self.noise.len()
    }

    /// The noise scale the vectors were drawn with (`None` if they were given).
    pub fn sigma(&self) -> Option<f64> {
        self.sigma
    }

    /// The seed the vectors were drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The noise vectors `xi_0, ..., xi_{n-1}`, each of the landscape's dimension.
    pub fn noise(&self) -> &[Vec<f64>] {
        &self.noise
    }

    /// `mean_{i in batch} xi_i` (a repeated index counts again): what a mini-batch adds to the
    /// gradient.
    pub fn batch_noise(&self, batch: &[usize]) -> Result<Vec<f64>, ModelError> {
        if batch.is_empty() {
            return Err(ModelError::EmptyBatch);
        }
        let mut mean = vec![0.0; self.landscape.dim()];
        for &index in batch {
            let xi = self.noise.get(index).ok_or(ModelError::BatchIndex {
                index,
                examples: self.examples(),
            })?;
            for (m, x) in mean.iter_mut().zip(xi) {
                *m += x;
            }
        }
        let size = batch.len() as f64;
        Ok(mean.into_iter().map(|m| m / size).collect())
    }

    /// The mini-batch loss `1/|S| sum_{i in S} l_i(w) = f(w) + mean_S xi . w`.
    pub fn value(&self, w: &[f64], batch: &[usize]) -> Result<f64, ModelError> {
        let f = self.landscape.value(w)?;
        let xi = self.batch_noise(batch)?;
        Ok(f + xi.iter().zip(w).map(|(x, w)| x * w).sum::<f64>())
    }

    /// The mini-batch gradient `grad f(w) + mean_S xi`.
    pub fn gradient(&self, w: &[f64], batch: &[usize]) -> Result<Vec<f64>, ModelError> {
        let g = self.landscape.gradient(w)?;
        let xi = self.batch_noise(batch)?;
        Ok(g.iter().zip(xi).map(|(g, x)| g + x).collect())
    }

    /// The full-batch loss, summed over every example (equal to `f(w)` up to rounding).
    pub fn full_value(&self, w: &[f64]) -> Result<f64, ModelError> {
        self.value(w, &self.all())
    }

    /// The full-batch gradient, summed over every example (equal to `grad f(w)` up to rounding).
    pub fn full_gradient(&self, w: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.gradient(w, &self.all())
    }

    fn all(&self) -> Vec<usize> {
        (0..self.examples()).collect()
    }

    /// Per coordinate, the population variance `s_j^2 = 1/n sum_i xi_ij^2` of the noise.
    pub fn population_variance(&self) -> Vec<f64> {
        let n = self.examples() as f64;
        (0..self.landscape.dim())
            .map(|j| self.noise.iter().map(|xi| xi[j] * xi[j]).sum::<f64>() / n)
            .collect()
    }

    /// Per coordinate, the exact variance of the mini-batch gradient over batches of
    /// `batch_size` distinct indices drawn uniformly without replacement:
    /// `s_j^2 (n - B) / (B (n - 1))` (zero for the full batch).
    pub fn minibatch_variance(&self, batch_size: usize) -> Result<Vec<f64>, ModelError> {
        let n = self.examples();
        if batch_size == 0 || batch_size > n {
            return Err(ModelError::BatchSize {
                size: batch_size,
                examples: n,
            });
        }
        // n = 1 forces B = 1 = n: one possible batch, no variance (and 0/0 in the formula).
        let factor = if n == 1 {
            0.0
        } else {
            (n - batch_size) as f64 / (batch_size as f64 * (n - 1) as f64)
        };
        Ok(self
            .population_variance()
            .into_iter()
            .map(|s2| s2 * factor)
            .collect())
    }

    /// The mini-batch loss as a differentiable burn graph: `w` has shape `[dim]`, the result
    /// shape `[1]`.
    pub fn loss<B: Backend>(
        &self,
        w: Tensor<B, 1>,
        batch: &[usize],
    ) -> Result<Tensor<B, 1>, ModelError> {
        let f = self.landscape.loss(w.clone())?;
        let xi = self.batch_noise(batch)?;
        let n = xi.len();
        // The noise is constant in w, so its batch mean is folded in f64 before the graph.
        let tilt = w.clone().mul(constant(xi, [n], &w)).sum();
        Ok(f.add(tilt))
    }
}

/// The registry's entry: `landscape = "two_d_rosenbrock"`.
pub(super) const TWO_D_ROSENBROCK: LandscapeEntry = LandscapeEntry {
    name: "two_d_rosenbrock",
    summary: "DeepOBS's stochastic 2-D Rosenbrock (10 000 examples, sigma 1)",
    takes: &[],
    build: |_| Ok(Landscape::rosenbrock()),
    start: Some(&TWO_D_ROSENBROCK_START),
    noise: Some(DefaultNoise::Gaussian {
        examples: TWO_D_ROSENBROCK_EXAMPLES,
        sigma: 1.0,
    }),
};
