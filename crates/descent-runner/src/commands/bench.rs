//! `descent bench`: descent's speed beside a reference measured in the same run.
//!
//! Each workload times descent on every CPU backend asked for and its reference (PyTorch
//! through the scripts in `benches/peers/`, a memory-bandwidth triad, or descent itself with
//! other settings), alternating them `--repeats` times so that a noisy machine hurts both
//! alike, and reports medians and the ratio to the reference. A peer that cannot run (no
//! Python with torch, no Fashion-MNIST) is skipped with the command that installs it.
//!
//! A workload is one entry of [`WORKLOADS`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;

use crate::backend::{self, BackendChoice, Precision};
use crate::commands::compare::{median, step_seconds};
use crate::config;
use crate::error::usage;
use crate::experiment::{self, Prepared};
use crate::measure;
use crate::output;
use crate::problem::{SupervisedTask, Task};
use crate::provenance;
use crate::state::Finished;
use crate::train;

/// Options of `descent bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Workloads to run (default: all): mlp-momentum, mlp-adam, cnn-2c2d, slice-2d, hessian,
    /// adam-step, landscape, sweep.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Repetitions of each measurement, alternating descent and its reference.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// The backends to time (each must be compiled in; default: the CPU backends). wgpu
    /// takes part in the training workloads only (the Adam step, landscape and sweep are
    /// measured on the CPU backends).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub backends: Vec<BackendChoice>,
    /// The Python that has torch, for the PyTorch peers (default: $DESCENT_TORCH_PYTHON,
    /// else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Threads PyTorch may use (descent's backends use every core).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The device PyTorch trains on in the training workloads: `cpu`, or `cuda` on a GPU
    /// machine (beside `--backends wgpu`).
    #[arg(long, default_value = "cpu")]
    pub torch_device: String,
    /// Smaller sizes and fewer steps: a check that every workload runs, not a measurement.
    #[arg(long)]
    pub quick: bool,
    /// Where bench.json and bench.md go.
    #[arg(long, default_value = "runs/bench")]
    pub out: PathBuf,
}

/// One number measured `repeats` times for one subject (descent on a backend, or a peer).
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// What was timed, e.g. "descent ndarray" or "torch (2 threads)".
    pub subject: String,
    /// Every repetition's value.
    pub values: Vec<f64>,
    /// Their median.
    pub median: f64,
}

/// A workload's result: its subjects, the reference, and each subject's ratio to it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    /// The workload's name.
    pub workload: String,
    /// What one value is, e.g. "samples/s".
    pub unit: String,
    /// Whether more is better (samples/s) or less (seconds).
    pub higher_is_better: bool,
    /// The subjects, the reference among them.
    pub measured: Vec<Measured>,
    /// The subject the ratios are taken against.
    pub reference: Option<String>,
    /// `(subject, ratio)`: descent's median over the reference's, oriented so that > 1 means
    /// descent is faster.
    pub ratios: Vec<(String, f64)>,
    /// Why a subject was left out, e.g. "torch: no Python with torch (...)".
    pub skipped: Vec<String>,
    /// The target from the performance issue, where there is one.
    pub target: Option<String>,
}

/// Everything one `descent bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The machine (CPU model, cores).
    pub machine: String,
    /// The git revision of the binary's checkout.
    pub git_revision: String,
    /// How the convolution kernels multiply matrices: "backend", or OpenBLAS and its kernels
    /// (a `blas` build).
    pub matrix_products: String,
    /// Seconds since the Unix epoch when the bench started.
    pub started_unix: u64,
    /// Repetitions per measurement.
    pub repeats: usize,
    /// One result per workload.
    pub workloads: Vec<WorkloadResult>,
}

/// What every workload gets: the options and where peers live.
struct Bench<'a> {
    args: &'a BenchArgs,
    backends: Vec<BackendChoice>,
    /// The CPU ones among `backends`, for the workloads that measure the CPU.
    cpu_backends: Vec<BackendChoice>,
    python: Option<PathBuf>,
    python_problem: String,
    scratch: PathBuf,
}

impl Bench<'_> {
    /// The note of a CPU workload when `--backends` names no CPU backend.
    fn without_cpu(&self) -> Vec<String> {
        if self.cpu_backends.is_empty() {
            vec!["descent: measured on the CPU backends, and --backends names none".into()]
        } else {
            Vec::new()
        }
    }
}

/// One workload: a name, what it shows, and how to measure it.
pub struct Workload {
    /// The name `--only` takes.
    pub name: &'static str,
    /// One line on what it measures.
    pub summary: &'static str,
    measure: fn(&Bench) -> Result<WorkloadResult>,
}

/// Every workload, in the order they run.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "mlp-momentum",
        summary: "Fashion-MNIST MLP 784-256-128-10, B = 128, SGD momentum: samples/s vs PyTorch",
        measure: |c| mlp(c, "momentum"),
    },
    Workload {
        name: "mlp-adam",
        summary: "the same MLP with Adam: samples/s vs PyTorch",
        measure: |c| mlp(c, "adam"),
    },
    Workload {
        name: "cnn-2c2d",
        summary: "DeepOBS 2c2d CNN, B = 128, Adam: samples/s vs PyTorch",
        measure: cnn,
    },
    Workload {
        name: "slice-2d",
        summary: "a 25x25 filter-normalised 2-D slice of the Fashion-MNIST MLP on 10,000 training items: seconds vs PyTorch",
        measure: slice_2d,
    },
    Workload {
        name: "hessian",
        summary: "the Fashion-MNIST MLP's top-10 Hessian eigenvalues and trace (50 vectors) on 1000 items: seconds (no reference)",
        measure: hessian,
    },
    Workload {
        name: "adam-step",
        summary: "one Adam step on 1e7 f32 parameters: GB/s (28 bytes/parameter) vs a triad and PyTorch",
        measure: adam_step,
    },
    Workload {
        name: "landscape",
        summary: "GD on the 2-D Rosenbrock function: steps/s of one run",
        measure: landscape,
    },
    Workload {
        name: "sweep",
        summary: "a 48-run landscape sweep: --jobs 1 vs --jobs <cores> wall time",
        measure: sweep,
    },
];

/// `descent bench`.
pub fn execute(args: &BenchArgs) -> Result<()> {
    if args.repeats == 0 {
        return Err(usage("--repeats must be at least 1"));
    }
    for name in &args.only {
        if !WORKLOADS.iter().any(|w| w.name == name) {
            let names: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
            return Err(usage(format!(
                "--only {name}: no such workload; there are {}",
                names.join(", ")
            )));
        }
    }
    let backends = if args.backends.is_empty() {
        [BackendChoice::Ndarray, BackendChoice::Flex]
            .into_iter()
            .filter(|b| backend::check(*b, Precision::F32).is_ok())
            .collect()
    } else {
        args.backends.clone()
    };
    for &b in &backends {
        backend::check(b, Precision::F32)?;
    }
    if !["cpu", "cuda"].contains(&args.torch_device.as_str())
        && !args.torch_device.starts_with("cuda:")
    {
        return Err(usage(format!(
            "--torch-device {}: expected cpu, cuda or cuda:N",
            args.torch_device
        )));
    }
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("DESCENT_TORCH_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let (python, python_problem) = match torch_version(&python) {
        Ok(version) => {
            eprintln!("peers: {} (torch {version})", python.display());
            (Some(python), String::new())
        }
        Err(problem) => {
            eprintln!("peers: skipped: {problem}");
            (None, problem)
        }
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    // Runs timed and peer scripts go to a directory of this process's own, removed after.
    let scratch = args
        .out
        .join(format!(".descent-bench-{}", std::process::id()));
    write_peers(&scratch)?;
    let context = Bench {
        args,
        cpu_backends: backends.iter().copied().filter(|b| b.is_cpu()).collect(),
        backends,
        python,
        python_problem,
        scratch: scratch.clone(),
    };
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut workloads = Vec::new();
    for workload in WORKLOADS {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == workload.name) {
            continue;
        }
        eprintln!("{}: {} ...", workload.name, workload.summary);
        let result = (workload.measure)(&context)
            .with_context(|| format!("bench workload {}", workload.name))?;
        eprint!("{}", markdown_table(&result));
        workloads.push(result);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let report = BenchReport {
        machine: provenance::machine(),
        git_revision: provenance::git_revision(),
        matrix_products: crate::openblas::products(),
        started_unix,
        repeats: args.repeats,
        workloads,
    };
    let md = markdown(&report);
    output::write_atomic(
        &args.out.join("bench.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    output::write_atomic(&args.out.join("bench.md"), md.as_bytes())?;
    println!("{md}");
    println!("written: {}", args.out.join("bench.md").display());
    Ok(())
}

/// torch's version from `python`, or why it cannot be used.
fn torch_version(python: &Path) -> std::result::Result<String, String> {
    let install = "install PyTorch into a venv (python3 -m venv ~/torchenv && ~/torchenv/bin/pip \
                   install torch numpy) and pass --python ~/torchenv/bin/python";
    let output = Command::new(python)
        .args(["-c", "import numpy, torch; print(torch.__version__)"])
        .output()
        .map_err(|e| format!("{} cannot run ({e}); {install}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} has no torch and numpy; {install}",
            python.display()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The PyTorch peers (`benches/peers/`), compiled in so an installed binary has them.
const PEERS: [(&str, &str); 5] = [
    (
        "torch_slice_bench.py",
        include_str!("../../benches/peers/torch_slice_bench.py"),
    ),
    (
        "descent_fmnist.py",
        include_str!("../../benches/peers/descent_fmnist.py"),
    ),
    (
        "torch_mlp_bench.py",
        include_str!("../../benches/peers/torch_mlp_bench.py"),
    ),
    (
        "torch_2c2d_bench.py",
        include_str!("../../benches/peers/torch_2c2d_bench.py"),
    ),
    (
        "torch_adam_step_bench.py",
        include_str!("../../benches/peers/torch_adam_step_bench.py"),
    ),
];

fn write_peers(scratch: &Path) -> Result<()> {
    let dir = scratch.join("peers");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in PEERS {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
    }
    Ok(())
}

fn peer_script(context: &Bench, name: &str) -> PathBuf {
    context.scratch.join("peers").join(name)
}

/// Runs a peer script and returns its JSON line.
fn run_peer(context: &Bench, script: &str, args: &[String]) -> Result<serde_json::Value> {
    let python = context
        .python
        .as_ref()
        .ok_or_else(|| anyhow!("no Python with torch"))?;
    let path = peer_script(context, script);
    let output = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", path.display()))?;
    if !output.status.success() {
        bail!(
            "{} {}: {}",
            path.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .last()
        .ok_or_else(|| anyhow!("{}: printed nothing", path.display()))?;
    serde_json::from_str(line).with_context(|| format!("{}: not JSON: {line}", path.display()))
}

fn number(value: &serde_json::Value, path: &[&str]) -> Result<f64> {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .ok_or_else(|| anyhow!("peer output lacks {}: {value}", path.join(".")))
}

/// The bench experiment `text`, parsed and prepared (its data read).
fn prepare_text(text: &str) -> Result<Prepared> {
    experiment::prepare(
        config::parse(text, Path::new("bench.toml"), &[], None)?,
        None,
    )
}

/// Runs the first run of `prepared` on `backend` into a fresh scratch directory of
/// `workload`.
fn run_first(
    context: &Bench,
    workload: &str,
    prepared: &Prepared,
    backend: BackendChoice,
) -> Result<Finished> {
    let run = prepared
        .runs
        .first()
        .ok_or_else(|| anyhow!("the bench experiment has no run"))?;
    let dir = context
        .scratch
        .join(workload)
        .join(backend.name())
        .join(&run.id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    train::run_one(
        backend,
        Precision::F32,
        &prepared.task,
        run,
        &dir,
        &|_, _| {},
    )
}

/// Median seconds per training step of the first run of `prepared` on `backend`.
fn descent_step_seconds(
    context: &Bench,
    workload: &str,
    prepared: &Prepared,
    backend: BackendChoice,
) -> Result<f64> {
    let done = run_first(context, workload, prepared, backend)?;
    median(step_seconds(&done.timing, WARM_UP)).ok_or_else(|| anyhow!("no step was timed"))
}

/// Steps not timed at the start of a descent run.
const WARM_UP: usize = 5;

/// A training workload on Fashion-MNIST: descent's samples/s on each backend beside the
/// peer's, alternating.
fn training(
    context: &Bench,
    name: &str,
    text: &str,
    batch: f64,
    peer: (&str, Vec<String>),
    target: &str,
    backends: &[BackendChoice],
) -> Result<WorkloadResult> {
    let mut skipped = Vec::new();
    // The data are read once: each repetition times the same prepared task.
    let prepared = match prepare_text(text) {
        Ok(prepared) => prepared,
        Err(e) => {
            skipped.push(format!("descent and torch: {e:#}"));
            return Ok(result(name, "samples/s", true, Vec::new(), skipped, target));
        }
    };
    let mut subjects: Vec<(String, Vec<f64>)> = backends
        .iter()
        .map(|b| (format!("descent {}", b.name()), Vec::new()))
        .collect();
    let torch = match context.args.torch_device.as_str() {
        "cpu" => format!("torch ({} threads)", context.args.threads),
        device => format!("torch ({device})"),
    };
    let mut torch_values = Vec::new();
    let mut torch_ok = context.python.is_some();
    if !torch_ok {
        skipped.push(format!("torch: {}", context.python_problem));
    }
    for _ in 0..context.args.repeats {
        for (i, &b) in backends.iter().enumerate() {
            subjects[i]
                .1
                .push(batch / descent_step_seconds(context, name, &prepared, b)?);
        }
        if torch_ok {
            match run_peer(context, peer.0, &peer.1) {
                Ok(json) => torch_values.push(number(&json, &["samples_per_second"])?),
                Err(e) => {
                    skipped.push(format!("torch: {e:#}"));
                    torch_ok = false;
                }
            }
        }
    }
    if torch_ok {
        subjects.push((torch, torch_values));
    }
    Ok(result(name, "samples/s", true, subjects, skipped, target))
}

fn result(
    name: &str,
    unit: &str,
    higher_is_better: bool,
    subjects: Vec<(String, Vec<f64>)>,
    skipped: Vec<String>,
    target: &str,
) -> WorkloadResult {
    let measured: Vec<Measured> = subjects
        .into_iter()
        .filter_map(|(subject, values)| {
            let median = median(values.clone())?;
            Some(Measured {
                subject,
                values,
                median,
            })
        })
        .collect();
    let reference = measured
        .iter()
        .find(|m| !m.subject.starts_with("descent"))
        .map(|m| (m.subject.clone(), m.median));
    let ratios = reference
        .as_ref()
        .map(|(name, value)| {
            measured
                .iter()
                .filter(|m| m.subject != *name)
                .map(|m| {
                    let ratio = if higher_is_better {
                        m.median / value
                    } else {
                        value / m.median
                    };
                    (m.subject.clone(), ratio)
                })
                .collect()
        })
        .unwrap_or_default();
    WorkloadResult {
        workload: name.to_string(),
        unit: unit.to_string(),
        higher_is_better,
        measured,
        reference: reference.map(|(name, _)| name),
        ratios,
        skipped,
        target: (!target.is_empty()).then(|| target.to_string()),
    }
}

/// A one-run Fashion-MNIST experiment: `model` trained `steps` steps at B = 128 by one
/// variant, every step logged.
fn fashion_mnist_text(
    name: &str,
    model: &str,
    steps: u64,
    eval_every: u64,
    variant: &str,
    lr: f64,
    optimizer: &str,
) -> String {
    format!(
        r#"
name = "{name}"
seeds = [0]
[problem]
dataset = "fashion-mnist"
model = "{model}"
standardize = "global"
validation = 0
[batch]
size = 128
[budget]
steps = {steps}
[eval]
every = {eval_every}
log_every = 1
[[variants]]
name = "{variant}"
lr = {lr}
optimizer = {optimizer}
"#
    )
}

fn mlp(context: &Bench, optimizer: &str) -> Result<WorkloadResult> {
    let steps = if context.args.quick { 20 } else { 200 };
    let table = match optimizer {
        "momentum" => r#"{ kind = "sgd", momentum = 0.9 }"#,
        _ => r#"{ kind = "adam" }"#,
    };
    let lr = if optimizer == "momentum" { 0.05 } else { 0.001 };
    let text = fashion_mnist_text(
        "bench-mlp",
        "mlp_256_128",
        steps,
        steps,
        optimizer,
        lr,
        table,
    );
    let peer_args = vec![
        "--opt".into(),
        optimizer.into(),
        "--steps".into(),
        steps.to_string(),
        "--threads".into(),
        context.args.threads.to_string(),
        "--device".into(),
        context.args.torch_device.clone(),
    ];
    training(
        context,
        &format!("mlp-{optimizer}"),
        &text,
        128.0,
        ("torch_mlp_bench.py", peer_args),
        ">= 1.0x PyTorch",
        &context.backends,
    )
}

fn cnn(context: &Bench) -> Result<WorkloadResult> {
    let steps = if context.args.quick { 8 } else { 25 };
    // One evaluation, at the end: the bench times training steps.
    let text = fashion_mnist_text(
        "bench-2c2d",
        "cnn_2c2d",
        steps,
        1_000_000,
        "adam",
        0.001,
        r#"{ kind = "adam" }"#,
    );
    let peer_args = vec![
        "--steps".into(),
        steps.to_string(),
        "--threads".into(),
        context.args.threads.to_string(),
        "--device".into(),
        context.args.torch_device.clone(),
    ];
    training(
        context,
        "cnn-2c2d",
        &text,
        128.0,
        ("torch_2c2d_bench.py", peer_args),
        ">= 0.5x PyTorch (stretch 1.0x)",
        &context.backends,
    )
}

/// The Fashion-MNIST MLP's problem, for the workloads that analyse it at initialisation.
fn fashion_mnist_mlp(name: &str) -> Result<SupervisedTask> {
    let text = fashion_mnist_text(name, "mlp_256_128", 1, 1, "gd", 0.1, r#"{ kind = "sgd" }"#);
    match prepare_text(&text)?.task {
        Task::Supervised(task) => Ok(task),
        Task::Landscape(_) => bail!("internal error: {name}'s problem is not a dataset"),
    }
}

fn slice_2d(context: &Bench) -> Result<WorkloadResult> {
    let (points, items) = if context.args.quick {
        (5, 1000)
    } else {
        (25, 10_000)
    };
    let task = fashion_mnist_mlp("bench-slice")?;
    let mut subjects: Vec<(String, Vec<f64>)> = context
        .cpu_backends
        .iter()
        .map(|b| (format!("descent {}", b.name()), Vec::new()))
        .collect();
    let mut skipped = context.without_cpu();
    let mut torch_values = Vec::new();
    let mut torch_ok = context.python.is_some();
    if !torch_ok {
        skipped.push(format!("torch: {}", context.python_problem));
    }
    let peer_args = vec![
        "--points".into(),
        points.to_string(),
        "--items".into(),
        items.to_string(),
        "--threads".into(),
        context.args.threads.to_string(),
    ];
    for _ in 0..context.args.repeats {
        for (i, &b) in context.cpu_backends.iter().enumerate() {
            subjects[i]
                .1
                .push(measure::slice_grid_seconds(b, &task, points, items)?);
        }
        if torch_ok {
            match run_peer(context, "torch_slice_bench.py", &peer_args) {
                Ok(json) => torch_values.push(number(&json, &["seconds"])?),
                Err(e) => {
                    skipped.push(format!("torch: {e:#}"));
                    torch_ok = false;
                }
            }
        }
    }
    if torch_ok {
        subjects.push((
            format!("torch ({} threads)", context.args.threads),
            torch_values,
        ));
    }
    let mut result = result("slice-2d", "s", false, subjects, skipped, ">= 1.0x PyTorch");
    result.workload = format!("slice-2d ({points}x{points}, {items} items)");
    Ok(result)
}

fn hessian(context: &Bench) -> Result<WorkloadResult> {
    let (items, samples) = if context.args.quick {
        (100, 4)
    } else {
        (1000, 50)
    };
    let task = fashion_mnist_mlp("bench-hessian")?;
    let mut subjects: Vec<(String, Vec<f64>)> = Vec::new();
    for &b in &context.cpu_backends {
        subjects.push((
            format!("descent {} top-10 eigenvalues", b.name()),
            Vec::new(),
        ));
        subjects.push((
            format!("descent {} trace ({samples} vectors)", b.name()),
            Vec::new(),
        ));
    }
    for _ in 0..context.args.repeats {
        for (i, &b) in context.cpu_backends.iter().enumerate() {
            let (top, trace) = measure::hessian_seconds(b, &task, items, samples)?;
            subjects[2 * i].1.push(top);
            subjects[2 * i + 1].1.push(trace);
        }
    }
    let mut result = result("hessian", "s", false, subjects, context.without_cpu(), "");
    result.workload = format!("hessian ({items} items, f32)");
    Ok(result)
}

/// STREAM's triad `a = b + s c` over every core on f64 arrays of `len`: GB/s at 24 bytes
/// per element (the bandwidth any optimizer step is bounded by), median of `repeats`.
fn triad_gb_per_second(len: usize, repeats: usize) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let b = vec![1.0_f64; len];
    let c = vec![2.0_f64; len];
    let mut a = vec![0.0_f64; len];
    let chunk = len.div_ceil(threads);
    let mut rates = Vec::new();
    for _ in 0..repeats + 1 {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                scope.spawn(move || {
                    for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                        *a = b + 3.0 * c;
                    }
                });
            }
        });
        rates.push(24.0 * len as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(&a);
    rates.remove(0);
    median(rates).unwrap_or(0.0)
}

fn adam_step(context: &Bench) -> Result<WorkloadResult> {
    let size = if context.args.quick {
        100_000
    } else {
        10_000_000
    };
    let steps = if context.args.quick { 3 } else { 15 };
    // Each backend's fused step beside its tensor-op step, the code it replaces.
    let forms = [(true, "fused"), (false, "tensor ops")];
    let mut subjects: Vec<(String, Vec<f64>)> = context
        .cpu_backends
        .iter()
        .flat_map(|b| {
            forms
                .iter()
                .map(move |(_, form)| (format!("descent {} ({form})", b.name()), Vec::new()))
        })
        .collect();
    let mut triad = Vec::new();
    let mut torch: Vec<(String, Vec<f64>)> = Vec::new();
    let mut skipped = context.without_cpu();
    if context.python.is_none() {
        skipped.push(format!("torch: {}", context.python_problem));
    }
    // PyTorch's step is only compared with descent's CPU steps, and once it has failed (the
    // reason is in `skipped`) it is not tried again.
    let mut run_torch = context.python.is_some() && !context.cpu_backends.is_empty();
    let gb = |seconds: f64| 28.0 * size as f64 / seconds / 1e9;
    for _ in 0..context.args.repeats {
        triad.push(triad_gb_per_second(
            if context.args.quick { 1 << 20 } else { 1 << 25 },
            5,
        ));
        for (i, &b) in context.cpu_backends.iter().enumerate() {
            for (j, &(fused, _)) in forms.iter().enumerate() {
                // On a pool thread, as the training loop's steps run.
                let times = measure::adam_step_seconds(b, size, steps, fused)?;
                let seconds = median(times).ok_or_else(|| anyhow!("no Adam step timed"))?;
                subjects[i * forms.len() + j].1.push(gb(seconds));
            }
        }
        if run_torch {
            let args = vec![
                "--size".into(),
                size.to_string(),
                "--steps".into(),
                steps.to_string(),
                "--threads".into(),
                context.args.threads.to_string(),
            ];
            match run_peer(context, "torch_adam_step_bench.py", &args) {
                Ok(json) => {
                    for kind in ["foreach", "fused"] {
                        let value = number(&json, &[kind, "gb_per_second"])?;
                        let label = format!("torch Adam {kind}");
                        match torch.iter_mut().find(|(name, _)| *name == label) {
                            Some((_, values)) => values.push(value),
                            None => torch.push((label, vec![value])),
                        }
                    }
                }
                Err(e) => {
                    skipped.push(format!("torch: {e:#}"));
                    run_torch = false;
                }
            }
        }
    }
    // The triad is the reference: the ratios say how close each step comes to the bandwidth.
    let mut all = vec![("triad (all cores)".to_string(), triad)];
    all.extend(subjects);
    all.extend(torch);
    let mut result = result("adam-step", "GB/s", true, all, skipped, ">= 0.7x the triad");
    result.workload = format!("adam-step ({size} parameters)");
    Ok(result)
}

fn landscape(context: &Bench) -> Result<WorkloadResult> {
    let steps = if context.args.quick { 2_000 } else { 100_000 };
    let text = format!(
        r#"
name = "bench-landscape"
seeds = [0]
[problem]
landscape = "rosenbrock"
start = [-1.5, 2.0]
[budget]
steps = {steps}
[eval]
log_every = {steps}
every = {steps}
[[variants]]
name = "gd"
lr = 0.0002
optimizer = {{ kind = "sgd" }}
"#
    );
    let prepared = prepare_text(&text)?;
    let mut subjects: Vec<(String, Vec<f64>)> = context
        .cpu_backends
        .iter()
        .map(|b| (format!("descent {}", b.name()), Vec::new()))
        .collect();
    for _ in 0..context.args.repeats {
        for (i, &b) in context.cpu_backends.iter().enumerate() {
            let done = run_first(context, "landscape", &prepared, b)?;
            let seconds = done
                .timing
                .last()
                .map(|(_, s)| *s)
                .filter(|s| *s > 0.0)
                .ok_or_else(|| anyhow!("no training time recorded"))?;
            subjects[i].1.push(steps as f64 / seconds);
        }
    }
    Ok(result(
        "landscape",
        "steps/s",
        true,
        subjects,
        context.without_cpu(),
        ">= 100k steps/s per core",
    ))
}

fn sweep(context: &Bench) -> Result<WorkloadResult> {
    let steps = if context.args.quick { 200 } else { 3000 };
    let text = format!(
        r#"
name = "bench-sweep"
seeds = [0, 1, 2]
[problem]
landscape = "quadratic"
eigenvalues = [1.0, 10.0]
angle = 0.5
start = [2.0, -1.0]
[budget]
steps = {steps}
[[variants]]
name = "gd"
lr = 0.1
optimizer = {{ kind = "sgd" }}
[[variants]]
name = "heavy-ball"
lr = 0.1
optimizer = {{ kind = "sgd", momentum = 0.5 }}
[sweep]
"variants.*.lr" = [0.01, 0.03, 0.05, 0.08, 0.1, 0.13, 0.16, 0.19]
"#
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(&backend) = context.cpu_backends.first() else {
        return Ok(result(
            "sweep",
            "seconds",
            false,
            Vec::new(),
            context.without_cpu(),
            "",
        ));
    };
    // Checked here, so that a mistake in it is reported as such, not as a failed command.
    config::parse(&text, Path::new("bench.toml"), &[], None)?;
    let file = context.scratch.join("sweep.toml");
    std::fs::write(&file, &text).with_context(|| format!("cannot write {}", file.display()))?;
    // The command a user types, in a process of its own: a sweep inside this long-lived
    // process would also time what the allocator kept from the workloads before it (its
    // transparent huge pages purged and faulted in again, measured at 1.70x against 1.85x
    // with them off), not what `descent run` costs.
    let exe = std::env::current_exe().context("cannot find the descent executable")?;
    let mut serial = Vec::new();
    let mut parallel = Vec::new();
    for repeat in 0..context.args.repeats {
        for (jobs, into) in [(1, &mut serial), (cores, &mut parallel)] {
            // A fresh directory each time, as a user's sweep gets: writing where files were
            // just deleted costs more (ext4 scans its recently freed inodes when it creates a
            // file), which is the file system's work, not the sweep's. All go with the
            // scratch directory at the end.
            let out = context.scratch.join(format!("sweep-{repeat}-jobs-{jobs}"));
            let mut command = Command::new(&exe);
            command
                .arg("run")
                .arg(&file)
                .args(["--backend", backend.name(), "--quiet", "--jobs"])
                .arg(jobs.to_string())
                .arg("--out")
                .arg(&out);
            let start = Instant::now();
            // The whole command's work: runs, summary, plots, report.
            let ran = command
                .output()
                .with_context(|| format!("cannot start {}", exe.display()))?;
            into.push(start.elapsed().as_secs_f64());
            if !ran.status.success() {
                bail!(
                    "the sweep `descent run --jobs {jobs}` failed ({}): {}",
                    ran.status,
                    String::from_utf8_lossy(&ran.stderr).trim()
                );
            }
        }
    }
    let mut result = result(
        "sweep",
        "seconds",
        false,
        vec![
            ("--jobs 1".to_string(), serial),
            (format!("descent --jobs {cores}"), parallel),
        ],
        Vec::new(),
        "--jobs 2 >= 1.8x --jobs 1 (on 2 cores)",
    );
    // The reference is descent itself with one job.
    result.reference = Some("--jobs 1".into());
    result.workload = format!("sweep (48 runs, {}, wall time)", backend.name());
    Ok(result)
}

fn format_value(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.4}")
    }
}

fn markdown_table(w: &WorkloadResult) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "\n### {}\n", w.workload);
    let _ = writeln!(
        md,
        "| subject | {} (median) | all repetitions | ratio to {} |",
        w.unit,
        w.reference.as_deref().unwrap_or("–")
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for m in &w.measured {
        let ratio = w
            .ratios
            .iter()
            .find(|(s, _)| *s == m.subject)
            .map_or("–".to_string(), |(_, r)| format!("{r:.2}x"));
        let all: Vec<String> = m.values.iter().map(|v| format_value(*v)).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {ratio} |",
            m.subject,
            format_value(m.median),
            all.join(", ")
        );
    }
    if let Some(target) = &w.target {
        let _ = writeln!(md, "\ntarget: {target}");
    }
    for s in &w.skipped {
        let _ = writeln!(md, "\nskipped: {s}");
    }
    md
}

fn markdown(report: &BenchReport) -> String {
    let mut md = format!(
        "# descent bench\n\nmachine: {}; git {}; matrix products: {}; {} repetitions, \
         alternating; ratios > 1 mean descent is faster (for the triad: the fraction of the \
         bandwidth reached).\n",
        report.machine, report.git_revision, report.matrix_products, report.repeats
    );
    for w in &report.workloads {
        md.push_str(&markdown_table(w));
    }
    md
}
