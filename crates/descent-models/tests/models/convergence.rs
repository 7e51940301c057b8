//! Full-batch gradient descent on the convex models reaches optima computed independently in
//! plain f64, sharing no code with the crate: Newton's method for L2-penalised softmax
//! regression, the normal equations for least squares.

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use descent_models::init::float_dtype;
use descent_models::{
    ClassLabels, LinearRegressionConfig, Loss, Model, Objective, SoftmaxRegressionConfig, Targets,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

type B = Autodiff<NdArray<f64>>;

const CLASSES: usize = 3;
const PER_CLASS: usize = 100;
const LAMBDA: f64 = 1e-2;
/// Features plus the bias's constant 1.
const D: usize = 3;

/// Three overlapping Gaussian blobs in 2-D (unit variance), 100 points each: not separable,
/// so even without the penalty the optimum would be finite; the penalty makes it unique.
fn blobs() -> (Vec<[f64; 2]>, Vec<usize>) {
    let centres = [[0.0, 0.0], [2.0, 0.0], [1.0, 1.7]];
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (class, centre) in centres.iter().enumerate() {
        for _ in 0..PER_CLASS {
            let a: f64 = StandardNormal.sample(&mut rng);
            let b: f64 = StandardNormal.sample(&mut rng);
            x.push([centre[0] + a, centre[1] + b]);
            y.push(class);
        }
    }
    (x, y)
}

/// `theta[c * D + j]`: class `c`'s weight on feature `j`, `j = 2` its bias.
fn probabilities(theta: &[f64], x: [f64; 2]) -> [f64; CLASSES] {
    let z: Vec<f64> = (0..CLASSES)
        .map(|c| theta[c * D] * x[0] + theta[c * D + 1] * x[1] + theta[c * D + 2])
        .collect();
    let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let s: f64 = e.iter().sum();
    [e[0] / s, e[1] / s, e[2] / s]
}

/// `(1/n) sum -log p_y + lambda/2 ||theta||^2`.
fn objective(theta: &[f64], x: &[[f64; 2]], y: &[usize]) -> f64 {
    let data: f64 = x
        .iter()
        .zip(y)
        .map(|(&xi, &yi)| -probabilities(theta, xi)[yi].ln())
        .sum::<f64>()
        / x.len() as f64;
    data + LAMBDA / 2.0 * theta.iter().map(|t| t * t).sum::<f64>()
}

/// Gradient `(1/n) sum (p - e_y) x~^T + lambda theta` and Hessian
/// `(1/n) sum (diag p - p p^T) (x) x~ x~^T + lambda I`.
fn gradient_and_hessian(theta: &[f64], x: &[[f64; 2]], y: &[usize]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let p_dim = CLASSES * D;
    let n = x.len() as f64;
    let mut g = vec![0.0; p_dim];
    let mut h = vec![vec![0.0; p_dim]; p_dim];
    for (&xi, &yi) in x.iter().zip(y) {
        let p = probabilities(theta, xi);
        let xt = [xi[0], xi[1], 1.0];
        for c in 0..CLASSES {
            let r = p[c] - f64::from(u8::from(c == yi));
            for j in 0..D {
                g[c * D + j] += r * xt[j] / n;
            }
            for c2 in 0..CLASSES {
                let w = if c == c2 {
                    p[c] * (1.0 - p[c])
                } else {
                    -p[c] * p[c2]
                };
                for j in 0..D {
                    for j2 in 0..D {
                        h[c * D + j][c2 * D + j2] += w * xt[j] * xt[j2] / n;
                    }
                }
            }
        }
    }
    for i in 0..p_dim {
        g[i] += LAMBDA * theta[i];
        h[i][i] += LAMBDA;
    }
    (g, h)
}

/// Solves `a z = b` for symmetric positive definite `a` by Cholesky.
fn cholesky_solve(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                assert!(d > 0.0, "Hessian not positive definite");
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut out = vec![0.0; n];
    for i in (0..n).rev() {
        out[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * out[k]).sum::<f64>()) / l[i][i];
    }
    out
}

/// Newton's method with backtracking from 0; returns the minimiser and the minimum.
fn newton(x: &[[f64; 2]], y: &[usize]) -> (Vec<f64>, f64) {
    let mut theta = vec![0.0; CLASSES * D];
    for _ in 0..100 {
        let (g, h) = gradient_and_hessian(&theta, x, y);
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm < 1e-14 {
            break;
        }
        let step = cholesky_solve(&h, &g);
        let f0 = objective(&theta, x, y);
        let mut t = 1.0;
        loop {
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            if objective(&trial, x, y) <= f0 || t < 1e-10 {
                theta = trial;
                break;
            }
            t /= 2.0;
        }
    }
    let (g, _) = gradient_and_hessian(&theta, x, y);
    let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(norm < 1e-12, "Newton did not converge: |grad| = {norm}");
    let f = objective(&theta, x, y);
    (theta, f)
}

/// The second moments `X~^T X~ / n` of the features with the bias's 1 appended.
fn second_moments(x: &[[f64; 2]]) -> [[f64; D]; D] {
    let n = x.len() as f64;
    let mut m = [[0.0; D]; D];
    for xi in x {
        let xt = [xi[0], xi[1], 1.0];
        for i in 0..D {
            for j in 0..D {
                m[i][j] += xt[i] * xt[j] / n;
            }
        }
    }
    m
}

/// The largest eigenvalue of `X~^T X~ / n`.
fn top_eigenvalue(x: &[[f64; 2]]) -> f64 {
    let m = second_moments(x);
    // Power iteration: M is 3x3 symmetric positive definite.
    let mut v = [1.0; D];
    let mut top = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..D)
            .map(|i| (0..D).map(|j| m[i][j] * v[j]).sum())
            .collect();
        top = w.iter().map(|a| a * a).sum::<f64>().sqrt();
        for i in 0..D {
            v[i] = w[i] / top;
        }
    }
    top
}

/// `1/L` for the penalised objective: the softmax Hessian `diag p - p p^T` is at most `1/2`
/// in operator norm, so `L <= lambda_max(X~^T X~ / n) / 2 + lambda`.
fn step_size(x: &[[f64; 2]]) -> f64 {
    1.0 / (top_eigenvalue(x) / 2.0 + LAMBDA)
}

#[test]
fn gradient_descent_reaches_newtons_optimum_of_softmax_regression() {
    let (x, y) = blobs();
    let (theta_star, f_star) = newton(&x, &y);

    let device = Default::default();
    let dtype = float_dtype::<B>();
    let flat: Vec<f64> = x.iter().flat_map(|p| *p).collect();
    let inputs: Tensor<B, 2> =
        Tensor::from_data(TensorData::new(flat, [x.len(), 2]), (&device, dtype));
    let targets = Targets::Classes(ClassLabels::new(&y, CLASSES, &device).unwrap());
    let objective_fn = Objective::new(Loss::CrossEntropy).with_l2(LAMBDA);

    let mut model = SoftmaxRegressionConfig::new(2, CLASSES)
        .with_seed(0)
        .init::<B>(&device)
        .unwrap();
    let mut sgd = SgdConfig::new().init::<B, _>();
    let lr = step_size(&x);

    let steps = 1500;
    let mut losses = Vec::with_capacity(steps + 1);
    for _ in 0..steps {
        let output = model.forward(inputs.clone()).unwrap();
        let loss = objective_fn.value(&model, output, &targets).unwrap();
        losses.push(loss.clone().into_scalar().elem::<f64>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = sgd.step(lr, model, grads);
    }
    let output = model.forward(inputs).unwrap();
    let last: f64 = objective_fn
        .value(&model, output, &targets)
        .unwrap()
        .into_scalar()
        .elem();
    losses.push(last);

    let gap = last - f_star;
    let first_within = losses.iter().position(|l| l - f_star < 1e-4);
    println!(
        "Newton optimum {f_star:.15}; GD (lr = 1/L = {lr:.4}) start {:.6}, after {steps} \
         steps {last:.15}, gap {gap:.3e}; gap < 1e-4 from step {first_within:?}",
        losses[0]
    );
    assert!(gap.abs() < 1e-4, "gap {gap}");
    // Newton's value is the minimum: GD never goes below it, and with lr <= 1/L it descends.
    for (k, pair) in losses.windows(2).enumerate() {
        assert!(pair[1] >= f_star - 1e-12, "step {k} went below the optimum");
        assert!(pair[1] <= pair[0] + 1e-14, "step {k} went up");
    }

    // And the point, not just the value: theta within sqrt(2 gap / lambda) of theta*.
    let w: Vec<f64> = model.linear.weight.val().into_data().to_vec().unwrap();
    let b: Vec<f64> = model
        .linear
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .to_vec()
        .unwrap();
    let dist2: f64 = (0..CLASSES)
        .map(|c| {
            (w[c] - theta_star[c * D]).powi(2)
                + (w[CLASSES + c] - theta_star[c * D + 1]).powi(2)
                + (b[c] - theta_star[c * D + 2]).powi(2)
        })
        .sum();
    assert!(
        dist2 <= 2.0 * gap.max(0.0) / LAMBDA + 1e-12,
        "distance^2 {dist2} vs bound {}",
        2.0 * gap / LAMBDA
    );
    assert_eq!(model.num_params(), CLASSES * D);
}

#[test]
fn gradient_descent_reaches_the_least_squares_solution() {
    // y = 1.5 x0 - 2 x1 + 0.3 + noise, on the blobs' points.
    let (x, _) = blobs();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let y: Vec<f64> = x
        .iter()
        .map(|p| {
            let noise: f64 = StandardNormal.sample(&mut rng);
            1.5 * p[0] - 2.0 * p[1] + 0.3 + 0.1 * noise
        })
        .collect();
    // Normal equations (X~^T X~) beta = X~^T y, and the minimum mean squared error.
    let m = second_moments(&x);
    let n = x.len() as f64;
    let mut rhs = vec![0.0; D];
    for (p, t) in x.iter().zip(&y) {
        for (j, v) in [p[0], p[1], 1.0].iter().enumerate() {
            rhs[j] += v * t / n;
        }
    }
    let beta = cholesky_solve(&m.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), &rhs);
    let f_star = x
        .iter()
        .zip(&y)
        .map(|(p, t)| (beta[0] * p[0] + beta[1] * p[1] + beta[2] - t).powi(2))
        .sum::<f64>()
        / n;

    let device = Default::default();
    let dtype = float_dtype::<B>();
    let flat: Vec<f64> = x.iter().flat_map(|p| *p).collect();
    let inputs: Tensor<B, 2> =
        Tensor::from_data(TensorData::new(flat, [x.len(), 2]), (&device, dtype));
    let targets = Targets::Values(Tensor::from_data(
        TensorData::new(y.clone(), [y.len(), 1]),
        (&device, dtype),
    ));
    let objective_fn = Objective::new(Loss::Mse);
    let mut model = LinearRegressionConfig::new(2)
        .with_seed(0)
        .init::<B>(&device)
        .unwrap();
    let mut sgd = SgdConfig::new().init::<B, _>();
    // The MSE's Hessian is 2 X~^T X~ / n.
    let lr = 1.0 / (2.0 * top_eigenvalue(&x));
    let steps = 500;
    for _ in 0..steps {
        let output = model.forward(inputs.clone()).unwrap();
        let loss = objective_fn.value(&model, output, &targets).unwrap();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = sgd.step(lr, model, grads);
    }
    let output = model.forward(inputs).unwrap();
    let last: f64 = objective_fn
        .value(&model, output, &targets)
        .unwrap()
        .into_scalar()
        .elem();
    let gap = last - f_star;
    println!(
        "least squares: normal equations {f_star:.15}, GD after {steps} steps {last:.15}, gap {gap:.3e}"
    );
    assert!((-1e-12..1e-8).contains(&gap), "gap {gap}");
}
