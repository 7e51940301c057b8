//! Adadelta: step sizes from the ratio of running RMS of updates and gradients.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, ema};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Adadelta`]; every default equals `torch.optim.Adadelta`'s
/// (whose default learning rate is 1.0, the paper's unscaled update).
#[derive(Config, Debug)]
pub struct AdadeltaConfig {
    /// Decay `rho` of both running averages.
    #[config(default = 0.9)]
    pub rho: f64,
    /// `epsilon`, added inside both square roots.
    #[config(default = 1e-6)]
    pub epsilon: f64,
    /// L2 penalty `lambda` added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

/// Adadelta, exactly as `torch.optim.Adadelta`.
///
/// ```text
/// v_t = rho v_{t-1} + (1 - rho) g_t^2
/// d_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
/// u_t = rho u_{t-1} + (1 - rho) d_t^2
/// theta_t = theta_{t-1} - eta d_t
/// ```
///
/// Paper: Zeiler, *ADADELTA: An Adaptive Learning Rate Method* (2012). Identical to
/// PyTorch, which scales the update by the learning rate `eta` (1.0 by default).
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f64,
    epsilon: f64,
    weight_decay: f64,
}

optimizer_state! {
    /// State of [`Adadelta`] for one parameter tensor.
    pub struct AdadeltaState {
        /// Number of steps taken.
        pub step: Scalar<usize>,
        /// Running average of squared gradients `v_t`.
        pub square_avg: Tensor,
        /// Running average of squared updates `u_t`.
        pub acc_delta: Tensor,
    }
}

impl OptimConfig for AdadeltaConfig {
    type Optimizer = Adadelta;
    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_closed("Adadelta", "rho", self.rho)?;
        validate::non_negative("Adadelta", "epsilon", self.epsilon)?;
        validate::non_negative("Adadelta", "weight_decay", self.weight_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adadelta {
            rho: self.rho,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
        })
    }
}

impl Adadelta {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdadeltaState<T>>,
    ) -> (T, Option<AdadeltaState<T>>) {
        let (tensor, grad) = Decay::Coupled(self.weight_decay).apply(lr, tensor, grad);
        let (step, square_avg, acc_delta) = match state {
            Some(s) => (s.step, Some(s.square_avg), Some(s.acc_delta)),
            None => (0, None, None),
        };
        let square_avg = ema(square_avg, grad.clone().square(), self.rho);
        let std = square_avg.clone().add_scalar(self.epsilon).sqrt();
        let previous_delta_rms = match &acc_delta {
            Some(u) => u.clone().add_scalar(self.epsilon).sqrt(),
            None => grad.zeros_like().add_scalar(self.epsilon.sqrt()),
        };
        let delta = previous_delta_rms.div(std).mul(grad);
        let acc_delta = ema(acc_delta, delta.clone().square(), self.rho);
        (
            tensor.sub(delta.mul_scalar(lr)),
            Some(AdadeltaState {
                step: step + 1,
                square_avg,
                acc_delta,
            }),
        )
    }
}
