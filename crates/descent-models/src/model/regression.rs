//! The convex cases: linear regression (with MSE) and softmax regression (with
//! cross-entropy). With an L2 penalty both objectives are strongly convex, so they have one
//! minimiser that an optimizer's result can be checked against.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{Model, check_rows};
use super::{ModelConfig, ModelEntry};
use crate::{ModelError, init};

/// Config of [`LinearRegression`]: `y = x W + b`.
#[derive(Config, Debug)]
pub struct LinearRegressionConfig {
    /// The number of input features.
    pub d_input: usize,
    /// The number of regression targets per example.
    #[config(default = 1)]
    pub d_output: usize,
    /// The initialisation seed.
    #[config(default = 0)]
    pub seed: u64,
}

impl LinearRegressionConfig {
    /// The model, initialised from the seed as PyTorch's `nn.Linear` would be.
    pub fn init<B: Backend>(
        &self,
        device: &B::Device,
    ) -> core::result::Result<LinearRegression<B>, ModelError> {
        if self.d_input == 0 {
            return Err(ModelError::ZeroWidth { what: "input" });
        }
        if self.d_output == 0 {
            return Err(ModelError::ZeroWidth { what: "output" });
        }
        Ok(LinearRegression {
            linear: init::linear(self.seed, 0, self.d_input, self.d_output, device)?,
        })
    }
}

/// Linear regression: one affine layer, no activation; train it with
/// [`Loss::Mse`](crate::loss::Loss::Mse).
#[derive(Module, Debug)]
pub struct LinearRegression<B: Backend> {
    /// The affine map.
    pub linear: Linear<B>,
}

impl<B: Backend> Model<B> for LinearRegression<B> {
    fn name(&self) -> &'static str {
        "linear_regression"
    }

    fn d_input(&self) -> usize {
        self.linear.weight.dims()[0]
    }

    fn d_output(&self) -> usize {
        self.linear.weight.dims()[1]
    }

    fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError> {
        check_rows(self.name(), &x, self.d_input())?;
        Ok(self.linear.forward(x))
    }
}

/// Config of [`SoftmaxRegression`]: logits `x W + b` over `classes` classes (with 2 classes,
/// logistic regression in its over-parametrised softmax form).
#[derive(Config, Debug)]
pub struct SoftmaxRegressionConfig {
    /// The number of input features.
    pub d_input: usize,
    /// The number of classes.
    pub classes: usize,
    /// The initialisation seed.
    #[config(default = 0)]
    pub seed: u64,
}

impl SoftmaxRegressionConfig {
    /// The model, initialised from the seed as PyTorch's `nn.Linear` would be.
    pub fn init<B: Backend>(
        &self,
        device: &B::Device,
    ) -> core::result::Result<SoftmaxRegression<B>, ModelError> {
        if self.d_input == 0 {
            return Err(ModelError::ZeroWidth { what: "input" });
        }
        if self.classes < 2 {
            return Err(ModelError::TooFewClasses(self.classes));
        }
        Ok(SoftmaxRegression {
            linear: init::linear(self.seed, 0, self.d_input, self.classes, device)?,
        })
    }
}

/// Softmax regression: one affine layer giving logits; train it with
/// [`Loss::CrossEntropy`](crate::loss::Loss::CrossEntropy).
#[derive(Module, Debug)]
pub struct SoftmaxRegression<B: Backend> {
    /// The affine map to the logits.
    pub linear: Linear<B>,
}

impl<B: Backend> Model<B> for SoftmaxRegression<B> {
    fn name(&self) -> &'static str {
        "softmax_regression"
    }

    fn d_input(&self) -> usize {
        self.linear.weight.dims()[0]
    }

    fn d_output(&self) -> usize {
        self.linear.weight.dims()[1]
    }

    fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError> {
        check_rows(self.name(), &x, self.d_input())?;
        Ok(self.linear.forward(x))
    }
}

/// The registry's entry: `model = "linear"`, `y = x W + b` (the default for regression).
pub(super) const LINEAR: ModelEntry = ModelEntry {
    name: "linear",
    summary: "linear regression y = x W + b",
    takes: &[],
    build: |p| {
        Ok(ModelConfig::LinearRegression(
            LinearRegressionConfig::new(p.d_input).with_d_output(p.outputs),
        ))
    },
};

/// The registry's entry: `model = "softmax"` (the default for classification).
pub(super) const SOFTMAX: ModelEntry = ModelEntry {
    name: "softmax",
    summary: "softmax (multinomial logistic) regression",
    takes: &[],
    build: |p| {
        p.classes_only("softmax")?;
        Ok(ModelConfig::SoftmaxRegression(
            SoftmaxRegressionConfig::new(p.d_input, p.outputs),
        ))
    },
};
