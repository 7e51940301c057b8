//! A convolution, its bias, ReLU and 2x2 max-pooling as one operation: what each of the
//! 2c2d's blocks does, without the full-size convolution output ever becoming a tensor.
//!
//! Unfused, a block's forward and backward passes wrote and read the convolution's output
//! (128 x 32 x 28 x 28 values for the 2c2d's first block at B = 128, 12.8 MB) about ten times:
//! the bias, ReLU and its mask, pooling and its scatter, each a pass of its own with a fresh
//! buffer, plus the copies between the backend and the host. Here each chunk of images goes
//! from its columns through the product to the pooled values in one task, while the
//! product's output is still in the caches; the backward pass rebuilds the convolution
//! output's gradient chunk by chunk from the pooled gradient and each window's winner.
//!
//! The values equal the unfused `max_pool_2x2(relu(conv2d_same(..)))` bit for bit (ReLU and a
//! maximum commute: the first maximum of a window is positive exactly when the window's
//! ReLU'd maximum is, and is then the same element), but for the sign of a zero and for a
//! window of NaNs (0 here); the gradients equal it up to the order of sums (the bias
//! gradient sums on the host).

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d};
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::conv::{chunks, convolve_chunk, im2col_into, input_gradient_chunk};
use super::product::{Operand, lend, product};
use super::{
    COLUMN_BYTES, Real, by_element, dispatch_cpu, float, read, retype, supported, tensor, upload,
};
use crate::ModelError;

/// A window whose maximum is not positive: ReLU sends no gradient through it.
const INACTIVE: u8 = 4;

/// `max_pool2d(relu(conv2d(x, weight, bias)), 2x2, stride 2)` for a stride-1 convolution
/// with `padding` zeros on every side (as [`conv2d_same`](super::conv2d_same)): `(N, C, H, W)`
/// to `(N, O, OH / 2, OW / 2)`, through one fused kernel on the CPU backends (module docs)
/// and burn's own operations elsewhere.
pub fn conv2d_relu_pool<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Tensor<B, 1>,
    padding: usize,
) -> Result<Tensor<B, 4>, ModelError> {
    let [_, c, h, w] = x.dims();
    let [o, wc, kh, kw] = weight.dims();
    // Output sides of at least 2 (one pooling window); padding below K, as the flipped-kernel
    // input gradient once needed (col2im does not), kept so the shapes served stay the same.
    let fits = wc == c
        && kh == kw
        && padding < kh
        && kh + 2 <= h + 2 * padding + 1
        && kw + 2 <= w + 2 * padding + 1
        && c * h * w > 0
        && bias.dims() == [o];
    if fits && supported(&x) {
        dispatch_cpu!(B, on_inner, on_autodiff, (x, weight, bias, padding));
    }
    let options = ConvOptions::new([1, 1], [padding, padding], [1, 1], 1);
    let y = relu(burn_conv2d(x, weight, Some(bias), options));
    Ok(max_pool2d(y, [2, 2], [2, 2], [0, 0], [1, 1], false))
}

fn on_inner<B: Backend, I: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Tensor<B, 1>,
    padding: usize,
) -> Result<Tensor<B, 4>, ModelError> {
    let (y, _) = forward::<I>(retype(x)?, retype(weight)?, retype(bias)?, padding)?;
    retype(y)
}

fn on_autodiff<B: Backend, I: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Tensor<B, 1>,
    padding: usize,
) -> Result<Tensor<B, 4>, ModelError> {
    let x = float(retype::<B, Autodiff<I>, 4>(x)?);
    let weight = float(retype::<B, Autodiff<I>, 4>(weight)?);
    let bias = float(retype::<B, Autodiff<I>, 1>(bias)?);
    let (y, winners) = forward(
        tensor::<I, 4>(x.primitive.clone()),
        tensor::<I, 4>(weight.primitive.clone()),
        tensor::<I, 1>(bias.primitive.clone()),
        padding,
    )?;
    let output = match FusedBackward
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = (
                prep.checkpoint(&x),
                prep.checkpoint(&weight),
                padding,
                Arc::from(winners),
            );
            prep.finish(state, float(y))
        }
        OpsKind::UnTracked(prep) => prep.finish(float(y)),
    };
    retype(tensor::<Autodiff<I>, 4>(output))
}

/// The autodiff node of [`conv2d_relu_pool`]; its state is the checkpointed input and
/// weight, the padding and each pooled value's winner (0 to 3, its window position in
/// row-major order, or [`INACTIVE`]).
#[derive(Debug)]
struct FusedBackward;

impl<I: Backend> Backward<I, 3> for FusedBackward {
    type State = (NodeId, NodeId, usize, Arc<[u8]>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = tensor::<I, 4>(grads.consume::<I>(&ops.node));
        let (x_state, weight_state, padding, winners) = ops.state;
        let x = tensor::<I, 4>(checkpointer.retrieve_node_output(x_state));
        let weight = tensor::<I, 4>(checkpointer.retrieve_node_output(weight_state));
        let (x_dims, weight_dims) = (x.dims(), weight.dims());
        let (device, dtype) = (x.device(), x.dtype());
        let wants_x = node_x.is_some();
        let gradients = by_element!(
            x,
            backward_as::<I>(x, weight, dy, &winners, padding, wants_x, COLUMN_BYTES)
        );
        // The forward pass read the input as f32 or f64, so the backward pass reads the same
        // types: zero gradients are only a guard that cannot be reached.
        let Gradient {
            x: dx,
            weight: dw,
            bias: db,
        } = gradients.unwrap_or_else(|_| Gradient {
            x: Some(Tensor::zeros(x_dims, (&device, dtype))),
            weight: Tensor::zeros(weight_dims, (&device, dtype)),
            bias: Tensor::zeros([weight_dims[0]], (&device, dtype)),
        });
        if let Some(node) = node_bias {
            grads.register::<I>(node.id, float(db));
        }
        if let Some(node) = node_weight {
            grads.register::<I>(node.id, float(dw));
        }
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<I>(node.id, float(dx));
        }
    }
}

/// The pooled values and each one's winner.
fn forward<I: Backend>(
    x: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    bias: Tensor<I, 1>,
    padding: usize,
) -> Result<(Tensor<I, 4>, Vec<u8>), ModelError> {
    by_element!(x, forward_as::<I>(x, weight, bias, padding, COLUMN_BYTES))
}

fn forward_as<I: Backend, T: Real>(
    x: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    bias: Tensor<I, 1>,
    padding: usize,
    column_bytes: usize,
) -> Result<(Tensor<I, 4>, Vec<u8>), ModelError> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let [o, _, k, _] = weight.dims();
    let (oh, ow) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let (pixels, pooled) = (oh * ow, (oh / 2) * (ow / 2));
    let taps = c * k * k;
    let device = x.device();
    let x = read::<T, I, 4>(x)?;
    let bias = read::<T, I, 1>(bias)?;
    let weight = read::<T, I, 2>(weight.reshape([o, taps]))?;
    let mut y = vec![T::default(); n * o * pooled];
    let mut winners = vec![INACTIVE; n * o * pooled];
    let (images, step) = chunks::<T>(n, taps * pixels, column_bytes);
    let per_chunk = (step * o * pooled).max(1);
    y.par_chunks_mut(per_chunk)
        .zip(winners.par_chunks_mut(per_chunk))
        .zip(images)
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(cols, part), ((y, winners), images)| {
                let count = images.len();
                convolve_chunk::<I, T>(
                    cols,
                    part,
                    (&x, dims),
                    (&weight, o, k),
                    padding,
                    images,
                    &device,
                )?;
                // `part` is (O, images x pixels); the output is (images, O, pooled).
                let planes = y.chunks_mut(pooled).zip(winners.chunks_mut(pooled));
                for (plane, (y, winners)) in planes.enumerate() {
                    let (image, channel) = (plane / o, plane % o);
                    let from = &part[(channel * count + image) * pixels..][..pixels];
                    pool_plane(from, bias[channel], ow, y, winners);
                }
                Ok::<(), ModelError>(())
            },
        )?;
    let shape = [n, o, oh / 2, ow / 2];
    Ok((upload(y, shape, &device), winners))
}

/// One channel plane of a convolution's output (`width` wide, without its bias) to its
/// pooled values after bias and ReLU, and their winners.
fn pool_plane<T: Real>(plane: &[T], bias: T, width: usize, y: &mut [T], winners: &mut [u8]) {
    let lowest: T = burn::tensor::ElementConversion::elem(f64::NEG_INFINITY);
    let pooled_width = width / 2;
    if pooled_width == 0 {
        return;
    }
    let rows = plane.chunks_exact(2 * width);
    let outputs = y
        .chunks_exact_mut(pooled_width)
        .zip(winners.chunks_exact_mut(pooled_width));
    for (pair, (y, winners)) in rows.zip(outputs) {
        let (top, bottom) = pair.split_at(width);
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for ((top, bottom), (y, winner)) in windows.zip(y.iter_mut().zip(winners.iter_mut())) {
            // The first of equal maxima, as burn's pooling and `max_pool_2x2` take.
            let (mut best, mut at) = (lowest, 0u8);
            for (position, value) in (0u8..).zip([top[0], top[1], bottom[0], bottom[1]]) {
                let value = value + bias;
                if value > best {
                    best = value;
                    at = position;
                }
            }
            (*y, *winner) = if best > T::default() {
                (best, at)
            } else {
                (T::default(), INACTIVE)
            };
        }
    }
}

/// The gradients of the input (when asked for), the weight and the bias.
struct Gradient<I: Backend> {
    x: Option<Tensor<I, 4>>,
    weight: Tensor<I, 4>,
    bias: Tensor<I, 1>,
}

/// The thread-local buffers of one chunk of the backward pass.
type Buffers<T> = (Vec<T>, Vec<T>);

#[allow(
    clippy::too_many_arguments,
    reason = "the node's state, spelled out for `by_element!`"
)]
fn backward_as<I: Backend, T: Real>(
    x: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    dy: Tensor<I, 4>,
    winners: &[u8],
    padding: usize,
    wants_x: bool,
    column_bytes: usize,
) -> Result<Gradient<I>, ModelError> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let weight_dims = weight.dims();
    let [o, _, k, _] = weight_dims;
    let (oh, ow) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let (pixels, pooled_width, pooled) = (oh * ow, ow / 2, (oh / 2) * (ow / 2));
    let taps = c * k * k;
    let device = x.device();
    let x = read::<T, I, 4>(x)?;
    let dy = read::<T, I, 4>(dy)?;
    let kernel = read::<T, I, 4>(weight)?;
    if dy.len() != n * o * pooled || winners.len() != dy.len() {
        return Err(ModelError::Kernel("pooled gradient of the wrong size"));
    }
    let per_image = taps * pixels;
    let (images, step) = chunks::<T>(n, per_image, column_bytes);
    let count = images.len();
    let mut weight_parts = vec![T::default(); count * o * taps];
    let mut bias_parts = vec![T::default(); count * o];
    let mut dx = vec![T::default(); if wants_x { n * c * h * w } else { 0 }];
    let dx_parts: Vec<Option<&mut [T]>> = if wants_x {
        dx.chunks_mut((step * c * h * w).max(1)).map(Some).collect()
    } else {
        (0..count).map(|_| None).collect()
    };
    weight_parts
        .par_chunks_mut((o * taps).max(1))
        .zip(bias_parts.par_chunks_mut(o.max(1)))
        .zip(dx_parts)
        .zip(images)
        .try_for_each_init(
            || -> Buffers<T> { Default::default() },
            |(cols, rows), (((dw, db), dx), images)| {
                let count = images.len();
                // The gradient at the convolution's output, (O, images x pixels): the pooled
                // gradient at each active winner, zero elsewhere.
                rows.clear();
                rows.resize(o * count * pixels, T::default());
                for (slot, image) in images.clone().enumerate() {
                    for (channel, db) in db.iter_mut().enumerate() {
                        let at = (image * o + channel) * pooled;
                        let row = &mut rows[(channel * count + slot) * pixels..][..pixels];
                        for (index, (&winner, &value)) in winners[at..][..pooled]
                            .iter()
                            .zip(&dy[at..][..pooled])
                            .enumerate()
                        {
                            if winner != INACTIVE {
                                let (r, s) = (index / pooled_width, index % pooled_width);
                                let (i, j) = (usize::from(winner / 2), usize::from(winner % 2));
                                row[(2 * r + i) * ow + 2 * s + j] = value;
                                *db = *db + value;
                            }
                        }
                    }
                }
                if let Some(dx) = dx {
                    input_gradient_chunk::<I, T>(
                        cols,
                        rows,
                        (&kernel, o, k),
                        [count, c, h, w],
                        padding,
                        dx,
                        &device,
                    )?;
                }
                im2col_into(cols, &x, dims, k, padding, images);
                product::<I, T>(
                    Operand::new(lend(rows), o, count * pixels),
                    Operand::new(lend(cols), taps, count * pixels).t(),
                    dw,
                    false,
                    &device,
                )
            },
        )?;
    // The chunks' parts summed in chunk order: the same sums on any number of threads.
    let total = |parts: &[T], size: usize| {
        let mut sum = parts[..size].to_vec();
        for part in parts.chunks(size.max(1)).skip(1) {
            for (to, value) in sum.iter_mut().zip(part) {
                *to = *to + *value;
            }
        }
        sum
    };
    let dw = if count == 0 {
        vec![T::default(); o * taps]
    } else {
        total(&weight_parts, o * taps)
    };
    let db = if count == 0 {
        vec![T::default(); o]
    } else {
        total(&bias_parts, o)
    };
    Ok(Gradient {
        x: wants_x.then(|| upload(dx, dims, &device)),
        weight: upload(dw, weight_dims, &device),
        bias: upload(db, [o], &device),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_after_relu_keeps_the_first_positive_maximum() {
        // A 2x4 plane, two windows: one with a tie of positive maxima, one all negative.
        #[rustfmt::skip]
        let plane = [
            1.0, 3.0,   -1.0, -2.0,
            3.0, 0.0,   -3.0, -1.0,
        ];
        let (mut y, mut winners) = ([9.0; 2], [9u8; 2]);
        pool_plane(&plane, 0.5, 4, &mut y, &mut winners);
        assert_eq!(y, [3.5, 0.0]);
        assert_eq!(winners, [1, INACTIVE]);
        // A bias that lifts the second window above zero activates it.
        pool_plane(&plane, 1.5, 4, &mut y, &mut winners);
        assert_eq!(y, [4.5, 0.5]);
        assert_eq!(winners, [1, 0]);
    }

    /// burn's conv2d, ReLU and max-pooling, and the fused kernel, on the same backend:
    /// values and all three gradients.
    #[cfg(feature = "ndarray")]
    mod against_burn {
        use burn::backend::{Autodiff, NdArray};
        use burn::tensor::DType;
        use burn::tensor::backend::AutodiffBackend;

        use super::super::*;
        use crate::kernels::conv::tests::against_burn::tensor;

        fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
            t.into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default()
        }

        /// The output and the gradients of x, W and b, fused or through burn's operations.
        fn run<A: AutodiffBackend>(
            fused: bool,
            shapes: ([usize; 4], [usize; 4], usize),
            dtype: DType,
        ) -> [Vec<f64>; 4] {
            let (x_dims, w_dims, padding) = shapes;
            let x = tensor::<A, 4>(x_dims, 1, dtype).require_grad();
            let w = tensor::<A, 4>(w_dims, 2, dtype).require_grad();
            let b = tensor::<A, 1>([w_dims[0]], 3, dtype).require_grad();
            let y = if fused {
                conv2d_relu_pool(x.clone(), w.clone(), b.clone(), padding)
                    .unwrap_or_else(|e| panic!("{e}"))
            } else {
                let options = ConvOptions::new([1, 1], [padding; 2], [1, 1], 1);
                let y = relu(burn_conv2d(x.clone(), w.clone(), Some(b.clone()), options));
                max_pool2d(y, [2, 2], [2, 2], [0, 0], [1, 1], false)
            };
            let upstream = tensor::<A, 4>(y.dims(), 4, dtype);
            let grads = (y.clone() * upstream).sum().backward();
            let grad = |g: Option<Vec<f64>>| g.unwrap_or_else(|| panic!("a gradient is missing"));
            [
                host(y.inner()),
                grad(x.grad(&grads).map(host)),
                grad(w.grad(&grads).map(host)),
                grad(b.grad(&grads).map(host)),
            ]
        }

        fn largest_difference(a: &[f64], b: &[f64]) -> f64 {
            assert_eq!(a.len(), b.len());
            assert!(!a.is_empty());
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max)
        }

        #[test]
        fn values_and_gradients_equal_burns_in_f64() {
            type A = Autodiff<NdArray<f64>>;
            for shapes in [
                ([3, 2, 8, 6], [4, 2, 5, 5], 2),  // 'same', as in the 2c2d
                ([2, 3, 7, 9], [2, 3, 3, 3], 0),  // 'valid', odd output sides
                ([9, 1, 4, 4], [3, 1, 3, 3], 1),  // more images than MIN_CHUNKS
                ([17, 2, 6, 6], [3, 2, 3, 3], 1), // two images a chunk, two channels
            ] {
                let (ours, theirs) = (
                    run::<A>(true, shapes, DType::F64),
                    run::<A>(false, shapes, DType::F64),
                );
                for (what, (a, b)) in ["y", "dx", "dW", "db"].iter().zip(ours.iter().zip(&theirs)) {
                    let difference = largest_difference(a, b);
                    assert!(difference < 1e-12, "{shapes:?} {what}: {difference}");
                }
                // Some windows are active, some not: both branches ran.
                assert!(ours[0].iter().any(|v| *v > 0.0) && ours[0].contains(&0.0));
            }
        }

        #[test]
        fn values_equal_burns_exactly_in_f32() {
            type A = Autodiff<NdArray<f32>>;
            let shapes = ([3, 4, 8, 8], [5, 4, 5, 5], 2);
            let (ours, unfused) = (
                run::<A>(true, shapes, DType::F32),
                run::<A>(false, shapes, DType::F32),
            );
            let difference = (1..4)
                .map(|i| largest_difference(&ours[i], &unfused[i]))
                .fold(0.0, f64::max);
            assert!(difference < 1e-4, "{difference}");
            // The unfused kernels on the same backend give the same values: the bias, ReLU and
            // pooling are exact, so only the products' sums could differ, and they are the
            // same products.
            let x = tensor::<A, 4>(shapes.0, 1, DType::F32);
            let w = tensor::<A, 4>(shapes.1, 2, DType::F32);
            let b = tensor::<A, 1>([shapes.1[0]], 3, DType::F32);
            let unfused_kernels = super::super::super::max_pool_2x2(relu(
                super::super::super::conv2d_same(x, w, b, shapes.2)
                    .unwrap_or_else(|e| panic!("{e}")),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(ours[0], host(unfused_kernels));
        }

        #[test]
        fn chunks_of_one_image_give_the_whole_batch_result() {
            type I = NdArray<f64>;
            // 17 images: chunks of 2 (and a last of 1) against chunks of 1.
            let x = tensor::<I, 4>([17, 2, 6, 6], 1, DType::F64);
            let w = tensor::<I, 4>([3, 2, 3, 3], 2, DType::F64);
            let b = tensor::<I, 1>([3], 3, DType::F64);
            let (y, winners) = forward_as::<I, f64>(x.clone(), w.clone(), b.clone(), 1, usize::MAX)
                .unwrap_or_else(|e| panic!("{e}"));
            let (single, single_winners) = forward_as::<I, f64>(x.clone(), w.clone(), b, 1, 1)
                .unwrap_or_else(|e| panic!("{e}"));
            // Products over other chunk widths may round differently (OpenBLAS blocks by them).
            assert!(largest_difference(&host(y.clone()), &host(single)) < 1e-12);
            assert_eq!(winners, single_winners);
            let dy = tensor::<I, 4>(y.dims(), 4, DType::F64);
            let gradients = |bytes| {
                let g = backward_as::<I, f64>(
                    x.clone(),
                    w.clone(),
                    dy.clone(),
                    &winners,
                    1,
                    true,
                    bytes,
                )
                .unwrap_or_else(|e| panic!("{e}"));
                [
                    host(g.x.unwrap_or_else(|| panic!("no input gradient"))),
                    host(g.weight),
                    host(g.bias),
                ]
            };
            for (whole, single) in gradients(usize::MAX).iter().zip(gradients(1)) {
                assert!(largest_difference(whole, &single) < 1e-12);
            }
        }
    }
}
