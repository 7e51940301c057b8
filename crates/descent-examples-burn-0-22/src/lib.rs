//! descent-optim inside burn-train 0.22's `Learner`: an MLP on the embedded digits, trained by
//! [`AdamWConfig`] with a linear warm-up followed by cosine decay, both from descent-optim.
//!
//! The burn 0.21 version of this example is the crate `descent-examples`; this one is the same
//! experiment on burn 0.22, where modules and tensors have no backend type parameter
//! (`Tensor<2>`, [`Linear`]) and the backend is chosen at run time by a [`Device`]. What
//! descent-optim offers burn 0.22 (feature `burn-0-22`):
//!
//! * [`ModuleOptimizerConfig::init`] turns any of its optimizer configs into burn 0.22's
//!   [`ModuleOptimizer`](burn::optim::ModuleOptimizer), the optimizer `Learner::new` takes;
//! * every schedule's `init()` returns a `descent_optim::schedule::Scheduler`, which is a
//!   burn 0.22 [`LrScheduler`](burn::lr_scheduler::LrScheduler) and so converts into the
//!   `ModuleLrScheduler` that `Learner::new` takes.
//!
//! `cargo run -p descent-examples-burn-0-22 --example learner_0_22` runs [`train`] with its
//! defaults on [`flex_autodiff_device`]; the crate's test runs it for two epochs.

// burn's derive macros name the crate `burn`; this crate depends on burn 0.22 under the name
// `burn_0_22` (the workspace keeps burn 0.21 as `burn`).
extern crate burn_0_22 as burn;

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{DType, Device, Int, Tensor, TensorData, TensorReadError};
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric, MetricDefinition};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep,
    TrainingError,
};
use descent_data::{ArrayDataset, DataError};
use descent_optim::OptimError;
use descent_optim::burn_0_22::ModuleOptimizerConfig;
use descent_optim::optim::AdamWConfig;
use descent_optim::schedule::{
    CosineAnnealingLrConfig, LinearLrConfig, ScheduleConfig, SequentialLrConfig,
};

/// Pixels per image: the 8 x 8 digits, flattened.
const FEATURES: usize = 64;
/// Digit classes.
const CLASSES: usize = 10;

/// What can stop [`train`].
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// The embedded data set could not be read or split.
    #[error("digits: {0}")]
    Data(#[from] DataError),
    /// The optimizer or schedule rejected a setting.
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
    /// A setting is out of range.
    #[error("{0}")]
    Settings(String),
    /// burn-train stopped on an error (it reports failures instead of panicking).
    #[error("training: {0}")]
    Training(Arc<TrainingError>),
    /// burn-train stopped before the last epoch without an error.
    #[error("training interrupted: {}", .0.as_deref().unwrap_or("no reason given"))]
    Interrupted(Option<String>),
    /// A prediction could not be read back from the device.
    #[error("reading a tensor: {0}")]
    Read(#[from] TensorReadError),
}

/// How [`train`] trains.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Passes over the training split.
    pub epochs: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// The learning rate at the end of the warm-up.
    pub peak_lr: f64,
    /// Steps of linear warm-up from `peak_lr / 10`.
    pub warmup_steps: usize,
    /// Images held out for validation.
    pub validation: usize,
    /// Seeds the split, the shuffling and the weights.
    pub seed: u64,
    /// Where burn-train writes its logs and metrics.
    pub directory: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            epochs: 10,
            batch_size: 32,
            peak_lr: 3e-3,
            warmup_steps: 50,
            validation: 297,
            seed: 0,
            directory: std::env::temp_dir().join(format!(
                "descent-learner-example-burn-0-22-{}",
                std::process::id()
            )),
        }
    }
}

/// What [`train`] measured on the validation split.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Accuracy of the untrained network.
    pub accuracy_before: f64,
    /// Accuracy of the trained network.
    pub accuracy_after: f64,
    /// Optimizer steps taken (the length of the schedule).
    pub steps: usize,
}

/// burn 0.22's flex device with autodiff: the CPU backend burn 0.22 recommends (it deprecates
/// `Device::ndarray`), and the one burn-train 0.22 compiles in whatever else is chosen, so a
/// burn 0.22 project on it builds one CPU backend, not two.
pub fn flex_autodiff_device() -> Device {
    Device::flex().autodiff()
}

/// A batch of digits: flat images `[batch, 64]` and their classes `[batch]`.
#[derive(Clone, Debug)]
pub struct DigitsBatch {
    /// Pixels scaled to `[0, 1]`, one row per image.
    pub images: Tensor<2>,
    /// The digit (0 to 9) of each image.
    pub labels: Tensor<1, Int>,
}

/// Assembles [`DigitsBatch`]es from indices into a digits split.
#[derive(Clone, Debug)]
pub struct DigitsBatcher {
    features: Arc<[f32]>,
    labels: Arc<[u32]>,
}

impl DigitsBatcher {
    /// A batcher over `data`, which must hold flat 64-pixel images with class labels.
    pub fn new(data: &ArrayDataset) -> Result<Self, ExampleError> {
        let labels = data.labels().ok_or_else(|| {
            ExampleError::Settings(format!("{} has no class labels", data.name()))
        })?;
        if data.feature_len() != FEATURES || labels.len() != data.len() {
            return Err(ExampleError::Settings(format!(
                "{}: expected {} labels and {FEATURES} features per item, found {} and {}",
                data.name(),
                data.len(),
                labels.len(),
                data.feature_len()
            )));
        }
        Ok(DigitsBatcher {
            features: Arc::from(data.features()),
            labels: Arc::from(labels),
        })
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

impl Batcher<usize, DigitsBatch> for DigitsBatcher {
    fn batch(&self, items: Vec<usize>, device: &Device) -> DigitsBatch {
        // Indices come from `InMemDataset`s of `0..len`, so every one is in range.
        let mut features = Vec::with_capacity(items.len() * FEATURES);
        let mut labels = Vec::with_capacity(items.len());
        for &i in &items {
            features.extend_from_slice(&self.features[i * FEATURES..(i + 1) * FEATURES]);
            labels.push(i64::from(self.labels[i]));
        }
        // Explicit dtypes, the device's defaults: the data are f32 and i64 on the host, the
        // tensors take the dtypes the model's parameters and `argmax` use on this device.
        let settings = device.settings();
        let images = Tensor::<2>::from_data(
            TensorData::new(features, [items.len(), FEATURES]),
            (device, DType::from(settings.float_dtype)),
        );
        let labels = Tensor::<1, Int>::from_data(
            TensorData::new(labels, [items.len()]),
            (device, DType::from(settings.int_dtype)),
        );
        DigitsBatch { images, labels }
    }
}

/// A 64-128-10 MLP for the 8 x 8 digits.
#[derive(Module, Debug)]
pub struct DigitsMlp {
    hidden: Linear,
    output: Linear,
    activation: Relu,
}

impl DigitsMlp {
    /// Weights drawn from burn's default initialisers on `device`.
    pub fn new(device: &Device) -> Self {
        DigitsMlp {
            hidden: LinearConfig::new(FEATURES, 128).init(device),
            output: LinearConfig::new(128, CLASSES).init(device),
            activation: Relu::new(),
        }
    }

    /// Class scores (logits) of flat images `[batch, 64]`.
    pub fn forward(&self, images: Tensor<2>) -> Tensor<2> {
        self.output
            .forward(self.activation.forward(self.hidden.forward(images)))
    }

    fn classify(&self, batch: DigitsBatch) -> ClassificationOutput {
        let output = self.forward(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&output.device())
            .forward(output.clone(), batch.labels.clone());
        ClassificationOutput {
            loss,
            output,
            targets: batch.labels,
        }
    }

    /// The fraction of `batch` classified correctly.
    pub fn accuracy(&self, batch: DigitsBatch) -> Result<f64, ExampleError> {
        let labels = batch.labels.clone().try_into_vec_as::<i64>()?;
        let predicted = self
            .forward(batch.images)
            .argmax(1)
            .try_into_vec_as::<i64>()?;
        let correct = predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| p == l)
            .count();
        Ok(correct as f64 / labels.len().max(1) as f64)
    }
}

impl TrainStep for DigitsMlp {
    type Input = DigitsBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitsBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.classify(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl InferenceStep for DigitsMlp {
    type Input = DigitsBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: DigitsBatch) -> ClassificationOutput {
        self.classify(batch)
    }
}

/// One line per epoch on standard output (burn-train's plain renderer prints every step's
/// progress as a debug struct); the summary table at the end is burn-train's.
#[derive(Default)]
struct EpochLines {
    epochs: usize,
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, _state: MetricState) {}

    fn update_valid(&mut self, _state: MetricState) {}
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for EpochLines {
    fn start(
        &mut self,
        total_epochs: usize,
        _starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epochs = total_epochs;
    }

    fn update_epoch(&mut self, epoch: usize) {
        println!("epoch {epoch}/{}", self.epochs);
    }

    fn start_split(&mut self, _split: &str, _total_items: usize) {}

    fn update_split(&mut self, _items_processed: usize) {}

    fn end_split(&mut self) {}

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, _definition: MetricDefinition) {}
}

fn loader(
    batcher: &DigitsBatcher,
    batch_size: usize,
    shuffle: Option<u64>,
    device: Device,
) -> Arc<dyn DataLoader<DigitsBatch>> {
    let builder = DataLoaderBuilder::new(batcher.clone())
        .batch_size(batch_size)
        .set_device(device);
    let builder = match shuffle {
        Some(seed) => builder.shuffle(seed),
        None => builder,
    };
    builder.build(InMemDataset::new(
        (0..batcher.len()).collect::<Vec<usize>>(),
    ))
}

/// Linear warm-up from `peak_lr / 10` over `warmup_steps`, then cosine decay to 0 over the
/// rest of `steps`: PyTorch's `SequentialLR(LinearLR, CosineAnnealingLR)`.
pub fn warmup_cosine(
    settings: &Settings,
    steps: usize,
) -> Result<SequentialLrConfig, ExampleError> {
    if settings.warmup_steps >= steps {
        return Err(ExampleError::Settings(format!(
            "warmup_steps = {} leaves no step of the {steps} for the cosine decay",
            settings.warmup_steps
        )));
    }
    Ok(SequentialLrConfig::new(
        vec![
            ScheduleConfig::Linear(
                LinearLrConfig::new(settings.peak_lr)
                    .with_start_factor(0.1)
                    .with_total_iters(settings.warmup_steps),
            ),
            ScheduleConfig::CosineAnnealing(CosineAnnealingLrConfig::new(
                settings.peak_lr,
                steps - settings.warmup_steps,
            )),
        ],
        vec![settings.warmup_steps],
    ))
}

/// Trains [`DigitsMlp`] on `device` with burn-train's `Learner`, descent-optim's AdamW and a
/// warm-up + cosine schedule over every step, and returns the validation accuracy before and
/// after. burn-train adds autodiff to `device` if it lacks it.
pub fn train(settings: &Settings, device: &Device) -> Result<Outcome, ExampleError> {
    if settings.epochs == 0 || settings.batch_size == 0 {
        return Err(ExampleError::Settings(
            "epochs and batch_size must be at least 1".into(),
        ));
    }
    // burn-train's summary reads every epoch it finds in the directory.
    if std::fs::read_dir(&settings.directory).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ExampleError::Settings(format!(
            "{} holds an earlier run: remove it or choose another directory",
            settings.directory.display()
        )));
    }
    device.seed(settings.seed);
    let split = descent_data::train_validation_split(
        &descent_data::digits()?.flattened(),
        settings.validation,
        settings.seed,
    )?;
    let train_data = DigitsBatcher::new(&split.train)?;
    let valid_data = DigitsBatcher::new(&split.validation)?;
    let steps = settings.epochs * train_data.len().div_ceil(settings.batch_size);

    let optimizer = ModuleOptimizerConfig::init(&AdamWConfig::new())?;
    let schedule = warmup_cosine(settings, steps)?.init()?;

    let model = DigitsMlp::new(device);
    let inference_device = device.clone().without_autodiff();
    let validation_batch = || valid_data.batch((0..valid_data.len()).collect(), &inference_device);
    let accuracy_before = model.valid().accuracy(validation_batch())?;

    let training = SupervisedTraining::<DigitsMlp>::new(
        &settings.directory,
        loader(
            &train_data,
            settings.batch_size,
            Some(settings.seed),
            device.clone(),
        ),
        loader(
            &valid_data,
            settings.batch_size,
            None,
            inference_device.clone(),
        ),
    )
    .metrics((AccuracyMetric::new(), LossMetric::new()))
    .metric_train_numeric(LearningRateMetric::new())
    .num_epochs(settings.epochs)
    .renderer(Box::new(EpochLines::default()))
    .summary();
    let result = training.launch(Learner::new(model, optimizer, schedule));
    if let Some(error) = result.error {
        return Err(ExampleError::Training(error));
    }
    if let Some(interruption) = result.interrupted {
        return Err(ExampleError::Interrupted(interruption.reason));
    }
    // `LearningResult::model` is already in validation mode (no autodiff).
    Ok(Outcome {
        accuracy_before,
        accuracy_after: result.model.accuracy(validation_batch())?,
        steps,
    })
}
