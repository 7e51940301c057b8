//! One-step conformance of two backends: from the same parameters and the same batch, do they
//! compute the same gradient, and from the same gradient the same update?
//!
//! Comparing parameters after many steps cannot tell a wrong kernel from honest rounding:
//! Adam divides by `sqrt(v) + eps`, so a gradient element near zero whose last bits differ
//! between backends moves its parameter by O(lr) differently, and after 200 steps two
//! correct backends differ by 1e-2. One step, checked tensor by tensor, separates the two
//! questions: the gradients must agree to f32 rounding (relative to each tensor's largest
//! element), and the update computed on every backend from the *first* backend's gradient
//! must agree to f32 rounding too, so an optimizer is judged on identical input.

use std::sync::Arc;

use anyhow::{Context, Result};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use descent_data::ArrayBatcher;
use serde::Serialize;

use crate::backend::{self, BackendChoice, OnBackend, Precision};
use crate::config::RunSpec;
use crate::optim::{AnyOptimizer, lr_plan, optimizer_config, sharpness_aware};
use crate::problem::Task;
use crate::train::{clip, sharp_gradient};
use descent_optim::sam::Sam;

/// Relative tolerance of one f32 step across backends: reductions of a few thousand terms
/// summed in different orders differ by far less (about 1e-6 of the largest term).
pub const RELATIVE_TOLERANCE: f64 = 1e-4;

/// Slack for parameters themselves: 4 units in the last place of f32 at the tensor's largest
/// magnitude (the update is added to the parameter and rounded there).
const PARAMETER_ULPS: f64 = 4.0 * f32::EPSILON as f64;

/// What one backend computed at the first step of a run, per parameter tensor in the
/// module's visiting order.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstStep {
    /// The gradient the backend computed.
    pub gradient: Vec<Vec<f64>>,
    /// The parameters before the step.
    pub before: Vec<Vec<f64>>,
    /// The parameters after one optimizer step taken with the gradient given to
    /// [`first_step`] (the backend's own where none was given).
    pub after: Vec<Vec<f64>>,
}

/// The first step of `run` on `backend`; the update uses `given` instead of the backend's own
/// gradient when it is set (one vector per parameter tensor, as [`FirstStep::gradient`]).
pub fn first_step(
    backend: BackendChoice,
    precision: Precision,
    task: &Task,
    run: &RunSpec,
    given: Option<&[Vec<f64>]>,
) -> Result<FirstStep> {
    let rebuilt = task.rebuilt_for(run)?;
    let task = rebuilt.as_ref().unwrap_or(task);
    backend::dispatch(backend, precision, OneStep { task, run, given })
}

struct OneStep<'a> {
    task: &'a Task,
    run: &'a RunSpec,
    given: Option<&'a [Vec<f64>]>,
}

impl OnBackend for OneStep<'_> {
    type Output = FirstStep;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<FirstStep> {
        let experiment = &self.run.experiment;
        let variant = &experiment.variants[0];
        let plan = self
            .task
            .batch_plan(&experiment.batch, self.run.seed)
            .map_err(anyhow::Error::msg)?;
        let lr = lr_plan(variant, None).map_err(anyhow::Error::msg)?;
        let rate = match &lr.plateau {
            Some(p) => p.schedule.lr(),
            None => lr.lr(0),
        };
        let optimizer = optimizer_config(variant, self.run.seed).map_err(anyhow::Error::msg)?;
        let sam = sharpness_aware(variant).map_err(anyhow::Error::msg)?;
        let epoch = plan.epoch(0);
        let batch = epoch
            .batch(0)
            .context("internal error: the batch plan has no first batch")?;
        let step = Step {
            rate,
            sam,
            clipping: lr.clipping,
            batch,
            given: self.given,
        };
        match self.task {
            Task::Landscape(t) => step.take(
                t.init::<B>(&device)?,
                optimizer.init()?,
                |m: &descent_models::Point<B>, batch: &[usize]| t.loss(m, batch),
            ),
            Task::Supervised(t) => {
                let batcher = ArrayBatcher::new(Arc::clone(&t.train));
                step.take(
                    t.init::<B>(self.run.init_seed(), &device)?,
                    optimizer.init()?,
                    |m: &descent_models::AnyModel<B>, batch: &[usize]| {
                        t.loss(m, &batcher, batch, &device)
                    },
                )
            }
        }
    }
}

/// What the first step needs besides the module, its optimizer and its loss.
struct Step<'a> {
    rate: f64,
    sam: Option<Sam>,
    clipping: Option<descent_optim::clip::Clipping>,
    batch: &'a [usize],
    given: Option<&'a [Vec<f64>]>,
}

impl Step<'_> {
    /// The training loop's first step, as `train` takes it, with the gradient read out and
    /// optionally replaced.
    fn take<B: AutodiffBackend, M: AutodiffModule<B> + Clone>(
        &self,
        module: M,
        mut optimizer: AnyOptimizer<M, B>,
        loss: impl Fn(&M, &[usize]) -> Result<Tensor<B, 1>>,
    ) -> Result<FirstStep> {
        let point = optimizer.gradient_point(module.clone(), self.rate);
        let loss_at = &loss;
        let loss = loss_at(&point, self.batch)?;
        let grads = GradientsParams::from_grads(loss.backward(), &point);
        let grads = match &self.sam {
            Some(sam) => sharp_gradient(sam, &point, &grads, |m| loss_at(m, self.batch))?,
            None => grads,
        };
        let gradient = read_gradients::<B, M>(&module, &grads);
        let grads = match self.given {
            Some(given) => gradients_from::<B, M>(&module, given)?,
            None => grads,
        };
        let (grads, _) = clip(self.clipping, &module, grads, false)?;
        let before = read_parameters(&module);
        let module = optimizer.step(self.rate, module, grads);
        Ok(FirstStep {
            gradient,
            before,
            after: read_parameters(&module),
        })
    }
}

fn read_parameters<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f64>> {
    struct Reader(Vec<Vec<f64>>);
    impl<B: Backend> ModuleVisitor<B> for Reader {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(host(param.val()));
        }
    }
    let mut reader = Reader(Vec::new());
    module.visit(&mut reader);
    reader.0
}

fn host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f64> {
    tensor.into_data().convert::<f64>().iter::<f64>().collect()
}

fn read_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> Vec<Vec<f64>> {
    struct Reader<'g>(&'g GradientsParams, Vec<Vec<f64>>);
    impl<B: AutodiffBackend> ModuleVisitor<B> for Reader<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.1
                .push(match self.0.get::<B::InnerBackend, D>(param.id) {
                    Some(g) => host(g),
                    // A parameter the loss does not reach has a zero gradient.
                    None => vec![0.0; param.shape().num_elements()],
                });
        }
    }
    let mut reader = Reader(grads, Vec::new());
    module.visit(&mut reader);
    reader.1
}

/// `given` (one vector per parameter tensor) as the gradients of `module`'s parameters.
fn gradients_from<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    given: &[Vec<f64>],
) -> Result<GradientsParams> {
    struct Writer<'v> {
        given: &'v [Vec<f64>],
        next: usize,
        made: Vec<Result<()>>,
        grads: GradientsParams,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Writer<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let tensor = param.val().inner();
            let shape = tensor.shape();
            let outcome = match self.given.get(self.next) {
                Some(values) if values.len() == shape.num_elements() => {
                    let data = TensorData::new(values.clone(), shape);
                    let g = Tensor::<B::InnerBackend, D>::from_data(
                        data,
                        (&tensor.device(), tensor.dtype()),
                    );
                    self.grads.register(param.id, g);
                    Ok(())
                }
                _ => Err(anyhow::anyhow!(
                    "the given gradient does not fit parameter tensor {} ({:?})",
                    self.next,
                    shape.dims::<D>()
                )),
            };
            self.made.push(outcome);
            self.next += 1;
        }
    }
    let mut writer = Writer {
        given,
        next: 0,
        made: Vec::new(),
        grads: GradientsParams::new(),
    };
    module.visit(&mut writer);
    for outcome in writer.made {
        outcome?;
    }
    anyhow::ensure!(
        writer.next == given.len(),
        "the given gradient has {} tensors, the module {}",
        given.len(),
        writer.next
    );
    Ok(writer.grads)
}

/// How far one backend's first step is from the reference backend's, tensor by tensor.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Conformance {
    /// Per tensor: `max |g - g_ref| / max |g_ref|` (0 where both are zero).
    pub gradient: Vec<f64>,
    /// Per tensor: `max |w' - w'_ref|` over its allowance, `RELATIVE_TOLERANCE x max |update|
    /// + 4 ulp(max |w'|)`; agreement is <= 1.
    pub update: Vec<f64>,
    /// Every tensor within tolerance, gradients and updates.
    pub agree: bool,
}

/// `ours` against `reference`: gradients within [`RELATIVE_TOLERANCE`] of each tensor's
/// largest element; parameters after the step (both taken with the reference's gradient)
/// within [`RELATIVE_TOLERANCE`] of the largest update plus f32 rounding of the parameters.
pub fn judge(reference: &FirstStep, ours: &FirstStep) -> Conformance {
    let shapes_match = |a: &[Vec<f64>], b: &[Vec<f64>]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len())
    };
    if !shapes_match(&reference.gradient, &ours.gradient)
        || !shapes_match(&reference.after, &ours.after)
        || !shapes_match(&reference.before, &reference.after)
    {
        return Conformance {
            gradient: vec![f64::INFINITY],
            update: vec![f64::INFINITY],
            agree: false,
        };
    }
    let gradient: Vec<f64> = reference
        .gradient
        .iter()
        .zip(&ours.gradient)
        .map(|(r, o)| {
            let difference = max_abs(r.iter().zip(o).map(|(r, o)| r - o));
            let scale = max_abs(r.iter().copied());
            if difference == 0.0 {
                0.0
            } else {
                difference / scale
            }
        })
        .collect();
    let update: Vec<f64> = (0..reference.after.len())
        .map(|t| {
            let (before, after, ours) = (&reference.before[t], &reference.after[t], &ours.after[t]);
            let difference = max_abs(after.iter().zip(ours).map(|(r, o)| r - o));
            let step = max_abs(after.iter().zip(before).map(|(a, b)| a - b));
            let allowance =
                RELATIVE_TOLERANCE * step + PARAMETER_ULPS * max_abs(after.iter().copied());
            if difference == 0.0 {
                0.0
            } else {
                difference / allowance
            }
        })
        .collect();
    let agree =
        gradient.iter().all(|&g| g <= RELATIVE_TOLERANCE) && update.iter().all(|&u| u <= 1.0);
    Conformance {
        gradient,
        update,
        agree,
    }
}

/// The largest magnitude; NaN counts as infinite (a NaN difference never agrees).
pub fn max_abs(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |m, v| {
        if v.is_nan() {
            f64::INFINITY
        } else {
            m.max(v.abs())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(gradient: &[f64], before: &[f64], after: &[f64]) -> FirstStep {
        FirstStep {
            gradient: vec![gradient.to_vec()],
            before: vec![before.to_vec()],
            after: vec![after.to_vec()],
        }
    }

    #[test]
    fn rounding_agrees_and_a_wrong_update_or_gradient_does_not() {
        let reference = step(&[1.0, -0.5], &[0.1, 0.2], &[0.099, 0.2005]);
        // Last-bit differences in the gradient and in the new parameters.
        let rounded = step(&[1.0 + 1e-7, -0.5], &[0.1, 0.2], &[0.099 + 1e-9, 0.2005]);
        assert!(judge(&reference, &rounded).agree);
        // An update 1% too large (a wrong learning rate): 1e-5 off a step of 1e-3.
        let wrong_rate = step(&[1.0, -0.5], &[0.1, 0.2], &[0.09899, 0.200505]);
        let verdict = judge(&reference, &wrong_rate);
        assert!(!verdict.agree && verdict.update[0] > 1.0, "{verdict:?}");
        // A gradient 0.1% off.
        let wrong_gradient = step(&[1.001, -0.5], &[0.1, 0.2], &[0.099, 0.2005]);
        assert!(!judge(&reference, &wrong_gradient).agree);
        // NaN never agrees; a different number of tensors neither.
        let nan = step(&[f64::NAN, -0.5], &[0.1, 0.2], &[0.099, 0.2005]);
        assert!(!judge(&reference, &nan).agree);
        let mut extra = reference.clone();
        extra.gradient.push(vec![0.0]);
        assert!(!judge(&reference, &extra).agree);
    }
}
