//! Statistics over seeds: per variant and sweep point, mean, std, min, max, n and a 95%
//! confidence interval of each final and best metric, steps and time to target, and the
//! diverged runs.
//!
//! `summary.json` keeps what is reproducible (`groups[].metrics`, `steps_to_target`,
//! `diverged`) apart from wall-clock times (`groups[].timing`), so two runs of one
//! experiment, or a sharded run merged, compare equal outside `timing`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::metric::Metric;
use crate::state::RunRecord;

/// Summary statistics of one quantity over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of values (finite ones; diverged runs have none).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1; 0 for one value).
    pub std: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Half-width of the 95% confidence interval of the mean (Student's t; absent for n < 2).
    pub ci95: Option<f64>,
}

impl Stats {
    /// The statistics of the finite `values`, or `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Stats> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        if n == 0 {
            return None;
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let ci95 = (n > 1)
            .then(|| StudentsT::new(0.0, 1.0, (n - 1) as f64).ok())
            .flatten()
            .map(|t| t.inverse_cdf(0.975) * std / (n as f64).sqrt());
        Some(Stats {
            n,
            mean,
            std,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ci95,
        })
    }
}

/// One variant at one sweep point, over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The variant.
    pub variant: String,
    /// The sweep point's label (empty without a sweep).
    pub point: String,
    /// The swept values.
    pub values: BTreeMap<String, serde_json::Value>,
    /// The seeds run.
    pub seeds: Vec<u64>,
    /// Statistics of each final and best metric (finished runs).
    pub metrics: BTreeMap<String, Stats>,
    /// Statistics of the last value of each probe measurement (finished runs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measurements: BTreeMap<String, Stats>,
    /// Categorical measurements (such as `basin`): how many finished runs ended on each value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, BTreeMap<String, usize>>,
    /// Steps to the target, over the runs that reached it.
    pub steps_to_target: Option<Stats>,
    /// How many runs reached the target.
    pub reached_target: usize,
    /// The runs that diverged: `(seed, step)`.
    pub diverged: Vec<(u64, u64)>,
    /// Wall-clock statistics (not reproducible).
    pub timing: BTreeMap<String, Stats>,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The experiment's name.
    pub experiment: String,
    /// The target, as text, if any.
    pub target: Option<String>,
    /// The groups, in run-list order.
    pub groups: Vec<Group>,
}

/// Summarises `records` (any order; grouped by variant and point in first-seen index order).
pub fn summarize(experiment: &str, target: Option<String>, records: &[RunRecord]) -> Summary {
    let mut sorted: Vec<&RunRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.index);
    let mut order: Vec<(String, String)> = Vec::new();
    let mut members: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
    for r in sorted {
        let key = (r.variant.clone(), r.point.label.clone());
        if !members.contains_key(&key) {
            order.push(key.clone());
        }
        members.entry(key).or_default().push(r);
    }
    let groups = order
        .into_iter()
        .filter_map(|key| {
            let runs = members.remove(&key)?;
            Some(group(key.0, key.1, &runs))
        })
        .collect();
    Summary {
        experiment: experiment.to_string(),
        target,
        groups,
    }
}

fn group(variant: String, point: String, runs: &[&RunRecord]) -> Group {
    let finished: Vec<&&RunRecord> = runs.iter().filter(|r| r.diverged_at.is_none()).collect();
    let mut metrics = BTreeMap::new();
    for (kind, get) in [
        (
            "final",
            (|r: &RunRecord, m: Metric| r.last.get(m)) as fn(&RunRecord, Metric) -> _,
        ),
        ("best", |r: &RunRecord, m: Metric| r.best.of(m)),
    ] {
        for metric in Metric::ALL {
            let values: Vec<f64> = finished.iter().filter_map(|r| get(r, metric)).collect();
            if let Some(stats) = Stats::of(&values) {
                metrics.insert(format!("{kind}_{metric}"), stats);
            }
        }
    }
    let mut measurements = BTreeMap::new();
    let mut categories: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let names: BTreeSet<&String> = finished.iter().flat_map(|r| r.measured.keys()).collect();
    for name in names {
        let values: Vec<f64> = finished
            .iter()
            .filter_map(|r| r.measured.get(name).copied())
            .collect();
        if crate::probe::is_categorical(name) {
            let counts = categories.entry(name.clone()).or_default();
            for v in values {
                *counts.entry(show(v)).or_default() += 1;
            }
        } else if let Some(stats) = Stats::of(&values) {
            measurements.insert(name.clone(), stats);
        }
    }
    let steps: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.steps_to_target.map(|s| s as f64))
        .collect();
    let mut timing = BTreeMap::new();
    let seconds: Vec<f64> = finished.iter().map(|r| r.seconds).collect();
    if let Some(s) = Stats::of(&seconds) {
        timing.insert("seconds".to_string(), s);
    }
    let per_step: Vec<f64> = finished
        .iter()
        .filter(|r| r.steps > 0)
        .map(|r| r.seconds / r.steps as f64)
        .collect();
    if let Some(s) = Stats::of(&per_step) {
        timing.insert("seconds_per_step".to_string(), s);
    }
    let to_target: Vec<f64> = runs.iter().filter_map(|r| r.seconds_to_target).collect();
    if let Some(s) = Stats::of(&to_target) {
        timing.insert("seconds_to_target".to_string(), s);
    }
    Group {
        variant,
        point,
        values: runs
            .first()
            .map(|r| r.point.values.clone())
            .unwrap_or_default(),
        seeds: runs.iter().map(|r| r.seed).collect(),
        metrics,
        measurements,
        categories,
        steps_to_target: Stats::of(&steps),
        reached_target: steps.len(),
        diverged: runs
            .iter()
            .filter_map(|r| r.diverged_at.map(|s| (r.seed, s)))
            .collect(),
        timing,
    }
}

/// `values` as the tables show them: `mean ± std` to the digits the spread supports, one
/// value as itself.
pub fn values_text(values: &[f64]) -> String {
    mean_std(Stats::of(values).as_ref())
}

/// One value as the tables show it.
pub fn value_text(value: f64) -> String {
    show(value)
}

fn show(value: f64) -> String {
    let a = value.abs();
    if value == value.trunc() && a < 1e9 {
        format!("{value:.0}")
    } else if !(1e-3..1e5).contains(&a) {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}

fn mean_std(stats: Option<&Stats>) -> String {
    match stats {
        Some(s) if s.n > 1 => mean_pm_std(s.mean, s.std),
        Some(s) => show(s.mean),
        None => "–".into(),
    }
}

/// `mean ± std` with as many digits as the spread supports: the std to two significant digits
/// and the mean to the same decimal place (`145 ± 43`, `0.852 ± 0.012`, `(1.354 ± 0.049)e-4`).
fn mean_pm_std(mean: f64, std: f64) -> String {
    if !(mean.is_finite() && std.is_finite() && std > 0.0) {
        return format!("{} ± {}", show(mean), show(std));
    }
    // The decimal place of the std's second significant digit.
    let last = std.log10().floor() as i32 - 1;
    let scale = mean.abs().max(std);
    if (1e-3..1e5).contains(&scale) {
        let decimals = (-last).max(0) as usize;
        format!("{mean:.decimals$} ± {std:.decimals$}")
    } else {
        let exponent = scale.log10().floor() as i32;
        let decimals = (exponent - last).max(0) as usize;
        let unit = 10f64.powi(exponent);
        format!(
            "({:.decimals$} ± {:.decimals$})e{exponent}",
            mean / unit,
            std / unit
        )
    }
}

/// A duration in seconds over seeds in the unit that suits it (s, ms, µs), rounded as
/// [`mean_pm_std`] rounds.
fn duration(stats: Option<&Stats>) -> String {
    let Some(s) = stats else {
        return "–".into();
    };
    let (factor, unit) = match s.mean.abs() {
        m if m >= 1.0 => (1.0, "s"),
        m if m >= 1e-3 => (1e3, "ms"),
        _ => (1e6, "µs"),
    };
    let (mean, std) = (s.mean * factor, s.std * factor);
    if s.n > 1 && std > 0.0 {
        format!("{} {unit}", mean_pm_std(mean, std))
    } else {
        format!("{} {unit}", three_digits(mean))
    }
}

/// `value` to three significant digits, without an exponent (a time in its unit is in 1..1000).
fn three_digits(value: f64) -> String {
    let decimals = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$}")
}

/// `summary.md`: the main table ([`headline`]), the probes' measurements and every statistic of
/// every metric.
pub fn markdown(summary: &Summary, description: &str) -> String {
    let mut out = headline(summary, description);
    out.push_str(&measurements(summary));
    out.push_str(&details(summary));
    out
}

/// What the terminal shows of an experiment: the main table, and where the rest is.
pub fn terminal(summary: &Summary, description: &str) -> String {
    let mut out = headline(summary, description);
    let measured = summary
        .groups
        .iter()
        .any(|g| !g.measurements.is_empty() || !g.categories.is_empty());
    out.push_str(if measured {
        "\nMeasurements and every statistic over seeds: summary.md.\n"
    } else {
        "\nEvery statistic over seeds: summary.md.\n"
    });
    out
}

/// The title, the description and one table, one row per group.
fn headline(summary: &Summary, description: &str) -> String {
    let mut out = format!("# {}\n\n", summary.experiment);
    if !description.is_empty() {
        let _ = writeln!(out, "{description}\n");
    }
    let any = |name: &str| summary.groups.iter().any(|g| g.metrics.contains_key(name));
    let mut columns: Vec<(&str, &str)> = vec![("final_train_loss", "final train loss")];
    for (key, title) in [
        ("final_val_loss", "final val loss"),
        ("final_test_loss", "final test loss"),
        ("final_test_accuracy", "final test acc."),
        ("best_test_accuracy", "best test acc."),
    ] {
        if any(key) {
            columns.push((key, title));
        }
    }
    out.push_str("mean ± std over seeds (n = finished runs); diverged runs are counted apart.\n\n");
    out.push_str("| variant | point | n |");
    for (_, title) in &columns {
        let _ = write!(out, " {title} |");
    }
    if let Some(t) = &summary.target {
        let _ = write!(out, " steps to {t} |");
    }
    out.push_str(" diverged | time/step |\n|---|---|---|");
    for _ in &columns {
        out.push_str("---|");
    }
    if summary.target.is_some() {
        out.push_str("---|");
    }
    out.push_str("---|---|\n");
    for g in &summary.groups {
        let n = g.seeds.len() - g.diverged.len();
        let _ = write!(
            out,
            "| {} | {} | {n} |",
            g.variant,
            if g.point.is_empty() { "–" } else { &g.point }
        );
        for (key, _) in &columns {
            let _ = write!(out, " {} |", mean_std(g.metrics.get(*key)));
        }
        if summary.target.is_some() {
            let _ = write!(
                out,
                " {} ({}/{}) |",
                mean_std(g.steps_to_target.as_ref()),
                g.reached_target,
                g.seeds.len()
            );
        }
        let diverged = if g.diverged.is_empty() {
            "0".to_string()
        } else {
            let at: Vec<String> = g
                .diverged
                .iter()
                .map(|(seed, step)| format!("seed {seed} at step {step}"))
                .collect();
            format!("{} ({})", g.diverged.len(), at.join(", "))
        };
        let _ = writeln!(
            out,
            " {diverged} | {} |",
            duration(g.timing.get("seconds_per_step"))
        );
    }
    out
}

/// The probes' final values, one column per measurement, and the categorical ones counted.
fn measurements(summary: &Summary) -> String {
    let names: BTreeSet<&String> = summary
        .groups
        .iter()
        .flat_map(|g| g.measurements.keys())
        .collect();
    let categorical: BTreeSet<&String> = summary
        .groups
        .iter()
        .flat_map(|g| g.categories.keys())
        .collect();
    if names.is_empty() && categorical.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n## Measurements at the last step\n\nmean ± std over finished runs (`measurements.csv`); \
         categorical ones as value × runs.\n\n| variant | point |",
    );
    for name in names.iter().chain(&categorical) {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n|---|---|");
    for _ in names.iter().chain(&categorical) {
        out.push_str("---|");
    }
    out.push('\n');
    for g in &summary.groups {
        let point = if g.point.is_empty() { "–" } else { &g.point };
        let _ = write!(out, "| {} | {point} |", g.variant);
        for name in &names {
            let _ = write!(out, " {} |", mean_std(g.measurements.get(*name)));
        }
        for name in &categorical {
            let counts = g.categories.get(*name).map_or("–".to_string(), |c| {
                c.iter()
                    .map(|(value, n)| format!("{value} × {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            let _ = write!(out, " {counts} |");
        }
        out.push('\n');
    }
    out
}

/// A statistic of the spread, `–` where one run gives none.
fn spread(stats: &Stats, value: f64) -> String {
    if stats.n < 2 {
        "–".into()
    } else {
        show(value)
    }
}

fn optional(value: Option<f64>) -> String {
    value.map_or("–".into(), show)
}

/// Every statistic of every metric: what `summary.json` holds, as a table.
fn details(summary: &Summary) -> String {
    let mut out = String::from(
        "\n## Every metric over seeds\n\nn finished runs; std is the sample standard deviation; \
         95% CI is the half-width of Student's t interval of the mean.\n\n\
         | variant | point | metric | n | mean | std | min | max | 95% CI |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for g in &summary.groups {
        let point = if g.point.is_empty() { "–" } else { &g.point };
        let rows = g
            .metrics
            .iter()
            .chain(&g.measurements)
            .map(|(name, stats)| (name.as_str(), stats))
            .chain(g.steps_to_target.iter().map(|s| ("steps_to_target", s)));
        for (name, s) in rows {
            let _ = writeln!(
                out,
                "| {} | {point} | {name} | {} | {} | {} | {} | {} | {} |",
                g.variant,
                s.n,
                show(s.mean),
                spread(s, s.std),
                spread(s, s.min),
                spread(s, s.max),
                optional(s.ci95)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_a_hand_computation() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0, f64::NAN]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.max), (4, 2.5, 1.0, 4.0));
        assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        // t_{0.975, 3} = 3.182446...
        assert!((s.ci95.unwrap() - 3.182446305284263 * s.std / 2.0).abs() < 1e-9);
        assert_eq!(Stats::of(&[7.0]).unwrap().ci95, None);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn a_mean_keeps_the_digits_its_spread_supports() {
        for (mean, std, text) in [
            (145.0, 43.301_27, "145 ± 43"),
            (93.333_33, 23.094_01, "93 ± 23"),
            (0.852_345, 0.012_34, "0.852 ± 0.012"),
            (1.354e-4, 4.889e-6, "(1.354 ± 0.049)e-4"),
            (2.5e7, 1.2e6, "(2.50 ± 0.12)e7"),
            (3.0, 0.0, "3 ± 0"),
        ] {
            assert_eq!(mean_pm_std(mean, std), text);
        }
        let times = Stats::of(&[1.30e-4, 1.35e-4, 1.41e-4]).unwrap();
        assert_eq!(duration(Some(&times)), "135.3 ± 5.5 µs");
        let one = Stats::of(&[0.0123]).unwrap();
        assert_eq!(duration(Some(&one)), "12.3 ms");
    }
}
