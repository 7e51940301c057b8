//! `descent compare`: the same runs on several backends, side by side.
//!
//! Every run starts from the same weights (generated on the CPU from the seed) and sees the
//! same batches (a pure function of the seed), so the backends can only differ by their
//! floating-point arithmetic. The verdict has two parts: the first step, tensor by tensor
//! ([`crate::conformance`]: same gradient to f32 rounding, same update from the same
//! gradient), and the final metrics after N steps, whose backend-to-backend difference must
//! be smaller than their seed-to-seed spread (two standard deviations, pooled). Parameters
//! after N steps are reported as drift but not judged: Adam turns last-bit differences into
//! O(lr) ones. Runs go one at a time so timings do not compete.
//!
//! In three steps: `plan` checks the flags, loads the experiment and frees the output
//! directory; `run` runs the first steps and the whole runs; `verdict` judges them and
//! writes compare.json and compare.md.

mod plan;
mod run;
mod verdict;

use std::path::PathBuf;

use anyhow::Result;

use crate::backend::BackendChoice;
use crate::commands::flags::{OutArgs, OverrideArgs};

pub(crate) use run::{median, step_seconds};

/// Options of `descent compare`.
#[derive(clap::Args, Debug, Clone)]
#[command(mut_arg("out", |a| a.help("Output directory; results go to OUT/EXPERIMENT-compare")))]
#[command(mut_arg("seeds", |a| a.help("Seeds, replacing the file's list")))]
#[command(mut_arg("sets", |a| a.help("Override a field (repeatable), as for `descent run`")))]
pub struct CompareArgs {
    /// The experiment file.
    file: PathBuf,
    /// The backends to compare, e.g. ndarray,wgpu (each must be compiled in).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![BackendChoice::Ndarray, BackendChoice::Wgpu])]
    backends: Vec<BackendChoice>,
    /// Optimizer steps per run (the experiment's budget is replaced).
    #[arg(long, default_value_t = 50)]
    steps: u64,
    /// `--out`: results go to OUT/EXPERIMENT-compare.
    #[command(flatten)]
    out: OutArgs,
    /// `--seeds` and `--set`.
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Replace an existing comparison of the same experiment.
    #[arg(long)]
    overwrite: bool,
    /// Testing aid: multiply the learning rate of the runs on the last backend listed by
    /// this factor (e.g. 1.01), to see the verdict catch a wrong optimizer. A backend may be
    /// listed twice (`ndarray,ndarray`) to compare it with itself.
    #[arg(long, value_name = "FACTOR")]
    perturb_lr: Option<f64>,
}

/// `descent compare`.
pub fn execute(args: &CompareArgs) -> Result<()> {
    let plan = plan::plan(args)?;
    let measured = run::run(&plan)?;
    let comparison = verdict::judge(&plan, measured);
    verdict::write(&plan.dir, &comparison)
}
