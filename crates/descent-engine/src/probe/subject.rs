//! The two kinds of [`Subject`]: a point on a landscape (everything analytic, in `f64`) and a
//! model on its training set (gradients by burn's autodiff at any flattened point).

use std::cell::OnceCell;
use std::sync::Arc;

use anyhow::bail;
use anyhow::{Result, ensure};
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Element, ElementConversion, Tensor, TensorData};
use descent_data::{ArrayBatcher, Batch};
use descent_models::AnyModel;

use super::{Evaluator, Items, PlaneEvaluator, Subject, offset_evaluator};
use crate::problem::{LandscapeTask, SupervisedTask};

/// Dense Hessians are formed up to this dimension; above it, differences of gradients.
const DENSE_HESSIAN_DIM: usize = 2048;

/// A point on a landscape.
pub struct LandscapeSubject<'a> {
    task: &'a LandscapeTask,
    w: Vec<f64>,
}

impl<'a> LandscapeSubject<'a> {
    /// The subject at coordinates `w` of `task`.
    pub fn new(task: &'a LandscapeTask, w: Vec<f64>) -> Self {
        LandscapeSubject { task, w }
    }
}

impl Subject for LandscapeSubject<'_> {
    fn parameters(&self) -> &[f64] {
        &self.w
    }

    fn items(&self) -> usize {
        self.task.stochastic.as_ref().map_or(1, |s| s.examples())
    }

    fn loss_and_gradient(&mut self, w: &[f64], batch: Option<&[usize]>) -> Result<(f64, Vec<f64>)> {
        Ok(match (&self.task.stochastic, batch) {
            (Some(s), Some(batch)) => (s.value(w, batch)?, s.gradient(w, batch)?),
            // The noise sums to zero, so the full objective is the landscape itself.
            _ => (
                self.task.landscape.value(w)?,
                self.task.landscape.gradient(w)?,
            ),
        })
    }

    fn full_train(&mut self) -> Result<(f64, Option<f64>)> {
        Ok((self.task.landscape.value(&self.w)?, None))
    }

    fn hessian_vector(
        &mut self,
        w: &[f64],
        v: &[f64],
        batch: Option<&[usize]>,
    ) -> Result<Vec<f64>> {
        let n = w.len();
        if n > DENSE_HESSIAN_DIM {
            return super::difference_hessian_vector(self, w, v, batch);
        }
        // The noise is linear in w: every example's Hessian is the landscape's.
        let h = self.task.landscape.hessian(w)?;
        Ok(h.chunks_exact(n.max(1))
            .map(|row| super::dot(row, v))
            .collect())
    }

    fn difference_step(&self) -> f64 {
        f64::EPSILON.cbrt()
    }

    fn landscape(&self) -> Option<&LandscapeTask> {
        Some(self.task)
    }

    fn evaluator(&mut self, items: Items<'_>) -> Result<Evaluator<'_>> {
        let task = self.task;
        let dim = self.w.len();
        let batch = match items {
            Items::Train(batch) => batch.map(<[usize]>::to_vec),
            Items::Test(_) => bail!("a landscape has no test set: evaluate on its training items"),
        };
        Ok(Box::new(move |w: &[f64]| {
            ensure!(
                w.len() == dim,
                "internal error: a point of {} coordinates on a landscape of {dim}",
                w.len()
            );
            let value = match (&task.stochastic, &batch) {
                (Some(s), Some(batch)) => s.value(w, batch)?,
                _ => task.landscape.value(w)?,
            };
            Ok((value, None))
        }))
    }
}

/// The training items of a run as the probes use them: a batcher for index lists, and the
/// whole set in chunks (assembled on first use).
pub struct TrainingSet<B: Backend> {
    batcher: ArrayBatcher,
    chunks: OnceCell<Vec<Batch<B>>>,
}

impl<B: Backend> TrainingSet<B> {
    /// The training set of `task`.
    pub fn new(task: &SupervisedTask) -> Self {
        TrainingSet {
            batcher: ArrayBatcher::new(Arc::clone(&task.train)),
            chunks: OnceCell::new(),
        }
    }

    fn chunks(&self, device: &B::Device) -> &[Batch<B>] {
        self.chunks.get_or_init(|| {
            // Chunks bound the memory of one forward and backward pass.
            const CHUNK: usize = 1000;
            let indices: Vec<usize> = (0..self.batcher.dataset().len()).collect();
            indices
                .chunks(CHUNK)
                .map(|c| self.batcher.assemble::<B>(c, device))
                .collect()
        })
    }
}

/// Exact Hessian-vector products of a model by double backward (Pearlmutter 1994): the gradient
/// taken by burn's autodiff nested around the run's own autodiff backend, `Autodiff<B>`, is
/// itself a tracked tensor of `B`, so `∂(gᵀv)/∂w = H v`, in the run's backend and precision.
/// Central differences of gradients would step across the kinks of ReLU and max pooling, where
/// the gradient jumps, and turn each jump into noise of size `jump / h`.
mod exact {
    use anyhow::Result;
    use burn::backend::Autodiff;
    use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::{Tensor, TensorData};
    use descent_data::ArrayBatcher;
    use descent_models::AnyModel;

    use crate::problem::SupervisedTask;

    /// The objective's Hessian at `w` over `batch` (all items: `None`) times `v`; `None` for a
    /// model without a twice-differentiable forward pass.
    pub fn hessian_vector<B: AutodiffBackend>(
        task: &SupervisedTask,
        batcher: &ArrayBatcher,
        w: &[f64],
        v: &[f64],
        batch: Option<&[usize]>,
        device: &B::Device,
    ) -> Result<Option<Vec<f64>>> {
        let all: Vec<usize>;
        let items = match batch {
            Some(batch) => batch,
            None => {
                all = (0..task.train.len()).collect();
                &all
            }
        };
        // Chunks bound the memory of the twice-recorded graph; the objective is a mean, so
        // chunk products weighted by chunk size sum to the whole.
        const CHUNK: usize = 1000;
        let n = items.len().max(1) as f64;
        let mut total = vec![0.0; w.len()];
        for chunk in items.chunks(CHUNK) {
            let weight = chunk.len() as f64 / n;
            let Some(product) = chunk_product::<B>(task, batcher, w, v, chunk, device)? else {
                return Ok(None);
            };
            for (t, h) in total.iter_mut().zip(product) {
                *t += weight * h;
            }
        }
        Ok(Some(total))
    }

    fn chunk_product<B: AutodiffBackend>(
        task: &SupervisedTask,
        batcher: &ArrayBatcher,
        w: &[f64],
        v: &[f64],
        chunk: &[usize],
        device: &B::Device,
    ) -> Result<Option<Vec<f64>>> {
        let skeleton: AnyModel<Autodiff<B>> = task.init::<Autodiff<B>>(0, device)?;
        let mut placed = Place::<B> {
            values: w,
            at: 0,
            leaves: Vec::new(),
        };
        let model = skeleton.map(&mut placed);
        let leaves = placed.leaves;
        let Some(loss) = task.loss_twice_differentiable(&model, batcher, chunk, device)? else {
            return Ok(None);
        };
        let grads = loss.backward();
        let mut reader = Contract::<B> {
            grads: &grads,
            v,
            at: 0,
            sum: None,
        };
        model.visit(&mut reader);
        let Some(contracted) = reader.sum else {
            return Ok(Some(vec![0.0; w.len()]));
        };
        let second = contracted.backward();
        let mut out = Vec::with_capacity(w.len());
        for leaf in &leaves {
            match leaf.grad(&second) {
                Some(h) => out.extend(h.into_data().convert::<f64>().iter::<f64>()),
                None => out.extend(std::iter::repeat_n(0.0, leaf.shape().num_elements())),
            }
        }
        anyhow::ensure!(
            out.len() == w.len(),
            "internal error: a Hessian-vector product of {} values for {} parameters",
            out.len(),
            w.len()
        );
        Ok(Some(out))
    }

    /// Puts `values` into the parameters as tracked tensors of `B` (kept in `leaves`,
    /// flattened), wrapped as tracked tensors of `Autodiff<B>`.
    struct Place<'v, B: AutodiffBackend> {
        values: &'v [f64],
        at: usize,
        leaves: Vec<Tensor<B, 1>>,
    }

    impl<B: AutodiffBackend> ModuleMapper<Autodiff<B>> for Place<'_, B> {
        fn map_float<const D: usize>(
            &mut self,
            param: Param<Tensor<Autodiff<B>, D>>,
        ) -> Param<Tensor<Autodiff<B>, D>> {
            let (id, tensor, mapper) = param.consume();
            let shape = tensor.shape();
            let count = shape.num_elements();
            let end = (self.at + count).min(self.values.len());
            let data = TensorData::new(self.values[self.at..end].to_vec(), [end - self.at]);
            let leaf: Tensor<B, 1> =
                Tensor::from_data(data, (&tensor.device(), tensor.dtype())).require_grad();
            self.at = end;
            let inner: Tensor<B, D> = leaf.clone().reshape(shape);
            self.leaves.push(leaf);
            Param::from_mapped_value(id, Tensor::from_inner(inner).require_grad(), mapper)
        }
    }

    /// `Σ gᵢ · vᵢ` over the parameters, a tracked scalar of `B`.
    struct Contract<'g, 'v, B: AutodiffBackend> {
        grads: &'g <Autodiff<B> as AutodiffBackend>::Gradients,
        v: &'v [f64],
        at: usize,
        sum: Option<Tensor<B, 1>>,
    }

    impl<B: AutodiffBackend> ModuleVisitor<Autodiff<B>> for Contract<'_, '_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Autodiff<B>, D>>) {
            let tensor = param.val();
            let count = tensor.shape().num_elements();
            let end = (self.at + count).min(self.v.len());
            let data = TensorData::new(self.v[self.at..end].to_vec(), [end - self.at]);
            let direction: Tensor<B, 1> =
                Tensor::from_data(data, (&tensor.device(), tensor.dtype()));
            self.at = end;
            if let Some(g) = tensor.grad(self.grads) {
                let term = (g.reshape([count]) * direction).sum();
                self.sum = Some(match self.sum.take() {
                    Some(sum) => sum + term,
                    None => term,
                });
            }
        }
    }
}

/// A model at its current parameters, on its training set.
pub struct ModelSubject<'a, B: AutodiffBackend> {
    task: &'a SupervisedTask,
    module: AnyModel<B>,
    w: Vec<f64>,
    training: &'a TrainingSet<B>,
    device: &'a B::Device,
}

impl<'a, B: AutodiffBackend> ModelSubject<'a, B> {
    /// The subject at `module`'s parameters.
    pub fn new(
        task: &'a SupervisedTask,
        module: AnyModel<B>,
        training: &'a TrainingSet<B>,
        device: &'a B::Device,
    ) -> Self {
        let w = flatten(&module);
        ModelSubject {
            task,
            module,
            w,
            training,
            device,
        }
    }

    /// The subject at the parameters `w` (flattened as [`flatten`] does) of a model shaped
    /// like `module`; a `w` of another length is refused.
    pub fn at_parameters(
        task: &'a SupervisedTask,
        module: AnyModel<B>,
        w: &[f64],
        training: &'a TrainingSet<B>,
        device: &'a B::Device,
    ) -> Result<Self> {
        let subject = ModelSubject::new(task, module, training, device);
        let module = subject.at(w)?;
        Ok(ModelSubject::new(task, module, training, device))
    }

    /// `items` assembled on the inner backend in chunks that bound one forward pass's memory.
    fn chunks(&self, items: Items<'_>) -> Result<Vec<Batch<B::InnerBackend>>> {
        const CHUNK: usize = 2000;
        let (data, indices) = match items {
            Items::Train(batch) => (
                Arc::clone(&self.task.train),
                batch.map_or_else(|| (0..self.task.train.len()).collect(), <[usize]>::to_vec),
            ),
            Items::Test(listed) => match &self.task.test {
                Some(test) => (
                    Arc::clone(test),
                    listed.map_or_else(|| (0..test.len()).collect(), <[usize]>::to_vec),
                ),
                None => bail!("this problem has no test set"),
            },
        };
        let batcher = ArrayBatcher::new(data);
        Ok(indices
            .chunks(CHUNK)
            .map(|c| batcher.assemble::<B::InnerBackend>(c, self.device))
            .collect())
    }

    fn at(&self, w: &[f64]) -> Result<AnyModel<B>> {
        ensure!(
            w.len() == self.w.len(),
            "a point of {} parameters for a model of {}",
            w.len(),
            self.w.len()
        );
        Ok(self.module.clone().map(&mut Unflatten { values: w, at: 0 }))
    }
}

impl<B: AutodiffBackend> Subject for ModelSubject<'_, B> {
    fn parameters(&self) -> &[f64] {
        &self.w
    }

    fn items(&self) -> usize {
        self.task.train.len()
    }

    fn loss_and_gradient(&mut self, w: &[f64], batch: Option<&[usize]>) -> Result<(f64, Vec<f64>)> {
        let model = self.at(w)?;
        match batch {
            Some(batch) => {
                let loss = self
                    .task
                    .loss(&model, &self.training.batcher, batch, self.device)?;
                let value: f64 = loss.clone().into_scalar().elem();
                let gradient = gradient(&model, loss);
                Ok((value, gradient))
            }
            None => {
                // The objective is a mean over items: chunk means weighted by chunk size.
                let n = self.task.train.len().max(1) as f64;
                let (mut value, mut total) = (0.0, vec![0.0; w.len()]);
                for chunk in self.training.chunks(self.device) {
                    let weight = chunk.len() as f64 / n;
                    let loss = self.task.loss_on(&model, chunk.clone())?;
                    let chunk_value: f64 = loss.clone().into_scalar().elem();
                    value += weight * chunk_value;
                    for (t, g) in total.iter_mut().zip(gradient(&model, loss)) {
                        *t += weight * g;
                    }
                }
                Ok((value, total))
            }
        }
    }

    fn full_train(&mut self) -> Result<(f64, Option<f64>)> {
        let chunks = self.training.chunks(self.device);
        self.task.objective_and_accuracy(&self.module, chunks)
    }

    fn layout(&self) -> Option<Vec<descent_surface::Block>> {
        Some(layout(&self.module))
    }

    fn evaluator(&mut self, items: Items<'_>) -> Result<Evaluator<'_>> {
        let chunks = self.chunks(items)?;
        let model = self.module.valid();
        let (task, dim) = (self.task, self.w.len());
        Ok(Box::new(move |w: &[f64]| {
            ensure!(
                w.len() == dim,
                "internal error: a point of {} parameters for a model of {dim}",
                w.len()
            );
            let at = model.clone().map(&mut Unflatten { values: w, at: 0 });
            task.data_loss_and_accuracy(&at, &chunks)
        }))
    }

    /// An MLP's first layer is linear in its weights: `X (W + Σ cₖ Dₖ) + (b + Σ cₖ eₖ) =
    /// (X W + b) + Σ cₖ (X Dₖ + eₖ)`, so the products with the items are made once per
    /// direction and each point adds them up. The first layer holds most of an MLP's
    /// multiply-adds (784 x 256 of the 784-256-128-10 MLP's 235k per item), so a slice's
    /// points cost a fraction of a forward pass each. The sums differ from a forward pass at
    /// the point only by rounding.
    fn plane_evaluator(
        &mut self,
        items: Items<'_>,
        base: &[f64],
        directions: &[&[f64]],
    ) -> Result<PlaneEvaluator<'_>> {
        let layout = layout(&self.module);
        let first_dense = matches!(
            (&self.module, layout.first(), layout.get(1)),
            (AnyModel::Mlp(_), Some(w), Some(b))
                if w.shape.len() == 2 && b.shape == [w.shape[1]]
        );
        if !first_dense || directions.is_empty() {
            return Ok(offset_evaluator(self.evaluator(items)?, base, directions));
        }
        let (d_in, width) = (layout[0].shape[0], layout[0].shape[1]);
        let chunks = self.chunks(items)?;
        let model = self.module.valid();
        let AnyModel::Mlp(mlp) = &model else {
            return Ok(offset_evaluator(self.evaluator(items)?, base, directions));
        };
        let (device, dtype) = (mlp.layers[0].weight.device(), mlp.layers[0].weight.dtype());
        let affine = |v: &[f64], x: &Tensor<B::InnerBackend, 2>| {
            let weight = Tensor::<B::InnerBackend, 2>::from_data(
                TensorData::new(v[..d_in * width].to_vec(), [d_in, width]),
                (&device, dtype),
            );
            let bias = Tensor::<B::InnerBackend, 1>::from_data(
                TensorData::new(v[d_in * width..d_in * width + width].to_vec(), [width]),
                (&device, dtype),
            );
            x.clone().matmul(weight) + bias.unsqueeze_dim(0)
        };
        // Per chunk: the first layer's output at the base and along each direction.
        type Outputs<I> = (Tensor<I, 2>, Vec<Tensor<I, 2>>);
        let parts: Vec<Outputs<B::InnerBackend>> = chunks
            .iter()
            .map(|chunk| {
                let x = &chunk.inputs;
                (
                    affine(base, x),
                    directions.iter().map(|d| affine(d, x)).collect(),
                )
            })
            .collect();
        let base = base.to_vec();
        let directions: Vec<Vec<f64>> = directions.iter().map(|d| d.to_vec()).collect();
        let task = self.task;
        let mut point = vec![0.0; base.len()];
        Ok(Box::new(move |coefficients: &[f64]| {
            point.copy_from_slice(&base);
            for (d, &c) in directions.iter().zip(coefficients) {
                for (p, d) in point.iter_mut().zip(d) {
                    *p += c * d;
                }
            }
            let at = model.clone().map(&mut Unflatten {
                values: &point,
                at: 0,
            });
            let AnyModel::Mlp(mlp) = &at else {
                anyhow::bail!("internal error: the model changed kind");
            };
            let last = mlp.layers.len() - 1;
            task.data_loss_of_outputs(&at, &chunks, &mut |i, _| {
                let (start, along) = &parts[i];
                let mut h = start.clone();
                for (p, &c) in along.iter().zip(coefficients) {
                    h = h + p.clone().mul_scalar(c);
                }
                for (k, layer) in mlp.layers.iter().enumerate() {
                    if k > 0 {
                        h = layer.forward(h);
                    }
                    if k < last {
                        h = mlp.activation.apply(h);
                    }
                }
                Ok(h)
            })
        }))
    }
    fn hessian_vector(
        &mut self,
        w: &[f64],
        v: &[f64],
        batch: Option<&[usize]>,
    ) -> Result<Vec<f64>> {
        match exact::hessian_vector::<B>(
            self.task,
            &self.training.batcher,
            w,
            v,
            batch,
            self.device,
        )? {
            Some(product) => Ok(product),
            None => super::difference_hessian_vector(self, w, v, batch),
        }
    }

    fn difference_step(&self) -> f64 {
        let epsilon = match <B::FloatElem as Element>::dtype() {
            DType::F64 => f64::EPSILON,
            DType::F32 | DType::Flex32 => f64::from(f32::EPSILON),
            // Half precision: 2^-10 (f16) or 2^-7 (bf16); the coarser one is safe for both.
            _ => 2f64.powi(-7),
        };
        epsilon.cbrt()
    }
}

/// Every float parameter of `module`, in visiting order, as `f64`.
pub fn flatten<B: Backend, M: Module<B>>(module: &M) -> Vec<f64> {
    let mut reader = Flatten(Vec::new());
    module.visit(&mut reader);
    reader.0
}

struct Flatten(Vec<f64>);

/// Every float parameter's shape and output axis, in the order of [`flatten`]: burn's dense
/// weights are `[in, out]` (axis 1), its convolutions' `[out, in, k...]` (axis 0).
pub fn layout<B: Backend, M: Module<B>>(module: &M) -> Vec<descent_surface::Block> {
    let mut reader = Shapes(Vec::new());
    module.visit(&mut reader);
    reader.0
}

struct Shapes(Vec<descent_surface::Block>);

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.val().dims().to_vec();
        let output_axis = usize::from(D == 2);
        self.0.push(descent_surface::Block { shape, output_axis });
    }
}

impl<B: Backend> ModuleVisitor<B> for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let data = param.val().into_data().convert::<f64>();
        self.0.extend(data.iter::<f64>());
    }
}

/// Replaces every float parameter, in visiting order, by the next values of `values`.
struct Unflatten<'v> {
    values: &'v [f64],
    at: usize,
}

impl<B: Backend> ModuleMapper<B> for Unflatten<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let count = shape.num_elements();
        let end = (self.at + count).min(self.values.len());
        let data = TensorData::new(self.values[self.at..end].to_vec(), shape);
        self.at = end;
        let track = tensor.is_require_grad();
        let fresh = Tensor::<B, D>::from_data(data, (&tensor.device(), tensor.dtype()));
        let fresh = if track { fresh.require_grad() } else { fresh };
        Param::from_mapped_value(id, fresh, mapper)
    }
}

/// The gradient of `loss` with respect to every float parameter of `model`, flattened.
fn gradient<B: AutodiffBackend>(model: &AnyModel<B>, loss: Tensor<B, 1>) -> Vec<f64> {
    let grads = loss.backward();
    let mut reader = GradientReader {
        grads: &grads,
        values: Vec::new(),
    };
    model.visit(&mut reader);
    reader.values
}

struct GradientReader<'g, B: AutodiffBackend> {
    grads: &'g B::Gradients,
    values: Vec<f64>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradientReader<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let tensor = param.val();
        match tensor.grad(self.grads) {
            Some(g) => self
                .values
                .extend(g.into_data().convert::<f64>().iter::<f64>()),
            // A parameter the loss does not reach has a zero gradient.
            None => self
                .values
                .extend(std::iter::repeat_n(0.0, tensor.shape().num_elements())),
        }
    }
}
