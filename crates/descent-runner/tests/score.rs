//! `descent score` end to end: two landscape workloads with targets, three optimizers each,
//! scored through the binary; the times come from the runs' own run.json files and the
//! scores are recomputed here from them by the definition (not through descent-score).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::path::Path;

use common::{descent, ok, write};

/// An experiment on `landscape` from `start` with a train-loss target: GD, momentum and Adam,
/// two seeds (a deterministic landscape: both studies alike).
fn workload(name: &str, landscape: &str, start: &str, target: f64) -> String {
    format!(
        r#"
name = "{name}"
description = "a workload of the score test"
seeds = [0, 1]

[problem]
landscape = "{landscape}"
start = {start}

[budget]
steps = 300

[target]
metric = "train_loss"
value = {target}

[[variants]]
name = "gd"
lr = 0.1
optimizer = {{ kind = "sgd" }}

[[variants]]
name = "momentum"
lr = 0.05
optimizer = {{ kind = "sgd", momentum = 0.8 }}

[[variants]]
name = "adam"
lr = 0.1
optimizer = {{ kind = "adam" }}
"#
    )
}

/// Each variant's recorded steps to target, read from the run.json files (None: missed).
fn recorded(dir: &Path) -> Vec<(String, Option<f64>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path().join("run.json");
        if !path.exists() {
            continue;
        }
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let steps = run["steps_to_target"].as_f64();
        let diverged = run["status"].as_str() == Some("diverged");
        out.push((
            run["variant"].as_str().unwrap().to_owned(),
            if diverged { None } else { steps },
        ));
    }
    out
}

/// The median of two studies, a miss if either missed (numpy's median of [t, inf]).
fn median_of_two(times: &[Option<f64>]) -> Option<f64> {
    assert_eq!(times.len(), 2);
    Some((times[0]? + times[1]?) / 2.0)
}

#[test]
fn score_ranks_optimizers_by_time_to_target_as_defined() {
    let tmp = tempfile::tempdir().unwrap();
    let files = [
        workload("bowl", "elongated_bowl", "[-4.0, 1.5]", 1e-6),
        workload("himmelblau", "himmelblau", "[0.0, 0.0]", 1e-6),
    ];
    let mut dirs = Vec::new();
    for text in &files {
        let name = text.split('"').nth(1).unwrap().to_owned();
        let file = write(tmp.path(), &format!("{name}.toml"), text);
        ok(&descent(
            tmp.path(),
            &["run", file.to_str().unwrap(), "--out", "runs", "--quiet"],
        ));
        dirs.push(tmp.path().join("runs").join(&name));
    }
    let out = descent(
        tmp.path(),
        &[
            "score",
            "runs/bowl",
            "runs/himmelblau",
            "--resamples",
            "200",
        ],
    );
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| entrant | score |"), "{stdout}");
    for file in [
        "score.md",
        "score.json",
        "plots/performance_profiles.svg",
        "plots/performance_profiles.png",
        "plots/time_to_target_bowl.svg",
        "plots/time_to_target_himmelblau.png",
    ] {
        assert!(tmp.path().join("runs/score").join(file).exists(), "{file}");
    }
    let board: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("runs/score/score.json")).unwrap(),
    )
    .unwrap();

    // The workload times, from the runs' own records.
    let names = ["gd", "momentum", "adam"];
    let times: Vec<Vec<Option<f64>>> = dirs
        .iter()
        .map(|dir| {
            let runs = recorded(dir);
            names
                .iter()
                .map(|n| {
                    let mine: Vec<Option<f64>> = runs
                        .iter()
                        .filter(|(v, _)| v == n)
                        .map(|(_, t)| *t)
                        .collect();
                    median_of_two(&mine)
                })
                .collect()
        })
        .collect();
    // At least one optimizer reaches each target, and not the same one first: GD is fastest
    // on the bowl (where Adam takes over 4x as long, a miss by AlgoPerf's rule), and Adam
    // alone reaches the target on Himmelblau's function (GD and momentum diverge there).
    assert_eq!(times[0][0].map(|t| t > 0.0), Some(true), "{times:?}");
    assert!(
        times[0][2].unwrap() > 4.0 * times[0][0].unwrap(),
        "{times:?}"
    );
    assert_eq!(times[1][0], None, "{times:?}");
    assert!(times[1][2].is_some(), "{times:?}");

    // The score by its definition: ratio to the best (a miss beyond 4x), rho on
    // linspace(1, 4, 100), trapezoids summed in order, over 3.
    let taus: Vec<f64> = (0..100)
        .map(|i| {
            if i == 99 {
                4.0
            } else {
                i as f64 * (3.0 / 99.0) + 1.0
            }
        })
        .collect();
    let best: Vec<f64> = times
        .iter()
        .map(|w| w.iter().flatten().copied().fold(f64::INFINITY, f64::min))
        .collect();
    for (e, name) in names.iter().enumerate() {
        let ratios: Vec<f64> = times
            .iter()
            .zip(&best)
            .map(|(w, b)| match w[e] {
                Some(t) if t <= 4.0 * b => t / b,
                _ => f64::INFINITY,
            })
            .collect();
        let rho: Vec<f64> = taus
            .iter()
            .map(|&tau| ratios.iter().filter(|&&r| r <= tau).count() as f64 / 2.0)
            .collect();
        let mut area = 0.0;
        for i in 0..99 {
            area += (taus[i + 1] - taus[i]) * (rho[i + 1] + rho[i]) / 2.0;
        }
        let expected = area / 3.0;
        let entry = board["entrants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == *name)
            .unwrap_or_else(|| panic!("{name} missing from {board}"));
        let score = entry["score"].as_f64().unwrap();
        assert!(
            (score - expected).abs() < 1e-12,
            "{name}: {score} vs {expected}"
        );
        // Identical studies: the interval is the score itself.
        assert_eq!(entry["interval"][0].as_f64().unwrap(), score, "{name}");
        assert_eq!(entry["interval"][1].as_f64().unwrap(), score, "{name}");
        for (w, time) in times.iter().enumerate() {
            assert_eq!(
                entry["times"][w].as_f64(),
                time[e],
                "{name} on workload {w}"
            );
        }
    }
    // Best first.
    let scores: Vec<f64> = board["entrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
}

#[test]
fn score_refuses_a_workload_without_a_target_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let text = workload("untargeted", "elongated_bowl", "[-4.0, 1.5]", 1e-6)
        .lines()
        .filter(|l| {
            !l.starts_with("[target]") && !l.starts_with("metric") && !l.starts_with("value")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = write(tmp.path(), "untargeted.toml", &text);
    ok(&descent(
        tmp.path(),
        &["run", file.to_str().unwrap(), "--out", "runs", "--quiet"],
    ));
    let out = descent(tmp.path(), &["score", "runs/untargeted"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no [target]"), "{stderr}");
    // An interrupted experiment (a planned run without its run.json) is refused too.
    let target_file = write(
        tmp.path(),
        "targeted.toml",
        &workload("targeted", "elongated_bowl", "[-4.0, 1.5]", 1e-6),
    );
    ok(&descent(
        tmp.path(),
        &[
            "run",
            target_file.to_str().unwrap(),
            "--out",
            "runs",
            "--quiet",
        ],
    ));
    let first = std::fs::read_dir(tmp.path().join("runs/targeted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("run.json").exists())
        .unwrap();
    std::fs::remove_file(first.join("run.json")).unwrap();
    let out = descent(tmp.path(), &["score", "runs/targeted"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 of its 6 runs have not finished"),
        "{stderr}"
    );
    let out = descent(tmp.path(), &["score", "runs/absent"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("runs/score").exists());
}
