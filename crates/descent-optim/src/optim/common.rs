//! Pieces shared by the optimizers of this crate: how weight decay enters an update, the
//! exponential moving average every moment estimate uses, the checks every Adam-type
//! config makes, and PyTorch's `lerp`,
//! each written once over [`Arith`].

use burn::optim::LearningRate;

use crate::arith::Arith;
use crate::error::OptimError;
use crate::validate;

/// How weight decay enters an Adam-type update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Decay {
    /// `g <- g + lambda * theta` (L2 regularisation, PyTorch's `Adam`).
    Coupled(f64),
    /// `theta <- theta * (1 - eta * lambda)` before the update (PyTorch's `AdamW`).
    Decoupled(f64),
}

impl Decay {
    /// Decoupled (AdamW-style) if `decoupled`, else an L2 term in the gradient.
    pub(crate) fn new(weight_decay: f64, decoupled: bool) -> Self {
        if decoupled {
            Decay::Decoupled(weight_decay)
        } else {
            Decay::Coupled(weight_decay)
        }
    }

    /// Apply the decay: returns the possibly shrunk parameter and the possibly
    /// penalised gradient.
    pub(crate) fn apply<T: Arith>(self, lr: LearningRate, tensor: T, grad: T) -> (T, T) {
        match self {
            Decay::Coupled(0.0) | Decay::Decoupled(0.0) => (tensor, grad),
            Decay::Coupled(lambda) => {
                let grad = grad.add(tensor.clone().mul_scalar(lambda));
                (tensor, grad)
            }
            Decay::Decoupled(lambda) => (tensor.mul_scalar(1.0 - lr * lambda), grad),
        }
    }
}

/// Check the fields shared by every Adam-type config.
pub(crate) fn validate_adam(
    owner: &'static str,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
) -> Result<(), OptimError> {
    validate::unit_half_open(owner, "beta_1", beta_1)?;
    validate::unit_half_open(owner, "beta_2", beta_2)?;
    validate::non_negative(owner, "epsilon", epsilon)?;
    validate::non_negative(owner, "weight_decay", weight_decay)
}

/// `m <- beta m + (1 - beta) g`, starting from `m = 0` (so the first value is `(1 - beta) g`).
pub(crate) fn ema<T: Arith>(previous: Option<T>, value: T, beta: f64) -> T {
    match previous {
        Some(previous) => previous.mul_scalar(beta).add(value.mul_scalar(1.0 - beta)),
        None => value.mul_scalar(1.0 - beta),
    }
}

/// `start + weight (end - start)` as PyTorch's CPU `lerp` computes it: for `weight >= 0.5` it
/// evaluates `end - (end - start)(1 - weight)` instead, which rounds differently. Optimizers
/// that PyTorch writes with `lerp_` (Adafactor, Muon) use this to match it to the last bit.
pub(crate) fn torch_lerp<T: Arith>(start: T, end: T, weight: f64) -> T {
    if weight.abs() < 0.5 {
        start.clone().add(end.sub(start).mul_scalar(weight))
    } else {
        end.clone().sub(end.sub(start).mul_scalar(1.0 - weight))
    }
}
