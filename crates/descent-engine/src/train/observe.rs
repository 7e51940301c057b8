//! What watches a run without taking part in its steps: the [`Observer`]s (evaluation, probes,
//! a landscape's trajectory), and the small pieces the executor keeps beside them: the
//! training [`Clock`], the [`Divergence`] check, the [`TargetWatch`], the learning [`Rate`]
//! with its plateau state, and the [`Checkpoints`].
//!
//! A new analysis of a run (a loss-surface slice, a Hessian spectrum) is one more observer
//! (or one more probe, see [`crate::probe`]), not an edit of the loop.

use std::cell::Cell;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::{AutodiffModule, Module};
use burn::record::{BinBytesRecorder, DoublePrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use descent_optim::schedule::ReduceLrOnPlateauRecord;

use crate::config::{Divergence as DivergenceConfig, Target};
use crate::error::UsageError;
use crate::optim::{AnyOptimizer, LrPlan, Plateau};
use crate::output::{self, Checkpoint};
use crate::probe::Probes;
use crate::state::{MetricsRow, PlateauState, Progressed, TargetReached, TrajectoryRow};

use super::walk::{LandscapeWalk, Walk};

/// A step as the observers see it: before its update, with the batch loss in `row` on logged
/// steps.
pub(crate) struct At<'a, B: AutodiffBackend, W: Walk<B>> {
    /// Steps taken before this one.
    pub step: u64,
    /// The run's final step (its budget is spent).
    pub last: bool,
    /// A row is logged at this step.
    pub logged: bool,
    /// The evaluation sets are measured at this step.
    pub evaluated: bool,
    /// The batch loss diverged at this step (the run stops here).
    pub diverged: bool,
    pub walk: &'a W,
    pub module: &'a W::Module,
    pub optimizer: &'a AnyOptimizer<W::Module, B>,
    pub row: &'a mut MetricsRow,
    pub state: &'a mut Progressed,
    pub clock: &'a Clock,
    pub target: &'a mut TargetWatch,
}

/// Something measured or recorded at the steps of a run.
pub(crate) trait Observer<B: AutodiffBackend, W: Walk<B>> {
    /// Looks at a step before its update.
    fn observe(&mut self, at: &mut At<'_, B, W>) -> Result<()>;

    /// Adds what it carries between steps to a checkpoint's progress.
    fn save(&self, _progress: &mut Progressed) {}

    /// Takes back what [`Self::save`] stored.
    fn restore(&mut self, _progress: &Progressed) {}
}

/// The evaluation metrics (validation, test, and a problem's extra measurements) every
/// `eval.every` steps, at the optimizer's evaluation point (Schedule-Free's average, ASGD's).
pub(crate) struct Evaluating;

impl<B: AutodiffBackend, W: Walk<B>> Observer<B, W> for Evaluating {
    fn observe(&mut self, at: &mut At<'_, B, W>) -> Result<()> {
        if !at.evaluated || at.diverged {
            return Ok(());
        }
        let (walk, optimizer, module) = (at.walk, at.optimizer, at.module);
        let evaluation = at
            .clock
            .excluded(|| walk.evaluate(&optimizer.eval_point(module.clone()).valid()))?;
        at.row.val_loss = evaluation.val_loss;
        at.row.val_accuracy = evaluation.val_accuracy;
        at.row.test_loss = evaluation.test_loss;
        at.row.test_accuracy = evaluation.test_accuracy;
        for (name, value) in evaluation.extra {
            at.state
                .measurements
                .push((at.step, name.to_string(), value));
        }
        Ok(())
    }
}

/// The experiment's `[[measure]]` probes, each at its own interval.
pub(crate) struct Probing(pub Probes);

impl<B: AutodiffBackend, W: Walk<B>> Observer<B, W> for Probing {
    fn observe(&mut self, at: &mut At<'_, B, W>) -> Result<()> {
        if at.diverged || !self.0.due(at.step, at.last) {
            return Ok(());
        }
        let (walk, module, step, last) = (at.walk, at.module, at.step, at.last);
        let probes = &mut self.0;
        let measured = at.clock.excluded(|| {
            let mut subject = walk.subject(module);
            probes.measure(subject.as_mut(), step, last)
        })?;
        at.target
            .note_measured(step, &measured.values, at.clock.now());
        for (name, value) in measured.values {
            at.state.measurements.push((step, name, value));
        }
        at.state
            .profiles
            .extend(measured.profiles.into_iter().map(|p| (step, p)));
        Ok(())
    }

    fn save(&self, progress: &mut Progressed) {
        progress.probes = self.0.save();
    }

    fn restore(&mut self, progress: &Progressed) {
        self.0.restore(progress.probes.clone());
    }
}

/// The parameters at step 0, every `every` steps and the last step, in the run's
/// `snapshots/` (`[output] snapshots_every`): the parameters the probes would see there, for
/// `descent surface` to analyse after the run. A diverged step is not kept.
pub(crate) struct Snapshots<'a> {
    pub dir: &'a Path,
    pub every: u64,
}

impl<B: AutodiffBackend, W: Walk<B>> Observer<B, W> for Snapshots<'_> {
    fn observe(&mut self, at: &mut At<'_, B, W>) -> Result<()> {
        if at.diverged || !(at.last || at.step.is_multiple_of(self.every)) {
            return Ok(());
        }
        let (walk, module, step, dir) = (at.walk, at.module, at.step, self.dir);
        at.clock.excluded(|| {
            let subject = walk.subject(module);
            output::write_snapshot(dir, step, subject.parameters())
        })
    }
}

/// A landscape point's coordinates and value on logged steps (`trajectory.csv`). Schedule-Free
/// trains at y and is evaluated at its average x: the trajectory shows x.
pub(crate) struct Tracing;

impl<B: AutodiffBackend> Observer<B, LandscapeWalk<'_>> for Tracing {
    fn observe(&mut self, at: &mut At<'_, B, LandscapeWalk<'_>>) -> Result<()> {
        if at.logged {
            let w = at.optimizer.eval_point(at.module.clone()).coordinates();
            let loss = at.walk.task.landscape.value(&w).ok();
            at.state.trajectory.push(TrajectoryRow {
                step: at.step,
                w,
                loss,
            });
        }
        Ok(())
    }
}

/// The run's training clock: moved forward over evaluations, probes and checkpoints, which it
/// does not count (time-to-target measures training alone).
pub(crate) struct Clock {
    started: Cell<Instant>,
    before: f64,
}

impl Clock {
    /// A clock that starts now at `seconds_before` (a resumed run's time so far).
    pub fn start(seconds_before: f64) -> Clock {
        Clock {
            started: Cell::new(Instant::now()),
            before: seconds_before,
        }
    }

    /// Training seconds so far.
    pub fn now(&self) -> f64 {
        self.before + self.started.get().elapsed().as_secs_f64()
    }

    /// Runs `work` off the clock.
    pub fn excluded<R>(&self, work: impl FnOnce() -> R) -> R {
        let began = Instant::now();
        let result = work();
        self.started.set(self.started.get() + began.elapsed());
        result
    }
}

/// The divergence check on logged batch losses: non-finite, above `max_loss`, or above
/// `factor` times the first logged loss.
pub(crate) struct Divergence<'a>(pub &'a DivergenceConfig);

impl Divergence<'_> {
    /// Whether `loss` diverged; the first loss seen becomes the run's reference.
    pub fn check(&self, loss: f64, state: &mut Progressed) -> bool {
        let reference = *state.initial_loss.get_or_insert(loss);
        let threshold = self
            .0
            .max_loss
            .unwrap_or(f64::INFINITY)
            .min(self.0.factor * reference.abs().max(1.0));
        !loss.is_finite() || loss > threshold
    }
}

/// When the experiment's target was first reached.
pub(crate) struct TargetWatch {
    target: Option<Target>,
    reached: TargetReached,
}

impl TargetWatch {
    /// Watches `target`, finding in `state` (a resumed run's) when it was reached already.
    pub fn new(target: Option<Target>, state: &Progressed) -> TargetWatch {
        let reached = target.as_ref().and_then(|t| reached_before(t, state));
        TargetWatch { target, reached }
    }

    /// `(step, seconds)` when the target was first reached.
    pub fn reached(&self) -> TargetReached {
        self.reached
    }

    /// Notes a logged row.
    pub fn note_row(&mut self, row: &MetricsRow, seconds: f64) {
        if self.reached.is_none()
            && let Some(t) = &self.target
            && reaches(t, row)
        {
            self.reached = Some((row.step, seconds));
        }
    }

    /// Notes a target on a probe measurement (`full_train_loss`) the first time it is
    /// reached: only the values just measured at `step` are looked at.
    pub fn note_measured(&mut self, step: u64, measured: &[(String, f64)], seconds: f64) {
        if self.reached.is_none()
            && let Some(t) = &self.target
            && t.metric.measured()
            && measured
                .iter()
                .any(|(name, v)| name == t.metric.name() && t.metric.reaches(*v, t.value))
        {
            self.reached = Some((step, seconds));
        }
    }
}

fn reaches(target: &Target, row: &MetricsRow) -> bool {
    row.get(target.metric)
        .is_some_and(|v| target.metric.reaches(v, target.value))
}

fn reached_before(t: &Target, state: &Progressed) -> TargetReached {
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
        .find(|(row, _)| reaches(t, row))
        .map(|(row, (_, s))| (row.step, *s))
}

/// The learning rate of each step: the variant's schedule, or a plateau schedule driven by
/// the evaluations.
pub(crate) struct Rate<'a> {
    plan: &'a LrPlan,
    plateau: Option<Plateau>,
}

impl<'a> Rate<'a> {
    /// The rate of `plan`, a plateau schedule resumed from `state`.
    pub fn new(plan: &'a LrPlan, state: &Progressed) -> Rate<'a> {
        let mut plateau = plan.plateau.clone();
        if let (Some(p), Some(s)) = (plateau.as_mut(), state.plateau) {
            p.schedule = p.schedule.clone().load_record(ReduceLrOnPlateauRecord {
                lr: s.lr,
                best: s.best,
                num_bad_epochs: s.num_bad_epochs,
                cooldown_counter: s.cooldown_counter,
                last_epoch: s.last_epoch,
            });
        }
        Rate { plan, plateau }
    }

    /// The rate of step `step`.
    pub fn at(&self, step: u64) -> f64 {
        match &self.plateau {
            Some(p) => p.schedule.lr(),
            None => self.plan.lr(step),
        }
    }

    /// A plateau schedule watches the evaluations: the new rate holds from the next step.
    pub fn observe(&mut self, row: &MetricsRow) {
        if let Some(p) = self.plateau.as_mut()
            && let Some(value) = row.get(p.metric)
        {
            p.schedule.step(value);
        }
    }

    /// The plateau schedule's state, for a checkpoint.
    pub fn save(&self) -> Option<PlateauState> {
        self.plateau.as_ref().map(|p| {
            let r = p.schedule.to_record();
            PlateauState {
                lr: r.lr,
                best: r.best,
                num_bad_epochs: r.num_bad_epochs,
                cooldown_counter: r.cooldown_counter,
                last_epoch: r.last_epoch,
            }
        })
    }
}

/// A run's module, optimizer and progress, as a checkpoint (or a fresh start) gives them.
pub(crate) type Restored<B, W> = (
    <W as Walk<B>>::Module,
    AnyOptimizer<<W as Walk<B>>::Module, B>,
    Progressed,
);

/// A run's checkpoints in its directory: written every `every` steps, resumed only by the run
/// of the same fingerprint (run id, backend, resolved experiment).
pub(crate) struct Checkpoints<'a> {
    dir: &'a Path,
    fingerprint: String,
    every: u64,
    recorder: BinBytesRecorder<DoublePrecisionSettings>,
}

impl<'a> Checkpoints<'a> {
    /// The checkpoints of the run with `fingerprint` in `dir`.
    pub fn new(dir: &'a Path, fingerprint: String, every: u64) -> Checkpoints<'a> {
        Checkpoints {
            dir,
            fingerprint,
            every,
            recorder: BinBytesRecorder::default(),
        }
    }

    /// The module, optimizer and progress of the checkpoint in the run's directory; where
    /// there is none, `module` and `optimizer` as given and a fresh run's progress.
    pub fn restore<B: AutodiffBackend, W: Walk<B>>(
        &self,
        module: W::Module,
        optimizer: AnyOptimizer<W::Module, B>,
        observers: &mut [Box<dyn Observer<B, W> + '_>],
        device: &B::Device,
    ) -> Result<Restored<B, W>> {
        let Some(checkpoint) = output::read_checkpoint(self.dir)? else {
            let fresh = Progressed {
                fingerprint: self.fingerprint.clone(),
                ..Progressed::default()
            };
            return Ok((module, optimizer, fresh));
        };
        let path = self.dir.join(output::CHECKPOINT_BIN);
        if checkpoint.progress.fingerprint != self.fingerprint {
            return Err(UsageError(format!(
                "{}: written by a run with another configuration or backend; delete it to \
                 restart this run from the beginning",
                path.display()
            ))
            .into());
        }
        let record = self
            .recorder
            .load(checkpoint.module, device)
            .with_context(|| format!("{}: model record", path.display()))?;
        let optimizer = optimizer
            .load(checkpoint.optimizer, device)
            .with_context(|| format!("{}: optimizer record", path.display()))?;
        for observer in observers {
            observer.restore(&checkpoint.progress);
        }
        Ok((module.load_record(record), optimizer, checkpoint.progress))
    }

    /// Whether a checkpoint is due after `steps` steps.
    pub fn due(&self, steps: u64) -> bool {
        self.every > 0 && steps.is_multiple_of(self.every)
    }

    /// Writes `progress`, with what each observer carries, the module and the optimizer.
    pub fn write<B: AutodiffBackend, W: Walk<B>>(
        &self,
        mut progress: Progressed,
        observers: &[Box<dyn Observer<B, W> + '_>],
        module: &W::Module,
        optimizer: &AnyOptimizer<W::Module, B>,
    ) -> Result<()> {
        for observer in observers {
            observer.save(&mut progress);
        }
        let checkpoint = Checkpoint {
            progress,
            module: self.recorder.record(module.clone().into_record(), ())?,
            optimizer: optimizer.save()?,
        };
        output::write_partial(self.dir, &checkpoint)
    }
}
