//! What every burn version's optimizer tests share, with no burn in it: the PyTorch and optax
//! reference files of `tests/reference/`, their JSON helpers, the error measure and bounds,
//! and each reference entry as the optimizer of this crate that must reproduce it
//! ([`torch_optimizer`], [`optax_cases`], [`muon_from`]). Each burn version's tests include
//! this file (`#[path = "../shared/reference.rs"] mod reference;`) and run the optimizers
//! through that version's module optimizer, dispatching with [`with_optimizer!`].

#![allow(dead_code, unused_macros, unused_imports)] // each test target uses its own part

use descent_optim::optim::*;
use serde_json::Value;

/// The PyTorch trajectories: the problem (`init`, `grads`) and one entry per optimizer run.
pub fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/reference_trajectories.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e} (the reference lives in the repo: crates/descent-optim/tests/reference/)"));
    serde_json::from_str(&text).expect("reference JSON parses")
}

/// The optax trajectories (same problem, same gradients): the reference for optimizers
/// PyTorch does not have.
pub fn optax_reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/reference_trajectories_optax.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e} (it lives in the repo)"));
    serde_json::from_str(&text).expect("optax reference JSON parses")
}

pub fn floats(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a float")],
        other => panic!("expected numbers, got {other}"),
    }
}

/// A reference entry with `W` and `b` (start, gradient or step), flattened: `W` row-major
/// then `b`, the reference's own flat index `k`.
pub fn flat(value: &Value) -> Vec<f64> {
    let mut v = floats(&value["W"]);
    v.extend(floats(&value["b"]));
    v
}

/// Parameters after one step, flattened: `W` row-major then `b`.
pub type Flat = Vec<f64>;

/// Reference entries that [`torch_optimizer`] does not take, with the test that does.
pub const COMPARED_ELSEWHERE: &[(&str, &str)] = &[(
    "torch.optim.Muon",
    "W only (Muon takes 2-D parameters): muon_matches_pytorch",
)];

pub fn f(h: &Value, key: &str) -> f64 {
    h[key]
        .as_f64()
        .or_else(|| h[key].as_bool().map(f64::from))
        .unwrap_or_else(|| panic!("hyperparameter {key} missing in {h}"))
}

pub fn b(h: &Value, key: &str) -> bool {
    h[key].as_bool().unwrap_or(false)
}

pub fn beta(h: &Value, i: usize) -> f64 {
    h["betas"][i].as_f64().expect("betas")
}

/// Maximum error of `ours` against the reference trajectory, as (absolute, relative).
///
/// The relative error of a step is measured against the largest parameter magnitude of
/// that step (the infinity norm, as `torch.testing` and optax compare whole arrays): an
/// element that happens to cross zero has no meaningful element-wise relative error.
pub fn errors(ours: &[Vec<f64>], entry: &Value) -> (f64, f64) {
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

/// The f64 error allowed against `entry`: 1e-10 (last bits), except where PyTorch kept a
/// scalar in float32 although the parameters are float64. NAdam keeps `mu_product` in the
/// default dtype; descent keeps it in the parameters' (f64 here), so against a run with the
/// default float32 dtype it drifts by the product's rounding (1.7e-10 measured over the 20
/// steps). Its `*_all_f64` entries, made under a float64 default dtype, are held to 1e-10.
pub fn f64_bound(entry: &Value) -> f64 {
    let mixed = entry["default_dtype"].as_str() != Some("float64");
    let class = entry["torch_class"].as_str();
    match class {
        Some("torch.optim.NAdam") if mixed => 1e-9,
        // ASGD keeps its step size eta in the default dtype (2.8e-9 measured over 20 steps).
        Some("torch.optim.ASGD") if mixed => 1e-8,
        _ => 1e-10,
    }
}

/// Any optimizer that a reference entry is compared against; each burn version's test
/// dispatches on it with [`with_optimizer!`] to its generic runner.
#[derive(Clone)]
pub enum AnyOptimizer {
    Sgd(Sgd),
    Adam(Adam),
    AdamW(AdamW),
    NAdam(NAdam),
    RAdam(RAdam),
    Adamax(Adamax),
    RmsProp(RmsProp),
    Adagrad(Adagrad),
    Asgd(Asgd),
    Rprop(Rprop),
    Adafactor(Adafactor),
    Adadelta(Adadelta),
    AdaBelief(AdaBelief),
    Yogi(Yogi),
    Signum(Signum),
    Lamb(Lamb),
    Lion(Lion),
    Adan(Adan),
    Lars(Lars),
}

/// `with_optimizer!(any, o => body)`: `body` with `o` bound to the optimizer inside `any`
/// (of its own type: the body is compiled once per variant).
macro_rules! with_optimizer {
    ($any:expr, $o:ident => $body:expr) => {
        match $any {
            $crate::reference::AnyOptimizer::Sgd($o) => $body,
            $crate::reference::AnyOptimizer::Adam($o) => $body,
            $crate::reference::AnyOptimizer::AdamW($o) => $body,
            $crate::reference::AnyOptimizer::NAdam($o) => $body,
            $crate::reference::AnyOptimizer::RAdam($o) => $body,
            $crate::reference::AnyOptimizer::Adamax($o) => $body,
            $crate::reference::AnyOptimizer::RmsProp($o) => $body,
            $crate::reference::AnyOptimizer::Adagrad($o) => $body,
            $crate::reference::AnyOptimizer::Asgd($o) => $body,
            $crate::reference::AnyOptimizer::Rprop($o) => $body,
            $crate::reference::AnyOptimizer::Adafactor($o) => $body,
            $crate::reference::AnyOptimizer::Adadelta($o) => $body,
            $crate::reference::AnyOptimizer::AdaBelief($o) => $body,
            $crate::reference::AnyOptimizer::Yogi($o) => $body,
            $crate::reference::AnyOptimizer::Signum($o) => $body,
            $crate::reference::AnyOptimizer::Lamb($o) => $body,
            $crate::reference::AnyOptimizer::Lion($o) => $body,
            $crate::reference::AnyOptimizer::Adan($o) => $body,
            $crate::reference::AnyOptimizer::Lars($o) => $body,
        }
    };
}
pub(crate) use with_optimizer;

/// Our optimizer for a PyTorch reference entry, built from the entry's hyperparameters, or
/// `None` when the entry is in [`COMPARED_ELSEWHERE`]; panics on an unknown class.
pub fn torch_optimizer(entry: &Value) -> Option<AnyOptimizer> {
    let h = &entry["all_hyperparameters"];
    let class = entry["torch_class"].as_str().expect("torch_class");
    const VALID: &str = "valid reference hyperparameters";
    let optimizer = match class {
        "torch.optim.SGD" => AnyOptimizer::Sgd(
            SgdConfig::new()
                .with_momentum(f(h, "momentum"))
                .with_dampening(f(h, "dampening"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_nesterov(b(h, "nesterov"))
                .with_maximize(b(h, "maximize"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Adam" => {
            assert!(
                !b(h, "decoupled_weight_decay"),
                "Adam with decoupled decay is AdamW"
            );
            AnyOptimizer::Adam(
                AdamConfig::new()
                    .with_beta_1(beta(h, 0))
                    .with_beta_2(beta(h, 1))
                    .with_epsilon(f(h, "eps"))
                    .with_weight_decay(f(h, "weight_decay"))
                    .with_amsgrad(b(h, "amsgrad"))
                    .with_maximize(b(h, "maximize"))
                    .build()
                    .expect(VALID),
            )
        }
        "torch.optim.AdamW" => AnyOptimizer::AdamW(
            AdamWConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_amsgrad(b(h, "amsgrad"))
                .with_maximize(b(h, "maximize"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.NAdam" => AnyOptimizer::NAdam(
            NAdamConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_momentum_decay(f(h, "momentum_decay"))
                .with_decoupled_weight_decay(b(h, "decoupled_weight_decay"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.RAdam" => AnyOptimizer::RAdam(
            RAdamConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_decoupled_weight_decay(b(h, "decoupled_weight_decay"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Adamax" => AnyOptimizer::Adamax(
            AdamaxConfig::new()
                .with_beta_1(beta(h, 0))
                .with_beta_2(beta(h, 1))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.RMSprop" => AnyOptimizer::RmsProp(
            RmsPropConfig::new()
                .with_alpha(f(h, "alpha"))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_momentum(f(h, "momentum"))
                .with_centered(b(h, "centered"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Adagrad" => AnyOptimizer::Adagrad(
            AdagradConfig::new()
                .with_lr_decay(f(h, "lr_decay"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_initial_accumulator_value(f(h, "initial_accumulator_value"))
                .with_epsilon(f(h, "eps"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.ASGD" => AnyOptimizer::Asgd(
            AsgdConfig::new()
                .with_lambd(f(h, "lambd"))
                .with_alpha(f(h, "alpha"))
                .with_t0(f(h, "t0"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_maximize(b(h, "maximize"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Rprop" => AnyOptimizer::Rprop(
            RpropConfig::new()
                .with_eta_minus(h["etas"][0].as_f64().expect("etas"))
                .with_eta_plus(h["etas"][1].as_f64().expect("etas"))
                .with_step_size_min(h["step_sizes"][0].as_f64().expect("step_sizes"))
                .with_step_size_max(h["step_sizes"][1].as_f64().expect("step_sizes"))
                .with_maximize(b(h, "maximize"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Adafactor" => AnyOptimizer::Adafactor(
            AdafactorConfig::new()
                .with_beta2_decay(f(h, "beta2_decay"))
                .with_epsilon_1(h["eps"][0].as_f64())
                .with_epsilon_2(h["eps"][1].as_f64().expect("eps"))
                .with_d(f(h, "d"))
                .with_weight_decay(f(h, "weight_decay"))
                .with_maximize(b(h, "maximize"))
                .build()
                .expect(VALID),
        ),
        "torch.optim.Adadelta" => AnyOptimizer::Adadelta(
            AdadeltaConfig::new()
                .with_rho(f(h, "rho"))
                .with_epsilon(f(h, "eps"))
                .with_weight_decay(f(h, "weight_decay"))
                .build()
                .expect(VALID),
        ),
        other => {
            assert!(
                COMPARED_ELSEWHERE.iter().any(|(name, _)| *name == other),
                "reference entry {} ({other}) is neither compared here nor listed in COMPARED_ELSEWHERE",
                entry["id"]
            );
            return None;
        }
    };
    Some(optimizer)
}

/// The optax entry `id` of `reference` (the optax file).
pub fn optax_entry<'a>(reference: &'a Value, id: &str) -> &'a Value {
    reference["optimizers"]
        .as_array()
        .expect("optimizers")
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("optax entry {id} missing"))
}

/// The learning rate of an optax entry.
pub fn optax_lr(entry: &Value) -> f64 {
    entry["kwargs"]["learning_rate"]
        .as_f64()
        .expect("learning_rate")
}

/// The optimizers PyTorch lacks, each with the id of its optax entry in `reference` (the
/// optax file), built from that entry's keyword arguments.
pub fn optax_cases(reference: &Value) -> Vec<(&'static str, AnyOptimizer)> {
    let kw = |id: &str, key: &str, default: f64| -> f64 {
        optax_entry(reference, id)["kwargs"][key]
            .as_f64()
            .unwrap_or(default)
    };
    const VALID: &str = "valid";
    vec![
        (
            "adabelief",
            AnyOptimizer::AdaBelief(
                AdaBeliefConfig::new()
                    .with_beta_1(kw("adabelief", "b1", 0.9))
                    .with_beta_2(kw("adabelief", "b2", 0.999))
                    .build()
                    .expect(VALID),
            ),
        ),
        (
            "yogi",
            AnyOptimizer::Yogi(YogiConfig::new().build().expect(VALID)),
        ),
        (
            "signum",
            AnyOptimizer::Signum(
                SignumConfig::new()
                    .with_beta(kw("signum", "beta", 0.9))
                    .build()
                    .expect(VALID),
            ),
        ),
        (
            "sign_sgd",
            AnyOptimizer::Signum(SignumConfig::new().with_beta(0.0).build().expect(VALID)),
        ),
        (
            "lamb",
            AnyOptimizer::Lamb(LambConfig::new().build().expect(VALID)),
        ),
        (
            "lion",
            AnyOptimizer::Lion(LionConfig::new().build().expect(VALID)),
        ),
        (
            "adan",
            AnyOptimizer::Adan(AdanConfig::new().build().expect(VALID)),
        ),
        (
            "lion_wd",
            AnyOptimizer::Lion(
                LionConfig::new()
                    .with_weight_decay(kw("lion_wd", "weight_decay", 0.0))
                    .build()
                    .expect(VALID),
            ),
        ),
        (
            "lars",
            AnyOptimizer::Lars(LarsConfig::new().build().expect(VALID)),
        ),
    ]
}

/// Muon for a `torch.optim.Muon` reference entry (`W` only: `OutputInput` layout, PyTorch's).
pub fn muon_from(entry: &Value) -> Muon {
    let id = entry["id"].as_str().expect("id");
    let h = &entry["all_hyperparameters"];
    let adjustment = match h["adjust_lr_fn"].as_str() {
        None | Some("original") => MuonLrAdjustment::Original,
        Some("match_rms_adamw") => MuonLrAdjustment::MatchRmsAdamW,
        Some("spectral_unclamped") => MuonLrAdjustment::SpectralUnclamped,
        Some(other) => panic!("{id}: unknown adjust_lr_fn {other}"),
    };
    let coefficients = floats(&h["ns_coefficients"]);
    MuonConfig::new()
        .with_weight_decay(f(h, "weight_decay"))
        .with_momentum(f(h, "momentum"))
        .with_nesterov(b(h, "nesterov"))
        .with_ns_coefficients([coefficients[0], coefficients[1], coefficients[2]])
        .with_epsilon(f(h, "eps"))
        .with_ns_steps(f(h, "ns_steps") as usize)
        .with_lr_adjustment(adjustment)
        .with_layout(MatrixLayout::OutputInput)
        .build()
        .expect("valid reference hyperparameters")
}

/// The largest error of a trajectory's `W` (its first 12 values) against a Muon entry's.
pub fn muon_w_error(trajectory: &[Flat], entry: &Value) -> f64 {
    let id = entry["id"].as_str().expect("id");
    let mut worst: f64 = 0.0;
    for (ours, step) in trajectory
        .iter()
        .zip(entry["trajectory"].as_array().expect("trajectory"))
    {
        let expected = floats(&step["W"]);
        assert_eq!(expected.len(), 12, "{id}: W is 3 x 4");
        for (x, y) in ours[..12].iter().zip(&expected) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}

/// A version's run of one optimizer: its (f64, f32) errors against a reference entry as
/// (absolute, relative), from 20 steps in each precision.
pub type Errors = ((f64, f64), (f64, f64));

/// Every torch reference entry through `compare` (a burn version's runner): f64 within the
/// entry's `f64_bound`, f32 within 1e-5 relative, at least 24 entries compared. `label`
/// prefixes the printed table (the burn version).
pub fn assert_every_torch_entry(label: &str, compare: impl Fn(&Value) -> Option<Errors>) {
    let reference = reference();
    let entries = reference["optimizers"].as_array().expect("optimizers");
    let mut failures = Vec::new();
    let mut compared = 0;
    println!(
        "{label}{:<32} {:>12} {:>12}",
        "reference entry", "f64 abs err", "f32 rel err"
    );
    for entry in entries {
        let id = entry["id"].as_str().expect("id");
        let Some(((abs64, _), (_, rel32))) = compare(entry) else {
            println!("{label}{id:<32} {:>12} {:>12}", "skipped", "skipped");
            continue;
        };
        compared += 1;
        println!("{label}{id:<32} {abs64:>12.3e} {rel32:>12.3e}");
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
        "{label}parity failures:\n{}",
        failures.join("\n")
    );
}

/// NAdam's two all-float64 entries within 1e-10 in f64, and the float32-default ones
/// measurably apart (the float32 product's rounding shows).
pub fn assert_nadam_float64_entries(compare: impl Fn(&Value) -> Option<Errors>) {
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

/// The nine optax-only optimizers against optax's trajectories through `errors_of(optimizer,
/// entry, lr) -> (f64 absolute, f32 relative)`: within 1e-10 and 1e-5.
pub fn assert_optax_cases(
    label: &str,
    errors_of: impl Fn(AnyOptimizer, &Value, f64) -> (f64, f64),
) {
    let optax = optax_reference();
    assert_eq!(
        optax["grads"],
        reference()["grads"],
        "the optax and torch files describe the same problem"
    );
    let mut checked = 0;
    for (id, optimizer) in optax_cases(&optax) {
        let entry = optax_entry(&optax, id);
        let (abs64, rel32) = errors_of(optimizer, entry, optax_lr(entry));
        println!("{label}optax {id:<20} {abs64:>12.3e} {rel32:>12.3e}");
        assert!(abs64 <= 1e-10, "{id}: f64 error {abs64:e}");
        assert!(rel32 <= 1e-5, "{id}: f32 error {rel32:e}");
        checked += 1;
    }
    assert_eq!(checked, 9, "the optax-only optimizers");
}

/// Muon on `W` through `f64_trajectory(optimizer, lr)`: within 1e-10 of the entries whose
/// Newton-Schulz iteration ran in float64, within 1e-2 of the stock bfloat16 one.
pub fn assert_muon_entries(label: &str, f64_trajectory: impl Fn(Muon, f64) -> Vec<Flat>) {
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
        let worst = muon_w_error(&f64_trajectory(muon_from(entry), lr), entry);
        println!("{label}{id:<32} {worst:>12.3e}");
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
