//! Seeded synthetic problems, each with what is known about it in closed form.
//!
//! Everything is drawn from ChaCha8 streams keyed by the seed, so the same seed gives the
//! same data on every machine. Values are generated in `f64` and stored as `f32` (the
//! dataset type); closed-form optima are computed from the stored `f32` values, so they
//! are exact for the data as the models see it.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::dataset::{ArrayDataset, Targets};
use crate::error::DataError;
use crate::rng::{Purpose, stream};

/// Stream ids under [`Purpose::Synthetic`], one per generator and role.
mod streams {
    pub const LINEAR: u64 = 0;
    pub const LOGISTIC: u64 = 1;
    pub const BLOBS: u64 = 2;
    pub const MOONS: u64 = 3;
    pub const SPIRALS: u64 = 4;
    pub const QUADRATIC_HESSIAN: u64 = 5;
    pub const QUADRATIC_TRAIN: u64 = 6;
    pub const QUADRATIC_TEST: u64 = 7;
}

fn rng(seed: u64, id: u64) -> ChaCha8Rng {
    stream(seed, Purpose::Synthetic, id)
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn at_least(
    owner: &'static str,
    field: &'static str,
    value: usize,
    min: usize,
) -> Result<(), DataError> {
    if value < min {
        return Err(DataError::InvalidParameter {
            owner,
            field,
            value: value.to_string(),
            allowed: match min {
                1 => "at least 1",
                2 => "at least 2",
                _ => "larger",
            },
        });
    }
    Ok(())
}

fn non_negative(owner: &'static str, field: &'static str, value: f64) -> Result<(), DataError> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(DataError::InvalidParameter {
            owner,
            field,
            value: value.to_string(),
            allowed: "a finite number >= 0",
        });
    }
    Ok(())
}

/// A least-squares problem `y = X w* + noise` and its exact solution.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    /// Features `x ~ N(0, I)` and one target value per item.
    pub data: ArrayDataset,
    /// The weights the targets were generated from.
    pub true_weights: Vec<f64>,
    /// The least-squares optimum `argmin_w mean((x.w - y)^2)` of the stored data.
    pub optimum: Vec<f64>,
    /// The mean squared error at the optimum.
    pub optimal_loss: f64,
}

/// `samples` items of dimension `dim` (no intercept), `w* ~ N(0, I)`, Gaussian noise of
/// standard deviation `noise` on the targets. Needs `samples > dim`.
pub fn linear_regression(
    samples: usize,
    dim: usize,
    noise: f64,
    seed: u64,
) -> Result<LinearRegression, DataError> {
    const OWNER: &str = "linear_regression";
    at_least(OWNER, "dim", dim, 1)?;
    at_least(OWNER, "samples", samples, dim + 1)?;
    non_negative(OWNER, "noise", noise)?;
    let mut rng = rng(seed, streams::LINEAR);
    let true_weights: Vec<f64> = (0..dim).map(|_| normal(&mut rng)).collect();
    let features: Vec<f32> = (0..samples * dim)
        .map(|_| normal(&mut rng) as f32)
        .collect();
    let targets: Vec<f32> = features
        .chunks_exact(dim)
        .map(|x| {
            let clean: f64 = x
                .iter()
                .zip(&true_weights)
                .map(|(&a, w)| f64::from(a) * w)
                .sum();
            (clean + noise * normal(&mut rng)) as f32
        })
        .collect();
    let x = DMatrix::from_row_iterator(samples, dim, features.iter().map(|&v| f64::from(v)));
    let y = DVector::from_iterator(samples, targets.iter().map(|&v| f64::from(v)));
    let optimum = x
        .clone()
        .svd(true, true)
        .solve(&y, 1e-12)
        .map_err(|reason| DataError::InvalidParameter {
            owner: OWNER,
            field: "samples",
            value: format!("{samples} ({reason})"),
            allowed: "enough samples for a full-rank design",
        })?;
    let residual = &x * &optimum - &y;
    let optimal_loss = residual.norm_squared() / samples as f64;
    Ok(LinearRegression {
        data: ArrayDataset::new(
            OWNER,
            features,
            vec![dim],
            Targets::Values {
                values: targets,
                width: 1,
            },
        )?,
        true_weights,
        optimum: optimum.iter().copied().collect(),
        optimal_loss,
    })
}

/// Binary classification data `x ~ N(0, I)` labelled by a hidden `w* ~ N(0, I)`: with
/// `separable` the label is `x . w* > 0` (a hyperplane separates the classes, so the
/// unregularised logistic loss has no minimiser), otherwise it is drawn with probability
/// `sigmoid(x . w*)` (the logistic model is well specified). Returns the data and `w*`.
pub fn logistic(
    samples: usize,
    dim: usize,
    separable: bool,
    seed: u64,
) -> Result<(ArrayDataset, Vec<f64>), DataError> {
    const OWNER: &str = "logistic";
    at_least(OWNER, "dim", dim, 1)?;
    at_least(OWNER, "samples", samples, 2)?;
    let mut rng = rng(seed, streams::LOGISTIC);
    let w: Vec<f64> = (0..dim).map(|_| normal(&mut rng)).collect();
    let mut features = Vec::with_capacity(samples * dim);
    let mut labels = Vec::with_capacity(samples);
    for _ in 0..samples {
        let x: Vec<f64> = (0..dim).map(|_| normal(&mut rng)).collect();
        let margin: f64 = x.iter().zip(&w).map(|(a, b)| a * b).sum();
        let positive = if separable {
            margin > 0.0
        } else {
            rng.random::<f64>() < 1.0 / (1.0 + (-margin).exp())
        };
        features.extend(x.iter().map(|&v| v as f32));
        labels.push(u32::from(positive));
    }
    let data = ArrayDataset::new(
        OWNER,
        features,
        vec![dim],
        Targets::Classes { labels, classes: 2 },
    )?;
    Ok((data, w))
}

/// `per_class` points around each of `classes` centres drawn uniformly from
/// `[-10, 10]^dim`, with isotropic Gaussian spread `std` (scikit-learn's `make_blobs`).
pub fn blobs(
    classes: usize,
    per_class: usize,
    dim: usize,
    std: f64,
    seed: u64,
) -> Result<ArrayDataset, DataError> {
    const OWNER: &str = "blobs";
    at_least(OWNER, "classes", classes, 2)?;
    at_least(OWNER, "per_class", per_class, 1)?;
    at_least(OWNER, "dim", dim, 1)?;
    non_negative(OWNER, "std", std)?;
    let mut rng = rng(seed, streams::BLOBS);
    let centres: Vec<Vec<f64>> = (0..classes)
        .map(|_| (0..dim).map(|_| rng.random_range(-10.0..10.0)).collect())
        .collect();
    let mut features = Vec::with_capacity(classes * per_class * dim);
    let mut labels = Vec::with_capacity(classes * per_class);
    for _ in 0..per_class {
        for (c, centre) in centres.iter().enumerate() {
            features.extend(centre.iter().map(|m| (m + std * normal(&mut rng)) as f32));
            labels.push(c as u32);
        }
    }
    ArrayDataset::new(
        OWNER,
        features,
        vec![dim],
        Targets::Classes { labels, classes },
    )
}

/// Two interleaving half circles in 2-D (scikit-learn's `make_moons`), `per_class` points
/// each, with Gaussian noise `noise`: not linearly separable.
pub fn two_moons(per_class: usize, noise: f64, seed: u64) -> Result<ArrayDataset, DataError> {
    const OWNER: &str = "two_moons";
    at_least(OWNER, "per_class", per_class, 2)?;
    non_negative(OWNER, "noise", noise)?;
    let mut rng = rng(seed, streams::MOONS);
    let mut features = Vec::with_capacity(4 * per_class);
    let mut labels = Vec::with_capacity(2 * per_class);
    for i in 0..per_class {
        let t = std::f64::consts::PI * i as f64 / (per_class - 1) as f64;
        let outer = [t.cos(), t.sin()];
        let inner = [1.0 - t.cos(), 0.5 - t.sin()];
        for (label, point) in [(0u32, outer), (1, inner)] {
            for v in point {
                features.push((v + noise * normal(&mut rng)) as f32);
            }
            labels.push(label);
        }
    }
    ArrayDataset::new(
        OWNER,
        features,
        vec![2],
        Targets::Classes { labels, classes: 2 },
    )
}

/// `arms` interleaved spirals in 2-D, `per_arm` points each (radius 0 to 1 over about
/// two thirds of a turn), with Gaussian noise `noise` on the angle.
pub fn spirals(
    arms: usize,
    per_arm: usize,
    noise: f64,
    seed: u64,
) -> Result<ArrayDataset, DataError> {
    const OWNER: &str = "spirals";
    at_least(OWNER, "arms", arms, 2)?;
    at_least(OWNER, "per_arm", per_arm, 2)?;
    non_negative(OWNER, "noise", noise)?;
    let mut rng = rng(seed, streams::SPIRALS);
    let mut features = Vec::with_capacity(2 * arms * per_arm);
    let mut labels = Vec::with_capacity(arms * per_arm);
    for i in 0..per_arm {
        let r = i as f64 / (per_arm - 1) as f64;
        for arm in 0..arms {
            let theta = 4.0 * r
                + 2.0 * std::f64::consts::PI * arm as f64 / arms as f64
                + noise * normal(&mut rng);
            features.push((r * theta.sin()) as f32);
            features.push((r * theta.cos()) as f32);
            labels.push(arm as u32);
        }
    }
    ArrayDataset::new(
        OWNER,
        features,
        vec![2],
        Targets::Classes {
            labels,
            classes: arms,
        },
    )
}

/// DeepOBS's `quadratic_deep`: the loss of parameters `theta` on a point `x` is
/// `1/2 (theta - x)^T Q (theta - x)` with `Q = R^T D R`, `D` holding 90 eigenvalues from
/// U(0, 1) and 10 from U(30, 60), `R` a Haar-random rotation; points `x ~ N(0, 0.6^2 I)`.
/// The expected loss is minimised at `theta = 0`; the empirical one at the training mean.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticDeep {
    /// `Q`, 100 x 100, row-major.
    pub hessian: Vec<f64>,
    /// The eigenvalues of `Q`, in the order drawn (90 small, then 10 large).
    pub eigenvalues: Vec<f64>,
    /// `R^T`, 100 x 100, row-major: column `k` is the unit eigenvector of `eigenvalues[k]`.
    pub eigenvectors: Vec<f64>,
    /// 1000 training points (no targets).
    pub train: ArrayDataset,
    /// 1000 test points.
    pub test: ArrayDataset,
}

/// The dimension of [`QuadraticDeep`].
pub const QUADRATIC_DEEP_DIM: usize = 100;

/// [`QuadraticDeep`] drawn from `seed` (the Hessian and each split from their own streams).
pub fn quadratic_deep(seed: u64) -> Result<QuadraticDeep, DataError> {
    const DIM: usize = QUADRATIC_DEEP_DIM;
    const POINTS: usize = 1000;
    const NOISE: f64 = 0.6;
    let mut rng = rng(seed, streams::QUADRATIC_HESSIAN);
    let mut eigenvalues: Vec<f64> = (0..90).map(|_| rng.random_range(0.0..1.0)).collect();
    eigenvalues.extend((0..10).map(|_| rng.random_range(30.0..60.0)));
    let rotation = haar_rotation(DIM, &mut rng);
    let q = rotation.transpose()
        * DMatrix::from_diagonal(&DVector::from_vec(eigenvalues.clone()))
        * &rotation;
    // Symmetrise: the product is symmetric only up to rounding.
    let q = (&q + q.transpose()) * 0.5;
    let points = |id: u64, split: &str| {
        let mut rng = stream(seed, Purpose::Synthetic, id);
        let features = (0..POINTS * DIM)
            .map(|_| (NOISE * normal(&mut rng)) as f32)
            .collect();
        ArrayDataset::new(
            format!("quadratic_deep/{split}"),
            features,
            vec![DIM],
            Targets::None,
        )
    };
    Ok(QuadraticDeep {
        hessian: q.transpose().iter().copied().collect(),
        // nalgebra stores column-major, so R's storage order is R^T row-major.
        eigenvectors: rotation.iter().copied().collect(),
        eigenvalues,
        train: points(streams::QUADRATIC_TRAIN, "train")?,
        test: points(streams::QUADRATIC_TEST, "test")?,
    })
}

/// A rotation drawn from the Haar measure: the Q factor of a Gaussian matrix, with the signs
/// fixed so the distribution is uniform (Mezzadri 2007).
fn haar_rotation(dim: usize, rng: &mut ChaCha8Rng) -> DMatrix<f64> {
    let gaussian = DMatrix::from_fn(dim, dim, |_, _| normal(rng));
    let qr = gaussian.qr();
    let mut q = qr.q();
    let r = qr.r();
    for j in 0..dim {
        if r[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}
