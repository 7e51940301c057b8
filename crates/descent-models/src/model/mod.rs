//! The models optimizers are run on, each a burn [`Module`] made by `XxxConfig::init`.
//!
//! | model | config | input | output | loss |
//! |---|---|---|---|---|
//! | [`LinearRegression`] | [`LinearRegressionConfig`] | `(N, d)` | `(N, k)` | MSE (convex) |
//! | [`SoftmaxRegression`] | [`SoftmaxRegressionConfig`] | `(N, d)` | `(N, classes)` logits | cross-entropy (convex) |
//! | [`Mlp`] | [`MlpConfig`] (presets `fmnist_mlp`, `mnist_256_128`) | `(N, d)` | `(N, classes)` logits | cross-entropy |
//! | [`Cnn2c2d`] | [`Cnn2c2dConfig`] | `(N, 784)` or `(N, 1, 28, 28)` | `(N, classes)` logits | cross-entropy |
//!
//! Every config carries a `seed`; the same seed gives the same initial weights on every
//! backend (see [`crate::init`]). [`Model`] is the one interface a training loop needs, and
//! [`AnyModel`] / [`ModelConfig`] pick a model at run time.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::{Tensor, TensorData};
//! use descent_models::init::float_dtype;
//! use descent_models::{ClassLabels, Loss, MlpConfig, Model, Objective, Targets};
//!
//! type B = Autodiff<NdArray<f64>>;
//! let device = Default::default();
//! // The 784-256-128-10 preset's hidden layers on 64-feature digits.
//! let mlp = MlpConfig::mnist_256_128().with_d_input(64).with_seed(1).init::<B>(&device)?;
//! let x: Tensor<B, 2> = Tensor::from_data(
//!     TensorData::new(vec![0.5f64; 2 * 64], [2, 64]),
//!     (&device, float_dtype::<B>()),
//! );
//! let targets = Targets::Classes(ClassLabels::new(&[3, 7], 10, &device)?);
//! let objective = Objective::new(Loss::CrossEntropy).with_l2(1e-4);
//! let loss = objective.value(&mlp, mlp.forward(x)?, &targets)?;
//! let grads = loss.backward();
//! assert!(mlp.layers[0].weight.grad(&grads).is_some());
//! # Ok::<(), descent_models::ModelError>(())
//! ```

mod cnn;
mod mlp;
mod registry;
mod regression;

pub use cnn::{Cnn2c2d, Cnn2c2dConfig};
pub use mlp::{Activation, Mlp, MlpConfig};
pub use registry::{ModelEntry, ModelParams, find};
pub use regression::{
    LEAST_SQUARES_MAX_FEATURES, LinearRegression, LinearRegressionConfig, SOFTMAX_MAX_PARAMETERS,
    SoftmaxRegression, SoftmaxRegressionConfig, least_squares_minimum, softmax_regression_minimum,
};

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::ModelError;

/// What a training loop needs from a model: rows in, one output row per input row.
pub trait Model<B: Backend>: Module<B> {
    /// A short name, as in experiment files and error messages.
    fn name(&self) -> &'static str;

    /// The width of an input row.
    fn d_input(&self) -> usize;

    /// The width of an output row: the number of classes for a classifier.
    fn d_output(&self) -> usize;

    /// The outputs (logits, for a classifier) for a batch of input rows `(N, d_input)`.
    ///
    /// Every model takes flat rows so that one data pipeline feeds them all; the 2c2d CNN
    /// reads each row as a 28x28 image (its [`Cnn2c2d::forward_images`] takes images).
    fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError>;

    /// The same outputs as [`Model::forward`], built only from operations whose backward
    /// burn can differentiate again: dense layers as `x W + b` rather than burn's fused
    /// `linear`, whose backward burn 0.21's autodiff cannot differentiate. For Hessian-vector
    /// products by double backward (an autodiff backend nested in another). `None` for a
    /// model with such an operation that has no plain form (the CNN's max pooling).
    fn forward_twice_differentiable(
        &self,
        _x: Tensor<B, 2>,
    ) -> Option<core::result::Result<Tensor<B, 2>, ModelError>> {
        None
    }
}

/// `x W + b` for burn's dense layer (weights `[in, out]`): its forward from matmul and add,
/// which autodiff can differentiate twice.
pub(crate) fn affine<B: Backend>(layer: &burn::nn::Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let y = x.matmul(layer.weight.val());
    match &layer.bias {
        Some(bias) => y + bias.val().unsqueeze_dim(0),
        None => y,
    }
}

/// An input batch must be `(N, d_input)`; burn itself would panic deep in a matmul.
pub(crate) fn check_rows<B: Backend>(
    model: &'static str,
    x: &Tensor<B, 2>,
    d_input: usize,
) -> core::result::Result<(), ModelError> {
    let dims = x.dims();
    if dims[1] != d_input {
        return Err(ModelError::InputShape {
            model,
            expected: format!("(N, {d_input})"),
            got: dims.to_vec(),
        });
    }
    Ok(())
}

/// Any of the models, for code that picks one at run time.
/// The model registry: one line per model type, `Variant(Module, Config) => [its entries]`.
/// It generates [`AnyModel`], [`ModelConfig`], their dispatch and [`MODELS`] (the names
/// experiment files accept, each a [`ModelEntry`] defined beside its model). A new model is
/// one file plus one line here.
macro_rules! any_model {
    ($( $(#[$doc:meta])* $variant:ident($module:ident, $config:ident) => [$($entry:path),*] );* $(;)?) => {
        /// Any of the models, chosen at run time.
        #[derive(Module, Debug)]
        pub enum AnyModel<B: Backend> {
            $( $(#[$doc])* $variant($module<B>), )*
        }

        impl<B: Backend> Model<B> for AnyModel<B> {
            fn name(&self) -> &'static str {
                match self { $( AnyModel::$variant(m) => m.name(), )* }
            }

            fn d_input(&self) -> usize {
                match self { $( AnyModel::$variant(m) => m.d_input(), )* }
            }

            fn d_output(&self) -> usize {
                match self { $( AnyModel::$variant(m) => m.d_output(), )* }
            }

            fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError> {
                match self { $( AnyModel::$variant(m) => m.forward(x), )* }
            }

            fn forward_twice_differentiable(
                &self,
                x: Tensor<B, 2>,
            ) -> Option<core::result::Result<Tensor<B, 2>, ModelError>> {
                match self { $( AnyModel::$variant(m) => m.forward_twice_differentiable(x), )* }
            }
        }

        /// The config of any of the models.
        #[derive(Config, Debug)]
        pub enum ModelConfig {
            $( $(#[$doc])* $variant($config), )*
        }

        impl ModelConfig {
            /// The model, initialised from its config's seed.
            pub fn init<B: Backend>(
                &self,
                device: &B::Device,
            ) -> core::result::Result<AnyModel<B>, ModelError> {
                Ok(match self { $( ModelConfig::$variant(c) => AnyModel::$variant(c.init(device)?), )* })
            }

            /// The seed of the initial weights.
            pub fn seed(&self) -> u64 {
                match self { $( ModelConfig::$variant(c) => c.seed, )* }
            }

            /// The same config with initial weights from `seed`.
            pub fn with_seed(self, seed: u64) -> Self {
                match self { $( ModelConfig::$variant(c) => ModelConfig::$variant(c.with_seed(seed)), )* }
            }
        }

        /// Every model experiment files can name, in the order `descent list` shows them.
        pub const MODELS: &[ModelEntry] = &[$($($entry),*),*];
    };
}

// A run holds one model, so the unboxed CNN variant's size costs nothing; boxing it is not an
// option, burn has no `Module` impl for `Box`. (The allow must sit outside the macro to reach
// the record type `Module` derives.)
#[allow(clippy::large_enum_variant)]
mod any {
    use super::*;
    any_model! {
        /// Linear regression.
        LinearRegression(LinearRegression, LinearRegressionConfig) => [regression::LINEAR];
        /// Softmax (multinomial logistic) regression.
        SoftmaxRegression(SoftmaxRegression, SoftmaxRegressionConfig) => [regression::SOFTMAX];
        /// A multilayer perceptron.
        Mlp(Mlp, MlpConfig) => [mlp::MLP, mlp::FMNIST_MLP, mlp::MLP_256_128];
        /// The DeepOBS 2c2d CNN.
        Cnn2c2d(Cnn2c2d, Cnn2c2dConfig) => [cnn::CNN_2C2D];
    }
}

pub use any::{AnyModel, AnyModelRecord, MODELS, ModelConfig};
