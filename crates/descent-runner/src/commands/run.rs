//! `descent run`: an experiment file, or the embedded defaults.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::commands::flags::{BackendArgs, OutArgs, OverrideArgs, ParallelArgs};
use crate::config::{self, Plan};
use crate::error::usage;
use crate::experiment::{self, DEFAULTS, Prepared};
use crate::scheduler::{Scheduler, ShardedJob};
use crate::tune;

/// Options of `descent run`.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("quiet", |a| a.help("No progress bars (for CI logs)")))]
pub struct RunArgs {
    /// The experiment file (TOML). Without it, the embedded default experiments run.
    pub file: Option<PathBuf>,
    /// `--out`.
    #[command(flatten)]
    pub out: OutArgs,
    /// `--backend` and `--precision`.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// `--jobs` and `--quiet`.
    #[command(flatten)]
    pub parallel: ParallelArgs,
    /// `--seeds` and `--set`.
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Run only shard I of N (0-based): runs whose index is I modulo N. An existing shard
    /// directory of the same configuration is continued (finished runs kept, interrupted
    /// ones resumed from their checkpoints), so a killed array task is simply resubmitted.
    #[arg(long, value_name = "I/N", conflicts_with = "emit")]
    pub shard: Option<String>,
    /// Run nothing; write a job file that runs the experiment as `--shards N` shards on a
    /// cluster scheduler (OUT/NAME.slurm.sh or OUT/NAME.k8s.yaml), with the merge command.
    #[arg(long, value_enum, requires = "shards", requires = "file")]
    pub emit: Option<Scheduler>,
    /// How many shards `--emit` spreads the runs over (at most the number of runs).
    #[arg(long, value_name = "N", requires = "emit")]
    pub shards: Option<usize>,
    /// Replace an existing output directory of the same experiment (the embedded defaults
    /// always replace theirs).
    #[arg(long)]
    pub overwrite: bool,
    /// Apply the file's [quick] overrides (a small budget and few seeds: what CI checks).
    #[arg(long)]
    pub quick: bool,
    /// Also write TensorBoard event files (as `[output] tensorboard = true`).
    #[arg(long)]
    pub tensorboard: bool,
}

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || {
        usage(format!(
            "--shard {text}: expected I/N with 0 <= I < N, e.g. 0/4"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// `descent run`.
pub fn execute(args: &RunArgs) -> Result<()> {
    args.backend.check()?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    let seeds = args.overrides.seeds()?;
    let options = args
        .parallel
        .options(args.backend.backend(), args.backend.precision, shard)?;
    let out = &args.out.out;
    let mut sets = args.overrides.sets().to_vec();
    if args.tensorboard {
        sets.push("output.tensorboard=true".into());
    }
    let plans: Vec<Plan> = match &args.file {
        Some(file) => {
            if file.is_dir() {
                return Err(usage(format!(
                    "{}: is a directory, not an experiment file",
                    file.display()
                )));
            }
            let plan = config::load_with(file, &sets, seeds, args.quick)?;
            tune::check_table(&plan)?;
            vec![plan]
        }
        None => DEFAULTS
            .iter()
            .map(|(file, text)| {
                // The embedded defaults are small already: --quick leaves them as they are.
                config::parse(text, Path::new(file), &sets, seeds)
            })
            .collect::<Result<_>>()?,
    };
    let prepared: Vec<Prepared> = plans
        .into_iter()
        .map(|p| experiment::prepare(p, shard))
        .collect::<Result<_>>()?;
    if out.exists() && !out.is_dir() {
        return Err(usage(format!(
            "--out {}: is a file, not a directory",
            out.display()
        )));
    }
    if let (Some(scheduler), Some(shards), Some(file), [p]) =
        (args.emit, args.shards, &args.file, &prepared[..])
    {
        return emit(args, scheduler, shards, file, p);
    }
    // The embedded defaults are demonstrations: running them again replaces them. A shard
    // is continued instead (below).
    if !args.overwrite && args.file.is_some() && shard.is_none() {
        for p in &prepared {
            experiment::refuse_existing(&out.join(&p.plan.name))?;
        }
    }
    for p in prepared {
        let dir = out.join(&p.plan.name);
        if shard.is_some()
            && args.file.is_some()
            && !args.overwrite
            && experiment::continue_shard(&dir, &p, &options)?
        {
            continue;
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        experiment::run_prepared(&dir, &p, &options)?;
    }
    Ok(())
}

/// `descent run FILE --emit SCHEDULER --shards N`: the job file, nothing run.
fn emit(
    args: &RunArgs,
    scheduler: Scheduler,
    shards: usize,
    file: &Path,
    prepared: &Prepared,
) -> Result<()> {
    let runs = prepared.plan.runs.len();
    let absolute = |path: &Path| {
        std::path::absolute(path).with_context(|| format!("{}: no absolute path", path.display()))
    };
    let file_text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut run_options = vec![
        "--backend".to_string(),
        args.backend.backend().name().to_string(),
        "--precision".into(),
        args.backend.precision.name().to_string(),
    ];
    if let Some(seeds) = &args.overrides.seeds {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        run_options.extend(["--seeds".into(), seeds.join(",")]);
    }
    for set in args.overrides.sets() {
        run_options.extend(["--set".into(), set.clone()]);
    }
    if args.quick {
        run_options.push("--quick".into());
    }
    if args.tensorboard {
        run_options.push("--tensorboard".into());
    }
    let job = ShardedJob {
        name: prepared.plan.name.clone(),
        runs,
        shards,
        program: std::env::current_exe().context("cannot find the descent binary's path")?,
        workdir: std::env::current_dir().context("cannot read the working directory")?,
        file: absolute(file)?,
        file_text,
        out: absolute(&args.out.out)?,
        run_options,
    };
    job.check()?;
    let path = scheduler.file(&job.out, &job.name);
    if path.exists() && !args.overwrite {
        return Err(usage(format!(
            "{}: exists already; pass --overwrite to replace it",
            path.display()
        )));
    }
    std::fs::create_dir_all(&job.out)
        .with_context(|| format!("cannot create {}", job.out.display()))?;
    let (path, next) = scheduler.write(&job)?;
    println!(
        "written: {} ({runs} runs in {shards} shards)",
        path.display()
    );
    for line in next {
        println!("{line}");
    }
    Ok(())
}
