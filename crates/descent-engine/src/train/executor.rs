//! The loop of one run: it owns the steps (batch, gradient, clipping, optimizer or SAM step)
//! and hands every step to its observers before the update.
//!
//! The hot loop does per step: assemble the batch, forward, backward, (clip), step. Reading a
//! value back from the device (a sync on a GPU) happens only on logged steps
//! (`eval.log_every`), evaluations only every `eval.every` steps.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use descent_data::{BatchPlan, Epoch};
use descent_optim::clip::Clipping;
use descent_optim::sam::Sam;

use crate::config::RunSpec;
use crate::optim::{AnyOptimizer, LrPlan};
use crate::output;
use crate::probe::subject::flatten;
use crate::state::{
    Finished, Limits, MetricsRow, Progress, Progressed, RunRecord, RunStatus, TargetReached,
};

use super::observe::{At, Checkpoints, Clock, Divergence, Observer, Rate, TargetWatch};
use super::walk::{DirectGradient, Walk};
use super::{clip, sharp_gradient};

/// What every run's loop is given besides its problem, module, optimizer and observers.
pub(crate) struct Setup<'a, B: AutodiffBackend> {
    pub run: &'a RunSpec,
    pub dir: &'a Path,
    pub device: &'a B::Device,
    /// Sharpness-aware minimisation: the gradient is taken at the ascent point.
    pub sam: Option<Sam>,
    pub lr: &'a LrPlan,
    pub plan: &'a BatchPlan,
    pub limits: Limits,
    pub progress: Progress<'a>,
}

/// The observers of a run on walk `W`.
pub(crate) type Observers<'o, B, W> = Vec<Box<dyn Observer<B, W> + 'o>>;

/// Runs the loop of `setup` on `walk` from `module` (or from the run's checkpoint), with
/// `observers` looking at every step, and writes the run's files.
pub(crate) fn run<B: AutodiffBackend, W: Walk<B>>(
    setup: &Setup<B>,
    walk: &W,
    module: W::Module,
    optimizer: AnyOptimizer<W::Module, B>,
    mut observers: Observers<'_, B, W>,
) -> Result<Finished> {
    let (run, limits) = (setup.run, setup.limits);
    let checkpoints = Checkpoints::new(setup.dir, fingerprint::<B>(run)?, limits.checkpoint_every);
    let (mut module, mut optimizer, mut state) =
        checkpoints.restore(module, optimizer, &mut observers, setup.device)?;
    let mut rate = Rate::new(setup.lr, &state);
    let clock = Clock::start(state.seconds_before);
    let mut target = TargetWatch::new(run.experiment.target.clone(), &state);
    let divergence = Divergence(&run.experiment.divergence);
    let stepper = Stepper {
        sam: setup.sam.as_ref(),
        clipping: setup.lr.clipping,
    };
    let mut batches = Batches::new(setup.plan);

    let status = loop {
        let step = state.step;
        let last = limits.steps.is_some_and(|s| step >= s)
            || limits.seconds.is_some_and(|s| clock.now() >= s)
            || (run.experiment.budget.until_target && target.reached().is_some());
        let (logged, evaluated) = (
            step.is_multiple_of(limits.log_every) || last,
            step.is_multiple_of(limits.eval_every) || last,
        );
        let (epoch, batch) = batches.at(step)?;
        let lr = rate.at(step);
        // Nesterov's look-ahead form takes the gradient elsewhere; the same parameter ids
        // make that gradient step the module itself.
        let point = optimizer.gradient_point(module.clone(), lr);
        let forward = stepper.forward(walk, &point, batch, logged)?;
        let mut row = MetricsRow {
            step,
            epoch,
            samples: state.samples,
            ..MetricsRow::default()
        };
        if logged {
            row.train_loss = Some(forward.loss_value()?);
        }
        let diverged = row
            .train_loss
            .is_some_and(|value| divergence.check(value, &mut state));
        let mut at = At {
            step,
            last,
            logged,
            evaluated,
            diverged,
            walk,
            module: &module,
            optimizer: &optimizer,
            row: &mut row,
            state: &mut state,
            clock: &clock,
            target: &mut target,
        };
        for observer in &mut observers {
            observer.observe(&mut at)?;
        }
        rate.observe(&row);

        if diverged || last {
            // Both imply a logged step, so this row is always kept.
            keep(row, &mut state, &mut target, &clock);
            break if diverged {
                RunStatus::Diverged { step }
            } else {
                RunStatus::Finished
            };
        }

        let (grads, norm) = stepper.gradient(walk, point, forward, &module, batch, logged)?;
        if logged || evaluated {
            row.lr = Some(lr);
            row.grad_norm = norm;
            keep(row, &mut state, &mut target, &clock);
        }
        module = optimizer.step(lr, module, grads);
        state.step += 1;
        state.samples += batch.len() as u64;
        (setup.progress)(state.step, limits.steps);

        if checkpoints.due(state.step) {
            clock.excluded(|| {
                let mut progress = state.clone();
                progress.seconds_before = clock.now();
                progress.plateau = rate.save();
                checkpoints.write(progress, &observers, &module, &optimizer)
            })?;
        }
    };
    finish(setup, status, state, target.reached(), &module)
}

/// Writes the finished run's tables and record.
fn finish<B: AutodiffBackend, M: AutodiffModule<B>>(
    setup: &Setup<B>,
    status: RunStatus,
    state: Progressed,
    target: TargetReached,
    module: &M,
) -> Result<Finished> {
    let record = RunRecord::new(setup.run, status, &state, target, setup.limits);
    let parameters = flatten(module);
    // Before run.json: a run counts as finished only with everything it leaves.
    if setup.run.experiment.barriers.is_some() {
        output::write_parameters(setup.dir, &parameters)?;
    }
    output::write_run(setup.dir, &state, &record)?;
    Ok(Finished {
        record,
        parameters,
        rows: state.rows,
        timing: state.timing,
    })
}

/// Keeps a row in the run's tables, with its time, noting the target on it.
fn keep(row: MetricsRow, state: &mut Progressed, target: &mut TargetWatch, clock: &Clock) {
    let now = clock.now();
    state.timing.push((row.step, now));
    target.note_row(&row, now);
    state.rows.push(row);
}

/// What a checkpoint must match to be resumed: the run, the backend, the resolved experiment.
fn fingerprint<B: AutodiffBackend>(run: &RunSpec) -> Result<String> {
    Ok(format!(
        "{}|{}|{}",
        run.id,
        std::any::type_name::<B>(),
        toml::to_string(&run.experiment)
            .context("the resolved experiment cannot be written as TOML")?
    ))
}

/// The batches of each step, one epoch's order at a time.
struct Batches<'a> {
    plan: &'a BatchPlan,
    epoch: Option<(u64, Epoch)>,
}

impl<'a> Batches<'a> {
    fn new(plan: &'a BatchPlan) -> Self {
        Batches { plan, epoch: None }
    }

    /// The epoch of step `step` and the items of its batch.
    fn at(&mut self, step: u64) -> Result<(u64, &[usize])> {
        let (epoch_index, batch_index) = self.plan.locate(step);
        if self.epoch.as_ref().is_none_or(|(e, _)| *e != epoch_index) {
            self.epoch = Some((epoch_index, self.plan.epoch(epoch_index)));
        }
        let batch = self
            .epoch
            .as_ref()
            .and_then(|(_, e)| e.batch(batch_index))
            .context("internal error: the batch plan has no batch for this step")?;
        Ok((epoch_index, batch))
    }
}

/// A step's forward pass: a closed-form gradient, or the loss with its autodiff graph.
enum Forward<B: AutodiffBackend> {
    Direct(DirectGradient),
    Loss(Tensor<B, 1>),
}

impl<B: AutodiffBackend> Forward<B> {
    /// The batch loss's value (a read from the device).
    fn loss_value(&self) -> Result<f64> {
        match self {
            Forward::Direct((_, Some(value))) => Ok(*value),
            Forward::Loss(loss) => Ok(loss.clone().into_scalar().elem()),
            Forward::Direct((_, None)) => bail!("internal error: a logged step without its loss"),
        }
    }
}

/// The step function: the gradient (closed form, or backward through the graph, or SAM's at
/// its ascent point) and its clipping.
struct Stepper<'a> {
    sam: Option<&'a Sam>,
    clipping: Option<Clipping>,
}

impl Stepper<'_> {
    /// The forward pass at `point`. SAM needs the graph to take its ascent step; elsewhere a
    /// closed-form gradient (with the loss's value on logged steps) replaces the graph and
    /// its backward pass.
    fn forward<B: AutodiffBackend, W: Walk<B>>(
        &self,
        walk: &W,
        point: &W::Module,
        batch: &[usize],
        logged: bool,
    ) -> Result<Forward<B>> {
        let direct = match self.sam {
            Some(_) => None,
            None => walk.direct_gradient(point, logged)?,
        };
        Ok(match direct {
            Some(direct) => Forward::Direct(direct),
            None => Forward::Loss(walk.loss(point, batch)?),
        })
    }

    /// The clipped gradient of `forward` at `point` (which is then dropped), with its global
    /// norm before clipping when `logged`.
    fn gradient<B: AutodiffBackend, W: Walk<B>>(
        &self,
        walk: &W,
        point: W::Module,
        forward: Forward<B>,
        module: &W::Module,
        batch: &[usize],
        logged: bool,
    ) -> Result<(GradientsParams, Option<f64>)> {
        let grads = match forward {
            Forward::Direct((grads, _)) => grads,
            Forward::Loss(loss) => GradientsParams::from_grads(loss.backward(), &point),
        };
        let grads = match self.sam {
            Some(sam) => sharp_gradient(sam, &point, &grads, |m| walk.loss(m, batch))?,
            None => grads,
        };
        // The gradient point shares the module's parameter buffers (it is the module itself
        // but for Nesterov's look-ahead form): dropped now, the fused optimizer steps update
        // the buffers in place instead of copying each first.
        drop(point);
        clip(self.clipping, module, grads, logged)
    }
}
