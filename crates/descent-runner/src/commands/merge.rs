//! `descent merge`: the directories of shards joined into one experiment directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::Plan;
use crate::error::usage;
use crate::experiment::{self, RunPlan};
use crate::output;
use crate::run_files::ExperimentDir;
use crate::state::RunRecord;

/// `descent merge`.
pub fn execute(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let mut first: Option<(Plan, toml::Table)> = None;
    let mut runs: Vec<(PathBuf, RunRecord)> = Vec::new();
    for dir in dirs {
        let (plan, _) = experiment::recorded(dir)?;
        match &first {
            None => first = Some((plan.clone(), plan.table.clone())),
            Some((_, table)) if *table != plan.table => {
                return Err(usage(format!(
                    "{}: its config differs from {}'s; only shards of one experiment can be merged",
                    dir.display(),
                    dirs[0].display()
                )));
            }
            Some(_) => {}
        }
        let stored = ExperimentDir::new(dir).runs()?;
        runs.extend(
            stored
                .into_iter()
                .map(|r| (r.dir.path().to_path_buf(), r.record)),
        );
    }
    let Some((plan, _)) = first else {
        return Err(usage("merge: no directories given"));
    };
    let mut seen = std::collections::BTreeSet::new();
    for (_, r) in &runs {
        if !seen.insert(r.index) {
            return Err(usage(format!("run {} appears in two shards", r.run_id)));
        }
    }
    let missing = plan.runs.len().saturating_sub(seen.len());
    let target = match out {
        Some(o) => o.to_path_buf(),
        None => {
            let mut name = dirs[0].as_os_str().to_owned();
            name.push("-merged");
            PathBuf::from(name)
        }
    };
    if target.exists() {
        return Err(usage(format!(
            "{}: exists already; choose another --out",
            target.display()
        )));
    }
    std::fs::create_dir_all(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    std::fs::copy(dirs[0].join("config.toml"), target.join("config.toml"))
        .with_context(|| format!("cannot copy config.toml into {}", target.display()))?;
    if let Ok(bytes) = std::fs::read(dirs[0].join("plan.json")) {
        let mut run_plan: RunPlan = serde_json::from_slice(&bytes)?;
        run_plan.shard = None;
        run_plan.runs = plan.runs.iter().map(|r| r.id.clone()).collect();
        output::write_atomic(
            &target.join("plan.json"),
            &serde_json::to_vec_pretty(&run_plan)?,
        )?;
    }
    for (src, record) in &runs {
        let dst = target.join(&record.run_id);
        std::fs::create_dir_all(&dst)?;
        for entry in std::fs::read_dir(src)? {
            let path = entry?.path();
            if let Some(file) = path.file_name() {
                std::fs::copy(&path, dst.join(file))
                    .with_context(|| format!("cannot copy {}", path.display()))?;
            }
        }
    }
    experiment::finish(&target, &plan, true)?;
    if missing > 0 {
        eprintln!(
            "note: {missing} of {} runs are in none of the shards",
            plan.runs.len()
        );
    }
    Ok(())
}
