//! Gradient clipping over the whole model, usable with every optimizer.
//!
//! burn's `GradientClipping::Norm` clips each parameter tensor by its *own* norm. PyTorch's
//! `clip_grad_norm_`, and the analyses that motivate clipping, use the *global* norm over
//! all parameters together, which keeps the direction of the full gradient. The functions
//! here work on a [`GradientsParams`] between `backward` and `step`, so they combine with
//! any optimizer:
//!
//! ```
//! # use burn::backend::{Autodiff, NdArray};
//! # use burn::nn::{Linear, LinearConfig};
//! # use burn::optim::{GradientsParams, Optimizer};
//! # use burn::tensor::Tensor;
//! # use descent_optim::{OptimConfig, clip::clip_grad_norm, optim::SgdConfig};
//! # type B = Autodiff<NdArray<f32>>;
//! # fn main() -> Result<(), descent_optim::OptimError> {
//! # let device = Default::default();
//! # let mut model: Linear<B> = LinearConfig::new(3, 2).init(&device);
//! # let mut optimizer = SgdConfig::new().init::<B, Linear<B>>()?;
//! # let loss = model.forward(Tensor::<B, 2>::ones([4, 3], &device)).powi_scalar(2).sum().mul_scalar(100.0);
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! let (grads, norm_before) = clip_grad_norm(&model, grads, 1.0)?;
//! model = optimizer.step(0.1, model, grads);
//! # assert!(norm_before > 1.0);
//! # Ok(())
//! # }
//! ```

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};

use crate::error::OptimError;
use crate::validate;

/// How to clip gradients before an optimizer step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clipping {
    /// Scale all gradients together so that their global L2 norm is at most this value.
    GlobalNorm(f64),
    /// Clamp every gradient coordinate to `[-value, value]`.
    Value(f64),
}

impl Clipping {
    /// Check the threshold.
    pub fn validate(&self) -> Result<(), OptimError> {
        match *self {
            Clipping::GlobalNorm(max) => validate::non_negative("clipping", "max_norm", max),
            Clipping::Value(max) => validate::non_negative("clipping", "value", max),
        }
    }

    /// Clip `grads` of `module`; returns the clipped gradients and the global L2 norm of the
    /// gradients *before* clipping (handy to log in either mode).
    pub fn apply<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: &M,
        grads: GradientsParams,
    ) -> Result<(GradientsParams, f64), OptimError> {
        match *self {
            Clipping::GlobalNorm(max) => clip_grad_norm(module, grads, max),
            Clipping::Value(max) => {
                let norm = global_grad_norm(module, &grads);
                Ok((clip_grad_value(module, grads, max)?, norm))
            }
        }
    }
}

struct Collector<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    squared_norms: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Collector<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.squared_norms.push(grad.square().sum());
        }
    }
}

/// `||g_i||^2` of every parameter of `module` that has a gradient in `grads`.
fn squared_norms<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> Vec<Tensor<B::InnerBackend, 1>> {
    let mut collector = Collector::<B> {
        grads,
        squared_norms: Vec::new(),
    };
    module.visit(&mut collector);
    collector.squared_norms
}

fn total_norm<B: Backend>(squared_norms: Vec<Tensor<B, 1>>) -> Option<Tensor<B, 1>> {
    if squared_norms.is_empty() {
        return None;
    }
    Some(Tensor::cat(squared_norms, 0).sum().sqrt())
}

/// Global L2 norm of all gradients of `module` present in `grads`
/// (`sqrt(sum_i ||g_i||^2)`; 0 when there are none).
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    total_norm(squared_norms(module, grads)).map_or(0.0, |norm| norm.into_scalar().elem())
}

/// Rescale every gradient by `min(1, max_norm / (||g|| + 1e-6))`, where `||g||` is the
/// global L2 norm over all parameters (PyTorch's `clip_grad_norm_`, same formula and the
/// same `1e-6`). Returns the clipped gradients and the norm before clipping.
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> Result<(GradientsParams, f64), OptimError> {
    validate::non_negative("clip_grad_norm", "max_norm", max_norm)?;
    let Some(norm) = total_norm(squared_norms(module, &grads)) else {
        return Ok((grads, 0.0));
    };
    let norm: f64 = norm.into_scalar().elem();
    let coefficient = (max_norm / (norm + 1e-6)).min(1.0);
    if coefficient < 1.0 {
        let mut scaler = Scaler::<B> {
            grads: &mut grads,
            transform: &|g| g.mul_scalar(coefficient),
        };
        module.visit(&mut scaler);
    }
    Ok((grads, norm))
}

/// Clamp every gradient coordinate to `[-value, value]` (PyTorch's `clip_grad_value_`).
pub fn clip_grad_value<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    value: f64,
) -> Result<GradientsParams, OptimError> {
    validate::non_negative("clip_grad_value", "value", value)?;
    let mut scaler = Scaler::<B> {
        grads: &mut grads,
        transform: &|g| g.clamp(-value, value),
    };
    module.visit(&mut scaler);
    Ok(grads)
}

/// A function applied to a gradient of any rank, erased to rank-generic form by
/// working on flattened tensors.
type Transform<'a, B> = &'a dyn Fn(Tensor<B, 1>) -> Tensor<B, 1>;

struct Scaler<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    transform: Transform<'a, B::InnerBackend>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scaler<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let shape = grad.shape();
            let flat: Tensor<B::InnerBackend, 1> = grad.flatten(0, D.saturating_sub(1));
            let clipped = (self.transform)(flat).reshape(shape);
            self.grads.register::<B::InnerBackend, D>(param.id, clipped);
        }
    }
}
