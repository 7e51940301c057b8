//! Fused, in-place steps for [`Adam`](super::Adam), [`AdamW`](super::AdamW),
//! [`Sgd`](super::Sgd), [`RmsProp`](super::RmsProp), [`Lion`](super::Lion) and
//! [`Adagrad`](super::Adagrad) on the CPU backends.
//!
//! Written with burn's tensor ops, an Adam step makes about eleven passes over memory and
//! allocates a buffer for every intermediate result. On the backends whose buffers this
//! crate can reach (burn's `NdArray` with the cargo feature `ndarray`, `Flex` with `flex`),
//! these optimizers instead make one pass that reads the gradient and updates the parameter
//! and the state where they lie (copy-on-write: a buffer shared with another tensor is
//! copied first, never changed under it), split across threads with the feature `rayon`.
//!
//! Each kernel performs the tensor-op code's IEEE operations in the same order, on the same
//! element type, with the same scalars rounded the same way, so both give the same bits (the
//! tests at the bottom of this file compare them step by step in `f32` and `f64`). The
//! tensor-op code still runs where no kernel applies: on any other backend (burn's wgpu backend fuses
//! element-wise chains by itself), with the config's `fused = false`, on the first step
//! (which creates the state), and for tensors that are quantized, strided, of different
//! precisions or of different lengths.
//!
//! Each optimizer's per-step scalars (bias corrections, step sizes, decay factors: what its
//! config and state give before the pass, computed as its rule computes them) are set up in
//! the optimizer's own file, beside that rule (`AdamScalars` in `adam.rs`, and so on); this
//! file holds what runs them: the access to the backends' buffers, the `f32`/`f64` dispatch,
//! the split into chunks, and the per-element loops.

use core::any::Any;
use core::ops::{Add, Div, Mul, Neg, Sub};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::adagrad::AdagradScalars;
use super::adam::AdamScalars;
use super::lion::LionScalars;
use super::rmsprop::RmsPropScalars;
use super::sgd::SgdScalars;

/// Below this many elements a step stays on the calling thread: handing work to another
/// costs microseconds, more than such a step.
#[cfg(feature = "rayon")]
const PARALLEL_FROM: usize = 1 << 16;

/// Elements per task when a step is split across threads.
#[cfg(feature = "rayon")]
const CHUNK: usize = 1 << 15;

/// The float element types the kernels run on, and how each backend stores them.
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// A hyperparameter in this precision, rounded to nearest as burn's scalar ops round it.
    fn of(value: f64) -> Self;
    /// The correctly rounded square root.
    fn sqrt(self) -> Self;
    /// Whether the sign bit is clear (also for zeros and NaNs).
    fn is_sign_positive(self) -> bool;
    #[cfg(feature = "ndarray")]
    fn ndarray_mut(tensor: &mut burn::backend::ndarray::NdArrayTensor) -> Option<&mut [Self]>;
    #[cfg(feature = "ndarray")]
    fn ndarray_ref(tensor: &burn::backend::ndarray::NdArrayTensor) -> Option<&[Self]>;
    #[cfg(feature = "flex")]
    fn flex_mut(tensor: &mut burn::backend::flex::FlexTensor) -> Option<&mut [Self]>;
    #[cfg(feature = "flex")]
    fn flex_ref(tensor: &burn::backend::flex::FlexTensor) -> Option<&[Self]>;
}

macro_rules! real {
    ($ty:ty, $variant:ident) => {
        // `inline`: called per element from generic code compiled in the user's crate.
        impl Real for $ty {
            #[inline(always)]
            fn of(value: f64) -> Self {
                value as $ty
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$ty>::sqrt(self)
            }
            #[inline(always)]
            fn is_sign_positive(self) -> bool {
                <$ty>::is_sign_positive(self)
            }
            #[cfg(feature = "ndarray")]
            fn ndarray_mut(
                tensor: &mut burn::backend::ndarray::NdArrayTensor,
            ) -> Option<&mut [Self]> {
                match tensor {
                    // Both unshare the array first (copy-on-write).
                    burn::backend::ndarray::NdArrayTensor::$variant(storage) => {
                        storage.ensure_owned().as_slice_mut()
                    }
                    _ => None,
                }
            }
            #[cfg(feature = "ndarray")]
            fn ndarray_ref(tensor: &burn::backend::ndarray::NdArrayTensor) -> Option<&[Self]> {
                match tensor {
                    burn::backend::ndarray::NdArrayTensor::$variant(storage) => {
                        storage.view().to_slice()
                    }
                    _ => None,
                }
            }
            #[cfg(feature = "flex")]
            fn flex_mut(tensor: &mut burn::backend::flex::FlexTensor) -> Option<&mut [Self]> {
                if tensor.dtype() != burn::tensor::DType::$variant {
                    return None;
                }
                let (start, end) = tensor.layout().contiguous_offsets()?;
                // `storage_mut` unshares the buffer first (copy-on-write).
                tensor.storage_mut::<$ty>().get_mut(start..end)
            }
            #[cfg(feature = "flex")]
            fn flex_ref(tensor: &burn::backend::flex::FlexTensor) -> Option<&[Self]> {
                tensor.as_slice::<$ty>()
            }
        }
    };
}

real!(f32, F32);
real!(f64, F64);

/// The contiguous elements of a backend's float primitive, writable, if this crate knows the
/// backend and the tensor is a plain `T` buffer.
#[cfg_attr(
    not(any(feature = "ndarray", feature = "flex")),
    allow(unused_variables, clippy::needless_pass_by_ref_mut)
)]
fn writable<T: Real, P: 'static>(primitive: &mut P) -> Option<&mut [T]> {
    let any: &mut dyn Any = primitive;
    #[cfg(feature = "ndarray")]
    if any.is::<burn::backend::ndarray::NdArrayTensor>() {
        return any
            .downcast_mut::<burn::backend::ndarray::NdArrayTensor>()
            .and_then(T::ndarray_mut);
    }
    #[cfg(feature = "flex")]
    if let Some(tensor) = any.downcast_mut::<burn::backend::flex::FlexTensor>() {
        return T::flex_mut(tensor);
    }
    None
}

/// The contiguous elements of a backend's float primitive, read only.
#[cfg_attr(
    not(any(feature = "ndarray", feature = "flex")),
    allow(unused_variables)
)]
fn readable<T: Real, P: 'static>(primitive: &P) -> Option<&[T]> {
    let any: &dyn Any = primitive;
    #[cfg(feature = "ndarray")]
    if let Some(tensor) = any.downcast_ref::<burn::backend::ndarray::NdArrayTensor>() {
        return T::ndarray_ref(tensor);
    }
    #[cfg(feature = "flex")]
    if let Some(tensor) = any.downcast_ref::<burn::backend::flex::FlexTensor>() {
        return T::flex_ref(tensor);
    }
    None
}

/// The float primitive of a tensor (dequantized if it was quantized).
fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> B::FloatTensorPrimitive {
    tensor.into_primitive().tensor()
}

fn from_primitive<B: Backend, const D: usize>(primitive: B::FloatTensorPrimitive) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

/// An optimizer's step as the kernels see it: its configuration, this step's rate and the
/// step's number (counted from 1; unused by the optimizers that keep no count).
struct Fused<'a, O> {
    config: &'a O,
    lr: f64,
    step: usize,
}

/// One optimizer's fused step in one precision, on slices of one length.
trait Kernel<const N: usize> {
    /// The step on `param` with `grad` and the optimizer's `N` state buffers, in the order
    /// its wrapper gave them (`None` where the state has no such buffer). Returns `false`,
    /// having changed nothing, for a set of buffers it does not take. `P` is the backend's
    /// float primitive, for what burn's backends compute differently.
    fn run<T: Real, P: 'static>(
        &self,
        param: &mut [T],
        grad: &[T],
        state: [Option<&mut [T]>; N],
    ) -> bool;
}

/// Runs `kernel` where the parameter, gradient and state lie, in `f32` or `f64`, whichever
/// they hold, if this crate reaches every buffer and all have one length; `false` leaves
/// every value as it was (a shared buffer may have been unshared).
fn in_place<K: Kernel<N>, P: 'static, const N: usize>(
    kernel: &K,
    param: &mut P,
    grad: &P,
    mut state: [Option<&mut P>; N],
) -> bool {
    in_precision::<f32, K, P, N>(kernel, param, grad, &mut state)
        || in_precision::<f64, K, P, N>(kernel, param, grad, &mut state)
}

fn in_precision<T: Real, K: Kernel<N>, P: 'static, const N: usize>(
    kernel: &K,
    param: &mut P,
    grad: &P,
    state: &mut [Option<&mut P>; N],
) -> bool {
    let Some(g) = readable::<T, P>(grad) else {
        return false;
    };
    let Some(p) = writable::<T, P>(param) else {
        return false;
    };
    let buffers = state
        .each_mut()
        .map(|buffer| buffer.as_deref_mut().map(writable::<T, P>));
    // A buffer that is there but out of reach (another precision, strided) declines the step.
    if buffers.iter().any(|buffer| matches!(buffer, Some(None))) {
        return false;
    }
    let buffers = buffers.map(Option::flatten);
    let n = p.len();
    if g.len() != n || buffers.iter().flatten().any(|buffer| buffer.len() != n) {
        return false;
    }
    kernel.run::<T, P>(p, g, buffers)
}

/// The new parameter and state when the fused step ran, else the inputs back.
fn outcome<B: Backend, const D: usize, S>(
    done: bool,
    param: B::FloatTensorPrimitive,
    grad: B::FloatTensorPrimitive,
    state: Option<S>,
) -> Outcome<B, D, S> {
    if done {
        Ok((from_primitive(param), state))
    } else {
        Err((from_primitive(param), from_primitive(grad), state))
    }
}

/// A step's inputs: the parameter, its gradient and the optimizer's state.
pub(crate) type Inputs<B, const D: usize, S> = (Tensor<B, D>, Tensor<B, D>, S);

/// What a fused step could not take: the inputs, unchanged, for the tensor-op code.
pub(crate) type Declined<B, const D: usize, S> = Inputs<B, D, Option<S>>;

/// A fused step's result (the new parameter and state), or its inputs back.
pub(crate) type Outcome<B, const D: usize, S> =
    Result<(Tensor<B, D>, Option<S>), Declined<B, D, S>>;

/// The inputs with their state when `fused` is on and the state exists, else the inputs back:
/// the tensor-op code creates the state on the first step.
fn existing_state<B: Backend, const D: usize, S>(
    fused: bool,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<S>,
) -> Result<Inputs<B, D, S>, Declined<B, D, S>> {
    match state {
        Some(state) if fused => Ok((tensor, grad, state)),
        state => Err((tensor, grad, state)),
    }
}

/// Runs `kernel` over equal chunks of the parameter, the gradient and the `N` state slices
/// (all of one length), on several threads when the slices are long.
fn for_chunks<T: Real, const N: usize>(
    param: &mut [T],
    grad: &[T],
    state: [&mut [T]; N],
    kernel: impl Fn(&mut [T], &[T], [&mut [T]; N]) + Sync,
) {
    #[cfg(feature = "rayon")]
    if param.len() >= PARALLEL_FROM {
        use rayon::prelude::*;
        let mut pieces = state.map(|buffer| buffer.chunks_mut(CHUNK));
        // The slices have one length, so every buffer has a piece for every chunk.
        let rows: Vec<[&mut [T]; N]> = (0..param.len().div_ceil(CHUNK))
            .map(|_| {
                pieces
                    .each_mut()
                    .map(|piece| piece.next().unwrap_or_default())
            })
            .collect();
        param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(rows)
            .for_each(|((p, g), row)| kernel(p, g, row));
        return;
    }
    kernel(param, grad, state);
}

/// `grad` with the L2 term `lambda param` added when `weight_decay` is `Some(lambda)`, as
/// [`Decay::Coupled`](super::common::Decay) adds it. The sum is computed always and selected,
/// which keeps the loops free of branches (so they vectorise) and gives the tensor-op code's
/// values exactly.
#[inline(always)]
fn with_l2<T: Real>(weight_decay: Option<T>, param: T, grad: T) -> T {
    let (lambda, decays) = match weight_decay {
        Some(lambda) => (lambda, true),
        None => (param, false),
    };
    let penalised = grad + param * lambda;
    if decays { penalised } else { grad }
}

/// `Some(value)` in `T` when `value` is not zero: a term the kernels may leave out.
pub(super) fn unless_zero<T: Real>(value: f64) -> Option<T> {
    (value != 0.0).then(|| T::of(value))
}

/// The per-element pieces of [`Adam`](super::Adam)'s step, on the scalars its file sets up.
impl<T: Real> AdamScalars<T> {
    /// The gradient after the sign and the L2 term, and the parameter after the decoupled
    /// decay. Each optional term is computed always and selected, which keeps the loop free
    /// of branches (so it vectorises) and gives the tensor-op code's values exactly.
    #[inline(always)]
    fn decayed(&self, param: T, grad: T) -> (T, T) {
        let grad = if self.maximize { -grad } else { grad };
        let grad = with_l2(self.coupled, param, grad);
        let (factor, decoupled) = match self.decoupled {
            Some(factor) => (factor, true),
            None => (param, false),
        };
        let shrunk = param * factor;
        (if decoupled { shrunk } else { param }, grad)
    }

    /// The new moments from the old ones and the gradient.
    #[inline(always)]
    fn moments(&self, m: T, v: T, grad: T) -> (T, T) {
        (
            m * self.beta_1 + grad * self.one_minus_beta_1,
            v * self.beta_2 + grad * grad * self.one_minus_beta_2,
        )
    }

    /// The new parameter from the (decayed) parameter, the first moment and the second
    /// moment used (`v`, or AMSGrad's maximum).
    #[inline(always)]
    fn update(&self, param: T, m: T, second: T) -> T {
        param - m / (second.sqrt() + self.eps_term) * self.step_size
    }
}

/// One Adam step on `p`, `g`, `m`, `v`, element by element in the order of `Adam::step`'s
/// tensor ops.
fn adam_kernel<T: Real>(s: &AdamScalars<T>, p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let (param, grad) = s.decayed(*p, g);
        (*m, *v) = s.moments(*m, *v, grad);
        *p = s.update(param, *m, *v);
    }
}

/// [`adam_kernel`] with AMSGrad's running maximum of `v`.
fn amsgrad_kernel<T: Real>(
    s: &AdamScalars<T>,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    v_max: &mut [T],
) {
    let state = m.iter_mut().zip(v.iter_mut()).zip(v_max.iter_mut());
    for ((p, &g), ((m, v), v_max)) in p.iter_mut().zip(g).zip(state) {
        let (param, grad) = s.decayed(*p, g);
        (*m, *v) = s.moments(*m, *v, grad);
        // burn's `max_pair`: the other value only where this one is lower.
        if *v_max < *v {
            *v_max = *v;
        }
        *p = s.update(param, *m, *v_max);
    }
}

/// State: the first moment, the second moment, AMSGrad's maximum.
impl Kernel<3> for Fused<'_, super::Adam> {
    fn run<T: Real, P: 'static>(&self, p: &mut [T], g: &[T], state: [Option<&mut [T]>; 3]) -> bool {
        let s = AdamScalars::new(self.config, self.lr, self.step);
        match state {
            [Some(m), Some(v), None] => {
                for_chunks(p, g, [m, v], |p, g, [m, v]| adam_kernel(&s, p, g, m, v));
            }
            [Some(m), Some(v), Some(v_max)] => {
                for_chunks(p, g, [m, v, v_max], |p, g, [m, v, v_max]| {
                    amsgrad_kernel(&s, p, g, m, v, v_max);
                });
            }
            _ => return false,
        }
        true
    }
}

/// [`adam`] for AdamW, whose rule is Adam's with the decay decoupled.
pub(crate) fn adamw<B: Backend, const D: usize>(
    adamw: &super::AdamW,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::AdamState<Tensor<B, D>>>,
) -> Outcome<B, D, super::AdamState<Tensor<B, D>>> {
    adam(&adamw.inner, lr, tensor, grad, state)
}

/// [`Adam`](super::Adam)'s step fused, or its inputs back: every step after the first (which
/// creates the state).
pub(crate) fn adam<B: Backend, const D: usize>(
    adam: &super::Adam,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::AdamState<Tensor<B, D>>>,
) -> Outcome<B, D, super::AdamState<Tensor<B, D>>> {
    let (tensor, grad, state) = existing_state(adam.fused, tensor, grad, state)?;
    let step = state.step + 1;
    let (mut param, gradient) = (primitive(tensor), primitive(grad));
    let mut exp_avg = primitive(state.exp_avg);
    let mut exp_avg_sq = primitive(state.exp_avg_sq);
    let mut max_exp_avg_sq = state.max_exp_avg_sq.map(primitive);
    let done = in_place(
        &Fused {
            config: adam,
            lr,
            step,
        },
        &mut param,
        &gradient,
        [
            Some(&mut exp_avg),
            Some(&mut exp_avg_sq),
            max_exp_avg_sq.as_mut(),
        ],
    );
    let state = super::AdamState {
        step: if done { step } else { state.step },
        exp_avg: from_primitive(exp_avg),
        exp_avg_sq: from_primitive(exp_avg_sq),
        max_exp_avg_sq: max_exp_avg_sq.map(from_primitive),
    };
    outcome(done, param, gradient, Some(state))
}

/// The per-element pieces of [`Sgd`](super::Sgd)'s step, on the scalars its file sets up.
impl<T: Real> SgdScalars<T> {
    /// The gradient after the sign and the L2 term.
    #[inline(always)]
    fn decayed(&self, param: T, grad: T) -> T {
        let grad = if self.maximize { -grad } else { grad };
        with_l2(self.weight_decay, param, grad)
    }
}

/// One SGD-momentum step on `p`, `g` and the momentum buffer, in `Sgd::step`'s order.
fn sgd_momentum_kernel<T: Real>(s: &SgdScalars<T>, p: &mut [T], g: &[T], buffer: &mut [T]) {
    let (undamped, damps) = match s.undamped {
        Some(factor) => (factor, true),
        None => (s.momentum, false),
    };
    for ((p, &g), buffer) in p.iter_mut().zip(g).zip(buffer.iter_mut()) {
        let grad = s.decayed(*p, g);
        let damped = grad * undamped;
        let entering = if damps { damped } else { grad };
        let momentum = *buffer * s.momentum + entering;
        *buffer = momentum;
        let look_ahead = grad + momentum * s.momentum;
        let direction = if s.nesterov { look_ahead } else { momentum };
        *p = *p - direction * s.lr;
    }
}

/// Plain SGD (no momentum) on `p` and `g`.
fn sgd_kernel<T: Real>(s: &SgdScalars<T>, p: &mut [T], g: &[T]) {
    for (p, &g) in p.iter_mut().zip(g) {
        let grad = s.decayed(*p, g);
        *p = *p - grad * s.lr;
    }
}

/// State: the momentum buffer, with momentum only.
impl Kernel<1> for Fused<'_, super::Sgd> {
    fn run<T: Real, P: 'static>(&self, p: &mut [T], g: &[T], state: [Option<&mut [T]>; 1]) -> bool {
        let s = SgdScalars::new(self.config, self.lr);
        match state {
            [Some(buffer)] if self.config.momentum != 0.0 => {
                for_chunks(p, g, [buffer], |p, g, [b]| sgd_momentum_kernel(&s, p, g, b));
            }
            [None] if self.config.momentum == 0.0 => {
                for_chunks(p, g, [], |p, g, []| sgd_kernel(&s, p, g));
            }
            _ => return false,
        }
        true
    }
}

/// [`Sgd`](super::Sgd)'s step fused, or its inputs back. Without momentum every step is
/// fused; with momentum, every step after the first.
pub(crate) fn sgd<B: Backend, const D: usize>(
    sgd: &super::Sgd,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::SgdState<Tensor<B, D>>>,
) -> Outcome<B, D, super::SgdState<Tensor<B, D>>> {
    let with_momentum = sgd.momentum != 0.0;
    if !sgd.fused || (with_momentum && state.is_none()) {
        return Err((tensor, grad, state));
    }
    let (mut param, gradient) = (primitive(tensor), primitive(grad));
    let mut buffer = state
        .filter(|_| with_momentum)
        .map(|s| primitive(s.momentum_buffer));
    let step = Fused {
        config: sgd,
        lr,
        step: 0,
    };
    let done = in_place(&step, &mut param, &gradient, [buffer.as_mut()]);
    let state = buffer.map(|b| super::SgdState {
        momentum_buffer: from_primitive(b),
    });
    outcome(done, param, gradient, state)
}

/// The per-element pieces of [`RmsProp`](super::RmsProp)'s step, on the scalars its file
/// sets up.
impl<T: Real> RmsPropScalars<T> {
    /// A running average updated with `value`.
    #[inline(always)]
    fn average(&self, previous: T, value: T) -> T {
        previous * self.alpha + value * self.one_minus_alpha
    }
}

/// One RMSProp step (not centered) on `p`, `g`, the squared-gradient average and, with
/// momentum, its buffer, in `RmsProp::step`'s order.
fn rmsprop_kernel<T: Real>(
    s: &RmsPropScalars<T>,
    p: &mut [T],
    g: &[T],
    square_avg: &mut [T],
    buffer: Option<&mut [T]>,
) {
    match buffer {
        Some(buffer) => {
            let state = square_avg.iter_mut().zip(buffer.iter_mut());
            for ((p, &g), (v, b)) in p.iter_mut().zip(g).zip(state) {
                let grad = with_l2(s.weight_decay, *p, g);
                *v = s.average(*v, grad * grad);
                *b = *b * s.momentum + grad / (v.sqrt() + s.epsilon);
                *p = *p - *b * s.lr;
            }
        }
        None => {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(square_avg.iter_mut()) {
                let grad = with_l2(s.weight_decay, *p, g);
                *v = s.average(*v, grad * grad);
                *p = *p - grad / (v.sqrt() + s.epsilon) * s.lr;
            }
        }
    }
}

/// [`rmsprop_kernel`] centered: normalised by the square root of the variance estimate.
fn centered_rmsprop_kernel<T: Real>(
    s: &RmsPropScalars<T>,
    p: &mut [T],
    g: &[T],
    square_avg: &mut [T],
    grad_avg: &mut [T],
    buffer: Option<&mut [T]>,
) {
    let averages = square_avg.iter_mut().zip(grad_avg.iter_mut());
    match buffer {
        Some(buffer) => {
            let state = averages.zip(buffer.iter_mut());
            for ((p, &g), ((v, mean), b)) in p.iter_mut().zip(g).zip(state) {
                let grad = with_l2(s.weight_decay, *p, g);
                *v = s.average(*v, grad * grad);
                *mean = s.average(*mean, grad);
                let denom = (*v - *mean * *mean).sqrt() + s.epsilon;
                *b = *b * s.momentum + grad / denom;
                *p = *p - *b * s.lr;
            }
        }
        None => {
            for ((p, &g), (v, mean)) in p.iter_mut().zip(g).zip(averages) {
                let grad = with_l2(s.weight_decay, *p, g);
                *v = s.average(*v, grad * grad);
                *mean = s.average(*mean, grad);
                let denom = (*v - *mean * *mean).sqrt() + s.epsilon;
                *p = *p - grad / denom * s.lr;
            }
        }
    }
}

/// State: the squared-gradient average, the gradient average (centered only), the momentum
/// buffer (with momentum only). A state of another form, saved under another configuration,
/// is left to the tensor-op code.
impl Kernel<3> for Fused<'_, super::RmsProp> {
    fn run<T: Real, P: 'static>(&self, p: &mut [T], g: &[T], state: [Option<&mut [T]>; 3]) -> bool {
        let [Some(v), mean, buffer] = state else {
            return false;
        };
        if mean.is_some() != self.config.centered
            || buffer.is_some() != (self.config.momentum > 0.0)
        {
            return false;
        }
        let s = RmsPropScalars::new(self.config, self.lr);
        match (mean, buffer) {
            (None, None) => for_chunks(p, g, [v], |p, g, [v]| {
                rmsprop_kernel(&s, p, g, v, None);
            }),
            (None, Some(b)) => for_chunks(p, g, [v, b], |p, g, [v, b]| {
                rmsprop_kernel(&s, p, g, v, Some(b));
            }),
            (Some(mean), None) => for_chunks(p, g, [v, mean], |p, g, [v, mean]| {
                centered_rmsprop_kernel(&s, p, g, v, mean, None);
            }),
            (Some(mean), Some(b)) => for_chunks(p, g, [v, mean, b], |p, g, [v, mean, b]| {
                centered_rmsprop_kernel(&s, p, g, v, mean, Some(b));
            }),
        }
        true
    }
}

/// [`RmsProp`](super::RmsProp)'s step fused, or its inputs back: every step after the first
/// (which creates the state).
pub(crate) fn rmsprop<B: Backend, const D: usize>(
    rmsprop: &super::RmsProp,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::RmsPropState<Tensor<B, D>>>,
) -> Outcome<B, D, super::RmsPropState<Tensor<B, D>>> {
    let (tensor, grad, state) = existing_state(rmsprop.fused, tensor, grad, state)?;
    let (mut param, gradient) = (primitive(tensor), primitive(grad));
    let mut square_avg = primitive(state.square_avg);
    let mut grad_avg = state.grad_avg.map(primitive);
    let mut buffer = state.momentum_buffer.map(primitive);
    let step = Fused {
        config: rmsprop,
        lr,
        step: state.step + 1,
    };
    let done = in_place(
        &step,
        &mut param,
        &gradient,
        [Some(&mut square_avg), grad_avg.as_mut(), buffer.as_mut()],
    );
    let state = super::RmsPropState {
        step: if done { step.step } else { state.step },
        square_avg: from_primitive(square_avg),
        grad_avg: grad_avg.map(from_primitive),
        momentum_buffer: buffer.map(from_primitive),
    };
    outcome(done, param, gradient, Some(state))
}

/// The sign of a NaN, where burn's backends differ: burn-ndarray's `sign` gives +-1 by the
/// sign bit, burn-flex's gives the NaN back.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
enum NanSign {
    ByBit,
    Nan,
}

/// How the backend of primitive `P` takes the sign of a NaN.
#[cfg_attr(not(feature = "flex"), allow(clippy::extra_unused_type_parameters))]
fn nan_sign<P: 'static>() -> NanSign {
    #[cfg(feature = "flex")]
    if core::any::TypeId::of::<P>() == core::any::TypeId::of::<burn::backend::flex::FlexTensor>() {
        return NanSign::Nan;
    }
    NanSign::ByBit
}

/// burn's `sign`: 1, -1 or 0 (also for -0), and for a NaN as the backend does it.
#[inline(always)]
fn sign<T: Real>(x: T, nan_sign: NanSign) -> T {
    let zero = T::of(0.0);
    let one = T::of(1.0);
    if x > zero {
        one
    } else if x < zero {
        -one
    } else if x == zero {
        zero
    } else {
        match nan_sign {
            NanSign::Nan => x,
            NanSign::ByBit if x.is_sign_positive() => one,
            NanSign::ByBit => -one,
        }
    }
}

/// One Lion step on `p`, `g` and the momentum, in `Lion::step`'s order, taking the sign of a
/// NaN as `nan_sign` says.
fn lion_kernel<T: Real>(s: &LionScalars<T>, nan_sign: NanSign, p: &mut [T], g: &[T], m: &mut [T]) {
    let (factor, decays) = match s.decoupled {
        Some(factor) => (factor, true),
        None => (T::of(1.0), false),
    };
    for ((p, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
        let shrunk = *p * factor;
        let param = if decays { shrunk } else { *p };
        let direction = *m * s.beta_1 + g * s.one_minus_beta_1;
        *m = *m * s.beta_2 + g * s.one_minus_beta_2;
        *p = param - sign(direction, nan_sign) * s.lr;
    }
}

/// State: the momentum.
impl Kernel<1> for Fused<'_, super::Lion> {
    fn run<T: Real, P: 'static>(&self, p: &mut [T], g: &[T], state: [Option<&mut [T]>; 1]) -> bool {
        let [Some(m)] = state else {
            return false;
        };
        let s = LionScalars::new(self.config, self.lr);
        let nan_sign = nan_sign::<P>();
        for_chunks(p, g, [m], |p, g, [m]| lion_kernel(&s, nan_sign, p, g, m));
        true
    }
}

/// [`Lion`](super::Lion)'s step fused, or its inputs back: every step after the first (which
/// creates the state).
pub(crate) fn lion<B: Backend, const D: usize>(
    lion: &super::Lion,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::LionState<Tensor<B, D>>>,
) -> Outcome<B, D, super::LionState<Tensor<B, D>>> {
    let (tensor, grad, state) = existing_state(lion.fused, tensor, grad, state)?;
    let (mut param, gradient) = (primitive(tensor), primitive(grad));
    let mut exp_avg = primitive(state.exp_avg);
    let step = Fused {
        config: lion,
        lr,
        step: 0,
    };
    let done = in_place(&step, &mut param, &gradient, [Some(&mut exp_avg)]);
    let state = super::LionState {
        exp_avg: from_primitive(exp_avg),
    };
    outcome(done, param, gradient, Some(state))
}

/// One Adagrad step on `p`, `g` and the sum of squared gradients, in `Adagrad::step`'s order.
fn adagrad_kernel<T: Real>(s: &AdagradScalars<T>, p: &mut [T], g: &[T], sum: &mut [T]) {
    for ((p, &g), sum) in p.iter_mut().zip(g).zip(sum.iter_mut()) {
        let grad = with_l2(s.weight_decay, *p, g);
        *sum = *sum + grad * grad;
        *p = *p - grad / (sum.sqrt() + s.epsilon) * s.lr;
    }
}

/// State: the sum of squared gradients.
impl Kernel<1> for Fused<'_, super::Adagrad> {
    fn run<T: Real, P: 'static>(&self, p: &mut [T], g: &[T], state: [Option<&mut [T]>; 1]) -> bool {
        let [Some(sum)] = state else {
            return false;
        };
        let s = AdagradScalars::new(self.config, self.lr, self.step);
        for_chunks(p, g, [sum], |p, g, [sum]| adagrad_kernel(&s, p, g, sum));
        true
    }
}

/// [`Adagrad`](super::Adagrad)'s step fused, or its inputs back: every step after the first
/// (which creates the state).
pub(crate) fn adagrad<B: Backend, const D: usize>(
    adagrad: &super::Adagrad,
    lr: f64,
    tensor: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<super::AdagradState<Tensor<B, D>>>,
) -> Outcome<B, D, super::AdagradState<Tensor<B, D>>> {
    let (tensor, grad, state) = existing_state(adagrad.fused, tensor, grad, state)?;
    let step = state.step + 1;
    let (mut param, gradient) = (primitive(tensor), primitive(grad));
    let mut sum = primitive(state.sum);
    let kernel = Fused {
        config: adagrad,
        lr,
        step,
    };
    let done = in_place(&kernel, &mut param, &gradient, [Some(&mut sum)]);
    let state = super::AdagradState {
        step: if done { step } else { state.step },
        sum: from_primitive(sum),
    };
    outcome(done, param, gradient, Some(state))
}

#[cfg(all(test, any(feature = "ndarray", feature = "flex")))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
mod tests {
    //! The fused steps give the tensor-op code's bits, step by step, for every form of the
    //! six optimizers, in `f32` and `f64`, on a tensor long enough to be split across
    //! threads (with a ragged last chunk) and on a tiny one; and they are taken: the fused
    //! function itself reports whether it ran.

    use burn::optim::SimpleOptimizer;
    use burn::tensor::backend::Backend;
    use burn::tensor::{DType, Element, Tensor, TensorData};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::OptimConfig;
    use crate::optim::{
        AdagradConfig, AdagradState, AdamConfig, AdamState, AdamWConfig, LionConfig, LionState,
        RmsPropConfig, RmsPropState, SgdConfig, SgdState,
    };

    /// Over `PARALLEL_FROM` elements and not a multiple of `CHUNK`.
    const LONG: usize = 100_003;
    const SHORT: usize = 7;
    const STEPS: usize = 6;

    fn bits<B: Backend, const D: usize>(tensor: &Tensor<B, D>) -> Vec<u64> {
        let data = tensor.to_data();
        match data.dtype {
            DType::F32 => data
                .to_vec::<f32>()
                .unwrap()
                .into_iter()
                .map(|x| u64::from(x.to_bits()))
                .collect(),
            DType::F64 => data
                .to_vec::<f64>()
                .unwrap()
                .into_iter()
                .map(f64::to_bits)
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    /// Uniform in `[-scale, scale]`, with an exact zero and a negative zero, in the backend's
    /// own element type. The dtype is given explicitly: `NdArray<f32>` and `NdArray<f64>`
    /// share one device, whose default dtype is fixed by whichever test asks first.
    fn random<B: Backend>(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> Tensor<B, 1> {
        let mut values: Vec<f64> = (0..n)
            .map(|_| scale * (rng.random::<f64>() * 2.0 - 1.0))
            .collect();
        values[0] = 0.0;
        values[1] = -0.0;
        let dtype = B::FloatElem::dtype();
        let data = TensorData::new(values, [n]).convert_dtype(dtype);
        let tensor = Tensor::from_data(data, (&Default::default(), dtype));
        assert_eq!(tensor.dtype(), dtype);
        tensor
    }

    /// `STEPS` steps through `fused` (the fused function, `Err` when it declines) and through
    /// `plain`'s tensor ops from the same start with the same gradients, compared bit by bit
    /// after every step; returns how many steps `fused` took.
    fn same_bits<B: Backend, O: SimpleOptimizer<B>>(
        name: &str,
        n: usize,
        fused: impl Fn(
            f64,
            Tensor<B, 1>,
            Tensor<B, 1>,
            Option<O::State<1>>,
        ) -> super::Outcome<B, 1, O::State<1>>,
        fallback: &O,
        plain: &O,
        state_bits: impl Fn(&O::State<1>) -> Vec<Vec<u64>>,
    ) -> usize {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let start = random::<B>(&mut rng, n, 1.0);
        let (mut a, mut b) = (start.clone(), start);
        let (mut state_a, mut state_b) = (None, None);
        let mut taken = 0;
        for k in 0..STEPS {
            let grad = random::<B>(&mut rng, n, 0.1);
            let lr = 1e-2 * (k + 1) as f64;
            let (next_a, next_state_a) = match fused(lr, a, grad.clone(), state_a) {
                Ok(done) => {
                    taken += 1;
                    done
                }
                Err((a, grad, state)) => fallback.step(lr, a, grad, state),
            };
            let (next_b, next_state_b) = plain.step(lr, b, grad, state_b);
            assert_eq!(bits(&next_a), bits(&next_b), "{name}, n = {n}: step {k}");
            assert_eq!(
                next_state_a.as_ref().map(&state_bits),
                next_state_b.as_ref().map(&state_bits),
                "{name}, n = {n}: state after step {k}"
            );
            (a, b, state_a, state_b) = (next_a, next_b, next_state_a, next_state_b);
        }
        taken
    }

    fn adam_state<B: Backend>(s: &AdamState<Tensor<B, 1>>) -> Vec<Vec<u64>> {
        let mut all = vec![vec![s.step as u64], bits(&s.exp_avg), bits(&s.exp_avg_sq)];
        all.extend(s.max_exp_avg_sq.as_ref().map(bits));
        all
    }

    fn sgd_state<B: Backend>(s: &SgdState<Tensor<B, 1>>) -> Vec<Vec<u64>> {
        vec![bits(&s.momentum_buffer)]
    }

    fn adagrad_state<B: Backend>(s: &AdagradState<Tensor<B, 1>>) -> Vec<Vec<u64>> {
        vec![vec![s.step as u64], bits(&s.sum)]
    }

    fn lion_state<B: Backend>(s: &LionState<Tensor<B, 1>>) -> Vec<Vec<u64>> {
        vec![bits(&s.exp_avg)]
    }

    fn rmsprop_state<B: Backend>(s: &RmsPropState<Tensor<B, 1>>) -> Vec<Vec<u64>> {
        let mut all = vec![vec![s.step as u64], bits(&s.square_avg)];
        all.extend(s.grad_avg.as_ref().map(bits));
        all.extend(s.momentum_buffer.as_ref().map(bits));
        all
    }

    fn every_form<B: Backend>() {
        let adams = [
            ("Adam", AdamConfig::new()),
            (
                "Adam, L2 0.1, AMSGrad, maximize",
                AdamConfig::new()
                    .with_weight_decay(0.1)
                    .with_amsgrad(true)
                    .with_maximize(true),
            ),
            (
                "Adam, betas 0.5/0.6, eps 1e-3",
                AdamConfig::new()
                    .with_beta_1(0.5)
                    .with_beta_2(0.6)
                    .with_epsilon(1e-3),
            ),
        ];
        let adamws = [
            ("AdamW", AdamWConfig::new()),
            (
                "AdamW, decay 0.3, AMSGrad",
                AdamWConfig::new().with_weight_decay(0.3).with_amsgrad(true),
            ),
        ];
        let sgds = [
            ("SGD", SgdConfig::new()),
            (
                "SGD, decay 0.1, maximize",
                SgdConfig::new().with_weight_decay(0.1).with_maximize(true),
            ),
            ("SGD, momentum 0.9", SgdConfig::new().with_momentum(0.9)),
            (
                "SGD, momentum 0.9, dampening 0.3",
                SgdConfig::new().with_momentum(0.9).with_dampening(0.3),
            ),
            (
                "SGD, Nesterov 0.8, decay 0.01",
                SgdConfig::new()
                    .with_momentum(0.8)
                    .with_nesterov(true)
                    .with_weight_decay(0.01),
            ),
        ];
        let rmsprops = [
            ("RMSProp", RmsPropConfig::new()),
            (
                "RMSProp, alpha 0.9, eps 1e-3, decay 0.1",
                RmsPropConfig::new()
                    .with_alpha(0.9)
                    .with_epsilon(1e-3)
                    .with_weight_decay(0.1),
            ),
            (
                "RMSProp, momentum 0.9",
                RmsPropConfig::new().with_momentum(0.9),
            ),
            (
                "RMSProp, centered",
                RmsPropConfig::new().with_centered(true),
            ),
            (
                "RMSProp, centered, momentum 0.5, decay 0.01",
                RmsPropConfig::new()
                    .with_centered(true)
                    .with_momentum(0.5)
                    .with_weight_decay(0.01),
            ),
        ];
        let lions = [
            ("Lion", LionConfig::new()),
            (
                "Lion, betas 0.5/0.7, decay 0.3",
                LionConfig::new()
                    .with_beta_1(0.5)
                    .with_beta_2(0.7)
                    .with_weight_decay(0.3),
            ),
        ];
        let adagrads = [
            ("Adagrad", AdagradConfig::new()),
            (
                "Adagrad, lr decay 0.1, decay 0.2, accumulator 0.5, eps 1e-3",
                AdagradConfig::new()
                    .with_lr_decay(0.1)
                    .with_weight_decay(0.2)
                    .with_initial_accumulator_value(0.5)
                    .with_epsilon(1e-3),
            ),
        ];
        for n in [LONG, SHORT] {
            for (name, config) in &adagrads {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                let fused = super::adagrad::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, adagrad_state, STEPS - 1);
            }
            for (name, config) in &lions {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                let fused = super::lion::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, lion_state, STEPS - 1);
            }
            for (name, config) in &rmsprops {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                let fused = super::rmsprop::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, rmsprop_state, STEPS - 1);
            }
            for (name, config) in &adams {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                let fused = super::adam::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, adam_state, STEPS - 1);
            }
            for (name, config) in &adamws {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                let fused = super::adamw::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, adam_state, STEPS - 1);
            }
            for (name, config) in &sgds {
                let (on, off) = on_and_off(|fused| config.clone().with_fused(fused).build());
                // Without momentum there is no state to create: every step is fused.
                let expected = if config.momentum == 0.0 {
                    STEPS
                } else {
                    STEPS - 1
                };
                let fused = super::sgd::<B, 1>;
                fused_then_declined(name, n, fused, &on, &off, sgd_state, expected);
            }
        }
    }

    /// An optimizer built with `fused = true` and with `fused = false`.
    fn on_and_off<O>(build: impl Fn(bool) -> Result<O, crate::OptimError>) -> (O, O) {
        (build(true).unwrap(), build(false).unwrap())
    }

    /// `fused` with the optimizer `on` gives `off`'s tensor-op bits and takes `expected` of the
    /// `STEPS` steps (the first creates the state with tensor ops where there is one); with
    /// `off` (`fused = false`) it declines every step.
    fn fused_then_declined<B: Backend, O: SimpleOptimizer<B>>(
        name: &str,
        n: usize,
        fused: impl Fn(
            &O,
            f64,
            Tensor<B, 1>,
            Tensor<B, 1>,
            Option<O::State<1>>,
        ) -> super::Outcome<B, 1, O::State<1>>,
        on: &O,
        off: &O,
        state_bits: impl Fn(&O::State<1>) -> Vec<Vec<u64>> + Copy,
        expected: usize,
    ) {
        let taken = same_bits::<B, _>(
            name,
            n,
            |lr, t, g, s| fused(on, lr, t, g, s),
            on,
            off,
            state_bits,
        );
        assert_eq!(taken, expected, "{name}, n = {n}");
        let declined = same_bits::<B, _>(
            name,
            n,
            |lr, t, g, s| fused(off, lr, t, g, s),
            off,
            off,
            state_bits,
        );
        assert_eq!(declined, 0, "{name}, n = {n}: fused = false");
    }

    /// Lion's sign of a NaN is the backend's (burn-ndarray: +-1 by the sign bit; burn-flex: the
    /// NaN): a gradient with both NaNs and signed zeros gives the tensor-op code's bits.
    fn lion_nan_and_zeros<B: Backend>() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let on = LionConfig::new().with_fused(true).build().unwrap();
        let off = LionConfig::new().with_fused(false).build().unwrap();
        let start = random::<B>(&mut rng, SHORT, 1.0);
        let first = random::<B>(&mut rng, SHORT, 0.1);
        let (start, state) = SimpleOptimizer::<B>::step(&off, 0.1, start, first, None);
        let dtype = B::FloatElem::dtype();
        let values = [f64::NAN, -f64::NAN, 0.0, -0.0, 1.0, -1.0, 0.5];
        let data = TensorData::new(values.to_vec(), [SHORT]).convert_dtype(dtype);
        let grad: Tensor<B, 1> = Tensor::from_data(data, (&Default::default(), dtype));
        let Ok((fused, fused_state)) =
            super::lion(&on, 0.1, start.clone(), grad.clone(), state.clone())
        else {
            panic!("the fused Lion step declined");
        };
        let (plain, plain_state) = SimpleOptimizer::<B>::step(&off, 0.1, start, grad, state);
        assert_eq!(bits(&fused), bits(&plain));
        assert_eq!(
            fused_state.as_ref().map(lion_state),
            plain_state.as_ref().map(lion_state)
        );
    }

    /// A state whose buffers are not those the configuration asks for (saved by RMSProp
    /// without momentum, loaded with momentum) is left to the tensor-op code, which starts
    /// the momentum buffer.
    #[cfg(feature = "ndarray")]
    #[test]
    fn rmsprop_declines_a_state_of_another_form() {
        type B = burn::backend::NdArray<f32>;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let plain = RmsPropConfig::new().build().unwrap();
        let start = random::<B>(&mut rng, SHORT, 1.0);
        let grad = random::<B>(&mut rng, SHORT, 0.1);
        let (start, state) = SimpleOptimizer::<B>::step(&plain, 0.1, start, grad.clone(), None);
        for config in [
            RmsPropConfig::new().with_momentum(0.9),
            RmsPropConfig::new().with_centered(true),
        ] {
            let other = config.build().unwrap();
            let outcome = super::rmsprop(&other, 0.1, start.clone(), grad.clone(), state.clone());
            let Err((_, _, Some(kept))) = outcome else {
                panic!("the fused step took a state of another form");
            };
            assert_eq!(kept.step, 1);
            let (_, next) =
                SimpleOptimizer::<B>::step(&other, 0.1, start.clone(), grad.clone(), Some(kept));
            let next = next.unwrap();
            assert_eq!(next.step, 2);
            assert_eq!(next.momentum_buffer.is_some(), config.momentum > 0.0);
            assert_eq!(next.grad_avg.is_some(), config.centered);
        }
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn lion_takes_ndarrays_sign_of_nan() {
        lion_nan_and_zeros::<burn::backend::NdArray<f32>>();
        lion_nan_and_zeros::<burn::backend::NdArray<f64>>();
    }

    #[cfg(feature = "flex")]
    #[test]
    fn lion_takes_flexs_sign_of_nan() {
        lion_nan_and_zeros::<burn::backend::Flex>();
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn fused_steps_equal_the_tensor_ops_on_ndarray_f32() {
        every_form::<burn::backend::NdArray<f32>>();
    }

    #[cfg(feature = "ndarray")]
    #[test]
    fn fused_steps_equal_the_tensor_ops_on_ndarray_f64() {
        every_form::<burn::backend::NdArray<f64>>();
    }

    #[cfg(feature = "flex")]
    #[test]
    fn fused_steps_equal_the_tensor_ops_on_flex() {
        every_form::<burn::backend::Flex>();
    }
}
