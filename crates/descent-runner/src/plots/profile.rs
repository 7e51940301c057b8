//! A benchmark's performance profiles (`descent score`): for each entrant, the fraction of
//! workloads it solved within `tau` times the best entrant's time, as a step line over `tau`
//! from 1 to `max_tau` (Dolan & Moré 2002; AlgoPerf's leaderboard picture). Higher and further
//! left is better; the legend gives each entrant's score (the area under its profile by the
//! trapezoidal rule on the grid, scaled to [0, 1]) with its bootstrap interval.

use super::axis::Axis;
use super::figure::{Figure, Key, Line, colors_for};

/// One entrant's line: its name, the legend's score text and `rho` on the `taus` grid.
pub(crate) struct Entrant<'a> {
    pub name: &'a str,
    pub score: String,
    pub rho: &'a [f64],
}

/// The profiles of `entrants` on the grid `taus`, titled `title`.
pub(crate) fn figure(title: &str, taus: &[f64], entrants: &[Entrant]) -> Figure {
    let max_tau = taus.last().copied().unwrap_or(4.0);
    let mut fig = Figure::new(
        title.to_owned(),
        "tau (time to target / best entrant's time)",
        "fraction of workloads solved within tau",
        Axis::linear(1.0, max_tau),
        Axis::linear(0.0, 1.0).with_headroom(0.96),
    );
    let names: Vec<&str> = entrants.iter().map(|e| e.name).collect();
    let n = entrants.len();
    for (k, (entrant, color)) in entrants.iter().zip(colors_for(&names)).enumerate() {
        // Entrants often share a profile (both at 0, or both best everywhere): each line is
        // drawn thinner than the one before, so coinciding lines show as nested stripes.
        let width = nested_width(k, n);
        // rho is a step function of tau: hold each value up to the next grid point.
        let mut points = Vec::with_capacity(2 * taus.len());
        for (i, (&tau, &rho)) in taus.iter().zip(entrant.rho).enumerate() {
            if i > 0 {
                points.push((tau, entrant.rho[i - 1]));
            }
            points.push((tau, rho));
        }
        fig.lines.push(Line::solid(points, color, width));
        fig.legend.push((
            format!("{}  {}", entrant.name, entrant.score),
            Key::Line(color),
        ));
    }
    fig
}

/// The width of line `k` of `n`: each thinner than the one before, from 12 pixels down to 2
/// (steps of 2 while they fit, then spread over the range), so that lines lying on each other
/// show as nested stripes; past 11 lines neighbours share a width.
fn nested_width(k: usize, n: usize) -> u32 {
    let rank = n.saturating_sub(1 + k);
    let span = n.saturating_sub(1).max(1);
    let width = if n <= 6 {
        2 + 2 * rank
    } else {
        2 + (10 * rank + span / 2) / span
    };
    width as u32
}

/// One workload's times to target: for each entrant, the fraction of its studies that had
/// reached the target by each time (a step line rising at each study's time; a study that
/// missed never raises it), so speed and reliability show together. `None` when no study
/// of any entrant reached the target.
pub(crate) fn times_figure(
    title: &str,
    x_label: &str,
    entrants: &[(&str, &[f64])],
) -> Option<Figure> {
    let finite: Vec<f64> = entrants
        .iter()
        .flat_map(|(_, times)| times.iter().copied().filter(|t| t.is_finite()))
        .collect();
    if finite.is_empty() {
        return None;
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let x = Axis::fit([lo, hi], lo > 0.0 && hi / lo > 20.0, 0.05);
    let mut fig = Figure::new(
        title.to_owned(),
        x_label,
        "fraction of studies (seeds) at the target",
        x,
        Axis::linear(0.0, 1.0).with_headroom(0.96),
    );
    let names: Vec<&str> = entrants.iter().map(|(n, _)| *n).collect();
    let n = entrants.len();
    for (k, ((name, times), color)) in entrants.iter().zip(colors_for(&names)).enumerate() {
        let width = nested_width(k, n);
        let mut reached: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
        reached.sort_by(f64::total_cmp);
        let studies = times.len().max(1) as f64;
        let mut points = vec![(fig.x.lo(), 0.0)];
        for (i, &t) in reached.iter().enumerate() {
            points.push((t, i as f64 / studies));
            points.push((t, (i + 1) as f64 / studies));
        }
        points.push((fig.x.hi(), reached.len() as f64 / studies));
        fig.lines.push(Line::solid(points, color, width));
        fig.legend.push((
            format!("{name}  {}/{} reached", reached.len(), times.len()),
            Key::Line(color),
        ));
    }
    Some(fig)
}

#[cfg(test)]
mod tests {
    use super::nested_width;

    #[test]
    fn each_line_is_thinner_than_the_one_before_up_to_eleven() {
        for n in 1..=11 {
            let widths: Vec<u32> = (0..n).map(|k| nested_width(k, n)).collect();
            assert_eq!(widths.last(), Some(&2), "{widths:?}");
            assert!(widths.windows(2).all(|w| w[0] > w[1]), "{n}: {widths:?}");
            assert!(widths[0] <= 12, "{widths:?}");
        }
        let many: Vec<u32> = (0..26).map(|k| nested_width(k, 26)).collect();
        assert_eq!((many[0], many[25]), (12, 2));
        assert!(many.windows(2).all(|w| w[0] >= w[1]), "{many:?}");
    }
}
