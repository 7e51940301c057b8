//! # descent-data
//!
//! Data for descent's optimizer studies, following burn's conventions: an in-memory
//! [`ArrayDataset`] implements burn's `Dataset`, and [`ArrayBatcher`] (a burn `Batcher`
//! whose items are indices) is the only place tensors are made.
//!
//! - **Sources**: the IDX format of the MNIST family ([`idx`]), Fashion-MNIST and MNIST from
//!   disk with checksums ([`fashion_mnist`], [`mnist()`]), the UCI digits compiled in
//!   ([`digits()`]), and seeded synthetic problems with their known optima ([`synthetic`]).
//! - **Preparation**: seeded train / validation splits ([`train_validation_split`]) and
//!   standardisation fitted on the training split only ([`Standardizer`]).
//! - **Batching**: a [`BatchPlan`] gives the batches of any epoch as a pure function of
//!   `(seed, epoch)`: batch sizes from 1 to the full dataset, shuffled, sequential, with
//!   replacement, or stratified by class, with or without the last partial batch.
//!
//! ```
//! use descent_data::{digits, BatchPlan, BatchSize, BatchSpec, Sampling};
//!
//! let data = digits()?;
//! let spec = BatchSpec { size: BatchSize::Items(128), drop_last: false, sampling: Sampling::Stratified };
//! let plan = BatchPlan::new(spec, &data, 7)?;
//! let epoch = plan.epoch(0);
//! assert_eq!(epoch.len(), 15); // 14 batches of 128 and one of 5
//! assert_eq!(epoch.batch(0).map(<[usize]>::len), Some(128));
//! # Ok::<(), descent_data::DataError>(())
//! ```

#![warn(missing_docs)]

mod batch;
mod batcher;
mod dataset;
mod digits;
mod error;
pub mod idx;
mod mnist;
pub mod rng;
mod split;
pub mod synthetic;

pub use batch::{BatchPlan, BatchSize, BatchSpec, Epoch, Sampling, epoch_permutation};
pub use batcher::{ArrayBatcher, Batch, BatchTargets};
pub use dataset::{ArrayDataset, Example, Target, Targets};
pub use digits::{DIGITS_CSV_GZ, DIGITS_LEN, DIGITS_MD5, digits};
pub use error::{DataError, IdxProblem};
pub use mnist::{
    DATA_ENV, DEBIAN_FASHION_MNIST, TrainTest, fashion_mnist, fashion_mnist_search_path,
    locate_fashion_mnist, mnist,
};
pub use split::{Standardization, Standardizer, TrainValidation, train_validation_split};

/// MD5 of `bytes` as lower-case hex (what `md5sum` prints).
pub fn md5_hex(bytes: &[u8]) -> String {
    mnist::md5_hex(bytes)
}
