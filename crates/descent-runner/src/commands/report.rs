//! `descent report`: summary and plots again, from the stored runs.

use std::path::Path;

use anyhow::Result;

use crate::experiment;

/// `descent report`; `tensorboard` also writes the event files whatever the config says.
pub fn execute(dir: &Path, tensorboard: bool) -> Result<()> {
    let (mut plan, _) = experiment::recorded(dir)?;
    plan.base.output.tensorboard |= tensorboard;
    experiment::finish(dir, &plan, true)
}
