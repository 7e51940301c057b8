//! The reference problem of `tests/reference/reference_trajectories.json` as a burn 0.22
//! module, and a driver that feeds it the recorded gradients through burn 0.22's
//! `ModuleOptimizer`. burn 0.22 has no backend type parameter: the precision is the runtime
//! dtype of each tensor, so every tensor here is created with an explicit [`DType`].

// `#[derive(Module)]` writes `burn::module::...`: this alias makes that burn 0.22 here, not
// the burn 0.21 dev-dependency (the other imports name `burn_0_22`, which is unambiguous).
#[allow(unused_imports)]
use burn_0_22 as burn;

use burn_0_22::module::{Module, Param};
use burn_0_22::optim::{GradientsParams, ModuleOptimizer};
use burn_0_22::tensor::{DType, Device, Tensor, TensorData};
use serde_json::Value;

pub use crate::reference::{Flat, floats, reference};

/// The two precisions the reference is replayed in.
pub const F64: DType = DType::F64;
pub const F32: DType = DType::F32;

/// The tiny problem of the reference: `W` (3x4) and `b` (4).
#[derive(Module, Debug)]
pub struct Pair {
    pub w: Param<Tensor<2>>,
    pub b: Param<Tensor<1>>,
}

/// The device every test runs on: burn-flex, the CPU backend burn 0.22 recommends.
pub fn device() -> Device {
    Device::flex()
}

pub fn tensor<const D: usize>(values: Vec<f64>, shape: [usize; D], dtype: DType) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), (&device(), dtype))
}

/// A parameter tensor: on the autodiff device, as a module trained by burn 0.22 holds it
/// (its `ModuleOptimizer` asks each parameter whether it is distributed, which only an
/// autodiff tensor can answer).
fn parameter<const D: usize>(values: Vec<f64>, shape: [usize; D], dtype: DType) -> Tensor<D> {
    Tensor::from_data(
        TensorData::new(values, shape),
        (&device().autodiff(), dtype),
    )
}

pub fn pair_from(value: &Value, dtype: DType) -> Pair {
    let w = parameter::<2>(floats(&value["W"]), [3, 4], dtype);
    let b = parameter::<1>(floats(&value["b"]), [4], dtype);
    Pair {
        w: Param::from_tensor(w),
        b: Param::from_tensor(b),
    }
}

/// The reference start in `dtype`.
pub fn start(reference: &Value, dtype: DType) -> Pair {
    pair_from(&reference["init"], dtype)
}

/// The parameters, flattened (`W` row-major then `b`), after checking they are still in
/// `dtype`: an optimizer must not change the parameters' precision.
pub fn flatten(pair: &Pair, dtype: DType) -> Flat {
    assert_eq!(pair.w.val().dtype(), dtype, "W keeps its dtype");
    assert_eq!(pair.b.val().dtype(), dtype, "b keeps its dtype");
    let mut out: Vec<f64> = pair
        .w
        .val()
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("floats");
    out.extend(
        pair.b
            .val()
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("floats"),
    );
    out
}

/// Gradients of step `t` (0-based index into the reference's `grads`) for `pair`, in the
/// dtype of its parameters, registered by hand (no autodiff needed).
pub fn grads_for(reference: &Value, t: usize, pair: &Pair) -> GradientsParams {
    let dtype = pair.w.val().dtype();
    let g = &reference["grads"][t];
    let mut grads = GradientsParams::new();
    grads.register::<2>(pair.w.id, tensor::<2>(floats(&g["W"]), [3, 4], dtype));
    grads.register::<1>(pair.b.id, tensor::<1>(floats(&g["b"]), [4], dtype));
    grads
}

/// Run the steps `steps` (indices into the reference's gradients) of `optimizer` from
/// `pair`, and return the parameters after each step.
pub fn run(
    reference: &Value,
    pair: Pair,
    optimizer: &mut ModuleOptimizer,
    lr: f64,
    steps: std::ops::Range<usize>,
) -> (Pair, Vec<Flat>) {
    let dtype = pair.w.val().dtype();
    let mut pair = pair;
    let mut trajectory = Vec::new();
    for t in steps {
        let grads = grads_for(reference, t, &pair);
        pair = optimizer.step(lr, pair, grads);
        trajectory.push(flatten(&pair, dtype));
    }
    (pair, trajectory)
}
