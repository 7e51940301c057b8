//! `descent resume`: finish an interrupted experiment.

use std::path::Path;

use anyhow::Result;

use crate::backend;
use crate::commands::flags::ParallelArgs;
use crate::experiment;

/// `descent resume`: finished runs are kept, interrupted ones continue from their
/// checkpoint, the rest start; then the summary and plots.
pub fn execute(dir: &Path, parallel: &ParallelArgs) -> Result<()> {
    let (plan, run_plan) = experiment::recorded(dir)?;
    let options = parallel.options(run_plan.backend, run_plan.precision, run_plan.shard)?;
    backend::check(run_plan.backend, run_plan.precision)?;
    let prepared = experiment::prepare(plan, run_plan.shard)?;
    experiment::run_pending_and_finish(dir, &prepared, &options)
}
