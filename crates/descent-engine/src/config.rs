//! Experiment files: the TOML schema, `--set` overrides, sweeps, and the list of runs.
//!
//! A file is read as a TOML table first, so that overrides and sweep points can address any
//! field by its dotted path; each resolved table is then deserialised into [`Experiment`]
//! with `deny_unknown_fields` everywhere, and checked field by field. Every error names the
//! file and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::error::UsageError;
use crate::metric::Metric;

/// One experiment file, resolved (no sweep left in it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name of the experiment: the output directory's name. Defaults to the file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// One line saying what the experiment shows (`descent list` prints it).
    #[serde(default)]
    pub description: String,
    /// What is optimised.
    pub problem: Problem,
    /// How batches are drawn.
    #[serde(default)]
    pub batch: BatchConfig,
    /// When a run stops.
    pub budget: Budget,
    /// What is measured, and how often.
    #[serde(default)]
    pub eval: Eval,
    /// The seeds: every variant and sweep point runs once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// A target for time-to-target and steps-to-target.
    #[serde(default)]
    pub target: Option<Target>,
    /// When a run counts as diverged.
    #[serde(default)]
    pub divergence: Divergence,
    /// Checkpoints for `descent resume`.
    #[serde(default)]
    pub checkpoint: Checkpoint,
    /// How the plots are drawn (`[plots]`).
    #[serde(default, skip_serializing_if = "Plots::is_default")]
    pub plots: Plots,
    /// What is written besides the CSV and JSON files (`[output]`).
    #[serde(default, skip_serializing_if = "Outputs::is_default")]
    pub output: Outputs,
    /// Probes: measurements taken during every run (`[[measure]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measure: Vec<MeasureSpec>,
    /// `descent tune`'s protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<TuneConfig>,
    /// The loss between the final parameters of every two seeds (`[barriers]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barriers: Option<BarriersConfig>,
    /// The optimizer variants compared.
    pub variants: Vec<Variant>,
    /// A grid over config paths (`"variants.*.lr" = [0.01, 0.1]`); each point is a run per
    /// variant and seed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Vec<Value>>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// Declares a closed set of names an experiment file may use: a serde enum (unknown names
/// are refused with the list of allowed ones, derived from here) with `name()` for messages.
macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// The name in experiment files.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }
    };
}

names! {
    /// The datasets an experiment can name.
    DatasetName {
        /// The UCI digits, compiled in.
        Digits = "digits",
        /// Fashion-MNIST (Debian's `dataset-fashion-mnist`, or `data_path`).
        FashionMnist = "fashion-mnist",
        /// MNIST from `data_path`.
        Mnist = "mnist",
        /// Gaussian blobs.
        Blobs = "blobs",
        /// Two interleaved half circles.
        TwoMoons = "two_moons",
        /// Interleaved spirals.
        Spirals = "spirals",
        /// Binary logistic data.
        Logistic = "logistic",
        /// Linear regression with a known optimum.
        LinearRegression = "linear_regression",
    }
}

names! {
    /// Standardisation of features, fitted on the training split.
    StandardizeName {
        /// None.
        None = "none",
        /// Each feature to mean 0, std 1.
        PerFeature = "per_feature",
        /// One mean and std over all features.
        Global = "global",
    }
}

names! {
    /// MLP activations.
    ActivationName {
        /// `max(0, x)`.
        Relu = "relu",
        /// `tanh(x)`.
        Tanh = "tanh",
    }
}

names! {
    /// Losses.
    LossName {
        /// Cross-entropy on logits.
        CrossEntropy = "cross_entropy",
        /// Mean squared error.
        Mse = "mse",
    }
}

names! {
    /// How batches are drawn.
    SamplingName {
        /// A fresh permutation every epoch.
        Shuffled = "shuffled",
        /// In index order.
        Sequential = "sequential",
        /// Independent draws with replacement.
        WithReplacement = "with_replacement",
        /// Each batch holds every class in proportion.
        Stratified = "stratified",
        /// One random order drawn once and kept every epoch.
        ShuffledOnce = "shuffled_once",
        /// Sorted by class, the same every epoch.
        SortedByClass = "sorted_by_class",
    }
}

/// What is optimised: a landscape (the table sets `landscape`) or a model on a dataset (it
/// sets `dataset`). The key decides which fields are allowed.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Problem {
    /// A function with known derivatives, walked by one point.
    Landscape(LandscapeProblem),
    /// A model trained on data.
    Dataset(DatasetProblem),
}

/// One `[[measure]]` table: which probe, how often, and its own options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureSpec {
    /// The probe's kind (a name in `probe::PROBES`).
    pub kind: String,
    /// Steps between measurements (also taken at the last step). Default: the run's
    /// evaluation interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// The interval in epochs instead (fractions allowed): variants with different batch
    /// sizes are then measured at the same points of the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_epochs: Option<f64>,
    /// Horizontal reference lines on the plot of the probe's main measurement, label =
    /// value: `reference = { "2/eta" = 20.0 }` on `sharpness`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reference: BTreeMap<String, f64>,
    /// Power laws theory gives for the probe's main measurement, as exponents of the step:
    /// `slopes = [-0.5, -1.0]` adds a log-log plot of it (`measure_<name>_loglog`) with a
    /// line `T^p` for each, anchored at a measured point, and each curve's fitted slope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slopes: Vec<f64>,
    /// The probe's options.
    #[serde(flatten)]
    pub options: toml::Table,
}

/// `[tune]` in an experiment file (every field can also be given on the command line).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// The learning rates searched: `"1e-4:1:13"` (13 log-spaced points from 1e-4 to 1) or a
    /// list of rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<Grid>,
    /// The seeds of the search (default `[0, 1]`); the rerun uses the experiment's `seeds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// The metric scored, on its final value (default `val_loss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

/// The most learning rates a tuning grid may have.
pub const MAX_GRID_POINTS: usize = 1000;

/// A learning-rate grid as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Grid {
    /// `"low:high:points"`, log-spaced.
    Spec(String),
    /// The rates themselves.
    List(Vec<f64>),
}

impl Grid {
    /// The rates, checked: finite, positive, at least two, at most 1000.
    pub fn rates(&self) -> std::result::Result<Vec<f64>, String> {
        let rates = match self {
            Grid::List(list) => list.clone(),
            Grid::Spec(text) => {
                let parts: Vec<&str> = text.split(':').collect();
                let [low, high, count] = parts[..] else {
                    return Err(format!(
                        "{text:?}: expected low:high:points, e.g. 1e-4:1:13"
                    ));
                };
                let number = |s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| format!("{text:?}: {s:?} is not a number"))
                };
                let (low, high) = (number(low)?, number(high)?);
                let count: usize = count
                    .trim()
                    .parse()
                    .map_err(|_| format!("{text:?}: {count:?} is not a whole number"))?;
                if !(low > 0.0 && high > low && low.is_finite() && high.is_finite()) {
                    return Err(format!("{text:?}: needs 0 < low < high"));
                }
                if !(2..=MAX_GRID_POINTS).contains(&count) {
                    return Err(format!(
                        "{text:?}: needs between 2 and {MAX_GRID_POINTS} points"
                    ));
                }
                let ratio = (high / low).ln() / (count - 1) as f64;
                // Rounded to 12 significant digits, so 1e-4:1:5 gives 0.01, not
                // 0.010000000000000002.
                (0..count)
                    .map(|i| {
                        let rate = low * (ratio * i as f64).exp();
                        format!("{rate:.11e}").parse().unwrap_or(rate)
                    })
                    .collect()
            }
        };
        if rates.len() < 2 || rates.len() > MAX_GRID_POINTS {
            return Err(format!(
                "{} rates: give between 2 and {MAX_GRID_POINTS}",
                rates.len()
            ));
        }
        if let Some(bad) = rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
            return Err(format!("{bad}: every rate must be a finite number > 0"));
        }
        let mut sorted = rates.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        if sorted.len() != rates.len() {
            return Err("a rate is listed twice".into());
        }
        Ok(sorted)
    }
}

/// A landscape problem.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeProblem {
    /// Which landscape: a name in `descent_models::landscape`'s registry.
    pub landscape: String,
    /// The start point on the landscape.
    pub start: Option<Vec<f64>>,
    /// Quadratic: the Hessian's eigenvalues.
    pub eigenvalues: Option<Vec<f64>>,
    /// Quadratic: rotation angle of the eigenvectors in radians (2-D).
    pub angle: Option<f64>,
    /// Quadratic: the seed of a random rotation of the eigenvectors (any dimension).
    pub rotation_seed: Option<u64>,
    /// Dimension of the N-D landscapes (rosenbrock, rastrigin, double_well); refused by the
    /// others.
    pub dim: Option<usize>,
    /// Stochastic landscape: noise scale per coordinate of the finite sum's examples.
    pub noise_sigma: Option<f64>,
    /// Stochastic landscape: number of examples of the finite sum.
    pub noise_examples: Option<usize>,
    /// Seed of the finite sum's noise (fixed across run seeds).
    pub data_seed: Option<u64>,
}

/// A model on a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetProblem {
    /// Which dataset.
    pub dataset: DatasetName,
    /// Directory of Fashion-MNIST / MNIST files.
    pub data_path: Option<PathBuf>,
    /// Seed of synthetic data and of the validation split (fixed across run seeds).
    pub data_seed: Option<u64>,
    /// Synthetic data: number of training items.
    pub samples: Option<usize>,
    /// Synthetic data: number of classes.
    pub classes: Option<usize>,
    /// Synthetic data: features per item.
    pub features: Option<usize>,
    /// Synthetic data: noise level.
    pub noise: Option<f64>,
    /// Items held out of the training set for validation (0: none).
    pub validation: Option<usize>,
    /// Standardisation, fitted on the training split.
    pub standardize: Option<StandardizeName>,
    /// The model (default: linear for regression, softmax for classification): a name in
    /// `descent_models::MODELS`.
    pub model: Option<String>,
    /// MLP hidden widths.
    pub hidden: Option<Vec<usize>>,
    /// MLP activation.
    pub activation: Option<ActivationName>,
    /// The loss (default: what the dataset needs).
    pub loss: Option<LossName>,
    /// L2 penalty `lambda/2 ||w||^2` in the objective.
    pub l2: Option<f64>,
    /// Keep only this many training items, drawn at random with `data_seed` after the
    /// validation split (and after `imbalance`): a small set a network can memorise.
    pub train_items: Option<usize>,
    /// Keep only the first N items of the test set (0: no test set): a benchmark that scores
    /// on the validation set need not pay for a test pass at every evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_items: Option<usize>,
    /// Keep only a share of one class's training items: an imbalanced training set; the
    /// validation and test sets are untouched.
    pub imbalance: Option<Imbalance>,
}

/// `problem.imbalance = { class = 3, keep = 0.1 }`: the training set keeps a random
/// `keep` share of class `class`'s items (drawn with `data_seed`) and all of the others.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imbalance {
    /// The class made rare.
    pub class: u32,
    /// The share of its items kept, in `(0, 1]`.
    pub keep: f64,
}

impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let table = Table::deserialize(deserializer)?;
        let kind = match (
            table.contains_key("landscape"),
            table.contains_key("dataset"),
        ) {
            (true, true) => {
                return Err(D::Error::custom(
                    "problem: set either `landscape` or `dataset`, not both",
                ));
            }
            (false, false) => {
                return Err(D::Error::custom(
                    "problem: set `landscape` (a 2-D function) or `dataset` (with a model)",
                ));
            }
            (true, false) => "landscape",
            (false, true) => "dataset",
        };
        // Deserialised with its own path tracking, so messages name `problem.<field>`.
        let value = Value::Table(table);
        let problem = if kind == "landscape" {
            serde_path_to_error::deserialize(value).map(Problem::Landscape)
        } else {
            serde_path_to_error::deserialize(value).map(Problem::Dataset)
        };
        problem.map_err(|e| {
            let field = e.path().to_string();
            let mut message = allowed_names(&one_line(&e.inner().to_string()));
            if message.starts_with("unknown field") {
                message.push_str(&format!(" (`{field}` does not apply to a {kind} problem)"));
            }
            D::Error::custom(format!("problem.{field}: {message}"))
        })
    }
}

impl Problem {
    /// The landscape problem, if this is one.
    pub fn as_landscape(&self) -> Option<&LandscapeProblem> {
        match self {
            Problem::Landscape(p) => Some(p),
            Problem::Dataset(_) => None,
        }
    }
}

/// Batch size and sampling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Items per batch, or `"full"`.
    #[serde(default)]
    pub size: BatchSizeValue,
    /// How batches are drawn.
    #[serde(default = "default_sampling")]
    pub sampling: SamplingName,
    /// Drop the last partial batch of each epoch.
    #[serde(default)]
    pub drop_last: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            size: BatchSizeValue::default(),
            sampling: default_sampling(),
            drop_last: false,
        }
    }
}

fn default_sampling() -> SamplingName {
    SamplingName::Shuffled
}

/// A batch size: a number or the word `full`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BatchSizeValue {
    /// A number of items.
    Items(i64),
    /// `"full"`.
    Word(String),
    /// Anything else: refused with a message when the plan is built.
    Other(Value),
}

impl Default for BatchSizeValue {
    fn default() -> Self {
        BatchSizeValue::Word("full".into())
    }
}

/// When a run stops: the first limit reached.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Optimizer steps.
    pub steps: Option<u64>,
    /// Epochs (passes over the training set).
    pub epochs: Option<u64>,
    /// Wall-clock seconds (not reproducible: the number of steps depends on the machine).
    pub seconds: Option<f64>,
    /// Also end each run once it has reached the `[target]`: the step after the one where it
    /// was first seen is the run's last (its final evaluation and probes are taken there), so
    /// runs compared at equal loss end at equal loss. `steps`/`epochs` still cap the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub until_target: bool,
}

/// Measurement cadence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    /// Steps between validation / test evaluations (also at step 0 and at the end).
    #[serde(default)]
    pub every: Option<u64>,
    /// Steps between rows of train loss, learning rate and gradient norm.
    #[serde(default = "one")]
    pub log_every: u64,
}

impl Default for Eval {
    fn default() -> Self {
        Eval {
            every: None,
            log_every: 1,
        }
    }
}

fn one() -> u64 {
    1
}

/// A target value of a metric.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `train_loss`, `val_loss`, `test_loss`, `val_accuracy`, `test_accuracy`, or
    /// `full_train_loss` / `full_train_accuracy` (with a `full_train` probe).
    pub metric: Metric,
    /// Reached when a loss is at or below it, or an accuracy at or above it.
    pub value: f64,
}

/// When a run has diverged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// A train loss above this is divergence (non-finite always is).
    #[serde(default)]
    pub max_loss: Option<f64>,
    /// ... or above this multiple of the initial train loss.
    #[serde(default = "default_factor")]
    pub factor: f64,
}

impl Default for Divergence {
    fn default() -> Self {
        Divergence {
            max_loss: None,
            factor: default_factor(),
        }
    }
}

fn default_factor() -> f64 {
    1e6
}

/// Checkpointing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Steps between checkpoints; 0 or absent: none.
    #[serde(default)]
    pub every: u64,
}

/// How the plots are drawn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plots {
    /// Smoothing of the noisy curves (train loss, gradient norm): `"auto"` (the default: an
    /// exponential moving average where the step-to-step noise is large, the raw curve
    /// faint beneath it), `"off"`, or the average's weight on the past in `[0, 1)`.
    #[serde(default)]
    pub smoothing: Smoothing,
    /// A metric (`test_accuracy`, `test_loss`, `val_accuracy`, ...) against whose final
    /// value every probe measurement's last value is drawn, one marker per run
    /// (`plots/scatter_<measurement>`, with Spearman's rank correlation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scatter: Option<String>,
}

impl Plots {
    fn is_default(&self) -> bool {
        *self == Plots::default()
    }
}

names! {
    /// Which final solutions `[barriers]` joins by straight lines.
    Between {
        /// Every two seeds of a variant (at a sweep point): what the seed picks.
        Seeds = "seeds",
        /// Every two variants run with the same seed (at a sweep point): whether two
        /// optimizers from the same initialisation end in one basin.
        Variants = "variants",
    }
}

/// `[barriers]`: after the runs, the loss on the straight line `(1 - a) w_i + a w_j` between
/// the final parameters of every two seeds of each variant (and sweep point), or of every two
/// variants with the same seed, and the barrier height on it (the highest loss on
/// `a in [0, 1]` minus the mean of the ends). Each run then also writes its final parameters
/// (`parameters.bin`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarriersConfig {
    /// Which solutions are paired: `"seeds"` (default) or `"variants"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<Between>,
    /// The grid's start (default -0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    /// The grid's end (default 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
    /// Points on it, 0 and 1 among them (default 41).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    /// The first `items` training items (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    /// Also on the test set (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<bool>,
}

/// What is written besides the CSV and JSON files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// TensorBoard event files, `tensorboard/<run>/events.out.tfevents.*`: every metric and
    /// measurement as a scalar, the hyperparameters for the HParams dashboard. Written from
    /// the stored files after the runs, so it costs the runs nothing.
    #[serde(default)]
    pub tensorboard: bool,
    /// Every run's parameters at step 0, every `snapshots_every` steps and the last step, in
    /// `<run>/snapshots/<step>.bin` (little-endian `f64`): what `descent surface` analyses
    /// after the runs. A model of `P` parameters costs `8 P` bytes per snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots_every: Option<u64>,
}

impl Outputs {
    fn is_default(&self) -> bool {
        *self == Outputs::default()
    }
}

/// `[plots] smoothing`: `"auto"`, `"off"`, or a weight in `[0, 1)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum Smoothing {
    /// An exponential moving average where the step-to-step noise is large, with the raw
    /// curve drawn faint beneath it.
    #[default]
    Auto,
    /// Never.
    Off,
    /// Always, with this weight on the past, in `[0, 1)` (TensorBoard's slider).
    Weight(f64),
}

impl TryFrom<Value> for Smoothing {
    type Error = String;

    fn try_from(value: Value) -> std::result::Result<Self, String> {
        match &value {
            Value::String(s) if s == "auto" => Ok(Smoothing::Auto),
            Value::String(s) if s == "off" => Ok(Smoothing::Off),
            Value::Float(w) if (0.0..1.0).contains(w) => Ok(Smoothing::Weight(*w)),
            Value::Integer(0) => Ok(Smoothing::Weight(0.0)),
            other => Err(format!(
                "{other} is not allowed; expected \"auto\", \"off\" or a weight in [0, 1)"
            )),
        }
    }
}

impl From<Smoothing> for Value {
    fn from(smoothing: Smoothing) -> Value {
        match smoothing {
            Smoothing::Auto => Value::String("auto".into()),
            Smoothing::Off => Value::String("off".into()),
            Smoothing::Weight(w) => Value::Float(w),
        }
    }
}

/// One optimizer variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Its name in tables, plots and run ids.
    pub name: String,
    /// The (initial / peak) learning rate.
    pub lr: f64,
    /// `kind` (one of the runner's optimizer registry, `any_optimizer!` in `optim.rs`; an
    /// unknown kind is refused with the list) and that optimizer's fields (defaults:
    /// PyTorch's).
    pub optimizer: Table,
    /// A learning-rate schedule: `kind` and its fields (see the crate README, "Experiment files").
    #[serde(default)]
    pub schedule: Option<Table>,
    /// Linear warm-up over this many steps before the schedule.
    #[serde(default)]
    pub warmup: Option<u64>,
    /// The warm-up's first learning rate as a fraction of `lr` (default `1/warmup`, so the
    /// first step uses `lr/warmup`); in `(0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_start_factor: Option<f64>,
    /// This variant's own batch size and sampling, instead of the experiment's `[batch]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// A grid over this variant's own fields (`lr = [...]`, `"optimizer.momentum" = [...]`),
    /// crossed with the experiment's sweep for this variant only: SGD and Adam need
    /// different learning-rate ranges.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sweep: BTreeMap<String, Vec<Value>>,
    /// Clip gradients to this global L2 norm.
    #[serde(default)]
    pub clip_norm: Option<f64>,
    /// Clip every gradient coordinate to `[-v, v]`.
    #[serde(default)]
    pub clip_value: Option<f64>,
    /// Start every run of this variant from the model's initialisation of this seed, while
    /// its batches (and the rest of its randomness) still follow the run's own seed: runs that
    /// differ only in the data's order (Frankle et al. 2020). Default: the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_seed: Option<u64>,
}

/// One point of a sweep: the assignments made, and a label for tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// `path=value` pairs joined by spaces; empty without a sweep.
    pub label: String,
    /// The swept paths and their values here.
    pub values: BTreeMap<String, serde_json::Value>,
}

/// One run: a variant at a sweep point with a seed.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Unique, file-name safe.
    pub id: String,
    /// Position in the full (unsharded) run list.
    pub index: usize,
    /// The variant's name.
    pub variant: String,
    /// The sweep point.
    pub point: SweepPoint,
    /// The seed.
    pub seed: u64,
    /// The experiment as resolved for this point (only this variant in `variants`).
    pub experiment: Experiment,
}

impl RunSpec {
    /// The seed of the model's initialisation: the variant's `init_seed`, else the run's.
    pub fn init_seed(&self) -> u64 {
        self.experiment.variants[0].init_seed.unwrap_or(self.seed)
    }

    /// Whether this run's sweep point changes the problem (so it needs its own data/model).
    pub fn sweeps_problem(&self) -> bool {
        self.point.values.keys().any(|k| k.starts_with("problem"))
    }
}

/// An experiment file expanded into runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where it came from.
    pub file: PathBuf,
    /// The experiment's name.
    pub name: String,
    /// The experiment as resolved at the first sweep point (all of it without a sweep).
    pub base: Experiment,
    /// The resolved table, overrides applied (what `config.toml` records).
    pub table: Table,
    /// Every run, in a fixed order.
    pub runs: Vec<RunSpec>,
    /// Whether the file has `[quick]` overrides (`descent validate` checks them too).
    pub has_quick: bool,
}

/// Reads, overrides and expands an experiment file. Every problem found is a [`UsageError`]
/// naming the file and field.
pub fn load(file: &Path, sets: &[String], seeds: Option<&[u64]>) -> Result<Plan> {
    load_with(file, sets, seeds, false)
}

/// [`load`], with the file's `[quick]` overrides applied first when `quick` is set.
pub fn load_with(file: &Path, sets: &[String], seeds: Option<&[u64]>, quick: bool) -> Result<Plan> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        UsageError(format!(
            "{}: cannot read the experiment file: {e}",
            file.display()
        ))
    })?;
    parse_with(&text, file, sets, seeds, quick)
}

/// [`load`] from text; `file` names the source in messages.
pub fn parse(text: &str, file: &Path, sets: &[String], seeds: Option<&[u64]>) -> Result<Plan> {
    parse_with(text, file, sets, seeds, false)
}

/// [`parse`], with the file's `[quick]` overrides (a small budget and few seeds, for CI and a
/// first look) applied before `sets` when `quick` is set.
pub fn parse_with(
    text: &str,
    file: &Path,
    sets: &[String],
    seeds: Option<&[u64]>,
    quick: bool,
) -> Result<Plan> {
    let shown = file.display();
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        UsageError(format!("{shown}: {}", one_line(&e.to_string())))
    })?;
    // A `config.toml` written by a run carries `[meta]`: facts about that run (revision,
    // backend, machine), not settings. Rerunning it records its own.
    table.remove("meta");
    // `[quick]`: dotted paths and values, like --set; kept out of the resolved experiment.
    let overrides = table.remove("quick");
    let has_quick = overrides.is_some();
    if quick {
        let Some(Value::Table(overrides)) = overrides else {
            bail!(UsageError(format!(
                "{shown}: --quick: the file has no [quick] table of overrides"
            )));
        };
        apply_overrides(&mut table, &overrides, &format!("{shown}: quick"))?;
    }
    for set in sets {
        let (path, value) = set
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--set {set}: expected key.path=value")))?;
        let value = parse_value(value.trim());
        assign(&mut table, path.trim(), value)
            .map_err(|e| UsageError(format!("{shown}: --set {set}: {e}")))?;
    }
    if let Some(seeds) = seeds {
        let list = seeds.iter().map(|&s| Value::Integer(s as i64)).collect();
        table.insert("seeds".into(), Value::Array(list));
    }
    let unswept: Experiment = deserialize(&table, &shown.to_string())?;
    let name = unswept
        .name
        .clone()
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "experiment".into());
    check_name("name", &name, &shown.to_string())?;
    // Recorded, so that `report`, `resume` and `merge` (which read config.toml) keep it.
    table.insert("name".into(), Value::String(name.clone()));

    let points = sweep_points(&unswept.sweep, &shown.to_string())?;
    let mut base: Option<Experiment> = None;
    let mut sweepless = table.clone();
    sweepless.remove("sweep");
    let mut runs = Vec::new();
    for point in &points {
        let mut resolved = sweepless.clone();
        for (path, value) in &point.1 {
            assign(&mut resolved, path, value.clone())
                .map_err(|e| UsageError(format!("{shown}: sweep.\"{path}\": {e}")))?;
        }
        let experiment: Experiment = deserialize(&resolved, &shown.to_string())?;
        validate(&experiment, &shown.to_string(), &point.0.label)?;
        if base.is_none() {
            base = Some(experiment.clone());
        }
        if runs.len() + experiment.variants.len() * experiment.seeds.len() > MAX_RUNS {
            bail!(UsageError(format!(
                "{shown}: sweep points x variants x seeds exceed {MAX_RUNS} runs; split the \
                 experiment into several, or into shards of smaller sweeps"
            )));
        }
        for variant in &experiment.variants {
            for (own, single) in
                variant_points(&resolved, &experiment, variant, &shown.to_string())?
            {
                let combined = combine(&point.0, &own);
                let swept = points.len() > 1 || !variant.sweep.is_empty();
                if runs.len() + single.seeds.len() > MAX_RUNS {
                    bail!(UsageError(format!(
                        "{shown}: sweep points x variants x seeds exceed {MAX_RUNS} runs; \
                         split the experiment into several, or into shards of smaller sweeps"
                    )));
                }
                for &seed in &single.seeds {
                    let id = run_id(&variant.name, &combined, seed, swept);
                    runs.push(RunSpec {
                        id,
                        index: runs.len(),
                        variant: variant.name.clone(),
                        point: combined.clone(),
                        seed,
                        experiment: single.clone(),
                    });
                }
            }
        }
    }
    let mut ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        bail!(UsageError(format!(
            "{shown}: two runs would share the id {}: variant names must be distinct",
            w[0]
        )));
    }
    // `sweep_points` gives at least one point, so there is a first one.
    let base = base.unwrap_or(unswept);
    Ok(Plan {
        file: file.to_path_buf(),
        name,
        base,
        table,
        runs,
        has_quick,
    })
}

/// `message` (a parser's or a check's) on one line, for error messages that name a field.
pub fn one_line(message: &str) -> String {
    let mut line = message.trim().replace('\n', " ").replace("  ", " ");
    // The toml deserializer appends " in `key` in `table`"; messages here lead with the
    // whole dotted path instead.
    while line.ends_with('`')
        && let Some(at) = line.rfind(" in `")
        && !line[at + 5..line.len() - 1].contains(['`', ' '])
    {
        line.truncate(at);
    }
    line
}

fn deserialize(table: &Table, shown: &str) -> Result<Experiment> {
    serde_path_to_error::deserialize(Value::Table(table.clone())).map_err(|e| {
        let path = dotted(e.path(), table);
        let inner = allowed_names(&one_line(&e.inner().to_string()));
        let at = if path.is_empty() || path == "." || inner.starts_with(path.as_str()) {
            String::new()
        } else {
            format!("{path}: ")
        };
        UsageError(format!("{shown}: {at}{inner}")).into()
    })
}

/// serde's "unknown variant `x`, expected one of `a`, `b`" as "... `x`; allowed: `a`, `b`",
/// the wording of every other list of names the runner prints.
fn allowed_names(message: &str) -> String {
    if message.starts_with("unknown variant") {
        message.replacen(", expected one of", "; allowed:", 1)
    } else {
        message.to_string()
    }
}

/// A serde path as the dotted path `--set` and sweeps take: entries of `variants` by name.
fn dotted(path: &serde_path_to_error::Path, table: &Table) -> String {
    use serde_path_to_error::Segment;
    let mut out: Vec<String> = Vec::new();
    let mut at: Option<&Value> = None;
    for segment in path.iter() {
        let here = at;
        match segment {
            Segment::Map { key } => {
                at = match here {
                    None => table.get(key),
                    Some(Value::Table(t)) => t.get(key),
                    _ => None,
                };
                out.push(key.clone());
            }
            Segment::Seq { index } => {
                let item = match here {
                    Some(Value::Array(items)) => items.get(*index),
                    _ => None,
                };
                match item.and_then(|v| v.get("name")).and_then(Value::as_str) {
                    Some(name) => out.push(name.to_string()),
                    None => out.push(index.to_string()),
                }
                at = item;
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out.join(".")
}

/// Applies a table of overrides (`[quick]`'s form: dotted paths, or nested tables, and
/// values) to `table`; an error names the override as `{context}."path"`.
pub fn apply_overrides(table: &mut Table, overrides: &Table, context: &str) -> Result<()> {
    let mut flat = Vec::new();
    flatten_paths("", overrides, &mut flat);
    for (path, value) in flat {
        // The key as the file spells it: a path that quotes a key is a literal key.
        let key = if path.contains('"') {
            format!("'{path}'")
        } else {
            format!("\"{path}\"")
        };
        assign(table, &path, value).map_err(|e| UsageError(format!("{context}.{key}: {e}")))?;
    }
    Ok(())
}

/// A command-line value: TOML if it parses as a TOML value, else a plain string.
fn parse_value(text: &str) -> Value {
    let doc = format!("v = {text}");
    doc.parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

/// A table of overrides as `(dotted path, value)`: nested tables become path segments.
fn flatten_paths(prefix: &str, table: &Table, out: &mut Vec<(String, Value)>) {
    for (key, value) in table {
        // A top-level key is a dotted path (`"problem.dataset"`); a nested key is one
        // key, quoted where it holds a dot (a sweep's `"problem.hidden"`).
        let path = if prefix.is_empty() {
            key.clone()
        } else if key.contains('.') {
            format!("{prefix}.\"{key}\"")
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) => flatten_paths(&path, inner, out),
            other => out.push((path, other.clone())),
        }
    }
}

/// Sets `path` (dotted; `variants.<name>`, `variants.<index>` or `variants.*` select array
/// entries; a key that holds a dot is quoted, as in `sweep."problem.hidden"`) to `value`. The
/// last key may be new; every table on the way must exist.
pub fn assign(table: &mut Table, path: &str, value: Value) -> std::result::Result<(), String> {
    let keys = key_path(path).ok_or_else(|| format!("`{path}` is not a key path"))?;
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    assign_in(table, &keys, &value, path)
}

/// The keys of a dotted path, `"..."` quoting a key that holds dots; `None` for an empty key
/// or an unclosed quote.
fn key_path(path: &str) -> Option<Vec<String>> {
    let mut keys = Vec::new();
    let mut rest = path;
    loop {
        let (key, after) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match rest.find('.') {
                Some(dot) => (&rest[..dot], &rest[dot..]),
                None => (rest, ""),
            },
        };
        if key.is_empty() {
            return None;
        }
        keys.push(key.to_string());
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None if after.is_empty() => return Some(keys),
            None => return None,
        }
    }
}

fn assign_in(
    table: &mut Table,
    keys: &[&str],
    value: &Value,
    path: &str,
) -> std::result::Result<(), String> {
    let (first, rest) = (keys[0], &keys[1..]);
    if rest.is_empty() {
        table.insert(first.to_string(), value.clone());
        return Ok(());
    }
    let Some(next) = table.get_mut(first) else {
        // Optional tables (e.g. `schedule`) may be created by an assignment.
        let mut fresh = Table::new();
        assign_in(&mut fresh, rest, value, path)?;
        table.insert(first.to_string(), Value::Table(fresh));
        return Ok(());
    };
    match next {
        Value::Table(inner) => assign_in(inner, rest, value, path),
        Value::Array(items) => {
            let selector = rest[0];
            let tail = &rest[1..];
            if tail.is_empty() {
                return Err(format!(
                    "`{path}` must name a field inside `{first}.{selector}`"
                ));
            }
            let mut matched = 0;
            for (i, item) in items.iter_mut().enumerate() {
                let Value::Table(inner) = item else { continue };
                let by_name = inner.get("name").and_then(Value::as_str) == Some(selector);
                if selector == "*" || by_name || selector == i.to_string() {
                    assign_in(inner, tail, value, path)?;
                    matched += 1;
                }
            }
            if matched == 0 {
                return Err(format!("no entry of `{first}` is called `{selector}`"));
            }
            Ok(())
        }
        _ => Err(format!(
            "`{first}` is a value, not a table, so `{path}` cannot be set"
        )),
    }
}

type Assignments = Vec<(String, Value)>;

/// The most points a sweep's grid may have (and, with variants and seeds, the most runs an
/// experiment may have): a bound that keeps a typo like `[0.1, ...]` x 10 keys from
/// expanding into more runs than memory holds.
pub const MAX_SWEEP_POINTS: usize = 100_000;
/// The most runs one experiment may expand into.
pub const MAX_RUNS: usize = 1_000_000;

/// The runs' experiments of one variant at one point of the experiment's sweep: one per
/// point of the variant's own sweep, each with only that variant (and its own batch
/// settings, if it has them).
fn variant_points(
    resolved: &Table,
    experiment: &Experiment,
    variant: &Variant,
    shown: &str,
) -> Result<Vec<(SweepPoint, Experiment)>> {
    let single = |v: &Variant| {
        let mut single = experiment.clone();
        if let Some(batch) = &v.batch {
            single.batch = batch.clone();
        }
        single.variants = vec![v.clone()];
        single
    };
    if variant.sweep.is_empty() {
        return Ok(vec![(SweepPoint::default(), single(variant))]);
    }
    let field = format!("variants.{}.sweep", variant.name);
    let points = sweep_points(&variant.sweep, &format!("{shown}: {field}"))?;
    let mut out = Vec::with_capacity(points.len());
    for (point, assignments) in points {
        let mut table = resolved.clone();
        for (key, value) in &assignments {
            let path = format!("variants.{}.{key}", variant.name);
            assign(&mut table, &path, value.clone())
                .map_err(|e| UsageError(format!("{shown}: {field}.\"{key}\": {e}")))?;
        }
        let swept: Experiment = deserialize(&table, shown)?;
        validate(&swept, shown, &point.label)?;
        let Some(v) = swept.variants.iter().find(|v| v.name == variant.name) else {
            bail!(UsageError(format!(
                "{shown}: {field}: the sweep renamed the variant; it cannot sweep `name`"
            )));
        };
        out.push((point, single(v)));
    }
    Ok(out)
}

/// The experiment's sweep point and a variant's own, as one point.
fn combine(global: &SweepPoint, own: &SweepPoint) -> SweepPoint {
    let label = [global.label.as_str(), own.label.as_str()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut values = global.values.clone();
    values.extend(own.values.clone());
    SweepPoint { label, values }
}

/// The grid's points in a fixed order (keys sorted, last key fastest).
fn sweep_points(
    sweep: &BTreeMap<String, Vec<Value>>,
    shown: &str,
) -> Result<Vec<(SweepPoint, Assignments)>> {
    let count = sweep
        .values()
        .try_fold(1usize, |n, values| n.checked_mul(values.len().max(1)));
    if count.is_none_or(|n| n > MAX_SWEEP_POINTS) {
        bail!(UsageError(format!(
            "{shown}: sweep: the grid has more than {MAX_SWEEP_POINTS} points; split it into \
             several experiments or shards"
        )));
    }
    let mut points: Vec<Assignments> = vec![Vec::new()];
    for (path, values) in sweep {
        if values.is_empty() {
            bail!(UsageError(format!(
                "{shown}: sweep.\"{path}\" is an empty list; give at least one value"
            )));
        }
        if path.starts_with("sweep") || path == "seeds" {
            bail!(UsageError(format!(
                "{shown}: sweep.\"{path}\": sweeps cannot set `sweep` or `seeds` (seeds are a list already)"
            )));
        }
        points = points
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.push((path.clone(), v.clone()));
                    p
                })
            })
            .collect();
    }
    Ok(points
        .into_iter()
        .map(|assignments| {
            let label = assignments
                .iter()
                .map(|(k, v)| format!("{}={}", short_key(k), show(v)))
                .collect::<Vec<_>>()
                .join(" ");
            let values = assignments
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            (SweepPoint { label, values }, assignments)
        })
        .collect())
}

fn short_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn run_id(variant: &str, point: &SweepPoint, seed: u64, swept: bool) -> String {
    let mut id = sanitize(variant);
    if swept {
        id.push('-');
        id.push_str(&sanitize(&point.label.replace(' ', "-")));
    }
    id.push_str(&format!("-s{seed}"));
    id
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `name`, given at `field` and shown to the user as `shown`, can name a file or
/// directory: not empty, no path separator, not hidden; a usage error naming `field` if not.
pub fn check_name(field: &str, name: &str, shown: &str) -> Result<()> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        bail!(UsageError(format!(
            "{shown}: {field} = {name:?}: a name must be non-empty, not start with '.', and have no slashes"
        )));
    }
    Ok(())
}

fn invalid(shown: &str, point: &str, field: &str, message: String) -> anyhow::Error {
    let at = if point.is_empty() {
        String::new()
    } else {
        format!(" (sweep point {point})")
    };
    UsageError(format!("{shown}{at}: {field}: {message}")).into()
}

/// Checks what serde cannot: ranges, consistency, names. Optimizer, schedule, model and data
/// fields are checked when they are built (see `build`), before anything runs.
fn validate(e: &Experiment, shown: &str, point: &str) -> Result<()> {
    let err = |field: &str, message: String| invalid(shown, point, field, message);
    if e.variants.is_empty() {
        return Err(err(
            "variants",
            "no variants: add at least one [[variants]] table".into(),
        ));
    }
    if e.seeds.is_empty() {
        return Err(err(
            "seeds",
            "the seed list is empty; give at least one seed".into(),
        ));
    }
    let mut distinct = std::collections::BTreeSet::new();
    if let Some(seed) = e.seeds.iter().find(|s| !distinct.insert(**s)) {
        return Err(err(
            "seeds",
            format!("seed {seed} is listed twice; each seed runs once"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in e.variants.iter().enumerate() {
        check_name(&format!("variants[{i}].name"), &v.name, shown)?;
        if !seen.insert(v.name.as_str()) {
            return Err(err(
                &format!("variants[{i}].name"),
                format!("{:?} is used twice", v.name),
            ));
        }
        if !(v.lr.is_finite() && v.lr > 0.0) {
            return Err(err(
                &format!("variants.{}.lr", v.name),
                format!(
                    "{} is not allowed; the learning rate must be a finite number > 0",
                    v.lr
                ),
            ));
        }
        if let Some(f) = v.warmup_start_factor {
            let field = format!("variants.{}.warmup_start_factor", v.name);
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(err(&field, format!("{f}: must be in (0, 1]")));
            }
            if v.warmup.unwrap_or(0) == 0 {
                return Err(err(&field, "needs `warmup` (the warm-up's length)".into()));
            }
        }
        for (field, value) in [("clip_norm", v.clip_norm), ("clip_value", v.clip_value)] {
            if let Some(x) = value
                && !(x.is_finite() && x > 0.0)
            {
                return Err(err(
                    &format!("variants.{}.{field}", v.name),
                    format!("{x} must be > 0"),
                ));
            }
        }
        if v.clip_norm.is_some() && v.clip_value.is_some() {
            return Err(err(
                &format!("variants.{}", v.name),
                "clip_norm and clip_value are exclusive; choose one".into(),
            ));
        }
    }
    let b = &e.budget;
    if b.steps.is_none() && b.epochs.is_none() && b.seconds.is_none() {
        return Err(err(
            "budget",
            "give at least one of steps, epochs, seconds".into(),
        ));
    }
    if b.steps == Some(0) || b.epochs == Some(0) {
        return Err(err("budget", "steps and epochs must be at least 1".into()));
    }
    if let Some(s) = b.seconds
        && !(s.is_finite() && s > 0.0)
    {
        return Err(err(
            "budget.seconds",
            format!("{s} must be a finite number > 0"),
        ));
    }
    if e.eval.log_every == 0 {
        return Err(err("eval.log_every", "must be at least 1".into()));
    }
    if e.eval.every == Some(0) {
        return Err(err("eval.every", "must be at least 1".into()));
    }
    if let Some(t) = &e.target
        && !t.value.is_finite()
    {
        return Err(err("target.value", "must be finite".into()));
    }
    if let Some(m) = e.divergence.max_loss
        && (m.is_nan() || m <= 0.0)
    {
        return Err(err("divergence.max_loss", format!("{m} must be > 0")));
    }
    if e.divergence.factor.is_nan() || e.divergence.factor <= 1.0 {
        return Err(err(
            "divergence.factor",
            format!("{} must be > 1", e.divergence.factor),
        ));
    }
    Ok(())
}

/// The resolved configuration as TOML text, with a header of facts about this run.
pub fn resolved_toml(table: &Table, meta: &BTreeMap<String, String>) -> Result<String> {
    let mut out =
        String::from("# Resolved experiment, as run. Rerun with `descent run <this file>`.\n");
    for (k, v) in meta {
        out.push_str(&format!("# {k}: {v}\n"));
    }
    out.push('\n');
    out.push_str(&toml::to_string_pretty(table)?);
    out.push_str("\n[meta]\n");
    for (k, v) in meta {
        out.push_str(&format!("{k} = {}\n", Value::String(v.clone())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_key_with_dots_is_one_segment_of_a_path() {
        let keys = |p: &str| key_path(p).map(|k| k.join("|"));
        assert_eq!(keys("budget.steps").as_deref(), Some("budget|steps"));
        assert_eq!(
            keys("sweep.\"problem.hidden\"").as_deref(),
            Some("sweep|problem.hidden")
        );
        assert_eq!(keys("\"a.b\".c").as_deref(), Some("a.b|c"));
        for bad in ["", "a..b", "a.", "sweep.\"open", "\"a\"b", "\"\""] {
            assert_eq!(keys(bad), None, "{bad}");
        }
        // `[quick] sweep = { "problem.hidden" = [...] }` replaces that sweep key only, and a
        // top-level `'sweep."problem.hidden"'` names the same key.
        let mut file: Table =
            toml::from_str("[sweep]\n\"problem.hidden\" = [[2], [4]]\n\"problem.l2\" = [0.1]")
                .unwrap_or_default();
        let quick: Table =
            toml::from_str("sweep = { \"problem.hidden\" = [[8]] }").unwrap_or_default();
        let mut paths = Vec::new();
        flatten_paths("", &quick, &mut paths);
        for (path, value) in paths {
            assert_eq!(path, "sweep.\"problem.hidden\"");
            assert_eq!(assign(&mut file, &path, value), Ok(()));
        }
        let sweep = file
            .get("sweep")
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default();
        assert_eq!(sweep.len(), 2);
        assert_eq!(
            sweep
                .get("problem.hidden")
                .map(ToString::to_string)
                .as_deref(),
            Some("[[8]]")
        );
        let quick: Table =
            toml::from_str("'sweep.\"problem.hidden\"' = [[16]]\n\"budget.steps\" = 3")
                .unwrap_or_default();
        let mut paths = Vec::new();
        flatten_paths("", &quick, &mut paths);
        let names: Vec<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["budget.steps", "sweep.\"problem.hidden\""]);
        for (path, value) in paths {
            assert_eq!(assign(&mut file, &path, value), Ok(()));
        }
        let sweep = file
            .get("sweep")
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            sweep
                .get("problem.hidden")
                .map(ToString::to_string)
                .as_deref(),
            Some("[[16]]")
        );
    }
}
