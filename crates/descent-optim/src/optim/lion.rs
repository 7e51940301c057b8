//! Lion: sign-based momentum found by program search.

use burn::config::Config;
use burn::optim::LearningRate;

#[cfg(feature = "burn-0-21")]
use super::fused::Real;
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Lion`]; defaults are the paper's (`beta_1 = 0.9`, `beta_2 = 0.99`).
/// PyTorch has no Lion; the paper recommends a learning rate 3-10x smaller than AdamW's.
#[derive(Config, Debug)]
pub struct LionConfig {
    /// Interpolation `beta_1` between momentum and gradient for the update direction.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay `beta_2` of the momentum itself.
    #[config(default = 0.99)]
    pub beta_2: f64,
    /// Decoupled weight decay `lambda`.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed.
    #[config(default = true)]
    pub fused: bool,
}

/// Lion (EvoLved Sign Momentum).
///
/// ```text
/// c_t = beta_1 m_{t-1} + (1 - beta_1) g_t
/// theta_t = theta_{t-1} (1 - eta lambda) - eta sign(c_t)
/// m_t = beta_2 m_{t-1} + (1 - beta_2) g_t,   m_0 = 0
/// ```
///
/// Paper: Chen et al., *Symbolic Discovery of Optimization Algorithms* (NeurIPS 2023).
/// `sign(0) = 0`, as in the paper's reference code. On burn's `NdArray` and `Flex` backends
/// (this crate's features `ndarray`, `flex`) every step after the first is one fused, in-place
/// pass (`fused`), with the same bits.
#[derive(Clone, Debug)]
pub struct Lion {
    beta_1: f64,
    beta_2: f64,
    weight_decay: f64,
    // Read by the fused kernels, which exist on burn 0.21 only.
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fused: bool,
}

optimizer_state! {
    /// State of [`Lion`] for one parameter tensor.
    pub struct LionState {
        /// Momentum `m_t`.
        pub exp_avg: Tensor,
    }
}

impl OptimConfig for LionConfig {
    type Optimizer = Lion;
    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_closed("Lion", "beta_1", self.beta_1)?;
        validate::unit_half_open("Lion", "beta_2", self.beta_2)?;
        validate::non_negative("Lion", "weight_decay", self.weight_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Lion {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            weight_decay: self.weight_decay,
            fused: self.fused,
        })
    }
}

impl Lion {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<LionState<T>>,
    ) -> (T, Option<LionState<T>>) {
        let tensor = if self.weight_decay != 0.0 {
            tensor.mul_scalar(1.0 - lr * self.weight_decay)
        } else {
            tensor
        };
        let (direction, exp_avg) = match state {
            Some(s) => {
                let direction = s
                    .exp_avg
                    .clone()
                    .mul_scalar(self.beta_1)
                    .add(grad.clone().mul_scalar(1.0 - self.beta_1));
                let exp_avg = s
                    .exp_avg
                    .mul_scalar(self.beta_2)
                    .add(grad.mul_scalar(1.0 - self.beta_2));
                (direction, exp_avg)
            }
            None => (grad.clone(), grad.mul_scalar(1.0 - self.beta_2)),
        };
        let tensor = tensor.sub(direction.sign().mul_scalar(lr));
        (tensor, Some(LionState { exp_avg }))
    }
}

/// The scalars of one fused Lion step (burn 0.21's CPU kernels in `super::fused`), in the
/// parameters' precision.
#[cfg(feature = "burn-0-21")]
pub(super) struct LionScalars<T> {
    /// `1 - eta lambda`, when `lambda` is not zero.
    pub(super) decoupled: Option<T>,
    pub(super) beta_1: T,
    pub(super) one_minus_beta_1: T,
    pub(super) beta_2: T,
    pub(super) one_minus_beta_2: T,
    pub(super) lr: T,
}

#[cfg(feature = "burn-0-21")]
impl<T: Real> LionScalars<T> {
    /// The scalars of a step at rate `lr`: the same f64 arithmetic as [`Lion::update`],
    /// rounded to `T` where its tensor ops round.
    pub(super) fn new(lion: &Lion, lr: f64) -> Self {
        Self {
            decoupled: (lion.weight_decay != 0.0).then(|| T::of(1.0 - lr * lion.weight_decay)),
            beta_1: T::of(lion.beta_1),
            one_minus_beta_1: T::of(1.0 - lion.beta_1),
            beta_2: T::of(lion.beta_2),
            one_minus_beta_2: T::of(1.0 - lion.beta_2),
            lr: T::of(lr),
        }
    }
}
