//! The DeepOBS `fmnist_2c2d` convolutional network.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use super::{Model, check_rows};
use super::{ModelConfig, ModelEntry};
use crate::kernels::{conv2d_relu_pool, max_pool_2x2};
use crate::{ModelError, init};

/// The image side the 2c2d takes; its dense layer's width is fixed by it.
const SIDE: usize = 28;
/// Channels after the second convolution.
const CONV2_CHANNELS: usize = 64;
/// The convolutions' kernel side.
const KERNEL: usize = 5;
/// Two 2x2 poolings take 28 to 7.
const POOLED_SIDE: usize = SIDE / 4;

/// Config of [`Cnn2c2d`].
#[derive(Config, Debug)]
pub struct Cnn2c2dConfig {
    /// The number of classes.
    #[config(default = 10)]
    pub classes: usize,
    /// The initialisation seed.
    #[config(default = 0)]
    pub seed: u64,
}

impl Cnn2c2dConfig {
    /// The model; its layers (conv1, conv2, dense1, dense2) use streams 0 to 3 of the seed.
    pub fn init<B: Backend>(
        &self,
        device: &B::Device,
    ) -> core::result::Result<Cnn2c2d<B>, ModelError> {
        if self.classes < 2 {
            return Err(ModelError::TooFewClasses(self.classes));
        }
        let seed = self.seed;
        Ok(Cnn2c2d {
            conv1: init::conv2d(
                seed,
                0,
                [1, 32],
                [KERNEL, KERNEL],
                PaddingConfig2d::Same,
                device,
            )?,
            conv2: init::conv2d(
                seed,
                1,
                [32, CONV2_CHANNELS],
                [KERNEL, KERNEL],
                PaddingConfig2d::Same,
                device,
            )?,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            dense1: init::linear(
                seed,
                2,
                CONV2_CHANNELS * POOLED_SIDE * POOLED_SIDE,
                1024,
                device,
            )?,
            dense2: init::linear(seed, 3, 1024, self.classes, device)?,
        })
    }
}

/// DeepOBS `fmnist_2c2d` (3,274,634 parameters with 10 classes): on `(N, 1, 28, 28)` images,
/// conv 5x5x32 'same' + ReLU + max-pool 2, conv 5x5x64 'same' + ReLU + max-pool 2, flatten,
/// dense 1024 + ReLU, dense to the logits.
///
/// The flatten is burn's channel-major `(C, H, W)` order where DeepOBS's TensorFlow code
/// flattens `(H, W, C)`: a fixed permutation of the dense layer's inputs, so the same
/// function class and parameter count.
#[derive(Module, Debug)]
pub struct Cnn2c2d<B: Backend> {
    /// 1 -> 32 channels, 5x5, 'same'.
    pub conv1: Conv2d<B>,
    /// 32 -> 64 channels, 5x5, 'same'.
    pub conv2: Conv2d<B>,
    /// 2x2 max-pooling, stride 2 (on even sides TensorFlow's 'same' pooling is this). The
    /// forward pass pools inside [`conv2d_relu_pool`] (convolution, bias, ReLU and this
    /// pooling as one operation), the same function; the field stays so that saved models
    /// keep their record.
    pub pool: MaxPool2d,
    /// 7*7*64 -> 1024.
    pub dense1: Linear<B>,
    /// 1024 -> classes.
    pub dense2: Linear<B>,
}

impl<B: Backend> Cnn2c2d<B> {
    /// The logits for a batch of images `(N, 1, 28, 28)`.
    pub fn forward_images(
        &self,
        x: Tensor<B, 4>,
    ) -> core::result::Result<Tensor<B, 2>, ModelError> {
        let [n, c, h, w] = x.dims();
        if c != 1 || h != SIDE || w != SIDE {
            return Err(ModelError::InputShape {
                model: self.name(),
                expected: format!("(N, 1, {SIDE}, {SIDE})"),
                got: vec![n, c, h, w],
            });
        }
        let x = block(&self.conv1, x)?;
        let x = block(&self.conv2, x)?;
        let x = x.reshape([n, CONV2_CHANNELS * POOLED_SIDE * POOLED_SIDE]);
        let x = relu(self.dense1.forward(x));
        Ok(self.dense2.forward(x))
    }
}

/// `layer`, ReLU and 2x2 max-pooling applied to `x` through the fused
/// [`conv2d_relu_pool`] (the layers are 5x5, 'same', with bias).
fn block<B: Backend>(
    layer: &Conv2d<B>,
    x: Tensor<B, 4>,
) -> core::result::Result<Tensor<B, 4>, ModelError> {
    match &layer.bias {
        Some(bias) => conv2d_relu_pool(x, layer.weight.val(), bias.val(), KERNEL / 2),
        None => max_pool_2x2(relu(layer.forward(x))),
    }
}

impl<B: Backend> Model<B> for Cnn2c2d<B> {
    fn name(&self) -> &'static str {
        "2c2d"
    }

    fn d_input(&self) -> usize {
        SIDE * SIDE
    }

    fn d_output(&self) -> usize {
        self.dense2.weight.dims()[1]
    }

    /// Each row of `(N, 784)` is read as a row-major 28x28 image.
    fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError> {
        check_rows(self.name(), &x, self.d_input())?;
        let [n, _] = x.dims();
        self.forward_images(x.reshape([n, 1, SIDE, SIDE]))
    }
}

/// The registry's entry: `model = "cnn_2c2d"`, for 28x28 single-channel images.
pub(super) const CNN_2C2D: ModelEntry = ModelEntry {
    name: "cnn_2c2d",
    summary: "DeepOBS's 2c2d CNN (28x28 images)",
    takes: &[],
    build: |p| {
        p.classes_only("cnn_2c2d")?;
        if p.item_shape != [1, 28, 28] {
            return Err(ModelError::ModelParameter {
                parameter: "model",
                reason: format!(
                    "cnn_2c2d needs 28x28 images; these items have shape {:?}",
                    p.item_shape
                ),
            });
        }
        Ok(ModelConfig::Cnn2c2d(
            Cnn2c2dConfig::new().with_classes(p.outputs),
        ))
    },
};

#[cfg(test)]
#[cfg(feature = "ndarray")]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::{TensorData, Tolerance};

    use super::*;
    use crate::loss::{ClassLabels, cross_entropy};

    /// burn's own layers, as the 2c2d ran before the kernels: the reference.
    fn reference_logits<B: Backend>(model: &Cnn2c2d<B>, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let [n, _, _, _] = x.dims();
        let x = model.pool.forward(relu(model.conv1.forward(x)));
        let x = model.pool.forward(relu(model.conv2.forward(x)));
        let x = x.reshape([n, CONV2_CHANNELS * POOLED_SIDE * POOLED_SIDE]);
        model.dense2.forward(relu(model.dense1.forward(x)))
    }

    /// Every parameter's gradient, in visiting order.
    struct Gradients<'a, B: AutodiffBackend>(&'a B::Gradients, Vec<TensorData>);

    impl<B: AutodiffBackend> ModuleVisitor<B> for Gradients<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(grad) = param.val().grad(self.0) {
                self.1.push(grad.into_data());
            }
        }
    }

    /// The loss's gradient with respect to every parameter, on five images, through the
    /// kernels or through burn's layers.
    fn gradients<B: AutodiffBackend>(kernels: bool) -> Vec<TensorData> {
        let device = Default::default();
        let model = Cnn2c2dConfig::new()
            .with_seed(3)
            .init::<B>(&device)
            .unwrap_or_else(|e| panic!("{e}"));
        let n = 5;
        let pixels: Vec<f32> = (0..n * SIDE * SIDE)
            .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
            .collect();
        // The dtype spelled out: NdArray's f32 and f64 share a device whose default dtype the
        // first tensor made in this test binary sets.
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(pixels, [n, 1, SIDE, SIDE]),
            (&device, crate::init::float_dtype::<B>()),
        );
        let logits = if kernels {
            model.forward_images(x).unwrap_or_else(|e| panic!("{e}"))
        } else {
            reference_logits(&model, x)
        };
        let labels =
            ClassLabels::new(&[0, 3, 9, 3, 7], 10, &device).unwrap_or_else(|e| panic!("{e}"));
        let grads = cross_entropy(logits, &labels)
            .unwrap_or_else(|e| panic!("{e}"))
            .backward();
        let mut visitor = Gradients::<B>(&grads, Vec::new());
        model.visit(&mut visitor);
        visitor.1
    }

    fn assert_close(ours: Vec<TensorData>, reference: Vec<TensorData>) {
        // conv1, conv2, dense1, dense2: weight and bias each.
        assert_eq!(ours.len(), 8);
        assert_eq!(reference.len(), 8);
        for (ours, reference) in ours.iter().zip(&reference) {
            ours.assert_approx_eq::<f32>(reference, Tolerance::rel_abs(1e-4, 1e-6));
        }
    }

    #[test]
    fn gradients_through_the_kernels_equal_burns_layers_on_ndarray() {
        type A = Autodiff<NdArray<f32>>;
        assert_close(gradients::<A>(true), gradients::<A>(false));
    }

    #[cfg(feature = "flex")]
    #[test]
    fn gradients_on_flex_equal_burns_layers_on_ndarray() {
        use burn::backend::Flex;
        assert_close(
            gradients::<Autodiff<Flex>>(true),
            gradients::<Autodiff<NdArray<f32>>>(false),
        );
    }
}
