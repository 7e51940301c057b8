//! The UCI optical-recognition digits, compiled into the crate so that the default
//! experiment needs nothing installed. Provenance and licence (CC BY 4.0):
//! `crates/descent-data/data/PROVENANCE.md`.

use std::io::Read;

use flate2::read::GzDecoder;

use crate::dataset::{ArrayDataset, Targets};
use crate::error::DataError;

/// The compressed table: 1797 rows of 64 pixels (0..=16) then the label.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");
/// MD5 of [`DIGITS_CSV_GZ`], as recorded in the provenance file.
pub const DIGITS_MD5: &str = "9b335364a7bfd63947c7480a5bd51f2d";
/// The number of images.
pub const DIGITS_LEN: usize = 1797;

const SIDE: usize = 8;
const MAX_PIXEL: f32 = 16.0;

/// The digits as a dataset of `(1, 8, 8)` images scaled to `[0, 1]`, with 10 classes.
pub fn digits() -> Result<ArrayDataset, DataError> {
    let mut text = String::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| DataError::Embedded {
            line: 0,
            problem: e.to_string(),
        })?;
    let mut features = Vec::with_capacity(DIGITS_LEN * SIDE * SIDE);
    let mut labels = Vec::with_capacity(DIGITS_LEN);
    for (i, line) in text.lines().enumerate() {
        let bad = |problem: String| DataError::Embedded {
            line: i + 1,
            problem,
        };
        let values = line
            .split(',')
            .map(|v| v.trim().parse::<u8>())
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let [pixels @ .., label] = &values[..] else {
            return Err(bad("empty line".into()));
        };
        if pixels.len() != SIDE * SIDE || *label > 9 {
            return Err(bad(format!("{} pixels and label {label}", pixels.len())));
        }
        features.extend(pixels.iter().map(|&p| f32::from(p) / MAX_PIXEL));
        labels.push(u32::from(*label));
    }
    ArrayDataset::new(
        "digits",
        features,
        vec![1, SIDE, SIDE],
        Targets::Classes {
            labels,
            classes: 10,
        },
    )
}
