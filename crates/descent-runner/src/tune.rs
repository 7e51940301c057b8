//! `descent tune`: DeepOBS's protocol for comparing optimizers fairly. Each variant's
//! learning rate is searched on a log grid, scored by a validation metric averaged over a
//! few search seeds; then every variant reruns at its best rate with the experiment's seeds,
//! and is reported on the test set.
//!
//! The search is an ordinary experiment (each variant sweeping its own `lr`) written to
//! `OUT/NAME/search/`; the rerun to `OUT/NAME/final/`; the choice to `OUT/NAME/tune.json`
//! and `tune.md`. A best rate at the edge of the grid is flagged: the grid should be widened.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::config::{self, Plan, Problem};
pub use crate::config::{Grid, TuneConfig};
use crate::error::usage;
use crate::experiment::{self, RunOptions};
use crate::metric::Metric;
use crate::output;
use crate::summary::{Stats, Summary};

/// The protocol, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Protocol {
    /// The rates searched, ascending.
    pub grid: Vec<f64>,
    /// The search seeds.
    pub search_seeds: Vec<u64>,
    /// The metric scored.
    pub metric: Metric,
}

/// One rate of one variant in the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The learning rate.
    pub lr: f64,
    /// The metric's final value over the search seeds that finished.
    pub stats: Option<Stats>,
    /// Search seeds that diverged (a rate with any is never chosen).
    pub diverged: usize,
}

/// The choice for one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The variant.
    pub variant: String,
    /// Every rate's score, ascending in rate.
    pub scores: Vec<Score>,
    /// The best rate (`None` if every rate diverged or had no value).
    pub best: Option<f64>,
    /// Whether the best rate is the grid's smallest or largest: widen the grid.
    pub at_edge: bool,
}

/// `tune.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneReport {
    /// The experiment.
    pub experiment: String,
    /// The metric scored (final value, mean over search seeds).
    pub metric: Metric,
    /// The rates searched.
    pub grid: Vec<f64>,
    /// The search seeds.
    pub search_seeds: Vec<u64>,
    /// The rerun's seeds.
    pub final_seeds: Vec<u64>,
    /// One choice per variant.
    pub choices: Vec<Choice>,
}

/// Checks the file's `[tune]` table, if it has one, as `descent tune` without overrides would:
/// `[tune]` is read only by `descent tune`, but a file is valid (and runs) only if all of it is.
pub fn check_table(plan: &Plan) -> Result<()> {
    if plan.base.tune.is_some() {
        protocol(plan, None, None, None)?;
    }
    Ok(())
}

/// Resolves the protocol from the file's `[tune]` and the command line's overrides, and
/// checks that the metric exists for this problem.
pub fn protocol(
    plan: &Plan,
    grid: Option<&str>,
    seeds: Option<&[u64]>,
    metric: Option<Metric>,
) -> Result<Protocol> {
    let shown = plan.file.display();
    let file = plan.base.tune.clone().unwrap_or_default();
    let grid = match grid {
        Some(text) => Grid::Spec(text.to_string()),
        None => file.grid.unwrap_or(Grid::Spec("1e-4:1:13".into())),
    };
    let grid = grid
        .rates()
        .map_err(|e| usage(format!("{shown}: tune.grid: {e}")))?;
    let search_seeds = seeds
        .map(<[u64]>::to_vec)
        .or(file.seeds)
        .unwrap_or_else(|| vec![0, 1]);
    if search_seeds.is_empty() {
        return Err(usage(format!("{shown}: tune.seeds: the list is empty")));
    }
    let metric = metric.or(file.metric).unwrap_or(Metric::ValLoss);
    let validation = match &plan.base.problem {
        Problem::Dataset(p) => p.validation.unwrap_or(0) > 0,
        Problem::Landscape(_) => false,
    };
    if matches!(metric, Metric::ValLoss | Metric::ValAccuracy) && !validation {
        return Err(usage(format!(
            "{shown}: tune.metric = {metric}: the problem holds out no validation items (set \
             problem.validation = N), or score another metric (--metric test_loss on a \
             landscape)"
        )));
    }
    if metric.measured() {
        return Err(usage(format!(
            "{shown}: tune.metric = {metric}: tuning scores metrics.csv's metrics"
        )));
    }
    if plan
        .base
        .variants
        .iter()
        .any(|v| v.sweep.contains_key("lr"))
    {
        return Err(usage(format!(
            "{shown}: a variant sweeps its own lr; tuning searches lr itself"
        )));
    }
    Ok(Protocol {
        grid,
        search_seeds,
        metric,
    })
}

/// Runs the protocol on `plan` into `out/<name>/`; returns that directory.
pub fn run(plan: &Plan, protocol: &Protocol, out: &Path, options: &RunOptions) -> Result<PathBuf> {
    let dir = out.join(&plan.name);
    experiment::refuse_existing(&dir)?;
    let grid: Vec<Value> = protocol.grid.iter().map(|&r| Value::Float(r)).collect();
    let search = rewrite(&plan.table, "search", &protocol.search_seeds, |variant| {
        let mut sweep = Table::new();
        sweep.insert("lr".into(), Value::Array(grid.clone()));
        variant.insert("sweep".into(), Value::Table(sweep));
    });
    let search = reparse(plan, &search)?;
    // Everything is checked before the first run: the rerun's plan too (with the middle
    // of the grid standing in for the rates the search will choose).
    let middle = protocol.grid[protocol.grid.len() / 2];
    reparse(
        plan,
        &rewrite(&plan.table, "final", &plan.base.seeds, |v| {
            v.insert("lr".into(), Value::Float(middle));
        }),
    )?;
    experiment::run(search, &dir, options)?;
    let summary: Summary = serde_json::from_slice(
        &std::fs::read(dir.join("search/summary.json")).context("reading the search summary")?,
    )
    .context("parsing the search summary")?;
    let choices: Vec<Choice> = plan
        .base
        .variants
        .iter()
        .map(|v| choose(&summary, &v.name, protocol))
        .collect();
    // The same facts are in tune.md; silent callers read them there.
    if !options.silent {
        for c in &choices {
            match c.best {
                None => eprintln!(
                    "warning: {}: every rate diverged or gave no {}; it is left out of the rerun",
                    c.variant, protocol.metric
                ),
                Some(lr) if c.at_edge => eprintln!(
                    "warning: {}: the best rate {lr} is at the edge of the grid; widen it",
                    c.variant
                ),
                Some(_) => {}
            }
        }
    }
    let best: BTreeMap<String, f64> = choices
        .iter()
        .filter_map(|c| c.best.map(|b| (c.variant.clone(), b)))
        .collect();
    let mut rerun = rewrite(&plan.table, "final", &plan.base.seeds, |_| {});
    if let Some(Value::Array(variants)) = rerun.get_mut("variants") {
        variants.retain_mut(|v| {
            let Some(table) = v.as_table_mut() else {
                return false;
            };
            let name = table
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match best.get(name) {
                Some(&lr) => {
                    table.insert("lr".into(), Value::Float(lr));
                    true
                }
                None => false,
            }
        });
    }
    let report = TuneReport {
        experiment: plan.name.clone(),
        metric: protocol.metric,
        grid: protocol.grid.clone(),
        search_seeds: protocol.search_seeds.clone(),
        final_seeds: plan.base.seeds.clone(),
        choices,
    };
    output::write_atomic(&dir.join("tune.json"), &serde_json::to_vec_pretty(&report)?)?;
    output::write_atomic(&dir.join("tune.md"), markdown(&report).as_bytes())?;
    if !best.is_empty() {
        experiment::run(reparse(plan, &rerun)?, &dir, options)?;
    }
    Ok(dir)
}

/// The experiment's table renamed, with `seeds`, and `edit` applied to every variant.
fn rewrite(table: &Table, name: &str, seeds: &[u64], edit: impl Fn(&mut Table)) -> Table {
    let mut table = table.clone();
    table.insert("name".into(), Value::String(name.into()));
    table.insert(
        "seeds".into(),
        Value::Array(seeds.iter().map(|&s| Value::Integer(s as i64)).collect()),
    );
    if let Some(Value::Array(variants)) = table.get_mut("variants") {
        for v in variants.iter_mut().filter_map(Value::as_table_mut) {
            edit(v);
        }
    }
    table
}

fn reparse(plan: &Plan, table: &Table) -> Result<Plan> {
    let text = toml::to_string(table).context("the tuning plan cannot be written as TOML")?;
    config::parse(&text, &plan.file, &[], None)
}

/// The search's scores of `variant`, and its best rate.
fn choose(summary: &Summary, variant: &str, protocol: &Protocol) -> Choice {
    let key = format!("final_{}", protocol.metric);
    let scores: Vec<Score> = protocol
        .grid
        .iter()
        .map(|&lr| {
            let group = summary.groups.iter().find(|g| {
                g.variant == variant && g.values.get("lr").and_then(|v| v.as_f64()) == Some(lr)
            });
            Score {
                lr,
                stats: group.and_then(|g| g.metrics.get(&key).cloned()),
                diverged: group.map_or(0, |g| g.diverged.len()),
            }
        })
        .collect();
    let best = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.diverged == 0)
        .filter_map(|(i, s)| s.stats.as_ref().map(|st| (i, st.mean)))
        .reduce(|a, b| {
            if protocol.metric.better(a.1, b.1) == b.1 && b.1 != a.1 {
                b
            } else {
                a
            }
        });
    Choice {
        variant: variant.to_string(),
        best: best.map(|(i, _)| protocol.grid[i]),
        at_edge: best.is_some_and(|(i, _)| i == 0 || i + 1 == protocol.grid.len()),
        scores,
    }
}

fn markdown(report: &TuneReport) -> String {
    let mut out = format!(
        "# {}: learning rates tuned\n\nScore: final {} (mean ± std over search seeds {:?}); a \
         rate where any search seed diverged is never chosen. The rerun (`final/`) uses seeds \
         {:?}.\n\n| variant | lr | score | diverged | |\n|---|---|---|---|---|\n",
        report.experiment, report.metric, report.search_seeds, report.final_seeds
    );
    for c in &report.choices {
        for s in &c.scores {
            let score = s.stats.as_ref().map_or("–".to_string(), |st| {
                if st.n > 1 {
                    format!("{:.4e} ± {:.1e}", st.mean, st.std)
                } else {
                    format!("{:.4e}", st.mean)
                }
            });
            let mark = if c.best == Some(s.lr) {
                if c.at_edge {
                    "**best** (edge of the grid)"
                } else {
                    "**best**"
                }
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {:.3e} | {score} | {} | {mark} |",
                c.variant, s.lr, s.diverged
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_spec_is_log_spaced_and_ends_exactly_at_its_bounds() {
        let rates = Grid::Spec("1e-4:1:5".into()).rates().unwrap();
        assert_eq!(rates.len(), 5);
        assert_eq!((rates[0], rates[4]), (1e-4, 1.0));
        assert_eq!(rates[1..4], [1e-3, 1e-2, 1e-1]);
        for bad in [
            "1:1e-4:5",
            "0:1:5",
            "1e-4:1:1",
            "1e-4:1",
            "a:1:3",
            "1e-4:1:99999999999",
        ] {
            assert!(Grid::Spec(bad.into()).rates().is_err(), "{bad}");
        }
        assert!(Grid::List(vec![0.1, 0.1]).rates().is_err());
        assert_eq!(Grid::List(vec![0.3, 0.1]).rates().unwrap(), vec![0.1, 0.3]);
    }
}
