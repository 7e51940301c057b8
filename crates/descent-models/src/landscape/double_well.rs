//! An asymmetric double well: a shallow minimum that traps, a deep one that does not.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow};
use crate::ModelError;

/// The asymmetric double well `f(w) = x^4/4 - x^3/3 - x^2 + 1/2 sum_{j >= 1} w_j^2`, `x = w_0`.
///
/// Along `x`, `f'(x) = x (x + 1) (x - 2)`: a shallow local minimum at `x = -1` (value
/// `-5/12`, curvature 3), the deep global minimum at `x = 2` (value `-8/3`, curvature 6), and
/// between them the barrier top at `x = 0` (value 0), `5/12` above the shallow minimum and `8/3`
/// above the deep one. The other coordinates are a unit-curvature bowl, so in 2-D and up the
/// barrier top is a saddle (in 1-D a local maximum). Listed: `(2, 0, ...)` global,
/// `(-1, 0, ...)` local, `(0, ..., 0)` saddle or maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoubleWell {
    dim: usize,
}

impl DoubleWell {
    /// The double well in `dim >= 1` dimensions (1: the bare quartic; 2: the usual contour plot).
    pub fn new(dim: usize) -> Result<Self, ModelError> {
        if dim < 1 {
            return Err(ModelError::TooFewDimensions {
                landscape: "double_well",
                min: 1,
                got: dim,
            });
        }
        Ok(DoubleWell { dim })
    }

    fn at(&self, x: f64) -> Vec<f64> {
        let mut w = vec![0.0; self.dim];
        if let Some(first) = w.first_mut() {
            *first = x;
        }
        w
    }
}

impl Family for DoubleWell {
    fn name(&self) -> &'static str {
        "double_well"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, w: &[f64]) -> f64 {
        match w.split_first() {
            Some((x, rest)) => {
                x.powi(4) / 4.0 - x.powi(3) / 3.0 - x * x
                    + rest.iter().map(|y| y * y).sum::<f64>() / 2.0
            }
            None => 0.0,
        }
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let mut g = w.to_vec();
        if let Some(x) = g.first_mut() {
            *x = *x * (*x + 1.0) * (*x - 2.0);
        }
        g
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let n = w.len();
        let mut h = vec![0.0; n * n];
        for i in 1..n {
            h[i * n + i] = 1.0;
        }
        if let (Some(x), Some(h00)) = (w.first(), h.first_mut()) {
            *h00 = 3.0 * x * x - 2.0 * x - 2.0;
        }
        h
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        let top = if self.dim >= 2 {
            CriticalKind::Saddle
        } else {
            CriticalKind::LocalMaximum
        };
        vec![
            CriticalPoint::new(self.at(2.0), CriticalKind::GlobalMinimum),
            CriticalPoint::new(self.at(-1.0), CriticalKind::LocalMinimum),
            CriticalPoint::new(self.at(0.0), top),
        ]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 3.0), (-2.0, 2.0))
    }
}

/// The registry's entry: `landscape = "double_well"`.
pub(super) const DOUBLE_WELL: LandscapeEntry = LandscapeEntry {
    name: "double_well",
    summary: "a shallow and a deep minimum in `dim` dimensions (default 2)",
    takes: &["dim"],
    build: |p| Ok(DoubleWell::new(p.dim_or(2))?.into()),
    start: None,
    noise: None,
};
