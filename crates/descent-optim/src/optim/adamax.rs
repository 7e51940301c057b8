//! Adamax: Adam with the infinity norm in place of the second moment.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, ema, validate_adam};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;

/// Configuration of [`Adamax`]; every default equals `torch.optim.Adamax`'s
/// (whose default learning rate, for the record, is 2e-3).
#[derive(Config, Debug)]
pub struct AdamaxConfig {
    /// Decay rate `beta_1` of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the infinity norm.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to `|g_t|` inside the maximum.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty `lambda` added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

/// Adamax, exactly as `torch.optim.Adamax`.
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
/// u_t = max(beta_2 u_{t-1}, |g_t| + eps)
/// theta_t = theta_{t-1} - eta / (1 - beta_1^t) * m_t / u_t
/// ```
///
/// Paper: Kingma & Ba, *Adam: A Method for Stochastic Optimization* (ICLR 2015), section 7.1.
/// PyTorch (and this crate) put `eps` inside the maximum, not in the denominator.
#[derive(Clone, Debug)]
pub struct Adamax {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    decay: Decay,
}

optimizer_state! {
    /// State of [`Adamax`] for one parameter tensor.
    pub struct AdamaxState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Exponentially weighted infinity norm `u_t`.
        pub exp_inf: Tensor,
    }
}

impl OptimConfig for AdamaxConfig {
    type Optimizer = Adamax;
    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "Adamax",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adamax {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            decay: Decay::Coupled(self.weight_decay),
        })
    }
}

impl Adamax {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdamaxState<T>>,
    ) -> (T, Option<AdamaxState<T>>) {
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let (step, exp_avg, exp_inf) = match state {
            Some(s) => (s.step, Some(s.exp_avg), Some(s.exp_inf)),
            None => (0, None, None),
        };
        let step = step + 1;
        let magnitude = grad.clone().abs().add_scalar(self.epsilon);
        let exp_inf = match exp_inf {
            Some(u) => u.mul_scalar(self.beta_2).max_pair(magnitude),
            None => magnitude,
        };
        let exp_avg = ema(exp_avg, grad, self.beta_1);
        let step_size = lr / (1.0 - self.beta_1.powf(step as f64));
        let tensor = tensor.sub(exp_avg.clone().div(exp_inf.clone()).mul_scalar(step_size));
        (
            tensor,
            Some(AdamaxState {
                step,
                exp_avg,
                exp_inf,
            }),
        )
    }
}
