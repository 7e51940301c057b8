//! LARS: SGD with momentum whose step is rescaled per tensor by a trust ratio.

use burn::config::Config;
use burn::optim::LearningRate;

use super::trust_ratio::scale_by_trust_ratio;
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Lars`]; every default equals `optax.lars`'s (PyTorch has no LARS).
#[derive(Config, Debug)]
pub struct LarsConfig {
    /// L2 penalty `lambda` added to the gradient before the trust ratio.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// The trust coefficient `c` (the paper's `eta`).
    #[config(default = 0.001)]
    pub trust_coefficient: f64,
    /// `epsilon`, added to the update's norm.
    #[config(default = 0.0)]
    pub epsilon: f64,
    /// Momentum `mu`.
    #[config(default = 0.9)]
    pub momentum: f64,
    /// Nesterov momentum.
    #[config(default = false)]
    pub nesterov: bool,
}

/// LARS, exactly as `optax.lars`.
///
/// ```text
/// u_t = g_t + lambda theta_{t-1}
/// r_t = c |theta_{t-1}| / (|u_t| + eps)                (per tensor; 1 if a norm is 0)
/// b_t = eta r_t u_t + mu b_{t-1}                        (b_0 = 0)
/// theta_t = theta_{t-1} - b_t                            (Nesterov: - (eta r_t u_t + mu b_t))
/// ```
///
/// Paper: You, Gitman & Ginsburg, *Large Batch Training of Convolutional Networks* (2017).
/// As in optax, the learning rate is applied before the momentum buffer (the buffer holds
/// steps, not gradients), so a learning-rate change reaches old momentum only gradually.
#[derive(Clone, Debug)]
pub struct Lars {
    weight_decay: f64,
    trust_coefficient: f64,
    epsilon: f64,
    momentum: f64,
    nesterov: bool,
}

optimizer_state! {
    /// State of [`Lars`] for one parameter tensor.
    pub struct LarsState {
        /// The momentum buffer `b_t` (in steps, learning rate included).
        pub momentum: Tensor,
    }
}

impl OptimConfig for LarsConfig {
    type Optimizer = Lars;

    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("LARS", "weight_decay", self.weight_decay)?;
        validate::positive("LARS", "trust_coefficient", self.trust_coefficient)?;
        validate::non_negative("LARS", "epsilon", self.epsilon)?;
        validate::unit_half_open("LARS", "momentum", self.momentum)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Lars {
            weight_decay: self.weight_decay,
            trust_coefficient: self.trust_coefficient,
            epsilon: self.epsilon,
            momentum: self.momentum,
            nesterov: self.nesterov,
        })
    }
}

impl Lars {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<LarsState<T>>,
    ) -> (T, Option<LarsState<T>>) {
        let update = if self.weight_decay == 0.0 {
            grad
        } else {
            grad.add(tensor.clone().mul_scalar(self.weight_decay))
        };
        let step = scale_by_trust_ratio(update, &tensor, self.trust_coefficient, self.epsilon)
            .mul_scalar(lr);
        let buffer = match state {
            Some(s) => step.clone().add(s.momentum.mul_scalar(self.momentum)),
            None => step.clone(),
        };
        let moved = if self.nesterov {
            step.add(buffer.clone().mul_scalar(self.momentum))
        } else {
            buffer.clone()
        };
        (tensor.sub(moved), Some(LarsState { momentum: buffer }))
    }
}
