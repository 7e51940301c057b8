//! The layer-wise trust ratio that LAMB and LARS scale their updates by.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::common::norm;

/// `update * coefficient * |theta| / (|update| + eps)` with Euclidean norms over the whole
/// tensor, or `update` unchanged where either norm is 0 (a parameter or an update of zeros
/// would otherwise never move or divide by zero), as optax's `scale_by_trust_ratio`. Kept as
/// tensor operations, so no value is read back from the device.
pub(crate) fn scale_by_trust_ratio<B: Backend, const D: usize>(
    update: Tensor<B, D>,
    tensor: &Tensor<B, D>,
    coefficient: f64,
    eps: f64,
) -> Tensor<B, D> {
    let parameter_norm = norm(tensor.clone());
    let update_norm = norm(update.clone());
    let degenerate = parameter_norm
        .clone()
        .equal_elem(0.0)
        .bool_or(update_norm.clone().equal_elem(0.0));
    let ratio = parameter_norm
        .mul_scalar(coefficient)
        .div(update_norm.add_scalar(eps))
        .mask_fill(degenerate, 1.0);
    update.mul(ratio.reshape([1; D]))
}
