//! descent-optim on burn 0.22 (feature `burn-0-22`).
//!
//! burn 0.22 dropped the backend type parameter (`Tensor<D>`, a runtime `Device`), turned
//! `SimpleOptimizer<B>` into the per-tensor [`Optimizer`] whose state is a [`RecordState`], and
//! `OptimizerAdaptor` into [`ModuleOptimizer`]. This module is the adapter: burn 0.22's
//! `Tensor<D>` as the crate's tensor arithmetic, every optimizer of [`crate::optim`] as an
//! [`Optimizer`] (the same types, configs and fields as on burn 0.21), every state as a
//! [`RecordState`], every schedule's [`Scheduler`] as 0.22's [`LrScheduler`] (its record is the
//! step, a scalar), and [`ModuleOptimizerConfig::init`] for the [`ModuleOptimizer`] that
//! burn-train's `Learner` takes. The update rules are the ones burn 0.21 runs: nothing here
//! computes an update.
//!
//! ```
//! use burn_0_22 as burn; // in a burn 0.22 project: the `burn` dependency itself
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//! use descent_optim::burn_0_22::ModuleOptimizerConfig;
//! use descent_optim::optim::NAdamConfig;
//!
//! let device = Device::default().autodiff();
//! let mut model = LinearConfig::new(3, 1).init(&device);
//! let mut optimizer = NAdamConfig::new().init()?;
//! let x = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &device);
//! let loss = model.forward(x).square().mean();
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! model = optimizer.step(1e-3, model, grads);
//! # let _: Linear = model;
//! # Ok::<(), descent_optim::OptimError>(())
//! ```
//!
//! What burn 0.22's per-tensor [`Optimizer`] cannot express stays on burn 0.21 for now, and
//! the crate README says what to do instead: SAM (a second gradient at a perturbed point of
//! the whole module), the module-level evaluation points (`schedule_free_eval`,
//! `asgd_average`, `nesterov_lookahead_point`) and global-norm clipping (both need every
//! parameter's gradient or state at once). Lookahead, whose slow weights are per-tensor
//! state, is offered here.

use burn_0_22::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn_0_22::optim::{
    LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource, join_path,
};
use burn_0_22::tensor::{Bool, DType, Device, Float, Tensor, TensorData};

use crate::OptimConfig;
use crate::error::OptimError;
use crate::optim::{self, Lookahead, LookaheadState};
use crate::schedule::{ReduceLrOnPlateau, ReduceLrOnPlateauRecord, Schedule, Scheduler};

// `Float` named: burn 0.22 also has an integer `square`.
crate::arith::forward_arith!(impl [const D: usize] Arith for Tensor<D, Float>, mask = Tensor<D, Bool>);

/// A tensor rebuilt from its record with the dtype it was saved in (not the device's
/// default), so an `f64` run resumes bit for bit.
fn tensor_from_data<const D: usize>(data: TensorData, device: &Device) -> Tensor<D> {
    let dtype = data.dtype();
    Tensor::from_data(data, (device, dtype))
}

#[doc(hidden)]
pub fn __push_tensor<const D: usize>(
    out: &mut StateSink,
    prefix: &str,
    leaf: &str,
    tensor: &Tensor<D>,
) {
    out.push_tensor(prefix, leaf, tensor.to_data());
}

#[doc(hidden)]
pub fn __take_tensor<const D: usize>(
    src: &mut StateSource,
    prefix: &str,
    leaf: &str,
    device: &Device,
) -> Option<Tensor<D>> {
    src.take_tensor(prefix, leaf)
        .map(|data| tensor_from_data(data, device))
}

/// One field of a state into burnpack's named leaves.
macro_rules! flatten_field {
    (Tensor, $value:expr, $prefix:ident, $leaf:expr, $out:ident) => {
        $crate::burn_0_22::__push_tensor($out, $prefix, $leaf, $value)
    };
    (OptionTensor, $value:expr, $prefix:ident, $leaf:expr, $out:ident) => {
        if let Some(tensor) = $value {
            $crate::burn_0_22::__push_tensor($out, $prefix, $leaf, tensor)
        }
    };
    (Scalar, $value:expr, $prefix:ident, $leaf:expr, $out:ident) => {
        $out.push_scalar($prefix, $leaf, (*$value).into())
    };
    (Nested, $value:expr, $prefix:ident, $leaf:expr, $out:ident) => {
        if let Some(state) = $value {
            burn_0_22::optim::RecordState::state_flatten(
                state,
                &burn_0_22::optim::join_path($prefix, $leaf),
                $out,
            )
        }
    };
}
pub(crate) use flatten_field;

/// One field of a state back from burnpack's named leaves; `None` if a required one is absent.
macro_rules! unflatten_field {
    (Tensor, $prefix:ident, $leaf:expr, $src:ident, $device:ident) => {
        $crate::burn_0_22::__take_tensor($src, $prefix, $leaf, $device)
    };
    (OptionTensor, $prefix:ident, $leaf:expr, $src:ident, $device:ident) => {
        Some($crate::burn_0_22::__take_tensor($src, $prefix, $leaf, $device))
    };
    (Scalar<$scalar:ident>, $prefix:ident, $leaf:expr, $src:ident, $device:ident) => {
        $src.take_scalar($prefix, $leaf)
            .and_then(|scalar| <$scalar>::try_from(scalar).ok())
    };
    (Nested<$state:ident>, $prefix:ident, $leaf:expr, $src:ident, $device:ident) => {{
        let path = burn_0_22::optim::join_path($prefix, $leaf);
        if $src.has_under(&path) {
            <$state<burn_0_22::tensor::Tensor<D>> as burn_0_22::optim::RecordState>::state_unflatten(
                &path, $src, $device,
            )
            .map(Some)
        } else {
            Some(None)
        }
    }};
}
pub(crate) use unflatten_field;

/// burn 0.22's `RecordState` for a state declared by `optimizer_state!`: each field a leaf
/// named after it (nested states under their field's name).
macro_rules! impl_record_state {
    ($name:ident { $( $field:ident : $kind:ident $(<$inner:ident>)? ),* }) => {
        impl<const D: usize> burn_0_22::optim::RecordState for $name<burn_0_22::tensor::Tensor<D>> {
            fn state_flatten(&self, prefix: &str, out: &mut burn_0_22::optim::StateSink) {
                $( $crate::burn_0_22::flatten_field!(
                    $kind, &self.$field, prefix, stringify!($field), out
                ); )*
            }

            fn state_unflatten(
                prefix: &str,
                src: &mut burn_0_22::optim::StateSource,
                device: &burn_0_22::tensor::Device,
            ) -> Option<Self> {
                Some($name {
                    $( $field: $crate::burn_0_22::unflatten_field!(
                        $kind $(<$inner>)?, prefix, stringify!($field), src, device
                    )?, )*
                })
            }
        }
    };
}
pub(crate) use impl_record_state;

/// Each optimizer as burn 0.22's per-tensor `Optimizer`, through its `update` rule.
macro_rules! optimizers {
    // The fused CPU steps are burn 0.21's: the names are ignored here.
    ($($optimizer:ident => $state:ident $(, fused = $fused:ident)?;)*) => {$(
        impl Optimizer for optim::$optimizer {
            type State<const D: usize> = optim::$state<Tensor<D>>;

            fn step<const D: usize>(
                &self,
                lr: LearningRate,
                tensor: Tensor<D>,
                grad: Tensor<D>,
                state: Option<Self::State<D>>,
            ) -> (Tensor<D>, Option<Self::State<D>>) {
                self.update(lr, tensor, grad, state)
            }

            fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
                state.map_tensors(&mut |tensor| tensor.to_device(device))
            }
        }
    )*};
}

optim::every_optimizer!(optimizers);

impl<O: Optimizer> Optimizer for Lookahead<O> {
    type State<const D: usize> = LookaheadState<O::State<D>, Tensor<D>>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (inner, slow, step) = LookaheadState::unpack(state, &tensor);
        let (fast, inner) = self.inner().step(lr, tensor, grad, inner);
        let (fast, state) = self.synchronise(fast, slow, step, inner);
        (fast, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LookaheadState {
            inner: state.inner.map(|inner| O::to_device(inner, device)),
            slow: state.slow.to_device(device),
            step: state.step,
        }
    }
}

impl<S: RecordState, const D: usize> RecordState for LookaheadState<S, Tensor<D>> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(inner) = &self.inner {
            inner.state_flatten(&join_path(prefix, "inner"), out);
        }
        __push_tensor(out, prefix, "slow", &self.slow);
        out.push_scalar(prefix, "step", self.step.into());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let inner_path = join_path(prefix, "inner");
        let inner = if src.has_under(&inner_path) {
            Some(S::state_unflatten(&inner_path, src, device)?)
        } else {
            None
        };
        Some(LookaheadState {
            inner,
            slow: __take_tensor(src, prefix, "slow", device)?,
            step: src
                .take_scalar(prefix, "step")
                .and_then(|scalar| usize::try_from(scalar).ok())?,
        })
    }
}

/// The [`ModuleOptimizer`] of burn 0.22 from any optimizer config of this crate: what
/// `Learner` and a hand-written loop take. Import this trait (not needed on burn 0.21, where
/// `OptimConfig::init` is the counterpart).
pub trait ModuleOptimizerConfig: OptimConfig {
    /// Check the fields and wrap the optimizer for a whole module.
    fn init(&self) -> Result<ModuleOptimizer, OptimError>;
}

impl<C> ModuleOptimizerConfig for C
where
    C: OptimConfig,
    C::Optimizer: Optimizer,
{
    fn init(&self) -> Result<ModuleOptimizer, OptimError> {
        Ok(ModuleOptimizer::from(self.build()?))
    }
}

/// The record key of a [`Scheduler`]'s step counter.
const STEP: &str = "step";

impl<S: Schedule + Clone + 'static> LrScheduler for Scheduler<S> {
    fn step(&mut self) -> LearningRate {
        self.advance()
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar(STEP, self.steps_taken())
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<usize>(STEP) {
            self.set_steps_taken(step);
        }
    }
}

/// The field names of a [`ReduceLrOnPlateauRecord`] in a scalar record.
const PLATEAU_FIELDS: [&str; 5] = [
    "lr",
    "best",
    "num_bad_epochs",
    "cooldown_counter",
    "last_epoch",
];

impl From<ReduceLrOnPlateauRecord> for LrSchedulerRecord {
    fn from(state: ReduceLrOnPlateauRecord) -> Self {
        let [lr, best, bad, cooldown, last] = PLATEAU_FIELDS;
        LrSchedulerRecord::new()
            .with_scalar(lr, state.lr)
            .with_scalar(best, state.best)
            .with_scalar(bad, state.num_bad_epochs)
            .with_scalar(cooldown, state.cooldown_counter)
            .with_scalar(last, state.last_epoch)
    }
}

impl ReduceLrOnPlateau {
    /// The state as burn 0.22's scalar scheduler record (burnpack), for a checkpoint beside
    /// the optimizer's.
    pub fn to_scalar_record(&self) -> LrSchedulerRecord {
        self.to_record().into()
    }

    /// The scheduler with the state of a record from [`Self::to_scalar_record`]; `None` if a
    /// field is missing or of another type.
    pub fn load_scalar_record(self, record: &LrSchedulerRecord) -> Option<Self> {
        let [lr, best, bad, cooldown, last] = PLATEAU_FIELDS;
        let state = ReduceLrOnPlateauRecord {
            lr: record.scalar(lr)?,
            best: record.scalar(best)?,
            num_bad_epochs: record.scalar(bad)?,
            cooldown_counter: record.scalar(cooldown)?,
            last_epoch: record.scalar(last)?,
        };
        Some(self.load_record(state))
    }
}
