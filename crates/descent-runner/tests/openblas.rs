//! A `blas` build of `descent` runs OpenBLAS on the kernels its CPU can run: started without
//! `OPENBLAS_CORETYPE` it sets the variable from the CPU's features (and `OPENBLAS_NUM_THREADS`
//! to 1: the kernels run their chunks in parallel) and starts again, and records what ran in
//! `config.toml`; values the user sets are kept. (Debian's OpenBLAS 0.3.21
//! picks its generic kernels on CPUs newer than itself: src/openblas.rs.)

#![cfg(feature = "blas")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::process::Command;

use descent_runner::openblas::{CORE_TYPE, THREADS, core_type_for_this_cpu};

/// `[meta] matrix_products` of an embedded default run made with `core_type` and `threads` in
/// the environment (or without the variables).
fn recorded(core_type: Option<&str>, threads: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_descent"));
    command
        .args(["run", "--quiet", "--out", "out"])
        .current_dir(dir.path());
    for (name, value) in [(CORE_TYPE, core_type), (THREADS, threads)] {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command.output().unwrap();
    common::ok(&output);
    let config = common::read(&dir.path().join("out/default-landscape/config.toml"));
    let table: toml::Table = toml::from_str(&config).unwrap();
    table["meta"]["matrix_products"]
        .as_str()
        .unwrap_or_else(|| panic!("no matrix_products in\n{config}"))
        .to_string()
}

#[test]
fn unset_kernels_and_threads_are_set_and_set_ones_are_kept() {
    let expected = match core_type_for_this_cpu() {
        Some(core) => format!("OpenBLAS ({CORE_TYPE}={core}, {THREADS}=1)"),
        None => format!("OpenBLAS (the kernels it chose, {THREADS}=1)"),
    };
    assert_eq!(recorded(None, None), expected);
    assert_eq!(
        recorded(Some("PRESCOTT"), None),
        format!("OpenBLAS ({CORE_TYPE}=PRESCOTT, {THREADS}=1)")
    );
    assert_eq!(
        recorded(Some("HASWELL"), Some("2")),
        format!("OpenBLAS ({CORE_TYPE}=HASWELL, {THREADS}=2)")
    );
}
