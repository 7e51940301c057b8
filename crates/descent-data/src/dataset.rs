//! The in-memory dataset every source produces.

use burn::data::dataset::Dataset;

use crate::error::DataError;

/// What is predicted for each item.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// A class index in `0..classes` per item.
    Classes {
        /// One label per item.
        labels: Vec<u32>,
        /// The number of classes (labels may not use all of them in a subset).
        classes: usize,
    },
    /// `width` real values per item (regression).
    Values {
        /// Item after item.
        values: Vec<f32>,
        /// Values per item.
        width: usize,
    },
    /// No targets: the items themselves define the loss (e.g. `quadratic_deep`).
    None,
}

/// A dataset held in memory: features as one `f32` array, item after item, and targets.
///
/// Features are stored already scaled (images in `[0, 1]`) and, once a
/// [`Standardizer`](crate::Standardizer) has been applied, standardised, so a batch is
/// assembled by copying rows and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayDataset {
    name: String,
    features: Vec<f32>,
    item_shape: Vec<usize>,
    targets: Targets,
}

/// One item, as burn's [`Dataset`] trait hands it out.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The item's features, flat.
    pub features: Vec<f32>,
    /// Its target.
    pub target: Target,
}

/// One item's target.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A class index.
    Class(u32),
    /// Real values.
    Values(Vec<f32>),
    /// Nothing.
    None,
}

impl ArrayDataset {
    /// A dataset of `features.len() / prod(item_shape)` items, checked for consistency.
    ///
    /// `item_shape` is the shape of one item: `[d]` for vectors, `[channels, rows, cols]` for
    /// images.
    pub fn new(
        name: impl Into<String>,
        features: Vec<f32>,
        item_shape: Vec<usize>,
        targets: Targets,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let feature_len: usize = item_shape.iter().product();
        let invalid = |field: &'static str, value: String, allowed: &'static str| {
            DataError::InvalidParameter {
                owner: "dataset",
                field,
                value,
                allowed,
            }
        };
        if feature_len == 0 {
            return Err(invalid(
                "item_shape",
                format!("{item_shape:?}"),
                "every axis must be at least 1",
            ));
        }
        if features.is_empty() || !features.len().is_multiple_of(feature_len) {
            return Err(invalid(
                "features",
                format!("{} values", features.len()),
                "a non-empty whole number of items",
            ));
        }
        let len = features.len() / feature_len;
        let consistent = match &targets {
            Targets::Classes { labels, classes } => {
                labels.len() == len && labels.iter().all(|&l| (l as usize) < *classes)
            }
            Targets::Values { values, width } => *width > 0 && values.len() == len * width,
            Targets::None => true,
        };
        if !consistent {
            return Err(invalid(
                "targets",
                format!("{} items of features", len),
                "one target per item (class labels below the class count)",
            ));
        }
        Ok(ArrayDataset {
            name,
            features,
            item_shape,
            targets,
        })
    }

    /// The dataset's name (e.g. `fashion-mnist/train`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.features.len() / self.feature_len()
    }

    /// Whether there are no items (never true: construction refuses it).
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The shape of one item.
    pub fn item_shape(&self) -> &[usize] {
        &self.item_shape
    }

    /// The number of features per item.
    pub fn feature_len(&self) -> usize {
        self.item_shape.iter().product()
    }

    /// All features, item after item.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// The features of item `index`.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        let d = self.feature_len();
        self.features.get(index * d..(index + 1) * d)
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class labels, when the targets are classes.
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            _ => None,
        }
    }

    /// The number of classes, when the targets are classes.
    pub fn classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { classes, .. } => Some(*classes),
            _ => None,
        }
    }

    /// How many items each class has, when the targets are classes.
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let Targets::Classes { labels, classes } = &self.targets else {
            return None;
        };
        let mut counts = vec![0; *classes];
        for &l in labels {
            counts[l as usize] += 1;
        }
        Some(counts)
    }

    /// The indices of each class's items, in index order (one list per class, empty for a
    /// class without items), when the targets are classes.
    pub fn items_by_class(&self) -> Option<Vec<Vec<usize>>> {
        let Targets::Classes { labels, classes } = &self.targets else {
            return None;
        };
        let mut items = vec![Vec::new(); *classes];
        for (i, &l) in labels.iter().enumerate() {
            items[l as usize].push(i);
        }
        Some(items)
    }

    /// The items at `indices` (in that order), as a new dataset called `name`.
    ///
    /// Indices must be below [`len`](Self::len); they come from a split or a plan, never from
    /// user input.
    pub fn subset(&self, name: impl Into<String>, indices: &[usize]) -> ArrayDataset {
        let d = self.feature_len();
        let mut features = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            features.extend_from_slice(&self.features[i * d..(i + 1) * d]);
        }
        let targets = match &self.targets {
            Targets::Classes { labels, classes } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                classes: *classes,
            },
            Targets::Values { values, width } => Targets::Values {
                values: indices
                    .iter()
                    .flat_map(|&i| values[i * width..(i + 1) * width].iter().copied())
                    .collect(),
                width: *width,
            },
            Targets::None => Targets::None,
        };
        ArrayDataset {
            name: name.into(),
            features,
            item_shape: self.item_shape.clone(),
            targets,
        }
    }

    /// The same items with the features reshaped to one flat vector each.
    pub fn flattened(mut self) -> ArrayDataset {
        self.item_shape = vec![self.feature_len()];
        self
    }

    pub(crate) fn features_mut(&mut self) -> &mut [f32] {
        &mut self.features
    }
}

impl Dataset<Example> for ArrayDataset {
    fn get(&self, index: usize) -> Option<Example> {
        let features = self.row(index)?.to_vec();
        let target = match &self.targets {
            Targets::Classes { labels, .. } => Target::Class(labels[index]),
            Targets::Values { values, width } => {
                Target::Values(values[index * width..(index + 1) * width].to_vec())
            }
            Targets::None => Target::None,
        };
        Some(Example { features, target })
    }

    fn len(&self) -> usize {
        ArrayDataset::len(self)
    }
}
