//! The run pool: the pending runs of an experiment, `jobs` at a time on threads, with a
//! progress bar per run and one for the experiment. Runs share nothing but the work queue
//! and the list of failures.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::backend::{self, BackendChoice, Precision};
use crate::config::RunSpec;
use crate::error::{is_usage, usage};
use crate::output;
use crate::problem::Task;
use crate::state::Finished;
use crate::train;

/// How an experiment runs: where, and how many runs at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The backend (`None`: [`backend::default_for`] the precision).
    pub backend: Option<BackendChoice>,
    /// The float precision.
    pub precision: Precision,
    /// Parallel runs (`None`: the number of cores).
    pub jobs: Option<usize>,
    /// No progress bars (one line per run on stderr instead).
    pub quiet: bool,
    /// Nothing on the terminal (no bars, lines or tables): for callers that read the files.
    pub silent: bool,
    /// Only the runs whose index is `i` modulo `n`.
    pub shard: Option<(usize, usize)>,
}

impl RunOptions {
    /// The backend the runs compute on: the one named, else the default for the precision.
    pub fn backend(&self) -> BackendChoice {
        self.backend
            .unwrap_or_else(|| backend::default_for(self.precision))
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            backend: None,
            precision: Precision::F32,
            jobs: None,
            quiet: true,
            silent: false,
            shard: None,
        }
    }
}

/// Runs every run of `runs` (of experiment `name`, on `task`) that has no `run.json` in
/// `dir` yet, `options.jobs` at a time (default: the number of cores).
pub fn run_pending(
    dir: &Path,
    name: &str,
    task: &Task,
    runs: &[RunSpec],
    options: &RunOptions,
) -> Result<()> {
    let backend = options.backend();
    let RunOptions {
        precision,
        jobs,
        quiet,
        silent,
        ..
    } = *options;
    let pending: Vec<&RunSpec> = runs
        .iter()
        .filter(|r| !dir.join(&r.id).join(output::RUN_JSON).exists())
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = jobs.unwrap_or(cores).clamp(1, pending.len().max(1));
    let bars = MultiProgress::with_draw_target(if quiet || silent {
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
    overall.set_prefix(name.to_string());
    overall.enable_steady_tick(Duration::from_millis(250));
    if quiet && !silent {
        eprintln!(
            "{}: {} runs on {} ({:?}), {} at a time",
            name,
            pending.len(),
            backend.name(),
            precision,
            jobs
        );
    }
    let next = AtomicUsize::new(0);
    // (message, whether the cause is the user's input)
    let failures: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for job in 0..jobs {
            // The CPU backends split their work over the rayon pool they are called from:
            // each job has a pool of its own (see `train::on_pool_thread`), its share of the
            // cores.
            let share = cores / jobs + usize::from(job < cores % jobs);
            let (next, pending, failures, bars, overall) =
                (&next, &pending, &failures, &bars, &overall);
            scope.spawn(move || {
                // Started at the job's first run and kept for the others.
                let mut threads: Option<rayon::ThreadPool> = None;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(run) = pending.get(i) else { break };
                    let bar = bars.insert_before(overall, ProgressBar::new(0));
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
                            let one =
                                || train::run_one(backend, precision, task, run, &run_dir, &report);
                            if backend.is_cpu() && threads.is_none() {
                                threads = train::run_pool(Some(share));
                            }
                            match &threads {
                                Some(pool) => pool.install(one),
                                // Without a pool of its own the run starts one (or runs here).
                                None => one(),
                            }
                        });
                    bar.finish_and_clear();
                    bars.remove(&bar);
                    match result {
                        Ok(Finished { record, .. }) => {
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
                            if quiet && !silent {
                                eprintln!("{}: {verdict}", run.id);
                            }
                        }
                        Err(e) => {
                            let message = format!("{}: failed: {e:#}", run.id);
                            let _ = bars.println(&message);
                            let usage = is_usage(&e);
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
