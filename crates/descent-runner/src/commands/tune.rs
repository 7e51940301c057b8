//! `descent tune`: search each variant's learning rate, then rerun at the best.

use std::path::PathBuf;

use anyhow::Result;

use crate::commands::flags::{BackendArgs, OutArgs, OverrideArgs, ParallelArgs};
use crate::config;
use crate::experiment;
use crate::metric::Metric;
use crate::tune;

/// Options of `descent tune`.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("out", |a| a.help("Output directory: OUT/EXPERIMENT/{search,final,tune.json,tune.md}")))]
#[command(mut_arg("seeds", |a| a.help("Seeds of the rerun at the best rates, replacing the file's list")))]
#[command(mut_arg("sets", |a| a.help("Override a field, e.g. --set budget.steps=100 (repeatable)")))]
pub struct TuneArgs {
    /// The experiment file (TOML).
    pub file: PathBuf,
    /// `--out`.
    #[command(flatten)]
    pub out: OutArgs,
    /// Learning-rate grid, low:high:points log-spaced (default: the file's [tune] grid, or
    /// 1e-4:1:13).
    #[arg(long)]
    pub grid: Option<String>,
    /// Seeds of the search (default: the file's [tune] seeds, or 0,1).
    #[arg(long, value_delimiter = ',')]
    pub search_seeds: Option<Vec<u64>>,
    /// `--seeds` (of the rerun at the best rates) and `--set`.
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// The metric scored (final value): val_loss (default), val_accuracy, test_loss, ...
    #[arg(long, value_parser = parse_metric)]
    pub metric: Option<Metric>,
    /// `--backend` and `--precision`.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// `--jobs` and `--quiet`.
    #[command(flatten)]
    pub parallel: ParallelArgs,
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
    let options = args.backend.options(&args.parallel, None)?;
    let plan = config::load(&args.file, args.overrides.sets(), args.overrides.seeds()?)?;
    let protocol = tune::protocol(
        &plan,
        args.grid.as_deref(),
        args.search_seeds.as_deref(),
        args.metric,
    )?;
    experiment::prepare(plan.clone(), None)?;
    let dir = tune::run(&plan, &protocol, &args.out.out, &options)?;
    println!("tuned: {}", dir.join("tune.md").display());
    Ok(())
}
