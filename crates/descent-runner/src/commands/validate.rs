//! `descent validate`: parse and check an experiment file completely; run nothing.

use std::path::Path;

use anyhow::Result;

use crate::commands::flags::SetArgs;
use crate::{config, experiment, tune};

/// `descent validate`: the file as `descent run` reads it, and with its `[quick]` overrides
/// as `descent run --quick` does, when it has them.
pub fn execute(file: &Path, set: &SetArgs) -> Result<()> {
    let plan = config::load(file, &set.sets, None)?;
    tune::check_table(&plan)?;
    if plan.has_quick {
        let quick = config::load_with(file, &set.sets, None, true)?;
        tune::check_table(&quick)?;
        experiment::prepare(quick, None)?;
    }
    let prepared = experiment::prepare(plan, None)?;
    println!(
        "{}: valid: experiment {:?}, {} runs ({} variants x {} sweep points x {} seeds), problem: {}",
        file.display(),
        prepared.plan.name,
        prepared.plan.runs.len(),
        prepared.plan.base.variants.len(),
        prepared.plan.runs.len()
            / (prepared.plan.base.variants.len() * prepared.plan.base.seeds.len()).max(1),
        prepared.plan.base.seeds.len(),
        prepared.task.describe()
    );
    Ok(())
}
