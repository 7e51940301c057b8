//! Turning a batch of item indices into tensors: the only place descent-data makes tensors.

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Element, Int, Tensor, TensorData};

use crate::dataset::{ArrayDataset, Targets};

/// A batch on a device.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Features, one row per item: `(batch, features)`.
    pub inputs: Tensor<B, 2>,
    /// The items' targets.
    pub targets: BatchTargets<B>,
    /// The shape of one item, to view `inputs` as images.
    pub item_shape: Vec<usize>,
}

/// The targets of a batch.
#[derive(Debug, Clone)]
pub enum BatchTargets<B: Backend> {
    /// Class indices, `(batch,)`.
    Classes(Tensor<B, 1, Int>),
    /// Real values, `(batch, width)`.
    Values(Tensor<B, 2>),
    /// No targets.
    None,
}

impl<B: Backend> Batch<B> {
    /// The inputs in image layout `(batch, channels, rows, cols)`, when items are images
    /// (a view: nothing is copied).
    pub fn images(&self) -> Option<Tensor<B, 4>> {
        let [c, h, w] = self.item_shape[..] else {
            return None;
        };
        let n = self.inputs.dims()[0];
        Some(self.inputs.clone().reshape([n, c, h, w]))
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.inputs.dims()[0]
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Assembles batches from an [`ArrayDataset`] shared behind an `Arc`; burn's
/// [`Batcher`] with item indices as items.
#[derive(Debug, Clone)]
pub struct ArrayBatcher {
    data: Arc<ArrayDataset>,
}

impl ArrayBatcher {
    /// A batcher over `data`.
    pub fn new(data: Arc<ArrayDataset>) -> Self {
        ArrayBatcher { data }
    }

    /// The dataset.
    pub fn dataset(&self) -> &ArrayDataset {
        &self.data
    }

    /// The batch of the items at `indices`, in the backend's float type on `device`.
    ///
    /// Indices come from a [`BatchPlan`](crate::BatchPlan) and are below the dataset's length.
    pub fn assemble<B: Backend>(&self, indices: &[usize], device: &B::Device) -> Batch<B> {
        let data = &*self.data;
        let d = data.feature_len();
        let features = data.features();
        let mut rows = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            rows.extend_from_slice(&features[i * d..(i + 1) * d]);
        }
        let float = (device, <B::FloatElem as Element>::dtype());
        let inputs = Tensor::from_data(TensorData::new(rows, [indices.len(), d]), float);
        let targets = match data.targets() {
            Targets::Classes { labels, .. } => {
                let picked: Vec<i64> = indices.iter().map(|&i| i64::from(labels[i])).collect();
                let int = (device, <B::IntElem as Element>::dtype());
                BatchTargets::Classes(Tensor::from_data(
                    TensorData::new(picked, [indices.len()]),
                    int,
                ))
            }
            Targets::Values { values, width } => {
                let mut picked = Vec::with_capacity(indices.len() * width);
                for &i in indices {
                    picked.extend_from_slice(&values[i * width..(i + 1) * width]);
                }
                BatchTargets::Values(Tensor::from_data(
                    TensorData::new(picked, [indices.len(), *width]),
                    float,
                ))
            }
            Targets::None => BatchTargets::None,
        };
        Batch {
            inputs,
            targets,
            item_shape: data.item_shape().to_vec(),
        }
    }
}

impl<B: Backend> Batcher<B, usize, Batch<B>> for ArrayBatcher {
    fn batch(&self, items: Vec<usize>, device: &B::Device) -> Batch<B> {
        self.assemble(&items, device)
    }
}
