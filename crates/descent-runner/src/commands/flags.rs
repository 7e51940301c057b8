//! The flags several commands share, as clap argument groups that each command flattens
//! (`#[command(flatten)]`), and their checks, made here once.
//!
//! | group            | flags                      | flattened into                    |
//! |------------------|----------------------------|-----------------------------------|
//! | [`OutArgs`]      | `--out`                    | run, tune, compare                |
//! | [`BackendArgs`]  | `--backend`, `--precision` | run, tune                         |
//! | [`ParallelArgs`] | `--jobs`, `--quiet`        | run, tune, resume                 |
//! | [`OverrideArgs`] | `--seeds`, `--set`         | run, tune, compare                |
//! | [`SetArgs`]      | `--set`                    | validate (and inside OverrideArgs)|
//!
//! A command whose help says more about a shared flag (where its `--out` writes, which runs
//! its `--seeds` are for) replaces the help text with `#[command(mut_arg(ID, ...))]`, ID being
//! the field's name; the flag's name, default and checks stay the group's. `merge --out`
//! (optional, no default) and `bench --out` (another default) are flags of their own.

use std::path::PathBuf;

use anyhow::Result;

use crate::backend::{self, BackendChoice, Precision};
use crate::error::usage;
use crate::experiment::RunOptions;

/// `--out`: the directory the experiment's own directory goes into.
#[derive(clap::Args, Debug, Clone)]
pub struct OutArgs {
    /// Output directory; the experiment goes to OUT/EXPERIMENT (the experiment's name).
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
}

/// `--backend` and `--precision`: what the runs compute on.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct BackendArgs {
    /// Backend (compiled in through its cargo feature; default: flex for f32, ndarray for
    /// f64, where compiled in).
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,
    /// Floating-point precision.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
}

impl BackendArgs {
    /// A usage error if the backend is not compiled into this binary or cannot compute at
    /// the precision.
    pub fn check(&self) -> Result<()> {
        backend::check(self.backend(), self.precision)
    }

    /// The backend named, else the default for the precision ([`backend::default_for`]).
    pub fn backend(&self) -> BackendChoice {
        self.backend
            .unwrap_or_else(|| backend::default_for(self.precision))
    }

    /// The options of runs on this backend with `parallel`'s flags, only the runs of `shard`
    /// where there is one: [`BackendArgs::check`] and [`ParallelArgs::options`] together.
    pub fn options(
        &self,
        parallel: &ParallelArgs,
        shard: Option<(usize, usize)>,
    ) -> Result<RunOptions> {
        self.check()?;
        parallel.options(self.backend(), self.precision, shard)
    }
}

/// `--jobs` and `--quiet`: how many runs go at once, and whether progress bars show.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ParallelArgs {
    /// Parallel runs (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl ParallelArgs {
    /// The options of runs on `backend` at `precision` (only the runs of `shard` where there
    /// is one) with these flags; a usage error for `--jobs 0`.
    pub fn options(
        &self,
        backend: BackendChoice,
        precision: Precision,
        shard: Option<(usize, usize)>,
    ) -> Result<RunOptions> {
        if self.jobs == Some(0) {
            return Err(usage("--jobs 0: at least one job is needed"));
        }
        Ok(RunOptions {
            backend: Some(backend),
            precision,
            jobs: self.jobs,
            quiet: self.quiet,
            silent: false,
            shard,
        })
    }
}

/// `--set`: fields of the experiment file replaced.
#[derive(clap::Args, Debug, Clone)]
pub struct SetArgs {
    /// Override a field, e.g. --set variants.*.lr=0.1 --set batch.size=full (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// `--seeds` and `--set`: what the command line changes in the experiment file.
#[derive(clap::Args, Debug, Clone)]
pub struct OverrideArgs {
    /// Seeds, replacing the file's list: e.g. --seeds 0,1,2,3,4.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// `--set`.
    #[command(flatten)]
    pub set: SetArgs,
}

impl OverrideArgs {
    /// The `--set` overrides, in the order given.
    pub fn sets(&self) -> &[String] {
        &self.set.sets
    }

    /// The seeds replacing the file's (`None`: the file's); a usage error for an empty list.
    pub fn seeds(&self) -> Result<Option<&[u64]>> {
        match &self.seeds {
            Some(seeds) if seeds.is_empty() => Err(usage("--seeds: the list is empty")),
            seeds => Ok(seeds.as_deref()),
        }
    }
}
