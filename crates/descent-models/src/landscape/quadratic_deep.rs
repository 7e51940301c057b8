//! DeepOBS's `quadratic_deep`: a 100-dimensional noisy quadratic with a spread spectrum.
//!
//! DeepOBS (Schneider et al. 2019, `deepobs/tensorflow/testproblems/quadratic_deep.py`) defines
//! the loss of parameters `theta` on a data point `x` as `1/2 (theta - x)^T Q (theta - x)`, with
//! `Q = R^T D R`, `D` holding 90 eigenvalues from U(0, 1) and 10 from U(30, 60), `R` a random
//! rotation, points `x ~ N(0, 0.6^2 I)` (1000 for training), batches of 128 and
//! `theta = (1, ..., 1)` at the start. Expanded,
//! `1/2 (theta - x)^T Q (theta - x) = f(theta) - (Q x) . theta + f(x)` with
//! `f(theta) = 1/2 theta^T Q theta`: a [`Stochastic`] finite sum of `f` with noise vectors
//! `xi_i = -Q x_i`, plus a constant per example that moves no gradient. So the mini-batch
//! gradients here are DeepOBS's exactly; three things differ:
//! - the loss values omit the constant `f(x_i)` (DeepOBS's loss is never below it), so the
//!   full-batch minimum is 0;
//! - the noise vectors are centred like every [`Stochastic`]'s, so the full-batch minimiser is
//!   the origin, not the training points' mean (0.02 away on average per coordinate);
//! - `Q` and the points come from `descent_data::synthetic::quadratic_deep` (ChaCha8 streams:
//!   `Q` from the fixed [`QUADRATIC_DEEP_HESSIAN_SEED`] as DeepOBS fixes its seed, the points
//!   from the experiment's `data_seed`), not from NumPy's generator.

use descent_data::synthetic;

use super::{DefaultNoise, Landscape, LandscapeEntry, Quadratic, Stochastic};
use crate::ModelError;

/// The seed of `Q`: fixed, so every run and data seed sees the same problem (DeepOBS draws its
/// Hessian with NumPy's seed 42).
pub const QUADRATIC_DEEP_HESSIAN_SEED: u64 = 42;

/// DeepOBS's start point: every coordinate 1.
pub const QUADRATIC_DEEP_START: [f64; synthetic::QUADRATIC_DEEP_DIM] =
    [1.0; synthetic::QUADRATIC_DEEP_DIM];

const NAME: &str = "quadratic_deep";

fn data(seed: u64) -> Result<synthetic::QuadraticDeep, ModelError> {
    synthetic::quadratic_deep(seed).map_err(|e| ModelError::LandscapeData {
        landscape: NAME,
        reason: e.to_string(),
    })
}

fn build(_: &super::LandscapeParams) -> Result<Landscape, ModelError> {
    let problem = data(QUADRATIC_DEEP_HESSIAN_SEED)?;
    let dim = problem.eigenvalues.len();
    Ok(Quadratic::from_parts(
        NAME,
        problem.eigenvalues,
        problem.eigenvectors,
        vec![0.0; dim],
    )
    .into())
}

/// `xi_i = -Q x_i = -grad f(x_i)` for the training points drawn from `seed`.
fn finite_sum(landscape: &Landscape, seed: u64) -> Result<Stochastic, ModelError> {
    let points = data(seed)?.train;
    let dim = points.feature_len();
    let noise = points
        .features()
        .chunks_exact(dim.max(1))
        .map(|x| {
            let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            Ok(landscape.gradient(&x)?.into_iter().map(|g| -g).collect())
        })
        .collect::<Result<Vec<Vec<f64>>, ModelError>>()?;
    Stochastic::from_examples(landscape.clone(), noise, seed)
}

/// The registry's entry: `landscape = "quadratic_deep"`.
pub(super) const QUADRATIC_DEEP: LandscapeEntry = LandscapeEntry {
    name: NAME,
    summary: "DeepOBS's 100-D noisy quadratic: eigenvalues 90 x U(0,1) and 10 x U(30,60), rotated; 1000 examples",
    takes: &[],
    build,
    start: Some(&QUADRATIC_DEEP_START),
    noise: Some(DefaultNoise::Derived(finite_sum)),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minibatch_gradient_is_deepobs_per_example_gradient_averaged() {
        let landscape = build(&Default::default()).unwrap();
        let sum = finite_sum(&landscape, 3).unwrap();
        let problem = data(QUADRATIC_DEEP_HESSIAN_SEED).unwrap();
        let points = data(3).unwrap().train;
        let q = &problem.hessian;
        let n = synthetic::QUADRATIC_DEEP_DIM;
        let examples: Vec<Vec<f64>> = points
            .features()
            .chunks_exact(n)
            .map(|x| x.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let mean: Vec<f64> = (0..n)
            .map(|j| examples.iter().map(|x| x[j]).sum::<f64>() / examples.len() as f64)
            .collect();
        let theta: Vec<f64> = (0..n).map(|j| 1.0 - 0.01 * j as f64).collect();
        let batch = [5, 17, 999, 400];
        // DeepOBS's gradient of 1/|S| sum 1/2 (theta - x)^T Q (theta - x) is
        // Q (theta - mean_S x); the centred finite sum shifts x by the training mean.
        let shifted: Vec<f64> = (0..n)
            .map(|j| {
                let xs = batch.iter().map(|&i| examples[i][j]).sum::<f64>() / batch.len() as f64;
                theta[j] - (xs - mean[j])
            })
            .collect();
        let expected: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| q[i * n + j] * shifted[j]).sum())
            .collect();
        let got = sum.gradient(&theta, &batch).unwrap();
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-10, "{worst}");
        // The landscape's Hessian is DeepOBS's Q.
        let h = landscape.hessian(&theta).unwrap();
        let worst = h
            .iter()
            .zip(q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-10, "{worst}");
        assert_eq!(sum.examples(), 1000);
        assert_eq!(sum.sigma(), None);
    }
}
