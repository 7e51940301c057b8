//! `descent benchmark` on the repository's suite: the `[quick]` suite CI runs (all three
//! rulesets, through the binary, continued once), its leaderboard recomputed here from the
//! runs' own records, and the suite file's promises (every optimizer entered, trials in
//! their spaces).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{descent, ok, read};
use descent_runner::benchmark::{Ruleset, Suite};
use descent_runner::optim::OPTIMIZERS;
use toml::Value;

fn suite_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/benchmark/descent6.toml")
}

/// The workloads the quick test runs: all of them where Debian's Fashion-MNIST is installed
/// (CI installs it), else the three on embedded or generated data.
fn workloads() -> Vec<&'static str> {
    let all = [
        "softmax_fmnist",
        "mlp_fmnist",
        "cnn_2c2d_short",
        "quadratic_deep",
        "digits_mlp",
        "spirals_tanh_mse",
    ];
    if Path::new("/usr/share/datasets/fashion-mnist").exists() {
        all.to_vec()
    } else {
        eprintln!("Fashion-MNIST not installed: the quick suite runs the three other workloads");
        // The 2c2d trains on Fashion-MNIST too.
        vec!["quadratic_deep", "digits_mlp", "spirals_tanh_mse"]
    }
}

/// Per entrant, per workload: each study's time to target in steps (None: a miss), from the
/// run.json files, the fastest trial per seed under external tuning.
fn studies_from_runs(
    root: &Path,
    workloads: &[&str],
    external: bool,
) -> BTreeMap<String, Vec<Vec<Option<f64>>>> {
    let mut out: BTreeMap<String, Vec<BTreeMap<u64, Option<f64>>>> = BTreeMap::new();
    for (w, workload) in workloads.iter().enumerate() {
        for entry in std::fs::read_dir(root.join(workload)).unwrap() {
            let path = entry.unwrap().path().join("run.json");
            if !path.exists() {
                continue;
            }
            let run: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
            let variant = run["variant"].as_str().unwrap();
            let entrant = if external {
                variant.rsplit_once('@').unwrap().0
            } else {
                variant
            };
            let time = match run["status"].as_str() {
                Some("diverged") => None,
                _ => run["steps_to_target"].as_f64(),
            };
            let rows = out
                .entry(entrant.to_owned())
                .or_insert_with(|| vec![BTreeMap::new(); workloads.len()]);
            let study = rows[w].entry(run["seed"].as_u64().unwrap()).or_insert(None);
            *study = match (*study, time) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    out.into_iter()
        .map(|(e, rows)| {
            (
                e,
                rows.into_iter()
                    .map(|r| r.into_values().collect())
                    .collect(),
            )
        })
        .collect()
}

/// Where `descent benchmark --workloads` writes the score: `score` for the whole suite.
fn score_dir(workloads: &[&str]) -> String {
    if workloads.len() == 6 {
        "score".to_owned()
    } else {
        format!("score-{}", workloads.join("+"))
    }
}

/// Each run.json of the experiments under `root` with its modification time.
fn run_files(root: &Path) -> BTreeMap<PathBuf, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    for workload in std::fs::read_dir(root).unwrap() {
        let workload = workload.unwrap().path();
        if !workload.join("plan.json").exists() {
            continue;
        }
        for run in common::run_dirs(&workload) {
            let file = run.join("run.json");
            let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
            out.insert(file, modified);
        }
    }
    out
}

/// numpy's median, infinite for a miss.
fn median(times: &[Option<f64>]) -> Option<f64> {
    let mut v: Vec<f64> = times.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    m.is_finite().then_some(m)
}

/// The leaderboard's per-entrant median times, checked against the runs' own records, and
/// the entrants it ranked.
fn check_leaderboard(root: &Path, workloads: &[&str], external: bool) -> Vec<String> {
    let score = root.join(score_dir(workloads));
    let board: serde_json::Value = serde_json::from_str(&read(&score.join("score.json"))).unwrap();
    let mut reached = 0;
    let studies = studies_from_runs(root, workloads, external);
    let mut names = Vec::new();
    for entry in board["entrants"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        names.push(name.to_owned());
        let rows = &studies[name];
        for (w, times) in entry["times"].as_array().unwrap().iter().enumerate() {
            reached += usize::from(times.as_f64().is_some());
            assert_eq!(
                times.as_f64(),
                median(&rows[w]),
                "{name} on {}: the score's median time against the runs'",
                workloads[w]
            );
            let recorded: Vec<Option<f64>> = entry["studies"][w]
                .as_array()
                .unwrap()
                .iter()
                .map(serde_json::Value::as_f64)
                .collect();
            assert_eq!(recorded, rows[w], "{name} on {}", workloads[w]);
        }
        let score = entry["score"].as_f64().unwrap();
        let (low, high) = (
            entry["interval"][0].as_f64().unwrap(),
            entry["interval"][1].as_f64().unwrap(),
        );
        assert!((0.0..=1.0).contains(&score) && low <= high, "{entry}");
    }
    // Not a board of misses only, where every comparison above would hold vacuously.
    assert!(reached > 0, "no entrant reached any target");
    for file in ["score.md", "report.html", "plots/performance_profiles.svg"] {
        assert!(score.join(file).is_file(), "{file}");
    }
    names.sort();
    names
}

#[test]
fn the_quick_suite_runs_every_ruleset_continues_and_scores_from_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite_file();
    let suite = suite.to_str().unwrap();
    let workloads = workloads();
    let only = workloads.join(",");
    let out = tmp.path().join("out");
    let out_arg = out.to_str().unwrap();
    let common = ["--quick", "--workloads", &only, "--out", out_arg, "--quiet"];

    for (ruleset, external, entrants) in [
        ("self-tuning", false, vec!["adam", "adamw", "sgd"]),
        (
            "external-tuning",
            true,
            vec!["adam", "adamw", "momentum", "sgd"],
        ),
    ] {
        let mut args = vec!["benchmark", suite, "--ruleset", ruleset];
        args.extend(common);
        let first = descent(tmp.path(), &args);
        ok(&first);
        let root = out.join("descent6").join(ruleset);
        let names = check_leaderboard(&root, &workloads, external);
        assert_eq!(names, entrants, "{ruleset}");
        let board = read(&root.join(score_dir(&workloads)).join("score.json"));
        let runs = run_files(&root);
        // Run again: every run is kept, nothing reruns, the same leaderboard (but for the
        // bootstrap's wall-clock-free intervals, which are seeded: the same too).
        let again = descent(tmp.path(), &args);
        ok(&again);
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(stderr.contains("continuing the experiment"), "{stderr}");
        assert_eq!(run_files(&root), runs, "{ruleset}: a run was written again");
        assert_eq!(
            read(&root.join(score_dir(&workloads)).join("score.json")),
            board,
            "{ruleset}"
        );
        if external {
            // Two trials per entrant, each in its space; the same points in every study.
            let config = read(&root.join("digits_mlp/config.toml"));
            let table: toml::Table = config.parse().unwrap();
            let variants = table["variants"].as_array().unwrap();
            assert_eq!(variants.len(), 8);
            for v in variants {
                let lr = v["lr"].as_float().unwrap();
                let name = v["name"].as_str().unwrap();
                let (low, high) = match name.rsplit_once('@').unwrap().0 {
                    "sgd" => (0.001, 1.0),
                    "momentum" => (0.001, 0.3),
                    _ => (0.0001, 0.1),
                };
                assert!((low..=high).contains(&lr), "{name}: lr {lr}");
            }
        }
    }

    // Target setting: the baselines' trials with one seed, the best rerun with two, the
    // median of their best values reported.
    let mut args = vec!["benchmark", suite, "--ruleset", "target-setting"];
    args.extend(common);
    ok(&descent(tmp.path(), &args));
    let root = out.join("descent6/target-setting");
    let targets: serde_json::Value =
        serde_json::from_str(&read(&root.join("targets.json"))).unwrap();
    let targets = targets.as_array().unwrap();
    assert_eq!(targets.len(), workloads.len());
    for t in targets {
        let workload = t["workload"].as_str().unwrap();
        let search = root.join("search").join(workload);
        let metric = t["metric"].as_str().unwrap();
        let higher = metric.ends_with("accuracy");
        // The chosen trial is the search's best by the metric's best value.
        let mut best: Option<(String, f64)> = None;
        for dir in common::run_dirs(&search) {
            let run: serde_json::Value =
                serde_json::from_str(&read(&dir.join("run.json"))).unwrap();
            let Some(value) = run["best"][metric].as_f64() else {
                continue;
            };
            let better = best
                .as_ref()
                .is_none_or(|(_, b)| if higher { value > *b } else { value < *b });
            if better {
                best = Some((run["variant"].as_str().unwrap().to_owned(), value));
            }
        }
        let (chosen, value) = best.unwrap();
        assert_eq!(t["search_best"].as_f64(), Some(value), "{workload}");
        let chosen_variant = t["chosen"].as_str().unwrap();
        let rerun = root.join("rerun").join(workload);
        let bests: Vec<Option<f64>> = common::run_dirs(&rerun)
            .iter()
            .map(|dir| {
                let run: serde_json::Value =
                    serde_json::from_str(&read(&dir.join("run.json"))).unwrap();
                assert_eq!(run["variant"].as_str(), Some(chosen_variant));
                run["best"][metric].as_f64()
            })
            .collect();
        assert_eq!(bests.len(), 2, "{workload}");
        // A rerun without a value counts as the worst.
        let worst = if higher {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        let mut values: Vec<f64> = bests.iter().map(|b| b.unwrap_or(worst)).collect();
        values.sort_by(f64::total_cmp);
        let expected = Some((values[0] + values[1]) / 2.0).filter(|t| t.is_finite());
        assert_eq!(t["target"].as_f64(), expected, "{workload}");
        // Equal values tie: the first run in the directory order need not be the one chosen.
        let chosen_value = common::run_dirs(&search)
            .iter()
            .find_map(|dir| {
                let run: serde_json::Value =
                    serde_json::from_str(&read(&dir.join("run.json"))).unwrap();
                (run["variant"].as_str() == Some(chosen_variant))
                    .then(|| run["best"][metric].as_f64())
                    .flatten()
            })
            .unwrap();
        assert_eq!(
            chosen_value, value,
            "{workload}: chose {chosen_variant}, best {chosen}"
        );
    }
    assert!(read(&root.join("targets.md")).contains("| workload | metric |"));
}

#[test]
fn experiments_only_writes_files_descent_run_takes_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite_file();
    let output = descent(
        tmp.path(),
        &[
            "benchmark",
            suite.to_str().unwrap(),
            "--ruleset",
            "external-tuning",
            "--quick",
            "--workloads",
            "digits_mlp,quadratic_deep",
            "--experiments-only",
            "--out",
            "out",
        ],
    );
    ok(&output);
    let dir = tmp.path().join("out/descent6/external-tuning");
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["experiments"], "only the experiment files");
    for workload in ["digits_mlp", "quadratic_deep"] {
        let file = dir.join(format!("experiments/{workload}.toml"));
        let check = descent(tmp.path(), &["validate", file.to_str().unwrap()]);
        ok(&check);
        let stdout = String::from_utf8_lossy(&check.stdout);
        // 4 entrants x 2 trials, 2 studies; the quick budget (40 steps).
        assert!(
            stdout.contains("16 runs (8 variants x 1 sweep points x 2 seeds)"),
            "{stdout}"
        );
        assert_eq!(
            budget_steps(&file),
            40,
            "{workload}: the quick budget, unscaled"
        );
    }
    // Self-tuning gets 1.5x the budget (AlgoPerf's factor): 60 of the quick 40, 450 of 300.
    for (quick, steps) in [(true, 60), (false, 450)] {
        let mut args = vec![
            "benchmark",
            suite.to_str().unwrap(),
            "--workloads",
            "spirals_tanh_mse",
            "--experiments-only",
            "--out",
            "self",
        ];
        if quick {
            args.push("--quick");
        }
        ok(&descent(tmp.path(), &args));
        let file = tmp
            .path()
            .join("self/descent6/self-tuning/experiments/spirals_tanh_mse.toml");
        assert_eq!(budget_steps(&file), steps, "quick {quick}");
    }
    // Target setting cannot be spread: its reruns depend on its searches.
    let refused = descent(
        tmp.path(),
        &[
            "benchmark",
            suite.to_str().unwrap(),
            "--ruleset",
            "target-setting",
            "--experiments-only",
            "--out",
            "ts",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
}

fn budget_steps(file: &Path) -> i64 {
    let table: toml::Table = read(file).parse().unwrap();
    table["budget"]["steps"].as_integer().unwrap()
}

#[test]
fn emitted_job_arrays_shard_each_workload_and_merge_where_benchmark_scores_them() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite_file();
    let suite = suite.to_str().unwrap();
    let out = tmp.path().join("out");
    let out_arg = out.to_str().unwrap();
    let common = [
        "benchmark",
        suite,
        "--ruleset",
        "external-tuning",
        "--quick",
        "--workloads",
        "digits_mlp,spirals_tanh_mse",
        "--out",
        out_arg,
    ];
    // A job that cannot be written is refused before anything is.
    let mut zero = common.to_vec();
    zero.extend(["--emit", "slurm", "--shards", "0"]);
    let refused = descent(tmp.path(), &zero);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(!out.exists(), "--shards 0 wrote files");
    let mut emit = common.to_vec();
    emit.extend(["--emit", "slurm", "--shards", "2"]);
    let output = descent(tmp.path(), &emit);
    ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let root = out.join("descent6/external-tuning");
    assert!(
        stdout.contains("score them:") && !stdout.contains("--emit slurm"),
        "{stdout}"
    );
    for workload in ["digits_mlp", "spirals_tanh_mse"] {
        let script = read(&root.join(format!("{workload}.slurm.sh")));
        assert!(script.contains("#SBATCH --array=0-1"), "{script}");
        // What each array task runs, done here by hand; then the merge the job file names.
        let file = root.join(format!("experiments/{workload}.toml"));
        for shard in ["0", "1"] {
            let shard_out = root.join(format!("{workload}-shards/{shard}"));
            ok(&descent(
                tmp.path(),
                &[
                    "run",
                    file.to_str().unwrap(),
                    "--quiet",
                    "--out",
                    shard_out.to_str().unwrap(),
                    "--shard",
                    &format!("{shard}/2"),
                ],
            ));
        }
        let shards: Vec<String> = ["0", "1"]
            .iter()
            .map(|i| {
                root.join(format!("{workload}-shards/{i}/{workload}"))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let merged = root.join(workload);
        let mut merge = vec!["merge"];
        merge.extend(shards.iter().map(String::as_str));
        merge.extend(["--out", merged.to_str().unwrap()]);
        ok(&descent(tmp.path(), &merge));
    }
    // The benchmark finds every run finished: it runs none and scores what the shards ran.
    let before = run_files(&root);
    assert_eq!(before.len(), 2 * 16);
    let mut score = common.to_vec();
    score.push("--quiet");
    let output = descent(tmp.path(), &score);
    ok(&output);
    assert_eq!(run_files(&root), before, "a run ran again");
    let names = check_leaderboard(&root, &["digits_mlp", "spirals_tanh_mse"], true);
    assert_eq!(names, ["adam", "adamw", "momentum", "sgd"]);
}

#[test]
fn descent_list_shows_the_suite_and_where_it_is() {
    let experiments = suite_file()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let top = descent(&experiments, &["list", "."]);
    ok(&top);
    let stdout = String::from_utf8_lossy(&top.stdout);
    assert!(
        stdout.contains("(more in ./benchmark: descent list ./benchmark)"),
        "{stdout}"
    );
    let suites = descent(&experiments, &["list", "benchmark"]);
    ok(&suites);
    let stdout = String::from_utf8_lossy(&suites.stdout);
    assert!(
        stdout.contains("descent6") && stdout.contains("suite      6 workloads, 26 + 10 entrants"),
        "{stdout}"
    );
}

#[test]
fn the_suite_enters_every_optimizer_under_self_tuning() {
    let suite = Suite::load(&suite_file(), false).unwrap();
    let mut kinds: Vec<String> = suite
        .self_tuning
        .entrants
        .iter()
        .map(|e| e["optimizer"]["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    let entered = kinds.len();
    kinds.dedup();
    assert_eq!(kinds.len(), entered, "an optimizer kind entered twice");
    let mut registry: Vec<String> = OPTIMIZERS.iter().map(|k| (*k).to_owned()).collect();
    registry.sort();
    assert_eq!(
        kinds, registry,
        "every optimizer kind of the registry, once"
    );
    // The ten under external tuning.
    let tuned: Vec<&str> = suite
        .external_tuning
        .entrants
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(tuned.len(), 10, "{tuned:?}");
    // Every workload has a target set by target setting, and a budget in steps.
    assert!(suite.workloads.len() >= 6);
    for w in &suite.workloads {
        assert!(w.experiment.contains_key("target"), "{}", w.name);
        assert!(
            !w.target_from.contains("placeholder"),
            "{}: {}",
            w.name,
            w.target_from
        );
    }
}

#[test]
fn trials_are_quasi_random_points_of_each_space_the_same_every_time() {
    let suite = Suite::load(&suite_file(), false).unwrap();
    let adam = suite.tuned("adam").unwrap();
    let trials = suite.trials(adam, 64).unwrap();
    assert_eq!(trials, suite.trials(adam, 64).unwrap());
    assert_eq!(
        trials[..5],
        suite.variants(Ruleset::ExternalTuning).unwrap()[15..20]
    );
    let mut lrs: Vec<f64> = Vec::new();
    for (k, t) in trials.iter().enumerate() {
        assert_eq!(t["name"].as_str(), Some(format!("adam@{}", k + 1).as_str()));
        let lr = t["lr"].as_float().unwrap();
        let beta = t["optimizer"]["beta_1"].as_float().unwrap();
        assert!(
            (1e-4..=0.1).contains(&lr) && (0.8..=0.95).contains(&beta),
            "{t}"
        );
        lrs.push(lr.log10());
        assert_eq!(t["optimizer"]["kind"], Value::String("adam".into()));
    }
    // A low-discrepancy sequence: each of 8 equal bins of log10(lr) holds 8 of 64 points
    // (independent uniform draws would leave some bins with 4 or 12).
    let mut bins = [0usize; 8];
    for x in &lrs {
        let bin = (((x + 4.0) / 3.0) * 8.0).floor().clamp(0.0, 7.0) as usize;
        bins[bin] += 1;
    }
    assert!(bins.iter().all(|&b| (7..=9).contains(&b)), "{bins:?}");
}

#[test]
fn a_bad_suite_is_refused_with_its_field() {
    let tmp = tempfile::tempdir().unwrap();
    let text = read(&suite_file());
    for (name, edit, expect) in [
        (
            "unknown-key",
            text.replacen("studies = [0, 1, 2]", "studies = [0, 1, 2]\nstudy = 3", 1),
            "study",
        ),
        (
            "no-studies",
            text.replacen("studies = [0, 1, 2]", "studies = []", 1),
            "studies",
        ),
        (
            "baseline-not-entered",
            text.replacen("baselines = [\"adamw\"", "baselines = [\"adagrad\"", 1),
            "target_setting.baselines",
        ),
        (
            "budget-in-epochs",
            text.replacen("budget = { steps = 300 }", "budget = { epochs = 3 }", 1),
            "budget.steps",
        ),
        (
            "bad-space",
            text.replacen("{ min = 0.001, max = 1.0 }", "{ min = 0.0, max = 1.0 }", 1),
            "space",
        ),
    ] {
        let file = common::write(tmp.path(), &format!("{name}.toml"), &edit);
        let output = descent(
            tmp.path(),
            &["benchmark", file.to_str().unwrap(), "--out", "out"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(expect) && stderr.contains(&format!("{name}.toml")),
            "{name}: {stderr}"
        );
        assert!(!tmp.path().join("out").exists(), "{name}: wrote output");
    }
    let output = descent(
        tmp.path(),
        &[
            "benchmark",
            suite_file().to_str().unwrap(),
            "--workloads",
            "nope",
            "--out",
            "out",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--workloads nope"));
}
