//! CPU kernels for convolutional networks: a stride-1 convolution through im2col and a matrix
//! product, 2x2 max-pooling, and the two fused with bias and ReLU as one block
//! ([`conv2d_relu_pool`], what the 2c2d runs), each with its own backward pass.
//!
//! burn 0.21's CPU backends are slow exactly where the 2c2d spends its time (measured on a
//! 2-core AVX-512 machine, one step at B = 128, `Flex`): the input gradient of the second
//! convolution goes through a transposed convolution at ~40 GFLOP/s, the weight gradient of
//! the first through a 28x28-kernel convolution at ~5 GFLOP/s, max-pooling with indices takes
//! 20 ms, and `NdArray` convolves directly, minutes per step. Here every convolution, forward
//! and backward, is one or a few large matrix products over columns unfolded on the host, on
//! the backend (`gemm` on `Flex`, `matrixmultiply` on `NdArray`) or, with the cargo feature
//! `blas`, on the host's OpenBLAS (`product`'s docs have the speeds):
//!
//! - forward: `y[o, (n, p)] = W[o, (c, i, j)] . cols[(c, i, j), (n, p)] + b[o]`;
//! - input gradient: the columns' gradient `W^T . dy[o, (n, p)]` folded back onto the pixels
//!   they were unfolded from (col2im), rather than unfolding `dy` for a convolution with the
//!   flipped kernel, which would write `O/C` times as many columns;
//! - weight gradient: `dW = dy[o, (n, p)] . cols^T`, with `cols` recomputed from `x`;
//! - bias gradient: the sum of `dy` over images and pixels.
//!
//! The columns are built in chunks of images whose size is bounded ([`COLUMN_BYTES`]), so a
//! large evaluation batch does not need memory in proportion to it; the chunks run in
//! parallel, each one task ([`MIN_CHUNKS`]).
//!
//! The functions are generic over the backend and pick the kernels at run time from its
//! type, like burn's backend-extension pattern without the extra trait bound: `NdArray` (f32
//! and f64, cargo feature `ndarray`) and `Flex` (feature `flex`), each plain or inside
//! `Autodiff`, where a graph node of ours carries the backward pass. Every other backend (and
//! an unsupported element type) runs burn's own `conv2d` and `max_pool2d`, so results agree
//! with them to rounding: the unit tests compare values and gradients.

// Without a CPU backend feature nothing dispatches to the kernels.
#![cfg_attr(not(any(feature = "flex", feature = "ndarray")), allow(dead_code))]

mod conv;
mod fused;
mod pool;
mod product;

use core::any::{Any, TypeId};

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::ModelError;

pub use conv::conv2d_same;
pub use fused::conv2d_relu_pool;
pub use pool::max_pool_2x2;

/// The most bytes of unfolded columns built at once; larger batches are split by images.
/// Chunks small enough to stay in the caches while the product reads them win where memory
/// is slow. Measured on the 2c2d (flex, B = 128, `descent bench`, single repetitions
/// alternated): on a 2-core AVX2 machine (triad 22 GB/s, 32 MB L3) 2026-12-01, 4 MB gave
/// 433-561 samples/s (median 515 of 5), 16 MB 308-380 (347), 8 MB 384-497, 2 MB 491-533, 1 MB
/// 460-554, 0.5 MB 436-537; earlier, on an AVX-512 machine, 16 MB 687 against 64 MB 604. It
/// also bounds the memory of an evaluation batch of any size.
pub const COLUMN_BYTES: usize = 4 << 20;

/// The fewest chunks a batch of at least this many images is split into. The chunks run in
/// parallel, each one task from its columns to its product (with the `blas` feature,
/// OpenBLAS runs single-threaded inside each: the `descent` binary sets
/// `OPENBLAS_NUM_THREADS=1`), so both cores of a small machine stay busy without a second
/// thread pool spinning beside rayon's. A constant, not the number of threads, so that
/// results do not depend on the machine.
pub const MIN_CHUNKS: usize = 8;

/// Whether `A` and `B` are the same type.
fn same<A: 'static, B: 'static>() -> bool {
    TypeId::of::<A>() == TypeId::of::<B>()
}

/// `value` as type `U`, which must be its own type (checked with [`same`] first).
fn cast<T: 'static, U: 'static>(value: T) -> Result<U, ModelError> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<U>>()
        .and_then(Option::take)
        .ok_or(ModelError::Kernel(
            "a tensor's backend is not the one dispatched on",
        ))
}

/// Moves a tensor between two names of the same backend.
fn retype<A: Backend, B: Backend, const D: usize>(
    tensor: Tensor<A, D>,
) -> Result<Tensor<B, D>, ModelError> {
    cast::<Tensor<A, D>, Tensor<B, D>>(tensor)
}

/// Calls `$run::<Inner>` for the inner backend `Inner` that `$b` is, or
/// `$tracked::<Inner>` when `$b` is `Autodiff<Inner>`; returns from the enclosing function
/// when one matched. The list of backends with kernels is here and only here.
macro_rules! dispatch_cpu {
    ($b:ty, $run:ident, $tracked:ident, ($($arg:expr),*)) => {
        #[cfg(feature = "flex")]
        {
            use burn::backend::{Autodiff, Flex};
            if $crate::kernels::same::<$b, Flex>() {
                return $run::<$b, Flex>($($arg),*);
            }
            if $crate::kernels::same::<$b, Autodiff<Flex>>() {
                return $tracked::<$b, Flex>($($arg),*);
            }
        }
        #[cfg(feature = "ndarray")]
        {
            use burn::backend::{Autodiff, NdArray};
            if $crate::kernels::same::<$b, NdArray<f32>>() {
                return $run::<$b, NdArray<f32>>($($arg),*);
            }
            if $crate::kernels::same::<$b, Autodiff<NdArray<f32>>>() {
                return $tracked::<$b, NdArray<f32>>($($arg),*);
            }
            if $crate::kernels::same::<$b, NdArray<f64>>() {
                return $run::<$b, NdArray<f64>>($($arg),*);
            }
            if $crate::kernels::same::<$b, Autodiff<NdArray<f64>>>() {
                return $tracked::<$b, NdArray<f64>>($($arg),*);
            }
        }
    };
}
pub(crate) use dispatch_cpu;

/// Calls `$f::<$b, T>(args)` with `T` the element type of `$tensor`: f64, else f32 (the
/// kernels are reached only for the types [`supported`] accepts).
macro_rules! by_element {
    ($tensor:expr, $f:ident::<$b:ty>($($arg:expr),* $(,)?)) => {
        match $tensor.dtype() {
            burn::tensor::DType::F64 => $f::<$b, f64>($($arg),*),
            _ => $f::<$b, f32>($($arg),*),
        }
    };
}
pub(crate) use by_element;

/// The element types the kernels take: f32 and f64.
trait Real:
    burn::tensor::Element
    + Copy
    + Default
    + PartialOrd
    + core::ops::Add<Output = Self>
    + Send
    + Sync
    + HostProduct
{
}

/// What the host's BLAS products need of an element type (nothing without the `blas` feature).
#[cfg(feature = "blas")]
trait HostProduct: ndarray::LinalgScalar {}
#[cfg(feature = "blas")]
impl<T: ndarray::LinalgScalar> HostProduct for T {}
#[cfg(not(feature = "blas"))]
trait HostProduct {}
#[cfg(not(feature = "blas"))]
impl<T> HostProduct for T {}

impl Real for f32 {}
impl Real for f64 {}

/// `tensor`'s values in row-major order, as `T` (which must be its element type).
fn read<T: Real, B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<T>, ModelError> {
    tensor
        .into_data()
        .into_vec::<T>()
        .map_err(|error| ModelError::Readback(format!("{error:?}")))
}

/// A float tensor's primitive.
fn float<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> FloatTensor<B> {
    tensor.into_primitive().tensor()
}

/// A float primitive as a tensor.
fn tensor<B: Backend, const D: usize>(primitive: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// Whether the kernels take `tensor`'s element type.
fn supported<B: Backend, const D: usize>(tensor: &Tensor<B, D>) -> bool {
    matches!(
        tensor.dtype(),
        burn::tensor::DType::F32 | burn::tensor::DType::F64
    )
}

/// A host buffer as a tensor of `shape` on `device`, keeping its element type.
fn upload<B: Backend, T: Real, const D: usize>(
    values: Vec<T>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    let data = burn::tensor::TensorData::new(values, shape);
    let dtype = data.dtype;
    Tensor::from_data(data, (device, dtype))
}
