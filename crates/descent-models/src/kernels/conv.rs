//! The stride-1 convolution through im2col: forward, input, weight and bias gradients.

use core::ops::Range;

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::{ConvOptions, FloatTensor};
use rayon::prelude::*;

use super::product::{Operand, lend, product};
use super::{
    COLUMN_BYTES, MIN_CHUNKS, Real, by_element, dispatch_cpu, float, read, retype, supported,
    tensor, upload,
};
use crate::ModelError;

/// A 2-D convolution with stride 1, dilation 1, one group and `padding` zeros on every side,
/// of `x` `(N, C, H, W)` with `weight` `(O, C, K, K)` plus `bias` `(O)`: burn's
/// `conv2d(x, weight, Some(bias), ConvOptions::new([1, 1], [padding; 2], [1, 1], 1))`, through
/// the im2col kernels on the CPU backends (module docs). With `padding = (K - 1) / 2` and odd
/// `K` the output has the input's size ("same").
pub fn conv2d_same<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Tensor<B, 1>,
    padding: usize,
) -> Result<Tensor<B, 4>, ModelError> {
    let [_, c, h, w] = x.dims();
    let [o, wc, kh, kw] = weight.dims();
    // Padding below K, as the flipped-kernel input gradient once needed (col2im does not);
    // kept so the kernels serve the same shapes as before, burn's operations the rest.
    let fits = wc == c
        && kh == kw
        && padding < kh
        && kh <= h + 2 * padding
        && kw <= w + 2 * padding
        && c * h * w > 0
        && bias.dims() == [o];
    if fits && supported(&x) {
        dispatch_cpu!(B, on_inner, on_autodiff, (x, weight, bias, padding));
    }
    Ok(burn_conv2d(
        x,
        weight,
        Some(bias),
        ConvOptions::new([1, 1], [padding, padding], [1, 1], 1),
    ))
}

fn on_inner<B: Backend, I: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Tensor<B, 1>,
    padding: usize,
) -> Result<Tensor<B, 4>, ModelError> {
    let y = forward::<I>(
        retype(x)?,
        retype(weight)?,
        Some(retype(bias)?),
        padding,
        COLUMN_BYTES,
    )?;
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
    let y = forward(
        tensor::<I, 4>(x.primitive.clone()),
        tensor::<I, 4>(weight.primitive.clone()),
        Some(tensor::<I, 1>(bias.primitive.clone())),
        padding,
        COLUMN_BYTES,
    )?;
    let output = match ConvBackward
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&x), prep.checkpoint(&weight), padding);
            prep.finish(state, float(y))
        }
        OpsKind::UnTracked(prep) => prep.finish(float(y)),
    };
    retype(tensor::<Autodiff<I>, 4>(output))
}

/// The autodiff node of [`conv2d_same`]; its state is the checkpointed input and weight and
/// the padding.
#[derive(Debug)]
struct ConvBackward;

impl<I: Backend> Backward<I, 3> for ConvBackward {
    type State = (NodeId, NodeId, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = tensor::<I, 4>(grads.consume::<I>(&ops.node));
        let (x_state, weight_state, padding) = ops.state;
        let x: FloatTensor<I> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<I> = checkpointer.retrieve_node_output(weight_state);
        let x = tensor::<I, 4>(x);
        let weight = tensor::<I, 4>(weight);
        let options = ConvOptions::new([1, 1], [padding, padding], [1, 1], 1);

        if let Some(node) = node_bias {
            let [_, o, _, _] = dy.dims();
            let db = dy.clone().sum_dim(3).sum_dim(2).sum_dim(0).reshape([o]);
            grads.register::<I>(node.id, float(db));
        }
        if let Some(node) = node_weight {
            // The kernels read `x` back as f32 or f64, which `conv2d_same` checked; burn's own
            // weight gradient stays as the fallback so a surprise cannot panic.
            let dw = weight_gradient(x.clone(), dy.clone(), weight.dims(), padding, COLUMN_BYTES)
                .map(float)
                .unwrap_or_else(|_| {
                    I::conv2d_weight_backward(
                        float(x.clone()),
                        float(weight.clone()),
                        float(dy.clone()),
                        options.clone(),
                    )
                });
            grads.register::<I>(node.id, dw);
        }
        if let Some(node) = node_x {
            let dx = input_gradient(dy.clone(), weight.clone(), x.dims(), padding, COLUMN_BYTES)
                .map(float)
                .unwrap_or_else(|_| {
                    I::conv2d_x_backward(float(x), float(weight), float(dy), options)
                });
            grads.register::<I>(node.id, dx);
        }
    }
}

/// The convolution on a plain backend: `W . cols + b`, by chunks of images.
fn forward<I: Backend>(
    x: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    bias: Option<Tensor<I, 1>>,
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    by_element!(x, forward_as::<I>(x, weight, bias, padding, column_bytes))
}

fn forward_as<I: Backend, T: Real>(
    x: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    bias: Option<Tensor<I, 1>>,
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    let dims = x.dims();
    let [n, c, h, w] = dims;
    let [o, _, k, _] = weight.dims();
    let (oh, ow) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let pixels = oh * ow;
    let taps = c * k * k;
    let device = x.device();
    let x = read::<T, I, 4>(x)?;
    let bias = bias.map(read::<T, I, 1>).transpose()?;
    let weight = read::<T, I, 2>(weight.reshape([o, taps]))?;
    let mut y = vec![T::default(); n * o * pixels];
    let (images, step) = chunks::<T>(n, taps * pixels, column_bytes);
    // Each chunk on one thread, from its columns to its images' output planes.
    y.par_chunks_mut((step * o * pixels).max(1))
        .zip(images)
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(cols, part), (planes, images)| {
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
                // (O, images x pixels) to the images' (O, pixels) planes, adding the bias.
                for (image, planes) in planes.chunks_mut(o * pixels).enumerate() {
                    for (channel, plane) in planes.chunks_mut(pixels).enumerate() {
                        let from = &part[(channel * count + image) * pixels..][..pixels];
                        let shift = bias.as_ref().map_or(T::default(), |b| b[channel]);
                        for (to, value) in plane.iter_mut().zip(from) {
                            *to = *value + shift;
                        }
                    }
                }
                Ok::<(), ModelError>(())
            },
        )?;
    Ok(upload(y, [n, o, oh, ow], &device))
}

/// The convolution (without bias) of the images `images` of `x` (`dims`, NCHW) with `weight`
/// (`o` rows of `C K K` taps) into `part`, as `(O, images x pixels)`; `cols` holds their
/// columns. Both buffers are resized to fit.
pub(super) fn convolve_chunk<I: Backend, T: Real>(
    cols: &mut Vec<T>,
    part: &mut Vec<T>,
    (x, dims): (&[T], [usize; 4]),
    (weight, o, k): (&[T], usize, usize),
    padding: usize,
    images: Range<usize>,
    device: &I::Device,
) -> Result<(), ModelError> {
    let [_, c, h, w] = dims;
    let pixels = (h + 2 * padding + 1 - k) * (w + 2 * padding + 1 - k);
    let (taps, columns) = (c * k * k, images.len() * pixels);
    im2col_into(cols, x, dims, k, padding, images);
    part.resize(o * columns, T::default());
    product::<I, T>(
        Operand::new(weight, o, taps),
        Operand::new(lend(cols), taps, columns),
        part,
        false,
        device,
    )
}

/// `dL/dx`, by chunks of images: each chunk's output gradient through the transposed kernel
/// and folded back onto its images ([`input_gradient_chunk`]).
fn input_gradient<I: Backend>(
    dy: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    input_dims: [usize; 4],
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    by_element!(
        dy,
        input_gradient_as::<I>(dy, weight, input_dims, padding, column_bytes)
    )
}

fn input_gradient_as<I: Backend, T: Real>(
    dy: Tensor<I, 4>,
    weight: Tensor<I, 4>,
    input_dims: [usize; 4],
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    let [n, c, h, w] = input_dims;
    let [o, _, k, _] = weight.dims();
    let [_, _, oh, ow] = dy.dims();
    let (taps, pixels) = (c * k * k, oh * ow);
    let device = dy.device();
    let dy = read::<T, I, 4>(dy)?;
    let weight = read::<T, I, 4>(weight)?;
    let mut dx = vec![T::default(); n * c * h * w];
    let (images, step) = chunks::<T>(n, taps * pixels, column_bytes);
    dx.par_chunks_mut((step * c * h * w).max(1))
        .zip(images)
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(cols, rows), (dx, images)| {
                gather_rows(rows, &dy, o, pixels, images.clone());
                input_gradient_chunk::<I, T>(
                    cols,
                    rows,
                    (&weight, o, k),
                    [images.len(), c, h, w],
                    padding,
                    dx,
                    &device,
                )
            },
        )?;
    Ok(upload(dx, input_dims, &device))
}

/// The output gradient `dy` (NCHW, `o` channels of `pixels`) of the images `images` into
/// `rows` as `(O, images x pixels)`: each channel's planes side by side, the layout of the
/// product with the columns. Every value is overwritten.
fn gather_rows<T: Real>(
    rows: &mut Vec<T>,
    dy: &[T],
    o: usize,
    pixels: usize,
    images: Range<usize>,
) {
    let count = images.len();
    rows.resize(o * count * pixels, T::default());
    for (channel, row) in rows.chunks_mut((count * pixels).max(1)).enumerate() {
        for (slot, image) in images.clone().enumerate() {
            row[slot * pixels..][..pixels]
                .copy_from_slice(&dy[(image * o + channel) * pixels..][..pixels]);
        }
    }
}

/// The input gradient of a chunk of images (`dims`: the chunk's image count and the input's
/// C, H, W) from its output gradient `rows`, `(O, images x pixels)`: the columns' gradient
/// `W^T . rows`, `(C K K, images x pixels)`, in `cols`, then each of its values added to the
/// input pixel the forward pass unfolded it from ([`col2im_add`]) in `dx` (the chunk's
/// images, NCHW, zero on entry). Unfolding the output gradient instead (the forward
/// convolution with the flipped kernel) would write O K K taps per input pixel where this
/// writes C K K, and the product's large operand would be those columns, packed again by the
/// BLAS: 2c2d's second block has O = 2 C.
pub(super) fn input_gradient_chunk<I: Backend, T: Real>(
    cols: &mut Vec<T>,
    rows: &[T],
    (weight, o, k): (&[T], usize, usize),
    dims: [usize; 4],
    padding: usize,
    dx: &mut [T],
    device: &I::Device,
) -> Result<(), ModelError> {
    let [count, c, h, w] = dims;
    let pixels = (h + 2 * padding + 1 - k) * (w + 2 * padding + 1 - k);
    let taps = c * k * k;
    cols.resize(taps * count * pixels, T::default());
    product::<I, T>(
        Operand::new(weight, o, taps).t(),
        Operand::new(rows, o, count * pixels),
        cols,
        false,
        device,
    )?;
    col2im_add(cols, dx, dims, k, padding);
    Ok(())
}

/// The adjoint of [`im2col_into`]: adds each value of `cols` (laid out as `im2col_into` lays
/// out the `count` images of `dims`) to the pixel of `dx` (NCHW) it was read from, dropping
/// those read from the zero padding. Each image plane is one task; a pixel's terms are added
/// in tap order, whatever the number of threads.
pub(super) fn col2im_add<T: Real>(
    cols: &[T],
    dx: &mut [T],
    [count, c, h, w]: [usize; 4],
    k: usize,
    pad: usize,
) {
    let (oh, ow) = (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k);
    let plane = oh * ow;
    let row_len = count * plane;
    if row_len == 0 || h * w == 0 {
        return;
    }
    dx.par_chunks_mut(h * w)
        .take(count * c)
        .enumerate()
        .for_each(|(index, target)| {
            let (slot, channel) = (index / c, index % c);
            for i in 0..k {
                for j in 0..k {
                    let row = (channel * k + i) * k + j;
                    let source = &cols[row * row_len + slot * plane..][..plane];
                    let Range { start: first, end } = inside(w, j, pad, ow);
                    if first >= end {
                        continue;
                    }
                    for (r, line) in source.chunks(ow).enumerate() {
                        let Some(y) = (r + i).checked_sub(pad).filter(|y| *y < h) else {
                            continue;
                        };
                        let to = &mut target[y * w + first + j - pad..][..end - first];
                        for (to, value) in to.iter_mut().zip(&line[first..end]) {
                            *to = *to + *value;
                        }
                    }
                }
            }
        });
}

/// `dL/dW = dy . cols^T`, summed over chunks of images.
fn weight_gradient<I: Backend>(
    x: Tensor<I, 4>,
    dy: Tensor<I, 4>,
    weight_dims: [usize; 4],
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    by_element!(
        x,
        weight_gradient_as::<I>(x, dy, weight_dims, padding, column_bytes)
    )
}

fn weight_gradient_as<I: Backend, T: Real>(
    x: Tensor<I, 4>,
    dy: Tensor<I, 4>,
    weight_dims: [usize; 4],
    padding: usize,
    column_bytes: usize,
) -> Result<Tensor<I, 4>, ModelError> {
    let dims = x.dims();
    let [o, c, k, _] = weight_dims;
    let taps = c * k * k;
    let [_, _, oh, ow] = dy.dims();
    let pixels = oh * ow;
    let device = x.device();
    let x = read::<T, I, 4>(x)?;
    let dy = read::<T, I, 4>(dy)?;
    let (images, _) = chunks::<T>(dims[0], taps * pixels, column_bytes);
    // Each chunk's product on one thread into a slot of its own; the slots are summed in
    // chunk order, so the result does not depend on the number of threads.
    let size = o * taps;
    let mut partials = vec![T::default(); images.len() * size];
    partials
        .par_chunks_mut(size.max(1))
        .zip(images)
        .try_for_each_init(
            || (Vec::new(), Vec::new()),
            |(cols, rows), (partial, images)| {
                let count = images.len();
                im2col_into(cols, &x, dims, k, padding, images.clone());
                gather_rows(rows, &dy, o, pixels, images);
                product::<I, T>(
                    Operand::new(lend(rows), o, count * pixels),
                    Operand::new(lend(cols), taps, count * pixels).t(),
                    partial,
                    false,
                    &device,
                )
            },
        )?;
    if partials.is_empty() {
        // An empty batch: no chunk, a zero gradient.
        return Ok(upload(vec![T::default(); size], weight_dims, &device));
    }
    let mut total = partials[..size].to_vec();
    total
        .par_chunks_mut(4096)
        .enumerate()
        .for_each(|(block, sums)| {
            for partial in partials.chunks(size).skip(1) {
                for (sum, value) in sums.iter_mut().zip(&partial[block * 4096..]) {
                    *sum = *sum + *value;
                }
            }
        });
    Ok(upload(total, weight_dims, &device))
}

/// Image ranges whose columns (`per_image` values of `T` each) fit in `column_bytes` (at
/// least one image each) and, for batches of [`MIN_CHUNKS`] images or more, at least that many
/// ranges (`n / MIN_CHUNKS` images each at most), so every core gets work; and the number of
/// images in each range but the last.
/// The ranges depend on the batch alone, never on the number of threads.
pub(super) fn chunks<T>(
    n: usize,
    per_image: usize,
    column_bytes: usize,
) -> (impl IndexedParallelIterator<Item = Range<usize>>, usize) {
    let bytes = (per_image * core::mem::size_of::<T>()).max(1);
    let step = (column_bytes / bytes).min(n / MIN_CHUNKS).max(1);
    let ranges = (0..n.div_ceil(step))
        .into_par_iter()
        .map(move |index| index * step..((index + 1) * step).min(n));
    (ranges, step)
}

/// The unfolded input of a stride-1 convolution: row `(c K + i) K + j`, column
/// `(n - images.start) OH OW + r OW + s` holds `x[n, c, r + i - pad, s + j - pad]`, zero
/// outside the image.
#[cfg(test)]
fn im2col<T: Real>(
    x: &[T],
    dims: [usize; 4],
    k: usize,
    pad: usize,
    images: Range<usize>,
) -> Vec<T> {
    let mut cols = Vec::new();
    im2col_into(&mut cols, x, dims, k, pad, images);
    cols
}

/// [`im2col`] into `cols`, resized to fit and every value written (zeros too), so a buffer can
/// serve chunk after chunk without being cleared. Rows are filled in parallel.
pub(super) fn im2col_into<T: Real>(
    cols: &mut Vec<T>,
    x: &[T],
    [_, c, h, w]: [usize; 4],
    k: usize,
    pad: usize,
    images: Range<usize>,
) {
    let (oh, ow) = (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k);
    let plane = oh * ow;
    let row_len = images.len() * plane;
    cols.resize(c * k * k * row_len, T::default());
    if row_len == 0 {
        return;
    }
    cols.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(row, out)| {
            let (channel, i, j) = (row / (k * k), row / k % k, row % k);
            for (slot, image) in images.clone().enumerate() {
                let source = &x[(image * c + channel) * h * w..][..h * w];
                let target = &mut out[slot * plane..][..plane];
                if ow == w {
                    shift_plane(target, source, (h, w), (i, j), pad);
                } else {
                    unfold_lines(target, source, (h, w), (i, j), pad, ow);
                }
            }
        });
}

/// One image plane's row of the columns for "same" padding (output as large as the input):
/// the plane shifted by `i - pad` lines and `j - pad` columns, zero where the shift reads
/// outside it. In row-major order that shift is a constant offset, so the plane is one copy;
/// only the values that wrapped around a line's end (`|j - pad|` per line) are zeroed after.
/// [`unfold_lines`] would copy line by line, ~28 copies of 24-28 values per plane in the
/// 2c2d, each a call to `memmove`.
fn shift_plane<T: Real>(
    target: &mut [T],
    source: &[T],
    (h, w): (usize, usize),
    (i, j): (usize, usize),
    pad: usize,
) {
    let size = h * w;
    // target[t] = source[t + offset] wherever the line and column read lie inside the plane.
    let offset = (i as isize - pad as isize) * w as isize + j as isize - pad as isize;
    let lines = inside(h, i, pad, h);
    let lo = (lines.start * w).max(offset.min(0).unsigned_abs());
    let hi = (lines.end * w).min(size.saturating_sub(offset.max(0).unsigned_abs()));
    if lo >= hi {
        target.fill(T::default());
        return;
    }
    let from = lo.wrapping_add_signed(offset);
    target[..lo].fill(T::default());
    target[lo..hi].copy_from_slice(&source[from..][..hi - lo]);
    target[hi..].fill(T::default());
    // Columns s whose input column s + j - pad lies outside 0..w, in every copied line: one
    // strided pass per such column (at most pad of them), not two fills per line.
    let columns = inside(w, j, pad, w);
    let (left, right) = (columns.start.min(w), columns.end);
    let copied = &mut target[lo - lo % w..hi.div_ceil(w) * w];
    for column in (0..left).chain(right.max(left)..w) {
        for value in copied[column..].iter_mut().step_by(w) {
            *value = T::default();
        }
    }
}

/// One image plane's row of the columns for any padding, line by line: output line `r`,
/// column `s` holds `source[r + i - pad, s + j - pad]`, zero outside the plane.
fn unfold_lines<T: Real>(
    target: &mut [T],
    source: &[T],
    (h, w): (usize, usize),
    (i, j): (usize, usize),
    pad: usize,
    ow: usize,
) {
    let Range { start: first, end } = inside(w, j, pad, ow);
    for (r, line) in target.chunks_mut(ow).enumerate() {
        match (r + i).checked_sub(pad).filter(|row| *row < h) {
            Some(source_row) if first < end => {
                let from = &source[source_row * w..][..w];
                line[..first].fill(T::default());
                line[first..end].copy_from_slice(&from[first + j - pad..end + j - pad]);
                line[end..].fill(T::default());
            }
            _ => line.fill(T::default()),
        }
    }
}

/// Along one axis (an image side of `len`, an output side of `out`), the outputs `s` whose
/// input `s + tap - pad` lies in `0..len`: those the kernel tap `tap` reads from the image, not
/// from its zero padding. Empty, possibly with `start > end`, where it reads none.
fn inside(len: usize, tap: usize, pad: usize, out: usize) -> Range<usize> {
    pad.saturating_sub(tap)..(len + pad).saturating_sub(tap).min(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn im2col_places_every_pixel_and_zero() {
        // Each entry by the definition: "same" padding (the shifted-plane path, kernels larger
        // than the image and one-column images among them), "valid" and partial padding, odd
        // and even kernels, image ranges that do not start at 0.
        for (n, c, h, w, k, pad, images) in [
            (1, 2, 3, 4, 3, 1, 0..1),
            (3, 2, 6, 5, 5, 2, 1..3),
            (2, 1, 4, 4, 1, 0, 0..2),
            (2, 2, 5, 4, 3, 0, 0..2),
            (1, 3, 4, 6, 4, 1, 0..1),
            (2, 1, 3, 3, 3, 2, 0..2),
            (1, 2, 2, 3, 5, 2, 0..1),
            (2, 3, 4, 1, 3, 1, 1..2),
            (2, 1, 7, 6, 5, 2, 0..2),
        ] {
            let x: Vec<f64> = (0..n * c * h * w).map(|v| v as f64 + 1.0).collect();
            let cols = im2col(&x, [n, c, h, w], k, pad, images.clone());
            let (oh, ow) = (h + 2 * pad + 1 - k, w + 2 * pad + 1 - k);
            let row_len = images.len() * oh * ow;
            assert_eq!(cols.len(), c * k * k * row_len);
            for (slot, image) in images.clone().enumerate() {
                for ch in 0..c {
                    for i in 0..k {
                        for j in 0..k {
                            for r in 0..oh {
                                for s in 0..ow {
                                    let (y, x_) = (
                                        (r + i) as isize - pad as isize,
                                        (s + j) as isize - pad as isize,
                                    );
                                    let inside = (0..h as isize).contains(&y)
                                        && (0..w as isize).contains(&x_);
                                    let expected = if inside {
                                        x[((image * c + ch) * h + y as usize) * w + x_ as usize]
                                    } else {
                                        0.0
                                    };
                                    let row = (ch * k + i) * k + j;
                                    let column = slot * oh * ow + r * ow + s;
                                    assert_eq!(
                                        cols[row * row_len + column],
                                        expected,
                                        "n {n} c {c} h {h} w {w} k {k} pad {pad}: \
                                         row {row} column {column}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn im2col_into_overwrites_every_value_of_a_used_buffer() {
        let (dims, k, pad) = ([3, 2, 6, 5], 5, 2);
        let x: Vec<f64> = (0..dims.iter().product::<usize>())
            .map(|v| v as f64)
            .collect();
        let fresh = im2col(&x, dims, k, pad, 1..3);
        let mut used = vec![f64::NAN; fresh.len() + 7];
        im2col_into(&mut used, &x, dims, k, pad, 1..3);
        assert_eq!(used, fresh);
    }

    #[test]
    fn col2im_add_is_the_adjoint_of_im2col() {
        // <im2col(x), g> = <x, col2im(g)> for every x and g: each column value goes back to
        // the pixel it came from, padding reads go nowhere. Shapes as in the im2col test.
        for (n, c, h, w, k, pad, images) in [
            (1, 2, 3, 4, 3, 1, 0..1),
            (3, 2, 6, 5, 5, 2, 1..3),
            (2, 1, 4, 4, 1, 0, 0..2),
            (2, 2, 5, 4, 3, 0, 0..2),
            (1, 3, 4, 6, 4, 1, 0..1),
            (2, 1, 3, 3, 3, 2, 0..2),
            (1, 2, 2, 3, 5, 2, 0..1),
            (2, 3, 4, 1, 3, 1, 1..2),
            (2, 1, 7, 6, 5, 2, 0..2),
        ] {
            let dims = [n, c, h, w];
            let x: Vec<f64> = (0..n * c * h * w)
                .map(|v| ((v * 37 + 11) % 19) as f64 - 9.0)
                .collect();
            let cols = im2col(&x, dims, k, pad, images.clone());
            let g: Vec<f64> = (0..cols.len())
                .map(|v| ((v * 53 + 7) % 23) as f64 - 11.0)
                .collect();
            let (start, count) = (images.start, images.len());
            let mut dx = vec![0.0; count * c * h * w];
            col2im_add(&g, &mut dx, [count, c, h, w], k, pad);
            let left: f64 = cols.iter().zip(&g).map(|(a, b)| a * b).sum();
            let right: f64 = x[start * c * h * w..][..count * c * h * w]
                .iter()
                .zip(&dx)
                .map(|(a, b)| a * b)
                .sum();
            assert_eq!(left, right, "n {n} c {c} h {h} w {w} k {k} pad {pad}");
            // Adding, not overwriting: a second call doubles the result.
            let once = dx.clone();
            col2im_add(&g, &mut dx, [count, c, h, w], k, pad);
            assert!(
                dx.iter()
                    .zip(&once)
                    .all(|(twice, once)| *twice == 2.0 * once)
            );
        }
    }

    /// burn's conv2d and our kernels on the same backend: values and all three gradients.
    #[cfg(feature = "ndarray")]
    pub(in crate::kernels) mod against_burn {
        use burn::backend::{Autodiff, NdArray};
        use burn::tensor::backend::AutodiffBackend;
        use burn::tensor::ops::ConvOptions;
        use burn::tensor::{DType, Tensor, TensorData};

        use super::super::*;

        /// Deterministic values in [-1, 1).
        pub(in crate::kernels) fn values(n: usize, salt: usize) -> Vec<f64> {
            (0..n)
                .map(|i| ((i * 7919 + salt * 104_729) % 2003) as f64 / 1001.5 - 1.0)
                .collect()
        }

        pub(in crate::kernels) fn tensor<B: Backend, const D: usize>(
            shape: [usize; D],
            salt: usize,
            dtype: DType,
        ) -> Tensor<B, D> {
            let n = shape.iter().product();
            Tensor::from_data(
                TensorData::new(values(n, salt), shape),
                (&Default::default(), dtype),
            )
        }

        fn largest_difference<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f64 {
            assert_eq!(a.dims(), b.dims());
            let a = a
                .into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default();
            let b = b
                .into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default();
            assert!(!a.is_empty());
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max)
        }

        /// Returns the largest difference over the output and the gradients of x, W and b.
        fn compare<A: AutodiffBackend>(
            x: [usize; 4],
            weight: [usize; 4],
            padding: usize,
            dtype: DType,
        ) -> f64 {
            let inputs = || {
                (
                    tensor::<A, 4>(x, 1, dtype).require_grad(),
                    tensor::<A, 4>(weight, 2, dtype).require_grad(),
                    tensor::<A, 1>([weight[0]], 3, dtype).require_grad(),
                )
            };
            let run = |ours: bool| {
                let (x, w, b) = inputs();
                let y = if ours {
                    conv2d_same(x.clone(), w.clone(), b.clone(), padding)
                        .unwrap_or_else(|e| panic!("{e}"))
                } else {
                    burn_conv2d(
                        x.clone(),
                        w.clone(),
                        Some(b.clone()),
                        ConvOptions::new([1, 1], [padding; 2], [1, 1], 1),
                    )
                };
                // A loss whose gradient with respect to y differs everywhere.
                let upstream = tensor::<A, 4>(y.dims(), 4, dtype);
                let grads = (y.clone() * upstream).sum().backward();
                let grad = |t: &Tensor<A, 4>| t.grad(&grads);
                (y.inner(), grad(&x), grad(&w), b.grad(&grads))
            };
            let (y0, dx0, dw0, db0) = run(true);
            let (y1, dx1, dw1, db1) = run(false);
            let (Some(dx0), Some(dw0), Some(db0), Some(dx1), Some(dw1), Some(db1)) =
                (dx0, dw0, db0, dx1, dw1, db1)
            else {
                panic!("a gradient is missing");
            };
            [
                largest_difference(y0, y1),
                largest_difference(dx0, dx1),
                largest_difference(dw0, dw1),
                largest_difference(db0, db1),
            ]
            .into_iter()
            .fold(0.0, f64::max)
        }

        #[test]
        fn values_and_gradients_equal_burns_in_f64() {
            type A = Autodiff<NdArray<f64>>;
            for (x, w, pad) in [
                ([3, 2, 7, 6], [4, 2, 5, 5], 2), // 'same', as in the 2c2d
                ([2, 3, 5, 5], [2, 3, 3, 3], 0), // 'valid'
                ([1, 1, 4, 4], [3, 1, 3, 3], 1),
            ] {
                let difference = compare::<A>(x, w, pad, DType::F64);
                assert!(difference < 1e-12, "{x:?} {w:?} pad {pad}: {difference}");
            }
        }

        #[test]
        fn values_and_gradients_equal_burns_in_f32() {
            let difference =
                compare::<Autodiff<NdArray<f32>>>([3, 4, 8, 8], [5, 4, 5, 5], 2, DType::F32);
            assert!(difference < 1e-4, "{difference}");
            assert!(
                difference > 0.0,
                "the kernels did not run: f32 sums in another order"
            );
        }

        #[test]
        fn chunks_of_one_image_give_the_whole_batch_result() {
            type I = NdArray<f64>;
            // 17 images: chunks of 2 (and a last of 1) against chunks of 1.
            let x = tensor::<I, 4>([17, 2, 6, 6], 1, DType::F64);
            let w = tensor::<I, 4>([3, 2, 3, 3], 2, DType::F64);
            let dy = tensor::<I, 4>([17, 3, 6, 6], 3, DType::F64);
            let whole = forward(x.clone(), w.clone(), None, 1, usize::MAX)
                .unwrap_or_else(|e| panic!("{e}"));
            let single =
                forward(x.clone(), w.clone(), None, 1, 1).unwrap_or_else(|e| panic!("{e}"));
            assert!(largest_difference(whole, single) < 1e-12);
            let whole = weight_gradient(x.clone(), dy.clone(), w.dims(), 1, usize::MAX)
                .unwrap_or_else(|e| panic!("{e}"));
            let single = weight_gradient(x, dy, w.dims(), 1, 1).unwrap_or_else(|e| panic!("{e}"));
            assert!(largest_difference(whole, single) < 1e-12);
        }

        #[test]
        fn chunks_are_at_least_min_chunks_and_cover_the_batch_once() {
            for n in [0, 1, 7, 8, 9, 10, 17, 128] {
                let (ranges, step) = chunks::<f32>(n, 1, usize::MAX);
                let ranges: Vec<Range<usize>> = ranges.collect();
                let covered: Vec<usize> = ranges.iter().cloned().flatten().collect();
                assert_eq!(covered, (0..n).collect::<Vec<_>>(), "n {n}");
                if n >= MIN_CHUNKS {
                    assert!(ranges.len() >= MIN_CHUNKS, "n {n}: {} chunks", ranges.len());
                }
                assert!(ranges.iter().all(|r| r.len() <= step), "n {n}");
            }
        }

        #[test]
        fn an_empty_batch_has_zero_gradients() {
            type A = Autodiff<NdArray<f64>>;
            let x = tensor::<A, 4>([0, 2, 6, 6], 1, DType::F64).require_grad();
            let w = tensor::<A, 4>([3, 2, 3, 3], 2, DType::F64).require_grad();
            let b = tensor::<A, 1>([3], 3, DType::F64).require_grad();
            let y = conv2d_same(x, w.clone(), b, 1).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(y.dims(), [0, 3, 6, 6]);
            let grads = y.sum().backward();
            let dw = w
                .grad(&grads)
                .map(|g| g.into_data().to_vec::<f64>().unwrap_or_default());
            assert_eq!(dw, Some(vec![0.0; 3 * 2 * 3 * 3]));
        }

        #[cfg(feature = "flex")]
        #[test]
        fn flex_kernels_equal_burns_ndarray_convolution() {
            use burn::backend::Flex;
            type F = Autodiff<Flex>;
            type N = Autodiff<NdArray<f32>>;
            let (xd, wd, pad) = ([3, 4, 8, 8], [5, 4, 5, 5], 2);
            let run_flex = || {
                let x = tensor::<F, 4>(xd, 1, DType::F32).require_grad();
                let w = tensor::<F, 4>(wd, 2, DType::F32).require_grad();
                let b = tensor::<F, 1>([5], 3, DType::F32).require_grad();
                let y = conv2d_same(x.clone(), w.clone(), b.clone(), pad)
                    .unwrap_or_else(|e| panic!("{e}"));
                let grads = (y.clone() * tensor::<F, 4>(y.dims(), 4, DType::F32))
                    .sum()
                    .backward();
                let data = |t: Option<Tensor<Flex, 4>>| t.map(|t| t.into_data());
                (y.into_data(), data(x.grad(&grads)), data(w.grad(&grads)))
            };
            let x = tensor::<N, 4>(xd, 1, DType::F32).require_grad();
            let w = tensor::<N, 4>(wd, 2, DType::F32).require_grad();
            let b = tensor::<N, 1>([5], 3, DType::F32).require_grad();
            let y = burn_conv2d(
                x.clone(),
                w.clone(),
                Some(b),
                ConvOptions::new([1, 1], [pad; 2], [1, 1], 1),
            );
            let grads = (y.clone() * tensor::<N, 4>(y.dims(), 4, DType::F32))
                .sum()
                .backward();
            let (fy, fdx, fdw) = run_flex();
            let reference = [
                Some(y.into_data()),
                x.grad(&grads).map(|t| t.into_data()),
                w.grad(&grads).map(|t| t.into_data()),
            ];
            for (ours, theirs) in [Some(fy), fdx, fdw].into_iter().zip(reference) {
                let (Some(ours), Some(theirs)) = (ours, theirs) else {
                    panic!("a gradient is missing");
                };
                ours.assert_approx_eq::<f32>(&theirs, burn::tensor::Tolerance::absolute(1e-4));
            }
        }
    }
}
