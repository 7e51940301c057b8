//! The runner as a library: an experiment planned from text and run in-process, without the
//! binary, gives the files the binary gives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::Path;

use descent_models::landscape::{
    self, CriticalKind, CriticalPoint, Family, LandscapeEntry, PlotWindow,
};
use descent_runner::experiment::{self, RunOptions};
use descent_runner::{UsageError, config};

const BOWL: &str = r#"
name = "bowl"
seeds = [0, 1]

[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]

[budget]
steps = 30

[[variants]]
name = "gd"
lr = 0.15
optimizer = { kind = "sgd" }
"#;

#[test]
fn an_experiment_runs_in_process_and_matches_the_closed_form() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(BOWL, Path::new("bowl.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options).unwrap();
    assert_eq!(dir, tmp.path().join("bowl"));
    for seed in [0, 1] {
        let run = dir.join(format!("gd-s{seed}"));
        let last = *common::trajectory(&run).last().unwrap();
        // GD on x^2 + 4 y^2 with eta = 0.15: w_k = ((1 - 2 eta)^k 3, (1 - 8 eta)^k 2).
        let expected = [0.7f64.powi(30) * 3.0, (-0.2f64).powi(30) * 2.0];
        for (got, want) in last.iter().zip(expected) {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-300),
                "{got} vs {want}"
            );
        }
    }
    assert!(dir.join("summary.json").is_file() && dir.join("plots").is_dir());
    // A second run into the same place is refused as bad input, not overwritten.
    let again = config::parse(BOWL, Path::new("bowl.toml"), &[], None).unwrap();
    let error = experiment::run(again, tmp.path(), &options).unwrap_err();
    assert!(error.downcast_ref::<UsageError>().is_some(), "{error:#}");
}

/// A landscape the library does not define: `e^x - x + y^2`, minimum 1 at the origin.
#[derive(Debug)]
struct ExpValley;

impl Family for ExpValley {
    fn name(&self) -> &'static str {
        "exp_valley"
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, w: &[f64]) -> f64 {
        w[0].exp() - w[0] + w[1] * w[1]
    }
    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        vec![w[0].exp() - 1.0, 2.0 * w[1]]
    }
    fn critical_points(&self) -> Vec<CriticalPoint> {
        vec![CriticalPoint::new(
            vec![0.0, 0.0],
            CriticalKind::GlobalMinimum,
        )]
    }
    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-2.0, 2.0))
    }
}

#[test]
fn a_landscape_registered_by_a_program_runs_from_an_experiment_file() {
    landscape::register(LandscapeEntry {
        name: "exp_valley",
        summary: "e^x - x + y^2",
        takes: &[],
        build: |_| Ok(ExpValley.into()),
        start: Some(&[1.5, -1.0]),
        noise: None,
    })
    .unwrap();
    let text = r#"
name = "valley"
seeds = [0]

[problem]
landscape = "exp_valley"

[budget]
steps = 40

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("valley.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options).unwrap();
    let last = *common::trajectory(&dir.join("gd-s0")).last().unwrap();
    let mut w = [1.5_f64, -1.0];
    for _ in 0..40 {
        let g = ExpValley.gradient(&w);
        w = [w[0] - 0.1 * g[0], w[1] - 0.1 * g[1]];
    }
    assert_eq!(last, w);
    // Parameters the landscape does not take are refused, naming the field.
    let with_dim = text.replace(
        "landscape = \"exp_valley\"",
        "landscape = \"exp_valley\"\ndim = 3",
    );
    let plan = config::parse(&with_dim, Path::new("valley.toml"), &[], None).unwrap();
    let error = format!("{:#}", experiment::prepare(plan, None).err().unwrap());
    assert!(
        error.contains("problem.dim") && error.contains("exp_valley"),
        "{error}"
    );
}

#[test]
fn variants_sweep_their_own_fields_and_keep_their_own_batches() {
    let text = r#"
name = "own"
seeds = [0, 1]

[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]
noise_sigma = 1.0
noise_examples = 64

[batch]
size = 16

[budget]
steps = 5

[sweep]
"problem.noise_sigma" = [0.5, 1.0]

[[variants]]
name = "sgd"
lr = 0.1
optimizer = { kind = "sgd" }
sweep = { lr = [0.01, 0.1, 0.2], "optimizer.momentum" = [0.0, 0.9] }

[[variants]]
name = "adam"
lr = 0.01
optimizer = { kind = "adam" }
batch = { size = 4 }
"#;
    let plan = config::parse(text, Path::new("own.toml"), &[], None).unwrap();
    // 2 noise levels x (sgd: 3 lr x 2 momenta + adam: 1) x 2 seeds.
    assert_eq!(plan.runs.len(), 2 * (6 + 1) * 2);
    let sgd: Vec<_> = plan.runs.iter().filter(|r| r.variant == "sgd").collect();
    for r in &sgd {
        let v = &r.experiment.variants[0];
        let lr = r.point.values["lr"].as_f64().unwrap();
        let momentum = r.point.values["optimizer.momentum"].as_f64().unwrap();
        assert_eq!(v.lr, lr);
        assert_eq!(v.optimizer["momentum"].as_float(), Some(momentum));
        assert!(r.point.values.contains_key("problem.noise_sigma"));
        assert!(
            r.id.contains("lr=") && r.id.contains("momentum="),
            "{}",
            r.id
        );
        assert_eq!(r.experiment.batch.size, plan.base.batch.size);
    }
    let adam: Vec<_> = plan.runs.iter().filter(|r| r.variant == "adam").collect();
    assert_eq!(adam.len(), 4);
    for r in &adam {
        assert_eq!(
            toml::to_string(&r.experiment.batch).unwrap(),
            "size = 4\nsampling = \"shuffled\"\ndrop_last = false\n"
        );
    }
    // Each run's batches follow its own size: adam's runs see 4 items a step.
    let tmp = tempfile::tempdir().unwrap();
    let dir = experiment::run(plan, tmp.path(), &RunOptions::default()).unwrap();
    let metrics = std::fs::read_to_string(dir.join("adam-noise_sigma=0.5-s0/metrics.csv")).unwrap();
    let samples: Vec<&str> = metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(samples[..3], ["0", "4", "8"]);
}

#[test]
fn nesterov_lookahead_takes_its_gradient_at_the_look_ahead_point() {
    let text = r#"
name = "nag"
seeds = [0]

[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]

[budget]
steps = 25

[[variants]]
name = "nag"
lr = 0.05
optimizer = { kind = "nesterov_lookahead", momentum = 0.8 }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("nag.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options).unwrap();
    let rows = common::trajectory(&dir.join("nag-s0"));
    // The seeds' form by hand on x^2 + 4 y^2: v <- beta v + grad(theta - eta beta v).
    let (eta, beta) = (0.05, 0.8);
    let (mut theta, mut v) = ([3.0f64, 2.0], [0.0f64, 0.0]);
    for (k, row) in rows.iter().enumerate() {
        assert!(
            (row[0] - theta[0]).abs() <= 1e-12 && (row[1] - theta[1]).abs() <= 1e-12,
            "step {k}: {row:?} vs {theta:?}"
        );
        let ahead = [theta[0] - eta * beta * v[0], theta[1] - eta * beta * v[1]];
        let g = [2.0 * ahead[0], 8.0 * ahead[1]];
        v = [beta * v[0] + g[0], beta * v[1] + g[1]];
        theta = [theta[0] - eta * v[0], theta[1] - eta * v[1]];
    }
    assert_eq!(rows.len(), 26);
}

#[test]
fn tune_picks_each_variants_best_rate_and_reruns_it() {
    let text = r#"
name = "tuned"
seeds = [5, 6]

[problem]
dataset = "digits"
model = "softmax"
standardize = "global"
validation = 300

[batch]
size = 64

[budget]
steps = 40

[tune]
grid = "1e-3:10:5"
seeds = [0]

[[variants]]
name = "sgd"
lr = 0.1
optimizer = { kind = "sgd" }

[[variants]]
name = "slow"
lr = 0.1
optimizer = { kind = "sgd" }
sweep = {}
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("tuned.toml"), &[], None).unwrap();
    let protocol = descent_runner::tune::protocol(&plan, None, None, None).unwrap();
    assert_eq!(protocol.grid, vec![1e-3, 1e-2, 1e-1, 1.0, 10.0]);
    let options = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let dir = descent_runner::tune::run(&plan, &protocol, tmp.path(), &options).unwrap();
    let report: descent_runner::tune::TuneReport =
        serde_json::from_slice(&std::fs::read(dir.join("tune.json")).unwrap()).unwrap();
    for choice in &report.choices {
        // The best is the smallest mean validation loss among rates without divergence.
        let best = choice
            .scores
            .iter()
            .filter(|s| s.diverged == 0)
            .filter_map(|s| s.stats.as_ref().map(|st| (s.lr, st.mean)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(choice.best, Some(best.0), "{}", choice.variant);
        assert_eq!(choice.scores.len(), 5);
        // The rerun uses it, with the experiment's seeds.
        for seed in [5, 6] {
            let metrics = std::fs::read_to_string(
                dir.join(format!("final/{}-s{seed}/metrics.csv", choice.variant)),
            )
            .unwrap();
            let first = metrics.lines().nth(1).unwrap();
            let lr: f64 = first.split(',').nth(3).unwrap().parse().unwrap();
            assert_eq!(lr, best.0);
        }
    }
    assert!(dir.join("search/summary.json").is_file() && dir.join("tune.md").is_file());
    // A grid whose best rate is its largest is flagged.
    let narrow = descent_runner::tune::protocol(&plan, Some("1e-4:1e-3:2"), None, None).unwrap();
    let dir =
        descent_runner::tune::run(&plan, &narrow, &tmp.path().join("narrow"), &options).unwrap();
    let report: descent_runner::tune::TuneReport =
        serde_json::from_slice(&std::fs::read(dir.join("tune.json")).unwrap()).unwrap();
    assert!(
        report
            .choices
            .iter()
            .all(|c| c.best == Some(1e-3) && c.at_edge)
    );
}

#[test]
fn tuning_on_validation_needs_a_validation_split() {
    let plan = config::parse(BOWL, Path::new("bowl.toml"), &[], None).unwrap();
    let error = descent_runner::tune::protocol(&plan, Some("0.01:0.2:4"), None, None).unwrap_err();
    assert!(error.downcast_ref::<UsageError>().is_some());
    assert!(format!("{error}").contains("validation"), "{error}");
    let on_objective = descent_runner::tune::protocol(
        &plan,
        Some("0.01:0.2:4"),
        None,
        Some(descent_runner::Metric::TestLoss),
    );
    assert!(on_objective.is_ok());
}

#[test]
fn a_schedule_free_trajectory_shows_the_averaged_point_that_evaluation_uses() {
    let text = r#"
name = "sf"
seeds = [0]

[problem]
landscape = "rosenbrock"
start = [-1.2, 1.0]

[budget]
steps = 40

[eval]
every = 5

[[variants]]
name = "sf"
lr = 0.001
optimizer = { kind = "schedule_free_sgd" }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("sf.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options)
        .unwrap()
        .join("sf-s0");
    // test_loss is f at the evaluation point x; the trajectory's loss column is f at the
    // recorded point: the same numbers at every evaluated step.
    let path = common::column(&dir, "trajectory.csv", "loss");
    let evaluated = common::column(&dir, "metrics.csv", "test_loss");
    assert!(evaluated.len() >= 8);
    for (step, value) in evaluated {
        assert_eq!(path[&step], value, "step {step}");
    }
}

#[test]
fn lookahead_wraps_an_inner_optimizer_from_the_experiment_file() {
    let text = r#"
name = "la"
seeds = [0]

[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]

[budget]
steps = 20

[[variants]]
name = "la"
lr = 0.1
optimizer = { kind = "lookahead", k = 3, alpha = 0.5, inner = { kind = "sgd", momentum = 0.5 } }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("la.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options).unwrap();
    let rows = common::trajectory(&dir.join("la-s0"));
    // By hand: heavy-ball SGD (PyTorch form) as the fast weights, every 3 steps the slow
    // weights move half way to them and the fast weights restart there; the momentum
    // buffer carries on.
    let (lr, beta, k, alpha) = (0.1, 0.5, 3, 0.5);
    let (mut fast, mut slow, mut buffer) = ([3.0f64, 2.0], [3.0f64, 2.0], None::<[f64; 2]>);
    for (t, row) in rows.iter().enumerate() {
        assert!(
            (row[0] - fast[0]).abs() <= 1e-12 && (row[1] - fast[1]).abs() <= 1e-12,
            "step {t}: {row:?} vs {fast:?}"
        );
        let g = [2.0 * fast[0], 8.0 * fast[1]];
        let b = match buffer {
            Some(b) => [beta * b[0] + g[0], beta * b[1] + g[1]],
            None => g,
        };
        buffer = Some(b);
        fast = [fast[0] - lr * b[0], fast[1] - lr * b[1]];
        if (t + 1) % k == 0 {
            slow = [
                slow[0] + alpha * (fast[0] - slow[0]),
                slow[1] + alpha * (fast[1] - slow[1]),
            ];
            fast = slow;
        }
    }
    // Kinds that take their gradient or evaluation elsewhere are refused as inner ones.
    let wrapped = text.replace(
        "inner = { kind = \"sgd\", momentum = 0.5 }",
        "inner = { kind = \"schedule_free_sgd\" }",
    );
    let plan = config::parse(&wrapped, Path::new("la.toml"), &[], None).unwrap();
    let error = format!("{:#}", experiment::prepare(plan, None).err().unwrap());
    assert!(
        error.contains("variants.la.optimizer.inner.kind"),
        "{error}"
    );
    let bare = text.replace(", inner = { kind = \"sgd\", momentum = 0.5 }", "");
    let plan = config::parse(&bare, Path::new("la.toml"), &[], None).unwrap();
    let error = format!("{:#}", experiment::prepare(plan, None).err().unwrap());
    assert!(error.contains("inner is missing"), "{error}");
}

#[test]
fn a_plateau_schedule_lowers_the_rate_when_the_validation_loss_stalls() {
    let text = r#"
name = "plateau"
seeds = [0]

[problem]
dataset = "digits"
model = "softmax"
standardize = "global"
validation = 300

[batch]
size = 64

[budget]
steps = 120

[eval]
every = 4
log_every = 1

[[variants]]
name = "sgd"
lr = 1.0
optimizer = { kind = "sgd" }
schedule = { kind = "plateau", factor = 0.5, patience = 1 }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let plan = config::parse(text, Path::new("plateau.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        ..RunOptions::default()
    };
    let dir = experiment::run(plan, tmp.path(), &options).unwrap();
    let metrics = std::fs::read_to_string(dir.join("sgd-s0/metrics.csv")).unwrap();
    let rows: Vec<Vec<String>> = metrics
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // PyTorch's rule, replayed on the recorded validation losses: better = below best by
    // more than 1e-4 relatively; more than `patience` bad evaluations halve the rate.
    let (mut rate, mut best, mut bad) = (1.0f64, f64::INFINITY, 0usize);
    let mut lowered = 0;
    for row in &rows {
        if let Ok(lr) = row[3].parse::<f64>() {
            assert_eq!(lr, rate, "step {}", row[0]);
        }
        if let Ok(val) = row[6].parse::<f64>() {
            if val < best * (1.0 - 1e-4) {
                best = val;
                bad = 0;
            } else {
                bad += 1;
            }
            if bad > 1 {
                rate *= 0.5;
                bad = 0;
                lowered += 1;
            }
        }
    }
    assert!(lowered >= 1, "the rate never dropped: make lr larger");
    // A metric the problem does not measure is refused before anything runs.
    let without = text.replace("validation = 300\n", "");
    let plan = config::parse(&without, Path::new("plateau.toml"), &[], None).unwrap();
    let error = format!("{:#}", experiment::prepare(plan, None).err().unwrap());
    assert!(error.contains("schedule.metric = val_loss"), "{error}");
}
