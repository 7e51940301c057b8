//! The comparison's plan: the flags checked, the experiment loaded with the step budget
//! alone, each backend's label, and the output directory made free.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::CompareArgs;
use crate::backend::{self, BackendChoice, Precision};
use crate::config::{self, RunSpec};
use crate::error::usage;
use crate::experiment::{self, Prepared};

/// What `descent compare` runs, and where.
pub(super) struct Plan {
    /// The experiment, with `--steps` as its budget.
    pub(super) prepared: Prepared,
    /// The backends, in the order given (the first is the reference).
    pub(super) backends: Vec<BackendChoice>,
    /// The name each backend's results go under (`labels`).
    pub(super) labels: Vec<String>,
    /// Optimizer steps per run.
    pub(super) steps: u64,
    /// The factor on the last backend's learning rate (`--perturb-lr`).
    pub(super) perturb_lr: Option<f64>,
    /// OUT/EXPERIMENT-compare: absent or emptied.
    pub(super) dir: PathBuf,
}

impl Plan {
    /// The run as backend `i` sees it: the last one's learning rate scaled by --perturb-lr.
    pub(super) fn on(&self, i: usize, run: &RunSpec) -> RunSpec {
        let mut run = run.clone();
        if let (true, Some(factor)) = (i + 1 == self.backends.len(), self.perturb_lr) {
            for variant in &mut run.experiment.variants {
                variant.lr *= factor;
            }
        }
        run
    }
}

/// The plan of `args`; a usage error for bad flags, a bad experiment file or an existing
/// comparison without `--overwrite`, before anything is written.
pub(super) fn plan(args: &CompareArgs) -> Result<Plan> {
    check(args)?;
    let mut sets = args.overrides.sets().to_vec();
    sets.extend([
        format!("budget.steps={}", args.steps),
        "eval.log_every=1".into(),
        format!("eval.every={}", args.steps),
        "checkpoint.every=0".into(),
    ]);
    let mut plan = config::load(&args.file, &sets, args.overrides.seeds()?)?;
    // After the file: a wrong path is named before a backend this binary lacks.
    for &b in &args.backends {
        backend::check(b, Precision::F32)?;
    }
    // The budget is the step count alone: epochs or seconds would cut runs short.
    for run in &mut plan.runs {
        run.experiment.budget.epochs = None;
        run.experiment.budget.seconds = None;
    }
    let prepared = experiment::prepare(plan, None)?;
    let dir = args.out.out.join(format!("{}-compare", prepared.plan.name));
    if dir.exists() {
        if !args.overwrite {
            return Err(usage(format!(
                "{}: exists already; pass --overwrite or another --out",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(Plan {
        prepared,
        labels: labels(&args.backends),
        backends: args.backends.clone(),
        steps: args.steps,
        perturb_lr: args.perturb_lr,
        dir,
    })
}

/// The checks on the flags of `descent compare` alone.
fn check(args: &CompareArgs) -> Result<()> {
    if args.backends.len() < 2 {
        return Err(usage(
            "--backends: name at least two backends to compare, e.g. ndarray,wgpu",
        ));
    }
    if args.steps == 0 {
        return Err(usage("--steps must be at least 1"));
    }
    if let Some(factor) = args.perturb_lr
        && !(factor.is_finite() && factor > 0.0)
    {
        return Err(usage(format!(
            "--perturb-lr {factor}: must be a positive factor, e.g. 1.01"
        )));
    }
    Ok(())
}

/// The name each backend's results go under: its own, or with `-2`, `-3`... when it is
/// listed again (a backend compared with itself, e.g. with `--perturb-lr`).
fn labels(backends: &[BackendChoice]) -> Vec<String> {
    backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let repeats = backends[..i].iter().filter(|o| *o == b).count();
            if repeats == 0 {
                b.name().to_string()
            } else {
                format!("{}-{}", b.name(), repeats + 1)
            }
        })
        .collect()
}
