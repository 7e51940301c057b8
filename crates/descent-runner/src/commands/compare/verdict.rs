//! The comparison's verdict: the first steps and the final metrics judged, the drift
//! reported, and compare.json and compare.md written.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use super::plan::Plan;
use super::run::{BackendResult, Measured, OneStepResult};
use crate::config::RunSpec;
use crate::conformance::{self, max_abs};
use crate::output;
use crate::provenance;
use crate::state::Finished;

/// One metric of one variant (and sweep point) at the end, over seeds, on two backends.
#[derive(Debug, Serialize)]
struct FinalMetric {
    variant: String,
    point: String,
    metric: &'static str,
    backends: [String; 2],
    seeds: usize,
    means: [f64; 2],
    stds: [Option<f64>; 2],
    difference: f64,
    /// Two seed-to-seed standard deviations (pooled over the backends), floored at f32
    /// rounding of the mean.
    allowed: f64,
    agree: bool,
}

/// How far the parameters drifted apart over the whole run (information, not the verdict:
/// rounding differences grow with the steps).
#[derive(Debug, Serialize)]
struct Drift {
    run: String,
    backends: [String; 2],
    max_abs_parameter_difference: f64,
    max_abs_parameter: f64,
    max_abs_loss_difference: f64,
    max_abs_loss: f64,
}

/// Everything one `descent compare` found: compare.json.
#[derive(Debug, Serialize)]
pub(super) struct Comparison {
    experiment: String,
    steps: u64,
    precision: &'static str,
    tolerance: String,
    perturb_lr: Option<f64>,
    machine: String,
    git_revision: String,
    results: Vec<BackendResult>,
    one_step: Vec<OneStepResult>,
    final_metrics: Vec<FinalMetric>,
    drift: Vec<Drift>,
    verdict: String,
}

/// The allowance for a final metric when the seeds do not spread it (a deterministic
/// landscape): f32 rounding accumulated over the run.
const FLOOR: f64 = 1e-4;

/// Final metrics may differ by this many seed-to-seed standard deviations (pooled over the
/// two backends). Rounding differences can make a run on one backend behave like a run with
/// another seed (SGD at a large step is chaotic), and the means of n such runs then differ
/// by about `sigma sqrt(2/n)`: within two sigma for most draws at n = 3, outside it for a
/// backend that really trains differently.
const SPREADS: f64 = 2.0;

/// What `measured` shows about `plan`'s backends.
pub(super) fn judge(plan: &Plan, measured: Measured) -> Comparison {
    let Measured {
        one_step,
        results,
        finished,
    } = measured;
    let runs = &plan.prepared.runs;
    let mut drift = Vec::new();
    for run in runs {
        let mine: Vec<&(usize, String, Finished)> =
            finished.iter().filter(|f| f.1 == run.id).collect();
        for other in mine.iter().skip(1) {
            drift.push(drifted(&run.id, &plan.labels, mine[0], other));
        }
    }
    let final_metrics = final_metrics(runs, &finished, &plan.labels);
    let verdict = verdict(plan.steps, runs, &one_step, &final_metrics);
    Comparison {
        experiment: plan.prepared.plan.name.clone(),
        steps: plan.steps,
        precision: "f32",
        tolerance: format!(
            "first step: gradients within {:e} of each tensor's largest element, parameters \
             after the step (same gradient) within {:e} of the largest update plus 4 ulp; final \
             metrics: |mean difference| <= max({SPREADS} x pooled seed std, {FLOOR:e} x (1 + |mean|))",
            conformance::RELATIVE_TOLERANCE,
            conformance::RELATIVE_TOLERANCE
        ),
        perturb_lr: plan.perturb_lr,
        machine: provenance::machine(),
        git_revision: provenance::git_revision(),
        results,
        one_step,
        final_metrics,
        drift,
        verdict,
    }
}

/// The verdict line: AGREE, or DISAGREE with every first step and final metric that does
/// not, and a note when no variant had two seeds to spread its final metrics.
fn verdict(
    steps: u64,
    runs: &[RunSpec],
    one_step: &[OneStepResult],
    final_metrics: &[FinalMetric],
) -> String {
    let step_ok = one_step.iter().all(|p| p.agree);
    let metrics_ok = final_metrics.iter().all(|m| m.agree);
    let mut verdict = if step_ok && metrics_ok {
        format!(
            "AGREE: one step conforms (gradients, and updates from the same gradient, within \
             f32 tolerance per tensor) and after {steps} steps every final metric differs by less \
             than the seed-to-seed spread (2 std)"
        )
    } else {
        let mut why = Vec::new();
        for p in one_step.iter().filter(|p| !p.agree) {
            why.push(format!(
                "{} ({} vs {}): first step off (gradient {:.1e} relative, update {:.1} x \
                 allowance)",
                p.run,
                p.backends[0],
                p.backends[1],
                p.worst_gradient_difference,
                p.worst_update_ratio
            ));
        }
        for m in final_metrics.iter().filter(|m| !m.agree) {
            why.push(format!(
                "{} {}{}: {} differs by {:.3e} (spread {:.3e})",
                m.variant,
                m.point,
                if m.point.is_empty() { "" } else { " " },
                m.metric,
                m.difference,
                m.allowed
            ));
        }
        format!("DISAGREE: {}", why.join("; "))
    };
    let spread_known = runs.iter().any(|r| {
        runs.iter()
            .filter(|o| o.variant == r.variant && o.point == r.point)
            .count()
            >= 2
    });
    if !spread_known {
        verdict.push_str(
            " (one seed: the final metrics were held to f32 rounding; pass --seeds 0,1,2 to \
             compare them with a seed-to-seed spread)",
        );
    }
    verdict
}

/// Writes `comparison` to DIR/compare.json and DIR/compare.md, and prints the markdown.
pub(super) fn write(dir: &Path, comparison: &Comparison) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    output::write_atomic(
        &dir.join("compare.json"),
        &serde_json::to_vec_pretty(comparison)?,
    )?;
    let md = markdown(comparison);
    output::write_atomic(&dir.join("compare.md"), md.as_bytes())?;
    println!("{md}");
    println!("written: {}", dir.display());
    Ok(())
}

/// Mean and sample standard deviation (`None` for one value).
fn mean_std(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() >= 2)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (mean, std)
}

/// Per variant and sweep point, every final metric both backends report, the reference
/// backend against each other one.
fn final_metrics(
    runs: &[RunSpec],
    finished: &[(usize, String, Finished)],
    labels: &[String],
) -> Vec<FinalMetric> {
    type Pick = fn(&Finished) -> Option<f64>;
    let metrics: [(&'static str, Pick); 5] = [
        ("final_train_loss", |f| f.record.last.train_loss),
        ("final_val_loss", |f| f.record.last.val_loss),
        ("final_val_accuracy", |f| f.record.last.val_accuracy),
        ("final_test_loss", |f| f.record.last.test_loss),
        ("final_test_accuracy", |f| f.record.last.test_accuracy),
    ];
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for run in runs {
        let key = (run.variant.as_str(), run.point.label.as_str());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    let mut out = Vec::new();
    for (variant, point) in groups {
        let ids: Vec<&str> = runs
            .iter()
            .filter(|r| r.variant == variant && r.point.label == point)
            .map(|r| r.id.as_str())
            .collect();
        let of = |backend: usize| -> Vec<&Finished> {
            finished
                .iter()
                .filter(|f| f.0 == backend && ids.contains(&f.1.as_str()))
                .map(|f| &f.2)
                .collect()
        };
        let reference = of(0);
        for other in 1..labels.len() {
            let theirs = of(other);
            // A run that diverged on one backend and not on the other disagrees outright.
            let diverged = |runs: &[&Finished]| -> Vec<bool> {
                runs.iter()
                    .map(|f| f.record.diverged_at.is_some())
                    .collect()
            };
            let (ours_diverged, theirs_diverged) = (diverged(&reference), diverged(&theirs));
            if ours_diverged != theirs_diverged {
                out.push(FinalMetric {
                    variant: variant.to_string(),
                    point: point.to_string(),
                    metric: "diverged",
                    backends: [labels[0].clone(), labels[other].clone()],
                    seeds: ids.len(),
                    means: [
                        ours_diverged.iter().filter(|d| **d).count() as f64,
                        theirs_diverged.iter().filter(|d| **d).count() as f64,
                    ],
                    stds: [None, None],
                    difference: f64::INFINITY,
                    allowed: 0.0,
                    agree: false,
                });
                continue;
            }
            for (metric, pick) in metrics {
                let a: Option<Vec<f64>> = reference.iter().map(|f| pick(f)).collect();
                let b: Option<Vec<f64>> = theirs.iter().map(|f| pick(f)).collect();
                let (Some(a), Some(b)) = (a, b) else { continue };
                if a.is_empty() || a.len() != b.len() {
                    continue;
                }
                let ((mean_a, std_a), (mean_b, std_b)) = (mean_std(&a), mean_std(&b));
                let pooled =
                    ((std_a.unwrap_or(0.0).powi(2) + std_b.unwrap_or(0.0).powi(2)) / 2.0).sqrt();
                let allowed = (SPREADS * pooled).max(FLOOR * (1.0 + mean_a.abs()));
                let difference = (mean_a - mean_b).abs();
                out.push(FinalMetric {
                    variant: variant.to_string(),
                    point: point.to_string(),
                    metric,
                    backends: [labels[0].clone(), labels[other].clone()],
                    seeds: a.len(),
                    means: [mean_a, mean_b],
                    stds: [std_a, std_b],
                    difference,
                    allowed,
                    agree: difference <= allowed,
                });
            }
        }
    }
    out
}

/// How far run `run` drifted apart on the backends of `a` and `b`.
fn drifted(
    run: &str,
    labels: &[String],
    a: &(usize, String, Finished),
    b: &(usize, String, Finished),
) -> Drift {
    let (pa, pb) = (&a.2.parameters, &b.2.parameters);
    let parameter_difference = if pa.len() == pb.len() {
        max_abs(pa.iter().zip(pb).map(|(x, y)| x - y))
    } else {
        f64::INFINITY
    };
    let losses = |f: &Finished| -> Vec<(u64, f64)> {
        f.rows
            .iter()
            .filter_map(|r| r.train_loss.map(|l| (r.step, l)))
            .collect()
    };
    let (la, lb) = (losses(&a.2), losses(&b.2));
    let loss_difference = if la.len() == lb.len() {
        max_abs(
            la.iter()
                .zip(&lb)
                .map(|(x, y)| if x.0 == y.0 { x.1 - y.1 } else { f64::NAN }),
        )
    } else {
        f64::INFINITY
    };
    Drift {
        run: run.to_string(),
        backends: [labels[a.0].clone(), labels[b.0].clone()],
        max_abs_parameter_difference: parameter_difference,
        max_abs_parameter: max_abs(pa.iter().copied()),
        max_abs_loss_difference: loss_difference,
        max_abs_loss: max_abs(la.iter().map(|l| l.1)),
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.6}"))
}

fn markdown(c: &Comparison) -> String {
    let mut out = format!(
        "# {}: backends compared over {} steps (f32)\n\nmachine: {}\n\n",
        c.experiment, c.steps, c.machine
    );
    if let Some(factor) = c.perturb_lr {
        let _ = writeln!(
            out,
            "**Perturbed on purpose**: the last backend's learning rate x {factor}.\n"
        );
    }
    out.push_str("| run | backend | ms/step (median) | samples/s | final train loss | final test loss | final test acc. |\n|---|---|---|---|---|---|---|\n");
    for r in &c.results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.backend,
            r.median_step_seconds
                .map_or("–".into(), |s| format!("{:.3}", s * 1e3)),
            r.samples_per_second
                .map_or("–".into(), |s| format!("{s:.0}")),
            show(r.final_train_loss),
            show(r.final_test_loss),
            show(r.final_test_accuracy)
        );
    }
    out.push_str("\n## First step (same parameters and batch; the update from the same gradient)\n\n| run | backends | tensors | worst gradient difference (relative) | worst update difference (x allowance) | agree |\n|---|---|---|---|---|---|\n");
    for p in &c.one_step {
        let _ = writeln!(
            out,
            "| {} | {} vs {} | {} | {:.2e} | {:.3} | {} |",
            p.run,
            p.backends[0],
            p.backends[1],
            p.tensors,
            p.worst_gradient_difference,
            p.worst_update_ratio,
            if p.agree { "yes" } else { "NO" }
        );
    }
    let _ = write!(
        out,
        "\n## Final metrics after {} steps (mean over seeds)\n\n| variant | point | metric | seeds | {} | {} | difference | allowed (2 seed std) | agree |\n|---|---|---|---|---|---|---|---|---|\n",
        c.steps,
        c.final_metrics
            .first()
            .map_or("first", |m| m.backends[0].as_str()),
        c.final_metrics
            .first()
            .map_or("other", |m| m.backends[1].as_str()),
    );
    for m in &c.final_metrics {
        let cell = |mean: f64, std: Option<f64>| match std {
            Some(s) => format!("{mean:.6} ± {s:.2e}"),
            None => format!("{mean:.6}"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.2e} | {:.2e} | {} |",
            m.variant,
            if m.point.is_empty() { "–" } else { &m.point },
            m.metric,
            m.seeds,
            cell(m.means[0], m.stds[0]),
            cell(m.means[1], m.stds[1]),
            m.difference,
            m.allowed,
            if m.agree { "yes" } else { "NO" }
        );
    }
    out.push_str("\n## Drift (information: rounding differences grow with the steps)\n\n| run | backends | max abs parameter difference | max abs loss difference |\n|---|---|---|---|\n");
    for d in &c.drift {
        let _ = writeln!(
            out,
            "| {} | {} vs {} | {:.3e} (of max {:.3}) | {:.3e} (of max {:.3}) |",
            d.run,
            d.backends[0],
            d.backends[1],
            d.max_abs_parameter_difference,
            d.max_abs_parameter,
            d.max_abs_loss_difference,
            d.max_abs_loss
        );
    }
    let _ = writeln!(out, "\n{}", c.verdict);
    out
}
