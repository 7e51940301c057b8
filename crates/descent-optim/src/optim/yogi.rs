//! Yogi: Adam whose second moment moves additively, by the sign of its error.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{ema, validate_adam};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Yogi`]; every default equals `optax.yogi`'s (PyTorch has no Yogi).
#[derive(Config, Debug)]
pub struct YogiConfig {
    /// Decay rate `beta_1` of the first moment.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Rate `beta_2` of the second moment's additive update.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the denominator outside the square root (the paper's 1e-3).
    #[config(default = 1e-3)]
    pub epsilon: f64,
    /// The value both moments start from.
    #[config(default = 1e-6)]
    pub initial_accumulator_value: f64,
}

/// Yogi, exactly as `optax.yogi`.
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
/// v_t = v_{t-1} - (1 - beta_2) sign(v_{t-1} - g_t^2) g_t^2
/// theta_t = theta_{t-1} - eta (m_t / (1 - beta_1^t)) / (sqrt(v_t / (1 - beta_2^t)) + eps)
/// ```
///
/// with `m_0 = v_0 = initial_accumulator_value`. Unlike Adam's `v`, which forgets a large
/// gradient at the rate `beta_2` multiplicatively, Yogi's moves by at most `(1 - beta_2) g^2`
/// per step, so the effective rate cannot jump up when gradients turn small. Paper: Zaheer et
/// al., *Adaptive Methods for Nonconvex Optimization* (NeurIPS 2018). As optax does (and the
/// paper's algorithm does not), the first moment also starts at `initial_accumulator_value`
/// and both are bias-corrected.
#[derive(Clone, Debug)]
pub struct Yogi {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    initial_accumulator_value: f64,
}

optimizer_state! {
    /// State of [`Yogi`] for one parameter tensor.
    pub struct YogiState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Second moment `v_t`.
        pub exp_avg_sq: Tensor,
    }
}

impl OptimConfig for YogiConfig {
    type Optimizer = Yogi;

    fn validate(&self) -> Result<(), OptimError> {
        validate_adam("Yogi", self.beta_1, self.beta_2, self.epsilon, 0.0)?;
        validate::non_negative(
            "Yogi",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Yogi {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            initial_accumulator_value: self.initial_accumulator_value,
        })
    }
}

impl Yogi {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<YogiState<T>>,
    ) -> (T, Option<YogiState<T>>) {
        let (step, exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.step, s.exp_avg, s.exp_avg_sq),
            None => {
                let start = grad.ones_like().mul_scalar(self.initial_accumulator_value);
                (0, start.clone(), start)
            }
        };
        let step = step + 1;
        let t = step as f64;
        let exp_avg = ema(Some(exp_avg), grad.clone(), self.beta_1);
        let g2 = grad.square();
        let exp_avg_sq = exp_avg_sq.clone().sub(
            exp_avg_sq
                .sub(g2.clone())
                .sign()
                .mul(g2)
                .mul_scalar(1.0 - self.beta_2),
        );
        let m_hat = exp_avg.clone().div_scalar(1.0 - self.beta_1.powf(t));
        let v_hat = exp_avg_sq.clone().div_scalar(1.0 - self.beta_2.powf(t));
        let direction = m_hat.div(v_hat.sqrt().add_scalar(self.epsilon));
        (
            tensor.sub(direction.mul_scalar(lr)),
            Some(YogiState {
                step,
                exp_avg,
                exp_avg_sq,
            }),
        )
    }
}
