//! The registry of landscapes experiment files can name: the built-in families, and any a
//! program adds with [`register`] before it reads an experiment file.
//!
//! A new landscape is one file (a [`Family`](super::Family) and its [`LandscapeEntry`]) plus one
//! line in [`BUILT_IN`]; a program or test that cannot edit this crate calls [`register`].

use std::sync::{PoisonError, RwLock};

use super::{
    Landscape, Stochastic, beale, camel, double_well, himmelblau, quadratic, quadratic_deep,
    rastrigin, rosenbrock, saddle, stochastic,
};
use crate::ModelError;

/// Everything an experiment file may say about a landscape besides its name. Each entry says
/// which of these it takes; the registry refuses the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LandscapeParams {
    /// The dimension, for families defined in any dimension.
    pub dim: Option<usize>,
    /// The Hessian's eigenvalues (quadratics).
    pub eigenvalues: Option<Vec<f64>>,
    /// A rotation angle in radians (2-D quadratics).
    pub angle: Option<f64>,
    /// The seed of a random (Haar) rotation of the eigenvectors (quadratics of any dimension).
    pub rotation_seed: Option<u64>,
}

impl LandscapeParams {
    /// The parameters that are set, by the names experiment files use.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("dim", self.dim.is_some()),
            ("eigenvalues", self.eigenvalues.is_some()),
            ("angle", self.angle.is_some()),
            ("rotation_seed", self.rotation_seed.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// The dimension, or `default` if none was given.
    pub fn dim_or(&self, default: usize) -> usize {
        self.dim.unwrap_or(default)
    }
}

/// One registered landscape: its name and how to build it from [`LandscapeParams`].
#[derive(Debug, Clone, Copy)]
pub struct LandscapeEntry {
    /// The name experiment files use (`landscape = "..."`); the built family reports the same,
    /// except for a preset finite sum, whose family is its deterministic part.
    pub name: &'static str,
    /// One line for `descent list`.
    pub summary: &'static str,
    /// The parameters it takes, by name (see [`LandscapeParams::given`]).
    pub takes: &'static [&'static str],
    /// Builds it; called only with parameters in `takes`.
    pub build: fn(&LandscapeParams) -> Result<Landscape, ModelError>,
    /// The start point used when an experiment gives none (`None`: it must give one).
    pub start: Option<&'static [f64]>,
    /// A finite sum it comes as unless the experiment says otherwise.
    pub noise: Option<DefaultNoise>,
}

/// The finite sum a landscape comes as when an experiment names it without `noise_sigma`.
#[derive(Debug, Clone, Copy)]
pub enum DefaultNoise {
    /// `examples` Gaussian noise vectors of scale `sigma` per coordinate ([`Stochastic::new`]).
    Gaussian {
        /// The number of examples.
        examples: usize,
        /// The noise scale per coordinate.
        sigma: f64,
    },
    /// Noise vectors derived from the built landscape and the data seed (a landscape whose
    /// examples come from a data set, like `quadratic_deep`).
    Derived(fn(&Landscape, u64) -> Result<Stochastic, ModelError>),
}

impl DefaultNoise {
    /// The finite sum over `landscape` with noise from `seed`.
    pub fn finite_sum(&self, landscape: &Landscape, seed: u64) -> Result<Stochastic, ModelError> {
        match *self {
            DefaultNoise::Gaussian { examples, sigma } => {
                Stochastic::new(landscape.clone(), examples, sigma, seed)
            }
            DefaultNoise::Derived(derive) => derive(landscape, seed),
        }
    }
}

impl LandscapeEntry {
    /// The landscape `params` describe, after refusing any parameter it does not take.
    pub fn build(&self, params: &LandscapeParams) -> Result<Landscape, ModelError> {
        if let Some(extra) = params.given().into_iter().find(|p| !self.takes.contains(p)) {
            let takes = if self.takes.is_empty() {
                "none".to_string()
            } else {
                self.takes.join(", ")
            };
            return Err(ModelError::LandscapeParameter {
                parameter: extra,
                reason: format!(
                    "does not apply to the {} landscape (it takes: {takes})",
                    self.name
                ),
            });
        }
        (self.build)(params)
    }
}

/// The landscapes this crate defines, in the order `descent list` shows them.
pub const BUILT_IN: &[LandscapeEntry] = &[
    quadratic::QUADRATIC,
    quadratic::ELONGATED_BOWL,
    rosenbrock::ROSENBROCK,
    stochastic::TWO_D_ROSENBROCK,
    quadratic_deep::QUADRATIC_DEEP,
    himmelblau::HIMMELBLAU,
    beale::BEALE,
    rastrigin::RASTRIGIN,
    camel::SIX_HUMP_CAMEL,
    saddle::STRICT_SADDLE,
    saddle::BOUNDED_SADDLE,
    double_well::DOUBLE_WELL,
];

/// Landscapes added at run time by [`register`].
static ADDED: RwLock<Vec<LandscapeEntry>> = RwLock::new(Vec::new());

fn added() -> Vec<LandscapeEntry> {
    ADDED.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Adds a landscape for the rest of the process, so experiment files can name it. Refuses a
/// name that is already taken.
pub fn register(entry: LandscapeEntry) -> Result<(), ModelError> {
    let mut list = ADDED.write().unwrap_or_else(PoisonError::into_inner);
    if BUILT_IN
        .iter()
        .chain(list.iter())
        .any(|e| e.name == entry.name)
    {
        return Err(ModelError::DuplicateLandscape(entry.name));
    }
    list.push(entry);
    Ok(())
}

/// Every registered landscape: the built-in ones, then the added ones in the order added.
pub fn entries() -> Vec<LandscapeEntry> {
    BUILT_IN.iter().copied().chain(added()).collect()
}

/// Every registered name.
pub fn names() -> Vec<&'static str> {
    entries().iter().map(|e| e.name).collect()
}

/// The entry named `name`, or an error that lists the allowed names.
pub fn find(name: &str) -> Result<LandscapeEntry, ModelError> {
    let all = entries();
    all.iter()
        .find(|e| e.name == name)
        .copied()
        .ok_or_else(|| ModelError::UnknownLandscape {
            name: name.to_string(),
            allowed: all.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
        })
}
