//! One optimizer step on 1e5, 1e6 and 1e7 f32 parameters (`NdArray<f32>`), for this crate's
//! SGD-momentum, Adam, AdamW, RMSProp, Lion and Adagrad beside burn's built-in Adam and
//! SGD-momentum on the same tensors, through the same `OptimizerAdaptor` path a training loop uses.
//!
//! Besides criterion's own report, a summary table prints the median ns per parameter,
//! the effective bandwidth (bytes a fused single-pass step must move: 28 per parameter for
//! Adam/AdamW, 20 for SGD-momentum, RMSProp, Lion and Adagrad), the ratio to burn's built-in
//! counterpart and the fraction of this machine's bandwidth measured in the same run by a
//! STREAM-like triad on one thread (the fused steps use every core with `rayon`, so they
//! can pass it).

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]
#![allow(clippy::expect_used)] // benchmark set-up: failing loudly is right

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, NdArray};
use burn::module::{Module, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use descent_optim::optim::{
    AdagradConfig, AdamConfig, AdamWConfig, LionConfig, OptimConfig, RmsPropConfig, SgdConfig,
};

mod common;
use common::{median, triad_bandwidth};

type Ad = Autodiff<NdArray<f32>>;
type Inner = <Ad as AutodiffBackend>::InnerBackend;

#[derive(Module, Debug)]
struct Flat<B: burn::tensor::backend::Backend> {
    w: Param<Tensor<B, 1>>,
}

const SIZES: [usize; 3] = [100_000, 1_000_000, 10_000_000];

/// Per (optimizer, size): every measured step time, in seconds.
type Samples = RefCell<BTreeMap<(String, usize), Vec<f64>>>;

fn bench_optimizer<O>(
    c: &mut Criterion,
    samples: &Samples,
    name: &str,
    bytes_per_param: u64,
    make: impl Fn() -> OptimizerAdaptor<O, Flat<Ad>, Ad>,
) where
    O: SimpleOptimizer<Inner>,
{
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300));
    for n in SIZES {
        group.measurement_time(Duration::from_secs(if n >= 10_000_000 { 4 } else { 2 }));
        group.throughput(Throughput::Bytes(bytes_per_param * n as u64));
        let device = Default::default();
        let grad_template =
            Tensor::<Inner, 1>::random([n], Distribution::Normal(0.0, 1.0), &device);
        let mut module = Some(Flat::<Ad> {
            w: Param::from_tensor(Tensor::random([n], Distribution::Normal(0.0, 1.0), &device)),
        });
        let mut optimizer = make();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bencher, _| {
            bencher.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A fresh gradient each step, as backward produces one, made outside the timing.
                    let grad = grad_template.clone().mul_scalar(1.0);
                    let _ = grad.clone().into_primitive();
                    let mut grads = GradientsParams::new();
                    let Some(current) = module.take() else { break };
                    grads.register::<Inner, 1>(current.w.id, grad);
                    let start = Instant::now();
                    let next = optimizer.step(1e-3, current, grads);
                    // ndarray runs eagerly: the step is done when `step` returns.
                    let elapsed = start.elapsed();
                    module = Some(black_box(next));
                    total += elapsed;
                    samples
                        .borrow_mut()
                        .entry((name.to_string(), n))
                        .or_default()
                        .push(elapsed.as_secs_f64());
                }
                total
            });
        });
    }
    group.finish();
}

fn steps(c: &mut Criterion) {
    let samples: Samples = RefCell::new(BTreeMap::new());
    // (name, bytes a fused step moves per parameter, burn's built-in counterpart if any)
    let bytes: [(&str, u64, &str); 8] = [
        ("descent SGD-momentum", 20, "burn SGD-momentum"),
        ("descent Adam", 28, "burn Adam"),
        ("descent AdamW", 28, "burn Adam"),
        ("descent RMSProp", 20, ""),
        ("descent Lion", 20, ""),
        ("descent Adagrad", 20, ""),
        ("burn Adam", 28, "burn Adam"),
        ("burn SGD-momentum", 20, "burn SGD-momentum"),
    ];
    let valid = "benchmark configs are valid";
    bench_optimizer(c, &samples, bytes[0].0, 20, || {
        SgdConfig::new().with_momentum(0.9).init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[1].0, 28, || {
        AdamConfig::new().init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[2].0, 28, || {
        AdamWConfig::new().init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[3].0, 20, || {
        RmsPropConfig::new().init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[4].0, 20, || {
        LionConfig::new().init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[5].0, 20, || {
        AdagradConfig::new().init().expect(valid)
    });
    bench_optimizer(c, &samples, bytes[6].0, 28, || {
        burn::optim::AdamConfig::new().with_epsilon(1e-8).init()
    });
    bench_optimizer(c, &samples, bytes[7].0, 20, || {
        burn::optim::SgdConfig::new()
            .with_momentum(Some(
                burn::optim::momentum::MomentumConfig::new().with_dampening(0.0),
            ))
            .init()
    });

    let bandwidth = triad_bandwidth(10_000_000);
    let mut samples = samples.into_inner();
    println!(
        "\nmemory bandwidth (triad on one thread, 1e7 f32, same run): {:.1} GB/s",
        bandwidth / 1e9
    );
    println!(
        "{:<22} {:>10} {:>11} {:>9} {:>14} {:>12}",
        "optimizer", "params", "ns/param", "GB/s", "vs burn", "of triad"
    );
    for n in SIZES {
        let reference: BTreeMap<&str, f64> = ["burn Adam", "burn SGD-momentum"]
            .into_iter()
            .filter_map(|name| {
                samples
                    .get_mut(&(name.to_string(), n))
                    .map(|times| (name, median(times)))
            })
            .collect();
        for (name, bytes_per_param, counterpart) in bytes {
            let Some(times) = samples.get_mut(&(name.to_string(), n)) else {
                continue;
            };
            let seconds = median(times);
            let ns_per_param = seconds * 1e9 / n as f64;
            let gbs = bytes_per_param as f64 * n as f64 / seconds / 1e9;
            let versus = reference
                .get(counterpart)
                .map(|r| {
                    format!(
                        "{:.2}x {}",
                        r / seconds,
                        counterpart.trim_start_matches("burn ")
                    )
                })
                .unwrap_or_default();
            println!(
                "{name:<22} {n:>10} {ns_per_param:>11.3} {gbs:>9.1} {versus:>14} {:>11.0}%",
                100.0 * gbs * 1e9 / bandwidth
            );
        }
    }
    println!("(vs burn: speed-up over burn's built-in counterpart, >1 is faster; medians)");
}

criterion_group!(benches, steps);
criterion_main!(benches);
