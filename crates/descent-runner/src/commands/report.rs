//! `descent report`: summary and plots again, from the stored runs.

use std::path::Path;

use anyhow::Result;

use crate::experiment;

/// `descent report`.
pub fn execute(dir: &Path) -> Result<()> {
    let (plan, _) = experiment::recorded(dir)?;
    experiment::finish(dir, &plan)
}
