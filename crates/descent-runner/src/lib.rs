//! # descent-runner
//!
//! The experiment runner behind the `descent` binary, as a library: tests and other programs
//! run experiments in-process through it.
//!
//! One TOML file ([`config`]) becomes many runs (variants x sweep points x seeds). Each run
//! optimises a [`problem`] with an optimizer and schedule from [`optim`], in the loop of
//! [`train`], on a backend picked by [`backend`]; its rows ([`state`]) are written by
//! [`output`] beside the resolved config. [`experiment`] drives a whole experiment (the
//! [`pool`] runs the runs in parallel), then [`summary`] aggregates over seeds and [`plots`]
//! draws the results. [`cli`] and [`commands`] are the command line.
//!
//! Modules only import downwards (a test checks that the imports have no cycle):
//!
//! ```text
//! cli -> commands -> experiment -> pool -> train -> {optim, problem, output} -> state -> config -> metric
//!                                   \-> backend, summary, plots, provenance, error
//! ```

#![warn(missing_docs)]

pub mod backend;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conformance;
pub mod error;
pub mod experiment;
pub mod metric;
pub mod optim;
pub mod output;
pub mod plots;
pub mod pool;
pub mod probe;
pub mod problem;
pub mod provenance;
pub mod report;
pub mod scheduler;
pub mod state;
pub mod summary;
pub mod tensorboard;
pub mod train;
pub mod tune;

pub use backend::{BackendChoice, Precision};
pub use error::UsageError;
pub use experiment::RunOptions;
pub use metric::Metric;
