//! The IDX format of the MNIST family, plain or gzip-compressed.
//!
//! An IDX file is a 4-byte magic number (two zero bytes, a type code, the rank), one
//! big-endian `u32` per dimension, then the data in row-major order. The MNIST family uses
//! only unsigned bytes (type `0x08`): rank 3 for images (count, rows, columns), rank 1 for
//! labels. Every check happens before anything is allocated from the header, so a hostile
//! header cannot make the reader reserve gigabytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{DataError, IdxProblem};

/// The type code of unsigned bytes, the only one the MNIST family uses.
const UNSIGNED_BYTE: u8 = 0x08;
/// Decompressed files larger than this are refused (Fashion-MNIST's largest is 47 MB).
const MAX_DECOMPRESSED: u64 = 1 << 30;

/// A decoded IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Images and their labels, as read from a pair of IDX files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledImages {
    /// Pixel values, image after image, row-major within an image.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
}

impl LabelledImages {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images (never true for a set that was read successfully).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Parses IDX bytes (already decompressed) that must have rank `expected_rank`.
pub fn parse(bytes: &[u8], expected_rank: u8) -> Result<IdxArray, IdxProblem> {
    let Some(header) = bytes.first_chunk::<4>() else {
        return Err(IdxProblem::NoHeader { len: bytes.len() });
    };
    if header[0] != 0 || header[1] != 0 {
        return Err(IdxProblem::BadMagic {
            found: u32::from_be_bytes(*header),
        });
    }
    if header[2] != UNSIGNED_BYTE {
        return Err(IdxProblem::UnsupportedType { code: header[2] });
    }
    let rank = header[3];
    if rank != expected_rank {
        return Err(IdxProblem::Rank {
            found: rank,
            expected: expected_rank,
        });
    }
    let dims_end = 4 + 4 * usize::from(rank);
    let Some(dim_bytes) = bytes.get(4..dims_end) else {
        return Err(IdxProblem::TruncatedHeader { rank });
    };
    let dims: Vec<u32> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        let what = if axis == 0 { "items" } else { "pixels" };
        return Err(IdxProblem::ZeroDimension { axis, what });
    }
    let payload = &bytes[dims_end..];
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
        .unwrap_or(usize::MAX);
    if payload.len() != expected {
        return Err(IdxProblem::Length {
            dims,
            expected,
            found: payload.len(),
        });
    }
    Ok(IdxArray {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data: payload.to_vec(),
    })
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// `bytes` decompressed if they are gzip, borrowed as they are otherwise. `path` only names
/// the source in errors.
pub fn decompress<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<std::borrow::Cow<'a, [u8]>, DataError> {
    if !is_gzip(bytes) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let mut decoder = GzDecoder::new(bytes).take(MAX_DECOMPRESSED + 1);
    decoder.read_to_end(&mut out).map_err(|e| DataError::Gzip {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(DataError::Gzip {
            path: path.to_path_buf(),
            reason: format!("decompresses to more than {MAX_DECOMPRESSED} bytes"),
        });
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Decodes the contents of an IDX file, plain or gzip; `path` only names it in errors.
/// This is the whole parser as the fuzz target sees it.
pub fn decode(bytes: &[u8], path: &Path, expected_rank: u8) -> Result<IdxArray, DataError> {
    let plain = decompress(bytes, path)?;
    parse(&plain, expected_rank).map_err(|problem| DataError::Idx {
        path: path.to_path_buf(),
        problem,
    })
}

/// Reads a whole file.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an IDX file of rank `expected_rank`, plain or gzip.
pub fn read(path: &Path, expected_rank: u8) -> Result<IdxArray, DataError> {
    decode(&read_bytes(path)?, path, expected_rank)
}

/// Checks an images array (rank 3) and a labels array (rank 1) against each other and
/// against `classes`, and joins them.
pub fn join(
    images: IdxArray,
    images_path: &Path,
    labels: IdxArray,
    labels_path: &Path,
    classes: usize,
) -> Result<LabelledImages, DataError> {
    let (&[count, rows, cols], &[label_count]) = (&images.dims[..], &labels.dims[..]) else {
        // `parse` checked the ranks; this only guards against a caller building arrays by hand.
        return Err(DataError::Idx {
            path: PathBuf::from(images_path),
            problem: IdxProblem::Rank {
                found: images.dims.len() as u8,
                expected: 3,
            },
        });
    };
    if count != label_count {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: count,
            labels_path: labels_path.to_path_buf(),
            labels: label_count,
        });
    }
    if let Some(index) = labels.data.iter().position(|&l| usize::from(l) >= classes) {
        return Err(DataError::Idx {
            path: labels_path.to_path_buf(),
            problem: IdxProblem::LabelOutOfRange {
                index,
                label: labels.data[index],
                classes,
            },
        });
    }
    Ok(LabelledImages {
        pixels: images.data,
        labels: labels.data,
        rows,
        cols,
    })
}

/// Reads a pair of IDX files: images (rank 3) and their labels (rank 1, each below
/// `classes`).
pub fn read_labelled_images(
    images_path: &Path,
    labels_path: &Path,
    classes: usize,
) -> Result<LabelledImages, DataError> {
    let images = read(images_path, 3)?;
    let labels = read(labels_path, 1)?;
    join(images, images_path, labels, labels_path, classes)
}

/// Encodes unsigned bytes as an IDX file (uncompressed): what the tests and tools use to
/// write small files.
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
