//! The convex cases: linear regression (with MSE) and softmax regression (with
//! cross-entropy). With an L2 penalty both objectives are strongly convex, so they have one
//! minimiser that an optimizer's result can be checked against.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use descent_data::{ArrayDataset, Targets};
use nalgebra::DMatrix;

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
/// The largest input width [`least_squares_minimum`] solves for: its normal equations are a
/// dense `(d + 1) x (d + 1)` system.
pub const LEAST_SQUARES_MAX_FEATURES: usize = 4096;

/// The minimum over `W, b` of [`LinearRegression`]'s objective on `data`:
/// `1/(N k) sum_{i,j} (x_i W + b - y_i)_j^2 + l2/2 (||W||^2 + ||b||^2)` (MSE as
/// [`crate::loss::mse`] averages it, the penalty as [`crate::loss::l2_penalty`] applies it to
/// every parameter), in `f64` from the normal equations
/// `(X~^T X~ + (l2 N k / 2) I) theta = X~^T Y`, `X~ = [X, 1]`, solved by Cholesky, or by SVD
/// when the system is singular (`l2 = 0` with collinear features; any minimiser has the same
/// value).
pub fn least_squares_minimum(data: &ArrayDataset, l2: f64) -> Result<f64, ModelError> {
    let invalid = |reason: String| ModelError::ModelParameter {
        parameter: "model",
        reason,
    };
    let Targets::Values { values, width } = data.targets() else {
        return Err(invalid(
            "the least-squares minimum needs real-valued targets".to_string(),
        ));
    };
    let (n, d, k) = (data.len(), data.feature_len(), *width);
    if n == 0 || k == 0 {
        return Err(ModelError::EmptyBatch);
    }
    if d > LEAST_SQUARES_MAX_FEATURES {
        return Err(invalid(format!(
            "the least-squares minimum is solved densely, for at most \
             {LEAST_SQUARES_MAX_FEATURES} features; this data has {d}"
        )));
    }
    let x = DMatrix::from_fn(n, d + 1, |i, j| {
        if j < d {
            f64::from(data.features()[i * d + j])
        } else {
            1.0
        }
    });
    let y = DMatrix::from_fn(n, k, |i, j| f64::from(values[i * k + j]));
    let scale = (n * k) as f64;
    let mut normal = x.transpose() * &x;
    for j in 0..=d {
        normal[(j, j)] += l2 * scale / 2.0;
    }
    let rhs = x.transpose() * &y;
    let theta = match normal.clone().cholesky() {
        Some(cholesky) => cholesky.solve(&rhs),
        None => normal
            .svd(true, true)
            .solve(&rhs, f64::EPSILON * scale)
            .map_err(|e| invalid(format!("the normal equations could not be solved: {e}")))?,
    };
    let residual = &x * &theta - y;
    Ok(residual.norm_squared() / scale + l2 / 2.0 * theta.norm_squared())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn data(features: Vec<f32>, d: usize, targets: Vec<f32>) -> ArrayDataset {
        let width = targets.len() / (features.len() / d);
        ArrayDataset::new(
            "test",
            features,
            vec![d],
            Targets::Values {
                values: targets,
                width,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_least_squares_minimum_is_the_closed_form() {
        // y = (0, 1, 1) at x = (0, 1, 2): the line 1/6 + x/2 leaves residuals (-1, 2, -1)/6,
        // a mean square of 1/18.
        let line = data(vec![0.0, 1.0, 2.0], 1, vec![0.0, 1.0, 1.0]);
        let value = least_squares_minimum(&line, 0.0).unwrap_or(f64::NAN);
        assert!((value - 1.0 / 18.0).abs() < 1e-15, "{value}");
        // One item x = 1, y = 1 with l2 = 1: w = b = t minimises (2t - 1)^2 + t^2 at t = 0.4,
        // value 0.04 + 0.16.
        let one = data(vec![1.0], 1, vec![1.0]);
        let value = least_squares_minimum(&one, 1.0).unwrap_or(f64::NAN);
        assert!((value - 0.2).abs() < 1e-15, "{value}");
        // Without a penalty one item is fitted exactly, by any of a line of minimisers (the
        // singular system goes through the SVD).
        let value = least_squares_minimum(&one, 0.0).unwrap_or(f64::NAN);
        assert!(value.abs() < 1e-15, "{value}");
    }
}
