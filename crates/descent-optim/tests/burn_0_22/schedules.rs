//! On burn 0.22, every schedule of `tests/reference/reference_schedules.json` reproduced
//! through burn 0.22's `LrScheduler` on `Scheduler` (what `Learner` calls), every schedule
//! resumed exactly from its `LrSchedulerRecord` (through burnpack bytes), and
//! `ReduceLrOnPlateau` resumed exactly from its scalar record.

use std::sync::Arc;

use burn_0_22::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use descent_optim::schedule::{
    LambdaLr, MultiplicativeLr, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, Schedule, Scheduler,
};

use crate::schedule_reference::{
    OPTAX_NOT_IMPLEMENTED, TOL, all_configs, base_lr, floats, lambda_schedule, max_abs_diff,
    plateau_config, plateau_metric, reference, torch_config, torch_entry_failure,
};

/// The learning rates of `n` calls of burn 0.22's `LrScheduler::step`, and the momentum
/// that goes with each (`None` where the schedule cycles none).
fn through_lr_scheduler<S>(scheduler: &mut Scheduler<S>, n: usize) -> (Vec<f64>, Vec<Option<f64>>)
where
    S: Schedule + Clone + 'static,
{
    let mut lrs = Vec::with_capacity(n);
    let mut momenta = Vec::with_capacity(n);
    for _ in 0..n {
        lrs.push(LrScheduler::step(scheduler));
        momenta.push(scheduler.momentum());
    }
    (lrs, momenta)
}

/// Every torch entry is matched (there is no entry we leave out); reports each max error.
#[test]
fn burn_0_22_every_torch_schedule_matches_pytorch() {
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
            // Driven by a metric, not by `LrScheduler::step`: replayed call for call.
            "ReduceLROnPlateau" => {
                let mut s = plateau_config(kwargs, base_lr).build().unwrap();
                let mut lrs = vec![s.lr()];
                for k in 0..n - 1 {
                    lrs.push(s.step(plateau_metric(k)));
                }
                (lrs, None)
            }
            "LambdaLR" | "MultiplicativeLR" => {
                let mut scheduler = Scheduler::new(lambda_schedule(name, kwargs, base_lr));
                let (lrs, momenta) = through_lr_scheduler(&mut scheduler, n);
                assert!(momenta.iter().all(Option::is_none), "#{i} {name}: momentum");
                (lrs, None)
            }
            _ => {
                let mut scheduler = torch_config(name, kwargs, base_lr).init().unwrap();
                let (lrs, momenta) = through_lr_scheduler(&mut scheduler, n);
                let momenta = entry.get("momentum").map(|_| {
                    momenta
                        .into_iter()
                        .map(|m| m.expect("schedule should cycle momentum"))
                        .collect()
                });
                (lrs, momenta)
            }
        };
        failures.extend(torch_entry_failure(
            "burn 0.22 ",
            i,
            entry,
            &lrs,
            momenta.as_deref(),
        ));
    }
    assert!(
        failures.is_empty(),
        "burn 0.22 mismatches:\n{}",
        failures.join("\n")
    );
}

/// optax schedules that have a torch counterpart equal it through `LrScheduler`; the two
/// that differ are listed in `OPTAX_NOT_IMPLEMENTED`.
#[test]
fn burn_0_22_optax_schedules_match_optax() {
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
        let mut scheduler = torch_config(tname, &counterpart["kwargs"], base_lr)
            .init()
            .unwrap();
        let want = floats(&entry["lr"]);
        let (ours, _) = through_lr_scheduler(&mut scheduler, want.len());
        let err = max_abs_diff(&ours, &want);
        println!("burn 0.22 {name:40} via {tname:28} max|dlr| = {err:.3e}");
        assert!(err <= TOL, "{name}: {err:e}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} optax entries checked");
}

/// A record through burnpack bytes and back, as a checkpoint would take it.
fn through_bytes(record: LrSchedulerRecord) -> LrSchedulerRecord {
    let bytes = record.into_bytes().expect("record to bytes");
    LrSchedulerRecord::from_bytes(bytes).expect("record from bytes")
}

/// Step `run` 7 times, save its record, load it into `fresh`, and step on: the learning
/// rates (bit for bit) and momenta equal those of the unbroken schedule.
fn check_resume<S>(mut run: Scheduler<S>, mut fresh: Scheduler<S>, what: &str)
where
    S: Schedule + Clone + 'static,
{
    const BEFORE: usize = 7;
    const AFTER: usize = 40;
    let mut unbroken = run.clone();
    for _ in 0..BEFORE {
        assert_eq!(
            LrScheduler::step(&mut run).to_bits(),
            LrScheduler::step(&mut unbroken).to_bits()
        );
    }
    let record = through_bytes(LrScheduler::to_record(&run));
    assert!(!record.is_empty(), "{what}: empty record");
    LrScheduler::load_record(&mut fresh, record);
    assert_eq!(fresh.steps_taken(), BEFORE, "{what}: steps taken");
    for k in 0..AFTER {
        let (a, b) = (
            LrScheduler::step(&mut fresh),
            LrScheduler::step(&mut unbroken),
        );
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: step {}", BEFORE + k);
        assert_eq!(fresh.momentum(), unbroken.momentum(), "{what}: momentum");
    }
}

#[test]
fn burn_0_22_save_and_load_resumes_every_schedule() {
    let mut checked = 0;
    for config in all_configs() {
        let what = format!("{config}");
        check_resume(config.init().unwrap(), config.init().unwrap(), &what);
        checked += 1;
    }
    let f: Arc<dyn Fn(usize) -> f64 + Send + Sync> = Arc::new(|k| 1.0 / (1.0 + 0.1 * k as f64));
    let lambda = || Scheduler::new(LambdaLr::new(0.1, f.clone()).unwrap());
    check_resume(lambda(), lambda(), "LambdaLr");
    let mult = || Scheduler::new(MultiplicativeLr::new(0.1, Arc::new(|_| 0.95)).unwrap());
    check_resume(mult(), mult(), "MultiplicativeLr");
    println!("burn 0.22: {} schedules resumed exactly", checked + 2);
}

#[test]
fn burn_0_22_reduce_on_plateau_resumes_from_its_scalar_record() {
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
    let record = through_bytes(run.to_scalar_record());
    let mut resumed = config
        .build()
        .unwrap()
        .load_scalar_record(&record)
        .expect("every field of the plateau record is there");
    assert_eq!(resumed.to_record(), run.to_record());
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
    // A record missing a field is refused, not half loaded.
    assert!(
        config
            .build()
            .unwrap()
            .load_scalar_record(&LrSchedulerRecord::new())
            .is_none()
    );
}
