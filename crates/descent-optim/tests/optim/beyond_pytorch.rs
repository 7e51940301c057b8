//! The optimizers PyTorch lacks, checked against independent scalar re-derivations of
//! their papers' update rules in plain f64, on the reference problem's gradients.

use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::AutodiffBackend;
use descent_optim::optim::*;
use serde_json::Value;

use super::common::{F64, Pair, flat, flatten, reference, run, start};

type Inner = <F64 as AutodiffBackend>::InnerBackend;

fn init(reference: &Value) -> Vec<f64> {
    flat(&reference["init"])
}

fn grads(reference: &Value) -> Vec<Vec<f64>> {
    (0..20).map(|t| flat(&reference["grads"][t])).collect()
}

/// Our run: the final module, the trajectory, and the optimizer (for `schedule_free_eval`).
type Run<O> = (
    Pair<F64>,
    Vec<Vec<f64>>,
    OptimizerAdaptor<O, Pair<F64>, F64>,
);

fn ours<O: SimpleOptimizer<Inner>>(optimizer: O, lr: f64) -> Run<O> {
    let reference = reference();
    let mut adaptor: OptimizerAdaptor<O, Pair<F64>, F64> = OptimizerAdaptor::from(optimizer);
    let (pair, trajectory) = run(&reference, start(&reference), &mut adaptor, lr, 0..20);
    (pair, trajectory, adaptor)
}

fn assert_close(name: &str, ours: &[Vec<f64>], expected: &[Vec<f64>], tolerance: f64) {
    assert_eq!(ours.len(), expected.len());
    for (t, (a, e)) in ours.iter().zip(expected).enumerate() {
        for (k, (x, y)) in a.iter().zip(e).enumerate() {
            assert!(
                (x - y).abs() <= tolerance,
                "{name}: step {} coordinate {k}: {x} vs {y}",
                t + 1
            );
        }
    }
}

#[test]
fn lion_follows_the_papers_update() {
    let (lr, b1, b2, wd) = (0.01, 0.9, 0.99, 0.1);
    let reference = reference();
    let mut theta = init(&reference);
    let mut m = vec![0.0; theta.len()];
    let mut expected = Vec::new();
    for g in grads(&reference) {
        for k in 0..theta.len() {
            let c = b1 * m[k] + (1.0 - b1) * g[k];
            let sign = if c > 0.0 {
                1.0
            } else if c < 0.0 {
                -1.0
            } else {
                0.0
            };
            theta[k] = theta[k] * (1.0 - lr * wd) - lr * sign;
            m[k] = b2 * m[k] + (1.0 - b2) * g[k];
        }
        expected.push(theta.clone());
    }
    let optimizer = LionConfig::new()
        .with_weight_decay(wd)
        .build()
        .expect("valid");
    let (_, trajectory, _) = ours(optimizer, lr);
    assert_close("Lion", &trajectory, &expected, 1e-12);
}

/// Schedule-Free SGD written the paper's way, with `x` stored explicitly:
/// `y = (1 - beta) z + beta x`, `z -= lr g(y)`, `x = (1 - c) x + c z`, `c = 1/(t+1)` for a
/// constant learning rate without warm-up (all weights equal).
#[test]
fn schedule_free_sgd_tracks_the_papers_sequences_and_evaluates_at_x() {
    let (lr, beta) = (0.1, 0.9);
    let reference = reference();
    let mut z = init(&reference);
    let mut x = z.clone();
    let mut ys = Vec::new();
    for (t, g) in grads(&reference).iter().enumerate() {
        let c = 1.0 / (t as f64 + 1.0);
        for k in 0..z.len() {
            z[k] -= lr * g[k];
            x[k] = (1.0 - c) * x[k] + c * z[k];
        }
        ys.push(
            z.iter()
                .zip(&x)
                .map(|(z, x)| (1.0 - beta) * z + beta * x)
                .collect::<Vec<_>>(),
        );
    }
    let optimizer = ScheduleFreeSgdConfig::new()
        .with_momentum(beta)
        .build()
        .expect("valid");
    let (pair, trajectory, adaptor) = ours(optimizer, lr);
    assert_close("Schedule-Free SGD (y)", &trajectory, &ys, 1e-12);
    let evaluated = schedule_free_eval(pair, &adaptor);
    assert_close("Schedule-Free SGD (x)", &[flatten(&evaluated)], &[x], 1e-12);
}

/// Schedule-Free AdamW with `x` stored explicitly and a 5-step warm-up, so the averaging
/// weights `lr_max^2` differ between steps.
#[test]
fn schedule_free_adamw_tracks_the_papers_sequences_and_evaluates_at_x() {
    let (lr, b1, b2, eps, wd, warmup) = (0.01, 0.9, 0.999_f64, 1e-8, 0.01, 5usize);
    let reference = reference();
    let mut z = init(&reference);
    let mut x = z.clone();
    let mut y = z.clone();
    let mut v = vec![0.0; z.len()];
    let (mut weight_sum, mut lr_max) = (0.0, f64::NEG_INFINITY);
    let mut ys = Vec::new();
    for (t, g) in grads(&reference).iter().enumerate() {
        let scheduled = if t < warmup {
            lr * (t as f64 + 1.0) / warmup as f64
        } else {
            lr
        };
        lr_max = f64::max(lr_max, scheduled);
        let weight = lr_max * lr_max;
        weight_sum += weight;
        let c = weight / weight_sum;
        let bias_correction = 1.0 - b2.powi(t as i32 + 1);
        for k in 0..z.len() {
            v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
            let d = g[k] / ((v[k] / bias_correction).sqrt() + eps) + wd * y[k];
            z[k] -= scheduled * d;
            x[k] = (1.0 - c) * x[k] + c * z[k];
            y[k] = (1.0 - b1) * z[k] + b1 * x[k];
        }
        ys.push(y.clone());
    }
    let optimizer = ScheduleFreeAdamWConfig::new()
        .with_weight_decay(wd)
        .with_warmup_steps(warmup)
        .build()
        .expect("valid");
    let (pair, trajectory, adaptor) = ours(optimizer, lr);
    assert_close("Schedule-Free AdamW (y)", &trajectory, &ys, 1e-12);
    let evaluated = schedule_free_eval(pair, &adaptor);
    assert_close(
        "Schedule-Free AdamW (x)",
        &[flatten(&evaluated)],
        &[x],
        1e-12,
    );
}

#[test]
fn lookahead_pulls_fast_weights_back_every_k_steps() {
    let (lr, k, alpha) = (0.1, 3, 0.5);
    let reference = reference();
    let mut fast = init(&reference);
    let mut slow = fast.clone();
    let mut expected = Vec::new();
    for (t, g) in grads(&reference).iter().enumerate() {
        for i in 0..fast.len() {
            fast[i] -= lr * g[i];
        }
        if (t + 1) % k == 0 {
            for (s, f) in slow.iter_mut().zip(&fast) {
                *s += alpha * (f - *s);
            }
            fast.copy_from_slice(&slow);
        }
        expected.push(fast.clone());
    }
    let inner = SgdConfig::new().build().expect("valid");
    let optimizer = LookaheadConfig::new()
        .with_k(k)
        .with_alpha(alpha)
        .build(inner)
        .expect("valid");
    let (_, trajectory, _) = ours(optimizer, lr);
    assert_close("Lookahead(SGD)", &trajectory, &expected, 1e-12);
}

#[test]
fn noisy_gd_adds_reproducible_gaussian_noise_of_the_given_std() {
    let (lr, sigma) = (0.05, 0.3);
    let (_, plain, _) = ours(SgdConfig::new().build().expect("valid"), lr);
    let noisy = |seed| {
        ours(
            NoisyGdConfig::new(sigma)
                .with_seed(seed)
                .build()
                .expect("valid"),
            lr,
        )
        .1
    };
    let (a, b, c) = (noisy(1), noisy(1), noisy(2));
    assert_eq!(a, b, "the same seed gives the same noise");
    assert_ne!(a, c, "another seed gives other noise");
    // theta_t - theta_t^GD = sigma * sum_{i<=t} xi_i: the per-step increments are N(0, sigma^2).
    let mut increments = Vec::new();
    for t in 0..a.len() {
        for k in 0..a[t].len() {
            let now = a[t][k] - plain[t][k];
            let before = if t == 0 {
                0.0
            } else {
                a[t - 1][k] - plain[t - 1][k]
            };
            increments.push(now - before);
        }
    }
    let n = increments.len() as f64; // 320 draws
    let mean = increments.iter().sum::<f64>() / n;
    let std = (increments.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(mean.abs() < 4.0 * sigma / n.sqrt(), "mean {mean} is not ~0");
    assert!(
        (std / sigma - 1.0).abs() < 0.15,
        "std {std} is not ~{sigma}"
    );
    // W and b draw from different streams: no coordinate repeats another's noise.
    assert_ne!(increments[0], increments[12]);
}

/// Adam with `bias_correction = false` (a teaching option): the paper's moments without the
/// divisors `1 - beta^t`, written out in plain f64, through the fused and the tensor path.
#[test]
fn adam_without_bias_correction_follows_the_uncorrected_moments() {
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.99, 1e-8);
    let reference = reference();
    let mut theta = init(&reference);
    let mut m = vec![0.0; theta.len()];
    let mut v = vec![0.0; theta.len()];
    let mut expected = Vec::new();
    for g in grads(&reference) {
        for k in 0..theta.len() {
            m[k] = b1 * m[k] + (1.0 - b1) * g[k];
            v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
            theta[k] -= lr * m[k] / (v[k].sqrt() + eps);
        }
        expected.push(theta.clone());
    }
    for fused in [true, false] {
        let optimizer = AdamConfig::new()
            .with_beta_2(b2)
            .with_bias_correction(false)
            .with_fused(fused)
            .build()
            .expect("valid");
        let (_, trajectory, _) = ours(optimizer, lr);
        assert_close(
            "Adam without bias correction",
            &trajectory,
            &expected,
            1e-12,
        );
        // The first step is (1 - beta_1) / sqrt(1 - beta_2) = 1x the corrected one here
        // (0.1 / 0.1), so the test also checks that later steps differ from PyTorch's.
        let corrected = AdamConfig::new().with_beta_2(b2).build().expect("valid");
        let (_, with_correction, _) = ours(corrected, lr);
        let last = with_correction.len() - 1;
        let apart = with_correction[last]
            .iter()
            .zip(&trajectory[last])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(apart > 1e-4, "the corrected run is only {apart} away");
    }
}
