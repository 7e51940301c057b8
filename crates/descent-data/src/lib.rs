//! # descent-data
//!
//! Data for descent's optimizer studies. This first part holds the batch order, the heart
//! of GD vs SGD: the order in which a dataset of `n` items is visited in an epoch is a
//! pure function of `(seed, epoch)`, identical on every machine and backend, so a resumed
//! run continues mid-epoch exactly where it stopped. Datasets (IDX / Fashion-MNIST, the
//! embedded digits, synthetic problems) and batchers follow.

#![warn(missing_docs)]

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

/// What can go wrong when data is described or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataError {
    /// A batch size outside `1..=n`.
    #[error("batch size {batch_size} is not in 1..={len} (the dataset has {len} items)")]
    BatchSize {
        /// The requested batch size.
        batch_size: usize,
        /// The number of items.
        len: usize,
    },
}

/// The ChaCha8 stream for `(seed, epoch)`: the seed is the key, the epoch the stream id,
/// so epochs are independent and any epoch can be produced without the ones before it.
fn epoch_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch);
    rng
}

/// The order in which the `len` items are visited in `epoch`: a permutation of `0..len`
/// that depends only on `(seed, epoch, len)`.
pub fn epoch_permutation(seed: u64, epoch: u64, len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut epoch_rng(seed, epoch));
    order
}

/// The batches of one epoch: consecutive chunks of [`epoch_permutation`] of size
/// `batch_size`; the last one is shorter unless `drop_last`.
pub fn epoch_batches(
    seed: u64,
    epoch: u64,
    len: usize,
    batch_size: usize,
    drop_last: bool,
) -> Result<Vec<Vec<usize>>, DataError> {
    if batch_size == 0 || batch_size > len {
        return Err(DataError::BatchSize { batch_size, len });
    }
    let order = epoch_permutation(seed, epoch, len);
    Ok(order
        .chunks(batch_size)
        .filter(|chunk| !drop_last || chunk.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_epoch_give_the_same_order() {
        assert_eq!(epoch_permutation(7, 3, 100), epoch_permutation(7, 3, 100));
    }

    #[test]
    fn epochs_and_seeds_give_different_orders() {
        assert_ne!(epoch_permutation(7, 0, 100), epoch_permutation(7, 1, 100));
        assert_ne!(epoch_permutation(7, 0, 100), epoch_permutation(8, 0, 100));
    }

    #[test]
    fn every_item_is_visited_once_per_epoch() {
        let batches = epoch_batches(1, 2, 103, 10, false).unwrap();
        assert_eq!(batches.len(), 11);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        assert_eq!(epoch_batches(1, 2, 103, 10, true).unwrap().len(), 10);
    }

    #[test]
    fn batch_sizes_outside_the_dataset_are_errors() {
        assert_eq!(
            epoch_batches(0, 0, 5, 0, false),
            Err(DataError::BatchSize {
                batch_size: 0,
                len: 5
            })
        );
        assert!(epoch_batches(0, 0, 5, 6, false).is_err());
        assert_eq!(epoch_batches(0, 0, 5, 5, false).unwrap().len(), 1);
    }
}
