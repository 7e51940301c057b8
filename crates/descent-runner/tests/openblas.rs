//! A `blas` build of `descent` runs OpenBLAS on the kernels its CPU can run: started without
//! `OPENBLAS_CORETYPE` it sets the variable from the CPU's features and starts again, and
//! records what ran in `config.toml`; a value the user sets is kept. (Debian's OpenBLAS 0.3.21
//! picks its generic kernels on CPUs newer than itself: src/openblas.rs.)

#![cfg(feature = "blas")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::process::Command;

use descent_runner::openblas::{CORE_TYPE, core_type_for_this_cpu};

/// `[meta] matrix_products` of an embedded default run made with `core_type` in the
/// environment (or without the variable).
fn recorded(core_type: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_descent"));
    command
        .args(["run", "--quiet", "--out", "out"])
        .current_dir(dir.path());
    match core_type {
        Some(value) => command.env(CORE_TYPE, value),
        None => command.env_remove(CORE_TYPE),
    };
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
fn an_unset_core_type_is_set_from_the_cpu_and_a_set_one_is_kept() {
    let expected = match core_type_for_this_cpu() {
        Some(core) => format!("OpenBLAS ({CORE_TYPE}={core})"),
        None => "OpenBLAS (the kernels it chose)".to_string(),
    };
    assert_eq!(recorded(None), expected);
    assert_eq!(
        recorded(Some("PRESCOTT")),
        format!("OpenBLAS ({CORE_TYPE}=PRESCOTT)")
    );
}
