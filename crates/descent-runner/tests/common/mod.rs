//! Readers of a run's CSV files, shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses some of them

use std::collections::BTreeMap;
use std::path::Path;

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
