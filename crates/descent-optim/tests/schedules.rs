//! Learning-rate schedules against PyTorch (and optax) reference values, save/load through a
//! real recorder, and rejection of invalid configs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use burn::backend::NdArray;
use burn::config::Config;
use burn::lr_scheduler::LrScheduler;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use descent_optim::OptimError;
use descent_optim::schedule::{
    AnnealStrategy, ConstantLrConfig, CosineAnnealingLrConfig, CosineAnnealingWarmRestartsConfig,
    CyclicLrConfig, CyclicMode, DecayShape, ExponentialLrConfig, InverseSqrtLrConfig, LambdaLr,
    LinearLrConfig, MultiStepLrConfig, MultiplicativeLr, OneCycleLrConfig, PlateauMode,
    PolynomialLrConfig, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, Schedule, ScheduleConfig,
    Scheduler, StepLrConfig, ThresholdMode, WarmupStableDecayConfig,
};
use serde_json::Value;

type B = NdArray<f64>;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/reference/reference_schedules.json"
);

/// What a float64 closed form owes PyTorch's (often recursive) float64 computation.
const TOL: f64 = 1e-12;

fn reference() -> Value {
    let text = std::fs::read_to_string(REFERENCE)
        .unwrap_or_else(|e| panic!("cannot read the reference file {REFERENCE}: {e}"));
    serde_json::from_str(&text).expect("the reference file is not valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
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
fn torch_config(name: &str, kwargs: &Value, base_lr: f64) -> ScheduleConfig {
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
fn lambda_schedule(name: &str, kwargs: &Value, base_lr: f64) -> Arc<dyn Schedule> {
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

const PLATEAU_METRIC: &str =
    "m_k = max(1.0 - 0.02*k, 0.5) passed to step() after optimizer step k (k=0..98)";

fn plateau_metric(k: usize) -> f64 {
    (1.0 - 0.02 * k as f64).max(0.5)
}

fn plateau_config(kwargs: &Value, base_lr: f64) -> ReduceLrOnPlateauConfig {
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

fn max_abs_diff(ours: &[f64], want: &[f64]) -> f64 {
    assert_eq!(ours.len(), want.len());
    ours.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Every torch entry is matched (there is no entry we leave out); reports each max error.
#[test]
fn torch_reference() {
    let reference = reference();
    let base_lr = reference["meta"]["base_lr"].as_f64().expect("meta.base_lr");
    let entries = reference["torch"].as_array().expect("`torch` list");
    assert!(!entries.is_empty());
    let mut failures = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry["scheduler"].as_str().expect("scheduler name");
        let kwargs = &entry["kwargs"];
        let want = floats(&entry["lr"]);
        let n = want.len();
        let (lrs, momenta): (Vec<f64>, Option<Vec<f64>>) = match name {
            "ReduceLROnPlateau" => {
                let mut s = plateau_config(kwargs, base_lr).build().unwrap();
                let mut lrs = vec![s.lr()];
                for k in 0..n - 1 {
                    lrs.push(s.step(plateau_metric(k)));
                }
                (lrs, None)
            }
            "LambdaLR" | "MultiplicativeLR" => {
                let s = lambda_schedule(name, kwargs, base_lr);
                ((0..n).map(|k| s.lr(k)).collect(), None)
            }
            _ => {
                let s = torch_config(name, kwargs, base_lr).build().unwrap();
                let m = entry.get("momentum").map(|_| {
                    (0..n)
                        .map(|k| s.momentum(k).expect("schedule should cycle momentum"))
                        .collect()
                });
                ((0..n).map(|k| s.lr(k)).collect(), m)
            }
        };
        let lr_err = max_abs_diff(&lrs, &want);
        let m_err = match (&momenta, entry.get("momentum")) {
            (Some(ours), Some(theirs)) => Some(max_abs_diff(ours, &floats(theirs))),
            (None, None) => None,
            _ => panic!("#{i} {name}: momentum recorded on one side only"),
        };
        println!("#{i:2} {name:28} {kwargs}  max|dlr| = {lr_err:.3e}  max|dm| = {m_err:?}");
        if lr_err > TOL || m_err.is_some_and(|e| e > TOL) {
            failures.push(format!(
                "#{i} {name} {kwargs}: lr {lr_err:e}, momentum {m_err:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// optax schedules that have a torch counterpart equal it; the two that differ are listed.
#[test]
fn optax_reference() {
    // - cosine_onecycle_schedule peaks at int(pct_start * total) = 30, torch (and we) at
    //   pct_start * total - 1 = 29 (the JSON's own note says so).
    // - linear_onecycle_schedule has a fourth phase (pct_final) and no torch counterpart.
    const NOT_IMPLEMENTED: [&str; 2] = [
        "optax.cosine_onecycle_schedule",
        "optax.linear_onecycle_schedule",
    ];
    let reference = reference();
    let base_lr = reference["meta"]["base_lr"].as_f64().expect("meta.base_lr");
    let mut checked = 0;
    for entry in reference["optax"].as_array().expect("`optax` list") {
        let name = entry["schedule"].as_str().expect("schedule name");
        if NOT_IMPLEMENTED.contains(&name) {
            continue;
        }
        let counterpart = entry
            .get("torch_counterpart")
            .unwrap_or_else(|| panic!("{name}: no torch counterpart and not listed as skipped"));
        let tname = counterpart["scheduler"].as_str().expect("scheduler");
        let s = torch_config(tname, &counterpart["kwargs"], base_lr)
            .build()
            .unwrap();
        let want = floats(&entry["lr"]);
        let ours: Vec<f64> = (0..want.len()).map(|k| s.lr(k)).collect();
        let err = max_abs_diff(&ours, &want);
        println!("{name:40} via {tname:28} max|dlr| = {err:.3e}");
        assert!(err <= TOL, "{name}: {err:e}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} optax entries checked");
}

/// Every config that the torch entries exercise, plus the schedules without a reference.
fn all_configs() -> Vec<ScheduleConfig> {
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

fn through_recorder<R: burn::record::Record<B>>(record: R) -> R {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = Recorder::<B>::record(&recorder, record, ()).expect("record");
    Recorder::<B>::load(&recorder, bytes, &Default::default()).expect("load")
}

fn check_resume<S: LrScheduler>(
    mut run: S,
    fresh: S,
    what: &str,
    momentum: impl Fn(&S) -> Option<f64>,
) {
    const BEFORE: usize = 7;
    const AFTER: usize = 40;
    let mut unbroken = run.clone();
    for _ in 0..BEFORE {
        assert_eq!(run.step().to_bits(), unbroken.step().to_bits());
    }
    let record = through_recorder(run.to_record::<B>());
    let mut resumed = fresh.load_record::<B>(record);
    for k in 0..AFTER {
        let (a, b) = (resumed.step(), unbroken.step());
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: step {}", BEFORE + k);
        assert_eq!(momentum(&resumed), momentum(&unbroken), "{what}: momentum");
    }
}

#[test]
fn save_and_load_resumes_every_schedule() {
    for config in all_configs() {
        let what = format!("{config}");
        check_resume(
            config.init().unwrap(),
            config.init().unwrap(),
            &what,
            Scheduler::momentum,
        );
    }
    let f: Arc<dyn Fn(usize) -> f64 + Send + Sync> = Arc::new(|k| 1.0 / (1.0 + 0.1 * k as f64));
    let lambda = || Scheduler::new(LambdaLr::new(0.1, f.clone()).unwrap());
    check_resume(lambda(), lambda(), "LambdaLr", Scheduler::momentum);
    let mult = || Scheduler::new(MultiplicativeLr::new(0.1, Arc::new(|_| 0.95)).unwrap());
    check_resume(mult(), mult(), "MultiplicativeLr", Scheduler::momentum);
}

#[test]
fn save_and_load_resumes_reduce_on_plateau() {
    let config = ReduceLrOnPlateauConfig::new(0.1)
        .with_factor(0.5)
        .with_patience(2)
        .with_cooldown(1);
    // Improves, then stalls: reductions happen both before and after the save.
    let metric = |k: usize| (1.0 - 0.1 * k as f64).max(0.6);
    let mut run: ReduceLrOnPlateau = config.build().unwrap();
    let mut unbroken = run.clone();
    for k in 0..7 {
        assert_eq!(run.step(metric(k)), unbroken.step(metric(k)));
    }
    let record = through_recorder(run.to_record());
    assert_eq!(record, run.to_record());
    let mut resumed = config.build().unwrap().load_record(record);
    assert_eq!(resumed.lr(), unbroken.lr());
    let mut lrs = Vec::new();
    for k in 7..40 {
        let lr = resumed.step(metric(k));
        assert_eq!(lr.to_bits(), unbroken.step(metric(k)).to_bits(), "step {k}");
        lrs.push(lr);
    }
    assert!(
        lrs.first() > lrs.last(),
        "the test should cross a reduction: {lrs:?}"
    );
}

/// `ScheduleConfig` survives JSON (how experiment files reach it) unchanged.
#[test]
fn schedule_config_json_round_trip() {
    for config in all_configs() {
        let json = burn::config::config_to_json(&config);
        let back = ScheduleConfig::load_binary(json.as_bytes())
            .unwrap_or_else(|e| panic!("cannot read back {json}: {e}"));
        let (a, b) = (config.build().unwrap(), back.build().unwrap());
        for k in 0..100 {
            assert_eq!(a.lr(k).to_bits(), b.lr(k).to_bits(), "{json}");
            assert_eq!(a.momentum(k), b.momentum(k), "{json}");
        }
    }
}

fn invalid_hyper(r: Result<Box<dyn Schedule>, OptimError>, field: &str) {
    match r {
        Err(OptimError::InvalidHyperparameter { field: f, .. }) => {
            assert_eq!(f, field, "wrong field blamed");
        }
        other => panic!("expected InvalidHyperparameter on `{field}`, got {other:?}"),
    }
}

fn inconsistent(r: Result<Box<dyn Schedule>, OptimError>) {
    assert!(
        matches!(r, Err(OptimError::Inconsistent { .. })),
        "expected Inconsistent, got {r:?}"
    );
}

#[test]
fn invalid_configs_are_errors() {
    use ScheduleConfig as C;
    let b = |c: C| c.build();
    invalid_hyper(b(C::Step(StepLrConfig::new(-0.1, 10))), "initial_lr");
    invalid_hyper(b(C::Step(StepLrConfig::new(f64::NAN, 10))), "initial_lr");
    invalid_hyper(b(C::Step(StepLrConfig::new(0.1, 0))), "step_size");
    invalid_hyper(
        b(C::Step(StepLrConfig::new(0.1, 10).with_gamma(0.0))),
        "gamma",
    );
    invalid_hyper(
        b(C::Exponential(ExponentialLrConfig::new(0.1, -0.9))),
        "gamma",
    );
    invalid_hyper(
        b(C::MultiStep(
            MultiStepLrConfig::new(0.1, vec![1]).with_gamma(0.0),
        )),
        "gamma",
    );
    inconsistent(b(C::MultiStep(MultiStepLrConfig::new(0.1, vec![30, 10]))));
    inconsistent(b(C::MultiStep(MultiStepLrConfig::new(0.1, vec![10, 10]))));
    invalid_hyper(
        b(C::CosineAnnealing(CosineAnnealingLrConfig::new(0.1, 0))),
        "t_max",
    );
    invalid_hyper(
        b(C::CosineAnnealing(
            CosineAnnealingLrConfig::new(0.1, 5).with_eta_min(-1.0),
        )),
        "eta_min",
    );
    invalid_hyper(
        b(C::CosineAnnealingWarmRestarts(
            CosineAnnealingWarmRestartsConfig::new(0.1, 0),
        )),
        "t_0",
    );
    invalid_hyper(
        b(C::CosineAnnealingWarmRestarts(
            CosineAnnealingWarmRestartsConfig::new(0.1, 5).with_t_mult(0),
        )),
        "t_mult",
    );
    invalid_hyper(
        b(C::Linear(LinearLrConfig::new(0.1).with_start_factor(0.0))),
        "start_factor",
    );
    invalid_hyper(
        b(C::Linear(LinearLrConfig::new(0.1).with_end_factor(1.1))),
        "end_factor",
    );
    invalid_hyper(
        b(C::Linear(LinearLrConfig::new(0.1).with_total_iters(0))),
        "total_iters",
    );
    invalid_hyper(
        b(C::Polynomial(
            PolynomialLrConfig::new(0.1).with_total_iters(0),
        )),
        "total_iters",
    );
    invalid_hyper(
        b(C::Polynomial(PolynomialLrConfig::new(0.1).with_power(-2.0))),
        "power",
    );
    invalid_hyper(
        b(C::Constant(ConstantLrConfig::new(0.1).with_factor(-0.5))),
        "factor",
    );
    invalid_hyper(
        b(C::InverseSqrt(InverseSqrtLrConfig::new(f64::INFINITY))),
        "initial_lr",
    );
    invalid_hyper(b(C::Cyclic(CyclicLrConfig::new(-0.001, 0.1))), "base_lr");
    invalid_hyper(
        b(C::Cyclic(
            CyclicLrConfig::new(0.001, 0.1).with_step_size_up(0),
        )),
        "step_size_up",
    );
    invalid_hyper(
        b(C::Cyclic(
            CyclicLrConfig::new(0.001, 0.1)
                .with_mode(CyclicMode::ExpRange)
                .with_gamma(0.0),
        )),
        "gamma",
    );
    invalid_hyper(
        b(C::Cyclic(
            CyclicLrConfig::new(0.001, 0.1).with_base_momentum(1.5),
        )),
        "base_momentum",
    );
    for pct in [0.0, 1.0, -0.3, 1.3, f64::NAN] {
        invalid_hyper(
            b(C::OneCycle(
                OneCycleLrConfig::new(0.1, 100).with_pct_start(pct),
            )),
            "pct_start",
        );
    }
    invalid_hyper(b(C::OneCycle(OneCycleLrConfig::new(0.1, 0))), "total_steps");
    invalid_hyper(
        b(C::OneCycle(
            OneCycleLrConfig::new(0.1, 100).with_div_factor(0.0),
        )),
        "div_factor",
    );
    invalid_hyper(
        b(C::OneCycle(
            OneCycleLrConfig::new(0.1, 100).with_final_div_factor(-1.0),
        )),
        "final_div_factor",
    );
    invalid_hyper(
        b(C::OneCycle(
            OneCycleLrConfig::new(0.1, 100).with_max_momentum(1.0),
        )),
        "max_momentum",
    );
    inconsistent(b(C::OneCycle(OneCycleLrConfig::new(0.1, 3))));
    inconsistent(b(C::OneCycle(
        OneCycleLrConfig::new(0.1, 100)
            .with_pct_start(0.7)
            .with_three_phase(true),
    )));
    invalid_hyper(
        b(C::WarmupStableDecay(
            WarmupStableDecayConfig::new(0.1, 10, 10).with_warmup_start_factor(-0.1),
        )),
        "warmup_start_factor",
    );
    invalid_hyper(
        b(C::WarmupStableDecay(
            WarmupStableDecayConfig::new(0.1, 10, 10).with_final_lr(-1.0),
        )),
        "final_lr",
    );
    let ok = || C::Constant(ConstantLrConfig::plain(0.1));
    inconsistent(b(C::Sequential {
        schedules: vec![ok()],
        milestones: vec![5],
    }));
    inconsistent(b(C::Sequential {
        schedules: vec![ok(), ok(), ok()],
        milestones: vec![9, 5],
    }));
    inconsistent(b(C::Sequential {
        schedules: vec![ok(), ok()],
        milestones: vec![0],
    }));
    // An invalid inner schedule surfaces its own error.
    invalid_hyper(
        b(C::Sequential {
            schedules: vec![ok(), C::Step(StepLrConfig::new(0.1, 0))],
            milestones: vec![5],
        }),
        "step_size",
    );
    // init() reports the same errors.
    assert!(C::Step(StepLrConfig::new(0.1, 0)).init().is_err());

    let p = |c: ReduceLrOnPlateauConfig| c.build().map(|_| ()).unwrap_err();
    for (config, field) in [
        (ReduceLrOnPlateauConfig::new(-0.1), "initial_lr"),
        (ReduceLrOnPlateauConfig::new(0.1).with_factor(1.0), "factor"),
        (
            ReduceLrOnPlateauConfig::new(0.1).with_factor(-0.1),
            "factor",
        ),
        (
            ReduceLrOnPlateauConfig::new(0.1).with_threshold(-1e-4),
            "threshold",
        ),
        (
            ReduceLrOnPlateauConfig::new(0.1).with_min_lr(-1.0),
            "min_lr",
        ),
        (ReduceLrOnPlateauConfig::new(0.1).with_eps(f64::NAN), "eps"),
    ] {
        match p(config) {
            OptimError::InvalidHyperparameter { field: f, .. } => assert_eq!(f, field),
            other => panic!("expected InvalidHyperparameter on `{field}`, got {other:?}"),
        }
    }
    assert!(LambdaLr::new(-1.0, Arc::new(|_| 1.0)).is_err());
}
