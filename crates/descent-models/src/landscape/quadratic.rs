//! Quadratic bowls with chosen curvature: the landscape where every optimizer has a theory.

use descent_data::rng::{Purpose, stream};
use rand_distr::{Distribution, StandardNormal};

use super::{
    CriticalKind, CriticalPoint, Family, Landscape, LandscapeEntry, LandscapeParams, PlotWindow,
};
use crate::ModelError;

/// How the eigenvectors of a [`Quadratic`]'s Hessian are oriented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rotation {
    /// Axis-aligned: `A = diag(eigenvalues)`.
    None,
    /// 2-D only: the bowl turned counter-clockwise by this angle (radians), so the eigenvector
    /// of `eigenvalues[0]` points along `(cos theta, sin theta)`.
    Angle(f64),
    /// Any dimension: a random orthogonal basis (Haar-distributed), the `Q` of the Householder
    /// QR decomposition of an `n x n` standard Gaussian matrix drawn by ChaCha8 from this seed.
    Seeded(u64),
}

/// The quadratic `f(w) = 1/2 (w - c)^T A (w - c)` with `A = Q diag(lambda) Q^T`.
///
/// `Q` is orthogonal with the eigenvectors of `A` as columns (in the `R^T diag(lambda) R` form,
/// `R = Q^T`). Gradient `A (w - c)`, Hessian `A`. If every eigenvalue is positive, `c` is the
/// unique minimiser with value 0; with some zero and none negative it is one of a subspace of
/// minimisers; with mixed signs it is a saddle, with all negative a maximum. Gradient descent
/// with step `eta` converges iff `eta < 2 / lambda_max` (all `lambda > 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct Quadratic {
    name: &'static str,
    eigenvalues: Vec<f64>,
    /// `Q`, row-major.
    basis: Vec<f64>,
    /// `A`, row-major and exactly symmetric.
    matrix: Vec<f64>,
    centre: Vec<f64>,
}

impl Quadratic {
    /// The quadratic with these Hessian eigenvalues (any finite numbers; their count is the
    /// dimension), eigenvectors oriented by `rotation`, and minimiser (or saddle) `centre`
    /// (the origin if `None`).
    pub fn new(
        eigenvalues: &[f64],
        rotation: Rotation,
        centre: Option<&[f64]>,
    ) -> Result<Self, ModelError> {
        let n = eigenvalues.len();
        if n == 0 {
            return Err(ModelError::TooFewDimensions {
                landscape: "quadratic",
                min: 1,
                got: 0,
            });
        }
        finite("eigenvalue", eigenvalues)?;
        let centre = match centre {
            Some(c) if c.len() != n => {
                return Err(ModelError::Dimension {
                    landscape: "quadratic",
                    expected: n,
                    got: c.len(),
                });
            }
            Some(c) => {
                finite("centre coordinate", c)?;
                c.to_vec()
            }
            None => vec![0.0; n],
        };
        let basis = match rotation {
            Rotation::None => identity(n),
            Rotation::Angle(theta) if n == 2 => {
                finite("rotation angle", &[theta])?;
                let (s, c) = theta.sin_cos();
                vec![c, -s, s, c]
            }
            Rotation::Angle(_) => return Err(ModelError::AngleNeedsTwoDimensions { got: n }),
            Rotation::Seeded(seed) => random_orthogonal(n, seed),
        };
        Ok(Self::from_parts(
            "quadratic",
            eigenvalues.to_vec(),
            basis,
            centre,
        ))
    }

    /// The elongated bowl `x^2 + 4 y^2`: eigenvalues 2 and 8, no rotation, minimum 0 at the
    /// origin. Named `"elongated_bowl"`.
    pub fn elongated_bowl() -> Self {
        Self::from_parts("elongated_bowl", vec![2.0, 8.0], identity(2), vec![0.0; 2])
    }

    pub(super) fn from_parts(
        name: &'static str,
        eigenvalues: Vec<f64>,
        basis: Vec<f64>,
        centre: Vec<f64>,
    ) -> Self {
        let n = eigenvalues.len();
        let mut matrix = vec![0.0; n * n];
        for i in 0..n {
            for j in i..n {
                let a: f64 = (0..n)
                    .map(|k| basis[i * n + k] * eigenvalues[k] * basis[j * n + k])
                    .sum();
                matrix[i * n + j] = a;
                matrix[j * n + i] = a;
            }
        }
        Quadratic {
            name,
            eigenvalues,
            basis,
            matrix,
            centre,
        }
    }

    /// The Hessian's eigenvalues, in the order given.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// `Q`, row-major: column `k` is the eigenvector of `eigenvalues()[k]`.
    pub fn basis(&self) -> &[f64] {
        &self.basis
    }

    /// `A`, row-major.
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }

    /// The stationary point `c`.
    pub fn centre(&self) -> &[f64] {
        &self.centre
    }

    fn displacement(&self, w: &[f64]) -> Vec<f64> {
        w.iter().zip(&self.centre).map(|(w, c)| w - c).collect()
    }

    fn apply(&self, d: &[f64]) -> Vec<f64> {
        self.matrix
            .chunks_exact(d.len().max(1))
            .map(|row| row.iter().zip(d).map(|(a, d)| a * d).sum())
            .collect()
    }
}

impl Family for Quadratic {
    fn name(&self) -> &'static str {
        self.name
    }

    fn dim(&self) -> usize {
        self.eigenvalues.len()
    }

    fn value(&self, w: &[f64]) -> f64 {
        let d = self.displacement(w);
        0.5 * self
            .apply(&d)
            .iter()
            .zip(&d)
            .map(|(a, d)| a * d)
            .sum::<f64>()
    }

    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        self.apply(&self.displacement(w))
    }

    fn hessian(&self, _w: &[f64]) -> Vec<f64> {
        self.matrix.clone()
    }

    fn critical_points(&self) -> Vec<CriticalPoint> {
        let negative = self.eigenvalues.iter().any(|&l| l < 0.0);
        let positive = self.eigenvalues.iter().any(|&l| l > 0.0);
        let kind = match (negative, positive) {
            (false, _) => CriticalKind::GlobalMinimum,
            (true, true) => CriticalKind::Saddle,
            (true, false) => CriticalKind::LocalMaximum,
        };
        vec![CriticalPoint::new(self.centre.clone(), kind)]
    }

    fn window(&self) -> PlotWindow {
        let x = self.centre.first().copied().unwrap_or(0.0);
        let y = self.centre.get(1).copied().unwrap_or(0.0);
        PlotWindow::new((x - 3.0, x + 3.0), (y - 3.0, y + 3.0))
    }
}

fn finite(what: &'static str, values: &[f64]) -> Result<(), ModelError> {
    match values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(ModelError::NonFinite { what, index, value }),
        None => Ok(()),
    }
}

fn identity(n: usize) -> Vec<f64> {
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    q
}

/// The `Q` of the QR decomposition of a seeded Gaussian matrix, by Householder reflections,
/// with the column signs fixed so that `R` has a positive diagonal: without that fix `Q` is not
/// Haar-distributed (Mezzadri, "How to generate random matrices from the classical compact
/// groups", 2007). `A = Q diag Q^T` does not depend on the signs, the eigenvectors do.
fn random_orthogonal(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = stream(seed, Purpose::Rotation, 0);
    let mut a: Vec<f64> = (0..n * n)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let mut q = identity(n);
    let mut signs = vec![1.0; n];
    for k in 0..n {
        let norm = (k..n).map(|i| a[i * n + k].powi(2)).sum::<f64>().sqrt();
        let head = a[k * n + k];
        // Reflecting x onto -sign(x_k) |x| e_k avoids cancellation in v = x - alpha e_k.
        let alpha = if head >= 0.0 { -norm } else { norm };
        let mut v = vec![0.0; n];
        for i in k..n {
            v[i] = a[i * n + k];
        }
        v[k] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        if vv > 0.0 && k + 1 < n {
            // a <- H a on the trailing columns, q <- q H; H = I - 2 v v^T / v^T v.
            for j in k..n {
                let s = 2.0 * (k..n).map(|i| v[i] * a[i * n + j]).sum::<f64>() / vv;
                for i in k..n {
                    a[i * n + j] -= s * v[i];
                }
            }
            for r in 0..n {
                let s = 2.0 * (k..n).map(|i| q[r * n + i] * v[i]).sum::<f64>() / vv;
                for i in k..n {
                    q[r * n + i] -= s * v[i];
                }
            }
            signs[k] = if alpha < 0.0 { -1.0 } else { 1.0 };
        } else if head < 0.0 {
            // No reflection applied (last column, or an exactly zero column): R_kk = head.
            signs[k] = -1.0;
        }
    }
    for r in 0..n {
        for (k, s) in signs.iter().enumerate() {
            q[r * n + k] *= s;
        }
    }
    q
}

/// The registry's entry: `landscape = "quadratic"`.
pub(super) const QUADRATIC: LandscapeEntry = LandscapeEntry {
    name: "quadratic",
    summary: "1/2 w^T A w with chosen eigenvalues (dim with two: a geometric spectrum), rotated by angle (2-D) or rotation_seed",
    takes: &["eigenvalues", "angle", "rotation_seed", "dim"],
    build: build_quadratic,
    start: None,
    noise: None,
};

/// The registry's entry: `landscape = "elongated_bowl"`.
pub(super) const ELONGATED_BOWL: LandscapeEntry = LandscapeEntry {
    name: "elongated_bowl",
    summary: "x^2 + 4 y^2 (eigenvalues 2 and 8)",
    takes: &[],
    build: |_| Ok(Quadratic::elongated_bowl().into()),
    start: None,
    noise: None,
};

fn build_quadratic(params: &LandscapeParams) -> Result<Landscape, ModelError> {
    let missing = || ModelError::LandscapeParameter {
        parameter: "eigenvalues",
        reason: "a quadratic needs its Hessian's eigenvalues".to_string(),
    };
    let given = params.eigenvalues.as_deref().ok_or_else(missing)?;
    let eigenvalues = match (params.dim, given) {
        (None, _) => given.to_vec(),
        (Some(n), _) if n == given.len() => given.to_vec(),
        // The two ends of a spectrum spread geometrically over `dim` eigenvalues.
        (Some(n), [low, high]) if n >= 2 && *low > 0.0 && *high > 0.0 => (0..n)
            .map(|i| low * (high / low).powf(i as f64 / (n - 1) as f64))
            .collect(),
        (Some(n), _) => {
            return Err(ModelError::LandscapeParameter {
                parameter: "eigenvalues",
                reason: format!(
                    "{} eigenvalues for dim = {n}: give {n}, or two positive ones (the \
                     smallest and largest, spread geometrically)",
                    given.len()
                ),
            });
        }
    };
    let rotation = match (params.angle, params.rotation_seed) {
        (Some(_), Some(_)) => {
            return Err(ModelError::LandscapeParameter {
                parameter: "rotation_seed",
                reason: "give either angle (2-D) or rotation_seed, not both".to_string(),
            });
        }
        (Some(angle), None) => Rotation::Angle(angle),
        (None, Some(seed)) => Rotation::Seeded(seed),
        (None, None) => Rotation::None,
    };
    Ok(Quadratic::new(&eigenvalues, rotation, None)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_basis_is_orthogonal_and_reproducible() {
        for n in [1, 2, 3, 7] {
            let q = random_orthogonal(n, 42);
            assert_eq!(q, random_orthogonal(n, 42));
            // O(1) is {1, -1}: two seeds agree half the time there.
            if n > 1 {
                assert_ne!(q, random_orthogonal(n, 43));
            }
            for i in 0..n {
                for j in 0..n {
                    let dot: f64 = (0..n).map(|k| q[k * n + i] * q[k * n + j]).sum();
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (dot - expected).abs() < 1e-13,
                        "n = {n}: Q^T Q[{i},{j}] = {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_seeded_basis_is_the_q_of_a_gaussian_matrix_with_positive_r_diagonal() {
        // R = Q^T G must be upper triangular with a positive diagonal.
        let n = 5;
        let mut rng = stream(9, Purpose::Rotation, 0);
        let g: Vec<f64> = (0..n * n)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let q = random_orthogonal(n, 9);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| q[k * n + i] * g[k * n + j]).sum();
                if i > j {
                    assert!(r.abs() < 1e-12, "R[{i},{j}] = {r}");
                } else if i == j {
                    assert!(r > 0.0, "R[{i},{i}] = {r}");
                }
            }
        }
    }

    #[test]
    fn a_rotated_bowl_has_its_first_eigenvector_along_the_angle() {
        let theta = 0.3_f64;
        let q = Quadratic::new(&[1.0, 10.0], Rotation::Angle(theta), None).unwrap();
        let v = [theta.cos(), theta.sin()];
        let av = q.apply(&v);
        assert!((av[0] - v[0]).abs() < 1e-15 && (av[1] - v[1]).abs() < 1e-15);
    }

    #[test]
    fn bad_descriptions_are_errors() {
        assert!(matches!(
            Quadratic::new(&[f64::NAN, 1.0], Rotation::None, None),
            Err(ModelError::NonFinite {
                what: "eigenvalue",
                index: 0,
                ..
            })
        ));
        assert!(matches!(
            Quadratic::new(&[1.0, f64::INFINITY], Rotation::None, None),
            Err(ModelError::NonFinite {
                what: "eigenvalue",
                index: 1,
                ..
            })
        ));
        assert_eq!(
            Quadratic::new(&[], Rotation::None, None).err(),
            Some(ModelError::TooFewDimensions {
                landscape: "quadratic",
                min: 1,
                got: 0
            })
        );
        assert_eq!(
            Quadratic::new(&[1.0, 2.0, 3.0], Rotation::Angle(0.1), None).err(),
            Some(ModelError::AngleNeedsTwoDimensions { got: 3 })
        );
        assert_eq!(
            Quadratic::new(&[1.0, 2.0], Rotation::None, Some(&[0.0])).err(),
            Some(ModelError::Dimension {
                landscape: "quadratic",
                expected: 2,
                got: 1
            })
        );
        assert!(matches!(
            Quadratic::new(&[1.0, 2.0], Rotation::Angle(f64::NAN), None),
            Err(ModelError::NonFinite {
                what: "rotation angle",
                ..
            })
        ));
    }
}
