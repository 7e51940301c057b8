//! Learning-rate schedules against PyTorch (and optax) reference values, save/load through a
//! real recorder, and rejection of invalid configs (burn 0.21; `tests/burn_0_22/schedules.rs`
//! replays the same reference through burn 0.22).

#![cfg(feature = "burn-0-21")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "shared/schedules.rs"]
mod schedule_reference;

use std::sync::Arc;

use burn::backend::NdArray;
use burn::config::Config;
use burn::lr_scheduler::LrScheduler;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use descent_optim::OptimError;
use descent_optim::schedule::{
    ConstantLrConfig, CosineAnnealingLrConfig, CosineAnnealingWarmRestartsConfig, CyclicLrConfig,
    CyclicMode, ExponentialLrConfig, InverseSqrtLrConfig, LambdaLr, LinearLrConfig,
    MultiStepLrConfig, MultiplicativeLr, OneCycleLrConfig, PolynomialLrConfig, ReduceLrOnPlateau,
    ReduceLrOnPlateauConfig, Schedule, ScheduleConfig, Scheduler, StepLrConfig,
    WarmupStableDecayConfig,
};
use schedule_reference::{
    OPTAX_NOT_IMPLEMENTED, TOL, all_configs, base_lr, floats, lambda_schedule, max_abs_diff,
    plateau_config, plateau_metric, reference, torch_config, torch_entry_failure,
};

type B = NdArray<f64>;

/// Every torch entry is matched (there is no entry we leave out); reports each max error.
#[test]
fn torch_reference() {
    let reference = reference();
    let base_lr = base_lr(&reference);
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
        failures.extend(torch_entry_failure("", i, entry, &lrs, momenta.as_deref()));
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// optax schedules that have a torch counterpart equal it; the two that differ are listed.
#[test]
fn optax_reference() {
    // The two without a counterpart: see OPTAX_NOT_IMPLEMENTED.
    let reference = reference();
    let base_lr = base_lr(&reference);
    let mut checked = 0;
    for entry in reference["optax"].as_array().expect("`optax` list") {
        let name = entry["schedule"].as_str().expect("schedule name");
        if OPTAX_NOT_IMPLEMENTED.contains(&name) {
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
