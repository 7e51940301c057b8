//! Adan: adaptive Nesterov momentum from moving averages of the gradient and its changes.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::ema;
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

const OWNER: &str = "Adan";

/// Configuration of [`Adan`]; every default equals `optax.adan`'s (PyTorch has no Adan).
#[derive(Config, Debug)]
pub struct AdanConfig {
    /// Decay rate `beta_1` of the gradient's average.
    #[config(default = 0.98)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the average of gradient differences.
    #[config(default = 0.92)]
    pub beta_2: f64,
    /// Decay rate `beta_3` of the second moment.
    #[config(default = 0.99)]
    pub beta_3: f64,
    /// `epsilon`, added to the denominator outside the square root.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// `epsilon_root`, added inside the square root.
    #[config(default = 1e-8)]
    pub epsilon_root: f64,
    /// Decoupled weight decay `lambda`, added to the direction.
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

/// Adan, exactly as `optax.adan`.
///
/// ```text
/// d_t = g_t - g_{t-1}   (0 at the first step)
/// m_t = beta_1 m + (1 - beta_1) g_t,     v_t = beta_2 v + (1 - beta_2) d_t
/// n_t = beta_3 n + (1 - beta_3) (g_t + (1 - beta_2) d_t)^2
/// u_t = (m_t/(1 - beta_1^t) + (1 - beta_2) v_t/(1 - beta_2^t)) / (sqrt(n_t/(1 - beta_3^t) + eps_root) + eps)
/// theta_t = theta_{t-1} - eta (u_t + lambda theta_{t-1})
/// ```
///
/// Paper: Xie et al., *Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep
/// Models* (TPAMI 2024), Algorithm 1 with bias correction as optax has it; the decay is added
/// to the direction (optax's `add_decayed_weights`), not the paper's proximal form.
#[derive(Clone, Debug)]
pub struct Adan {
    beta_1: f64,
    beta_2: f64,
    beta_3: f64,
    epsilon: f64,
    epsilon_root: f64,
    weight_decay: f64,
}

optimizer_state! {
    /// State of [`Adan`] for one parameter tensor.
    pub struct AdanState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// Average `m_t` of the gradients.
        pub exp_avg: Tensor,
        /// Average `v_t` of the gradient differences.
        pub exp_avg_diff: Tensor,
        /// Second moment `n_t`.
        pub exp_avg_sq: Tensor,
        /// The previous gradient `g_{t-1}`.
        pub previous_grad: Tensor,
    }
}

impl OptimConfig for AdanConfig {
    type Optimizer = Adan;

    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_half_open(OWNER, "beta_1", self.beta_1)?;
        validate::unit_half_open(OWNER, "beta_2", self.beta_2)?;
        validate::unit_half_open(OWNER, "beta_3", self.beta_3)?;
        validate::non_negative(OWNER, "epsilon", self.epsilon)?;
        validate::non_negative(OWNER, "epsilon_root", self.epsilon_root)?;
        validate::non_negative(OWNER, "weight_decay", self.weight_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adan {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            beta_3: self.beta_3,
            epsilon: self.epsilon,
            epsilon_root: self.epsilon_root,
            weight_decay: self.weight_decay,
        })
    }
}

impl Adan {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdanState<T>>,
    ) -> (T, Option<AdanState<T>>) {
        let (step, exp_avg, exp_avg_diff, exp_avg_sq, difference) = match state {
            Some(s) => (
                s.step,
                Some(s.exp_avg),
                Some(s.exp_avg_diff),
                Some(s.exp_avg_sq),
                grad.clone().sub(s.previous_grad),
            ),
            None => (0, None, None, None, grad.zeros_like()),
        };
        let step = step + 1;
        let t = step as f64;
        let exp_avg = ema(exp_avg, grad.clone(), self.beta_1);
        let exp_avg_diff = ema(exp_avg_diff, difference.clone(), self.beta_2);
        let corrected = grad.clone().add(difference.mul_scalar(1.0 - self.beta_2));
        let exp_avg_sq = ema(exp_avg_sq, corrected.square(), self.beta_3);
        let m_hat = exp_avg.clone().div_scalar(1.0 - self.beta_1.powf(t));
        let v_hat = exp_avg_diff.clone().div_scalar(1.0 - self.beta_2.powf(t));
        let n_hat = exp_avg_sq.clone().div_scalar(1.0 - self.beta_3.powf(t));
        let mut direction = m_hat.add(v_hat.mul_scalar(1.0 - self.beta_2)).div(
            n_hat
                .add_scalar(self.epsilon_root)
                .sqrt()
                .add_scalar(self.epsilon),
        );
        if self.weight_decay != 0.0 {
            direction = direction.add(tensor.clone().mul_scalar(self.weight_decay));
        }
        (
            tensor.sub(direction.mul_scalar(lr)),
            Some(AdanState {
                step,
                exp_avg,
                exp_avg_diff,
                exp_avg_sq,
                previous_grad: grad,
            }),
        )
    }
}
