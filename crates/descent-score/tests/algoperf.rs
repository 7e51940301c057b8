//! descent-score against AlgoPerf's own scoring code (`scoring/performance_profile.py` at
//! commit 2c90454f of mlcommons/algorithmic-efficiency) on the same input: 5 entrants on
//! AlgoPerf's 8 workload names, evaluation curves with misses and failed (NaN) evaluations,
//! under external tuning (5 trials x 3 studies) and self-tuning (1 trial x 3 studies).
//! `algoperf/make_reference.py` made `input.json` and ran AlgoPerf on it into `expected.json`.
//!
//! Times to target, the tau grid and the profiles must equal AlgoPerf's exactly; the scores
//! too (the order of its sum is reproduced).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;

use descent_score::profile::{Profiles, Settings, Times};
use descent_score::target::{Clock, Evaluation, Goal, study_time, trial_time, workload_time};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    workloads: Vec<Workload>,
    steps: Vec<u64>,
    max_tau: f64,
    points: usize,
    rulesets: BTreeMap<String, Vec<Trial>>,
}

#[derive(Deserialize)]
struct Workload {
    name: String,
    goal: String,
    target: f64,
}

#[derive(Deserialize)]
struct Trial {
    entrant: String,
    workload: String,
    study: usize,
    values: Vec<Option<f64>>,
}

#[derive(Deserialize)]
struct Expected {
    times: BTreeMap<String, BTreeMap<String, Option<f64>>>,
    taus: Vec<f64>,
    profiles: BTreeMap<String, Vec<f64>>,
    scores: BTreeMap<String, f64>,
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/algoperf")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The workload times of one ruleset's trials: fastest trial per study, median over studies.
fn times(input: &Input, trials: &[Trial], entrants: &[String]) -> Times {
    let rows = entrants
        .iter()
        .map(|entrant| {
            input
                .workloads
                .iter()
                .map(|workload| {
                    let goal = match workload.goal.as_str() {
                        "minimize" => Goal::Minimize,
                        _ => Goal::Maximize,
                    };
                    let mut studies: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
                    for trial in trials
                        .iter()
                        .filter(|t| &t.entrant == entrant && t.workload == workload.name)
                    {
                        let curve: Vec<Evaluation> = input
                            .steps
                            .iter()
                            .zip(&trial.values)
                            .map(|(&step, value)| Evaluation {
                                step,
                                seconds: f64::NAN,
                                value: value.unwrap_or(f64::NAN),
                            })
                            .collect();
                        studies.entry(trial.study).or_default().push(trial_time(
                            &curve,
                            workload.target,
                            goal,
                            Clock::Steps,
                        ));
                    }
                    let study_times: Vec<f64> =
                        studies.values().map(|trials| study_time(trials)).collect();
                    assert_eq!(study_times.len(), 3);
                    workload_time(&study_times)
                })
                .collect()
        })
        .collect();
    let workloads = input.workloads.iter().map(|w| w.name.clone()).collect();
    Times::new(entrants.to_vec(), workloads, rows).unwrap()
}

#[test]
fn times_profiles_and_scores_equal_algoperfs() {
    let input: Input = read("input.json");
    let expected: BTreeMap<String, Expected> = read("expected.json");
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        ["external", "self_tuning"]
    );
    let settings = Settings {
        max_tau: input.max_tau,
        points: input.points,
    };
    for (ruleset, trials) in &input.rulesets {
        let expected = &expected[ruleset];
        let entrants: Vec<String> = expected.scores.keys().cloned().collect();
        let times = times(&input, trials, &entrants);
        for (e, entrant) in entrants.iter().enumerate() {
            for (w, workload) in times.workloads().iter().enumerate() {
                let theirs = expected.times[entrant][workload].unwrap_or(f64::INFINITY);
                assert_eq!(
                    times.row(e)[w],
                    theirs,
                    "{ruleset}: {entrant} on {workload}"
                );
            }
        }
        let profiles = Profiles::new(&times, settings).unwrap();
        assert_eq!(profiles.taus(), expected.taus.as_slice(), "{ruleset}: taus");
        let scores = profiles.scores();
        for (e, entrant) in entrants.iter().enumerate() {
            assert_eq!(
                profiles.rho(e),
                expected.profiles[entrant].as_slice(),
                "{ruleset}: {entrant}'s profile"
            );
            assert_eq!(
                scores[e], expected.scores[entrant],
                "{ruleset}: {entrant}'s score"
            );
        }
    }
}

/// The reference is not degenerate: the scores spread out, some workload times are misses,
/// and some finite times are more than 4x the best, so the 4x rule is exercised.
#[test]
fn the_reference_exercises_misses_and_the_four_times_rule() {
    let expected: BTreeMap<String, Expected> = read("expected.json");
    for (ruleset, expected) in &expected {
        let scores: Vec<f64> = expected.scores.values().copied().collect();
        assert!(scores.contains(&0.0), "{ruleset}");
        assert!(scores.iter().any(|&s| s > 0.5 && s < 1.0), "{ruleset}");
        let misses = expected
            .times
            .values()
            .flat_map(|row| row.values())
            .filter(|t| t.is_none())
            .count();
        assert!(misses > 8, "{ruleset}: {misses} misses");
        let workloads: Vec<&String> = expected.times["adamw"].keys().collect();
        let beyond_four = workloads.iter().any(|w| {
            let column: Vec<f64> = expected.times.values().filter_map(|row| row[*w]).collect();
            let best = column.iter().copied().fold(f64::INFINITY, f64::min);
            column.iter().any(|&t| t > 4.0 * best)
        });
        assert!(beyond_four, "{ruleset}");
    }
}
