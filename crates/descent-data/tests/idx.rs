//! The IDX reader on small files the tests write themselves: round trips and every
//! corruption, each a typed error that names the file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::io::Write;
use std::path::{Path, PathBuf};

use descent_data::idx::{self, encode};
use descent_data::{DataError, IdxProblem};
use flate2::Compression;
use flate2::write::GzEncoder;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Three 2x3 images and their labels.
fn sample() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..18).map(|i| (i * 13) as u8).collect();
    (encode(&[3, 2, 3], &pixels), encode(&[3], &[4, 0, 9]))
}

#[test]
fn plain_and_gzip_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = sample();
    for compressed in [false, true] {
        let pack = |b: &[u8]| if compressed { gzip(b) } else { b.to_vec() };
        let images_path = write(dir.path(), &format!("img{compressed}"), &pack(&images));
        let labels_path = write(dir.path(), &format!("lbl{compressed}"), &pack(&labels));
        let set = idx::read_labelled_images(&images_path, &labels_path, 10).unwrap();
        assert_eq!((set.len(), set.rows, set.cols), (3, 2, 3));
        assert_eq!(set.labels, vec![4, 0, 9]);
        assert_eq!(
            set.pixels,
            (0..18).map(|i| (i * 13) as u8).collect::<Vec<_>>()
        );
    }
}

/// Reads a corrupted images file beside good labels and returns the error, checking that
/// its message names the file it is about.
fn corrupt_images(bytes: &[u8], gzip_it: bool) -> (DataError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (_, labels) = sample();
    let bytes = if gzip_it { gzip(bytes) } else { bytes.to_vec() };
    let images_path = write(dir.path(), "broken-images", &bytes);
    let labels_path = write(dir.path(), "labels", &labels);
    let err = idx::read_labelled_images(&images_path, &labels_path, 10).unwrap_err();
    assert!(
        err.to_string().contains(&images_path.display().to_string()),
        "{err}"
    );
    (err, images_path)
}

fn idx_problem(err: DataError) -> IdxProblem {
    match err {
        DataError::Idx { problem, .. } => problem,
        other => panic!("expected an IDX error, got {other:?}"),
    }
}

#[test]
fn a_bad_magic_number_is_named() {
    let (mut images, _) = sample();
    images[0] = 0x12;
    for gz in [false, true] {
        let (err, _) = corrupt_images(&images, gz);
        assert!(matches!(idx_problem(err), IdxProblem::BadMagic { .. }));
    }
    let mut wrong_type = sample().0;
    wrong_type[2] = 0x0D;
    let (err, _) = corrupt_images(&wrong_type, false);
    assert_eq!(idx_problem(err), IdxProblem::UnsupportedType { code: 0x0D });
}

#[test]
fn truncated_files_are_errors() {
    let (images, _) = sample();
    let (err, _) = corrupt_images(&images[..images.len() - 1], true);
    assert_eq!(
        idx_problem(err),
        IdxProblem::Length {
            dims: vec![3, 2, 3],
            expected: 18,
            found: 17
        }
    );
    let (err, _) = corrupt_images(&images[..9], false);
    assert_eq!(idx_problem(err), IdxProblem::TruncatedHeader { rank: 3 });
    let (err, _) = corrupt_images(&images[..2], false);
    assert_eq!(idx_problem(err), IdxProblem::NoHeader { len: 2 });
    // A gzip stream cut short is reported as such.
    let zipped = gzip(&images);
    let (err, _) = corrupt_images(&zipped[..zipped.len() / 2], false);
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
}

#[test]
fn a_header_promising_more_than_the_file_holds_allocates_nothing() {
    let huge = encode(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
    let (err, _) = corrupt_images(&huge, false);
    assert!(matches!(
        idx_problem(err),
        IdxProblem::Length { found: 3, .. }
    ));
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = sample();
    let images_path = write(dir.path(), "images", &images);
    let labels_path = write(dir.path(), "labels", &encode(&[2], &[1, 2]));
    let err = idx::read_labelled_images(&images_path, &labels_path, 10).unwrap_err();
    assert!(matches!(
        err,
        DataError::CountMismatch {
            images: 3,
            labels: 2,
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains("images") && message.contains("labels"),
        "{message}"
    );
}

#[test]
fn a_label_above_nine_is_an_error_naming_the_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = sample();
    let images_path = write(dir.path(), "images", &images);
    let labels_path = write(dir.path(), "labels", &gzip(&encode(&[3], &[1, 10, 2])));
    let err = idx::read_labelled_images(&images_path, &labels_path, 10).unwrap_err();
    assert!(err.to_string().contains(&labels_path.display().to_string()));
    assert_eq!(
        idx_problem(err),
        IdxProblem::LabelOutOfRange {
            index: 1,
            label: 10,
            classes: 10
        }
    );
}

#[test]
fn zero_images_or_empty_images_are_errors() {
    let (err, _) = corrupt_images(&encode(&[0, 28, 28], &[]), false);
    assert_eq!(
        idx_problem(err),
        IdxProblem::ZeroDimension {
            axis: 0,
            what: "items"
        }
    );
    let (err, _) = corrupt_images(&encode(&[3, 0, 28], &[]), true);
    assert!(matches!(
        idx_problem(err),
        IdxProblem::ZeroDimension { axis: 1, .. }
    ));
    // Labels where images are expected: the rank is checked.
    let (err, _) = corrupt_images(&encode(&[3], &[1, 2, 3]), false);
    assert_eq!(
        idx_problem(err),
        IdxProblem::Rank {
            found: 1,
            expected: 3
        }
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = idx::read(&missing, 1).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(err.to_string().contains("nope"));
}

#[test]
fn fashion_mnist_that_is_not_where_the_user_said_is_an_error_saying_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    // A named directory is the only place searched, even when the dataset is installed.
    assert_eq!(
        descent_data::fashion_mnist_search_path(Some(&empty)),
        vec![empty.clone()]
    );
    let defaults = descent_data::fashion_mnist_search_path(None);
    assert_eq!(
        defaults.last().map(PathBuf::as_path),
        Some(Path::new(descent_data::DEBIAN_FASHION_MNIST))
    );
    let err = descent_data::fashion_mnist(Some(&empty)).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&empty.display().to_string()), "{message}");
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message}"
    );
    assert!(message.contains("problem.data_path"), "{message}");
}

#[test]
fn fashion_mnist_files_with_the_wrong_checksum_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = sample();
    write(dir.path(), "train-images-idx3-ubyte.gz", &gzip(&images));
    write(dir.path(), "train-labels-idx1-ubyte", &labels);
    write(dir.path(), "t10k-images-idx3-ubyte", &images);
    write(dir.path(), "t10k-labels-idx1-ubyte", &labels);
    let err = descent_data::fashion_mnist(Some(dir.path())).unwrap_err();
    let DataError::Checksum { path, name, .. } = &err else {
        panic!("expected a checksum error, got {err:?}")
    };
    assert_eq!(*name, "train-images-idx3-ubyte");
    assert!(path.ends_with("train-images-idx3-ubyte.gz"));
    assert!(err.to_string().contains("8d4fb7e6c68d591d4c3dfef9ec88bf0d"));
    // The same small files load as MNIST, which has no fixed checksums.
    let set = descent_data::mnist(dir.path()).unwrap();
    assert_eq!((set.train.len(), set.test.len()), (3, 3));
    assert_eq!(set.train.item_shape(), &[1, 2, 3]);
    assert_eq!(set.train.features()[1], 13.0 / 255.0);
}
