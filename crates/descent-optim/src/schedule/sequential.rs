//! Several schedules one after the other, each restarted at its milestone.

use std::sync::Arc;

use burn::config::Config;
use burn::optim::LearningRate;

use super::config::ScheduleConfig;
use super::{Schedule, Scheduler};
use crate::error::OptimError;

const OWNER: &str = "SequentialLr";

/// Configuration of [`SequentialLr`] from serialisable schedule configs.
#[derive(Config, Debug)]
pub struct SequentialLrConfig {
    /// The schedules, in order; one more than `milestones`.
    pub schedules: Vec<ScheduleConfig>,
    /// The steps at which the next schedule takes over, strictly increasing and > 0.
    pub milestones: Vec<usize>,
}

impl SequentialLrConfig {
    /// Build every schedule, check the milestones and join them.
    pub fn build(&self) -> crate::Result<SequentialLr> {
        let schedules = self
            .schedules
            .iter()
            .map(|config| config.build().map(Arc::from))
            .collect::<crate::Result<Vec<Arc<dyn Schedule>>>>()?;
        SequentialLr::new(schedules, self.milestones.clone())
    }

    /// Build the schedule and wrap it as burn's `LrScheduler`.
    pub fn init(&self) -> crate::Result<Scheduler<SequentialLr>> {
        self.build().map(Scheduler::new)
    }
}

/// PyTorch's `SequentialLR`: schedule `i` runs from milestone `i - 1` on, restarted at its
/// own step 0 there:
///
/// `lr(k) = s_i(k - m_{i-1})` where `i` is the number of milestones `<= k` (`m_{-1} = 0`).
///
/// Momentum, where the active schedule cycles it, is taken the same way. Each schedule keeps
/// its own base learning rate; as in PyTorch, nothing carries over from one schedule to the
/// next (so a warm-up followed by a decay should give both the same peak). PyTorch allows
/// repeated or zero milestones; here they must be strictly increasing and positive.
#[derive(Clone, Debug)]
pub struct SequentialLr {
    schedules: Vec<Arc<dyn Schedule>>,
    milestones: Vec<usize>,
}

impl SequentialLr {
    /// Join `schedules` at `milestones` (`schedules.len() == milestones.len() + 1`).
    pub fn new(schedules: Vec<Arc<dyn Schedule>>, milestones: Vec<usize>) -> crate::Result<Self> {
        if schedules.len() != milestones.len() + 1 {
            return Err(OptimError::Inconsistent {
                owner: OWNER,
                message: format!(
                    "expected one more schedule than milestones, got {} schedules and {} \
                     milestones",
                    schedules.len(),
                    milestones.len()
                ),
            });
        }
        if milestones.first() == Some(&0) || milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(OptimError::Inconsistent {
                owner: OWNER,
                message: format!(
                    "`milestones` must be positive and strictly increasing, got {milestones:?}"
                ),
            });
        }
        Ok(Self {
            schedules,
            milestones,
        })
    }

    /// The active schedule at `step` and the step within it.
    fn locate(&self, step: usize) -> (&dyn Schedule, usize) {
        let i = self.milestones.partition_point(|&m| m <= step);
        let start = if i == 0 { 0 } else { self.milestones[i - 1] };
        (self.schedules[i].as_ref(), step - start)
    }
}

impl Schedule for SequentialLr {
    fn lr(&self, step: usize) -> LearningRate {
        let (schedule, local) = self.locate(step);
        schedule.lr(local)
    }

    fn momentum(&self, step: usize) -> Option<f64> {
        let (schedule, local) = self.locate(step);
        schedule.momentum(local)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::schedule::{ConstantLrConfig, StepLrConfig};

    #[test]
    fn restarts_each_schedule() {
        let warm = ConstantLrConfig::new(1.0)
            .with_factor(0.5)
            .with_total_iters(100)
            .build()
            .unwrap();
        let decay = StepLrConfig::new(1.0, 2).with_gamma(0.5).build().unwrap();
        let s = SequentialLr::new(vec![Arc::new(warm), Arc::new(decay)], vec![3]).unwrap();
        let lrs: Vec<f64> = (0..7).map(|k| s.lr(k)).collect();
        assert_eq!(lrs, vec![0.5, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5]);
    }

    #[test]
    fn rejects_mismatched_lengths_and_order() {
        let c: Arc<dyn Schedule> = Arc::new(ConstantLrConfig::plain(1.0).build().unwrap());
        assert!(SequentialLr::new(vec![c.clone()], vec![3]).is_err());
        assert!(SequentialLr::new(vec![c.clone(), c.clone(), c.clone()], vec![3, 3]).is_err());
        assert!(SequentialLr::new(vec![c.clone(), c.clone()], vec![0]).is_err());
        assert!(SequentialLr::new(vec![c.clone(), c], vec![1]).is_ok());
    }
}
