//! # descent-surface
//!
//! What the field draws and measures to talk about a network's loss surface, computed from two
//! things any trainer can give: the parameters as one flat `f64` vector, and a way to evaluate
//! the loss (or a Hessian-vector product) at another vector. Nothing here knows burn; the
//! `descent` runner plugs its models and landscapes in.
//!
//! - **Spectra** ([`spectrum`]): the top-k Hessian eigenvalues by Lanczos with full
//!   reorthogonalisation and a residual bound on each (Golub & Van Loan §10.1), the trace by
//!   Hutchinson's estimator with a Student-t confidence interval, and the eigenvalue density by
//!   stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani et al. 2019; PyHessian,
//!   Yao et al. 2020).
//! - **Directions** ([`directions`]): random Gaussian directions with the filter normalisation
//!   of Li et al. 2018 (each output filter or neuron of the direction rescaled to the norm of
//!   the matching weights), on a [`Layout`] that says which axis of each parameter indexes its
//!   outputs.
//! - **Paths** ([`path`]): grids for 1-D and 2-D slices, linear interpolation between two
//!   parameter vectors (Goodfellow et al. 2015), the barrier height along it (Garipov et al.
//!   2018; Draxler et al. 2018), and the PCA plane of a trajectory (Li et al. 2018, §7).
//!
//! ```
//! use descent_surface::spectrum::{Lanczos, top_eigenvalues};
//! use rand::SeedableRng;
//!
//! // diag(1, 2, 3, 10) as a Hessian-vector product.
//! let diagonal = [1.0, 2.0, 3.0, 10.0];
//! let mut product = |v: &[f64]| -> Result<Vec<f64>, descent_surface::Error> {
//!     Ok(v.iter().zip(&diagonal).map(|(v, d)| v * d).collect())
//! };
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let top = top_eigenvalues(4, 2, &Lanczos::default(), &mut rng, &mut product)?;
//! assert!((top[0].value - 10.0).abs() < 1e-9 && (top[1].value - 3.0).abs() < 1e-9);
//! # Ok::<(), descent_surface::Error>(())
//! ```

#![warn(missing_docs)]

pub mod directions;
pub mod path;
pub mod spectrum;

pub use directions::{Block, Layout, OneDimensional};

/// What can go wrong in an analysis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A vector's length differs from what the analysis was set up for.
    #[error("{what} has {got} values where {expected} are expected")]
    Length {
        /// Which vector.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length expected.
        expected: usize,
    },
    /// An option is out of its range.
    #[error("{0}")]
    Option(String),
    /// A Hessian-vector product or loss came back not finite.
    #[error("{0} is not finite (the loss or its curvature overflowed at this point)")]
    NotFinite(&'static str),
}

/// The result of this crate's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `a · b`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// The Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

fn check_length(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::Length {
            what,
            got,
            expected,
        })
    }
}
