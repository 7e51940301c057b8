//! Saddles: where gradient descent slows down and noise helps it escape.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{CriticalKind, CriticalPoint, Family, PlotWindow, pair, split2};

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

    fn graph<B: Backend>(&self, w: Tensor<B, 1>) -> Tensor<B, 1> {
        let (x, y) = split2(w);
        x.square().sub(y.square())
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

    fn graph<B: Backend>(&self, w: Tensor<B, 1>) -> Tensor<B, 1> {
        let (x, y) = split2(w);
        let x2 = x.square();
        x2.clone()
            .square()
            .mul_scalar(0.25)
            .sub(x2.mul_scalar(0.5))
            .add(y.square().mul_scalar(0.5))
    }
}
