//! `descent benchmark`: a suite of workloads run under one of AlgoPerf's rulesets, then
//! scored; or the runs that set the workloads' targets ([`crate::benchmark`]).
//!
//! Layout, under `--out` (default `runs`):
//!
//! ```text
//! OUT/SUITE/self-tuning/WORKLOAD/       one experiment directory per workload
//! OUT/SUITE/self-tuning/score/          score.md, score.json, plots/, report.html
//! OUT/SUITE/external-tuning/...         the same for external tuning
//! OUT/SUITE/target-setting/search/WORKLOAD/, rerun/WORKLOAD/, targets.md, targets.json
//! OUT/SUITE/RULESET/experiments/        with --experiments-only: the experiment files
//! ```
//!
//! Running the same command again continues: finished runs are kept, interrupted ones resume
//! from their checkpoints, and the score is recomputed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::benchmark::{self, Ruleset, Suite};
use crate::commands::flags::{BackendArgs, OutArgs, ParallelArgs};
use crate::commands::score::{self, ClockArg, Page};
use crate::config::Plan;
use crate::error::usage;
use crate::experiment::{self, RunOptions};
use crate::output;
use crate::run_files::ExperimentDir;
use crate::scheduler::{Scheduler, ShardedJob};
use descent_score::target::workload_time;

/// Options of `descent benchmark`.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("out", |a| a.help("Output directory: OUT/SUITE/RULESET/...")))]
pub struct BenchmarkArgs {
    /// The suite file (TOML), e.g. experiments/benchmark/descent6.toml.
    pub suite: PathBuf,
    /// Which runs: the self-tuning or external-tuning leaderboard, or the target setting.
    #[arg(long, value_enum, default_value_t = Ruleset::SelfTuning)]
    pub ruleset: Ruleset,
    /// Apply the suite's [quick] (fewer studies, trials and entrants) and each workload's
    /// own [quick] (a smaller budget and a target it allows): what CI runs.
    #[arg(long)]
    pub quick: bool,
    /// Only these workloads (comma-separated names), e.g. those that need no download.
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// `--out`.
    #[command(flatten)]
    pub out: OutArgs,
    /// Time to target in optimizer steps (the same on every machine) or training seconds.
    #[arg(long, value_enum, default_value_t = ClockArg::Steps)]
    pub clock: ClockArg,
    /// Bootstrap resamples of the studies for the score's intervals.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// `--backend` and `--precision`.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// `--jobs` and `--quiet`.
    #[command(flatten)]
    pub parallel: ParallelArgs,
    /// Replace the ruleset's existing directories instead of continuing them.
    #[arg(long)]
    pub overwrite: bool,
    /// Write each workload's experiment file to OUT/SUITE/RULESET/experiments/ and run
    /// nothing: to spread them over a cluster (`descent run FILE --emit slurm --shards N`),
    /// then score the merged directories with `descent score --ruleset RULESET`.
    #[arg(long)]
    pub experiments_only: bool,
    /// Run nothing; write each workload's experiment file and a job file that runs it as
    /// `--shards N` shards (OUT/SUITE/RULESET/WORKLOAD.slurm.sh or .k8s.yaml), with the merge
    /// commands; after the merges, this command again (without --emit) scores them.
    #[arg(
        long,
        value_enum,
        requires = "shards",
        conflicts_with = "experiments_only"
    )]
    pub emit: Option<Scheduler>,
    /// How many shards `--emit` spreads each workload's runs over.
    #[arg(long, value_name = "N", requires = "emit")]
    pub shards: Option<usize>,
}

/// `descent benchmark`.
pub fn execute(args: &BenchmarkArgs) -> Result<()> {
    let options = args.backend.options(&args.parallel, None)?;
    let suite = Suite::load(&args.suite, args.quick)?;
    let plans = suite.plans(&args.suite, args.ruleset, &args.workloads, args.quick)?;
    let root = benchmark::ruleset_dir(&args.out.out, &suite, args.ruleset);
    if args.out.out.exists() && !args.out.out.is_dir() {
        return Err(usage(format!(
            "--out {}: is a file, not a directory",
            args.out.out.display()
        )));
    }
    if args.experiments_only || args.emit.is_some() {
        if args.ruleset == Ruleset::TargetSetting {
            return Err(usage(
                "--experiments-only or --emit with --ruleset target-setting: the reruns depend \
                 on the searches' results; run target setting here (it is the smallest part)",
            ));
        }
        let files = experiment_files(&root.join("experiments"), &plans)?;
        // Every job is checked before anything is written.
        let jobs = match args.shards {
            Some(shards) if args.emit.is_some() => jobs(args, shards, &root, &plans, &files)?,
            _ => Vec::new(),
        };
        write_experiments(&root.join("experiments"), &plans, &files)?;
        if let Some(scheduler) = args.emit {
            write_jobs(scheduler, &jobs)?;
        }
        return Ok(());
    }
    let started = Instant::now();
    match args.ruleset {
        Ruleset::SelfTuning | Ruleset::ExternalTuning => {
            let dirs = run_all(&root, plans, &options, args.overwrite)?;
            let ruleset = match args.ruleset {
                Ruleset::ExternalTuning => score::Ruleset::ExternalTuning,
                _ => score::Ruleset::SelfTuning,
            };
            let board = score::score(&dirs, args.clock, args.resamples, ruleset)?;
            let page = Page {
                title: format!("{}: {}", suite.name, args.ruleset.name()),
                description: suite.description.clone(),
                rows: provenance(args, &dirs, started)?,
            };
            let out = root.join(score_dir(&suite, &args.workloads));
            let files = score::write(&out, &board, &page)?;
            print!("{}", score::markdown(&board));
            println!(
                "written: {} ({} files; report: {})",
                out.display(),
                files.len(),
                out.join("report.html").display()
            );
        }
        Ruleset::TargetSetting => set_targets(args, &suite, &root, plans, &options)?,
    }
    Ok(())
}

/// `score`, or for some of the workloads `score-A+B`: a partial leaderboard never replaces
/// the whole one.
pub fn score_dir(suite: &Suite, only: &[String]) -> String {
    let all = suite
        .workloads
        .iter()
        .all(|w| only.is_empty() || only.contains(&w.name));
    if all {
        "score".to_owned()
    } else {
        let names: Vec<&str> = suite
            .workloads
            .iter()
            .filter(|w| only.contains(&w.name))
            .map(|w| w.name.as_str())
            .collect();
        format!("score-{}", names.join("+"))
    }
}

/// Each plan into `root/NAME/` (continued where it was begun); the directories.
fn run_all(
    root: &Path,
    plans: Vec<Plan>,
    options: &RunOptions,
    overwrite: bool,
) -> Result<Vec<PathBuf>> {
    let count = plans.len();
    let mut dirs = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        let dir = root.join(&plan.name);
        if !options.silent {
            eprintln!(
                "workload {}/{count}: {} ({} runs) -> {}",
                i + 1,
                plan.name,
                plan.runs.len(),
                dir.display()
            );
        }
        run_one(&dir, plan, options, overwrite)?;
        dirs.push(dir);
    }
    Ok(dirs)
}

fn run_one(dir: &Path, plan: Plan, options: &RunOptions, overwrite: bool) -> Result<()> {
    if overwrite && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    let prepared = experiment::prepare(plan, None)?;
    experiment::run_or_continue(dir, &prepared, options)
}

/// Each plan's experiment file in `dir` (its path) and text.
fn experiment_files(dir: &Path, plans: &[Plan]) -> Result<Vec<(PathBuf, String)>> {
    plans
        .iter()
        .map(|plan| {
            let text = toml::to_string(&plan.table).context("an experiment as TOML")?;
            Ok((dir.join(format!("{}.toml", plan.name)), text))
        })
        .collect()
}

fn write_experiments(dir: &Path, plans: &[Plan], files: &[(PathBuf, String)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (plan, (path, text)) in plans.iter().zip(files) {
        output::write_atomic(path, text.as_bytes())?;
        println!("written: {} ({} runs)", path.display(), plan.runs.len());
    }
    Ok(())
}

/// One job per workload, each merging into `root/WORKLOAD`, where a later `descent
/// benchmark` finds the runs finished and scores them; all checked.
fn jobs(
    args: &BenchmarkArgs,
    shards: usize,
    root: &Path,
    plans: &[Plan],
    files: &[(PathBuf, String)],
) -> Result<Vec<ShardedJob>> {
    let absolute = |path: &Path| {
        std::path::absolute(path).with_context(|| format!("{}: no absolute path", path.display()))
    };
    let jobs: Vec<ShardedJob> = plans
        .iter()
        .zip(files)
        .map(|(plan, (file, text))| {
            Ok(ShardedJob {
                name: plan.name.clone(),
                runs: plan.runs.len(),
                shards: shards.min(plan.runs.len()),
                program: std::env::current_exe()
                    .context("cannot find the descent binary's path")?,
                workdir: std::env::current_dir().context("cannot read the working directory")?,
                file: absolute(file)?,
                file_text: text.clone(),
                out: absolute(root)?,
                run_options: vec![
                    "--backend".into(),
                    args.backend.backend().name().into(),
                    "--precision".into(),
                    args.backend.precision.name().into(),
                ],
            })
        })
        .collect::<Result<_>>()?;
    for job in &jobs {
        job.check()?;
    }
    Ok(jobs)
}

/// The job files, and how to go on.
fn write_jobs(scheduler: Scheduler, jobs: &[ShardedJob]) -> Result<()> {
    for job in jobs {
        let (path, next) = scheduler.write(job)?;
        println!(
            "written: {} ({} runs in {} shards)",
            path.display(),
            job.runs,
            job.shards
        );
        for line in next {
            println!("  {line}");
        }
    }
    // This command line without --emit and --shards.
    let mut again = Vec::new();
    let mut skip = false;
    for arg in crate::provenance::command_line() {
        if std::mem::take(&mut skip) {
            continue;
        }
        if arg == "--emit" || arg == "--shards" {
            skip = true;
        } else if !arg.starts_with("--emit=") && !arg.starts_with("--shards=") {
            again.push(arg);
        }
    }
    println!(
        "when every workload is merged, score them: {}",
        again.join(" ")
    );
    Ok(())
}

/// The rows of report.html's "How it was run".
fn provenance(
    args: &BenchmarkArgs,
    dirs: &[PathBuf],
    started: Instant,
) -> Result<Vec<(String, String)>> {
    let mut rows = vec![
        (
            "rerun".to_owned(),
            crate::provenance::command_line().join(" "),
        ),
        ("suite".to_owned(), args.suite.display().to_string()),
    ];
    if let Some(first) = dirs.first() {
        let config = ExperimentDir::new(first).text("config.toml")?;
        const SHOWN: [&str; 5] = [
            "git_revision",
            "backend",
            "precision",
            "machine",
            "matrix_products",
        ];
        rows.extend(
            crate::report::provenance(&config)
                .into_iter()
                .filter(|(key, _)| SHOWN.contains(&key.as_str()))
                .map(|(key, value)| (key.replace('_', " "), value)),
        );
    }
    let mut runs = 0usize;
    let mut training = 0.0f64;
    for dir in dirs {
        for run in ExperimentDir::new(dir).runs()? {
            runs += 1;
            training += run.record.seconds;
        }
    }
    rows.push((
        "runs".to_owned(),
        format!(
            "{runs}, {:.0} s of training in all; this invocation {:.0} s of wall time (one \
             that continued a benchmark counts only what it ran)",
            training,
            started.elapsed().as_secs_f64()
        ),
    ));
    rows.push(("date".to_owned(), crate::provenance::date()));
    Ok(rows)
}

/// One workload's target as the target setting found it.
#[derive(Debug, Serialize, Deserialize)]
pub struct TargetReport {
    /// The workload.
    pub workload: String,
    /// The target's metric.
    pub metric: String,
    /// The trial chosen (the best of the search).
    pub chosen: String,
    /// Its variant table, as TOML.
    pub chosen_config: String,
    /// Its best value in the search.
    pub search_best: f64,
    /// Each rerun seed's best value (`None`: none finite).
    pub reruns: Vec<(u64, Option<f64>)>,
    /// Their median (a rerun without a finite value counts as the worst): the target;
    /// `None` where more than half had none.
    pub target: Option<f64>,
    /// The target the suite file holds now.
    pub suite_target: Option<f64>,
}

fn set_targets(
    args: &BenchmarkArgs,
    suite: &Suite,
    root: &Path,
    searches: Vec<Plan>,
    options: &RunOptions,
) -> Result<()> {
    let mut reports = Vec::new();
    for search in searches {
        let name = search.name.clone();
        let metric = benchmark::target_metric(&search)?;
        let suite_target = search.base.target.as_ref().map(|t| t.value);
        let variants = search.table.get("variants").cloned();
        let dir = root.join("search").join(&name);
        if !options.silent {
            eprintln!(
                "{name}: search, {} runs -> {}",
                search.runs.len(),
                dir.display()
            );
        }
        run_one(&dir, search, options, args.overwrite)?;
        let mut best: Option<(String, f64)> = None;
        for run in ExperimentDir::new(&dir).runs()? {
            let Some(value) = run.record.best.of(metric).filter(|v| v.is_finite()) else {
                continue;
            };
            // Strictly better: the first of equals stays.
            if best
                .as_ref()
                .is_none_or(|(_, b)| metric.better(value, *b) != *b)
            {
                best = Some((run.record.variant.clone(), value));
            }
        }
        let Some((chosen, search_best)) = best else {
            return Err(usage(format!(
                "{}: no trial of the baselines gave a finite {metric}: widen their search spaces",
                dir.display()
            )));
        };
        let chosen_table = match &variants {
            Some(Value::Array(all)) => all
                .iter()
                .filter_map(Value::as_table)
                .find(|t| t.get("name").and_then(Value::as_str) == Some(chosen.as_str()))
                .cloned(),
            _ => None,
        }
        .ok_or_else(|| usage(format!("{chosen}: not among the search's variants")))?;
        let workload = suite
            .workloads
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| usage(format!("{name}: not in the suite")))?;
        let rerun = suite.experiment(
            &args.suite,
            workload,
            vec![chosen_table.clone()],
            &suite.target_setting.seeds,
            benchmark::TARGET_SETTING_BUDGET,
            args.quick,
        )?;
        let rerun_dir = root.join("rerun").join(&name);
        if !options.silent {
            eprintln!(
                "{name}: best trial {chosen} ({metric} {search_best}), rerun with {} seeds -> {}",
                suite.target_setting.seeds.len(),
                rerun_dir.display()
            );
        }
        run_one(&rerun_dir, rerun, options, args.overwrite)?;
        let mut reruns: Vec<(u64, Option<f64>)> = ExperimentDir::new(&rerun_dir)
            .runs()?
            .into_iter()
            .map(|r| {
                (
                    r.record.seed,
                    r.record.best.of(metric).filter(|v| v.is_finite()),
                )
            })
            .collect();
        reruns.sort_by_key(|r| r.0);
        // A rerun with no finite value counts as the worst: dropping it would let the seeds
        // that went well set the target alone.
        let worst = if metric.higher_is_better() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        let values: Vec<f64> = reruns.iter().map(|r| r.1.unwrap_or(worst)).collect();
        reports.push(TargetReport {
            workload: name,
            metric: metric.to_string(),
            chosen,
            chosen_config: toml::to_string(&chosen_table).unwrap_or_default(),
            search_best,
            // numpy's median, as AlgoPerf's scoring takes it over studies.
            target: Some(workload_time(&values)).filter(|t| t.is_finite()),
            reruns,
            suite_target,
        });
    }
    // Targets set before for workloads not run now are kept (`--workloads`).
    let path = root.join("targets.json");
    if path.exists() {
        let earlier: Vec<TargetReport> = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
        )
        .map_err(|e| usage(format!("{}: not a targets file: {e}", path.display())))?;
        for old in earlier {
            if !reports.iter().any(|r| r.workload == old.workload) {
                reports.push(old);
            }
        }
    }
    let order = |r: &TargetReport| {
        suite
            .workloads
            .iter()
            .position(|w| w.name == r.workload)
            .unwrap_or(usize::MAX)
    };
    reports.sort_by_key(order);
    output::write_atomic(&path, &serde_json::to_vec_pretty(&reports)?)?;
    let md = targets_markdown(suite, &reports);
    output::write_atomic(&root.join("targets.md"), md.as_bytes())?;
    print!("{md}");
    println!("written: {}", root.join("targets.md").display());
    Ok(())
}

fn targets_markdown(suite: &Suite, reports: &[TargetReport]) -> String {
    let mut text = format!(
        "Targets of {}: each baseline's first {} trials ({}) with seed {} on {}x the budget; \
         the best trial rerun with seeds {:?}; the target is the median of the reruns' best \
         values.\n\n| workload | metric | best trial | its search value | reruns' best | target \
         (median) | suite file now |\n|---|---|---|---|---|---|---|\n",
        suite.name,
        suite.target_setting.trials,
        suite.target_setting.baselines.join(", "),
        suite.target_setting.search_seed,
        benchmark::TARGET_SETTING_BUDGET,
        suite.target_setting.seeds,
    );
    for r in reports {
        let reruns: Vec<String> = r
            .reruns
            .iter()
            .map(|(_, v)| v.map_or("-".to_owned(), |v| format!("{v:.4}")))
            .collect();
        text.push_str(&format!(
            "| {} | {} | {} | {:.4} | {} | {} | {} |\n",
            r.workload,
            r.metric,
            r.chosen,
            r.search_best,
            reruns.join(", "),
            r.target.map_or("-".to_owned(), |t| format!("{t:.4}")),
            r.suite_target.map_or("-".to_owned(), |t| format!("{t}")),
        ));
    }
    text.push_str("\nThe chosen trials:\n\n");
    for r in reports {
        let config: Table = r.chosen_config.parse().unwrap_or_default();
        let fields: Vec<String> = config
            .iter()
            .filter(|(key, _)| *key != "name")
            .map(|(key, value)| format!("{key} = {value}"))
            .collect();
        text.push_str(&format!(
            "- {}: {} `{}`\n",
            r.workload,
            r.chosen,
            fields.join(", ")
        ));
    }
    text
}
