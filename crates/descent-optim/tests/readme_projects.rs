//! The README's install blocks, as a new user takes them: for each burn version, a fresh cargo
//! project outside the workspace whose `[dependencies]` are exactly the README's `toml` block
//! (its `path` pointed at this crate) builds and runs the README's Rust block, wrapped in
//! `main` as rustdoc wraps a doctest.
//!
//! Each project compiles burn from scratch (minutes on two cores) and lets cargo read the
//! crates.io index (a fresh project resolves burn's optional dependencies too, which the
//! workspace never needed), so the test runs only when `DESCENT_README_PROJECTS=1` (CI sets
//! it); otherwise it says it was skipped, and it is the only test that reaches a registry.
//! The projects take the workspace's `Cargo.lock` (the same versions of everything the
//! workspace also uses) and build into `target/readme-projects/`, kept between runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path the README's dependency lines give for this crate.
const README_PATH: &str = "../descent/crates/descent-optim";

/// The first fenced block of `language` (its info string starts with it) after `heading`.
fn block_after(readme: &str, heading: &str, language: &str) -> String {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let mut lines = readme[start..].lines();
    let fence = format!("```{language}");
    lines
        .by_ref()
        .find(|line| line.starts_with(&fence))
        .unwrap_or_else(|| panic!("no ```{language} block after {heading:?}"));
    lines
        .take_while(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A doctest's body as rustdoc compiles it: hidden lines (`# `) shown, inside `main`.
fn as_main(block: &str) -> String {
    let body: Vec<String> = block
        .lines()
        .map(|line| {
            let line = line.strip_prefix("# ").unwrap_or(line);
            format!("    {line}")
        })
        .collect();
    format!(
        "fn main() -> Result<(), Box<dyn std::error::Error>> {{\n{}\n    .map_err(Into::into)\n}}\n",
        body.join("\n")
    )
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lies in <root>/crates/")
        .to_path_buf()
}

/// Build and run the README's project for `heading`, returning what it printed.
fn run_project(heading: &str, name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dependencies = block_after(&readme, heading, "toml");
    assert!(
        dependencies.contains(README_PATH),
        "{heading}: the toml block names descent-optim by {README_PATH:?}"
    );
    let dependencies =
        dependencies.replace(README_PATH, &env!("CARGO_MANIFEST_DIR").replace('\\', "/"));
    let code = as_main(&block_after(&readme, heading, "rust"));

    let root = workspace_root();
    let project = tempfile::tempdir().expect("temporary directory");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n{dependencies}\n"
    );
    std::fs::write(project.path().join("Cargo.toml"), &manifest).expect("Cargo.toml");
    std::fs::create_dir_all(project.path().join("src")).expect("src/");
    std::fs::write(project.path().join("src/main.rs"), &code).expect("main.rs");
    std::fs::copy(root.join("Cargo.lock"), project.path().join("Cargo.lock")).expect("Cargo.lock");

    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet"])
        .current_dir(project.path())
        .env("CARGO_TARGET_DIR", root.join("target/readme-projects"))
        // Dependencies without debug info: the check is that the block builds and runs.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{heading}: the README project failed ({})\n--- Cargo.toml\n{manifest}\n--- main.rs\n{code}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn enabled() -> bool {
    let on = std::env::var("DESCENT_README_PROJECTS").is_ok_and(|v| v == "1");
    if !on {
        println!("SKIPPED: set DESCENT_README_PROJECTS=1 to build the README's projects");
    }
    on
}

#[test]
fn readme_project_burn_0_21_builds_and_runs() {
    if !enabled() {
        return;
    }
    let printed = run_project("### burn 0.21", "readme_burn_0_21");
    println!("{printed}");
    assert!(printed.contains("one LAMB step"), "{printed}");
}

#[test]
fn readme_project_burn_0_22_builds_and_runs() {
    if !enabled() {
        return;
    }
    let printed = run_project("### burn 0.22", "readme_burn_0_22");
    println!("{printed}");
    assert!(printed.contains("100 NAdam steps"), "{printed}");
}
