//! The commands that run things: run, validate, report, resume, merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use burn::tensor::backend::AutodiffBackend;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::config::{self, Plan, RunSpec};
use crate::output::{self, RunRecord};
use crate::problem::Task;
use crate::summary;
use crate::{BackendChoice, Precision, RunArgs, UsageError};

/// The embedded default experiments (README's first command).
const DEFAULTS: &[(&str, &str)] = &[
    (
        "experiments/default-landscape.toml",
        include_str!("../../../experiments/default-landscape.toml"),
    ),
    (
        "experiments/default-digits.toml",
        include_str!("../../../experiments/default-digits.toml"),
    ),
];

/// What `plan.json` records: enough to resume or merge without the command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunPlan {
    file: PathBuf,
    backend: BackendChoice,
    precision: Precision,
    shard: Option<(usize, usize)>,
    runs: Vec<String>,
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

fn parse_shard(text: &str) -> Result<(usize, usize)> {
    let bad = || {
        usage(format!(
            "--shard {text}: expected I/N with 0 <= I < N, e.g. 0/4"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Everything checked before a directory is made.
pub(crate) struct Prepared {
    /// The expanded file.
    pub plan: Plan,
    /// The problem, built once.
    pub task: Task,
    /// The runs of this shard.
    pub runs: Vec<RunSpec>,
}

/// Checks a plan completely (problem, data, every run's optimizer and schedule) and keeps the
/// runs of `shard`.
pub(crate) fn prepare(plan: Plan, shard: Option<(usize, usize)>) -> Result<Prepared> {
    let shown = plan.file.display().to_string();
    let task = Task::build(&plan.base.problem).map_err(|e| usage(format!("{shown}: {e}")))?;
    for run in &plan.runs {
        let at = if run.point.label.is_empty() {
            String::new()
        } else {
            format!(" (sweep point {})", run.point.label)
        };
        // A sweep may change the problem itself; those points are checked by building them.
        let point_task;
        let task = if !run.sweeps_problem() {
            &task
        } else {
            point_task = Task::build(&run.experiment.problem)
                .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
            &point_task
        };
        let batch = task
            .batch_plan(&run.experiment.batch, run.seed)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        let limits = crate::train::limits(&run.experiment, task, &batch);
        let variant = &run.experiment.variants[0];
        crate::optim::optimizer_config(variant, run.seed)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
        crate::optim::lr_plan(variant, limits.steps)
            .map_err(|e| usage(format!("{shown}{at}: {e}")))?;
    }
    let runs = plan
        .runs
        .iter()
        .filter(|r| shard.is_none_or(|(i, n)| r.index % n == i))
        .cloned()
        .collect();
    Ok(Prepared { plan, task, runs })
}

pub(crate) fn check_backend(backend: BackendChoice, precision: Precision) -> Result<()> {
    let available = available_backends();
    let compiled = match backend {
        BackendChoice::Ndarray => cfg!(feature = "ndarray"),
        BackendChoice::Wgpu => cfg!(feature = "wgpu"),
    };
    if !compiled {
        return Err(usage(format!(
            "--backend {}: not compiled into this binary; available: {}. Rebuild with \
             `--features {}`.",
            backend_name(backend),
            available.join(", "),
            backend_name(backend)
        )));
    }
    if backend == BackendChoice::Wgpu && precision == Precision::F64 {
        return Err(usage("--precision f64: the wgpu backend computes in f32 only; use --precision f32 or --backend ndarray".into()));
    }
    Ok(())
}

pub(crate) fn backend_name(backend: BackendChoice) -> &'static str {
    match backend {
        BackendChoice::Ndarray => "ndarray",
        BackendChoice::Wgpu => "wgpu",
    }
}

fn available_backends() -> Vec<&'static str> {
    let mut list = Vec::new();
    if cfg!(feature = "ndarray") {
        list.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        list.push("wgpu");
    }
    list
}

/// `descent run`.
pub fn run(args: &RunArgs) -> Result<()> {
    check_backend(args.backend, args.precision)?;
    let shard = args.shard.as_deref().map(parse_shard).transpose()?;
    if let Some(seeds) = &args.seeds
        && seeds.is_empty()
    {
        return Err(usage("--seeds: the list is empty".into()));
    }
    if args.jobs == Some(0) {
        return Err(usage("--jobs 0: at least one job is needed".into()));
    }
    let plans: Vec<Plan> = match &args.file {
        Some(file) => {
            if file.is_dir() {
                return Err(usage(format!(
                    "{}: is a directory, not an experiment file",
                    file.display()
                )));
            }
            vec![config::load(file, &args.sets, args.seeds.as_deref())?]
        }
        None => DEFAULTS
            .iter()
            .map(|(file, text)| {
                config::parse(text, Path::new(file), &args.sets, args.seeds.as_deref())
            })
            .collect::<Result<_>>()?,
    };
    let prepared: Vec<Prepared> = plans
        .into_iter()
        .map(|p| prepare(p, shard))
        .collect::<Result<_>>()?;
    if args.out.exists() && !args.out.is_dir() {
        return Err(usage(format!(
            "--out {}: is a file, not a directory",
            args.out.display()
        )));
    }
    for p in &prepared {
        let dir = args.out.join(&p.plan.name);
        // The embedded defaults are demonstrations: running them again replaces them.
        if dir.exists() && !args.overwrite && args.file.is_some() {
            return Err(usage(format!(
                "{}: exists already; finish it with `descent resume {}`, or pass --overwrite (or another --out)",
                dir.display(),
                dir.display()
            )));
        }
    }
    for p in prepared {
        let dir = args.out.join(&p.plan.name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_config(&dir, &p.plan, args.backend, args.precision, shard)?;
        let plan_file = RunPlan {
            file: p.plan.file.clone(),
            backend: args.backend,
            precision: args.precision,
            shard,
            runs: p.runs.iter().map(|r| r.id.clone()).collect(),
        };
        output::write_atomic(
            &dir.join("plan.json"),
            &serde_json::to_vec_pretty(&plan_file)?,
        )?;
        execute_all(
            &dir,
            &p,
            args.backend,
            args.precision,
            args.jobs,
            args.quiet,
        )?;
        finish(&dir, &p.plan)?;
    }
    Ok(())
}

fn write_config(
    dir: &Path,
    plan: &Plan,
    backend: BackendChoice,
    precision: Precision,
    shard: Option<(usize, usize)>,
) -> Result<()> {
    let mut meta = BTreeMap::new();
    meta.insert("source".to_string(), plan.file.display().to_string());
    meta.insert("git_revision".to_string(), crate::git_revision());
    meta.insert("backend".to_string(), backend_name(backend).to_string());
    meta.insert(
        "precision".to_string(),
        format!("{precision:?}").to_lowercase(),
    );
    meta.insert("machine".to_string(), crate::machine());
    meta.insert(
        "descent_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Some((i, n)) = shard {
        meta.insert("shard".to_string(), format!("{i}/{n}"));
    }
    let text = config::resolved_toml(&plan.table, &meta);
    output::write_atomic(&dir.join("config.toml"), text.as_bytes())
}

fn execute_all(
    dir: &Path,
    prepared: &Prepared,
    backend: BackendChoice,
    precision: Precision,
    jobs: Option<usize>,
    quiet: bool,
) -> Result<()> {
    let pending: Vec<&RunSpec> = prepared
        .runs
        .iter()
        .filter(|r| !dir.join(&r.id).join("run.json").exists())
        .collect();
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, pending.len().max(1));
    let bars = MultiProgress::with_draw_target(if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let overall = bars.add(ProgressBar::new(pending.len() as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    overall.set_prefix(prepared.plan.name.clone());
    overall.enable_steady_tick(Duration::from_millis(250));
    if quiet {
        eprintln!(
            "{}: {} runs on {} ({:?}), {} at a time",
            prepared.plan.name,
            pending.len(),
            backend_name(backend),
            precision,
            jobs
        );
    }
    let next = AtomicUsize::new(0);
    // (message, whether the cause is the user's input)
    let failures: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(run) = pending.get(i) else { break };
                    let bar = bars.insert_before(&overall, ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "  {prefix:30!} [{bar:25}] {pos}/{len} steps {per_sec}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(run.id.clone());
                    let report = |done: u64, total: Option<u64>| {
                        if let Some(t) = total {
                            bar.set_length(t);
                        }
                        bar.set_position(done);
                    };
                    let run_dir = dir.join(&run.id);
                    let result = std::fs::create_dir_all(&run_dir)
                        .with_context(|| format!("cannot create {}", run_dir.display()))
                        .and_then(|()| {
                            on_backend(backend, precision, &prepared.task, run, &run_dir, &report)
                        });
                    bar.finish_and_clear();
                    bars.remove(&bar);
                    match result {
                        Ok(crate::train::Finished { record, .. }) => {
                            let verdict = match record.diverged_at {
                                Some(step) => format!("diverged at step {step}"),
                                None => format!(
                                    "finished, {} steps, final train loss {}",
                                    record.steps,
                                    record
                                        .last
                                        .train_loss
                                        .map_or("–".into(), |l| format!("{l:.6e}"))
                                ),
                            };
                            let _ = bars.println(format!("{}: {verdict}", run.id));
                            if quiet {
                                eprintln!("{}: {verdict}", run.id);
                            }
                        }
                        Err(e) => {
                            let message = format!("{}: failed: {e:#}", run.id);
                            let _ = bars.println(&message);
                            let usage = e.chain().any(|c| c.downcast_ref::<UsageError>().is_some());
                            if let Ok(mut f) = failures.lock() {
                                f.push((message, usage));
                            }
                        }
                    }
                    overall.inc(1);
                }
            });
        }
    });
    overall.finish_and_clear();
    let failures = failures.into_inner().unwrap_or_default();
    if !failures.is_empty() {
        let all_usage = failures.iter().all(|(_, is_usage)| *is_usage);
        let messages: Vec<&str> = failures.iter().map(|(m, _)| m.as_str()).collect();
        let message = format!("{} run(s) failed:\n{}", failures.len(), messages.join("\n"));
        if all_usage {
            return Err(usage(message));
        }
        bail!(message);
    }
    Ok(())
}

pub(crate) fn on_backend(
    backend: BackendChoice,
    precision: Precision,
    task: &Task,
    run: &RunSpec,
    dir: &Path,
    progress: crate::train::Progress,
) -> Result<crate::train::Finished> {
    // A sweep over the problem's own fields gets its own task.
    let rebuilt;
    let task = if run.sweeps_problem() {
        rebuilt = Task::build(&run.experiment.problem).map_err(anyhow::Error::msg)?;
        &rebuilt
    } else {
        task
    };
    match (backend, precision) {
        #[cfg(feature = "ndarray")]
        (BackendChoice::Ndarray, Precision::F32) => go::<
            burn::backend::Autodiff<burn::backend::NdArray<f32>>,
        >(
            task, run, dir, Default::default(), progress
        ),
        #[cfg(feature = "ndarray")]
        (BackendChoice::Ndarray, Precision::F64) => go::<
            burn::backend::Autodiff<burn::backend::NdArray<f64>>,
        >(
            task, run, dir, Default::default(), progress
        ),
        #[cfg(feature = "wgpu")]
        (BackendChoice::Wgpu, Precision::F32) => {
            // burn panics when no adapter exists; say what to install instead.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                go::<burn::backend::Autodiff<burn::backend::Wgpu<f32>>>(
                    task,
                    run,
                    dir,
                    Default::default(),
                    progress,
                )
            }))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(anyhow::anyhow!(
                    "the wgpu backend failed: {message}. Is a GPU driver installed? Without a \
                     GPU, Mesa's lavapipe runs Vulkan on the CPU (apt-get install \
                     mesa-vulkan-drivers); on headless NVIDIA machines see the README's GPU section"
                ))
            })
        }
        _ => Err(usage(format!(
            "backend {} with precision {precision:?} is not available in this binary",
            backend_name(backend)
        ))),
    }
}

fn go<B: AutodiffBackend>(
    task: &Task,
    run: &RunSpec,
    dir: &Path,
    device: B::Device,
    progress: crate::train::Progress,
) -> Result<crate::train::Finished> {
    use burn::tensor::Element;
    // One precision per process; ignoring "already set" keeps repeated runs working.
    let _ = burn::tensor::set_default_dtypes::<B>(
        &device,
        <B::FloatElem as Element>::dtype(),
        <B::IntElem as Element>::dtype(),
    );
    crate::train::execute::<B>(task, run, dir, &device, progress)
}

fn target_text(plan: &Plan) -> Option<String> {
    plan.base.target.as_ref().map(|t| {
        let op = if t.metric.ends_with("accuracy") {
            ">="
        } else {
            "<="
        };
        format!("{} {op} {}", t.metric, t.value)
    })
}

/// Summary and plots of `dir`, printed.
fn finish(dir: &Path, plan: &Plan) -> Result<()> {
    let records: Vec<RunRecord> = output::read_records(dir)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let summary = summary::summarize(&plan.name, target_text(plan), &records);
    output::write_atomic(
        &dir.join("summary.json"),
        &serde_json::to_vec_pretty(&summary)?,
    )?;
    let md = summary::markdown(&summary, &plan.base.description);
    output::write_atomic(&dir.join("summary.md"), md.as_bytes())?;
    println!("{md}");
    let plots = render_plots(dir, plan)?;
    println!(
        "written: {} ({} plots in plots/)",
        dir.display(),
        plots.len()
    );
    Ok(())
}

/// The plots of `dir`; for a 2-D landscape with contours, over a window that holds the
/// landscape's features and the start point.
fn render_plots(dir: &Path, plan: &Plan) -> Result<Vec<PathBuf>> {
    let landscape = match (
        &plan.base.problem.landscape,
        Task::build(&plan.base.problem),
    ) {
        (Some(_), Ok(Task::Landscape(t))) if t.landscape.dim() == 2 => Some(t),
        _ => None,
    };
    let Some(task) = landscape else {
        return crate::plots::render(dir, None);
    };
    let window = task.landscape.window();
    let widen = |(lo, hi): (f64, f64), at: f64| {
        let (lo, hi) = (lo.min(at), hi.max(at));
        let margin = 0.05 * (hi - lo);
        (lo - margin, hi + margin)
    };
    let value = |x: f64, y: f64| task.landscape.value(&[x, y]).unwrap_or(f64::NAN);
    let contour = crate::plots::Contour {
        value: &value,
        x: widen(window.x, task.start[0]),
        y: widen(window.y, task.start[1]),
        minima: task
            .landscape
            .minimisers()
            .into_iter()
            .filter_map(|m| Some([*m.first()?, *m.get(1)?]))
            .collect(),
    };
    crate::plots::render(dir, Some(&contour))
}

/// The plan recorded in an experiment directory.
fn recorded(dir: &Path) -> Result<(Plan, RunPlan)> {
    crate::must_exist(dir, "experiment directory")?;
    let config_path = dir.join("config.toml");
    let text = std::fs::read_to_string(&config_path).map_err(|e| {
        usage(format!(
            "{}: cannot read: {e} (is this an experiment directory?)",
            config_path.display()
        ))
    })?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| usage(format!("{}: {e}", config_path.display())))?;
    table.remove("meta");
    let body = toml::to_string(&table)?;
    let plan = config::parse(&body, &config_path, &[], None)?;
    let plan_path = dir.join("plan.json");
    let run_plan: RunPlan = serde_json::from_slice(
        &std::fs::read(&plan_path)
            .map_err(|e| usage(format!("{}: cannot read: {e}", plan_path.display())))?,
    )
    .map_err(|e| {
        usage(format!(
            "{}: damaged ({e}); it is written by `descent run`",
            plan_path.display()
        ))
    })?;
    Ok((plan, run_plan))
}

/// `descent validate`.
pub fn validate(file: &Path, sets: &[String]) -> Result<()> {
    let plan = config::load(file, sets, None)?;
    let prepared = prepare(plan, None)?;
    println!(
        "{}: valid: experiment {:?}, {} runs ({} variants x {} sweep points x {} seeds), problem: {}",
        file.display(),
        prepared.plan.name,
        prepared.plan.runs.len(),
        prepared.plan.base.variants.len(),
        prepared.plan.runs.len()
            / (prepared.plan.base.variants.len() * prepared.plan.base.seeds.len()).max(1),
        prepared.plan.base.seeds.len(),
        prepared.task.describe()
    );
    Ok(())
}

/// `descent report`.
pub fn report(dir: &Path) -> Result<()> {
    let (plan, _) = recorded(dir)?;
    finish(dir, &plan)
}

/// `descent resume`.
pub fn resume(dir: &Path, jobs: Option<usize>, quiet: bool) -> Result<()> {
    let (plan, run_plan) = recorded(dir)?;
    check_backend(run_plan.backend, run_plan.precision)?;
    let prepared = prepare(plan, run_plan.shard)?;
    execute_all(
        dir,
        &prepared,
        run_plan.backend,
        run_plan.precision,
        jobs,
        quiet,
    )?;
    finish(dir, &prepared.plan)
}

/// `descent merge`.
pub fn merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<()> {
    let mut first: Option<(Plan, toml::Table)> = None;
    let mut runs: Vec<(PathBuf, RunRecord)> = Vec::new();
    for dir in dirs {
        let (plan, _) = recorded(dir)?;
        match &first {
            None => first = Some((plan.clone(), plan.table.clone())),
            Some((_, table)) if *table != plan.table => {
                return Err(usage(format!(
                    "{}: its config differs from {}'s; only shards of one experiment can be merged",
                    dir.display(),
                    dirs[0].display()
                )));
            }
            Some(_) => {}
        }
        runs.extend(output::read_records(dir)?);
    }
    let Some((plan, _)) = first else {
        return Err(usage("merge: no directories given".into()));
    };
    let mut seen = std::collections::BTreeSet::new();
    for (_, r) in &runs {
        if !seen.insert(r.index) {
            return Err(usage(format!("run {} appears in two shards", r.run_id)));
        }
    }
    let missing = plan.runs.len().saturating_sub(seen.len());
    let target = match out {
        Some(o) => o.to_path_buf(),
        None => {
            let mut name = dirs[0].as_os_str().to_owned();
            name.push("-merged");
            PathBuf::from(name)
        }
    };
    if target.exists() {
        return Err(usage(format!(
            "{}: exists already; choose another --out",
            target.display()
        )));
    }
    std::fs::create_dir_all(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    std::fs::copy(dirs[0].join("config.toml"), target.join("config.toml"))
        .with_context(|| format!("cannot copy config.toml into {}", target.display()))?;
    if let Ok(bytes) = std::fs::read(dirs[0].join("plan.json")) {
        let mut run_plan: RunPlan = serde_json::from_slice(&bytes)?;
        run_plan.shard = None;
        run_plan.runs = plan.runs.iter().map(|r| r.id.clone()).collect();
        output::write_atomic(
            &target.join("plan.json"),
            &serde_json::to_vec_pretty(&run_plan)?,
        )?;
    }
    for (src, record) in &runs {
        let dst = target.join(&record.run_id);
        std::fs::create_dir_all(&dst)?;
        for entry in std::fs::read_dir(src)? {
            let path = entry?.path();
            if let Some(file) = path.file_name() {
                std::fs::copy(&path, dst.join(file))
                    .with_context(|| format!("cannot copy {}", path.display()))?;
            }
        }
    }
    finish(&target, &plan)?;
    if missing > 0 {
        eprintln!(
            "note: {missing} of {} runs are in none of the shards",
            plan.runs.len()
        );
    }
    Ok(())
}
