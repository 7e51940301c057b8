//! Every experiment in `experiments/` run in its quick variant (`[quick]`, as
//! `descent run FILE --quick` does), each asserting its claim on the results: the number in
//! `summary.json` or the run's files, never a picture.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use descent_runner::config;
use descent_runner::experiment::{self, RunOptions};
use serde_json::Value;

fn experiments_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
}

/// Runs `experiments/<name>.toml --quick` in-process (f32, like the command line's default)
/// and returns its directory.
fn quick(name: &str, out: &Path) -> PathBuf {
    let file = experiments_dir().join(format!("{name}.toml"));
    let plan = config::load_with(&file, &[], None, true).unwrap();
    let options = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    experiment::run(plan, out, &options).unwrap()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn groups(summary: &Value) -> &Vec<Value> {
    summary["groups"].as_array().unwrap()
}

/// A group's `metrics` or `measurements` statistic `key`'s mean.
fn mean(group: &Value, section: &str, key: &str) -> Option<f64> {
    group[section][key]["mean"].as_f64()
}

fn trajectory(run: &Path) -> Vec<[f64; 2]> {
    common::trajectory(run)
}

#[test]
fn every_experiment_is_valid_and_has_a_quick_variant_and_a_claim() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(experiments_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = config::load(&path, &[], None).unwrap();
            assert!(!plan.base.description.is_empty(), "{}", path.display());
            // Checking completely loads the data: not for files that read downloaded data.
            let external = matches!(
                &plan.base.problem,
                config::Problem::Dataset(p) if matches!(
                    p.dataset,
                    config::DatasetName::FashionMnist | config::DatasetName::Mnist
                )
            );
            if !external {
                experiment::prepare(plan, None)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            }
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    for claimed in [
        "quadratic_lr_threshold",
        "elongated_bowl",
        "momentum_ravine",
        "nesterov_lookahead",
        "batch_noise",
        "saddle_escape",
        "local_minima",
        "gd_vs_sgd",
        "gd_vs_sgd_mlp",
        "seed_variance",
        "schedules",
        "sharp_vs_flat",
        "optimizers_fmnist",
        "quadratic_deep",
        "convex_rate",
        "edge_of_stability",
        "adam_fmnist_long",
        "nonconvex_rate",
        "loss_surface",
        "seed_minima",
        "flat_vs_sharp",
        "flat_vs_sharp_tuned",
        "data_order",
        "balanced_batches",
        "warmup",
        "adam_bias_correction",
        "gradient_agreement",
        "width_minima",
        "cyclical_saddle",
        "cyclical_double_well",
        "cyclical_mlp",
        "descent_lemma",
        "descent_lemma_least_squares",
        "l2_regularisation",
    ] {
        assert!(names.iter().any(|n| n == claimed), "{claimed} is missing");
        config::load_with(
            &experiments_dir().join(format!("{claimed}.toml")),
            &[],
            None,
            true,
        )
        .unwrap();
    }
}

#[test]
fn quadratic_lr_threshold_gd_converges_below_2_over_lambda_and_diverges_above() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("quadratic_lr_threshold", tmp.path());
    // Each variant sweeps its own `lr`: in the long table that column is `sweep.lr`, apart
    // from the learning-rate column of metrics.csv.
    descent_runner::commands::export::export(&dir).unwrap();
    let table = std::fs::read_to_string(dir.join("export/metrics.csv")).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    assert_eq!(
        header.iter().filter(|c| **c == "lr").count(),
        1,
        "{header:?}"
    );
    assert!(header.contains(&"sweep.lr"), "{header:?}");
    let s = summary(&dir);
    // lambda_max = 10: GD's limit 0.2, heavy ball (beta 0.5) 0.3.
    let limits: BTreeMap<&str, f64> = [("gd", 0.2), ("heavy-ball", 0.3)].into();
    let mut bracketed: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for g in groups(&s) {
        let variant = g["variant"].as_str().unwrap();
        let lr = g["values"]["lr"].as_f64().unwrap();
        let limit = limits[variant];
        let diverged = !g["diverged"].as_array().unwrap().is_empty();
        let key: &str = limits.get_key_value(variant).unwrap().0;
        let entry = bracketed.entry(key).or_insert((0.0, f64::INFINITY));
        if lr < limit {
            assert!(!diverged, "{variant} at {lr} < {limit} diverged");
            // Converged: the loss fell by more than 1e12 from its start (~4).
            assert!(
                mean(g, "metrics", "final_test_loss").unwrap() < 1e-12,
                "{variant} {lr}"
            );
            entry.0 = entry.0.max(lr);
        } else {
            assert!(diverged, "{variant} at {lr} > {limit} did not diverge");
            entry.1 = entry.1.min(lr);
        }
    }
    // Each limit is bracketed to 1%.
    for (variant, (below, above)) in bracketed {
        let limit = limits[variant];
        assert!(
            below >= 0.99 * limit && above <= 1.01 * limit,
            "{variant}: {below}..{above}"
        );
    }
}

#[test]
fn elongated_bowl_gd_lands_on_the_closed_form() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("elongated_bowl", tmp.path());
    let path = trajectory(&dir.join("gd-s0"));
    assert_eq!(path.len(), 31);
    for (k, w) in path.iter().enumerate() {
        let exact = [0.7f64.powi(k as i32) * 3.0, (-0.2f64).powi(k as i32) * 2.0];
        for (got, want) in w.iter().zip(exact) {
            // f32 iterates: a relative error of a few units in the last place per step.
            assert!(
                (got - want).abs() <= 1e-5 * want.abs() + 1e-30,
                "step {k}: {w:?} vs {exact:?}"
            );
        }
    }
    let s = summary(&dir);
    for g in groups(&s) {
        assert!(
            mean(g, "measurements", "suboptimality").unwrap() < 1.0,
            "{}",
            g["variant"]
        );
    }
}

#[test]
fn momentum_ravine_momentum_needs_several_times_fewer_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("momentum_ravine", tmp.path()));
    let steps: BTreeMap<String, f64> = groups(&s)
        .iter()
        .map(|g| {
            (
                g["variant"].as_str().unwrap().to_string(),
                g["steps_to_target"]["mean"].as_f64().unwrap(),
            )
        })
        .collect();
    // f = 1/2 w^T A w from (1, 1), A with eigenvalues 1 and 100 turned by 0.3 rad.
    let (c, s_) = (0.3f64.cos(), 0.3f64.sin());
    let (a, b) = (c * 1.0 + s_ * 1.0, -s_ * 1.0 + c * 1.0);
    let f0 = 0.5 * (1.0 * a * a + 100.0 * b * b);
    let theory = |rate: f64| (1e-10 / f0).ln() / (2.0 * rate.ln());
    // GD at eta = 2/(L + mu) contracts every direction by exactly (kappa-1)/(kappa+1).
    let gd = theory(99.0 / 101.0);
    assert!(
        (steps["gd"] - gd).abs() <= 0.05 * gd,
        "gd {} vs {gd}",
        steps["gd"]
    );
    // Heavy ball and Nesterov: the accelerated rates, within the polynomial factor of the
    // heavy ball's double root.
    let hb = theory(9.0 / 11.0);
    assert!(
        steps["heavy-ball"] >= hb && steps["heavy-ball"] <= 1.6 * hb,
        "{steps:?} vs {hb}"
    );
    assert!(steps["gd"] > 4.0 * steps["heavy-ball"] && steps["gd"] > 4.0 * steps["nesterov"]);
}

#[test]
fn nesterov_lookahead_equals_pytorch_nesterov_after_the_change_of_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("nesterov_lookahead", tmp.path());
    let (seeds, torch) = (
        trajectory(&dir.join("look-ahead-s0")),
        trajectory(&dir.join("pytorch-s0")),
    );
    assert_eq!(seeds.len(), torch.len());
    let beta = 0.9;
    for t in 1..seeds.len() {
        for i in 0..2 {
            let phi = seeds[t][i] + beta * (seeds[t][i] - seeds[t - 1][i]);
            assert!(
                (phi - torch[t][i]).abs() <= 1e-5,
                "step {t}: {phi} vs {}",
                torch[t][i]
            );
        }
    }
}

#[test]
fn batch_noise_variance_falls_as_one_over_b() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("batch_noise", tmp.path()));
    let g = &groups(&s)[0];
    let sizes = [1u32, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
    let points: Vec<(f64, f64)> = sizes
        .iter()
        .map(|b| {
            let v = mean(g, "measurements", &format!("grad_var_b{b}")).unwrap();
            (f64::from(*b).ln(), v.ln())
        })
        .collect();
    let slope = least_squares_slope(&points);
    assert!((slope + 1.0).abs() <= 0.1, "slope {slope}");
    // tr(Sigma) is 10 coordinates of variance ~1.
    let trace = mean(g, "measurements", "trace_sigma").unwrap();
    assert!((trace - 10.0).abs() < 1.5, "{trace}");
}

#[test]
fn saddle_escape_noise_escapes_sooner_than_gd_and_momentum_sooner_still() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("saddle_escape", tmp.path()));
    let escaped: BTreeMap<String, (f64, u64)> = groups(&s)
        .iter()
        .map(|g| {
            let stats = &g["measurements"]["escaped_at"];
            (
                g["variant"].as_str().unwrap().to_string(),
                (
                    stats["mean"].as_f64().unwrap_or(f64::INFINITY),
                    stats["n"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect();
    let seeds = groups(&s)[0]["seeds"].as_array().unwrap().len() as u64;
    // Every SGD and momentum seed escapes; GD, on the stable manifold, only through rounding
    // and far later.
    assert_eq!(escaped["sgd"].1, seeds);
    assert_eq!(escaped["momentum"].1, seeds);
    assert!(escaped["gd"].0 > 5.0 * escaped["sgd"].0, "{escaped:?}");
    assert!(escaped["momentum"].0 < escaped["sgd"].0, "{escaped:?}");
}

#[test]
fn local_minima_gd_stays_shallow_and_sgd_sometimes_reaches_the_deep_well() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("local_minima", tmp.path());
    let s = summary(&dir);
    let landscape =
        descent_models::Landscape::from(descent_models::landscape::DoubleWell::new(2).unwrap());
    let index = |x: f64| {
        landscape
            .critical_points()
            .iter()
            .position(|c| (c.point[0] - x).abs() < 1e-12)
            .unwrap()
            .to_string()
    };
    let (shallow, deep) = (index(-1.0), index(2.0));
    for g in groups(&s) {
        let counts = g["categories"]["basin"].as_object().unwrap();
        let seeds = g["seeds"].as_array().unwrap().len() as u64;
        match g["variant"].as_str().unwrap() {
            "gd" => assert_eq!(counts[&shallow].as_u64(), Some(seeds), "{counts:?}"),
            _ => {
                let in_deep = counts.get(&deep).and_then(Value::as_u64).unwrap_or(0);
                assert!(
                    in_deep >= 1,
                    "no SGD seed reached the deep well: {counts:?}"
                );
            }
        }
    }
}

#[test]
fn gd_vs_sgd_sgd_reaches_the_training_loss_in_fewer_epochs() {
    // Softmax regression (convex) and the MLP (not).
    for experiment in ["gd_vs_sgd", "gd_vs_sgd_mlp"] {
        sgd_reaches_the_training_loss_in_fewer_epochs(experiment);
    }
}

fn sgd_reaches_the_training_loss_in_fewer_epochs(experiment: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick(experiment, tmp.path());
    // Batch sizes differ: the full training loss is also drawn per epoch and per second,
    // each with one line per variant.
    for axis in ["epoch", "time"] {
        let plot = dir.join(format!("plots/measure_full_train_loss_vs_{axis}.svg"));
        let svg = std::fs::read_to_string(&plot).unwrap();
        for variant in ["gd", "sgd-b1", "sgd-b32", "sgd-b256"] {
            assert!(
                svg.contains(&format!("\n{variant}\n</text>")),
                "{variant} in {plot:?}"
            );
        }
    }
    let s = summary(&dir);
    let epochs = |variant: &str| -> f64 {
        let g = groups(&s).iter().find(|g| g["variant"] == variant).unwrap();
        let record: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{variant}-s0/run.json"))).unwrap(),
        )
        .unwrap();
        let per_epoch = record["limits"]["batches_per_epoch"].as_f64().unwrap();
        g["steps_to_target"]["mean"]
            .as_f64()
            .map_or(f64::INFINITY, |steps| steps / per_epoch)
    };
    let gd = epochs("gd");
    for variant in ["sgd-b1", "sgd-b32"] {
        let sgd = epochs(variant);
        assert!(
            sgd.is_finite() && sgd < gd,
            "{experiment} {variant}: {sgd} epochs, GD {gd}"
        );
    }
}

/// `metrics.csv`'s column `name` by step, where present.
fn column(run: &Path, name: &str) -> BTreeMap<u64, f64> {
    common::column(run, "metrics.csv", name)
}

#[test]
fn seed_variance_the_seed_alone_moves_the_test_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("seed_variance", tmp.path()));
    let accuracy = &groups(&s)[0]["metrics"]["final_test_accuracy"];
    let (min, max) = (
        accuracy["min"].as_f64().unwrap(),
        accuracy["max"].as_f64().unwrap(),
    );
    // Five seeds of one configuration: at least half a point of test accuracy apart.
    assert!(max - min >= 0.005, "{accuracy}");
    assert!(accuracy["std"].as_f64().unwrap() > 0.0 && accuracy["n"].as_u64() == Some(5));
}

#[test]
fn adam_fmnist_long_training_past_the_tuning_budget_reaches_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("adam_fmnist_long", tmp.path());
    let s = summary(&dir);
    for variant in ["adam", "adam-cosine"] {
        let group = groups(&s).iter().find(|g| g["variant"] == variant).unwrap();
        assert_eq!(group["reached_target"], 2, "{group}");
        for seed in 0..2 {
            let accuracy = column(&dir.join(format!("{variant}-s{seed}")), "test_accuracy");
            // 3 epochs (optimizers_fmnist's budget) are 36 steps of the quick variant.
            let (at_3_epochs, last) = (accuracy[&36], *accuracy.values().last().unwrap());
            assert!(
                last > at_3_epochs,
                "{variant} seed {seed}: {at_3_epochs} -> {last}"
            );
        }
    }
    // The cosine ends at a rate of zero: its last logged rate is far below the constant's.
    let lr = column(&dir.join("adam-cosine-s0"), "lr");
    assert!(*lr.values().last().unwrap() < 1e-5, "{lr:?}");
}

#[test]
fn schedules_follow_their_formulas() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("schedules", tmp.path());
    let lr = |variant: &str| column(&dir.join(format!("{variant}-s0")), "lr");
    let peak = 0.05;
    // Step: gamma 0.3 every 24 steps (the quick setting).
    let step = lr("step");
    assert_eq!(step[&0], peak);
    assert!((step[&24] - 0.3 * peak).abs() < 1e-12 && (step[&48] - 0.09 * peak).abs() < 1e-12);
    // Warm-up from 1% of the peak.
    assert!((lr("warmup-cosine")[&0] - 0.01 * peak).abs() < 1e-12);
    // Constant stays; cosine and one-cycle end near zero; 1/sqrt(t) decays.
    assert!(lr("constant").values().all(|&v| v == peak));
    for decaying in ["cosine", "one-cycle", "inverse-sqrt"] {
        let values = lr(decaying);
        let last = *values.values().last().unwrap();
        assert!(last < 0.5 * peak, "{decaying}: {last}");
    }
    let s = summary(&dir);
    assert_eq!(groups(&s).len(), 7);
}

#[test]
fn quadratic_deep_sharpness_is_lambda_max_and_every_optimizer_descends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("quadratic_deep", tmp.path());
    // Just above 2/lambda_max, SGD diverges.
    let summary = summary(&dir);
    let above = groups(&summary)
        .iter()
        .find(|g| g["variant"] == "sgd-above-limit")
        .unwrap();
    assert_eq!(above["diverged"].as_array().unwrap().len(), 1, "{above}");
    // lambda_max of DeepOBS's Hessian as drawn (the probe's power iteration never sees it).
    let drawn = descent_data::synthetic::quadratic_deep(
        descent_models::landscape::QUADRATIC_DEEP_HESSIAN_SEED,
    )
    .unwrap();
    let lambda_max = drawn.eigenvalues.iter().copied().fold(f64::MIN, f64::max);
    // f at the start (1, ..., 1): 1/2 1^T Q 1, the sum of Q's entries over 2.
    let at_start = 0.5 * drawn.hessian.iter().sum::<f64>();
    // The sharpness plot carries the file's reference lines.
    let svg = std::fs::read_to_string(dir.join("plots/measure_sharpness.svg")).unwrap();
    assert!(
        svg.contains("2/eta at eta = 0.034 = 58.82"),
        "no reference line in the legend"
    );
    for variant in ["sgd", "momentum", "adam"] {
        let all = common::measurements(&dir.join(format!("{variant}-s0")));
        for &(step, sharpness) in &all["sharpness"] {
            assert!(
                (sharpness - lambda_max).abs() < 1e-6 * lambda_max,
                "{variant} at step {step}: {sharpness} vs {lambda_max}"
            );
        }
        let suboptimality = &all["suboptimality"];
        let (first, last) = (suboptimality[0].1, suboptimality.last().unwrap().1);
        assert!(
            (first - at_start).abs() < 1e-9 * at_start,
            "{first} vs {at_start}"
        );
        // SGD noise keeps the end above 0.
        assert!(
            last > 0.0 && last < 0.02 * first,
            "{variant}: {first} -> {last}"
        );
    }
}

/// Least-squares slope of log(mean over seeds) against log(step), over steps >= `from`.
fn log_log_slope(dir: &Path, variant: &str, name: &str, from: u64) -> f64 {
    let mut by_step: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for seed in 0..3 {
        let all = common::measurements(&dir.join(format!("{variant}-s{seed}")));
        for &(step, value) in &all[name] {
            by_step.entry(step).or_default().push(value);
        }
    }
    let points: Vec<(f64, f64)> = by_step
        .iter()
        .filter(|(step, _)| **step >= from)
        .map(|(step, v)| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            ((*step as f64).ln(), mean.ln())
        })
        .collect();
    least_squares_slope(&points)
}

/// The slope of the least-squares line through `points` `(x, y)`.
fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>()
}

#[test]
fn convex_rate_iid_sgd_falls_as_one_over_sqrt_t_and_reshuffled_as_one_over_t() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("convex_rate", tmp.path());
    let iid = log_log_slope(&dir, "with-replacement", "suboptimality", 4000);
    let reshuffled = log_log_slope(&dir, "reshuffled", "suboptimality", 4000);
    assert!(
        (-0.8..=-0.35).contains(&iid),
        "with replacement: slope {iid}"
    );
    assert!(reshuffled < -0.85, "reshuffled: slope {reshuffled}");
}

#[test]
fn nonconvex_rate_the_smallest_gradient_norm_falls_at_least_as_fast_as_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("nonconvex_rate", tmp.path());
    let slope = log_log_slope(&dir, "sgd-c-over-sqrt-t", "full_grad_norm_min", 3000);
    // The bound: min |grad f| = O(T^(-1/4)).
    assert!(slope <= -0.25, "slope {slope}");
}

#[test]
fn edge_of_stability_the_sharpness_settles_at_2_over_eta() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("edge_of_stability", tmp.path());
    for (variant, eta) in [("gd-0.5", 0.5), ("gd-1", 1.0), ("gd-2", 2.0)] {
        let run = dir.join(format!("{variant}-s0"));
        let sharpness = &common::measurements(&run)["sharpness"];
        let tail: Vec<f64> = sharpness.iter().rev().take(5).map(|m| m.1).collect();
        let settled = tail.iter().sum::<f64>() / tail.len() as f64;
        assert!(
            (settled / (2.0 / eta) - 1.0).abs() < 0.15,
            "{variant}: sharpness {settled} vs 2/eta = {}",
            2.0 / eta
        );
        // The loss keeps falling, though not monotonically.
        let loss: Vec<f64> = column(&run, "train_loss").into_values().collect();
        assert!(loss[loss.len() - 1] < 0.2 * loss[0], "{variant}: {loss:?}");
        assert!(loss.windows(2).any(|w| w[1] > w[0]), "{variant}: monotone");
    }
    // At eta = 0.5 the start is below the edge (2.3 < 4): the sharpness had to rise to it.
    let start = common::measurements(&dir.join("gd-0.5-s0"))["sharpness"][0].1;
    assert!(start < 0.7 * 4.0, "{start}");
    // Far above the edge GD diverges.
    let s = summary(&dir);
    let far = groups(&s).iter().find(|g| g["variant"] == "gd-4").unwrap();
    assert_eq!(far["diverged"].as_array().unwrap().len(), 1, "{far}");
}

#[test]
fn sharp_vs_flat_large_batches_end_sharper() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("sharp_vs_flat", tmp.path()));
    let sharpness = |variant: &str| {
        let g = groups(&s).iter().find(|g| g["variant"] == variant).unwrap();
        mean(g, "measurements", "sharpness").unwrap()
    };
    let (small, large) = (sharpness("small-batch"), sharpness("large-batch"));
    assert!(large > small, "large batch {large} vs small batch {small}");
}

/// The loss surface around the end of training, against initialisation: the path from the
/// initial weights falls monotonically (Goodfellow et al. 2015), each run ends at the bottom of
/// its random slices, narrower and more curved than where it started, and two seeds' solutions
/// are separated by a barrier far above their own losses.
#[test]
fn loss_surface_ends_in_a_sharper_minimum_reached_monotonically_and_apart_from_other_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("loss_surface", tmp.path());
    for variant in ["momentum", "adam"] {
        for seed in [0, 1] {
            let run = dir.join(format!("{variant}-s{seed}"));
            let m = common::measurements(&run);
            assert_eq!(
                m["interpolation_rise"][0].1, 0.0,
                "{variant}-s{seed}: not monotone"
            );
            let (w0, w1) = (m["slice_width"][0].1, m["slice_width"][1].1);
            assert!(w1 < w0, "{variant}-s{seed}: slice width {w0} -> {w1}");
            let (h0, h1) = (m["hessian_top_1"][0].1, m["hessian_top_1"][1].1);
            assert!(
                h1 > 2.0 * h0,
                "{variant}-s{seed}: top eigenvalue {h0} -> {h1}"
            );
            assert!(m["hessian_trace_low"][1].1 > 0.0, "{variant}-s{seed}");
            // The end is the lowest point of the mean 1-D slice.
            let text = common::read(&run.join("profiles.csv"));
            let mut by_a: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let step = m["slice_width"][1].0.to_string();
            for line in text.lines().skip(1) {
                let c: Vec<&str> = line.split(',').collect();
                if c[0] == step && c[1] == "slice_1d_train" {
                    by_a.entry(c[3].to_string())
                        .or_default()
                        .push(c[5].parse().unwrap());
                }
            }
            let means: BTreeMap<&String, f64> = by_a
                .iter()
                .map(|(a, v)| (a, v.iter().sum::<f64>() / v.len() as f64))
                .collect();
            let lowest = means.iter().min_by(|x, y| x.1.total_cmp(y.1)).unwrap();
            assert_eq!(lowest.0.as_str(), "0", "{variant}-s{seed}: {means:?}");
        }
    }
    let rows = descent_runner::run_files::ExperimentDir::new(&dir)
        .barriers()
        .unwrap()
        .unwrap();
    for (group, heights) in descent_runner::barriers::heights(&rows) {
        let ends: Vec<f64> = rows
            .iter()
            .filter(|r| (r.group.as_str(), r.set.as_str()) == (group.0.as_str(), group.1.as_str()))
            .filter(|r| r.a == 0.0 || r.a == 1.0)
            .map(|r| r.loss)
            .collect();
        let worst_end = ends.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for h in heights {
            assert!(
                h > 0.1 && h > 3.0 * worst_end,
                "{group:?}: barrier {h}, ends {ends:?}"
            );
        }
    }
}

#[test]
fn optimizers_fmnist_every_optimizer_is_tuned_then_rerun_at_its_best_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let file = experiments_dir().join("optimizers_fmnist.toml");
    let plan = config::load_with(&file, &[], None, true).unwrap();
    let protocol = descent_runner::tune::protocol(&plan, None, None, None).unwrap();
    assert_eq!(protocol.grid, vec![1e-3, 1e-2, 1e-1]);
    let options = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    let dir = descent_runner::tune::run(&plan, &protocol, tmp.path(), &options).unwrap();
    let report: descent_runner::tune::TuneReport =
        serde_json::from_slice(&std::fs::read(dir.join("tune.json")).unwrap()).unwrap();
    assert_eq!(report.choices.len(), 8);
    let s = summary(&dir.join("final"));
    for g in groups(&s) {
        let variant = g["variant"].as_str().unwrap();
        let choice = report
            .choices
            .iter()
            .find(|c| c.variant == variant)
            .unwrap();
        assert!(choice.best.is_some(), "{variant}");
        // At its tuned rate every optimizer learns the digits (10 classes, chance 0.1).
        let accuracy = mean(g, "metrics", "final_test_accuracy").unwrap();
        assert!(accuracy > 0.8, "{variant}: {accuracy}");
    }
}

/// seed_minima: solutions from different initialisations are separated by a ridge on the
/// straight line between them; runs from one initialisation that differ only in the order of
/// the data are (almost) linearly connected; every run's path from its start falls
/// monotonically. Same seed and same initialisation: the same run, bit for bit.
#[test]
fn seed_minima_different_starts_end_apart_one_start_ends_connected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("seed_minima", tmp.path());
    let rows = descent_runner::run_files::ExperimentDir::new(&dir)
        .barriers()
        .unwrap()
        .unwrap();
    let heights = descent_runner::barriers::heights(&rows);
    let train = |group: &str| heights[&(group.to_string(), "train".to_string())].clone();
    let (seeds, order) = (train("seeds"), train("order"));
    assert_eq!((seeds.len(), order.len()), (3, 3), "every pair of 3 seeds");
    let lowest_apart = seeds.iter().copied().fold(f64::INFINITY, f64::min);
    let highest_together = order.iter().copied().fold(0.0, f64::max);
    assert!(
        lowest_apart > 0.1 && lowest_apart > 10.0 * highest_together,
        "seeds {seeds:?}, order {order:?}"
    );
    for run in ["seeds-s0", "seeds-s1", "seeds-s2", "order-s1", "order-s2"] {
        let m = common::measurements(&dir.join(run));
        assert!(m["interpolation_rise"][0].1 < 1e-3, "{run}: not monotone");
    }
    assert_eq!(
        common::read(&dir.join("seeds-s0/metrics.csv")),
        common::read(&dir.join("order-s0/metrics.csv"))
    );
    assert_ne!(
        common::read(&dir.join("seeds-s1/metrics.csv")),
        common::read(&dir.join("order-s1/metrics.csv"))
    );
}

/// flat_vs_sharp: every run ends with the four sharpness measures; the three stopping rules
/// do what they say (equal epochs: 10 passes whatever the batch; equal steps: 150 steps; equal
/// loss: the step after the target); at equal epochs the full batch is the under-trained one;
/// the scatter plots are drawn.
#[test]
fn flat_vs_sharp_stops_by_each_rule_and_measures_every_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("flat_vs_sharp", tmp.path());
    let runs = descent_runner::run_files::ExperimentDir::new(&dir)
        .runs()
        .unwrap();
    assert_eq!(runs.len(), 9 * 3 * 2);
    let mut final_loss: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for run in &runs {
        let r = &run.record;
        if r.status != descent_runner::state::Outcome::Finished {
            continue;
        }
        let m = common::measurements(run.dir.path());
        for name in [
            "hessian_top_1",
            "hessian_trace",
            "epsilon_sharpness_1e-3",
            "epsilon_sharpness_5e-4",
            "slice_width",
        ] {
            let last = m[name].last().unwrap();
            assert_eq!(last.0, r.steps, "{}: {name} at the end", r.run_id);
        }
        let label = r.point.label.as_str();
        if label.contains("steps = 150") {
            assert_eq!(r.steps, 150, "{}", r.run_id);
        } else if label.contains("until_target") {
            if let Some(reached) = r.steps_to_target {
                assert_eq!(r.steps, reached + 1, "{}", r.run_id);
            }
        } else {
            assert_eq!(r.steps, 10 * r.limits.batches_per_epoch, "{}", r.run_id);
            final_loss
                .entry((r.variant.clone(), label.to_owned()))
                .or_default()
                .push(*m["full_train_loss"].last().map(|(_, v)| v).unwrap());
        }
    }
    let mean = |v: &str| {
        let (_, values) = final_loss.iter().find(|((name, _), _)| name == v).unwrap();
        values.iter().sum::<f64>() / values.len() as f64
    };
    // At equal epochs the full batch (1141 items, 10 steps) is far behind B = 8 (1430 steps).
    assert!(
        mean("b5500-sqrt") > 5.0 * mean("b32-sqrt"),
        "{} vs {}",
        mean("b5500-sqrt"),
        mean("b32-sqrt")
    );
    for plot in [
        "scatter_hessian_top_1",
        "scatter_epsilon_sharpness_1e-3",
        "scatter_slice_width",
    ] {
        let file = dir
            .join("plots")
            .join(format!("{}.svg", plot.replace('-', "_")));
        assert!(file.is_file(), "{}", file.display());
    }
}

/// The group of `variant` (at the sweep point whose label is `point`, "" without a sweep).
fn group<'a>(summary: &'a Value, variant: &str, point: &str) -> &'a Value {
    groups(summary)
        .iter()
        .find(|g| g["variant"] == variant && g["point"].as_str().unwrap_or("") == point)
        .unwrap_or_else(|| panic!("no group {variant} {point}"))
}

fn measured(run: &Path, name: &str) -> Vec<(u64, f64)> {
    common::measurements(run)
        .remove(name)
        .unwrap_or_else(|| panic!("{} has no {name}", run.display()))
}

#[test]
fn data_order_sorted_by_class_trains_far_worse_than_any_shuffled_order() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("data_order", tmp.path()));
    let accuracy = |v: &str| mean(group(&s, v, ""), "metrics", "final_test_accuracy").unwrap();
    let sorted = accuracy("sorted-by-class");
    for shuffled in [
        "shuffled-once",
        "reshuffled",
        "with-replacement",
        "file-order",
    ] {
        assert!(
            accuracy(shuffled) > sorted + 0.1,
            "{shuffled} {} vs sorted {sorted}",
            accuracy(shuffled)
        );
    }
}

#[test]
fn balanced_batches_stratified_batches_lower_the_gradient_variance_and_the_rare_class_suffers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("balanced_batches", tmp.path()));
    for g in groups(&s) {
        let uniform = mean(g, "measurements", "grad_var_b16").unwrap();
        let stratified = mean(g, "measurements", "grad_var_strat_b16").unwrap();
        assert!(
            stratified < 0.8 * uniform,
            "{}: {stratified} vs {uniform}",
            g["point"]
        );
    }
    for variant in ["uniform", "stratified"] {
        let rare = |point| {
            mean(
                group(&s, variant, point),
                "measurements",
                "test_accuracy_class0",
            )
            .unwrap()
        };
        assert!(rare("keep=0.1") < rare("keep=1.0") - 0.2, "{variant}");
    }
}

#[test]
fn warmup_lets_adam_survive_a_rate_that_diverges_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("warmup", tmp.path()));
    let diverged = |v: &str| group(&s, v, "lr=0.1")["diverged"].as_array().unwrap().len();
    let seeds = group(&s, "adam", "lr=0.1")["seeds"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(diverged("adam"), seeds, "Adam at 0.1 without warm-up");
    assert_eq!(diverged("adam-warmup"), 0, "Adam at 0.1 with warm-up");
}

#[test]
fn adam_bias_correction_removed_makes_the_first_steps_longer_not_shorter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("adam_bias_correction", tmp.path());
    for (beta_2, first, peak) in [("0.999", 0.1 / 0.001f64.sqrt(), 4.0), ("0.99", 1.0, 1.5)] {
        let steps = |variant: &str| {
            measured(
                &dir.join(format!("{variant}-beta_2={beta_2}-s0")),
                "update_norm",
            )
        };
        let (with, without) = (steps("corrected"), steps("uncorrected"));
        // The same start and first batch: the first steps differ by (1 - b1) / sqrt(1 - b2).
        let ratio = without[0].1 / with[0].1;
        assert!(
            (ratio - first).abs() <= 0.01 * first,
            "beta_2 {beta_2}: {ratio} vs {first}"
        );
        let largest = with
            .iter()
            .zip(&without)
            .take(20)
            .map(|((_, a), (_, b))| b / a)
            .fold(0.0, f64::max);
        assert!(largest > peak, "beta_2 {beta_2}: at most {largest}x");
    }
}

#[test]
fn gradient_agreement_single_items_agree_early_and_the_noise_scale_grows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("gradient_agreement", tmp.path());
    for run in common::run_dirs(&dir) {
        let agree = measured(&run, "agree_b1");
        let noise = measured(&run, "noise_scale");
        let (first, last) = (agree[0].1, agree[agree.len() - 1].1);
        assert!(
            first >= 0.9 && last < first,
            "{}: {first} -> {last}",
            run.display()
        );
        let (first, last) = (noise[0].1, noise[noise.len() - 1].1);
        assert!(last > 1.3 * first, "{}: {first} -> {last}", run.display());
    }
}

#[test]
fn width_minima_narrow_networks_get_stuck_and_wide_ones_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("width_minima", tmp.path()));
    for variant in ["gd", "sgd"] {
        let reached = |point| {
            group(&s, variant, point)["reached_target"]
                .as_u64()
                .unwrap()
        };
        let seeds = group(&s, variant, "hidden=[64]")["seeds"]
            .as_array()
            .unwrap()
            .len() as u64;
        assert_eq!(reached("hidden=[2]"), 0, "{variant}");
        assert_eq!(reached("hidden=[64]"), seeds, "{variant}");
    }
}

#[test]
fn cyclical_rates_escape_faster_than_their_floor_and_reach_the_other_well() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("cyclical_saddle", tmp.path()));
    let escaped = |v: &str| mean(group(&s, v, ""), "measurements", "escaped_at").unwrap();
    assert!(escaped("cyclical") < 0.5 * escaped("constant-floor"));
    // Below ln(1 + mean rate) a cycle grows no faster than its mean held constant.
    assert!(escaped("cyclical") >= escaped("constant-mean"));

    let s = summary(&quick("cyclical_double_well", tmp.path()));
    let landscape =
        descent_models::Landscape::from(descent_models::landscape::DoubleWell::new(2).unwrap());
    let deep = landscape
        .critical_points()
        .iter()
        .position(|c| (c.point[0] - 2.0).abs() < 1e-12)
        .unwrap()
        .to_string();
    let in_deep = |v: &str| {
        group(&s, v, "")["categories"]["basin"]
            .get(&deep)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    assert!(in_deep("cyclical") >= 1);
    assert_eq!(in_deep("constant-floor"), 0);
}

#[test]
fn cyclical_mlp_the_rate_at_the_end_sets_the_sharpness() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("cyclical_mlp", tmp.path()));
    let top = |v: &str| mean(group(&s, v, ""), "measurements", "hessian_top_1").unwrap();
    // Runs that end at the large rate end flatter than those that end at a small one.
    assert!(
        top("constant") < 0.7 * top("cyclical"),
        "{} vs {}",
        top("constant"),
        top("cyclical")
    );
    assert!(top("constant") < 0.7 * top("cosine"));
}

#[test]
fn descent_lemma_holds_at_every_step_below_2_over_l_and_fails_above() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quick("descent_lemma", tmp.path());
    let s = summary(&dir);
    let smoothness = 10.0;
    for g in groups(&s) {
        let lr = g["values"]["lr"].as_f64().unwrap();
        let smallest = mean(g, "measurements", "lemma_ratio_min").unwrap();
        // At rate eta the lemma guarantees eta (1 - L eta / 2) |g|^2: in units of |g|^2/(2L),
        // 2 L eta (1 - L eta / 2), which is 1 at eta = 1/L and negative above 2/L.
        let guaranteed = 2.0 * smoothness * lr * (1.0 - smoothness * lr / 2.0);
        // Equality is approached as the stiff direction takes over: f32 rounding aside.
        assert!(
            smallest >= guaranteed - 1e-6,
            "lr {lr}: {smallest} < {guaranteed}"
        );
        if lr > 2.0 / smoothness {
            assert!(smallest < 0.0, "lr {lr}: {smallest}");
        }
    }
    // At 1.9/L the stiff coordinate flips its sign at every step while the loss falls.
    let path = trajectory(&dir.join("gd-lr=0.19-s0"));
    assert!(path.len() > 10);
    assert!(path.windows(2).all(|w| w[0][1] * w[1][1] < 0.0));

    let dir = quick("descent_lemma_least_squares", tmp.path());
    let s = summary(&dir);
    let file: toml::Table =
        std::fs::read_to_string(experiments_dir().join("descent_lemma_least_squares.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let smoothness = file["measure"][0]["smoothness"].as_float().unwrap();
    for g in groups(&s) {
        let lr = g["values"]["lr"].as_f64().unwrap();
        let ratio = lr * smoothness;
        if ratio < 2.0 {
            // The file's L is the Hessian's top eigenvalue, measured in the run.
            let top = mean(g, "measurements", "hessian_top_1").unwrap();
            assert!(
                (top - smoothness).abs() <= 1e-4 * smoothness,
                "{top} vs {smoothness}"
            );
            let smallest = mean(g, "measurements", "lemma_ratio_min").unwrap();
            let guaranteed = 2.0 * ratio * (1.0 - ratio / 2.0);
            // f32 losses: the probe compares only decreases far above their rounding.
            assert!(
                smallest >= guaranteed - 1e-3,
                "lr {lr}: {smallest} < {guaranteed}"
            );
        } else {
            // Diverged runs leave the summary: their own files show the steps that rose.
            for seed in g["seeds"].as_array().unwrap() {
                let run = dir.join(format!("gd-lr={lr}-s{seed}"));
                let lowest = measured(&run, "lemma_ratio")
                    .iter()
                    .map(|(_, r)| *r)
                    .fold(f64::INFINITY, f64::min);
                assert!(lowest < 0.0, "{}: {lowest}", run.display());
            }
        }
    }
}

#[test]
fn l2_regularisation_test_loss_is_a_u_and_the_weights_shrink() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary(&quick("l2_regularisation", tmp.path()));
    let at = |point: &str, section: &str, key: &str| {
        mean(group(&s, "sgd", point), section, key).unwrap()
    };
    let points = ["weight_decay=0.0", "weight_decay=0.003", "weight_decay=0.3"];
    let test: Vec<f64> = points
        .iter()
        .map(|p| at(p, "metrics", "final_test_loss"))
        .collect();
    let train: Vec<f64> = points
        .iter()
        .map(|p| at(p, "measurements", "full_train_loss"))
        .collect();
    let norm: Vec<f64> = points
        .iter()
        .map(|p| at(p, "measurements", "weight_norm"))
        .collect();
    assert!(test[1] < test[0] && test[1] < test[2], "{test:?}");
    assert!(train[0] < train[1] && train[1] < train[2], "{train:?}");
    assert!(norm[0] > norm[1] && norm[1] > norm[2], "{norm:?}");
}
