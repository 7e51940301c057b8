//! `descent surface`: the probes and `[barriers]` on a finished experiment's stored
//! parameters, after the runs.
//!
//! Each run's parameters come from its snapshots (`[output] snapshots_every`) or its final
//! `parameters.bin`. At each chosen step the probes see what they would have seen during the
//! run at that step (the same parameters, items and random streams: a probe measured here at
//! a snapshot's step gives the run's own measurement bit for bit). The results form an
//! experiment directory of their own (default `DIR/surface`): per run its `measurements.csv`
//! and `profiles.csv` beside copies of the run's metrics, `barriers.csv`, `summary.md`,
//! `plots/` and `report.html`. Nothing is written under the final name until every analysis
//! has finished.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;

use crate::backend::{self, BackendChoice, Precision};
use crate::config::{self, BarriersConfig, MeasureSpec, RunSpec};
use crate::error::usage;
use crate::experiment::{self, RunPlan};
use crate::measure::{self, Job, measure_all};
use crate::output;
use crate::probe::{LandscapeSubject, Probes};
use crate::problem::Task;
use crate::run_files::ExperimentDir;
use crate::state::{Progressed, RunRecord};
use crate::train;

/// Options of `descent surface`.
#[derive(clap::Args, Debug, Clone)]
pub struct SurfaceArgs {
    /// An experiment directory (OUT/EXPERIMENT) whose runs stored their parameters
    /// (`[output] snapshots_every = N`, or `[barriers]` for the final ones).
    pub dir: PathBuf,
    /// A probe, as the body of a TOML inline table:
    /// `--measure 'kind = "hessian", top = 10'` (repeatable; `descent help run` lists them).
    #[arg(long = "measure", value_name = "TABLE")]
    pub measures: Vec<String>,
    /// The loss between runs' final parameters, as the body of a TOML inline table:
    /// `--barriers 'between = "variants"'` (`--barriers ''` for the defaults).
    #[arg(long, value_name = "TABLE")]
    pub barriers: Option<String>,
    /// A TOML file of `[[measure]]` tables and an optional `[barriers]` table, as in
    /// experiment files (added to --measure and --barriers).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Which stored steps: `all` (every snapshot), `last`, or steps such as `0,500,1000`.
    #[arg(long, default_value = "all")]
    pub steps: String,
    /// Only these runs (their ids, comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Where the results go (default DIR/surface); it must not exist.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The precision of the analyses (default the runs'): `f64` gives an `f32` run's
    /// Hessian in double precision, at the same parameters.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The analyses of a `--file`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Analyses {
    #[serde(default)]
    measure: Vec<MeasureSpec>,
    barriers: Option<BarriersConfig>,
}

/// Which stored steps to analyse.
#[derive(Debug, Clone, PartialEq)]
enum Steps {
    All,
    Last,
    These(Vec<u64>),
}

impl Steps {
    fn parse(text: &str) -> Result<Steps> {
        match text.trim() {
            "all" => Ok(Steps::All),
            "last" => Ok(Steps::Last),
            list => list
                .split(',')
                .map(|s| s.trim().parse::<u64>())
                .collect::<std::result::Result<Vec<u64>, _>>()
                .map(|mut steps| {
                    steps.sort_unstable();
                    steps.dedup();
                    Steps::These(steps)
                })
                .map_err(|_| {
                    usage(format!(
                        "--steps {text:?}: give all, last, or steps such as 0,500,1000"
                    ))
                }),
        }
    }
}

/// `descent surface`.
pub fn execute(args: &SurfaceArgs) -> Result<()> {
    let dir = &args.dir;
    let (plan, run_plan) = experiment::recorded(dir)?;
    let precision = args.precision.unwrap_or(run_plan.precision);
    backend::check(run_plan.backend, precision)?;
    let (measure, barriers) = analyses(args)?;
    if measure.is_empty() && barriers.is_none() {
        let kinds: Vec<&str> = crate::probe::PROBES.iter().map(|e| e.kind).collect();
        return Err(usage(format!(
            "nothing to analyse: give --measure 'kind = \"hessian\"' (probes: {}), --barriers '' \
             or --file",
            kinds.join(", ")
        )));
    }
    let steps = Steps::parse(&args.steps)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("surface"));
    if out.exists() {
        return Err(usage(format!(
            "{}: exists already; remove it or give another --out",
            out.display()
        )));
    }

    // The analysed experiment: the recorded one with these probes and barriers.
    let mut table = ExperimentDir::new(dir).config()?;
    table.remove("measure");
    table.remove("barriers");
    // A target on a probe's value needs that probe; the runs' records keep when they met it.
    if plan
        .base
        .target
        .as_ref()
        .is_some_and(|t| t.metric.measured())
        && !measure.iter().any(|m| m.kind == "full_train")
    {
        table.remove("target");
    }
    if !measure.is_empty() {
        table.insert("measure".into(), toml::Value::try_from(&measure)?);
    }
    if let Some(b) = &barriers {
        table.insert("barriers".into(), toml::Value::try_from(b)?);
    }
    let text = format!(
        "# `descent surface` of {}: the runs' stored parameters analysed after the runs.\n{}",
        dir.display(),
        toml::to_string_pretty(&table)?
    );
    let config_path = out.join("config.toml");
    let analysed = config::parse(&text, &config_path, &[], None)?;
    let prepared = experiment::prepare(analysed, None)?;

    let jobs = jobs(dir, &prepared.runs, &args.runs, &steps, !measure.is_empty())?;
    let partial = partial_dir(&out);
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("cannot remove {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let work = || -> Result<()> {
        output::write_atomic(&partial.join("config.toml"), text.as_bytes())?;
        let recorded = RunPlan {
            file: config_path.clone(),
            backend: run_plan.backend,
            precision,
            shard: None,
            runs: jobs.iter().map(|j| j.spec.id.clone()).collect(),
            jobs: 1,
        };
        output::write_atomic(
            &partial.join("plan.json"),
            &serde_json::to_vec_pretty(&recorded)?,
        )?;
        let total: u64 = jobs.iter().map(|j| j.steps.len() as u64).sum();
        let bar = progress_bar(total, args.quiet || measure.is_empty());
        for job in &jobs {
            analyse(
                job,
                &prepared.task,
                run_plan.backend,
                precision,
                &partial,
                &bar,
            )
            .with_context(|| format!("run {}", job.spec.id))?;
        }
        bar.finish_and_clear();
        if let Some(config) = &barriers {
            let joined = crate::barriers::compute_into(
                dir,
                &partial,
                config,
                &prepared.task,
                run_plan.backend,
                precision,
            )?;
            if joined == 0 {
                return Err(usage(format!(
                    "--barriers: no two finished runs of {} to join (between = \"{}\" needs \
                     two seeds of a variant, or two variants with one seed, that kept their \
                     final parameters)",
                    dir.display(),
                    config
                        .between
                        .unwrap_or(crate::config::Between::Seeds)
                        .name()
                )));
            }
        }
        Ok(())
    };
    if let Err(e) = work() {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, &out)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    experiment::finish(&out, &prepared.plan, !args.quiet)
}

/// The probes and barriers of `--measure`, `--barriers` and `--file`.
fn analyses(args: &SurfaceArgs) -> Result<(Vec<MeasureSpec>, Option<BarriersConfig>)> {
    let mut found = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("{}: cannot read: {e}", path.display())))?;
            toml::from_str::<Analyses>(&text)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?
        }
        None => Analyses::default(),
    };
    for (i, body) in args.measures.iter().enumerate() {
        found
            .measure
            .push(inline(body, &format!("--measure #{}", i + 1))?);
    }
    if let Some(body) = &args.barriers {
        if found.barriers.is_some() {
            return Err(usage(
                "[barriers] is given twice: in --file and by --barriers",
            ));
        }
        found.barriers = Some(inline(body, "--barriers")?);
    }
    Ok((found.measure, found.barriers))
}

/// `body` read as the inside of a TOML inline table, `{ body }`.
fn inline<T: serde::de::DeserializeOwned>(body: &str, flag: &str) -> Result<T> {
    #[derive(Deserialize)]
    struct Holder<T> {
        table: T,
    }
    toml::from_str::<Holder<T>>(&format!("table = {{ {body} }}"))
        .map(|h| h.table)
        .map_err(|e| {
            usage(format!(
                "{flag} {body:?}: {}",
                e.message().trim_end_matches('\n')
            ))
        })
}

/// The runs to analyse and their steps; a run with nothing stored is refused, naming the fix.
fn jobs(
    dir: &Path,
    specs: &[RunSpec],
    only: &[String],
    steps: &Steps,
    measuring: bool,
) -> Result<Vec<Job>> {
    let stored = ExperimentDir::new(dir).runs()?;
    if let Some(unknown) = only
        .iter()
        .find(|id| !stored.iter().any(|s| &s.record.run_id == *id))
    {
        let ids: Vec<&str> = stored.iter().map(|s| s.record.run_id.as_str()).collect();
        return Err(usage(format!(
            "--runs {unknown}: no finished run of that id in {}; runs: {}",
            dir.display(),
            ids.join(", ")
        )));
    }
    let mut jobs = Vec::new();
    for run in stored {
        let id = &run.record.run_id;
        if !only.is_empty() && !only.contains(id) {
            continue;
        }
        let Some(spec) = specs.iter().find(|s| &s.id == id) else {
            return Err(usage(format!(
                "{}: run {id} is not in the experiment's config.toml",
                dir.display()
            )));
        };
        let stored_steps: Vec<(u64, bool)> = {
            let snapshots = run.dir.snapshot_steps()?;
            if !snapshots.is_empty() {
                snapshots.into_iter().map(|s| (s, true)).collect()
            } else if run.dir.path().join(output::PARAMETERS_BIN).is_file() {
                vec![(run.record.steps, false)]
            } else if measuring {
                return Err(usage(format!(
                    "{}: run {id} stored no parameters; add `[output] snapshots_every = N` (or \
                     [barriers]) to the experiment and run it again",
                    dir.display()
                )));
            } else {
                Vec::new()
            }
        };
        let chosen: Vec<(u64, bool)> = match steps {
            Steps::All => stored_steps,
            Steps::Last => stored_steps.last().copied().into_iter().collect(),
            Steps::These(wanted) => {
                if let Some(missing) = wanted
                    .iter()
                    .find(|w| !stored_steps.iter().any(|(s, _)| s == *w))
                {
                    let have: Vec<String> =
                        stored_steps.iter().map(|(s, _)| s.to_string()).collect();
                    return Err(usage(format!(
                        "--steps: run {id} stored no parameters at step {missing}; it has {}",
                        have.join(", ")
                    )));
                }
                stored_steps
                    .into_iter()
                    .filter(|(s, _)| wanted.contains(s))
                    .collect()
            }
        };
        jobs.push(Job {
            stored: run,
            spec: spec.clone(),
            steps: chosen,
        });
    }
    Ok(jobs)
}

fn partial_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "surface".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.partial"))
}

fn progress_bar(total: u64, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:30!} [{bar:25}] {pos}/{len} stored steps, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// Measures `job`'s probes at its steps and writes its directory under `out`.
fn analyse(
    job: &Job,
    task: &Task,
    backend: BackendChoice,
    precision: Precision,
    out: &Path,
    bar: &ProgressBar,
) -> Result<()> {
    bar.set_prefix(job.spec.id.clone());
    let own;
    let task = if job.spec.sweeps_problem() {
        own = Task::build(&job.spec.experiment.problem).map_err(usage)?;
        &own
    } else {
        task
    };
    let experiment = &job.spec.experiment;
    let plan = task
        .batch_plan(&experiment.batch, job.spec.seed)
        .map_err(usage)?;
    let limits = train::limits(experiment, task, &plan);
    // A probe without `every` measures at every chosen step.
    let mut probes = Probes::build(
        &experiment.measure,
        task,
        1,
        limits.batches_per_epoch,
        job.spec.seed,
    )
    .map_err(usage)?;
    let measured = match task {
        Task::Landscape(t) => {
            let w0 = t.start.clone();
            measure_all(job, &mut probes, &w0, bar, |w| {
                Ok(Box::new(LandscapeSubject::new(t, w.to_vec())))
            })?
        }
        Task::Supervised(t) => {
            measure::measure_model(backend, precision, t, job, &mut probes, bar)?
        }
    };
    write_run(job, measured, out)
}

/// The run's directory under `out`: its metrics, timing and trajectory copied, the new
/// measurements and profiles, and its record with their last values.
fn write_run(job: &Job, mut state: Progressed, out: &Path) -> Result<()> {
    let source = &job.stored.dir;
    state.rows = source.metrics()?.unwrap_or_default();
    state.timing = source.timing()?.unwrap_or_default();
    state.trajectory = source.trajectory()?.unwrap_or_default();
    let mut record: RunRecord = job.stored.record.clone();
    record.measured = state.last_measured();
    let dir = out.join(&job.spec.id);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    output::write_run(&dir, &state, &record)
}
