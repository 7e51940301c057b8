//! `descent resume`: finish an interrupted experiment.

use std::path::Path;

use anyhow::Result;

use crate::backend;
use crate::experiment::{self, RunOptions};

/// `descent resume`: finished runs are kept, interrupted ones continue from their
/// checkpoint, the rest start; then the summary and plots.
pub fn execute(dir: &Path, jobs: Option<usize>, quiet: bool) -> Result<()> {
    let (plan, run_plan) = experiment::recorded(dir)?;
    backend::check(run_plan.backend, run_plan.precision)?;
    let prepared = experiment::prepare(plan, run_plan.shard)?;
    let options = RunOptions {
        backend: run_plan.backend,
        precision: run_plan.precision,
        jobs,
        quiet,
        silent: false,
        shard: run_plan.shard,
    };
    experiment::run_pending_and_finish(dir, &prepared, &options)
}
