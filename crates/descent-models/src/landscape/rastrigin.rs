//! Rastrigin's function: a bowl under an egg-crate of local minima.

use std::f64::consts::PI;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{CriticalKind, CriticalPoint, Family, PlotWindow};
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

    fn graph<B: Backend>(&self, w: Tensor<B, 1>) -> Tensor<B, 1> {
        let ripples = w.clone().mul_scalar(2.0 * PI).cos().mul_scalar(A);
        w.square()
            .sub(ripples)
            .sum()
            .add_scalar(A * self.dim as f64)
    }
}
