//! Every optimizer with a PyTorch counterpart reproduces PyTorch's 20-step trajectory:
//! to 1e-10 absolute in f64 and 1e-5 relative in f32.

use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::AutodiffBackend;
use descent_optim::optim::*;
use serde_json::Value;

use super::common::{F32, F64, Pair, flat, reference, run, start};

/// The optax trajectories (same problem, same gradients): the reference for optimizers
/// PyTorch does not have.
fn optax_reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/reference_trajectories_optax.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e} (it lives in the repo)"));
    serde_json::from_str(&text).expect("optax reference JSON parses")
}

/// Reference entries that `compare` does not take, with the test that does.
const COMPARED_ELSEWHERE: &[(&str, &str)] = &[(
    "torch.optim.Muon",
    "W only (Muon takes 2-D parameters): muon_matches_pytorch",
)];

fn f(h: &Value, key: &str) -> f64 {
    h[key]
        .as_f64()
        .or_else(|| h[key].as_bool().map(f64::from))
        .unwrap_or_else(|| panic!("hyperparameter {key} missing in {h}"))
}

fn b(h: &Value, key: &str) -> bool {
    h[key].as_bool().unwrap_or(false)
}

fn beta(h: &Value, i: usize) -> f64 {
    h["betas"][i].as_f64().expect("betas")
}

/// Maximum error of `ours` against the reference trajectory, as (absolute, relative).
///
/// The relative error of a step is measured against the largest parameter magnitude of
/// that step (the infinity norm, as `torch.testing` and optax compare whole arrays): an
/// element that happens to cross zero has no meaningful element-wise relative error.
fn errors(ours: &[Vec<f64>], entry: &Value) -> (f64, f64) {
    let expected: Vec<Vec<f64>> = entry["trajectory"]
        .as_array()
        .expect("trajectory")
        .iter()
        .map(flat)
        .collect();
    assert_eq!(
        ours.len(),
        expected.len(),
        "{}: number of steps",
        entry["id"]
    );
    let mut abs: f64 = 0.0;
    let mut rel: f64 = 0.0;
    for (a, e) in ours.iter().zip(&expected) {
        let scale = e.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
        for (x, y) in a.iter().zip(e) {
            assert!(x.is_finite(), "{}: non-finite parameter", entry["id"]);
            abs = abs.max((x - y).abs());
            rel = rel.max((x - y).abs() / scale);
        }
    }
    (abs, rel)
}

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
/// or `None` when the entry is in [`COMPARED_ELSEWHERE`].
fn compare(entry: &Value) -> Option<((f64, f64), (f64, f64))> {
    let h = &entry["all_hyperparameters"];
    let class = entry["torch_class"].as_str().expect("torch_class");
    macro_rules! both {
        ($optimizer:expr) => {{
            let optimizer = $optimizer.expect("valid reference hyperparameters");
            let e64 = errors(&trajectory::<F64, _>(entry, optimizer.clone()), entry);
            let e32 = errors(&trajectory::<F32, _>(entry, optimizer), entry);
            Some((e64, e32))
        }};
    }
    match class {
        "torch.optim.SGD" => both!(
            SgdConfig::new()
                .with_momentum(f(h, "momentum"))
                .with_dampening(f(h, "dampening"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_nesterov(b(h, "nesterov"))
                .with_maximize(b(h, "maximize"))
                .build()
        ),
        "torch.optim.Adam" => {
            assert!(
                !b(h, "decoupled_weight_decay"),
                "Adam with decoupled decay is AdamW"
            );
            both!(
                AdamConfig::new()
                    .with_beta_1(beta(h, 0))
                    .with_beta_2(beta(h, 1))
                    .with_epsilon(f(h, "eps"))
                    .with_weight_decay(f(h, "weight_decay"))
                    .with_amsgrad(b(h, "amsgrad"))
                    .with_maximize(b(h, "maximize"))
                    .build()
            )
        }
        "torch.optim.AdamW" => both!(
            AdamWConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_amsgrad(b(h, "amsgrad"))
                .with_maximize(b(h, "maximize"))
                .build()
        ),
        "torch.optim.NAdam" => both!(
            NAdamConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_momentum_decay(f(h, "momentum_decay"))
                .with_decoupled_weight_decay(b(h, "decoupled_weight_decay"))
                .build()
        ),
        "torch.optim.RAdam" => both!(
            RAdamConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_decoupled_weight_decay(b(h, "decoupled_weight_decay"))
                .build()
        ),
        "torch.optim.Adamax" => both!(
            AdamaxConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .build()
        ),
        "torch.optim.RMSprop" => both!(
            RmsPropConfig::new()
                .with_alpha(f(h, "alpha"))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_momentum(f(h, "momentum"))
                .with_centered(b(h, "centered"))
                .build()
        ),
        "torch.optim.Adagrad" => both!(
            AdagradConfig::new()
                .with_lr_decay(f(h, "lr_decay"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_initial_accumulator_value(f(h, "initial_accumulator_value"))
                .with_epsilon(f(h, "eps"))
                .build()
        ),
        "torch.optim.ASGD" => both!(
            AsgdConfig::new()
                .with_lambd(f(h, "lambd"))
                .with_alpha(f(h, "alpha"))
                .with_t0(f(h, "t0"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_maximize(b(h, "maximize"))
                .build()
        ),
        "torch.optim.Rprop" => both!(
            RpropConfig::new()
                .with_eta_minus(h["etas"][0].as_f64().expect("etas"))
                .with_eta_plus(h["etas"][1].as_f64().expect("etas"))
                .with_step_size_min(h["step_sizes"][0].as_f64().expect("step_sizes"))
                .with_step_size_max(h["step_sizes"][1].as_f64().expect("step_sizes"))
                .with_maximize(b(h, "maximize"))
                .build()
        ),
        "torch.optim.Adafactor" => both!(
            AdafactorConfig::new()
                .with_beta2_decay(f(h, "beta2_decay"))
                .with_epsilon_1(h["eps"][0].as_f64())
                .with_epsilon_2(h["eps"][1].as_f64().expect("eps"))
                .with_d(f(h, "d"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_maximize(b(h, "maximize"))
                .build()
        ),
        "torch.optim.Adadelta" => both!(
            AdadeltaConfig::new()
                .with_rho(f(h, "rho"))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .build()
        ),
        other => {
            assert!(
                COMPARED_ELSEWHERE.iter().any(|(name, _)| *name == other),
                "reference entry {} ({other}) is neither compared here nor listed in COMPARED_ELSEWHERE",
                entry["id"]
            );
            None
        }
    }
}

/// The f64 error allowed against `entry`: 1e-10 (last bits), except where PyTorch kept a
/// scalar in float32 although the parameters are float64. NAdam keeps `mu_product` in the
/// default dtype; descent keeps it in the parameters' (f64 here), so against a run with the
/// default float32 dtype it drifts by the product's rounding (1.7e-10 measured over the 20
/// steps). Its `*_all_f64` entries, made under a float64 default dtype, are held to 1e-10.
fn f64_bound(entry: &Value) -> f64 {
    let mixed = entry["default_dtype"].as_str() != Some("float64");
    let class = entry["torch_class"].as_str();
    match class {
        Some("torch.optim.NAdam") if mixed => 1e-9,
        // ASGD keeps its step size eta in the default dtype (2.8e-9 measured over 20 steps).
        Some("torch.optim.ASGD") if mixed => 1e-8,
        _ => 1e-10,
    }
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
        let expected: Vec<f64> = super::common::floats(&state["W"]["ax"])
            .into_iter()
            .chain(super::common::floats(&state["b"]["ax"]))
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
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let entry = |id: &str| -> &Value {
        entries
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("optax entry {id} missing"))
    };
    let kw = |id: &str, key: &str, default: f64| -> f64 {
        entry(id)["kwargs"][key].as_f64().unwrap_or(default)
    };
    macro_rules! check {
        ($id:expr, $optimizer:expr) => {{
            let e = entry($id);
            let lr = e["kwargs"]["learning_rate"]
                .as_f64()
                .expect("learning_rate");
            let optimizer = $optimizer.expect("valid");
            let run_on = |f64_run: bool| -> Vec<Vec<f64>> {
                let reference = super::common::reference();
                if f64_run {
                    let mut adaptor: OptimizerAdaptor<_, Pair<F64>, F64> =
                        OptimizerAdaptor::from(optimizer.clone());
                    run(
                        &reference,
                        start::<F64>(&reference),
                        &mut adaptor,
                        lr,
                        0..20,
                    )
                    .1
                } else {
                    let mut adaptor: OptimizerAdaptor<_, Pair<F32>, F32> =
                        OptimizerAdaptor::from(optimizer.clone());
                    run(
                        &reference,
                        start::<F32>(&reference),
                        &mut adaptor,
                        lr,
                        0..20,
                    )
                    .1
                }
            };
            let (abs64, _) = errors(&run_on(true), e);
            let (_, rel32) = errors(&run_on(false), e);
            println!("optax {:<20} {abs64:>12.3e} {rel32:>12.3e}", $id);
            assert!(abs64 <= 1e-10, "{}: f64 error {abs64:e}", $id);
            assert!(rel32 <= 1e-5, "{}: f32 error {rel32:e}", $id);
        }};
    }
    check!(
        "adabelief",
        AdaBeliefConfig::new()
            .with_beta_1(kw("adabelief", "b1", 0.9))
            .with_beta_2(kw("adabelief", "b2", 0.999))
            .build()
    );
    check!("yogi", YogiConfig::new().build());
    check!(
        "signum",
        SignumConfig::new()
            .with_beta(kw("signum", "beta", 0.9))
            .build()
    );
    check!("sign_sgd", SignumConfig::new().with_beta(0.0).build());
    check!("lamb", LambConfig::new().build());
    check!("lion", LionConfig::new().build());
    check!("adan", AdanConfig::new().build());
    check!(
        "lion_wd",
        LionConfig::new()
            .with_weight_decay(kw("lion_wd", "weight_decay", 0.0))
            .build()
    );
    check!("lars", LarsConfig::new().build());
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
        let adjustment = match h["adjust_lr_fn"].as_str() {
            None | Some("original") => MuonLrAdjustment::Original,
            Some("match_rms_adamw") => MuonLrAdjustment::MatchRmsAdamW,
            Some("spectral_unclamped") => MuonLrAdjustment::SpectralUnclamped,
            Some(other) => panic!("{id}: unknown adjust_lr_fn {other}"),
        };
        let coefficients = super::common::floats(&h["ns_coefficients"]);
        let optimizer = MuonConfig::new()
            .with_weight_decay(f(h, "weight_decay"))
            .with_momentum(f(h, "momentum"))
            .with_nesterov(b(h, "nesterov"))
            .with_ns_coefficients([coefficients[0], coefficients[1], coefficients[2]])
            .with_epsilon(f(h, "eps"))
            .with_ns_steps(f(h, "ns_steps") as usize)
            .with_lr_adjustment(adjustment)
            .with_layout(MatrixLayout::OutputInput)
            .build()
            .expect("valid reference hyperparameters");
        let mut adaptor: OptimizerAdaptor<Muon, Pair<F64>, F64> = OptimizerAdaptor::from(optimizer);
        let (_, trajectory) = run(
            &reference,
            start::<F64>(&reference),
            &mut adaptor,
            f(h, "lr"),
            0..20,
        );
        let mut worst: f64 = 0.0;
        for (ours, step) in trajectory
            .iter()
            .zip(entry["trajectory"].as_array().expect("trajectory"))
        {
            let expected = super::common::floats(&step["W"]);
            assert_eq!(expected.len(), 12, "{id}: W is 3 x 4");
            for (x, y) in ours[..12].iter().zip(&expected) {
                worst = worst.max((x - y).abs());
            }
        }
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
