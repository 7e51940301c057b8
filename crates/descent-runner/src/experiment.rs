//! An experiment from plan to results, in-process: check everything, lay out the output
//! directory, run the runs, summarise and plot. The commands (`run`, `resume`, `report`,
//! `merge`, `compare`) and tests call these functions; nothing here reads the command line.
//!
//! ```no_run
//! use std::path::Path;
//! use descent_runner::{RunOptions, config, experiment};
//!
//! let plan = config::load(Path::new("experiments/lr-cliff.toml"), &[], Some(&[0, 1]))?;
//! let dir = experiment::run(plan, Path::new("runs"), &RunOptions::default())?;
//! println!("results in {}", dir.display());
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendChoice, Precision};
use crate::config::{self, Plan, RunSpec};
use crate::error::usage;
use crate::metric::Metric;
use crate::optim::OptimizerConfig;
use crate::output;
use crate::problem::Task;
use crate::run_files::ExperimentDir;
use crate::{plots, pool, probe, provenance, report, summary, tensorboard, train};

pub use crate::pool::RunOptions;

/// The embedded default experiments (the README's first command): `(file name, text)`.
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "experiments/default-landscape.toml",
        include_str!("../../../experiments/default-landscape.toml"),
    ),
    (
        "experiments/default-digits.toml",
        include_str!("../../../experiments/default-digits.toml"),
    ),
];

/// What `plan.json` records: enough to resume or merge without the command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPlan {
    /// The experiment file the runs came from.
    pub file: PathBuf,
    /// The backend.
    pub backend: BackendChoice,
    /// The precision.
    pub precision: Precision,
    /// The shard `(i, n)`, if any.
    pub shard: Option<(usize, usize)>,
    /// The ids of the runs in this directory.
    pub runs: Vec<String>,
    /// How many runs ran at once (timings of parallel runs compete for cores).
    #[serde(default)]
    pub jobs: usize,
}

/// An experiment checked completely, before any directory is made.
pub struct Prepared {
    /// The expanded file.
    pub plan: Plan,
    /// The problem, built once.
    pub task: Task,
    /// The runs of this shard.
    pub runs: Vec<RunSpec>,
}

/// Checks a plan completely (problem, data, every run's batches, optimizer and schedule)
/// and keeps the runs of `shard`.
pub fn prepare(plan: Plan, shard: Option<(usize, usize)>) -> Result<Prepared> {
    let shown = plan.file.display().to_string();
    let task = Task::build(&plan.base.problem).map_err(|e| usage(format!("{shown}: {e}")))?;
    if plan.base.output.snapshots_every == Some(0) {
        return Err(usage(format!(
            "{shown}: output.snapshots_every = 0: must be at least 1"
        )));
    }
    if let Some(metric) = &plan.base.plots.scatter {
        let columns = crate::state::MetricsColumn::ALL.map(crate::state::MetricsColumn::name);
        if !columns.contains(&metric.as_str()) {
            return Err(usage(format!(
                "{shown}: plots.scatter = {metric:?} is not a metric; allowed: {}",
                columns.join(", ")
            )));
        }
    }
    if plan.base.budget.until_target && plan.base.target.is_none() {
        return Err(usage(format!(
            "{shown}: budget.until_target = true needs a [target] to reach"
        )));
    }
    if let Some(barriers) = &plan.base.barriers {
        let (between, count, what) = match barriers.between.unwrap_or(config::Between::Seeds) {
            config::Between::Seeds => ("seeds", plan.base.seeds.len(), "two seeds"),
            config::Between::Variants => ("variants", plan.base.variants.len(), "two variants"),
        };
        if count < 2 {
            return Err(usage(format!(
                "{shown}: barriers.between = \"{between}\" joins the solutions of {what} at \
                 least; this experiment has {count}"
            )));
        }
    }
    for run in &plan.runs {
        let at = if run.point.label.is_empty() {
            String::new()
        } else {
            format!(" (sweep point {})", run.point.label)
        };
        // A sweep may change the problem itself; those points are checked by building them.
        let point_task;
        let task = if !run.sweeps_problem() {
            &task
        } else {
            point_task = Task::build(&run.experiment.problem)
                .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
            &point_task
        };
        let batch = task
            .batch_plan(&run.experiment.batch, run.seed)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        let limits = train::limits(&run.experiment, task, &batch);
        let variant = &run.experiment.variants[0];
        crate::optim::optimizer_config(variant, run.seed)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        let lr = crate::optim::lr_plan(variant, limits.steps)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        if let Some(p) = &lr.plateau {
            let available = match (task, p.metric) {
                (Task::Supervised(t), Metric::ValLoss | Metric::ValAccuracy) => {
                    t.validation.is_some()
                }
                (Task::Supervised(t), Metric::TestLoss | Metric::TestAccuracy) => t.test.is_some(),
                (Task::Landscape(_), Metric::TestLoss) => true,
                _ => false,
            };
            if !available {
                return Err(usage(format!(
                    "{shown}: variants.{}.schedule.metric = {}: this problem does not measure \
                     it (a validation metric needs problem.validation = N)",
                    variant.name, p.metric
                )));
            }
        }
        if let Some(config) = &run.experiment.barriers {
            crate::barriers::Segments::new(config, task)
                .map_err(|e| usage(format!("{shown}: {e}")))?;
        }
        crate::probe::Probes::build(
            &run.experiment.measure,
            task,
            limits.eval_every,
            limits.batches_per_epoch,
            run.seed,
        )
        .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        if let Some(target) = &run.experiment.target
            && target.metric.measured()
            && !run
                .experiment
                .measure
                .iter()
                .any(|m| m.kind == "full_train")
        {
            return Err(usage(format!(
                "{shown}: target.metric = {}: needs a [[measure]] with kind = \"full_train\"",
                target.metric
            )));
        }
    }
    let runs = plan
        .runs
        .iter()
        .filter(|r| shard.is_none_or(|(i, n)| r.index % n == i))
        .cloned()
        .collect();
    Ok(Prepared { plan, task, runs })
}

/// Runs `plan` into `out/<name>/` (which must not exist yet), then writes the summary and
/// the plots. Returns the experiment directory.
pub fn run(plan: Plan, out: &Path, options: &RunOptions) -> Result<PathBuf> {
    backend::check(options.backend(), options.precision)?;
    let prepared = prepare(plan, options.shard)?;
    let dir = out.join(&prepared.plan.name);
    refuse_existing(&dir)?;
    run_prepared(&dir, &prepared, options)?;
    Ok(dir)
}

/// A usage error if the experiment directory `dir` exists: a run never mixes into another.
pub fn refuse_existing(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Err(usage(format!(
            "{}: exists already; finish it with `descent resume {}`, or pass --overwrite (or another --out)",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Continues the shard in `dir` if one of the same configuration, backend, precision and
/// shard is there (a scheduler's task that was killed and started again): finished runs are
/// kept, interrupted ones resume from their checkpoints, the rest start; then the summary.
/// Returns false where `dir` holds no experiment yet (the caller starts one), and a usage
/// error where it holds a different one.
pub fn continue_shard(dir: &Path, prepared: &Prepared, options: &RunOptions) -> Result<bool> {
    continue_in(dir, prepared, options, !options.silent)
}

/// Runs `prepared` into `dir`, or continues it where `dir` holds the same configuration
/// (backend, precision, shard) already: finished runs are kept, interrupted ones resume from
/// their checkpoints. Writes the summary and plots without printing the summary: for
/// commands that run many experiments and print a table of their own (`descent benchmark`).
/// A usage error where `dir` holds another experiment.
pub fn run_or_continue(dir: &Path, prepared: &Prepared, options: &RunOptions) -> Result<()> {
    if continue_in(dir, prepared, options, false)? {
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    lay_out(dir, prepared, options)?;
    run_pending_then_finish(dir, prepared, options, false)
}

fn continue_in(dir: &Path, prepared: &Prepared, options: &RunOptions, print: bool) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    if !dir.join("plan.json").exists() {
        // A task killed before it wrote its plan left at most its config.toml: nothing to
        // keep. Anything else is not this command's to replace.
        let only_a_config = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .all(|entry| entry.is_ok_and(|e| e.file_name() == "config.toml"));
        if only_a_config {
            return Ok(false);
        }
        return Err(usage(format!(
            "{}: exists and holds no experiment this command wrote (no plan.json); pass \
             --overwrite to replace it, or another --out",
            dir.display()
        )));
    }
    let (plan, run_plan) = recorded(dir)?;
    let same = plan.table == prepared.plan.table
        && run_plan.backend == options.backend()
        && run_plan.precision == options.precision
        && run_plan.shard == options.shard;
    if !same {
        return Err(usage(format!(
            "{}: holds another configuration, backend or shard than this command's; pass \
             --overwrite to replace it, or another --out",
            dir.display()
        )));
    }
    let finished = prepared
        .runs
        .iter()
        .filter(|r| dir.join(&r.id).join(output::RUN_JSON).exists())
        .count();
    let interrupted = prepared
        .runs
        .iter()
        .filter(|r| dir.join(&r.id).join(output::CHECKPOINT_BIN).exists())
        .count();
    if !options.silent {
        let what = match options.shard {
            Some((i, n)) => format!("shard {i}/{n}"),
            None => "the experiment".to_owned(),
        };
        eprintln!(
            "{}: continuing {what}: {finished} of {} runs finished, {interrupted} resume from a checkpoint",
            dir.display(),
            prepared.runs.len()
        );
    }
    run_pending_then_finish(dir, prepared, options, print)?;
    Ok(true)
}

/// Lays out `dir` for `prepared` (resolved `config.toml`, `plan.json`), runs every run and
/// finishes with the summary and plots. `dir` is created; it should not hold another
/// experiment.
pub fn run_prepared(dir: &Path, prepared: &Prepared, options: &RunOptions) -> Result<()> {
    lay_out(dir, prepared, options)?;
    run_pending_and_finish(dir, prepared, options)
}

/// `dir` created, with the resolved `config.toml` and `plan.json`.
fn lay_out(dir: &Path, prepared: &Prepared, options: &RunOptions) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_config(dir, &prepared.plan, options)?;
    let plan_file = RunPlan {
        file: prepared.plan.file.clone(),
        backend: options.backend(),
        precision: options.precision,
        shard: options.shard,
        runs: prepared.runs.iter().map(|r| r.id.clone()).collect(),
        jobs: options
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, prepared.runs.len().max(1)),
    };
    output::write_atomic(
        &dir.join("plan.json"),
        &serde_json::to_vec_pretty(&plan_file)?,
    )
}

/// Runs the runs of `prepared` not finished in `dir` yet (interrupted ones from their
/// checkpoints), then writes the summary and plots: what `run`, `resume` and a continued
/// shard all end with.
pub fn run_pending_and_finish(dir: &Path, prepared: &Prepared, options: &RunOptions) -> Result<()> {
    run_pending_then_finish(dir, prepared, options, !options.silent)
}

fn run_pending_then_finish(
    dir: &Path,
    prepared: &Prepared,
    options: &RunOptions,
    print: bool,
) -> Result<()> {
    pool::run_pending(
        dir,
        &prepared.plan.name,
        &prepared.task,
        &prepared.runs,
        options,
    )?;
    if let Some(config) = &prepared.plan.base.barriers {
        crate::barriers::compute(
            dir,
            config,
            &prepared.task,
            options.backend(),
            options.precision,
        )?;
    }
    finish(dir, &prepared.plan, print)
}

fn write_config(dir: &Path, plan: &Plan, options: &RunOptions) -> Result<()> {
    let mut meta = BTreeMap::new();
    meta.insert("source".to_string(), plan.file.display().to_string());
    meta.insert("git_revision".to_string(), provenance::git_revision());
    meta.insert("backend".to_string(), options.backend().name().to_string());
    meta.insert(
        "precision".to_string(),
        options.precision.name().to_string(),
    );
    meta.insert("machine".to_string(), provenance::machine());
    meta.insert("matrix_products".to_string(), crate::openblas::products());
    meta.insert(
        "descent_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Some((i, n)) = options.shard {
        meta.insert("shard".to_string(), format!("{i}/{n}"));
    }
    let text = config::resolved_toml(&plan.table, &meta)?;
    output::write_atomic(&dir.join("config.toml"), text.as_bytes())
}

/// The experiment's target as the summary states it (`val_accuracy >= 0.9`), if it has one.
pub fn target_text(plan: &Plan) -> Option<String> {
    plan.base
        .target
        .as_ref()
        .map(|t| format!("{} {} {}", t.metric, t.metric.comparison(), t.value))
}

/// Writes `summary.json`, `summary.md` and the plots of `dir` from its stored runs, and
/// with `print` shows the table and where everything went.
pub fn finish(dir: &Path, plan: &Plan, print: bool) -> Result<()> {
    let records: Vec<_> = ExperimentDir::new(dir)
        .runs()?
        .into_iter()
        .map(|run| run.record)
        .collect();
    let summary = summary::summarize(&plan.name, target_text(plan), &records);
    output::write_atomic(
        &dir.join("summary.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    let mut md = summary::markdown(&summary, &plan.base.description);
    let barriers = ExperimentDir::new(dir)
        .barriers()?
        .and_then(|rows| crate::barriers::table(&rows));
    if let Some(table) = &barriers {
        md.push_str(table);
    }
    let jobs = std::fs::read(dir.join("plan.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<RunPlan>(&bytes).ok())
        .map_or(1, |p| p.jobs);
    if jobs > 1 && records.len() > 1 {
        md.push_str(&format!(
            "\n**Timings**: {jobs} runs ran at once (`--jobs {jobs}`) and competed for cores and \
             memory bandwidth; compare seconds per step only between runs made with `--jobs 1`.\n"
        ));
    }
    output::write_atomic(&dir.join("summary.md"), md.as_bytes())?;
    if print {
        println!("{}", summary::terminal(&summary, &plan.base.description));
        if let Some(table) = &barriers {
            println!("{}", table.trim_start());
        }
    }
    // The pictures are drawn as many at a time as the runs ran.
    let plots = render_plots(dir, plan, jobs)?;
    let svgs: Vec<PathBuf> = plots
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .cloned()
        .collect();
    let report = report::write(dir, &svgs)?;
    if print {
        println!(
            "written: {} ({} plots in plots/)\nreport: {}",
            dir.display(),
            plots.len(),
            report.display()
        );
    }
    if plan.base.output.tensorboard {
        let files = tensorboard::write(dir)?;
        if print {
            println!(
                "tensorboard: {} runs (tensorboard --logdir {})",
                files.len(),
                dir.join("tensorboard").display()
            );
        }
    }
    Ok(())
}

/// The plots of `dir`; for a 2-D landscape with contours, over a window that holds the
/// landscape's features and the start point, and for every landscape with a known minimum
/// `f(w) − f*` on the loss plots and the stability thresholds of plain and momentum SGD on
/// the learning-rate sweeps. Datasets are never loaded for this.
fn render_plots(dir: &Path, plan: &Plan, threads: usize) -> Result<Vec<PathBuf>> {
    let references: Vec<plots::Reference> = plan
        .base
        .measure
        .iter()
        .filter_map(|spec| {
            let main = probe::find(&spec.kind, "measure").ok()?.main;
            Some(
                spec.reference
                    .iter()
                    .map(move |(label, &value)| plots::Reference {
                        measurement: main.to_string(),
                        label: label.clone(),
                        value,
                    }),
            )
        })
        .flatten()
        .collect();
    let slopes: Vec<plots::Slopes> = plan
        .base
        .measure
        .iter()
        .filter(|spec| !spec.slopes.is_empty())
        .filter_map(|spec| {
            Some(plots::Slopes {
                measurement: probe::find(&spec.kind, "measure").ok()?.main.to_string(),
                exponents: spec.slopes.clone(),
            })
        })
        .collect();
    let description = plan.base.description.trim();
    let mut context = plots::Context {
        references,
        slopes,
        caption: (!description.is_empty()).then(|| description.to_owned()),
        smoothing: plan.base.plots.smoothing,
        scatter: plan.base.plots.scatter.clone(),
        threads,
        ..plots::Context::default()
    };
    let Some(task) = plan
        .base
        .problem
        .landscape_task()
        .transpose()
        .map_err(anyhow::Error::msg)?
    else {
        return plots::render(dir, &context);
    };
    // The base problem's minimum and curvature hold for every run only if no run changes
    // the problem.
    if !plan.runs.iter().any(|r| r.sweeps_problem()) {
        context.minimum = task.landscape.minimum();
        if let Some(sharpness) = task.landscape.sharpness_at_minimum() {
            let swept: Vec<&str> = plan
                .runs
                .iter()
                .flat_map(|r| r.point.values.keys().map(String::as_str))
                .collect();
            context.sweep_lines = plan
                .base
                .variants
                .iter()
                // A line from the variant's own momentum would be wrong where it is swept.
                .filter(|v| {
                    !swept.iter().any(|k| {
                        k.ends_with("optimizer.momentum")
                            && (k.starts_with("variants.*.")
                                || k.starts_with(&format!("variants.{}.", v.name)))
                    })
                })
                .filter_map(|v| stability_limit(v, sharpness))
                .collect();
        }
    }
    if task.landscape.dim() != 2 {
        return plots::render(dir, &context);
    }
    let window = task.landscape.window();
    let widen = |(lo, hi): (f64, f64), at: f64| {
        let (lo, hi) = (lo.min(at), hi.max(at));
        let margin = 0.05 * (hi - lo);
        (lo - margin, hi + margin)
    };
    let value = |x: f64, y: f64| task.landscape.value(&[x, y]).unwrap_or(f64::NAN);
    context.contour = Some(plots::Contour {
        value: &value,
        x: widen(window.x, task.start[0]),
        y: widen(window.y, task.start[1]),
        minima: task
            .landscape
            .minimisers()
            .into_iter()
            .filter_map(|m| Some([*m.first()?, *m.get(1)?]))
            .collect(),
    });
    plots::render(dir, &context)
}

/// The largest learning rate at which `variant` converges on a quadratic of top curvature
/// `sharpness` (near a minimum, any landscape): `2/lambda` for gradient descent,
/// `2(1 + beta)/((1 - dampening) lambda)` for heavy ball in PyTorch's form and
/// `2(1 + beta)/((1 + 2 beta) lambda)` for Nesterov, where SGD's (coupled) weight decay adds
/// to `lambda`; `None` for other optimizers, whose limit is not a property of the curvature
/// alone.
fn stability_limit(variant: &config::Variant, sharpness: f64) -> Option<plots::SweepLine> {
    let parsed = OptimizerConfig::parse(&variant.optimizer, "optimizer", 0).ok()?;
    let (momentum, dampening, nesterov, decay) = match parsed {
        OptimizerConfig::Sgd(c) => (c.momentum, c.dampening, c.nesterov, c.weight_decay),
        OptimizerConfig::NesterovLookahead(c) => (c.momentum, 0.0, true, 0.0),
        OptimizerConfig::NoisyGd(_) => (0.0, 0.0, false, 0.0),
        _ => return None,
    };
    let sharpness = sharpness + decay;
    let (label, value) = if momentum == 0.0 {
        ("2/λ_max", 2.0 / sharpness)
    } else if nesterov {
        (
            "2(1+β)/((1+2β)λ_max)",
            2.0 * (1.0 + momentum) / ((1.0 + 2.0 * momentum) * sharpness),
        )
    } else {
        (
            "2(1+β)/λ_max",
            2.0 * (1.0 + momentum) / ((1.0 - dampening) * sharpness),
        )
    };
    (value.is_finite() && sharpness > 0.0).then(|| plots::SweepLine {
        parameter: "lr".into(),
        variant: variant.name.clone(),
        label: label.into(),
        value,
    })
}

/// The plan recorded in an experiment directory (its `config.toml` and `plan.json`).
pub fn recorded(dir: &Path) -> Result<(Plan, RunPlan)> {
    if !dir.exists() {
        return Err(usage(format!(
            "{}: no such experiment directory",
            dir.display()
        )));
    }
    let config_path = dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| {
        usage(format!(
            "{}: cannot read: {e} (is this an experiment directory?)",
            config_path.display()
        ))
    })?;
    let plan = config::parse(&text, &config_path, &[], None)?;
    let plan_path = dir.join("plan.json");
    let run_plan: RunPlan = serde_json::from_slice(
        &std::fs::read(&plan_path)
            .map_err(|e| usage(format!("{}: cannot read: {e}", plan_path.display())))?,
    )
    .map_err(|e| {
        usage(format!(
            "{}: damaged ({e}); it is written by `descent run`",
            plan_path.display()
        ))
    })?;
    Ok((plan, run_plan))
}
