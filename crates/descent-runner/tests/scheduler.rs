//! Sweeps spread over shards by a cluster scheduler: the job files `descent run --emit`
//! writes, run the way their scheduler runs them, merged, and compared with the same sweep
//! run in one piece; a shard killed mid-run and started again continues.
//!
//! The Slurm tests submit to a real Slurm cluster (`bash .ci/slurm start` makes a one-node
//! one on Debian). Without one they are skipped, unless `DESCENT_REQUIRE_SLURM` is set, as
//! in CI.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    SWEEP, descent, deterministic_files, ok, read, reproducible_summary, run_dirs, write,
};

/// 4 runs of an MLP on the digits, long enough to be killed mid-run, with frequent
/// checkpoints.
const LONG: &str = r#"
name = "long"
seeds = [0, 1]
[problem]
dataset = "digits"
model = "mlp"
hidden = [32]
standardize = "global"
[batch]
size = 64
[budget]
steps = 20000
[eval]
every = 5000
log_every = 50
[checkpoint]
every = 200
[[variants]]
name = "momentum"
lr = 0.05
optimizer = { kind = "sgd", momentum = 0.9 }
[[variants]]
name = "adam"
lr = 0.003
optimizer = { kind = "adam" }
"#;

/// Runs `experiment` unsharded into `dir/whole` and returns its directory.
fn unsharded(dir: &Path, file: &Path, name: &str) -> PathBuf {
    ok(&descent(
        dir,
        &["run", file.to_str().unwrap(), "--out", "whole", "--quiet"],
    ));
    dir.join("whole").join(name)
}

/// `descent run FILE --emit SCHEDULER --shards N --out cluster`; returns stdout.
fn emit(dir: &Path, file: &Path, scheduler: &str, shards: usize) -> String {
    let output = descent(
        dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--emit",
            scheduler,
            "--shards",
            &shards.to_string(),
            "--out",
            "cluster",
        ],
    );
    ok(&output);
    String::from_utf8(output.stdout).unwrap()
}

/// The line of `stdout` that starts with `prefix`, without it.
fn line_after<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{stdout}"))
        .trim()
}

/// Runs `command` with bash in `dir`.
fn bash(dir: &Path, command: &str) {
    let output = Command::new("bash")
        .args(["-c", command])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every run of `whole` has a twin in `merged` with the same files, and the summaries agree
/// outside their timings.
fn assert_same_experiment(whole: &Path, merged: &Path) {
    let runs = run_dirs(whole);
    assert_eq!(run_dirs(merged).len(), runs.len(), "{}", merged.display());
    for run in &runs {
        assert_eq!(
            deterministic_files(run),
            deterministic_files(&merged.join(run.file_name().unwrap())),
            "{}",
            run.display()
        );
    }
    assert_eq!(reproducible_summary(whole), reproducible_summary(merged));
}

/// The Slurm script is a shell script: run by bash with each `SLURM_ARRAY_TASK_ID`, as Slurm
/// would, its shards merge (with the merge command it prints) into the unsharded sweep.
#[test]
fn the_slurm_script_run_task_by_task_gives_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "sweep.toml", SWEEP);
    let whole = unsharded(tmp.path(), &file, "sweep");
    let stdout = emit(tmp.path(), &file, "slurm", 4);
    let script = tmp.path().join("cluster/sweep.slurm.sh");
    assert!(
        stdout.contains(&format!("sbatch {}", script.display())),
        "{stdout}"
    );
    let text = read(&script);
    for line in [
        "#SBATCH --array=0-3",
        "#SBATCH --cpus-per-task=1",
        "--shard \"$SLURM_ARRAY_TASK_ID/4\"",
        "merge",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    assert!(tmp.path().join("cluster/sweep-shards/logs").is_dir());
    for task in 0..4 {
        let status = Command::new("bash")
            .arg(&script)
            .env("SLURM_ARRAY_TASK_ID", task.to_string())
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "task {task}");
        let shard = tmp
            .path()
            .join(format!("cluster/sweep-shards/{task}/sweep"));
        assert_eq!(run_dirs(&shard).len(), 4, "{}", shard.display());
    }
    bash(tmp.path(), line_after(&stdout, "then:"));
    assert_same_experiment(&whole, &tmp.path().join("cluster/sweep"));
}

/// The Kubernetes manifest carries the experiment file in its ConfigMap and the container's
/// arguments; run with each completion index (as `$(SHARD)`), with the volumes' paths
/// mapped to local directories, its shards merge into the unsharded sweep.
#[test]
fn the_kubernetes_manifest_run_pod_by_pod_gives_the_unsharded_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "sweep.toml", SWEEP);
    let whole = unsharded(tmp.path(), &file, "sweep");
    emit(tmp.path(), &file, "kubernetes", 3);
    let manifest = read(&tmp.path().join("cluster/sweep.k8s.yaml"));
    for line in [
        "completionMode: Indexed",
        "completions: 3",
        "fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']",
    ] {
        assert!(manifest.contains(line), "{line} not in\n{manifest}");
    }
    // The ConfigMap's one entry, `experiment.toml: "<the file>"`, a JSON string as value.
    let text = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("experiment.toml: "))
        .unwrap();
    let text: String = serde_json::from_str(text).unwrap();
    assert_eq!(text, SWEEP);
    let experiment = tmp.path().join("experiment");
    std::fs::create_dir_all(&experiment).unwrap();
    write(&experiment, "experiment.toml", &text);
    let args: Vec<String> = serde_json::from_str(line_after(&manifest, "          args:")).unwrap();
    let results = tmp.path().join("results");
    for index in 0..3 {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                let a = a.replace("$(SHARD)", &index.to_string());
                // The volumes' mount points, mapped to local directories.
                if let Some(rest) = a.strip_prefix("/experiment/") {
                    experiment.join(rest).to_str().unwrap().to_string()
                } else if let Some(rest) = a.strip_prefix("/results/") {
                    results.join(rest).to_str().unwrap().to_string()
                } else {
                    a
                }
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&descent(tmp.path(), &args));
    }
    let shards: Vec<String> = (0..3)
        .map(|i| format!("results/sweep-shards/{i}/sweep"))
        .collect();
    let mut merge = vec!["merge"];
    merge.extend(shards.iter().map(String::as_str));
    merge.extend(["--out", "results/sweep"]);
    ok(&descent(tmp.path(), &merge));
    assert_same_experiment(&whole, &results.join("sweep"));
}

/// Waits until `run` (a run directory) has a checkpoint, failing if `alive` says the
/// process that should write it has ended.
fn wait_for_checkpoint(run: &Path, poll: Duration, mut alive: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let written = std::fs::metadata(run.join("checkpoint.bin")).is_ok_and(|m| m.len() > 1000);
        if written {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint in {}",
            run.display()
        );
        assert!(
            alive(),
            "the shard ended before it could be killed; make it longer"
        );
        std::thread::sleep(poll);
    }
}

/// The first run of shard 1/2 of [`LONG`] (the runs with odd index).
const FIRST_OF_SHARD_1: &str = "momentum-s1";

/// `descent run --shard I/N` is what a scheduler starts again after killing it: on the
/// shard's existing directory it continues (finished runs kept, the interrupted one resumed
/// from its checkpoint) and ends with the files of a shard never killed.
#[test]
fn a_killed_shard_continues_when_its_command_runs_again() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "long.toml", LONG);
    let file = file.to_str().unwrap();
    let shard = ["--shard", "1/2", "--quiet", "--jobs", "1"];
    ok(&descent(
        tmp.path(),
        &[&["run", file, "--out", "whole"][..], &shard].concat(),
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args([&["run", file, "--out", "killed"][..], &shard].concat())
        .current_dir(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let killed = tmp.path().join("killed/long");
    wait_for_checkpoint(
        &killed.join(FIRST_OF_SHARD_1),
        Duration::from_millis(5),
        || child.try_wait().unwrap().is_none(),
    );
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists());

    let again = descent(
        tmp.path(),
        &[&["run", file, "--out", "killed"][..], &shard].concat(),
    );
    ok(&again);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("continuing shard 1/2: 0 of 2 runs finished, 1 resume from a checkpoint"),
        "{stderr}"
    );
    assert_same_experiment(&tmp.path().join("whole/long"), &killed);
}

/// Whether a Slurm cluster answers; panics where one is required and none does.
fn slurm_missing() -> bool {
    let answers = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if answers {
        return false;
    }
    assert!(
        std::env::var_os("DESCENT_REQUIRE_SLURM").is_none(),
        "DESCENT_REQUIRE_SLURM is set but no Slurm cluster answers (bash .ci/slurm start)"
    );
    eprintln!("SKIPPED: no Slurm cluster (bash .ci/slurm start makes a one-node one)");
    true
}

/// `sbatch ARGS`, given at most 5 minutes (a `--wait` on a node that never runs the job
/// must fail, not hang CI).
fn sbatch(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("timeout")
        .arg("300")
        .arg("sbatch")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sbatch {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The job array runs on a real Slurm cluster (`sbatch --wait`), and its shards merge into
/// the unsharded sweep.
#[test]
fn a_sweep_submitted_to_slurm_merges_into_the_unsharded_sweep() {
    if slurm_missing() {
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "sweep.toml", SWEEP);
    let whole = unsharded(tmp.path(), &file, "sweep");
    let stdout = emit(tmp.path(), &file, "slurm", 4);
    let script = tmp.path().join("cluster/sweep.slurm.sh");
    sbatch(tmp.path(), &["--wait", script.to_str().unwrap()]);
    let logs: Vec<_> = std::fs::read_dir(tmp.path().join("cluster/sweep-shards/logs"))
        .unwrap()
        .collect();
    assert_eq!(logs.len(), 4, "one log per array task");
    bash(tmp.path(), line_after(&stdout, "then:"));
    assert_same_experiment(&whole, &tmp.path().join("cluster/sweep"));
    eprintln!("slurm sweep: {:.1} s", started.elapsed().as_secs_f64());
}

/// One array task cancelled with `scancel` mid-run, then its index resubmitted: it continues
/// its shard from the checkpoints, and the merged result equals the unsharded one.
#[test]
fn a_cancelled_slurm_task_resubmitted_continues_its_shard() {
    if slurm_missing() {
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "long.toml", LONG);
    let whole = unsharded(tmp.path(), &file, "long");
    let stdout = emit(tmp.path(), &file, "slurm", 2);
    let script = tmp.path().join("cluster/long.slurm.sh");
    let script = script.to_str().unwrap();
    let job = sbatch(tmp.path(), &["--parsable", script]);
    let job = job.trim().split(';').next().unwrap().to_string();
    let task = format!("{job}_1");
    let shard = tmp.path().join("cluster/long-shards/1/long");
    let in_queue = |id: &str| {
        Command::new("squeue")
            .args(["-h", "-j", id])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    };
    // squeue asks slurmctld: poll gently.
    wait_for_checkpoint(
        &shard.join(FIRST_OF_SHARD_1),
        Duration::from_millis(100),
        || in_queue(&task),
    );
    let cancel = Command::new("scancel").arg(&task).status().unwrap();
    assert!(cancel.success());
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_queue(&job) {
        assert!(Instant::now() < deadline, "job {job} did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !shard.join("summary.json").exists(),
        "the task was cancelled before the end of its shard"
    );
    assert!(
        tmp.path()
            .join("cluster/long-shards/0/long/summary.json")
            .exists(),
        "the other task finished"
    );

    sbatch(tmp.path(), &["--wait", "--array=1", script]);
    let log = std::fs::read_dir(tmp.path().join("cluster/long-shards/logs"))
        .unwrap()
        .map(|e| read(&e.unwrap().path()))
        .find(|text| text.contains("continuing shard 1/2"))
        .expect("the resubmitted task's log");
    assert!(log.contains("1 resume from a checkpoint"), "{log}");
    bash(tmp.path(), line_after(&stdout, "then:"));
    assert_same_experiment(&whole, &tmp.path().join("cluster/long"));
    eprintln!(
        "slurm cancel and resubmit: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
