//! ndarray and wgpu on the same small experiment: `descent compare` must find them in
//! agreement (same seeds, same initial weights, same batches; f32 arithmetic may differ in
//! the last bits). Needs `--features wgpu` and a Vulkan driver; CI uses Mesa's lavapipe,
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

fn compare(dir: &Path, text: &str, name: &str) -> serde_json::Value {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args([
            "compare",
            file.to_str().unwrap(),
            "--backends",
            "ndarray,wgpu",
            "--steps",
            "50",
            "--out",
            "out",
        ])
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

#[test]
fn ndarray_and_wgpu_agree_on_an_mlp_after_50_steps() {
    if skip_without_vulkan() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let result = compare(tmp.path(), MLP, "mlp-quick");
    let pairs = result["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    for pair in pairs {
        assert_eq!(pair["agree"], true, "{pair}");
        // Not trivially equal either: two implementations of f32 arithmetic.
        let difference = pair["max_abs_parameter_difference"].as_f64().unwrap();
        assert!(difference < 1e-3, "{pair}");
    }
    assert!(result["verdict"].as_str().unwrap().starts_with("AGREE"));
    for r in result["results"].as_array().unwrap() {
        assert_eq!(r["steps"], 50);
        assert!(r["median_step_seconds"].as_f64().unwrap() > 0.0);
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
    let result = compare(tmp.path(), text, "bowl");
    assert_eq!(result["pairs"][0]["agree"], true, "{result}");
}
