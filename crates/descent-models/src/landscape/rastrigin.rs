//! Rastrigin's function: a bowl under an egg-crate of local minima.

use std::f64::consts::PI;

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow};
use crate::ModelError;

/// The amplitude `A` of the cosine ripples.
const A: f64 = 10.0;

/// Rastrigin's function `f(w) = 10 n + sum_i (w_i^2 - 10 cos(2 pi w_i))`.
///
/// Global minimum 0 at the origin; near every integer lattice point there is a local minimum
/// (about `k^2` higher for a coordinate near `k`), so a local method stops in whichever basin
/// it starts in. The local minima are not listed. Usual domain `[-5.12, 5.12]^n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rastrigin {
    dim: usize,
}

impl Rastrigin {
    /// Rastrigin's function in `dim >= 1` dimensions.
    pub fn new(dim: usize) -> Result<Self, ModelError> {
        if dim < 1 {
            return Err(ModelError::TooFewDimensions {
                landscape: "rastrigin",
                min: 1,
                got: dim,
            });
        }
        Ok(Rastrigin { dim })
    }
}

impl Family for Rastrigin {
    fn name(&self) -> &'static str {
        "rastrigin"
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn value(&self, w: &[f64]) -> f64 {
        A * w.len() as f64
            + w.iter()
                .map(|x| x * x - A * (2.0 * PI * x).cos())
                .sum::<f64>()
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        w.iter()
            .map(|x| 2.0 * x + 2.0 * PI * A * (2.0 * PI * x).sin())
            .collect()
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let n = w.len();
        let mut h = vec![0.0; n * n];
        for (i, x) in w.iter().enumerate() {
            h[i * n + i] = 2.0 + 4.0 * PI * PI * A * (2.0 * PI * x).cos();
        }
        h
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![CriticalPoint::new(
            vec![0.0; self.dim],
            CriticalKind::GlobalMinimum,
        )]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-5.12, 5.12), (-5.12, 5.12))
    }
}

/// The registry's entry: `landscape = "rastrigin"`.
pub(super) const RASTRIGIN: LandscapeEntry = LandscapeEntry {
    name: "rastrigin",
    summary: "Rastrigin's many minima in `dim` dimensions (default 2)",
    takes: &["dim"],
    build: |p| Ok(Rastrigin::new(p.dim_or(2))?.into()),
    start: None,
    noise: None,
};
