//! descent-optim inside burn-train's `Learner`: an MLP on the embedded digits, trained by
//! [`AdamWConfig`] with a linear warm-up followed by cosine decay, both from descent-optim.
//!
//! burn-train needs nothing special from an optimizer or a schedule: descent-optim's
//! `XxxConfig::init::<B, M>()` returns burn's [`OptimizerAdaptor`](burn::optim::adaptor::OptimizerAdaptor),
//! an [`Optimizer`](burn::optim::Optimizer), and every schedule's `init()` returns an
//! [`LrScheduler`](burn::lr_scheduler::LrScheduler). `cargo run -p descent-examples
//! --example learner` runs [`train`] with its defaults; the crate's test runs it for two epochs.

use std::path::PathBuf;
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep,
};
use descent_data::{ArrayBatcher, ArrayDataset, Batch, BatchTargets, DataError};
use descent_optim::OptimConfig;
use descent_optim::OptimError;
use descent_optim::optim::AdamWConfig;
use descent_optim::schedule::{
    CosineAnnealingLrConfig, LinearLrConfig, ScheduleConfig, SequentialLrConfig,
};

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
            directory: std::env::temp_dir()
                .join(format!("descent-learner-example-{}", std::process::id())),
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

/// A 64-128-10 MLP for the 8 x 8 digits.
#[derive(Module, Debug)]
pub struct DigitsMlp<B: Backend> {
    hidden: Linear<B>,
    output: Linear<B>,
    activation: Relu,
}

impl<B: Backend> DigitsMlp<B> {
    /// Weights drawn from burn's default initialisers on `device`.
    pub fn new(device: &B::Device) -> Self {
        DigitsMlp {
            hidden: LinearConfig::new(64, 128).init(device),
            output: LinearConfig::new(128, 10).init(device),
            activation: Relu::new(),
        }
    }

    /// Class scores (logits) of flat images `[batch, 64]`.
    pub fn forward(&self, images: Tensor<B, 2>) -> Tensor<B, 2> {
        self.output
            .forward(self.activation.forward(self.hidden.forward(images)))
    }

    fn classify(&self, batch: Batch<B>) -> ClassificationOutput<B> {
        let targets = match batch.targets {
            BatchTargets::Classes(labels) => labels,
            // The digits always carry classes; an empty target set would have no loss.
            BatchTargets::Values(_) | BatchTargets::None => {
                Tensor::<B, 1, Int>::zeros([batch.inputs.dims()[0]], &batch.inputs.device())
            }
        };
        let output = self.forward(batch.inputs);
        let loss = CrossEntropyLossConfig::new()
            .init(&output.device())
            .forward(output.clone(), targets.clone());
        ClassificationOutput {
            loss,
            output,
            targets,
        }
    }

    /// The fraction of `batch` classified correctly.
    pub fn accuracy(&self, batch: Batch<B>) -> f64 {
        let item = self.classify(batch);
        let n = item.targets.dims()[0] as f64;
        let correct: i64 = item
            .output
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(item.targets)
            .int()
            .sum()
            .into_scalar()
            .elem();
        correct as f64 / n
    }
}

impl<B: AutodiffBackend> TrainStep for DigitsMlp<B> {
    type Input = Batch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: Batch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let item = self.classify(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<B: Backend> InferenceStep for DigitsMlp<B> {
    type Input = Batch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: Batch<B>) -> ClassificationOutput<B> {
        self.classify(batch)
    }
}

/// One line per epoch on standard output (burn-train's plain renderer prints every step's
/// progress as a debug struct); the summary table at the end is burn-train's.
#[derive(Default)]
struct EpochLines {
    epoch: usize,
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, _state: MetricState) {}

    fn update_valid(&mut self, _state: MetricState) {}

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        let epoch = item.global_progress.items_processed;
        if epoch != self.epoch {
            self.epoch = epoch;
            println!("epoch {epoch}/{}", item.global_progress.items_total);
        }
    }

    fn render_valid(&mut self, _item: TrainingProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, _definition: burn::train::metric::MetricDefinition) {}
}

fn loader<B: Backend>(
    data: &Arc<ArrayDataset>,
    batch_size: usize,
    shuffle: Option<u64>,
    device: &B::Device,
) -> Arc<dyn DataLoader<B, Batch<B>>> {
    let builder = DataLoaderBuilder::new(ArrayBatcher::new(data.clone()))
        .batch_size(batch_size)
        .set_device(device.clone());
    let builder = match shuffle {
        Some(seed) => builder.shuffle(seed),
        None => builder,
    };
    builder.build(InMemDataset::new((0..data.len()).collect::<Vec<usize>>()))
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

/// Trains [`DigitsMlp`] with burn-train's `Learner`, descent-optim's AdamW and a warm-up +
/// cosine schedule over every step, and returns the validation accuracy before and after.
pub fn train<B: AutodiffBackend>(
    settings: &Settings,
    device: &B::Device,
) -> Result<Outcome, ExampleError> {
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
    B::seed(device, settings.seed);
    let split = descent_data::train_validation_split(
        &descent_data::digits()?.flattened(),
        settings.validation,
        settings.seed,
    )?;
    let train_data = Arc::new(split.train);
    let valid_data = Arc::new(split.validation);
    let steps = settings.epochs * train_data.len().div_ceil(settings.batch_size);

    let optimizer = AdamWConfig::new().init::<B, DigitsMlp<B>>()?;
    let schedule = warmup_cosine(settings, steps)?.init()?;

    let model = DigitsMlp::<B>::new(device);
    let inner_device = device.clone();
    let validation_batch = || {
        ArrayBatcher::new(valid_data.clone())
            .assemble::<B::InnerBackend>(&(0..valid_data.len()).collect::<Vec<_>>(), &inner_device)
    };
    let accuracy_before = model.valid().accuracy(validation_batch());

    let training = SupervisedTraining::new(
        &settings.directory,
        loader::<B>(
            &train_data,
            settings.batch_size,
            Some(settings.seed),
            device,
        ),
        loader::<B::InnerBackend>(&valid_data, settings.batch_size, None, device),
    )
    .metrics((AccuracyMetric::new(), LossMetric::new()))
    .metric_train_numeric(LearningRateMetric::new())
    .num_epochs(settings.epochs)
    .renderer(EpochLines::default())
    .summary();
    let trained = training
        .launch(Learner::new(model, optimizer, schedule))
        .model;
    Ok(Outcome {
        accuracy_before,
        accuracy_after: trained.accuracy(validation_batch()),
        steps,
    })
}
