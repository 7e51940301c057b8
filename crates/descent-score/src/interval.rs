//! Confidence intervals for scores, by resampling studies.
//!
//! A score rests on a few studies per entrant and workload (AlgoPerf: 3), so another set of
//! seeds could rank the entrants differently; AlgoPerf reports the score alone. Here each
//! bootstrap resample draws, for every entrant and workload independently, as many studies as
//! there are, with replacement; the workload times (medians), the best entrant per workload,
//! the ratios, the profiles and the scores are all recomputed on the resample, and the
//! interval is the percentile interval of the resampled scores (Efron & Tibshirani 1993,
//! ch. 13). With 3 studies the interval is coarse: it says how much the ranking could move,
//! not a precise probability.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::profile::{Profiles, Settings, Times};
use crate::target::workload_time;
use crate::{Result, ScoreError, check_table};

/// Every study's time to target: `studies[entrant][workload]` is the list of that entrant's
/// study times on that workload (infinite: the study missed).
#[derive(Debug, Clone, PartialEq)]
pub struct StudyTimes {
    entrants: Vec<String>,
    workloads: Vec<String>,
    studies: Vec<Vec<Vec<f64>>>,
}

/// A score with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The score of the studies as measured.
    pub score: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// How the bootstrap is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// The interval's coverage, e.g. 0.95.
    pub level: f64,
    /// Seeds the resampling, so that a report's intervals repeat exactly.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 2000,
            level: 0.95,
            seed: 0,
        }
    }
}

impl StudyTimes {
    /// `studies[entrant][workload]`: at least one study each; times positive or infinite
    /// (the study missed).
    pub fn new(
        entrants: Vec<String>,
        workloads: Vec<String>,
        studies: Vec<Vec<Vec<f64>>>,
    ) -> Result<Self> {
        check_table("studies", &entrants, &workloads, &studies, Vec::as_slice)?;
        Ok(StudyTimes {
            entrants,
            workloads,
            studies,
        })
    }

    /// The workload times: the median over each entrant's studies.
    pub fn medians(&self) -> Result<Times> {
        Times::new(
            self.entrants.clone(),
            self.workloads.clone(),
            self.studies
                .iter()
                .map(|row| row.iter().map(|s| workload_time(s)).collect())
                .collect(),
        )
    }

    /// Every entrant's score with its bootstrap interval.
    pub fn scores(&self, settings: Settings, bootstrap: Bootstrap) -> Result<Vec<Interval>> {
        if bootstrap.resamples == 0 {
            return Err(ScoreError::Setting(
                "resamples = 0: the bootstrap needs at least one resample".into(),
            ));
        }
        if !(bootstrap.level > 0.0 && bootstrap.level < 1.0) {
            return Err(ScoreError::Setting(format!(
                "level = {}: an interval's coverage is between 0 and 1 (e.g. 0.95)",
                bootstrap.level
            )));
        }
        let measured = Profiles::new(&self.medians()?, settings)?.scores();
        let mut rng = ChaCha8Rng::seed_from_u64(bootstrap.seed);
        let mut resampled: Vec<Vec<f64>> =
            vec![Vec::with_capacity(bootstrap.resamples); self.entrants.len()];
        for _ in 0..bootstrap.resamples {
            let rows = self
                .studies
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|studies| {
                            let drawn: Vec<f64> = (0..studies.len())
                                .map(|_| studies[rng.random_range(0..studies.len())])
                                .collect();
                            workload_time(&drawn)
                        })
                        .collect()
                })
                .collect();
            let times = Times::new(self.entrants.clone(), self.workloads.clone(), rows)?;
            for (all, score) in resampled
                .iter_mut()
                .zip(Profiles::new(&times, settings)?.scores())
            {
                all.push(score);
            }
        }
        let tail = (1.0 - bootstrap.level) / 2.0;
        Ok(measured
            .into_iter()
            .zip(resampled)
            .map(|(score, mut all)| {
                all.sort_by(f64::total_cmp);
                Interval {
                    score,
                    low: quantile(&all, tail),
                    high: quantile(&all, 1.0 - tail),
                }
            })
            .collect())
    }
}

/// The `q`-quantile of sorted `values`, interpolated linearly between order statistics (numpy's
/// default, "linear").
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn identical_studies_give_an_interval_of_one_point() {
        let studies = StudyTimes::new(
            names("s", 2),
            names("w", 2),
            vec![
                vec![vec![100.0; 3], vec![200.0; 3]],
                vec![vec![150.0; 3], vec![100.0; 3]],
            ],
        )
        .unwrap();
        for interval in studies
            .scores(Settings::default(), Bootstrap::default())
            .unwrap()
        {
            assert_eq!(interval.low, interval.score);
            assert_eq!(interval.high, interval.score);
        }
    }

    #[test]
    fn the_interval_holds_the_score_and_widens_with_disagreeing_studies() {
        // Entrant 0 is fast in two studies of three and misses in the third, on one workload.
        let studies = StudyTimes::new(
            names("s", 2),
            names("w", 2),
            vec![
                vec![vec![100.0, 110.0, INF], vec![100.0, 100.0, 100.0]],
                vec![vec![200.0, 200.0, 200.0], vec![100.0, 100.0, 100.0]],
            ],
        )
        .unwrap();
        let scores = studies
            .scores(Settings::default(), Bootstrap::default())
            .unwrap();
        // Measured: entrant 0 is best on both workloads.
        assert_eq!(scores[0].score, 1.0);
        // A resample that draws the missed study twice loses w0: the low end drops to 0.5.
        assert_eq!(scores[0].low, 0.5);
        assert_eq!(scores[0].high, 1.0);
        // Entrant 1 is 2x on w0 unless entrant 0 misses it; its interval covers both.
        assert!(scores[1].low < scores[1].score && scores[1].score < scores[1].high);
        // The same seed repeats exactly; another seed differs only in which resamples it drew.
        let again = studies
            .scores(Settings::default(), Bootstrap::default())
            .unwrap();
        assert_eq!(scores, again);
    }

    #[test]
    fn bad_study_tables_and_settings_are_refused() {
        assert!(matches!(
            StudyTimes::new(names("s", 1), names("w", 1), vec![vec![vec![]]]),
            Err(ScoreError::Shape { .. })
        ));
        assert!(matches!(
            StudyTimes::new(names("s", 1), names("w", 1), vec![vec![vec![-1.0]]]),
            Err(ScoreError::BadTime { .. })
        ));
        let studies = StudyTimes::new(names("s", 1), names("w", 1), vec![vec![vec![1.0]]]).unwrap();
        let no_resamples = Bootstrap {
            resamples: 0,
            ..Bootstrap::default()
        };
        assert!(studies.scores(Settings::default(), no_resamples).is_err());
        let bad_level = Bootstrap {
            level: 1.0,
            ..Bootstrap::default()
        };
        assert!(studies.scores(Settings::default(), bad_level).is_err());
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&sorted, 0.0), 1.0);
        assert_eq!(quantile(&sorted, 0.5), 3.0);
        assert_eq!(quantile(&sorted, 0.125), 1.5);
        assert_eq!(quantile(&sorted, 1.0), 5.0);
    }
}
