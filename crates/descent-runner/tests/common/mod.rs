//! Readers of a run's files and runners of the binary, shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // each test binary uses some of them

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Column `name` of the CSV `file` of `run` (first column: the step), where the cell is set.
pub fn column(run: &Path, file: &str, name: &str) -> BTreeMap<u64, f64> {
    let text = std::fs::read_to_string(run.join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|h| *h == name).unwrap();
    lines
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (!cells[at].is_empty()).then(|| (cells[0].parse().unwrap(), cells[at].parse().unwrap()))
        })
        .collect()
}

/// `measurements.csv` of `run` as `name -> [(step, value)]`.
pub fn measurements(run: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    let text = std::fs::read_to_string(run.join("measurements.csv")).unwrap();
    let mut all: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut cells = line.split(',');
        let step = cells.next().unwrap().parse().unwrap();
        let name = cells.next().unwrap().to_string();
        let value = cells.next().unwrap().parse().unwrap();
        all.entry(name).or_default().push((step, value));
    }
    all
}

/// The first two coordinates of every row of `trajectory.csv`.
pub fn trajectory(run: &Path) -> Vec<[f64; 2]> {
    std::fs::read_to_string(run.join("trajectory.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<f64> = line
                .split(',')
                .skip(1)
                .take(2)
                .map(|x| x.parse().unwrap())
                .collect();
            [cells[0], cells[1]]
        })
        .collect()
}

/// The `descent` binary run in `dir`.
pub fn descent(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the descent binary runs")
}

/// Fails with the output unless `output` succeeded.
pub fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The run directories of an experiment, sorted.
pub fn run_dirs(experiment: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(experiment)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").exists())
        .collect();
    dirs.sort();
    dirs
}

/// The text of `path`, failing with its name.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `summary.json` without its wall-clock part.
pub fn reproducible_summary(experiment: &Path) -> serde_json::Value {
    let mut summary: serde_json::Value =
        serde_json::from_str(&read(&experiment.join("summary.json"))).unwrap();
    for group in summary["groups"].as_array_mut().unwrap() {
        group.as_object_mut().unwrap().remove("timing");
    }
    summary
}

/// The run's files that must repeat exactly.
pub fn deterministic_files(run: &Path) -> Vec<(String, String)> {
    ["metrics.csv", "trajectory.csv", "measurements.csv"]
        .iter()
        .filter(|f| run.join(f).exists())
        .map(|f| (f.to_string(), read(&run.join(f))))
        .collect()
}

/// 16 runs of a 2-D quadratic: 2 variants x 4 learning rates x 2 seeds, across plain GD's
/// stability limit 2/lambda_max = 0.2.
pub const SWEEP: &str = r#"
name = "sweep"
seeds = [0, 1]
[problem]
landscape = "quadratic"
eigenvalues = [1.0, 10.0]
angle = 0.5
start = [2.0, -1.0]
[budget]
steps = 150
[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
[[variants]]
name = "heavy-ball"
lr = 0.1
optimizer = { kind = "sgd", momentum = 0.5 }
[sweep]
"variants.*.lr" = [0.01, 0.1, 0.19, 0.21]
"#;
