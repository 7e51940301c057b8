//! Optimizers: each a burn [`SimpleOptimizer`](burn::optim::SimpleOptimizer) built from
//! its config by `XxxConfig::init::<B, M>()`, which validates the config and returns an
//! [`OptimizerAdaptor`](burn::optim::adaptor::OptimizerAdaptor).

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod adamw;
mod lion;
mod lookahead;
mod nadam;
mod noisy_gd;
mod radam;
mod rmsprop;
mod schedule_free;
mod schedule_free_adamw;
mod schedule_free_sgd;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaState};
pub use adagrad::{Adagrad, AdagradConfig, AdagradState};
pub use adam::{Adam, AdamConfig, AdamState};
pub use adamax::{Adamax, AdamaxConfig, AdamaxState};
pub use adamw::{AdamW, AdamWConfig, AdamWState};
pub use lion::{Lion, LionConfig, LionState};
pub use lookahead::{Lookahead, LookaheadConfig, LookaheadState, LookaheadStateItem};
pub use nadam::{NAdam, NAdamConfig, NAdamState};
pub use noisy_gd::{NoisyGd, NoisyGdConfig, NoisyGdState};
pub use radam::{RAdam, RAdamConfig, RAdamState};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropState};
pub use schedule_free::{ScheduleFree, ScheduleFreeState, schedule_free_eval};
pub use schedule_free_adamw::{ScheduleFreeAdamW, ScheduleFreeAdamWConfig};
pub use schedule_free_sgd::{ScheduleFreeSgd, ScheduleFreeSgdConfig};
pub use sgd::{Sgd, SgdConfig, SgdState};
