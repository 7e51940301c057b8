//! NAdam: Adam with Nesterov momentum and a momentum-decay schedule.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, ema, validate_adam};
use crate::arith::{Arith, Precision};
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`NAdam`]; every default equals `torch.optim.NAdam`'s.
#[derive(Config, Debug)]
pub struct NAdamConfig {
    /// `beta_1`, the base momentum.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// `beta_2`, the decay of the second moment.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// `epsilon`, added to the root of the bias-corrected second moment.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Weight decay `lambda`: an L2 term in the gradient, or decoupled (see below).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// `psi`, the momentum decay of Dozat's schedule `mu_t = beta_1 (1 - 0.96^(t psi) / 2)`.
    #[config(default = 0.004)]
    pub momentum_decay: f64,
    /// Decoupled weight decay (`theta <- theta (1 - eta lambda)`, as in AdamW) instead of L2.
    #[config(default = false)]
    pub decoupled_weight_decay: bool,
}

/// NAdam, exactly as `torch.optim.NAdam`.
///
/// ```text
/// mu_t     = beta_1 (1 - 0.5 * 0.96^(t psi)),   P_t = prod_{i<=t} mu_i
/// m_t      = beta_1 m_{t-1} + (1 - beta_1) g_t
/// v_t      = beta_2 v_{t-1} + (1 - beta_2) g_t^2
/// d_t      = sqrt(v_t / (1 - beta_2^t)) + eps
/// theta_t  = theta_{t-1} - eta (1 - mu_t) / (1 - P_t) g_t / d_t
///                        - eta mu_{t+1} / (1 - P_t mu_{t+1}) m_t / d_t
/// ```
///
/// PyTorch keeps the running product `P_t` in a scalar tensor of its *default* dtype
/// (float32 unless `torch.set_default_dtype(torch.float64)`), whatever the parameters'
/// precision. This implementation takes the precision from the parameters: `f64` parameters
/// keep `P_t` in `f64` (as an all-float64 PyTorch run does), any other dtype rounds it to
/// `f32` after every product (as PyTorch's default does). So an `f64` run matches an
/// all-float64 PyTorch run to the last bits; against the common mixed set-up (float64
/// parameters, float32 default dtype) it drifts by the rounding of `P_t`: 1.7e-10 after 20
/// steps of the parity problem, 1e-5 over 200 Rosenbrock steps. Everything else is computed
/// in `f64` scalars.
///
/// Paper: Dozat, *Incorporating Nesterov Momentum into Adam* (ICLR 2016 workshop).
#[derive(Clone, Debug)]
pub struct NAdam {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    momentum_decay: f64,
    decay: Decay,
}

optimizer_state! {
    /// State of [`NAdam`] for one parameter tensor.
    pub struct NAdamState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// Running product `P_t` of the momentum schedule (rounded to f32 after every product
        /// unless the parameters are f64).
        pub mu_product: Scalar<f64>,
        /// First moment `m_t`.
        pub exp_avg: Tensor,
        /// Second moment `v_t`.
        pub exp_avg_sq: Tensor,
    }
}

impl OptimConfig for NAdamConfig {
    type Optimizer = NAdam;
    fn validate(&self) -> Result<(), OptimError> {
        validate_adam(
            "NAdam",
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay,
        )?;
        validate::non_negative("NAdam", "momentum_decay", self.momentum_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        let decay = Decay::new(self.weight_decay, self.decoupled_weight_decay);
        Ok(NAdam {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            momentum_decay: self.momentum_decay,
            decay,
        })
    }
}

impl NAdam {
    fn mu(&self, t: f64) -> f64 {
        self.beta_1 * (1.0 - 0.5 * 0.96_f64.powf(t * self.momentum_decay))
    }
}

impl NAdam {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<NAdamState<T>>,
    ) -> (T, Option<NAdamState<T>>) {
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let (step, mu_product, exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.step, s.mu_product, Some(s.exp_avg), Some(s.exp_avg_sq)),
            None => (0, 1.0, None, None),
        };
        let step = step + 1;
        let t = step as f64;
        let mu = self.mu(t);
        let mu_next = self.mu(t + 1.0);
        // PyTorch: `mu_product *= mu` on a scalar tensor of the default dtype.
        let mu_product = if tensor.precision() == Precision::Double {
            mu_product * mu
        } else {
            f64::from((mu_product as f32) * (mu as f32))
        };
        let mu_product_next = mu_product * mu_next;
        let bias_correction_2 = 1.0 - self.beta_2.powf(t);

        let exp_avg_sq = ema(exp_avg_sq, grad.clone().square(), self.beta_2);
        let exp_avg = ema(exp_avg, grad.clone(), self.beta_1);
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_correction_2)
            .sqrt()
            .add_scalar(self.epsilon);
        let grad_coefficient = lr * (1.0 - mu) / (1.0 - mu_product);
        let momentum_coefficient = lr * mu_next / (1.0 - mu_product_next);
        let numerator = grad
            .mul_scalar(grad_coefficient)
            .add(exp_avg.clone().mul_scalar(momentum_coefficient));
        let tensor = tensor.sub(numerator.div(denom));
        (
            tensor,
            Some(NAdamState {
                step,
                mu_product,
                exp_avg,
                exp_avg_sq,
            }),
        )
    }
}

#[cfg(test)]
#[cfg(feature = "burn-0-21")]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::optim::SimpleOptimizer;
    use burn::tensor::backend::Backend;
    use burn::tensor::{Element, Tensor, TensorData};

    /// A tensor in the backend's own float type (burn 0.21 shares one default dtype between
    /// `NdArray<f32>` and `NdArray<f64>`, so it must be named).
    fn tensor<B: Backend>(values: [f64; 2], device: &B::Device) -> Tensor<B, 1> {
        let dtype = <B::FloatElem as Element>::dtype();
        Tensor::from_data(TensorData::new(values.to_vec(), [2]), (device, dtype))
    }

    /// `P_t` after `steps` steps with the default hyperparameters, from `step`'s state.
    fn product_after<B: Backend>(steps: usize) -> f64 {
        let optimizer = NAdamConfig::new().build().unwrap_or_else(|e| panic!("{e}"));
        let device = Default::default();
        let mut w = tensor::<B>([0.5, -1.0], &device);
        let mut state = None;
        for t in 0..steps {
            let g = tensor::<B>([(t as f64).sin(), 1.0], &device);
            let (next, s) = optimizer.step(1e-3, w, g, state);
            (w, state) = (next, s);
        }
        state.map_or(f64::NAN, |s: NAdamState<Tensor<B, 1>>| s.mu_product)
    }

    #[test]
    fn the_momentum_product_keeps_the_parameters_precision() {
        let mu = |t: f64| 0.9 * (1.0 - 0.5 * 0.96_f64.powf(t * 0.004));
        let (mut in_f64, mut in_f32) = (1.0_f64, 1.0_f32);
        // 30 steps: P_t ~ 0.46^t underflows f32 after about 130 (harmless: 1 - P_t = 1).
        for t in 1..=30 {
            in_f64 *= mu(t as f64);
            in_f32 *= mu(t as f64) as f32;
        }
        assert_eq!(product_after::<NdArray<f64>>(30), in_f64);
        assert_eq!(product_after::<NdArray<f32>>(30), f64::from(in_f32));
        // The two precisions differ by far more than the last bit of f64: the test can tell.
        assert!((in_f64 - f64::from(in_f32)).abs() > 1e-8 * in_f64);
    }
}
