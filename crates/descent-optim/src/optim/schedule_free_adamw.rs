//! Schedule-Free AdamW: Schedule-Free averaging on Adam-normalised gradients.

use burn::config::Config;
use burn::optim::LearningRate;
#[cfg(feature = "burn-0-21")]
use burn::tensor::Tensor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::Backend;

use super::common::ema;
#[cfg(feature = "burn-0-21")]
use super::schedule_free::ScheduleFree;
use super::schedule_free::{Averaging, ScheduleFreeState, schedule_free_move};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::validate;

/// Configuration of [`ScheduleFreeAdamW`]; defaults are those of the authors' reference
/// implementation (`AdamWScheduleFree`, whose suggested learning rate is 0.0025).
#[derive(Config, Debug)]
pub struct ScheduleFreeAdamWConfig {
    /// Interpolation `beta_1` between `z` and `x` at which the gradient is taken.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay `beta_2` of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the root of the bias-corrected second moment.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Weight decay `lambda`, applied at `y` to the normalised direction.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Linear warm-up of the learning rate over this many steps.
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// Polynomial weighting `r` of the average (`(t+1)^r`).
    #[config(default = 0.0)]
    pub r: f64,
    /// Power of the largest learning rate so far in the averaging weight.
    #[config(default = 2.0)]
    pub weight_lr_power: f64,
}

/// Schedule-Free AdamW (Defazio et al., 2024).
///
/// As [`crate::optim::ScheduleFreeSgd`], with the direction `d_t` normalised by Adam's
/// second moment and decoupled-style decay at `y`:
///
/// ```text
/// v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
/// d_t = g_t / (sqrt(v_t / (1 - beta_2^t)) + eps) + lambda y_t
/// z_{t+1} = z_t - eta_t d_t,  x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
/// ```
///
/// Paper: Defazio et al., *The Road Less Scheduled* (NeurIPS 2024). PyTorch has no
/// counterpart; this follows the authors' reference `AdamWScheduleFree`.
#[derive(Clone, Debug)]
pub struct ScheduleFreeAdamW {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
    averaging: Averaging,
}

impl OptimConfig for ScheduleFreeAdamWConfig {
    type Optimizer = ScheduleFreeAdamW;
    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_open_left("ScheduleFreeAdamW", "beta_1", self.beta_1)?;
        validate::unit_half_open("ScheduleFreeAdamW", "beta_2", self.beta_2)?;
        validate::non_negative("ScheduleFreeAdamW", "epsilon", self.epsilon)?;
        validate::non_negative("ScheduleFreeAdamW", "weight_decay", self.weight_decay)?;
        validate::non_negative("ScheduleFreeAdamW", "r", self.r)?;
        validate::non_negative("ScheduleFreeAdamW", "weight_lr_power", self.weight_lr_power)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(ScheduleFreeAdamW {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            averaging: Averaging {
                warmup_steps: self.warmup_steps,
                r: self.r,
                weight_lr_power: self.weight_lr_power,
            },
        })
    }
}

impl ScheduleFreeAdamW {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<ScheduleFreeState<T>>,
    ) -> (T, Option<ScheduleFreeState<T>>) {
        let (k, z, exp_avg_sq, weight_sum, lr_max) = match state {
            Some(s) => (s.step, s.z, s.exp_avg_sq, s.weight_sum, s.lr_max),
            None => (0, tensor.clone(), None, 0.0, f64::NEG_INFINITY),
        };
        let step = self.averaging.step(lr, k, weight_sum, lr_max);
        let bias_correction_2 = 1.0 - self.beta_2.powf((k + 1) as f64);
        let exp_avg_sq = ema(exp_avg_sq, grad.clone().square(), self.beta_2);
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_correction_2)
            .sqrt()
            .add_scalar(self.epsilon);
        let mut direction = grad.div(denom);
        if self.weight_decay != 0.0 {
            direction = direction.add(tensor.clone().mul_scalar(self.weight_decay));
        }
        let (y, z) = schedule_free_move(tensor, z, direction, self.beta_1, &step);
        (
            y,
            Some(ScheduleFreeState {
                step: k + 1,
                z,
                exp_avg_sq: Some(exp_avg_sq),
                weight_sum: step.weight_sum,
                lr_max: step.lr_max,
            }),
        )
    }
}

#[cfg(feature = "burn-0-21")]
impl<B: Backend> ScheduleFree<B> for ScheduleFreeAdamW {
    fn beta(&self) -> f64 {
        self.beta_1
    }

    fn z<const D: usize>(state: &Self::State<D>) -> Tensor<B, D> {
        state.z.clone()
    }
}
