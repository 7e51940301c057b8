//! Rosenbrock's banana valley, in two or more dimensions.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow};
use crate::ModelError;

/// Rosenbrock's function `f(w) = sum_{i=0}^{n-2} 100 (w_{i+1} - w_i^2)^2 + (1 - w_i)^2`.
///
/// For `n = 2` the classic `(1 - x)^2 + 100 (y - x^2)^2`. The global minimum is 0 at
/// `(1, ..., 1)`, at the end of a long curved valley whose floor is nearly flat: the Hessian
/// there has condition number about 2508 in 2-D. For `4 <= n <= 7` there is also a local
/// minimum near `(-1, 1, ..., 1)`, which is not listed (it is known only numerically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rosenbrock {
    dim: usize,
}

impl Rosenbrock {
    /// Rosenbrock's function in `dim >= 2` dimensions.
    pub fn new(dim: usize) -> Result<Self, ModelError> {
        if dim < 2 {
            return Err(ModelError::TooFewDimensions {
                landscape: "rosenbrock",
                min: 2,
                got: dim,
            });
        }
        Ok(Rosenbrock { dim })
    }

    /// The classic 2-D valley.
    pub fn two_d() -> Self {
        Rosenbrock { dim: 2 }
    }
}

impl Family for Rosenbrock {
    fn name(&self) -> &'static str {
        "rosenbrock"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, w: &[f64]) -> f64 {
        w.windows(2)
            .map(|p| 100.0 * (p[1] - p[0] * p[0]).powi(2) + (1.0 - p[0]).powi(2))
            .sum()
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let mut g = vec![0.0; w.len()];
        for (i, p) in w.windows(2).enumerate() {
            let valley = p[1] - p[0] * p[0];
            g[i] += -400.0 * p[0] * valley - 2.0 * (1.0 - p[0]);
            g[i + 1] += 200.0 * valley;
        }
        g
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let n = w.len();
        let mut h = vec![0.0; n * n];
        for (i, p) in w.windows(2).enumerate() {
            h[i * n + i] += 1200.0 * p[0] * p[0] - 400.0 * p[1] + 2.0;
            h[(i + 1) * n + i + 1] += 200.0;
            h[i * n + i + 1] = -400.0 * p[0];
            h[(i + 1) * n + i] = -400.0 * p[0];
        }
        h
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![CriticalPoint::new(
            vec![1.0; self.dim],
            CriticalKind::GlobalMinimum,
        )]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-1.0, 3.0))
    }
}

/// The registry's entry: `landscape = "rosenbrock"`.
pub(super) const ROSENBROCK: LandscapeEntry = LandscapeEntry {
    name: "rosenbrock",
    summary: "Rosenbrock's valley in `dim` dimensions (default 2)",
    takes: &["dim"],
    build: |p| Ok(Rosenbrock::new(p.dim_or(2))?.into()),
    start: None,
    noise: None,
};
