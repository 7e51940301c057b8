//! Integration tests of the optimizers on burn 0.21: PyTorch parity, save/load, convergence,
//! validation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

#[path = "../shared/reference.rs"]
mod reference;
#[path = "../shared/resume_cases.rs"]
mod resume_cases;

mod beyond_pytorch;
mod clipping;
mod common;
mod convergence;
mod parity;
mod save_load;
mod validation;
