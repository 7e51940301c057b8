//! One serialisable enum over every schedule config, for experiment files.

use std::sync::Arc;

use burn::config::Config;

use super::sequential::SequentialLr;
use super::{
    ConstantLrConfig, CosineAnnealingLrConfig, CosineAnnealingWarmRestartsConfig, CyclicLrConfig,
    ExponentialLrConfig, InverseSqrtLrConfig, LinearLrConfig, MultiStepLrConfig, OneCycleLrConfig,
    PolynomialLrConfig, Schedule, Scheduler, StepLrConfig, WarmupStableDecayConfig,
};

/// The schedule list: one line per serialisable schedule, `Variant(Config)`; it generates
/// [`ScheduleConfig`] and its `build`. A new schedule is its file plus one line here.
macro_rules! any_schedule {
    ($( $(#[$doc:meta])* $variant:ident($config:ident) ),* $(,)?) => {
        /// Any schedule of this crate as data (serde: externally tagged, e.g.
        /// `{"Step": {"initial_lr": 0.1, "step_size": 30, "gamma": 0.1}}`).
        ///
        /// Closures ([`LambdaLr`](super::LambdaLr), [`MultiplicativeLr`](super::MultiplicativeLr))
        /// and the metric-driven [`ReduceLrOnPlateau`](super::ReduceLrOnPlateau) are not included.
        ///
        /// Note: as with every burn `Config`, deserialisation needs every field of the inner
        /// config, including those that have a default in `new`.
        #[derive(Config, Debug)]
        pub enum ScheduleConfig {
            $( $(#[$doc])* $variant($config), )*
            /// [`SequentialLr`]: `schedules[i]` takes over, restarted, at `milestones[i - 1]`.
            Sequential {
                /// The schedules, in order; one more than `milestones`.
                schedules: Vec<ScheduleConfig>,
                /// The steps at which the next schedule takes over, strictly increasing and > 0.
                milestones: Vec<usize>,
            },
        }

        impl ScheduleConfig {
            /// Check every field and build the schedule.
            pub fn build(&self) -> crate::Result<Box<dyn Schedule>> {
                Ok(match self {
                    $( Self::$variant(c) => Box::new(c.build()?), )*
                    Self::Sequential {
                        schedules,
                        milestones,
                    } => {
                        let schedules = schedules
                            .iter()
                            .map(|config| config.build().map(Arc::from))
                            .collect::<crate::Result<Vec<Arc<dyn Schedule>>>>()?;
                        Box::new(SequentialLr::new(schedules, milestones.clone())?)
                    }
                })
            }
        }
    };
}

any_schedule! {
    /// [`ConstantLr`](super::ConstantLr).
    Constant(ConstantLrConfig),
    /// [`StepLr`](super::StepLr).
    Step(StepLrConfig),
    /// [`MultiStepLr`](super::MultiStepLr).
    MultiStep(MultiStepLrConfig),
    /// [`ExponentialLr`](super::ExponentialLr).
    Exponential(ExponentialLrConfig),
    /// [`CosineAnnealingLr`](super::CosineAnnealingLr).
    CosineAnnealing(CosineAnnealingLrConfig),
    /// [`CosineAnnealingWarmRestarts`](super::CosineAnnealingWarmRestarts).
    CosineAnnealingWarmRestarts(CosineAnnealingWarmRestartsConfig),
    /// [`LinearLr`](super::LinearLr).
    Linear(LinearLrConfig),
    /// [`PolynomialLr`](super::PolynomialLr).
    Polynomial(PolynomialLrConfig),
    /// [`InverseSqrtLr`](super::InverseSqrtLr).
    InverseSqrt(InverseSqrtLrConfig),
    /// [`CyclicLr`](super::CyclicLr).
    Cyclic(CyclicLrConfig),
    /// [`OneCycleLr`](super::OneCycleLr).
    OneCycle(OneCycleLrConfig),
    /// [`WarmupStableDecay`](super::WarmupStableDecay).
    WarmupStableDecay(WarmupStableDecayConfig),
}

impl ScheduleConfig {
    /// Build the schedule and wrap it as burn's `LrScheduler` (shared, hence cloneable).
    pub fn init(&self) -> crate::Result<Scheduler<Arc<dyn Schedule>>> {
        self.build().map(|s| Scheduler::new(Arc::from(s)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_build() {
        let config = ScheduleConfig::Sequential {
            schedules: vec![
                ScheduleConfig::Linear(LinearLrConfig::new(0.1).with_start_factor(0.1)),
                ScheduleConfig::CosineAnnealing(CosineAnnealingLrConfig::new(0.1, 10)),
            ],
            milestones: vec![5],
        };
        let json = burn::config::config_to_json(&config);
        let back = ScheduleConfig::load_binary(json.as_bytes()).unwrap();
        let (a, b) = (config.build().unwrap(), back.build().unwrap());
        for k in 0..20 {
            assert_eq!(a.lr(k), b.lr(k));
        }
        assert!((a.lr(5) - 0.1).abs() < 1e-15);
    }

    #[test]
    fn invalid_inner_config_is_an_error() {
        let config = ScheduleConfig::Sequential {
            schedules: vec![ScheduleConfig::Step(StepLrConfig::new(0.1, 0))],
            milestones: vec![],
        };
        assert!(config.build().is_err());
    }
}
