use thiserror::Error;

/// What can go wrong when a model or landscape is described.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    /// A start point whose length is not the landscape's dimension.
    #[error("start point has {got} coordinates, the {landscape} landscape needs {expected}")]
    Dimension {
        /// The landscape's name.
        landscape: &'static str,
        /// Its dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
}
