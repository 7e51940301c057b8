//! Losses and the objective an optimizer minimises.
//!
//! The objective is `loss(model(x), targets) + lambda/2 * ||theta||^2`, where `theta` is every
//! parameter of the model (biases included). The penalty belongs to the problem: it makes
//! softmax regression strongly convex with a finite minimiser. It is not an optimizer's weight
//! decay, which changes the update rule rather than the function.

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Element, Int, Tensor, TensorData};

use crate::ModelError;
use crate::init::float_dtype;

/// Which data term.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean over the batch of `-log softmax(logits)[label]`, for integer class labels.
    CrossEntropy,
    /// Mean over all entries of `(output - target)^2` (PyTorch's `MSELoss`).
    Mse,
}

impl Loss {
    /// Short name, as in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::Mse => "mse",
        }
    }
}

/// Class labels checked against the number of classes, on the device.
///
/// Checking happens here, on the CPU where the labels come from, because an out-of-range
/// label inside the loss would cost a device round trip to detect (or a panic in burn).
#[derive(Debug, Clone)]
pub struct ClassLabels<B: Backend> {
    labels: Tensor<B, 1, Int>,
    classes: usize,
}

impl<B: Backend> ClassLabels<B> {
    /// The labels, each in `0..classes`, on `device`.
    pub fn new(
        labels: &[usize],
        classes: usize,
        device: &B::Device,
    ) -> core::result::Result<Self, ModelError> {
        if classes < 2 {
            return Err(ModelError::TooFewClasses(classes));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(ModelError::Label {
                index,
                label,
                classes,
            });
        }
        let dtype = <B::IntElem as Element>::dtype();
        let values: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let data = TensorData::new(values, [labels.len()]).convert_dtype(dtype);
        Ok(ClassLabels {
            labels: Tensor::from_data(data, (device, dtype)),
            classes,
        })
    }

    /// Labels already on the device, trusted to lie in `0..classes` (a batcher made them from
    /// a dataset that checked its labels when it was built).
    pub fn from_tensor(
        labels: Tensor<B, 1, Int>,
        classes: usize,
    ) -> core::result::Result<Self, ModelError> {
        if classes < 2 {
            return Err(ModelError::TooFewClasses(classes));
        }
        Ok(ClassLabels { labels, classes })
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.labels.dims()[0]
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels as an integer tensor `(N)`.
    pub fn tensor(&self) -> &Tensor<B, 1, Int> {
        &self.labels
    }
}

/// What a batch's outputs are compared with.
#[derive(Debug, Clone)]
pub enum Targets<B: Backend> {
    /// Class labels, for [`Loss::CrossEntropy`].
    Classes(ClassLabels<B>),
    /// Values `(N, d_output)`, for [`Loss::Mse`].
    Values(Tensor<B, 2>),
}

/// Mean cross-entropy of `logits` `(N, classes)` against `labels`, through a log-softmax that
/// subtracts each row's maximum first, so large logits do not overflow `exp`.
pub fn cross_entropy<B: Backend>(
    logits: Tensor<B, 2>,
    labels: &ClassLabels<B>,
) -> core::result::Result<Tensor<B, 1>, ModelError> {
    let [n, classes] = logits.dims();
    if labels.len() != n {
        return Err(ModelError::TargetShape {
            output: vec![n, classes],
            targets: vec![labels.len()],
        });
    }
    if labels.classes() != classes {
        return Err(ModelError::Classes {
            output: classes,
            labels: labels.classes(),
        });
    }
    if n == 0 {
        return Err(ModelError::EmptyBatch);
    }
    // The shift cancels in the log-softmax, so its gradient is zero and it can be detached.
    let max = logits.clone().max_dim(1).detach();
    let shifted = logits.sub(max);
    let log_sum_exp = shifted.clone().exp().sum_dim(1).log();
    let log_probs = shifted.sub(log_sum_exp);
    let picked = log_probs.gather(1, labels.tensor().clone().reshape([n, 1]));
    Ok(picked.mean().neg())
}

/// Mean over all entries of `(output - targets)^2`.
pub fn mse<B: Backend>(
    output: Tensor<B, 2>,
    targets: Tensor<B, 2>,
) -> core::result::Result<Tensor<B, 1>, ModelError> {
    let (out_dims, target_dims) = (output.dims(), targets.dims());
    if out_dims != target_dims {
        return Err(ModelError::TargetShape {
            output: out_dims.to_vec(),
            targets: target_dims.to_vec(),
        });
    }
    if out_dims[0] == 0 {
        return Err(ModelError::EmptyBatch);
    }
    Ok(output.sub(targets).square().mean())
}

/// [`mse`] between the outputs and the labels' one-hot vectors: the square loss on classes
/// (Cohen et al. 2021 train classifiers with it to show the edge of stability).
pub fn mse_on_one_hot<B: Backend>(
    output: Tensor<B, 2>,
    labels: &ClassLabels<B>,
) -> core::result::Result<Tensor<B, 1>, ModelError> {
    let [n, classes] = output.dims();
    if labels.len() != n {
        return Err(ModelError::TargetShape {
            output: vec![n, classes],
            targets: vec![labels.len()],
        });
    }
    if labels.classes() != classes {
        return Err(ModelError::Classes {
            output: classes,
            labels: labels.classes(),
        });
    }
    // Labels were checked to lie in 0..classes when they were made.
    let one_hot: Tensor<B, 2> = labels
        .tensor()
        .clone()
        .one_hot::<2>(classes)
        .float()
        .cast(output.dtype());
    mse(output, one_hot)
}

/// Collects `sum(theta^2)` over every float parameter, as one graph.
struct SumOfSquares<B: Backend> {
    total: Option<Tensor<B, 1>>,
}

impl<B: Backend> ModuleVisitor<B> for SumOfSquares<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let squares = param.val().square().sum();
        self.total = Some(match self.total.take() {
            Some(total) => total.add(squares),
            None => squares,
        });
    }
}

/// `sum(theta^2)` over every float parameter of `model`; `None` if it has none.
pub fn sum_of_squares<B: Backend, M: Module<B>>(model: &M) -> Option<Tensor<B, 1>> {
    let mut visitor = SumOfSquares { total: None };
    model.visit(&mut visitor);
    visitor.total
}

fn check_penalty(lambda: f64) -> core::result::Result<(), ModelError> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(ModelError::Penalty(lambda))
    }
}

/// `lambda/2 * sum(theta^2)` over every float parameter of `model` (zero on `device` if it
/// has none).
pub fn l2_penalty<B: Backend, M: Module<B>>(
    model: &M,
    lambda: f64,
    device: &B::Device,
) -> core::result::Result<Tensor<B, 1>, ModelError> {
    check_penalty(lambda)?;
    Ok(match sum_of_squares(model) {
        Some(total) => total.mul_scalar(lambda / 2.0),
        None => Tensor::zeros([1], (device, float_dtype::<B>())),
    })
}

/// The function an optimizer minimises: a data loss plus an optional L2 penalty.
#[derive(Config, Debug, Copy, PartialEq)]
pub struct Objective {
    /// The data term.
    pub loss: Loss,
    /// The penalty coefficient `lambda` in `lambda/2 * ||theta||^2`; 0 for none.
    #[config(default = 0.0)]
    pub l2: f64,
}

impl Objective {
    /// The objective's value (a one-element tensor, differentiable on an autodiff backend)
    /// for `model`, whose outputs on the batch are `output`.
    pub fn value<B: Backend, M: Module<B>>(
        &self,
        model: &M,
        output: Tensor<B, 2>,
        targets: &Targets<B>,
    ) -> core::result::Result<Tensor<B, 1>, ModelError> {
        check_penalty(self.l2)?;
        let device = output.device();
        let data = match (self.loss, targets) {
            (Loss::CrossEntropy, Targets::Classes(labels)) => cross_entropy(output, labels)?,
            (Loss::Mse, Targets::Values(values)) => mse(output, values.clone())?,
            (Loss::CrossEntropy, Targets::Values(_)) => {
                return Err(ModelError::TargetKind {
                    loss: Loss::CrossEntropy.name(),
                    needs: "class labels",
                });
            }
            (Loss::Mse, Targets::Classes(labels)) => mse_on_one_hot(output, labels)?,
        };
        if self.l2 == 0.0 {
            return Ok(data);
        }
        Ok(data.add(l2_penalty(model, self.l2, &device)?))
    }
}
