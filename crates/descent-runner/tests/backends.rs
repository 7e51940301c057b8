//! ndarray beside wgpu (and flex) on the same small experiment: `descent compare` must find
//! them in agreement (same seeds, same initial weights, same batches; f32 arithmetic may
//! differ in the last bits) and must not when one is perturbed on purpose. Needs `--features
//! wgpu` and a Vulkan driver; CI uses Mesa's lavapipe,
//! which runs Vulkan on the CPU. Without a driver the test says SKIPPED, unless
//! `DESCENT_REQUIRE_WGPU=1` (set by `.ci/run`) makes that a failure.

#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::path::Path;
use std::process::Command;

/// Whether a Vulkan driver is installed (an ICD manifest where the loader looks).
fn vulkan_driver() -> bool {
    [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ]
    .iter()
    .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
        || std::env::var_os("VK_ICD_FILENAMES").is_some()
        || std::env::var_os("VK_DRIVER_FILES").is_some()
}

fn skip_without_vulkan() -> bool {
    if vulkan_driver() {
        return false;
    }
    assert!(
        std::env::var("DESCENT_REQUIRE_WGPU").is_err(),
        "DESCENT_REQUIRE_WGPU is set but no Vulkan driver is installed (apt-get install mesa-vulkan-drivers)"
    );
    eprintln!(
        "SKIPPED: no Vulkan driver (apt-get install mesa-vulkan-drivers runs wgpu on the CPU)"
    );
    true
}

const MLP: &str = r#"
name = "mlp-quick"
description = "MLP 64-32-10 on the digits, two optimizers"
seeds = [0]
[problem]
dataset = "digits"
model = "mlp"
hidden = [32]
standardize = "global"
[batch]
size = 64
[budget]
steps = 50
[[variants]]
name = "sgd"
lr = 0.05
optimizer = { kind = "sgd", momentum = 0.9 }
[[variants]]
name = "adam"
lr = 0.003
optimizer = { kind = "adam" }
"#;

fn compare(dir: &Path, text: &str, name: &str, extra: &[&str]) -> serde_json::Value {
    compare_on(dir, text, name, "ndarray,wgpu", extra)
}

fn compare_on(
    dir: &Path,
    text: &str,
    name: &str,
    backends: &str,
    extra: &[&str],
) -> serde_json::Value {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args([
            "compare",
            file.to_str().unwrap(),
            "--backends",
            backends,
            "--out",
            "out",
            "--overwrite",
        ])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ms/step"), "{stdout}");
    let json =
        std::fs::read_to_string(dir.join(format!("out/{name}-compare/compare.json"))).unwrap();
    serde_json::from_str(&json).unwrap()
}

fn all_agree(result: &serde_json::Value, section: &str) -> bool {
    result[section]
        .as_array()
        .unwrap()
        .iter()
        .all(|entry| entry["agree"] == true)
}

/// 200 steps of Adam and of SGD with momentum, 3 seeds: Adam's parameters drift apart by
/// O(lr) (rounding in near-zero gradients), yet the first step conforms and the final
/// metrics differ by less than the seeds spread them: AGREE. The same with wgpu's learning
/// rate 1% off: DISAGREE, found on the first step.
#[test]
fn ndarray_and_wgpu_agree_on_an_mlp_after_200_steps_and_a_perturbation_is_caught() {
    if skip_without_vulkan() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let steps = ["--steps", "200", "--seeds", "0,1,2"];
    let result = compare(tmp.path(), MLP, "mlp-quick", &steps);
    assert!(all_agree(&result, "one_step"), "{result}");
    assert!(all_agree(&result, "final_metrics"), "{result}");
    assert_eq!(result["one_step"].as_array().unwrap().len(), 6);
    assert!(result["verdict"].as_str().unwrap().starts_with("AGREE"));
    // Not trivially equal either: two implementations of f32 arithmetic.
    let drifted = result["drift"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["max_abs_parameter_difference"].as_f64().unwrap() > 0.0);
    assert!(drifted, "{result}");
    for r in result["results"].as_array().unwrap() {
        assert_eq!(r["steps"], 200);
        assert!(r["median_step_seconds"].as_f64().unwrap() > 0.0);
    }

    let perturbed = compare(
        tmp.path(),
        MLP,
        "mlp-quick",
        &[&steps[..], &["--perturb-lr", "1.01"]].concat(),
    );
    assert!(
        perturbed["verdict"]
            .as_str()
            .unwrap()
            .starts_with("DISAGREE")
    );
    for step in perturbed["one_step"].as_array().unwrap() {
        assert_eq!(step["agree"], false, "{step}");
    }
}

#[test]
fn ndarray_and_wgpu_walk_a_landscape_alike() {
    if skip_without_vulkan() {
        return;
    }
    let text = r#"
name = "bowl"
[problem]
landscape = "elongated_bowl"
start = [-4.0, 1.5]
[budget]
steps = 50
[[variants]]
name = "nesterov"
lr = 0.05
optimizer = { kind = "sgd", momentum = 0.8, nesterov = true }
"#;
    let tmp = tempfile::tempdir().unwrap();
    let result = compare(tmp.path(), text, "bowl", &["--steps", "50"]);
    assert!(
        result["verdict"].as_str().unwrap().starts_with("AGREE"),
        "{result}"
    );
}

/// burn-flex (im2col convolutions, SIMD, threads) trains the MLP as ndarray does: the first
/// step conforms tensor by tensor and the final metrics of 3 seeds agree. Needs no driver.
#[test]
fn ndarray_and_flex_agree_on_an_mlp() {
    if !cfg!(feature = "flex") {
        eprintln!("SKIPPED: built without the flex feature");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let result = compare_on(
        tmp.path(),
        MLP,
        "mlp-quick",
        "ndarray,flex",
        &["--steps", "100", "--seeds", "0,1,2"],
    );
    assert!(all_agree(&result, "one_step"), "{result}");
    assert!(
        result["verdict"].as_str().unwrap().starts_with("AGREE"),
        "{result}"
    );
}
