//! Across runs (`[plots] scatter = "test_accuracy"`): each run's last value of every probe
//! measurement against its final value of one metric, one marker per run, coloured by
//! variant and shaped by sweep point, with Spearman's rank correlation ρ over the runs in
//! the title. Does a sharper end go with a worse test result, run by run?

use std::collections::BTreeSet;

use super::axis::Axis;
use super::data::Run;
use super::figure::{Figure, Key, Marker, Shape, colors_for};
use super::title;

const SHAPES: [Shape; 3] = [Shape::Dot, Shape::Ring, Shape::Cross];
/// Fewer runs than this make no picture.
const FEWEST: usize = 3;

/// `scatter_<measurement>` for every plotted measurement that the finished runs share with
/// the final value of `metric`.
pub(crate) fn figures(experiment: &str, runs: &[Run], metric: &str) -> Vec<(String, Figure)> {
    let finished: Vec<(&Run, f64)> = runs
        .iter()
        .filter(|r| !r.diverged)
        .filter_map(|r| Some((r, r.series(metric).last()?.1)))
        .collect();
    let names: BTreeSet<&str> = finished
        .iter()
        .flat_map(|(r, _)| r.measurements.keys().map(String::as_str))
        .filter(|n| *n != metric && crate::probe::is_plotted(n) && !crate::probe::is_categorical(n))
        .collect();
    let mut variants: Vec<&str> = Vec::new();
    let mut labels: Vec<&str> = Vec::new();
    for (r, _) in &finished {
        if !variants.contains(&r.variant.as_str()) {
            variants.push(&r.variant);
        }
        if !labels.contains(&r.label.as_str()) {
            labels.push(&r.label);
        }
    }
    let colors = colors_for(&variants);
    let mut out = Vec::new();
    for name in names {
        let points: Vec<(&Run, f64, f64)> = finished
            .iter()
            .filter_map(|(r, y)| {
                let x = r.measurements.get(name)?.last()?.1;
                (x.is_finite() && y.is_finite()).then_some((*r, x, *y))
            })
            .collect();
        if points.len() < FEWEST {
            continue;
        }
        let xs: Vec<f64> = points.iter().map(|p| p.1).collect();
        let ys: Vec<f64> = points.iter().map(|p| p.2).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        let log = lo > 0.0 && hi / lo > 20.0;
        let heading = match spearman(&xs, &ys) {
            Some(rho) => format!("{metric} vs {name}: ρ = {rho:.2} ({} runs)", points.len()),
            None => format!("{metric} vs {name} ({} runs)", points.len()),
        };
        let mut fig = Figure::new(
            title(experiment, &heading),
            &format!("{name} (last measurement)"),
            &format!("final {metric}"),
            Axis::fit(xs.iter().copied(), log, 0.05),
            Axis::fit(ys.iter().copied(), false, 0.08),
        );
        for (run, x, y) in &points {
            let variant = variants.iter().position(|v| *v == run.variant).unwrap_or(0);
            let label = labels.iter().position(|l| *l == run.label).unwrap_or(0);
            fig.markers.push(Marker {
                x: *x,
                y: *y,
                dx: 0,
                shape: SHAPES[label % SHAPES.len()],
                color: colors[variant],
                size: 5,
            });
        }
        for (variant, color) in variants.iter().zip(&colors) {
            fig.legend
                .push(((*variant).to_owned(), Key::Marker(*color, Shape::Dot)));
        }
        if labels.len() > 1 {
            for (i, label) in labels.iter().enumerate() {
                fig.legend.push((
                    (*label).to_owned(),
                    Key::Marker(plotters::style::colors::BLACK, SHAPES[i % SHAPES.len()]),
                ));
            }
        }
        out.push((format!("scatter_{}", stem(name)), fig));
    }
    out
}

fn stem(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Spearman's rank correlation (ties share their mean rank); `None` when either side is
/// constant.
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mean) * (b - mean);
        sxx += (a - mean) * (a - mean);
        syy += (b - mean) * (b - mean);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// 1-based ranks, ties given the mean of the ranks they span.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let shared = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = shared;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_hand_computed_values() {
        // Monotone: 1; reversed: -1.
        assert_eq!(spearman(&[1.0, 2.0, 5.0], &[0.1, 0.5, 0.9]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 5.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        // Ranks x = (1, 2, 3, 4), y = (2, 1, 4, 3): 1 - 6 * 4 / (4 * 15) = 0.6.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0], &[20.0, 10.0, 40.0, 30.0]).unwrap();
        assert!((rho - 0.6).abs() < 1e-12, "{rho}");
        // Ties share the mean rank: x ranks (1.5, 1.5, 3).
        assert_eq!(ranks(&[2.0, 2.0, 7.0]), vec![1.5, 1.5, 3.0]);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }
}
