//! `descent list`: the experiments of a directory with their one-line claims.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::benchmark::Suite;
use crate::config;
use crate::error::usage;

/// `descent list`.
pub fn execute(dir: &Path) -> Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| usage(format!("{}: cannot list experiments: {e}", dir.display())))?
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
            // A benchmark suite is listed as one (`descent benchmark` runs it).
            Err(_) if is_suite(&file) => match Suite::load(&file, false) {
                Ok(suite) => println!(
                    "{stem:<28} suite      {} workloads, {} + {} entrants (descent benchmark): {}",
                    suite.workloads.len(),
                    suite.self_tuning.entrants.len(),
                    suite.external_tuning.entrants.len(),
                    suite.description
                ),
                Err(e) => println!("{stem:<28} INVALID  {e:#}"),
            },
            Err(e) => println!("{stem:<28} INVALID  {e:#}"),
        }
    }
    // Suites and other groups live in subdirectories (experiments/benchmark/).
    let mut more: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| usage(format!("{}: cannot list experiments: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && std::fs::read_dir(p).is_ok_and(|mut entries| {
                    entries
                        .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml")))
                })
        })
        .collect();
    more.sort();
    for sub in more {
        println!("(more in {0}: descent list {0})", sub.display());
    }
    Ok(())
}

/// Whether `file` reads as a suite rather than an experiment (it has `[[workloads]]`): its
/// errors are then a suite's.
fn is_suite(file: &Path) -> bool {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key("workloads"))
}
