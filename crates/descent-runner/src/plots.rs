//! Plots of an experiment's results, written as SVG and PNG into `<dir>/plots/`.
//!
//! [`render`] reads back what the runner wrote (each run's `run.json`, `metrics.csv`,
//! `timing.csv` and, for landscapes, `trajectory.csv`) and draws every plot the data
//! supports: loss against steps and against time, the learning rate, validation and
//! test metrics, a landscape's contours with the trajectories, and the sweeps.
//!
//! Runs are grouped by variant and sweep point; a group's curve is the mean over its
//! seeds with a ± one standard deviation band, taken at each step over the seeds that
//! have a finite value there (a diverged run stops where it diverged). The band is
//! clipped to the seeds' own range, so that a spread wider than the mean does not
//! reach down to zero, which a log axis cannot show; and on a log loss axis the top
//! stops at 100 × the largest starting value, so one diverging group does not squash
//! the others.
//!
//! The PNGs' text is set by [`text::Crisp`] rather than by `plotters`, whose
//! `ab_glyph` text spacing is uneven.

mod axis;
mod contour;
mod data;
mod figure;
mod sweep;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};
use plotters::style::{FontStyle, RGBColor};

use axis::Axis;
use data::{PointValue, Run};
use figure::{Band, Figure, Key, Line, Marker, Shape, colors_for};

/// DejaVu Sans (see `assets/README.md` for its licence): `plotters` draws PNG text with
/// `ab_glyph`, which needs a font in memory.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A 2-D landscape to draw under the trajectories of a landscape experiment.
pub struct Contour<'a> {
    /// The landscape's value at `(w₀, w₁)`.
    pub value: &'a dyn Fn(f64, f64) -> f64,
    /// The window's `w₀` range.
    pub x: (f64, f64),
    /// The window's `w₁` range.
    pub y: (f64, f64),
    /// Known minima, marked with a cross.
    pub minima: Vec<[f64; 2]>,
}

/// Renders every plot the data supports into `<dir>/plots/`; returns the files written.
///
/// A horizontal line drawn on the plot of one probe measurement (`[[measure]]`'s
/// `reference`): a value theory predicts, such as `2/eta` for the sharpness.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The measurement whose plot gets the line.
    pub measurement: String,
    /// What the value is, for the legend.
    pub label: String,
    /// Where the line is drawn.
    pub value: f64,
}

/// `dir` is an experiment directory: its subdirectories holding a `run.json` are the
/// runs. Each plot is written twice, as `<name>.svg` and `<name>.png`:
/// `loss_vs_step`, `loss_vs_time` (when there is timing), `loss_vs_samples` and
/// `loss_vs_epoch` (when an epoch has several batches), `lr_vs_step`,
/// `grad_norm_vs_step`, `val_loss_vs_step`, `val_accuracy_vs_step`,
/// `test_loss_vs_step`, `test_accuracy_vs_step` (each when its column has values),
/// `contours` (when `contour` is given), `sweep_<key>` for every swept key with
/// numeric values, and `measure_<name>` for every non-categorical probe measurement (with
/// the `references` drawn on it as dashed horizontal lines).
pub fn render(
    dir: &Path,
    contour: Option<&Contour>,
    references: &[Reference],
) -> Result<Vec<PathBuf>> {
    register_font()?;
    let runs = data::load(dir)?;
    if runs.is_empty() {
        bail!(
            "{} holds no runs (no subdirectory has a run.json)",
            dir.display()
        );
    }
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let experiment = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let groups = groups(&runs);
    let mut written = Vec::new();

    for m in &METRICS {
        if let Some(fig) = step_figure(&experiment, &groups, m, &[]) {
            written.extend(fig.save(&out, m.file)?);
        }
    }
    if let Some(fig) = time_figure(&experiment, &groups) {
        written.extend(fig.save(&out, "loss_vs_time")?);
    }
    // Variants with different batch sizes compare fairly per item seen or per epoch.
    if runs
        .iter()
        .any(|r| r.batches_per_epoch.is_some_and(|b| b > 1))
    {
        for (file, label, x) in [
            ("loss_vs_samples", "training items seen", X::Samples),
            ("loss_vs_epoch", "epoch", X::Epochs),
        ] {
            if let Some(fig) = against_figure(&experiment, &groups, label, x) {
                written.extend(fig.save(&out, file)?);
            }
        }
    }
    let measured: BTreeSet<&String> = runs.iter().flat_map(|r| r.measurements.keys()).collect();
    for name in measured {
        if crate::probe::is_categorical(name) {
            continue;
        }
        let file = format!("measure_{name}");
        let title = format!("{name} vs step");
        let m = Metric {
            column: name,
            file: &file,
            title: &title,
            y_label: name,
            scale: Scale::Log,
            band: true,
        };
        let lines: Vec<&Reference> = references
            .iter()
            .filter(|r| r.measurement == *name)
            .collect();
        if let Some(fig) = step_figure(&experiment, &groups, &m, &lines) {
            written.extend(fig.save(&out, &file)?);
        }
    }
    if let Some(c) = contour {
        let trajectories: Vec<contour::Trajectory> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group
                    .runs
                    .iter()
                    .filter_map(|r| r.trajectory.as_deref())
                    .enumerate()
                    .map(move |(k, points)| contour::Trajectory {
                        group: g,
                        first: k == 0,
                        points,
                    })
            })
            .collect();
        let names: Vec<(String, RGBColor)> =
            groups.iter().map(|g| (g.name.clone(), g.color)).collect();
        let fig = contour::figure(
            title(&experiment, "Trajectories on the loss landscape"),
            c,
            &trajectories,
            &names,
        );
        written.extend(fig.save(&out, "contours")?);
    }
    for (name, fig) in sweep::figures(&experiment, &runs) {
        written.extend(fig.save(&out, &name)?);
    }
    Ok(written)
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES).is_ok()
    });
    ensure!(
        ok,
        "the embedded font assets/DejaVuSans.ttf could not be loaded"
    );
    Ok(())
}

/// `"EXPERIMENT: <what>"`, or just `what` when the directory has no name.
fn title(experiment: &str, what: &str) -> String {
    if experiment.is_empty() {
        what.to_owned()
    } else {
        format!("{experiment}: {what}")
    }
}

/// The runs of one variant at one sweep point, over seeds.
struct Group<'a> {
    name: String,
    color: RGBColor,
    runs: Vec<&'a Run>,
}

/// Groups by (variant, point), ordered by variant and then by the point's values
/// (numbers numerically), so that a sweep's groups appear in order.
fn groups(runs: &[Run]) -> Vec<Group<'_>> {
    let mut by_key: BTreeMap<(&str, &str), Vec<&Run>> = BTreeMap::new();
    for run in runs {
        by_key
            .entry((run.variant.as_str(), run.label.as_str()))
            .or_default()
            .push(run);
    }
    let mut keyed: Vec<_> = by_key.into_iter().collect();
    keyed.sort_by(|((va, la), ra), ((vb, lb), rb)| {
        va.cmp(vb)
            .then_with(|| cmp_points(&ra[0].values, &rb[0].values))
            .then_with(|| la.cmp(lb))
    });
    let variants: Vec<&str> = keyed.iter().map(|((v, _), _)| *v).collect();
    let colors = colors_for(&variants);
    keyed
        .into_iter()
        .zip(colors)
        .map(|(((variant, label), mut runs), color)| {
            runs.sort_by_key(|r| (r.seed, r.id.clone()));
            Group {
                name: if label.is_empty() {
                    variant.to_owned()
                } else {
                    format!("{variant} {label}")
                },
                color,
                runs,
            }
        })
        .collect()
}

fn cmp_points(
    a: &BTreeMap<String, PointValue>,
    b: &BTreeMap<String, PointValue>,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        let by_key = ka.cmp(kb);
        if by_key != Ordering::Equal {
            return by_key;
        }
        let by_value = match (va, vb) {
            (PointValue::Num(x), PointValue::Num(y)) => x.total_cmp(y),
            (PointValue::Num(_), PointValue::Text(_)) => Ordering::Less,
            (PointValue::Text(_), PointValue::Num(_)) => Ordering::Greater,
            (PointValue::Text(x), PointValue::Text(y)) => x.cmp(y),
        };
        if by_value != Ordering::Equal {
            return by_value;
        }
    }
    a.len().cmp(&b.len())
}

/// Mean and sample standard deviation (zero for one value); `None` for no values.
fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() == 1 {
        return Some((mean, 0.0));
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var.sqrt()))
}

/// A group's mean of one column at a step, and its band: mean ± std, clipped to the
/// range of the seeds' values (so that a spread wider than the mean does not run to
/// zero, which a log axis cannot show).
struct Aggregate {
    step: u64,
    mean: f64,
    lo: f64,
    hi: f64,
}

fn aggregate(runs: &[&Run], column: &str) -> Vec<Aggregate> {
    let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for run in runs {
        for (step, v) in run.series(column) {
            by_step.entry(step).or_default().push(v);
        }
    }
    by_step
        .into_iter()
        .filter_map(|(step, vs)| {
            let (mean, std) = mean_std(&vs)?;
            let min = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(Aggregate {
                step,
                mean,
                lo: (mean - std).max(min),
                hi: (mean + std).min(max),
            })
        })
        .collect()
}

/// How a metric column is plotted against steps.
struct Metric<'a> {
    column: &'a str,
    file: &'a str,
    title: &'a str,
    y_label: &'a str,
    scale: Scale,
    band: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Scale {
    /// Log when every value is positive.
    Log,
    /// Linear.
    Linear,
    /// Log when positive and spanning two decades or more, else linear from zero: a
    /// schedule reads best on a linear axis, a learning-rate sweep on a log one.
    Rate,
}

const METRICS: [Metric<'static>; 7] = [
    Metric {
        column: "train_loss",
        file: "loss_vs_step",
        title: "Train loss vs step",
        y_label: "train loss",
        scale: Scale::Log,
        band: true,
    },
    Metric {
        column: "lr",
        file: "lr_vs_step",
        title: "Learning rate vs step",
        y_label: "learning rate",
        scale: Scale::Rate,
        band: false,
    },
    Metric {
        column: "grad_norm",
        file: "grad_norm_vs_step",
        title: "Gradient norm vs step",
        y_label: "gradient norm",
        scale: Scale::Log,
        band: true,
    },
    Metric {
        column: "val_loss",
        file: "val_loss_vs_step",
        title: "Validation loss vs step",
        y_label: "validation loss",
        scale: Scale::Log,
        band: true,
    },
    Metric {
        column: "val_accuracy",
        file: "val_accuracy_vs_step",
        title: "Validation accuracy vs step",
        y_label: "validation accuracy",
        scale: Scale::Linear,
        band: true,
    },
    Metric {
        column: "test_loss",
        file: "test_loss_vs_step",
        title: "Test loss vs step",
        y_label: "test loss",
        scale: Scale::Log,
        band: true,
    },
    Metric {
        column: "test_accuracy",
        file: "test_accuracy_vs_step",
        title: "Test accuracy vs step",
        y_label: "test accuracy",
        scale: Scale::Linear,
        band: true,
    },
];

/// A group's curve as plotted: `(x, mean, band low, band high)`.
type Curve = Vec<(f64, f64, f64, f64)>;

fn step_figure(
    experiment: &str,
    groups: &[Group],
    m: &Metric,
    references: &[&Reference],
) -> Option<Figure> {
    let curves: Vec<(&Group, Curve)> = groups
        .iter()
        .map(|g| {
            let curve = aggregate(&g.runs, m.column)
                .into_iter()
                .map(|a| (a.step as f64, a.mean, a.lo, a.hi))
                .collect();
            (g, curve)
        })
        .collect();
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    curves_figure(
        title(experiment, m.title),
        "step",
        m.y_label,
        Axis::linear(0.0, x_max.max(1.0)).whole_numbers(),
        m,
        curves,
        references,
    )
}

/// An x axis other than the step.
#[derive(Clone, Copy)]
enum X {
    /// Training items seen before the step (`metrics.csv`'s `samples`).
    Samples,
    /// Steps divided by the batches per epoch.
    Epochs,
}

fn against_figure(experiment: &str, groups: &[Group], label: &str, x: X) -> Option<Figure> {
    let m = &METRICS[0];
    let curves: Vec<(&Group, Curve)> = groups
        .iter()
        .map(|g| {
            let first = g.runs.first();
            let samples: BTreeMap<u64, f64> = first
                .map(|r| r.series("samples").into_iter().collect())
                .unwrap_or_default();
            let per_epoch = first.and_then(|r| r.batches_per_epoch).unwrap_or(1).max(1) as f64;
            let curve = aggregate(&g.runs, m.column)
                .into_iter()
                .filter_map(|a| {
                    let at = match x {
                        X::Samples => *samples.get(&a.step)?,
                        X::Epochs => a.step as f64 / per_epoch,
                    };
                    Some((at, a.mean, a.lo, a.hi))
                })
                .collect();
            (g, curve)
        })
        .collect();
    linear_x_figure(
        title(experiment, &format!("Train loss vs {label}")),
        label,
        m,
        curves,
    )
}

fn time_figure(experiment: &str, groups: &[Group]) -> Option<Figure> {
    let m = &METRICS[0];
    let curves: Vec<(&Group, Curve)> = groups
        .iter()
        .map(|g| {
            let mut wall: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for run in &g.runs {
                for (step, s) in run.wall.iter().flatten() {
                    wall.entry(*step).or_default().push(*s);
                }
            }
            // Seeds take different times per step; the x of a step is their mean.
            let curve = aggregate(&g.runs, m.column)
                .into_iter()
                .filter_map(|a| {
                    let (t, _) = mean_std(wall.get(&a.step)?)?;
                    Some((t, a.mean, a.lo, a.hi))
                })
                .collect();
            (g, curve)
        })
        .collect();
    linear_x_figure(
        title(experiment, "Train loss vs training time"),
        "training time (s; evaluations and checkpoints not counted)",
        m,
        curves,
    )
}

/// [`curves_figure`] on a linear x axis from 0 to the largest x of any curve.
fn linear_x_figure(
    title: String,
    x_label: &str,
    m: &Metric,
    curves: Vec<(&Group, Curve)>,
) -> Option<Figure> {
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    curves_figure(
        title,
        x_label,
        m.y_label,
        Axis::linear(0.0, if x_max > 0.0 { x_max } else { 1.0 }),
        m,
        curves,
        &[],
    )
}

/// Mean lines with ± std bands for each group that has values; `None` when none has.
fn curves_figure(
    title: String,
    x_label: &str,
    y_label: &str,
    x: Axis,
    m: &Metric,
    curves: Vec<(&Group, Curve)>,
    references: &[&Reference],
) -> Option<Figure> {
    let curves: Vec<_> = curves.into_iter().filter(|(_, c)| !c.is_empty()).collect();
    if curves.is_empty() {
        return None;
    }
    let means = || curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.1));
    // Zeros (a loss that reached its minimum exactly) cannot sit on a log axis, but they do
    // not make one wrong: the curve just ends there. Negative values do.
    let all_positive = means().all(|v| v >= 0.0) && means().any(|v| v > 0.0);
    let (lo, hi) = means().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let log = match m.scale {
        Scale::Log => all_positive,
        Scale::Linear => false,
        Scale::Rate => all_positive && hi / lo >= 100.0,
    };
    let y = if m.scale == Scale::Rate && !log && lo >= 0.0 {
        Axis::linear(0.0, if hi > 0.0 { hi * 1.05 } else { 1.0 })
    } else {
        // A diverging group would squash everything else into a sliver: on a log axis
        // the top stops at 100 × the largest starting value, and what rises past it
        // leaves the chart.
        let ceiling = if log && m.band {
            100.0
                * curves
                    .iter()
                    .map(|(_, c)| c[0].1)
                    .fold(f64::MIN_POSITIVE, f64::max)
        } else {
            f64::INFINITY
        };
        let mut extent = Vec::new();
        for (_, c) in &curves {
            for &(_, mean, lo, hi) in c {
                if mean > 0.0 || !log {
                    extent.push(mean.min(ceiling));
                }
                if m.band {
                    extent.push(hi.min(ceiling));
                    if lo > 0.0 || !log {
                        extent.push(lo.min(ceiling));
                    }
                }
            }
        }
        // A reference line is part of what the plot shows: the axis reaches it.
        extent.extend(
            references
                .iter()
                .map(|r| r.value)
                .filter(|&v| v > 0.0 || !log),
        );
        Axis::fit(extent, log, 0.03)
    };
    let y_label = if y.is_log() {
        format!("{y_label} (log scale)")
    } else {
        y_label.to_owned()
    };
    let mut fig = Figure::new(title, x_label, &y_label, x, y);
    for (g, c) in &curves {
        let seeds = g.runs.len();
        if m.band && seeds > 1 {
            fig.bands.push(Band {
                points: c.iter().map(|&(x, _, lo, hi)| (x, lo, hi)).collect(),
                color: g.color,
            });
        }
        fig.lines.push(Line::solid(
            c.iter().map(|&(x, mean, _, _)| (x, mean)).collect(),
            g.color,
            2,
        ));
        // Sparse curves (evaluations every few hundred steps) show where they were
        // measured.
        if c.len() <= 40 {
            fig.markers.extend(c.iter().map(|&(x, mean, _, _)| Marker {
                x,
                y: mean,
                dx: 0,
                shape: Shape::Dot,
                color: g.color,
                size: 3,
            }));
        }
        let key = if m.band && seeds > 1 {
            Key::Band(g.color)
        } else {
            Key::Line(g.color)
        };
        fig.legend.push((g.name.clone(), key));
    }
    let x_span = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    for r in references {
        let grey = RGBColor(90, 90, 90);
        fig.lines.push(Line {
            dashed: true,
            ..Line::solid(vec![(x_span.0, r.value), (x_span.1, r.value)], grey, 2)
        });
        fig.legend
            .push((format!("{} = {}", r.label, r.value), Key::Line(grey)));
    }
    if m.band && curves.iter().any(|(g, _)| g.runs.len() > 1) {
        fig.legend.push((
            "band: ± 1 std over seeds".into(),
            Key::Band(RGBColor(150, 150, 150)),
        ));
    }
    Some(fig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A fake experiment: 2 variants × 2 learning rates × 3 seeds on a quadratic
    /// bowl, sgd at the larger rate diverging for one seed, with trajectories,
    /// evaluations every 10 steps and timing.
    fn fake_experiment(dir: &Path) {
        let variants = [("sgd", 1.0), ("adam", 0.6)];
        let lrs = [0.1, 0.5];
        for (variant, speed) in variants {
            for lr in lrs {
                for seed in 0..3u64 {
                    let id = format!("{variant}-lr{lr}-s{seed}");
                    let run = dir.join(&id);
                    std::fs::create_dir_all(&run).unwrap();
                    let diverges = variant == "sgd" && lr == 0.5 && seed == 2;
                    let diverged_at = diverges.then_some(25u64);
                    let json = serde_json::json!({
                        "run_id": id,
                        "variant": variant,
                        "point": {"label": format!("lr={lr}"), "values": {"variants.*.lr": lr}},
                        "seed": seed,
                        "status": if diverges { "diverged" } else { "finished" },
                        "diverged_at": diverged_at,
                        "extra": {"ignored": true},
                    });
                    std::fs::write(run.join("run.json"), json.to_string()).unwrap();
                    let mut metrics = String::from(
                        "step,epoch,samples,lr,train_loss,grad_norm,val_loss,val_accuracy,test_loss,test_accuracy\n",
                    );
                    let mut timing = String::from("step,wall_seconds\n");
                    let mut trajectory = String::from("step,w0,w1,loss\n");
                    let (mut w0, mut w1) = (-1.5 + 0.1 * seed as f64, 1.6);
                    let rate = lr * speed;
                    for step in 0..=60u64 {
                        let loss = if diverges && step >= 25 {
                            if step == 25 { f64::INFINITY } else { break }
                        } else {
                            0.5 * (w0 * w0 + 10.0 * w1 * w1) + 1e-3 * (seed as f64 + 1.0)
                        };
                        let eval = step % 10 == 0;
                        let cell = |v: f64| if eval { format!("{v}") } else { String::new() };
                        let sched = lr * (1.0 - step as f64 / 120.0);
                        writeln!(
                            metrics,
                            "{step},{},{},{sched},{loss},{},{},{},{},{}",
                            step / 20,
                            step * 32,
                            (w0 * w0 + 100.0 * w1 * w1).sqrt(),
                            cell(loss * 1.1),
                            cell(1.0 - (-(step as f64) / 20.0).exp() * 0.9),
                            cell(loss * 1.2),
                            cell(1.0 - (-(step as f64) / 25.0).exp() * 0.9),
                        )
                        .unwrap();
                        writeln!(timing, "{step},{}", step as f64 * 0.01 * speed).unwrap();
                        writeln!(trajectory, "{step},{w0},{w1},{loss}").unwrap();
                        w0 -= rate * 0.1 * w0;
                        w1 -= rate * (if diverges { 4.5 } else { 1.0 }) * w1;
                    }
                    std::fs::write(run.join("metrics.csv"), metrics).unwrap();
                    std::fs::write(run.join("timing.csv"), timing).unwrap();
                    std::fs::write(run.join("trajectory.csv"), trajectory).unwrap();
                }
            }
        }
        // Not runs: a stray file and a directory without run.json.
        std::fs::write(dir.join("experiment.toml"), "name = 'fake'\n").unwrap();
        std::fs::create_dir_all(dir.join("notes")).unwrap();
    }

    fn bowl(x: f64, y: f64) -> f64 {
        0.5 * (x * x + 10.0 * y * y)
    }

    #[test]
    fn renders_every_plot() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fake-sweep");
        fake_experiment(&dir);
        let contour = Contour {
            value: &bowl,
            x: (-2.0, 2.0),
            y: (-2.0, 2.0),
            minima: vec![[0.0, 0.0]],
        };
        let written = render(&dir, Some(&contour), &[]).unwrap();
        let expected = [
            "loss_vs_step",
            "loss_vs_time",
            "lr_vs_step",
            "grad_norm_vs_step",
            "val_loss_vs_step",
            "val_accuracy_vs_step",
            "test_loss_vs_step",
            "test_accuracy_vs_step",
            "contours",
            "sweep_lr",
        ];
        assert_eq!(written.len(), 2 * expected.len(), "{written:?}");
        for name in expected {
            let svg = dir.join("plots").join(format!("{name}.svg"));
            let png = dir.join("plots").join(format!("{name}.png"));
            assert!(written.contains(&svg) && written.contains(&png), "{name}");
            let text = std::fs::read_to_string(&svg).unwrap();
            assert!(text.contains("<svg"), "{name}.svg");
            let bytes = std::fs::read(&png).unwrap();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}.png");
            // IHDR: width and height, big-endian, at bytes 16..24.
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            assert_eq!((w, h), figure::SIZE, "{name}.png");
        }
        keep(&written, "");
    }

    /// Copies the pictures to `$DESCENT_KEEP_PLOTS`, when set, to look at them.
    fn keep(written: &[PathBuf], prefix: &str) {
        if let Ok(keep) = std::env::var("DESCENT_KEEP_PLOTS") {
            let keep = PathBuf::from(keep);
            std::fs::create_dir_all(&keep).unwrap();
            for f in written {
                let name = f.file_name().unwrap().to_string_lossy();
                std::fs::copy(f, keep.join(format!("{prefix}{name}"))).unwrap();
            }
        }
    }

    #[test]
    fn groups_aggregate_over_seeds() {
        let tmp = tempfile::tempdir().unwrap();
        fake_experiment(tmp.path());
        let runs = data::load(tmp.path()).unwrap();
        assert_eq!(runs.len(), 12);
        let groups = groups(&runs);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["adam lr=0.1", "adam lr=0.5", "sgd lr=0.1", "sgd lr=0.5"]
        );
        let sgd = &groups[3];
        assert_eq!(sgd.runs.len(), 3);
        let agg = aggregate(&sgd.runs, "train_loss");
        // The diverged seed stops at step 25 (whose loss is infinite).
        assert_eq!(agg.len(), 61);
        let at = |s: u64| agg.iter().find(|a| a.step == s).unwrap();
        assert!(at(24).hi > at(24).lo);
        let late = at(40);
        assert!(late.mean.is_finite() && late.lo <= late.mean && late.mean <= late.hi);
        // Only evaluation steps have a validation loss.
        assert_eq!(aggregate(&sgd.runs, "val_loss").len(), 7);
    }

    #[test]
    fn one_run_without_sweep_or_evaluations() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("only");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("run.json"),
            r#"{"run_id": "only", "variant": "adam", "point": {"label": "", "values": {}},
                "seed": 0, "status": "finished", "diverged_at": null}"#,
        )
        .unwrap();
        let mut metrics = String::from(
            "step,epoch,samples,lr,train_loss,grad_norm,val_loss,val_accuracy,test_loss,test_accuracy\n",
        );
        for step in 0..5 {
            // Losses that reach zero and go negative force linear axes.
            let loss = 1.0 - 0.5 * f64::from(step);
            writeln!(metrics, "{step},0,{step},0.01,{loss},NaN,,,,").unwrap();
        }
        std::fs::write(run.join("metrics.csv"), metrics).unwrap();
        // A numeric and a string value for the same key across runs: no sweep plot,
        // since only one run has a number.
        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(
            other.join("run.json"),
            r#"{"variant": "sgd", "point": {"label": "batch=full", "values": {"batch.size": "full"}}}"#,
        )
        .unwrap();
        std::fs::write(other.join("metrics.csv"), "step,train_loss\n0,inf\n1,2.0\n").unwrap();
        let written = render(tmp.path(), None, &[]).unwrap();
        keep(&written, "minimal-");
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "loss_vs_step.svg",
                "loss_vs_step.png",
                "lr_vs_step.svg",
                "lr_vs_step.png"
            ]
        );
    }

    #[test]
    fn no_runs_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = render(tmp.path(), None, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("no runs"), "{err:#}");
    }

    #[test]
    fn a_malformed_csv_names_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("r");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("run.json"), r#"{"variant": "sgd"}"#).unwrap();
        std::fs::write(run.join("metrics.csv"), "step,train_loss\n0,1.0\n1,oops\n").unwrap();
        let err = render(tmp.path(), None, &[]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("metrics.csv") && msg.contains("line 3"),
            "{msg}"
        );
    }
}
