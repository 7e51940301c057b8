//! Seeded initialisation that gives the same weights on every backend.
//!
//! Every number is drawn on the CPU, in `f64`, from a ChaCha8 generator, then rounded to the
//! backend's float type on the CPU and only then sent to the device; so a seed means the same
//! initial point on `ndarray` and on a GPU, bit for bit in the same float type. Each layer
//! draws from its own stream of the seed tree (`descent_data::rng`, purpose `ModelInit`,
//! index = layer), so adding a layer to a model leaves the earlier layers' weights as they were.
//!
//! The distributions are PyTorch's defaults for `nn.Linear` and `nn.Conv2d`: weight and bias
//! both `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (what `kaiming_uniform_(a = sqrt(5))` amounts to),
//! drawn weight first, then bias, in PyTorch's memory order.

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element, Tensor, TensorData};
use descent_data::rng::{Purpose, stream};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::ModelError;

/// The half-width `1/sqrt(fan_in)` of PyTorch's default uniform initialisation.
pub fn pytorch_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

/// The generator for layer `layer` of a model seeded with `seed`: stream `layer` of the seed
/// tree's [`Purpose::ModelInit`], so no layer shares numbers with batch orders or noise.
pub fn layer_rng(seed: u64, layer: u64) -> ChaCha8Rng {
    stream(seed, Purpose::ModelInit, layer)
}

/// `n` draws from `U(-bound, bound)`, computed as PyTorch's `uniform_` does: `-b + 2b u`.
pub fn uniform(rng: &mut ChaCha8Rng, n: usize, bound: f64) -> Vec<f64> {
    (0..n)
        .map(|_| -bound + 2.0 * bound * rng.random::<f64>())
        .collect()
}

/// The backend's float dtype: tensors are always made with it spelled out, because the
/// default dtype is fixed per device type by whichever tensor is made first.
pub fn float_dtype<B: Backend>() -> DType {
    <B::FloatElem as Element>::dtype()
}

/// A trainable parameter holding `values` (row-major) with `shape`, rounded to the backend's
/// float type on the CPU.
pub fn float_param<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    let dtype = float_dtype::<B>();
    let data = TensorData::new(values, shape).convert_dtype(dtype);
    Param::from_tensor(Tensor::from_data(data, (device, dtype)))
}

/// A [`Linear`] layer `d_input -> d_output` with bias, initialised from stream `layer` of
/// `seed`.
///
/// The weight is drawn in PyTorch's `(d_output, d_input)` order and stored transposed, as
/// burn's `(d_input, d_output)`, so that the k-th draw is the same entry in both frameworks'
/// conventions.
pub fn linear<B: Backend>(
    seed: u64,
    layer: u64,
    d_input: usize,
    d_output: usize,
    device: &B::Device,
) -> core::result::Result<Linear<B>, ModelError> {
    if d_input == 0 || d_output == 0 {
        return Err(ModelError::ZeroWidth {
            what: "linear layer",
        });
    }
    let bound = pytorch_bound(d_input);
    let mut rng = layer_rng(seed, layer);
    let torch_order = uniform(&mut rng, d_output * d_input, bound);
    let bias = uniform(&mut rng, d_output, bound);
    let mut weight = vec![0.0; d_input * d_output];
    for (o, row) in torch_order.chunks_exact(d_input).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            weight[i * d_output + o] = w;
        }
    }
    Ok(Linear {
        weight: float_param(weight, [d_input, d_output], device),
        bias: Some(float_param(bias, [d_output], device)),
    })
}

/// A [`Conv2d`] layer (stride 1, no dilation, one group, with bias) initialised from stream
/// `layer` of `seed`; `channels` is `[in, out]`.
pub fn conv2d<B: Backend>(
    seed: u64,
    layer: u64,
    channels: [usize; 2],
    kernel_size: [usize; 2],
    padding: PaddingConfig2d,
    device: &B::Device,
) -> core::result::Result<Conv2d<B>, ModelError> {
    let [c_in, c_out] = channels;
    let [kh, kw] = kernel_size;
    if c_in == 0 || c_out == 0 || kh == 0 || kw == 0 {
        return Err(ModelError::ZeroWidth {
            what: "convolution",
        });
    }
    let fan_in = c_in * kh * kw;
    let bound = pytorch_bound(fan_in);
    let mut rng = layer_rng(seed, layer);
    // burn's conv weight layout is PyTorch's, (out, in, kh, kw): no reordering.
    let weight = uniform(&mut rng, c_out * fan_in, bound);
    let bias = uniform(&mut rng, c_out, bound);
    Ok(Conv2d {
        weight: float_param(weight, [c_out, c_in, kh, kw], device),
        bias: Some(float_param(bias, [c_out], device)),
        stride: [1, 1],
        kernel_size,
        dilation: [1, 1],
        groups: 1,
        padding,
    })
}
