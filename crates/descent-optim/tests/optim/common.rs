//! What the optimizer tests share: the reference problem of
//! `tests/reference/reference_trajectories.json` as a burn module, and a driver that
//! feeds it the recorded gradients through the real `OptimizerAdaptor` path.

use burn::backend::{Autodiff, NdArray};
use burn::module::{Module, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Element, Tensor, TensorData};
use serde_json::Value;

pub type F64 = Autodiff<NdArray<f64>>;
pub type F32 = Autodiff<NdArray<f32>>;

/// The tiny problem of the reference: `W` (3x4) and `b` (4).
#[derive(Module, Debug)]
pub struct Pair<B: Backend> {
    pub w: Param<Tensor<B, 2>>,
    pub b: Param<Tensor<B, 1>>,
}

pub use crate::reference::{Flat, flat, floats, reference};

/// The backend's own float type. Tensors are created with it explicitly: burn 0.21 keeps
/// one default dtype per device *type*, and `NdArray<f32>` and `NdArray<f64>` share theirs,
/// so whichever test runs first would otherwise decide the precision of all the others.
pub fn float_dtype<B: Backend>() -> DType {
    <B::FloatElem as Element>::dtype()
}

pub fn tensor<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), (device, float_dtype::<B>()))
}

pub fn pair_from<B: Backend>(value: &Value, device: &B::Device) -> Pair<B> {
    let w = tensor::<B, 2>(floats(&value["W"]), [3, 4], device);
    let b = tensor::<B, 1>(floats(&value["b"]), [4], device);
    Pair {
        w: Param::from_tensor(w),
        b: Param::from_tensor(b),
    }
}

pub fn flatten<B: Backend>(pair: &Pair<B>) -> Flat {
    assert_eq!(
        pair.w.val().dtype(),
        float_dtype::<B>(),
        "parameters keep the backend's float type"
    );
    assert_eq!(
        pair.b.val().dtype(),
        float_dtype::<B>(),
        "parameters keep the backend's float type"
    );
    let mut out: Vec<f64> = pair
        .w
        .val()
        .into_data()
        .convert::<f64>()
        .to_vec()
        .expect("floats");
    out.extend(
        pair.b
            .val()
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("floats"),
    );
    out
}

/// Gradients of step `t` (0-based index into the reference's `grads`) for `pair`.
pub fn grads_for<B: AutodiffBackend>(
    reference: &Value,
    t: usize,
    pair: &Pair<B>,
) -> GradientsParams {
    let device = Default::default();
    let g = &reference["grads"][t];
    let mut grads = GradientsParams::new();
    grads.register::<B::InnerBackend, 2>(
        pair.w.id,
        tensor::<B::InnerBackend, 2>(floats(&g["W"]), [3, 4], &device),
    );
    grads.register::<B::InnerBackend, 1>(
        pair.b.id,
        tensor::<B::InnerBackend, 1>(floats(&g["b"]), [4], &device),
    );
    grads
}

/// Run `steps` steps of `optimizer` from the reference start, starting at gradient index
/// `first`, and return the parameters after each step.
pub fn run<B, O>(
    reference: &Value,
    pair: Pair<B>,
    optimizer: &mut OptimizerAdaptor<O, Pair<B>, B>,
    lr: f64,
    steps: std::ops::Range<usize>,
) -> (Pair<B>, Vec<Flat>)
where
    B: AutodiffBackend,
    O: SimpleOptimizer<B::InnerBackend>,
{
    let mut pair = pair;
    let mut trajectory = Vec::new();
    for t in steps {
        let grads = grads_for(reference, t, &pair);
        pair = optimizer.step(lr, pair, grads);
        trajectory.push(flatten(&pair));
    }
    (pair, trajectory)
}

pub fn start<B: Backend>(reference: &Value) -> Pair<B> {
    pair_from(&reference["init"], &Default::default())
}
