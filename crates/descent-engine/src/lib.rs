//! # descent-engine
//!
//! The part of the `descent` runner that is generic over burn's backends, and the one place
//! ([`backend`]) where they are named and instantiated: one TOML file ([`config`]) becomes
//! runs, each optimising a [`problem`] with an optimizer and schedule from [`optim`] in the
//! loop of [`train`] (its executor and observers, with the [`probe`]s), writing its rows
//! ([`state`]) through [`output`] and reading them back through [`run_files`]; the [`pool`]
//! runs many runs, [`conformance`] checks backends against each other, [`barriers`]
//! measures the loss between runs' solutions, [`summary`] aggregates over seeds, and
//! [`measure`] runs `descent surface`'s probes on stored parameters and times the bench's
//! backend workloads.
//!
//! It is a crate of its own for the build: every backend x optimizer x model is
//! monomorphised here, which is most of the runner's compile time, and the plots, reports
//! and commands in `descent-runner` above it can change without compiling it again. Users
//! reach it through `descent-runner`, which re-exports its modules under the same names.
//!
//! Its modules sit in the layers descent-runner's lib.rs lists with the runner's own (its
//! `tests/imports.rs` checks both crates' imports against that list): an engine module imports
//! only from layers below its own, and never from the runner, which it cannot name.

#![warn(missing_docs)]

pub mod backend;
pub mod barriers;
pub mod config;
pub mod conformance;
pub mod error;
pub mod measure;
pub mod metric;
pub mod optim;
pub mod output;
pub mod pool;
pub mod probe;
pub mod problem;
/// The one typed reader of a run's files (`run.json`, `metrics.csv`, ...) and of an
/// experiment directory's runs.
pub mod run_files;
pub mod state;
pub mod summary;
pub mod train;

pub use backend::{BackendChoice, Precision};
pub use error::UsageError;
pub use metric::Metric;
pub use pool::RunOptions;
