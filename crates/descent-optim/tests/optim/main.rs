//! Integration tests of the optimizers: PyTorch parity, save/load, convergence, validation.

mod common;
mod convergence;
mod parity;
mod save_load;
mod validation;
