//! The one seed tree of descent. Every random choice in every crate (batch order, splits,
//! synthetic data, model initialisation, landscape noise, rotations, optimizer noise,
//! measurements) draws from a ChaCha8 stream keyed by the user's seed, with a stream id that
//! says what the numbers are for. ChaCha8 is defined bit for bit, so the same seed gives the
//! same numbers on every machine and backend, and two purposes never share numbers: the first
//! layer's weights and the first epoch's order come from different streams.
//!
//! The stream id is `purpose << 56 | index`: 2^56 indices (epochs, layers, parameters, ...)
//! per purpose.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for. Each purpose owns its own range of stream ids.
///
/// The numbers are part of the recorded results: changing one changes every number drawn
/// for that purpose. Add new purposes at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// The batch order of an epoch (index: the epoch).
    Epoch = 0,
    /// The train / validation split.
    Split = 1,
    /// Synthetic data generation (index: generator and role).
    Synthetic = 2,
    /// Initial weights of a model (index: the layer).
    ModelInit = 3,
    /// The examples of a stochastic landscape's finite sum.
    LandscapeNoise = 4,
    /// Random rotations (e.g. of a quadratic's eigenvectors).
    Rotation = 5,
    /// Noise an optimizer adds to its steps (e.g. noisy GD).
    OptimizerNoise = 6,
    /// Extra batches and directions drawn by measurements (index: the probe).
    Probe = 7,
}

/// Every purpose, for tests and documentation.
pub const PURPOSES: [Purpose; 8] = [
    Purpose::Epoch,
    Purpose::Split,
    Purpose::Synthetic,
    Purpose::ModelInit,
    Purpose::LandscapeNoise,
    Purpose::Rotation,
    Purpose::OptimizerNoise,
    Purpose::Probe,
];

const INDEX_BITS: u32 = 56;

/// The ChaCha8 stream for `(seed, purpose, index)`; `index` is taken modulo 2^56.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << INDEX_BITS) | (index & ((1 << INDEX_BITS) - 1)));
    rng
}

/// A seed for code that keys its own generator (such as `descent-optim`'s noisy GD, which
/// depends on burn alone): the first 64 bits of [`stream`].
pub fn derived_seed(seed: u64, purpose: Purpose, index: u64) -> u64 {
    stream(seed, purpose, index).next_u64()
}
