//! Probes: measurements taken during a run at the current parameters, without touching the
//! run (`[[measure]]` in experiment files; values go to `measurements.csv`).
//!
//! A probe sees the run through a [`Subject`]: the parameters as one flat `f64` vector, the
//! loss and gradient at any point on any set of training items, Hessian-vector products, and
//! (on landscapes) the landscape itself. It draws whatever randomness it needs from its own
//! stream of the seed tree (purpose `Probe`, keyed by its position in the file and the step),
//! so the batches the optimizer sees, and so `metrics.csv`, are the same with and without
//! probes. Probes run before the step's update, after the evaluation; their time is not
//! counted in the run's clock.
//!
//! A new probe is one file (a [`Probe`] and its [`ProbeEntry`]) plus one line in [`PROBES`].

mod basin;
mod class_accuracy;
mod descent_lemma;
mod epsilon_sharpness;
mod escape;
mod full_train;
mod grad_norm;
mod gradient_noise;
mod hessian;
mod interpolation;
mod plane;
mod sharpness;
mod slice;
pub mod subject;
mod suboptimality;
mod update_norm;
mod weight_norm;

use anyhow::Result;
use descent_data::rng::{Purpose, derived_seed, stream};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use toml::Table;

pub use crate::config::MeasureSpec;
use crate::problem::{LandscapeTask, Task};

pub use subject::{LandscapeSubject, ModelSubject, TrainingSet};

/// Which items a forward-only evaluation averages over.
#[derive(Debug, Clone, Copy)]
pub enum Items<'a> {
    /// The training items listed, or all of them.
    Train(Option<&'a [usize]>),
    /// The test items listed, or all of them.
    Test(Option<&'a [usize]>),
}

/// The data loss (without any L2 penalty) and, for classifiers, the accuracy at a point.
pub type Evaluator<'s> = Box<dyn FnMut(&[f64]) -> Result<(f64, Option<f64>)> + 's>;

/// [`Evaluator`] at `base + Σ cₖ dₖ`, given the coefficients `c`: the points of a slice, an
/// interpolation or a segment between two solutions, which share a base and directions.
pub type PlaneEvaluator<'s> = Box<dyn FnMut(&[f64]) -> Result<(f64, Option<f64>)> + 's>;

/// The [`PlaneEvaluator`] that forms each point and evaluates it with `evaluate`.
pub fn offset_evaluator<'s>(
    mut evaluate: Evaluator<'s>,
    base: &[f64],
    directions: &[&[f64]],
) -> PlaneEvaluator<'s> {
    let base = base.to_vec();
    let directions: Vec<Vec<f64>> = directions.iter().map(|d| d.to_vec()).collect();
    let mut point = vec![0.0; base.len()];
    Box::new(move |coefficients: &[f64]| {
        point.copy_from_slice(&base);
        for (d, &c) in directions.iter().zip(coefficients) {
            if c != 0.0 {
                for (p, d) in point.iter_mut().zip(d) {
                    *p += c * d;
                }
            }
        }
        evaluate(&point)
    })
}

/// What a probe measured at one step: named values (`measurements.csv`) and curves or
/// surfaces over other axes than the step (`profiles.csv`: slices, interpolations, spectral
/// densities).
#[derive(Debug, Default)]
pub struct Measured {
    /// `(name, value)`.
    pub values: Vec<(String, f64)>,
    /// Points of profiles.
    pub profiles: Vec<ProfilePoint>,
}

impl From<Vec<(String, f64)>> for Measured {
    fn from(values: Vec<(String, f64)>) -> Self {
        Measured {
            values,
            profiles: Vec::new(),
        }
    }
}

pub use crate::state::ProfilePoint;

impl Measured {
    /// Adds an evaluation's loss to profile `name` at `(x, y)`, and its accuracy (for
    /// classifiers) to `name_accuracy`.
    pub fn push_evaluation(
        &mut self,
        name: &str,
        series: u32,
        (x, y): (f64, Option<f64>),
        (loss, accuracy): (f64, Option<f64>),
    ) {
        let at = |name: String, value: f64| ProfilePoint {
            name,
            series,
            x,
            y,
            value,
        };
        self.profiles.push(at(name.to_owned(), loss));
        if let Some(accuracy) = accuracy {
            self.profiles.push(at(format!("{name}_accuracy"), accuracy));
        }
    }
}

/// What a probe can ask of the run at the step it measures.
pub trait Subject {
    /// The current parameters, flattened (in the module's visiting order), in `f64`.
    fn parameters(&self) -> &[f64];

    /// How many training items the objective averages over (1 for a deterministic landscape).
    fn items(&self) -> usize;

    /// The training objective and its gradient at `w`: over the training items `batch`, or
    /// over all of them (the full objective) for `None`. Includes any L2 penalty, like the
    /// loss the optimizer sees.
    fn loss_and_gradient(&mut self, w: &[f64], batch: Option<&[usize]>) -> Result<(f64, Vec<f64>)>;

    /// The full training objective at the current parameters, and the training accuracy
    /// for classifiers, without gradients.
    fn full_train(&mut self) -> Result<(f64, Option<f64>)>;

    /// The objective's Hessian at `w` (over `batch`, or all items) times `v`. The default takes
    /// central differences of gradients, `(g(w + h v) - g(w - h v)) / 2h`, formed in `f64`
    /// with `h` scaled to the backend's precision; landscapes and models override it with exact
    /// products where they can.
    fn hessian_vector(
        &mut self,
        w: &[f64],
        v: &[f64],
        batch: Option<&[usize]>,
    ) -> Result<Vec<f64>> {
        difference_hessian_vector(self, w, v, batch)
    }

    /// The relative step of finite differences: about the cube root of the float type's
    /// machine epsilon (the optimum for central differences).
    fn difference_step(&self) -> f64;

    /// The landscape, for probes that need its analytic structure.
    fn landscape(&self) -> Option<&LandscapeTask> {
        None
    }

    /// The parameters' tensors in the flattened order, for filter-normalised directions
    /// (`None`: a landscape's coordinates, which have no layers).
    fn layout(&self) -> Option<Vec<descent_surface::Block>> {
        None
    }

    /// A forward-only evaluation of the data loss (and accuracy) at any point on `items`,
    /// its data made ready once: for the many points of a slice or an interpolation.
    fn evaluator(&mut self, items: Items<'_>) -> Result<Evaluator<'_>>;

    /// [`Self::evaluator`] on the points `base + Σ cₖ dₖ`, as a function of `c`. Models may
    /// share work between the points (an MLP's first layer is linear in its weights).
    fn plane_evaluator(
        &mut self,
        items: Items<'_>,
        base: &[f64],
        directions: &[&[f64]],
    ) -> Result<PlaneEvaluator<'_>> {
        Ok(offset_evaluator(self.evaluator(items)?, base, directions))
    }
}

/// A measurement taken every so many steps.
pub trait Probe: Send {
    /// Named values at the current parameters; `rng` is this probe's stream for this step.
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured>;

    /// What the probe adds at the run's last step, after that step's [`Self::measure`]: for
    /// analyses of the whole run (default: nothing).
    fn conclude(
        &mut self,
        _subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        Ok(Measured::default())
    }

    /// The run's initial parameters, given before the first measurement by `descent
    /// surface`, whose first stored step need not be 0 (default: ignored). Probes that
    /// compare with the start take it from here when they have not measured step 0.
    fn initial(&mut self, _w0: &[f64]) {}

    /// What the probe carries from one measurement to the next, for checkpoints.
    fn save(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Restores what [`Self::save`] returned.
    fn restore(&mut self, _state: Vec<f64>) {}
}

/// Builds a probe from its options table on a task; the `&str` names the table in errors.
pub type BuildProbe = fn(&Table, &Task, &str) -> std::result::Result<Box<dyn Probe>, String>;

/// One registered probe kind.
#[derive(Debug, Clone, Copy)]
pub struct ProbeEntry {
    /// The kind experiment files use.
    pub kind: &'static str,
    /// One line for the README and errors.
    pub summary: &'static str,
    /// Only for landscapes (it needs critical points or the known minimum).
    pub landscapes_only: bool,
    /// Measurement names whose values are categories (summaries count them instead of
    /// averaging).
    pub categorical: &'static [&'static str],
    /// Prefixes of measurements not drawn against the step (the main one always is): the
    /// many numbers that go with the main one.
    pub unplotted: &'static [&'static str],
    /// The measurement a `[[measure]]`'s `reference` lines are drawn on (`""`: none, the
    /// probe writes no plotted value to compare with one).
    pub main: &'static str,
    /// Builds the probe from its options; `field` names the table in errors.
    pub build: BuildProbe,
}

/// Every probe experiment files can name.
pub const PROBES: &[ProbeEntry] = &[
    full_train::ENTRY,
    gradient_noise::ENTRY,
    sharpness::ENTRY,
    epsilon_sharpness::ENTRY,
    hessian::ENTRY,
    slice::ENTRY,
    interpolation::ENTRY,
    plane::ENTRY,
    grad_norm::ENTRY,
    suboptimality::ENTRY,
    basin::ENTRY,
    escape::ENTRY,
    class_accuracy::ENTRY,
    weight_norm::ENTRY,
    update_norm::ENTRY,
    descent_lemma::ENTRY,
];

/// The entry of `kind`, or an error listing the kinds.
pub fn find(kind: &str, field: &str) -> std::result::Result<&'static ProbeEntry, String> {
    PROBES.iter().find(|e| e.kind == kind).ok_or_else(|| {
        let kinds: Vec<&str> = PROBES.iter().map(|e| e.kind).collect();
        format!(
            "{field}.kind = {kind:?} is not known; allowed: {}",
            kinds.join(", ")
        )
    })
}

/// Whether measurement `name` gets plots of its own against the step.
pub fn is_plotted(name: &str) -> bool {
    !PROBES
        .iter()
        .any(|e| e.main != name && e.unplotted.iter().any(|prefix| name.starts_with(prefix)))
}

/// Whether measurement `name` is categorical.
pub fn is_categorical(name: &str) -> bool {
    PROBES.iter().any(|e| e.categorical.contains(&name))
}

/// The probes of an experiment, each with its interval.
pub struct Probes {
    probes: Vec<(u64, Box<dyn Probe>)>,
    seed: u64,
}

impl Probes {
    /// Builds and checks every `[[measure]]` of an experiment on `task`; `default_every` is
    /// the interval of a probe that gives none.
    pub fn build(
        specs: &[MeasureSpec],
        task: &Task,
        default_every: u64,
        batches_per_epoch: u64,
        seed: u64,
    ) -> std::result::Result<Probes, String> {
        let mut probes = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let field = format!("measure[{i}]");
            let entry = find(&spec.kind, &field)?;
            if entry.landscapes_only && !matches!(task, Task::Landscape(_)) {
                return Err(format!(
                    "{field}: the {} probe needs a landscape problem",
                    entry.kind
                ));
            }
            if !spec.reference.is_empty() && entry.main.is_empty() {
                return Err(format!(
                    "{field}.reference: the {} probe has no plotted value to draw a line on",
                    entry.kind
                ));
            }
            if !spec.slopes.is_empty() && entry.main.is_empty() {
                return Err(format!(
                    "{field}.slopes: the {} probe has no plotted value to draw slopes on",
                    entry.kind
                ));
            }
            if let Some(p) = spec.slopes.iter().find(|p| !p.is_finite()) {
                return Err(format!("{field}.slopes: {p} must be a finite number"));
            }
            if let Some((label, value)) = spec.reference.iter().find(|(_, v)| !v.is_finite()) {
                return Err(format!(
                    "{field}.reference.{label} = {value}: must be a finite number"
                ));
            }
            if spec.every == Some(0) {
                return Err(format!("{field}.every = 0: must be at least 1"));
            }
            let every = match (spec.every, spec.every_epochs) {
                (Some(_), Some(_)) => {
                    return Err(format!("{field}: give every or every_epochs, not both"));
                }
                (None, Some(e)) if !(e.is_finite() && e > 0.0) => {
                    return Err(format!("{field}.every_epochs = {e}: must be a number > 0"));
                }
                (None, Some(e)) => ((e * batches_per_epoch as f64).round() as u64).max(1),
                (every, None) => every.unwrap_or(default_every),
            };
            let probe = (entry.build)(&spec.options, task, &field)?;
            probes.push((every.max(1), probe));
        }
        Ok(Probes { probes, seed })
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// Whether any probe measures at `step` (`last`: the run's final step).
    pub fn due(&self, step: u64, last: bool) -> bool {
        self.probes
            .iter()
            .any(|(every, _)| last || step.is_multiple_of(*every))
    }

    /// Runs the probes due at `step` on `subject`.
    pub fn measure(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        last: bool,
    ) -> Result<Measured> {
        let mut all = Measured::default();
        for (index, (every, probe)) in self.probes.iter_mut().enumerate() {
            if last || step.is_multiple_of(*every) {
                let key = derived_seed(self.seed, Purpose::Probe, index as u64);
                let mut rng = stream(key, Purpose::Probe, step);
                let measured = probe.measure(subject, step, &mut rng)?;
                all.values.extend(measured.values);
                all.profiles.extend(measured.profiles);
                if last {
                    let concluded = probe.conclude(subject, step, &mut rng)?;
                    all.values.extend(concluded.values);
                    all.profiles.extend(concluded.profiles);
                }
            }
        }
        Ok(all)
    }

    /// Gives every probe the run's initial parameters ([`Probe::initial`]).
    pub fn initial(&mut self, w0: &[f64]) {
        for (_, probe) in &mut self.probes {
            probe.initial(w0);
        }
    }

    /// Every probe's carried state, for a checkpoint.
    pub fn save(&self) -> Vec<Vec<f64>> {
        self.probes.iter().map(|(_, p)| p.save()).collect()
    }

    /// Restores [`Self::save`]'s states.
    pub fn restore(&mut self, states: Vec<Vec<f64>>) {
        for ((_, probe), state) in self.probes.iter_mut().zip(states) {
            probe.restore(state);
        }
    }
}

/// `(g(w + h v) - g(w - h v)) / 2h`, `h` scaled by the subject's difference step and `|w|`.
pub(crate) fn difference_hessian_vector<S: Subject + ?Sized>(
    subject: &mut S,
    w: &[f64],
    v: &[f64],
    batch: Option<&[usize]>,
) -> Result<Vec<f64>> {
    let norm_v = norm(v).max(f64::MIN_POSITIVE);
    let h = subject.difference_step() * norm(w).max(1.0) / norm_v;
    let shifted =
        |sign: f64| -> Vec<f64> { w.iter().zip(v).map(|(w, v)| w + sign * h * v).collect() };
    let (_, plus) = subject.loss_and_gradient(&shifted(1.0), batch)?;
    let (_, minus) = subject.loss_and_gradient(&shifted(-1.0), batch)?;
    Ok(plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect())
}

/// A probe's options table read as `T` (unknown keys are refused, naming the field).
pub(crate) fn options<T: DeserializeOwned>(
    table: &Table,
    field: &str,
) -> std::result::Result<T, String> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            format!("{field}: {message}")
        } else {
            format!("{field}.{path}: {message}")
        }
    })
}

/// Euclidean norm.
pub(crate) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `a . b`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// A fixed, seeded subset of the training items, drawn at a probe's first measurement and
/// kept (in checkpoints too) for every later one; all items where the subset would hold them
/// all.
#[derive(Debug, Clone, Default)]
pub(crate) struct ItemSubset {
    /// How many items (`None`: all).
    size: Option<usize>,
    chosen: Option<Vec<usize>>,
}

impl ItemSubset {
    /// A subset of `size` items (`None`: all), refusing 0.
    pub fn new(size: Option<usize>, field: &str) -> std::result::Result<Self, String> {
        if size == Some(0) {
            return Err(format!("{field}.items = 0: must be at least 1"));
        }
        Ok(ItemSubset { size, chosen: None })
    }

    /// The items out of `n`, drawn from `rng` the first time (`None`: all of them).
    pub fn items(&mut self, n: usize, rng: &mut ChaCha8Rng) -> Option<&[usize]> {
        match self.size {
            Some(k) if k < n => {
                if self.chosen.is_none() {
                    let mut items = rand::seq::index::sample(rng, n, k).into_vec();
                    items.sort_unstable();
                    self.chosen = Some(items);
                }
                self.chosen.as_deref()
            }
            _ => None,
        }
    }

    /// A probe's whole saved state when the subset is all it carries.
    pub fn state(&self) -> Vec<f64> {
        let mut state = Vec::new();
        self.save(&mut state);
        state
    }

    /// `[count, items...]` appended to `state`.
    pub fn save(&self, state: &mut Vec<f64>) {
        let chosen = self.chosen.as_deref().unwrap_or_default();
        state.push(chosen.len() as f64);
        state.extend(chosen.iter().map(|&i| i as f64));
    }

    /// Reads what [`Self::save`] wrote at the front of `state`; returns the rest.
    pub fn restore<'s>(&mut self, state: &'s [f64]) -> &'s [f64] {
        let Some((&count, rest)) = state.split_first() else {
            return state;
        };
        let count = (count as usize).min(rest.len());
        let (chosen, rest) = rest.split_at(count);
        self.chosen = (count > 0).then(|| chosen.iter().map(|&i| i as usize).collect());
        rest
    }
}

/// A grid option: `n` points on `[from, to]`, checked.
pub(crate) fn grid(
    from: f64,
    to: f64,
    points: usize,
    field: &str,
) -> std::result::Result<Vec<f64>, String> {
    if !(2..=10_001).contains(&points) {
        return Err(format!("{field}.points = {points}: must be in 2..=10001"));
    }
    descent_surface::path::linspace(from, to, points)
        .map_err(|_| format!("{field}: from = {from} and to = {to} must be finite with from < to"))
}
