//! Shapes, parameter counts and the seeded initialisation, on `NdArray<f32>` (tensors name
//! their dtype: the f64 modules of this binary share the device).

#![allow(clippy::unwrap_used)] // test helpers: failing loudly is the point

use burn::backend::NdArray;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::{DType, Tensor, TensorData};
use descent_models::init::{float_dtype, layer_rng, pytorch_bound, uniform};
use descent_models::{
    AnyModel, Cnn2c2dConfig, LinearRegressionConfig, MlpConfig, Model, ModelConfig, ModelError,
    SoftmaxRegressionConfig,
};

type B = NdArray<f32>;

fn dtype() -> DType {
    float_dtype::<B>()
}

fn zeros<const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::zeros(shape, (&Default::default(), dtype()))
}

fn ramp<const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    Tensor::from_data(
        TensorData::new(values, shape),
        (&Default::default(), dtype()),
    )
}

/// Every float parameter's values, in visiting order.
struct Collect(Vec<Vec<f32>>);

impl ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0
            .push(param.val().into_data().to_vec::<f32>().unwrap());
    }
}

fn weights<M: Module<B>>(model: &M) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

fn values<const D: usize>(p: &Param<Tensor<B, D>>) -> Vec<f32> {
    p.val().into_data().to_vec::<f32>().unwrap()
}

/// `sum over layers of d_in * d_out + d_out`.
fn dense_count(widths: &[usize]) -> usize {
    widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

#[test]
fn parameter_counts() {
    let device = Default::default();
    let cnn = Cnn2c2dConfig::new().init::<B>(&device).unwrap();
    assert_eq!(cnn.num_params(), 3_274_634);
    // conv1, conv2, dense1, dense2 spelled out, as DeepOBS lists them.
    assert_eq!(
        5 * 5 * 32 + 32 + 5 * 5 * 32 * 64 + 64 + 7 * 7 * 64 * 1024 + 1024 + 1024 * 10 + 10,
        3_274_634
    );

    let fmnist = MlpConfig::fmnist_mlp().init::<B>(&device).unwrap();
    assert_eq!(
        fmnist.num_params(),
        784 * 1000 + 1000 + 1000 * 500 + 500 + 500 * 100 + 100 + 100 * 10 + 10
    );
    assert_eq!(fmnist.num_params(), dense_count(&[784, 1000, 500, 100, 10]));

    let small = MlpConfig::mnist_256_128().init::<B>(&device).unwrap();
    assert_eq!(
        small.num_params(),
        784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    );

    let linear = LinearRegressionConfig::new(13).init::<B>(&device).unwrap();
    assert_eq!(linear.num_params(), 13 + 1);
    let linear = LinearRegressionConfig::new(13)
        .with_d_output(2)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(linear.num_params(), 13 * 2 + 2);
    let softmax = SoftmaxRegressionConfig::new(64, 10)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(softmax.num_params(), 64 * 10 + 10);
}

#[test]
fn forward_shapes() {
    let device = Default::default();
    let n = 3;

    let linear = LinearRegressionConfig::new(5).init::<B>(&device).unwrap();
    assert_eq!(linear.forward(ramp([n, 5])).unwrap().dims(), [n, 1]);
    assert_eq!((linear.d_input(), linear.d_output()), (5, 1));

    let softmax = SoftmaxRegressionConfig::new(2, 3)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(softmax.forward(ramp([n, 2])).unwrap().dims(), [n, 3]);

    // The digits data: 64 features, 10 classes, through a preset's hidden widths.
    let digits = MlpConfig::mnist_256_128()
        .with_d_input(64)
        .with_activation(descent_models::Activation::Tanh)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(digits.forward(ramp([n, 64])).unwrap().dims(), [n, 10]);
    assert_eq!((digits.d_input(), digits.d_output()), (64, 10));

    let fmnist = MlpConfig::fmnist_mlp().init::<B>(&device).unwrap();
    assert_eq!(fmnist.forward(ramp([n, 784])).unwrap().dims(), [n, 10]);

    let cnn = Cnn2c2dConfig::new().init::<B>(&device).unwrap();
    let images = ramp([n, 1, 28, 28]);
    let from_images = cnn.forward_images(images.clone()).unwrap();
    assert_eq!(from_images.dims(), [n, 10]);
    // The flat form reads each row as the row-major image: same logits.
    let from_rows = cnn.forward(images.reshape([n, 784])).unwrap();
    assert_eq!(
        from_rows.into_data().to_vec::<f32>().unwrap(),
        from_images.into_data().to_vec::<f32>().unwrap()
    );

    // Through the run-time choice.
    let any = ModelConfig::Mlp(MlpConfig::new(4, vec![8], 3))
        .init::<B>(&device)
        .unwrap();
    assert!(matches!(any, AnyModel::Mlp(_)));
    assert_eq!(any.forward(ramp([n, 4])).unwrap().dims(), [n, 3]);
    assert_eq!(any.name(), "mlp");
    assert_eq!(any.num_params(), dense_count(&[4, 8, 3]));
}

#[test]
fn wrong_inputs_and_configs_are_errors() {
    let device = Default::default();
    let cnn = Cnn2c2dConfig::new().init::<B>(&device).unwrap();
    assert!(matches!(
        cnn.forward_images(zeros([2, 1, 32, 32])),
        Err(ModelError::InputShape { model: "2c2d", .. })
    ));
    assert!(matches!(
        cnn.forward_images(zeros([2, 3, 28, 28])),
        Err(ModelError::InputShape { .. })
    ));
    assert!(matches!(
        cnn.forward(zeros([2, 64])),
        Err(ModelError::InputShape { .. })
    ));
    let mlp = MlpConfig::new(64, vec![16], 10).init::<B>(&device).unwrap();
    assert_eq!(
        mlp.forward(zeros([2, 63])).err(),
        Some(ModelError::InputShape {
            model: "mlp",
            expected: "(N, 64)".into(),
            got: vec![2, 63],
        })
    );

    assert_eq!(
        MlpConfig::new(64, vec![], 10).init::<B>(&device).err(),
        Some(ModelError::NoHiddenLayers)
    );
    assert_eq!(
        MlpConfig::new(64, vec![16, 0], 10).init::<B>(&device).err(),
        Some(ModelError::ZeroWidth {
            what: "hidden layer"
        })
    );
    assert_eq!(
        MlpConfig::new(0, vec![16], 10).init::<B>(&device).err(),
        Some(ModelError::ZeroWidth { what: "input" })
    );
    assert_eq!(
        MlpConfig::new(64, vec![16], 1).init::<B>(&device).err(),
        Some(ModelError::TooFewClasses(1))
    );
    assert_eq!(
        SoftmaxRegressionConfig::new(0, 3).init::<B>(&device).err(),
        Some(ModelError::ZeroWidth { what: "input" })
    );
    assert_eq!(
        LinearRegressionConfig::new(3)
            .with_d_output(0)
            .init::<B>(&device)
            .err(),
        Some(ModelError::ZeroWidth { what: "output" })
    );
    assert_eq!(
        Cnn2c2dConfig::new()
            .with_classes(0)
            .init::<B>(&device)
            .err(),
        Some(ModelError::TooFewClasses(0))
    );
}

#[test]
fn the_same_seed_gives_the_same_weights_and_another_seed_others() {
    let device = Default::default();
    let configs = [
        ModelConfig::SoftmaxRegression(SoftmaxRegressionConfig::new(64, 10).with_seed(3)),
        ModelConfig::LinearRegression(LinearRegressionConfig::new(8).with_seed(3)),
        ModelConfig::Mlp(MlpConfig::mnist_256_128().with_seed(3)),
        ModelConfig::Cnn2c2d(Cnn2c2dConfig::new().with_seed(3)),
    ];
    for config in configs {
        let a = weights(&config.init::<B>(&device).unwrap());
        let b = weights(&config.init::<B>(&device).unwrap());
        assert_eq!(a, b, "{config}");
        let other = match config {
            ModelConfig::SoftmaxRegression(c) => ModelConfig::SoftmaxRegression(c.with_seed(4)),
            ModelConfig::LinearRegression(c) => ModelConfig::LinearRegression(c.with_seed(4)),
            ModelConfig::Mlp(c) => ModelConfig::Mlp(c.with_seed(4)),
            ModelConfig::Cnn2c2d(c) => ModelConfig::Cnn2c2d(c.with_seed(4)),
        };
        let c = weights(&other.init::<B>(&device).unwrap());
        assert_eq!(a.len(), c.len());
        for (x, y) in a.iter().zip(&c) {
            // Not one tensor may repeat: a shared stream would show here.
            assert_ne!(x, y, "{other}");
        }
    }
}

#[test]
fn adding_a_layer_keeps_the_earlier_layers() {
    let device = Default::default();
    let short = MlpConfig::new(64, vec![32], 10).with_seed(9);
    let long = MlpConfig::new(64, vec![32, 16], 10).with_seed(9);
    let short = short.init::<B>(&device).unwrap();
    let long = long.init::<B>(&device).unwrap();
    assert_eq!(
        values(&short.layers[0].weight),
        values(&long.layers[0].weight)
    );
    assert_eq!(
        values(short.layers[0].bias.as_ref().unwrap()),
        values(long.layers[0].bias.as_ref().unwrap())
    );
}

#[test]
fn linear_weights_are_the_layer_stream_drawn_in_pytorch_order() {
    let device = Default::default();
    let (seed, d_in, d_out) = (11, 5, 3);
    let mlp = MlpConfig::new(4, vec![d_in], d_out)
        .with_seed(seed)
        .init::<B>(&device)
        .unwrap();
    // Layer 1 is 5 -> 3: PyTorch's (3, 5) weight, then its bias, from stream 1.
    let mut rng = layer_rng(seed, 1);
    let bound = pytorch_bound(d_in);
    let torch_weight = uniform(&mut rng, d_out * d_in, bound);
    let bias = uniform(&mut rng, d_out, bound);
    let burn_weight = values(&mlp.layers[1].weight);
    for o in 0..d_out {
        for i in 0..d_in {
            assert_eq!(
                burn_weight[i * d_out + o],
                torch_weight[o * d_in + i] as f32
            );
        }
    }
    let burn_bias = values(mlp.layers[1].bias.as_ref().unwrap());
    let bias: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
    assert_eq!(burn_bias, bias);
}

/// All of a layer's values lie within `1/sqrt(fan_in)` (rounded to f32 as the weights are)
/// and fill that range like a uniform distribution: mean near 0, variance near `bound^2/3`.
fn check_uniform(values: &[f32], fan_in: usize, what: &str) {
    let bound = pytorch_bound(fan_in) as f32;
    assert!(
        values.iter().all(|v| v.abs() <= bound),
        "{what}: a value outside +-{bound}"
    );
    if values.len() >= 1000 {
        let n = values.len() as f64;
        let b = f64::from(bound);
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
        // Standard error of the mean is b/sqrt(3n); allow 5 of them.
        assert!(
            mean.abs() < 5.0 * b / (3.0 * n).sqrt(),
            "{what}: mean {mean}"
        );
        assert!((var / (b * b / 3.0) - 1.0).abs() < 0.1, "{what}: var {var}");
        assert!(f64::from(max) > 0.99 * b, "{what}: max {max} of {b}");
    }
}

fn check_linear(layer: &Linear<B>, what: &str) {
    let [fan_in, _] = layer.weight.dims();
    check_uniform(&values(&layer.weight), fan_in, what);
    check_uniform(&values(layer.bias.as_ref().unwrap()), fan_in, what);
}

fn check_conv(layer: &Conv2d<B>, what: &str) {
    let [_, c_in, kh, kw] = layer.weight.dims();
    check_uniform(&values(&layer.weight), c_in * kh * kw, what);
    check_uniform(&values(layer.bias.as_ref().unwrap()), c_in * kh * kw, what);
}

#[test]
fn initial_weights_follow_pytorch_default_bounds() {
    let device = Default::default();
    let cnn = Cnn2c2dConfig::new()
        .with_seed(1)
        .init::<B>(&device)
        .unwrap();
    check_conv(&cnn.conv1, "conv1");
    check_conv(&cnn.conv2, "conv2");
    check_linear(&cnn.dense1, "dense1");
    check_linear(&cnn.dense2, "dense2");
    let mlp = MlpConfig::fmnist_mlp()
        .with_seed(1)
        .init::<B>(&device)
        .unwrap();
    for (i, layer) in mlp.layers.iter().enumerate() {
        check_linear(layer, &format!("fmnist_mlp layer {i}"));
    }
    let softmax = SoftmaxRegressionConfig::new(64, 10)
        .with_seed(1)
        .init::<B>(&device)
        .unwrap();
    check_linear(&softmax.linear, "softmax regression");
}

#[test]
fn layer_k_weights_and_epoch_k_order_come_from_different_streams() {
    // Before the seed tree, layer k and the shuffle of epoch k both drew stream k of the seed.
    use descent_data::rng::{Purpose, stream};
    use rand::RngCore;
    for seed in [0u64, 1, 17] {
        for k in 0..4u64 {
            let mut layer = layer_rng(seed, k);
            let mut epoch = stream(seed, Purpose::Epoch, k);
            let a: Vec<u64> = (0..8).map(|_| layer.next_u64()).collect();
            let b: Vec<u64> = (0..8).map(|_| epoch.next_u64()).collect();
            assert_ne!(a, b, "seed {seed}, layer/epoch {k}");
            let mut tree = stream(seed, Purpose::ModelInit, k);
            assert_eq!(a, (0..8).map(|_| tree.next_u64()).collect::<Vec<_>>());
        }
    }
}

/// The twice-differentiable forward pass gives the same outputs as the forward pass, to the
/// last bit here (burn-ndarray's dense layer is a matmul and an add); the CNN has none.
#[test]
fn the_twice_differentiable_forward_is_the_forward() {
    let device = Default::default();
    let configs = [
        ModelConfig::Mlp(MlpConfig::new(12, vec![7, 5], 3)),
        ModelConfig::LinearRegression(LinearRegressionConfig::new(12).with_d_output(2)),
        ModelConfig::SoftmaxRegression(SoftmaxRegressionConfig::new(12, 4)),
    ];
    for config in configs {
        let model: AnyModel<B> = config.init(&device).unwrap();
        let x = ramp([9, 12]);
        let plain: Vec<f32> = model
            .forward(x.clone())
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let twice: Vec<f32> = model
            .forward_twice_differentiable(x)
            .unwrap()
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        assert_eq!(plain, twice, "{}", model.name());
    }
    let cnn: AnyModel<B> = ModelConfig::Cnn2c2d(Cnn2c2dConfig::new())
        .init(&device)
        .unwrap();
    assert!(cnn.forward_twice_differentiable(ramp([2, 784])).is_none());
}
