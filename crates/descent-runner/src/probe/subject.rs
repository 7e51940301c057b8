//! The two kinds of [`Subject`]: a point on a landscape (everything analytic, in `f64`) and a
//! model on its training set (gradients by burn's autodiff at any flattened point).

use std::cell::OnceCell;
use std::sync::Arc;

use anyhow::{Result, ensure};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Element, ElementConversion, Tensor, TensorData};
use descent_data::{ArrayBatcher, Batch};
use descent_models::AnyModel;

use super::Subject;
use crate::problem::{LandscapeTask, SupervisedTask};

/// Dense Hessians are formed up to this dimension; above it, differences of gradients.
const DENSE_HESSIAN_DIM: usize = 2048;

/// A point on a landscape.
pub struct LandscapeSubject<'a> {
    task: &'a LandscapeTask,
    w: Vec<f64>,
}

impl<'a> LandscapeSubject<'a> {
    /// The subject at coordinates `w` of `task`.
    pub fn new(task: &'a LandscapeTask, w: Vec<f64>) -> Self {
        LandscapeSubject { task, w }
    }
}

impl Subject for LandscapeSubject<'_> {
    fn parameters(&self) -> &[f64] {
        &self.w
    }

    fn items(&self) -> usize {
        self.task.stochastic.as_ref().map_or(1, |s| s.examples())
    }

    fn loss_and_gradient(&mut self, w: &[f64], batch: Option<&[usize]>) -> Result<(f64, Vec<f64>)> {
        Ok(match (&self.task.stochastic, batch) {
            (Some(s), Some(batch)) => (s.value(w, batch)?, s.gradient(w, batch)?),
            // The noise sums to zero, so the full objective is the landscape itself.
            _ => (
                self.task.landscape.value(w)?,
                self.task.landscape.gradient(w)?,
            ),
        })
    }

    fn full_train(&mut self) -> Result<(f64, Option<f64>)> {
        Ok((self.task.landscape.value(&self.w)?, None))
    }

    fn hessian_vector(
        &mut self,
        w: &[f64],
        v: &[f64],
        batch: Option<&[usize]>,
    ) -> Result<Vec<f64>> {
        let n = w.len();
        if n > DENSE_HESSIAN_DIM {
            return super::difference_hessian_vector(self, w, v, batch);
        }
        // The noise is linear in w: every example's Hessian is the landscape's.
        let h = self.task.landscape.hessian(w)?;
        Ok(h.chunks_exact(n.max(1))
            .map(|row| super::dot(row, v))
            .collect())
    }

    fn difference_step(&self) -> f64 {
        f64::EPSILON.cbrt()
    }

    fn landscape(&self) -> Option<&LandscapeTask> {
        Some(self.task)
    }
}

/// The training items of a run as the probes use them: a batcher for index lists, and the
/// whole set in chunks (assembled on first use).
pub struct TrainingSet<B: Backend> {
    batcher: ArrayBatcher,
    chunks: OnceCell<Vec<Batch<B>>>,
}

impl<B: Backend> TrainingSet<B> {
    /// The training set of `task`.
    pub fn new(task: &SupervisedTask) -> Self {
        TrainingSet {
            batcher: ArrayBatcher::new(Arc::clone(&task.train)),
            chunks: OnceCell::new(),
        }
    }

    fn chunks(&self, device: &B::Device) -> &[Batch<B>] {
        self.chunks.get_or_init(|| {
            // Chunks bound the memory of one forward and backward pass.
            const CHUNK: usize = 1000;
            let indices: Vec<usize> = (0..self.batcher.dataset().len()).collect();
            indices
                .chunks(CHUNK)
                .map(|c| self.batcher.assemble::<B>(c, device))
                .collect()
        })
    }
}

/// A model at its current parameters, on its training set.
pub struct ModelSubject<'a, B: AutodiffBackend> {
    task: &'a SupervisedTask,
    module: AnyModel<B>,
    w: Vec<f64>,
    training: &'a TrainingSet<B>,
    device: &'a B::Device,
}

impl<'a, B: AutodiffBackend> ModelSubject<'a, B> {
    /// The subject at `module`'s parameters.
    pub fn new(
        task: &'a SupervisedTask,
        module: AnyModel<B>,
        training: &'a TrainingSet<B>,
        device: &'a B::Device,
    ) -> Self {
        let w = flatten(&module);
        ModelSubject {
            task,
            module,
            w,
            training,
            device,
        }
    }

    fn at(&self, w: &[f64]) -> Result<AnyModel<B>> {
        ensure!(
            w.len() == self.w.len(),
            "internal error: a point of {} parameters for a model of {}",
            w.len(),
            self.w.len()
        );
        Ok(self.module.clone().map(&mut Unflatten { values: w, at: 0 }))
    }
}

impl<B: AutodiffBackend> Subject for ModelSubject<'_, B> {
    fn parameters(&self) -> &[f64] {
        &self.w
    }

    fn items(&self) -> usize {
        self.task.train.len()
    }

    fn loss_and_gradient(&mut self, w: &[f64], batch: Option<&[usize]>) -> Result<(f64, Vec<f64>)> {
        let model = self.at(w)?;
        match batch {
            Some(batch) => {
                let loss = self
                    .task
                    .loss(&model, &self.training.batcher, batch, self.device)?;
                let value: f64 = loss.clone().into_scalar().elem();
                let gradient = gradient(&model, loss);
                Ok((value, gradient))
            }
            None => {
                // The objective is a mean over items: chunk means weighted by chunk size.
                let n = self.task.train.len().max(1) as f64;
                let (mut value, mut total) = (0.0, vec![0.0; w.len()]);
                for chunk in self.training.chunks(self.device) {
                    let weight = chunk.len() as f64 / n;
                    let loss = self.task.loss_on(&model, chunk.clone())?;
                    let chunk_value: f64 = loss.clone().into_scalar().elem();
                    value += weight * chunk_value;
                    for (t, g) in total.iter_mut().zip(gradient(&model, loss)) {
                        *t += weight * g;
                    }
                }
                Ok((value, total))
            }
        }
    }

    fn full_train(&mut self) -> Result<(f64, Option<f64>)> {
        let chunks = self.training.chunks(self.device);
        self.task.objective_and_accuracy(&self.module, chunks)
    }

    fn difference_step(&self) -> f64 {
        let epsilon = match <B::FloatElem as Element>::dtype() {
            DType::F64 => f64::EPSILON,
            DType::F32 | DType::Flex32 => f64::from(f32::EPSILON),
            // Half precision: 2^-10 (f16) or 2^-7 (bf16); the coarser one is safe for both.
            _ => 2f64.powi(-7),
        };
        epsilon.cbrt()
    }
}

/// Every float parameter of `module`, in visiting order, as `f64`.
pub fn flatten<B: Backend, M: Module<B>>(module: &M) -> Vec<f64> {
    let mut reader = Flatten(Vec::new());
    module.visit(&mut reader);
    reader.0
}

struct Flatten(Vec<f64>);

impl<B: Backend> ModuleVisitor<B> for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().into_data().convert::<f64>();
        self.0.extend(data.iter::<f64>());
    }
}

/// Replaces every float parameter, in visiting order, by the next values of `values`.
struct Unflatten<'v> {
    values: &'v [f64],
    at: usize,
}

impl<B: Backend> ModuleMapper<B> for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let count = shape.num_elements();
        let end = (self.at + count).min(self.values.len());
        let data = TensorData::new(self.values[self.at..end].to_vec(), shape);
        self.at = end;
        let track = tensor.is_require_grad();
        let fresh = Tensor::<B, D>::from_data(data, (&tensor.device(), tensor.dtype()));
        let fresh = if track { fresh.require_grad() } else { fresh };
        Param::from_mapped_value(id, fresh, mapper)
    }
}

/// The gradient of `loss` with respect to every float parameter of `model`, flattened.
fn gradient<B: AutodiffBackend>(model: &AnyModel<B>, loss: Tensor<B, 1>) -> Vec<f64> {
    let grads = loss.backward();
    let mut reader = GradientReader {
        grads: &grads,
        values: Vec::new(),
    };
    model.visit(&mut reader);
    reader.values
}

struct GradientReader<'g, B: AutodiffBackend> {
    grads: &'g B::Gradients,
    values: Vec<f64>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradientReader<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let tensor = param.val();
        match tensor.grad(self.grads) {
            Some(g) => self
                .values
                .extend(g.into_data().convert::<f64>().iter::<f64>()),
            // A parameter the loss does not reach has a zero gradient.
            None => self
                .values
                .extend(std::iter::repeat_n(0.0, tensor.shape().num_elements())),
        }
    }
}
