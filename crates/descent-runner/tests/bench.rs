//! `descent bench` end to end on its quick sizes: every workload's numbers are medians of its
//! repetitions, ratios are taken against the right reference in the right direction, and a
//! missing PyTorch is skipped with the way to install it. (Speed itself is never asserted:
//! these machines are noisy; the top README's Performance section quotes the numbers.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

mod common;

use common::{descent, ok, read};

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[test]
fn the_bench_reports_medians_and_ratios_to_its_references() {
    let tmp = tempfile::tempdir().unwrap();
    let output = descent(
        tmp.path(),
        &[
            "bench",
            "--quick",
            "--repeats",
            "3",
            "--only",
            "adam-step,landscape,sweep",
            "--backends",
            "ndarray",
            "--python",
            "/nonexistent/python3",
            "--out",
            "bench",
        ],
    );
    ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("# descent bench"), "{stdout}");
    // The sweep's 48 runs and their summary stay in its files, off the bench's report.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for noise in ["# bench-sweep", "plots in plots/", "mean ± std over seeds"] {
        assert!(!stdout.contains(noise), "{noise} in stdout:\n{stdout}");
    }
    assert!(!stderr.contains("final train loss"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&read(&tmp.path().join("bench/bench.json"))).unwrap();
    let workloads = report["workloads"].as_array().unwrap();
    assert_eq!(workloads.len(), 3);
    for w in workloads {
        let measured = w["measured"].as_array().unwrap();
        let medians: Vec<(String, f64)> = measured
            .iter()
            .map(|m| {
                let values: Vec<f64> = m["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert_eq!(values.len(), 3, "{m}");
                assert!(values.iter().all(|v| v.is_finite() && *v > 0.0), "{m}");
                assert_eq!(m["median"].as_f64().unwrap(), median(&values));
                (m["subject"].as_str().unwrap().to_string(), median(&values))
            })
            .collect();
        let name = w["workload"].as_str().unwrap();
        let lookup = |subject: &str| {
            medians
                .iter()
                .find(|(s, _)| s == subject)
                .unwrap_or_else(|| panic!("{subject} not in {name}"))
                .1
        };
        let ratio = |subject: &str| {
            w["ratios"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r[0] == subject)
                .unwrap_or_else(|| panic!("no ratio for {subject} in {name}"))[1]
                .as_f64()
                .unwrap()
        };
        if name.starts_with("adam-step") {
            // The fraction of the bandwidth a triad reaches; PyTorch skipped, with the remedy.
            assert_eq!(w["reference"], "triad (all cores)");
            for form in ["descent ndarray (fused)", "descent ndarray (tensor ops)"] {
                let expected = lookup(form) / lookup("triad (all cores)");
                assert!((ratio(form) - expected).abs() < 1e-12, "{form}");
            }
            let skipped = w["skipped"].as_array().unwrap();
            assert!(
                skipped
                    .iter()
                    .any(|s| s.as_str().unwrap().contains("pip install torch")),
                "{skipped:?}"
            );
        } else if name.starts_with("sweep") {
            // Seconds: less is better, so the ratio is serial over parallel.
            assert_eq!(w["higher_is_better"], false);
            let parallel = medians
                .iter()
                .find(|(s, _)| s.starts_with("descent --jobs"))
                .unwrap();
            let expected = lookup("--jobs 1") / parallel.1;
            assert!((ratio(&parallel.0) - expected).abs() < 1e-12);
        } else {
            assert_eq!(name, "landscape");
            assert!(lookup("descent ndarray") > 0.0);
            assert!(w["ratios"].as_array().unwrap().is_empty());
        }
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("bench"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left.len(),
        2,
        "only bench.json and bench.md stay, not the runs timed: {left:?}"
    );
}
