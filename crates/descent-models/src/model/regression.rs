//! The convex cases: linear regression (with MSE) and softmax regression (with
//! cross-entropy). With an L2 penalty both objectives are strongly convex, so they have one
//! minimiser that an optimizer's result can be checked against.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use descent_data::{ArrayDataset, Targets};
use nalgebra::{DMatrix, DVector};

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

    fn forward_twice_differentiable(
        &self,
        x: Tensor<B, 2>,
    ) -> Option<core::result::Result<Tensor<B, 2>, ModelError>> {
        Some(check_rows(self.name(), &x, self.d_input()).map(|()| super::affine(&self.linear, x)))
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

    fn forward_twice_differentiable(
        &self,
        x: Tensor<B, 2>,
    ) -> Option<core::result::Result<Tensor<B, 2>, ModelError>> {
        Some(check_rows(self.name(), &x, self.d_input()).map(|()| super::affine(&self.linear, x)))
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
/// The most parameters `(d + 1) k` [`softmax_regression_minimum`] handles: Newton's method
/// forms their dense Hessian.
pub const SOFTMAX_MAX_PARAMETERS: usize = 2048;

/// The minimum over `W, b` of [`SoftmaxRegression`]'s objective on `data`: the mean
/// cross-entropy of `softmax(x W + b)` plus `l2/2 (||W||^2 + ||b||^2)` (as
/// [`crate::loss::l2_penalty`] applies it), in `f64` by Newton's method with a backtracking line
/// search from zero, until the gradient norm is below `1e-11` or Newton's decrement below the
/// value's rounding. The Hessian's one flat direction
/// (adding a constant to every class's logits) is handled by a tiny damping, which leaves the
/// value unchanged. Without a penalty, classes a hyperplane separates have no minimiser (the
/// loss only tends to 0): that is an error, as is a model above [`SOFTMAX_MAX_PARAMETERS`].
pub fn softmax_regression_minimum(data: &ArrayDataset, l2: f64) -> Result<f64, ModelError> {
    let invalid = |reason: String| ModelError::ModelParameter {
        parameter: "model",
        reason,
    };
    let Targets::Classes { labels, classes } = data.targets() else {
        return Err(invalid(
            "the softmax-regression minimum needs class labels".to_string(),
        ));
    };
    let (n, d, k) = (data.len(), data.feature_len(), *classes);
    if n == 0 || k == 0 {
        return Err(ModelError::EmptyBatch);
    }
    let size = (d + 1) * k;
    if size > SOFTMAX_MAX_PARAMETERS {
        return Err(invalid(format!(
            "the softmax-regression minimum is found by Newton's method for at most \
             {SOFTMAX_MAX_PARAMETERS} parameters; this model has {size}"
        )));
    }
    let row = |i: usize| -> Vec<f64> {
        let mut x: Vec<f64> = data.features()[i * d..(i + 1) * d]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        x.push(1.0);
        x
    };
    let rows: Vec<Vec<f64>> = (0..n).map(row).collect();
    // Parameters theta[a * k + c]: feature a (the bias last), class c.
    let probabilities = |theta: &DVector<f64>, x: &[f64]| -> (Vec<f64>, f64) {
        let logits: Vec<f64> = (0..k)
            .map(|c| (0..=d).map(|a| x[a] * theta[a * k + c]).sum())
            .collect();
        let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = logits.iter().map(|z| (z - top).exp()).sum();
        let log_total = top + total.ln();
        (
            logits.iter().map(|z| (z - log_total).exp()).collect(),
            log_total,
        )
    };
    let objective = |theta: &DVector<f64>| -> f64 {
        let data_term: f64 = rows
            .iter()
            .zip(labels)
            .map(|(x, &y)| {
                let (_, log_total) = probabilities(theta, x);
                let logit: f64 = (0..=d).map(|a| x[a] * theta[a * k + y as usize]).sum();
                log_total - logit
            })
            .sum::<f64>()
            / n as f64;
        data_term + l2 / 2.0 * theta.norm_squared()
    };
    // Weights this large mean the minimum is at infinity (or as good as): no minimiser.
    const UNATTAINED: f64 = 1e3;
    let mut theta = DVector::zeros(size);
    let mut value = objective(&theta);
    for _ in 0..200 {
        let mut gradient = &theta * l2;
        let mut hessian = DMatrix::identity(size, size) * l2;
        for (x, &y) in rows.iter().zip(labels) {
            let (p, _) = probabilities(&theta, x);
            for a in 0..=d {
                for c in 0..k {
                    let indicator = if c == y as usize { 1.0 } else { 0.0 };
                    gradient[a * k + c] += x[a] * (p[c] - indicator) / n as f64;
                }
            }
            for a in 0..=d {
                for b in 0..=d {
                    let xx = x[a] * x[b] / n as f64;
                    for c in 0..k {
                        for e in 0..k {
                            let curvature = if c == e {
                                p[c] - p[c] * p[e]
                            } else {
                                -p[c] * p[e]
                            };
                            hessian[(a * k + c, b * k + e)] += xx * curvature;
                        }
                    }
                }
            }
        }
        if gradient.norm() < 1e-11 {
            break;
        }
        let damping = 1e-12 * (1.0 + hessian.diagonal().amax());
        for j in 0..size {
            hessian[(j, j)] += damping;
        }
        let Some(step) = hessian.cholesky().map(|c| c.solve(&gradient)) else {
            break;
        };
        // Newton's decrement g^T H^-1 g is twice the remaining suboptimality near the
        // minimum: below the rounding of the value, the value is the minimum.
        if gradient.dot(&step) < 1e-14 * (1.0 + value.abs()) {
            break;
        }
        // Backtracking: the full Newton step near the minimum, shorter ones far from it.
        let mut length = 1.0;
        let improved = loop {
            let candidate = &theta - &step * length;
            let candidate_value = objective(&candidate);
            if candidate_value <= value - 1e-4 * length * gradient.dot(&step) {
                break Some((candidate, candidate_value));
            }
            length /= 2.0;
            if length < 1e-12 {
                break None;
            }
        };
        match improved {
            Some((next, next_value)) => (theta, value) = (next, next_value),
            None => break,
        }
        if theta.amax() > UNATTAINED {
            break;
        }
    }
    // On separable classes the loss only tends to 0 as the weights grow without bound: Newton
    // stops where the loss has become negligible, or the weights huge. A cross-entropy of
    // 1e-8 needs every item classified with a margin of about 18: only separable data does.
    if theta.amax() <= UNATTAINED && value > 1e-8 {
        return Ok(value);
    }
    Err(invalid(format!(
        "the softmax-regression objective has no minimiser here (l2 = {l2}, the weights grow \
         past {UNATTAINED} as Newton's method follows the loss towards 0): separable classes \
         need an L2 penalty, l2 > 0"
    )))
}

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

    fn labelled(features: Vec<f32>, d: usize, labels: Vec<u32>, classes: usize) -> ArrayDataset {
        ArrayDataset::new(
            "test",
            features,
            vec![d],
            Targets::Classes { labels, classes },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_softmax_regression_minimum_matches_closed_forms() {
        // A feature that is always 0, classes 0, 0, 1: the bias alone fits the frequencies
        // (2/3, 1/3), so the minimum is the entropy -(2/3 ln 2/3 + 1/3 ln 1/3).
        let frequencies = labelled(vec![0.0; 3], 1, vec![0, 0, 1], 2);
        let value = softmax_regression_minimum(&frequencies, 0.0).unwrap_or_else(|e| panic!("{e}"));
        let entropy = -(2.0 / 3.0 * (2.0_f64 / 3.0).ln() + 1.0 / 3.0 * (1.0_f64 / 3.0).ln());
        assert!((value - entropy).abs() < 1e-12, "{value} vs {entropy}");
        // One item of class 0 with feature 0, l2 = 1: W = 0 and by symmetry b = (t, -t)
        // minimises ln(1 + e^{-2t}) + t^2; its stationary point solves t = 1 / (1 + e^{2t}).
        let one = labelled(vec![0.0], 1, vec![0], 2);
        let value = softmax_regression_minimum(&one, 1.0).unwrap_or(f64::NAN);
        let mut t: f64 = 0.3;
        for _ in 0..200 {
            t = 1.0 / (1.0 + (2.0 * t).exp());
        }
        let expected = (1.0 + (-2.0 * t).exp()).ln() + t * t;
        assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
        // Separable classes without a penalty have no minimum.
        let separable = labelled(vec![-1.0, 1.0], 1, vec![0, 1], 2);
        assert!(softmax_regression_minimum(&separable, 0.0).is_err());
        assert!(softmax_regression_minimum(&separable, 0.1).is_ok());
    }
}
