//! What every burn version's schedule tests share, with no burn in it: the reference file
//! `tests/reference/reference_schedules.json` and each of its PyTorch schedulers as one of
//! our schedules (every keyword argument mapped, or the test fails). Each burn version's
//! tests include this file (`#[path = ...] mod schedule_reference;`).

#![allow(dead_code)] // each test target uses its own part

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use descent_optim::schedule::{
    AnnealStrategy, ConstantLrConfig, CosineAnnealingLrConfig, CosineAnnealingWarmRestartsConfig,
    CyclicLrConfig, CyclicMode, DecayShape, ExponentialLrConfig, InverseSqrtLrConfig, LambdaLr,
    LinearLrConfig, MultiStepLrConfig, MultiplicativeLr, OneCycleLrConfig, PlateauMode,
    PolynomialLrConfig, ReduceLrOnPlateauConfig, Schedule, ScheduleConfig, StepLrConfig,
    ThresholdMode, WarmupStableDecayConfig,
};
use serde_json::Value;

pub const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/reference/reference_schedules.json"
);

/// What a float64 closed form owes PyTorch's (often recursive) float64 computation.
pub const TOL: f64 = 1e-12;

pub fn reference() -> Value {
    let text = std::fs::read_to_string(REFERENCE)
        .unwrap_or_else(|e| panic!("cannot read the reference file {REFERENCE}: {e}"));
    serde_json::from_str(&text).expect("the reference file is not valid JSON")
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("expected a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("expected a number"))
        .collect()
}

/// Keyword arguments of one PyTorch constructor; every key must be read, or the test fails
/// (an argument we silently ignored would make the comparison meaningless).
struct Kwargs<'a> {
    owner: String,
    map: &'a serde_json::Map<String, Value>,
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Kwargs<'a> {
    fn new(owner: &str, v: &'a Value) -> Self {
        Self {
            owner: owner.to_string(),
            map: v.as_object().expect("kwargs must be an object"),
            used: RefCell::new(BTreeSet::new()),
        }
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.used.borrow_mut().insert(key.to_string());
        self.map.get(key)
    }
    fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).map(|v| {
            v.as_f64()
                .unwrap_or_else(|| panic!("{}: `{key}` is not a number", self.owner))
        })
    }
    fn usize(&self, key: &str) -> Option<usize> {
        self.get(key).map(|v| {
            v.as_u64()
                .unwrap_or_else(|| panic!("{}: `{key}` is not an integer", self.owner))
                as usize
        })
    }
    fn str(&self, key: &str) -> Option<&'a str> {
        self.get(key).map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{}: `{key}` is not a string", self.owner))
        })
    }
    fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| {
            v.as_bool()
                .unwrap_or_else(|| panic!("{}: `{key}` is not a bool", self.owner))
        })
    }
    fn req_f64(&self, key: &str) -> f64 {
        self.f64(key)
            .unwrap_or_else(|| panic!("{}: missing `{key}`", self.owner))
    }
    fn req_usize(&self, key: &str) -> usize {
        self.usize(key)
            .unwrap_or_else(|| panic!("{}: missing `{key}`", self.owner))
    }
    /// Fail on any argument that no mapping looked at.
    fn finish(self) {
        let used = self.used.borrow();
        let unused: Vec<&String> = self.map.keys().filter(|k| !used.contains(*k)).collect();
        assert!(
            unused.is_empty(),
            "{}: kwargs not mapped to our config: {unused:?}",
            self.owner
        );
    }
}

/// A PyTorch scheduler name and kwargs as one of our configs (the closures and the plateau
/// scheduler have their own paths); panics on an unknown name or an unmapped argument.
pub fn torch_config(name: &str, kwargs: &Value, base_lr: f64) -> ScheduleConfig {
    let kw = Kwargs::new(name, kwargs);
    let config = match name {
        "StepLR" => {
            let mut c = StepLrConfig::new(base_lr, kw.req_usize("step_size"));
            if let Some(g) = kw.f64("gamma") {
                c = c.with_gamma(g);
            }
            ScheduleConfig::Step(c)
        }
        "MultiStepLR" => {
            let milestones = kw
                .get("milestones")
                .and_then(Value::as_array)
                .expect("MultiStepLR: `milestones` must be a list")
                .iter()
                .map(|m| m.as_u64().expect("milestone must be an integer") as usize)
                .collect();
            let mut c = MultiStepLrConfig::new(base_lr, milestones);
            if let Some(g) = kw.f64("gamma") {
                c = c.with_gamma(g);
            }
            ScheduleConfig::MultiStep(c)
        }
        "ExponentialLR" => {
            ScheduleConfig::Exponential(ExponentialLrConfig::new(base_lr, kw.req_f64("gamma")))
        }
        "CosineAnnealingLR" => {
            let mut c = CosineAnnealingLrConfig::new(base_lr, kw.req_usize("T_max"));
            if let Some(e) = kw.f64("eta_min") {
                c = c.with_eta_min(e);
            }
            ScheduleConfig::CosineAnnealing(c)
        }
        "CosineAnnealingWarmRestarts" => {
            let mut c = CosineAnnealingWarmRestartsConfig::new(base_lr, kw.req_usize("T_0"));
            if let Some(m) = kw.usize("T_mult") {
                c = c.with_t_mult(m);
            }
            if let Some(e) = kw.f64("eta_min") {
                c = c.with_eta_min(e);
            }
            ScheduleConfig::CosineAnnealingWarmRestarts(c)
        }
        "LinearLR" => {
            let mut c = LinearLrConfig::new(base_lr);
            if let Some(v) = kw.f64("start_factor") {
                c = c.with_start_factor(v);
            }
            if let Some(v) = kw.f64("end_factor") {
                c = c.with_end_factor(v);
            }
            if let Some(v) = kw.usize("total_iters") {
                c = c.with_total_iters(v);
            }
            ScheduleConfig::Linear(c)
        }
        "PolynomialLR" => {
            let mut c = PolynomialLrConfig::new(base_lr);
            if let Some(v) = kw.usize("total_iters") {
                c = c.with_total_iters(v);
            }
            if let Some(v) = kw.f64("power") {
                c = c.with_power(v);
            }
            ScheduleConfig::Polynomial(c)
        }
        "ConstantLR" => {
            let mut c = ConstantLrConfig::new(base_lr);
            if let Some(v) = kw.f64("factor") {
                c = c.with_factor(v);
            }
            if let Some(v) = kw.usize("total_iters") {
                c = c.with_total_iters(v);
            }
            ScheduleConfig::Constant(c)
        }
        // CyclicLR overwrites the optimizer's lr with `base_lr`: `base_lr` is not used.
        "CyclicLR" => {
            let mut c = CyclicLrConfig::new(kw.req_f64("base_lr"), kw.req_f64("max_lr"));
            if let Some(v) = kw.usize("step_size_up") {
                c = c.with_step_size_up(v);
            }
            if let Some(v) = kw.get("step_size_down") {
                c = c.with_step_size_down(v.as_u64().map(|v| v as usize));
            }
            if let Some(mode) = kw.str("mode") {
                c = c.with_mode(match mode {
                    "triangular" => CyclicMode::Triangular,
                    "triangular2" => CyclicMode::Triangular2,
                    "exp_range" => CyclicMode::ExpRange,
                    other => panic!("CyclicLR: unknown mode {other:?}"),
                });
            }
            if let Some(v) = kw.f64("gamma") {
                c = c.with_gamma(v);
            }
            if let Some(v) = kw.bool("cycle_momentum") {
                c = c.with_cycle_momentum(v);
            }
            if let Some(v) = kw.f64("base_momentum") {
                c = c.with_base_momentum(v);
            }
            if let Some(v) = kw.f64("max_momentum") {
                c = c.with_max_momentum(v);
            }
            ScheduleConfig::Cyclic(c)
        }
        "OneCycleLR" => {
            let mut c = OneCycleLrConfig::new(kw.req_f64("max_lr"), kw.req_usize("total_steps"));
            if let Some(v) = kw.f64("pct_start") {
                c = c.with_pct_start(v);
            }
            if let Some(s) = kw.str("anneal_strategy") {
                c = c.with_anneal_strategy(match s {
                    "cos" => AnnealStrategy::Cos,
                    "linear" => AnnealStrategy::Linear,
                    other => panic!("OneCycleLR: unknown anneal_strategy {other:?}"),
                });
            }
            if let Some(v) = kw.f64("div_factor") {
                c = c.with_div_factor(v);
            }
            if let Some(v) = kw.f64("final_div_factor") {
                c = c.with_final_div_factor(v);
            }
            if let Some(v) = kw.bool("three_phase") {
                c = c.with_three_phase(v);
            }
            if let Some(v) = kw.bool("cycle_momentum") {
                c = c.with_cycle_momentum(v);
            }
            if let Some(v) = kw.f64("base_momentum") {
                c = c.with_base_momentum(v);
            }
            if let Some(v) = kw.f64("max_momentum") {
                c = c.with_max_momentum(v);
            }
            ScheduleConfig::OneCycle(c)
        }
        "SequentialLR" => {
            let schedules = kw
                .get("schedulers")
                .and_then(Value::as_array)
                .expect("SequentialLR: `schedulers` must be a list")
                .iter()
                .map(|pair| {
                    let pair = pair.as_array().expect("[name, kwargs]");
                    let name = pair[0].as_str().expect("scheduler name");
                    torch_config(name, &pair[1], base_lr)
                })
                .collect();
            let milestones = kw
                .get("milestones")
                .and_then(Value::as_array)
                .expect("SequentialLR: `milestones` must be a list")
                .iter()
                .map(|m| m.as_u64().expect("milestone must be an integer") as usize)
                .collect();
            ScheduleConfig::Sequential {
                schedules,
                milestones,
            }
        }
        other => panic!("no mapping for torch scheduler {other:?}"),
    };
    kw.finish();
    config
}

/// The closures of the `LambdaLR`/`MultiplicativeLR` entries, written in the JSON as text.
pub fn lambda_schedule(name: &str, kwargs: &Value, base_lr: f64) -> Arc<dyn Schedule> {
    let kw = Kwargs::new(name, kwargs);
    let text = kw.str("lr_lambda").expect("missing `lr_lambda`");
    kw.finish();
    let f: Arc<dyn Fn(usize) -> f64 + Send + Sync> = match text {
        "k -> 0.95" => Arc::new(|_| 0.95),
        "k -> 1/(1+0.1*k)" => Arc::new(|k| 1.0 / (1.0 + 0.1 * k as f64)),
        other => panic!("{name}: unknown lr_lambda {other:?}: add it here"),
    };
    match name {
        "LambdaLR" => Arc::new(LambdaLr::new(base_lr, f).unwrap()),
        "MultiplicativeLR" => Arc::new(MultiplicativeLr::new(base_lr, f).unwrap()),
        other => panic!("not a lambda scheduler: {other}"),
    }
}

pub const PLATEAU_METRIC: &str =
    "m_k = max(1.0 - 0.02*k, 0.5) passed to step() after optimizer step k (k=0..98)";

pub fn plateau_metric(k: usize) -> f64 {
    (1.0 - 0.02 * k as f64).max(0.5)
}

pub fn plateau_config(kwargs: &Value, base_lr: f64) -> ReduceLrOnPlateauConfig {
    let kw = Kwargs::new("ReduceLROnPlateau", kwargs);
    let mut c = ReduceLrOnPlateauConfig::new(base_lr);
    if let Some(m) = kw.str("mode") {
        c = c.with_mode(match m {
            "min" => PlateauMode::Min,
            "max" => PlateauMode::Max,
            other => panic!("unknown mode {other:?}"),
        });
    }
    if let Some(v) = kw.f64("factor") {
        c = c.with_factor(v);
    }
    if let Some(v) = kw.usize("patience") {
        c = c.with_patience(v);
    }
    if let Some(v) = kw.f64("threshold") {
        c = c.with_threshold(v);
    }
    if let Some(m) = kw.str("threshold_mode") {
        c = c.with_threshold_mode(match m {
            "rel" => ThresholdMode::Rel,
            "abs" => ThresholdMode::Abs,
            other => panic!("unknown threshold_mode {other:?}"),
        });
    }
    if let Some(v) = kw.usize("cooldown") {
        c = c.with_cooldown(v);
    }
    if let Some(v) = kw.f64("min_lr") {
        c = c.with_min_lr(v);
    }
    if let Some(v) = kw.f64("eps") {
        c = c.with_eps(v);
    }
    assert_eq!(
        kw.str("metric"),
        Some(PLATEAU_METRIC),
        "the plateau metric sequence changed: update plateau_metric()"
    );
    kw.finish();
    c
}

pub fn max_abs_diff(ours: &[f64], want: &[f64]) -> f64 {
    assert_eq!(ours.len(), want.len());
    ours.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Every config that the torch entries exercise, plus the schedules without a reference.
pub fn all_configs() -> Vec<ScheduleConfig> {
    let reference = reference();
    let base_lr = reference["meta"]["base_lr"].as_f64().expect("meta.base_lr");
    let mut configs: Vec<ScheduleConfig> = reference["torch"]
        .as_array()
        .expect("`torch` list")
        .iter()
        .filter_map(|e| {
            let name = e["scheduler"].as_str().expect("scheduler name");
            match name {
                "ReduceLROnPlateau" | "LambdaLR" | "MultiplicativeLR" => None,
                _ => Some(torch_config(name, &e["kwargs"], base_lr)),
            }
        })
        .collect();
    configs.push(ScheduleConfig::InverseSqrt(
        InverseSqrtLrConfig::new(0.1).with_warmup_steps(5),
    ));
    configs.push(ScheduleConfig::InverseSqrt(InverseSqrtLrConfig::new(0.1)));
    for shape in [
        DecayShape::Linear,
        DecayShape::Cosine,
        DecayShape::OneMinusSqrt,
    ] {
        configs.push(ScheduleConfig::WarmupStableDecay(
            WarmupStableDecayConfig::new(0.1, 6, 8)
                .with_warmup_steps(4)
                .with_final_lr(0.001)
                .with_decay_shape(shape),
        ));
    }
    configs
}

/// optax schedules without a torch counterpart that we implement:
/// - cosine_onecycle_schedule peaks at int(pct_start * total) = 30, torch (and we) at
///   pct_start * total - 1 = 29 (the JSON's own note says so).
/// - linear_onecycle_schedule has a fourth phase (pct_final) and no torch counterpart.
pub const OPTAX_NOT_IMPLEMENTED: [&str; 2] = [
    "optax.cosine_onecycle_schedule",
    "optax.linear_onecycle_schedule",
];

/// The base learning rate of the reference (PyTorch's optimizer lr before any scheduler).
pub fn base_lr(reference: &Value) -> f64 {
    reference["meta"]["base_lr"].as_f64().expect("meta.base_lr")
}

/// Our learning rates (and momenta, where the schedule cycles them) for torch entry `i`
/// against the entry's, printed with `label` (the burn version); a failure line if either is
/// off by more than [`TOL`].
pub fn torch_entry_failure(
    label: &str,
    i: usize,
    entry: &Value,
    lrs: &[f64],
    momenta: Option<&[f64]>,
) -> Option<String> {
    let name = entry["scheduler"].as_str().expect("scheduler name");
    let kwargs = &entry["kwargs"];
    let lr_err = max_abs_diff(lrs, &floats(&entry["lr"]));
    let m_err = match (momenta, entry.get("momentum")) {
        (Some(ours), Some(theirs)) => Some(max_abs_diff(ours, &floats(theirs))),
        (None, None) => None,
        _ => panic!("#{i} {name}: momentum recorded on one side only"),
    };
    println!("{label}#{i:2} {name:28} {kwargs}  max|dlr| = {lr_err:.3e}  max|dm| = {m_err:?}");
    (lr_err > TOL || m_err.is_some_and(|e| e > TOL))
        .then(|| format!("#{i} {name} {kwargs}: lr {lr_err:e}, momentum {m_err:?}"))
}
