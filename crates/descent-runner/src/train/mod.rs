//! One run: the optimisation loop, its measurements, checkpoints and divergence.
//!
//! The hot loop does per step: assemble the batch, forward, backward, (clip), step. Reading a
//! value back from the device (a sync on a GPU) happens only on logged steps
//! (`eval.log_every`), evaluations only every `eval.every` steps.

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, Module};
use burn::optim::GradientsParams;
use burn::record::{BinBytesRecorder, DoublePrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use descent_data::{ArrayBatcher, BatchPlan, Epoch};

use crate::backend::{self, BackendChoice, OnBackend, Precision};
use crate::config::{Experiment, RunSpec, Target};
use crate::error::UsageError;
use crate::optim::{AnyOptimizer, LrPlan, lr_plan, optimizer_config, sharpness_aware};
use crate::output::{self, Checkpoint};
use crate::probe::{
    LandscapeSubject, ModelSubject, Probes, Subject, TrainingSet, subject::flatten,
};
use crate::problem::{Evaluation, LandscapeTask, Task};
use crate::state::{
    Finished, Limits, MetricsRow, Progress, Progressed, RunRecord, RunStatus, TargetReached,
    TrajectoryRow,
};
use descent_optim::clip::Clipping;
use descent_optim::sam::Sam;
use descent_optim::schedule::ReduceLrOnPlateauRecord;

/// The budget and cadences of `experiment` on `task` with `plan`.
pub fn limits(experiment: &Experiment, task: &Task, plan: &BatchPlan) -> Limits {
    let per_epoch = plan.batches_per_epoch() as u64;
    let by_epochs = experiment
        .budget
        .epochs
        .map(|e| e.saturating_mul(per_epoch));
    let steps = match (experiment.budget.steps, by_epochs) {
        (Some(s), Some(e)) => Some(s.min(e)),
        (s, e) => s.or(e),
    };
    let default_eval = match task {
        Task::Landscape(_) => experiment.eval.log_every,
        Task::Supervised(_) => steps.map_or(per_epoch, |s| (s / 20).max(1)),
    };
    Limits {
        steps,
        seconds: experiment.budget.seconds,
        batches_per_epoch: per_epoch,
        log_every: experiment.eval.log_every,
        eval_every: experiment.eval.every.unwrap_or(default_eval),
        checkpoint_every: experiment.checkpoint.every,
    }
}

/// Runs `run` on `backend` at `precision` into `dir` (resuming from its checkpoint when there
/// is one). A sweep over the problem's own fields gets its own task.
pub fn run_one(
    backend: BackendChoice,
    precision: Precision,
    task: &Task,
    run: &RunSpec,
    dir: &Path,
    progress: Progress,
) -> Result<Finished> {
    let rebuilt;
    let task = if run.sweeps_problem() {
        rebuilt = Task::build(&run.experiment.problem).map_err(anyhow::Error::msg)?;
        &rebuilt
    } else {
        task
    };
    let one = || {
        backend::dispatch(
            backend,
            precision,
            OneRun {
                task,
                run,
                dir,
                progress,
            },
        )
    };
    if backend.is_cpu() {
        on_pool_thread(one)
    } else {
        // A GPU run waits on its device, not on CPU threads.
        one()
    }
}

/// Runs `work` on a thread of a rayon pool: in place where this thread is one already (the
/// run pool installs one per job), else on a [`run_pool`] of its own, or here where none can
/// be started.
///
/// The CPU backends split their matrix products (flex) and optimizer steps over the rayon
/// pool they are called from. From a thread outside it, each split is sent to the pool and
/// waited for, and the pool's idle threads compete for the cores with this one; on one of
/// its threads the split runs there and the others take halves. Measured on the
/// Fashion-MNIST MLP (flex, 2 cores, B = 128): 1.75 ms per step outside the pool, 1.18 ms
/// on it. The pool is not rayon's global one: a thread of a shared pool that waits for a
/// stolen half takes whatever work is queued, another caller's whole run included (and a
/// run's autodiff graph stays locked meanwhile).
pub fn on_pool_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return work();
    }
    match run_pool(None) {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// A rayon pool for runs on a CPU backend, of `threads` threads (at least one; default:
/// rayon's, one per core); `None` where it cannot be started.
pub fn run_pool(threads: Option<usize>) -> Option<rayon::ThreadPool> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n.max(1));
    }
    builder.build().ok()
}

struct OneRun<'a> {
    task: &'a Task,
    run: &'a RunSpec,
    dir: &'a Path,
    progress: Progress<'a>,
}

impl OnBackend for OneRun<'_> {
    type Output = Finished;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Finished> {
        execute::<B>(self.task, self.run, self.dir, &device, self.progress)
    }
}

/// Runs `run` on backend `B` into `dir`, resuming from its checkpoint when there is one.
pub fn execute<B: AutodiffBackend>(
    task: &Task,
    run: &RunSpec,
    dir: &Path,
    device: &B::Device,
    progress: Progress,
) -> Result<Finished> {
    let experiment = &run.experiment;
    let variant = &experiment.variants[0];
    let plan = task
        .batch_plan(&experiment.batch, run.seed)
        .map_err(anyhow::Error::msg)?;
    let limits = limits(experiment, task, &plan);
    let lr = lr_plan(variant, limits.steps).map_err(anyhow::Error::msg)?;
    let optimizer = optimizer_config(variant, run.seed).map_err(anyhow::Error::msg)?;
    let sam = sharpness_aware(variant).map_err(anyhow::Error::msg)?;
    let probes = Probes::build(
        &experiment.measure,
        task,
        limits.eval_every,
        limits.batches_per_epoch,
        run.seed,
    )
    .map_err(anyhow::Error::msg)?;
    let context = LoopContext {
        run,
        dir,
        device,
        sam,
        lr: &lr,
        plan: &plan,
        limits,
        progress,
    };
    match task {
        Task::Landscape(t) => run_loop(
            &context,
            landscape_point(t, context.sam.is_some(), device)?,
            optimizer.init()?,
            probes,
            Walker {
                loss: |m: &descent_models::Point<B>, batch: &[usize]| t.loss(m, batch),
                gradient: |m: &descent_models::Point<B>, with_loss: bool| t.gradient(m, with_loss),
                evaluate: |m: &descent_models::Point<B::InnerBackend>| t.evaluate(m),
                coordinates: |m: &descent_models::Point<B>| Some(m.coordinates()),
                landscape_value: |w: &[f64]| t.landscape.value(w).ok(),
                subject: |m: &descent_models::Point<B>| -> Box<dyn Subject + '_> {
                    Box::new(LandscapeSubject::new(t, m.coordinates()))
                },
            },
        ),
        Task::Supervised(t) => {
            let batcher = ArrayBatcher::new(Arc::clone(&t.train));
            // Full-batch GD sees the same batch every step: its tensors are made once.
            let full_batch = plan
                .is_fixed_full_batch()
                .then(|| batcher.assemble::<B>(&(0..t.train.len()).collect::<Vec<_>>(), device));
            let eval_sets = t.eval_sets::<B::InnerBackend>(device);
            let training = TrainingSet::<B>::new(t);
            run_loop(
                &context,
                t.init::<B>(run.seed, device)?,
                optimizer.init()?,
                probes,
                Walker {
                    loss: |m: &descent_models::AnyModel<B>, batch: &[usize]| match &full_batch {
                        Some(whole) => t.loss_on(m, whole.clone()),
                        None => t.loss(m, &batcher, batch, device),
                    },
                    gradient: |_: &descent_models::AnyModel<B>, _: bool| Ok(None),
                    evaluate: |m: &descent_models::AnyModel<B::InnerBackend>| {
                        t.evaluate(m, &eval_sets)
                    },
                    coordinates: |_: &descent_models::AnyModel<B>| None,
                    landscape_value: |_: &[f64]| None,
                    subject: |m: &descent_models::AnyModel<B>| -> Box<dyn Subject + '_> {
                        Box::new(ModelSubject::new(t, m.clone(), &training, device))
                    },
                },
            )
        }
    }
}

/// The run's start on landscape `t`, its coordinates untracked by autodiff where the loop
/// never takes a backward pass (a closed-form gradient, no SAM): an optimizer step marks a
/// tracked parameter as requiring gradients again, which registers it in burn-autodiff's
/// process-wide graph map, and only a backward pass removes such entries. Tracked, a
/// 3000-step run kept ~5 MB to its end (a 48-run sweep grew to 260 MB), and every step of
/// every parallel run took that map's one lock. The values, and so the trajectory, are the
/// same either way.
fn landscape_point<B: AutodiffBackend>(
    t: &LandscapeTask,
    sam: bool,
    device: &B::Device,
) -> Result<descent_models::Point<B>> {
    let point = t.init::<B>(device)?;
    Ok(if t.has_closed_form_gradient() && !sam {
        point.no_grad()
    } else {
        point
    })
}

/// What every run's loop is given besides its module and optimizer.
struct LoopContext<'a, B: AutodiffBackend> {
    run: &'a RunSpec,
    dir: &'a Path,
    device: &'a B::Device,
    /// Sharpness-aware minimisation: the gradient is taken at the ascent point.
    sam: Option<Sam>,
    lr: &'a LrPlan,
    plan: &'a BatchPlan,
    limits: Limits,
    progress: Progress<'a>,
}

/// The problem-specific parts of the loop.
struct Walker<L, G, E, C, V, S> {
    loss: L,
    /// The gradient without the autodiff graph, where the problem has it in closed form
    /// (equal to the graph's; `None` elsewhere), and on request the loss's value.
    gradient: G,
    evaluate: E,
    coordinates: C,
    landscape_value: V,
    /// The probes' view of the module.
    subject: S,
}

fn run_loop<'s, B, M, L, G, E, C, V, S>(
    context: &LoopContext<B>,
    mut module: M,
    mut optimizer: AnyOptimizer<M, B>,
    mut probes: Probes,
    walker: Walker<L, G, E, C, V, S>,
) -> Result<Finished>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + Clone,
    L: Fn(&M, &[usize]) -> Result<Tensor<B, 1>>,
    G: Fn(&M, bool) -> Result<Option<(GradientsParams, Option<f64>)>>,
    E: Fn(&M::InnerModule) -> Result<Evaluation>,
    C: Fn(&M) -> Option<Vec<f64>>,
    V: Fn(&[f64]) -> Option<f64>,
    S: Fn(&M) -> Box<dyn Subject + 's>,
{
    let LoopContext {
        run,
        dir,
        device,
        ref sam,
        lr,
        plan,
        limits,
        progress,
    } = *context;
    let experiment = &run.experiment;
    let recorder = BinBytesRecorder::<DoublePrecisionSettings>::default();
    let fingerprint = format!(
        "{}|{}|{}",
        run.id,
        std::any::type_name::<B>(),
        toml::to_string(experiment).context("the resolved experiment cannot be written as TOML")?
    );
    let mut state = Progressed {
        fingerprint: fingerprint.clone(),
        ..Progressed::default()
    };
    if let Some(checkpoint) = output::read_checkpoint(dir)? {
        let path = dir.join("checkpoint.bin");
        if checkpoint.progress.fingerprint != fingerprint {
            return Err(UsageError(format!(
                "{}: written by a run with another configuration or backend; delete it to \
                 restart this run from the beginning",
                path.display()
            ))
            .into());
        }
        let record = recorder
            .load(checkpoint.module, device)
            .with_context(|| format!("{}: model record", path.display()))?;
        module = module.load_record(record);
        optimizer = optimizer
            .load(checkpoint.optimizer, device)
            .with_context(|| format!("{}: optimizer record", path.display()))?;
        state = checkpoint.progress;
        probes.restore(state.probes.clone());
    }
    let mut plateau = lr.plateau.clone();
    if let (Some(p), Some((lr, best, num_bad_epochs, cooldown_counter, last_epoch))) =
        (plateau.as_mut(), state.plateau)
    {
        p.schedule = p.schedule.clone().load_record(ReduceLrOnPlateauRecord {
            lr,
            best,
            num_bad_epochs,
            cooldown_counter,
            last_epoch,
        });
    }
    // The run's training clock: moved forward over evaluations, probes and checkpoints,
    // which it does not count (time-to-target measures training alone).
    let started = Cell::new(Instant::now());
    let elapsed = |state: &Progressed| state.seconds_before + started.get().elapsed().as_secs_f64();
    let mut epoch_cache: Option<(u64, Epoch)> = None;
    let mut status = RunStatus::Finished;
    let divergence = &experiment.divergence;
    let target = experiment.target.clone();
    let mut target_reached = state_target(&state, target.as_ref());

    loop {
        let step = state.step;
        let out_of_steps = limits.steps.is_some_and(|s| step >= s);
        let out_of_time = limits.seconds.is_some_and(|s| elapsed(&state) >= s);
        let last = out_of_steps || out_of_time;
        let (epoch_index, batch_index) = plan.locate(step);
        if epoch_cache.as_ref().is_none_or(|(e, _)| *e != epoch_index) {
            epoch_cache = Some((epoch_index, plan.epoch(epoch_index)));
        }
        let batch: &[usize] = epoch_cache
            .as_ref()
            .and_then(|(_, e)| e.batch(batch_index))
            .context("internal error: the batch plan has no batch for this step")?;
        let logged = step.is_multiple_of(limits.log_every) || last;
        let evaluated = step.is_multiple_of(limits.eval_every) || last;

        let rate = match &plateau {
            Some(p) => p.schedule.lr(),
            None => lr.lr(step),
        };
        // Nesterov's look-ahead form takes the gradient elsewhere; the same parameter ids
        // make that gradient step the module itself.
        let point = optimizer.gradient_point(module.clone(), rate);
        // SAM needs the graph to take its ascent step; elsewhere a closed-form gradient
        // (with the loss's value on logged steps) replaces the graph and its backward pass.
        let direct = match sam {
            Some(_) => None,
            None => (walker.gradient)(&point, logged)?,
        };
        let loss = match direct {
            Some(_) => None,
            None => Some((walker.loss)(&point, batch)?),
        };
        let mut row = MetricsRow {
            step,
            epoch: epoch_index,
            samples: state.samples,
            ..MetricsRow::default()
        };
        let mut diverged = false;
        if logged {
            let value: f64 = match (&direct, &loss) {
                (Some((_, Some(value))), _) => *value,
                (_, Some(loss)) => loss.clone().into_scalar().elem(),
                _ => bail!("internal error: a logged step without its loss"),
            };
            row.train_loss = Some(value);
            let reference = *state.initial_loss.get_or_insert(value);
            let threshold = divergence
                .max_loss
                .unwrap_or(f64::INFINITY)
                .min(divergence.factor * reference.abs().max(1.0));
            diverged = !value.is_finite() || value > threshold;
        }
        if evaluated && !diverged {
            let began = Instant::now();
            let eval_module = optimizer.eval_point(module.clone()).valid();
            let evaluation = (walker.evaluate)(&eval_module)?;
            row.val_loss = evaluation.val_loss;
            row.val_accuracy = evaluation.val_accuracy;
            row.test_loss = evaluation.test_loss;
            row.test_accuracy = evaluation.test_accuracy;
            for (name, value) in evaluation.extra {
                state.measurements.push((step, name.to_string(), value));
            }
            started.set(started.get() + began.elapsed());
            // A plateau schedule watches the evaluations; the new rate holds from the next step.
            if let Some(p) = plateau.as_mut()
                && let Some(value) = row.get(p.metric)
            {
                p.schedule.step(value);
            }
        }
        if !diverged && probes.due(step, last) {
            let began = Instant::now();
            let mut subject = (walker.subject)(&module);
            let measured = probes.measure(subject.as_mut(), step, last)?;
            started.set(started.get() + began.elapsed());
            note_measured_target(
                &mut target_reached,
                target.as_ref(),
                step,
                &measured,
                elapsed(&state),
            );
            for (name, value) in measured {
                state.measurements.push((step, name, value));
            }
        }
        // Schedule-Free trains at y and is evaluated at its average x: the trajectory shows x.
        if logged && let Some(w) = (walker.coordinates)(&optimizer.eval_point(module.clone())) {
            let value = (walker.landscape_value)(&w);
            state.trajectory.push(TrajectoryRow {
                step,
                w,
                loss: value,
            });
        }

        if diverged || last {
            // Both imply a logged step, so this row is always kept.
            let now = elapsed(&state);
            state.timing.push((step, now));
            note_target(&mut target_reached, target.as_ref(), &row, now);
            state.rows.push(row);
            if diverged {
                status = RunStatus::Diverged { step };
            }
            break;
        }

        let grads = match (direct, loss) {
            (Some((grads, _)), _) => grads,
            (None, Some(loss)) => GradientsParams::from_grads(loss.backward(), &point),
            (None, None) => bail!("internal error: neither a gradient nor a loss"),
        };
        let grads = match sam {
            Some(sam) => sharp_gradient(sam, &point, &grads, |m| (walker.loss)(m, batch))?,
            None => grads,
        };
        // The gradient point shares the module's parameter buffers (it is the module itself
        // but for Nesterov's look-ahead form): dropped now, the fused optimizer steps update
        // the buffers in place instead of copying each first.
        drop(point);
        let (grads, norm) = clip(lr.clipping, &module, grads, logged)?;
        if logged || evaluated {
            row.lr = Some(rate);
            row.grad_norm = norm;
            let now = elapsed(&state);
            state.timing.push((step, now));
            note_target(&mut target_reached, target.as_ref(), &row, now);
            state.rows.push(row);
        }
        module = optimizer.step(rate, module, grads);
        state.step += 1;
        state.samples += batch.len() as u64;
        progress(state.step, limits.steps);

        if limits.checkpoint_every > 0 && state.step.is_multiple_of(limits.checkpoint_every) {
            let began = Instant::now();
            let mut progress = state.clone();
            progress.seconds_before = elapsed(&state);
            progress.probes = probes.save();
            progress.plateau = plateau.as_ref().map(|p| {
                let r = p.schedule.to_record();
                (
                    r.lr,
                    r.best,
                    r.num_bad_epochs,
                    r.cooldown_counter,
                    r.last_epoch,
                )
            });
            let checkpoint = Checkpoint {
                progress,
                module: recorder.record(module.clone().into_record(), ())?,
                optimizer: optimizer.save()?,
            };
            output::write_partial(dir, &checkpoint)?;
            started.set(started.get() + began.elapsed());
        }
    }
    let record = RunRecord::new(run, status, &state, target_reached, limits);
    output::write_run(dir, &state, &record)?;
    Ok(Finished {
        record,
        parameters: flatten(&module),
        rows: state.rows,
        timing: state.timing,
    })
}

/// SAM's gradient: the loss's gradient at `point`'s ascent point for `grads` (the parameter
/// ids are `point`'s, so it steps `point`).
pub(crate) fn sharp_gradient<B: AutodiffBackend, M: AutodiffModule<B> + Clone>(
    sam: &Sam,
    point: &M,
    grads: &GradientsParams,
    loss: impl Fn(&M) -> Result<Tensor<B, 1>>,
) -> Result<GradientsParams> {
    let ascent = sam.ascent_point(point.clone(), grads);
    let at_ascent = loss(&ascent)?;
    Ok(GradientsParams::from_grads(at_ascent.backward(), &ascent))
}

/// `grads` clipped as `clipping` says, with the global norm before clipping when `want_norm`
/// (it costs a reduction, so the loop asks only on logged steps; norm clipping has it anyway).
pub(crate) fn clip<B: AutodiffBackend, M: AutodiffModule<B>>(
    clipping: Option<Clipping>,
    module: &M,
    grads: GradientsParams,
    want_norm: bool,
) -> Result<(GradientsParams, Option<f64>)> {
    Ok(match clipping {
        Some(clipping @ Clipping::GlobalNorm(_)) => {
            let (g, n) = clipping.apply(module, grads)?;
            (g, want_norm.then_some(n))
        }
        Some(Clipping::Value(max)) => {
            let n = want_norm.then(|| descent_optim::clip::global_grad_norm(module, &grads));
            (descent_optim::clip::clip_grad_value(module, grads, max)?, n)
        }
        None if want_norm => {
            let n = descent_optim::clip::global_grad_norm(module, &grads);
            (grads, Some(n))
        }
        None => (grads, None),
    })
}

fn reached(target: &Target, row: &MetricsRow) -> bool {
    row.get(target.metric)
        .is_some_and(|v| target.metric.reaches(v, target.value))
}

fn note_target(
    reached_at: &mut TargetReached,
    target: Option<&Target>,
    row: &MetricsRow,
    seconds: f64,
) {
    if reached_at.is_none()
        && let Some(t) = target
        && reached(t, row)
    {
        *reached_at = Some((row.step, seconds));
    }
}

fn state_target(state: &Progressed, target: Option<&Target>) -> TargetReached {
    let t = target?;
    if t.metric.measured() {
        // Measured targets are noted as they are measured; a resumed run finds the first one
        // again in its measurements (the time is that of the nearest row at or after it).
        let step = state
            .measurements
            .iter()
            .find(|(_, name, v)| name == t.metric.name() && t.metric.reaches(*v, t.value))
            .map(|(step, _, _)| *step)?;
        let seconds = state
            .timing
            .iter()
            .find(|(s, _)| *s >= step)
            .map_or(state.seconds_before, |(_, s)| *s);
        return Some((step, seconds));
    }
    state
        .rows
        .iter()
        .zip(&state.timing)
        .find(|(row, _)| reached(t, row))
        .map(|(row, (_, s))| (row.step, *s))
}

/// Notes a target on a probe measurement (`full_train_loss`) the first time it is reached:
/// only the values just measured at `step` are looked at.
fn note_measured_target(
    reached_at: &mut TargetReached,
    target: Option<&Target>,
    step: u64,
    measured: &[(String, f64)],
    seconds: f64,
) {
    if reached_at.is_none()
        && let Some(t) = target
        && t.metric.measured()
        && measured
            .iter()
            .any(|(name, v)| name == t.metric.name() && t.metric.reaches(*v, t.value))
    {
        *reached_at = Some((step, seconds));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use descent_models::{Landscape, Stochastic};

    use super::*;

    #[test]
    fn a_landscape_point_is_tracked_only_where_the_loop_takes_a_backward_pass() {
        type B = Autodiff<NdArray<f64>>;
        let landscape = Landscape::rosenbrock();
        let exact = LandscapeTask {
            landscape: landscape.clone(),
            stochastic: None,
            start: vec![0.5, 0.5],
        };
        let noisy = LandscapeTask {
            stochastic: Some(Stochastic::new(landscape.clone(), 8, 0.1, 0).unwrap()),
            landscape,
            start: vec![0.5, 0.5],
        };
        let tracked = |task: &LandscapeTask, sam: bool| {
            landscape_point::<B>(task, sam, &Default::default())
                .unwrap()
                .w
                .val()
                .is_require_grad()
        };
        assert!(!tracked(&exact, false), "closed-form gradient: untracked");
        assert!(
            tracked(&exact, true),
            "SAM takes its ascent step through the graph"
        );
        assert!(
            tracked(&noisy, false),
            "a stochastic landscape's loss is differentiated"
        );
    }
}
