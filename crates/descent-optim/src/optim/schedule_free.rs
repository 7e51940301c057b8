//! What Schedule-Free SGD and Schedule-Free AdamW share: the state, the averaging
//! weights, and the way back from the training point `y` to the evaluation point `x`.

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{LearningRate, Optimizer, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

/// State of a Schedule-Free optimizer for one parameter tensor.
///
/// The module holds the gradient point `y`; the state holds the base sequence `z` and
/// the scalars of the weighted average that defines `x`.
#[derive(Record, Clone)]
pub struct ScheduleFreeState<B: Backend, const D: usize> {
    /// Number of steps taken, `t`.
    pub step: usize,
    /// Base (SGD) sequence `z_t`.
    pub z: Tensor<B, D>,
    /// Second moment `v_t` (Schedule-Free AdamW only).
    pub exp_avg_sq: Option<Tensor<B, D>>,
    /// Sum of the averaging weights so far.
    pub weight_sum: f64,
    /// Largest learning rate seen so far (weights are `lr_max^weight_lr_power`).
    pub lr_max: f64,
}

impl<B: Backend, const D: usize> ScheduleFreeState<B, D> {
    /// The same state with its tensors on `device`.
    pub fn to_device(self, device: &B::Device) -> Self {
        ScheduleFreeState {
            z: self.z.to_device(device),
            exp_avg_sq: self.exp_avg_sq.map(|t| t.to_device(device)),
            ..self
        }
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
pub(crate) fn schedule_free_move<B: Backend, const D: usize>(
    y: Tensor<B, D>,
    z: Tensor<B, D>,
    direction: Tensor<B, D>,
    beta: f64,
    step: &AveragingStep,
) -> (Tensor<B, D>, Tensor<B, D>) {
    let c = step.ckp1;
    let y = y.mul_scalar(1.0 - c).add(z.clone().mul_scalar(c)).add(
        direction
            .clone()
            .mul_scalar(step.lr * (beta * (1.0 - c) - 1.0)),
    );
    let z = z.sub(direction.mul_scalar(step.lr));
    (y, z)
}

/// A Schedule-Free optimizer: it can map the training point `y` back to the point `x`
/// at which the model should be evaluated.
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
        let beta = self.beta();
        y.sub(Self::z(state).mul_scalar(1.0 - beta))
            .div_scalar(beta)
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

struct EvalMapper<'a, B, M, O>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: ScheduleFree<B::InnerBackend>,
{
    records: <OptimizerAdaptor<O, M, B> as Optimizer<M, B>>::Record,
    optimizer: &'a O,
}

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
