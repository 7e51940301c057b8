//! Points around and between parameter vectors, and what the loss along them says.
//!
//! - Slices: `w + a d₁ (+ b d₂)` on a [`linspace`] grid, and the [`width_at_rise`] of a 1-D
//!   slice (how far one can move before the loss rises by a given amount: a flatness measure
//!   that, unlike a Hessian eigenvalue, sees beyond the quadratic neighbourhood).
//! - Interpolation: `(1 − a) w₀ + a w₁` ([`interpolate`]), the [`barrier`] between two
//!   solutions (the highest loss on the segment minus the mean of the ends; Garipov et al.
//!   2018, Draxler et al. 2018), and the [`largest_rise`] on the way from the initial to the
//!   final weights (0 where the loss falls monotonically, as Goodfellow et al. 2015 found).
//! - The PCA plane of a trajectory ([`pca_plane`]): the two directions along which the
//!   checkpoints, taken relative to the final point, vary most (Li et al. 2018, §7).

use nalgebra::{DMatrix, SymmetricEigen};

use crate::{Error, Result, check_length, dot, norm};

/// `n` evenly spaced values from `low` to `high`, both included (at least 2).
pub fn linspace(low: f64, high: f64, n: usize) -> Result<Vec<f64>> {
    if n < 2 || !(low.is_finite() && high.is_finite() && low < high) {
        return Err(Error::Option(format!(
            "a grid needs at least 2 points on a finite range low < high (got {n} on [{low}, {high}])"
        )));
    }
    // The division last: grid points that are round numbers come out exactly (0 and 1 on
    // [-0.5, 1.5]), which the interpolation's barrier looks up.
    let span = high - low;
    Ok((0..n)
        .map(|i| {
            if i + 1 == n {
                high
            } else {
                low + span * i as f64 / (n - 1) as f64
            }
        })
        .collect())
}

/// Writes `w + Σ cᵢ dᵢ` into `out`.
pub fn offset(w: &[f64], directions: &[&[f64]], coefficients: &[f64], out: &mut [f64]) {
    out.copy_from_slice(w);
    for (d, &c) in directions.iter().zip(coefficients) {
        if c != 0.0 {
            for (o, d) in out.iter_mut().zip(d.iter()) {
                *o += c * d;
            }
        }
    }
}

/// Writes `(1 − a) w₀ + a w₁` into `out`.
pub fn interpolate(w0: &[f64], w1: &[f64], a: f64, out: &mut [f64]) {
    for ((o, x), y) in out.iter_mut().zip(w0).zip(w1) {
        *o = (1.0 - a) * x + a * y;
    }
}

/// The loss barrier on a segment: where it peaks and by how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Barrier {
    /// The highest loss on `a ∈ [0, 1]` minus the mean of the losses at `a = 0` and `a = 1`
    /// (0 or below: no barrier).
    pub height: f64,
    /// Where on the segment the loss peaks.
    pub at: f64,
}

/// The barrier of the losses `values` at the points `alphas` of a segment; `None` where the
/// grid does not hold both ends (0 and 1).
pub fn barrier(alphas: &[f64], values: &[f64]) -> Option<Barrier> {
    let end = |target: f64| {
        alphas
            .iter()
            .zip(values)
            .find(|(a, _)| (**a - target).abs() < 1e-12)
            .map(|(_, v)| *v)
    };
    let ends = (end(0.0)? + end(1.0)?) / 2.0;
    let (at, peak) = alphas
        .iter()
        .zip(values)
        .filter(|(a, _)| (-1e-12..=1.0 + 1e-12).contains(*a))
        .fold((f64::NAN, f64::NEG_INFINITY), |(at, peak), (&a, &v)| {
            if v > peak { (a, v) } else { (at, peak) }
        });
    Some(Barrier {
        height: peak - ends,
        at,
    })
}

/// The largest rise of the loss on `a ∈ [0, 1]` going from `a = 0` to `a = 1`:
/// `max over a < b of L(b) − L(a)`, 0 where the loss never goes up.
pub fn largest_rise(alphas: &[f64], values: &[f64]) -> f64 {
    let mut points: Vec<(f64, f64)> = alphas
        .iter()
        .copied()
        .zip(values.iter().copied())
        .filter(|(a, _)| (-1e-12..=1.0 + 1e-12).contains(a))
        .collect();
    points.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut lowest = f64::INFINITY;
    let mut rise = 0.0f64;
    for (_, v) in points {
        rise = rise.max(v - lowest);
        lowest = lowest.min(v);
    }
    rise
}

/// The width of the interval around `x = 0` on which a 1-D slice stays within `rise` of its
/// value at 0, the crossings found by linear interpolation between grid points; where the
/// slice never rises that far on one side, that side's end of the grid counts (the width is
/// then a lower bound). `None` where the grid does not hold 0.
pub fn width_at_rise(xs: &[f64], values: &[f64], rise: f64) -> Option<f64> {
    let centre = xs.iter().position(|x| x.abs() < 1e-12)?;
    let limit = values[centre] + rise;
    let crossing = |indices: &mut dyn Iterator<Item = usize>| -> f64 {
        let mut previous = centre;
        for i in indices {
            if values[i] > limit {
                let (x0, v0, x1, v1) = (xs[previous], values[previous], xs[i], values[i]);
                return x0 + (x1 - x0) * (limit - v0) / (v1 - v0);
            }
            previous = i;
        }
        xs[previous]
    };
    let right = crossing(&mut (centre + 1..xs.len()));
    let left = crossing(&mut (0..centre).rev());
    Some(right - left)
}

/// A plane through a point, spanned by two orthonormal directions, and a trajectory's
/// coordinates in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// The two directions (unit length, orthogonal).
    pub directions: [Vec<f64>; 2],
    /// Each point's coordinates along them, relative to the origin.
    pub coordinates: Vec<[f64; 2]>,
    /// The fraction of the points' spread (sum of squared distances to the origin) each
    /// direction holds.
    pub explained: [f64; 2],
}

/// The PCA plane of `points` about `origin` (Li et al. take the final point): the top two
/// eigenvectors of `Σ (p − o)(p − o)ᵀ`, found from the small Gram matrix of the points.
pub fn pca_plane(points: &[Vec<f64>], origin: &[f64]) -> Result<Plane> {
    let n = points.len();
    let dim = origin.len();
    if n < 2 {
        return Err(Error::Option(
            "a PCA plane needs at least 2 points besides the origin".into(),
        ));
    }
    for p in points {
        check_length("a trajectory point", p.len(), dim)?;
    }
    let centred: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().zip(origin).map(|(p, o)| p - o).collect())
        .collect();
    let gram = DMatrix::from_fn(n, n, |i, j| dot(&centred[i], &centred[j]));
    let total = gram.trace();
    let eigen = SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let mut directions: [Vec<f64>; 2] = [vec![0.0; dim], vec![0.0; dim]];
    let mut explained = [0.0; 2];
    for (k, &index) in order.iter().take(2).enumerate() {
        let u = eigen.eigenvectors.column(index);
        for (i, c) in centred.iter().enumerate() {
            for (d, x) in directions[k].iter_mut().zip(c) {
                *d += u[i] * x;
            }
        }
        let length = norm(&directions[k]);
        if length > 0.0 {
            directions[k].iter_mut().for_each(|d| *d /= length);
        }
        explained[k] = if total > 0.0 {
            eigen.eigenvalues[index].max(0.0) / total
        } else {
            0.0
        };
    }
    let coordinates = centred
        .iter()
        .map(|c| [dot(c, &directions[0]), dot(c, &directions[1])])
        .collect();
    Ok(Plane {
        directions,
        coordinates,
        explained,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grids_hold_their_ends() {
        let g = linspace(-1.0, 1.0, 51).unwrap();
        assert_eq!((g[0], g[25], g[50]), (-1.0, 0.0, 1.0));
        assert!(linspace(0.0, 1.0, 1).is_err());
        assert!(linspace(1.0, 0.0, 5).is_err());
    }

    #[test]
    fn a_slice_of_a_quadratic_is_the_closed_form() {
        // f(w) = ½ wᵀ diag(h) w; along w + a d: f(w) + a gᵀd + ½ a² dᵀ H d, exactly.
        let h = [1.0, 4.0, 9.0];
        let f = |w: &[f64]| 0.5 * w.iter().zip(h).map(|(w, h)| h * w * w).sum::<f64>();
        let w = [1.0, -0.5, 0.25];
        let d = [0.3, 0.2, -0.1];
        let g: Vec<f64> = w.iter().zip(h).map(|(w, h)| h * w).collect();
        let curvature: f64 = d.iter().zip(h).map(|(d, h)| h * d * d).sum();
        let mut point = [0.0; 3];
        for a in linspace(-1.0, 1.0, 51).unwrap() {
            offset(&w, &[&d], &[a], &mut point);
            let closed = f(&w) + a * dot(&g, &d) + 0.5 * a * a * curvature;
            assert!((f(&point) - closed).abs() < 1e-14, "at {a}");
        }
    }

    #[test]
    fn barrier_and_rise_of_known_paths() {
        let alphas = linspace(-0.5, 1.5, 9).unwrap(); // -0.5, -0.25, 0, ..., 1.5
        // Ends 2 and 0 (mean 1), back up to 2 at a = 0.5: barrier 2 - 1 = 1, first reached at 0.
        let values = [9.0, 9.0, 2.0, 1.5, 2.0, 0.5, 0.0, 9.0, 9.0];
        let b = barrier(&alphas, &values).unwrap();
        assert_eq!((b.height, b.at), (1.0, 0.0));
        // From 1.5 at 0.25 up to 2.0 at 0.5: a rise of 0.5.
        assert_eq!(largest_rise(&alphas, &values), 0.5);
        let falling = [9.0, 9.0, 4.0, 3.0, 2.0, 1.0, 0.0, 9.0, 9.0];
        assert_eq!(largest_rise(&alphas, &falling), 0.0);
        assert!(barrier(&alphas, &falling).unwrap().height == 2.0);
        assert!(barrier(&[0.0, 0.5], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn width_of_a_parabola() {
        // v = x²: within 0.25 of v(0) = 0 on |x| ≤ 0.5, width 1 (the grid's linear
        // interpolation is exact at grid points 0.5 here).
        let xs = linspace(-1.0, 1.0, 41).unwrap();
        let values: Vec<f64> = xs.iter().map(|x| x * x).collect();
        let w = width_at_rise(&xs, &values, 0.25).unwrap();
        assert!((w - 1.0).abs() < 1e-9, "{w}");
        // Never rising that far: the whole grid, a lower bound.
        assert_eq!(width_at_rise(&xs, &values, 5.0), Some(2.0));
    }

    #[test]
    fn pca_recovers_a_planar_trajectory() {
        // Points on the plane spanned by e0 and (e1 + e2)/√2, about the origin (1, 1, 1, 1).
        let origin = vec![1.0; 4];
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let points: Vec<Vec<f64>> = [(3.0, 0.5), (2.0, -0.4), (1.0, 0.3), (0.0, 0.0)]
            .iter()
            .map(|&(a, b)| vec![1.0 + a, 1.0 + b * s, 1.0 + b * s, 1.0])
            .collect();
        let plane = pca_plane(&points, &origin).unwrap();
        assert!((plane.explained[0] + plane.explained[1] - 1.0).abs() < 1e-12);
        assert!(plane.explained[0] > plane.explained[1]);
        assert!(dot(&plane.directions[0], &plane.directions[1]).abs() < 1e-12);
        // Each point is rebuilt exactly from its two coordinates.
        for (p, c) in points.iter().zip(&plane.coordinates) {
            for i in 0..4 {
                let rebuilt =
                    origin[i] + c[0] * plane.directions[0][i] + c[1] * plane.directions[1][i];
                assert!((rebuilt - p[i]).abs() < 1e-12);
            }
        }
    }
}
