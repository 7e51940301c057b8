//! The layer-wise trust ratio that LAMB and LARS scale their updates by.

use crate::arith::Arith;

/// `update * coefficient * |theta| / (|update| + eps)` with Euclidean norms over the whole
/// tensor, or `update` unchanged where either norm is 0 (a parameter or an update of zeros
/// would otherwise never move or divide by zero), as optax's `scale_by_trust_ratio`. Kept as
/// tensor operations, so no value is read back from the device.
pub(crate) fn scale_by_trust_ratio<T: Arith>(
    update: T,
    tensor: &T,
    coefficient: f64,
    eps: f64,
) -> T {
    let parameter_norm = tensor.clone().norm();
    let update_norm = update.clone().norm();
    let degenerate = T::mask_or(
        parameter_norm.clone().equal_elem(0.0),
        update_norm.clone().equal_elem(0.0),
    );
    let ratio = parameter_norm
        .mul_scalar(coefficient)
        .div(update_norm.add_scalar(eps))
        .mask_fill(degenerate, 1.0);
    update.mul(ratio)
}
