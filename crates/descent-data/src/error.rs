use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong when data is described, read or batched.
///
/// Every variant that concerns a file names it, so a message is enough to find the problem.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file that starts like gzip but does not decompress.
    #[error("{}: not a valid gzip stream: {reason}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An IDX file that is malformed; `problem` says how.
    #[error("{}: not a valid IDX file: {problem}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: IdxProblem,
    },
    /// An images file and a labels file that do not describe the same items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Its number of images.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Its number of labels.
        labels: usize,
    },
    /// A known file whose checksum is not the published one.
    #[error(
        "{}: MD5 {found} is not the published checksum of {name} (expected {expected}); \
         the file is corrupt or not the dataset it claims to be",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The dataset file it should be.
        name: &'static str,
        /// The MD5 found (hex).
        found: String,
        /// The MD5 expected (hex).
        expected: &'static str,
    },
    /// A dataset that is not installed in any of the places searched.
    #[error("{dataset} not found; looked in: {}. {hint}", list_paths(looked))]
    NotFound {
        /// The dataset.
        dataset: &'static str,
        /// Every directory searched, in order.
        looked: Vec<PathBuf>,
        /// How to get it.
        hint: &'static str,
    },
    /// The embedded digits table is damaged (a build problem, not a user one).
    #[error("embedded digits data, line {line}: {problem}")]
    Embedded {
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A parameter outside its allowed range.
    #[error("{owner}: {field} = {value} is not allowed; {allowed}")]
    InvalidParameter {
        /// The configuration it belongs to.
        owner: &'static str,
        /// The field.
        field: &'static str,
        /// The value given, as text.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A batch size outside `1..=n`.
    #[error("batch size {batch_size} is not in 1..={len} (the dataset has {len} items)")]
    BatchSize {
        /// The requested batch size.
        batch_size: usize,
        /// The number of items.
        len: usize,
    },
    /// Stratified or class-sorted batches asked of a dataset without class labels; the
    /// sampling's name.
    #[error("{0} batches need class labels, and this dataset has none")]
    NeedsClasses(&'static str),
}

/// The ways an IDX file can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdxProblem {
    /// Shorter than the 4-byte magic number.
    #[error("file is {len} bytes, shorter than the 4-byte header")]
    NoHeader {
        /// The file's length.
        len: usize,
    },
    /// The first two bytes are not zero.
    #[error("bad magic number {found:#010x} (an IDX file starts with two zero bytes)")]
    BadMagic {
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// A data type other than unsigned bytes (the MNIST family uses only 0x08).
    #[error("data type {code:#04x} is not supported (only 0x08, unsigned byte)")]
    UnsupportedType {
        /// The type code.
        code: u8,
    },
    /// A rank other than the expected one (1 for labels, 3 for images).
    #[error("rank {found}, expected {expected}")]
    Rank {
        /// The rank in the header.
        found: u8,
        /// The rank this file must have.
        expected: u8,
    },
    /// A header that stops before all dimensions are given.
    #[error("header ends before its {rank} dimensions")]
    TruncatedHeader {
        /// The rank in the header.
        rank: u8,
    },
    /// A zero dimension: no items, or empty images.
    #[error("dimension {axis} is zero (no {what})")]
    ZeroDimension {
        /// The axis (0 is the item count).
        axis: usize,
        /// `"items"` or `"pixels"`.
        what: &'static str,
    },
    /// Fewer (or more) data bytes than the dimensions promise.
    #[error("dimensions {dims:?} need {expected} data bytes, found {found}")]
    Length {
        /// The dimensions.
        dims: Vec<u32>,
        /// The bytes they need (saturated at `usize::MAX`).
        expected: usize,
        /// The bytes present.
        found: usize,
    },
    /// A label outside `0..classes`.
    #[error("label {label} at item {index} is not in 0..{classes}")]
    LabelOutOfRange {
        /// The item.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
