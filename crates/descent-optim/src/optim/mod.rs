//! Optimizers: each a config, the optimizer it builds, its per-tensor state, and its update
//! rule, written once over the crate's tensor arithmetic. On burn 0.21 each is a
//! `SimpleOptimizer` built by `XxxConfig::init::<B, M>()` into an `OptimizerAdaptor`; on burn
//! 0.22 an `Optimizer` built by `ModuleOptimizerConfig::init()` into a `ModuleOptimizer`
//! (see `crate::burn_0_22`).

mod adabelief;
mod adadelta;
mod adafactor;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod adan;
mod asgd;
mod common;
#[cfg(feature = "burn-0-21")]
pub(crate) mod fused;
mod lamb;
mod lars;
mod lion;
mod lookahead;
mod muon;
mod nadam;
mod nesterov_lookahead;
mod noisy_gd;
mod radam;
mod rmsprop;
mod rprop;
mod schedule_free;
mod schedule_free_adamw;
mod schedule_free_sgd;
mod sgd;
mod signum;
mod trust_ratio;
mod yogi;

pub use adabelief::{AdaBelief, AdaBeliefConfig, AdaBeliefState};
pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaState};
pub use adafactor::{Adafactor, AdafactorConfig, AdafactorState};
pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use adamw::{AdamW, AdamWConfig, AdamWState};
pub use adan::{Adan, AdanConfig, AdanState};
#[cfg(feature = "burn-0-21")]
pub use asgd::asgd_average;
pub use asgd::{Asgd, AsgdConfig, AsgdState};
pub use lamb::{Lamb, LambConfig, LambState};
pub use lars::{Lars, LarsConfig, LarsState};
pub use lion::{Lion, LionConfig, LionState};
#[cfg(feature = "burn-0-21")]
pub use lookahead::LookaheadStateItem;
pub use lookahead::{Lookahead, LookaheadConfig, LookaheadState};
#[cfg(feature = "burn-0-21")]
pub use muon::newton_schulz;
pub use muon::{MatrixLayout, Muon, MuonConfig, MuonLrAdjustment, MuonState};
pub use nadam::{NAdam, NAdamConfig, NAdamState};
#[cfg(feature = "burn-0-21")]
pub use nesterov_lookahead::nesterov_lookahead_point;
pub use nesterov_lookahead::{NesterovLookahead, NesterovLookaheadConfig, NesterovLookaheadState};
pub use noisy_gd::{NoisyGd, NoisyGdConfig, NoisyGdState};
pub use radam::{RAdam, RAdamConfig, RAdamState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use rprop::{Rprop, RpropConfig, RpropState};
pub use schedule_free::ScheduleFreeState;
#[cfg(feature = "burn-0-21")]
pub use schedule_free::{ScheduleFree, schedule_free_eval};
pub use schedule_free_adamw::{ScheduleFreeAdamW, ScheduleFreeAdamWConfig};
pub use schedule_free_sgd::{ScheduleFreeSgd, ScheduleFreeSgdConfig};
pub use sgd::{Sgd, SgdConfig, SgdState};
pub use signum::{Signum, SignumConfig, SignumState};
pub use yogi::{Yogi, YogiConfig, YogiState};

/// Every per-tensor optimizer of the crate with its state type and, where it has one, its
/// fused CPU step (burn 0.21): each burn version's adapter implements its optimizer trait for
/// all of them by handing its own macro to this one list.
macro_rules! every_optimizer {
    ($adapter:ident) => {
        $adapter! {
            Sgd => SgdState, fused = sgd;
            Adam => AdamState, fused = adam;
            AdamW => AdamState, fused = adamw;
            RmsProp => RmsPropState, fused = rmsprop;
            Lion => LionState, fused = lion;
            Adagrad => AdagradState, fused = adagrad;
            NesterovLookahead => NesterovLookaheadState;
            NAdam => NAdamState;
            RAdam => RAdamState;
            Adamax => AdamaxState;
            Adadelta => AdadeltaState;
            Rprop => RpropState;
            Asgd => AsgdState;
            AdaBelief => AdaBeliefState;
            Yogi => YogiState;
            Signum => SignumState;
            Lamb => LambState;
            Lars => LarsState;
            Adan => AdanState;
            Adafactor => AdafactorState;
            Muon => MuonState;
            NoisyGd => NoisyGdState;
            ScheduleFreeSgd => ScheduleFreeState;
            ScheduleFreeAdamW => ScheduleFreeState;
        }
    };
}
pub(crate) use every_optimizer;

#[cfg(feature = "burn-0-21")]
use burn::module::AutodiffModule;
#[cfg(feature = "burn-0-21")]
use burn::optim::SimpleOptimizer;
#[cfg(feature = "burn-0-21")]
use burn::optim::adaptor::OptimizerAdaptor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::AutodiffBackend;

use crate::error::OptimError;

/// What every optimizer config of this crate offers: checking its fields, building the
/// per-tensor optimizer, and wrapping that for a module as burn's `Optimizer`.
/// ([`LookaheadConfig`] is the exception: it wraps an inner optimizer, so its `build` and
/// `init` take one.)
pub trait OptimConfig {
    /// The per-tensor optimizer built.
    type Optimizer: Clone;

    /// Check every field, naming the first one out of range.
    fn validate(&self) -> Result<(), OptimError>;

    /// Check the fields and build the per-tensor optimizer.
    fn build(&self) -> Result<Self::Optimizer, OptimError>;

    /// The optimizer for module `M` on backend `B`: burn 0.21's [`OptimizerAdaptor`] around
    /// [`Self::build`] (on burn 0.22: `crate::burn_0_22::ModuleOptimizerConfig::init`).
    #[cfg(feature = "burn-0-21")]
    fn init<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<Self::Optimizer, M, B>, OptimError>
    where
        Self::Optimizer: SimpleOptimizer<B::InnerBackend>,
    {
        Ok(OptimizerAdaptor::from(self.build()?))
    }
}
