//! Every optimizer with a PyTorch counterpart reproduces PyTorch's 20-step trajectory:
//! to 1e-10 absolute in f64 and 1e-5 relative in f32.

use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::AutodiffBackend;
use descent_optim::optim::*;
use serde_json::Value;

use super::common::{F32, F64, Pair, reference, run, start};
use crate::reference::{
    errors, f, f64_bound, floats, muon_from, muon_w_error, optax_cases, optax_entry, optax_lr,
    optax_reference, torch_optimizer, with_optimizer,
};

fn trajectory<B, O>(entry: &Value, optimizer: O) -> Vec<Vec<f64>>
where
    B: AutodiffBackend,
    O: SimpleOptimizer<B::InnerBackend>,
{
    let reference = reference();
    let lr = f(&entry["all_hyperparameters"], "lr");
    let mut adaptor: OptimizerAdaptor<O, Pair<B>, B> = OptimizerAdaptor::from(optimizer);
    let (_, trajectory) = run(&reference, start::<B>(&reference), &mut adaptor, lr, 0..20);
    trajectory
}

/// Build our optimizer for a reference entry and return its f64 and f32 errors,
/// or `None` when the entry is in `COMPARED_ELSEWHERE`.
fn compare(entry: &Value) -> Option<((f64, f64), (f64, f64))> {
    let optimizer = torch_optimizer(entry)?;
    Some(with_optimizer!(optimizer, o => {
        let e64 = errors(&trajectory::<F64, _>(entry, o.clone()), entry);
        let e32 = errors(&trajectory::<F32, _>(entry, o), entry);
        (e64, e32)
    }))
}

/// ASGD's average `ax` (its result) equals PyTorch's final state, through `asgd_average`.
#[test]
fn asgd_average_is_pytorch_ax() {
    use super::common::flatten;
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut checked = 0;
    for entry in entries
        .iter()
        .filter(|e| e["torch_class"] == "torch.optim.ASGD" && e["default_dtype"] == "float64")
    {
        let h = &entry["all_hyperparameters"];
        let optimizer = AsgdConfig::new()
            .with_lambd(f(h, "lambd"))
            .with_alpha(f(h, "alpha"))
            .with_t0(f(h, "t0"))
            .with_weight_decay(f(h, "weight_decay"))
            .build()
            .expect("valid");
        let mut adaptor: OptimizerAdaptor<Asgd, Pair<F64>, F64> = OptimizerAdaptor::from(optimizer);
        let (pair, _) = run(
            &reference,
            start::<F64>(&reference),
            &mut adaptor,
            f(h, "lr"),
            0..20,
        );
        let ours = flatten(&asgd_average(pair, &adaptor));
        let state = &entry["final_state"];
        let expected: Vec<f64> = floats(&state["W"]["ax"])
            .into_iter()
            .chain(floats(&state["b"]["ax"]))
            .collect();
        let worst = ours
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "{}: {worst:e}", entry["id"]);
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn nadam_in_f64_is_pytorch_in_float64_throughout() {
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

#[test]
fn every_reference_trajectory_matches_pytorch() {
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut failures = Vec::new();
    let mut compared = 0;
    println!(
        "{:<32} {:>12} {:>12}",
        "reference entry", "f64 abs err", "f32 rel err"
    );
    for entry in entries {
        let id = entry["id"].as_str().expect("id");
        let Some(((abs64, _), (_, rel32))) = compare(entry) else {
            println!("{id:<32} {:>12} {:>12}", "skipped", "skipped");
            continue;
        };
        compared += 1;
        println!("{id:<32} {abs64:>12.3e} {rel32:>12.3e}");
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
        "parity failures:\n{}",
        failures.join("\n")
    );
}

/// Optimizers PyTorch lacks, against optax's trajectories: to 1e-10 in f64, 1e-5 relative in
/// f32, like the PyTorch ones.
#[test]
fn optax_only_optimizers_match_optax() {
    let reference = optax_reference();
    assert_eq!(
        reference["grads"],
        super::common::reference()["grads"],
        "the optax and torch files describe the same problem"
    );
    let mut checked = 0;
    for (id, optimizer) in optax_cases(&reference) {
        let e = optax_entry(&reference, id);
        let lr = optax_lr(e);
        let (abs64, rel32) = with_optimizer!(optimizer, o => {
            let torch = super::common::reference();
            let mut adaptor: OptimizerAdaptor<_, Pair<F64>, F64> =
                OptimizerAdaptor::from(o.clone());
            let (_, ours64) = run(&torch, start::<F64>(&torch), &mut adaptor, lr, 0..20);
            let mut adaptor: OptimizerAdaptor<_, Pair<F32>, F32> = OptimizerAdaptor::from(o);
            let (_, ours32) = run(&torch, start::<F32>(&torch), &mut adaptor, lr, 0..20);
            (errors(&ours64, e).0, errors(&ours32, e).1)
        });
        println!("optax {id:<20} {abs64:>12.3e} {rel32:>12.3e}");
        assert!(abs64 <= 1e-10, "{id}: f64 error {abs64:e}");
        assert!(rel32 <= 1e-5, "{id}: f32 error {rel32:e}");
        checked += 1;
    }
    assert_eq!(checked, 9, "the optax-only optimizers");
}

/// Muon on `W` alone (the reference's only 2-D parameter): to 1e-10 in f64 against the
/// entries whose Newton-Schulz iteration ran in float64, and within PyTorch's bfloat16
/// rounding of the stock entry (4e-3 measured; bounded by 1e-2, a tenth of how far `W`
/// moves). The bias rides along on the AdamW fallback and is not compared.
#[test]
fn muon_matches_pytorch() {
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut exact = 0;
    let mut loose = 0;
    for entry in entries
        .iter()
        .filter(|e| e["torch_class"] == "torch.optim.Muon")
    {
        let id = entry["id"].as_str().expect("id");
        let h = &entry["all_hyperparameters"];
        let optimizer = muon_from(entry);
        let mut adaptor: OptimizerAdaptor<Muon, Pair<F64>, F64> = OptimizerAdaptor::from(optimizer);
        let (_, trajectory) = run(
            &reference,
            start::<F64>(&reference),
            &mut adaptor,
            f(h, "lr"),
            0..20,
        );
        let worst = muon_w_error(&trajectory, entry);
        println!("{id:<32} {worst:>12.3e}");
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
