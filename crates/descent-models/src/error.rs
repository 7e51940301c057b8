use thiserror::Error;

/// What can go wrong when a model, a loss or a landscape is described or used.
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
    /// A landscape name the registry does not know.
    #[error("unknown landscape `{name}`; allowed: {allowed}")]
    UnknownLandscape {
        /// The name given.
        name: String,
        /// The registered names, comma-separated.
        allowed: String,
    },
    /// A landscape parameter that is missing, or given to a landscape that does not take it.
    #[error("{reason}")]
    LandscapeParameter {
        /// The parameter, as experiment files spell it (`dim`, `eigenvalues`, `angle`).
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A model name the registry does not know.
    #[error("unknown model `{name}`; allowed: {allowed}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The registered names, comma-separated.
        allowed: String,
    },
    /// A model knob that does not fit the model or the data.
    #[error("{reason}")]
    ModelParameter {
        /// The knob, as experiment files spell it (`model`, `hidden`, `activation`).
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A landscape registered under a name that is already taken.
    #[error("a landscape named `{0}` is already registered")]
    DuplicateLandscape(&'static str),
    /// The data a landscape is built from could not be generated.
    #[error("cannot generate the {landscape} landscape's data: {reason}")]
    LandscapeData {
        /// The landscape's name.
        landscape: &'static str,
        /// Why (the data crate's error, as text: it is neither `Clone` nor `PartialEq`).
        reason: String,
    },
    /// A CPU kernel was handed a tensor it cannot take (a bug, reported rather than panicking).
    #[error("internal error in a CPU kernel: {0}")]
    Kernel(&'static str),
    /// A tensor's values could not be read back from the device.
    #[error("could not read a tensor back: {0}")]
    Readback(String),
    /// A stochastic landscape with no examples to sum over.
    #[error("a stochastic landscape needs at least one example")]
    NoExamples,
    /// A noise scale that is negative or not finite.
    #[error("noise scale sigma = {0} must be finite and non-negative")]
    NoiseScale(f64),
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
    /// A layer, input or output of width zero.
    #[error("the {what} has a width of zero")]
    ZeroWidth {
        /// Which width.
        what: &'static str,
    },
    /// An MLP described without hidden layers (that model is softmax or linear regression).
    #[error("an MLP needs at least one hidden layer; without one use softmax or linear regression")]
    NoHiddenLayers,
    /// A classifier with fewer than two classes.
    #[error("a classifier needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// An input whose shape the model cannot take.
    #[error("the {model} takes inputs of shape {expected}, got {got:?}")]
    InputShape {
        /// The model's name.
        model: &'static str,
        /// The shape it takes, in words (`N` is any batch size).
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
    /// Targets that do not match the model's output.
    #[error("targets of shape {targets:?} do not match an output of shape {output:?}")]
    TargetShape {
        /// The output's shape.
        output: Vec<usize>,
        /// The targets' shape (for class labels, `[N]`).
        targets: Vec<usize>,
    },
    /// Labels for a different number of classes than the model's output has.
    #[error("labels for {labels} classes given to an output of {output} classes")]
    Classes {
        /// The output's width.
        output: usize,
        /// The labels' number of classes.
        labels: usize,
    },
    /// A batch of no examples: its mean loss is undefined.
    #[error("the batch is empty")]
    EmptyBatch,
    /// A class label outside `0..classes`.
    #[error("label {label} at position {index} is not a class of 0..{classes}")]
    Label {
        /// Where in the batch.
        index: usize,
        /// The label.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A loss given the other kind of targets (class labels for MSE, values for cross-entropy).
    #[error("the {loss} loss needs {needs}")]
    TargetKind {
        /// The loss's name.
        loss: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// An L2 penalty coefficient that is negative or not finite.
    #[error("the L2 penalty coefficient must be finite and >= 0, got {0}")]
    Penalty(f64),
}
