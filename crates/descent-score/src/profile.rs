//! Performance profiles (Dolan & Moré 2002) and AlgoPerf's area score.
//!
//! For entrant `s` and workload `w` with time `t(s, w)`, the performance ratio is
//! `r(s, w) = t(s, w) / min_s' t(s', w)`, set to infinity where it exceeds `max_tau` (AlgoPerf:
//! 4; "a submission more than 4x slower than the best has not solved the workload"). The
//! profile `rho_s(tau) = |{w : r(s, w) <= tau}| / |W|` is evaluated on `points` values of `tau`
//! evenly spaced from 1 to `max_tau` (AlgoPerf: 100), and the score is the area under it by
//! the trapezoidal rule divided by `max_tau - 1`, so that 1 means fastest on every workload.
//!
//! The grid and the area are computed as numpy computes `linspace(1, max_tau, points)` and
//! AlgoPerf's `trapz` (the order of the sum included), so scores equal AlgoPerf's to the last
//! bit.
//! AlgoPerf divides by its constant number of base workloads (8); here by the number of
//! workloads in the table.

use crate::{Result, ScoreError, check_table};

/// Times to target: one row per entrant, one column per workload; infinite where the
/// entrant missed the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Times {
    entrants: Vec<String>,
    workloads: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl Times {
    /// A table of `rows[entrant][workload]`; every time positive or infinite.
    pub fn new(entrants: Vec<String>, workloads: Vec<String>, rows: Vec<Vec<f64>>) -> Result<Self> {
        check_table("times", &entrants, &workloads, &rows, std::slice::from_ref)?;
        Ok(Times {
            entrants,
            workloads,
            rows,
        })
    }

    /// The entrants, in row order.
    pub fn entrants(&self) -> &[String] {
        &self.entrants
    }

    /// The workloads, in column order.
    pub fn workloads(&self) -> &[String] {
        &self.workloads
    }

    /// Entrant `entrant`'s times, in workload order.
    ///
    /// # Panics
    /// If `entrant` is not below the number of entrants.
    pub fn row(&self, entrant: usize) -> &[f64] {
        &self.rows[entrant]
    }

    /// The best (smallest) time on each workload; infinite where every entrant missed.
    pub fn best(&self) -> Vec<f64> {
        (0..self.workloads.len())
            .map(|w| {
                self.rows
                    .iter()
                    .map(|row| row[w])
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    /// The performance ratios `r[entrant][workload]`: each time over the workload's best,
    /// infinite where the time is more than `max_tau` times the best or the target was missed.
    pub fn ratios(&self, max_tau: f64) -> Vec<Vec<f64>> {
        let best = self.best();
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&best)
                    .map(|(&t, &b)| {
                        if t.is_infinite() || t > max_tau * b {
                            f64::INFINITY
                        } else {
                            t / b
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

/// Where a profile is evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// The largest ratio that counts as solving a workload, and the end of the grid (AlgoPerf: 4).
    pub max_tau: f64,
    /// Points of the grid from 1 to `max_tau` (AlgoPerf: 100).
    pub points: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_tau: 4.0,
            points: 100,
        }
    }
}

impl Settings {
    /// A usage error unless `max_tau > 1` (finite) and `points >= 2`.
    pub fn check(&self) -> Result<()> {
        if !(self.max_tau > 1.0 && self.max_tau.is_finite()) {
            return Err(ScoreError::Setting(format!(
                "max_tau = {}: the profile's grid runs from 1 to max_tau, which must be a \
                 finite number above 1 (AlgoPerf: 4)",
                self.max_tau
            )));
        }
        if self.points < 2 {
            return Err(ScoreError::Setting(format!(
                "points = {}: a profile needs at least 2 points (AlgoPerf: 100)",
                self.points
            )));
        }
        Ok(())
    }

    /// The grid of `tau`: numpy's `linspace(1, max_tau, points)`, bit for bit (for settings
    /// that pass [`check`](Self::check); fewer than 2 points give the ends that exist).
    pub fn taus(&self) -> Vec<f64> {
        if self.points < 2 {
            return [1.0].into_iter().take(self.points).collect();
        }
        let step = (self.max_tau - 1.0) / (self.points - 1) as f64;
        let mut taus: Vec<f64> = (0..self.points).map(|i| i as f64 * step + 1.0).collect();
        if let Some(last) = taus.last_mut() {
            *last = self.max_tau;
        }
        taus
    }
}

/// The performance profiles of every entrant of a table of times.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    settings: Settings,
    taus: Vec<f64>,
    ratios: Vec<Vec<f64>>,
    rho: Vec<Vec<f64>>,
}

impl Profiles {
    /// The profiles of `times` on the grid of `settings`.
    pub fn new(times: &Times, settings: Settings) -> Result<Self> {
        settings.check()?;
        let taus = settings.taus();
        let ratios = times.ratios(settings.max_tau);
        let workloads = times.workloads().len() as f64;
        let rho = ratios
            .iter()
            .map(|row| {
                taus.iter()
                    .map(|&tau| row.iter().filter(|&&r| r <= tau).count() as f64 / workloads)
                    .collect()
            })
            .collect();
        Ok(Profiles {
            settings,
            taus,
            ratios,
            rho,
        })
    }

    /// The grid of `tau`.
    pub fn taus(&self) -> &[f64] {
        &self.taus
    }

    /// The performance ratios, `[entrant][workload]`.
    pub fn ratios(&self) -> &[Vec<f64>] {
        &self.ratios
    }

    /// Entrant `entrant`'s profile, one value per point of [`taus`](Self::taus).
    ///
    /// # Panics
    /// If `entrant` is not below the number of entrants.
    pub fn rho(&self, entrant: usize) -> &[f64] {
        &self.rho[entrant]
    }

    /// Every entrant's score: the area under its profile over `max_tau - 1`, in `[0, 1]`.
    pub fn scores(&self) -> Vec<f64> {
        self.rho
            .iter()
            .map(|rho| trapezoid(rho, &self.taus) / (self.settings.max_tau - 1.0))
            .collect()
    }
}

/// The trapezoidal rule as AlgoPerf's `np.trapz(profiles, x=taus)` computes it: the terms
/// `(x[i+1] - x[i]) * (y[i+1] + y[i]) / 2` summed in order. (numpy sums a contiguous row
/// pairwise, but AlgoPerf's profiles are a pandas table, stored by column, so numpy's
/// reduction runs along the rows and adds each entrant's terms one after another.)
fn trapezoid(y: &[f64], x: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[1] + y[0]) / 2.0)
        .fold(0.0, |sum, term| sum + term)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn the_grid_is_numpys_linspace() {
        let taus = Settings::default().taus();
        assert_eq!(taus.len(), 100);
        assert_eq!(taus[0], 1.0);
        assert_eq!(taus[99], 4.0);
        // np.linspace(1, 4, 100)[1] and [33], as numpy prints them.
        assert_eq!(taus[1], 1.0303030303030303);
        assert_eq!(taus[33], 2.0);
    }

    #[test]
    fn fastest_everywhere_scores_one_and_never_solving_scores_zero() {
        let times = Times::new(
            names("s", 3),
            names("w", 4),
            vec![
                vec![1.0, 2.0, 3.0, 4.0],
                vec![2.0, 4.0, 6.0, 8.0],
                vec![INF, 9.0, 12.1, INF],
            ],
        )
        .unwrap();
        let profiles = Profiles::new(&times, Settings::default()).unwrap();
        let scores = profiles.scores();
        assert_eq!(scores[0], 1.0);
        // Ratio 2 everywhere: rho is 0 below tau = 2 (a grid point) and 1 from it on; the
        // trapezoid across the step adds half a grid interval.
        let expected = (4.0 - 2.0 + 3.0 / 99.0 / 2.0) / 3.0;
        assert!((scores[1] - expected).abs() < 1e-12, "{}", scores[1]);
        // 9 / 2 = 4.5 and 12.1 / 3 > 4: beyond max_tau, so nothing solved.
        assert_eq!(scores[2], 0.0);
        assert_eq!(profiles.ratios()[2], vec![INF; 4]);
    }

    #[test]
    fn a_ratio_of_exactly_max_tau_still_counts() {
        let times = Times::new(names("s", 2), names("w", 1), vec![vec![1.0], vec![4.0]]).unwrap();
        let profiles = Profiles::new(&times, Settings::default()).unwrap();
        assert_eq!(profiles.ratios()[1], vec![4.0]);
        assert_eq!(profiles.rho(1)[99], 1.0);
        assert_eq!(profiles.rho(1)[98], 0.0);
    }

    #[test]
    fn a_workload_nobody_solved_counts_against_everyone() {
        let times = Times::new(
            names("s", 2),
            names("w", 2),
            vec![vec![1.0, INF], vec![2.0, INF]],
        )
        .unwrap();
        let profiles = Profiles::new(&times, Settings::default()).unwrap();
        assert_eq!(profiles.scores()[0], 0.5);
        assert_eq!(profiles.ratios()[0][1], INF);
    }

    #[test]
    fn bad_tables_and_settings_are_refused_with_what_is_wrong() {
        let err = Times::new(names("s", 1), names("w", 2), vec![vec![1.0]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "s0's row has 1 entries where 2 were expected"
        );
        let err = Times::new(names("s", 1), names("w", 1), vec![vec![0.0]]).unwrap_err();
        assert!(err.to_string().contains("time 0 of s0 on w0"), "{err}");
        let err = Times::new(names("s", 1), names("w", 1), vec![vec![f64::NAN]]).unwrap_err();
        assert!(matches!(err, ScoreError::BadTime { .. }));
        assert!(Times::new(vec![], names("w", 1), vec![]).is_err());
        let times = Times::new(names("s", 1), names("w", 1), vec![vec![1.0]]).unwrap();
        for bad in [
            Settings {
                max_tau: 1.0,
                points: 100,
            },
            Settings {
                max_tau: 4.0,
                points: 1,
            },
            Settings {
                max_tau: f64::NAN,
                points: 100,
            },
        ] {
            assert!(matches!(
                Profiles::new(&times, bad),
                Err(ScoreError::Setting(_))
            ));
        }
    }
}
