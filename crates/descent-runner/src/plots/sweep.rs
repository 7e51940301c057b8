//! Sweep plots: the final loss against each swept number, one line per variant, with
//! diverged runs marked along the top so that the divergence cliff shows, and the
//! thresholds theory predicts drawn where the problem knows them.

use std::collections::{BTreeMap, BTreeSet};

use super::axis::Axis;
use super::data::{PointValue, Run};
use super::figure::{DIVERGED, ErrorBar, Figure, Key, Line, Marker, Shape, Strip, colors_for};
use super::{LossColumn, SweepLine, spread, title};

/// Where the diverged strip starts and where its crosses sit, as fractions of the
/// height.
const STRIP: f64 = 0.9;
const CROSS_AT: f64 = 0.95;

/// What one line knows at one swept value.
#[derive(Default)]
struct Cell {
    finals: Vec<f64>,
    diverged: usize,
    /// Runs that did not diverge but ended more than 100 times above the largest start.
    above: usize,
}

/// Whether `line` belongs on the plot of `key`: its parameter is the key's last part.
fn applies(line: &SweepLine, key: &str) -> bool {
    key == line.parameter || key.ends_with(&format!(".{}", line.parameter))
}

/// One figure per key of `point.values` that takes at least two numeric values:
/// `(file stem, figure)`.
pub(crate) fn figures(
    experiment: &str,
    runs: &[Run],
    loss: &LossColumn,
    lines: &[SweepLine],
) -> Vec<(String, Figure)> {
    let keys: BTreeSet<&str> = runs
        .iter()
        .flat_map(|r| r.values.keys().map(String::as_str))
        .collect();
    let stems = stems(&keys);
    let mut out = Vec::new();
    for key in &keys {
        let distinct: BTreeSet<u64> = runs
            .iter()
            .filter_map(|r| match r.values.get(*key) {
                Some(PointValue::Num(v)) if v.is_finite() => Some(v.to_bits()),
                _ => None,
            })
            .collect();
        if distinct.len() < 2 {
            continue;
        }
        let theory: Vec<&SweepLine> = lines.iter().filter(|l| applies(l, key)).collect();
        if let Some(fig) = figure(experiment, runs, key, loss, &theory) {
            let stem = stems.get(key).cloned().unwrap_or_else(|| sanitize(key));
            out.push((format!("sweep_{stem}"), fig));
        }
    }
    out
}

/// File-name stems: the key without its `variants.` prefix and `*` wildcards
/// (`variants.*.lr` → `lr`, `batch.size` → `batch_size`) where that is unique, the
/// whole key made safe otherwise.
fn stems<'a>(keys: &BTreeSet<&'a str>) -> BTreeMap<&'a str, String> {
    let short = |k: &str| {
        let mut parts: Vec<&str> = k.split('.').filter(|p| *p != "*").collect();
        if parts.len() > 1 && parts[0] == "variants" {
            parts.remove(0);
        }
        sanitize(&parts.join("_"))
    };
    keys.iter()
        .map(|k| {
            let s = short(k);
            let clash = keys.iter().filter(|o| short(o) == s).count() > 1;
            (*k, if clash { sanitize(k) } else { s })
        })
        .collect()
}

fn sanitize(key: &str) -> String {
    let mut s = String::new();
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            s.push(c);
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let s = s.trim_matches('_').to_owned();
    if s.is_empty() { "value".into() } else { s }
}

fn figure(
    experiment: &str,
    runs: &[Run],
    key: &str,
    loss: &LossColumn,
    theory: &[&SweepLine],
) -> Option<Figure> {
    // A run that blows up without tripping the divergence test does not set the range
    // either: what ends above 100 x the largest starting value is marked at the top.
    let ceiling = 100.0
        * runs
            .iter()
            .filter_map(|r| r.series(loss.column).first().map(|p| p.1.abs()))
            .fold(f64::MIN_POSITIVE, f64::max);
    // One line per variant and setting of the other swept keys.
    let mut lines: BTreeMap<(String, String), BTreeMap<u64, Cell>> = BTreeMap::new();
    for run in runs {
        let Some(PointValue::Num(x)) = run.values.get(key) else {
            continue;
        };
        if !x.is_finite() {
            continue;
        }
        let others = run
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let cell = lines
            .entry((run.variant.clone(), others))
            .or_default()
            .entry(x.to_bits())
            .or_default();
        if run.diverged {
            cell.diverged += 1;
        } else if let Some((_, last)) = run.series(loss.column).last() {
            if *last > ceiling {
                cell.above += 1;
            } else {
                cell.finals.push(*last);
            }
        }
    }
    if lines.is_empty() {
        return None;
    }

    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut any_diverged = false;
    let mut none_negative = true;
    let mut any_positive = false;
    for cells in lines.values() {
        for (bits, cell) in cells {
            xs.push(f64::from_bits(*bits));
            any_diverged |= cell.diverged > 0 || cell.above > 0;
            if let Some((mean, lo, hi)) = spread(&cell.finals) {
                none_negative &= mean >= 0.0;
                any_positive |= mean > 0.0;
                ys.extend([mean, lo, hi]);
            }
        }
    }
    let mut distinct: Vec<f64> = xs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    // The axis reaches a threshold only when it lies near the swept range.
    let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
    let theory: Vec<&SweepLine> = theory
        .iter()
        .copied()
        .filter(|t| {
            t.value.is_finite() && t.value > 0.0 && t.value >= lo / 4.0 && t.value <= hi * 4.0
        })
        .collect();
    xs.extend(theory.iter().map(|t| t.value));
    let x = Axis::fit(xs, true, 0.06).with_ticks(&distinct);
    // A loss that reached its minimum exactly (0) is drawn on the bottom edge of a log axis.
    let all_positive = none_negative && any_positive;
    let mut y = Axis::fit(
        ys.iter().copied().filter(|v| *v > 0.0 || !all_positive),
        all_positive,
        0.06,
    );
    if any_diverged {
        y = y.with_headroom(STRIP - 0.03);
    }
    let x_label = if x.is_log() {
        format!("{key} (log scale)")
    } else {
        key.to_owned()
    };
    let y_label = format!(
        "final {}{}, mean ± std over seeds (within their range)",
        loss.what,
        if y.is_log() {
            " (log scale)"
        } else if all_positive {
            ""
        } else {
            " (linear scale: values ≤ 0)"
        }
    );
    let mut fig = Figure::new(
        title(experiment, &format!("Final {} vs {key}", loss.what)),
        &x_label,
        &y_label,
        x,
        y,
    );
    if any_diverged {
        fig.top_strip = Some(Strip {
            from: STRIP,
            fill: plotters::style::RGBColor(0xfd, 0xe8, 0xe8),
            label: "diverged".into(),
            label_color: DIVERGED,
        });
    }

    let variants: Vec<&str> = lines.keys().map(|(v, _)| v.as_str()).collect();
    let colors = colors_for(&variants);
    // Lines diverging at the same value spread their crosses a few pixels apart.
    let mut diverged_here: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (k, cells) in lines.values().enumerate() {
        for (bits, cell) in cells {
            if cell.diverged > 0 || cell.above > 0 {
                diverged_here.entry(*bits).or_default().push(k);
            }
        }
    }
    let diverged_y = y.at(CROSS_AT);
    let mut at_minimum = false;
    for (k, (((variant, others), cells), color)) in lines.iter().zip(colors.clone()).enumerate() {
        let mut points = Vec::new();
        let mut last_finite: Option<(f64, f64)> = None;
        let mut cliff_drawn = false;
        for (bits, cell) in cells {
            let xv = f64::from_bits(*bits);
            match spread(&cell.finals) {
                Some((mean, _, _)) if y.is_log() && mean <= 0.0 => {
                    at_minimum = true;
                    points.push((xv, y.lo()));
                    last_finite = Some((xv, y.lo()));
                    cliff_drawn = false;
                    fig.markers.push(Marker {
                        x: xv,
                        y: y.lo(),
                        dx: 0,
                        shape: Shape::Ring,
                        color,
                        size: 5,
                    });
                }
                Some((mean, lo, hi)) => {
                    points.push((xv, mean));
                    last_finite = Some((xv, mean));
                    cliff_drawn = false;
                    fig.error_bars.push(ErrorBar {
                        x: xv,
                        lo,
                        hi,
                        dx: 0,
                        color,
                    });
                    fig.markers.push(Marker {
                        x: xv,
                        y: mean,
                        dx: 0,
                        shape: Shape::Dot,
                        color,
                        size: 4,
                    });
                }
                None => {
                    // A gap in the line; from the last good value, a dashed drop
                    // to where every seed diverged.
                    points.push((xv, f64::NAN));
                    if let (Some(from), true, false) = (last_finite, cell.diverged > 0, cliff_drawn)
                    {
                        let mut cliff = Line::solid(vec![from, (xv, diverged_y)], color, 2);
                        cliff.dashed = true;
                        fig.lines.push(cliff);
                        cliff_drawn = true;
                    }
                }
            }
            if cell.diverged > 0 || cell.above > 0 {
                let here = diverged_here.get(bits).map_or(&[][..], Vec::as_slice);
                let j = here.iter().position(|o| *o == k).unwrap_or(0) as i32;
                let n = here.len() as i32;
                let dx = ((2 * j - (n - 1)) * 5).clamp(-25, 25);
                fig.markers.push(Marker {
                    x: xv,
                    y: diverged_y,
                    dx,
                    shape: if cell.diverged > 0 {
                        Shape::Cross
                    } else {
                        Shape::Ring
                    },
                    color: DIVERGED,
                    size: 6,
                });
            }
        }
        fig.lines.push(Line::solid(points, color, 2));
        let name = if others.is_empty() {
            variant.clone()
        } else {
            format!("{variant} {others}")
        };
        fig.legend.push((name, Key::LineMarker(color, Shape::Dot)));
    }
    for t in &theory {
        let color = variants
            .iter()
            .position(|v| *v == t.variant)
            .map_or(plotters::style::RGBColor(90, 90, 90), |i| colors[i]);
        fig.lines.push(Line {
            dashed: true,
            ..Line::solid(vec![(t.value, y.lo()), (t.value, y.hi())], color, 2)
        });
        fig.legend.push((
            format!("{} = {:.4} ({})", t.label, t.value, t.variant),
            Key::Line(color),
        ));
    }
    if at_minimum {
        fig.legend.push((
            "reached f* exactly (on the bottom edge)".into(),
            Key::Marker(plotters::style::RGBColor(90, 90, 90), Shape::Ring),
        ));
    }
    let cells = || lines.values().flat_map(|c| c.values());
    if cells().any(|c| c.diverged > 0) {
        fig.legend.push((
            "diverged (≥ 1 seed)".into(),
            Key::Marker(DIVERGED, Shape::Cross),
        ));
    }
    if cells().any(|c| c.above > 0) {
        fig.legend.push((
            "ended > 100 × the start (≥ 1 seed)".into(),
            Key::Marker(DIVERGED, Shape::Ring),
        ));
    }
    Some(fig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_bar_stays_within_the_seeds_values() {
        // A spread wider than the mean: mean − std is below zero, the smallest value is not.
        let (mean, lo, hi) = spread(&[1e-6, 1e-6, 3.0]).unwrap();
        assert!((mean - (3.0 + 2e-6) / 3.0).abs() < 1e-12);
        assert_eq!(lo, 1e-6);
        assert!(hi > mean && hi <= 3.0);
        assert_eq!(spread(&[2.0]), Some((2.0, 2.0, 2.0)));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn stems_are_short_and_unique() {
        let keys: BTreeSet<&str> = ["variants.*.lr", "batch.size", "lr", "x"].into();
        let s = stems(&keys);
        assert_eq!(s["batch.size"], "batch_size");
        assert_eq!(s["variants.*.lr"], "variants_lr");
        assert_eq!(s["lr"], "lr");
        assert_eq!(s["x"], "x");
        let keys: BTreeSet<&str> = ["variants.*.lr", "variants.sgd.momentum"].into();
        let s = stems(&keys);
        assert_eq!(s["variants.*.lr"], "lr");
        assert_eq!(s["variants.sgd.momentum"], "sgd_momentum");
    }
}
