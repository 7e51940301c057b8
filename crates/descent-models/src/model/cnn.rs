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
use crate::{ModelError, init};

/// The image side the 2c2d takes; its dense layer's width is fixed by it.
const SIDE: usize = 28;
/// Channels after the second convolution.
const CONV2_CHANNELS: usize = 64;
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
            conv1: init::conv2d(seed, 0, [1, 32], [5, 5], PaddingConfig2d::Same, device)?,
            conv2: init::conv2d(
                seed,
                1,
                [32, CONV2_CHANNELS],
                [5, 5],
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
    /// 2x2 max-pooling, stride 2 (on even sides TensorFlow's 'same' pooling is this).
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
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x = x.reshape([n, CONV2_CHANNELS * POOLED_SIDE * POOLED_SIDE]);
        let x = relu(self.dense1.forward(x));
        Ok(self.dense2.forward(x))
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
