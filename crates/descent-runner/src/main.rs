//! `descent`: run optimizer experiments and report what they show.
//!
//! For now one experiment is built in (`descent run` with no file): every optimizer of
//! `descent-optim` walks two classic 2-D landscapes from the same start, and a table
//! reports where each got. Experiment files, sweeps, seeds and plots follow.

// The runner does not call it yet.
#[allow(dead_code)]
mod plots;

use std::process::ExitCode;

use anyhow::Result;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::tensor::backend::AutodiffBackend;
use clap::{Parser, Subcommand, ValueEnum};
use descent_models::{Landscape, Point};
use descent_optim::optim::*;

/// Study gradient-descent optimizers with real numbers.
#[derive(Parser, Debug)]
#[command(name = "descent", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment; with no file, the built-in default (optimizers on 2-D landscapes).
    Run {
        /// Experiment file (TOML). Not yet supported: only the built-in default runs.
        file: Option<std::path::PathBuf>,
        /// Backend to run on (must be compiled in through its cargo feature).
        #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
        backend: BackendChoice,
        /// Optimizer steps per landscape.
        #[arg(long, default_value_t = 2000)]
        steps: usize,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendChoice {
    /// CPU, burn-ndarray, f64.
    Ndarray,
    /// GPU through wgpu (Vulkan, Metal, DX12), f32.
    Wgpu,
}

/// An error in what the user asked for: reported with exit code 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            file,
            backend,
            steps,
        } => {
            if let Some(file) = file {
                return Err(UsageError(format!(
                    "{}: experiment files are not supported yet; run `descent run` for the built-in default",
                    file.display()
                ))
                .into());
            }
            if steps == 0 {
                return Err(UsageError("--steps must be at least 1".into()).into());
            }
            match backend {
                BackendChoice::Ndarray => run_default_ndarray(steps),
                BackendChoice::Wgpu => run_default_wgpu(steps),
            }
        }
    }
}

#[cfg(feature = "ndarray")]
fn run_default_ndarray(steps: usize) -> Result<()> {
    default_experiment::<burn::backend::Autodiff<burn::backend::NdArray<f64>>>(
        steps,
        "ndarray (f64)",
    )
}

#[cfg(not(feature = "ndarray"))]
fn run_default_ndarray(_: usize) -> Result<()> {
    Err(UsageError(format!(
        "backend `ndarray` is not compiled in; available: {}",
        available()
    ))
    .into())
}

#[cfg(feature = "wgpu")]
fn run_default_wgpu(steps: usize) -> Result<()> {
    default_experiment::<burn::backend::Autodiff<burn::backend::Wgpu>>(steps, "wgpu (f32)")
}

#[cfg(not(feature = "wgpu"))]
fn run_default_wgpu(_: usize) -> Result<()> {
    Err(UsageError(format!(
        "backend `wgpu` is not compiled in (build with `--features wgpu`); available: {}",
        available()
    ))
    .into())
}

#[cfg(not(feature = "wgpu"))]
fn available() -> &'static str {
    if cfg!(feature = "ndarray") {
        "ndarray"
    } else {
        "none"
    }
}

#[cfg(all(feature = "wgpu", not(feature = "ndarray")))]
fn available() -> &'static str {
    "wgpu"
}

/// Where one optimizer got on one landscape.
struct Outcome {
    final_loss: f64,
    distance: f64,
    steps_to_target: Option<usize>,
    diverged_at: Option<usize>,
}

const TARGET: f64 = 1e-3;

fn walk<B, O>(landscape: Landscape, start: [f64; 2], optimizer: O, lr: f64, steps: usize) -> Outcome
where
    B: AutodiffBackend,
    O: SimpleOptimizer<B::InnerBackend>,
{
    let device = Default::default();
    let mut point = Point::<B>::new(&start, &device);
    let mut optimizer: OptimizerAdaptor<O, Point<B>, B> = OptimizerAdaptor::from(optimizer);
    let mut steps_to_target = None;
    let mut diverged_at = None;
    for step in 1..=steps {
        let loss = landscape.loss(point.w.val());
        let grads = GradientsParams::from_grads(loss.backward(), &point);
        point = optimizer.step(lr, point, grads);
        let coordinates = point.valid().coordinates();
        let value = match coordinates.as_slice() {
            [x, y] => landscape.value([*x, *y]),
            _ => f64::NAN,
        };
        if !value.is_finite() || value > 1e12 {
            diverged_at = Some(step);
            break;
        }
        if value < TARGET && steps_to_target.is_none() {
            steps_to_target = Some(step);
        }
    }
    let coordinates = point.valid().coordinates();
    let [mx, my] = landscape.minimiser();
    let (final_loss, distance) = match coordinates.as_slice() {
        [x, y] => (
            landscape.value([*x, *y]),
            ((x - mx).powi(2) + (y - my).powi(2)).sqrt(),
        ),
        _ => (f64::NAN, f64::NAN),
    };
    Outcome {
        final_loss,
        distance,
        steps_to_target,
        diverged_at,
    }
}

fn default_experiment<B: AutodiffBackend>(steps: usize, backend: &str) -> Result<()> {
    let problems = [
        (
            Landscape::ElongatedBowl,
            [-2.0, 1.0],
            "elongated bowl x^2 + 4y^2 from (-2, 1)",
        ),
        (
            Landscape::Rosenbrock,
            [-1.5, 2.0],
            "Rosenbrock from (-1.5, 2)",
        ),
    ];
    println!("descent: built-in default experiment on {backend}, {steps} steps per run");
    for (landscape, start, title) in problems {
        println!("\n{title}");
        println!(
            "{:<28} {:>8} {:>12} {:>12} {:>16}",
            "optimizer", "lr", "final loss", "distance", "steps to 1e-3"
        );
        let bowl = landscape == Landscape::ElongatedBowl;
        let rows: Vec<(&str, f64, Outcome)> = vec![
            (
                "GD",
                if bowl { 0.1 } else { 1e-3 },
                walk::<B, _>(
                    landscape,
                    start,
                    SgdConfig::new().build()?,
                    if bowl { 0.1 } else { 1e-3 },
                    steps,
                ),
            ),
            (
                "GD, lr above 2/lambda_max",
                0.26,
                walk::<B, _>(landscape, start, SgdConfig::new().build()?, 0.26, steps),
            ),
            (
                "heavy ball (momentum 0.9)",
                if bowl { 0.02 } else { 2e-4 },
                walk::<B, _>(
                    landscape,
                    start,
                    SgdConfig::new().with_momentum(0.9).build()?,
                    if bowl { 0.02 } else { 2e-4 },
                    steps,
                ),
            ),
            (
                "Nesterov (momentum 0.9)",
                if bowl { 0.02 } else { 2e-4 },
                walk::<B, _>(
                    landscape,
                    start,
                    SgdConfig::new()
                        .with_momentum(0.9)
                        .with_nesterov(true)
                        .build()?,
                    if bowl { 0.02 } else { 2e-4 },
                    steps,
                ),
            ),
            (
                "Adam",
                0.02,
                walk::<B, _>(landscape, start, AdamConfig::new().build()?, 0.02, steps),
            ),
            (
                "RMSProp",
                0.005,
                walk::<B, _>(
                    landscape,
                    start,
                    RmsPropConfig::new().build()?,
                    0.005,
                    steps,
                ),
            ),
            (
                "Adagrad",
                0.5,
                walk::<B, _>(landscape, start, AdagradConfig::new().build()?, 0.5, steps),
            ),
            (
                "Lion",
                0.002,
                walk::<B, _>(landscape, start, LionConfig::new().build()?, 0.002, steps),
            ),
            (
                "Schedule-Free AdamW",
                0.02,
                walk::<B, _>(
                    landscape,
                    start,
                    ScheduleFreeAdamWConfig::new().build()?,
                    0.02,
                    steps,
                ),
            ),
        ];
        for (name, lr, outcome) in rows {
            let reached = match (outcome.diverged_at, outcome.steps_to_target) {
                (Some(step), _) => format!("diverged at {step}"),
                (None, Some(step)) => step.to_string(),
                (None, None) => "not reached".to_string(),
            };
            let (loss, distance) = if outcome.diverged_at.is_some() {
                ("-".to_string(), "-".to_string())
            } else {
                (
                    format!("{:.3e}", outcome.final_loss),
                    format!("{:.3e}", outcome.distance),
                )
            };
            println!("{name:<28} {lr:>8} {loss:>12} {distance:>12} {reached:>16}");
        }
    }
    Ok(())
}
