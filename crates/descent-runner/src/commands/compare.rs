//! `descent compare`: the same runs on several backends, side by side.
//!
//! Every run starts from the same weights (generated on the CPU from the seed) and sees the
//! same batches (a pure function of the seed), so after N steps the backends can only differ
//! by their floating-point arithmetic. Runs go one at a time so timings do not compete.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::backend::{self, BackendChoice, Precision};
use crate::config::{self, RunSpec};
use crate::error::usage;
use crate::experiment;
use crate::output;
use crate::provenance;
use crate::state::Finished;
use crate::train;

/// Steps not timed at the start of a run (kernel compilation, allocator warm-up).
const WARM_UP: usize = 5;

/// Options of `descent compare`.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The experiment file.
    file: PathBuf,
    /// The backends to compare, e.g. ndarray,wgpu (each must be compiled in).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![BackendChoice::Ndarray, BackendChoice::Wgpu])]
    backends: Vec<BackendChoice>,
    /// Optimizer steps per run (the experiment's budget is replaced).
    #[arg(long, default_value_t = 50)]
    steps: u64,
    /// Output directory; results go to OUT/EXPERIMENT-compare.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Seeds, replacing the file's list.
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Override a field (repeatable), as for `descent run`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Replace an existing comparison of the same experiment.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Debug, Serialize)]
struct BackendResult {
    backend: String,
    run: String,
    steps: u64,
    median_step_seconds: Option<f64>,
    samples_per_second: Option<f64>,
    final_train_loss: Option<f64>,
    final_test_loss: Option<f64>,
    final_test_accuracy: Option<f64>,
    diverged_at: Option<u64>,
    parameters: usize,
}

#[derive(Debug, Serialize)]
struct PairResult {
    run: String,
    backends: [String; 2],
    max_abs_parameter_difference: f64,
    max_abs_parameter: f64,
    max_abs_loss_difference: f64,
    max_abs_loss: f64,
    agree: bool,
}

#[derive(Debug, Serialize)]
struct Comparison {
    experiment: String,
    steps: u64,
    precision: &'static str,
    tolerance: &'static str,
    machine: String,
    git_revision: String,
    results: Vec<BackendResult>,
    pairs: Vec<PairResult>,
    verdict: String,
}

/// Relative tolerance of f32 arithmetic after a few dozen steps: rounding differences of
/// order 1e-7 per operation, amplified by the steps.
const TOLERANCE: f64 = 1e-4;

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// `descent compare`.
pub fn execute(args: &CompareArgs) -> Result<()> {
    if args.backends.len() < 2 {
        return Err(usage(
            "--backends: name at least two backends to compare, e.g. ndarray,wgpu",
        ));
    }
    for &b in &args.backends {
        backend::check(b, Precision::F32)?;
    }
    if args.steps == 0 {
        return Err(usage("--steps must be at least 1"));
    }
    let mut sets = args.sets.clone();
    sets.extend([
        format!("budget.steps={}", args.steps),
        "eval.log_every=1".into(),
        format!("eval.every={}", args.steps),
        "checkpoint.every=0".into(),
    ]);
    let mut plan = config::load(&args.file, &sets, args.seeds.as_deref())?;
    // The budget is the step count alone: epochs or seconds would cut runs short.
    for run in &mut plan.runs {
        run.experiment.budget.epochs = None;
        run.experiment.budget.seconds = None;
    }
    let prepared = experiment::prepare(plan, None)?;
    let dir = args.out.join(format!("{}-compare", prepared.plan.name));
    if dir.exists() {
        if !args.overwrite {
            return Err(usage(format!(
                "{}: exists already; pass --overwrite or another --out",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let mut results = Vec::new();
    let mut finished: Vec<(String, String, Finished)> = Vec::new();
    for run in &prepared.runs {
        for &backend in &args.backends {
            let name = backend.name();
            let run_dir = dir.join(name).join(&run.id);
            std::fs::create_dir_all(&run_dir)
                .with_context(|| format!("cannot create {}", run_dir.display()))?;
            eprintln!("{}: {} on {name} ...", prepared.plan.name, run.id);
            let done = train::run_one(
                backend,
                Precision::F32,
                &prepared.task,
                run,
                &run_dir,
                &|_, _| {},
            )?;
            results.push(summarize(name, run, &done));
            finished.push((run.id.clone(), name.to_string(), done));
        }
    }
    let mut pairs = Vec::new();
    for run in &prepared.runs {
        let mine: Vec<&(String, String, Finished)> =
            finished.iter().filter(|f| f.0 == run.id).collect();
        for (i, a) in mine.iter().enumerate() {
            for b in &mine[i + 1..] {
                pairs.push(pair(&run.id, a, b));
            }
        }
    }
    let agree = pairs.iter().all(|p| p.agree);
    let verdict = if agree {
        format!(
            "AGREE: every pair within the tolerance of f32 arithmetic (max |difference| <= {TOLERANCE:e} x (1 + max |value|)) after {} steps",
            args.steps
        )
    } else {
        let bad: Vec<String> = pairs
            .iter()
            .filter(|p| !p.agree)
            .map(|p| format!("{} ({} vs {})", p.run, p.backends[0], p.backends[1]))
            .collect();
        format!("DISAGREE beyond f32 tolerance: {}", bad.join(", "))
    };
    let comparison = Comparison {
        experiment: prepared.plan.name.clone(),
        steps: args.steps,
        precision: "f32",
        tolerance: "max |difference| <= 1e-4 x (1 + max |value|), for parameters and for the loss curve",
        machine: provenance::machine(),
        git_revision: provenance::git_revision(),
        results,
        pairs,
        verdict,
    };
    std::fs::create_dir_all(&dir)?;
    output::write_atomic(
        &dir.join("compare.json"),
        &serde_json::to_vec_pretty(&comparison)?,
    )?;
    let md = markdown(&comparison);
    output::write_atomic(&dir.join("compare.md"), md.as_bytes())?;
    println!("{md}");
    println!("written: {}", dir.display());
    Ok(())
}

fn summarize(backend: &str, run: &RunSpec, done: &Finished) -> BackendResult {
    let steps: Vec<f64> = done
        .timing
        .windows(2)
        .skip(WARM_UP)
        .filter(|w| w[1].0 == w[0].0 + 1)
        .map(|w| w[1].1 - w[0].1)
        .collect();
    let median_step = median(steps);
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

fn max_abs(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |m, v| {
        if v.is_nan() {
            f64::INFINITY
        } else {
            m.max(v.abs())
        }
    })
}

fn pair(run: &str, a: &(String, String, Finished), b: &(String, String, Finished)) -> PairResult {
    let (pa, pb) = (&a.2.parameters, &b.2.parameters);
    let parameter_difference = if pa.len() == pb.len() {
        max_abs(pa.iter().zip(pb).map(|(x, y)| x - y))
    } else {
        f64::INFINITY
    };
    let losses = |f: &Finished| -> Vec<(u64, f64)> {
        f.rows
            .iter()
            .filter_map(|r| r.train_loss.map(|l| (r.step, l)))
            .collect()
    };
    let (la, lb) = (losses(&a.2), losses(&b.2));
    let loss_difference = if la.len() == lb.len() {
        max_abs(
            la.iter()
                .zip(&lb)
                .map(|(x, y)| if x.0 == y.0 { x.1 - y.1 } else { f64::NAN }),
        )
    } else {
        f64::INFINITY
    };
    let max_parameter = max_abs(pa.iter().copied());
    let max_loss = max_abs(la.iter().map(|l| l.1));
    PairResult {
        run: run.to_string(),
        backends: [a.1.clone(), b.1.clone()],
        max_abs_parameter_difference: parameter_difference,
        max_abs_parameter: max_parameter,
        max_abs_loss_difference: loss_difference,
        max_abs_loss: max_loss,
        agree: parameter_difference <= TOLERANCE * (1.0 + max_parameter)
            && loss_difference <= TOLERANCE * (1.0 + max_loss),
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.6}"))
}

fn markdown(c: &Comparison) -> String {
    let mut out = format!(
        "# {}: backends compared over {} steps (f32)\n\nmachine: {}\n\n",
        c.experiment, c.steps, c.machine
    );
    out.push_str("| run | backend | ms/step (median) | samples/s | final train loss | final test loss | final test acc. |\n|---|---|---|---|---|---|---|\n");
    for r in &c.results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.backend,
            r.median_step_seconds
                .map_or("–".into(), |s| format!("{:.3}", s * 1e3)),
            r.samples_per_second
                .map_or("–".into(), |s| format!("{s:.0}")),
            show(r.final_train_loss),
            show(r.final_test_loss),
            show(r.final_test_accuracy)
        );
    }
    out.push_str("\n| run | backends | max abs parameter difference | max abs loss difference | agree |\n|---|---|---|---|---|\n");
    for p in &c.pairs {
        let _ = writeln!(
            out,
            "| {} | {} vs {} | {:.3e} (of max {:.3}) | {:.3e} (of max {:.3}) | {} |",
            p.run,
            p.backends[0],
            p.backends[1],
            p.max_abs_parameter_difference,
            p.max_abs_parameter,
            p.max_abs_loss_difference,
            p.max_abs_loss,
            if p.agree { "yes" } else { "NO" }
        );
    }
    let _ = writeln!(out, "\n{}", c.verdict);
    out
}
