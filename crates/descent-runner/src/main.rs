//! `descent`: run optimizer experiments and report what they show.
//!
//! One TOML file in `experiments/` becomes many runs (variants x sweep points x seeds); each
//! run writes its metrics beside the resolved config, and the experiment gets a summary over
//! seeds and plots. See `descent help <command>` and the README.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

mod compare;
mod config;
mod execute;
mod optim;
mod output;
mod plots;
mod problem;
mod summary;
mod train;

/// Study gradient-descent optimizers with real numbers: seeds, statistics, plots.
#[derive(Parser, Debug)]
#[command(name = "descent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment file (or, with no file, the embedded default experiments).
    ///
    /// Every variant runs at every sweep point with every seed. Outputs go to
    /// OUT/EXPERIMENT/: config.toml (resolved, with git revision, backend, precision and
    /// machine), one directory per run (metrics.csv, timing.csv, trajectory.csv for
    /// landscapes, run.json), summary.json, summary.md and plots/ (SVG and PNG).
    ///
    /// Exit status: 0 on success (diverged runs are results, not failures), 2 for bad input
    /// (nothing is written), 1 if a run fails for another reason.
    Run(RunArgs),
    /// Parse and check an experiment file completely; run nothing.
    Validate {
        /// The experiment file.
        file: PathBuf,
        /// Override a field, e.g. --set variants.*.lr=0.1 (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
    },
    /// List the experiments in a directory with their one-line descriptions.
    List {
        /// Where to look.
        #[arg(default_value = "experiments")]
        dir: PathBuf,
    },
    /// Re-render summary.json, summary.md and the plots of an experiment directory from its
    /// stored metrics.
    Report {
        /// An experiment directory (OUT/EXPERIMENT).
        dir: PathBuf,
    },
    /// Finish an interrupted experiment: finished runs are kept, interrupted runs continue
    /// from their last checkpoint (bit for bit on ndarray), the rest start.
    Resume {
        /// An experiment directory (OUT/EXPERIMENT).
        dir: PathBuf,
        /// Parallel runs (default: the number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Run the same runs on several backends (same seeds, weights and batches) and compare
    /// time per step, samples/s, final metrics and how far parameters and losses drift apart.
    ///
    /// Writes OUT/EXPERIMENT-compare/compare.json and compare.md, and each backend's run
    /// directories beside them.
    Compare(compare::CompareArgs),
    /// Join the directories of shards (`run --shard I/N`) into one experiment directory with
    /// one summary.
    Merge {
        /// The shards' experiment directories.
        #[arg(required = true, num_args = 1..)]
        dirs: Vec<PathBuf>,
        /// Where the merged experiment goes (default: the first directory with `-merged`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct RunArgs {
    /// The experiment file (TOML). Without it, the embedded default experiments run.
    file: Option<PathBuf>,
    /// Output directory; the experiment goes to OUT/EXPERIMENT (the experiment's name).
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// Backend (compiled in through its cargo feature).
    #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
    backend: BackendChoice,
    /// Floating-point precision.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seeds, replacing the file's list: e.g. --seeds 0,1,2,3,4.
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Override a field, e.g. --set variants.*.lr=0.1 --set batch.size=full (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// No progress bars (for CI logs).
    #[arg(long)]
    quiet: bool,
    /// Run only shard I of N (0-based): runs whose index is I modulo N.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Replace an existing output directory of the same experiment (the embedded defaults
    /// always replace theirs).
    #[arg(long)]
    overwrite: bool,
}

/// Compute backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// CPU: burn-ndarray.
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12).
    Wgpu,
}

/// Floating-point precision of parameters and arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 64-bit floats (ndarray only).
    F64,
}

/// An error in what the user asked for: reported with exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.chain().any(|c| c.downcast_ref::<UsageError>().is_some()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => execute::run(&args),
        Command::Validate { file, sets } => execute::validate(&file, &sets),
        Command::List { dir } => list(&dir),
        Command::Report { dir } => execute::report(&dir),
        Command::Resume { dir, jobs, quiet } => execute::resume(&dir, jobs, quiet),
        Command::Merge { dirs, out } => execute::merge(&dirs, out.as_deref()),
        Command::Compare(args) => compare::compare(&args),
    }
}

fn list(dir: &Path) -> Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| UsageError(format!("{}: cannot list experiments: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        println!("no experiments (*.toml) in {}", dir.display());
    }
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match config::load(&file, &[], None) {
            Ok(plan) => println!(
                "{stem:<28} {:>4} runs  {}",
                plan.runs.len(),
                plan.base.description
            ),
            Err(e) => println!("{stem:<28} INVALID  {e:#}"),
        }
    }
    Ok(())
}

/// Git revision of the working tree the binary runs in, if any.
pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown (not a git checkout)".into(),
    }
}

/// One line about the machine: CPU model, cores, OS.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Reads a path that must exist, for messages.
pub fn must_exist(path: &Path, what: &str) -> Result<()> {
    if !path.exists() {
        return Err(UsageError(format!("{}: no such {what}", path.display())).into());
    }
    Ok(())
}
