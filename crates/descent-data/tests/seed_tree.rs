//! The seed tree: one `stream(seed, purpose, index)` for every random choice, with streams of
//! different purposes (and indices) independent of each other.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use descent_data::rng::{PURPOSES, Purpose, derived_seed, stream};
use rand::RngCore;

fn head(seed: u64, purpose: Purpose, index: u64) -> Vec<u64> {
    let mut rng = stream(seed, purpose, index);
    (0..16).map(|_| rng.next_u64()).collect()
}

#[test]
fn streams_of_different_purposes_never_share_numbers() {
    for seed in [0, 1, 42] {
        for index in [0, 1, 2, 7] {
            let heads: Vec<(Purpose, Vec<u64>)> = PURPOSES
                .iter()
                .map(|&p| (p, head(seed, p, index)))
                .collect();
            for (i, (p, a)) in heads.iter().enumerate() {
                for (q, b) in &heads[i + 1..] {
                    // Not one of the 16 words of one stream appears in the other's.
                    assert!(
                        a.iter().all(|x| !b.contains(x)),
                        "seed {seed}, index {index}: {p:?} and {q:?} share numbers"
                    );
                }
            }
        }
    }
}

#[test]
fn indices_and_seeds_give_different_streams_and_the_same_key_the_same_one() {
    assert_eq!(
        head(3, Purpose::ModelInit, 1),
        head(3, Purpose::ModelInit, 1)
    );
    assert_ne!(
        head(3, Purpose::ModelInit, 1),
        head(3, Purpose::ModelInit, 2)
    );
    assert_ne!(head(3, Purpose::Epoch, 0), head(4, Purpose::Epoch, 0));
    assert_eq!(
        derived_seed(5, Purpose::OptimizerNoise, 0),
        stream(5, Purpose::OptimizerNoise, 0).next_u64()
    );
}

#[test]
fn the_epoch_stream_is_what_batch_plans_shuffle_with() {
    // Batch orders keep their purpose (0): the permutation of epoch 2 is a shuffle driven by
    // stream (seed, Epoch, 2), and no other purpose reproduces it.
    let order = descent_data::epoch_permutation(9, 2, 50);
    let mut by_hand: Vec<usize> = (0..50).collect();
    rand::seq::SliceRandom::shuffle(&mut by_hand[..], &mut stream(9, Purpose::Epoch, 2));
    assert_eq!(order, by_hand);
    let mut other: Vec<usize> = (0..50).collect();
    rand::seq::SliceRandom::shuffle(&mut other[..], &mut stream(9, Purpose::ModelInit, 2));
    assert_ne!(order, other);
}
