//! One run: the optimisation loop, its measurements, checkpoints and divergence.
//!
//! The hot loop does per step: assemble the batch, forward, backward, (clip), step. Reading a
//! value back from the device (a sync on a GPU) happens only on logged steps
//! (`eval.log_every`), evaluations only every `eval.every` steps.

//! One run: the budget, the backend and thread it runs on, and its problem's [`walk`] handed
//! to the [`executor`] with its [`observe`]rs (evaluation, probes, trajectory).

mod executor;
mod observe;
mod walk;

use std::path::Path;

use anyhow::Result;
use burn::module::{AutodiffModule, Module};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use descent_data::BatchPlan;

use crate::backend::{self, BackendChoice, OnBackend, Precision};
use crate::config::{Experiment, RunSpec};
use crate::optim::{lr_plan, optimizer_config, sharpness_aware};
use crate::probe::Probes;
use crate::problem::{LandscapeTask, Task};
use crate::state::{Finished, Limits, Progress};
use descent_optim::clip::Clipping;
use descent_optim::sam::Sam;

use executor::Setup;
use observe::{Evaluating, Observer, Probing, Snapshots, Tracing};
use walk::{LandscapeWalk, SupervisedWalk};

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
    let rebuilt = task.rebuilt_for(run)?;
    let task = rebuilt.as_ref().unwrap_or(task);
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
    let setup = Setup {
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
        Task::Landscape(t) => {
            let start = landscape_point(t, setup.sam.is_some(), device)?;
            let mut observers: Vec<Box<dyn Observer<B, LandscapeWalk<'_>> + '_>> = vec![
                Box::new(Evaluating),
                Box::new(Probing(probes)),
                Box::new(Tracing),
            ];
            if let Some(every) = experiment.output.snapshots_every {
                observers.push(Box::new(Snapshots { dir, every }));
            }
            executor::run(
                &setup,
                &LandscapeWalk { task: t },
                start,
                optimizer.init()?,
                observers,
            )
        }
        Task::Supervised(t) => {
            let walk = SupervisedWalk::<B>::new(t, &plan, device);
            let mut observers: Vec<Box<dyn Observer<B, SupervisedWalk<'_, B>> + '_>> =
                vec![Box::new(Evaluating), Box::new(Probing(probes))];
            if let Some(every) = experiment.output.snapshots_every {
                observers.push(Box::new(Snapshots { dir, every }));
            }
            executor::run(
                &setup,
                &walk,
                t.init::<B>(run.init_seed(), device)?,
                optimizer.init()?,
                observers,
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
