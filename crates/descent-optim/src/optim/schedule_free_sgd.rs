//! Schedule-Free SGD: momentum through iterate averaging, no schedule needed.

use burn::config::Config;
use burn::optim::LearningRate;
#[cfg(feature = "burn-0-21")]
use burn::tensor::Tensor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::Backend;

use super::common::Decay;
#[cfg(feature = "burn-0-21")]
use super::schedule_free::ScheduleFree;
use super::schedule_free::{Averaging, ScheduleFreeState, schedule_free_move};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::validate;

/// Configuration of [`ScheduleFreeSgd`]; defaults are those of the authors' reference
/// implementation (`SGDScheduleFree`).
#[derive(Config, Debug)]
pub struct ScheduleFreeSgdConfig {
    /// Interpolation `beta` between `z` and `x` at which the gradient is taken (acts as momentum).
    #[config(default = 0.9)]
    pub momentum: f64,
    /// L2 penalty `lambda` added to the gradient, evaluated at `y`.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Linear warm-up of the learning rate over this many steps (part of the method: the
    /// averaging weights depend on the learning rate).
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// Polynomial weighting `r` of the average (`(t+1)^r`).
    #[config(default = 0.0)]
    pub r: f64,
    /// Power of the largest learning rate so far in the averaging weight.
    #[config(default = 2.0)]
    pub weight_lr_power: f64,
}

/// Schedule-Free SGD (Defazio et al., 2024).
///
/// The gradient is taken at `y`, the module's parameters during training; the model is
/// evaluated at the average `x` (`schedule_free_eval` on burn 0.21):
///
/// ```text
/// y_t = (1 - beta) z_t + beta x_t
/// z_{t+1} = z_t - eta_t grad f(y_t)
/// x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1},  c_{t+1} = w_{t+1} / sum_{i<=t+1} w_i,
/// w_t = t^r * max_{i<=t} eta_i ^ weight_lr_power
/// ```
///
/// Use a constant learning rate (the method replaces the schedule); warm-up is built in.
/// Paper: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, *The Road Less Scheduled*
/// (NeurIPS 2024). PyTorch has no counterpart; this follows the authors' reference code.
#[derive(Clone, Debug)]
pub struct ScheduleFreeSgd {
    momentum: f64,
    weight_decay: f64,
    averaging: Averaging,
}

impl OptimConfig for ScheduleFreeSgdConfig {
    type Optimizer = ScheduleFreeSgd;
    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_open_left("ScheduleFreeSGD", "momentum", self.momentum)?;
        validate::non_negative("ScheduleFreeSGD", "weight_decay", self.weight_decay)?;
        validate::non_negative("ScheduleFreeSGD", "r", self.r)?;
        validate::non_negative("ScheduleFreeSGD", "weight_lr_power", self.weight_lr_power)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(ScheduleFreeSgd {
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            averaging: Averaging {
                warmup_steps: self.warmup_steps,
                r: self.r,
                weight_lr_power: self.weight_lr_power,
            },
        })
    }
}

impl ScheduleFreeSgd {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<ScheduleFreeState<T>>,
    ) -> (T, Option<ScheduleFreeState<T>>) {
        let (k, z, weight_sum, lr_max) = match state {
            Some(s) => (s.step, s.z, s.weight_sum, s.lr_max),
            None => (0, tensor.clone(), 0.0, f64::NEG_INFINITY),
        };
        let step = self.averaging.step(lr, k, weight_sum, lr_max);
        let (tensor, grad) = Decay::Coupled(self.weight_decay).apply(lr, tensor, grad);
        let (y, z) = schedule_free_move(tensor, z, grad, self.momentum, &step);
        (
            y,
            Some(ScheduleFreeState {
                step: k + 1,
                z,
                exp_avg_sq: None,
                weight_sum: step.weight_sum,
                lr_max: step.lr_max,
            }),
        )
    }
}

#[cfg(feature = "burn-0-21")]
impl<B: Backend> ScheduleFree<B> for ScheduleFreeSgd {
    fn beta(&self) -> f64 {
        self.momentum
    }

    fn z<const D: usize>(state: &Self::State<D>) -> Tensor<B, D> {
        state.z.clone()
    }
}
