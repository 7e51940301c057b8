//! Beale's function: a plateau cut by narrow curved valleys.

use super::{CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow, pair};

/// The constants `c_k` of the three residuals.
const C: [f64; 3] = [1.5, 2.25, 2.625];

/// Beale's function `f(x, y) = sum_{k=1}^{3} (c_k - x + x y^k)^2`, `c = (1.5, 2.25, 2.625)`.
///
/// Global minimum 0 at `(3, 1/2)`. The line `x = 0` is a plateau of value 14.203125 on which
/// `(0, 1)` is a strict saddle (Hessian `[[0, 27.75], [27.75, 0]]`); a second saddle lies at
/// about `(0.100538, -2.644514)` (value 9.8645). Both saddles are listed. Usual domain
/// `[-4.5, 4.5]^2`; values grow like `x^2 y^6`, so keep steps small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Beale;

impl Family for Beale {
    fn name(&self) -> &'static str {
        "beale"
    }

    fn dim(&self) -> usize {
        2
    }

    fn value(&self, w: &[f64]) -> f64 {
        let (x, y) = pair(w);
        C.iter()
            .zip(1..)
            .map(|(c, k)| (c - x + x * y.powi(k)).powi(2))
            .sum()
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        let mut g = vec![0.0; 2];
        for (c, k) in C.iter().zip(1..) {
            let r = c - x + x * y.powi(k);
            g[0] += 2.0 * r * (y.powi(k) - 1.0);
            g[1] += 2.0 * r * f64::from(k) * x * y.powi(k - 1);
        }
        g
    }

    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        let (x, y) = pair(w);
        let (mut xx, mut xy, mut yy) = (0.0, 0.0, 0.0);
        for (c, k) in C.iter().zip(1..) {
            let kf = f64::from(k);
            let r = c - x + x * y.powi(k);
            let rx = y.powi(k) - 1.0;
            let ry = kf * x * y.powi(k - 1);
            let rxy = kf * y.powi(k - 1);
            let ryy = if k >= 2 {
                kf * (kf - 1.0) * x * y.powi(k - 2)
            } else {
                0.0
            };
            xx += 2.0 * rx * rx;
            xy += 2.0 * (rx * ry + r * rxy);
            yy += 2.0 * (ry * ry + r * ryy);
        }
        vec![xx, xy, xy, yy]
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![
            CriticalPoint::new(vec![3.0, 0.5], CriticalKind::GlobalMinimum),
            CriticalPoint::new(vec![0.0, 1.0], CriticalKind::Saddle),
            CriticalPoint::new(
                vec![0.10053793732415837, -2.644513585023125],
                CriticalKind::Saddle,
            ),
        ]
    }

    fn window(&self) -> PlotWindow {
        PlotWindow::new((-4.5, 4.5), (-4.5, 4.5))
    }
}

/// The registry's entry: `landscape = "beale"`.
pub(super) const BEALE: LandscapeEntry = LandscapeEntry {
    name: "beale",
    summary: "Beale's plateau and narrow valleys",
    takes: &[],
    build: |_| Ok(Beale.into()),
    start: None,
    noise: None,
};
