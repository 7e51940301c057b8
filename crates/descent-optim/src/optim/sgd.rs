//! Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::Decay;
#[cfg(feature = "burn-0-21")]
use super::fused::{Real, unless_zero};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Sgd`]; every default equals `torch.optim.SGD`'s.
///
/// burn's own `SgdConfig` differs: its momentum, when enabled, defaults to 0.9 with
/// dampening 0.1. Here momentum is off unless asked for, and dampening is 0.
#[derive(Config, Debug)]
pub struct SgdConfig {
    /// Momentum factor `mu`; 0 disables the momentum buffer entirely.
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Dampening `tau` of the gradient added to the momentum buffer (from the second step on).
    #[config(default = 0.0)]
    pub dampening: f64,
    /// L2 penalty `lambda` added to the gradient (coupled weight decay).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Use Nesterov momentum in PyTorch's form (needs momentum > 0 and dampening = 0).
    #[config(default = false)]
    pub nesterov: bool,
    /// Ascend instead of descend: the objective is maximised.
    #[config(default = false)]
    pub maximize: bool,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed (PyTorch's `fused` flag, whose
    /// default also picks the fastest path).
    #[config(default = true)]
    pub fused: bool,
}

/// Stochastic gradient descent, exactly as `torch.optim.SGD`.
///
/// With gradient `g_t` (negated if `maximize`), at step `t`:
///
/// ```text
/// g_t <- g_t + lambda * theta_{t-1}                       (if weight_decay != 0)
/// b_1  = g_1,   b_t = mu * b_{t-1} + (1 - tau) * g_t      (if momentum != 0)
/// g_t <- g_t + mu * b_t   (Nesterov)   or   g_t <- b_t    (classical momentum)
/// theta_t = theta_{t-1} - eta * g_t
/// ```
///
/// Papers: Robbins & Monro (1951); Polyak (1964) for momentum; Sutskever et al.,
/// *On the importance of initialization and momentum in deep learning* (ICML 2013) for
/// the Nesterov form used here. Identical to PyTorch.
#[derive(Clone, Debug)]
pub struct Sgd {
    pub(crate) momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
    // Read by the fused kernels, which exist on burn 0.21 only.
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fused: bool,
}

optimizer_state! {
    /// State of [`Sgd`] for one parameter tensor: the momentum buffer, when momentum is on.
    pub struct SgdState {
        /// Momentum buffer `b_t`.
        pub momentum_buffer: Tensor,
    }
}

impl OptimConfig for SgdConfig {
    type Optimizer = Sgd;
    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("SGD", "momentum", self.momentum)?;
        validate::unit_closed("SGD", "dampening", self.dampening)?;
        validate::non_negative("SGD", "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::NesterovWithoutMomentum {
                momentum: self.momentum,
                dampening: self.dampening,
            });
        }
        Ok(())
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Sgd {
            momentum: self.momentum,
            dampening: self.dampening,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
            maximize: self.maximize,
            fused: self.fused,
        })
    }
}

impl Sgd {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<SgdState<T>>,
    ) -> (T, Option<SgdState<T>>) {
        let grad = if self.maximize { grad.neg() } else { grad };
        let (tensor, grad) = Decay::Coupled(self.weight_decay).apply(lr, tensor, grad);
        if self.momentum == 0.0 {
            return (tensor.sub(grad.mul_scalar(lr)), None);
        }
        // Only Nesterov needs the gradient after the buffer update; elsewhere it is moved,
        // so burn can update in place.
        let nesterov_grad = self.nesterov.then(|| grad.clone());
        let buffer = match state {
            Some(state) => {
                // Without dampening the gradient enters unscaled: skipping `* 1.0` saves a
                // pass over memory and changes no bit.
                let entering = if self.dampening == 0.0 {
                    grad
                } else {
                    grad.mul_scalar(1.0 - self.dampening)
                };
                state
                    .momentum_buffer
                    .mul_scalar(self.momentum)
                    .add(entering)
            }
            None => grad,
        };
        let direction = match nesterov_grad {
            Some(grad) => grad.add(buffer.clone().mul_scalar(self.momentum)),
            None => buffer.clone(),
        };
        (
            tensor.sub(direction.mul_scalar(lr)),
            Some(SgdState {
                momentum_buffer: buffer,
            }),
        )
    }
}

/// The scalars of one fused SGD step (burn 0.21's CPU kernels in `super::fused`), in the
/// parameters' precision.
#[cfg(feature = "burn-0-21")]
pub(super) struct SgdScalars<T> {
    pub(super) maximize: bool,
    /// `lambda` of the L2 term, when it is not zero.
    pub(super) weight_decay: Option<T>,
    pub(super) momentum: T,
    /// `1 - dampening`, when dampening is not zero.
    pub(super) undamped: Option<T>,
    pub(super) nesterov: bool,
    pub(super) lr: T,
}

#[cfg(feature = "burn-0-21")]
impl<T: Real> SgdScalars<T> {
    /// The scalars of a step at rate `lr`, rounded to `T` as [`Sgd::update`]'s tensor ops
    /// round them.
    pub(super) fn new(sgd: &Sgd, lr: f64) -> Self {
        Self {
            maximize: sgd.maximize,
            weight_decay: unless_zero(sgd.weight_decay),
            momentum: T::of(sgd.momentum),
            undamped: (sgd.dampening != 0.0).then(|| T::of(1.0 - sgd.dampening)),
            nesterov: sgd.nesterov,
            lr: T::of(lr),
        }
    }
}
