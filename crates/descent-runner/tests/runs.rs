//! The runner end to end, through the real binary: outputs, determinism, resume after
//! SIGKILL, shards merged, divergence reported.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    SWEEP, descent, deterministic_files, ok, read, reproducible_summary, run_dirs, write,
};

/// A small MLP on the embedded digits: 2 variants x 2 seeds, with checkpoints.
const DIGITS: &str = r#"
name = "small"
description = "test experiment"
seeds = [0, 1]

[problem]
dataset = "digits"
model = "mlp"
hidden = [16]
standardize = "global"
validation = 100

[batch]
size = 64
sampling = "stratified"

[budget]
steps = 60

[eval]
every = 20
log_every = 2

[checkpoint]
every = 7

# Probes carry state across checkpoints (sharpness's vector and items, the running minimum):
# the kill-and-resume test checks that measurements.csv survives it.
[[measure]]
kind = "sharpness"
every = 10
items = 64
iterations = 4
tolerance = 0.0

[[measure]]
kind = "grad_norm_min"
every = 10

[[variants]]
name = "momentum"
lr = 0.05
optimizer = { kind = "sgd", momentum = 0.9 }
schedule = { kind = "cosine" }

[[variants]]
name = "adam"
lr = 0.003
optimizer = { kind = "adam" }
"#;

#[test]
fn a_run_writes_every_output_and_repeats_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.toml", DIGITS);
    for out in ["a", "b"] {
        ok(&descent(
            tmp.path(),
            &[
                "run",
                file.to_str().unwrap(),
                "--out",
                out,
                "--quiet",
                "--jobs",
                "2",
            ],
        ));
    }
    let (a, b) = (tmp.path().join("a/small"), tmp.path().join("b/small"));
    for f in ["config.toml", "plan.json", "summary.json", "summary.md"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let config = read(&a.join("config.toml"));
    for key in ["git_revision", "backend", "precision", "machine"] {
        assert!(config.contains(key), "config.toml lacks {key}");
    }
    let runs = run_dirs(&a);
    assert_eq!(runs.len(), 4);
    for run in &runs {
        for f in ["metrics.csv", "timing.csv", "run.json"] {
            assert!(run.join(f).is_file(), "{}/{f} missing", run.display());
        }
        assert!(
            !run.join("checkpoint.bin").exists(),
            "finished runs keep no checkpoint"
        );
        let twin = b.join(run.file_name().unwrap());
        assert_eq!(
            deterministic_files(run),
            deterministic_files(&twin),
            "{}",
            run.display()
        );
        let metrics = read(&run.join("metrics.csv"));
        assert!(
            metrics.starts_with("step,epoch,samples,lr,train_loss,grad_norm,val_loss,val_accuracy")
        );
        // log_every = 2 over 60 steps, plus the final row at step 60.
        assert_eq!(metrics.lines().count(), 1 + 31);
    }
    assert_eq!(reproducible_summary(&a), reproducible_summary(&b));
    report_is_self_contained(&a);
    export_is_one_row_per_logged_step(tmp.path(), &a, &runs);
    // Learning happened: every finished run beats chance on the validation set.
    let summary = reproducible_summary(&a);
    for group in summary["groups"].as_array().unwrap() {
        let accuracy = group["metrics"]["final_val_accuracy"]["mean"]
            .as_f64()
            .unwrap();
        assert!(accuracy > 0.6, "{group}");
    }
}

/// `report.html` holds the summary table and one figure per plot, each an inline `<svg>` or
/// a PNG data URI that decodes to a PNG, and the rerun command; it refers to nothing online.
fn report_is_self_contained(experiment: &Path) {
    use base64::Engine as _;
    let html = read(&experiment.join("report.html"));
    assert!(
        html.contains("<table") && html.contains("<th>variant</th>"),
        "summary table"
    );
    assert!(
        html.contains("descent run ") && html.contains("config.toml"),
        "rerun command"
    );
    assert!(html.contains("git revision"), "provenance");
    let plots = std::fs::read_dir(experiment.join("plots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(plots >= 5, "{plots} plots");
    assert_eq!(
        html.matches("<figure").count(),
        plots,
        "one figure per plot"
    );
    let inline_svgs = html.matches("<svg").count();
    let images: Vec<&str> = html
        .split("src=\"data:image/png;base64,")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(inline_svgs + images.len(), plots, "every plot inline");
    for image in images {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(image)
            .expect("the data URI is base64");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    }
    // Nothing fetched from elsewhere (SVG's xmlns is a name, not a link), no script.
    for outside in ["src=\"http", "href=\"http", "url(http", "<script"] {
        assert!(!html.contains(outside), "{outside}");
    }
}

/// `descent export`: one row per logged step per run, the run's columns first, the cells as
/// the run wrote them.
fn export_is_one_row_per_logged_step(cwd: &Path, experiment: &Path, runs: &[PathBuf]) {
    ok(&descent(cwd, &["export", experiment.to_str().unwrap()]));
    let table = read(&experiment.join("export/metrics.csv"));
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..5],
        ["run_id", "variant", "point", "seed", "status"]
    );
    assert_eq!(header.last(), Some(&"wall_seconds"));
    let rows: Vec<&str> = lines.collect();
    let mut expected = 0;
    for run in runs {
        let id = run.file_name().unwrap().to_str().unwrap();
        let own = read(&run.join("metrics.csv"));
        let own_rows: Vec<&str> = own.lines().skip(1).collect();
        expected += own_rows.len();
        let mine: Vec<&&str> = rows
            .iter()
            .filter(|r| r.starts_with(&format!("{id},")))
            .collect();
        assert_eq!(mine.len(), own_rows.len(), "{id}: one row per logged step");
        for (exported, original) in mine.iter().zip(&own_rows) {
            // run_id, variant, point, seed, status, then the run's own cells.
            let cells: Vec<&str> = exported.split(',').collect();
            let original: Vec<&str> = original.split(',').collect();
            assert_eq!(&cells[5..5 + original.len()], &original[..], "{id}");
        }
    }
    assert_eq!(rows.len(), expected);
    assert!(experiment.join("export/measurements.csv").is_file());
}

/// The report opens in headless Chromium: the page renders (a screenshot of it), and the
/// DOM Chromium built holds the summary table and every figure. Skipped where Chromium is
/// absent, unless `DESCENT_REQUIRE_CHROMIUM` is set (CI installs Debian's `chromium`).
#[test]
fn the_report_opens_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    else {
        assert!(
            std::env::var_os("DESCENT_REQUIRE_CHROMIUM").is_none(),
            "DESCENT_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        println!("SKIPPED: no chromium (apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let report = run_bowl(tmp.path(), &[]).join("report.html");
    let url = format!("file://{}", report.display());
    let profile = tmp.path().join("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let run = |extra: &[&str]| {
        Command::new(chromium)
            .args(common)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .expect("chromium runs")
    };
    let dom = run(&["--dump-dom"]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<table") && dom.contains("bowl"),
        "the summary table"
    );
    let plots = std::fs::read_dir(report.with_file_name("plots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert_eq!(dom.matches("<figure").count(), plots);
    let shot = tmp.path().join("report.png");
    let out = run(&[
        "--window-size=1280,1600",
        &format!("--screenshot={}", shot.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 1600));
    // A blank page compresses to a few kilobytes; tables and plots do not.
    assert!(png.len() > 50_000, "{} bytes: a blank page?", png.len());
}

/// What TensorBoard's own reader finds in an experiment's event files, per run: the scalar
/// tags with their number of points, and the hparams plugin's start and end records.
const TENSORBOARD_READER: &str = r#"
import json, os, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from google.protobuf.json_format import MessageToDict
root = sys.argv[1]
found = {}
for run in sorted(os.listdir(root)):
    acc = EventAccumulator(os.path.join(root, run), size_guidance={"scalars": 0})
    acc.Reload()
    scalars = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    hparams = {}
    for tag, content in acc.PluginTagToContent("hparams").items():
        hparams[tag] = MessageToDict(plugin_data_pb2.HParamsPluginData.FromString(content))
    found[run] = {"scalars": scalars, "hparams": hparams}
print(json.dumps(found))
"#;

/// The scalar tags a run's files call for, read here independently of the writer: every
/// `metrics.csv` column but the step with a finite number in it, and `measure/<name>` for
/// every finite measurement.
fn logged_tags(run: &Path) -> std::collections::BTreeSet<String> {
    let finite = |cell: &str| cell.parse::<f64>().is_ok_and(f64::is_finite);
    let metrics = read(&run.join("metrics.csv"));
    let mut lines = metrics.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut tags: std::collections::BTreeSet<String> = header
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| rows.iter().any(|r| r.get(*i).is_some_and(|c| finite(c))))
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let measurements = run.join("measurements.csv");
    if measurements.exists() {
        for line in read(&measurements).lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() == 3 && finite(cells[2]) {
                tags.insert(format!("measure/{}", cells[1]));
            }
        }
    }
    tags
}

/// The event files read back with TensorBoard's `EventAccumulator`: every run, every
/// `metrics.csv` column and measurement with one point per logged value (as f32), and the
/// hyperparameters. Skipped without Python's `tensorboard` package (the Python in
/// `DESCENT_TENSORBOARD_PYTHON`, else `python3`) unless `DESCENT_REQUIRE_TENSORBOARD` is set.
#[test]
fn tensorboard_reads_every_scalar_and_the_hparams() {
    let python = std::env::var("DESCENT_TENSORBOARD_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_tensorboard = Command::new(&python)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tensorboard {
        assert!(
            std::env::var_os("DESCENT_REQUIRE_TENSORBOARD").is_none(),
            "DESCENT_REQUIRE_TENSORBOARD is set but {python} cannot import tensorboard"
        );
        println!("SKIPPED: {python} has no tensorboard (pip install tensorboard)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let experiment = run_bowl(tmp.path(), &["--tensorboard"]);
    let output = Command::new(&python)
        .args(["-c", TENSORBOARD_READER])
        .arg(experiment.join("tensorboard"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let runs = run_dirs(&experiment);
    assert_eq!(runs.len(), 4);
    assert_eq!(
        found.as_object().unwrap().len(),
        runs.len(),
        "one directory per run"
    );
    for run in &runs {
        let id = run.file_name().unwrap().to_str().unwrap();
        let scalars = found[id]["scalars"].as_object().unwrap();
        let expected = logged_tags(run);
        let got: std::collections::BTreeSet<String> = scalars.keys().cloned().collect();
        assert_eq!(got, expected, "{id}: the scalar tags");
        // Every logged train loss, at its step, as f32.
        let metrics = read(&run.join("metrics.csv"));
        let losses: Vec<(u64, f64)> = metrics
            .lines()
            .skip(1)
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                (cells[0].parse().unwrap(), cells[4].parse().unwrap())
            })
            .collect();
        let read_back = scalars["train_loss"].as_array().unwrap();
        assert_eq!(read_back.len(), losses.len(), "{id}");
        for ((step, loss), point) in losses.iter().zip(read_back) {
            assert_eq!(point[0].as_u64(), Some(*step));
            assert_eq!(
                point[1].as_f64().unwrap() as f32,
                *loss as f32,
                "{id} step {step}"
            );
        }
        let hparams = &found[id]["hparams"];
        let start = &hparams["_hparams_/session_start_info"]["sessionStartInfo"]["hparams"];
        let variant = if id.starts_with("gd") { "gd" } else { "adam" };
        // protobuf's JSON form writes a google.protobuf.Value as the plain value.
        assert_eq!(start["variant"], variant, "{id}");
        assert_eq!(start["lr"], 0.1, "{id}");
        assert_eq!(
            start["optimizer.kind"],
            if variant == "gd" { "sgd" } else { "adam" }
        );
        assert!(start["seed"].is_number(), "{id}");
        assert_eq!(
            hparams["_hparams_/session_end_info"]["sessionEndInfo"]["status"], "STATUS_SUCCESS",
            "{id}"
        );
    }
}

/// Runs [`BOWL`] in `dir` with `extra` options; returns its experiment directory.
fn run_bowl(dir: &Path, extra: &[&str]) -> PathBuf {
    let file = write(dir, "bowl.toml", BOWL);
    let mut args = vec!["run", file.to_str().unwrap(), "--out", "out", "--quiet"];
    args.extend_from_slice(extra);
    ok(&descent(dir, &args));
    dir.join("out/bowl")
}

/// A tiny landscape experiment: two variants on the elongated bowl, 40 steps.
const BOWL: &str = r#"
name = "bowl"
description = "GD and Adam on the elongated bowl"
seeds = [0, 1]

[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]

[budget]
steps = 40

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }

[[variants]]
name = "adam"
lr = 0.1
optimizer = { kind = "adam" }
"#;

#[test]
fn rerunning_the_recorded_config_reproduces_every_metrics_file() {
    // The README's promise: `config.toml` is the experiment as run; `descent run` on it
    // repeats the experiment byte for byte (its [meta] facts are not settings).
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "small.toml", DIGITS);
    ok(&descent(
        tmp.path(),
        &["run", file.to_str().unwrap(), "--out", "a", "--quiet"],
    ));
    let recorded = tmp.path().join("a/small/config.toml");
    assert!(read(&recorded).contains("[meta]"));
    ok(&descent(
        tmp.path(),
        &["run", recorded.to_str().unwrap(), "--out", "b", "--quiet"],
    ));
    let (a, b) = (tmp.path().join("a/small"), tmp.path().join("b/small"));
    let runs = run_dirs(&a);
    assert_eq!(runs.len(), 4);
    assert_eq!(run_dirs(&b).len(), 4);
    for run in &runs {
        let twin = b.join(run.file_name().unwrap());
        assert_eq!(
            read(&run.join("metrics.csv")),
            read(&twin.join("metrics.csv")),
            "{}",
            run.display()
        );
    }
    assert_eq!(reproducible_summary(&a), reproducible_summary(&b));
    // summary.md carries every statistic summary.json has.
    let md = read(&a.join("summary.md"));
    for column in [
        "| n |",
        "| min |",
        "| max |",
        "| 95% CI |",
        "final_val_accuracy",
    ] {
        assert!(md.contains(column), "summary.md lacks {column:?}:\n{md}");
    }
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    // Long enough to be killed mid-way; one job, so runs are in flight one at a time.
    let text = DIGITS
        .replace("steps = 60", "steps = 400")
        .replace("seeds = [0, 1]", "seeds = [3]");
    let file = write(tmp.path(), "small.toml", &text);
    let file = file.to_str().unwrap();
    ok(&descent(
        tmp.path(),
        &["run", file, "--out", "whole", "--quiet", "--jobs", "1"],
    ));

    let mut child = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["run", file, "--out", "killed", "--quiet", "--jobs", "1"])
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let killed = tmp.path().join("killed/small");
    // Kill once the second run has a checkpoint: the first is finished, the second halfway.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let second = killed.join("adam-s3/checkpoint.bin");
        if second.exists() {
            let header = std::fs::read(&second).unwrap_or_default();
            if header.len() > 1000 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed; make it longer"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        !killed.join("summary.json").exists(),
        "the run was killed before the end"
    );

    // A checkpoint is resumed only by the run that wrote it: edit the config, and resume
    // refuses (exit 2) instead of continuing a hybrid run.
    let edited = tmp.path().join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    let copy = Command::new("cp")
        .args(["-r", killed.to_str().unwrap(), edited.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    let edited = edited.join("small");
    let config = read(&edited.join("config.toml")).replace("lr = 0.003", "lr = 0.004");
    std::fs::write(edited.join("config.toml"), config).unwrap();
    let refused = descent(tmp.path(), &["resume", edited.to_str().unwrap(), "--quiet"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("checkpoint.bin") && stderr.contains("another configuration"),
        "{stderr}"
    );

    ok(&descent(
        tmp.path(),
        &["resume", killed.to_str().unwrap(), "--quiet"],
    ));
    let whole = tmp.path().join("whole/small");
    let runs = run_dirs(&whole);
    assert_eq!(runs.len(), 2);
    for run in runs {
        let resumed = killed.join(run.file_name().unwrap());
        assert_eq!(
            deterministic_files(&run),
            deterministic_files(&resumed),
            "{}",
            run.display()
        );
    }
    assert_eq!(reproducible_summary(&whole), reproducible_summary(&killed));
}

#[test]
fn shards_merged_give_the_unsharded_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "sweep.toml", SWEEP);
    let file = file.to_str().unwrap();
    ok(&descent(
        tmp.path(),
        &["run", file, "--out", "all", "--quiet"],
    ));
    ok(&descent(
        tmp.path(),
        &["run", file, "--out", "s0", "--shard", "0/2", "--quiet"],
    ));
    ok(&descent(
        tmp.path(),
        &["run", file, "--out", "s1", "--shard", "1/2", "--quiet"],
    ));
    assert_eq!(run_dirs(&tmp.path().join("s0/sweep")).len(), 8);
    assert_eq!(run_dirs(&tmp.path().join("s1/sweep")).len(), 8);
    ok(&descent(
        tmp.path(),
        &["merge", "s0/sweep", "s1/sweep", "--out", "merged"],
    ));
    let all = tmp.path().join("all/sweep");
    let merged = tmp.path().join("merged");
    assert_eq!(run_dirs(&merged).len(), 16);
    assert_eq!(reproducible_summary(&all), reproducible_summary(&merged));
    // The sweep crosses the stability limit 2/lambda_max = 0.2 of plain GD.
    let summary = reproducible_summary(&all);
    let gd_021 = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["variant"] == "gd" && g["point"] == "lr=0.21")
        .unwrap();
    assert_eq!(gd_021["diverged"].as_array().unwrap().len(), 2, "{gd_021}");
}

#[test]
fn a_diverging_variant_is_reported_while_the_others_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let text = r#"
name = "cliff"
[problem]
landscape = "elongated_bowl"
start = [-4.0, 1.5]
[budget]
steps = 300
[[variants]]
name = "stable"
lr = 0.2
optimizer = { kind = "sgd" }
[[variants]]
name = "far-above"
lr = 1.0
optimizer = { kind = "sgd" }
[[variants]]
name = "adam"
lr = 0.1
optimizer = { kind = "adam" }
"#;
    let file = write(tmp.path(), "cliff.toml", text);
    let out = descent(
        tmp.path(),
        &["run", file.to_str().unwrap(), "--out", "o", "--quiet"],
    );
    ok(&out);
    let dir = tmp.path().join("o/cliff");
    let record = |run: &str| -> serde_json::Value {
        serde_json::from_str(&read(&dir.join(run).join("run.json"))).unwrap()
    };
    let far = record("far-above-s0");
    assert_eq!(far["status"], "diverged");
    // lr = 1 on eigenvalue 8: the error grows 7x per step, the loss 49x: 1e6 x the start loss
    // (25) is passed at step 4.
    let step = far["diverged_at"].as_u64().unwrap();
    assert!((3..=6).contains(&step), "{step}");
    for run in ["stable-s0", "adam-s0"] {
        assert_eq!(record(run)["status"], "finished");
        assert_eq!(record(run)["steps"], 300);
    }
    let md = read(&dir.join("summary.md"));
    assert!(md.contains(&format!("seed 0 at step {step}")), "{md}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("far-above"), "{stdout}");
}

/// `descent compare` on one backend listed twice: bit-identical, so it agrees; with the
/// second copy's learning rate 1% off it must disagree, and on the first step, because
/// after 200 steps the final metrics still sit inside the seed-to-seed spread.
#[test]
fn compare_catches_a_one_percent_learning_rate_error_on_the_first_step() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "adam",
        r#"
name = "adam"
description = "MLP on the digits with Adam"
[problem]
dataset = "digits"
model = "mlp"
hidden = [32]
standardize = "global"
[batch]
size = 64
[[variants]]
name = "adam"
lr = 0.003
optimizer = { kind = "adam" }
"#,
    );
    let compare = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "compare",
            file.to_str().unwrap(),
            "--backends",
            "ndarray,ndarray",
            "--steps",
            "200",
            "--seeds",
            "0,1,2",
            "--out",
            "out",
            "--overwrite",
        ];
        args.extend(extra);
        ok(&descent(tmp.path(), &args));
        serde_json::from_str(&read(&tmp.path().join("out/adam-compare/compare.json"))).unwrap()
    };
    let same = compare(&[]);
    assert!(
        same["verdict"].as_str().unwrap().starts_with("AGREE"),
        "{same}"
    );
    let perturbed = compare(&["--perturb-lr", "1.01"]);
    assert!(
        perturbed["verdict"]
            .as_str()
            .unwrap()
            .starts_with("DISAGREE")
    );
    for step in perturbed["one_step"].as_array().unwrap() {
        assert_eq!(step["agree"], false, "{step}");
        assert_eq!(step["worst_gradient_difference"], 0.0, "{step}");
    }
    // The metrics alone would have passed it.
    for metric in perturbed["final_metrics"].as_array().unwrap() {
        assert_eq!(metric["agree"], true, "{metric}");
    }
}

/// ASGD is evaluated at its running average: on a noisy bowl where SGD at the same constant
/// rate keeps bouncing, the average sits orders of magnitude closer to the minimum.
#[test]
fn asgd_is_evaluated_at_its_average() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "asgd",
        r#"
name = "asgd"
description = "averaging cancels SGD's noise"
[problem]
landscape = "elongated_bowl"
start = [3.0, 2.0]
noise_sigma = 1.0
noise_examples = 1000
[batch]
size = 1
[budget]
steps = 3000
[[variants]]
name = "sgd"
lr = 0.05
optimizer = { kind = "sgd" }
[[variants]]
name = "asgd"
lr = 0.05
optimizer = { kind = "asgd", t0 = 100.0 }
"#,
    );
    ok(&descent(
        tmp.path(),
        &["run", file.to_str().unwrap(), "--out", "out", "--quiet"],
    ));
    let summary: serde_json::Value =
        serde_json::from_str(&read(&tmp.path().join("out/asgd/summary.json"))).unwrap();
    let final_loss = |variant: &str| {
        summary["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["variant"] == variant)
            .unwrap()["metrics"]["final_test_loss"]["mean"]
            .as_f64()
            .unwrap()
    };
    let (sgd, asgd) = (final_loss("sgd"), final_loss("asgd"));
    assert!(asgd < 1e-3 * sgd, "asgd {asgd} vs sgd {sgd}");
}

/// `kind = "sam"`: one step on x^2 + 4 y^2 from (1, 1) is SGD at the ascent point, computed
/// here by hand.
#[test]
fn sam_steps_with_the_gradient_at_the_ascent_point() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(
        tmp.path(),
        "sam",
        r#"
name = "sam"
description = "one SAM step"
[problem]
landscape = "elongated_bowl"
start = [1.0, 1.0]
[budget]
steps = 1
[eval]
log_every = 1
[[variants]]
name = "sam"
lr = 0.1
optimizer = { kind = "sam", rho = 0.1, epsilon = 0.0, inner = { kind = "sgd" } }
"#,
    );
    ok(&descent(
        tmp.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            "out",
            "--quiet",
            "--precision",
            "f64",
        ],
    ));
    let text = read(&tmp.path().join("out/sam/sam-s0/trajectory.csv"));
    let last: Vec<f64> = text
        .lines()
        .last()
        .unwrap()
        .split(',')
        .skip(1)
        .take(2)
        .map(|c| c.parse().unwrap())
        .collect();
    // g = (2, 8), |g| = sqrt(68); w' = w + 0.1 g/|g|; w <- w - 0.1 (2 w'_0, 8 w'_1).
    let norm = 68f64.sqrt();
    let ascent = [1.0 + 0.2 / norm, 1.0 + 0.8 / norm];
    let expected = [1.0 - 0.2 * ascent[0], 1.0 - 0.8 * ascent[1]];
    for (got, want) in last.iter().zip(expected) {
        assert!((got - want).abs() < 1e-12, "{last:?} vs {expected:?}");
    }
}
