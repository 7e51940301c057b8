//! Plain descriptions of landscapes, for experiment files to be parsed into.

use super::{
    Beale, BoundedSaddle, DoubleWell, Himmelblau, Landscape, Quadratic, Rastrigin, Rosenbrock,
    Rotation, SixHumpCamel, Stochastic, StrictSaddle,
};
use crate::ModelError;

/// Which landscape, with its parameters: data only, checked by [`LandscapeSpec::build`].
#[derive(Debug, Clone, PartialEq)]
pub enum LandscapeSpec {
    /// A [`Quadratic`]: eigenvalues (their count is the dimension), rotation, centre (origin if
    /// `None`).
    Quadratic {
        /// The Hessian's eigenvalues.
        eigenvalues: Vec<f64>,
        /// How its eigenvectors are oriented.
        rotation: Rotation,
        /// The stationary point.
        centre: Option<Vec<f64>>,
    },
    /// The elongated bowl `x^2 + 4 y^2`.
    ElongatedBowl,
    /// [`Rosenbrock`] in `dim >= 2` dimensions.
    Rosenbrock {
        /// The dimension.
        dim: usize,
    },
    /// [`Himmelblau`].
    Himmelblau,
    /// [`Beale`].
    Beale,
    /// [`Rastrigin`] in `dim >= 1` dimensions.
    Rastrigin {
        /// The dimension.
        dim: usize,
    },
    /// [`SixHumpCamel`].
    SixHumpCamel,
    /// [`StrictSaddle`].
    StrictSaddle,
    /// [`BoundedSaddle`].
    BoundedSaddle,
    /// [`DoubleWell`] in `dim >= 1` dimensions.
    DoubleWell {
        /// The dimension.
        dim: usize,
    },
}

impl LandscapeSpec {
    /// The landscape described, or why it cannot be built.
    pub fn build(&self) -> Result<Landscape, ModelError> {
        Ok(match self {
            LandscapeSpec::Quadratic {
                eigenvalues,
                rotation,
                centre,
            } => Quadratic::new(eigenvalues, *rotation, centre.as_deref())?.into(),
            LandscapeSpec::ElongatedBowl => Landscape::elongated_bowl(),
            LandscapeSpec::Rosenbrock { dim } => Rosenbrock::new(*dim)?.into(),
            LandscapeSpec::Himmelblau => Himmelblau.into(),
            LandscapeSpec::Beale => Beale.into(),
            LandscapeSpec::Rastrigin { dim } => Rastrigin::new(*dim)?.into(),
            LandscapeSpec::SixHumpCamel => SixHumpCamel.into(),
            LandscapeSpec::StrictSaddle => StrictSaddle.into(),
            LandscapeSpec::BoundedSaddle => BoundedSaddle.into(),
            LandscapeSpec::DoubleWell { dim } => DoubleWell::new(*dim)?.into(),
        })
    }
}

/// How to turn a landscape into a [`Stochastic`] finite sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseSpec {
    /// The number of examples `n`.
    pub examples: usize,
    /// The noise scale `sigma` per coordinate.
    pub sigma: f64,
    /// The seed of the noise vectors.
    pub seed: u64,
}

impl NoiseSpec {
    /// The stochastic version of `landscape` described, or why it cannot be built.
    pub fn build(&self, landscape: Landscape) -> Result<Stochastic, ModelError> {
        Stochastic::new(landscape, self.examples, self.sigma, self.seed)
    }
}
