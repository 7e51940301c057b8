//! Is the data pipeline ever the bottleneck? Assembling a batch of 128 Fashion-MNIST images
//! (the `ArrayBatcher` path a training loop uses: gather 128 rows, make the input and label
//! tensors) against one training step of the 784-256-128-10 MLP on the same batch (forward,
//! cross-entropy, backward, SGD update) on `NdArray<f32>`. The target: assembly under 5% of
//! a step.
//!
//! Uses the real Fashion-MNIST when installed (`apt-get install dataset-fashion-mnist`),
//! otherwise 60000 random 28x28 images of the same layout (the cost of a gather does not
//! depend on the pixel values). Prints criterion's report and a summary with medians.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]
#![allow(clippy::expect_used)] // benchmark set-up: failing loudly is right

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, NdArray};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use descent_data::{
    ArrayBatcher, ArrayDataset, Batch, BatchPlan, BatchSize, BatchSpec, BatchTargets, Sampling,
    Targets,
};
use descent_models::loss::{ClassLabels, Loss, Objective, Targets as LossTargets};
use descent_models::{Mlp, MlpConfig, Model};

type Ad = Autodiff<NdArray<f32>>;
const BATCH: usize = 128;

fn training_set() -> (ArrayDataset, &'static str) {
    if let Ok(set) = descent_data::fashion_mnist(None) {
        return (set.train, "Fashion-MNIST");
    }
    let n = 60_000;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let pixels = (0..n * 784)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as f32 / 255.0
        })
        .collect();
    let labels = (0..n as u32).map(|i| i % 10).collect();
    let data = ArrayDataset::new(
        "synthetic-fashion",
        pixels,
        vec![1, 28, 28],
        Targets::Classes {
            labels,
            classes: 10,
        },
    )
    .expect("a valid dataset");
    (data, "random images (Fashion-MNIST not installed)")
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn bench(c: &mut Criterion) {
    let (data, source) = training_set();
    let batcher = ArrayBatcher::new(Arc::new(data));
    let spec = BatchSpec {
        size: BatchSize::Items(BATCH),
        drop_last: true,
        sampling: Sampling::Shuffled,
    };
    let plan = BatchPlan::new(spec, batcher.dataset(), 0).expect("a valid plan");
    let epoch = plan.epoch(0);
    let batches: Vec<Vec<usize>> = epoch.batches().map(<[usize]>::to_vec).collect();
    let device = Default::default();
    let assembly: RefCell<Vec<f64>> = RefCell::new(Vec::new());
    let step: RefCell<Vec<f64>> = RefCell::new(Vec::new());

    let mut group = c.benchmark_group("fashion-mnist batch of 128");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut i = 0;
    group.bench_function("assemble batch (ArrayBatcher)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let batch: Batch<Ad> = batcher.assemble(&batches[i % batches.len()], &device);
                black_box(batch);
                i += 1;
            }
            let elapsed = start.elapsed();
            assembly
                .borrow_mut()
                .push(elapsed.as_secs_f64() / iters as f64);
            elapsed
        })
    });

    let mut model: Option<Mlp<Ad>> = Some(
        MlpConfig::mnist_256_128()
            .init(&device)
            .expect("the preset is valid"),
    );
    let mut optimizer = SgdConfig::new().init::<Ad, Mlp<Ad>>();
    let objective = Objective::new(Loss::CrossEntropy);
    // The step alone: batches are assembled before the clock starts.
    let prepared: Vec<Batch<Ad>> = batches
        .iter()
        .take(64)
        .map(|b| batcher.assemble(b, &device))
        .collect();
    let mut j = 0;
    group.bench_function("MLP 784-256-128-10 training step", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let batch = prepared[j % prepared.len()].clone();
                j += 1;
                let m = model.take().expect("the model is put back every step");
                let BatchTargets::Classes(labels) = batch.targets else {
                    unreachable!("classification data")
                };
                let labels = ClassLabels::from_tensor(labels, 10).expect("10 classes");
                let logits = m.forward(batch.inputs).expect("784 inputs");
                let loss = objective
                    .value(&m, logits, &LossTargets::Classes(labels))
                    .expect("matching shapes");
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                model = Some(optimizer.step(0.01, m, grads));
            }
            let elapsed = start.elapsed();
            step.borrow_mut().push(elapsed.as_secs_f64() / iters as f64);
            elapsed
        })
    });
    group.finish();

    let a = median(&mut assembly.borrow_mut());
    let s = median(&mut step.borrow_mut());
    println!();
    println!("data: {source}, ndarray f32, batch {BATCH}, medians over criterion's samples");
    println!("  assemble a batch:        {:>9.1} us", a * 1e6);
    println!("  MLP training step:       {:>9.1} us", s * 1e6);
    println!(
        "  assembly / step:         {:>9.2} %   (target: < 5 %)",
        100.0 * a / s
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
