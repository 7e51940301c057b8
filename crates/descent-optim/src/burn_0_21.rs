//! The adapter to burn 0.21 (feature `burn-0-21`): its `Tensor<B, D>` as [`Arith`](crate::arith::Arith), every
//! optimizer of the crate as a [`SimpleOptimizer`], every state as a [`Record`].
//!
//! Nothing here computes an update: each `step` hands the tensors to the optimizer's one
//! `update` rule (after the fused CPU kernel, where one applies and declines or succeeds with
//! the same bits).

use burn::optim::{LearningRate, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, DType, Device, Tensor, TensorData};

use crate::optim::{self, fused};

crate::arith::forward_arith!(impl [B: Backend, const D: usize] Arith for Tensor<B, D>, mask = Tensor<B, D, Bool>);

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
    ($($optimizer:ident => $state:ident $(, fused = $fused:ident)?;)*) => {$(
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
                    let (tensor, grad, state) = match fused::$fused(self, lr, tensor, grad, state) {
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

optim::every_optimizer!(simple_optimizers);
