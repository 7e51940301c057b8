//! Adam and its AMSGrad variant, with coupled (L2) weight decay.

use burn::config::Config;
use burn::optim::LearningRate;

use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;

use super::common::{Decay, ema, validate_adam};
#[cfg(feature = "burn-0-21")]
use super::fused::{Real, unless_zero};

/// Configuration of [`Adam`]; every default equals `torch.optim.Adam`'s.
///
/// burn's own `AdamConfig` uses `epsilon = 1e-5`; PyTorch (and this crate) use `1e-8`.
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Decay rate `beta_1` of the first-moment (mean) estimate.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Decay rate `beta_2` of the second-moment (uncentered variance) estimate.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the bias-corrected root of the second moment.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// L2 penalty `lambda` added to the gradient (coupled; see [`crate::optim::AdamW`]
    /// for the decoupled form).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad).
    #[config(default = false)]
    pub amsgrad: bool,
    /// Ascend instead of descend.
    #[config(default = false)]
    pub maximize: bool,
    /// Divide the moments by `1 - beta^t` (the paper's and PyTorch's rule). `false` is a
    /// teaching option, not in PyTorch: it shows the moments' bias toward their zero start,
    /// which makes the first steps `(1 - beta_1) / sqrt(1 - beta_2)` times too short or long
    /// (at the defaults, 3.2x too large).
    #[config(default = true)]
    pub bias_correction: bool,
    /// Update in one in-place pass where the backend allows it (burn's `NdArray` and `Flex`,
    /// with this crate's features `ndarray` / `flex`); `false` always uses burn's tensor ops.
    /// Both give the same bits: this only trades speed (PyTorch's `fused` flag, whose
    /// default also picks the fastest path).
    #[config(default = true)]
    pub fused: bool,
}

/// Adam, exactly as `torch.optim.Adam` (and, with decoupled decay, `AdamW`).
///
/// With gradient `g_t` (after the optional L2 term) at step `t`:
///
/// ```text
/// m_t = beta_1 m_{t-1} + (1 - beta_1) g_t
/// v_t = beta_2 v_{t-1} + (1 - beta_2) g_t^2
/// vmax_t = max(vmax_{t-1}, v_t)                                   (AMSGrad only)
/// theta_t = theta_{t-1} - eta / (1 - beta_1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta_2^t) + eps)
/// ```
///
/// `eps` is added *after* the bias correction of `sqrt(v_t)` (PyTorch's placement, not the
/// paper's `sqrt(v_hat) + eps`, which is the same thing) and AMSGrad takes the maximum of the
/// raw, uncorrected `v_t`. The bias corrections are computed in `f64`. With
/// `bias_correction = false` (not in PyTorch) both divisors `1 - beta^t` are 1.
///
/// Papers: Kingma & Ba, *Adam: A Method for Stochastic Optimization* (ICLR 2015);
/// Reddi et al., *On the Convergence of Adam and Beyond* (ICLR 2018) for AMSGrad.
/// Identical to PyTorch.
#[derive(Clone, Debug)]
pub struct Adam {
    pub(crate) beta_1: f64,
    pub(crate) beta_2: f64,
    pub(crate) epsilon: f64,
    pub(crate) decay: Decay,
    pub(crate) amsgrad: bool,
    pub(crate) maximize: bool,
    pub(crate) bias_correction: bool,
    // Read by the fused kernels, which exist on burn 0.21 only.
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fused: bool,
}

optimizer_state! {
    /// State of [`Adam`] (and [`crate::optim::AdamW`]) for one parameter tensor.
    pub struct AdamState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Second moment `v_t`.
        pub exp_avg_sq: Tensor,
        /// Running maximum of `v_t` (AMSGrad only).
        pub max_exp_avg_sq: OptionTensor,
    }
}

impl OptimConfig for AdamConfig {
    type Optimizer = Adam;
    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "Adam",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            decay: Decay::Coupled(self.weight_decay),
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            bias_correction: self.bias_correction,
            fused: self.fused,
        })
    }
}

impl Adam {
    /// `(1 - beta_1^t, sqrt(1 - beta_2^t))` at step `t` (counted from 1), or `(1, 1)` without
    /// bias correction.
    pub(crate) fn bias_corrections(&self, step: usize) -> (f64, f64) {
        if !self.bias_correction {
            return (1.0, 1.0);
        }
        let t = step as f64;
        (
            1.0 - self.beta_1.powf(t),
            (1.0 - self.beta_2.powf(t)).sqrt(),
        )
    }

    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdamState<T>>,
    ) -> (T, Option<AdamState<T>>) {
        let grad = if self.maximize { grad.neg() } else { grad };
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let (step, exp_avg, exp_avg_sq, max_exp_avg_sq) = match state {
            Some(s) => (
                s.step,
                Some(s.exp_avg),
                Some(s.exp_avg_sq),
                s.max_exp_avg_sq,
            ),
            None => (0, None, None, None),
        };
        let step = step + 1;
        let exp_avg_sq = ema(exp_avg_sq, grad.clone().square(), self.beta_2);
        let exp_avg = ema(exp_avg, grad, self.beta_1);
        let max_exp_avg_sq = self.amsgrad.then(|| match max_exp_avg_sq {
            Some(max) => max.max_pair(exp_avg_sq.clone()),
            None => exp_avg_sq.clone(),
        });

        let (bias_correction_1, bias_correction_2_sqrt) = self.bias_corrections(step);
        let second = max_exp_avg_sq.as_ref().unwrap_or(&exp_avg_sq).clone();
        // sqrt(v)/sqrt(bc2) + eps, scaled by sqrt(bc2) so one pass over memory is saved:
        // m / (sqrt(v)/c + eps) = c * m / (sqrt(v) + eps * c).
        let denom = second
            .sqrt()
            .add_scalar(self.epsilon * bias_correction_2_sqrt);
        let step_size = lr / bias_correction_1 * bias_correction_2_sqrt;
        let tensor = tensor.sub(exp_avg.clone().div(denom).mul_scalar(step_size));
        (
            tensor,
            Some(AdamState {
                step,
                exp_avg,
                exp_avg_sq,
                max_exp_avg_sq,
            }),
        )
    }
}

/// The scalars of one fused Adam step (burn 0.21's CPU kernels in `super::fused`), in the
/// parameters' precision.
#[cfg(feature = "burn-0-21")]
pub(super) struct AdamScalars<T> {
    pub(super) maximize: bool,
    /// `lambda` of the L2 term, when it is not zero.
    pub(super) coupled: Option<T>,
    /// `1 - eta lambda`, when `lambda` is not zero.
    pub(super) decoupled: Option<T>,
    pub(super) beta_1: T,
    pub(super) one_minus_beta_1: T,
    pub(super) beta_2: T,
    pub(super) one_minus_beta_2: T,
    pub(super) eps_term: T,
    pub(super) step_size: T,
}

#[cfg(feature = "burn-0-21")]
impl<T: Real> AdamScalars<T> {
    /// The scalars of step `step` (counted from 1) at rate `lr`: the same f64 arithmetic as
    /// [`Adam::update`], rounded to `T` where its tensor ops round.
    pub(super) fn new(adam: &Adam, lr: f64, step: usize) -> Self {
        let (bias_correction_1, bias_correction_2_sqrt) = adam.bias_corrections(step);
        let (coupled, decoupled) = match adam.decay {
            Decay::Coupled(lambda) => (unless_zero(lambda), None),
            Decay::Decoupled(lambda) => (None, (lambda != 0.0).then(|| T::of(1.0 - lr * lambda))),
        };
        Self {
            maximize: adam.maximize,
            coupled,
            decoupled,
            beta_1: T::of(adam.beta_1),
            one_minus_beta_1: T::of(1.0 - adam.beta_1),
            beta_2: T::of(adam.beta_2),
            one_minus_beta_2: T::of(1.0 - adam.beta_2),
            eps_term: T::of(adam.epsilon * bias_correction_2_sqrt),
            step_size: T::of(lr / bias_correction_1 * bias_correction_2_sqrt),
        }
    }
}
