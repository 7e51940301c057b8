//! Learning-rate schedules, each a pure function of the step at heart.
//!
//! A schedule implements [`Schedule`]: `lr(k)` is the learning rate used by the
//! `(k+1)`-th optimizer step, exactly PyTorch's convention of reading
//! `param_groups[0]["lr"]` after `k` calls of `scheduler.step()`. Because the function
//! has no state, it can be plotted, tested and resumed at any step.
//! [`Scheduler`] wraps any schedule as burn's [`LrScheduler`](burn::lr_scheduler::LrScheduler), whose record is only
//! the step counter.
//!
//! | schedule | PyTorch / source |
//! |---|---|
//! | [`ConstantLr`] | `ConstantLR` |
//! | [`StepLr`] | `StepLR` |
//! | [`MultiStepLr`] | `MultiStepLR` |
//! | [`ExponentialLr`] | `ExponentialLR` |
//! | [`CosineAnnealingLr`] | `CosineAnnealingLR` |
//! | [`CosineAnnealingWarmRestarts`] | `CosineAnnealingWarmRestarts` |
//! | [`LinearLr`] | `LinearLR` |
//! | [`PolynomialLr`] | `PolynomialLR` |
//! | [`CyclicLr`] | `CyclicLR` (learning rate and momentum) |
//! | [`OneCycleLr`] | `OneCycleLR` (learning rate and momentum) |
//! | [`SequentialLr`] | `SequentialLR` |
//! | [`LambdaLr`], [`MultiplicativeLr`] | `LambdaLR`, `MultiplicativeLR` (closures) |
//! | [`InverseSqrtLr`] | Noam / fairseq `inverse_sqrt` (no PyTorch class) |
//! | [`WarmupStableDecay`] | WSD (no PyTorch class) |
//! | [`ReduceLrOnPlateau`] | `ReduceLROnPlateau` (stateful: driven by a metric) |
//!
//! [`ScheduleConfig`] holds any of the serialisable ones, for experiment files.

use burn::optim::LearningRate;

mod config;
mod constant;
mod cosine;
mod cyclic;
mod exponential;
mod inverse_sqrt;
mod lambda;
mod linear;
mod multistep;
mod one_cycle;
mod plateau;
mod polynomial;
mod sequential;
mod step;
mod warm_restarts;
mod wsd;

pub use config::ScheduleConfig;
pub use constant::{ConstantLr, ConstantLrConfig};
pub use cosine::{CosineAnnealingLr, CosineAnnealingLrConfig};
pub use cyclic::{CyclicLr, CyclicLrConfig, CyclicMode};
pub use exponential::{ExponentialLr, ExponentialLrConfig};
pub use inverse_sqrt::{InverseSqrtLr, InverseSqrtLrConfig};
pub use lambda::{LambdaLr, LrLambda, MultiplicativeLr};
pub use linear::{LinearLr, LinearLrConfig};
pub use multistep::{MultiStepLr, MultiStepLrConfig};
pub use one_cycle::{AnnealStrategy, OneCycleLr, OneCycleLrConfig};
pub use plateau::{
    PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, ReduceLrOnPlateauRecord, ThresholdMode,
};
pub use polynomial::{PolynomialLr, PolynomialLrConfig};
pub use sequential::{SequentialLr, SequentialLrConfig};
pub use step::{StepLr, StepLrConfig};
pub use warm_restarts::{CosineAnnealingWarmRestarts, CosineAnnealingWarmRestartsConfig};
pub use wsd::{DecayShape, WarmupStableDecay, WarmupStableDecayConfig};

/// A learning-rate schedule as a pure function of the step.
pub trait Schedule: Send + Sync + core::fmt::Debug {
    /// Learning rate for the `(step + 1)`-th optimizer step (`step` counts from 0).
    fn lr(&self, step: usize) -> LearningRate;

    /// Momentum (or Adam's `beta_1`) this schedule cycles together with the learning rate,
    /// if any (PyTorch's `cycle_momentum` of `CyclicLR` and `OneCycleLR`).
    fn momentum(&self, _step: usize) -> Option<f64> {
        None
    }
}

impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn lr(&self, step: usize) -> LearningRate {
        (**self).lr(step)
    }
    fn momentum(&self, step: usize) -> Option<f64> {
        (**self).momentum(step)
    }
}

impl<S: Schedule + ?Sized> Schedule for std::sync::Arc<S> {
    fn lr(&self, step: usize) -> LearningRate {
        (**self).lr(step)
    }
    fn momentum(&self, step: usize) -> Option<f64> {
        (**self).momentum(step)
    }
}

/// Any [`Schedule`] as burn's stateful [`LrScheduler`](burn::lr_scheduler::LrScheduler).
///
/// The only state is the number of steps taken, so its record is a `usize` and a
/// schedule resumed from a record continues exactly where it stopped.
#[derive(Clone, Debug)]
pub struct Scheduler<S> {
    schedule: S,
    step: usize,
}

impl<S: Schedule> Scheduler<S> {
    /// Wrap `schedule`, starting at step 0.
    pub fn new(schedule: S) -> Self {
        Self { schedule, step: 0 }
    }

    /// The wrapped pure schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// How many learning rates `LrScheduler::step` has handed out so far.
    pub fn steps_taken(&self) -> usize {
        self.step
    }

    /// The momentum that goes with the learning rate the *last* call of `step` returned
    /// (or with the first one, before any call), for schedules that cycle momentum.
    pub fn momentum(&self) -> Option<f64> {
        self.schedule.momentum(self.step.saturating_sub(1))
    }
}

impl<S: Schedule> Scheduler<S> {
    /// The learning rate of the next step, counting that step: what every burn version's
    /// `LrScheduler::step` returns.
    pub(crate) fn advance(&mut self) -> LearningRate {
        let lr = self.schedule.lr(self.step);
        self.step = self.step.saturating_add(1);
        lr
    }

    /// Resume after `steps` steps (from a record).
    pub(crate) fn set_steps_taken(&mut self, steps: usize) {
        self.step = steps;
    }
}

#[cfg(feature = "burn-0-21")]
impl<S: Schedule + Clone> burn::lr_scheduler::LrScheduler for Scheduler<S> {
    type Record<B: burn::tensor::backend::Backend> = usize;

    fn step(&mut self) -> LearningRate {
        self.advance()
    }

    fn to_record<B: burn::tensor::backend::Backend>(&self) -> Self::Record<B> {
        self.step
    }

    fn load_record<B: burn::tensor::backend::Backend>(mut self, record: Self::Record<B>) -> Self {
        self.set_steps_taken(record);
        self
    }
}
