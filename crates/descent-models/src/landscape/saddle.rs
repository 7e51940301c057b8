//! Saddles: where gradient descent slows down and noise helps it escape.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow, pair};

/// The strict saddle `f(x, y) = x^2 - y^2`.
///
/// Its only stationary point is the saddle at the origin (Hessian `diag(2, -2)`); it has no
/// minimum, so a run that escapes the saddle diverges along `y`. Gradient descent started on
/// the line `y = 0` converges to the saddle; any perturbation in `y` grows by `1 + 2 eta` per
/// step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StrictSaddle;

impl Family for StrictSaddle {
    fn name(&self) -> &'static str {
        "strict_saddle"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, w: &[f64]) -> f64 {
        let (x, y) = pair(w);
        x * x - y * y
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        vec![2.0 * x, -2.0 * y]
    }

    fn hessian(&self, _w: &[f64]) -> Vec<f64> {
        vec![2.0, 0.0, 0.0, -2.0]
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![CriticalPoint::new(vec![0.0, 0.0], CriticalKind::Saddle)]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-2.0, 2.0))
    }
}

/// A strict saddle between two minima, bounded below:
/// `f(x, y) = x^4 / 4 - x^2 / 2 + y^2 / 2`.
///
/// Global minima `(1, 0)` and `(-1, 0)`, value -1/4 (Hessian `diag(2, 1)`); saddle at the
/// origin, value 0 (Hessian `diag(-1, 1)`). Gradient descent from `(0, y)` converges to the
/// saddle; from anywhere else it reaches a minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BoundedSaddle;

impl Family for BoundedSaddle {
    fn name(&self) -> &'static str {
        "bounded_saddle"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, w: &[f64]) -> f64 {
        let (x, y) = pair(w);
        x.powi(4) / 4.0 - x * x / 2.0 + y * y / 2.0
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        vec![x.powi(3) - x, y]
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let (x, _) = pair(w);
        vec![3.0 * x * x - 1.0, 0.0, 0.0, 1.0]
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![
            CriticalPoint::new(vec![1.0, 0.0], CriticalKind::GlobalMinimum),
            CriticalPoint::new(vec![-1.0, 0.0], CriticalKind::GlobalMinimum),
            CriticalPoint::new(vec![0.0, 0.0], CriticalKind::Saddle),
        ]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-1.5, 1.5))
    }
}

/// The registry's entry: `landscape = "strict_saddle"`.
pub(super) const STRICT_SADDLE: LandscapeEntry = LandscapeEntry {
    name: "strict_saddle",
    summary: "x^2 - y^2: a strict saddle, unbounded below",
    takes: &[],
    build: |_| Ok(StrictSaddle.into()),
    start: None,
    noise: None,
};

/// The registry's entry: `landscape = "bounded_saddle"`.
pub(super) const BOUNDED_SADDLE: LandscapeEntry = LandscapeEntry {
    name: "bounded_saddle",
    summary: "x^4/4 - x^2/2 + y^2/2: a saddle between two minima",
    takes: &[],
    build: |_| Ok(BoundedSaddle.into()),
    start: None,
    noise: None,
};
