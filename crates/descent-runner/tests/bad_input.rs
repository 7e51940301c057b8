//! Bad input: malformed experiment files and command lines are refused the way `descent run
//! --help` promises. Every case runs the real binary in a fresh directory and checks that it
//! exits with status 2, that stderr names the file and the field (and, where the runner says
//! it, what is allowed), that nothing panicked, and that nothing was written: `--out` does not
//! appear (or is unchanged where an earlier, valid run made it), and no other file in the
//! directory appears or changes.
//!
//! Every config case starts from one small valid experiment ([`BASE`], [`DIGITS`]; the test
//! `the_base_configs_are_valid` checks that they are) and breaks exactly one thing; config
//! cases are checked with `descent run` and with `descent validate`, which must refuse what
//! `run` refuses.
//!
//! Runner bugs found while writing these cases are kept as `#[ignore]`d tests at the end, each
//! saying what happens and what should.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_descent");

/// The valid landscape experiment every landscape case breaks in one place.
const BASE: &str = r#"name = "bad-input-base"
description = "the valid experiment the bad-input cases break"
seeds = [0]

[problem]
landscape = "elongated_bowl"
start = [1.0, 1.0]

[budget]
steps = 3

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
"#;

/// The valid dataset experiment (the embedded digits) the dataset cases break.
const DIGITS: &str = r#"name = "bad-input-digits"
description = "the valid dataset experiment the bad-input cases break"
seeds = [0]

[problem]
dataset = "digits"
model = "mlp"
hidden = [16]

[batch]
size = 32

[budget]
steps = 3

[[variants]]
name = "gd"
lr = 0.1
optimizer = { kind = "sgd" }
"#;

/// Text that must never reach the user.
const PANIC_MARKERS: [&str; 3] = ["panicked at", "RUST_BACKTRACE", "stack backtrace"];

/// `text` with the one occurrence of `from` replaced by `to` (a missing or repeated `from`
/// is a mistake in the test, not a case).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "`{from}` must occur exactly once in the config being edited"
    );
    text.replacen(from, to, 1)
}

/// [`BASE`] with a line added after `after`.
fn add_after(after: &str, line: &str) -> String {
    edit(BASE, after, &format!("{after}\n{line}"))
}

/// [`BASE`] with a different optimizer table.
fn optimizer(table: &str) -> String {
    edit(BASE, r#"optimizer = { kind = "sgd" }"#, table)
}

/// [`BASE`] with a schedule added to its variant.
fn schedule(table: &str) -> String {
    add_after(
        r#"optimizer = { kind = "sgd" }"#,
        &format!("schedule = {table}"),
    )
}

/// [`BASE`] with a `[sweep]` table.
fn sweep(line: &str) -> String {
    format!("{BASE}\n[sweep]\n{line}\n")
}

/// [`BASE`] with a table appended.
fn append(table: &str) -> String {
    format!("{BASE}\n{table}\n")
}

/// [`BASE`] on a stochastic landscape (valid: checked by `the_base_configs_are_valid`).
fn noisy_base() -> String {
    add_after("start = [1.0, 1.0]", "noise_sigma = 0.1")
}

/// [`DIGITS`] on the synthetic blobs (valid: checked by `the_base_configs_are_valid`).
fn blobs_base() -> String {
    edit(
        &edit(DIGITS, r#"dataset = "digits""#, r#"dataset = "blobs""#),
        "hidden = [16]\n",
        "",
    )
}

/// One malformed input.
#[derive(Clone, Debug)]
struct Case {
    /// Distinct; the experiment file is written as `<name>.toml`.
    name: &'static str,
    /// The experiment file's text, if the case has one (`{file}` in `commands`).
    toml: Option<String>,
    /// The command lines run, one after the other, each of which must be refused. `{file}`
    /// is the experiment file's name, `{out}` the absolute `<dir>/out`, `{dir}` the case's
    /// directory (the current directory of the command).
    commands: Vec<Vec<String>>,
    /// What stderr must contain (the file name is added for config cases).
    expect_in_stderr: Vec<&'static str>,
    /// What stderr must not contain.
    absent_from_stderr: Vec<&'static str>,
    /// Prepares the directory before the snapshot (e.g. a first, valid run).
    setup: Option<fn(&Path)>,
}

impl Case {
    /// A malformed experiment file: `descent run FILE --out OUT` and `descent validate FILE`
    /// must both refuse it, naming the file.
    fn config(name: &'static str, toml: String, expect: &[&'static str]) -> Case {
        let file = format!("{name}.toml");
        let mut expect_in_stderr = vec![leak(file)];
        expect_in_stderr.extend_from_slice(expect);
        Case {
            name,
            toml: Some(toml),
            commands: vec![
                args(&["run", "{file}", "--out", "{out}"]),
                args(&["validate", "{file}"]),
            ],
            expect_in_stderr,
            absent_from_stderr: Vec::new(),
            setup: None,
        }
    }

    /// A malformed command line, with the valid [`BASE`] as `{file}`.
    fn cli(name: &'static str, command: &[&str], expect: &[&'static str]) -> Case {
        Case {
            name,
            toml: Some(BASE.to_string()),
            commands: vec![args(command)],
            expect_in_stderr: expect.to_vec(),
            absent_from_stderr: Vec::new(),
            setup: None,
        }
    }

    fn with_setup(mut self, setup: fn(&Path)) -> Case {
        self.setup = Some(setup);
        self
    }

    fn without(mut self, text: &'static str) -> Case {
        self.absent_from_stderr.push(text);
        self
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A `&'static str` for a file name built at run time (a few bytes per case).
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Every file and directory under `dir`, with the files' bytes: what "nothing was written"
/// compares.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                into.insert(relative, None);
                walk(root, &path, into);
            } else {
                into.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(dir, dir, &mut all);
    all
}

/// The binary with `args`, in `dir`, with a data directory that holds nothing.
fn descent(dir: &Path, args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DESCENT_DATA", dir.join("no-data"))
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the descent binary starts")
}

/// A command that must succeed (for setups).
fn descent_ok(dir: &Path, args: &[&str]) {
    let output = descent(dir, &self::args(args));
    assert!(
        output.status.success(),
        "setup `descent {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `case`; every way it falls short, as messages.
fn check(case: &Case) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("no-data")).unwrap();
    let file = format!("{}.toml", case.name);
    if let Some(text) = &case.toml {
        std::fs::write(dir.join(&file), text).unwrap();
    }
    if let Some(setup) = case.setup {
        setup(dir);
    }
    let out = dir.join("out");
    let mut failures = Vec::new();
    for command in &case.commands {
        let out_before = out.exists();
        let before = snapshot(dir);
        let command: Vec<String> = command
            .iter()
            .map(|a| {
                a.replace("{file}", &file)
                    .replace("{out}", &out.display().to_string())
                    .replace("{dir}", &dir.display().to_string())
            })
            .collect();
        let output = descent(dir, &command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut problems = Vec::new();
        if output.status.code() != Some(2) {
            problems.push(format!("exit status {:?}, not 2", output.status.code()));
        }
        for expected in &case.expect_in_stderr {
            if !stderr.contains(expected) {
                problems.push(format!("stderr lacks {expected:?}"));
            }
        }
        for absent in case.absent_from_stderr.iter().chain(&PANIC_MARKERS) {
            if stderr.contains(absent) {
                problems.push(format!("stderr contains {absent:?}"));
            }
        }
        if !out_before && out.exists() {
            problems.push(format!("{} was created", out.display()));
        }
        let after = snapshot(dir);
        if after != before {
            let changed: Vec<String> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, _)| k.display().to_string())
                .chain(
                    before
                        .keys()
                        .filter(|k| !after.contains_key(*k))
                        .map(|k| format!("{} (removed)", k.display())),
                )
                .collect();
            problems.push(format!("files written or changed: {}", changed.join(", ")));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case {:?}: `descent {}`:\n  - {}\n  stderr: {}",
                case.name,
                command.join(" "),
                problems.join("\n  - "),
                stderr.trim_end().replace('\n', "\n          ")
            ));
        }
    }
    failures
}

/// Runs one case and fails with everything it got wrong.
fn assert_case(case: &Case) {
    let failures = check(case);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Setup: a first, valid run of the case's file into `out`.
fn first_run(dir: &Path) {
    let out = dir.join("out");
    descent_ok(
        dir,
        &[
            "run",
            "run-twice-into-one-out.toml",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
}

/// Setup: shard 0/2 of the case's file, run into `out` (a later command with other seeds
/// must not continue it).
fn first_shard(dir: &Path) {
    descent_ok(
        dir,
        &[
            "run",
            "shard-of-another-config.toml",
            "--out",
            dir.join("out").to_str().unwrap(),
            "--shard",
            "0/2",
            "--quiet",
        ],
    );
}

/// Setup: `out/bad-input-base/` holding someone's notes, not a shard.
fn foreign_directory(dir: &Path) {
    std::fs::create_dir_all(dir.join("out/bad-input-base")).unwrap();
    std::fs::write(dir.join("out/bad-input-base/notes.txt"), "mine").unwrap();
}

/// Setup: a directory that is not an experiment.
fn not_an_experiment(dir: &Path) {
    std::fs::create_dir(dir.join("not-an-experiment")).unwrap();
    std::fs::write(dir.join("not-an-experiment/notes.txt"), "hello").unwrap();
}

/// Setup: two finished experiments of the same name but different configs, in `a/` and
/// `b/`.
fn two_different_experiments(dir: &Path) {
    std::fs::write(dir.join("a.toml"), BASE).unwrap();
    std::fs::write(
        dir.join("b.toml"),
        edit(BASE, "steps = 3", "steps = 4").as_bytes(),
    )
    .unwrap();
    descent_ok(dir, &["run", "a.toml", "--out", "a", "--quiet"]);
    descent_ok(dir, &["run", "b.toml", "--out", "b", "--quiet"]);
}

/// Setup: an empty directory where a dataset's files are looked for.
fn empty_data_dir(dir: &Path) {
    std::fs::create_dir(dir.join("empty-data")).unwrap();
}

/// The cases that must pass.
fn cases() -> Vec<Case> {
    let mut cases = vec![
        // --- unknown keys ---
        Case::config(
            "unknown-top-level-key",
            edit(BASE, "seeds = [0]", "seeds = [0]\ncolour = \"blue\""),
            &["colour", "expected one of", "variants"],
        ),
        Case::config(
            "unknown-problem-key",
            add_after("start = [1.0, 1.0]", "strat = [0.0, 0.0]"),
            &["strat", "problem", "expected one of", "landscape"],
        ),
        Case::config(
            "unknown-variant-key",
            add_after("lr = 0.1", "learning_rate = 0.2"),
            &["learning_rate", "variants", "expected one of", "lr"],
        ),
        Case::config(
            "unknown-optimizer-field",
            optimizer(r#"optimizer = { kind = "sgd", momentun = 0.9 }"#),
            &["variants.gd.optimizer.momentun", "allowed", "momentum"],
        ),
        Case::config(
            "unknown-schedule-field",
            schedule(r#"{ kind = "cosine", t_maxx = 3 }"#),
            &["variants.gd.schedule.t_maxx", "allowed", "t_max"],
        ),
        // --- wrong types ---
        Case::config(
            "lr-wrong-type",
            edit(BASE, "lr = 0.1", r#"lr = "fast""#),
            &["variants.gd.lr", "fast", "f64"],
        ),
        Case::config(
            "optimizer-field-wrong-type",
            optimizer(r#"optimizer = { kind = "sgd", momentum = "high" }"#),
            &[
                "variants.gd.optimizer.momentum",
                "high",
                "expected a number",
            ],
        ),
        Case::config(
            "optimizer-not-a-table",
            optimizer(r#"optimizer = "sgd""#),
            &["variants.gd.optimizer", "expected a map"],
        ),
        Case::config(
            "batch-size-word",
            append("[batch]\nsize = \"half\""),
            &["batch.size", "half", "\"full\""],
        ),
        Case::config(
            "negative-steps",
            edit(BASE, "steps = 3", "steps = -3"),
            &["budget.steps", "-3", "u64"],
        ),
        Case::config(
            "negative-seed",
            edit(BASE, "seeds = [0]", "seeds = [-1]"),
            &["seeds", "-1", "u64"],
        ),
        // --- out of range ---
        Case::config(
            "negative-lr",
            edit(BASE, "lr = 0.1", "lr = -0.1"),
            &["variants.gd.lr", "-0.1", "finite number > 0"],
        ),
        Case::config(
            "zero-lr",
            edit(BASE, "lr = 0.1", "lr = 0.0"),
            &["variants.gd.lr", "finite number > 0"],
        ),
        Case::config(
            "nan-lr",
            edit(BASE, "lr = 0.1", "lr = nan"),
            &["variants.gd.lr", "NaN", "finite number > 0"],
        ),
        Case::config(
            "adam-beta-1-one",
            optimizer(r#"optimizer = { kind = "adam", beta_1 = 1.0 }"#),
            &["variants.gd.optimizer", "beta_1", "[0, 1)"],
        ),
        Case::config(
            "negative-momentum",
            optimizer(r#"optimizer = { kind = "sgd", momentum = -0.5 }"#),
            &["variants.gd.optimizer", "momentum", ">= 0", "-0.5"],
        ),
        Case::config(
            "nesterov-without-momentum",
            optimizer(r#"optimizer = { kind = "sgd", nesterov = true }"#),
            &["variants.gd.optimizer", "Nesterov", "momentum > 0"],
        ),
        Case::config(
            "batch-size-zero",
            append("[batch]\nsize = 0"),
            &["batch.size", "at least 1", "\"full\""],
        ),
        Case::config(
            "batch-size-larger-than-dataset",
            edit(DIGITS, "size = 32", "size = 100000"),
            &["batch", "100000", "1..="],
        ),
        Case::config(
            "zero-steps",
            edit(BASE, "steps = 3", "steps = 0"),
            &["budget", "steps", "at least 1"],
        ),
        Case::config(
            "start-of-wrong-dimension",
            edit(BASE, "start = [1.0, 1.0]", "start = [1.0, 1.0, 1.0]"),
            &["problem.start", "3 coordinates", "needs 2"],
        ),
        Case::config(
            "zero-clip-norm",
            add_after("lr = 0.1", "clip_norm = 0.0"),
            &["variants.gd.clip_norm", "> 0"],
        ),
        Case::config(
            "zero-eval-every",
            append("[eval]\nevery = 0"),
            &["eval.every", "at least 1"],
        ),
        Case::config(
            "divergence-factor-below-one",
            append("[divergence]\nfactor = 0.5"),
            &["divergence.factor", "> 1"],
        ),
        Case::config(
            "zero-schedule-step-size",
            schedule(r#"{ kind = "step", step_size = 0 }"#),
            &["variants.gd.schedule", "step_size", ">= 1"],
        ),
        Case::config(
            "negative-noise",
            add_after("start = [1.0, 1.0]", "noise_sigma = -1.0"),
            &["problem.noise_sigma", "non-negative"],
        ),
        // --- unknown names ---
        Case::config(
            "sam-with-a-negative-radius",
            edit(
                BASE,
                "optimizer = { kind = \"sgd\" }",
                "optimizer = { kind = \"sam\", rho = -1.0, inner = { kind = \"sgd\" } }",
            ),
            &["variants.gd.optimizer", "rho"],
        ),
        Case::config(
            "sam-without-an-inner-optimizer",
            edit(
                BASE,
                "optimizer = { kind = \"sgd\" }",
                "optimizer = { kind = \"sam\" }",
            ),
            &["variants.gd.optimizer.inner", "missing"],
        ),
        // --- plots ---
        Case::config(
            "smoothing-weight-of-one",
            format!("{BASE}\n[plots]\nsmoothing = 1.0\n"),
            &["plots.smoothing", "weight in [0, 1)"],
        ),
        Case::config(
            "smoothing-misspelt",
            format!("{BASE}\n[plots]\nsmoothing = \"of\"\n"),
            &["plots.smoothing", "\"auto\", \"off\""],
        ),
        Case::config(
            "unknown-plots-field",
            format!("{BASE}\n[plots]\nsmooth = \"off\"\n"),
            &["plots", "smooth"],
        ),
        Case::config(
            "unknown-output-field",
            format!("{BASE}\n[output]\ntensorbord = true\n"),
            &["output", "tensorbord", "tensorboard"],
        ),
        // --- optimizers with nested tables ---
        Case::config(
            "muon-fallback-misspelt",
            edit(
                BASE,
                "optimizer = { kind = \"sgd\" }",
                "optimizer = { kind = \"muon\", fallback = { beta2 = 0.9 } }",
            ),
            &["variants.gd.optimizer.fallback.beta2", "beta_2"],
        ),
        // --- probes ---
        Case::config(
            "unknown-probe",
            format!("{BASE}\n[[measure]]\nkind = \"curvature\"\n"),
            &["measure[0].kind", "curvature", "allowed", "sharpness"],
        ),
        Case::config(
            "misspelt-probe-option",
            format!("{BASE}\n[[measure]]\nkind = \"sharpness\"\nitemz = 3\n"),
            &["measure[0]", "itemz", "items"],
        ),
        Case::config(
            "basin-on-a-dataset",
            format!("{DIGITS}\n[[measure]]\nkind = \"basin\"\n"),
            &["measure[0]", "basin", "needs a landscape"],
        ),
        Case::config(
            "gradient-noise-without-a-finite-sum",
            format!("{BASE}\n[[measure]]\nkind = \"gradient_noise\"\n"),
            &["measure[0]", "at least 2 items", "noise_sigma"],
        ),
        Case::config(
            "escape-without-a-radius",
            format!("{BASE}\n[[measure]]\nkind = \"escape\"\n"),
            &["measure[0]", "radius"],
        ),
        Case::config(
            "reference-line-on-a-categorical-probe",
            format!("{BASE}\n[[measure]]\nkind = \"basin\"\nreference = {{ a = 1.0 }}\n"),
            &["measure[0].reference", "basin", "no plotted value"],
        ),
        Case::config(
            "reference-line-at-infinity",
            format!("{BASE}\n[[measure]]\nkind = \"sharpness\"\nreference = {{ top = inf }}\n"),
            &["measure[0].reference.top", "finite"],
        ),
        Case::config(
            "suboptimality-of-an-mlp",
            format!("{DIGITS}\n[[measure]]\nkind = \"suboptimality\"\n"),
            &["measure[0]", "not known", "softmax regression"],
        ),
        Case::config(
            "probe-every-zero",
            format!("{BASE}\n[[measure]]\nkind = \"full_train\"\nevery = 0\n"),
            &["measure[0].every"],
        ),
        Case::config(
            "full-train-target-without-the-probe",
            format!("{BASE}\n[target]\nmetric = \"full_train_loss\"\nvalue = 0.1\n"),
            &["target.metric = full_train_loss", "full_train"],
        ),
        Case::config(
            "warmup-start-factor-without-warmup",
            edit(BASE, "lr = 0.1\n", "lr = 0.1\nwarmup_start_factor = 0.01\n"),
            &["variants.gd.warmup_start_factor", "needs `warmup`"],
        ),
        Case::config(
            "variant-sweep-of-an-unknown-field",
            edit(
                BASE,
                "lr = 0.1\n",
                "lr = 0.1\nsweep = { lrr = [0.1, 0.2] }\n",
            ),
            &["variants.gd", "lrr"],
        ),
        Case::config(
            "variant-sweep-of-a-bad-value",
            edit(
                BASE,
                "lr = 0.1\n",
                "lr = 0.1\nsweep = { lr = [0.1, -1.0] }\n",
            ),
            &["variants.gd.lr", "-1"],
        ),
        Case::config(
            "unknown-model",
            edit(DIGITS, r#"model = "mlp""#, r#"model = "resnet50""#),
            &["problem.model", "resnet50", "allowed", "mlp_256_128"],
        ),
        Case::config(
            "hidden-widths-on-softmax",
            edit(DIGITS, r#"model = "mlp""#, r#"model = "softmax""#),
            &["problem.hidden", "does not apply to the softmax model"],
        ),
        Case::config(
            "cnn-on-8x8-digits",
            edit(
                DIGITS,
                "model = \"mlp\"\nhidden = [16]",
                r#"model = "cnn_2c2d""#,
            ),
            &["problem.model", "cnn_2c2d needs 28x28 images"],
        ),
        Case::config(
            "dim-on-a-fixed-dimension-landscape",
            add_after("start = [1.0, 1.0]", "dim = 3"),
            &[
                "problem.dim",
                "does not apply to the elongated_bowl landscape",
            ],
        ),
        Case::config(
            "unknown-landscape",
            edit(BASE, "elongated_bowl", "egg_crate"),
            &["problem.landscape", "egg_crate", "allowed", "rosenbrock"],
        ),
        Case::config(
            "unknown-dataset",
            edit(DIGITS, r#"dataset = "digits""#, r#"dataset = "cifar10""#),
            &["problem.dataset", "cifar10", "allowed", "fashion-mnist"],
        ),
        Case::config(
            "unknown-optimizer-kind",
            optimizer(r#"optimizer = { kind = "sgdd" }"#),
            &["variants.gd.optimizer.kind", "sgdd", "allowed", "adam"],
        ),
        Case::config(
            "missing-optimizer-kind",
            optimizer(r#"optimizer = { momentum = 0.9 }"#),
            &["variants.gd.optimizer.kind", "missing", "allowed", "sgd"],
        ),
        Case::config(
            "unknown-schedule-kind",
            schedule(r#"{ kind = "zigzag" }"#),
            &["variants.gd.schedule.kind", "zigzag", "allowed", "cosine"],
        ),
        Case::config(
            "unknown-batch-sampling",
            append("[batch]\nsampling = \"random\""),
            &["batch.sampling", "random", "allowed", "shuffled"],
        ),
        Case::config(
            "unknown-target-metric",
            append("[target]\nmetric = \"accuracy\"\nvalue = 0.9"),
            &["target.metric", "accuracy", "train_loss"],
        ),
        // --- missing, empty or contradictory ---
        Case::config(
            "empty-seed-list",
            edit(BASE, "seeds = [0]", "seeds = []"),
            &["seeds", "empty", "at least one seed"],
        ),
        Case::config(
            "no-variants-table",
            BASE[..BASE.find("[[variants]]").unwrap()].to_string(),
            &["missing field `variants`"],
        ),
        Case::config(
            "empty-variant-list",
            edit(
                &BASE[..BASE.find("[[variants]]").unwrap()],
                "seeds = [0]",
                "seeds = [0]\nvariants = []",
            ),
            &["variants", "no variants", "[[variants]]"],
        ),
        Case::config(
            "duplicate-variant-names",
            format!(
                "{BASE}\n[[variants]]\nname = \"gd\"\nlr = 0.2\noptimizer = {{ kind = \"sgd\" }}\n"
            ),
            &["variants[1].name", "\"gd\"", "used twice"],
        ),
        Case::config(
            "no-budget",
            edit(BASE, "[budget]\nsteps = 3\n", ""),
            &["missing field `budget`"],
        ),
        Case::config(
            "empty-budget",
            edit(BASE, "steps = 3\n", ""),
            &["budget", "steps, epochs, seconds"],
        ),
        Case::config(
            "landscape-and-dataset",
            add_after("start = [1.0, 1.0]", r#"dataset = "digits""#),
            &["problem", "landscape", "dataset", "not both"],
        ),
        Case::config(
            "eigenvalues-on-a-non-quadratic",
            add_after("start = [1.0, 1.0]", "eigenvalues = [1.0, 2.0]"),
            &[
                "problem.eigenvalues",
                "does not apply to the elongated_bowl landscape",
            ],
        ),
        Case::config(
            "field-of-the-other-problem-kind",
            add_after("start = [1.0, 1.0]", r#"model = "mlp""#),
            &["problem.model", "does not apply to a landscape"],
        ),
        Case::config(
            "both-clippings",
            add_after("lr = 0.1", "clip_norm = 1.0\nclip_value = 1.0"),
            &["variants.gd", "clip_norm", "clip_value", "exclusive"],
        ),
        Case::config(
            "missing-schedule-field",
            schedule(r#"{ kind = "step" }"#),
            &["variants.gd.schedule.step_size", "required"],
        ),
        Case::config(
            "name-with-a-slash",
            edit(BASE, "bad-input-base", "../escape"),
            &["name", "../escape", "no slashes"],
        ),
        Case::config(
            "missing-mnist-files",
            edit(
                DIGITS,
                r#"dataset = "digits""#,
                "dataset = \"mnist\"\ndata_path = \"empty-data\"",
            ),
            &[
                "problem.data_path",
                "MNIST",
                "empty-data",
                "train-images-idx3-ubyte",
            ],
        )
        .with_setup(empty_data_dir),
        // --- syntax ---
        Case::config(
            "toml-syntax-error",
            edit(BASE, "steps = 3", "steps = = 3"),
            &["TOML parse error", "line 10"],
        ),
        // --- sweeps ---
        Case::config(
            "sweep-empty-list",
            sweep(r#""variants.*.lr" = []"#),
            &[
                r#"sweep."variants.*.lr""#,
                "empty list",
                "at least one value",
            ],
        ),
        Case::config(
            "sweep-point-with-negative-lr",
            sweep(r#""variants.*.lr" = [0.1, -1.0]"#),
            &["sweep point lr=-1.0", "variants.gd.lr", "finite number > 0"],
        ),
        Case::config(
            "sweep-over-seeds",
            sweep(r#""seeds" = [[1]]"#),
            &[r#"sweep."seeds""#, "cannot set"],
        ),
        Case::config(
            "sweep-point-with-wrong-start",
            sweep(r#""problem.start" = [[1.0, 1.0], [1.0]]"#),
            &["sweep point start=[1.0]", "problem.start", "needs 2"],
        ),
        Case::config(
            "sweep-of-an-unknown-field",
            sweep(r#""variants.*.lrr" = [0.1]"#),
            &["lrr", "variants", "expected one of"],
        ),
        // --- files ---
        Case::cli(
            "file-does-not-exist",
            &["run", "no-such-file.toml", "--out", "{out}"],
            &["no-such-file.toml", "cannot read"],
        ),
        Case::cli(
            "file-is-a-directory",
            &["run", "no-data", "--out", "{out}"],
            &["no-data", "is a directory"],
        ),
        Case::cli(
            "validate-a-directory",
            &["validate", "no-data"],
            &["no-data", "cannot read"],
        ),
        // --- command line ---
        Case::cli(
            "unknown-backend",
            &["run", "{file}", "--out", "{out}", "--backend", "cuda"],
            &["cuda", "--backend", "possible values", "ndarray"],
        ),
        Case::cli(
            "shard-index-not-below-count",
            &["run", "{file}", "--out", "{out}", "--shard", "3/2"],
            &["--shard 3/2", "0 <= I < N"],
        ),
        Case::cli(
            "shard-not-a-fraction",
            &["run", "{file}", "--out", "{out}", "--shard", "x"],
            &["--shard x", "I/N"],
        ),
        Case::cli(
            "shard-of-zero",
            &["run", "{file}", "--out", "{out}", "--shard", "0/0"],
            &["--shard 0/0", "0 <= I < N"],
        ),
        Case::cli(
            "emit-more-shards-than-runs",
            &[
                "run", "{file}", "--out", "{out}", "--emit", "slurm", "--shards", "5",
            ],
            &["--shards 5", "1 runs"],
        ),
        Case::cli(
            "emit-zero-shards",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--emit",
                "kubernetes",
                "--shards",
                "0",
            ],
            &["--shards 0", "between 1"],
        ),
        Case::cli(
            "emit-without-shards",
            &["run", "{file}", "--out", "{out}", "--emit", "slurm"],
            &["--shards"],
        ),
        Case::cli(
            "emit-unknown-scheduler",
            &[
                "run", "{file}", "--out", "{out}", "--emit", "pbs", "--shards", "1",
            ],
            &["pbs", "possible values", "slurm", "kubernetes"],
        ),
        Case::cli(
            "emit-and-shard",
            &[
                "run", "{file}", "--out", "{out}", "--emit", "slurm", "--shards", "1", "--shard",
                "0/1",
            ],
            &["--shard", "cannot be used with"],
        ),
        Case::cli(
            "bench-unknown-workload",
            &["bench", "--only", "mnist", "--out", "{out}"],
            &["--only mnist", "no such workload", "mlp-momentum", "sweep"],
        ),
        Case::cli(
            "bench-zero-repeats",
            &["bench", "--repeats", "0", "--out", "{out}"],
            &["--repeats", "at least 1"],
        ),
        Case::cli(
            "bench-unknown-torch-device",
            &["bench", "--torch-device", "tpu", "--out", "{out}"],
            &["--torch-device tpu", "cpu, cuda or cuda:N"],
        ),
        Case::cli(
            "set-without-equals",
            &["run", "{file}", "--out", "{out}", "--set", "budget.steps"],
            &["--set budget.steps", "key.path=value"],
        ),
        Case::cli(
            "set-through-a-value",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--set",
                "budget.steps.x=1",
            ],
            &["set-through-a-value.toml", "budget.steps.x", "not a table"],
        ),
        Case::cli(
            "set-unknown-variant",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--set",
                "variants.adam.lr=1",
            ],
            &["set-unknown-variant.toml", "variants", "adam"],
        ),
        Case {
            name: "quick-unknown-variant",
            toml: Some(format!("{BASE}\n[quick]\n\"variants.adam.lr\" = 1\n")),
            commands: vec![
                args(&["run", "{file}", "--quick", "--out", "{out}"]),
                // Validate checks the [quick] overrides too, though it takes no --quick.
                args(&["validate", "{file}"]),
            ],
            expect_in_stderr: vec![
                "quick-unknown-variant.toml",
                "quick.\"variants.adam.lr\"",
                "adam",
            ],
            absent_from_stderr: Vec::new(),
            setup: None,
        },
        Case::cli(
            "set-wrong-type",
            &["validate", "{file}", "--set", "variants.*.lr=fast"],
            &["set-wrong-type.toml", "variants.gd.lr", "fast", "f64"],
        ),
        Case::cli(
            "set-to-an-invalid-value",
            &["run", "{file}", "--out", "{out}", "--set", "budget.steps=0"],
            &["set-to-an-invalid-value.toml", "budget", "at least 1"],
        ),
        Case::cli(
            "zero-jobs",
            &["run", "{file}", "--out", "{out}", "--jobs", "0"],
            &["--jobs 0", "at least one"],
        ),
        Case::cli(
            "empty-seeds-flag",
            &["run", "{file}", "--out", "{out}", "--seeds", ""],
            &["--seeds", "invalid value"],
        ),
        Case::cli(
            "unknown-subcommand",
            &["frobnicate", "{file}"],
            &["unrecognized subcommand", "frobnicate"],
        ),
        Case::cli(
            "unknown-flag",
            &["run", "{file}", "--out", "{out}", "--sed", "1"],
            &["unexpected argument", "--sed"],
        ),
        // --- [tune], read only by `descent tune`, is checked by run and validate too ---
        Case::config(
            "tune-empty-grid",
            append("[tune]\ngrid = []\nmetric = \"test_loss\""),
            &["tune.grid"],
        ),
        Case::config(
            "tune-empty-seeds",
            append("[tune]\nseeds = []\nmetric = \"test_loss\""),
            &["tune.seeds", "empty"],
        ),
        Case::config(
            "tune-metric-without-validation-items",
            append("[tune]\nmetric = \"val_loss\""),
            &["tune.metric", "validation"],
        ),
        Case::config(
            "barriers-between-seeds-with-one-seed",
            append("[barriers]"),
            &["barriers.between", "two seeds", "has 1"],
        ),
        Case::config(
            "barriers-between-variants-with-one-variant",
            append("[barriers]\nbetween = \"variants\""),
            &["barriers.between", "two variants", "has 1"],
        ),
        Case::config(
            "barriers-between-unknown",
            append("[barriers]\nbetween = \"runs\""),
            &["between", "seeds", "variants"],
        ),
        Case::config(
            "until-target-without-target",
            edit(BASE, "steps = 3", "steps = 3\nuntil_target = true"),
            &["budget.until_target", "[target]"],
        ),
        Case::config(
            "output-snapshots-every-zero",
            append("[output]\nsnapshots_every = 0"),
            &["output.snapshots_every", "at least 1"],
        ),
        // --- a path that does not exist is bad input (2) for every command that takes one ---
        Case::cli(
            "run-a-missing-file",
            &["run", "no-such-file.toml", "--out", "{out}"],
            &["no-such-file.toml"],
        ),
        Case::cli(
            "validate-a-missing-file",
            &["validate", "no-such-file.toml"],
            &["no-such-file.toml"],
        ),
        Case::cli(
            "tune-a-missing-file",
            &["tune", "no-such-file.toml", "--out", "{out}"],
            &["no-such-file.toml"],
        ),
        Case::cli(
            "compare-a-missing-file",
            &["compare", "no-such-file.toml", "--out", "{out}"],
            &["no-such-file.toml"],
        ),
        Case::cli(
            "export-a-missing-directory",
            &["export", "no-such-dir"],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "tensorboard-a-missing-directory",
            &["report", "no-such-dir", "--tensorboard"],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "resume-a-missing-directory",
            &["resume", "no-such-dir"],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "surface-a-missing-directory",
            &["surface", "no-such-dir", "--barriers", ""],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "merge-a-missing-directory",
            &["merge", "no-such-dir", "--out", "{out}"],
            &["no-such-dir"],
        ),
        Case::cli(
            "score-a-missing-directory",
            &["score", "no-such-dir", "--out", "{out}"],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "benchmark-a-missing-file",
            &["benchmark", "no-such-suite.toml", "--out", "{out}"],
            &["no-such-suite.toml", "cannot read the suite file"],
        ),
        Case::cli(
            "benchmark-an-experiment-file-as-a-suite",
            &["benchmark", "{file}", "--out", "{out}"],
            &[
                "benchmark-an-experiment-file-as-a-suite.toml",
                "unknown field",
            ],
        ),
        Case::cli(
            "score-a-directory-that-is-no-experiment",
            &["score", "not-an-experiment", "--out", "{out}"],
            &["not-an-experiment", "holds no finished runs"],
        )
        .with_setup(not_an_experiment),
        Case::cli(
            "export-a-directory-that-is-no-experiment",
            &["export", "not-an-experiment"],
            &["not-an-experiment", "holds no runs"],
        )
        .with_setup(not_an_experiment),
        // --- the other commands ---
        Case::cli(
            "resume-a-directory-that-is-no-experiment",
            &["resume", "not-an-experiment"],
            &["not-an-experiment", "config.toml", "experiment directory"],
        )
        .with_setup(not_an_experiment),
        Case::cli(
            "surface-a-directory-that-is-no-experiment",
            &["surface", "not-an-experiment", "--barriers", ""],
            &["not-an-experiment", "config.toml", "experiment directory"],
        )
        .with_setup(not_an_experiment),
        Case::cli(
            "report-a-missing-directory",
            &["report", "no-such-dir"],
            &["no-such-dir", "no such experiment directory"],
        ),
        Case::cli(
            "list-a-missing-directory",
            &["list", "no-such-dir"],
            &["no-such-dir", "cannot list"],
        ),
        Case::cli(
            "merge-a-directory-that-is-no-experiment",
            &["merge", "not-an-experiment", "--out", "{out}"],
            &["not-an-experiment", "config.toml", "experiment directory"],
        )
        .with_setup(not_an_experiment),
        Case::cli(
            "merge-different-experiments",
            &[
                "merge",
                "a/bad-input-base",
                "b/bad-input-base",
                "--out",
                "{out}",
            ],
            &[
                "b/bad-input-base",
                "differs",
                "only shards of one experiment",
            ],
        )
        .with_setup(two_different_experiments),
        // --- the output directory ---
        Case::cli(
            "run-twice-into-one-out",
            &["run", "{file}", "--out", "{out}"],
            &[
                "bad-input-base",
                "exists already",
                "--overwrite",
                "descent resume",
            ],
        )
        .with_setup(first_run),
        Case::cli(
            "shard-of-another-config",
            &[
                "run", "{file}", "--out", "{out}", "--shard", "0/2", "--seeds", "7", "--quiet",
            ],
            &["bad-input-base", "another configuration", "--overwrite"],
        )
        .with_setup(first_shard),
        Case::cli(
            "shard-into-a-foreign-directory",
            &[
                "run", "{file}", "--out", "{out}", "--shard", "0/1", "--quiet",
            ],
            &[
                "bad-input-base",
                "holds no experiment this command wrote",
                "--overwrite",
            ],
        )
        .with_setup(foreign_directory),
        Case::cli(
            "emit-a-name-slurm-cannot-take",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--emit",
                "slurm",
                "--shards",
                "1",
                "--set",
                "name=two words",
            ],
            &["two words", "--emit needs a name"],
        ),
    ];

    // The backends: flex (on by default) and wgpu (off) are cargo features.
    if cfg!(feature = "flex") {
        cases.push(Case::cli(
            "f64-on-flex",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--backend",
                "flex",
                "--precision",
                "f64",
            ],
            &["--precision f64", "flex backend", "f32 only"],
        ));
    }
    if cfg!(feature = "wgpu") {
        cases.push(Case::cli(
            "f64-on-wgpu",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--backend",
                "wgpu",
                "--precision",
                "f64",
            ],
            &["--precision f64", "f32 only"],
        ));
    } else {
        cases.push(Case::cli(
            "wgpu-not-compiled",
            &["run", "{file}", "--out", "{out}", "--backend", "wgpu"],
            &[
                "--backend wgpu",
                "not compiled",
                "available: ndarray",
                "--features wgpu",
            ],
        ));
        cases.push(Case::cli(
            "f64-on-wgpu-not-compiled",
            &[
                "run",
                "{file}",
                "--out",
                "{out}",
                "--backend",
                "wgpu",
                "--precision",
                "f64",
            ],
            &["--backend wgpu", "not compiled", "available: ndarray"],
        ));
    }

    // Fashion-MNIST falls back to the system's copy, so it can only be missing where there is
    // none (the data directory of every case, DESCENT_DATA, is empty).
    if !Path::new("/usr/share/datasets/fashion-mnist").exists() {
        cases.push(
            Case::config(
                "missing-fashion-mnist",
                edit(
                    DIGITS,
                    r#"dataset = "digits""#,
                    "dataset = \"fashion-mnist\"\ndata_path = \"empty-data\"",
                ),
                &[
                    "problem.dataset",
                    "Fashion-MNIST",
                    "empty-data",
                    "DESCENT_DATA",
                ],
            )
            .with_setup(empty_data_dir),
        );
    }
    cases
}

#[test]
fn the_base_configs_are_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (name, text) in [
        ("base", BASE.to_string()),
        ("digits", DIGITS.to_string()),
        ("noisy", noisy_base()),
        ("blobs", blobs_base()),
        (
            "step-schedule",
            schedule(r#"{ kind = "step", step_size = 2 }"#),
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        descent_ok(dir, &["validate", &format!("{name}.toml")]);
    }
}

#[test]
fn bad_input_is_refused_with_status_2_a_message_and_nothing_written() {
    let cases = cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be distinct");
    assert!(cases.len() >= 25, "only {} cases", cases.len());

    // A few at a time: each case is a handful of process starts.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let chunk = cases.len().div_ceil(threads);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().flat_map(check).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} refusals of the {} cases fell short:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

// --- Runner bugs: each case says what happens now and what should. ---

#[test]
fn zero_classes_is_refused() {
    assert_case(&Case::config(
        "zero-classes",
        edit(
            &blobs_base(),
            r#"dataset = "blobs""#,
            "dataset = \"blobs\"\nclasses = 0",
        ),
        &["problem.classes"],
    ));
}

#[test]
fn zero_hidden_width_is_refused() {
    assert_case(&Case::config(
        "zero-hidden-width",
        edit(DIGITS, "hidden = [16]", "hidden = [0]"),
        &["problem.hidden"],
    ));
}

#[test]
fn duplicate_seeds_are_named() {
    assert_case(
        &Case::config(
            "duplicate-seeds",
            edit(BASE, "seeds = [0]", "seeds = [0, 0]"),
            &["seeds"],
        )
        .without("variant names must be distinct"),
    );
}

#[test]
fn fractional_batch_size_says_what_is_allowed() {
    assert_case(
        &Case::config(
            "fractional-batch-size",
            append("[batch]\nsize = 1.5"),
            &["batch.size", "full"],
        )
        .without("BatchSizeValue"),
    );
}

#[test]
fn unknown_schedule_field_lists_only_allowed_fields() {
    assert_case(
        &Case::config(
            "unknown-schedule-field-allowed-list",
            schedule(r#"{ kind = "cosine", t_maxx = 3 }"#),
            &["variants.gd.schedule.t_maxx", "allowed", "t_max"],
        )
        .without("initial_lr"),
    );
}

#[test]
fn fractional_step_size_names_the_field() {
    assert_case(&Case::config(
        "fractional-step-size",
        schedule(r#"{ kind = "step", step_size = 2.5 }"#),
        &["variants.gd.schedule.step_size"],
    ));
}

#[test]
fn zero_noise_examples_names_the_field() {
    assert_case(&Case::config(
        "zero-noise-examples",
        edit(
            &noisy_base(),
            "noise_sigma = 0.1",
            "noise_sigma = 0.1\nnoise_examples = 0",
        ),
        &["problem.noise_examples"],
    ));
}

#[test]
fn out_that_is_a_file_is_refused() {
    fn taken(dir: &Path) {
        std::fs::write(dir.join("taken"), "not a directory").unwrap();
    }
    assert_case(
        &Case::cli(
            "out-is-a-file",
            &["run", "{file}", "--out", "taken"],
            &["taken", "--out"],
        )
        .with_setup(taken),
    );
}

#[test]
fn damaged_plan_is_refused() {
    fn damaged(dir: &Path) {
        std::fs::write(dir.join("damaged.toml"), BASE).unwrap();
        descent_ok(dir, &["run", "damaged.toml", "--out", "exp", "--quiet"]);
        std::fs::write(dir.join("exp/bad-input-base/plan.json"), "garbage").unwrap();
    }
    assert_case(
        &Case::cli(
            "resume-with-damaged-plan",
            &["resume", "exp/bad-input-base"],
            &["plan.json"],
        )
        .with_setup(damaged),
    );
}
