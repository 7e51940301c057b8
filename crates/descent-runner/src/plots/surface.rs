//! The probes' profiles (`profiles.csv`) at each run's last measurement: 1-D slices and
//! interpolations as a mean line with a band over directions and seeds, the Hessian's
//! eigenvalue density on a log axis, 2-D slices as contour maps (one panel per group).

use std::collections::{BTreeMap, BTreeSet};

use plotters::style::RGBColor;

use super::axis::Axis;
use super::figure::{Band, Figure, Key, Line, Marker, Panels, Shape, colors_for};
use super::{Contour, Group, contour, spread, title};
use crate::state::{BarrierPoint, ProfilePoint};

/// What each profile is, for titles and axes: `(prefix, what, x label, y label)`.
const KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "slice_1d_",
        "random filter-normalised directions, mean ± std",
        "step along the direction, a",
        "loss",
    ),
    (
        "slice_2d_",
        "on a plane of two random directions",
        "a (first direction)",
        "b (second direction)",
    ),
    (
        "interpolation_",
        "initial (a = 0) to final (a = 1) weights",
        "a",
        "loss",
    ),
    (
        "hessian_density",
        "eigenvalue density (Lanczos quadrature)",
        "eigenvalue λ",
        "density",
    ),
    (
        "plane_loss",
        "the path on the loss of its PCA plane (first seed)",
        "first principal direction",
        "second principal direction",
    ),
    (
        "plane_gap",
        "true loss (solid) and the plane's (dashed), first seed",
        "step",
        "training loss",
    ),
];

/// Profiles not drawn as they are: the density is drawn from the quadrature's nodes, pooled
/// over seeds on one grid.
const NOT_DRAWN: &[&str] = &["hessian_quadrature", "plane_path"];

/// Each node of the pooled quadrature becomes a Gaussian this wide, relative to the range.
const BROADENING: f64 = 0.005;
/// Points of the density's grid.
const DENSITY_POINTS: usize = 801;

/// The pictures of every profile the runs hold: `(file name, picture)`.
pub(super) fn figures(experiment: &str, groups: &[Group]) -> Vec<(String, Picture)> {
    let names: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.runs.iter())
        .flat_map(|r| r.profiles.iter().map(|(_, p)| p.name.as_str()))
        .filter(|n| !NOT_DRAWN.contains(n))
        .collect();
    let mut out = Vec::new();
    for name in names {
        let Some(&(_, what, x_label, y_label)) = KINDS.iter().find(|k| name.starts_with(k.0))
        else {
            continue;
        };
        let accuracy = name.ends_with("_accuracy");
        let set = if name.contains("_test") {
            "test"
        } else {
            "training"
        };
        let y_label = match (accuracy, y_label) {
            (true, _) => format!("{set} accuracy"),
            (false, "loss") => format!("{set} loss"),
            (false, other) => other.to_owned(),
        };
        let heading = title(experiment, &format!("{name}: {what}"));
        let source = if name == "hessian_density" {
            "hessian_quadrature"
        } else {
            name
        };
        let drawn: Vec<&Group> = groups
            .iter()
            .filter(|g| !profiles_at(g, source, false).is_empty())
            .collect();
        let last: Vec<Family> = drawn
            .iter()
            .map(|g| Family::of(g, profiles_at(g, source, false)))
            .collect();
        let first = initial(&drawn, source);
        let file = format!("profile_{name}");
        if name.starts_with("slice_2d_") {
            if let Some(panels) = surface_panels(heading, &last, accuracy) {
                out.push((file, Picture::Grid(Box::new(panels))));
            }
        } else if name == "plane_loss" {
            if let Some(panels) = plane_panels(heading, &drawn) {
                out.push((file, Picture::Grid(Box::new(panels))));
            }
        } else if name == "plane_gap" {
            if let Some(fig) = plane_gap(heading, &drawn, x_label, &y_label) {
                out.push((file, Picture::Chart(Box::new(fig))));
            }
        } else if name == "hessian_density" {
            if let Some(fig) = density(heading, &last, &first, x_label, &y_label) {
                out.push((file, Picture::Chart(Box::new(fig))));
            }
        } else if let Some(fig) = curves(heading, &last, &first, x_label, &y_label, false) {
            out.push((file, Picture::Chart(Box::new(fig))));
        }
    }
    out
}

/// Curves drawn in one colour: a group's runs, or the pairs of seeds of a group.
struct Family<'p> {
    name: String,
    color: RGBColor,
    /// Each run's (or pair's) points.
    runs: Vec<Vec<&'p ProfilePoint>>,
}

impl<'p> Family<'p> {
    fn of(group: &Group, runs: Vec<Vec<&'p ProfilePoint>>) -> Self {
        Family {
            name: group.name.clone(),
            color: group.color,
            runs,
        }
    }
}

/// The loss on the segments between the final parameters of two seeds (`barriers.csv`): one
/// chart per set and measure (loss, accuracy), each group a mean line with a band over its
/// pairs.
pub(super) fn barriers(experiment: &str, rows: &[BarrierPoint]) -> Vec<(String, Picture)> {
    let groups: Vec<&str> = rows
        .iter()
        .map(|r| r.group.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let variants: Vec<&str> = groups
        .iter()
        .map(|g| g.split(' ').next().unwrap_or(g))
        .collect();
    let colors = colors_for(&variants);
    let sets: BTreeSet<&str> = rows.iter().map(|r| r.set.as_str()).collect();
    let mut out = Vec::new();
    for set in sets {
        for accuracy in [false, true] {
            // (group, pair) -> points along the segment.
            let mut lines: BTreeMap<(&str, u64, u64), Vec<ProfilePoint>> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.set == set) {
                let value = if accuracy { r.accuracy } else { Some(r.loss) };
                if let Some(value) = value {
                    lines
                        .entry((r.group.as_str(), r.seed_a, r.seed_b))
                        .or_default()
                        .push(ProfilePoint {
                            name: String::new(),
                            series: 0,
                            x: r.a,
                            y: None,
                            value,
                        });
                }
            }
            if lines.is_empty() {
                continue;
            }
            let families: Vec<Family> = groups
                .iter()
                .zip(&colors)
                .filter_map(|(group, color)| {
                    let runs: Vec<Vec<&ProfilePoint>> = lines
                        .iter()
                        .filter(|((g, _, _), _)| g == group)
                        .map(|(_, points)| points.iter().collect())
                        .collect();
                    (!runs.is_empty()).then(|| Family {
                        name: format!(
                            "{group} ({} pair{})",
                            runs.len(),
                            if runs.len() == 1 { "" } else { "s" }
                        ),
                        color: *color,
                        runs,
                    })
                })
                .collect();
            let what = if accuracy { "accuracy" } else { "loss" };
            let set_name = if set == "test" { "test" } else { "training" };
            let heading = title(
                experiment,
                &format!("{set_name} {what} between two solutions"),
            );
            let y_label = format!("{set_name} {what}");
            if let Some(fig) = curves(
                heading,
                &families,
                &[],
                "a (0: one run's solution, 1: the other's)",
                &y_label,
                false,
            ) {
                let suffix = if accuracy { "_accuracy" } else { "" };
                out.push((
                    format!("barriers_{set}{suffix}"),
                    Picture::Chart(Box::new(fig)),
                ));
            }
        }
    }
    out
}

/// A chart or a grid of them.
pub(super) enum Picture {
    Chart(Box<Figure>),
    Grid(Box<Panels>),
}

/// Each run's points of `name` at the last step it has them, or with `first` the first.
fn profiles_at<'r>(group: &Group<'r>, name: &str, first: bool) -> Vec<Vec<&'r ProfilePoint>> {
    group
        .runs
        .iter()
        .filter_map(|run| {
            let steps = run
                .profiles
                .iter()
                .filter(|(_, p)| p.name == name)
                .map(|(s, _)| *s);
            let step = if first { steps.min()? } else { steps.max()? };
            Some(
                run.profiles
                    .iter()
                    .filter(|(s, p)| *s == step && p.name == name)
                    .map(|(_, p)| p)
                    .collect(),
            )
        })
        .collect()
}

/// The groups' profiles at the runs' first measurement where it comes before their last
/// (drawn dashed: the surface at initialisation beside the one at the end).
fn initial<'r>(groups: &[&Group<'r>], name: &str) -> Vec<Family<'r>> {
    groups
        .iter()
        .filter(|g| {
            g.runs.iter().any(|run| {
                let steps: BTreeSet<u64> = run
                    .profiles
                    .iter()
                    .filter(|(_, p)| p.name == name)
                    .map(|(s, _)| *s)
                    .collect();
                steps.len() > 1
            })
        })
        .map(|g| Family::of(g, profiles_at(g, name, true)))
        .filter(|f| !f.runs.is_empty())
        .collect()
}

/// The eigenvalue density of each group: the quadrature nodes of its runs pooled (each run's
/// weights divided by the number of runs) and broadened on one grid over all groups' nodes.
fn density(
    heading: String,
    groups: &[Family],
    first: &[Family],
    x_label: &str,
    y_label: &str,
) -> Option<Figure> {
    let nodes = groups
        .iter()
        .chain(first)
        .flat_map(|f| f.runs.iter().flatten());
    let (lo, hi) = nodes.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.x), hi.max(p.x))
    });
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let span = (hi - lo).max(hi.abs().max(lo.abs()) * 1e-6).max(1e-12);
    let sigma = BROADENING * span;
    let (from, to) = (
        lo - 0.05 * span - 3.0 * sigma,
        hi + 0.05 * span + 3.0 * sigma,
    );
    let xs: Vec<f64> = (0..DENSITY_POINTS)
        .map(|i| from + (to - from) * i as f64 / (DENSITY_POINTS - 1) as f64)
        .collect();
    let pool = |families: &[Family]| -> Vec<(String, RGBColor, Vec<ProfilePoint>)> {
        families
            .iter()
            .map(|Family { name, color, runs }| {
                let pooled = descent_surface::spectrum::Density {
                    nodes: runs
                        .iter()
                        .flat_map(|run| run.iter().map(|p| (p.x, p.value / runs.len() as f64)))
                        .collect(),
                    probes: 1,
                };
                let curve = xs
                    .iter()
                    .map(|&x| ProfilePoint {
                        name: "hessian_density".into(),
                        series: 0,
                        x,
                        y: None,
                        value: pooled.at(x, sigma),
                    })
                    .collect();
                (name.clone(), *color, curve)
            })
            .collect()
    };
    let (last, first) = (pool(groups), pool(first));
    curves(
        heading,
        &borrowed(&last),
        &borrowed(&first),
        x_label,
        y_label,
        true,
    )
}

/// The first run of a group (lowest seed) that has profile `name`, and its points there.
fn first_run<'r>(group: &Group<'r>, name: &str) -> Option<Vec<&'r ProfilePoint>> {
    profiles_at(group, name, false)
        .into_iter()
        .find(|points| !points.is_empty())
}

/// One contour panel per group: its first seed's plane, with the path's kept points on it.
fn plane_panels(heading: String, groups: &[&Group]) -> Option<Panels> {
    let mut panels = Vec::new();
    let mut color_bar = None;
    let mut paths: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut grids = Vec::new();
    for group in groups {
        let (Some(grid), Some(path)) = (
            first_run(group, "plane_loss"),
            first_run(group, "plane_path"),
        ) else {
            continue;
        };
        let mut ordered = path.clone();
        ordered.sort_by_key(|p| p.series);
        paths.push(ordered.iter().filter_map(|p| Some([p.x, p.y?])).collect());
        grids.push((group, grid));
    }
    for ((group, grid), path) in grids.iter().zip(&paths) {
        let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
        for p in grid {
            if let Some(y) = p.y {
                cells
                    .entry((p.x.to_bits(), y.to_bits()))
                    .or_default()
                    .push(p.value);
            }
        }
        let values = Grid::of(&cells)?;
        let value = move |a: f64, b: f64| values.at(a, b);
        let c = Contour {
            value: &value,
            x: grid_bounds(&cells, |k| k.0)?,
            y: grid_bounds(&cells, |k| k.1)?,
            minima: Vec::new(),
        };
        let trajectory = contour::Trajectory {
            group: 0,
            first: true,
            points: path,
        };
        let mut fig = contour::figure(
            group.name.clone(),
            &c,
            &[trajectory],
            &[(group.name.clone(), group.color)],
        );
        fig.x_label = "first principal direction".into();
        fig.y_label = "second principal direction".into();
        color_bar = fig.color_bar.take();
        fig.legend.clear();
        panels.push(fig);
    }
    if panels.is_empty() {
        return None;
    }
    Some(Panels {
        title: heading,
        caption: None,
        panels,
        color_bar,
        legend: vec![
            ("start".into(), Key::Marker(RGBColor(0, 0, 0), Shape::Ring)),
            (
                "end".into(),
                Key::Marker(RGBColor(200, 200, 200), Shape::Dot),
            ),
        ],
    })
}

/// Per group (first seed), the true loss at the kept points and the loss at their projections
/// on the plane, against the step.
fn plane_gap(heading: String, groups: &[&Group], x_label: &str, y_label: &str) -> Option<Figure> {
    let mut lines = Vec::new();
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for group in groups {
        let Some(points) = first_run(group, "plane_gap") else {
            continue;
        };
        for series in [0, 1] {
            let mut line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.series == series && p.value.is_finite())
                .map(|p| (p.x, p.value))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            for &(x, y) in &line {
                (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
            }
            lines.push((*group, series == 1, line));
        }
    }
    if !(x_lo < x_hi && y_lo.is_finite()) {
        return None;
    }
    let y = if y_lo > 0.0 && y_hi / y_lo > 30.0 {
        Axis::log(y_lo, y_hi)
    } else {
        Axis::linear(y_lo, y_hi)
    };
    let mut fig = Figure::new(heading, x_label, y_label, Axis::linear(x_lo, x_hi), y);
    for (group, projected, line) in lines {
        let mut drawn = Line::solid(line, group.color, 2);
        drawn.dashed = projected;
        fig.lines.push(drawn);
        if !projected {
            fig.legend
                .push((group.name.clone(), Key::Line(group.color)));
        }
    }
    Some(fig)
}

/// Families of curves owned elsewhere.
fn borrowed(pooled: &[(String, RGBColor, Vec<ProfilePoint>)]) -> Vec<Family<'_>> {
    pooled
        .iter()
        .map(|(name, color, curve)| Family {
            name: name.clone(),
            color: *color,
            runs: vec![curve.iter().collect()],
        })
        .collect()
}

/// Per family, `(x, mean, band low, band high)` over every series of every run, by `x`.
type Aggregated<'f> = Vec<(&'f Family<'f>, Vec<(f64, f64, f64, f64)>)>;

fn aggregate<'f>(families: &'f [Family<'f>]) -> Aggregated<'f> {
    let mut drawn = Vec::new();
    for family in families {
        let runs = &family.runs;
        let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for p in runs.iter().flatten() {
            if p.value.is_finite() {
                by_x.entry(p.x.to_bits()).or_default().push(p.value);
            }
        }
        let mut points: Vec<(f64, f64, f64, f64)> = by_x
            .into_iter()
            .filter_map(|(x, values)| {
                let (mean, lo, hi) = spread(&values)?;
                Some((f64::from_bits(x), mean, lo, hi))
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !points.is_empty() {
            drawn.push((family, points));
        }
    }
    drawn
}

/// Mean lines with bands over every series of every run (the last measurement), and the
/// first measurement's means dashed.
fn curves(
    heading: String,
    groups: &[Family],
    first: &[Family],
    x_label: &str,
    y_label: &str,
    log: bool,
) -> Option<Figure> {
    let mut last = aggregate(groups);
    let mut initial = aggregate(first);
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, _, lo, hi) in last.iter().chain(&initial).flat_map(|(_, p)| p.iter()) {
        x_lo = x_lo.min(x);
        x_hi = x_hi.max(x);
        y_lo = y_lo.min(lo);
        y_hi = y_hi.max(hi);
    }
    if !(x_lo < x_hi && y_lo.is_finite() && y_hi.is_finite()) {
        return None;
    }
    let y = if log {
        // A density's tails fall to nothing: six decades below the peak are shown.
        let floor = (y_hi * 1e-6).max(f64::MIN_POSITIVE);
        for (_, points) in last.iter_mut().chain(initial.iter_mut()) {
            for p in points.iter_mut() {
                p.1 = p.1.max(floor);
                p.2 = p.2.max(floor);
                p.3 = p.3.max(floor);
            }
        }
        Axis::log(floor, y_hi * 2.0)
    } else if y_lo > 0.0 && y_hi / y_lo > 30.0 {
        Axis::log(y_lo, y_hi)
    } else {
        Axis::linear(y_lo, y_hi)
    };
    let mut fig = Figure::new(heading, x_label, y_label, Axis::linear(x_lo, x_hi), y);
    for (group, points) in &initial {
        let mut line = Line::solid(
            points.iter().map(|&(x, mean, _, _)| (x, mean)).collect(),
            group.color,
            1,
        );
        line.dashed = true;
        fig.lines.push(line);
    }
    for (group, points) in &last {
        fig.bands.push(Band {
            points: points.iter().map(|&(x, _, lo, hi)| (x, lo, hi)).collect(),
            color: group.color,
        });
        fig.lines.push(Line::solid(
            points.iter().map(|&(x, mean, _, _)| (x, mean)).collect(),
            group.color,
            2,
        ));
        let name = if initial.is_empty() {
            group.name.clone()
        } else {
            format!("{} (end)", group.name)
        };
        fig.legend.push((name, Key::Band(group.color)));
    }
    if !initial.is_empty() {
        fig.legend.push((
            "dashed: at the first measurement (initialisation)".into(),
            Key::Line(RGBColor(120, 120, 120)),
        ));
    }
    Some(fig)
}

/// One contour panel per group: the value averaged over series and seeds at each grid point,
/// read between grid points bilinearly.
fn surface_panels(heading: String, groups: &[Family], accuracy: bool) -> Option<Panels> {
    let mut panels = Vec::new();
    let mut color_bar = None;
    for group in groups {
        let runs = &group.runs;
        let mut cells: BTreeMap<(u64, u64), Vec<f64>> = BTreeMap::new();
        for p in runs.iter().flatten() {
            if let Some(y) = p.y {
                // Accuracy rises where loss falls: drawn as error, so the basin stays dark.
                let value = if accuracy { 1.0 - p.value } else { p.value };
                cells
                    .entry((p.x.to_bits(), y.to_bits()))
                    .or_default()
                    .push(value);
            }
        }
        let grid = Grid::of(&cells)?;
        let value = move |a: f64, b: f64| grid.at(a, b);
        let (xs, ys) = (
            (grid_bounds(&cells, |k| k.0)?),
            (grid_bounds(&cells, |k| k.1)?),
        );
        let c = Contour {
            value: &value,
            x: xs,
            y: ys,
            minima: Vec::new(),
        };
        let mut fig = contour::figure(group.name.clone(), &c, &[], &[]);
        fig.x_label = "a (first direction)".into();
        fig.y_label = "b (second direction)".into();
        fig.markers.push(Marker {
            x: 0.0,
            y: 0.0,
            dx: 0,
            shape: Shape::Cross,
            color: RGBColor(0, 0, 0),
            size: 7,
        });
        if let Some(bar) = fig.color_bar.as_mut() {
            bar.label = if accuracy {
                "error − min (log scale)".into()
            } else {
                "loss − min (log scale)".into()
            };
        }
        color_bar = fig.color_bar.take();
        fig.legend.clear();
        panels.push(fig);
    }
    if panels.is_empty() {
        return None;
    }
    Some(Panels {
        title: heading,
        caption: None,
        panels,
        color_bar,
        legend: vec![(
            "the point (a = b = 0)".into(),
            Key::Marker(RGBColor(0, 0, 0), Shape::Cross),
        )],
    })
}

fn grid_bounds(
    cells: &BTreeMap<(u64, u64), Vec<f64>>,
    key: fn(&(u64, u64)) -> u64,
) -> Option<(f64, f64)> {
    let values: Vec<f64> = cells.keys().map(|k| f64::from_bits(key(k))).collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo < hi).then_some((lo, hi))
}

/// A rectangular grid of mean values, read bilinearly.
struct Grid {
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// Row-major by `y`.
    values: Vec<f64>,
}

impl Grid {
    fn of(cells: &BTreeMap<(u64, u64), Vec<f64>>) -> Option<Grid> {
        let mut xs: Vec<f64> = cells.keys().map(|k| f64::from_bits(k.0)).collect();
        let mut ys: Vec<f64> = cells.keys().map(|k| f64::from_bits(k.1)).collect();
        for v in [&mut xs, &mut ys] {
            v.sort_by(f64::total_cmp);
            v.dedup();
        }
        if xs.len() < 2 || ys.len() < 2 {
            return None;
        }
        let mut values = Vec::with_capacity(xs.len() * ys.len());
        for y in &ys {
            for x in &xs {
                let cell = cells.get(&(x.to_bits(), y.to_bits()))?;
                let finite: Vec<f64> = cell.iter().copied().filter(|v| v.is_finite()).collect();
                values.push(spread(&finite).map_or(f64::NAN, |(mean, _, _)| mean));
            }
        }
        Some(Grid { xs, ys, values })
    }

    fn at(&self, a: f64, b: f64) -> f64 {
        let (i, s) = locate(&self.xs, a);
        let (j, t) = locate(&self.ys, b);
        let n = self.xs.len();
        let v = |i: usize, j: usize| self.values[j * n + i];
        (1.0 - s) * (1.0 - t) * v(i, j)
            + s * (1.0 - t) * v(i + 1, j)
            + (1.0 - s) * t * v(i, j + 1)
            + s * t * v(i + 1, j + 1)
    }
}

/// The cell of sorted `grid` that holds `x` (clamped), and where in it.
fn locate(grid: &[f64], x: f64) -> (usize, f64) {
    let last = grid.len() - 2;
    let i = grid
        .partition_point(|g| *g <= x)
        .saturating_sub(1)
        .min(last);
    let t = ((x - grid[i]) / (grid[i + 1] - grid[i])).clamp(0.0, 1.0);
    (i, t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_reads_back_its_points_and_interpolates_between() {
        let mut cells = BTreeMap::new();
        for (x, y, v) in [
            (0.0f64, 0.0f64, 1.0),
            (1.0, 0.0, 3.0),
            (0.0, 2.0, 5.0),
            (1.0, 2.0, 7.0),
        ] {
            cells.insert((x.to_bits(), y.to_bits()), vec![v]);
        }
        let grid = Grid::of(&cells).unwrap();
        assert_eq!(grid.at(0.0, 0.0), 1.0);
        assert_eq!(grid.at(1.0, 2.0), 7.0);
        assert_eq!(grid.at(0.5, 1.0), 4.0);
        // Outside: clamped to the edge.
        assert_eq!(grid.at(-3.0, 0.0), 1.0);
    }
}
