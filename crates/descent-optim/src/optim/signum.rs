//! Signum and signSGD: steps of fixed length along the sign of the (averaged) gradient.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::ema;
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Signum`]; the default equals `optax.signum`'s. `beta = 0` is signSGD
/// (`optax.sign_sgd`).
#[derive(Config, Debug)]
pub struct SignumConfig {
    /// Decay rate `beta` of the gradient's moving average (0: signSGD).
    #[config(default = 0.9)]
    pub beta: f64,
}

/// Signum, exactly as `optax.signum` (and, with `beta = 0`, `optax.sign_sgd`).
///
/// ```text
/// m_t = beta m_{t-1} + (1 - beta) g_t          (m_0 = 0, not bias-corrected)
/// theta_t = theta_{t-1} - eta sign(m_t)         (sign(0) = 0)
/// ```
///
/// Every coordinate moves by exactly `eta` (or not at all), whatever the gradient's scale.
/// Paper: Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex Problems* (ICML
/// 2018). The moving average needs no bias correction: a positive factor never changes a sign.
#[derive(Clone, Debug)]
pub struct Signum {
    beta: f64,
}

optimizer_state! {
    /// State of [`Signum`] for one parameter tensor.
    pub struct SignumState {
        /// The moving average `m_t`.
        pub momentum: Tensor,
    }
}

impl OptimConfig for SignumConfig {
    type Optimizer = Signum;

    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_half_open("Signum", "beta", self.beta)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Signum { beta: self.beta })
    }
}

impl Signum {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<SignumState<T>>,
    ) -> (T, Option<SignumState<T>>) {
        let momentum = ema(state.map(|s| s.momentum), grad, self.beta);
        let tensor = tensor.sub(momentum.clone().sign().mul_scalar(lr));
        (tensor, Some(SignumState { momentum }))
    }
}
