//! Fuzzes experiment files as `descent run` and `descent validate` see them: the bytes are
//! parsed as TOML, overridden, expanded into runs (sweeps, seeds) and checked completely
//! (problem, data, batches, every run's optimizer, schedule and probes; `--quick` and the
//! tuning protocol too), running nothing. Any panic,
//! overflow or huge allocation is a bug; an `Err` is the expected answer to garbage.

#![no_main]

use std::path::Path;

use descent_runner::{config, experiment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let file = Path::new("fuzz.toml");
    // Once as written, once with an override, as `--set` adds one.
    for sets in [&[][..], &["variants.*.lr=0.5".to_string()][..]] {
        if let Ok(plan) = config::parse(text, file, sets, None) {
            // `descent tune` reads the same plan: its protocol must refuse garbage too.
            let _ = descent_runner::tune::protocol(&plan, None, None, None);
            let _ = experiment::prepare(plan, None);
        }
    }
    // `--quick` applies the file's [quick] overrides first.
    if let Ok(plan) = config::parse_with(text, file, &[], None, true) {
        let _ = experiment::prepare(plan, None);
    }
});
