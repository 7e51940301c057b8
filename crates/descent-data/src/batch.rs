//! Batch plans: which items each step sees, the heart of GD vs SGD vs mini-batch.
//!
//! The batches of an epoch are a pure function of `(seed, epoch, spec, labels)`: nothing is
//! carried from one epoch to the next, so a resumed run rebuilds the epoch it stopped in and
//! continues at the same batch, and two machines (or backends) see the same order.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::dataset::ArrayDataset;
use crate::error::DataError;
use crate::rng::{Purpose, stream};

/// How many items a batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// A fixed number of items (1 is pure SGD).
    Items(usize),
    /// The whole dataset: full-batch gradient descent.
    Full,
}

/// How the items of an epoch are chosen and ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sampling {
    /// Every item once per epoch, in a fresh random order each epoch (the usual SGD).
    #[default]
    Shuffled,
    /// Every item once per epoch, in index order (deterministic GD; order matters only for
    /// batches smaller than the dataset).
    Sequential,
    /// Each batch drawn uniformly with replacement, independently: the i.i.d. SGD of the
    /// theory. An epoch is `ceil(n / B)` such batches.
    WithReplacement,
    /// Every item once per epoch, and every batch holds each class in the dataset's
    /// proportions: for a batch of `b` items, class `c` has `floor(b n_c / n)` or one more.
    Stratified,
    /// Every item once per epoch, in one random order drawn once (epoch 0's shuffle) and
    /// kept: the same batches every epoch.
    ShuffledOnce,
    /// Every item once per epoch, sorted by class (index order within a class), the same
    /// every epoch: data given "in a meaningful order", each batch nearly one class.
    SortedByClass,
}

impl Sampling {
    /// The name experiment files use.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Shuffled => "shuffled",
            Sampling::Sequential => "sequential",
            Sampling::WithReplacement => "with_replacement",
            Sampling::Stratified => "stratified",
            Sampling::ShuffledOnce => "shuffled_once",
            Sampling::SortedByClass => "sorted_by_class",
        }
    }

    /// Whether the plan needs the items' classes.
    fn needs_classes(self) -> bool {
        matches!(self, Sampling::Stratified | Sampling::SortedByClass)
    }
}

/// What a user asks of the batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpec {
    /// Items per batch.
    pub size: BatchSize,
    /// Drop the last, smaller batch of an epoch (without replacement only).
    pub drop_last: bool,
    /// How items are chosen.
    pub sampling: Sampling,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            size: BatchSize::Full,
            drop_last: false,
            sampling: Sampling::Shuffled,
        }
    }
}

/// The batches of one epoch, stored flat: one index array and where each batch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    items: Vec<usize>,
    starts: Vec<usize>,
}

impl Epoch {
    fn from_chunks(items: Vec<usize>, sizes: impl IntoIterator<Item = usize>) -> Epoch {
        let mut starts = vec![0];
        for size in sizes {
            let last = starts.last().copied().unwrap_or(0);
            starts.push(last + size);
        }
        Epoch { items, starts }
    }

    /// The number of batches.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether the epoch has no batches (never, for a valid plan).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batch `index`'s items.
    pub fn batch(&self, index: usize) -> Option<&[usize]> {
        let (&start, &end) = (self.starts.get(index)?, self.starts.get(index + 1)?);
        self.items.get(start..end)
    }

    /// The batches in order.
    pub fn batches(&self) -> impl Iterator<Item = &[usize]> {
        self.starts.windows(2).map(|w| &self.items[w[0]..w[1]])
    }
}

/// A validated plan for producing the batches of any epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    len: usize,
    batch_size: usize,
    drop_last: bool,
    sampling: Sampling,
    seed: u64,
    /// For stratified and class-sorted batches: the items of each class, in index order.
    strata: Vec<Vec<usize>>,
}

impl BatchPlan {
    /// The plan for batching `data` as `spec` says, with orders drawn from `seed`.
    pub fn new(spec: BatchSpec, data: &ArrayDataset, seed: u64) -> Result<BatchPlan, DataError> {
        let mut plan = BatchPlan::for_len(
            BatchSpec {
                sampling: Sampling::Shuffled,
                ..spec
            },
            data.len(),
            seed,
        )?;
        plan.sampling = spec.sampling;
        if spec.sampling.needs_classes() {
            let Some(mut strata) = data.items_by_class() else {
                return Err(DataError::NeedsClasses(spec.sampling.name()));
            };
            strata.retain(|s| !s.is_empty());
            plan.strata = strata;
        }
        Ok(plan)
    }

    /// The plan for a dataset of `len` items without labels (stratified sampling is refused).
    pub fn for_len(spec: BatchSpec, len: usize, seed: u64) -> Result<BatchPlan, DataError> {
        if spec.sampling.needs_classes() {
            return Err(DataError::NeedsClasses(spec.sampling.name()));
        }
        let batch_size = match spec.size {
            BatchSize::Full => len,
            BatchSize::Items(b) => b,
        };
        if batch_size == 0 || batch_size > len {
            return Err(DataError::BatchSize { batch_size, len });
        }
        Ok(BatchPlan {
            len,
            batch_size,
            drop_last: spec.drop_last,
            sampling: spec.sampling,
            seed,
            strata: Vec::new(),
        })
    }

    /// Whether every epoch is the same single batch (a full batch without replacement):
    /// its tensors can be assembled once.
    pub fn is_fixed_full_batch(&self) -> bool {
        self.batch_size == self.len && self.sampling != Sampling::WithReplacement
    }

    /// Items per (full) batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of items the plan covers.
    pub fn dataset_len(&self) -> usize {
        self.len
    }

    /// Batches in every epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let full = self.len / self.batch_size;
        let partial = !self.len.is_multiple_of(self.batch_size);
        match self.sampling {
            Sampling::WithReplacement => self.len.div_ceil(self.batch_size),
            _ if self.drop_last || !partial => full,
            _ => full + 1,
        }
    }

    /// The epoch and batch index of optimisation step `step` (counted from 0).
    pub fn locate(&self, step: u64) -> (u64, usize) {
        let per_epoch = self.batches_per_epoch() as u64;
        (step / per_epoch, (step % per_epoch) as usize)
    }

    /// The batches of `epoch`.
    pub fn epoch(&self, epoch: u64) -> Epoch {
        let mut rng = stream(self.seed, Purpose::Epoch, epoch);
        let full = self.len / self.batch_size;
        let rest = self.len % self.batch_size;
        let mut sizes = vec![self.batch_size; full];
        if rest > 0 {
            sizes.push(rest);
        }
        // A full batch is the whole set whatever the order, so it is kept in index order:
        // full-batch GD then computes the same sum on every step, and a runner may assemble
        // it once.
        let whole = self.batch_size == self.len;
        let mut epoch = match self.sampling {
            Sampling::WithReplacement => {
                let batches = self.batches_per_epoch();
                let items = (0..batches * self.batch_size)
                    .map(|_| rng.random_range(0..self.len))
                    .collect();
                return Epoch::from_chunks(items, vec![self.batch_size; batches]);
            }
            _ if whole => Epoch::from_chunks((0..self.len).collect(), sizes),
            Sampling::Sequential => Epoch::from_chunks((0..self.len).collect(), sizes),
            Sampling::Shuffled => {
                Epoch::from_chunks(epoch_permutation(self.seed, epoch, self.len), sizes)
            }
            Sampling::Stratified => self.stratified(&mut rng, &sizes),
            Sampling::ShuffledOnce => {
                Epoch::from_chunks(epoch_permutation(self.seed, 0, self.len), sizes)
            }
            Sampling::SortedByClass => Epoch::from_chunks(self.strata.concat(), sizes),
        };
        if self.drop_last && rest > 0 {
            epoch.starts.pop();
            epoch.items.truncate(full * self.batch_size);
        }
        epoch
    }

    /// Stratified batches: every class is spread over the epoch's batches so that each
    /// batch of `b` items holds `floor(b n_c / n)` or `ceil(b n_c / n)` items of class `c`.
    ///
    /// The per-class "extra" items (the fractional parts) are first given to the last,
    /// partial batch (largest fractions first), then dealt round-robin over the full
    /// batches, class after class; a class never needs more extras than there are full
    /// batches, so no full batch gets two extras of one class. Which full batch gets which
    /// extras, and which items of a class go where, is shuffled by the epoch's stream.
    fn stratified(&self, rng: &mut ChaCha8Rng, sizes: &[usize]) -> Epoch {
        let n = self.len;
        let b = self.batch_size;
        let full = n / b;
        let class_sizes: Vec<usize> = self.strata.iter().map(Vec::len).collect();
        let mut counts: Vec<Vec<usize>> = Vec::with_capacity(sizes.len());

        let rest = n % b;
        let mut last = vec![0usize; class_sizes.len()];
        if rest > 0 {
            let mut by_fraction: Vec<usize> = (0..class_sizes.len()).collect();
            for (c, &nc) in class_sizes.iter().enumerate() {
                last[c] = rest * nc / n;
            }
            let extras = rest - last.iter().sum::<usize>();
            by_fraction.sort_by_key(|&c| std::cmp::Reverse((rest * class_sizes[c]) % n));
            for &c in by_fraction.iter().take(extras) {
                last[c] += 1;
            }
        }
        let base: Vec<usize> = class_sizes.iter().map(|&nc| b * nc / n).collect();
        let mut full_counts = vec![base.clone(); full];
        let mut slot = 0;
        for (c, &nc) in class_sizes.iter().enumerate() {
            let extras = nc - full * base[c] - last[c];
            for _ in 0..extras {
                full_counts[slot % full][c] += 1;
                slot += 1;
            }
        }
        full_counts.shuffle(rng);
        counts.extend(full_counts);
        if rest > 0 {
            counts.push(last);
        }

        let mut pools = self.strata.clone();
        pools.iter_mut().for_each(|p| p.shuffle(rng));
        let mut cursors = vec![0usize; pools.len()];
        let mut items = Vec::with_capacity(n);
        for batch_counts in &counts {
            let start = items.len();
            for (c, &k) in batch_counts.iter().enumerate() {
                items.extend_from_slice(&pools[c][cursors[c]..cursors[c] + k]);
                cursors[c] += k;
            }
            items[start..].shuffle(rng);
        }
        Epoch::from_chunks(items, sizes.iter().copied())
    }
}

/// The order in which `len` items are visited in `epoch` when shuffled: a permutation of
/// `0..len` that depends only on `(seed, epoch, len)`.
pub fn epoch_permutation(seed: u64, epoch: u64, len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut stream(seed, Purpose::Epoch, epoch));
    order
}
