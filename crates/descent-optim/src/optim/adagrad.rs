//! Adagrad: per-coordinate learning rates from the sum of squared gradients.

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

/// Configuration of [`Adagrad`]; every default equals `torch.optim.Adagrad`'s.
#[derive(Config, Debug)]
pub struct AdagradConfig {
    /// Learning-rate decay `delta`: step `t` uses `eta / (1 + (t - 1) delta)`.
    #[config(default = 0.0)]
    pub lr_decay: f64,
    /// L2 penalty `lambda` added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Initial value `s_0` of every accumulator.
    #[config(default = 0.0)]
    pub initial_accumulator_value: f64,
    /// `epsilon`, added outside the square root.
    #[config(default = 1e-10)]
    pub epsilon: f64,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed.
    #[config(default = true)]
    pub fused: bool,
}

/// Adagrad, exactly as `torch.optim.Adagrad`.
///
/// ```text
/// eta_t = eta / (1 + (t - 1) delta)
/// s_t = s_{t-1} + g_t^2
/// theta_t = theta_{t-1} - eta_t g_t / (sqrt(s_t) + eps)
/// ```
///
/// Paper: Duchi, Hazan & Singer, *Adaptive Subgradient Methods for Online Learning and
/// Stochastic Optimization* (JMLR 2011). Identical to PyTorch. (burn 0.21's `Adagrad`
/// has no `initial_accumulator_value` and defaults `epsilon` to 1e-5.) On burn's `NdArray`
/// and `Flex` backends (this crate's features `ndarray`, `flex`) every step after the first is
/// one fused, in-place pass (`fused`), with the same bits.
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    epsilon: f64,
    // Read by the fused kernels, which exist on burn 0.21 only.
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fused: bool,
}

optimizer_state! {
    /// State of [`Adagrad`] for one parameter tensor.
    pub struct AdagradState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// Sum of squared gradients `s_t`.
        pub sum: Tensor,
    }
}

impl OptimConfig for AdagradConfig {
    type Optimizer = Adagrad;
    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("Adagrad", "lr_decay", self.lr_decay)?;
        validate::non_negative("Adagrad", "weight_decay", self.weight_decay)?;
        validate::non_negative(
            "Adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        validate::non_negative("Adagrad", "epsilon", self.epsilon)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adagrad {
            lr_decay: self.lr_decay,
            weight_decay: self.weight_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            epsilon: self.epsilon,
            fused: self.fused,
        })
    }
}

impl Adagrad {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdagradState<T>>,
    ) -> (T, Option<AdagradState<T>>) {
        let (tensor, grad) = Decay::Coupled(self.weight_decay).apply(lr, tensor, grad);
        let (step, sum) = match state {
            Some(s) => (s.step + 1, s.sum.add(grad.clone().square())),
            None if self.initial_accumulator_value != 0.0 => (
                1,
                grad.clone()
                    .square()
                    .add_scalar(self.initial_accumulator_value),
            ),
            None => (1, grad.clone().square()),
        };
        let clr = lr / (1.0 + (step - 1) as f64 * self.lr_decay);
        let denom = sum.clone().sqrt().add_scalar(self.epsilon);
        let tensor = tensor.sub(grad.div(denom).mul_scalar(clr));
        (tensor, Some(AdagradState { step, sum }))
    }
}

/// The scalars of one fused Adagrad step (burn 0.21's CPU kernels in `super::fused`), in the
/// parameters' precision.
#[cfg(feature = "burn-0-21")]
pub(super) struct AdagradScalars<T> {
    /// `lambda` of the L2 term, when it is not zero.
    pub(super) weight_decay: Option<T>,
    pub(super) epsilon: T,
    /// This step's rate, `eta / (1 + (t - 1) lr_decay)`.
    pub(super) lr: T,
}

#[cfg(feature = "burn-0-21")]
impl<T: Real> AdagradScalars<T> {
    /// The scalars of step `step` (counted from 1) at rate `lr`: the same f64 arithmetic as
    /// [`Adagrad::update`], rounded to `T` where its tensor ops round.
    pub(super) fn new(adagrad: &Adagrad, lr: f64, step: usize) -> Self {
        Self {
            weight_decay: unless_zero(adagrad.weight_decay),
            epsilon: T::of(adagrad.epsilon),
            lr: T::of(lr / (1.0 + (step - 1) as f64 * adagrad.lr_decay)),
        }
    }
}
