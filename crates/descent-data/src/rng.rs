//! Seeded random streams. Every random choice in descent-data draws from a ChaCha8 stream
//! keyed by the user's seed, with the stream id saying what it is for; ChaCha8 is defined
//! bit for bit, so the same seed gives the same data and order on every machine.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for; each purpose has its own range of stream ids so that,
/// e.g., the batch order of epoch 3 never shares numbers with the train/validation split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The batch order of an epoch (stream id = the epoch, as in earlier releases).
    Epoch = 0,
    /// The train / validation split.
    Split = 1,
    /// Synthetic data generation.
    Synthetic = 2,
}

/// The ChaCha8 stream for `(seed, purpose, index)`.
pub(crate) fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 56) | (index & ((1 << 56) - 1)));
    rng
}
