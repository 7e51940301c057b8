//! Fashion-MNIST and MNIST from IDX files on disk.
//!
//! Fashion-MNIST is looked for in an explicit directory (config or CLI) when one is given,
//! and only there; otherwise in `$DESCENT_DATA` (the directory itself or its
//! `fashion-mnist/` subdirectory), then in `/usr/share/datasets/fashion-mnist/`, where
//! Debian's `dataset-fashion-mnist` puts it.
//! Each file may be gzip-compressed (`name.gz`) or not (`name`).
//!
//! Fashion-MNIST's files are checked against their published MD5s. Debian recompresses the
//! files, so a `.gz` whose MD5 differs is also accepted when its *decompressed* bytes have
//! the MD5 of the original decompressed file (recorded below; for the two label files this
//! was verified against the originals in zalandoresearch/fashion-mnist, whose `.gz` MD5s are
//! the published ones).

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::dataset::{ArrayDataset, Targets};
use crate::error::DataError;
use crate::idx;

/// The environment variable naming a data directory.
pub const DATA_ENV: &str = "DESCENT_DATA";
/// Where Debian's `dataset-fashion-mnist` installs the files.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

const CLASSES: usize = 10;
const MAX_PIXEL: f32 = 255.0;
const HINT: &str = "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), \
     or download the four IDX files from https://github.com/zalandoresearch/fashion-mnist \
     and point DESCENT_DATA (or the experiment's `problem.data_path`) at their directory";

/// One of the four files of an MNIST-family dataset, with Fashion-MNIST's checksums.
struct KnownFile {
    name: &'static str,
    /// The published MD5 of `name.gz`.
    gz_md5: &'static str,
    /// The MD5 of the decompressed file.
    idx_md5: &'static str,
}

const TRAIN_IMAGES: KnownFile = KnownFile {
    name: "train-images-idx3-ubyte",
    gz_md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    idx_md5: "f4a8712d7a061bf5bd6d2ca38dc4d50a",
};
const TRAIN_LABELS: KnownFile = KnownFile {
    name: "train-labels-idx1-ubyte",
    gz_md5: "25c81989df183df01b3e8a0aad5dffbe",
    idx_md5: "9018921c3c673c538a1fc5bad174d6f9",
};
const TEST_IMAGES: KnownFile = KnownFile {
    name: "t10k-images-idx3-ubyte",
    gz_md5: "bef4ecab320f06d8554ea6380940ec79",
    idx_md5: "8181f5470baa50b63fa0f6fddb340f0a",
};
const TEST_LABELS: KnownFile = KnownFile {
    name: "t10k-labels-idx1-ubyte",
    gz_md5: "bb300cfdad3c16e7a12a480ee83cd310",
    idx_md5: "15d484375f8d13e6eb1aabb0c3f46965",
};

/// A dataset's training and test sets. The test set is kept apart: splits for validation
/// are taken from `train` only.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainTest {
    /// The training set.
    pub train: ArrayDataset,
    /// The test set.
    pub test: ArrayDataset,
}

/// The directories searched for Fashion-MNIST, in order. An explicit directory is the only
/// one searched: a path the user named and got wrong must not be silently replaced.
pub fn fashion_mnist_search_path(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(env) = std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        let env = PathBuf::from(env);
        dirs.push(env.join("fashion-mnist"));
        dirs.push(env);
    }
    dirs.push(PathBuf::from(DEBIAN_FASHION_MNIST));
    dirs
}

/// The first directory of [`fashion_mnist_search_path`] that holds the training images.
pub fn locate_fashion_mnist(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    let looked = fashion_mnist_search_path(explicit);
    looked
        .iter()
        .find(|dir| file_in(dir, TRAIN_IMAGES.name).is_some())
        .cloned()
        .ok_or(DataError::NotFound {
            dataset: "Fashion-MNIST",
            looked,
            hint: HINT,
        })
}

/// Fashion-MNIST (60000 training and 10000 test images, 28x28, 10 classes), found as
/// [`locate_fashion_mnist`] says, checksums verified; pixels scaled to `[0, 1]`.
pub fn fashion_mnist(explicit: Option<&Path>) -> Result<TrainTest, DataError> {
    let dir = locate_fashion_mnist(explicit)?;
    load(&dir, "fashion-mnist", true)
}

/// MNIST from a directory the user names (the same four file names, plain or gzip). No
/// checksums are enforced: repackagers recompress the files and the originals'
/// decompressed checksums are not published.
pub fn mnist(dir: &Path) -> Result<TrainTest, DataError> {
    if file_in(dir, TRAIN_IMAGES.name).is_none() {
        return Err(DataError::NotFound {
            dataset: "MNIST",
            looked: vec![dir.to_path_buf()],
            hint: "put train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), \
                   t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) there",
        });
    }
    load(dir, "mnist", false)
}

fn load(dir: &Path, name: &str, verify: bool) -> Result<TrainTest, DataError> {
    let part = |images: &'static KnownFile, labels: &'static KnownFile, split: &str| {
        let images_path = require(dir, images.name)?;
        let labels_path = require(dir, labels.name)?;
        let images_array = read_checked(&images_path, images, 3, verify)?;
        let labels_array = read_checked(&labels_path, labels, 1, verify)?;
        let set = idx::join(
            images_array,
            &images_path,
            labels_array,
            &labels_path,
            CLASSES,
        )?;
        let features = set
            .pixels
            .iter()
            .map(|&p| f32::from(p) / MAX_PIXEL)
            .collect();
        ArrayDataset::new(
            format!("{name}/{split}"),
            features,
            vec![1, set.rows, set.cols],
            Targets::Classes {
                labels: set.labels.iter().map(|&l| u32::from(l)).collect(),
                classes: CLASSES,
            },
        )
    };
    Ok(TrainTest {
        train: part(&TRAIN_IMAGES, &TRAIN_LABELS, "train")?,
        test: part(&TEST_IMAGES, &TEST_LABELS, "test")?,
    })
}

/// `dir/name.gz` or `dir/name`, whichever exists (compressed first).
fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(format!("{name}.gz")), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

fn require(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    file_in(dir, name).ok_or_else(|| DataError::Io {
        path: dir.join(format!("{name}.gz")),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("neither {name}.gz nor {name} is in this directory"),
        ),
    })
}

fn read_checked(
    path: &Path,
    known: &'static KnownFile,
    rank: u8,
    verify: bool,
) -> Result<idx::IdxArray, DataError> {
    let raw = idx::read_bytes(path)?;
    let plain = idx::decompress(&raw, path)?;
    if verify {
        // A `.gz` may be the published one, or a repackager's recompression of the same
        // bytes; an uncompressed file can only be checked by its content.
        let raw_md5 = md5_hex(&raw);
        let accepted = raw_md5 == known.gz_md5 || md5_hex(&plain) == known.idx_md5;
        if !accepted {
            let (found, expected) = if idx::is_gzip(&raw) {
                (raw_md5, known.gz_md5)
            } else {
                (raw_md5, known.idx_md5)
            };
            return Err(DataError::Checksum {
                path: path.to_path_buf(),
                name: known.name,
                found,
                expected,
            });
        }
    }
    idx::parse(&plain, rank).map_err(|problem| DataError::Idx {
        path: path.to_path_buf(),
        problem,
    })
}

/// Lower-case hex MD5.
pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
