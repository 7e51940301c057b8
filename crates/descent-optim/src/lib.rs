#![doc = "descent-optim (crate docs are written below)"]
#![warn(missing_docs)]

pub mod error;
pub mod optim;
pub mod schedule;
pub mod clip;
mod validate;

pub use error::{OptimError, Result};
