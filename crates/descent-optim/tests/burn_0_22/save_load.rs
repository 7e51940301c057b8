//! On burn 0.22, stopping any optimizer after 7 steps, saving its `ModuleOptimizer` as
//! burnpack bytes (`into_bytes`) and loading them into a fresh one (`from_bytes`) continues
//! the f64 trajectory bit for bit.

use burn_0_22::optim::{ModuleOptimizer, Optimizer};
use descent_optim::optim::*;

use crate::resume_cases::every_resume_case;

use super::common::{F64, reference, run, start};

/// Run 20 steps unbroken, and 7 steps + save + load into a fresh optimizer + 13 steps: the
/// two trajectories must be equal, and must move.
fn check_resume<O: Optimizer>(name: &str, lr: f64, make: impl Fn() -> O) {
    let reference = reference();
    let mut unbroken = ModuleOptimizer::from(make());
    let (_, expected) = run(&reference, start(&reference, F64), &mut unbroken, lr, 0..20);

    let mut first = ModuleOptimizer::from(make());
    let (pair, mut resumed) = run(&reference, start(&reference, F64), &mut first, lr, 0..7);
    let bytes = first
        .into_bytes()
        .unwrap_or_else(|e| panic!("{name}: into_bytes: {e:?}"));
    drop(first);
    let mut second = ModuleOptimizer::from(make())
        .from_bytes(bytes)
        .unwrap_or_else(|e| panic!("{name}: from_bytes: {e:?}"));
    let (_, rest) = run(&reference, pair, &mut second, lr, 7..20);
    resumed.extend(rest);

    assert_eq!(resumed.len(), expected.len());
    for (step, (a, b)) in resumed.iter().zip(&expected).enumerate() {
        assert_eq!(
            a,
            b,
            "burn 0.22 {name}: step {} differs after resuming at step 7",
            step + 1
        );
    }
    // The trajectory must move, or the comparison above proves nothing.
    assert_ne!(expected[6], expected[19], "{name}: parameters did not move");
    println!("burn 0.22 {name:<32} resumed exactly");
}

#[test]
fn burn_0_22_every_optimizer_resumes_exactly_from_its_bytes() {
    every_resume_case!(check_resume);
}
