//! RAdam: Adam with a rectified variance of the adaptive learning rate.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, ema, validate_adam};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;

/// Configuration of [`RAdam`]; every default equals `torch.optim.RAdam`'s.
#[derive(Config, Debug)]
pub struct RAdamConfig {
    /// Decay rate `beta_1` of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to `sqrt(v_t)` before the bias correction (PyTorch's placement).
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Weight decay `lambda`: an L2 term in the gradient, or decoupled (see below).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Decoupled weight decay (`theta <- theta (1 - eta lambda)`) instead of L2.
    #[config(default = false)]
    pub decoupled_weight_decay: bool,
}

/// RAdam, exactly as `torch.optim.RAdam`.
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t,   v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
/// rho_inf = 2 / (1 - beta_2) - 1,   rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t)
/// if rho_t > 5:
///   r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
///   theta_t = theta_{t-1} - eta r_t m_t / (1 - beta_1^t) * sqrt(1 - beta_2^t) / (sqrt(v_t) + eps)
/// else (variance not yet tractable: plain momentum SGD):
///   theta_t = theta_{t-1} - eta m_t / (1 - beta_1^t)
/// ```
///
/// Paper: Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*
/// (ICLR 2020). Identical to PyTorch, including `eps` outside the bias correction.
#[derive(Clone, Debug)]
pub struct RAdam {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    decay: Decay,
}

optimizer_state! {
    /// State of [`RAdam`] for one parameter tensor.
    pub struct RAdamState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Second moment `v_t`.
        pub exp_avg_sq: Tensor,
    }
}

impl OptimConfig for RAdamConfig {
    type Optimizer = RAdam;
    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "RAdam",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        let decay = Decay::new(self.weight_decay, self.decoupled_weight_decay);
        Ok(RAdam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            decay,
        })
    }
}

impl RAdam {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<RAdamState<T>>,
    ) -> (T, Option<RAdamState<T>>) {
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let (step, exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.step, Some(s.exp_avg), Some(s.exp_avg_sq)),
            None => (0, None, None),
        };
        let step = step + 1;
        let t = step as f64;
        let exp_avg_sq = ema(exp_avg_sq, grad.clone().square(), self.beta_2);
        let exp_avg = ema(exp_avg, grad, self.beta_1);

        let bias_correction_1 = 1.0 - self.beta_1.powf(t);
        let bias_correction_2 = 1.0 - self.beta_2.powf(t);
        let rho_inf = 2.0 / (1.0 - self.beta_2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * self.beta_2.powf(t) / bias_correction_2;
        let update = if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            let scale = lr * rect * bias_correction_2.sqrt() / bias_correction_1;
            let denom = exp_avg_sq.clone().sqrt().add_scalar(self.epsilon);
            exp_avg.clone().div(denom).mul_scalar(scale)
        } else {
            exp_avg.clone().mul_scalar(lr / bias_correction_1)
        };
        (
            tensor.sub(update),
            Some(RAdamState {
                step,
                exp_avg,
                exp_avg_sq,
            }),
        )
    }
}
