//! Integration tests of descent-optim on burn 0.22 (feature `burn-0-22`): every optimizer
//! through burn 0.22's `ModuleOptimizer` against the PyTorch and optax trajectories, exact
//! resumption from burnpack bytes, and every schedule through burn 0.22's `LrScheduler`.
//! The references and the entry-to-optimizer mapping are shared with the burn 0.21 tests
//! (`tests/shared/`); the test names carry the version so the log shows which ran.

#![cfg(feature = "burn-0-22")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

#[path = "../shared/reference.rs"]
mod reference;
#[path = "../shared/resume_cases.rs"]
mod resume_cases;
#[path = "../shared/schedules.rs"]
mod schedule_reference;

mod common;
mod parity;
mod save_load;
mod schedules;
