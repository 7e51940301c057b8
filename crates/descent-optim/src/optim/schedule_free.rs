//! What Schedule-Free SGD and Schedule-Free AdamW share: the state, the averaging
//! weights, and the way back from the training point `y` to the evaluation point `x`.

#[cfg(feature = "burn-0-21")]
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::LearningRate;
#[cfg(feature = "burn-0-21")]
use burn::optim::adaptor::OptimizerAdaptor;
#[cfg(feature = "burn-0-21")]
use burn::optim::{Optimizer, SimpleOptimizer};
#[cfg(feature = "burn-0-21")]
use burn::tensor::Tensor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::arith::Arith;
use crate::state::optimizer_state;

optimizer_state! {
    /// State of a Schedule-Free optimizer for one parameter tensor.
    ///
    /// The module holds the gradient point `y`; the state holds the base sequence `z` and
    /// the scalars of the weighted average that defines `x`.
    pub struct ScheduleFreeState {
        /// Number of steps taken, `t`.
        pub step: Scalar<usize>,
        /// Base (SGD) sequence `z_t`.
        pub z: Tensor,
        /// Second moment `v_t` (Schedule-Free AdamW only).
        pub exp_avg_sq: OptionTensor,
        /// Sum of the averaging weights so far.
        pub weight_sum: Scalar<f64>,
        /// Largest learning rate seen so far (weights are `lr_max^weight_lr_power`).
        pub lr_max: Scalar<f64>,
    }
}

/// The averaging weights of Defazio et al. (2024), with warm-up.
#[derive(Clone, Debug)]
pub(crate) struct Averaging {
    pub(crate) warmup_steps: usize,
    pub(crate) r: f64,
    pub(crate) weight_lr_power: f64,
}

/// Scalars of one Schedule-Free step.
pub(crate) struct AveragingStep {
    /// Learning rate after warm-up.
    pub(crate) lr: f64,
    /// Interpolation weight `c_{t+1}` of `x` towards `z`.
    pub(crate) ckp1: f64,
    pub(crate) weight_sum: f64,
    pub(crate) lr_max: f64,
}

impl Averaging {
    /// `k` is the number of steps already taken.
    pub(crate) fn step(
        &self,
        lr: LearningRate,
        k: usize,
        weight_sum: f64,
        lr_max: f64,
    ) -> AveragingStep {
        let warmup = if k < self.warmup_steps {
            (k + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let lr = lr * warmup;
        let lr_max = lr_max.max(lr);
        let weight = ((k + 1) as f64).powf(self.r) * lr_max.powf(self.weight_lr_power);
        let weight_sum = weight_sum + weight;
        let ckp1 = if weight_sum != 0.0 {
            weight / weight_sum
        } else {
            0.0
        };
        AveragingStep {
            lr,
            ckp1,
            weight_sum,
            lr_max,
        }
    }
}

/// Apply the Schedule-Free move of `y` and `z` along the (normalised) gradient `d`.
///
/// ```text
/// y <- (1 - c) y + c z + eta (beta (1 - c) - 1) d
/// z <- z - eta d
/// ```
/// which keeps `y = (1 - beta) z + beta x` with `x <- (1 - c) x + c z` without storing `x`.
pub(crate) fn schedule_free_move<T: Arith>(
    y: T,
    z: T,
    direction: T,
    beta: f64,
    step: &AveragingStep,
) -> (T, T) {
    let c = step.ckp1;
    let y = y.mul_scalar(1.0 - c).add(z.clone().mul_scalar(c)).add(
        direction
            .clone()
            .mul_scalar(step.lr * (beta * (1.0 - c) - 1.0)),
    );
    let z = z.sub(direction.mul_scalar(step.lr));
    (y, z)
}

/// `x = (y - (1 - beta) z) / beta`: the evaluation point of one tensor, from its training
/// point `y` and its base sequence `z` (every burn version's evaluation point calls this).
#[cfg_attr(not(feature = "burn-0-21"), allow(dead_code))]
pub(crate) fn evaluation_point<T: Arith>(y: T, z: T, beta: f64) -> T {
    y.sub(z.mul_scalar(1.0 - beta)).div_scalar(beta)
}

/// A Schedule-Free optimizer: it can map the training point `y` back to the point `x`
/// at which the model should be evaluated.
#[cfg(feature = "burn-0-21")]
pub trait ScheduleFree<B: Backend>: SimpleOptimizer<B> {
    /// The interpolation `beta` between `z` and `x` that defines `y = (1 - beta) z + beta x`.
    fn beta(&self) -> f64;

    /// The base sequence `z` held in a parameter's state.
    fn z<const D: usize>(state: &Self::State<D>) -> Tensor<B, D>;

    /// `x = (y - (1 - beta) z) / beta` for one tensor.
    fn evaluation_point<const D: usize>(
        &self,
        y: Tensor<B, D>,
        state: &Self::State<D>,
    ) -> Tensor<B, D> {
        evaluation_point(y, Self::z(state), self.beta())
    }
}

/// The module with every parameter moved from the training point `y` to the averaged
/// point `x`, where a Schedule-Free model must be evaluated (validation loss, accuracy,
/// checkpoints for inference).
///
/// Training goes on with the original `module`; the returned copy is for evaluation only.
/// Parameters the optimizer has not stepped yet are returned unchanged (`x = y = z`).
///
/// ```
/// # use burn::backend::{Autodiff, NdArray};
/// # use burn::module::AutodiffModule;
/// # use burn::nn::{Linear, LinearConfig};
/// # use burn::optim::{GradientsParams, Optimizer};
/// # use burn::tensor::Tensor;
/// use descent_optim::OptimConfig;
/// use descent_optim::optim::{ScheduleFreeAdamWConfig, schedule_free_eval};
/// # type B = Autodiff<NdArray<f32>>;
/// # fn main() -> Result<(), descent_optim::OptimError> {
/// # let device = Default::default();
/// # let mut model: Linear<B> = LinearConfig::new(3, 1).init(&device);
/// let mut optimizer = ScheduleFreeAdamWConfig::new().init::<B, Linear<B>>()?;
/// # let x = Tensor::<B, 2>::ones([4, 3], &device);
/// for _ in 0..10 {
///     let loss = model.forward(x.clone()).powi_scalar(2).mean();
///     let grads = GradientsParams::from_grads(loss.backward(), &model);
///     model = optimizer.step(0.0025, model, grads);
/// }
/// // Train at y, evaluate at x:
/// let eval_model = schedule_free_eval(model.clone(), &optimizer).valid();
/// # let _ = eval_model.forward(x.inner());
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "burn-0-21")]
pub fn schedule_free_eval<B, M, O>(module: M, optimizer: &OptimizerAdaptor<O, M, B>) -> M
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: ScheduleFree<B::InnerBackend>,
{
    let mut mapper = EvalMapper::<B, M, O> {
        records: optimizer.to_record(),
        optimizer: optimizer.optim(),
    };
    module.map(&mut mapper)
}

#[cfg(feature = "burn-0-21")]
struct EvalMapper<'a, B, M, O>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: ScheduleFree<B::InnerBackend>,
{
    records: <OptimizerAdaptor<O, M, B> as Optimizer<M, B>>::Record,
    optimizer: &'a O,
}

#[cfg(feature = "burn-0-21")]
impl<B, M, O> ModuleMapper<B> for EvalMapper<'_, B, M, O>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: ScheduleFree<B::InnerBackend>,
{
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = match self.records.get(&id) {
            Some(record) => {
                let state = record.clone().into_state::<D>();
                let require_grad = tensor.is_require_grad();
                let x = Tensor::from_inner(self.optimizer.evaluation_point(tensor.inner(), &state));
                if require_grad { x.require_grad() } else { x }
            }
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}
