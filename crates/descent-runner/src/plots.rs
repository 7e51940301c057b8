//! Plots of an experiment's results, written as SVG and PNG into `<dir>/plots/`.
//!
//! [`render`] reads back what the runner wrote (each run's `run.json`, `metrics.csv`,
//! `timing.csv`, `measurements.csv`, `profiles.csv` and, for landscapes, `trajectory.csv`)
//! and draws every plot the data supports: loss against steps and against time, the learning
//! rate, validation and test metrics, a landscape's contours with the trajectories, the
//! sweeps, and the probes' slices, interpolations and spectral densities.
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
mod profile;
mod scatter;
mod surface;
mod sweep;
mod text;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context as _, Result, bail, ensure};
use plotters::style::{FontStyle, RGBColor};

use crate::config::Smoothing;
use crate::state::MetricsColumn;
use axis::Axis;
use data::{PointValue, Run};
use figure::{
    Band, ColorBar, DIVERGED, Drawn, Figure, Key, Line, Marker, Panels, Shape, colors_for,
};

/// DejaVu Sans (see `assets/README.md` for its licence): `plotters` draws PNG text with
/// `ab_glyph`, which needs a font in memory.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A 2-D landscape to draw under the trajectories of a landscape experiment.
pub struct Contour<'a> {
    /// The landscape's value at `(w₀, w₁)`.
    pub value: &'a (dyn Fn(f64, f64) -> f64 + Sync),
    /// The window's `w₀` range.
    pub x: (f64, f64),
    /// The window's `w₁` range.
    pub y: (f64, f64),
    /// Known minima, marked with a cross.
    pub minima: Vec<[f64; 2]>,
}

/// A horizontal line drawn on the plot of one probe measurement (`[[measure]]`'s
/// `reference`): a value theory predicts, such as `2/eta` for the sharpness.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The measurement whose plot it goes on.
    pub measurement: String,
    /// What the value is, for the legend.
    pub label: String,
    /// Where the line is drawn.
    pub value: f64,
}

/// Power laws of the step that theory gives for a measurement (`[[measure]] slopes`): its
/// log-log plot draws a line `T^p` for each exponent `p`.
#[derive(Clone, Debug, PartialEq)]
pub struct Slopes {
    /// The measurement whose plot they go on.
    pub measurement: String,
    /// The exponents.
    pub exponents: Vec<f64>,
}

/// A vertical line on a sweep plot: where theory puts a threshold of the swept parameter,
/// such as `2/lambda_max` for gradient descent's learning rate.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLine {
    /// The swept parameter: a key's last part (`lr` matches `variants.*.lr`).
    pub parameter: String,
    /// The variant it belongs to (drawn in its colour).
    pub variant: String,
    /// What the value is, for the legend (`2/λ_max`).
    pub label: String,
    /// Where the line is drawn.
    pub value: f64,
}

/// What the runner knows about an experiment beyond its files, drawn on its plots.
#[derive(Default)]
pub struct Context<'a> {
    /// A 2-D landscape to draw the trajectories on.
    pub contour: Option<Contour<'a>>,
    /// Horizontal lines on the measurement plots.
    pub references: Vec<Reference>,
    /// Theory's power laws: a log-log plot of these measurements.
    pub slopes: Vec<Slopes>,
    /// The objective's known minimum `f*` (landscapes): the loss plots then show
    /// `f(w) − f*` of the full objective, which is positive, on a log axis.
    pub minimum: Option<f64>,
    /// Vertical lines on the sweep plots.
    pub sweep_lines: Vec<SweepLine>,
    /// The experiment's description, printed under every title.
    pub caption: Option<String>,
    /// How noisy curves (train loss, gradient norm) are smoothed: `[plots] smoothing`.
    pub smoothing: Smoothing,
    /// Threads drawing the pictures (0 or 1: one).
    pub threads: usize,
    /// `[plots] scatter`: the metric every measurement is drawn against, run by run.
    pub scatter: Option<String>,
}

/// The column the loss plots draw, and what they call it.
#[derive(Clone, Copy)]
struct LossColumn {
    column: &'static str,
    y_label: &'static str,
    /// For titles: "Train loss", "f(w) − f*".
    what: &'static str,
}

const TEST_LOSS: LossColumn = LossColumn {
    column: MetricsColumn::TestLoss.name(),
    y_label: "test loss",
    what: "Test loss",
};

/// The sweep plots: the final `loss` against each swept number, and for models the final
/// test loss too (`sweep_<key>_test_loss`): a regulariser's U shows on the test loss, not on
/// the training loss. (A landscape's "test loss" is its full objective, drawn already.)
fn sweep_figures(
    experiment: &str,
    runs: &[Run],
    loss: &LossColumn,
    lines: &[SweepLine],
) -> Vec<(String, figure::Figure)> {
    let mut figures = sweep::figures(experiment, runs, loss, lines);
    let logged = runs.iter().any(|r| r.logs(TEST_LOSS.column));
    let models = runs.iter().all(|r| r.trajectory.is_none());
    if logged && models && loss.column == TRAIN_LOSS.column {
        figures.extend(
            sweep::figures(experiment, runs, &TEST_LOSS, &[])
                .into_iter()
                .map(|(name, fig)| (format!("{name}_test_loss"), fig)),
        );
    }
    figures
}

/// `f(w) − f*` of the full objective, added to every run when the minimum is known.
const GAP: &str = "objective_gap";

const TRAIN_LOSS: LossColumn = LossColumn {
    column: MetricsColumn::TrainLoss.name(),
    y_label: "train loss",
    what: "Train loss",
};

/// Adds [`GAP`] to every run: the full objective (`test_loss`, which landscape runs log
/// at every step) minus `minimum`, or the train loss minus it where there is no test loss.
fn add_gap(runs: &mut [Run], minimum: f64) -> LossColumn {
    for run in runs.iter_mut() {
        let test_loss = MetricsColumn::TestLoss.name();
        let source = if run.logs(test_loss) {
            test_loss
        } else {
            MetricsColumn::TrainLoss.name()
        };
        if let Some(values) = run.metrics.columns.get(source) {
            let gap = values.iter().map(|v| v.map(|v| v - minimum)).collect();
            run.metrics.columns.insert(GAP.into(), gap);
        }
    }
    LossColumn {
        column: GAP,
        y_label: "f(w) − f* of the full objective",
        what: "f(w) − f*",
    }
}

/// Renders every plot the data supports into `<dir>/plots/`; returns the files written.
///
/// `dir` is an experiment directory: its subdirectories holding a `run.json` are the
/// runs. Each plot is written twice, as `<name>.svg` and `<name>.png`:
/// `loss_vs_step` (for landscapes with a known minimum, `f(w) − f*` of the full objective),
/// `loss_vs_time` (when there is timing), `loss_vs_samples` and `loss_vs_epoch` (when an
/// epoch has several batches), `lr_vs_step`, `grad_norm_vs_step`, `val_loss_vs_step`,
/// `val_accuracy_vs_step`, `test_loss_vs_step`, `test_accuracy_vs_step` (each when its
/// column has values, the test loss not for landscapes, where the loss plot shows it),
/// `contours` (when `context.contour` is given), `sweep_<key>` for every swept key with
/// numeric values, and `measure_<name>` for every non-categorical probe measurement (with
/// the `context.references` drawn on it as dashed horizontal lines), also against the epoch
/// and the training time (`measure_<name>_vs_epoch`, `_vs_time`) when an epoch has several
/// batches, so that batch sizes compare on one axis. A sweep of one number
/// over three or more values draws its step plots as small multiples, one panel per
/// variant coloured by the swept value, and its contours one panel per value.
pub fn render(dir: &Path, context: &Context) -> Result<Vec<PathBuf>> {
    register_font()?;
    let mut runs = data::load(dir, context.threads)?;
    if runs.is_empty() {
        bail!(
            "{} holds no runs (no subdirectory has a run.json)",
            dir.display()
        );
    }
    let loss = match context.minimum {
        Some(minimum) if minimum.is_finite() => add_gap(&mut runs, minimum),
        _ => TRAIN_LOSS,
    };
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let experiment = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let groups = groups(&runs);
    let barriers = crate::run_files::ExperimentDir::new(dir)
        .barriers()?
        .unwrap_or_default();
    let swept = swept_number(&runs);
    let by_value = by_swept_value(&groups, swept.as_ref());
    let loss_title = format!("{} vs step", loss.what);
    let loss_metric = Metric {
        column: loss.column,
        file: "loss_vs_step",
        title: &loss_title,
        y_label: loss.y_label,
        scale: Scale::Log,
        band: true,
        noisy: true,
    };
    // Each picture is built (aggregates, contour grids) and then drawn on its own, so both
    // are spread over `context.threads` threads: with the runs of a sweep done, they are
    // all that is left of it.
    let mut tasks: Vec<Task> = Vec::new();
    for m in std::iter::once(&loss_metric).chain(&METRICS[1..]) {
        if loss.column == GAP && m.column == MetricsColumn::TestLoss.name() {
            continue;
        }
        tasks.push(Box::new(move |plot| plot.step(m, &[])));
    }
    let smoothing = context.smoothing;
    let (experiment, groups) = (&experiment, &groups);
    // Variants with different batch sizes compare fairly per item seen or per epoch.
    let several_batches_per_epoch = runs.iter().any(|r| r.batches_per_epoch > 1);
    tasks.extend(loss_tasks(
        experiment,
        groups,
        &loss_metric,
        smoothing,
        several_batches_per_epoch,
    ));
    tasks.extend(measurement_tasks(
        &runs,
        &context.references,
        &context.slopes,
        experiment,
        groups,
        smoothing,
        several_batches_per_epoch,
    ));
    if let Some(c) = &context.contour {
        tasks.push(Box::new(move |plot| plot.contours(c)));
    }
    let (runs, sweep_lines) = (&runs, &context.sweep_lines);
    tasks.push(Box::new(move |plot| {
        for (name, fig) in sweep_figures(experiment, runs, &loss, sweep_lines) {
            plot.save(&name, fig);
        }
    }));
    if let Some(metric) = context.scatter.as_deref() {
        tasks.push(Box::new(move |plot| {
            for (name, fig) in scatter::figures(experiment, runs, metric) {
                plot.save(&name, fig);
            }
        }));
    }
    let barriers = &barriers;
    tasks.push(Box::new(move |plot| {
        let pictures = surface::figures(experiment, groups)
            .into_iter()
            .chain(surface::barriers(experiment, barriers));
        for (name, picture) in pictures {
            match picture {
                surface::Picture::Chart(fig) => plot.save(&name, *fig),
                surface::Picture::Grid(panels) => plot.save_grid(&name, *panels),
            }
        }
    }));
    let (by_value, swept, caption) = (&by_value, swept.as_ref(), context.caption.as_deref());
    let pending: Vec<(String, Drawn)> = map_ordered(&tasks, context.threads, |task| {
        let plot = Plot {
            pending: RefCell::new(Vec::new()),
            experiment,
            groups,
            by_value,
            swept,
            smoothing,
            caption,
        };
        task(&plot);
        plot.pending.into_inner()
    })
    .into_iter()
    .flatten()
    .collect();
    figure::save_all(&out, &pending, context.threads)
}

/// The loss against the training time, and when an epoch has several batches also against
/// the items seen and the epoch.
fn loss_tasks<'a>(
    experiment: &'a str,
    groups: &'a [Group<'a>],
    loss_metric: &'a Metric<'a>,
    smoothing: Smoothing,
    several_batches_per_epoch: bool,
) -> Vec<Task<'a>> {
    let mut tasks: Vec<Task> = vec![Box::new(move |plot| {
        if let Some(fig) = time_figure(experiment, groups, loss_metric, smoothing) {
            plot.save("loss_vs_time", fig);
        }
    })];
    if several_batches_per_epoch {
        for (file, label, x) in [
            ("loss_vs_samples", "training items seen", X::Samples),
            ("loss_vs_epoch", "epoch", X::Epochs),
        ] {
            tasks.push(Box::new(move |plot| {
                if let Some(fig) =
                    against_figure(experiment, groups, loss_metric, label, x, smoothing)
                {
                    plot.save(file, fig);
                }
            }));
        }
    }
    tasks
}

/// The groups coloured by their swept value, for the panels of a sweep (single charts keep
/// one colour per group).
fn by_swept_value<'a>(groups: &[Group<'a>], swept: Option<&Swept>) -> Vec<Group<'a>> {
    let mut by_value = groups.to_vec();
    if let Some(swept) = swept {
        for g in &mut by_value {
            if let Some(PointValue::Num(v)) = g.runs[0].values.get(&swept.key) {
                g.color = contour::sequential(swept.axis.frac(*v));
            }
        }
    }
    by_value
}

/// The pictures of every non-categorical probe measurement: against the step (with its
/// `references`), and when an epoch has several batches also against the epoch and the
/// training time.
fn measurement_tasks<'a>(
    runs: &'a [Run],
    references: &'a [Reference],
    slopes: &'a [Slopes],
    experiment: &'a str,
    groups: &'a [Group<'a>],
    smoothing: Smoothing,
    several_batches_per_epoch: bool,
) -> Vec<Task<'a>> {
    let mut tasks: Vec<Task> = Vec::new();
    let measured: BTreeSet<&String> = runs.iter().flat_map(|r| r.measurements.keys()).collect();
    for name in measured {
        if crate::probe::is_categorical(name) || !crate::probe::is_plotted(name) {
            continue;
        }
        let lines: Vec<&Reference> = references
            .iter()
            .filter(|r| r.measurement == *name)
            .collect();
        tasks.push(Box::new(move |plot| {
            let file = format!("measure_{name}");
            let title = format!("{name} vs step");
            let m = Metric {
                column: name,
                file: &file,
                title: &title,
                y_label: name,
                scale: Scale::Log,
                band: true,
                noisy: false,
            };
            plot.step(&m, &lines);
            let exponents: Vec<f64> = slopes
                .iter()
                .filter(|s| s.measurement == *name)
                .flat_map(|s| s.exponents.iter().copied())
                .collect();
            if !exponents.is_empty()
                && let Some(fig) = loglog_figure(experiment, groups, &m, &exponents)
            {
                plot.save(&format!("{file}_loglog"), fig);
            }
            // Batch sizes that differ compare per epoch and per second, not per step.
            if several_batches_per_epoch {
                if let Some(fig) =
                    against_figure(experiment, groups, &m, "epoch", X::Epochs, smoothing)
                {
                    plot.save(&format!("{file}_vs_epoch"), fig);
                }
                if let Some(fig) = time_figure(experiment, groups, &m, smoothing) {
                    plot.save(&format!("{file}_vs_time"), fig);
                }
            }
        }));
    }
    tasks
}

/// One picture's (or a few pictures') making: what `render` spreads over threads.
type Task<'a> = Box<dyn Fn(&Plot) + Send + Sync + 'a>;

/// The variants of `groups`, in order of first appearance.
fn variants_of<'g>(groups: &'g [Group]) -> Vec<&'g str> {
    let mut variants: Vec<&str> = Vec::new();
    for g in groups {
        if !variants.contains(&g.variant.as_str()) {
            variants.push(&g.variant);
        }
    }
    variants
}

/// The trajectories of `groups`, each tagged with its index for colour.
fn trajectories_of<'r>(groups: &[(usize, &Group<'r>)]) -> Vec<contour::Trajectory<'r>> {
    groups
        .iter()
        .flat_map(|(g, group)| {
            group
                .runs
                .iter()
                .filter_map(|r| r.trajectory.as_deref())
                .enumerate()
                .map(move |(k, points)| contour::Trajectory {
                    group: *g,
                    first: k == 0,
                    points,
                })
        })
        .collect()
}

/// A number swept over three or more values, with the axis its colour scale follows.
struct Swept {
    key: String,
    values: Vec<f64>,
    axis: Axis,
}

/// The one numeric sweep key with three or more values, where there is exactly one.
fn swept_number(runs: &[Run]) -> Option<Swept> {
    let mut by_key: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for run in runs {
        for (key, value) in &run.values {
            if let PointValue::Num(v) = value
                && v.is_finite()
            {
                by_key.entry(key).or_default().insert(v.to_bits());
            }
        }
    }
    let mut wide = by_key.into_iter().filter(|(_, v)| v.len() >= 3);
    let (key, bits) = wide.next()?;
    if wide.next().is_some() {
        return None;
    }
    let mut values: Vec<f64> = bits.into_iter().map(f64::from_bits).collect();
    values.sort_by(f64::total_cmp);
    let (lo, hi) = (values[0], values[values.len() - 1]);
    let axis = if lo > 0.0 && hi / lo >= 10.0 {
        Axis::log(lo, hi)
    } else {
        Axis::linear(lo, hi)
    };
    Some(Swept {
        key: key.to_owned(),
        values,
        axis: axis.with_ticks(&[]),
    })
}

/// Everything every plot of one experiment shares.
struct Plot<'a> {
    /// The pictures made so far, written together at the end (`figure::save_all`).
    pending: RefCell<Vec<(String, Drawn)>>,
    experiment: &'a str,
    groups: &'a [Group<'a>],
    /// The groups coloured by the swept value, for the panels of a sweep.
    by_value: &'a [Group<'a>],
    swept: Option<&'a Swept>,
    smoothing: Smoothing,
    caption: Option<&'a str>,
}

impl Plot<'_> {
    fn save(&self, name: &str, mut fig: Figure) {
        fig.caption = self.caption.map(str::to_owned);
        self.pending
            .borrow_mut()
            .push((name.to_owned(), Drawn::Chart(Box::new(fig))));
    }

    fn save_grid(&self, name: &str, panels: Panels) {
        self.pending
            .borrow_mut()
            .push((name.to_owned(), Drawn::Grid(Box::new(panels))));
    }

    /// `m` against the step: one chart, or for a sweep one panel per variant.
    fn step(&self, m: &Metric, references: &[&Reference]) {
        let groups = if self.swept.is_some() {
            self.by_value
        } else {
            self.groups
        };
        let Some(all) = step_figure(self.experiment, groups, m, references, self.smoothing, None)
        else {
            return;
        };
        let Some(swept) = self.swept else {
            return self.save(m.file, all);
        };
        let mut panels = Vec::new();
        for variant in &variants_of(groups) {
            let mine: Vec<Group> = groups
                .iter()
                .filter(|g| g.variant == *variant)
                .map(Group::clone)
                .collect();
            let axes = Some((all.x, all.y));
            if let Some(mut fig) =
                step_figure(self.experiment, &mine, m, references, self.smoothing, axes)
            {
                fig.title = (*variant).to_owned();
                fig.legend.clear();
                panels.push(fig);
            }
        }
        // The legend keeps what is not a group: the band, references, divergence marks.
        let names: BTreeSet<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let legend = all
            .legend
            .iter()
            .filter(|(label, _)| !names.contains(label.as_str()))
            .cloned()
            .collect();
        // A continuous scale, its ticks at the swept values.
        const STEPS: usize = 96;
        let bands = (0..STEPS)
            .map(|k| {
                let (a, b) = (k as f64 / STEPS as f64, (k + 1) as f64 / STEPS as f64);
                (
                    swept.axis.at(a),
                    swept.axis.at(b),
                    contour::sequential((a + b) / 2.0),
                )
            })
            .collect();
        let panels = Panels {
            title: all.title.clone(),
            caption: self.caption.map(str::to_owned),
            panels,
            color_bar: Some(ColorBar {
                axis: swept.axis.with_ticks(&swept.values),
                bands,
                label: format!(
                    "{}{}",
                    swept.key,
                    if swept.axis.is_log() {
                        " (log scale)"
                    } else {
                        ""
                    }
                ),
            }),
            legend,
        };
        self.save_grid(m.file, panels);
    }

    /// The trajectories on the landscape: one chart, or for a sweep one panel per value.
    fn contours(&self, c: &Contour) {
        let title = title(self.experiment, "Trajectories on the loss landscape");
        let Some(swept) = self.swept else {
            let all: Vec<(usize, &Group)> = self.groups.iter().enumerate().collect();
            let names: Vec<(String, RGBColor)> = self
                .groups
                .iter()
                .map(|g| (g.name.clone(), g.color))
                .collect();
            let fig = contour::figure(title, c, &trajectories_of(&all), &names);
            return self.save("contours", fig);
        };
        // One panel per swept value, the variants in their own colours.
        let variants = variants_of(self.groups);
        let colors = figure::palette(variants.len());
        let names: Vec<(String, RGBColor)> = variants
            .iter()
            .zip(&colors)
            .map(|(v, c)| ((*v).to_owned(), *c))
            .collect();
        let mut panels = Vec::new();
        let mut legend = Vec::new();
        let mut color_bar = None;
        for value in &swept.values {
            let here: Vec<(usize, &Group)> = self
                .groups
                .iter()
                .filter(|g| {
                    matches!(g.runs[0].values.get(&swept.key), Some(PointValue::Num(v)) if v.to_bits() == value.to_bits())
                })
                .filter_map(|g| Some((variants.iter().position(|v| *v == g.variant)?, g)))
                .collect();
            let mut fig = contour::figure(
                format!("{} = {value}", swept.key),
                c,
                &trajectories_of(&here),
                &names,
            );
            color_bar = fig.color_bar.take();
            if fig.legend.len() > legend.len() {
                legend = std::mem::take(&mut fig.legend);
            }
            fig.legend.clear();
            panels.push(fig);
        }
        self.save_grid(
            "contours",
            Panels {
                title,
                caption: self.caption.map(str::to_owned),
                panels,
                color_bar,
                legend,
            },
        );
    }
}

/// Draws one workload's times to target (each entrant's fraction of studies at the target
/// against time) into `dir/time_to_target_<name>.{svg,png}`; returns the files, none when no
/// study reached the target.
pub fn time_to_target(
    dir: &Path,
    name: &str,
    clock: &str,
    entrants: &[(&str, &[f64])],
) -> Result<Vec<PathBuf>> {
    let title = format!("{name}: time to target");
    let Some(fig) = profile::times_figure(&title, clock, entrants) else {
        return Ok(Vec::new());
    };
    register_font()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = format!(
        "time_to_target_{}",
        name.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        )
    );
    figure::save_all(dir, &[(file, Drawn::Chart(Box::new(fig)))], 2)
}

/// One entrant of [`performance_profiles`]: its name, its score as the legend shows it, and
/// its profile on the grid of `tau`.
pub struct ProfileLine<'a> {
    /// The entrant (an optimizer).
    pub name: &'a str,
    /// Its score, as text (with its interval).
    pub score: String,
    /// Its profile, one value per point of the grid.
    pub rho: &'a [f64],
}

/// Draws a benchmark's performance profiles into `dir/performance_profiles.{svg,png}`;
/// returns the files.
pub fn performance_profiles(
    dir: &Path,
    title: &str,
    taus: &[f64],
    lines: &[ProfileLine],
) -> Result<Vec<PathBuf>> {
    register_font()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let entrants: Vec<profile::Entrant> = lines
        .iter()
        .map(|l| profile::Entrant {
            name: l.name,
            score: l.score.clone(),
            rho: l.rho,
        })
        .collect();
    let fig = profile::figure(title, taus, &entrants);
    figure::save_all(
        dir,
        &[(
            "performance_profiles".to_owned(),
            Drawn::Chart(Box::new(fig)),
        )],
        2,
    )
}

/// `f` of every item, in `items`' order, computed on up to `threads` threads that take the
/// next item as they finish one (for the closing work of an experiment: reading its runs,
/// drawing its plots).
pub(crate) fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if let Ok(mut done) = done.lock() {
                        done.push((i, result));
                    }
                }
            });
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
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
#[derive(Clone)]
struct Group<'a> {
    name: String,
    variant: String,
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
                variant: variant.to_owned(),
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

/// The mean of `values` and its band: mean ± std, clipped to the values' range, so that a
/// spread wider than the mean stays on a log axis (a band or bar below zero would run to the
/// bottom of the plot and say nothing).
fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let (mean, std) = mean_std(values)?;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((mean, (mean - std).max(min), (mean + std).min(max)))
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
            let (mean, lo, hi) = spread(&vs)?;
            Some(Aggregate { step, mean, lo, hi })
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
    /// Mini-batch noise may make it jagged: smoothed when it does.
    noisy: bool,
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
        column: MetricsColumn::TrainLoss.name(),
        file: "loss_vs_step",
        title: "Train loss vs step",
        y_label: "train loss",
        scale: Scale::Log,
        band: true,
        noisy: true,
    },
    Metric {
        column: MetricsColumn::Lr.name(),
        file: "lr_vs_step",
        title: "Learning rate vs step",
        y_label: "learning rate",
        scale: Scale::Rate,
        band: false,
        noisy: false,
    },
    Metric {
        column: MetricsColumn::GradNorm.name(),
        file: "grad_norm_vs_step",
        title: "Gradient norm vs step",
        y_label: "gradient norm",
        scale: Scale::Log,
        band: true,
        noisy: true,
    },
    Metric {
        column: MetricsColumn::ValLoss.name(),
        file: "val_loss_vs_step",
        title: "Validation loss vs step",
        y_label: "validation loss",
        scale: Scale::Log,
        band: true,
        noisy: false,
    },
    Metric {
        column: MetricsColumn::ValAccuracy.name(),
        file: "val_accuracy_vs_step",
        title: "Validation accuracy vs step",
        y_label: "validation accuracy",
        scale: Scale::Linear,
        band: true,
        noisy: false,
    },
    Metric {
        column: MetricsColumn::TestLoss.name(),
        file: "test_loss_vs_step",
        title: "Test loss vs step",
        y_label: "test loss",
        scale: Scale::Log,
        band: true,
        noisy: false,
    },
    Metric {
        column: MetricsColumn::TestAccuracy.name(),
        file: "test_accuracy_vs_step",
        title: "Test accuracy vs step",
        y_label: "test accuracy",
        scale: Scale::Linear,
        band: true,
        noisy: false,
    },
];

/// A group's curve as plotted: `(x, mean, band low, band high)`.
type Curve = Vec<(f64, f64, f64, f64)>;

/// Each group's aggregate of `column` against the step, at the steps `keep` accepts.
fn step_curves<'g, 'r>(
    groups: &'g [Group<'r>],
    column: &str,
    keep: impl Fn(&Aggregate) -> bool,
) -> Vec<(&'g Group<'r>, Curve)> {
    groups
        .iter()
        .map(|g| {
            let curve = aggregate(&g.runs, column)
                .into_iter()
                .filter(|a| keep(a))
                .map(|a| (a.step as f64, a.mean, a.lo, a.hi))
                .collect();
            (g, curve)
        })
        .collect()
}

fn step_figure(
    experiment: &str,
    groups: &[Group],
    m: &Metric,
    references: &[&Reference],
    smoothing: Smoothing,
    axes: Option<(Axis, Axis)>,
) -> Option<Figure> {
    let curves = step_curves(groups, m.column, |_| true);
    // Where each diverged run stopped: its last finite value.
    let ends: Vec<(f64, f64)> = groups
        .iter()
        .flat_map(|g| &g.runs)
        .filter(|r| r.diverged)
        .filter_map(|r| r.series(m.column).last().map(|&(s, v)| (s as f64, v)))
        .collect();
    let x_max = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let x = Axis::linear(0.0, x_max.max(1.0)).whole_numbers();
    let (x, y) = match axes {
        Some((x, y)) => (x, Some(y)),
        None => (x, None),
    };
    let mut fig = curves_figure(
        title(experiment, m.title),
        "step",
        m.y_label,
        x,
        m,
        curves,
        references,
        smoothing,
        y,
    )?;
    mark_diverged(&mut fig, &ends);
    Some(fig)
}

/// `m` against the step on log-log axes, with a dashed line `T^p` for each of theory's
/// `exponents` through the middle of the group whose fitted slope is nearest, and each group's
/// fitted slope (least squares of log mean on log step over the later half of the steps, in
/// log scale) in the legend. Step 0 and values <= 0 cannot sit on the axes and are left out.
fn loglog_figure(
    experiment: &str,
    groups: &[Group],
    m: &Metric,
    exponents: &[f64],
) -> Option<Figure> {
    let curves: Vec<(&Group, Curve)> =
        step_curves(groups, m.column, |a| a.step > 0 && a.mean > 0.0)
            .into_iter()
            .map(|(g, c)| {
                let on_log_axes = c
                    .into_iter()
                    .map(|(x, mean, lo, hi)| (x, mean, lo.max(mean * 1e-3), hi))
                    .collect();
                (g, on_log_axes)
            })
            .collect();
    let steps = || curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.0));
    let (lo, hi) = steps().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !(lo.is_finite() && hi > lo) {
        return None;
    }
    let x = Axis::log(lo, hi);
    let log_y = Metric {
        scale: Scale::Log,
        ..*m
    };
    let fitted: Vec<(String, Option<f64>)> = curves
        .iter()
        .map(|(g, c)| (g.name.clone(), fitted_slope(c, (lo * hi).sqrt())))
        .collect();
    // Each curve's point nearest the middle of the axis (in log steps).
    let middle = (lo * hi).sqrt();
    let anchors: Vec<Option<(f64, f64)>> = curves
        .iter()
        .map(|(_, c)| {
            c.iter()
                .min_by(|a, b| {
                    (a.0 / middle)
                        .ln()
                        .abs()
                        .total_cmp(&(b.0 / middle).ln().abs())
                })
                .map(|p| (p.0, p.1))
        })
        .collect();
    let title = title(experiment, &format!("{} (log-log)", m.title));
    let mut fig = curves_figure(
        title,
        "step (log scale)",
        m.y_label,
        x,
        &log_y,
        curves,
        &[],
        Smoothing::Off,
        None,
    )?;
    if !fig.y.is_log() {
        return None;
    }
    for (name, _) in fig.legend.iter_mut() {
        if let Some((_, Some(p))) = fitted.iter().find(|(n, _)| n == name) {
            *name = format!("{name} (fitted slope {p:.2})");
        }
    }
    let greys = [
        RGBColor(60, 60, 60),
        RGBColor(120, 120, 120),
        RGBColor(170, 170, 170),
    ];
    for (k, &p) in exponents.iter().enumerate() {
        // Through the curve whose fitted slope is nearest `p` (the first one where none has
        // a slope), so that a curve that follows the law runs along its line.
        let nearest = (0..fitted.len()).min_by(|&a, &b| {
            let off = |i: usize| fitted[i].1.map_or(f64::INFINITY, |q| (q - p).abs());
            off(a).total_cmp(&off(b))
        });
        let Some((s0, v0)) = nearest.and_then(|i| anchors[i]) else {
            continue;
        };
        let color = greys[k % greys.len()];
        // Sampled in log steps and kept inside the chart's range.
        let points: Vec<(f64, f64)> = (0..=64)
            .map(|i| lo * (hi / lo).powf(f64::from(i) / 64.0))
            .map(|s| (s, v0 * (s / s0).powf(p)))
            .filter(|&(_, v)| (0.0..=1.0).contains(&fig.y.frac(v)))
            .collect();
        if points.len() >= 2 {
            fig.lines.push(Line {
                dashed: true,
                ..Line::solid(points, color, 2)
            });
            fig.legend
                .push((format!("T^{p} (theory)"), Key::Line(color)));
        }
    }
    Some(fig)
}

/// The slope of log(mean) against log(step) over the points from step `from` on.
fn fitted_slope(curve: &Curve, from: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = curve
        .iter()
        .filter(|p| p.0 >= from && p.1 > 0.0)
        .map(|p| (p.0.ln(), p.1.ln()))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// A red cross where each diverged run stopped, at the top edge when it stopped above it.
fn mark_diverged(fig: &mut Figure, ends: &[(f64, f64)]) {
    if ends.is_empty() {
        return;
    }
    for &(x, v) in ends {
        let at = fig.y.frac(v);
        let y = if at > 1.0 || v == f64::INFINITY {
            fig.y.hi()
        } else if at.is_nan() || at < 0.0 {
            // Below the axis, or not on it (a value <= 0 on a log axis).
            fig.y.lo()
        } else {
            v
        };
        fig.markers.push(Marker {
            x,
            y,
            dx: 0,
            shape: Shape::Cross,
            color: DIVERGED,
            size: 6,
        });
    }
    fig.legend.push((
        "diverged run (where it stopped)".into(),
        Key::Marker(DIVERGED, Shape::Cross),
    ));
}

/// An x axis other than the step.
#[derive(Clone, Copy)]
enum X {
    /// Training items seen before the step (`metrics.csv`'s `samples`).
    Samples,
    /// Steps divided by the batches per epoch.
    Epochs,
}

fn against_figure(
    experiment: &str,
    groups: &[Group],
    m: &Metric,
    label: &str,
    x: X,
    smoothing: Smoothing,
) -> Option<Figure> {
    let curves: Vec<(&Group, Curve)> = groups
        .iter()
        .map(|g| {
            let first = g.runs.first();
            let samples: BTreeMap<u64, f64> = first
                .map(|r| {
                    r.series(MetricsColumn::Samples.name())
                        .into_iter()
                        .collect()
                })
                .unwrap_or_default();
            let per_epoch = first.map_or(1, |r| r.batches_per_epoch).max(1) as f64;
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
        title(
            experiment,
            &format!("{} vs {label}", m.title.trim_end_matches(" vs step")),
        ),
        label,
        m,
        curves,
        smoothing,
    )
}

fn time_figure(
    experiment: &str,
    groups: &[Group],
    m: &Metric,
    smoothing: Smoothing,
) -> Option<Figure> {
    let curves: Vec<(&Group, Curve)> = groups
        .iter()
        .map(|g| {
            // Seeds take different times per step; the x of a step is their mean.
            let curve = aggregate(&g.runs, m.column)
                .into_iter()
                .filter_map(|a| {
                    let times: Vec<f64> = g
                        .runs
                        .iter()
                        .filter_map(|r| wall_at(r.wall.as_ref()?, a.step))
                        .collect();
                    let (t, _) = mean_std(&times)?;
                    Some((t, a.mean, a.lo, a.hi))
                })
                .collect();
            (g, curve)
        })
        .collect();
    linear_x_figure(
        title(
            experiment,
            &format!("{} vs training time", m.title.trim_end_matches(" vs step")),
        ),
        "training time (s; evaluations and checkpoints not counted)",
        m,
        curves,
        smoothing,
    )
}

/// The training seconds at `step`: recorded at logged steps, interpolated linearly between
/// the logged steps around it (a probe may measure between two log lines; a step costs
/// about the same as its neighbours).
fn wall_at(wall: &BTreeMap<u64, f64>, step: u64) -> Option<f64> {
    if let Some(seconds) = wall.get(&step) {
        return Some(*seconds);
    }
    let (&before, &at_before) = wall.range(..step).next_back()?;
    let (&after, &at_after) = wall.range(step..).next()?;
    let fraction = (step - before) as f64 / (after - before) as f64;
    Some(at_before + (at_after - at_before) * fraction)
}

/// [`curves_figure`] on a linear x axis from 0 to the largest x of any curve.
fn linear_x_figure(
    title: String,
    x_label: &str,
    m: &Metric,
    curves: Vec<(&Group, Curve)>,
    smoothing: Smoothing,
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
        smoothing,
        None,
    )
}

/// Mean lines with ± std bands for each group that has values; `None` when none has.
/// `y` fixes the y axis (the panels of a sweep share one); otherwise it fits the curves.
#[allow(clippy::too_many_arguments)]
fn curves_figure(
    title: String,
    x_label: &str,
    y_label: &str,
    x: Axis,
    m: &Metric,
    curves: Vec<(&Group, Curve)>,
    references: &[&Reference],
    smoothing: Smoothing,
    y: Option<Axis>,
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
    let y = match y {
        Some(y) => y,
        None if m.scale == Scale::Rate && !log && lo >= 0.0 => {
            Axis::linear(0.0, if hi > 0.0 { hi * 1.05 } else { 1.0 })
        }
        None => fit_y(&curves, m, log, references),
    };
    let y_label = if y.is_log() {
        format!("{y_label} (log scale)")
    } else if m.scale == Scale::Log {
        // Said on the axis, never silently: a log axis cannot show these values.
        format!("{y_label} (linear scale: values ≤ 0)")
    } else {
        y_label.to_owned()
    };
    // The weight, and which curves get it: under "auto" only the jagged ones, so that a
    // smooth curve (full-batch GD beside SGD) is drawn as it is, without the average's lag.
    let longest = curves.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let smooth_curve = |c: &Curve| match smoothing {
        _ if !m.noisy => None,
        Smoothing::Off => None,
        Smoothing::Weight(w) => Some(w),
        Smoothing::Auto => is_jagged(c, y.is_log()).then(|| auto_weight(longest)),
    };
    let mut smooth = None;
    let mut fig = Figure::new(title, x_label, &y_label, x, y);
    let mut rose = false;
    for (g, c) in &curves {
        let seeds = g.runs.len();
        if m.band && seeds > 1 {
            fig.bands.push(Band {
                points: c.iter().map(|&(x, _, lo, hi)| (x, lo, hi)).collect(),
                color: g.color,
            });
        }
        let raw: Vec<(f64, f64)> = c.iter().map(|&(x, mean, _, _)| (x, mean)).collect();
        let drawn = match smooth_curve(c) {
            Some(weight) => {
                smooth = Some(weight);
                fig.lines.push(Line {
                    alpha: 0.3,
                    ..Line::solid(raw.clone(), g.color, 1)
                });
                ema(&raw, weight, y.is_log())
            }
            None => raw,
        };
        // Where the curve first rises past the top: a red cross on the edge.
        if let Some(w) = drawn
            .windows(2)
            .find(|w| y.frac(w[0].1) <= 1.0 && y.frac(w[1].1) > 1.0)
        {
            rose = true;
            fig.markers.push(Marker {
                x: w[1].0,
                y: y.hi(),
                dx: 0,
                shape: Shape::Cross,
                color: DIVERGED,
                size: 5,
            });
        }
        fig.lines.push(Line::solid(drawn, g.color, 2));
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
    if let Some(weight) = smooth {
        fig.legend.push((
            format!("bold: moving average ({weight:.2}); faint: raw"),
            Key::Line(RGBColor(150, 150, 150)),
        ));
    }
    if m.band && curves.iter().any(|(g, _)| g.runs.len() > 1) {
        fig.legend.push((
            "band: ± 1 std over seeds".into(),
            Key::Band(RGBColor(150, 150, 150)),
        ));
    }
    if rose {
        fig.legend.push((
            "rose past the top".into(),
            Key::Marker(DIVERGED, Shape::Cross),
        ));
    }
    Some(fig)
}

/// The y axis that fits `curves`. On a loss-like axis (a band, drawn on a log scale where
/// it can be) runs that blow up do not set the range: the top stops at 100 × the largest
/// starting value on a log axis (3 × its size on a linear one), and what rises past it
/// leaves the chart.
fn fit_y(curves: &[(&Group, Curve)], m: &Metric, log: bool, references: &[&Reference]) -> Axis {
    let start = curves
        .iter()
        .map(|(_, c)| c[0].1)
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    // Only for quantities that should fall (losses, norms): an accuracy rises by design.
    let ceiling = match (m.band && m.scale == Scale::Log, log) {
        (true, true) => 100.0 * start.max(f64::MIN_POSITIVE),
        (true, false) if start.is_finite() => start + 2.0 * start.abs().max(1e-12),
        _ => f64::INFINITY,
    };
    let mut extent = Vec::new();
    for (_, c) in curves {
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
}

/// Whether `curve`'s mean zig-zags from step to step (mini-batch noise) rather than
/// moving smoothly: its second differences are as large as its first (on a log axis, of
/// the logarithm). A smooth decay has second differences near zero; noise has them about
/// 1.7 times the first.
fn is_jagged(curve: &Curve, log: bool) -> bool {
    if curve.len() < 50 {
        return false;
    }
    let values: Vec<f64> = curve
        .iter()
        .map(|p| if log { p.1.ln() } else { p.1 })
        .filter(|v| v.is_finite())
        .collect();
    let first: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let second: Vec<f64> = first.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let first: Vec<f64> = first.iter().map(|d| d.abs()).collect();
    match (median(&first), median(&second)) {
        (Some(d1), Some(d2)) => d2 > d1 && d2 > 0.0,
        _ => false,
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// A moving average over about a sixtieth of the curve (5 to 200 points).
fn auto_weight(points: usize) -> f64 {
    let span = (points as f64 / 60.0).clamp(5.0, 200.0);
    1.0 - 1.0 / span
}

/// The exponential moving average with weight `weight` on the past, bias-corrected as
/// TensorBoard's (so the first points are not pulled towards zero), of the logarithm on a
/// log axis (a geometric mean, which a jump of decades does not dominate). Non-finite
/// points are passed over.
fn ema(points: &[(f64, f64)], weight: f64, log: bool) -> Vec<(f64, f64)> {
    let mut average = 0.0;
    let mut total = 0.0;
    points
        .iter()
        .map(|&(x, v)| {
            let v_in = if log { v.ln() } else { v };
            if !v_in.is_finite() {
                return (x, f64::NAN);
            }
            average = weight * average + (1.0 - weight) * v_in;
            total = weight * total + (1.0 - weight);
            let smoothed = average / total;
            (x, if log { smoothed.exp() } else { smoothed })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_law_has_its_exponent_as_fitted_slope() {
        let curve: Curve = (1..=100)
            .map(|k| {
                let step = f64::from(k) * 100.0;
                (step, 3.0 * step.powf(-0.5), 0.0, 0.0)
            })
            .collect();
        let slope = fitted_slope(&curve, 1000.0).unwrap();
        assert!((slope + 0.5).abs() < 1e-12, "{slope}");
        assert_eq!(fitted_slope(&curve, 1e9), None);
    }
    use crate::run_files::testing::{point, record, write_record};
    use crate::state::METRICS_HEADER;
    use std::fmt::Write as _;

    #[test]
    fn training_time_between_logged_steps_is_interpolated() {
        let wall: BTreeMap<u64, f64> = [(0, 1.0), (10, 3.0), (20, 7.0)].into();
        assert_eq!(wall_at(&wall, 10), Some(3.0));
        assert_eq!(wall_at(&wall, 5), Some(2.0));
        assert_eq!(wall_at(&wall, 15), Some(5.0));
        // Outside the logged steps nothing is invented.
        assert_eq!(wall_at(&wall, 21), None);
    }

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
                    let diverges = variant == "sgd" && lr == 0.5 && seed == 2;
                    let diverged_at = diverges.then_some(25u64);
                    let at = point(&format!("lr={lr}"), "variants.*.lr", lr.into());
                    write_record(&run, &record(&id, variant, at, seed, diverged_at));
                    let mut metrics = format!("{METRICS_HEADER}\n");
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
        let context = Context {
            contour: Some(contour),
            ..Context::default()
        };
        let written = render(&dir, &context).unwrap();
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
        let runs = data::load(tmp.path(), 2).unwrap();
        assert_eq!(runs.len(), 12);
        let groups = groups(&runs);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["adam lr=0.1", "adam lr=0.5", "sgd lr=0.1", "sgd lr=0.5"]
        );
        let sgd = &groups[3];
        assert_eq!(sgd.runs.len(), 3);
        let agg = aggregate(&sgd.runs, MetricsColumn::TrainLoss.name());
        // The diverged seed stops at step 25 (whose loss is infinite).
        assert_eq!(agg.len(), 61);
        let at = |s: u64| agg.iter().find(|a| a.step == s).unwrap();
        assert!(at(24).hi > at(24).lo);
        let late = at(40);
        assert!(late.mean.is_finite() && late.lo <= late.mean && late.mean <= late.hi);
        // Only evaluation steps have a validation loss.
        assert_eq!(aggregate(&sgd.runs, MetricsColumn::ValLoss.name()).len(), 7);
    }

    #[test]
    fn one_run_without_sweep_or_evaluations() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("only");
        write_record(&run, &record("only", "adam", Default::default(), 0, None));
        let mut metrics = format!("{METRICS_HEADER}\n");
        for step in 0..5 {
            // Losses that reach zero and go negative force linear axes.
            let loss = 1.0 - 0.5 * f64::from(step);
            writeln!(metrics, "{step},0,{step},0.01,{loss},NaN,,,,").unwrap();
        }
        std::fs::write(run.join("metrics.csv"), metrics).unwrap();
        // A numeric and a string value for the same key across runs: no sweep plot,
        // since only one run has a number.
        let other = tmp.path().join("other");
        let full = point("batch=full", "batch.size", "full".into());
        write_record(&other, &record("other", "sgd", full, 0, None));
        std::fs::write(
            other.join("metrics.csv"),
            format!("{METRICS_HEADER}\n0,0,0,,inf,,,,,\n1,0,0,,2.0,,,,,\n"),
        )
        .unwrap();
        let written = render(tmp.path(), &Context::default()).unwrap();
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
        let err = render(tmp.path(), &Context::default()).unwrap_err();
        assert!(format!("{err:#}").contains("no runs"), "{err:#}");
    }

    #[test]
    fn a_malformed_csv_names_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("r");
        write_record(&run, &record("r", "sgd", Default::default(), 0, None));
        std::fs::write(
            run.join("metrics.csv"),
            format!("{METRICS_HEADER}\n0,0,0,,1.0,,,,,\n1,0,0,,oops,,,,,\n"),
        )
        .unwrap();
        let err = render(tmp.path(), &Context::default()).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("metrics.csv") && msg.contains("line 3"),
            "{msg}"
        );
    }

    /// A sweep of one learning rate over `lrs` with `seeds` seeds on a bowl `f = 2 w^2`
    /// (`f* = 0`): each run logs the full objective as `test_loss` and the mini-batch loss
    /// (the objective plus noise that can push it below zero) as `train_loss`. Runs above
    /// `blow_up` grow instead: one seed to 1e30 without tripping the divergence test, one
    /// to infinity (diverged).
    fn lr_sweep(dir: &Path, lrs: &[f64], blow_up: f64) {
        for &lr in lrs {
            for seed in 0..3u64 {
                let id = format!("gd-lr{lr}-s{seed}");
                let run = dir.join(&id);
                let grows = lr > blow_up;
                let diverges = grows && seed == 2;
                let at = point(&format!("lr={lr}"), "variants.*.lr", lr.into());
                write_record(&run, &record(&id, "gd", at, seed, diverges.then_some(30)));
                let mut metrics = format!("{METRICS_HEADER}\n");
                let mut w: f64 = 3.0;
                for step in 0..=60u64 {
                    let f = 2.0 * w * w;
                    let f = if diverges && step >= 30 {
                        f64::INFINITY
                    } else {
                        f.min(1e30)
                    };
                    let noise = 0.5 * ((step * 7 + seed) as f64).sin();
                    writeln!(metrics, "{step},0,0,,{},,,,{f},", f + noise).unwrap();
                    if diverges && step >= 30 {
                        break;
                    }
                    w *= 1.0 - 4.0 * lr;
                }
                std::fs::write(run.join("metrics.csv"), metrics).unwrap();
            }
        }
    }

    #[test]
    fn sweeps_draw_the_test_loss_beside_the_training_loss_but_not_beside_a_gap() {
        let tmp = tempfile::tempdir().unwrap();
        lr_sweep(tmp.path(), &[0.01, 0.02, 0.05], 0.5);
        let mut runs = data::load(tmp.path(), 2).unwrap();
        let names = |runs: &[Run], loss: &LossColumn| -> Vec<String> {
            sweep_figures("t", runs, loss, &[])
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        };
        assert_eq!(
            names(&runs, &TRAIN_LOSS),
            ["sweep_lr", "sweep_lr_test_loss"]
        );
        let gap = add_gap(&mut runs, 0.0);
        assert_eq!(names(&runs, &gap), ["sweep_lr"]);
    }

    #[test]
    fn blow_ups_do_not_set_the_range_of_a_log_loss_axis() {
        let tmp = tempfile::tempdir().unwrap();
        lr_sweep(tmp.path(), &[0.01, 0.02, 0.05, 0.6], 0.5);
        let runs = data::load(tmp.path(), 2).unwrap();
        let mut runs = runs;
        let loss = add_gap(&mut runs, 0.0);
        let groups = groups(&runs);
        let m = Metric {
            column: loss.column,
            file: "loss_vs_step",
            title: "f(w) − f* vs step",
            y_label: loss.y_label,
            scale: Scale::Log,
            band: true,
            noisy: true,
        };
        let fig = step_figure("t", &groups, &m, &[], Smoothing::Auto, None).unwrap();
        // The mini-batch loss goes below zero, the objective gap never: a log axis, up to
        // 100 x the start (2 x 3^2 = 18), far below the 1e30 of the blow-up.
        assert!(fig.y.is_log(), "{}", fig.y_label);
        assert!(fig.y.hi() <= 1e4 && fig.y.hi() >= 18.0, "{}", fig.y.hi());
        // The diverged run is marked where it stopped, at the top edge.
        assert!(
            fig.markers
                .iter()
                .any(|mk| mk.color == DIVERGED && mk.y == fig.y.hi()),
            "no divergence mark"
        );
        // The swept lr gets panels: the whole render writes the wide panel picture.
        let written = render(
            tmp.path(),
            &Context {
                minimum: Some(0.0),
                ..Context::default()
            },
        )
        .unwrap();
        let png = written
            .iter()
            .find(|p| p.ends_with("loss_vs_step.png"))
            .unwrap();
        let bytes = std::fs::read(png).unwrap();
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert!(w > figure::SIZE.0, "panels with a colour bar: {w} px wide");
        keep(&written, "blow-up-");
    }

    #[test]
    fn the_sweep_plot_is_logarithmic_with_its_theory_line() {
        let tmp = tempfile::tempdir().unwrap();
        lr_sweep(tmp.path(), &[0.01, 0.02, 0.05, 0.6, 0.7], 0.5);
        let mut runs = data::load(tmp.path(), 2).unwrap();
        let loss = add_gap(&mut runs, 0.0);
        let limit = SweepLine {
            parameter: "lr".into(),
            variant: "gd".into(),
            label: "2/λ_max".into(),
            value: 0.5,
        };
        let figures = sweep::figures("t", &runs, &loss, std::slice::from_ref(&limit));
        let (name, fig) = &figures[0];
        assert_eq!(name, "sweep_lr");
        assert!(fig.y.is_log());
        // The runs that grew to 1e30 without diverging are marked, not plotted.
        assert!(fig.y.hi() < 1e3, "{}", fig.y.hi());
        let vertical = fig
            .lines
            .iter()
            .any(|l| l.dashed && l.points.iter().all(|p| p.0 == 0.5));
        assert!(vertical, "the 2/λ_max line is drawn");
        assert!(
            fig.legend
                .iter()
                .any(|(label, _)| label.starts_with("2/λ_max = 0.5"))
        );
    }

    #[test]
    fn jagged_curves_are_smoothed_and_smooth_ones_are_not() {
        let decay: Curve = (0..300)
            .map(|t| (t as f64, (-0.01 * t as f64).exp(), 0.0, 0.0))
            .collect();
        assert!(!is_jagged(&decay, true));
        let noisy: Curve = (0..300)
            .map(|t| {
                let noise = 1.0 + 0.5 * ((t * 7919 % 101) as f64 / 101.0 - 0.5);
                (t as f64, (-0.01 * t as f64).exp() * noise, 0.0, 0.0)
            })
            .collect();
        assert!(is_jagged(&noisy, true));
        // The average of a constant is that constant from the first point on (bias-corrected).
        let flat: Vec<(f64, f64)> = (0..10).map(|t| (t as f64, 4.0)).collect();
        for (_, v) in ema(&flat, 0.9, true) {
            assert!((v - 4.0).abs() < 1e-12);
        }
        // And it follows a step with the weight's lag: 1 - 0.5^k of the way after k steps.
        let step: Vec<(f64, f64)> = (0..6)
            .map(|t| (t as f64, if t < 3 { 0.0 } else { 1.0 }))
            .collect();
        let smoothed = ema(&step, 0.5, false);
        assert_eq!(smoothed[2].1, 0.0);
        let after_one = smoothed[3].1;
        // (0.5 * 0.5 * ... ) / (1 - 0.5^4): the bias-corrected average of 0, 0, 0, 1.
        assert!(
            (after_one - 0.5 / (1.0 - 0.0625)).abs() < 1e-12,
            "{after_one}"
        );
    }

    /// The cap on blow-ups is for losses: an accuracy that rises tenfold keeps its whole
    /// range (a regression: the first version cut accuracies at 3 x their start).
    #[test]
    fn a_rising_accuracy_is_not_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fake-sweep");
        fake_experiment(&dir);
        let runs = data::load(&dir, 2).unwrap();
        let groups = groups(&runs);
        let accuracy = METRICS
            .iter()
            .find(|m| m.column == MetricsColumn::TestAccuracy.name())
            .unwrap();
        let fig = step_figure("t", &groups, accuracy, &[], Smoothing::Auto, None).unwrap();
        let highest = runs
            .iter()
            .flat_map(|r| r.series(MetricsColumn::TestAccuracy.name()))
            .map(|(_, v)| v)
            .fold(0.0, f64::max);
        assert!(
            highest > 0.8 && fig.y.hi() >= highest,
            "{} < {highest}",
            fig.y.hi()
        );
    }
}
