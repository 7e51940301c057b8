//! Fuzzes the IDX reader as it sees a file: gzip detection and decompression, the header,
//! the dimensions and the payload, for both ranks the MNIST family uses, and the join of an
//! images array with a labels array. Any panic, overflow or huge allocation is a bug; an
//! `Err` is the expected answer to garbage.

#![no_main]

use std::path::Path;

use descent_data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz-input");
    let images = idx::decode(bytes, path, 3);
    let labels = idx::decode(bytes, path, 1);
    if let Ok(images) = &images {
        assert_eq!(images.data.len(), images.dims.iter().product::<usize>());
    }
    let labels = labels.ok();
    if let (Ok(images), Some(labels)) = (images, labels.clone()) {
        let _ = idx::join(images, path, labels, path, 10);
    }
    // The labels joined with themselves viewed as 1x1 images: exercises the label checks.
    if let Some(labels) = labels {
        let count = labels.dims[0];
        let images = idx::IdxArray {
            dims: vec![count, 1, 1],
            data: labels.data.clone(),
        };
        let _ = idx::join(images, path, labels, path, 10);
    }
});
