//! Himmelblau's function: four global minima of equal depth.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow, pair};

/// Himmelblau's function `f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2`.
///
/// Four global minima, all of value 0: `(3, 2)`, about `(-2.805118, 3.131313)`,
/// `(-3.779310, -3.283186)` and `(3.584428, -1.848127)`. Between them four saddles (values about
/// 104.0, 178.3, 67.7 and 13.3) and a local maximum at about `(-0.270845, -0.923039)`
/// (value 181.617). All nine are listed, to full `f64` precision (found by Newton's method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Himmelblau;

impl Family for Himmelblau {
    fn name(&self) -> &'static str {
        "himmelblau"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, w: &[f64]) -> f64 {
        let (x, y) = pair(w);
        (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2)
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        let a = x * x + y - 11.0;
        let b = x + y * y - 7.0;
        vec![4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b]
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        let xy = 4.0 * (x + y);
        vec![
            12.0 * x * x + 4.0 * y - 42.0,
            xy,
            xy,
            4.0 * x + 12.0 * y * y - 26.0,
        ]
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        use CriticalKind::*;
        [
            ([3.0, 2.0], GlobalMinimum),
            ([-2.805118086952745, 3.131312518250573], GlobalMinimum),
            ([-3.779310253377747, -3.2831859912861696], GlobalMinimum),
            ([3.5844283403304917, -1.8481265269644036], GlobalMinimum),
            ([-3.0730257507643897, -0.08135304428796751], Saddle),
            ([-0.12796134673068005, -1.9537149802445766], Saddle),
            ([0.08667750455539634, 2.884254701174776], Saddle),
            ([3.385154183607021, 0.07385187983774928], Saddle),
            ([-0.2708445906673476, -0.9230385564799816], LocalMaximum),
        ]
        .into_iter()
        .map(|(p, kind)| CriticalPoint::new(p.to_vec(), kind))
        .collect()
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-5.0, 5.0), (-5.0, 5.0))
    }
}

/// The registry's entry: `landscape = "himmelblau"`.
pub(super) const HIMMELBLAU: LandscapeEntry = LandscapeEntry {
    name: "himmelblau",
    summary: "Himmelblau's four minima",
    takes: &[],
    build: |_| Ok(Himmelblau.into()),
    start: None,
    noise: None,
};
