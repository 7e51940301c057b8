//! The command line: clap's types for every command, and the dispatch to [`crate::commands`].

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands::flags::{ParallelArgs, SetArgs};
use crate::commands::{
    bench, benchmark, compare, export, list, merge, report, resume, run, score, surface, tune,
    validate,
};

/// Study gradient-descent optimizers with real numbers: seeds, statistics, plots.
#[derive(Parser, Debug)]
#[command(
    name = "descent",
    version,
    about,
    long_about = None,
    after_help = "Exit status, for every command: 0 on success (a diverged run is a result, not a \
                  failure); 2 when the input or the command line is wrong (a path that does not \
                  exist, a malformed file, a bad value; nothing is written); 1 when the machine \
                  failed (disk full, permission denied, an I/O or backend error)."
)]
pub struct Cli {
    #[command(subcommand)]
    /// The command.
    pub command: Command,
}

/// The commands of `descent`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment file (or, with no file, the embedded default experiments).
    ///
    /// Every variant runs at every sweep point with every seed. Outputs go to
    /// OUT/EXPERIMENT/: config.toml (resolved, with git revision, backend, precision and
    /// machine), one directory per run (metrics.csv, timing.csv, trajectory.csv for
    /// landscapes, run.json), summary.json, summary.md and plots/ (SVG and PNG).
    ///
    /// Exit status: 0 on success (diverged runs are results, not failures), 2 for bad input
    /// (nothing is written), 1 if a run fails for another reason.
    Run(run::RunArgs),
    /// Tune each variant's learning rate (DeepOBS's protocol), then rerun at the best.
    ///
    /// Every variant runs on a log grid of learning rates with the search seeds; each rate
    /// is scored by the final validation metric averaged over them (a rate where a seed
    /// diverged is never chosen; a best rate at the grid's edge is flagged). Then every
    /// variant reruns at its best rate with the experiment's seeds. Writes
    /// OUT/EXPERIMENT/search/ and final/ (ordinary experiment directories), tune.json and
    /// tune.md.
    Tune(tune::TuneArgs),
    /// Parse and check an experiment file completely; run nothing.
    #[command(mut_arg("sets", |a| a.help("Override a field, e.g. --set variants.*.lr=0.1 (repeatable)")))]
    Validate {
        /// The experiment file.
        file: PathBuf,
        /// `--set`.
        #[command(flatten)]
        set: SetArgs,
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
        /// Also write TensorBoard event files under DIR/tensorboard/.
        #[arg(long)]
        tensorboard: bool,
    },
    /// Write every run of an experiment as one long table: OUT/EXPERIMENT/export/metrics.csv
    /// (one row per logged step per run, with run id, variant, sweep point and its values,
    /// seed and status columns, and the training seconds) and export/measurements.csv.
    ///
    /// pandas: `pd.read_csv("OUT/EXPERIMENT/export/metrics.csv")`.
    Export {
        /// An experiment directory (OUT/EXPERIMENT).
        dir: PathBuf,
    },
    /// Finish an interrupted experiment: finished runs are kept, interrupted runs continue
    /// from their last checkpoint (bit for bit on the CPU backends), the rest start.
    Resume {
        /// An experiment directory (OUT/EXPERIMENT).
        dir: PathBuf,
        /// `--jobs` and `--quiet`.
        #[command(flatten)]
        parallel: ParallelArgs,
    },
    /// Analyse a finished experiment's stored parameters: any probe (Hessian spectra,
    /// slices, interpolations, the trajectory's plane) at the steps its runs kept, and the
    /// barriers between their final parameters.
    ///
    /// The runs store parameters with `[output] snapshots_every = N` (step 0, every N steps,
    /// the last) or, final ones only, with `[barriers]`. Example:
    /// `descent surface runs/loss_surface --measure 'kind = "hessian", top = 10' --steps last`.
    /// A probe measured here at a stored step gives what it would have measured during the
    /// run, bit for bit. Writes DIR/surface/ (or --out): an experiment directory with each
    /// run's measurements.csv and profiles.csv, barriers.csv, summary.md, plots/ and
    /// report.html.
    Surface(surface::SurfaceArgs),
    /// Run the same runs on several backends (same seeds, weights and batches) and compare
    /// time per step, samples/s, final metrics and how far parameters and losses drift apart.
    ///
    /// Writes OUT/EXPERIMENT-compare/compare.json and compare.md, and each backend's run
    /// directories beside them.
    Compare(compare::CompareArgs),
    /// Time descent beside references measured in the same run: the Fashion-MNIST MLP and
    /// 2c2d CNN against PyTorch (benches/peers/*.py), the Adam step against a memory triad
    /// and PyTorch, 2-D landscape steps/s, and a sweep's --jobs scaling. Medians of
    /// alternated repetitions and ratios; writes OUT/bench.json and bench.md.
    Bench(bench::BenchArgs),
    /// Score optimizers over several workloads, as MLCommons AlgoPerf does: time to target
    /// per run, median over seeds (studies), performance profiles and the area score, with
    /// 95% bootstrap intervals.
    ///
    /// Each DIR is a finished experiment with a [target]; its variants are the entrants
    /// (matched by name across DIRs), its seeds the studies. Writes OUT/score.md, score.json
    /// and plots/performance_profiles.{svg,png}.
    Score(score::ScoreArgs),
    /// Run a benchmark suite (several workloads, every entrant, several studies) under one
    /// of AlgoPerf's rulesets and score it; or set its workloads' targets.
    ///
    /// `--ruleset self-tuning`: each entrant at its defaults, 1.5x each workload's budget.
    /// `--ruleset external-tuning`: each entrant's quasi-random trials in its search space,
    /// the fastest per study. `--ruleset target-setting`: the baselines' trials, the best
    /// rerun with several seeds, the median of their best values as each target (targets.md).
    /// Writes OUT/SUITE/RULESET/: one experiment directory per workload, and score/
    /// (score.md, score.json, plots/, report.html). Run again, it continues where it stopped.
    Benchmark(benchmark::BenchmarkArgs),
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

/// The command line, with the probe registry's list in `descent help run`.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommand("run", |run| run.after_long_help(probes_help()))
}

/// Parses the process's arguments as [`command`] describes them.
pub fn parse() -> std::result::Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// Every probe an experiment file can name (`crate::probe::PROBES`), one line each, and the
/// `[barriers]` table.
pub fn probes_help() -> String {
    let mut out = String::from(
        "Probes, measured during every run ([[measure]] kind = \"...\"; options and outputs \
         in the runner's README, Measurements):\n",
    );
    for entry in crate::probe::PROBES {
        let prefix = format!("{}: ", entry.kind);
        let summary = entry.summary.strip_prefix(&prefix).unwrap_or(entry.summary);
        out.push_str(&format!("  {:<15}{summary}\n", entry.kind));
    }
    out.push_str(
        "\nValues go to each run's measurements.csv; curves and surfaces (slices, \
         interpolations, spectral densities) to its profiles.csv and plots/profile_*.\n\
         [barriers] (after the runs): the loss on the straight line between the final \
         parameters of every two seeds of a variant (between = \"seeds\") or every two \
         variants from the same seed (between = \"variants\"), into barriers.csv, summary.md \
         and plots/barriers_*; its runs also write parameters.bin.\n\
         [output] snapshots_every = N: every run keeps its parameters at step 0, every N \
         steps and the last (snapshots/), for `descent surface` to analyse after the runs.",
    );
    out
}

/// Runs the command `cli` asks for.
pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run::execute(&args),
        Command::Tune(args) => tune::execute(&args),
        Command::Validate { file, set } => validate::execute(&file, &set),
        Command::List { dir } => list::execute(&dir),
        Command::Report { dir, tensorboard } => report::execute(&dir, tensorboard),
        Command::Export { dir } => export::execute(&dir),
        Command::Resume { dir, parallel } => resume::execute(&dir, &parallel),
        Command::Merge { dirs, out } => merge::execute(&dirs, out.as_deref()),
        Command::Compare(args) => compare::execute(&args),
        Command::Bench(args) => bench::execute(&args),
        Command::Surface(args) => surface::execute(&args),
        Command::Score(args) => score::execute(&args),
        Command::Benchmark(args) => benchmark::execute(&args),
    }
}
