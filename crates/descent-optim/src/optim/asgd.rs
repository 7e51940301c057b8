//! ASGD: SGD with a decaying step and a running (Polyak-Ruppert) average of the iterates.

use burn::config::Config;
#[cfg(feature = "burn-0-21")]
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::LearningRate;
#[cfg(feature = "burn-0-21")]
use burn::optim::Optimizer;
#[cfg(feature = "burn-0-21")]
use burn::optim::adaptor::OptimizerAdaptor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::Tensor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::AutodiffBackend;

use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

const OWNER: &str = "ASGD";

/// Configuration of [`Asgd`]; every default equals `torch.optim.ASGD`'s.
#[derive(Config, Debug)]
pub struct AsgdConfig {
    /// `lambda`: the decay term of the step size and of the parameters.
    #[config(default = 1e-4)]
    pub lambd: f64,
    /// `alpha`: the power of the step-size decay.
    #[config(default = 0.75)]
    pub alpha: f64,
    /// `t0`: the step after which averaging starts (before it, the average is the iterate).
    #[config(default = 1e6)]
    pub t0: f64,
    /// L2 penalty `lambda_wd` added to the gradient.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Ascend instead of descend.
    #[config(default = false)]
    pub maximize: bool,
}

/// Averaged SGD, exactly as `torch.optim.ASGD`.
///
/// ```text
/// eta_t   = lr / (1 + lambda lr (t - 1))^alpha,     mu_t = 1 / max(1, t - 1 - t0)
/// theta_t = theta_{t-1} (1 - lambda eta_t) - eta_t (g_t + lambda_wd theta_{t-1})
/// a_t     = theta_t if mu_t = 1, else a_{t-1} + mu_t (theta_t - a_{t-1})
/// ```
///
/// The average `a_t` (PyTorch's `ax`) is what the method is for: `asgd_average` (burn 0.21)
/// gives the module at it, for evaluation. Paper: Polyak & Juditsky, *Acceleration of Stochastic
/// Approximation by Averaging* (SIAM J. Control Optim. 1992); the step-size rule is Bottou's
/// (*Large-Scale Machine Learning with Stochastic Gradient Descent*, 2010).
///
/// Two differences from PyTorch, both in scalars: PyTorch keeps `eta_t` and `mu_t` in tensors
/// of its *default* dtype (float32 unless set to float64), this implementation in the
/// parameters' precision (f32 rounding for anything but f64), so f64 runs equal an
/// all-float64 PyTorch run; and PyTorch computes `eta_t` at the end of step `t - 1` from that
/// step's learning rate, so under a schedule it uses each rate one step late, while here
/// step `t` uses its own (identical for a constant rate).
#[derive(Clone, Debug)]
pub struct Asgd {
    lambd: f64,
    alpha: f64,
    t0: f64,
    weight_decay: f64,
    maximize: bool,
}

optimizer_state! {
    /// State of [`Asgd`] for one parameter tensor.
    pub struct AsgdState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// The running average `a_t` of the iterates.
        pub ax: Tensor,
    }
}

impl OptimConfig for AsgdConfig {
    type Optimizer = Asgd;

    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative(OWNER, "lambd", self.lambd)?;
        validate::non_negative(OWNER, "alpha", self.alpha)?;
        validate::non_negative(OWNER, "t0", self.t0)?;
        validate::non_negative(OWNER, "weight_decay", self.weight_decay)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Asgd {
            lambd: self.lambd,
            alpha: self.alpha,
            t0: self.t0,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        })
    }
}

impl Asgd {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<AsgdState<T>>,
    ) -> (T, Option<AsgdState<T>>) {
        // eta and mu as PyTorch's scalar tensors of the parameters' precision hold them.
        let precision = tensor.precision();
        let grad = if self.maximize { grad.neg() } else { grad };
        let grad = if self.weight_decay == 0.0 {
            grad
        } else {
            grad.add(tensor.clone().mul_scalar(self.weight_decay))
        };
        let (step, ax) = match state {
            Some(s) => (s.step, Some(s.ax)),
            None => (0, None),
        };
        // The step about to be taken is t = step + 1; eta and mu were set after step t - 1.
        let previous = step as f64;
        let eta = precision.round(lr / (1.0 + self.lambd * lr * previous).powf(self.alpha));
        let mu = precision.round(1.0 / (previous - self.t0).max(1.0));
        let tensor = tensor
            .mul_scalar(1.0 - self.lambd * eta)
            .sub(grad.mul_scalar(eta));
        let ax = match ax {
            Some(ax) if mu != 1.0 => ax.clone().add(tensor.clone().sub(ax).mul_scalar(mu)),
            _ => tensor.clone(),
        };
        (tensor, Some(AsgdState { step: step + 1, ax }))
    }
}

/// The module with every parameter replaced by its ASGD average `a_t`, where an ASGD model is
/// evaluated; parameters the optimizer has not stepped yet are returned unchanged. Training
/// goes on with the original `module`.
#[cfg(feature = "burn-0-21")]
pub fn asgd_average<B, M>(module: M, optimizer: &OptimizerAdaptor<Asgd, M, B>) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    let mut mapper = Average::<B, M> {
        records: optimizer.to_record(),
    };
    module.map(&mut mapper)
}

#[cfg(feature = "burn-0-21")]
struct Average<B: AutodiffBackend, M: AutodiffModule<B>> {
    records: <OptimizerAdaptor<Asgd, M, B> as Optimizer<M, B>>::Record,
}

#[cfg(feature = "burn-0-21")]
impl<B: AutodiffBackend, M: AutodiffModule<B>> ModuleMapper<B> for Average<B, M> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = match self.records.get(&id) {
            Some(record) => {
                let state: AsgdState<Tensor<B::InnerBackend, D>> = record.clone().into_state::<D>();
                let require_grad = tensor.is_require_grad();
                let average = Tensor::from_inner(state.ax);
                if require_grad {
                    average.require_grad()
                } else {
                    average
                }
            }
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}
