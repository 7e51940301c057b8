//! The optax-style convergence table: every optimizer, with reasonable settings, reaches a
//! small loss on an ill-conditioned convex quadratic and makes progress on Rosenbrock.

use burn::module::{Module, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use descent_optim::optim::*;

use super::common::{F64, tensor};

#[derive(Module, Debug)]
struct Point<B: Backend> {
    w: Param<Tensor<B, 1>>,
}

/// `1/2 sum_i lambda_i (w_i - c_i)^2` with `lambda_i` from 1 to 10 (condition number 10).
fn quadratic<B: Backend>(w: Tensor<B, 1>) -> Tensor<B, 1> {
    let n = 10;
    let device = w.device();
    let lambdas = tensor::<B, 1>((0..n).map(|i| 1.0 + i as f64).collect(), [n], &device);
    let centre = tensor::<B, 1>((0..n).map(|i| 1.0 - 0.2 * i as f64).collect(), [n], &device);
    w.sub(centre).square().mul(lambdas).sum().mul_scalar(0.5)
}

/// `(1 - x)^2 + 100 (y - x^2)^2`.
fn rosenbrock<B: Backend>(w: Tensor<B, 1>) -> Tensor<B, 1> {
    let x = w.clone().slice(0..1);
    let y = w.slice(1..2);
    let a = x.clone().neg().add_scalar(1.0).square();
    let b = y.sub(x.square()).square().mul_scalar(100.0);
    a.add(b).sum()
}

fn minimise<O, L>(optimizer: O, loss: L, start: Vec<f64>, lr: f64, steps: usize) -> f64
where
    O: SimpleOptimizer<<F64 as AutodiffBackend>::InnerBackend>,
    L: Fn(Tensor<F64, 1>) -> Tensor<F64, 1>,
{
    let device = Default::default();
    let n = start.len();
    let mut point = Point::<F64> {
        w: Param::from_tensor(tensor::<F64, 1>(start, [n], &device)),
    };
    let mut optimizer: OptimizerAdaptor<O, Point<F64>, F64> = OptimizerAdaptor::from(optimizer);
    for _ in 0..steps {
        let value = loss(point.w.val());
        let grads = GradientsParams::from_grads(value.backward(), &point);
        point = optimizer.step(lr, point, grads);
    }
    loss(point.w.val()).into_scalar().elem::<f64>()
}

struct Row {
    name: &'static str,
    quadratic: f64,
    rosenbrock: f64,
}

/// Runs one optimizer on both problems. `q` and `r` are (learning rate, steps).
fn row<O>(name: &'static str, make: impl Fn() -> O, q: (f64, usize), r: (f64, usize)) -> Row
where
    O: SimpleOptimizer<<F64 as AutodiffBackend>::InnerBackend>,
{
    Row {
        name,
        quadratic: minimise(make(), quadratic, vec![0.0; 10], q.0, q.1),
        rosenbrock: minimise(make(), rosenbrock, vec![-1.5, 2.0], r.0, r.1),
    }
}

#[test]
fn every_optimizer_converges_on_a_quadratic_and_progresses_on_rosenbrock() {
    let start_q =
        quadratic::<burn::backend::NdArray<f64>>(tensor(vec![0.0; 10], [10], &Default::default()))
            .into_scalar();
    let start_r = 12.5; // (1 + 1.5)^2 + 100 (2 - 2.25)^2
    let rows = vec![
        row(
            "SGD",
            || SgdConfig::new().build().expect("valid"),
            (0.15, 300),
            (1e-3, 3000),
        ),
        row(
            "SGD + Nesterov",
            || {
                SgdConfig::new()
                    .with_momentum(0.9)
                    .with_nesterov(true)
                    .build()
                    .expect("valid")
            },
            (0.05, 300),
            (5e-4, 3000),
        ),
        row(
            "Adam",
            || AdamConfig::new().build().expect("valid"),
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "AdamW",
            || {
                AdamWConfig::new()
                    .with_weight_decay(0.0)
                    .build()
                    .expect("valid")
            },
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "NAdam",
            || NAdamConfig::new().build().expect("valid"),
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "RAdam",
            || RAdamConfig::new().build().expect("valid"),
            (0.1, 500),
            (5e-3, 3000),
        ),
        row(
            "Adamax",
            || AdamaxConfig::new().build().expect("valid"),
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "Rprop",
            || RpropConfig::new().build().expect("valid"),
            (0.01, 500),
            (0.001, 3000),
        ),
        row(
            "AdaBelief",
            || AdaBeliefConfig::new().build().expect("valid"),
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "Yogi",
            || YogiConfig::new().build().expect("valid"),
            (0.1, 500),
            (0.02, 3000),
        ),
        row(
            "ASGD",
            || AsgdConfig::new().build().expect("valid"),
            (0.15, 300),
            (1e-3, 3000),
        ),
        row(
            "RMSProp",
            || RmsPropConfig::new().build().expect("valid"),
            (0.01, 1000),
            (1e-3, 3000),
        ),
        row(
            "Adagrad",
            || AdagradConfig::new().build().expect("valid"),
            (0.5, 500),
            (0.1, 3000),
        ),
        row(
            "Adadelta",
            || AdadeltaConfig::new().build().expect("valid"),
            (10.0, 1000),
            (1.0, 3000),
        ),
        row(
            "Lion",
            || LionConfig::new().build().expect("valid"),
            (2e-3, 1500),
            (1e-3, 3000),
        ),
        row(
            "Schedule-Free SGD",
            || ScheduleFreeSgdConfig::new().build().expect("valid"),
            (0.1, 500),
            (1e-3, 3000),
        ),
        row(
            "Schedule-Free AdamW",
            || {
                ScheduleFreeAdamWConfig::new()
                    .with_warmup_steps(10)
                    .build()
                    .expect("valid")
            },
            (0.05, 1000),
            (0.01, 3000),
        ),
        row(
            "Lookahead(SGD)",
            || {
                LookaheadConfig::new()
                    .build(SgdConfig::new().build().expect("valid"))
                    .expect("valid")
            },
            (0.15, 500),
            (1e-3, 3000),
        ),
        row(
            "noisy GD",
            || {
                NoisyGdConfig::new(1e-4)
                    .with_seed(3)
                    .build()
                    .expect("valid")
            },
            (0.15, 300),
            (1e-3, 3000),
        ),
    ];
    println!("start: quadratic {start_q:.3e}, Rosenbrock {start_r:.3e}");
    println!(
        "{:<22} {:>14} {:>14}",
        "optimizer", "quadratic", "Rosenbrock"
    );
    for r in &rows {
        println!(
            "{:<22} {:>14.3e} {:>14.3e}",
            r.name, r.quadratic, r.rosenbrock
        );
    }
    for r in &rows {
        assert!(
            r.quadratic < 1e-3 * start_q,
            "{}: quadratic loss {} is not below 1e-3 of the start ({start_q})",
            r.name,
            r.quadratic
        );
        assert!(
            r.rosenbrock < 0.1 * start_r,
            "{}: Rosenbrock loss {} is not below a tenth of the start ({start_r})",
            r.name,
            r.rosenbrock
        );
    }
}
