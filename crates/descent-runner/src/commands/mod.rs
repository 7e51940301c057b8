//! One module per command of the `descent` binary; [`crate::cli`] dispatches to them.

pub mod bench;
pub mod benchmark;
pub mod compare;
pub mod export;
pub mod flags;
pub mod list;
pub mod merge;
pub mod report;
pub mod resume;
pub mod run;
pub mod score;
pub mod surface;
pub mod tune;
pub mod validate;
