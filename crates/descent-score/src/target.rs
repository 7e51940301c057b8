//! Time to target: of a trial (its first evaluation that reaches the target), of a study (its
//! fastest trial) and of a workload (the median over studies).
//!
//! AlgoPerf's rulesets differ only in how many trials a study has: under **external tuning**
//! each study runs several trials (5 in AlgoPerf) drawn from the entrant's search space and
//! keeps the fastest; under **self-tuning** a study is one run with the entrant's defaults.
//! Either way a workload's time is the median over studies (3 in AlgoPerf), so it is infinite
//! when more than half the studies missed the target, and with an even number of studies the
//! mean of the two middle ones (infinite if either is).
//!
//! One difference from AlgoPerf's code, which matters only when trials are evaluated at
//! different points: its `get_best_trial_index` keeps the trial that reached the target at the
//! earliest *evaluation index*, not the one with the smallest time. Here a study keeps the
//! smallest time, what AlgoPerf's documentation says ("the fastest trial"). With evaluations
//! every fixed number of steps, as in descent's suites, and the step clock, the two agree.

/// Whether smaller or larger values of the validation metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// A loss or an error rate: the target is reached at or below it.
    Minimize,
    /// An accuracy: the target is reached at or above it.
    Maximize,
}

impl Goal {
    /// Whether `value` reaches `target` (a NaN never does).
    pub fn reached(self, value: f64, target: f64) -> bool {
        match self {
            Goal::Minimize => value <= target,
            Goal::Maximize => value >= target,
        }
    }
}

/// One evaluation of a trial: when it was made and what it measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Optimizer steps taken before it.
    pub step: u64,
    /// Training time before it, in seconds (evaluations excluded).
    pub seconds: f64,
    /// The validation metric.
    pub value: f64,
}

/// Which clock a time to target is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Optimizer steps: the same on every machine.
    Steps,
    /// Training seconds: what a user waits, on this machine.
    Seconds,
}

impl Evaluation {
    /// The evaluation's time on `clock`.
    pub fn at(&self, clock: Clock) -> f64 {
        match clock {
            Clock::Steps => self.step as f64,
            Clock::Seconds => self.seconds,
        }
    }
}

/// The first of `evaluations` (in order) that reaches `target`, if any.
pub fn first_reaching(evaluations: &[Evaluation], target: f64, goal: Goal) -> Option<&Evaluation> {
    evaluations.iter().find(|e| goal.reached(e.value, target))
}

/// A trial's time to `target` on `clock`; infinite if it never reached it.
pub fn trial_time(evaluations: &[Evaluation], target: f64, goal: Goal, clock: Clock) -> f64 {
    first_reaching(evaluations, target, goal).map_or(f64::INFINITY, |e| e.at(clock))
}

/// A study's time: its fastest trial's (infinite if none reached the target, or there are no
/// trials).
pub fn study_time(trial_times: &[f64]) -> f64 {
    trial_times.iter().copied().fold(f64::INFINITY, f64::min)
}

/// A workload's time: the median of its studies' times (as numpy's `median`: the mean of the
/// two middle ones for an even count); infinite for no studies.
pub fn workload_time(study_times: &[f64]) -> f64 {
    let mut sorted = study_times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::INFINITY,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => {
            let (low, high) = (sorted[n / 2 - 1], sorted[n / 2]);
            // numpy's mean of the two: (low + high) / 2 would overflow to inf the same way.
            (low + high) / 2.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(points: &[(u64, f64)]) -> Vec<Evaluation> {
        points
            .iter()
            .map(|&(step, value)| Evaluation {
                step,
                seconds: step as f64 / 10.0,
                value,
            })
            .collect()
    }

    #[test]
    fn a_trial_reaches_at_its_first_evaluation_at_or_past_the_target() {
        let loss = curve(&[(100, 0.9), (200, 0.5), (300, 0.4), (400, 0.6)]);
        assert_eq!(trial_time(&loss, 0.5, Goal::Minimize, Clock::Steps), 200.0);
        assert_eq!(trial_time(&loss, 0.5, Goal::Minimize, Clock::Seconds), 20.0);
        assert_eq!(
            trial_time(&loss, 0.3, Goal::Minimize, Clock::Steps),
            f64::INFINITY
        );
        let accuracy = curve(&[(100, 0.5), (200, f64::NAN), (300, 0.8)]);
        assert_eq!(
            trial_time(&accuracy, 0.8, Goal::Maximize, Clock::Steps),
            300.0
        );
        assert_eq!(
            trial_time(&[], 0.8, Goal::Maximize, Clock::Steps),
            f64::INFINITY
        );
    }

    #[test]
    fn a_nan_never_reaches_a_target() {
        assert!(!Goal::Minimize.reached(f64::NAN, 1.0));
        assert!(!Goal::Maximize.reached(f64::NAN, 0.0));
    }

    #[test]
    fn a_study_keeps_its_fastest_trial() {
        assert_eq!(study_time(&[300.0, f64::INFINITY, 200.0]), 200.0);
        assert_eq!(study_time(&[f64::INFINITY; 5]), f64::INFINITY);
        assert_eq!(study_time(&[]), f64::INFINITY);
    }

    #[test]
    fn a_workload_takes_the_median_study_so_a_minority_of_misses_is_forgiven() {
        let inf = f64::INFINITY;
        assert_eq!(workload_time(&[300.0, inf, 100.0]), 300.0);
        assert_eq!(workload_time(&[inf, 100.0, inf]), inf);
        assert_eq!(workload_time(&[100.0, 200.0]), 150.0);
        assert_eq!(workload_time(&[100.0, inf]), inf);
        assert_eq!(workload_time(&[]), inf);
    }
}
