//! The landscape picture: log-spaced filled contours of the loss over a window, contour
//! lines by marching squares, and the optimizers' trajectories on top.

use std::collections::HashMap;

use plotters::style::RGBColor;

use super::Contour;
use super::axis::Axis;
use super::figure::{Cell, ColorBar, Figure, Heat, Key, Line, Marker, Shape};

/// Number of contour bands; boundaries are geometric in `value − min + ε`.
const LEVELS: usize = 18;
/// Heat-map cells across and up the window (about 3 pixels each at [`super::figure::SIZE`]).
const FILL: (usize, usize) = (230, 180);
/// Grid points across and up for the contour lines.
const LINES: (usize, usize) = (181, 141);

/// Viridis (matplotlib's default map) at eleven evenly spaced points.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// Viridis at `t ∈ [0, 1]`, mixed with white in the proportion `wash`.
fn viridis(t: f64, wash: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| {
        let v = f64::from(p) * (1.0 - f) + f64::from(q) * f;
        (v * (1.0 - wash) + 255.0 * wash).round().clamp(0.0, 255.0) as u8
    };
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Viridis washed halfway to white, so that trajectories in the group colours stay
/// visible on the heat map.
fn color_at(t: f64) -> RGBColor {
    viridis(t, 0.45)
}

/// The colour of a swept value at `t ∈ [0, 1]` along its range: viridis without its
/// palest yellow, which would not show on white.
pub(crate) fn sequential(t: f64) -> RGBColor {
    viridis(0.88 * t.clamp(0.0, 1.0), 0.0)
}

/// A trajectory to draw: its group's name and colour, and whether it is the group's
/// first seed (drawn bold, with start and end marked).
pub(crate) struct Trajectory<'a> {
    pub group: usize,
    pub first: bool,
    pub points: &'a [[f64; 2]],
}

/// The contour figure.
pub(crate) fn figure(
    title: String,
    contour: &Contour,
    paths: &[Trajectory],
    groups: &[(String, RGBColor)],
) -> Figure {
    let x = Axis::linear(contour.x.0, contour.x.1);
    let y = Axis::linear(contour.y.0, contour.y.1);
    let value = |a: f64, b: f64| {
        let v = (contour.value)(a, b);
        if v.is_nan() { f64::INFINITY } else { v }
    };

    let (fx, fy) = FILL;
    let cell_w = (x.hi() - x.lo()) / fx as f64;
    let cell_h = (y.hi() - y.lo()) / fy as f64;
    let mut fill = vec![0.0; fx * fy];
    for j in 0..fy {
        for i in 0..fx {
            fill[j * fx + i] = value(
                x.lo() + (i as f64 + 0.5) * cell_w,
                y.lo() + (j as f64 + 0.5) * cell_h,
            );
        }
    }
    let (lx, ly) = LINES;
    let xs: Vec<f64> = (0..lx).map(|i| x.at(i as f64 / (lx - 1) as f64)).collect();
    let ys: Vec<f64> = (0..ly).map(|j| y.at(j as f64 / (ly - 1) as f64)).collect();
    let mut grid = vec![0.0; lx * ly];
    for (j, yv) in ys.iter().enumerate() {
        for (i, xv) in xs.iter().enumerate() {
            grid[j * lx + i] = value(*xv, *yv);
        }
    }

    // The known minima count too: a grid easily steps over a narrow valley's floor.
    let finite = |v: &&f64| v.is_finite();
    let min = fill
        .iter()
        .chain(&grid)
        .filter(finite)
        .copied()
        .chain(
            contour
                .minima
                .iter()
                .map(|m| value(m[0], m[1]))
                .filter(|v| v.is_finite()),
        )
        .fold(f64::INFINITY, f64::min);
    let max = fill
        .iter()
        .chain(&grid)
        .filter(finite)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let (min, max) = if min.is_finite() && max.is_finite() {
        (min, max)
    } else {
        (0.0, 1.0)
    };
    // ε sets how deep into the basin the levels reach: five decades below the window's
    // range resolves the floor of a valley without spending every level there.
    let range = (max - min).max(f64::MIN_POSITIVE * 1e6);
    let eps = range * 1e-5;
    let levels = Levels {
        lo: eps,
        ratio: ((range + eps) / eps).powf(1.0 / LEVELS as f64),
    };
    let shifted = |v: f64| v - min + eps;

    let mut cells = Vec::new();
    for j in 0..fy {
        // Both edges from the same expression, so neighbouring rows meet exactly.
        let y0 = y.lo() + j as f64 * cell_h;
        let y1 = y.lo() + (j + 1) as f64 * cell_h;
        // Runs of equal band along a row become one rectangle.
        let mut i = 0;
        while i < fx {
            let band = levels.band(shifted(fill[j * fx + i]));
            let mut k = i + 1;
            while k < fx && levels.band(shifted(fill[j * fx + k])) == band {
                k += 1;
            }
            cells.push(Cell {
                x: (x.lo() + i as f64 * cell_w, x.lo() + k as f64 * cell_w),
                y: (y0, y1),
                color: color_at(band as f64 / (LEVELS - 1) as f64),
            });
            i = k;
        }
    }
    let shifted_grid: Vec<f64> = grid.iter().map(|v| shifted(*v)).collect();
    let mut isolines = Vec::new();
    for k in 1..LEVELS {
        isolines.extend(marching_squares(&shifted_grid, &xs, &ys, levels.level(k)));
    }
    let bar = Axis::log(levels.level(0), levels.level(LEVELS));
    let bar_bands = (0..LEVELS)
        .map(|k| {
            (
                levels.level(k),
                levels.level(k + 1),
                color_at(k as f64 / (LEVELS - 1) as f64),
            )
        })
        .collect();

    let mut fig = Figure::new(title, "w₀", "w₁", x, y);
    fig.heat = Some(Heat { cells, isolines });
    fig.color_bar = Some(ColorBar {
        axis: bar,
        bands: bar_bands,
        label: "loss − min (log scale)".into(),
    });
    // Seeds after the first go under the first seeds, thin, so the bold ones stay legible.
    let mut ordered: Vec<&Trajectory> = paths.iter().filter(|p| !p.first).collect();
    ordered.extend(paths.iter().filter(|p| p.first));
    for p in &ordered {
        let Some((_, color)) = groups.get(p.group) else {
            continue;
        };
        let points: Vec<(f64, f64)> = p.points.iter().map(|w| (w[0], w[1])).collect();
        let mut line = Line::solid(points, *color, if p.first { 2 } else { 1 });
        line.halo = p.first;
        line.alpha = if p.first { 1.0 } else { 0.55 };
        fig.lines.push(line);
    }
    for p in ordered.iter().filter(|p| p.first) {
        let Some((_, color)) = groups.get(p.group) else {
            continue;
        };
        let finite = |w: &&[f64; 2]| w[0].is_finite() && w[1].is_finite();
        if let Some(start) = p.points.iter().find(finite) {
            fig.markers
                .push(marker(*start, Shape::Ring, RGBColor(0, 0, 0), 6));
        }
        if let Some(end) = p.points.iter().rev().find(finite)
            && (0.0..=1.0).contains(&x.frac(end[0]))
            && (0.0..=1.0).contains(&y.frac(end[1]))
        {
            fig.markers.push(marker(*end, Shape::Dot, *color, 5));
        }
    }
    for m in &contour.minima {
        fig.markers
            .push(marker(*m, Shape::Cross, RGBColor(0, 0, 0), 7));
    }

    let mut shown = vec![false; groups.len()];
    for p in paths {
        if let Some(s) = shown.get_mut(p.group) {
            *s = true;
        }
    }
    for ((name, color), shown) in groups.iter().zip(shown) {
        if shown {
            fig.legend.push((name.clone(), Key::Line(*color)));
        }
    }
    if !paths.is_empty() {
        fig.legend
            .push(("start".into(), Key::Marker(RGBColor(0, 0, 0), Shape::Ring)));
        fig.legend.push((
            "end (first seed)".into(),
            Key::Marker(RGBColor(200, 200, 200), Shape::Dot),
        ));
    }
    if !contour.minima.is_empty() {
        fig.legend.push((
            "minimum".into(),
            Key::Marker(RGBColor(0, 0, 0), Shape::Cross),
        ));
    }
    fig
}

fn marker(at: [f64; 2], shape: Shape, color: RGBColor, size: u32) -> Marker {
    Marker {
        x: at[0],
        y: at[1],
        dx: 0,
        shape,
        color,
        size,
    }
}

/// Geometric levels `lo · ratioᵏ`.
struct Levels {
    lo: f64,
    ratio: f64,
}

impl Levels {
    fn level(&self, k: usize) -> f64 {
        self.lo * self.ratio.powi(k as i32)
    }

    fn band(&self, v: f64) -> usize {
        if v.is_nan() || v <= self.lo {
            return 0;
        }
        let k = ((v / self.lo).ln() / self.ratio.ln()).floor();
        if k.is_nan() {
            LEVELS - 1
        } else {
            (k.max(0.0) as usize).min(LEVELS - 1)
        }
    }
}

/// Which edge of the grid a contour crosses: horizontal edges from `(i, j)` to
/// `(i + 1, j)` and vertical ones from `(i, j)` to `(i, j + 1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Edge {
    H(usize, usize),
    V(usize, usize),
}

/// The contour lines at `level` of `grid` (row-major, `xs.len()` wide), joined into
/// polylines. Saddle cells are resolved by the value at their centre.
fn marching_squares(grid: &[f64], xs: &[f64], ys: &[f64], level: f64) -> Vec<Vec<(f64, f64)>> {
    let nx = xs.len();
    let ny = ys.len();
    if nx < 2 || ny < 2 || grid.len() < nx * ny {
        return Vec::new();
    }
    let at = |i: usize, j: usize| grid[j * nx + i];
    let point = |e: Edge| -> (f64, f64) {
        let (a, b, pa, pb) = match e {
            Edge::H(i, j) => (at(i, j), at(i + 1, j), (xs[i], ys[j]), (xs[i + 1], ys[j])),
            Edge::V(i, j) => (at(i, j), at(i, j + 1), (xs[i], ys[j]), (xs[i], ys[j + 1])),
        };
        // Infinite corners (outside a function's domain) pin the crossing to the
        // finite one.
        let t = if a.is_finite() && b.is_finite() && b != a {
            ((level - a) / (b - a)).clamp(0.0, 1.0)
        } else if a.is_finite() {
            0.0
        } else {
            1.0
        };
        (pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1))
    };

    let mut segments: Vec<(Edge, Edge)> = Vec::new();
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let (v00, v10, v11, v01) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            let above = |v: f64| v >= level;
            let case = usize::from(above(v00))
                | usize::from(above(v10)) << 1
                | usize::from(above(v11)) << 2
                | usize::from(above(v01)) << 3;
            let (bottom, right, top, left) = (
                Edge::H(i, j),
                Edge::V(i + 1, j),
                Edge::H(i, j + 1),
                Edge::V(i, j),
            );
            let centre_above = above((v00 + v10 + v11 + v01) / 4.0);
            match case {
                0 | 15 => {}
                1 | 14 => segments.push((left, bottom)),
                2 | 13 => segments.push((bottom, right)),
                3 | 12 => segments.push((left, right)),
                4 | 11 => segments.push((right, top)),
                6 | 9 => segments.push((bottom, top)),
                7 | 8 => segments.push((left, top)),
                5 => {
                    if centre_above {
                        segments.push((left, top));
                        segments.push((bottom, right));
                    } else {
                        segments.push((left, bottom));
                        segments.push((right, top));
                    }
                }
                10 => {
                    if centre_above {
                        segments.push((left, bottom));
                        segments.push((right, top));
                    } else {
                        segments.push((left, top));
                        segments.push((bottom, right));
                    }
                }
                _ => {}
            }
        }
    }

    // Each edge is shared by at most two cells, so each has at most two segments.
    let mut by_edge: HashMap<Edge, Vec<usize>> = HashMap::new();
    for (k, (a, b)) in segments.iter().enumerate() {
        by_edge.entry(*a).or_default().push(k);
        by_edge.entry(*b).or_default().push(k);
    }
    let mut used = vec![false; segments.len()];
    let mut lines = Vec::new();
    for start in 0..segments.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let (a, b) = segments[start];
        let mut forward = vec![a, b];
        extend(&mut forward, &segments, &by_edge, &mut used);
        let mut backward = vec![a];
        extend(&mut backward, &segments, &by_edge, &mut used);
        backward.reverse();
        backward.pop();
        backward.extend(forward);
        lines.push(backward.into_iter().map(point).collect());
    }
    lines
}

/// Walks from the last edge of `chain` through unused segments sharing an edge.
fn extend(
    chain: &mut Vec<Edge>,
    segments: &[(Edge, Edge)],
    by_edge: &HashMap<Edge, Vec<usize>>,
    used: &mut [bool],
) {
    while let Some(last) = chain.last().copied() {
        let next = by_edge
            .get(&last)
            .and_then(|ks| ks.iter().copied().find(|k| !used[*k]));
        let Some(k) = next else { break };
        used[k] = true;
        let (a, b) = segments[k];
        chain.push(if a == last { b } else { a });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_is_one_closed_line() {
        let n = 41;
        let xs: Vec<f64> = (0..n)
            .map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64)
            .collect();
        let ys = xs.clone();
        let mut grid = Vec::new();
        for y in &ys {
            for x in &xs {
                grid.push(x * x + y * y);
            }
        }
        let lines = marching_squares(&grid, &xs, &ys, 0.25);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert!(line.len() > 20);
        assert_eq!(line.first(), line.last(), "closed");
        for (x, y) in line {
            assert!(((x * x + y * y).sqrt() - 0.5).abs() < 0.01);
        }
    }

    #[test]
    fn bands_cover_the_levels() {
        let levels = Levels {
            lo: 1e-3,
            ratio: 10.0,
        };
        assert_eq!(levels.band(0.0), 0);
        assert_eq!(levels.band(5e-3), 0);
        assert_eq!(levels.band(0.05), 1);
        assert_eq!(levels.band(f64::INFINITY), LEVELS - 1);
    }
}
