//! Batch plans: determinism, coverage, stratification, replacement, and the batcher.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::HashSet;
use std::sync::Arc;

use burn::backend::NdArray;
use burn::data::dataloader::batcher::Batcher;
use descent_data::{
    ArrayBatcher, ArrayDataset, Batch, BatchPlan, BatchSize, BatchSpec, BatchTargets, DataError,
    Sampling, Targets, digits,
};

fn spec(size: BatchSize, sampling: Sampling, drop_last: bool) -> BatchSpec {
    BatchSpec {
        size,
        drop_last,
        sampling,
    }
}

/// 103 items in 3 unbalanced classes (60 / 30 / 13).
fn unbalanced() -> ArrayDataset {
    let labels: Vec<u32> = (0..103)
        .map(|i| {
            if i < 60 {
                0
            } else if i < 90 {
                1
            } else {
                2
            }
        })
        .collect();
    let features = (0..103).map(|i| i as f32).collect();
    ArrayDataset::new(
        "unbalanced",
        features,
        vec![1],
        Targets::Classes { labels, classes: 3 },
    )
    .unwrap()
}

#[test]
fn the_same_seed_gives_the_same_batches_and_epochs_differ() {
    let data = unbalanced();
    for sampling in [
        Sampling::Shuffled,
        Sampling::WithReplacement,
        Sampling::Stratified,
    ] {
        let s = spec(BatchSize::Items(10), sampling, false);
        let a = BatchPlan::new(s, &data, 42).unwrap();
        let b = BatchPlan::new(s, &data, 42).unwrap();
        let other_seed = BatchPlan::new(s, &data, 43).unwrap();
        assert_eq!(a.epoch(5), b.epoch(5), "{sampling:?}");
        assert_ne!(a.epoch(0), a.epoch(1), "{sampling:?}");
        assert_ne!(a.epoch(0), other_seed.epoch(0), "{sampling:?}");
    }
}

#[test]
fn without_replacement_every_item_is_seen_once_per_epoch() {
    let data = unbalanced();
    for sampling in [
        Sampling::Shuffled,
        Sampling::Sequential,
        Sampling::Stratified,
        Sampling::ShuffledOnce,
        Sampling::SortedByClass,
    ] {
        for b in [1, 7, 10, 64, 103] {
            let plan =
                BatchPlan::new(spec(BatchSize::Items(b), sampling, false), &data, 1).unwrap();
            for e in 0..3 {
                let epoch = plan.epoch(e);
                assert_eq!(epoch.len(), plan.batches_per_epoch());
                assert_eq!(epoch.len(), 103usize.div_ceil(b));
                let mut seen: Vec<usize> = epoch.batches().flatten().copied().collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..103).collect::<Vec<_>>(), "{sampling:?} B={b}");
                assert!(
                    epoch
                        .batches()
                        .take(epoch.len() - 1)
                        .all(|batch| batch.len() == b)
                );
            }
        }
    }
}

#[test]
fn shuffled_once_and_sorted_by_class_repeat_one_order_every_epoch() {
    // Labels 0, 1, 2, 0, 1, 2, ...: index order is interleaved, the sorted order is not.
    let labels: Vec<u32> = (0..30).map(|i| i % 3).collect();
    let data = ArrayDataset::new(
        "interleaved",
        vec![0.0; 30],
        vec![1],
        Targets::Classes { labels, classes: 3 },
    )
    .unwrap();
    let sorted = BatchPlan::new(
        spec(BatchSize::Items(5), Sampling::SortedByClass, false),
        &data,
        7,
    )
    .unwrap();
    let expected: Vec<usize> = (0..3).flat_map(|c| (c..30).step_by(3)).collect();
    for e in 0..3 {
        let order: Vec<usize> = sorted.epoch(e).batches().flatten().copied().collect();
        assert_eq!(order, expected, "epoch {e}");
    }
    let once = |seed| {
        BatchPlan::new(
            spec(BatchSize::Items(5), Sampling::ShuffledOnce, false),
            &data,
            seed,
        )
        .unwrap()
    };
    let (a, b) = (once(7), once(8));
    assert_eq!(a.epoch(0), a.epoch(4));
    assert_ne!(a.epoch(0), b.epoch(0));
    let shuffled = BatchPlan::new(
        spec(BatchSize::Items(5), Sampling::Shuffled, false),
        &data,
        7,
    )
    .unwrap();
    // Epoch 0 is the shuffled plan's epoch 0; later epochs of that plan move on.
    assert_eq!(a.epoch(0), shuffled.epoch(0));
    assert_ne!(a.epoch(1), shuffled.epoch(1));
    let unlabelled = ArrayDataset::new("x", vec![0.0; 4], vec![1], Targets::None).unwrap();
    assert!(matches!(
        BatchPlan::new(
            spec(BatchSize::Items(2), Sampling::SortedByClass, false),
            &unlabelled,
            0
        ),
        Err(DataError::NeedsClasses("sorted_by_class"))
    ));
}

#[test]
fn drop_last_drops_only_the_partial_batch() {
    let data = unbalanced();
    for sampling in [Sampling::Shuffled, Sampling::Stratified] {
        let keep = BatchPlan::new(spec(BatchSize::Items(10), sampling, false), &data, 9).unwrap();
        let drop = BatchPlan::new(spec(BatchSize::Items(10), sampling, true), &data, 9).unwrap();
        assert_eq!(drop.batches_per_epoch(), 10);
        let (kept, dropped) = (keep.epoch(2), drop.epoch(2));
        assert_eq!(dropped.len(), 10);
        assert!(dropped.batches().all(|b| b.len() == 10));
        let distinct: HashSet<usize> = dropped.batches().flatten().copied().collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(kept.batch(0), dropped.batch(0));
    }
}

#[test]
fn full_batch_is_one_batch_of_everything() {
    let data = unbalanced();
    let plan =
        BatchPlan::new(spec(BatchSize::Full, Sampling::Sequential, false), &data, 0).unwrap();
    assert_eq!(plan.batch_size(), 103);
    let epoch = plan.epoch(7);
    assert_eq!(epoch.len(), 1);
    assert_eq!(
        epoch.batch(0).unwrap(),
        (0..103).collect::<Vec<_>>().as_slice()
    );
    assert_eq!(plan.locate(7), (7, 0));
    assert!(plan.is_fixed_full_batch());
    // Shuffling a full batch changes nothing but the summation order: it stays in index order.
    let shuffled =
        BatchPlan::new(spec(BatchSize::Full, Sampling::Shuffled, false), &data, 3).unwrap();
    assert_eq!(shuffled.epoch(0), shuffled.epoch(5));
    assert_eq!(shuffled.epoch(2).batch(0), epoch.batch(0));
    let drawn = BatchPlan::new(
        spec(BatchSize::Full, Sampling::WithReplacement, false),
        &data,
        3,
    )
    .unwrap();
    assert!(!drawn.is_fixed_full_batch());
    assert_ne!(drawn.epoch(0), drawn.epoch(1));
}

#[test]
fn stratified_batches_hold_every_class_in_proportion() {
    let data = digits().unwrap();
    let n = data.len();
    let counts = data.class_counts().unwrap();
    let labels = data.labels().unwrap();
    for b in [10, 32, 100, 128, 500] {
        let plan = BatchPlan::new(
            spec(BatchSize::Items(b), Sampling::Stratified, false),
            &data,
            3,
        )
        .unwrap();
        for e in 0..2 {
            for batch in plan.epoch(e).batches() {
                let mut in_batch = [0usize; 10];
                for &i in batch {
                    in_batch[labels[i] as usize] += 1;
                }
                for (c, &k) in in_batch.iter().enumerate() {
                    let ideal = batch.len() as f64 * counts[c] as f64 / n as f64;
                    assert!(
                        (k as f64 - ideal).abs() < 1.0,
                        "B={b}, epoch {e}, class {c}: {k} items, ideal {ideal:.2}"
                    );
                }
            }
        }
    }
    // Unbalanced classes and a partial last batch too.
    let data = unbalanced();
    let plan = BatchPlan::new(
        spec(BatchSize::Items(8), Sampling::Stratified, false),
        &data,
        5,
    )
    .unwrap();
    for batch in plan.epoch(0).batches() {
        let k2 = batch.iter().filter(|&&i| i >= 90).count() as f64;
        assert!((k2 - batch.len() as f64 * 13.0 / 103.0).abs() < 1.0);
    }
}

#[test]
fn shuffled_batches_are_not_stratified_so_the_test_above_can_fail() {
    // The same check on plain shuffling finds batches far from the proportions.
    let data = digits().unwrap();
    let labels = data.labels().unwrap();
    let plan = BatchPlan::new(
        spec(BatchSize::Items(32), Sampling::Shuffled, false),
        &data,
        3,
    )
    .unwrap();
    let worst = plan
        .epoch(0)
        .batches()
        .flat_map(|batch| {
            (0..10u32).map(move |c| {
                let k = batch.iter().filter(|&&i| labels[i] == c).count() as f64;
                (k - 3.2).abs()
            })
        })
        .fold(0.0, f64::max);
    assert!(worst >= 2.0, "{worst}");
}

#[test]
fn sampling_with_replacement_draws_independently_and_uniformly() {
    let data = unbalanced();
    let plan = BatchPlan::new(
        spec(BatchSize::Items(5), Sampling::WithReplacement, false),
        &data,
        11,
    )
    .unwrap();
    assert_eq!(plan.batches_per_epoch(), 21);
    let mut hits = vec![0usize; 103];
    let mut repeats = 0;
    for e in 0..400 {
        let epoch = plan.epoch(e);
        assert!(epoch.batches().all(|b| b.len() == 5));
        let distinct: HashSet<usize> = epoch.batches().flatten().copied().collect();
        repeats += 105 - distinct.len();
        epoch.batches().flatten().for_each(|&i| hits[i] += 1);
    }
    // 400 epochs of 105 draws: each item ~408 times; a repeat within an epoch is the rule.
    assert!(repeats > 400 * 20, "{repeats}");
    let expected = 400.0 * 105.0 / 103.0;
    let chi2: f64 = hits
        .iter()
        .map(|&h| (h as f64 - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 160.0, "chi2 {chi2} with 102 degrees of freedom");
}

#[test]
fn a_step_is_located_in_its_epoch_so_a_resumed_run_continues_mid_epoch() {
    let data = unbalanced();
    let plan = BatchPlan::new(
        spec(BatchSize::Items(10), Sampling::Shuffled, false),
        &data,
        2,
    )
    .unwrap();
    assert_eq!(plan.locate(0), (0, 0));
    assert_eq!(plan.locate(10), (0, 10));
    assert_eq!(plan.locate(11), (1, 0));
    assert_eq!(plan.locate(25), (2, 3));
    // A fresh plan (as after a restart) gives the same batch for step 25.
    let restarted = BatchPlan::new(
        spec(BatchSize::Items(10), Sampling::Shuffled, false),
        &data,
        2,
    )
    .unwrap();
    assert_eq!(plan.epoch(2).batch(3), restarted.epoch(2).batch(3));
}

#[test]
fn batch_sizes_outside_the_dataset_are_errors() {
    let data = unbalanced();
    for b in [0, 104] {
        let err = BatchPlan::new(
            spec(BatchSize::Items(b), Sampling::Shuffled, false),
            &data,
            0,
        )
        .unwrap_err();
        assert!(matches!(err, DataError::BatchSize { batch_size, len: 103 } if batch_size == b));
    }
    let unlabelled = ArrayDataset::new("x", vec![0.0; 4], vec![1], Targets::None).unwrap();
    assert!(matches!(
        BatchPlan::new(
            spec(BatchSize::Items(2), Sampling::Stratified, false),
            &unlabelled,
            0
        ),
        Err(DataError::NeedsClasses("stratified"))
    ));
}

#[test]
fn the_batcher_copies_the_planned_rows_into_tensors() {
    let data = Arc::new(digits().unwrap());
    let batcher = ArrayBatcher::new(data.clone());
    let indices = vec![5, 0, 1796];
    let batch: Batch<NdArray<f32>> = batcher.batch(indices.clone(), &Default::default());
    assert_eq!(batch.inputs.dims(), [3, 64]);
    assert_eq!(batch.images().unwrap().dims(), [3, 1, 8, 8]);
    let values: Vec<f32> = batch.inputs.into_data().to_vec().unwrap();
    for (k, &i) in indices.iter().enumerate() {
        assert_eq!(&values[k * 64..(k + 1) * 64], data.row(i).unwrap());
    }
    let BatchTargets::Classes(labels) = batch.targets else {
        panic!("digits have class targets")
    };
    let labels: Vec<i64> = labels.into_data().convert::<i64>().to_vec().unwrap();
    let expected: Vec<i64> = indices
        .iter()
        .map(|&i| i64::from(data.labels().unwrap()[i]))
        .collect();
    assert_eq!(labels, expected);
}
