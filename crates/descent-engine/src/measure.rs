//! The backend work of `descent surface` and of `descent bench`'s analysis and optimizer
//! workloads, behind functions that name no backend type: each is instantiated here, once
//! per backend, beside the training loop, so the commands above compile without it.

use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use burn::optim::SimpleOptimizer;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use descent_optim::optim::{AdamConfig, OptimConfig};
use indicatif::ProgressBar;

use crate::backend::{self, BackendChoice, OnBackend, Precision};
use crate::config::RunSpec;
use crate::probe::subject::flatten;
use crate::probe::{Items, ModelSubject, Probes, Subject, TrainingSet};
use crate::problem::SupervisedTask;
use crate::run_files::StoredRun;
use crate::state::Progressed;
use crate::train;

/// One run to analyse: its record, where its parameters are, and the steps chosen.
pub struct Job {
    /// The run as stored.
    pub stored: StoredRun,
    /// Its resolved spec.
    pub spec: RunSpec,
    /// `(step, from a snapshot)`; `false`: the final `parameters.bin`.
    pub steps: Vec<(u64, bool)>,
}

/// `job`'s probes at its chosen steps on the supervised `task`'s model, on `backend` at
/// `precision`, each step's parameters read from the run's snapshots or its final ones.
pub fn measure_model(
    backend: BackendChoice,
    precision: Precision,
    task: &SupervisedTask,
    job: &Job,
    probes: &mut Probes,
    bar: &ProgressBar,
) -> Result<Progressed> {
    backend::dispatch(
        backend,
        precision,
        OnModel {
            task,
            job,
            probes,
            bar,
        },
    )
}

struct OnModel<'a> {
    task: &'a SupervisedTask,
    job: &'a Job,
    probes: &'a mut Probes,
    bar: &'a ProgressBar,
}

impl OnBackend for OnModel<'_> {
    type Output = Progressed;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Progressed> {
        let model = self.task.init::<B>(self.job.spec.init_seed(), &device)?;
        let w0 = flatten(&model);
        let training = TrainingSet::<B>::new(self.task);
        measure_all(self.job, self.probes, &w0, self.bar, |w| {
            Ok(Box::new(ModelSubject::at_parameters(
                self.task,
                model.clone(),
                w,
                &training,
                &device,
            )?))
        })
    }
}

/// The probes at every chosen step of `job`, each on the subject `at` makes of its
/// parameters; `w0`: the run's initial parameters, for when step 0 is not among them.
pub fn measure_all<'s>(
    job: &Job,
    probes: &mut Probes,
    w0: &[f64],
    bar: &ProgressBar,
    mut at: impl FnMut(&[f64]) -> Result<Box<dyn Subject + 's>>,
) -> Result<Progressed> {
    let mut state = Progressed::default();
    if job.steps.first().is_some_and(|(s, _)| *s > 0) {
        probes.initial(w0);
    }
    for (i, &(step, snapshot)) in job.steps.iter().enumerate() {
        let dir = &job.stored.dir;
        let parameters = if snapshot {
            dir.snapshot(step)?
        } else {
            dir.parameters()?.unwrap_or_default()
        };
        let mut subject =
            at(&parameters).with_context(|| format!("the parameters stored at step {step}"))?;
        let last = i + 1 == job.steps.len();
        let measured = probes.measure(subject.as_mut(), step, last)?;
        state
            .measurements
            .extend(measured.values.into_iter().map(|(n, v)| (step, n, v)));
        state
            .profiles
            .extend(measured.profiles.into_iter().map(|p| (step, p)));
        bar.inc(1);
    }
    Ok(state)
}

/// Seconds of a `points` x `points` 2-D slice of the MLP `task` at its initialisation on
/// `backend`, on a pool thread as the training loop's steps run.
pub fn slice_grid_seconds(
    backend: BackendChoice,
    task: &SupervisedTask,
    points: usize,
    items: usize,
) -> Result<f64> {
    let work = SliceGrid {
        task,
        points,
        items,
    };
    train::on_pool_thread(|| backend::dispatch(backend, Precision::F32, work))
}

/// Seconds of the MLP `task`'s top-10 Hessian eigenvalues and of its trace on `backend`, on
/// a pool thread.
pub fn hessian_seconds(
    backend: BackendChoice,
    task: &SupervisedTask,
    items: usize,
    samples: usize,
) -> Result<(f64, f64)> {
    let work = HessianTimes {
        task,
        items,
        samples,
    };
    train::on_pool_thread(|| backend::dispatch(backend, Precision::F32, work))
}

/// Seconds of each of `steps` Adam steps on `size` parameters on `backend`'s inner backend,
/// on a pool thread.
pub fn adam_step_seconds(
    backend: BackendChoice,
    size: usize,
    steps: usize,
    fused: bool,
) -> Result<Vec<f64>> {
    let step = AdamStep { size, steps, fused };
    train::on_pool_thread(|| backend::dispatch(backend, Precision::F32, step))
}

/// Seconds of a `points` x `points` 2-D slice of the MLP at its initialisation on the first
/// `items` training items, through the `slice` probe's own parts (filter-normalised
/// directions, the subject's plane evaluator, whose set-up with the first layer's products is
/// timed); the directions are made before the clock starts, as in the PyTorch peer.
struct SliceGrid<'a> {
    task: &'a SupervisedTask,
    points: usize,
    items: usize,
}

impl OnBackend for SliceGrid<'_> {
    type Output = f64;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<f64> {
        use descent_surface::directions::{Normalisation, random_direction};
        use rand::SeedableRng;

        let model = self.task.init::<B>(0, &device)?;
        let training = TrainingSet::<B>::new(self.task);
        let mut subject = ModelSubject::new(self.task, model, &training, &device);
        let w = subject.parameters().to_vec();
        let layout = subject
            .layout()
            .ok_or_else(|| anyhow!("internal error: a model without a layout"))?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let zero = descent_surface::OneDimensional::Zero;
        let d1 = random_direction(&layout, &w, Normalisation::Filter, zero, &mut rng)?;
        let d2 = random_direction(&layout, &w, Normalisation::Filter, zero, &mut rng)?;
        let items: Vec<usize> = (0..self.items.min(self.task.train.len())).collect();
        let axis = descent_surface::path::linspace(-1.0, 1.0, self.points)?;
        let start = Instant::now();
        let mut evaluate = subject.plane_evaluator(Items::Train(Some(&items)), &w, &[&d1, &d2])?;
        let mut total = 0.0;
        for &b in &axis {
            for &a in &axis {
                total += evaluate(&[a, b])?.0;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        if !total.is_finite() {
            bail!("the slice's losses are not finite");
        }
        Ok(seconds)
    }
}

/// Seconds of the MLP's top-10 Hessian eigenvalues (Lanczos to a relative residual of 1e-6)
/// and of its trace (Hutchinson, `samples` vectors) at initialisation on the first `items`
/// training items, with the `hessian` probe's Hessian-vector products.
struct HessianTimes<'a> {
    task: &'a SupervisedTask,
    items: usize,
    samples: usize,
}

impl OnBackend for HessianTimes<'_> {
    type Output = (f64, f64);

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<(f64, f64)> {
        use descent_surface::spectrum::{Lanczos, hutchinson_trace, top_eigenvalues};
        use rand::SeedableRng;

        let model = self.task.init::<B>(0, &device)?;
        let training = TrainingSet::<B>::new(self.task);
        let mut subject = ModelSubject::new(self.task, model, &training, &device);
        let w = subject.parameters().to_vec();
        let items: Vec<usize> = (0..self.items.min(self.task.train.len())).collect();
        let mut product = |v: &[f64]| subject.hessian_vector(&w, v, Some(&items));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let lanczos = Lanczos {
            max_steps: 100,
            tolerance: 1e-6,
        };
        let start = Instant::now();
        let top = top_eigenvalues(w.len(), 10, &lanczos, &mut rng, &mut product)?;
        let top_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let trace = hutchinson_trace(w.len(), self.samples, 0.95, &mut rng, &mut product)?;
        let trace_seconds = start.elapsed().as_secs_f64();
        if !(top.iter().all(|r| r.value.is_finite()) && trace.mean.is_finite()) {
            bail!("the Hessian's eigenvalues or trace are not finite");
        }
        Ok((top_seconds, trace_seconds))
    }
}

/// Seconds of one Adam step on `size` parameters, on backend `B`'s inner (non-autodiff)
/// backend, as the training loop's optimizer sees it: the fused step, or (`fused = false`)
/// burn's tensor ops.
struct AdamStep {
    size: usize,
    steps: usize,
    fused: bool,
}

impl OnBackend for AdamStep {
    type Output = Vec<f64>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Vec<f64>> {
        type Inner<B> = <B as AutodiffBackend>::InnerBackend;
        let adam = AdamConfig::new()
            .with_fused(self.fused)
            .build()
            .map_err(|e| anyhow!("{e}"))?;
        let grad =
            Tensor::<Inner<B>, 1>::random([self.size], Distribution::Normal(0.0, 1.0), &device);
        let mut param =
            Tensor::<Inner<B>, 1>::random([self.size], Distribution::Normal(0.0, 1.0), &device);
        let mut state = None;
        let mut times = Vec::new();
        for i in 0..self.steps + 2 {
            // A fresh gradient buffer each step, as backward makes one; made outside the timing.
            let g = grad.clone().mul_scalar(1.0);
            Inner::<B>::sync(&device).map_err(|e| anyhow!("{e:?}"))?;
            let start = Instant::now();
            let (next, next_state) = adam.step(1e-3, param, g, state);
            Inner::<B>::sync(&device).map_err(|e| anyhow!("{e:?}"))?;
            let elapsed = start.elapsed().as_secs_f64();
            param = next;
            state = next_state;
            if i >= 2 {
                times.push(elapsed);
            }
        }
        Ok(times)
    }
}
