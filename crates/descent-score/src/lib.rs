//! # descent-score
//!
//! How a benchmark of optimizers is scored, the way MLCommons AlgoPerf scores its
//! submissions (Dahl et al. 2023, "Benchmarking Neural Network Training Algorithms", §4), with
//! confidence intervals, which AlgoPerf does not give. Nothing here knows burn or the runner: it
//! takes evaluation curves or times and returns times, profiles and scores.
//!
//! 1. **Time to target** ([`target`]): a trial's time is the clock (steps or seconds) at its
//!    first evaluation whose validation metric reaches the workload's target; a study's is its
//!    fastest trial's (external tuning: several trials per study; self-tuning: one); a
//!    workload's is the median over studies, infinite unless more than half the studies
//!    reached the target.
//! 2. **Performance profiles** ([`profile`]): per workload, a time more than `max_tau` (4)
//!    times the best entrant's becomes infinite, and every time is divided by the best; an
//!    entrant's profile `rho(tau)` is the fraction of workloads it solved within `tau` times
//!    the best, on AlgoPerf's grid of 100 points from 1 to 4; its score is the area under the
//!    profile divided by `max_tau - 1` (1: fastest everywhere; 0: never within 4x).
//! 3. **Confidence intervals** ([`interval`]): the studies are resampled with replacement per
//!    entrant and workload, and the whole scoring (medians, best entrant, ratios, profiles) is
//!    redone on each resample; the interval is the percentile interval of the scores.
//!
//! Checked against AlgoPerf's own scoring code (`scoring/performance_profile.py`) on the same
//! input table: `tests/algoperf.rs`, with the script that made the reference beside it.
//!
//! ```
//! use descent_score::profile::{Profiles, Settings, Times};
//!
//! let inf = f64::INFINITY;
//! // Two optimizers on three workloads: steps to target (infinite: missed).
//! let times = Times::new(
//!     vec!["adam".into(), "sgd".into()],
//!     vec!["mlp".into(), "cnn".into(), "quadratic".into()],
//!     vec![vec![100.0, 300.0, inf], vec![200.0, 150.0, 50.0]],
//! )?;
//! let profiles = Profiles::new(&times, Settings::default())?;
//! let scores = profiles.scores();
//! // sgd is best on two workloads and within 2x on the third; adam solves two of three.
//! assert!(scores[1] > scores[0]);
//! assert_eq!(profiles.rho(1)[0], 2.0 / 3.0); // at tau = 1, sgd is best on 2 of 3
//! # Ok::<(), descent_score::ScoreError>(())
//! ```

#![warn(missing_docs)]

pub mod interval;
pub mod profile;
pub mod target;

/// What is wrong with a table handed to the scoring.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// No entrant or no workload to score.
    #[error("nothing to score: {0}")]
    Empty(&'static str),
    /// A row or a list of the wrong length.
    #[error("{what} has {found} entries where {expected} were expected")]
    Shape {
        /// Which row or list.
        what: String,
        /// Its length.
        found: usize,
        /// The length it should have.
        expected: usize,
    },
    /// A time that is not positive, or NaN.
    #[error(
        "time {value} of {entrant} on {workload} is not a time: times are positive (infinite \
         for a missed target)"
    )]
    BadTime {
        /// The entrant (an optimizer, a submission).
        entrant: String,
        /// The workload.
        workload: String,
        /// The value given.
        value: f64,
    },
    /// A profile setting out of range.
    #[error("{0}")]
    Setting(String),
}

/// This crate's results.
pub type Result<T> = std::result::Result<T, ScoreError>;

/// Checks a table of `rows[entrant][workload]` (`what`: "times", "studies"): entrants and
/// workloads given, one row per entrant, one cell per workload, and each cell's `times`
/// present and every one positive or infinite.
fn check_table<'a, C>(
    what: &str,
    entrants: &[String],
    workloads: &[String],
    rows: &'a [Vec<C>],
    times: impl Fn(&'a C) -> &'a [f64],
) -> Result<()> {
    if entrants.is_empty() {
        return Err(ScoreError::Empty("no entrants"));
    }
    if workloads.is_empty() {
        return Err(ScoreError::Empty("no workloads"));
    }
    if rows.len() != entrants.len() {
        return Err(ScoreError::Shape {
            what: format!("the table of {what}"),
            found: rows.len(),
            expected: entrants.len(),
        });
    }
    for (entrant, row) in entrants.iter().zip(rows) {
        if row.len() != workloads.len() {
            return Err(ScoreError::Shape {
                what: format!("{entrant}'s row"),
                found: row.len(),
                expected: workloads.len(),
            });
        }
        for (workload, cell) in workloads.iter().zip(row) {
            let cell = times(cell);
            if cell.is_empty() {
                return Err(ScoreError::Shape {
                    what: format!("{entrant}'s {what} on {workload}"),
                    found: 0,
                    expected: 1,
                });
            }
            if let Some(&value) = cell.iter().find(|t| t.is_nan() || **t <= 0.0) {
                return Err(ScoreError::BadTime {
                    entrant: entrant.clone(),
                    workload: workload.clone(),
                    value,
                });
            }
        }
    }
    Ok(())
}
