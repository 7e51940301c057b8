use thiserror::Error;

/// What can go wrong when a model or landscape is described.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    /// A point (or tensor, or centre) whose length is not the landscape's dimension.
    #[error("a point has {got} coordinates, the {landscape} landscape needs {expected}")]
    Dimension {
        /// The landscape's name.
        landscape: &'static str,
        /// Its dimension.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A dimension below what the landscape family is defined for (Rosenbrock needs two).
    #[error("the {landscape} landscape needs at least {min} dimensions, got {got}")]
    TooFewDimensions {
        /// The landscape's name.
        landscape: &'static str,
        /// The least dimension it is defined for.
        min: usize,
        /// The dimension asked for.
        got: usize,
    },
    /// A parameter that must be a finite number is not (NaN or infinite).
    #[error("{what} {index} is {value}, it must be finite")]
    NonFinite {
        /// Which parameter: "eigenvalue", "centre coordinate", "rotation angle".
        what: &'static str,
        /// Its position in its list (0 for a scalar).
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A rotation by an angle was asked for a quadratic that is not 2-D.
    #[error("a rotation by an angle needs a 2-D quadratic, this one has {got} dimensions")]
    AngleNeedsTwoDimensions {
        /// The quadratic's dimension.
        got: usize,
    },
    /// A stochastic landscape with no examples to sum over.
    #[error("a stochastic landscape needs at least one example")]
    NoExamples,
    /// A noise scale that is negative or not finite.
    #[error("noise scale sigma = {0} must be finite and non-negative")]
    NoiseScale(f64),
    /// A mini-batch with no indices.
    #[error("a mini-batch needs at least one example index")]
    EmptyBatch,
    /// A mini-batch index past the end of the finite sum.
    #[error("example index {index} is out of range, the finite sum has {examples} examples")]
    BatchIndex {
        /// The index given.
        index: usize,
        /// How many examples there are.
        examples: usize,
    },
    /// A batch size outside `1..=examples` for sampling without replacement.
    #[error("batch size {size} is outside 1..={examples}")]
    BatchSize {
        /// The batch size given.
        size: usize,
        /// How many examples there are.
        examples: usize,
    },
}
