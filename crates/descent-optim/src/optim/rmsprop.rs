//! RMSProp, plain or centered, with optional momentum.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, ema};
#[cfg(feature = "burn-0-21")]
use super::fused::{Real, unless_zero};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`RmsProp`]; every default equals `torch.optim.RMSprop`'s.
///
/// burn's own `RmsPropConfig` defaults `epsilon` to 1e-5; PyTorch (and this crate) use 1e-8.
#[derive(Config, Debug)]
pub struct RmsPropConfig {
    /// Smoothing constant `alpha` of the running average of squared gradients.
    #[config(default = 0.99)]
    pub alpha: f64,
    /// `epsilon`, added *outside* the square root.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty `lambda` added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Momentum factor `mu` applied to the normalised gradient; 0 disables it.
    #[config(default = 0.0)]
    pub momentum: f64,
    /// Normalise by an estimate of the variance (subtract the squared mean gradient).
    #[config(default = false)]
    pub centered: bool,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed.
    #[config(default = true)]
    pub fused: bool,
}

/// RMSProp, exactly as `torch.optim.RMSprop`.
///
/// ```text
/// v_t = alpha v_{t-1} + (1 - alpha) g_t^2
/// gbar_t = alpha gbar_{t-1} + (1 - alpha) g_t              (centered only)
/// d_t = sqrt(v_t - gbar_t^2) + eps   (centered)   or   sqrt(v_t) + eps
/// b_t = mu b_{t-1} + g_t / d_t,  theta_t = theta_{t-1} - eta b_t   (momentum > 0)
/// theta_t = theta_{t-1} - eta g_t / d_t                             (otherwise)
/// ```
///
/// Source: Hinton, *Neural Networks for Machine Learning*, lecture 6e (2012); the centered
/// form from Graves, *Generating Sequences With Recurrent Neural Networks* (2013).
/// Identical to PyTorch. On burn's `NdArray` and `Flex` backends (this crate's features
/// `ndarray`, `flex`) every step after the first is one fused, in-place pass (`fused`), with
/// the same bits.
#[derive(Clone, Debug)]
pub struct RmsProp {
    alpha: f64,
    epsilon: f64,
    weight_decay: f64,
    pub(crate) momentum: f64,
    pub(crate) centered: bool,
    // Read by the fused kernels, which exist on burn 0.21 only.
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fused: bool,
}

optimizer_state! {
    /// State of [`RmsProp`] for one parameter tensor.
    pub struct RmsPropState {
        /// Number of steps taken.
        pub step: Scalar<usize>,
        /// Running average of squared gradients `v_t`.
        pub square_avg: Tensor,
        /// Running average of gradients `gbar_t` (centered only).
        pub grad_avg: OptionTensor,
        /// Momentum buffer `b_t` (momentum > 0 only).
        pub momentum_buffer: OptionTensor,
    }
}

impl OptimConfig for RmsPropConfig {
    type Optimizer = RmsProp;
    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_closed("RMSProp", "alpha", self.alpha)?;
        validate::non_negative("RMSProp", "epsilon", self.epsilon)?;
        validate::non_negative("RMSProp", "weight_decay", self.weight_decay)?;
        validate::non_negative("RMSProp", "momentum", self.momentum)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(RmsProp {
            alpha: self.alpha,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered: self.centered,
            fused: self.fused,
        })
    }
}

impl RmsProp {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<RmsPropState<T>>,
    ) -> (T, Option<RmsPropState<T>>) {
        let (tensor, grad) = Decay::Coupled(self.weight_decay).apply(lr, tensor, grad);
        let (step, square_avg, grad_avg, momentum_buffer) = match state {
            Some(s) => (s.step, Some(s.square_avg), s.grad_avg, s.momentum_buffer),
            None => (0, None, None, None),
        };
        let square_avg = ema(square_avg, grad.clone().square(), self.alpha);
        let grad_avg = self
            .centered
            .then(|| ema(grad_avg, grad.clone(), self.alpha));
        let variance = match &grad_avg {
            Some(mean) => square_avg.clone().sub(mean.clone().square()),
            None => square_avg.clone(),
        };
        let denom = variance.sqrt().add_scalar(self.epsilon);
        let (tensor, momentum_buffer) = if self.momentum > 0.0 {
            let normalised = grad.div(denom);
            let buffer = match momentum_buffer {
                Some(b) => b.mul_scalar(self.momentum).add(normalised),
                None => normalised,
            };
            (tensor.sub(buffer.clone().mul_scalar(lr)), Some(buffer))
        } else {
            (tensor.sub(grad.div(denom).mul_scalar(lr)), None)
        };
        (
            tensor,
            Some(RmsPropState {
                step: step + 1,
                square_avg,
                grad_avg,
                momentum_buffer,
            }),
        )
    }
}

/// The scalars of one fused RMSProp step (burn 0.21's CPU kernels in `super::fused`), in the
/// parameters' precision.
#[cfg(feature = "burn-0-21")]
pub(super) struct RmsPropScalars<T> {
    /// `lambda` of the L2 term, when it is not zero.
    pub(super) weight_decay: Option<T>,
    pub(super) alpha: T,
    pub(super) one_minus_alpha: T,
    pub(super) epsilon: T,
    pub(super) momentum: T,
    pub(super) lr: T,
}

#[cfg(feature = "burn-0-21")]
impl<T: Real> RmsPropScalars<T> {
    /// The scalars of a step at rate `lr`, rounded to `T` as [`RmsProp::update`]'s tensor ops
    /// round them.
    pub(super) fn new(rmsprop: &RmsProp, lr: f64) -> Self {
        Self {
            weight_decay: unless_zero(rmsprop.weight_decay),
            alpha: T::of(rmsprop.alpha),
            one_minus_alpha: T::of(1.0 - rmsprop.alpha),
            epsilon: T::of(rmsprop.epsilon),
            momentum: T::of(rmsprop.momentum),
            lr: T::of(lr),
        }
    }
}
