//! On burn 0.22, every optimizer with a PyTorch counterpart reproduces PyTorch's 20-step
//! trajectory through `ModuleOptimizer` (to 1e-10 absolute in f64, or the entry's
//! `f64_bound`, and 1e-5 relative in f32), the optax-only ones reproduce optax's, and Muon
//! reproduces PyTorch's on `W`: the same references and bounds as on burn 0.21.

use burn_0_22::optim::{ModuleOptimizer, Optimizer};
use burn_0_22::tensor::DType;
use serde_json::Value;

use super::common::{F32, F64, Flat, reference, run, start};
use crate::reference::{
    Errors, assert_every_torch_entry, assert_muon_entries, assert_nadam_float64_entries,
    assert_optax_cases, errors, f, torch_optimizer, with_optimizer,
};

/// 20 steps of `optimizer` from the start of the torch reference, in `dtype`, at `lr`.
fn trajectory<O: Optimizer>(optimizer: O, dtype: DType, lr: f64) -> Vec<Flat> {
    let reference = reference();
    let mut module_optimizer = ModuleOptimizer::from(optimizer);
    let (_, trajectory) = run(
        &reference,
        start(&reference, dtype),
        &mut module_optimizer,
        lr,
        0..20,
    );
    trajectory
}

/// Our optimizer for a torch reference entry, run in f64 and f32: its (f64, f32) errors as
/// (absolute, relative), or `None` when the entry is in `COMPARED_ELSEWHERE`.
fn compare(entry: &Value) -> Option<Errors> {
    let lr = f(&entry["all_hyperparameters"], "lr");
    let optimizer = torch_optimizer(entry)?;
    Some(with_optimizer!(optimizer, o => {
        let e64 = errors(&trajectory(o.clone(), F64, lr), entry);
        let e32 = errors(&trajectory(o, F32, lr), entry);
        (e64, e32)
    }))
}

#[test]
fn burn_0_22_every_reference_trajectory_matches_pytorch() {
    assert_every_torch_entry("burn 0.22 ", compare);
}

#[test]
fn burn_0_22_nadam_in_f64_is_pytorch_in_float64_throughout() {
    assert_nadam_float64_entries(compare);
}

/// Optimizers PyTorch lacks, against optax's trajectories: to 1e-10 in f64, 1e-5 relative in
/// f32, like the PyTorch ones.
#[test]
fn burn_0_22_optax_only_optimizers_match_optax() {
    assert_optax_cases("burn 0.22 ", |optimizer, entry, lr| {
        with_optimizer!(optimizer, o => {
            let (abs64, _) = errors(&trajectory(o.clone(), F64, lr), entry);
            let (_, rel32) = errors(&trajectory(o, F32, lr), entry);
            (abs64, rel32)
        })
    });
}

/// Muon on `W` alone (the reference's only 2-D parameter); the bias rides along on the AdamW
/// fallback and is not compared.
#[test]
fn burn_0_22_muon_matches_pytorch() {
    assert_muon_entries("burn 0.22 ", |muon, lr| trajectory(muon, F64, lr));
}
