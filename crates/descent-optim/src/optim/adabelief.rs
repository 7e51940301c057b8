//! AdaBelief: Adam with the second moment of the gradient's deviation from its mean.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{ema, validate_adam};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`AdaBelief`]; every default equals `optax.adabelief`'s (PyTorch has no
/// AdaBelief).
#[derive(Config, Debug)]
pub struct AdaBeliefConfig {
    /// Decay rate `beta_1` of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the belief (the second moment of `g - m`).
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the denominator outside the square root.
    #[config(default = 1e-16)]
    pub epsilon: f64,
    /// `epsilon_root`, added to the belief at every step (and kept in it).
    #[config(default = 1e-16)]
    pub epsilon_root: f64,
}

/// AdaBelief, exactly as `optax.adabelief`.
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
/// s_t = beta_2 s_{t-1} + (1 - beta_2) (g_t - m_t)^2 + eps_root
/// theta_t = theta_{t-1} - eta (m_t / (1 - beta_1^t)) / (sqrt(s_t / (1 - beta_2^t)) + eps)
/// ```
///
/// Where the gradient agrees with its running mean (the "belief") the step is large, where it
/// scatters around it the step is small. Paper: Zhuang et al., *AdaBelief Optimizer: Adapting
/// Stepsizes by the Belief in Observed Gradients* (NeurIPS 2020); as in the authors' code and
/// optax, `eps_root` is added to `s_t` inside the recursion.
#[derive(Clone, Debug)]
pub struct AdaBelief {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    epsilon_root: f64,
}

optimizer_state! {
    /// State of [`AdaBelief`] for one parameter tensor.
    pub struct AdaBeliefState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Belief `s_t`.
        pub exp_avg_var: Tensor,
    }
}

impl OptimConfig for AdaBeliefConfig {
    type Optimizer = AdaBelief;

    fn validate(&self) -> Result<(), OptimError> {
        validate_adam("AdaBelief", self.beta_1, self.beta_2, self.epsilon, 0.0)?;
        validate::non_negative("AdaBelief", "epsilon_root", self.epsilon_root)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(AdaBelief {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            epsilon_root: self.epsilon_root,
        })
    }
}

impl AdaBelief {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdaBeliefState<T>>,
    ) -> (T, Option<AdaBeliefState<T>>) {
        let (step, exp_avg, exp_avg_var) = match state {
            Some(s) => (s.step, Some(s.exp_avg), Some(s.exp_avg_var)),
            None => (0, None, None),
        };
        let step = step + 1;
        let t = step as f64;
        let exp_avg = ema(exp_avg, grad.clone(), self.beta_1);
        let deviation = grad.sub(exp_avg.clone()).square();
        let exp_avg_var = ema(exp_avg_var, deviation, self.beta_2).add_scalar(self.epsilon_root);
        let m_hat = exp_avg.clone().div_scalar(1.0 - self.beta_1.powf(t));
        let s_hat = exp_avg_var.clone().div_scalar(1.0 - self.beta_2.powf(t));
        let direction = m_hat.div(s_hat.sqrt().add_scalar(self.epsilon));
        (
            tensor.sub(direction.mul_scalar(lr)),
            Some(AdaBeliefState {
                step,
                exp_avg,
                exp_avg_var,
            }),
        )
    }
}
