//! AdamW: Adam with decoupled weight decay.

use burn::config::Config;
use burn::optim::LearningRate;

use super::adam::{Adam, AdamState};
use super::common::{Decay, validate_adam};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;

/// Configuration of [`AdamW`]; every default equals `torch.optim.AdamW`'s
/// (note `weight_decay = 0.01`, unlike Adam's 0).
#[derive(Config, Debug)]
pub struct AdamWConfig {
    /// Decay rate `beta_1` of the first-moment estimate.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the second-moment estimate.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the bias-corrected root of the second moment.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Decoupled weight decay `lambda`: `theta <- theta (1 - eta lambda)` each step.
    #[config(default = 0.01)]
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    #[config(default = false)]
    pub amsgrad: bool,
    /// Ascend instead of descend.
    #[config(default = false)]
    pub maximize: bool,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed (PyTorch's `fused` flag, whose
    /// default also picks the fastest path).
    #[config(default = true)]
    pub fused: bool,
}

/// AdamW, exactly as `torch.optim.AdamW`.
///
/// ```text
/// theta <- theta * (1 - eta * lambda)
/// then the Adam update of [`Adam`] with the raw gradient (no L2 term)
/// ```
///
/// The decay is multiplied by the *scheduled* learning rate `eta`, as in PyTorch (the
/// paper's schedule multiplier times `lambda`). burn's `AdamW` differs in its default
/// `epsilon` (1e-5) and `weight_decay` (1e-4).
///
/// Paper: Loshchilov & Hutter, *Decoupled Weight Decay Regularization* (ICLR 2019).
/// Identical to PyTorch.
#[derive(Clone, Debug)]
pub struct AdamW {
    pub(crate) inner: Adam,
}

/// State of [`AdamW`]: the same moments as [`Adam`].
pub type AdamWState<T> = AdamState<T>;

impl OptimConfig for AdamWConfig {
    type Optimizer = AdamW;
    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "AdamW",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(AdamW {
            inner: Adam {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                epsilon: self.epsilon,
                decay: Decay::Decoupled(self.weight_decay),
                amsgrad: self.amsgrad,
                bias_correction: true,
                maximize: self.maximize,
                fused: self.fused,
            },
        })
    }
}

impl AdamW {
    /// One step of the rule on one tensor: Adam's, with the decay decoupled.
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdamState<T>>,
    ) -> (T, Option<AdamState<T>>) {
        self.inner.update(lr, tensor, grad, state)
    }
}
