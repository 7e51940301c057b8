//! Nesterov's accelerated gradient as usually taught: the gradient is taken at the look-ahead
//! point `theta - eta beta v`.

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
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// Configuration of [`NesterovLookahead`] (no PyTorch class: PyTorch writes Nesterov in the
/// other variables, `SGD(nesterov=True)`).
#[derive(Config, Debug)]
pub struct NesterovLookaheadConfig {
    /// Momentum factor `beta`, in `[0, 1)`.
    #[config(default = 0.9)]
    pub momentum: f64,
}

/// Nesterov momentum in the look-ahead form (Nesterov 1983; Sutskever et al. 2013, eq. 3-4):
///
/// ```text
/// v_{t+1}     = beta v_t + grad f(theta_t - eta beta v_t)      (v_0 = 0)
/// theta_{t+1} = theta_t - eta v_{t+1}
/// ```
///
/// The module holds `theta`; the loss must be evaluated at the look-ahead point, which
/// `nesterov_lookahead_point` (burn 0.21) gives (same parameter ids, so its gradients step
/// `theta`).
/// With a constant `eta`, `phi_t = theta_t - eta beta v_t` follows PyTorch's
/// `SGD(momentum=beta, nesterov=True)` exactly (its buffer `b_t = v_{t+1}`): the two forms
/// are one method in two coordinate systems, which the tests show to 1e-12 in `f64`.
#[derive(Clone, Debug)]
pub struct NesterovLookahead {
    momentum: f64,
}

optimizer_state! {
    /// State of [`NesterovLookahead`] for one parameter tensor.
    pub struct NesterovLookaheadState {
        /// The velocity `v_t` (in gradient units).
        pub velocity: Tensor,
    }
}

impl OptimConfig for NesterovLookaheadConfig {
    type Optimizer = NesterovLookahead;

    fn validate(&self) -> Result<(), OptimError> {
        validate::unit_half_open("NesterovLookahead", "momentum", self.momentum)
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(NesterovLookahead {
            momentum: self.momentum,
        })
    }
}

impl NesterovLookahead {
    /// The momentum `beta`.
    pub fn momentum(&self) -> f64 {
        self.momentum
    }

    /// `theta - eta beta v` for one tensor.
    #[cfg(feature = "burn-0-21")]
    pub fn look_ahead<B: Backend, const D: usize>(
        &self,
        lr: LearningRate,
        theta: Tensor<B, D>,
        state: &NesterovLookaheadState<Tensor<B, D>>,
    ) -> Tensor<B, D> {
        self.look_ahead_point(lr, theta, state)
    }

    /// `theta - eta beta v` for one tensor, over [`Arith`] (every burn version's look-ahead
    /// point calls this).
    #[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
    pub(crate) fn look_ahead_point<T: Arith>(
        &self,
        lr: LearningRate,
        theta: T,
        state: &NesterovLookaheadState<T>,
    ) -> T {
        theta.sub(state.velocity.clone().mul_scalar(lr * self.momentum))
    }

    /// One step of the rule on one tensor (every burn version's adapter calls this).
    /// `grad` must be the gradient at the look-ahead point.
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<NesterovLookaheadState<T>>,
    ) -> (T, Option<NesterovLookaheadState<T>>) {
        let velocity = match state {
            Some(s) => s.velocity.mul_scalar(self.momentum).add(grad),
            None => grad,
        };
        (
            tensor.sub(velocity.clone().mul_scalar(lr)),
            Some(NesterovLookaheadState { velocity }),
        )
    }
}

/// The module moved to the look-ahead point `theta - lr beta v` of every parameter, where the
/// next step's gradient must be taken; parameters not stepped yet stay at `theta` (`v = 0`).
/// The copy keeps the parameter ids, so gradients taken on it step `module` itself.
#[cfg(feature = "burn-0-21")]
pub fn nesterov_lookahead_point<B, M>(
    module: M,
    optimizer: &OptimizerAdaptor<NesterovLookahead, M, B>,
    lr: LearningRate,
) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    let mut mapper = LookAheadMapper::<B, M> {
        records: optimizer.to_record(),
        optimizer: optimizer.optim(),
        lr,
    };
    module.map(&mut mapper)
}

#[cfg(feature = "burn-0-21")]
struct LookAheadMapper<'a, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    records: <OptimizerAdaptor<NesterovLookahead, M, B> as Optimizer<M, B>>::Record,
    optimizer: &'a NesterovLookahead,
    lr: LearningRate,
}

#[cfg(feature = "burn-0-21")]
impl<B, M> ModuleMapper<B> for LookAheadMapper<'_, B, M>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = match self.records.get(&id) {
            Some(record) => {
                let state = record.clone().into_state::<D>();
                let require_grad = tensor.is_require_grad();
                let ahead =
                    Tensor::from_inner(self.optimizer.look_ahead(self.lr, tensor.inner(), &state));
                if require_grad {
                    ahead.require_grad()
                } else {
                    ahead
                }
            }
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
#[cfg(feature = "burn-0-21")]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::optim::{Sgd, SgdConfig, SgdState};
    use burn::backend::NdArray;
    use burn::optim::SimpleOptimizer;

    type B = NdArray<f64>;

    fn tensor(values: &[f64]) -> Tensor<B, 1> {
        // An explicit dtype: `NdArray<f32>` and `NdArray<f64>` share one device, whose
        // default dtype is fixed by whichever test in this binary asks first.
        Tensor::from_data(
            burn::tensor::TensorData::new(values.to_vec(), [values.len()]),
            (&Default::default(), burn::tensor::DType::F64),
        )
    }

    fn host(t: &Tensor<B, 1>) -> Vec<f64> {
        t.to_data().to_vec().unwrap()
    }

    /// Rosenbrock's gradient, in f64 on the host.
    fn gradient(w: &[f64]) -> Vec<f64> {
        let (x, y) = (w[0], w[1]);
        vec![
            -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
            200.0 * (y - x * x),
        ]
    }

    #[test]
    fn the_look_ahead_form_is_pytorch_nesterov_after_the_change_of_variables() {
        let (lr, beta) = (1e-3, 0.9);
        let seeds = NesterovLookaheadConfig::new()
            .with_momentum(beta)
            .build()
            .unwrap();
        let torch: Sgd = SgdConfig::new()
            .with_momentum(beta)
            .with_nesterov(true)
            .build()
            .unwrap();
        let start = [-1.2, 1.0];
        let (mut theta, mut seeds_state) = (tensor(&start), None);
        let (mut phi, mut torch_state): (Tensor<B, 1>, Option<SgdState<Tensor<B, 1>>>) =
            (tensor(&start), None);
        for t in 0..300 {
            let ahead = match &seeds_state {
                Some(s) => seeds.look_ahead(lr, theta.clone(), s),
                None => theta.clone(),
            };
            let g = tensor(&gradient(&host(&ahead)));
            (theta, seeds_state) = seeds.step(lr, theta, g, seeds_state);
            let g = tensor(&gradient(&host(&phi)));
            (phi, torch_state) = torch.step(lr, phi, g, torch_state);
            // phi_{t+1} = theta_{t+1} - eta beta v_{t+1}.
            let velocity = host(&seeds_state.as_ref().unwrap().velocity);
            let mapped: Vec<f64> = host(&theta)
                .iter()
                .zip(&velocity)
                .map(|(th, v)| th - lr * beta * v)
                .collect();
            for (a, b) in mapped.iter().zip(host(&phi)) {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "step {t}: {a} vs {b}"
                );
            }
        }
        // And both made progress towards (1, 1).
        assert!(host(&phi)[0] > -1.0);
    }

    #[test]
    fn momentum_must_be_below_one() {
        assert!(
            NesterovLookaheadConfig::new()
                .with_momentum(1.0)
                .build()
                .is_err()
        );
        assert!(
            NesterovLookaheadConfig::new()
                .with_momentum(-0.1)
                .build()
                .is_err()
        );
    }
}
