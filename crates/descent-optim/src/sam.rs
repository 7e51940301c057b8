//! Sharpness-aware minimisation: the gradient taken at the worst nearby point.
//!
//! SAM needs a second gradient, at `w + rho g / |g|`, which a
//! [`SimpleOptimizer`](burn::optim::SimpleOptimizer) cannot ask for: it sees one gradient per
//! step. So SAM is a step helper around any optimizer and a closure that recomputes the loss.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::nn::{Linear, LinearConfig};
//! use burn::tensor::Tensor;
//! use descent_optim::OptimConfig;
//! use descent_optim::optim::SgdConfig;
//! use descent_optim::sam::SamConfig;
//!
//! type B = Autodiff<NdArray<f32>>;
//! let device = Default::default();
//! let mut model: Linear<B> = LinearConfig::new(2, 1).init(&device);
//! let mut optimizer = SgdConfig::new().with_momentum(0.9).init::<B, Linear<B>>()?;
//! let sam = SamConfig::new().with_rho(0.05).init()?;
//! let x = Tensor::<B, 2>::from_floats([[1.0, 2.0], [3.0, -1.0]], &device);
//! let y = Tensor::<B, 2>::from_floats([[1.0], [0.0]], &device);
//! let loss = |m: &Linear<B>| (m.forward(x.clone()) - y.clone()).square().mean();
//! let (next, _loss_at_w) = sam.step(&mut optimizer, 0.1, model, loss);
//! model = next;
//! # let _ = model;
//! # Ok::<(), descent_optim::OptimError>(())
//! ```

use burn::config::Config;
use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{GradientsParams, LearningRate, Optimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use crate::clip::global_grad_norm;
use crate::error::OptimError;
use crate::validate;

/// Configuration of [`Sam`]; the defaults are those of the reference PyTorch implementation
/// (github.com/davda54/sam).
#[derive(Config, Debug)]
pub struct SamConfig {
    /// The radius `rho` of the neighbourhood searched.
    #[config(default = 0.05)]
    pub rho: f64,
    /// Added to the gradient's norm before dividing by it.
    #[config(default = 1e-12)]
    pub epsilon: f64,
}

impl SamConfig {
    /// Check the fields.
    pub fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("SAM", "rho", self.rho)?;
        validate::non_negative("SAM", "epsilon", self.epsilon)
    }

    /// Check the fields and build the helper.
    pub fn init(&self) -> Result<Sam, OptimError> {
        self.validate()?;
        Ok(Sam {
            rho: self.rho,
            epsilon: self.epsilon,
        })
    }
}

/// Sharpness-aware minimisation (Foret et al., *Sharpness-Aware Minimization for Efficiently
/// Improving Generalization*, ICLR 2021):
///
/// ```text
/// g   = grad L(w)
/// w'  = w + rho g / (|g| + eps)          (|g|: the L2 norm over every parameter)
/// w  <- optimizer step from w with grad L(w')
/// ```
///
/// The base optimizer is any burn [`Optimizer`] (every optimizer of this crate through its
/// adaptor), with its own state and learning rate.
#[derive(Clone, Debug)]
pub struct Sam {
    rho: f64,
    epsilon: f64,
}

impl Sam {
    /// `module` moved to the ascent point `w + rho g / (|g| + eps)` for its gradients `grads`
    /// (parameters without a gradient stay). The parameters keep their ids, so gradients taken
    /// there apply to `module`.
    pub fn ascent_point<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        module: M,
        grads: &GradientsParams,
    ) -> M {
        let scale = self.rho / (global_grad_norm(&module, grads) + self.epsilon);
        module.map(&mut Ascend { grads, scale })
    }

    /// One SAM step: the gradient at `module`, the ascent point, the gradient there, and
    /// `optimizer`'s step from `module` with that gradient. Returns the new module and the
    /// loss at `module` (what a training log reports).
    pub fn step<B, M, O>(
        &self,
        optimizer: &mut O,
        lr: LearningRate,
        module: M,
        loss: impl Fn(&M) -> Tensor<B, 1>,
    ) -> (M, Tensor<B, 1>)
    where
        B: AutodiffBackend,
        M: AutodiffModule<B> + Clone,
        O: Optimizer<M, B>,
    {
        let at_w = loss(&module);
        let grads = GradientsParams::from_grads(at_w.backward(), &module);

        let ascent = self.ascent_point(module.clone(), &grads);
        let at_ascent = loss(&ascent);
        let sharp_grads = GradientsParams::from_grads(at_ascent.backward(), &ascent);

        (optimizer.step(lr, module, sharp_grads), at_w)
    }
}

struct Ascend<'g> {
    grads: &'g GradientsParams,
    scale: f64,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Ascend<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = match self.grads.get::<B::InnerBackend, D>(id) {
            Some(g) => {
                let require_grad = tensor.is_require_grad();
                let moved = Tensor::from_inner(tensor.inner().add(g.mul_scalar(self.scale)));
                if require_grad {
                    moved.require_grad()
                } else {
                    moved
                }
            }
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptimConfig;
    use crate::optim::SgdConfig;
    use burn::backend::{Autodiff, NdArray};
    use burn::module::Module;
    use burn::tensor::{Element, TensorData};

    type B = Autodiff<NdArray<f64>>;

    // The derive expects the backend parameter to be called `B` (with another name it
    // generates a module whose parameters are never visited).
    #[derive(Module, Debug)]
    struct Point<B: burn::tensor::backend::Backend> {
        w: Param<Tensor<B, 1>>,
    }

    /// The backend's own float type (burn 0.21 shares one default dtype between precisions).
    fn float_dtype<Bk: burn::tensor::backend::Backend>() -> burn::tensor::DType {
        <Bk::FloatElem as Element>::dtype()
    }

    #[test]
    fn one_step_on_a_quadratic_is_the_hand_computed_update() {
        let device = Default::default();
        let dtype = float_dtype::<B>();
        let start = Tensor::from_data(TensorData::new(vec![1.0, 1.0], [2]), (&device, dtype));
        let point = Point::<B> {
            w: Param::from_tensor(start),
        };
        // f(w) = 1/2 (w0^2 + 4 w1^2)
        let weights =
            Tensor::<B, 1>::from_data(TensorData::new(vec![0.5, 2.0], [2]), (&device, dtype));
        let loss = |p: &Point<B>| p.w.val().square().mul(weights.clone()).sum();

        let mut sgd = SgdConfig::new()
            .init::<B, Point<B>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let sam = SamConfig::new()
            .with_rho(0.1)
            .with_epsilon(0.0)
            .init()
            .unwrap_or_else(|e| panic!("{e}"));
        let (next, at_w) = sam.step(&mut sgd, 0.1, point, loss);
        // g = (1, 4), |g| = sqrt(17); w' = w + 0.1 g/|g|; g' = (w'_0, 4 w'_1); w <- w - 0.1 g'.
        let r = 17f64.sqrt();
        let ascent = [1.0 + 0.1 / r, 1.0 + 0.4 / r];
        let expected = [1.0 - 0.1 * ascent[0], 1.0 - 0.1 * 4.0 * ascent[1]];
        let got: Vec<f64> = next.w.val().into_data().to_vec().unwrap_or_default();
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-14, "{got:?} vs {expected:?}");
        }
        let at_w: f64 = at_w.into_scalar();
        assert!((at_w - 2.5).abs() < 1e-15, "{at_w}");
    }
}
