//! `descent tune`: search each variant's learning rate, then rerun at the best.

use std::path::PathBuf;

use anyhow::Result;

use crate::backend::{self, BackendChoice, Precision};
use crate::config;
use crate::error::usage;
use crate::experiment::{self, RunOptions};
use crate::metric::Metric;
use crate::tune;

/// Options of `descent tune`.
#[derive(clap::Args, Debug, Clone)]
pub struct TuneArgs {
    /// The experiment file (TOML).
    pub file: PathBuf,
    /// Output directory: OUT/EXPERIMENT/{search,final,tune.json,tune.md}.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Learning-rate grid, low:high:points log-spaced (default: the file's [tune] grid, or
    /// 1e-4:1:13).
    #[arg(long)]
    pub grid: Option<String>,
    /// Seeds of the search (default: the file's [tune] seeds, or 0,1).
    #[arg(long, value_delimiter = ',')]
    pub search_seeds: Option<Vec<u64>>,
    /// Seeds of the rerun at the best rates, replacing the file's list.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// The metric scored (final value): val_loss (default), val_accuracy, test_loss, ...
    #[arg(long, value_parser = parse_metric)]
    pub metric: Option<Metric>,
    /// Backend (compiled in through its cargo feature).
    #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
    pub backend: BackendChoice,
    /// Floating-point precision.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Override a field, e.g. --set budget.steps=100 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_metric(text: &str) -> std::result::Result<Metric, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!(
            "{text:?}: allowed: {}",
            Metric::ALL.map(Metric::name).join(", ")
        )
    })
}

/// `descent tune`.
pub fn execute(args: &TuneArgs) -> Result<()> {
    backend::check(args.backend, args.precision)?;
    if args.jobs == Some(0) {
        return Err(usage("--jobs 0: at least one job is needed"));
    }
    let plan = config::load(&args.file, &args.sets, args.seeds.as_deref())?;
    let protocol = tune::protocol(
        &plan,
        args.grid.as_deref(),
        args.search_seeds.as_deref(),
        args.metric,
    )?;
    experiment::prepare(plan.clone(), None)?;
    let options = RunOptions {
        backend: args.backend,
        precision: args.precision,
        jobs: args.jobs,
        quiet: args.quiet,
        silent: false,
        shard: None,
    };
    let dir = tune::run(&plan, &protocol, &args.out, &options)?;
    println!("tuned: {}", dir.join("tune.md").display());
    Ok(())
}
