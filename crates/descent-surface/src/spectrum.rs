//! The Hessian's spectrum from Hessian-vector products alone: top eigenvalues, trace, density.
//!
//! Every function takes the product as a closure `v -> H v` over vectors of length `dim`
//! (central differences of gradients for a network, the exact matrix for a quadratic), and
//! draws its random vectors from the `rng` it is given, so a seed fixes the answer.
//!
//! - [`top_eigenvalues`]: Lanczos with full reorthogonalisation (twice-applied classical
//!   Gram-Schmidt against every earlier basis vector, which keeps the Ritz values free of the
//!   "ghost" copies plain Lanczos makes in floating point). Each Ritz value `θ` comes with its
//!   residual bound `|β_m s_m|`: some eigenvalue of `H` lies within it of `θ`.
//! - [`hutchinson_trace`]: `tr(H) = E[zᵀ H z]` for Rademacher `z` (Hutchinson 1989), the mean
//!   of `samples` draws with a Student-t confidence interval.
//! - [`spectral_density`]: stochastic Lanczos quadrature. A Lanczos run of `m` steps from a
//!   unit vector `v` gives nodes `θ_i` (the Ritz values) and weights `τ_i` (the squared first
//!   components of the Ritz vectors) with `vᵀ f(H) v ≈ Σ τ_i f(θ_i)`, exact for polynomials
//!   of degree below `2m`. Averaged over random `v`, `Σ τ_i δ(λ − θ_i)` estimates the
//!   eigenvalue density `(1/n) Σ_j δ(λ − λ_j)`; [`Density::at`] broadens each node into a
//!   Gaussian. PyHessian (Yao et al. 2020) draws the same picture the same way.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::{Error, Result, check_length, dot, norm};

/// Options of a Lanczos run for [`top_eigenvalues`].
#[derive(Debug, Clone, PartialEq)]
pub struct Lanczos {
    /// The most Lanczos steps (Hessian-vector products); at most the dimension is taken.
    pub max_steps: usize,
    /// Stop once every wanted Ritz value's residual bound is below this times the largest
    /// `|θ|`.
    pub tolerance: f64,
}

impl Default for Lanczos {
    fn default() -> Self {
        Lanczos {
            max_steps: 100,
            tolerance: 1e-8,
        }
    }
}

/// An eigenvalue estimate and its bound: some eigenvalue of `H` lies in
/// `[value − residual, value + residual]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ritz {
    /// The Ritz value `θ`.
    pub value: f64,
    /// `‖H y − θ y‖` for its unit Ritz vector `y`.
    pub residual: f64,
}

/// The tridiagonal matrix a Lanczos run builds: `alpha` on the diagonal, `beta` beside it;
/// `coupling` is the last `β`, which ties it to the rest of the space (0: an invariant subspace
/// was found, and the Ritz values are exact eigenvalues).
#[derive(Debug, Clone, Default)]
pub struct Tridiagonal {
    /// The diagonal.
    pub alpha: Vec<f64>,
    /// The off-diagonal, one shorter than `alpha`.
    pub beta: Vec<f64>,
    /// The `β` after the last step.
    pub coupling: f64,
}

impl Tridiagonal {
    /// The eigenvalues (ascending) and, for each, the first and last components of its unit
    /// eigenvector.
    pub fn eigen(&self) -> Vec<(f64, f64, f64)> {
        let m = self.alpha.len();
        if m == 0 {
            return Vec::new();
        }
        let t = DMatrix::from_fn(m, m, |i, j| {
            if i == j {
                self.alpha[i]
            } else if i + 1 == j {
                self.beta[i]
            } else if j + 1 == i {
                self.beta[j]
            } else {
                0.0
            }
        });
        let eigen = SymmetricEigen::new(t);
        let mut out: Vec<(f64, f64, f64)> = (0..m)
            .map(|i| {
                let column = eigen.eigenvectors.column(i);
                (eigen.eigenvalues[i], column[0], column[m - 1])
            })
            .collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }

    /// The Ritz values, descending, each with its residual bound.
    pub fn ritz(&self) -> Vec<Ritz> {
        let mut values: Vec<Ritz> = self
            .eigen()
            .into_iter()
            .map(|(value, _, last)| Ritz {
                value,
                residual: (self.coupling * last).abs(),
            })
            .collect();
        values.reverse();
        values
    }
}

/// Runs Lanczos from `start` for at most `steps` steps, asking `done` after each whether to
/// stop early.
pub fn tridiagonalise<E, F>(
    start: &[f64],
    steps: usize,
    product: &mut F,
    mut done: impl FnMut(&Tridiagonal) -> bool,
) -> Result<Tridiagonal, E>
where
    E: From<Error>,
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
{
    let dim = start.len();
    let length = norm(start);
    if !(length > 0.0 && length.is_finite()) {
        return Err(
            Error::Option("a Lanczos start vector must be nonzero and finite".into()).into(),
        );
    }
    let mut basis: Vec<Vec<f64>> = vec![start.iter().map(|x| x / length).collect()];
    let mut t = Tridiagonal::default();
    let steps = steps.min(dim);
    for j in 0..steps {
        let mut w = product(&basis[j])?;
        check_length("a Hessian-vector product", w.len(), dim)?;
        if w.iter().any(|x| !x.is_finite()) {
            return Err(Error::NotFinite("a Hessian-vector product").into());
        }
        let alpha = dot(&basis[j], &w);
        t.alpha.push(alpha);
        // Twice is enough (Kahan's "twice is enough" for Gram-Schmidt).
        for _ in 0..2 {
            for q in &basis {
                let c = dot(q, &w);
                for (w, q) in w.iter_mut().zip(q) {
                    *w -= c * q;
                }
            }
        }
        let beta = norm(&w);
        t.coupling = beta;
        let scale = t
            .alpha
            .iter()
            .fold(0.0f64, |m, a| m.max(a.abs()))
            .max(alpha.abs());
        let invariant = beta <= 1e-12 * scale.max(f64::MIN_POSITIVE) || beta == 0.0;
        if invariant {
            t.coupling = 0.0;
        }
        if invariant || j + 1 == steps || done(&t) {
            break;
        }
        t.beta.push(beta);
        basis.push(w.iter().map(|x| x / beta).collect());
    }
    Ok(t)
}

/// A unit vector of Gaussian entries.
pub fn gaussian_unit<R: Rng + ?Sized>(dim: usize, rng: &mut R) -> Vec<f64> {
    let v: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(rng)).collect();
    let length = norm(&v).max(f64::MIN_POSITIVE);
    v.into_iter().map(|x| x / length).collect()
}

/// A vector of independent ±1 entries.
pub fn rademacher<R: Rng + ?Sized>(dim: usize, rng: &mut R) -> Vec<f64> {
    (0..dim)
        .map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

/// The `k` largest eigenvalues of the `dim`-dimensional symmetric operator `product`, largest
/// first, by Lanczos from a random Gaussian start; fewer where the run finds an invariant
/// subspace of smaller dimension (every eigenvalue the start vector reaches is then found).
pub fn top_eigenvalues<E, F, R>(
    dim: usize,
    k: usize,
    options: &Lanczos,
    rng: &mut R,
    product: &mut F,
) -> Result<Vec<Ritz>, E>
where
    E: From<Error>,
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
    R: Rng + ?Sized,
{
    if k == 0 || dim == 0 {
        return Err(
            Error::Option("top_eigenvalues needs k >= 1 and a nonempty operator".into()).into(),
        );
    }
    let start = gaussian_unit(dim, rng);
    let steps = options.max_steps.max(k).min(dim);
    let tolerance = options.tolerance;
    let t = tridiagonalise(&start, steps, product, |t| {
        if t.alpha.len() < k {
            return false;
        }
        let ritz = t.ritz();
        let scale = ritz.iter().fold(0.0f64, |m, r| m.max(r.value.abs()));
        ritz.iter()
            .take(k)
            .all(|r| r.residual <= tolerance * scale.max(f64::MIN_POSITIVE))
    })?;
    let mut ritz = t.ritz();
    ritz.truncate(k);
    Ok(ritz)
}

/// An estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// The standard error of the mean.
    pub std_error: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
    /// Its confidence level, e.g. 0.95.
    pub confidence: f64,
    /// How many samples.
    pub samples: usize,
}

/// Hutchinson's estimate of `tr(H)`: the mean of `zᵀ H z` over `samples` Rademacher vectors
/// (at least 2), with the Student-t interval at `confidence`.
pub fn hutchinson_trace<E, F, R>(
    dim: usize,
    samples: usize,
    confidence: f64,
    rng: &mut R,
    product: &mut F,
) -> Result<Estimate, E>
where
    E: From<Error>,
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
    R: Rng + ?Sized,
{
    if samples < 2 {
        return Err(Error::Option("Hutchinson's trace needs at least 2 samples".into()).into());
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(Error::Option(format!("confidence {confidence} must be in (0, 1)")).into());
    }
    let mut draws = Vec::with_capacity(samples);
    for _ in 0..samples {
        let z = rademacher(dim, rng);
        let hz = product(&z)?;
        check_length("a Hessian-vector product", hz.len(), dim)?;
        let value = dot(&z, &hz);
        if !value.is_finite() {
            return Err(Error::NotFinite("zᵀ H z").into());
        }
        draws.push(value);
    }
    Ok(mean_interval(&draws, confidence))
}

/// The mean of `draws` (at least 2) with its Student-t interval at `confidence`.
pub fn mean_interval(draws: &[f64], confidence: f64) -> Estimate {
    let n = draws.len() as f64;
    let mean = draws.iter().sum::<f64>() / n;
    let variance = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let std_error = (variance / n).sqrt();
    let quantile = StudentsT::new(0.0, 1.0, (n - 1.0).max(1.0))
        .map(|t| t.inverse_cdf(0.5 + confidence / 2.0))
        .unwrap_or(f64::NAN);
    Estimate {
        mean,
        std_error,
        low: mean - quantile * std_error,
        high: mean + quantile * std_error,
        confidence,
        samples: draws.len(),
    }
}

/// An eigenvalue density by stochastic Lanczos quadrature: nodes and weights pooled over the
/// probe vectors (the weights sum to 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Density {
    /// `(θ, weight)` of every run's quadrature, each weight divided by the number of runs.
    pub nodes: Vec<(f64, f64)>,
    /// How many probe vectors.
    pub probes: usize,
}

impl Density {
    /// The density at `x`, each node broadened into a Gaussian of standard deviation `sigma`.
    pub fn at(&self, x: f64, sigma: f64) -> f64 {
        let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        self.nodes
            .iter()
            .map(|(theta, weight)| weight * norm * (-0.5 * ((x - theta) / sigma).powi(2)).exp())
            .sum()
    }

    /// The mass of the nodes in `[low, high)`: the estimated fraction of eigenvalues there.
    pub fn mass_between(&self, low: f64, high: f64) -> f64 {
        self.nodes
            .iter()
            .filter(|(theta, _)| *theta >= low && *theta < high)
            .map(|(_, weight)| weight)
            .sum()
    }

    /// The smallest and largest node.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut nodes = self.nodes.iter().map(|(theta, _)| *theta);
        let first = nodes.next()?;
        Some(nodes.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
    }
}

/// The eigenvalue density of the `dim`-dimensional operator `product`: `probes` Lanczos runs
/// of `steps` steps each from Rademacher vectors.
pub fn spectral_density<E, F, R>(
    dim: usize,
    probes: usize,
    steps: usize,
    rng: &mut R,
    product: &mut F,
) -> Result<Density, E>
where
    E: From<Error>,
    F: FnMut(&[f64]) -> Result<Vec<f64>, E>,
    R: Rng + ?Sized,
{
    if probes == 0 || steps == 0 || dim == 0 {
        return Err(Error::Option(
            "a spectral density needs probes >= 1, steps >= 1 and a nonempty operator".into(),
        )
        .into());
    }
    let mut density = Density {
        nodes: Vec::with_capacity(probes * steps.min(dim)),
        probes,
    };
    for _ in 0..probes {
        let start = rademacher(dim, rng);
        let t = tridiagonalise(&start, steps, product, |_| false)?;
        for (theta, first, _) in t.eigen() {
            density.nodes.push((theta, first * first / probes as f64));
        }
    }
    Ok(density)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use nalgebra::{DMatrix, DVector};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// `Q = R diag(eigenvalues) Rᵀ` for a random orthogonal `R` (QR of a Gaussian matrix).
    fn rotated(eigenvalues: &[f64], seed: u64) -> DMatrix<f64> {
        let n = eigenvalues.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g: DMatrix<f64> = DMatrix::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
        let r = g.qr().q();
        &r * DMatrix::from_diagonal(&DVector::from_column_slice(eigenvalues)) * r.transpose()
    }

    fn product_of(q: &DMatrix<f64>) -> impl FnMut(&[f64]) -> Result<Vec<f64>> + '_ {
        move |v: &[f64]| Ok((q * DVector::from_column_slice(v)).as_slice().to_vec())
    }

    fn deep_like(seed: u64) -> Vec<f64> {
        // quadratic_deep's shape: 90 eigenvalues in (0, 1), 10 in (30, 60).
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values: Vec<f64> = (0..90).map(|_| rng.random_range(0.0..1.0)).collect();
        values.extend((0..10).map(|_| rng.random_range(30.0..60.0)));
        values
    }

    #[test]
    fn top_eigenvalues_equal_the_matrix_s() {
        let values = deep_like(3);
        let q = rotated(&values, 4);
        let mut expected = values.clone();
        expected.sort_by(|a, b| b.total_cmp(a));
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let top =
            top_eigenvalues(100, 10, &Lanczos::default(), &mut rng, &mut product_of(&q)).unwrap();
        assert_eq!(top.len(), 10);
        for (found, exact) in top.iter().zip(&expected) {
            assert!(
                (found.value - exact).abs() < 1e-9,
                "{} vs {exact}",
                found.value
            );
            // The bound holds: the distance to the nearest eigenvalue is within it.
            assert!((found.value - exact).abs() <= found.residual + 1e-12);
        }
    }

    #[test]
    fn a_small_operator_gives_every_eigenvalue_it_has() {
        let q = rotated(&[4.0, -1.0, 2.0], 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let top =
            top_eigenvalues(3, 5, &Lanczos::default(), &mut rng, &mut product_of(&q)).unwrap();
        let values: Vec<f64> = top.iter().map(|r| r.value).collect();
        assert_eq!(values.len(), 3);
        for (v, e) in values.iter().zip([4.0, 2.0, -1.0]) {
            assert!((v - e).abs() < 1e-12, "{values:?}");
        }
    }

    #[test]
    fn hutchinson_brackets_the_trace() {
        let values = deep_like(7);
        let q = rotated(&values, 8);
        let trace: f64 = values.iter().sum();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let estimate = hutchinson_trace(100, 200, 0.95, &mut rng, &mut product_of(&q)).unwrap();
        assert!(
            estimate.low <= trace && trace <= estimate.high,
            "{estimate:?} vs {trace}"
        );
        // Rademacher variance is 2 Σ_{i≠j} Q_ij²: the interval is a few percent wide here.
        assert!(estimate.high - estimate.low < 0.2 * trace, "{estimate:?}");
    }

    #[test]
    fn hutchinson_on_a_diagonal_is_exact() {
        // zᵀ D z = tr D for every ±1 vector: no variance at all.
        let mut product = |v: &[f64]| -> Result<Vec<f64>> {
            Ok(v.iter().enumerate().map(|(i, v)| v * i as f64).collect())
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let estimate = hutchinson_trace(10, 4, 0.95, &mut rng, &mut product).unwrap();
        assert_eq!(estimate.mean, 45.0);
        assert_eq!(estimate.std_error, 0.0);
    }

    #[test]
    fn the_density_puts_its_mass_where_the_eigenvalues_are() {
        let values = deep_like(11);
        let q = rotated(&values, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let density = spectral_density(100, 20, 40, &mut rng, &mut product_of(&q)).unwrap();
        let total: f64 = density.nodes.iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-12);
        let low = density.mass_between(f64::NEG_INFINITY, 1.0);
        let high = density.mass_between(30.0, 60.0);
        assert!((low - 0.9).abs() < 0.05, "{low}");
        assert!((high - 0.1).abs() < 0.05, "{high}");
        assert!((low + high - 1.0).abs() < 1e-9, "nothing between 1 and 30");
        // The broadened density integrates to one too.
        let (lo, hi) = density.range().unwrap();
        let sigma = 0.5;
        let n = 20_000;
        let (a, b) = (lo - 10.0, hi + 10.0);
        let dx = (b - a) / n as f64;
        let integral: f64 = (0..n)
            .map(|i| density.at(a + (i as f64 + 0.5) * dx, sigma) * dx)
            .sum();
        assert!((integral - 1.0).abs() < 1e-6, "{integral}");
    }

    #[test]
    fn bad_options_are_refused() {
        let mut product = |v: &[f64]| -> Result<Vec<f64>> { Ok(v.to_vec()) };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(hutchinson_trace(3, 1, 0.95, &mut rng, &mut product).is_err());
        assert!(hutchinson_trace(3, 5, 1.0, &mut rng, &mut product).is_err());
        assert!(top_eigenvalues(3, 0, &Lanczos::default(), &mut rng, &mut product).is_err());
        assert!(spectral_density(3, 0, 5, &mut rng, &mut product).is_err());
        let mut short = |_: &[f64]| -> Result<Vec<f64>> { Ok(vec![1.0]) };
        assert!(matches!(
            top_eigenvalues(3, 1, &Lanczos::default(), &mut rng, &mut short),
            Err(Error::Length { .. })
        ));
    }
}
