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
//! draws the results, reading the stored runs back through [`run_files`], as the
//! [`report`], the [`tensorboard`] files and `descent export` do. [`cli`] and [`commands`]
//! are the command line.
//!
//! Modules sit in layers and import only from the layers below their own, never beside or
//! above (`tests/imports.rs` reads this list and checks every `crate::` import against it):
//!
//! ```text
//! cli
//! commands
//! tune
//! experiment
//! pool conformance barriers measure plots report tensorboard
//! train summary run_files scheduler
//! output probe
//! state problem optim backend benchmark
//! config
//! metric error provenance openblas
//! ```
//!
//! From the top: the command line and its commands; tuning, which runs experiments; the
//! experiment driver; what runs many runs (the pool), checks backends against each other,
//! measures the loss between runs' solutions, and draws or exports stored runs; one run's loop ([`train`]'s executor and observers),
//! the aggregates over seeds, the typed reader of a run's files, cluster job files; the
//! writers and the probes; a run's state, the problems, the optimizers, the backends and
//! the benchmark suites;
//! the experiment file's schema; and the leaves every layer may name.

#![warn(missing_docs)]

// The modules generic over burn's backends live in descent-engine, a crate of its own so that
// their monomorphised copies (most of the compile time) are not rebuilt when the modules
// here change; re-exported under their own names, they read as the runner's.
pub use descent_engine::{
    backend, barriers, config, conformance, error, measure, metric, optim, output, pool, probe,
    problem, run_files, state, summary, train,
};

pub mod benchmark;
pub mod cli;
pub mod commands;
pub mod experiment;
pub mod openblas;
pub mod plots;
pub mod provenance;
pub mod report;
pub mod scheduler;
pub mod tensorboard;
pub mod tune;

pub use backend::{BackendChoice, Precision};
pub use error::UsageError;
pub use experiment::RunOptions;
pub use metric::Metric;
