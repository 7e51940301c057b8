//! The losses and the L2 penalty against hand computations, in f64.

#![allow(clippy::unwrap_used)] // test helpers: failing loudly is the point

use burn::backend::{Autodiff, NdArray};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use descent_models::init::float_dtype;
use descent_models::loss::{cross_entropy, l2_penalty, mse, sum_of_squares};
use descent_models::{
    ClassLabels, Loss, MlpConfig, Model, ModelError, Objective, SoftmaxRegressionConfig, Targets,
};

type B = Autodiff<NdArray<f64>>;

fn tensor<const D: usize>(values: Vec<f64>, shape: [usize; D]) -> Tensor<B, D> {
    Tensor::from_data(
        TensorData::new(values, shape),
        (&Default::default(), float_dtype::<B>()),
    )
}

fn scalar(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn cross_entropy_equals_a_hand_computation_and_survives_huge_logits() {
    let device = Default::default();
    let logits = tensor(
        vec![1.0, 2.0, 3.0, 1000.0, 0.0, -1000.0, 0.5, -0.25, 2.0],
        [3, 3],
    )
    .require_grad();
    let labels = ClassLabels::<B>::new(&[2, 1, 0], 3, &device).unwrap();
    // Row 1: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2).
    // Row 2: the label's logit is 0 and log-sum-exp is 1000 (+ e^-1000): 1000, where a naive
    // exp(1000) would be inf.
    // Row 3: log(e^0.5 + e^-0.25 + e^2) - 0.5.
    let row1 = (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln();
    let row3 = (0.5f64.exp() + (-0.25f64).exp() + 2.0f64.exp()).ln() - 0.5;
    let expected = (row1 + 1000.0 + row3) / 3.0;
    assert!(close(row1, 0.4076059644443804, 1e-15));
    assert!(close(row3, 1.7840726046861715, 1e-15));
    let loss = cross_entropy(logits.clone(), &labels).unwrap();
    let value = scalar(loss.clone());
    assert!(close(value, expected, 1e-14), "{value} vs {expected}");
    assert!(close(value, 334.06389285637687, 1e-14));

    // d loss / d logits = (softmax - one_hot) / N.
    let grads = loss.backward();
    let grad: Vec<f64> = logits.grad(&grads).unwrap().to_data().to_vec().unwrap();
    let rows = [[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [0.5, -0.25, 2.0]];
    for (r, (row, label)) in rows.iter().zip([2, 1, 0]).enumerate() {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
        for (k, v) in row.iter().enumerate() {
            let p = (v - max).exp() / sum;
            let expected = (p - f64::from(u8::from(k == label))) / 3.0;
            assert!((grad[r * 3 + k] - expected).abs() < 1e-15, "{r} {k}");
        }
    }
}

#[test]
fn mse_is_the_mean_of_squared_differences() {
    let output = tensor(vec![1.0, 2.0, -1.0, 0.5], [2, 2]);
    let targets = tensor(vec![0.0, 2.5, 1.0, 0.5], [2, 2]);
    let expected = (1.0 + 0.25 + 4.0 + 0.0) / 4.0;
    assert_eq!(scalar(mse(output, targets).unwrap()), expected);
}

/// The sum of squares of every parameter, read back and summed on the CPU.
struct SumOnCpu(f64);

impl ModuleVisitor<B> for SumOnCpu {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let values: Vec<f64> = param.val().into_data().to_vec().unwrap();
        self.0 += values.iter().map(|v| v * v).sum::<f64>();
    }
}

#[test]
fn the_l2_penalty_is_half_lambda_times_the_sum_of_squares() {
    let device = Default::default();
    let mlp = MlpConfig::new(6, vec![5, 4], 3)
        .with_seed(2)
        .init::<B>(&device)
        .unwrap();
    let mut cpu = SumOnCpu(0.0);
    mlp.visit(&mut cpu);
    let lambda = 0.3;
    let penalty = scalar(l2_penalty(&mlp, lambda, &device).unwrap());
    assert!(close(penalty, lambda / 2.0 * cpu.0, 1e-14), "{penalty}");
    assert!(close(scalar(sum_of_squares(&mlp).unwrap()), cpu.0, 1e-14));

    // The objective is the data loss plus that penalty, and its gradient includes lambda*w.
    let x = tensor((0..12).map(|i| f64::from(i) / 10.0 - 0.5).collect(), [2, 6]);
    let labels = Targets::Classes(ClassLabels::new(&[0, 2], 3, &device).unwrap());
    let plain = Objective::new(Loss::CrossEntropy);
    let penalised = Objective::new(Loss::CrossEntropy).with_l2(lambda);
    let data = scalar(
        plain
            .value(&mlp, mlp.forward(x.clone()).unwrap(), &labels)
            .unwrap(),
    );
    let total = scalar(
        penalised
            .value(&mlp, mlp.forward(x).unwrap(), &labels)
            .unwrap(),
    );
    assert!(close(total, data + lambda / 2.0 * cpu.0, 1e-14));
}

#[test]
fn the_penalty_adds_lambda_w_to_the_gradient() {
    let device = Default::default();
    let model = SoftmaxRegressionConfig::new(2, 3)
        .with_seed(5)
        .init::<B>(&device)
        .unwrap();
    let x = tensor(vec![0.3, -1.2, 2.0, 0.1], [2, 2]);
    let labels = Targets::Classes(ClassLabels::new(&[1, 2], 3, &device).unwrap());
    let grad = |lambda: f64| -> Vec<f64> {
        let objective = Objective::new(Loss::CrossEntropy).with_l2(lambda);
        let loss = objective
            .value(&model, model.forward(x.clone()).unwrap(), &labels)
            .unwrap();
        let grads = loss.backward();
        model
            .linear
            .weight
            .grad(&grads)
            .unwrap()
            .to_data()
            .to_vec()
            .unwrap()
    };
    let (g0, g1) = (grad(0.0), grad(0.7));
    let w: Vec<f64> = model.linear.weight.val().into_data().to_vec().unwrap();
    for ((a, b), w) in g0.iter().zip(&g1).zip(&w) {
        assert!((b - a - 0.7 * w).abs() < 1e-15);
    }
}

#[test]
fn misuse_is_an_error() {
    let device = Default::default();
    assert_eq!(
        ClassLabels::<B>::new(&[0, 3, 1], 3, &device).err(),
        Some(ModelError::Label {
            index: 1,
            label: 3,
            classes: 3
        })
    );
    let labels = ClassLabels::<B>::new(&[0, 1], 3, &device).unwrap();
    assert!(matches!(
        cross_entropy(tensor(vec![0.0; 9], [3, 3]), &labels),
        Err(ModelError::TargetShape { .. })
    ));
    assert_eq!(
        cross_entropy(tensor(vec![0.0; 8], [2, 4]), &labels).err(),
        Some(ModelError::Classes {
            output: 4,
            labels: 3
        })
    );
    let empty = ClassLabels::<B>::new(&[], 3, &device).unwrap();
    assert_eq!(
        cross_entropy(tensor(vec![], [0, 3]), &empty).err(),
        Some(ModelError::EmptyBatch)
    );
    assert!(matches!(
        mse(tensor(vec![0.0; 4], [2, 2]), tensor(vec![0.0; 2], [2, 1])),
        Err(ModelError::TargetShape { .. })
    ));

    let model = SoftmaxRegressionConfig::new(2, 2)
        .init::<B>(&device)
        .unwrap();
    let out = || model.forward(tensor(vec![1.0, 2.0], [1, 2])).unwrap();
    let values = Targets::Values(tensor(vec![0.0, 1.0], [1, 2]));
    let classes = Targets::Classes(ClassLabels::new(&[1], 2, &device).unwrap());
    assert!(matches!(
        Objective::new(Loss::CrossEntropy).value(&model, out(), &values),
        Err(ModelError::TargetKind { .. })
    ));
    // MSE on classes is the square loss against one-hot vectors: label 1 of 2 is (0, 1).
    let o: Vec<f64> = out().into_data().convert::<f64>().to_vec().unwrap();
    let on_classes: f64 = Objective::new(Loss::Mse)
        .value(&model, out(), &classes)
        .unwrap()
        .into_scalar()
        .elem();
    let by_hand = (o[0].powi(2) + (o[1] - 1.0).powi(2)) / 2.0;
    assert!(
        (on_classes - by_hand).abs() < 1e-12,
        "{on_classes} vs {by_hand}"
    );
    let three_classes = Targets::Classes(ClassLabels::new(&[1], 3, &device).unwrap());
    assert!(matches!(
        Objective::new(Loss::Mse).value(&model, out(), &three_classes),
        Err(ModelError::Classes { .. })
    ));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Objective::new(Loss::CrossEntropy)
                .with_l2(bad)
                .value(&model, out(), &classes),
            Err(ModelError::Penalty(_))
        ));
    }
}
