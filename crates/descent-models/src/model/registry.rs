//! What experiment files may say about a model, and the entries that turn it into a config.

use super::{Activation, MODELS, ModelConfig};
use crate::ModelError;

/// What a model is built from: the data's shape (from the dataset) and the knobs an
/// experiment file may set. Each entry says which knobs it takes; the others are refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// Features per item.
    pub d_input: usize,
    /// The shape of one item (e.g. `[1, 28, 28]` for images, `[d]` for feature vectors).
    pub item_shape: Vec<usize>,
    /// Outputs: classes for classification, target width for regression.
    pub outputs: usize,
    /// Whether the targets are real-valued (regression) rather than classes.
    pub regression: bool,
    /// Hidden-layer widths.
    pub hidden: Option<Vec<usize>>,
    /// The hidden layers' activation.
    pub activation: Option<Activation>,
}

impl ModelParams {
    /// The knobs that are set, by the names experiment files use.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("hidden", self.hidden.is_some()),
            ("activation", self.activation.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// An error unless the targets are classes (for models that output logits).
    pub fn classes_only(&self, model: &str) -> Result<(), ModelError> {
        if self.regression {
            Err(ModelError::ModelParameter {
                parameter: "model",
                reason: format!("{model} is a classifier; the dataset has real-valued targets"),
            })
        } else {
            Ok(())
        }
    }
}

/// One model name experiment files accept, and how to make its config.
#[derive(Debug, Clone, Copy)]
pub struct ModelEntry {
    /// The name (`model = "..."`).
    pub name: &'static str,
    /// One line for `descent list`.
    pub summary: &'static str,
    /// The knobs it takes (see [`ModelParams::given`]).
    pub takes: &'static [&'static str],
    /// Makes the config (seed 0: the runner sets each run's); called only with knobs in `takes`.
    pub build: fn(&ModelParams) -> Result<ModelConfig, ModelError>,
}

impl ModelEntry {
    /// The config `params` describe, after refusing any knob it does not take.
    pub fn build(&self, params: &ModelParams) -> Result<ModelConfig, ModelError> {
        if let Some(extra) = params.given().into_iter().find(|p| !self.takes.contains(p)) {
            return Err(ModelError::ModelParameter {
                parameter: extra,
                reason: format!(
                    "does not apply to the {} model (it takes: {})",
                    self.name,
                    if self.takes.is_empty() {
                        "none".to_string()
                    } else {
                        self.takes.join(", ")
                    }
                ),
            });
        }
        (self.build)(params)
    }
}

/// The entry named `name`, or an error that lists the allowed names.
pub fn find(name: &str) -> Result<ModelEntry, ModelError> {
    MODELS
        .iter()
        .find(|e| e.name == name)
        .copied()
        .ok_or_else(|| ModelError::UnknownModel {
            name: name.to_string(),
            allowed: MODELS.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
        })
}
