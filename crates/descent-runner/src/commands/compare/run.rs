//! The comparison's runs: the first step of every run on every backend (against the first
//! backend's), then every run whole on every backend, one at a time so timings do not
//! compete.

use anyhow::{Context, Result};
use serde::Serialize;

use super::plan::Plan;
use crate::backend::Precision;
use crate::config::RunSpec;
use crate::conformance;
use crate::state::Finished;
use crate::train;

/// Steps not timed at the start of a run (kernel compilation, allocator warm-up).
const WARM_UP: usize = 5;

/// One run's timing and final metrics on one backend.
#[derive(Debug, Serialize)]
pub(super) struct BackendResult {
    pub(super) backend: String,
    pub(super) run: String,
    pub(super) steps: u64,
    pub(super) median_step_seconds: Option<f64>,
    pub(super) samples_per_second: Option<f64>,
    pub(super) final_train_loss: Option<f64>,
    pub(super) final_test_loss: Option<f64>,
    pub(super) final_test_accuracy: Option<f64>,
    pub(super) diverged_at: Option<u64>,
    pub(super) parameters: usize,
}

/// One run's first step on a backend against the first backend's.
#[derive(Debug, Serialize)]
pub(super) struct OneStepResult {
    pub(super) run: String,
    pub(super) backends: [String; 2],
    /// Worst tensor: `max |g - g_ref| / max |g_ref|`.
    pub(super) worst_gradient_difference: f64,
    /// Worst tensor: parameter difference after the step over its allowance (<= 1 agrees).
    pub(super) worst_update_ratio: f64,
    pub(super) tensors: usize,
    pub(super) agree: bool,
}

/// A run finished on a backend: the backend's index (in `--backends`), the run's id, and
/// what it left.
pub(super) type Done = (usize, String, Finished);

/// What `run` measured.
pub(super) struct Measured {
    /// Every run's first step on every backend but the first, against the first's.
    pub(super) one_step: Vec<OneStepResult>,
    /// Every run on every backend, in the order they ran.
    pub(super) results: Vec<BackendResult>,
    /// The finished runs, in the same order.
    pub(super) finished: Vec<Done>,
}

/// Runs `plan`: first the first steps, then the whole runs.
pub(super) fn run(plan: &Plan) -> Result<Measured> {
    let one_step = first_steps(plan)?;
    let (results, finished) = whole_runs(plan)?;
    Ok(Measured {
        one_step,
        results,
        finished,
    })
}

/// The first step of every run on every backend, judged against the first backend's.
fn first_steps(plan: &Plan) -> Result<Vec<OneStepResult>> {
    let (prepared, labels) = (&plan.prepared, &plan.labels);
    let mut one_step = Vec::new();
    for run in &prepared.runs {
        eprintln!(
            "{}: {}: first step on every backend ...",
            prepared.plan.name, run.id
        );
        let reference = conformance::first_step(
            plan.backends[0],
            Precision::F32,
            &prepared.task,
            &plan.on(0, run),
            None,
        )?;
        for (i, &backend) in plan.backends.iter().enumerate().skip(1) {
            let ours = conformance::first_step(
                backend,
                Precision::F32,
                &prepared.task,
                &plan.on(i, run),
                Some(&reference.gradient),
            )?;
            let verdict = conformance::judge(&reference, &ours);
            one_step.push(OneStepResult {
                run: run.id.clone(),
                backends: [labels[0].clone(), labels[i].clone()],
                worst_gradient_difference: verdict.gradient.iter().copied().fold(0.0, f64::max),
                worst_update_ratio: verdict.update.iter().copied().fold(0.0, f64::max),
                tensors: verdict.gradient.len(),
                agree: verdict.agree,
            });
        }
    }
    Ok(one_step)
}

/// Every run whole on every backend, into DIR/BACKEND/RUN.
fn whole_runs(plan: &Plan) -> Result<(Vec<BackendResult>, Vec<Done>)> {
    let (prepared, labels) = (&plan.prepared, &plan.labels);
    let mut results = Vec::new();
    let mut finished: Vec<Done> = Vec::new();
    for run in &prepared.runs {
        for (i, &backend) in plan.backends.iter().enumerate() {
            let run_dir = plan.dir.join(&labels[i]).join(&run.id);
            std::fs::create_dir_all(&run_dir)
                .with_context(|| format!("cannot create {}", run_dir.display()))?;
            eprintln!("{}: {} on {} ...", prepared.plan.name, run.id, labels[i]);
            let done = train::run_one(
                backend,
                Precision::F32,
                &prepared.task,
                &plan.on(i, run),
                &run_dir,
                &|_, _| {},
            )?;
            results.push(summarize(&labels[i], run, &done));
            finished.push((i, run.id.clone(), done));
        }
    }
    Ok((results, finished))
}

/// The median (the upper one of an even count), `None` for no values.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// The seconds of every step logged right after its predecessor, after `warm_up` of them.
pub(crate) fn step_seconds(timing: &[(u64, f64)], warm_up: usize) -> Vec<f64> {
    timing
        .windows(2)
        .skip(warm_up)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| w[1].1 - w[0].1)
        .collect()
}

/// One run's row of the results table.
fn summarize(backend: &str, run: &RunSpec, done: &Finished) -> BackendResult {
    let median_step = median(step_seconds(&done.timing, WARM_UP));
    let batch = done.record.samples as f64 / done.record.steps.max(1) as f64;
    let last = &done.record.last;
    BackendResult {
        backend: backend.to_string(),
        run: run.id.clone(),
        steps: done.record.steps,
        median_step_seconds: median_step,
        samples_per_second: median_step.map(|s| batch / s),
        final_train_loss: last.train_loss,
        final_test_loss: last.test_loss,
        final_test_accuracy: last.test_accuracy,
        diverged_at: done.record.diverged_at,
        parameters: done.parameters.len(),
    }
}
