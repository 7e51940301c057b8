//! Lookahead: slow weights that follow any inner optimizer's fast weights.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::{LearningRate, SimpleOptimizer, adaptor::OptimizerAdaptor};
use burn::record::{PrecisionSettings, Record};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Device, Tensor};

use crate::error::OptimError;
use crate::validate;

/// Configuration of [`Lookahead`]; defaults are the paper's (`k = 5`, `alpha = 0.5`).
#[derive(Config, Debug)]
pub struct LookaheadConfig {
    /// Number of inner (fast) steps between two synchronisations.
    #[config(default = 5)]
    pub k: usize,
    /// Step size `alpha` of the slow weights towards the fast ones.
    #[config(default = 0.5)]
    pub alpha: f64,
}

/// Lookahead around any per-tensor optimizer `O` of this crate (or of burn).
///
/// ```text
/// fast weights: theta <- O.step(theta, g)  every step
/// every k steps: phi <- phi + alpha (theta - phi),  theta <- phi
/// ```
/// `phi` starts at the initial parameters. The inner optimizer's state carries on across
/// synchronisations, as in the paper's reference code.
///
/// Paper: Zhang, Lucas, Hinton & Ba, *Lookahead Optimizer: k steps forward, 1 step back*
/// (NeurIPS 2019). PyTorch has no counterpart.
#[derive(Clone, Debug)]
pub struct Lookahead<O> {
    inner: O,
    k: usize,
    alpha: f64,
}

/// State of [`Lookahead`] for one parameter tensor.
#[derive(Clone)]
pub struct LookaheadState<S, B: Backend, const D: usize> {
    /// The inner optimizer's state.
    pub inner: Option<S>,
    /// The slow weights `phi`.
    pub slow: Tensor<B, D>,
    /// Steps taken since the start.
    pub step: usize,
}

/// Serialisable form of [`LookaheadState`].
#[derive(Serialize, Deserialize)]
#[serde(crate = "burn::serde", bound = "")]
pub struct LookaheadStateItem<S: Record<B>, B: Backend, PS: PrecisionSettings, const D: usize> {
    inner: Option<S::Item<PS>>,
    slow: <Tensor<B, D> as Record<B>>::Item<PS>,
    step: usize,
}

impl<S: Record<B>, B: Backend, PS: PrecisionSettings, const D: usize> Clone
    for LookaheadStateItem<S, B, PS, D>
{
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            slow: self.slow.clone(),
            step: self.step,
        }
    }
}

impl<S: Record<B>, B: Backend, const D: usize> Record<B> for LookaheadState<S, B, D> {
    type Item<PS: PrecisionSettings> = LookaheadStateItem<S, B, PS, D>;

    fn into_item<PS: PrecisionSettings>(self) -> Self::Item<PS> {
        LookaheadStateItem {
            inner: self.inner.map(Record::into_item),
            slow: self.slow.into_item(),
            step: self.step,
        }
    }

    fn from_item<PS: PrecisionSettings>(item: Self::Item<PS>, device: &Device<B>) -> Self {
        LookaheadState {
            inner: item.inner.map(|s| S::from_item(s, device)),
            slow: Tensor::from_item(item.slow, device),
            step: item.step,
        }
    }
}

impl LookaheadConfig {
    /// Check every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), OptimError> {
        validate::at_least_one("Lookahead", "k", self.k)?;
        validate::unit_closed("Lookahead", "alpha", self.alpha)
    }

    /// Wrap the per-tensor optimizer `inner` (e.g. `AdamConfig::new().build()?`).
    pub fn build<O>(&self, inner: O) -> Result<Lookahead<O>, OptimError> {
        self.validate()?;
        Ok(Lookahead {
            inner,
            k: self.k,
            alpha: self.alpha,
        })
    }

    /// Wrap `inner` and build the optimizer for module `M`.
    pub fn init<B, M, O>(
        &self,
        inner: O,
    ) -> Result<OptimizerAdaptor<Lookahead<O>, M, B>, OptimError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: SimpleOptimizer<B::InnerBackend>,
    {
        Ok(OptimizerAdaptor::from(self.build(inner)?))
    }
}

impl<O> Lookahead<O> {
    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }
}

impl<B: Backend, O: SimpleOptimizer<B>> SimpleOptimizer<B> for Lookahead<O> {
    type State<const D: usize> = LookaheadState<O::State<D>, B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let (inner, slow, step) = match state {
            Some(s) => (s.inner, s.slow, s.step),
            None => (None, tensor.clone(), 0),
        };
        let (fast, inner) = self.inner.step(lr, tensor, grad, inner);
        let step = step + 1;
        let (fast, slow) = if step % self.k == 0 {
            let slow = slow.clone().add(fast.sub(slow).mul_scalar(self.alpha));
            (slow.clone(), slow)
        } else {
            (fast, slow)
        };
        (fast, Some(LookaheadState { inner, slow, step }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device<B>) -> Self::State<D> {
        LookaheadState {
            inner: state.inner.map(|s| O::to_device(s, device)),
            slow: state.slow.to_device(device),
            step: state.step,
        }
    }
}
