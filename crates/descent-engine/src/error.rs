//! The one distinction the runner's errors need: whether the user's input was at fault.
//!
//! Bad input (a malformed experiment file, an unknown flag value, a damaged output
//! directory) is a [`UsageError`] somewhere in an `anyhow` chain: the binary reports it with
//! exit code 2. Everything else (a failed write, a backend that crashed) exits with 1.

/// An error in what the user asked for: reported with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as an `anyhow` error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Whether `error` was caused by the user's input.
pub fn is_usage(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|c| c.downcast_ref::<UsageError>().is_some())
}

/// The process exit code for `error`: 2 for bad input, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if is_usage(error) { 2 } else { 1 }
}
