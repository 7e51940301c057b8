//! The six-hump camel: two global minima among four local ones.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow, pair};

/// The six-hump camel `f(x, y) = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (4 y^2 - 4) y^2`.
///
/// Two global minima of value about -1.0316285 at about `(0.089842, -0.712656)` and
/// `(-0.089842, 0.712656)`; four local minima (values about -0.2155 and 2.1043, in symmetric
/// pairs), seven saddles (one at the origin) and two local maxima. All fifteen stationary points
/// are listed, to full `f64` precision (found by Newton's method; `f(-w) = f(w)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SixHumpCamel;

impl Family for SixHumpCamel {
    fn name(&self) -> &'static str {
        "six_hump_camel"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, w: &[f64]) -> f64 {
        let (x, y) = pair(w);
        let x2 = x * x;
        let y2 = y * y;
        (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (4.0 * y2 - 4.0) * y2
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        vec![
            8.0 * x - 8.4 * x.powi(3) + 2.0 * x.powi(5) + y,
            x - 8.0 * y + 16.0 * y.powi(3),
        ]
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        vec![
            8.0 - 25.2 * x * x + 10.0 * x.powi(4),
            1.0,
            1.0,
            -8.0 + 48.0 * y * y,
        ]
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        use CriticalKind::*;
        // One of each symmetric pair; the other is its negative.
        let half = [
            ([0.08984201310031807, -0.7126564030207396], GlobalMinimum),
            ([1.7036067149699814, -0.7960835686726251], LocalMinimum),
            ([1.6071047529201976, 0.5686514548841313], LocalMinimum),
            ([1.1092053368047865, -0.7682680925095399], Saddle),
            ([1.2960702671671092, 0.6050843880386585], Saddle),
            ([1.6380679841897785, 0.22867406904439408], Saddle),
            ([1.2302298765166526, 0.16233458445899498], LocalMaximum),
        ];
        let mut points = vec![CriticalPoint::new(vec![0.0, 0.0], Saddle)];
        for ([x, y], kind) in half {
            points.push(CriticalPoint::new(vec![x, y], kind));
            points.push(CriticalPoint::new(vec![-x, -y], kind));
        }
        points
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-1.0, 1.0))
    }
}

/// The registry's entry: `landscape = "six_hump_camel"`.
pub(super) const SIX_HUMP_CAMEL: LandscapeEntry = LandscapeEntry {
    name: "six_hump_camel",
    summary: "the six-hump camel: two global and four local minima",
    takes: &[],
    build: |_| Ok(SixHumpCamel.into()),
    start: None,
    noise: None,
};
