//! # descent-optim
//!
//! Optimizers and learning-rate schedules for [burn](https://burn.dev) 0.21 and 0.22 that
//! burn lacks or gets subtly different from PyTorch, with PyTorch's exact numerics: every optimizer
//! with a PyTorch counterpart reproduces `torch.optim`'s trajectory to 1e-10 in `f64`, and
//! every schedule reproduces `torch.optim.lr_scheduler` to 1e-12 (see the crate's tests,
//! which read PyTorch-generated reference files).
//!
//! * [`optim`]: SGD (momentum, dampening, Nesterov, weight decay, maximize), Adam
//!   (AMSGrad), AdamW, NAdam, RAdam, Adamax, RMSProp (centered, momentum), Adagrad,
//!   Adadelta, Rprop, ASGD; beyond PyTorch, equal to optax: AdaBelief, Yogi, Signum and
//!   signSGD, LAMB, LARS, Adan, Lion; and Schedule-Free SGD and AdamW, Lookahead around any of
//!   them, and noisy gradient descent for saddle-escape studies. Each is a burn
//!   `SimpleOptimizer` on burn 0.21 (an `Optimizer` on 0.22); `XxxConfig::init::<B, M>()`
//!   validates the config and returns an `OptimizerAdaptor`.
//!   Defaults are PyTorch's defaults.
//! * [`schedule`]: pure functions of the step (`lr(k)` for the `(k+1)`-th step), wrapped
//!   as burn's [`LrScheduler`](burn::lr_scheduler::LrScheduler) by [`schedule::Scheduler`].
//! * `sam` (burn 0.21): sharpness-aware minimisation around any optimizer, as a step helper over a
//!   closure that recomputes the loss.
//! * `clip` (burn 0.21): gradient clipping by the *global* L2 norm (PyTorch's `clip_grad_norm_`) or by
//!   value, for any optimizer. burn's own clipping works tensor by tensor.
//!
//! With the features `ndarray` / `flex`, [`optim::Adam`], [`optim::AdamW`], [`optim::Sgd`],
//! [`optim::RmsProp`], [`optim::Lion`] and [`optim::Adagrad`] update in one in-place pass on burn's `NdArray` / `Flex` backends instead of one pass per
//! tensor op, with the same bits (`fused = false` in their configs turns it off); with `rayon`,
//! large tensors are split across threads. Other backends run the tensor-op code.
//!
//! **burn versions.** The feature `burn-0-21` (default) serves burn 0.21, `burn-0-22` burn 0.22
//! (through the module `burn_0_22`); both may be on at once. Each update rule is written once,
//! generic over a small internal trait of tensor operations that each version's adapter
//! implements, so both versions run the same arithmetic. The examples below are burn 0.21's;
//! `burn_0_22` has its own.
//!
//! Invalid hyperparameters are reported as an [`OptimError`] by `validate`/`build`/`init`,
//! never as a panic or a NaN during training.
//!
//! ## Example: a custom training loop with AdamW and warm-up + cosine
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::lr_scheduler::LrScheduler;
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//! use burn::optim::{GradientsParams, Optimizer};
//! use burn::tensor::{Tensor, backend::Backend};
//! use descent_optim::OptimConfig;
//! use descent_optim::optim::AdamWConfig;
//! use descent_optim::schedule::{
//!     CosineAnnealingLrConfig, LinearLrConfig, ScheduleConfig, SequentialLrConfig,
//! };
//!
//! type B = Autodiff<NdArray<f32>>;
//!
//! # fn main() -> Result<(), descent_optim::OptimError> {
//! let device = Default::default();
//! let mut model: Linear<B> = LinearConfig::new(2, 1).init(&device);
//! let mut optimizer = AdamWConfig::new().with_weight_decay(0.0).init::<B, Linear<B>>()?;
//! // 10 steps of linear warm-up from 0.1 x to the peak, then cosine decay over 90 steps.
//! let peak = 0.05;
//! let mut schedule = SequentialLrConfig::new(
//!     vec![
//!         ScheduleConfig::Linear(LinearLrConfig::new(peak).with_start_factor(0.1).with_total_iters(10)),
//!         ScheduleConfig::CosineAnnealing(CosineAnnealingLrConfig::new(peak, 90)),
//!     ],
//!     vec![10],
//! )
//! .init()?;
//!
//! // Learn y = 3 x0 - 2 x1 + 1 on a fixed batch.
//! let x = Tensor::<B, 2>::from_floats([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, -1.0]], &device);
//! let y = Tensor::<B, 2>::from_floats([[-1.0], [4.0], [2.0], [9.0]], &device);
//! let mse = |model: &Linear<B>| (model.forward(x.clone()) - y.clone()).square().mean();
//! let initial = mse(&model).into_scalar();
//! for _ in 0..100 {
//!     let loss = mse(&model);
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     model = optimizer.step(schedule.step(), model, grads);
//! }
//! let trained = mse(&model).into_scalar();
//! assert!(trained < initial / 10.0, "loss {initial} -> {trained}");
//! # Ok(())
//! # }
//! ```

// The update rules and configs name burn as `burn`: burn 0.21 where the feature `burn-0-21`
// is on, else burn 0.22 (both offer what they use, from `Config` to `LearningRate`). The
// version-specific code names its version: `crate::burn_0_21` uses `burn`, `crate::burn_0_22`
// uses `burn_0_22`.
#[cfg(all(feature = "burn-0-22", not(feature = "burn-0-21")))]
extern crate burn_0_22 as burn;

#[cfg(not(any(feature = "burn-0-21", feature = "burn-0-22")))]
compile_error!(
    "descent-optim needs a burn version: turn on the feature `burn-0-21` (the default) or \
     `burn-0-22` (with `default-features = false` for a burn 0.22 project), or both"
);

mod arith;
#[cfg(feature = "burn-0-21")]
mod burn_0_21;
#[cfg(feature = "burn-0-22")]
pub mod burn_0_22;
#[cfg(feature = "burn-0-21")]
pub mod clip;
pub mod error;
pub mod optim;
#[cfg(feature = "burn-0-21")]
pub mod sam;
pub mod schedule;
mod state;
mod validate;

pub use error::{OptimError, Result};
pub use optim::OptimConfig;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "burn-0-21"))]
pub struct ReadmeDoctests;
