//! `descent list`: the experiments of a directory with their one-line claims.

use std::path::{Path, PathBuf};

use anyhow::Result;

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
            Err(e) => println!("{stem:<28} INVALID  {e:#}"),
        }
    }
    Ok(())
}
