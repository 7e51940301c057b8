//! What a run optimises: a landscape, or a model on a dataset. Built once per experiment
//! (datasets are loaded and checked before any run starts), instantiated per run seed.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Result;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor};
use descent_data::{
    ArrayBatcher, ArrayDataset, Batch, BatchPlan, BatchSize, BatchSpec, BatchTargets, DataError,
    Sampling, Standardization, Standardizer, synthetic, train_validation_split,
};
use descent_models::ModelError;
use descent_models::landscape::{self, LandscapeParams};
use descent_models::loss::{ClassLabels, Loss, Objective, Targets};
use descent_models::{Landscape, Model, ModelConfig, ModelParams, Point, Stochastic};

use crate::config::{
    ActivationName, BatchConfig, BatchSizeValue, DatasetName, DatasetProblem, LandscapeProblem,
    LossName, Problem as ProblemConfig, RunSpec, SamplingName, StandardizeName,
};

/// Everything an evaluation measures; `None` where it does not apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss (for landscapes: the full objective).
    pub test_loss: Option<f64>,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
    /// Further named measurements, written to `measurements.csv`.
    pub extra: Vec<(&'static str, f64)>,
}

/// A problem, ready to run.
#[derive(Debug, Clone)]
pub enum Task {
    /// A landscape walked by one point.
    Landscape(LandscapeTask),
    /// A model trained on data.
    Supervised(SupervisedTask),
}

/// A landscape, possibly as a stochastic finite sum.
#[derive(Debug, Clone)]
pub struct LandscapeTask {
    /// The function.
    pub landscape: Landscape,
    /// Its finite-sum version, when mini-batches should carry noise.
    pub stochastic: Option<Stochastic>,
    /// Where every run starts.
    pub start: Vec<f64>,
}

/// A model on a dataset.
#[derive(Debug, Clone)]
pub struct SupervisedTask {
    /// Training items.
    pub train: Arc<ArrayDataset>,
    /// Validation items, when held out.
    pub validation: Option<Arc<ArrayDataset>>,
    /// Test items.
    pub test: Option<Arc<ArrayDataset>>,
    /// The model (its seed is replaced by the run's).
    pub model: ModelConfig,
    /// The model's name in the experiment file.
    pub model_name: &'static str,
    /// Loss and L2 penalty.
    pub objective: Objective,
    /// The objective's minimum over the parameters, once computed (see
    /// [`SupervisedTask::known_minimum`]); shared by the task's clones.
    pub minimum: Arc<OnceLock<std::result::Result<f64, String>>>,
}

/// The most items a synthetic dataset may have.
pub const MAX_ITEMS: usize = 10_000_000;
/// The most values (items x features, or examples x dimension) generated for a problem.
pub const MAX_VALUES: usize = 100_000_000;
/// The most classes of a synthetic dataset.
pub const MAX_CLASSES: usize = 10_000;
/// The largest dimension of an N-D landscape.
pub const MAX_DIM: usize = 10_000_000;
/// The largest dimension of a quadratic (its Hessian is a dense matrix).
pub const MAX_QUADRATIC_DIM: usize = 4096;

fn bad(field: &str, message: impl std::fmt::Display) -> String {
    format!("problem.{field}: {message}")
}

impl Task {
    /// The task of `run` where it is not this one: a run that sweeps the problem's own fields
    /// (a landscape's parameter, a dataset's size) gets its own, built here; `None` for every
    /// other run, which runs on `self`.
    pub fn rebuilt_for(&self, run: &RunSpec) -> Result<Option<Task>> {
        if !run.sweeps_problem() {
            return Ok(None);
        }
        Ok(Some(
            Task::build(&run.experiment.problem).map_err(anyhow::Error::msg)?,
        ))
    }

    /// Builds the problem: loads or generates data, checks every field. Errors are
    /// `problem.<field>: ...` messages.
    pub fn build(p: &ProblemConfig) -> std::result::Result<Task, String> {
        match p {
            ProblemConfig::Landscape(p) => landscape_task(p).map(Task::Landscape),
            ProblemConfig::Dataset(p) => supervised_task(p).map(Task::Supervised),
        }
    }

    /// Whether the problem holds out a test set.
    pub fn has_test_set(&self) -> bool {
        matches!(self, Task::Supervised(s) if s.test.is_some())
    }

    /// The number of items batches are drawn from (1 for a deterministic landscape).
    pub fn items(&self) -> usize {
        match self {
            Task::Landscape(t) => t.stochastic.as_ref().map_or(1, Stochastic::examples),
            Task::Supervised(t) => t.train.len(),
        }
    }

    /// The batch plan for `batch` with `seed`.
    pub fn batch_plan(
        &self,
        batch: &BatchConfig,
        seed: u64,
    ) -> std::result::Result<BatchPlan, String> {
        let size = match &batch.size {
            BatchSizeValue::Word(w) if w == "full" => BatchSize::Full,
            BatchSizeValue::Items(n) if *n >= 1 => BatchSize::Items(*n as usize),
            BatchSizeValue::Items(n) => {
                return Err(format!(
                    "batch.size = {n}: must be at least 1 (or \"full\")"
                ));
            }
            BatchSizeValue::Word(w) => {
                return Err(format!(
                    "batch.size = {w:?}: must be a number of items or \"full\""
                ));
            }
            BatchSizeValue::Other(v) => {
                return Err(format!(
                    "batch.size = {v}: must be a whole number of items or \"full\""
                ));
            }
        };
        let sampling = match batch.sampling {
            SamplingName::Shuffled => Sampling::Shuffled,
            SamplingName::Sequential => Sampling::Sequential,
            SamplingName::WithReplacement => Sampling::WithReplacement,
            SamplingName::Stratified => Sampling::Stratified,
            SamplingName::ShuffledOnce => Sampling::ShuffledOnce,
            SamplingName::SortedByClass => Sampling::SortedByClass,
        };
        let spec = BatchSpec {
            size,
            drop_last: batch.drop_last,
            sampling,
        };
        let planned = match self {
            Task::Supervised(t) => BatchPlan::new(spec, &t.train, seed),
            Task::Landscape(_) => BatchPlan::for_len(spec, self.items(), seed),
        };
        planned.map_err(|e| format!("batch: {e}"))
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match self {
            Task::Landscape(t) => match &t.stochastic {
                Some(s) => match s.sigma() {
                    Some(sigma) => format!(
                        "{} (finite sum of {}, sigma {sigma})",
                        t.landscape.name(),
                        s.examples()
                    ),
                    None => format!("{} (finite sum of {})", t.landscape.name(), s.examples()),
                },
                None => t.landscape.name().to_string(),
            },
            Task::Supervised(t) => format!(
                "{} on {} ({} items)",
                t.model_name,
                t.train.name(),
                t.train.len()
            ),
        }
    }
}

impl ProblemConfig {
    /// The landscape task, if this problem is a landscape: built without touching any
    /// dataset (what plots need).
    pub fn landscape_task(&self) -> Option<std::result::Result<LandscapeTask, String>> {
        self.as_landscape().map(landscape_task)
    }
}

fn not_for(kind: &str, fields: &[(&str, bool)]) -> std::result::Result<(), String> {
    match fields.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(bad(field, format!("does not apply to a {kind} problem"))),
        None => Ok(()),
    }
}

fn landscape_task(p: &LandscapeProblem) -> std::result::Result<LandscapeTask, String> {
    if let Some(dim) = p.dim
        && dim > MAX_DIM
    {
        return Err(bad("dim", format!("{dim}: at most {MAX_DIM}")));
    }
    if let Some(values) = &p.eigenvalues
        && values.len() > MAX_QUADRATIC_DIM
    {
        return Err(bad(
            "eigenvalues",
            format!(
                "{} eigenvalues: a quadratic has at most {MAX_QUADRATIC_DIM} dimensions (its \
                 Hessian is stored whole)",
                values.len()
            ),
        ));
    }
    let entry = landscape::find(&p.landscape).map_err(|e| bad("landscape", e))?;
    if p.landscape == "quadratic"
        && let Some(dim) = p.dim
        && dim > MAX_QUADRATIC_DIM
    {
        return Err(bad(
            "dim",
            format!(
                "{dim}: a quadratic has at most {MAX_QUADRATIC_DIM} dimensions (its Hessian is stored whole)"
            ),
        ));
    }
    let params = LandscapeParams {
        dim: p.dim,
        eigenvalues: p.eigenvalues.clone(),
        angle: p.angle,
        rotation_seed: p.rotation_seed,
    };
    let landscape = entry.build(&params).map_err(|e| match e {
        ModelError::LandscapeParameter { parameter, reason } => bad(parameter, reason),
        other => bad("landscape", other),
    })?;
    let seed = p.data_seed.unwrap_or(0);
    let stochastic = {
        match (p.noise_sigma, p.noise_examples) {
            (None, None) => entry
                .noise
                .map(|noise| noise.finite_sum(&landscape, seed))
                .transpose()
                .map_err(|e| bad("landscape", e))?,
            (Some(_), Some(0)) => {
                return Err(bad(
                    "noise_examples",
                    "0: the finite sum needs at least 1 example",
                ));
            }
            (Some(_), Some(n)) if n.saturating_mul(landscape.dim()) > MAX_VALUES => {
                return Err(bad(
                    "noise_examples",
                    format!(
                        "{n} examples of dimension {}: at most {MAX_VALUES} values",
                        landscape.dim()
                    ),
                ));
            }
            (Some(sigma), examples) => Some(
                Stochastic::new(landscape.clone(), examples.unwrap_or(100), sigma, seed)
                    .map_err(|e| bad("noise_sigma", e))?,
            ),
            (None, Some(_)) => {
                return Err(bad(
                    "noise_examples",
                    "needs noise_sigma (the noise scale) too",
                ));
            }
        }
    };
    let start = match (&p.start, entry.start) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s.to_vec(),
        (None, None) => return Err(bad("start", "a landscape needs a start point")),
    };
    landscape.check(&start).map_err(|e| bad("start", e))?;
    if start.iter().any(|x| !x.is_finite()) {
        return Err(bad("start", "coordinates must be finite"));
    }
    Ok(LandscapeTask {
        landscape,
        stochastic,
        start,
    })
}

/// XORed into `data_seed` for the split that holds out the test set of a dataset without one
/// of its own (see [`TEST_SHARE`]): the validation split is drawn with `data_seed` itself, and
/// this keeps the two splits on different random streams. (`0x7e57` reads "test".) Changing
/// it changes those datasets' test sets.
const TEST_SPLIT_SEED: u64 = 0x7e57;
/// One item in `TEST_SHARE` is held out as the test set of a dataset without one of its own
/// (the digits, and every generated dataset).
const TEST_SHARE: usize = 5;
/// The fewest items a generated dataset may have.
const MIN_SAMPLES: usize = 10;
/// `samples` when a generated dataset's problem does not set it.
const DEFAULT_SAMPLES: usize = 1000;
/// `features` when a generated dataset's problem does not set it.
const DEFAULT_FEATURES: usize = 2;
/// `classes` when a generated dataset's problem does not set it.
const DEFAULT_CLASSES: usize = 3;
/// `noise` when a generated dataset's problem does not set it (unless its generator has a
/// default of its own).
const DEFAULT_NOISE: f64 = 0.1;

/// A dataset's training set and its test set, when it has one.
type Splits = (ArrayDataset, Option<ArrayDataset>);

/// Where a dataset's items come from: an entry of the dataset registry ([`source`]).
#[derive(Clone, Copy)]
enum Source {
    /// Compiled into the binary, with no test set of its own: one item in [`TEST_SHARE`] is
    /// held out. Reads none of the synthetic-only fields, nor `data_path`.
    Embedded(fn() -> std::result::Result<ArrayDataset, DataError>),
    /// Read from disk (`data_path`, or the loader's own places) with its train and test sets;
    /// errors are `problem.<field>: ...` messages. Reads none of the synthetic-only fields.
    Read(fn(Option<&Path>) -> std::result::Result<Splits, String>),
    /// Generated from the synthetic-only fields; one item in [`TEST_SHARE`] is the test set.
    Generated(Generator),
}

/// How a synthetic dataset is generated, and which synthetic-only fields it reads besides
/// `samples` and `noise` (which all of them read).
#[derive(Clone, Copy)]
struct Generator {
    /// `Some(min)`: it reads `classes` and needs at least `min`; `None`: `classes` is refused.
    min_classes: Option<usize>,
    /// Whether it reads `features` (else `features` is refused).
    reads_features: bool,
    /// Whether it needs more items than features (a least-squares problem).
    more_items_than_features: bool,
    /// `noise` when the problem does not set it.
    default_noise: f64,
    /// Generates about [`Draw::total`] items.
    generate: fn(&Draw) -> std::result::Result<ArrayDataset, DataError>,
}

/// What a [`Generator`] is asked for.
struct Draw {
    /// Items to generate, test set included (generators that deal items out evenly round
    /// up).
    total: usize,
    /// The number of classes.
    classes: usize,
    /// The number of features.
    features: usize,
    /// The noise scale.
    noise: f64,
    /// The data seed.
    seed: u64,
}

/// The dataset registry: where each dataset's items come from, which fields it reads and how
/// it is generated. Adding a dataset is a [`DatasetName`] variant and its entry here (with its
/// loader, for one read from disk).
fn source(name: DatasetName) -> Source {
    match name {
        DatasetName::Digits => Source::Embedded(descent_data::digits),
        DatasetName::FashionMnist => Source::Read(read_fashion_mnist),
        DatasetName::Mnist => Source::Read(read_mnist),
        DatasetName::Blobs => Source::Generated(Generator {
            min_classes: Some(2),
            reads_features: true,
            more_items_than_features: false,
            // The spread of each blob around its centre.
            default_noise: 1.0,
            generate: |d| {
                let per_class = d.total.div_ceil(d.classes);
                synthetic::blobs(d.classes, per_class, d.features, d.noise, d.seed)
            },
        }),
        DatasetName::TwoMoons => Source::Generated(Generator {
            min_classes: None,
            reads_features: false,
            more_items_than_features: false,
            default_noise: DEFAULT_NOISE,
            generate: |d| synthetic::two_moons(d.total.div_ceil(2), d.noise, d.seed),
        }),
        DatasetName::Spirals => Source::Generated(Generator {
            min_classes: Some(2),
            reads_features: false,
            more_items_than_features: false,
            default_noise: DEFAULT_NOISE,
            generate: |d| {
                let per_arm = d.total.div_ceil(d.classes);
                synthetic::spirals(d.classes, per_arm, d.noise, d.seed)
            },
        }),
        DatasetName::Logistic => Source::Generated(Generator {
            min_classes: None,
            reads_features: true,
            more_items_than_features: false,
            default_noise: DEFAULT_NOISE,
            // Without noise the classes are linearly separable.
            generate: |d| {
                synthetic::logistic(d.total, d.features, d.noise == 0.0, d.seed)
                    .map(|(data, _)| data)
            },
        }),
        DatasetName::LinearRegression => Source::Generated(Generator {
            min_classes: None,
            reads_features: true,
            more_items_than_features: true,
            default_noise: DEFAULT_NOISE,
            generate: |d| {
                synthetic::linear_regression(d.total, d.features, d.noise, d.seed).map(|r| r.data)
            },
        }),
    }
}

impl Source {
    /// Which of the synthetic-only fields `samples`, `classes`, `features` and `noise` (in
    /// that order) the dataset reads.
    fn reads(&self) -> [bool; 4] {
        match self {
            Source::Embedded(_) | Source::Read(_) => [false; 4],
            Source::Generated(g) => [true, g.min_classes.is_some(), g.reads_features, true],
        }
    }
}

fn read_fashion_mnist(path: Option<&Path>) -> std::result::Result<Splits, String> {
    let set = descent_data::fashion_mnist(path).map_err(|e| bad("dataset", e))?;
    Ok((set.train, Some(set.test)))
}

fn read_mnist(path: Option<&Path>) -> std::result::Result<Splits, String> {
    let dir = path.ok_or_else(|| bad("data_path", "mnist needs the directory of its IDX files"))?;
    let set = descent_data::mnist(dir).map_err(|e| bad("data_path", e))?;
    Ok((set.train, Some(set.test)))
}

/// `data` with one item in [`TEST_SHARE`] held out as its test set; a failure is reported
/// against `field`.
fn hold_out_test(
    data: &ArrayDataset,
    seed: u64,
    field: &str,
) -> std::result::Result<Splits, String> {
    let split = train_validation_split(data, data.len() / TEST_SHARE, seed ^ TEST_SPLIT_SEED)
        .map_err(|e| bad(field, e))?;
    Ok((split.train, Some(split.validation)))
}

/// The training and test sets of `p`'s dataset, as its registry entry says, after checking
/// that `p` sets only fields the dataset reads.
fn load_dataset(p: &DatasetProblem, seed: u64) -> std::result::Result<Splits, String> {
    let name = p.dataset;
    let source = source(name);
    if let Source::Generated(_) = source
        && p.data_path.is_some()
    {
        return Err(bad(
            "data_path",
            "synthetic datasets are generated, not read",
        ));
    }
    let given = [
        ("samples", p.samples.is_some()),
        ("classes", p.classes.is_some()),
        ("features", p.features.is_some()),
        ("noise", p.noise.is_some()),
    ];
    let reads = source.reads();
    let refused: [(&str, bool); 4] = std::array::from_fn(|i| (given[i].0, given[i].1 && !reads[i]));
    not_for(name.name(), &refused)?;
    match source {
        Source::Embedded(load) => {
            let all = load().map_err(|e| bad("dataset", e))?;
            hold_out_test(&all, seed, "dataset")
        }
        Source::Read(read) => read(p.data_path.as_deref()),
        Source::Generated(generator) => generate(&generator, p, seed),
    }
}

/// Checks the synthetic-only fields, generates the items and holds out the test set.
fn generate(
    generator: &Generator,
    p: &DatasetProblem,
    seed: u64,
) -> std::result::Result<Splits, String> {
    let samples = p.samples.unwrap_or(DEFAULT_SAMPLES);
    let features = p.features.unwrap_or(DEFAULT_FEATURES);
    let classes = p.classes.unwrap_or(DEFAULT_CLASSES);
    let noise = p.noise.unwrap_or(generator.default_noise);
    if generator.more_items_than_features && samples <= features {
        return Err(bad(
            "samples",
            format!("{samples}: least squares needs more items than features ({features})"),
        ));
    }
    if samples > MAX_ITEMS || samples.saturating_mul(features) > MAX_VALUES {
        return Err(bad(
            "samples",
            format!(
                "{samples} items of {features} features: at most {MAX_ITEMS} items and \
                 {MAX_VALUES} values can be generated"
            ),
        ));
    }
    if classes > MAX_CLASSES {
        return Err(bad(
            "classes",
            format!("{classes}: at most {MAX_CLASSES} classes"),
        ));
    }
    if samples < MIN_SAMPLES {
        return Err(bad(
            "samples",
            format!("{samples}: at least {MIN_SAMPLES} items are needed"),
        ));
    }
    if let Some(min) = generator.min_classes
        && classes < min
    {
        return Err(bad(
            "classes",
            format!("{classes}: at least {min} classes are needed"),
        ));
    }
    if features == 0 {
        return Err(bad("features", "0: at least 1 feature is needed"));
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(bad(
            "noise",
            format!("{noise}: must be a finite number >= 0"),
        ));
    }
    // Generate a quarter more than `samples`: that fifth of the total is the test set.
    let draw = Draw {
        total: samples + samples / (TEST_SHARE - 1),
        classes,
        features,
        noise,
        seed,
    };
    let generated = (generator.generate)(&draw).map_err(|e| bad("dataset", e))?;
    hold_out_test(&generated, seed, "samples")
}

/// The training set after `imbalance` and `train_items`; the items kept stay in index order.
fn subsample(
    p: &DatasetProblem,
    train: ArrayDataset,
    seed: u64,
) -> std::result::Result<ArrayDataset, String> {
    use rand::SeedableRng;
    use rand::seq::index::sample;
    // Its own stream: the validation split and synthetic data use the seed itself.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ SUBSAMPLE_SEED);
    let mut train = train;
    if let Some(imbalance) = p.imbalance {
        let Some(by_class) = train.items_by_class() else {
            return Err(bad("imbalance", "the dataset has no classes"));
        };
        if !(imbalance.keep > 0.0 && imbalance.keep <= 1.0) {
            return Err(bad(
                "imbalance.keep",
                format!("{}: must be in (0, 1]", imbalance.keep),
            ));
        }
        let members = by_class
            .get(imbalance.class as usize)
            .cloned()
            .unwrap_or_default();
        if members.is_empty() {
            return Err(bad(
                "imbalance.class",
                format!(
                    "{}: no training item has this class (classes 0..{})",
                    imbalance.class,
                    train.classes().unwrap_or(0)
                ),
            ));
        }
        let kept = ((members.len() as f64 * imbalance.keep).round() as usize).max(1);
        let mut keep = vec![true; train.len()];
        for &i in &members {
            keep[i] = false;
        }
        for k in sample(&mut rng, members.len(), kept) {
            keep[members[k]] = true;
        }
        let indices: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
        train = train.subset(train.name().to_owned(), &indices);
    }
    if let Some(n) = p.train_items {
        if n == 0 || n > train.len() {
            return Err(bad(
                "train_items",
                format!("{n}: must be in 1..={} (the training items)", train.len()),
            ));
        }
        let mut indices = sample(&mut rng, train.len(), n).into_vec();
        indices.sort_unstable();
        train = train.subset(train.name().to_owned(), &indices);
    }
    Ok(train)
}

/// Mixed into `data_seed` for the stream that subsamples the training set.
const SUBSAMPLE_SEED: u64 = 0x5ab5_a3b1_e000_0001;

fn supervised_task(p: &DatasetProblem) -> std::result::Result<SupervisedTask, String> {
    let seed = p.data_seed.unwrap_or(0);
    let (train, test) = load_dataset(p, seed)?;
    let (train, mut validation) = match p.validation.unwrap_or(0) {
        0 => (train, None),
        n => {
            let split =
                train_validation_split(&train, n, seed).map_err(|e| bad("validation", e))?;
            (split.train, Some(split.validation))
        }
    };
    let mut train = subsample(p, train, seed)?;
    let mut test = match (test, p.test_items) {
        (test, None) => test,
        (_, Some(0)) => None,
        (Some(test), Some(n)) if n <= test.len() => {
            let first: Vec<usize> = (0..n).collect();
            Some(test.subset(test.name().to_owned(), &first))
        }
        (test, Some(n)) => {
            return Err(bad(
                "test_items",
                format!(
                    "{n}: must be in 0..={} (the test items)",
                    test.map_or(0, |t| t.len())
                ),
            ));
        }
    };
    let standardization = match p.standardize.unwrap_or(StandardizeName::None) {
        StandardizeName::None => Standardization::None,
        StandardizeName::PerFeature => Standardization::PerFeature,
        StandardizeName::Global => Standardization::Global,
    };
    if standardization != Standardization::None {
        let fitted = Standardizer::fit(&train, standardization);
        fitted.apply(&mut train);
        if let Some(v) = validation.as_mut() {
            fitted.apply(v);
        }
        if let Some(t) = test.as_mut() {
            fitted.apply(t);
        }
    }
    let regression = train.classes().is_none();
    let loss = match (p.loss, regression) {
        // On classes, mse compares the outputs with one-hot vectors.
        (None, true) | (Some(LossName::Mse), _) => Loss::Mse,
        (None, false) | (Some(LossName::CrossEntropy), false) => Loss::CrossEntropy,
        (Some(l @ LossName::CrossEntropy), true) => {
            return Err(bad(
                "loss",
                format!(
                    "{} does not fit the {} dataset's targets",
                    l.name(),
                    p.dataset.name()
                ),
            ));
        }
    };
    let l2 = p.l2.unwrap_or(0.0);
    if !(l2.is_finite() && l2 >= 0.0) {
        return Err(bad("l2", format!("{l2}: must be a finite number >= 0")));
    }
    let (model, model_name) = model(p, &train, regression)?;
    Ok(SupervisedTask {
        train: Arc::new(train),
        validation: validation.map(Arc::new),
        test: test.map(Arc::new),
        model,
        model_name,
        objective: Objective { loss, l2 },
        minimum: Arc::default(),
    })
}

/// The model `p` names (by default linear for regression, softmax for classes), shaped for
/// `train`, and its name.
fn model(
    p: &DatasetProblem,
    train: &ArrayDataset,
    regression: bool,
) -> std::result::Result<(ModelConfig, &'static str), String> {
    let model_name = p
        .model
        .as_deref()
        .unwrap_or(if regression { "linear" } else { "softmax" });
    let entry = descent_models::model::find(model_name).map_err(|e| bad("model", e))?;
    let params = ModelParams {
        d_input: train.feature_len(),
        item_shape: train.item_shape().to_vec(),
        outputs: train.classes().unwrap_or(1),
        regression,
        hidden: p.hidden.clone(),
        activation: p.activation.map(|a| match a {
            ActivationName::Relu => descent_models::Activation::Relu,
            ActivationName::Tanh => descent_models::Activation::Tanh,
        }),
    };
    let model = entry.build(&params).map_err(|e| match e {
        ModelError::ModelParameter { parameter, reason } => bad(parameter, reason),
        other => bad("model", other),
    })?;
    Ok((model, entry.name))
}

impl LandscapeTask {
    /// The run's point at the start.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Point<B>> {
        Ok(Point::on(&self.landscape, &self.start, device)?)
    }

    /// The loss on `batch` (noise examples; ignored without noise).
    pub fn loss<B: Backend>(&self, point: &Point<B>, batch: &[usize]) -> Result<Tensor<B, 1>> {
        let w = point.w.val();
        Ok(match &self.stochastic {
            Some(s) => s.loss(w, batch)?,
            None => self.landscape.loss(w)?,
        })
    }

    /// Whether [`gradient`](Self::gradient) gives the gradient (a landscape without noise).
    pub fn has_closed_form_gradient(&self) -> bool {
        self.stochastic.is_none()
    }

    /// The gradient at `point` without building the autodiff graph, for a landscape without
    /// noise (`None` for a stochastic one), equal to the graph's
    /// ([`Landscape::gradient_and_loss`]); with `with_loss`, also the loss's value. A
    /// landscape step then costs a read of `w` and the optimizer's update: no graph, no
    /// backward pass, and none of the autodiff bookkeeping parallel runs share.
    pub fn gradient<B: AutodiffBackend>(
        &self,
        point: &Point<B>,
        with_loss: bool,
    ) -> Result<Option<(GradientsParams, Option<f64>)>> {
        if !self.has_closed_form_gradient() {
            return Ok(None);
        }
        let (gradient, loss) = self
            .landscape
            .gradient_and_loss(point.w.val().inner(), with_loss)?;
        let mut grads = GradientsParams::new();
        grads.register(point.w.id, gradient);
        Ok(Some((grads, loss.map(|l| l.into_scalar().elem()))))
    }

    /// The full objective and the distance to the nearest minimiser.
    pub fn evaluate<B: Backend>(&self, point: &Point<B>) -> Result<Evaluation> {
        let w = point.coordinates();
        let value = self.landscape.value(&w)?;
        let mut extra = Vec::new();
        if let Some(d) = self.landscape.distance_to_minimiser(&w)? {
            extra.push(("distance_to_minimiser", d));
        }
        Ok(Evaluation {
            test_loss: Some(value),
            extra,
            ..Evaluation::default()
        })
    }
}

impl SupervisedTask {
    /// The minimum of the training objective over the parameters, where it can be computed:
    /// linear regression with the MSE loss (normal equations) and softmax regression with
    /// cross-entropy (Newton's method), any L2 penalty, once per problem in `f64`.
    pub fn known_minimum(&self) -> std::result::Result<f64, String> {
        self.minimum
            .get_or_init(|| match (&self.model, self.objective.loss) {
                (ModelConfig::LinearRegression(_), Loss::Mse) => {
                    descent_models::least_squares_minimum(&self.train, self.objective.l2)
                        .map_err(|e| e.to_string())
                }
                (ModelConfig::SoftmaxRegression(_), Loss::CrossEntropy) => {
                    descent_models::softmax_regression_minimum(&self.train, self.objective.l2)
                        .map_err(|e| e.to_string())
                }
                (ModelConfig::LinearRegression(_), Loss::CrossEntropy)
                | (ModelConfig::SoftmaxRegression(_), Loss::Mse)
                | (
                    ModelConfig::Mlp(_) | ModelConfig::Cnn2c2d(_),
                    Loss::Mse | Loss::CrossEntropy,
                ) => Err(format!(
                    "the minimum of the {} model's objective is not known (it is for \
                     landscapes with a known minimum, linear regression with the mse loss and \
                     softmax regression with cross-entropy)",
                    self.model_name
                )),
            })
            .clone()
    }

    /// The run's model, initialised from `seed`.
    pub fn init<B: Backend>(
        &self,
        seed: u64,
        device: &B::Device,
    ) -> Result<descent_models::AnyModel<B>> {
        Ok(self.model.clone().with_seed(seed).init(device)?)
    }

    /// The objective on the training items `batch`.
    pub fn loss<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        batcher: &ArrayBatcher,
        batch: &[usize],
        device: &B::Device,
    ) -> Result<Tensor<B, 1>> {
        self.loss_on(model, batcher.assemble::<B>(batch, device))
    }

    /// The objective on an assembled batch of training items.
    pub fn loss_on<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        batch: Batch<B>,
    ) -> Result<Tensor<B, 1>> {
        let targets = targets(batch.targets, self.train.classes())?;
        let output = model.forward(batch.inputs)?;
        Ok(self.objective.value(model, output, &targets)?)
    }

    /// The objective on the training items `batch` through the model's twice-differentiable
    /// forward pass ([`descent_models::Model::forward_twice_differentiable`]); `None` for a model
    /// that has none.
    pub fn loss_twice_differentiable<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        batcher: &ArrayBatcher,
        batch: &[usize],
        device: &B::Device,
    ) -> Result<Option<Tensor<B, 1>>> {
        let batch = batcher.assemble::<B>(batch, device);
        let targets = targets(batch.targets, self.train.classes())?;
        let Some(output) = model.forward_twice_differentiable(batch.inputs) else {
            return Ok(None);
        };
        Ok(Some(self.objective.value(model, output?, &targets)?))
    }

    /// Validation and test sets cut into chunks and made tensors on `device`: assembled once
    /// per run and reused by every evaluation.
    pub fn eval_sets<B: Backend>(&self, device: &B::Device) -> EvalSets<B> {
        let chunks = |data: &Option<Arc<ArrayDataset>>| {
            data.as_ref().map(|d| {
                // Chunks bound the memory of a forward pass over a large test set.
                const CHUNK: usize = 2000;
                let batcher = ArrayBatcher::new(Arc::clone(d));
                let indices: Vec<usize> = (0..d.len()).collect();
                indices
                    .chunks(CHUNK)
                    .map(|c| batcher.assemble::<B>(c, device))
                    .collect()
            })
        };
        EvalSets {
            validation: chunks(&self.validation),
            test: chunks(&self.test),
        }
    }

    /// Validation and test loss (data term only) and accuracy.
    pub fn evaluate<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        sets: &EvalSets<B>,
    ) -> Result<Evaluation> {
        let mut evaluation = Evaluation::default();
        if let Some(v) = &sets.validation {
            let (loss, accuracy) = self.measure(model, v)?;
            evaluation.val_loss = Some(loss);
            evaluation.val_accuracy = accuracy;
        }
        if let Some(t) = &sets.test {
            let (loss, accuracy) = self.measure(model, t)?;
            evaluation.test_loss = Some(loss);
            evaluation.test_accuracy = accuracy;
        }
        Ok(evaluation)
    }

    fn measure<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
    ) -> Result<(f64, Option<f64>)> {
        let data_only = Objective {
            loss: self.objective.loss,
            l2: 0.0,
        };
        self.measure_with(&data_only, model, chunks)
    }

    /// The data loss (without the L2 penalty) and accuracy over `chunks`, weighted by their
    /// sizes.
    pub fn data_loss_and_accuracy<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
    ) -> Result<(f64, Option<f64>)> {
        self.measure(model, chunks)
    }

    /// The training objective (with its L2 penalty) and accuracy over `chunks`, weighted by
    /// their sizes: on the whole training set, the full objective the mini-batches sample.
    pub fn objective_and_accuracy<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
    ) -> Result<(f64, Option<f64>)> {
        self.measure_with(&self.objective, model, chunks)
    }

    fn measure_with<B: Backend>(
        &self,
        objective: &Objective,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
    ) -> Result<(f64, Option<f64>)> {
        self.measure_outputs(objective, model, chunks, &mut |_, batch| {
            Ok(model.forward(batch.inputs.clone())?)
        })
    }

    /// The data loss and accuracy over `chunks` given each chunk's outputs (`outputs(i,
    /// chunk)`) rather than the model's forward pass: for outputs formed from shared parts.
    pub fn data_loss_of_outputs<B: Backend>(
        &self,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
        outputs: &mut Outputs<'_, B>,
    ) -> Result<(f64, Option<f64>)> {
        let data_only = Objective {
            loss: self.objective.loss,
            l2: 0.0,
        };
        self.measure_outputs(&data_only, model, chunks, outputs)
    }

    fn measure_outputs<B: Backend>(
        &self,
        objective: &Objective,
        model: &descent_models::AnyModel<B>,
        chunks: &[Batch<B>],
        outputs: &mut Outputs<'_, B>,
    ) -> Result<(f64, Option<f64>)> {
        let classes = self.train.classes();
        let (mut loss_sum, mut correct, mut n) = (0.0f64, 0usize, 0usize);
        for (i, batch) in chunks.iter().enumerate() {
            let size = batch.len();
            let labels = match &batch.targets {
                BatchTargets::Classes(l) => Some(l.clone()),
                _ => None,
            };
            let targets = targets(batch.targets.clone(), classes)?;
            let output = outputs(i, batch)?;
            if let Some(labels) = labels {
                correct += count_correct(output.clone(), labels);
            }
            let loss: f64 = objective
                .value(model, output, &targets)?
                .into_scalar()
                .elem();
            loss_sum += loss * size as f64;
            n += size;
        }
        let n = n.max(1) as f64;
        let accuracy = classes.map(|_| correct as f64 / n);
        Ok((loss_sum / n, accuracy))
    }
}

/// A model's outputs for the `i`-th chunk of items: `outputs(i, chunk)`.
pub type Outputs<'a, B> = dyn FnMut(usize, &Batch<B>) -> Result<Tensor<B, 2>> + 'a;

/// The evaluation data of a run, as tensors: see [`SupervisedTask::eval_sets`].
pub struct EvalSets<B: Backend> {
    validation: Option<Vec<Batch<B>>>,
    test: Option<Vec<Batch<B>>>,
}

fn count_correct<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> usize {
    let predicted = logits.argmax(1).flatten::<1>(0, 1);
    let hits: i64 = predicted.equal(labels).int().sum().into_scalar().elem();
    hits as usize
}

fn targets<B: Backend>(targets: BatchTargets<B>, classes: Option<usize>) -> Result<Targets<B>> {
    Ok(match (targets, classes) {
        (BatchTargets::Classes(labels), Some(classes)) => {
            Targets::Classes(ClassLabels::from_tensor(labels, classes)?)
        }
        (BatchTargets::Values(values), _) => Targets::Values(values),
        _ => anyhow::bail!("the dataset has no targets to train on"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use burn::backend::{Autodiff, NdArray};

    use super::*;

    /// The closed-form gradient is the graph's, bit for bit: every built-in landscape, at
    /// points inside its plot window, in `f32` and `f64`.
    fn gradients_agree<B: AutodiffBackend>() {
        for entry in landscape::BUILT_IN {
            // A rotated, ill-conditioned quadratic where one needs its eigenvalues.
            let params = LandscapeParams {
                eigenvalues: entry
                    .takes
                    .contains(&"eigenvalues")
                    .then(|| vec![1.0, 10.0]),
                angle: entry.takes.contains(&"angle").then_some(0.5),
                ..LandscapeParams::default()
            };
            let landscape = entry.build(&params).unwrap();
            let window = landscape.window();
            let task = LandscapeTask {
                landscape: landscape.clone(),
                stochastic: None,
                start: vec![0.0; landscape.dim()],
            };
            for (fx, fy) in [(0.13, 0.71), (0.5, 0.5), (0.92, 0.08)] {
                let mut at = vec![0.37; landscape.dim()];
                at[0] = window.x.0 + fx * (window.x.1 - window.x.0);
                if at.len() > 1 {
                    at[1] = window.y.0 + fy * (window.y.1 - window.y.0);
                }
                let point = Point::<B>::on(&landscape, &at, &Default::default()).unwrap();
                let (direct, value) = task.gradient(&point, true).unwrap().unwrap();
                let loss: f64 = task.loss(&point, &[]).unwrap().into_scalar().elem();
                assert!(
                    value.unwrap().to_bits() == loss.to_bits() || loss.is_nan(),
                    "{}: loss {value:?} vs {loss}",
                    entry.name
                );
                let graph =
                    GradientsParams::from_grads(task.loss(&point, &[]).unwrap().backward(), &point);
                let bits = |mut g: GradientsParams| {
                    let t = g.remove::<B::InnerBackend, 1>(point.w.id).unwrap();
                    assert_eq!(t.dtype(), <B::FloatElem as burn::tensor::Element>::dtype());
                    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()
                };
                let (direct, graph) = (bits(direct), bits(graph));
                let same = direct
                    .iter()
                    .zip(&graph)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                assert!(same, "{} at {at:?}: {direct:?} vs {graph:?}", entry.name);
            }
        }
    }

    #[test]
    fn the_closed_form_gradient_is_the_graphs_in_f32() {
        gradients_agree::<Autodiff<NdArray<f32>>>();
    }

    #[test]
    fn the_closed_form_gradient_is_the_graphs_in_f64() {
        gradients_agree::<Autodiff<NdArray<f64>>>();
    }

    #[test]
    fn a_stochastic_landscape_keeps_the_graph() {
        let landscape = Landscape::rosenbrock();
        let task = LandscapeTask {
            stochastic: Some(Stochastic::new(landscape.clone(), 8, 0.1, 0).unwrap()),
            landscape,
            start: vec![0.0, 0.0],
        };
        type B = Autodiff<NdArray<f64>>;
        let point = Point::<B>::on(&task.landscape, &[0.5, 0.5], &Default::default()).unwrap();
        assert!(task.gradient(&point, true).unwrap().is_none());
    }
}
