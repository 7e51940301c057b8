//! Lookahead: slow weights that follow any inner optimizer's fast weights.

use burn::config::Config;
#[cfg(feature = "burn-0-21")]
use burn::module::AutodiffModule;
#[cfg(feature = "burn-0-21")]
use burn::optim::{LearningRate, SimpleOptimizer, adaptor::OptimizerAdaptor};
#[cfg(feature = "burn-0-21")]
use burn::record::{PrecisionSettings, Record};
#[cfg(feature = "burn-0-21")]
use burn::serde::{Deserialize, Serialize};
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::{AutodiffBackend, Backend};
#[cfg(feature = "burn-0-21")]
use burn::tensor::{Device, Tensor};

use crate::arith::Arith;
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
///
/// `S` is the inner optimizer's state, `T` the tensor type of the burn version in use.
#[derive(Clone)]
pub struct LookaheadState<S, T> {
    /// The inner optimizer's state.
    pub inner: Option<S>,
    /// The slow weights `phi`.
    pub slow: T,
    /// Steps taken since the start.
    pub step: usize,
}

impl<S, T: Clone> LookaheadState<S, T> {
    /// The inner state, the slow weights and the step count of `state`; before the first
    /// step, none, the parameters themselves, and 0.
    pub(crate) fn unpack(state: Option<Self>, tensor: &T) -> (Option<S>, T, usize) {
        match state {
            Some(s) => (s.inner, s.slow, s.step),
            None => (None, tensor.clone(), 0),
        }
    }
}

/// Serialisable form of [`LookaheadState`] on burn 0.21.
#[cfg(feature = "burn-0-21")]
#[derive(Serialize, Deserialize)]
#[serde(crate = "burn::serde", bound = "")]
pub struct LookaheadStateItem<S: Record<B>, B: Backend, PS: PrecisionSettings, const D: usize> {
    inner: Option<S::Item<PS>>,
    slow: <Tensor<B, D> as Record<B>>::Item<PS>,
    step: usize,
}

#[cfg(feature = "burn-0-21")]
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

#[cfg(feature = "burn-0-21")]
impl<S: Record<B>, B: Backend, const D: usize> Record<B> for LookaheadState<S, Tensor<B, D>> {
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

    /// Wrap `inner` and build the optimizer for module `M` (burn 0.21; on burn 0.22, wrap
    /// [`Self::build`] in a `ModuleOptimizer`).
    #[cfg(feature = "burn-0-21")]
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

impl<O> Lookahead<O> {
    /// Count the step just taken by the inner optimizer (to `fast`) and, every `k` steps, move
    /// the slow weights towards the fast ones and restart from them:
    /// `phi <- phi + alpha (theta - phi)`, `theta <- phi`.
    pub(crate) fn synchronise<S, T: Arith>(
        &self,
        fast: T,
        slow: T,
        step: usize,
        inner: Option<S>,
    ) -> (T, LookaheadState<S, T>) {
        let step = step + 1;
        let (fast, slow) = if step.is_multiple_of(self.k) {
            let slow = slow.clone().add(fast.sub(slow).mul_scalar(self.alpha));
            (slow.clone(), slow)
        } else {
            (fast, slow)
        };
        (fast, LookaheadState { inner, slow, step })
    }
}

#[cfg(feature = "burn-0-21")]
impl<B: Backend, O: SimpleOptimizer<B>> SimpleOptimizer<B> for Lookahead<O> {
    type State<const D: usize> = LookaheadState<O::State<D>, Tensor<B, D>>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let (inner, slow, step) = LookaheadState::unpack(state, &tensor);
        let (fast, inner) = self.inner.step(lr, tensor, grad, inner);
        let (fast, state) = self.synchronise(fast, slow, step, inner);
        (fast, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device<B>) -> Self::State<D> {
        LookaheadState {
            inner: state.inner.map(|s| O::to_device(s, device)),
            slow: state.slow.to_device(device),
            step: state.step,
        }
    }
}
