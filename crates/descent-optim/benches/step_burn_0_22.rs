//! One Adam step on burn 0.22 (`cargo bench -p descent-optim --features burn-0-22 --bench
//! step_burn_0_22`): descent-optim's Adam (its one rule, through burn 0.22's
//! `ModuleOptimizer`) beside burn-optim 0.22.1's own Adam (epsilon set to PyTorch's 1e-8), on
//! 1e5, 1e6 and 1e7 f32 parameters of burn 0.22's flex backend, and the machine's
//! bandwidth measured by a triad in the same run.
//!
//! The two optimizers alternate step by step on their own copies of the same tensors, so a
//! slow phase of the machine falls on both; the table gives medians. burn 0.22 has no fused
//! CPU step for either, so both run tensor ops (about eleven passes over memory for Adam).

#![allow(missing_docs)]
#![allow(clippy::expect_used)] // benchmark set-up: failing loudly is right

use std::hint::black_box;
use std::time::Instant;

use burn_0_22::module::{Module, Param};
use burn_0_22::optim::{GradientsParams, ModuleOptimizer};
use burn_0_22::tensor::{DType, Device, Distribution, Tensor};
use descent_optim::burn_0_22::ModuleOptimizerConfig;
use descent_optim::optim::AdamConfig;

mod common;
use common::{median, triad_bandwidth};

// burn 0.22's derive names `burn::module::...`.
use burn_0_22 as burn;

#[derive(Module, Debug)]
struct Flat {
    w: Param<Tensor<1>>,
}

const SIZES: [usize; 3] = [100_000, 1_000_000, 10_000_000];

/// Bytes a single-pass Adam step moves per f32 parameter: read the parameter, the gradient
/// and two moments, write the parameter and two moments.
const ADAM_BYTES: f64 = 28.0;

fn device() -> Device {
    Device::flex()
}

/// Median seconds per step of each optimizer, alternating them step by step.
fn time_pair(n: usize, steps: usize, optimizers: &mut [ModuleOptimizer; 2]) -> [f64; 2] {
    let autodiff = device().autodiff();
    let start = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), (&autodiff, DType::F32));
    let grad = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), (&device(), DType::F32));
    let mut modules: [Option<Flat>; 2] = [0, 1].map(|_| {
        Some(Flat {
            w: Param::from_tensor(start.clone().mul_scalar(1.0)),
        })
    });
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    // The first step creates the state; it is not timed.
    for step in 0..=steps {
        for (k, optimizer) in optimizers.iter_mut().enumerate() {
            let Some(module) = modules[k].take() else {
                continue;
            };
            let mut grads = GradientsParams::new();
            grads.register::<1>(module.w.id, grad.clone().mul_scalar(1.0));
            let began = Instant::now();
            let next = optimizer.step(1e-3, module, grads);
            let elapsed = began.elapsed().as_secs_f64();
            modules[k] = Some(black_box(next));
            if step > 0 {
                times[k].push(elapsed);
            }
        }
    }
    [median(&mut times[0]), median(&mut times[1])]
}

fn main() {
    let bandwidth = triad_bandwidth(10_000_000);
    println!(
        "burn 0.22.1, flex backend, f32; triad (one thread, 1e7 f32, same run): {:.1} GB/s",
        bandwidth / 1e9
    );
    println!(
        "{:>10} {:>22} {:>22} {:>12}",
        "params", "descent Adam ns/param", "burn Adam ns/param", "descent/burn"
    );
    for n in SIZES {
        let steps = if n >= 10_000_000 { 15 } else { 40 };
        let mut optimizers = [
            ModuleOptimizerConfig::init(&AdamConfig::new()).expect("valid Adam"),
            burn_0_22::optim::AdamConfig::new()
                .with_epsilon(1e-8)
                .init(),
        ];
        let [ours, theirs] = time_pair(n, steps, &mut optimizers);
        let per = |seconds: f64| seconds * 1e9 / n as f64;
        println!(
            "{n:>10} {:>15.3} ({:>4.1} GB/s) {:>15.3} ({:>4.1} GB/s) {:>11.2}x",
            per(ours),
            ADAM_BYTES * n as f64 / ours / 1e9,
            per(theirs),
            ADAM_BYTES * n as f64 / theirs / 1e9,
            theirs / ours
        );
    }
    println!(
        "(descent/burn: burn's step time over descent's, >1 means descent is faster; medians)"
    );
}
