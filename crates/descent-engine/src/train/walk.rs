//! What the loop needs to know of a problem: its loss on a batch, a gradient where one is known
//! in closed form, its evaluation, and the probes' view of the module. One implementation per
//! kind of problem ([`LandscapeWalk`], [`SupervisedWalk`]); the executor and its observers are
//! written once against [`Walk`].

use std::sync::Arc;

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use descent_data::{ArrayBatcher, Batch, BatchPlan};
use descent_models::{AnyModel, Point};

use crate::probe::{LandscapeSubject, ModelSubject, Subject, TrainingSet};
use crate::problem::{EvalSets, Evaluation, LandscapeTask, SupervisedTask};

/// A gradient taken without the autodiff graph, and on request the loss's value there.
pub(crate) type DirectGradient = (GradientsParams, Option<f64>);

/// The problem-specific parts of a run's loop.
pub(crate) trait Walk<B: AutodiffBackend> {
    /// What is trained.
    type Module: AutodiffModule<B> + Clone;

    /// The loss on the items of `batch`, with its autodiff graph.
    fn loss(&self, module: &Self::Module, batch: &[usize]) -> Result<Tensor<B, 1>>;

    /// The gradient without the autodiff graph, where the problem has it in closed form
    /// (equal to the graph's; `None` elsewhere), with the loss's value when `with_loss`.
    fn direct_gradient(
        &self,
        _module: &Self::Module,
        _with_loss: bool,
    ) -> Result<Option<DirectGradient>> {
        Ok(None)
    }

    /// The evaluation metrics of a module (validation, test, distance to a minimiser).
    fn evaluate(
        &self,
        module: &<Self::Module as AutodiffModule<B>>::InnerModule,
    ) -> Result<Evaluation>;

    /// The probes' view of `module`.
    fn subject<'s>(&'s self, module: &Self::Module) -> Box<dyn Subject + 's>;
}

/// A point walking over an analytic landscape.
pub(crate) struct LandscapeWalk<'a> {
    pub task: &'a LandscapeTask,
}

impl<B: AutodiffBackend> Walk<B> for LandscapeWalk<'_> {
    type Module = Point<B>;

    fn loss(&self, point: &Point<B>, batch: &[usize]) -> Result<Tensor<B, 1>> {
        self.task.loss(point, batch)
    }

    fn direct_gradient(&self, point: &Point<B>, with_loss: bool) -> Result<Option<DirectGradient>> {
        self.task.gradient(point, with_loss)
    }

    fn evaluate(&self, point: &Point<B::InnerBackend>) -> Result<Evaluation> {
        self.task.evaluate(point)
    }

    fn subject<'s>(&'s self, point: &Point<B>) -> Box<dyn Subject + 's> {
        Box::new(LandscapeSubject::new(self.task, point.coordinates()))
    }
}

/// A model trained on a dataset, its evaluation sets made once as tensors.
pub(crate) struct SupervisedWalk<'a, B: AutodiffBackend> {
    task: &'a SupervisedTask,
    batcher: ArrayBatcher,
    /// Full-batch GD sees the same batch every step: its tensors are made once.
    full_batch: Option<Batch<B>>,
    eval_sets: EvalSets<B::InnerBackend>,
    training: TrainingSet<B>,
    device: B::Device,
}

impl<'a, B: AutodiffBackend> SupervisedWalk<'a, B> {
    /// The walk of `task` with batches from `plan`, on `device`.
    pub fn new(task: &'a SupervisedTask, plan: &BatchPlan, device: &B::Device) -> Self {
        let batcher = ArrayBatcher::new(Arc::clone(&task.train));
        let full_batch = plan
            .is_fixed_full_batch()
            .then(|| batcher.assemble::<B>(&(0..task.train.len()).collect::<Vec<_>>(), device));
        SupervisedWalk {
            task,
            batcher,
            full_batch,
            eval_sets: task.eval_sets::<B::InnerBackend>(device),
            training: TrainingSet::<B>::new(task),
            device: device.clone(),
        }
    }
}

impl<B: AutodiffBackend> Walk<B> for SupervisedWalk<'_, B> {
    type Module = AnyModel<B>;

    fn loss(&self, model: &AnyModel<B>, batch: &[usize]) -> Result<Tensor<B, 1>> {
        match &self.full_batch {
            Some(whole) => self.task.loss_on(model, whole.clone()),
            None => self.task.loss(model, &self.batcher, batch, &self.device),
        }
    }

    fn evaluate(&self, model: &AnyModel<B::InnerBackend>) -> Result<Evaluation> {
        self.task.evaluate(model, &self.eval_sets)
    }

    fn subject<'s>(&'s self, model: &AnyModel<B>) -> Box<dyn Subject + 's> {
        Box::new(ModelSubject::new(
            self.task,
            model.clone(),
            &self.training,
            &self.device,
        ))
    }
}
