//! Adafactor: second moments in factored form, a step size relative to the parameters.

use burn::config::Config;
use burn::optim::LearningRate;

use super::common::{Decay, torch_lerp};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`Adafactor`]; every default equals `torch.optim.Adafactor`'s.
#[derive(Config, Debug)]
pub struct AdafactorConfig {
    /// Exponent of the second moment's decay: its weight at step `t` is
    /// `1 - beta_2t = t^beta2_decay` (must be <= 0; the paper's -0.8).
    #[config(default = -0.8)]
    pub beta2_decay: f64,
    /// `eps_1`, the floor of the second-moment estimate (as `eps_1^2`) and of its row mean.
    /// `None` (PyTorch's default) takes the machine epsilon of the parameters' float type.
    #[config(default = "None")]
    pub epsilon_1: Option<f64>,
    /// `eps_2`, the floor of the parameters' root-mean-square in the relative step size.
    #[config(default = 1e-3)]
    pub epsilon_2: f64,
    /// Clipping threshold `d` of the update's root-mean-square (>= 1).
    #[config(default = 1.0)]
    pub d: f64,
    /// Decoupled weight decay `lambda`: `theta <- theta (1 - eta lambda)` each step.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Ascend instead of descend.
    #[config(default = false)]
    pub maximize: bool,
}

/// Adafactor, exactly as `torch.optim.Adafactor` (PyTorch's variant of the paper: no first
/// moment, always the relative step size).
///
/// ```text
/// rho_t   = min(eta, 1 / sqrt(t)),     beta_t = t^beta2_decay
/// alpha_t = max(eps_2, RMS(theta_{t-1})) rho_t
/// theta   <- theta (1 - eta lambda)
/// matrix (last two dimensions R x C):
///   r_t = lerp(r_{t-1}, mean_cols(g^2), beta_t)          (R x 1)
///   c_t = lerp(c_{t-1}, mean_rows(g^2), beta_t)          (1 x C)
///   v_t = r_t c_t / max(mean(r_t), eps_1)
/// vector: v_t = lerp(v_{t-1}, g^2, beta_t)
/// u_t     = g / sqrt(max(v_t, eps_1^2))
/// theta_t = theta - alpha_t / max(1, RMS(u_t) / d) u_t
/// ```
///
/// Memory per matrix is `R + C` numbers instead of Adam's `2 R C`: what made Adafactor the
/// optimizer of large language models on TPUs. Tensors of three or more dimensions are
/// factored over their last two, batched over the rest, as in PyTorch.
///
/// Paper: Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory Cost*
/// (ICML 2018). Differs from the paper as PyTorch does: no first moment (`beta_1 = 0`), the
/// learning rate caps the relative step `rho_t`, and `eps_1` floors the row mean. Identical to
/// PyTorch, including its `lerp` rounding (7e-18 in f64 after 20 steps of the parity problem).
#[derive(Clone, Debug)]
pub struct Adafactor {
    beta2_decay: f64,
    epsilon_1: Option<f64>,
    epsilon_2: f64,
    d: f64,
    decay: Decay,
    maximize: bool,
}

optimizer_state! {
    /// State of [`Adafactor`] for one parameter tensor: the factored second moment of a matrix
    /// (`row_var`, `col_var`) or the full one of a vector (`variance`).
    pub struct AdafactorState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// Row means `r_t` of the squared gradient (shape `[..., R, 1]`), for 2+ dimensions.
        pub row_var: OptionTensor,
        /// Column means `c_t` of the squared gradient (shape `[..., 1, C]`), for 2+ dimensions.
        pub col_var: OptionTensor,
        /// The second moment `v_t` of a vector.
        pub variance: OptionTensor,
    }
}

impl OptimConfig for AdafactorConfig {
    type Optimizer = Adafactor;

    fn validate(&self) -> Result<(), OptimError> {
        if !(self.beta2_decay.is_finite() && self.beta2_decay <= 0.0) {
            return Err(OptimError::InvalidHyperparameter {
                owner: "Adafactor",
                field: "beta2_decay",
                value: self.beta2_decay.to_string(),
                allowed: "finite and <= 0",
            });
        }
        if let Some(epsilon_1) = self.epsilon_1 {
            validate::non_negative("Adafactor", "epsilon_1", epsilon_1)?;
        }
        validate::non_negative("Adafactor", "epsilon_2", self.epsilon_2)?;
        if !(self.d.is_finite() && self.d >= 1.0) {
            return Err(OptimError::InvalidHyperparameter {
                owner: "Adafactor",
                field: "d",
                value: self.d.to_string(),
                allowed: "finite and >= 1",
            });
        }
        validate::non_negative("Adafactor", "weight_decay", self.weight_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Adafactor {
            beta2_decay: self.beta2_decay,
            epsilon_1: self.epsilon_1,
            epsilon_2: self.epsilon_2,
            d: self.d,
            decay: Decay::Decoupled(self.weight_decay),
            maximize: self.maximize,
        })
    }
}

/// `sum(x^2) / n` over `dim`, written as PyTorch's `vector_norm(x, dim).square() / n` (the
/// square root and its square round differently from the plain sum).
fn mean_square<T: Arith>(grad: &T, dim: usize) -> T {
    let n = grad.dims()[dim] as f64;
    grad.clone()
        .square()
        .sum_dim(dim)
        .sqrt()
        .square()
        .div_scalar(n)
}

impl Adafactor {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AdafactorState<T>>,
    ) -> (T, Option<AdafactorState<T>>) {
        let grad = if self.maximize { grad.neg() } else { grad };
        let (step, row_var, col_var, variance) = match state {
            Some(s) => (s.step, s.row_var, s.col_var, s.variance),
            None => (0, None, None, None),
        };
        let step = step + 1;
        let t = step as f64;
        let epsilon_1 = self
            .epsilon_1
            .unwrap_or_else(|| tensor.precision().machine_epsilon());
        let numel = tensor.num_elements() as f64;
        let rank = tensor.dims().len();
        let beta_t = t.powf(self.beta2_decay);
        let rho_t = lr.min(1.0 / t.sqrt());
        // The relative step uses the parameters before weight decay, as PyTorch's.
        let alpha = tensor
            .clone()
            .norm()
            .div_scalar(numel.sqrt())
            .clamp_min(self.epsilon_2)
            .mul_scalar(rho_t);
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let (estimate, row_var, col_var, variance) = if rank >= 2 {
            let row_mean = mean_square(&grad, rank - 1);
            let col_mean = mean_square(&grad, rank - 2);
            let row_var = row_var.unwrap_or_else(|| row_mean.zeros_like());
            let col_var = col_var.unwrap_or_else(|| col_mean.zeros_like());
            let row_var = torch_lerp(row_var, row_mean, beta_t);
            let col_var = torch_lerp(col_var, col_mean, beta_t);
            let row_var_mean = row_var.clone().mean_dim(rank - 2).clamp_min(epsilon_1);
            let estimate = row_var.clone().mul(col_var.clone()).div(row_var_mean);
            (estimate, Some(row_var), Some(col_var), None)
        } else {
            let square = grad.clone().square();
            let variance = variance.unwrap_or_else(|| square.zeros_like());
            let variance = torch_lerp(variance, square, beta_t);
            (variance.clone(), None, None, Some(variance))
        };

        let update = estimate
            .clamp_min(epsilon_1 * epsilon_1)
            .sqrt()
            .recip()
            .mul(grad);
        let clip = update
            .clone()
            .norm()
            .div_scalar(numel.sqrt() * self.d)
            .clamp_min(1.0);
        let scale = alpha.div(clip);
        (
            tensor.sub(update.mul(scale)),
            Some(AdafactorState {
                step,
                row_var,
                col_var,
                variance,
            }),
        )
    }
}
