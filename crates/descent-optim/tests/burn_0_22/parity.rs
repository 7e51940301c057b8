//! On burn 0.22, every optimizer with a PyTorch counterpart reproduces PyTorch's 20-step
//! trajectory through `ModuleOptimizer` (to 1e-10 absolute in f64, or the entry's
//! `f64_bound`, and 1e-5 relative in f32), the optax-only ones reproduce optax's, and Muon
//! reproduces PyTorch's on `W`: the same references and bounds as on burn 0.21.

use burn_0_22::optim::{ModuleOptimizer, Optimizer};
use burn_0_22::tensor::DType;
use serde_json::Value;

use super::common::{F32, F64, Flat, reference, run, start};
use crate::reference::{
    errors, f, f64_bound, muon_from, muon_w_error, optax_cases, optax_entry, optax_lr,
    optax_reference, torch_optimizer, with_optimizer,
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
fn compare(entry: &Value) -> Option<((f64, f64), (f64, f64))> {
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
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut failures = Vec::new();
    let mut compared = 0;
    println!(
        "burn 0.22 {:<32} {:>12} {:>12}",
        "reference entry", "f64 abs err", "f32 rel err"
    );
    for entry in entries {
        let id = entry["id"].as_str().expect("id");
        let Some(((abs64, _), (_, rel32))) = compare(entry) else {
            println!("burn 0.22 {id:<32} {:>12} {:>12}", "skipped", "skipped");
            continue;
        };
        compared += 1;
        println!("burn 0.22 {id:<32} {abs64:>12.3e} {rel32:>12.3e}");
        let bound64 = f64_bound(entry);
        if abs64 > bound64 {
            failures.push(format!("{id}: f64 max abs error {abs64:e} > {bound64:e}"));
        }
        if rel32 > 1e-5 {
            failures.push(format!("{id}: f32 max rel error {rel32:e} > 1e-5"));
        }
    }
    assert!(
        compared >= 24,
        "only {compared} reference entries were compared"
    );
    assert!(
        failures.is_empty(),
        "burn 0.22 parity failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn burn_0_22_nadam_in_f64_is_pytorch_in_float64_throughout() {
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut checked = 0;
    for entry in entries {
        let id = entry["id"].as_str().expect("id");
        if entry["torch_class"] != "torch.optim.NAdam" {
            continue;
        }
        let ((abs64, _), _) = compare(entry).expect("NAdam is implemented");
        if entry["default_dtype"] == "float64" {
            assert!(abs64 <= 1e-10, "{id}: {abs64:e}");
            checked += 1;
        } else {
            // The float32 product's rounding shows: the entries are not interchangeable.
            assert!(abs64 > 1e-11, "{id}: {abs64:e}");
        }
    }
    assert_eq!(checked, 2, "the two all-float64 NAdam entries");
}

/// Optimizers PyTorch lacks, against optax's trajectories: to 1e-10 in f64, 1e-5 relative in
/// f32, like the PyTorch ones.
#[test]
fn burn_0_22_optax_only_optimizers_match_optax() {
    let optax = optax_reference();
    assert_eq!(
        optax["grads"],
        reference()["grads"],
        "the optax and torch files describe the same problem"
    );
    let mut checked = 0;
    for (id, optimizer) in optax_cases(&optax) {
        let entry = optax_entry(&optax, id);
        let lr = optax_lr(entry);
        let (abs64, rel32) = with_optimizer!(optimizer, o => {
            let (abs64, _) = errors(&trajectory(o.clone(), F64, lr), entry);
            let (_, rel32) = errors(&trajectory(o, F32, lr), entry);
            (abs64, rel32)
        });
        println!("burn 0.22 optax {id:<20} {abs64:>12.3e} {rel32:>12.3e}");
        assert!(abs64 <= 1e-10, "{id}: f64 error {abs64:e}");
        assert!(rel32 <= 1e-5, "{id}: f32 error {rel32:e}");
        checked += 1;
    }
    assert_eq!(checked, 9, "the optax-only optimizers");
}

/// Muon on `W` alone (the reference's only 2-D parameter): to 1e-10 in f64 against the
/// entries whose Newton-Schulz iteration ran in float64, and within PyTorch's bfloat16
/// rounding of the stock entry (bounded by 1e-2, a tenth of how far `W` moves). The bias
/// rides along on the AdamW fallback and is not compared.
#[test]
fn burn_0_22_muon_matches_pytorch() {
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut exact = 0;
    let mut loose = 0;
    for entry in entries
        .iter()
        .filter(|e| e["torch_class"] == "torch.optim.Muon")
    {
        let id = entry["id"].as_str().expect("id");
        let lr = f(&entry["all_hyperparameters"], "lr");
        let worst = muon_w_error(&trajectory(muon_from(entry), F64, lr), entry);
        println!("burn 0.22 {id:<32} {worst:>12.3e}");
        if entry["newton_schulz_dtype"] == "float64" {
            assert!(worst <= 1e-10, "{id}: f64 max abs error {worst:e}");
            exact += 1;
        } else {
            assert!(worst <= 1e-2, "{id}: max abs error {worst:e}");
            loose += 1;
        }
    }
    assert_eq!((exact, loose), (2, 1), "Muon reference entries");
}
