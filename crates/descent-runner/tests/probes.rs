//! Probes against independent computations: the sampling formula of a finite sum's gradient
//! noise, known Hessian eigenvalues (a quadratic, a saddle, least squares, quadratic_deep's
//! spectrum), known basins and escape times, the full-batch loss, slices of quadratics in
//! closed form, filter normalisation on an MLP by hand, interpolation's ends; and
//! `metrics.csv` unchanged by probes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, NdArray};
use descent_models::{Landscape, Stochastic};
use descent_runner::config::{self, Problem};
use descent_runner::experiment::{self, RunOptions};
use descent_runner::probe::{
    LandscapeSubject, MeasureSpec, Measured, ModelSubject, Probes, ProfilePoint, Subject,
    TrainingSet,
};
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

fn values(measured: Measured) -> BTreeMap<String, f64> {
    measured.values.into_iter().collect()
}

/// The points of profile `name`, by series.
fn profile(measured: &Measured, name: &str) -> BTreeMap<u32, Vec<ProfilePoint>> {
    let mut out: BTreeMap<u32, Vec<ProfilePoint>> = BTreeMap::new();
    for p in measured.profiles.iter().filter(|p| p.name == name) {
        out.entry(p.series).or_default().push(p.clone());
    }
    out
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
[[measure]]
kind = "hessian"
every = 6
items = 40
top = 2
steps = 6
trace_samples = 3
density_probes = 1
density_steps = 4
[[measure]]
kind = "slice"
every = 12
points = 5
directions = 2
items = 50
test = true
[[measure]]
kind = "slice"
dims = 2
every = 12
points = 3
items = 30
[[measure]]
kind = "interpolation"
every = 6
points = 5
from = 0.0
to = 1.0
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
            if id.starts_with("adam") {
                for name in [
                    "hessian_top_2",
                    "hessian_trace",
                    "slice_width",
                    "interpolation_rise",
                ] {
                    assert!(m.contains_key(name), "{id}: {name}");
                }
                let profiles = common::read(&probed.join(id).join("profiles.csv"));
                for name in [
                    "slice_1d_train,",
                    "slice_1d_test,",
                    "slice_2d_train,",
                    "interpolation_train,",
                    "hessian_density,",
                ] {
                    assert!(profiles.contains(name), "{id}: {name}");
                }
            }
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
    assert!((got["grad_cos_b40"] - 1.0).abs() <= 1e-12);
    assert_eq!(got["agree_b40"], 1.0);
    // One item's gradient against the full one, averaged exactly over the 40 items: the
    // sampled mean cosine and agreement are within sampling error of it, far from the
    // minimum (every item agrees) and near it (the noise outweighs the mean).
    for (point, agreeing) in [(w.clone(), 1.0..=1.0), (vec![0.05, -0.02, 0.01], 0.2..=0.8)] {
        let mut subject = LandscapeSubject::new(t, point.clone());
        let got = values(probes.measure(&mut subject, 1, false).unwrap());
        let (_, full) = subject.loss_and_gradient(&point, None).unwrap();
        let full_norm: f64 = full.iter().map(|x| x * x).sum::<f64>().sqrt();
        let (mut cosine, mut agreeing_items) = (0.0, 0);
        for i in 0..40 {
            let (_, gi) = subject.loss_and_gradient(&point, Some(&[i])).unwrap();
            let along: f64 = gi.iter().zip(&full).map(|(a, b)| a * b).sum();
            let norm: f64 = gi.iter().map(|x| x * x).sum::<f64>().sqrt();
            cosine += along / (norm * full_norm) / 40.0;
            agreeing_items += usize::from(along > 0.0);
        }
        let agree = agreeing_items as f64 / 40.0;
        let (c, a) = (got["grad_cos_b1"], got["agree_b1"]);
        assert!((c - cosine).abs() <= 0.03, "{point:?}: {c} vs {cosine}");
        assert!((a - agree).abs() <= 0.03, "{point:?}: {a} vs {agree}");
        assert!(agreeing.contains(&agree), "{point:?}: {agree}");
    }
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

    // With `budget.until_target`, the run ends the step after: its last measurements are taken there, and
    // everything before is the same run.
    let stopped = run(
        &text
            .replace("steps = 60", "steps = 60\nuntil_target = true")
            .replace("to-target", "to-target-stopped"),
        tmp.path(),
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stopped.join("sgd-s0/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["steps"].as_u64(), Some(first + 1));
    assert_eq!(record["steps_to_target"].as_u64(), Some(first));
    let m_stopped = measurements(&stopped.join("sgd-s0"));
    let until = |m: &BTreeMap<String, Vec<(u64, f64)>>| -> Vec<(u64, f64)> {
        m["full_train_loss"]
            .iter()
            .copied()
            .filter(|(s, _)| *s <= first)
            .collect()
    };
    assert_eq!(until(&m_stopped), until(&m));
    assert_eq!(m_stopped["full_train_loss"].last().unwrap().0, first + 1);
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

/// quadratic_deep's Hessian is `Q`, whose eigenvalues the generator draws (90 in (0, 1), 10 in
/// (30, 60)): the probe's top 10 are those, its trace interval holds `tr Q`, its density puts
/// 90% of its mass below 1 and 10% in (30, 60).
#[test]
fn hessian_spectrum_of_quadratic_deep_is_q_s() {
    let task = task("landscape = \"quadratic_deep\"");
    let Task::Landscape(t) = &task else { panic!() };
    let mut probes = probes(
        r#"[[measure]]
kind = "hessian"
top = 10
tolerance = 1e-12
trace_samples = 100
density_probes = 10
density_steps = 40"#,
        &task,
    );
    let mut subject = LandscapeSubject::new(t, t.start.clone());
    let measured = probes.measure(&mut subject, 0, false).unwrap();
    let seed = descent_models::landscape::QUADRATIC_DEEP_HESSIAN_SEED;
    let mut exact = descent_data::synthetic::quadratic_deep(seed)
        .unwrap()
        .eigenvalues;
    exact.sort_by(|a, b| b.total_cmp(a));
    let trace: f64 = exact.iter().sum();
    let nodes = profile(&measured, "hessian_quadrature");
    let got = values(measured);
    for (i, e) in exact.iter().take(10).enumerate() {
        let found = got[&format!("hessian_top_{}", i + 1)];
        assert!(
            (found - e).abs() < 1e-6,
            "eigenvalue {}: {found} vs {e}",
            i + 1
        );
    }
    assert!(got["hessian_top_residual"] < 1e-6);
    assert!(
        got["hessian_trace_low"] <= trace && trace <= got["hessian_trace_high"],
        "{trace} outside [{}, {}]",
        got["hessian_trace_low"],
        got["hessian_trace_high"]
    );
    assert_eq!(nodes.len(), 10);
    let mass = |lo: f64, hi: f64| -> f64 {
        nodes
            .values()
            .flatten()
            .filter(|p| p.x >= lo && p.x < hi)
            .map(|p| p.value)
            .sum()
    };
    assert!(
        (mass(f64::NEG_INFINITY, 1.0) - 0.9).abs() < 0.05,
        "{}",
        mass(f64::NEG_INFINITY, 1.0)
    );
    assert!(
        (mass(30.0, 60.0) - 0.1).abs() < 0.05,
        "{}",
        mass(30.0, 60.0)
    );
    assert!(got["hessian_negative_mass"] == 0.0);
}

/// Least squares' Hessian is `(2/N) AᵀA` (A = [X 1]): a model's probe, through its central
/// differences of gradients in f64, finds all four eigenvalues, each density node on one.
#[test]
fn hessian_spectrum_of_least_squares_is_that_of_2_ata_over_n() {
    let task = task(
        r#"
dataset = "linear_regression"
samples = 60
features = 3
noise = 0.1
"#,
    );
    let Task::Supervised(t) = &task else { panic!() };
    let (n, d) = (t.train.len(), t.train.feature_len());
    let a = nalgebra::DMatrix::from_fn(n, d + 1, |i, j| {
        if j == d {
            1.0
        } else {
            f64::from(t.train.row(i).unwrap()[j])
        }
    });
    let h = a.transpose() * &a * (2.0 / n as f64);
    let trace = h.trace();
    let mut exact: Vec<f64> = h.symmetric_eigen().eigenvalues.iter().copied().collect();
    exact.sort_by(|a, b| b.total_cmp(a));
    let device = Default::default();
    let model = t.init::<F64>(0, &device).unwrap();
    let training = TrainingSet::<F64>::new(t);
    let mut probes = probes(
        r#"[[measure]]
kind = "hessian"
top = 4
trace_samples = 40
density_probes = 2
density_steps = 4"#,
        &task,
    );
    let mut subject = ModelSubject::new(t, model, &training, &device);
    let measured = probes.measure(&mut subject, 0, false).unwrap();
    for p in profile(&measured, "hessian_quadrature").values().flatten() {
        assert!(
            exact
                .iter()
                .any(|e| (p.x - e).abs() <= 1e-6 * e.abs().max(1.0)),
            "node {} is no eigenvalue of {exact:?}",
            p.x
        );
    }
    let got = values(measured);
    for (i, e) in exact.iter().enumerate() {
        let found = got[&format!("hessian_top_{}", i + 1)];
        assert!((found - e).abs() <= 1e-6 * e.abs(), "{found} vs {e}");
    }
    assert!(got["hessian_trace_low"] <= trace && trace <= got["hessian_trace_high"]);
}

/// On `f(w) = ½ wᵀ Q w` a 1-D slice is the parabola `f(w) + a gᵀd + ½ a² dᵀQd`: every point
/// of the profile lies on the parabola through its ends and centre, and `slice_width` is the
/// distance between the parabola's two crossings of `f(w) + rise`.
#[test]
fn a_slice_of_a_quadratic_is_its_closed_form() {
    let task = task(
        "landscape = \"quadratic\"\neigenvalues = [1.0, 4.0]\nangle = 0.4\nstart = [0.3, -0.2]",
    );
    let Task::Landscape(t) = &task else { panic!() };
    let mut probes = probes(
        r#"[[measure]]
kind = "slice"
directions = 4
points = 201
from = -2.0
to = 2.0
rise = 0.05"#,
        &task,
    );
    let w = t.start.clone();
    let f0 = t.landscape.value(&w).unwrap();
    let mut subject = LandscapeSubject::new(t, w);
    let measured = probes.measure(&mut subject, 0, false).unwrap();
    let series = profile(&measured, "slice_1d_train");
    assert_eq!(series.len(), 4);
    let mut widths = Vec::new();
    for points in series.values() {
        assert_eq!(points.len(), 201);
        let at = |x: f64| {
            points
                .iter()
                .find(|p| (p.x - x).abs() < 1e-12)
                .unwrap()
                .value
        };
        assert_eq!(at(0.0), f0);
        let (c1, c2) = ((at(1.0) - at(-1.0)) / 2.0, (at(1.0) + at(-1.0)) / 2.0 - f0);
        assert!(c2 > 0.0);
        for p in points {
            let closed = f0 + c1 * p.x + c2 * p.x * p.x;
            assert!(
                (p.value - closed).abs() < 1e-12 * closed.abs().max(1.0),
                "at {}",
                p.x
            );
        }
        widths.push((c1 * c1 + 4.0 * c2 * 0.05).sqrt() / c2);
    }
    let expected = widths.iter().sum::<f64>() / widths.len() as f64;
    let got = values(measured)["slice_width"];
    assert!(
        (got - expected).abs() < 1e-3 * expected,
        "{got} vs {expected}"
    );
}

/// A 2-D slice covers its grid, and filter-normalised directions on a real MLP give each
/// output neuron of each dense layer its weights' norm (burn stores dense weights as
/// `[in, out]`, so a neuron is a column), and leave biases where they are.
#[test]
fn filter_normalised_directions_on_an_mlp_by_hand() {
    let task = task(
        r#"dataset = "digits"
model = "mlp"
hidden = [8]
standardize = "global""#,
    );
    let Task::Supervised(t) = &task else { panic!() };
    let device = Default::default();
    let model = t.init::<F64>(5, &device).unwrap();
    let layout = descent_runner::probe::subject::layout(&model);
    let shapes: Vec<Vec<usize>> = layout.iter().map(|b| b.shape.clone()).collect();
    assert_eq!(shapes, [vec![64, 8], vec![8], vec![8, 10], vec![10]]);
    let w = descent_runner::probe::subject::flatten(&model);
    assert_eq!(w.len(), 64 * 8 + 8 + 80 + 10);
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
    let d = descent_surface::directions::random_direction(
        &layout,
        &w,
        descent_surface::directions::Normalisation::Filter,
        descent_surface::OneDimensional::Zero,
        &mut rng,
    )
    .unwrap();
    let column_norm = |v: &[f64], start: usize, rows: usize, cols: usize, j: usize| {
        (0..rows)
            .map(|i| v[start + i * cols + j].powi(2))
            .sum::<f64>()
            .sqrt()
    };
    for (start, rows, cols) in [(0, 64, 8), (64 * 8 + 8, 8, 10)] {
        for j in 0..cols {
            let (dn, wn) = (
                column_norm(&d, start, rows, cols, j),
                column_norm(&w, start, rows, cols, j),
            );
            assert!(
                (dn - wn).abs() < 1e-9 * wn,
                "neuron {j} of the layer at {start}: {dn} vs {wn}"
            );
        }
    }
    assert!(d[512..520].iter().chain(&d[600..610]).all(|&x| x == 0.0));

    let training = TrainingSet::<F64>::new(t);
    let mut probes = probes(
        r#"[[measure]]
kind = "slice"
dims = 2
points = 5
items = 100"#,
        &task,
    );
    let mut subject = ModelSubject::new(t, model, &training, &device);
    let measured = probes.measure(&mut subject, 0, false).unwrap();
    let surface = &profile(&measured, "slice_2d_train")[&0];
    assert_eq!(surface.len(), 25);
    let centre = surface
        .iter()
        .find(|p| p.x == 0.0 && p.y == Some(0.0))
        .unwrap();
    assert!(surface.iter().all(|p| p.value.is_finite()));
    assert!(profile(&measured, "slice_2d_train_accuracy")[&0].len() == 25);
    // The centre is the data loss at the point on those items: the full-batch loss there is
    // close (100 of the items), and every corner of a ±1 filter-normalised square is higher.
    assert!(
        surface
            .iter()
            .filter(|p| p.x.abs() == 1.0 && p.y.map(f64::abs) == Some(1.0))
            .all(|p| p.value > centre.value)
    );
}

/// The interpolation from the initial to the final parameters starts at the run's initial
/// loss and ends at its final one, both measured independently by the full_train probe.
#[test]
fn interpolation_runs_from_the_initial_to_the_final_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{DIGITS}\n[[measure]]\nkind = \"full_train\"\nevery = 12\n[[measure]]\nkind = \"interpolation\"\nevery = 12\n"
    );
    let dir = run(&text, tmp.path());
    let run_dir = dir.join("adam-s3");
    let m = measurements(&run_dir);
    let full = &m["full_train_loss"];
    let (initial, last) = (full[0].1, full[full.len() - 1].1);
    let text = common::read(&run_dir.join("profiles.csv"));
    let mut path = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[1] == "interpolation_train" {
            path.insert(cells[3].to_string(), cells[5].parse::<f64>().unwrap());
        }
    }
    assert_eq!(path.len(), 41);
    assert!(
        (path["0"] - initial).abs() < 1e-12 * initial,
        "{} vs {initial}",
        path["0"]
    );
    assert!(
        (path["1"] - last).abs() < 1e-12 * last,
        "{} vs {last}",
        path["1"]
    );
    assert!(last < initial);
    let rise = m["interpolation_rise"][0].1;
    assert!(rise >= 0.0);
}

/// `[barriers]`: the segment between two seeds' solutions starts at one run's final loss and
/// ends at the other's (each measured independently by the full_train probe), on a grid that
/// holds both; the summary and the plots show it.
#[test]
fn barriers_run_between_the_final_losses_of_two_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[measure]]\nkind = \"full_train\"\nevery = 12\n\n[barriers]\nfrom = -1.0\nto = 1.0\npoints = 9\ntest = true\n",
        DIGITS.replace("seeds = [3]", "seeds = [3, 4]")
    );
    let dir = run(&text, tmp.path());
    let rows = descent_runner::run_files::ExperimentDir::new(&dir)
        .barriers()
        .unwrap()
        .unwrap();
    assert_eq!(rows.len(), 2 * 9, "one pair, two sets, nine points");
    let last = |run: &str| {
        *measurements(&dir.join(run))["full_train_loss"]
            .last()
            .unwrap()
    };
    let at = |a: f64| {
        rows.iter()
            .find(|r| r.set == "train" && r.a == a)
            .unwrap()
            .loss
    };
    let (end_a, end_b) = (last("adam-s3").1, last("adam-s4").1);
    assert!(
        (at(0.0) - end_a).abs() < 1e-12 * end_a,
        "{} vs {end_a}",
        at(0.0)
    );
    assert!(
        (at(1.0) - end_b).abs() < 1e-12 * end_b,
        "{} vs {end_b}",
        at(1.0)
    );
    assert!(
        rows.iter()
            .all(|r| r.seed_a == 3 && r.seed_b == 4 && r.accuracy.is_some())
    );
    let heights = descent_runner::barriers::heights(&rows);
    let train = &heights[&("adam".to_string(), "train".to_string())];
    let peak = rows
        .iter()
        .filter(|r| r.set == "train" && (0.0..=1.0).contains(&r.a))
        .map(|r| r.loss)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(train, &vec![peak - (end_a + end_b) / 2.0]);
    let summary = common::read(&dir.join("summary.md"));
    assert!(summary.contains("Barriers between solutions"), "{summary}");
    assert!(dir.join("plots/barriers_train.svg").is_file());
    assert!(dir.join("adam-s3/parameters.bin").is_file());
}

/// On a 2-D landscape the PCA plane of a path is the landscape's own plane: it holds the whole
/// spread, and the loss at each point's projection is its true loss. In 3-D a curved path
/// leaves the plane, and the probe says by how much.
#[test]
fn the_trajectory_plane_of_a_planar_path_misses_nothing() {
    for (dim, planar) in [(2, true), (3, false)] {
        let eigenvalues = if dim == 2 {
            "[1.0, 9.0]"
        } else {
            "[1.0, 5.0, 20.0]"
        };
        let start = if dim == 2 {
            "[2.0, 1.0]"
        } else {
            "[2.0, 1.0, -1.5]"
        };
        let text = format!(
            r#"
name = "plane"
seeds = [0]
[problem]
landscape = "quadratic"
eigenvalues = {eigenvalues}
start = {start}
[budget]
steps = 30
[[measure]]
kind = "trajectory_plane"
every = 1
keep = 8
points = 5
[[variants]]
name = "gd"
lr = 0.04
optimizer = {{ kind = "sgd" }}
"#
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = run(&text, tmp.path());
        let m = measurements(&dir.join("gd-s0"));
        let explained = m["plane_explained"][0].1;
        let miss = m["plane_miss"][0].1;
        if planar {
            assert!((explained - 1.0).abs() < 1e-12, "{explained}");
            assert!(miss < 1e-12, "{miss}");
        } else {
            assert!(explained < 1.0 && explained > 0.5, "{explained}");
            assert!(miss > 1e-6, "{miss}");
        }
        let profiles = common::read(&dir.join("gd-s0").join("profiles.csv"));
        let count = |name: &str| {
            profiles
                .lines()
                .filter(|l| l.split(',').nth(1) == Some(name))
                .count()
        };
        assert_eq!(count("plane_loss"), 25);
        // 31 measured points thinned to at most 8, the first and the last kept.
        let kept = count("plane_path");
        assert!((3..=8).contains(&kept), "{kept}");
        assert_eq!(count("plane_gap"), 2 * kept);
        assert!(
            profiles.lines().any(|l| l.starts_with("30,plane_gap,0,0,")),
            "the start is kept"
        );
        assert!(
            profiles
                .lines()
                .any(|l| l.starts_with("30,plane_gap,0,30,")),
            "the end is kept"
        );
    }
}

/// The MLP's plane evaluator (first layer's products made once per direction) gives the loss
/// and accuracy of a forward pass at the point itself, up to rounding.
#[test]
fn the_plane_evaluator_of_an_mlp_is_a_forward_pass_at_the_point() {
    use descent_runner::probe::{Items, Subject};
    let task = task(
        r#"dataset = "digits"
model = "mlp"
hidden = [16, 8]
standardize = "global""#,
    );
    let Task::Supervised(t) = &task else { panic!() };
    let device = Default::default();
    let model = t.init::<F64>(2, &device).unwrap();
    let training = TrainingSet::<F64>::new(t);
    let mut subject = ModelSubject::new(t, model, &training, &device);
    let w = subject.parameters().to_vec();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4);
    let layout = subject.layout().unwrap();
    let mut direction = || {
        descent_surface::directions::random_direction(
            &layout,
            &w,
            descent_surface::directions::Normalisation::Filter,
            descent_surface::OneDimensional::Normalise,
            &mut rng,
        )
        .unwrap()
    };
    let (d1, d2) = (direction(), direction());
    let items: Vec<usize> = (0..700).collect();
    let points = [(0.0, 0.0), (0.5, -0.25), (-1.0, 1.0), (0.3, 0.9)];
    let plane: Vec<(f64, Option<f64>)> = {
        let mut evaluate = subject
            .plane_evaluator(Items::Train(Some(&items)), &w, &[&d1, &d2])
            .unwrap();
        points
            .iter()
            .map(|&(a, b)| evaluate(&[a, b]).unwrap())
            .collect()
    };
    let mut evaluate = subject.evaluator(Items::Train(Some(&items))).unwrap();
    for (&(a, b), (loss, accuracy)) in points.iter().zip(plane) {
        let point: Vec<f64> = (0..w.len()).map(|i| w[i] + a * d1[i] + b * d2[i]).collect();
        let (direct, direct_accuracy) = evaluate(&point).unwrap();
        assert!(
            (loss - direct).abs() < 1e-12 * direct,
            "({a}, {b}): {loss} vs {direct}"
        );
        assert_eq!(accuracy, direct_accuracy);
    }
}

/// `descent surface` on a run's snapshots measures what the run's own probes measured at those
/// steps, bit for bit (the same parameters, items and random streams); on the last snapshot
/// alone, the interpolation starts from the initial parameters all the same.
#[test]
fn surface_on_snapshots_repeats_the_runs_own_measurements() {
    let tmp = tempfile::tempdir().unwrap();
    let measure = "[[measure]]\nkind = \"hessian\"\nevery = 6\ntop = 3\ntrace_samples = 4\n\
                   density_probes = 1\ndensity_steps = 10\nitems = 200\n\n\
                   [[measure]]\nkind = \"interpolation\"\nevery = 6\npoints = 9\n";
    let text = format!("{DIGITS}\n{measure}\n[output]\nsnapshots_every = 6\n");
    let dir = run(&text, tmp.path());
    let steps = descent_runner::run_files::RunDir::new(dir.join("adam-s3"))
        .snapshot_steps()
        .unwrap();
    assert_eq!(steps, vec![0, 6, 12]);
    let file = common::write(tmp.path(), "analyses.toml", measure);
    let output = common::descent(
        tmp.path(),
        &[
            "surface",
            dir.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
            "--quiet",
        ],
    );
    common::ok(&output);
    let read = |path: PathBuf| common::read(&path);
    for table in ["measurements.csv", "profiles.csv"] {
        assert_eq!(
            read(dir.join("surface/adam-s3").join(table)),
            read(dir.join("adam-s3").join(table)),
            "{table}"
        );
    }
    assert!(dir.join("surface/summary.md").is_file());
    assert!(dir.join("surface/plots").is_dir());

    // The last step alone: the interpolation's start comes from the seed's initialisation,
    // which is the run's snapshot of step 0.
    let output = common::descent(
        tmp.path(),
        &[
            "surface",
            dir.to_str().unwrap(),
            "--measure",
            "kind = \"interpolation\", points = 9",
            "--steps",
            "last",
            "--out",
            "last",
            "--quiet",
        ],
    );
    common::ok(&output);
    let at_last = |table: String| -> Vec<String> {
        table
            .lines()
            .filter(|l| l.starts_with("12,interpolation"))
            .map(str::to_owned)
            .collect()
    };
    let offline = at_last(read(tmp.path().join("last/adam-s3/profiles.csv")));
    assert_eq!(offline.len(), 2 * 9, "loss and accuracy at 9 points");
    assert_eq!(offline, at_last(read(dir.join("adam-s3/profiles.csv"))));
    assert_eq!(
        measurements(&tmp.path().join("last/adam-s3"))["interpolation_rise"],
        vec![(
            12,
            measurements(&dir.join("adam-s3"))["interpolation_rise"][1].1
        )]
    );
}

/// What `descent surface` refuses, with exit status 2 and a message that names the fix.
#[test]
fn surface_refuses_what_it_cannot_analyse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(DIGITS, tmp.path());
    let path = dir.to_str().unwrap();
    let refused = |args: &[&str], needle: &str| {
        let output = common::descent(tmp.path(), args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    };
    refused(
        &["surface", path, "--measure", "kind = \"hessian\""],
        "snapshots_every",
    );
    refused(&["surface", path], "nothing to analyse");
    refused(
        &["surface", path, "--measure", "kind = \"hessain\""],
        "allowed: ",
    );
    refused(&["surface", path, "--measure", "kind = "], "--measure #1");
    refused(
        &["surface", "no/such/dir", "--barriers", ""],
        "no such experiment directory",
    );
    refused(&["surface", path, "--barriers", ""], "two seeds at least");
    refused(
        &[
            "surface",
            path,
            "--measure",
            "kind = \"hessian\"",
            "--runs",
            "adam-s9",
        ],
        "adam-s3",
    );
    assert!(!dir.join("surface").exists(), "nothing is written");
    assert!(!dir.join(".surface.partial").exists());
    let text = format!("{DIGITS}\n[output]\nsnapshots_every = 6\n");
    let dir = run(
        &text.replace("name = \"digits\"", "name = \"kept\""),
        tmp.path(),
    );
    let path = dir.to_str().unwrap();
    refused(
        &[
            "surface",
            path,
            "--measure",
            "kind = \"hessian\"",
            "--steps",
            "5",
        ],
        "it has 0, 6, 12",
    );
    std::fs::create_dir(dir.join("surface")).unwrap();
    refused(
        &["surface", path, "--measure", "kind = \"hessian\""],
        "exists already",
    );
}

/// `[barriers] between = "variants"` joins two optimizers' solutions from the same seed (and
/// no two seeds); `descent surface --barriers` draws the seeds' segments of the same runs
/// afterwards, ending at the runs' own final losses.
#[test]
fn barriers_between_variants_and_after_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[variants]]\nname = \"sgd\"\nlr = 0.1\noptimizer = {{ kind = \"sgd\" }}\n\n\
         [[measure]]\nkind = \"full_train\"\nevery = 12\n\n[barriers]\nbetween = \"variants\"\npoints = 5\n",
        DIGITS.replace("seeds = [3]", "seeds = [3, 4]")
    );
    let dir = run(&text, tmp.path());
    let rows = descent_runner::run_files::ExperimentDir::new(&dir)
        .barriers()
        .unwrap()
        .unwrap();
    assert_eq!(rows.len(), 2 * 5, "two seeds, one pair of variants each");
    assert!(
        rows.iter()
            .all(|r| r.group == "adam ↔ sgd" && r.seed_a == r.seed_b)
    );
    let final_loss = |run: &str| {
        measurements(&dir.join(run))["full_train_loss"]
            .last()
            .unwrap()
            .1
    };
    let at = |rows: &[descent_runner::state::BarrierPoint], seed: u64, a: f64| {
        rows.iter()
            .find(|r| r.seed_a == seed && r.a == a && r.set == "train")
            .unwrap()
            .loss
    };
    for seed in [3, 4] {
        let adam = final_loss(&format!("adam-s{seed}"));
        let sgd = final_loss(&format!("sgd-s{seed}"));
        assert!((at(&rows, seed, 0.0) - adam).abs() < 1e-12 * adam);
        assert!((at(&rows, seed, 1.0) - sgd).abs() < 1e-12 * sgd);
    }
    let output = common::descent(
        tmp.path(),
        &[
            "surface",
            dir.to_str().unwrap(),
            "--barriers",
            "points = 5",
            "--quiet",
        ],
    );
    common::ok(&output);
    let seeds = descent_runner::run_files::ExperimentDir::new(dir.join("surface"))
        .barriers()
        .unwrap()
        .unwrap();
    let groups: std::collections::BTreeSet<&str> = seeds.iter().map(|r| r.group.as_str()).collect();
    assert_eq!(groups, ["adam", "sgd"].into_iter().collect());
    assert!(seeds.iter().all(|r| (r.seed_a, r.seed_b) == (3, 4)));
    let adam3 = final_loss("adam-s3");
    let row = seeds
        .iter()
        .find(|r| r.group == "adam" && r.a == 0.0)
        .unwrap();
    assert!((row.loss - adam3).abs() < 1e-12 * adam3);
    let summary = common::read(&dir.join("surface/summary.md"));
    assert!(summary.contains("Barriers between solutions"), "{summary}");
}

/// On a convex function the largest value in a box is at one of its corners: on 2-D
/// quadratics (axis-aligned, where the ascent's first step finds the corner, and rotated) the
/// probe equals `100 (max over the 4 corners of f - f(w)) / (1 + f(w))` for each box size.
#[test]
fn epsilon_sharpness_of_a_quadratic_is_its_highest_corner() {
    for (angle, start) in [(0.0, [0.3, -0.2]), (0.4, [2.0, -1.5])] {
        let task = task(&format!(
            "landscape = \"quadratic\"\neigenvalues = [1.0, 4.0]\nangle = {angle}\nstart = [{}, {}]",
            start[0], start[1]
        ));
        let Task::Landscape(t) = &task else { panic!() };
        let mut probes = probes(
            "[[measure]]\nkind = \"epsilon_sharpness\"\nepsilons = [1e-3, 0.05]\niterations = 10",
            &task,
        );
        let w = t.start.clone();
        let f0 = t.landscape.value(&w).unwrap();
        let mut subject = LandscapeSubject::new(t, w.clone());
        let got = values(probes.measure(&mut subject, 0, false).unwrap());
        for (eps, name) in [
            (1e-3, "epsilon_sharpness_1e-3"),
            (0.05, "epsilon_sharpness_5e-2"),
        ] {
            let mut highest = f64::NEG_INFINITY;
            for corner in [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]] {
                let point: Vec<f64> = (0..2)
                    .map(|i| w[i] + corner[i] * eps * (w[i].abs() + 1.0))
                    .collect();
                highest = highest.max(t.landscape.value(&point).unwrap());
            }
            let expected = 100.0 * (highest - f0) / (1.0 + f0);
            assert!(
                (got[name] - expected).abs() < 1e-9 * expected,
                "angle {angle}, {name}: {} vs {expected}",
                got[name]
            );
        }
    }
}

/// GD on `f = (w1^2 + 10 w2^2) / 2` (L = 10) at 1/L, 1.9/L and 2.1/L, every step compared.
#[test]
fn the_descent_lemma_ratio_is_the_closed_form_of_gd_on_a_quadratic() {
    let text = r#"
name = "lemma"
seeds = [0]

[problem]
landscape = "quadratic"
eigenvalues = [1.0, 10.0]
start = [1.0, 1.0]

[budget]
steps = 40

[eval]
log_every = 1

[[measure]]
kind = "descent_lemma"
smoothness = 10.0
every = 1
[[measure]]
kind = "update_norm"
every = 1
[[measure]]
kind = "weight_norm"
every = 1

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
sweep = { lr = [0.1, 0.19, 0.21] }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let dir = run(text, tmp.path());
    let lambda = [1.0, 10.0];
    for (lr, id) in [
        (0.1, "gd-lr=0.1-s0"),
        (0.19, "gd-lr=0.19-s0"),
        (0.21, "gd-lr=0.21-s0"),
    ] {
        let run = dir.join(id);
        assert!(run.is_dir(), "{} has no {id}", dir.display());
        let m = measurements(&run);
        let (ratios, moved, norms) = (&m["lemma_ratio"], &m["update_norm"], &m["weight_norm"]);
        assert_eq!(ratios.len(), 40, "{id}: every step compared");
        let mut w = [1.0f64, 1.0];
        let mut smallest = f64::INFINITY;
        for k in 0..40u64 {
            let g = [lambda[0] * w[0], lambda[1] * w[1]];
            let next = [w[0] - lr * g[0], w[1] - lr * g[1]];
            let f = |v: [f64; 2]| (lambda[0] * v[0] * v[0] + lambda[1] * v[1] * v[1]) / 2.0;
            let expected = (f(w) - f(next)) / ((g[0] * g[0] + g[1] * g[1]) / 20.0);
            let (step, ratio) = ratios[k as usize];
            assert_eq!(step, k + 1);
            assert!(
                (ratio - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                "{id} step {step}: {ratio} vs {expected}"
            );
            smallest = smallest.min(expected);
            let length = (lr * lr * (g[0] * g[0] + g[1] * g[1])).sqrt();
            assert!((moved[k as usize].1 - length).abs() <= 1e-12 * length.max(1e-300));
            w = next;
            let norm = (w[0] * w[0] + w[1] * w[1]).sqrt();
            assert!((norms[k as usize + 1].1 - norm).abs() <= 1e-12 * norm.max(1e-300));
        }
        let last_min = m["lemma_ratio_min"].last().unwrap().1;
        assert!((last_min - smallest).abs() <= 1e-9 * smallest.abs().max(1.0));
        match id {
            // At 1/L the guaranteed |g|^2 / (2L) is met at every step.
            "gd-lr=0.1-s0" => assert!(smallest >= 1.0 - 1e-12, "{smallest}"),
            // Below 2/L every step still goes down, by less than the 1/L guarantee.
            "gd-lr=0.19-s0" => assert!(smallest > 0.0 && smallest < 1.0, "{smallest}"),
            // Above 2/L the stiff direction grows: steps go uphill.
            _ => assert!(smallest < 0.0, "{smallest}"),
        }
    }
}

#[test]
fn class_accuracies_weighted_by_class_size_are_the_test_accuracy() {
    let text = r#"
name = "classes"
seeds = [0]

[problem]
dataset = "digits"
model = "softmax"
standardize = "global"

[batch]
size = 32

[budget]
steps = 30

[eval]
every = 10
log_every = 10

[[measure]]
kind = "class_accuracy"
every = 10

[[variants]]
name = "sgd"
lr = 0.1
optimizer = { kind = "sgd" }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let run = run(text, tmp.path()).join("sgd-s0");
    let Task::Supervised(t) = task(
        r#"dataset = "digits"
model = "softmax"
standardize = "global""#,
    ) else {
        panic!("a dataset")
    };
    let test = t.test.as_ref().unwrap();
    let counts = test.class_counts().unwrap();
    let m = measurements(&run);
    let accuracy = metric(&run, "test_accuracy");
    let mut compared = 0;
    for (step, expected) in accuracy {
        let mut weighted = 0.0;
        let mut worst = f64::INFINITY;
        for (class, &count) in counts.iter().enumerate() {
            let series = &m[&format!("test_accuracy_class{class}")];
            let (_, a) = series.iter().find(|(s, _)| *s == step).unwrap();
            weighted += a * count as f64 / test.len() as f64;
            worst = worst.min(*a);
        }
        assert!(
            (weighted - expected).abs() <= 1e-9,
            "step {step}: {weighted} vs {expected}"
        );
        let (_, min) = m["min_class_accuracy"]
            .iter()
            .find(|(s, _)| *s == step)
            .unwrap();
        assert_eq!(*min, worst);
        compared += 1;
    }
    assert!(compared >= 3, "{compared}");
}

#[test]
fn train_items_and_imbalance_subsample_the_training_set_only() {
    let base = r#"dataset = "digits"
model = "softmax"
validation = 100
"#;
    let Task::Supervised(full) = task(base) else {
        panic!("a dataset")
    };
    let counts = full.train.class_counts().unwrap();
    let Task::Supervised(rare) = task(&format!("{base}imbalance = {{ class = 3, keep = 0.1 }}"))
    else {
        panic!("a dataset")
    };
    let rare_counts = rare.train.class_counts().unwrap();
    for (c, (&a, &b)) in counts.iter().zip(&rare_counts).enumerate() {
        if c == 3 {
            assert_eq!(b, (a as f64 * 0.1).round() as usize);
        } else {
            assert_eq!(a, b, "class {c}");
        }
    }
    assert_eq!(
        rare.test.as_ref().unwrap().len(),
        full.test.as_ref().unwrap().len()
    );
    // The validation split comes first and is untouched: the same items.
    let (a, b) = (
        full.validation.as_ref().unwrap(),
        rare.validation.as_ref().unwrap(),
    );
    assert_eq!((a.features(), a.labels()), (b.features(), b.labels()));
    let Task::Supervised(small) = task(&format!(
        "{base}train_items = 300\nimbalance = {{ class = 3, keep = 0.1 }}"
    )) else {
        panic!("a dataset")
    };
    assert_eq!(small.train.len(), 300);
    // test_items keeps the test set's first items, or none; the rest is untouched.
    let Task::Supervised(short) = task(&format!("{base}test_items = 50")) else {
        panic!("a dataset")
    };
    let (whole, first) = (full.test.as_ref().unwrap(), short.test.as_ref().unwrap());
    assert_eq!(first.len(), 50);
    assert_eq!(
        first.features(),
        &whole.features()[..50 * whole.features().len() / whole.len()]
    );
    assert_eq!(first.labels(), whole.labels().map(|l| &l[..50]));
    assert_eq!(short.train.len(), full.train.len());
    let Task::Supervised(none) = task(&format!("{base}test_items = 0")) else {
        panic!("a dataset")
    };
    assert!(none.test.is_none());
    for (field, bad) in [
        ("problem.test_items", "test_items = 100000"),
        ("problem.train_items", "train_items = 0"),
        ("problem.train_items", "train_items = 100000"),
        (
            "problem.imbalance.keep",
            "imbalance = { class = 3, keep = 0.0 }",
        ),
        (
            "problem.imbalance.class",
            "imbalance = { class = 99, keep = 0.5 }",
        ),
    ] {
        let problem: Problem = toml::from_str(&format!("{base}{bad}")).unwrap();
        let error = Task::build(&problem).unwrap_err();
        assert!(error.starts_with(field), "{bad}: {error}");
    }
}

#[test]
fn stratified_batches_have_less_gradient_noise_than_uniform_ones() {
    let task = task(
        r#"dataset = "digits"
model = "softmax"
standardize = "global""#,
    );
    let Task::Supervised(t) = &task else {
        panic!("a dataset")
    };
    let mut probes = probes(
        r#"[[measure]]
kind = "gradient_noise"
batch_sizes = [10]
draws = 2000
stratified = true"#,
        &task,
    );
    let device = Default::default();
    let model = t.init::<F64>(0, &device).unwrap();
    let training = TrainingSet::<F64>::new(t);
    let mut subject = ModelSubject::new(t, model, &training, &device);
    let got = values(probes.measure(&mut subject, 0, false).unwrap());
    // At the start every class pulls its own way: a batch's class mix is most of its noise.
    assert!(
        got["grad_var_strat_b10"] < 0.8 * got["grad_var_b10"],
        "{} vs {}",
        got["grad_var_strat_b10"],
        got["grad_var_b10"]
    );
}

#[test]
fn the_descent_lemma_compares_only_measurements_one_step_apart() {
    let task = task(
        r#"landscape = "quadratic"
eigenvalues = [1.0, 10.0]
start = [1.0, 1.0]"#,
    );
    let Task::Landscape(t) = &task else {
        panic!("a landscape")
    };
    let mut probes = probes(
        "[[measure]]\nkind = \"descent_lemma\"\nsmoothness = 10.0\nevery = 1",
        &task,
    );
    let mut at = |w: Vec<f64>, step| {
        let mut subject = LandscapeSubject::new(t, w);
        values(probes.measure(&mut subject, step, false).unwrap())
    };
    assert!(!at(vec![1.0, 1.0], 0).contains_key("lemma_ratio"));
    // Two steps later: not a single step's decrease.
    assert!(!at(vec![0.9, 0.0], 2).contains_key("lemma_ratio"));
    // f 0.405 -> 0.32805 against |g|^2 / (2L) = 0.81 / 20.
    let ratio = at(vec![0.81, 0.0], 3)["lemma_ratio"];
    assert!((ratio - 1.9).abs() < 1e-9, "{ratio}");
}
