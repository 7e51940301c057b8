//! The adapter to burn 0.21 (feature `burn-0-21`): its `Tensor<B, D>` as [`Arith`], every
//! optimizer of the crate as a [`SimpleOptimizer`], every state as a [`Record`].
//!
//! Nothing here computes an update: each `step` hands the tensors to the optimizer's one
//! `update` rule (after the fused CPU kernel, where one applies and declines or succeeds with
//! the same bits).

use burn::optim::{LearningRate, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, DType, Device, Tensor, TensorData};

use crate::arith::{Arith, Precision};
use crate::optim::{self, fused};

impl<B: Backend, const D: usize> Arith for Tensor<B, D> {
    type Mask = Tensor<B, D, Bool>;

    fn add(self, other: Self) -> Self {
        Tensor::add(self, other)
    }
    fn sub(self, other: Self) -> Self {
        Tensor::sub(self, other)
    }
    fn mul(self, other: Self) -> Self {
        Tensor::mul(self, other)
    }
    fn div(self, other: Self) -> Self {
        Tensor::div(self, other)
    }
    fn add_scalar(self, value: f64) -> Self {
        Tensor::add_scalar(self, value)
    }
    fn mul_scalar(self, value: f64) -> Self {
        Tensor::mul_scalar(self, value)
    }
    fn div_scalar(self, value: f64) -> Self {
        Tensor::div_scalar(self, value)
    }
    fn neg(self) -> Self {
        Tensor::neg(self)
    }
    fn sqrt(self) -> Self {
        Tensor::sqrt(self)
    }
    fn square(self) -> Self {
        Tensor::square(self)
    }
    fn abs(self) -> Self {
        Tensor::abs(self)
    }
    fn sign(self) -> Self {
        Tensor::sign(self)
    }
    fn recip(self) -> Self {
        Tensor::recip(self)
    }
    fn max_pair(self, other: Self) -> Self {
        Tensor::max_pair(self, other)
    }
    fn clamp_min(self, min: f64) -> Self {
        Tensor::clamp_min(self, min)
    }
    fn clamp(self, min: f64, max: f64) -> Self {
        Tensor::clamp(self, min, max)
    }
    fn zeros_like(&self) -> Self {
        Tensor::zeros_like(self)
    }
    fn ones_like(&self) -> Self {
        Tensor::ones_like(self)
    }
    fn sum_dim(self, dim: usize) -> Self {
        Tensor::sum_dim(self, dim)
    }
    fn mean_dim(self, dim: usize) -> Self {
        Tensor::mean_dim(self, dim)
    }
    fn sum_all(self) -> Self {
        Tensor::sum(self).reshape([1; D])
    }
    fn matmul(self, other: Self) -> Self {
        Tensor::matmul(self, other)
    }
    fn transpose(self) -> Self {
        Tensor::transpose(self)
    }
    fn dims(&self) -> Vec<usize> {
        Tensor::dims(self).to_vec()
    }
    fn precision(&self) -> Precision {
        precision(self.dtype())
    }
    fn with_values(&self, values: Vec<f64>) -> Self {
        // The dtype is explicit: burn's device-wide default need not be this tensor's.
        Tensor::from_data(
            TensorData::new(values, self.shape()),
            (&self.device(), self.dtype()),
        )
    }
    fn lower_elem(self, value: f64) -> Self::Mask {
        Tensor::lower_elem(self, value)
    }
    fn greater_elem(self, value: f64) -> Self::Mask {
        Tensor::greater_elem(self, value)
    }
    fn equal_elem(self, value: f64) -> Self::Mask {
        Tensor::equal_elem(self, value)
    }
    fn mask_or(left: Self::Mask, right: Self::Mask) -> Self::Mask {
        left.bool_or(right)
    }
    fn mask_fill(self, mask: Self::Mask, value: f64) -> Self {
        Tensor::mask_fill(self, mask, value)
    }
}

/// The rules' view of a burn dtype.
pub(crate) fn precision(dtype: DType) -> Precision {
    match dtype {
        DType::F64 => Precision::Double,
        DType::F16 => Precision::Half,
        DType::BF16 => Precision::BrainHalf,
        _ => Precision::Single,
    }
}

/// burn 0.21's `Record` for a state declared by `optimizer_state!`: the record item is the
/// same struct over the tensors' record items, so every field is saved under its name.
macro_rules! impl_record {
    ($name:ident) => {
        impl<B: burn::tensor::backend::Backend, const D: usize> burn::record::Record<B>
            for $name<burn::tensor::Tensor<B, D>>
        {
            type Item<S: burn::record::PrecisionSettings> =
                $name<<burn::tensor::Tensor<B, D> as burn::record::Record<B>>::Item<S>>;

            fn into_item<S: burn::record::PrecisionSettings>(self) -> Self::Item<S> {
                self.map_tensors(&mut |tensor| burn::record::Record::<B>::into_item::<S>(tensor))
            }

            fn from_item<S: burn::record::PrecisionSettings>(
                item: Self::Item<S>,
                device: &B::Device,
            ) -> Self {
                item.map_tensors(&mut |tensor| {
                    <burn::tensor::Tensor<B, D> as burn::record::Record<B>>::from_item::<S>(
                        tensor, device,
                    )
                })
            }
        }
    };
}
pub(crate) use impl_record;

/// Each optimizer as burn 0.21's `SimpleOptimizer`: the fused CPU kernel where one is named,
/// else the optimizer's `update` rule.
macro_rules! simple_optimizers {
    ($($optimizer:ident => $state:ident $(, fused = $fused:path)?;)*) => {$(
        impl<B: Backend> SimpleOptimizer<B> for optim::$optimizer {
            type State<const D: usize> = optim::$state<Tensor<B, D>>;

            fn step<const D: usize>(
                &self,
                lr: LearningRate,
                tensor: Tensor<B, D>,
                grad: Tensor<B, D>,
                state: Option<Self::State<D>>,
            ) -> (Tensor<B, D>, Option<Self::State<D>>) {
                $(
                    let (tensor, grad, state) = match $fused(self, lr, tensor, grad, state) {
                        Ok(done) => return done,
                        Err(declined) => declined,
                    };
                )?
                self.update(lr, tensor, grad, state)
            }

            fn to_device<const D: usize>(
                state: Self::State<D>,
                device: &Device<B>,
            ) -> Self::State<D> {
                state.map_tensors(&mut |tensor| tensor.to_device(device))
            }
        }
    )*};
}

simple_optimizers! {
    Sgd => SgdState, fused = fused::sgd;
    Adam => AdamState, fused = fused::adam;
    AdamW => AdamState, fused = fused::adamw;
    RmsProp => RmsPropState, fused = fused::rmsprop;
    Lion => LionState, fused = fused::lion;
    Adagrad => AdagradState, fused = fused::adagrad;
    NesterovLookahead => NesterovLookaheadState;
    NAdam => NAdamState;
    RAdam => RAdamState;
    Adamax => AdamaxState;
    Adadelta => AdadeltaState;
    Rprop => RpropState;
    Asgd => AsgdState;
    AdaBelief => AdaBeliefState;
    Yogi => YogiState;
    Signum => SignumState;
    Lamb => LambState;
    Lars => LarsState;
    Adan => AdanState;
    Adafactor => AdafactorState;
    Muon => MuonState;
    NoisyGd => NoisyGdState;
    ScheduleFreeSgd => ScheduleFreeState;
    ScheduleFreeAdamW => ScheduleFreeState;
}
