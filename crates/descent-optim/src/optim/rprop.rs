//! Rprop: per-element step sizes driven by the sign of the gradient alone.

use burn::config::Config;
use burn::optim::LearningRate;

use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

const OWNER: &str = "Rprop";

/// Configuration of [`Rprop`]; every default equals `torch.optim.Rprop`'s.
#[derive(Config, Debug)]
pub struct RpropConfig {
    /// `eta-`: the factor a step size shrinks by when the gradient's sign flips, in (0, 1).
    #[config(default = 0.5)]
    pub eta_minus: f64,
    /// `eta+`: the factor a step size grows by while the sign holds, above 1.
    #[config(default = 1.2)]
    pub eta_plus: f64,
    /// The smallest step size.
    #[config(default = 1e-6)]
    pub step_size_min: f64,
    /// The largest step size.
    #[config(default = 50.0)]
    pub step_size_max: f64,
    /// Ascend instead of descend.
    #[config(default = false)]
    pub maximize: bool,
}

/// Rprop (resilient backpropagation), exactly as `torch.optim.Rprop` (Rprop without
/// weight-backtracking, "Rprop-").
///
/// ```text
/// s_t = sign(g_t * g'_{t-1})                      (g' is the previous *effective* gradient)
/// d_t = clamp(d_{t-1} * (eta+ if s_t > 0, eta- if s_t < 0, 1 otherwise), d_min, d_max)
/// g'_t = 0 where s_t < 0, g_t elsewhere
/// theta_t = theta_{t-1} - sign(g'_t) * d_t
/// ```
///
/// with `d_0 = eta` (the learning rate) and `g'_0 = 0`. Only the gradient's sign moves the
/// parameters, so Rprop suits full-batch training; a mini-batch's noisy signs make it erratic.
///
/// Paper: Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation Learning:
/// The RPROP Algorithm* (ICNN 1993). As in PyTorch, the learning rate only sets the initial
/// step sizes: a learning-rate schedule has no effect after the first step.
#[derive(Clone, Debug)]
pub struct Rprop {
    eta_minus: f64,
    eta_plus: f64,
    step_size_min: f64,
    step_size_max: f64,
    maximize: bool,
}

optimizer_state! {
    /// State of [`Rprop`] for one parameter tensor.
    pub struct RpropState {
        /// Number of steps taken.
        pub step: Scalar<usize>,
        /// The previous effective gradient `g'_{t-1}`.
        pub prev: Tensor,
        /// The per-element step sizes `d_t`.
        pub step_size: Tensor,
    }
}

impl OptimConfig for RpropConfig {
    type Optimizer = Rprop;

    fn validate(&self) -> Result<(), OptimError> {
        if !(self.eta_minus > 0.0 && self.eta_minus < 1.0) {
            return Err(OptimError::InvalidHyperparameter {
                owner: OWNER,
                field: "eta_minus",
                value: self.eta_minus.to_string(),
                allowed: "in (0, 1)",
            });
        }
        if !(self.eta_plus > 1.0 && self.eta_plus.is_finite()) {
            return Err(OptimError::InvalidHyperparameter {
                owner: OWNER,
                field: "eta_plus",
                value: self.eta_plus.to_string(),
                allowed: "finite and > 1",
            });
        }
        validate::non_negative(OWNER, "step_size_min", self.step_size_min)?;
        validate::positive(OWNER, "step_size_max", self.step_size_max)?;
        if self.step_size_min > self.step_size_max {
            return Err(OptimError::InvalidHyperparameter {
                owner: OWNER,
                field: "step_size_min",
                value: self.step_size_min.to_string(),
                allowed: "at most step_size_max",
            });
        }
        Ok(())
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Rprop {
            eta_minus: self.eta_minus,
            eta_plus: self.eta_plus,
            step_size_min: self.step_size_min,
            step_size_max: self.step_size_max,
            maximize: self.maximize,
        })
    }
}

impl Rprop {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<RpropState<T>>,
    ) -> (T, Option<RpropState<T>>) {
        let grad = if self.maximize { grad.neg() } else { grad };
        let (step, prev, step_size) = match state {
            Some(s) => (s.step, s.prev, s.step_size),
            None => (0, grad.zeros_like(), grad.ones_like().mul_scalar(lr)),
        };
        let agreement = grad.clone().mul(prev).sign();
        let flipped = agreement.clone().lower_elem(0.0);
        let factor = agreement
            .ones_like()
            .mask_fill(agreement.greater_elem(0.0), self.eta_plus)
            .mask_fill(flipped.clone(), self.eta_minus);
        let step_size = step_size
            .mul(factor)
            .clamp(self.step_size_min, self.step_size_max);
        // After a sign flip the element rests for one step (and its gradient is forgotten).
        let effective = grad.mask_fill(flipped, 0.0);
        let tensor = tensor.sub(effective.clone().sign().mul(step_size.clone()));
        (
            tensor,
            Some(RpropState {
                step: step + 1,
                prev: effective,
                step_size,
            }),
        )
    }
}
