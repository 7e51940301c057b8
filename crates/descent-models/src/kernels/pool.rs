//! 2x2 max-pooling with stride 2, and its backward pass through the winners' positions.

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::max_pool2d;
use rayon::prelude::*;

use super::{Real, by_element, dispatch_cpu, float, read, retype, supported, tensor, upload};
use crate::ModelError;

/// Max-pooling of `x` `(N, C, H, W)` over 2x2 windows with stride 2 and no padding, to
/// `(N, C, H / 2, W / 2)`: burn's `max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)`,
/// including which input gets the gradient when a window holds equal maxima (the first in
/// row-major order), through the host kernel on the CPU backends (module docs).
pub fn max_pool_2x2<B: Backend>(x: Tensor<B, 4>) -> Result<Tensor<B, 4>, ModelError> {
    let [_, _, h, w] = x.dims();
    if h >= 2 && w >= 2 && supported(&x) {
        dispatch_cpu!(B, on_inner, on_autodiff, (x));
    }
    Ok(max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false))
}

fn on_inner<B: Backend, I: Backend>(x: Tensor<B, 4>) -> Result<Tensor<B, 4>, ModelError> {
    let (y, _) = forward::<I>(retype(x)?)?;
    retype(y)
}

fn on_autodiff<B: Backend, I: Backend>(x: Tensor<B, 4>) -> Result<Tensor<B, 4>, ModelError> {
    let x = float(retype::<B, Autodiff<I>, 4>(x)?);
    let input = tensor::<I, 4>(x.primitive);
    let dims = input.dims();
    let (y, winners) = forward(input)?;
    let output = match PoolBackward
        .prepare::<NoCheckpointing>([x.node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((Arc::from(winners), dims), float(y)),
        OpsKind::UnTracked(prep) => prep.finish(float(y)),
    };
    retype(tensor::<Autodiff<I>, 4>(output))
}

/// The autodiff node of [`max_pool_2x2`]; its state is each output's winner (0 to 3, the
/// window position in row-major order) and the input's shape.
#[derive(Debug)]
struct PoolBackward;

impl<I: Backend> Backward<I, 1> for PoolBackward {
    type State = (Arc<[u8]>, [usize; 4]);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<I>(&ops.node);
        let Some(node) = node_x else {
            return;
        };
        let (winners, dims) = ops.state;
        let dy = tensor::<I, 4>(dy);
        let device = dy.device();
        let dx = by_element!(dy, backward_as::<I>(dy, &winners, dims))
            // The forward pass read the input as f32 or f64, so its gradient is one too: a zero
            // gradient is only a guard that cannot be reached.
            .unwrap_or_else(|_| Tensor::<I, 4>::zeros(dims, &device));
        grads.register::<I>(node.id, float(dx));
    }
}

fn backward_as<I: Backend, T: Real>(
    dy: Tensor<I, 4>,
    winners: &[u8],
    dims: [usize; 4],
) -> Result<Tensor<I, 4>, ModelError> {
    let device = dy.device();
    let dy = read::<T, I, 4>(dy)?;
    Ok(upload::<I, T, 4>(
        scatter(&dy, winners, dims),
        dims,
        &device,
    ))
}

/// The pooled tensor and each output's winner.
fn forward<I: Backend>(x: Tensor<I, 4>) -> Result<(Tensor<I, 4>, Vec<u8>), ModelError> {
    by_element!(x, forward_as::<I>(x))
}

fn forward_as<I: Backend, T: Real>(x: Tensor<I, 4>) -> Result<(Tensor<I, 4>, Vec<u8>), ModelError> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let device = x.device();
    let (y, winners) = pool(&read::<T, I, 4>(x)?, dims);
    Ok((upload::<I, T, 4>(y, [n, c, h / 2, w / 2], &device), winners))
}

/// Each window's maximum and its position, one channel plane per task. Starting from
/// minus infinity with a strict `>` keeps the first of equal maxima, as burn's kernels do.
fn pool<T: Real>(x: &[T], [n, c, h, w]: [usize; 4]) -> (Vec<T>, Vec<u8>) {
    let (oh, ow) = (h / 2, w / 2);
    let lowest: T = burn::tensor::ElementConversion::elem(f64::NEG_INFINITY);
    let mut y = vec![lowest; n * c * oh * ow];
    let mut winners = vec![0u8; n * c * oh * ow];
    if oh * ow == 0 {
        return (y, winners);
    }
    y.par_chunks_mut(oh * ow)
        .zip(winners.par_chunks_mut(oh * ow))
        .enumerate()
        .for_each(|(plane, (y, winners))| {
            let source = &x[plane * h * w..][..h * w];
            for r in 0..oh {
                let top = &source[2 * r * w..][..w];
                let bottom = &source[(2 * r + 1) * w..][..w];
                for s in 0..ow {
                    let window = [top[2 * s], top[2 * s + 1], bottom[2 * s], bottom[2 * s + 1]];
                    let mut best = lowest;
                    let mut at = 0u8;
                    for (position, value) in (0u8..).zip(window) {
                        if value > best {
                            best = value;
                            at = position;
                        }
                    }
                    y[r * ow + s] = best;
                    winners[r * ow + s] = at;
                }
            }
        });
    (y, winners)
}

/// The input gradient: each output's gradient at its winner's position, zero elsewhere.
fn scatter<T: Real>(dy: &[T], winners: &[u8], [_, _, h, w]: [usize; 4]) -> Vec<T> {
    let (oh, ow) = (h / 2, w / 2);
    let planes = dy.len().checked_div(oh * ow).unwrap_or(0);
    let mut dx = vec![T::default(); planes * h * w];
    if planes == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w)
        .enumerate()
        .for_each(|(plane, dx)| {
            let dy = &dy[plane * oh * ow..][..oh * ow];
            let winners = &winners[plane * oh * ow..][..oh * ow];
            for r in 0..oh {
                for s in 0..ow {
                    let at = usize::from(winners[r * ow + s]);
                    dx[(2 * r + at / 2) * w + 2 * s + at % 2] = dy[r * ow + s];
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_takes_the_first_of_equal_maxima_and_routes_the_gradient_there() {
        // One 4x4 plane: windows with a unique maximum, a tie (first wins) and all equal.
        #[rustfmt::skip]
        let x = [
            1.0, 5.0,   2.0, 2.0,
            3.0, 4.0,   1.0, 2.0,

            7.0, 7.0,   0.0, 0.0,
            7.0, 1.0,   0.0, 0.0,
        ];
        let (y, winners) = pool(&x, [1, 1, 4, 4]);
        assert_eq!(y, vec![5.0, 2.0, 7.0, 0.0]);
        assert_eq!(winners, vec![1, 0, 0, 0]);
        let dx = scatter(&[10.0, 20.0, 30.0, 40.0], &winners, [1, 1, 4, 4]);
        #[rustfmt::skip]
        let expected = vec![
            0.0, 10.0,  20.0, 0.0,
            0.0, 0.0,   0.0, 0.0,
            30.0, 0.0,  40.0, 0.0,
            0.0, 0.0,   0.0, 0.0,
        ];
        assert_eq!(dx, expected);
    }

    #[test]
    fn odd_sides_drop_the_last_row_and_column() {
        let x: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let (y, _) = pool(&x, [1, 1, 3, 5]);
        assert_eq!(y, vec![6.0, 8.0]);
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn values_and_gradients_equal_burns_max_pool_exactly() {
        use burn::backend::{Autodiff, NdArray};
        type A = Autodiff<NdArray<f32>>;
        let device = Default::default();
        // Few distinct values, so that many windows hold ties; odd sides.
        let shape = [2, 3, 7, 9];
        let values: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| ((i * 37) % 5) as f32 - 2.0)
            .collect();
        let upstream: Vec<f32> = (0..2 * 3 * 3 * 4).map(|i| i as f32 + 1.0).collect();
        let run = |ours: bool| {
            let x = Tensor::<A, 4>::from_data(
                burn::tensor::TensorData::new(values.clone(), shape),
                &device,
            )
            .require_grad();
            let y = if ours {
                max_pool_2x2(x.clone()).unwrap_or_else(|e| panic!("{e}"))
            } else {
                max_pool2d(x.clone(), [2, 2], [2, 2], [0, 0], [1, 1], false)
            };
            let g = Tensor::<A, 4>::from_data(
                burn::tensor::TensorData::new(upstream.clone(), y.dims()),
                &device,
            );
            let grads = (y.clone() * g).sum().backward();
            (y.into_data(), x.grad(&grads).map(|t| t.into_data()))
        };
        let (ours, theirs) = (run(true), run(false));
        assert_eq!(ours.0, theirs.0);
        assert!(ours.1.is_some());
        assert_eq!(ours.1, theirs.1);
    }
}
