//! Multilayer perceptrons with configurable widths and activation.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::{relu, tanh};
use burn::tensor::backend::Backend;

use super::{Model, check_rows};
use super::{ModelConfig, ModelEntry, ModelParams};
use crate::{ModelError, init};

/// The nonlinearity between an MLP's layers.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// The activation applied elementwise.
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => relu(x),
            Activation::Tanh => tanh(x),
        }
    }
}

/// Config of an [`Mlp`]: `d_input -> hidden[0] -> ... -> hidden[last] -> classes`, the
/// activation after every hidden layer, none after the last (it gives logits).
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// The number of input features.
    pub d_input: usize,
    /// The widths of the hidden layers, input side first; at least one.
    pub hidden: Vec<usize>,
    /// The number of outputs (classes).
    pub classes: usize,
    /// The activation after each hidden layer.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// The initialisation seed.
    #[config(default = 0)]
    pub seed: u64,
}

impl MlpConfig {
    /// DeepOBS `fmnist_mlp` (and `mnist_mlp`): 784-1000-500-100-10 with ReLU.
    pub fn fmnist_mlp() -> Self {
        Self::new(784, vec![1000, 500, 100], 10)
    }

    /// The common small MNIST MLP: 784-256-128-10 with ReLU.
    pub fn mnist_256_128() -> Self {
        Self::new(784, vec![256, 128], 10)
    }

    /// The same hidden layers on inputs of width `d_input` (a preset on other data).
    pub fn with_d_input(mut self, d_input: usize) -> Self {
        self.d_input = d_input;
        self
    }

    /// The same hidden layers with `classes` outputs.
    pub fn with_classes(mut self, classes: usize) -> Self {
        self.classes = classes;
        self
    }

    /// The widths of all layers, input first, classes last.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths = Vec::with_capacity(self.hidden.len() + 2);
        widths.push(self.d_input);
        widths.extend_from_slice(&self.hidden);
        widths.push(self.classes);
        widths
    }

    /// The model; layer `i` (input side first) is drawn from stream `i` of the seed.
    pub fn init<B: Backend>(&self, device: &B::Device) -> core::result::Result<Mlp<B>, ModelError> {
        if self.hidden.is_empty() {
            return Err(ModelError::NoHiddenLayers);
        }
        if self.d_input == 0 {
            return Err(ModelError::ZeroWidth { what: "input" });
        }
        if self.hidden.contains(&0) {
            return Err(ModelError::ZeroWidth {
                what: "hidden layer",
            });
        }
        if self.classes < 2 {
            return Err(ModelError::TooFewClasses(self.classes));
        }
        let widths = self.widths();
        let layers = widths
            .windows(2)
            .zip(0u64..)
            .map(|(pair, layer)| init::linear(self.seed, layer, pair[0], pair[1], device))
            .collect::<core::result::Result<Vec<_>, _>>()?;
        Ok(Mlp {
            layers,
            activation: self.activation,
        })
    }
}

/// A multilayer perceptron giving logits.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// The affine layers, input side first.
    pub layers: Vec<Linear<B>>,
    /// The activation after every layer but the last.
    pub activation: Activation,
}

impl<B: Backend> Model<B> for Mlp<B> {
    fn name(&self) -> &'static str {
        "mlp"
    }

    fn d_input(&self) -> usize {
        self.layers.first().map_or(0, |l| l.weight.dims()[0])
    }

    fn d_output(&self) -> usize {
        self.layers.last().map_or(0, |l| l.weight.dims()[1])
    }

    fn forward(&self, x: Tensor<B, 2>) -> core::result::Result<Tensor<B, 2>, ModelError> {
        check_rows(self.name(), &x, self.d_input())?;
        let last = self.layers.len().saturating_sub(1);
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = self.activation.apply(h);
            }
        }
        Ok(h)
    }

    fn forward_twice_differentiable(
        &self,
        x: Tensor<B, 2>,
    ) -> Option<core::result::Result<Tensor<B, 2>, ModelError>> {
        if let Err(e) = check_rows(self.name(), &x, self.d_input()) {
            return Some(Err(e));
        }
        let last = self.layers.len().saturating_sub(1);
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = super::affine(layer, h);
            if i < last {
                h = self.activation.apply(h);
            }
        }
        Some(Ok(h))
    }
}

/// The registry's entry: `model = "mlp"`, hidden widths from `hidden` (default `[64]`).
pub(super) const MLP: ModelEntry = ModelEntry {
    name: "mlp",
    summary: "an MLP with `hidden` widths (default [64]) and `activation` (default relu)",
    takes: &["hidden", "activation"],
    build: |p| {
        let hidden = p.hidden.clone().unwrap_or_else(|| vec![64]);
        if hidden.is_empty() || hidden.contains(&0) {
            return Err(ModelError::ModelParameter {
                parameter: "hidden",
                reason: format!("{hidden:?}: give at least one hidden width, each at least 1"),
            });
        }
        Ok(ModelConfig::Mlp(
            MlpConfig::new(p.d_input, hidden, p.outputs)
                .with_activation(p.activation.unwrap_or(Activation::Relu)),
        ))
    },
};

/// The registry's entry: `model = "fmnist_mlp"`, DeepOBS's 784-1000-500-100-10.
pub(super) const FMNIST_MLP: ModelEntry = ModelEntry {
    name: "fmnist_mlp",
    summary: "DeepOBS's fmnist_mlp, hidden widths 1000-500-100",
    takes: &["activation"],
    build: |p| preset(MlpConfig::fmnist_mlp(), p),
};

/// The registry's entry: `model = "mlp_256_128"`, the 784-256-128-10 MLP.
pub(super) const MLP_256_128: ModelEntry = ModelEntry {
    name: "mlp_256_128",
    summary: "the 784-256-128-10 MLP",
    takes: &["activation"],
    build: |p| preset(MlpConfig::mnist_256_128(), p),
};

fn preset(config: MlpConfig, p: &ModelParams) -> Result<ModelConfig, ModelError> {
    Ok(ModelConfig::Mlp(
        config
            .with_d_input(p.d_input)
            .with_classes(p.outputs)
            .with_activation(p.activation.unwrap_or(Activation::Relu)),
    ))
}
