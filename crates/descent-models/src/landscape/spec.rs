//! Plain descriptions of stochastic finite sums, for experiment files to be parsed into.

use super::{Landscape, Stochastic};
use crate::ModelError;

/// How to turn a landscape into a [`Stochastic`] finite sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseSpec {
    /// The number of examples `n`.
    pub examples: usize,
    /// The noise scale `sigma` per coordinate.
    pub sigma: f64,
    /// The seed of the noise vectors.
    pub seed: u64,
}

impl NoiseSpec {
    /// The stochastic version of `landscape` described, or why it cannot be built.
    pub fn build(&self, landscape: Landscape) -> Result<Stochastic, ModelError> {
        Stochastic::new(landscape, self.examples, self.sigma, self.seed)
    }
}
