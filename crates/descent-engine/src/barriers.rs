//! `[barriers]`: whether two seeds (or two optimizers) end in minima separated by a barrier.
//! After the runs, the data loss on the straight line `(1 - a) w_i + a w_j` between the final
//! parameters of every two seeds of a group (variant and sweep point), or with
//! `between = "variants"` of every two variants run from the same seed, on a grid of `a` that holds both ends
//! (default 41 points on [-0.5, 1.5]), on the first `items` training items (default all) and
//! with `test = true` on the test set; each pair's barrier is the highest loss on `a in [0, 1]`
//! minus the mean of the ends (Garipov et al. 2018, Draxler et al. 2018: near 0, the two
//! solutions are linearly connected by low loss; well above 0, a ridge separates them).
//!
//! Runs of such an experiment write their final parameters (`parameters.bin`; a run's last
//! snapshot serves as well); diverged runs and runs without them are left out. The rows go to the experiment's `barriers.csv`, the
//! heights (mean ± std over pairs) into `summary.md`, the curves into `plots/barriers_*`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use burn::tensor::backend::AutodiffBackend;
use descent_surface::path;

use crate::backend::{self, BackendChoice, OnBackend, Precision};
use crate::config::{BarriersConfig, Between};
use crate::error::usage;
use crate::output;
use crate::probe::{Items, LandscapeSubject, ModelSubject, PlaneEvaluator, Subject, TrainingSet};
use crate::problem::{SupervisedTask, Task};
use crate::run_files::ExperimentDir;
use crate::state::{BarrierPoint, Outcome};

/// `[barriers]` checked against the problem.
#[derive(Debug, Clone)]
pub struct Segments {
    axis: Vec<f64>,
    items: Option<usize>,
    test: bool,
}

impl Segments {
    /// Checks `config` on `task`; the message names the field.
    pub fn new(config: &BarriersConfig, task: &Task) -> std::result::Result<Segments, String> {
        let points = config.points.unwrap_or(41);
        let (from, to) = (config.from.unwrap_or(-0.5), config.to.unwrap_or(1.5));
        if !(2..=10_001).contains(&points) {
            return Err(format!("barriers.points = {points}: must be in 2..=10001"));
        }
        let axis = path::linspace(from, to, points).map_err(|_| {
            format!("barriers: from = {from} and to = {to} must be finite with from < to")
        })?;
        let holds = |v: f64| axis.iter().any(|a| (a - v).abs() < 1e-12);
        if !(holds(0.0) && holds(1.0)) {
            return Err(format!(
                "barriers: the grid of {points} points on [{from}, {to}] must hold 0 and 1 \
                 (the two solutions)"
            ));
        }
        if config.items == Some(0) {
            return Err("barriers.items = 0: must be at least 1".into());
        }
        let test = config.test.unwrap_or(false);
        if test && !task.has_test_set() {
            return Err("barriers.test = true: this problem has no test set".into());
        }
        Ok(Segments {
            axis,
            items: config.items,
            test,
        })
    }
}

/// One pair of solutions of a group.
struct Pair {
    group: String,
    seeds: (u64, u64),
    ends: (Vec<f64>, Vec<f64>),
}

/// A finished run's final parameters and where it stands in the experiment.
struct Solution {
    variant: String,
    label: String,
    seed: u64,
    parameters: Vec<f64>,
}

/// Computes the segments between the finished runs of `dir` and writes `barriers.csv` there.
pub fn compute(
    dir: &Path,
    config: &BarriersConfig,
    task: &Task,
    backend: BackendChoice,
    precision: Precision,
) -> Result<()> {
    compute_into(dir, dir, config, task, backend, precision).map(|_| ())
}

/// [`compute`] on the runs of `runs`, writing `barriers.csv` into `out` (`descent surface`);
/// returns how many pairs it joined.
pub fn compute_into(
    runs: &Path,
    out: &Path,
    config: &BarriersConfig,
    task: &Task,
    backend: BackendChoice,
    precision: Precision,
) -> Result<usize> {
    let segments = Segments::new(config, task).map_err(usage)?;
    let mut solutions = Vec::new();
    for stored in ExperimentDir::new(runs).runs()? {
        let record = stored.record;
        if record.status != Outcome::Finished || record.diverged_at.is_some() {
            continue;
        }
        let Some(parameters) = stored.dir.final_parameters(record.steps)? else {
            continue;
        };
        solutions.push(Solution {
            variant: record.variant,
            label: record.point.label,
            seed: record.seed,
            parameters,
        });
    }
    let pairs = pairs(&solutions, config.between.unwrap_or(Between::Seeds));
    let joined = pairs.len();
    let rows = match task {
        Task::Landscape(t) => {
            let mut subject = LandscapeSubject::new(t, t.start.clone());
            along(&mut subject, &segments, &pairs)?
        }
        Task::Supervised(t) => backend::dispatch(
            backend,
            precision,
            OnModel {
                task: t,
                segments: &segments,
                pairs: &pairs,
            },
        )?,
    };
    output::write_barriers(out, &rows)?;
    Ok(joined)
}

/// The pairs `between` asks for, in run-list order within each group: the group is the
/// variant (seeds) or `a ↔ b` (variants), with the sweep point's label after a space.
fn pairs(solutions: &[Solution], between: Between) -> Vec<Pair> {
    let with_label = |name: String, label: &str| {
        if label.is_empty() {
            name
        } else {
            format!("{name} {label}")
        }
    };
    let mut pairs = Vec::new();
    for (i, a) in solutions.iter().enumerate() {
        for b in &solutions[i + 1..] {
            let paired = a.label == b.label
                && match between {
                    Between::Seeds => a.variant == b.variant && a.seed != b.seed,
                    Between::Variants => a.seed == b.seed && a.variant != b.variant,
                };
            if !paired {
                continue;
            }
            let group = match between {
                Between::Seeds => a.variant.clone(),
                Between::Variants => format!("{} ↔ {}", a.variant, b.variant),
            };
            // Seeds ascending within a pair, whatever the run order.
            let (first, second) = if between == Between::Seeds && b.seed < a.seed {
                (b, a)
            } else {
                (a, b)
            };
            pairs.push(Pair {
                group: with_label(group, &a.label),
                seeds: (first.seed, second.seed),
                ends: (first.parameters.clone(), second.parameters.clone()),
            });
        }
    }
    pairs.sort_by(|x, y| (&x.group, x.seeds).cmp(&(&y.group, y.seeds)));
    pairs
}

struct OnModel<'a> {
    task: &'a SupervisedTask,
    segments: &'a Segments,
    pairs: &'a [Pair],
}

impl OnBackend for OnModel<'_> {
    type Output = Vec<BarrierPoint>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Vec<BarrierPoint>> {
        let model = self.task.init::<B>(0, &device)?;
        let training = TrainingSet::<B>::new(self.task);
        let mut subject = ModelSubject::new(self.task, model, &training, &device);
        along(&mut subject, self.segments, self.pairs)
    }
}

/// Every pair's segment on the training items (and the test set).
fn along(
    subject: &mut dyn Subject,
    segments: &Segments,
    pairs: &[Pair],
) -> Result<Vec<BarrierPoint>> {
    let n = subject.items();
    let first: Option<Vec<usize>> = segments.items.filter(|&k| k < n).map(|k| (0..k).collect());
    let mut sets = vec![("train", Items::Train(first.as_deref()))];
    if segments.test {
        sets.push(("test", Items::Test(None)));
    }
    let mut rows = Vec::new();
    for (set, items) in sets {
        for pair in pairs {
            let direction: Vec<f64> = pair
                .ends
                .1
                .iter()
                .zip(&pair.ends.0)
                .map(|(b, a)| b - a)
                .collect();
            let mut evaluate: PlaneEvaluator =
                subject.plane_evaluator(items, &pair.ends.0, &[&direction])?;
            for &a in &segments.axis {
                let (loss, accuracy) = evaluate(&[a])?;
                rows.push(BarrierPoint {
                    group: pair.group.clone(),
                    seed_a: pair.seeds.0,
                    seed_b: pair.seeds.1,
                    set: set.to_string(),
                    a,
                    loss,
                    accuracy,
                });
            }
        }
    }
    Ok(rows)
}

/// Each pair's barrier height, by group and set: `(group, set) -> [height]`.
pub fn heights(rows: &[BarrierPoint]) -> BTreeMap<(String, String), Vec<f64>> {
    // (group, set, seed_a, seed_b) -> (a, loss) along the segment.
    type Key = (String, String, u64, u64);
    let mut lines: BTreeMap<Key, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in rows {
        let line = lines
            .entry((r.group.clone(), r.set.clone(), r.seed_a, r.seed_b))
            .or_default();
        line.0.push(r.a);
        line.1.push(r.loss);
    }
    let mut out: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for ((group, set, _, _), (alphas, losses)) in lines {
        if let Some(barrier) = path::barrier(&alphas, &losses) {
            out.entry((group, set)).or_default().push(barrier.height);
        }
    }
    out
}

/// The barrier heights as a markdown table, `None` without rows.
pub fn table(rows: &[BarrierPoint]) -> Option<String> {
    let heights = heights(rows);
    if heights.is_empty() {
        return None;
    }
    let mut out = String::from(
        "\n## Barriers between solutions\n\nThe loss on the straight line between the final \
         parameters of two runs (two seeds of a variant, or two variants `a ↔ b` from the same \
         seed): its highest value on a in [0, 1] minus the mean of the two ends, mean ± std \
         over the pairs (`barriers.csv`).\n\n\
         | group | set | pairs | barrier | smallest | largest |\n|---|---|---|---|---|---|\n",
    );
    for ((group, set), values) in &heights {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            out,
            "| {group} | {set} | {} | {} | {} | {} |",
            values.len(),
            crate::summary::values_text(values),
            crate::summary::value_text(lo),
            crate::summary::value_text(hi)
        );
    }
    Some(out)
}
