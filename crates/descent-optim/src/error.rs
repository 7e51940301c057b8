//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong when an optimizer or a schedule is built from user input.
///
/// Every check happens in `init`/`build`, before any tensor is touched, so a bad
/// hyperparameter never turns into a panic or a NaN halfway through training.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptimError {
    /// A hyperparameter lies outside the range its formula allows.
    #[error("{owner}: `{field}` must be {allowed}, got {value}")]
    InvalidHyperparameter {
        /// The optimizer or schedule that owns the field, e.g. `"Adam"`.
        owner: &'static str,
        /// The field's name as it appears in the config.
        field: &'static str,
        /// The rejected value, printed.
        value: String,
        /// What the field accepts, e.g. `"in [0, 1)"`.
        allowed: &'static str,
    },
    /// Nesterov momentum in PyTorch's form needs momentum > 0 and no dampening.
    #[error(
        "SGD: Nesterov momentum requires momentum > 0 and dampening = 0, \
         got momentum {momentum} and dampening {dampening}"
    )]
    NesterovWithoutMomentum {
        /// The configured momentum.
        momentum: f64,
        /// The configured dampening.
        dampening: f64,
    },
    /// Two fields that must agree do not (e.g. schedule milestones out of order).
    #[error("{owner}: {message}")]
    Inconsistent {
        /// The optimizer or schedule that owns the fields.
        owner: &'static str,
        /// What is wrong, naming the fields.
        message: String,
    },
}

/// Shorthand for results whose error is [`OptimError`].
pub type Result<T> = core::result::Result<T, OptimError>;
