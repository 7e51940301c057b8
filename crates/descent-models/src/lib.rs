//! # descent-models
//!
//! What optimizers are run on: the loss landscapes of the classic demonstrations
//! ([`landscape`]), each with its analytic value, gradient and Hessian (the independent check
//! of burn's autodiff), and [`Point`], a module with a single parameter vector so that any burn
//! optimizer can walk a landscape; models (linear and softmax regression, MLPs, the 2c2d CNN)
//! with seeded, backend-independent initialisation ([`model`], [`init`]); and losses ([`loss`]).

#![warn(missing_docs)]

mod error;
pub mod init;
pub mod kernels;
pub mod landscape;
pub mod loss;
pub mod model;

pub use error::ModelError;
pub use landscape::{Landscape, NoiseSpec, Point, Stochastic};
pub use loss::{ClassLabels, Loss, Objective, Targets};
pub use model::{
    Activation, AnyModel, Cnn2c2d, Cnn2c2dConfig, LinearRegression, LinearRegressionConfig, MODELS,
    Mlp, MlpConfig, Model, ModelConfig, ModelEntry, ModelParams, SoftmaxRegression,
    SoftmaxRegressionConfig, least_squares_minimum, softmax_regression_minimum,
};
