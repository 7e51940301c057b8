//! Probes against independent computations: the sampling formula of a finite sum's gradient
//! noise, known Hessian eigenvalues (a quadratic, a saddle, least squares), known basins and
//! escape times, the full-batch loss; and `metrics.csv` unchanged by probes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, NdArray};
use descent_models::{Landscape, Stochastic};
use descent_runner::config::{self, Problem};
use descent_runner::experiment::{self, RunOptions};
use descent_runner::probe::{LandscapeSubject, MeasureSpec, ModelSubject, Probes, TrainingSet};
use descent_runner::problem::Task;

type F64 = Autodiff<NdArray<f64>>;

/// Runs `text` in-process in f64 into a fresh directory; returns the experiment directory.
fn run(text: &str, out: &Path) -> PathBuf {
    let plan = config::parse(text, Path::new("probe-test.toml"), &[], None).unwrap();
    let options = RunOptions {
        precision: descent_runner::Precision::F64,
        quiet: true,
        ..RunOptions::default()
    };
    experiment::run(plan, out, &options).unwrap()
}

/// `measurements.csv` as `name -> [(step, value)]`.
fn measurements(run: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    common::measurements(run)
}

/// One column of `metrics.csv` as `step -> value` (rows where it is present).
fn metric(run: &Path, column: &str) -> BTreeMap<u64, f64> {
    common::column(run, "metrics.csv", column)
}

fn task(problem: &str) -> Task {
    let problem: Problem = toml::from_str(problem).unwrap();
    Task::build(&problem).unwrap()
}

fn probes(measure: &str, task: &Task) -> Probes {
    #[derive(serde::Deserialize)]
    struct File {
        measure: Vec<MeasureSpec>,
    }
    let file: File = toml::from_str(measure).unwrap();
    Probes::build(&file.measure, task, 1, 1, 7).unwrap()
}

fn values(list: Vec<(String, f64)>) -> BTreeMap<String, f64> {
    list.into_iter().collect()
}

const NOISY_BOWL: &str = r#"
name = "noisy"
seeds = [0, 1]

[problem]
landscape = "quadratic"
eigenvalues = [1.0, 4.0]
angle = 0.3
start = [2.0, 1.0]
noise_sigma = 1.0
noise_examples = 50

[batch]
size = 5

[budget]
steps = 40

[[variants]]
name = "sgd"
lr = 0.1
optimizer = { kind = "sgd", momentum = 0.5 }
"#;

const ALL_LANDSCAPE_PROBES: &str = r#"
[[measure]]
kind = "gradient_noise"
every = 10
[[measure]]
kind = "sharpness"
every = 15
[[measure]]
kind = "full_train"
every = 3
[[measure]]
kind = "grad_norm_min"
[[measure]]
kind = "suboptimality"
[[measure]]
kind = "basin"
[[measure]]
kind = "escape"
radius = 1.0
"#;

const DIGITS: &str = r#"
name = "digits"
seeds = [3]

[problem]
dataset = "digits"
model = "mlp"
hidden = [8]
standardize = "global"

[batch]
size = 32

[budget]
steps = 12

[eval]
every = 4

[[variants]]
name = "adam"
lr = 0.01
optimizer = { kind = "adam" }
"#;

const ALL_MODEL_PROBES: &str = r#"
[[measure]]
kind = "gradient_noise"
every = 6
batch_sizes = [4, 32]
draws = 3
[[measure]]
kind = "sharpness"
every = 6
items = 40
iterations = 3
[[measure]]
kind = "full_train"
every = 5
[[measure]]
kind = "grad_norm_min"
every = 11
"#;

#[test]
fn probes_leave_metrics_and_trajectories_byte_for_byte_unchanged() {
    for (base, measure, runs) in [
        (
            NOISY_BOWL,
            ALL_LANDSCAPE_PROBES,
            ["sgd-s0", "sgd-s1"].as_slice(),
        ),
        (DIGITS, ALL_MODEL_PROBES, ["adam-s3"].as_slice()),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let plain = run(base, &tmp.path().join("plain"));
        let probed = run(&format!("{base}{measure}"), &tmp.path().join("probed"));
        for id in runs {
            for file in ["metrics.csv", "trajectory.csv"] {
                let (a, b) = (plain.join(id).join(file), probed.join(id).join(file));
                if a.exists() || b.exists() {
                    assert_eq!(
                        std::fs::read(&a).unwrap(),
                        std::fs::read(&b).unwrap(),
                        "{id}/{file}"
                    );
                }
            }
            let m = measurements(&probed.join(id));
            assert!(
                m.contains_key("full_train_loss") && m.contains_key("sharpness"),
                "{id}"
            );
        }
    }
}

#[test]
fn gradient_noise_matches_the_sampling_formula_of_a_finite_sum() {
    let problem = r#"
landscape = "quadratic"
eigenvalues = [1.0, 4.0, 9.0]
start = [1.0, -1.0, 0.5]
noise_sigma = 2.0
noise_examples = 40
"#;
    let task = task(problem);
    let Task::Landscape(t) = &task else {
        panic!("a landscape")
    };
    let finite_sum: &Stochastic = t.stochastic.as_ref().unwrap();
    let mut probes = probes(
        r#"[[measure]]
kind = "gradient_noise"
batch_sizes = [1, 4, 20, 40]
draws = 4000"#,
        &task,
    );
    let w = vec![0.3, -0.2, 0.9];
    let mut subject = LandscapeSubject::new(t, w.clone());
    let got = values(probes.measure(&mut subject, 0, false).unwrap());
    for b in [1, 4, 20] {
        let exact: f64 = finite_sum.minibatch_variance(b).unwrap().iter().sum();
        let measured = got[&format!("grad_var_b{b}")];
        assert!(
            (measured - exact).abs() <= 0.08 * exact,
            "B = {b}: measured {measured}, exact {exact}"
        );
    }
    // The whole set as a batch has no noise at all.
    assert!(got["grad_var_b40"] < 1e-20, "{}", got["grad_var_b40"]);
    let trace: f64 = finite_sum.population_variance().iter().sum();
    assert!((got["trace_sigma"] - trace).abs() <= 0.08 * trace);
    let g = Landscape::from(
        descent_models::landscape::Quadratic::new(
            &[1.0, 4.0, 9.0],
            descent_models::landscape::Rotation::None,
            None,
        )
        .unwrap(),
    )
    .gradient(&w)
    .unwrap();
    let g2: f64 = g.iter().map(|x| x * x).sum();
    assert!((got["grad_norm_sq"] - g2).abs() <= 1e-12 * g2);
    assert!((got["noise_scale"] - trace / g2).abs() <= 0.08 * trace / g2);
}

fn sharpness_probe(task: &Task) -> Probes {
    probes(
        r#"[[measure]]
kind = "sharpness"
iterations = 500
tolerance = 1e-13"#,
        task,
    )
}

#[test]
fn sharpness_is_the_eigenvalue_of_largest_magnitude_on_quadratics() {
    for (eigenvalues, top) in [("[0.5, 3.0, 7.5, 2.0]", 7.5), ("[-9.0, 2.0, 1.0]", -9.0)] {
        let task = task(&format!(
            "landscape = \"quadratic\"\neigenvalues = {eigenvalues}\nstart = [0.0, 0.0, 0.0{}]",
            if top > 0.0 { ", 0.0" } else { "" }
        ));
        let Task::Landscape(t) = &task else { panic!() };
        let mut probes = sharpness_probe(&task);
        let mut subject = LandscapeSubject::new(t, t.start.clone());
        let got = values(probes.measure(&mut subject, 0, false).unwrap());
        assert!(
            (got["sharpness"] - top).abs() <= 1e-9 * top.abs(),
            "{eigenvalues}: {}",
            got["sharpness"]
        );
        // Warm-started from the converged vector, the next measurement settles at once.
        let again = values(probes.measure(&mut subject, 1, false).unwrap());
        assert!(again["sharpness_iterations"] <= 2.0, "{again:?}");
    }
}

#[test]
fn sharpness_of_least_squares_is_the_top_eigenvalue_of_2_ata_over_n() {
    let task = task(
        r#"
dataset = "linear_regression"
samples = 60
features = 3
noise = 0.1
"#,
    );
    let Task::Supervised(t) = &task else { panic!() };
    // Independent: power iteration on (2/N) A^T A with A = [X 1] (weights then bias).
    let n = t.train.len();
    let d = t.train.feature_len();
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut r: Vec<f64> = t
                .train
                .row(i)
                .unwrap()
                .iter()
                .map(|&x| f64::from(x))
                .collect();
            r.push(1.0);
            r
        })
        .collect();
    let mut ata = vec![vec![0.0; d + 1]; d + 1];
    for r in &rows {
        for a in 0..=d {
            for b in 0..=d {
                ata[a][b] += 2.0 * r[a] * r[b] / n as f64;
            }
        }
    }
    let mut v = vec![1.0; d + 1];
    let mut lambda = 0.0;
    for _ in 0..2000 {
        let hv: Vec<f64> = ata
            .iter()
            .map(|row| row.iter().zip(&v).map(|(a, b)| a * b).sum())
            .collect();
        let length = hv.iter().map(|x| x * x).sum::<f64>().sqrt();
        lambda = hv.iter().zip(&v).map(|(a, b)| a * b).sum();
        v = hv.iter().map(|x| x / length).collect();
    }
    let device = Default::default();
    let model = t.init::<F64>(0, &device).unwrap();
    let training = TrainingSet::<F64>::new(t);
    let mut probes = sharpness_probe(&task);
    let mut subject = ModelSubject::new(t, model, &training, &device);
    let got = values(probes.measure(&mut subject, 0, false).unwrap());
    assert!(
        (got["sharpness"] - lambda).abs() <= 1e-6 * lambda,
        "probe {} vs independent {lambda}",
        got["sharpness"]
    );
}

#[test]
fn basin_names_the_minimum_each_start_rolls_into() {
    let text = r#"
name = "wells"
seeds = [0, 1]

[problem]
landscape = "double_well"
dim = 1
start = [0.0]

[budget]
steps = 300

[[measure]]
kind = "basin"
every = 100

[[variants]]
name = "gd"
lr = 0.05
optimizer = { kind = "sgd" }

[sweep]
"problem.start" = [[-0.5], [0.5], [3.0]]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(text, tmp.path());
    let landscape = Landscape::from(descent_models::landscape::DoubleWell::new(1).unwrap());
    let index_of = |x: f64| {
        landscape
            .critical_points()
            .iter()
            .position(|c| (c.point[0] - x).abs() < 1e-12)
            .unwrap()
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let groups = summary["groups"].as_array().unwrap();
    // x^4/4 - x^3/3 - x^2: left of the maximum at 0 lies the shallow minimum -1, right of it
    // the deep one at 2.
    for (group, minimum) in groups.iter().zip([-1.0, 2.0, 2.0]) {
        let counts = &group["categories"]["basin"];
        assert_eq!(
            counts[index_of(minimum).to_string()].as_u64(),
            Some(2),
            "{}: {counts}",
            group["point"]
        );
    }
}

#[test]
fn escape_reports_the_first_step_beyond_the_radius() {
    let text = r#"
name = "saddle"
seeds = [0]

[problem]
landscape = "strict_saddle"
start = [0.1, 1e-6]

[budget]
steps = 80

[[measure]]
kind = "escape"
every = 1
radius = 0.5
from = [0.0, 0.0]

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(text, tmp.path());
    // x^2 - y^2 under GD: x_k = 0.1 (1 - 2 eta)^k, y_k = 1e-6 (1 + 2 eta)^k.
    let expected = (0..)
        .find(|&k| {
            let (x, y) = (0.1 * 0.8f64.powi(k), 1e-6 * 1.2f64.powi(k));
            x.hypot(y) > 0.5
        })
        .unwrap();
    let m = measurements(&dir.join("gd-s0"));
    assert_eq!(m["escaped_at"], vec![(expected as u64, expected as f64)]);
}

#[test]
fn full_train_is_the_full_batch_loss_and_grad_norm_min_the_full_gradient() {
    let text = r#"
name = "full"
seeds = [0]

[problem]
dataset = "digits"
model = "softmax"
standardize = "global"
l2 = 0.001

[batch]
size = "full"

[budget]
steps = 20

[eval]
log_every = 5

[[measure]]
kind = "full_train"
every = 5
[[measure]]
kind = "grad_norm_min"
every = 5

[[variants]]
name = "gd"
lr = 0.5
optimizer = { kind = "sgd" }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(text, tmp.path()).join("gd-s0");
    let m = measurements(&dir);
    // Full-batch GD's mini-batch is the training set: its loss (with the L2 term) and its
    // gradient norm are the full ones, computed by the training loop in one pass.
    let train_loss = metric(&dir, "train_loss");
    let grad_norm = metric(&dir, "grad_norm");
    let mut smallest = f64::INFINITY;
    let mut compared = 0;
    for ((step, loss), (_, norm)) in m["full_train_loss"].iter().zip(&m["full_grad_norm"]) {
        let expected = train_loss[step];
        assert!(
            (loss - expected).abs() <= 1e-12 * expected,
            "step {step}: {loss} vs {expected}"
        );
        if let Some(g) = grad_norm.get(step) {
            assert!((norm - g).abs() <= 1e-10 * g, "step {step}: {norm} vs {g}");
            compared += 1;
        }
        smallest = smallest.min(*norm);
    }
    assert!(compared >= 3, "{compared}");
    assert_eq!(m["full_grad_norm_min"].last().unwrap().1, smallest);
    assert!(m.contains_key("full_train_accuracy"));
}

#[test]
fn a_target_on_the_full_training_loss_is_reached_where_the_probe_first_meets_it() {
    let text = r#"
name = "to-target"
seeds = [0]

[problem]
dataset = "digits"
model = "softmax"
standardize = "global"

[batch]
size = 64

[budget]
steps = 60

[target]
metric = "full_train_loss"
value = 0.5

[[measure]]
kind = "full_train"
every = 4

[[variants]]
name = "sgd"
lr = 0.2
optimizer = { kind = "sgd", momentum = 0.9 }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(text, tmp.path());
    let m = measurements(&dir.join("sgd-s0"));
    let first = m["full_train_loss"]
        .iter()
        .find(|(_, v)| *v <= 0.5)
        .map(|(s, _)| *s)
        .expect("the run gets below 0.5");
    assert!(first > 0, "reached at once: make the target harder");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sgd-s0/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["steps_to_target"].as_u64(), Some(first));
}

/// On linear regression the probe's `f*` comes from the normal equations, on logistic
/// regression from Newton's method; full-batch GD in f64, an independent route to the same
/// minimum, must drive `f(w) - f*` to rounding.
#[test]
fn suboptimality_of_linear_and_logistic_regression_falls_to_zero_under_full_batch_gd() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(
        r#"
name = "ls"
description = "least squares"
[problem]
dataset = "linear_regression"
samples = 200
features = 5
noise = 0.1
l2 = 0.01
[batch]
size = "full"
[budget]
steps = 1500
[[measure]]
kind = "suboptimality"
every = 100
[[variants]]
name = "gd"
lr = 0.2
optimizer = { kind = "sgd" }
"#,
        tmp.path(),
    );
    let all = measurements(&dir.join("gd-s0"));
    let series = &all["suboptimality"];
    assert!(series[0].1 > 0.1, "{series:?}");
    // GD below 1/L on a convex quadratic descends monotonically ...
    for pair in series.windows(2) {
        assert!(pair[1].1 <= pair[0].1 + 1e-15, "{series:?}");
    }
    // ... to the closed-form minimum.
    let last = series.last().unwrap().1;
    assert!(last.abs() < 1e-12, "{last:e}");

    // Softmax regression's f* comes from Newton's method; GD again reaches it.
    let dir = run(
        r#"
name = "logistic"
description = "logistic regression"
[problem]
dataset = "logistic"
model = "softmax"
samples = 300
features = 4
noise = 1.0
validation = 0
[batch]
size = "full"
[budget]
steps = 3000
[[measure]]
kind = "suboptimality"
every = 500
[[variants]]
name = "gd"
lr = 2.0
optimizer = { kind = "sgd" }
"#,
        tmp.path(),
    );
    let all = measurements(&dir.join("gd-s0"));
    let series = &all["suboptimality"];
    assert!(series[0].1 > 0.05, "{series:?}");
    let last = series.last().unwrap().1;
    assert!(last.abs() < 1e-10, "{series:?}");

    // A model whose minimum is not known is refused by name.
    let task = task(
        r#"
dataset = "digits"
model = "mlp"
hidden = [8]
"#,
    );
    let spec: MeasureSpec = toml::from_str(r#"kind = "suboptimality""#).unwrap();
    let refused = Probes::build(&[spec], &task, 10, 10, 0).err().unwrap();
    assert!(refused.contains("not known"), "{refused}");
}
