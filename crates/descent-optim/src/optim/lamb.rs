//! LAMB: Adam's direction, rescaled per tensor to the size of the tensor.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{ema, validate_adam};
use super::trust_ratio::scale_by_trust_ratio;
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;

/// Configuration of [`Lamb`]; every default equals `optax.lamb`'s (PyTorch has no LAMB).
#[derive(Config, Debug)]
pub struct LambConfig {
    /// Decay rate `beta_1` of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the denominator outside the square root.
    #[config(default = 1e-6)]
    pub epsilon: f64,
    /// Decoupled weight decay `lambda`, added to the direction before the trust ratio.
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

/// LAMB, exactly as `optax.lamb`.
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t,    v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
/// u_t = (m_t / (1 - beta_1^t)) / (sqrt(v_t / (1 - beta_2^t)) + eps) + lambda theta_{t-1}
/// theta_t = theta_{t-1} - eta (|theta_{t-1}| / |u_t|) u_t     (per tensor; ratio 1 if a norm is 0)
/// ```
///
/// Every tensor (layer) moves by `eta` times its own norm, whatever the scale of its
/// gradients: what lets BERT train with batches of 32k. Paper: You et al., *Large Batch
/// Optimization for Deep Learning: Training BERT in 76 minutes* (ICLR 2020). As in optax,
/// the trust ratio is not clipped (the paper allows a clipping function `phi`).
#[derive(Clone, Debug)]
pub struct Lamb {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
}

optimizer_state! {
    /// State of [`Lamb`] for one parameter tensor.
    pub struct LambState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Second moment `v_t`.
        pub exp_avg_sq: Tensor,
    }
}

impl OptimConfig for LambConfig {
    type Optimizer = Lamb;

    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "LAMB",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Lamb {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
        })
    }
}

impl Lamb {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<LambState<T>>,
    ) -> (T, Option<LambState<T>>) {
        let (step, exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.step, Some(s.exp_avg), Some(s.exp_avg_sq)),
            None => (0, None, None),
        };
        let step = step + 1;
        let t = step as f64;
        let exp_avg = ema(exp_avg, grad.clone(), self.beta_1);
        let exp_avg_sq = ema(exp_avg_sq, grad.square(), self.beta_2);
        let m_hat = exp_avg.clone().div_scalar(1.0 - self.beta_1.powf(t));
        let v_hat = exp_avg_sq.clone().div_scalar(1.0 - self.beta_2.powf(t));
        let mut direction = m_hat.div(v_hat.sqrt().add_scalar(self.epsilon));
        if self.weight_decay != 0.0 {
            direction = direction.add(tensor.clone().mul_scalar(self.weight_decay));
        }
        let direction = scale_by_trust_ratio(direction, &tensor, 1.0, 0.0);
        (
            tensor.sub(direction.mul_scalar(lr)),
            Some(LambState {
                step,
                exp_avg,
                exp_avg_sq,
            }),
        )
    }
}
