//! What a run leaves on disk, written atomically (temporary file, then rename), so a crash
//! at any moment leaves either the old file or the new one, never half of one.
//!
//! Per run directory: `metrics.csv` (deterministic: the same run gives the same bytes),
//! `timing.csv` (wall seconds, which never repeat), `trajectory.csv` (landscapes),
//! `measurements.csv` (further per-evaluation measurements), `profiles.csv` (the probes'
//! slices, interpolations and spectral densities), `run.json` (what happened),
//! and while it runs `checkpoint.bin`. [`crate::run_files`] reads them back.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::state::{
    BARRIERS_COLUMNS, BarrierPoint, MEASUREMENTS_COLUMNS, METRICS_HEADER, MetricsColumn,
    MetricsRow, PROFILES_COLUMNS, ProfilePoint, Progressed, RunRecord, TIMING_COLUMNS,
    TrajectoryRow,
};

/// A run's record: [`RunRecord`] as JSON, written when the run ends.
pub const RUN_JSON: &str = "run.json";
/// A run's [`MetricsRow`]s.
pub const METRICS_CSV: &str = "metrics.csv";
/// A run's wall seconds by step ([`TIMING_COLUMNS`]).
pub const TIMING_CSV: &str = "timing.csv";
/// A landscape run's [`TrajectoryRow`]s.
pub const TRAJECTORY_CSV: &str = "trajectory.csv";
/// A run's further measurements ([`MEASUREMENTS_COLUMNS`]).
pub const MEASUREMENTS_CSV: &str = "measurements.csv";
/// A run's probe profiles ([`PROFILES_COLUMNS`]).
pub const PROFILES_CSV: &str = "profiles.csv";
/// A run's final parameters, flattened in the module's visiting order ([`write_parameters`]).
pub const PARAMETERS_BIN: &str = "parameters.bin";
/// A run's parameters at several steps (`[output] snapshots_every`), one `<step>.bin` each.
pub const SNAPSHOTS_DIR: &str = "snapshots";
/// An experiment's [`BarrierPoint`]s ([`BARRIERS_COLUMNS`]).
pub const BARRIERS_CSV: &str = "barriers.csv";
/// An unfinished run's [`Checkpoint`], removed when the run ends.
pub const CHECKPOINT_BIN: &str = "checkpoint.bin";

/// Writes `contents` to `path` atomically.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// `v` in the shortest text that reads back to the same `f64`: Rust's shortest round-trip
/// digits, written positionally (`0.5`, `1234.5`) or with an exponent
/// (`2.147483647999985e-21`, `1e-300`), whichever is shorter (positional on a tie).
pub fn number(v: f64) -> String {
    let plain = v.to_string();
    let exponent = format!("{v:e}");
    if exponent.len() < plain.len() {
        exponent
    } else {
        plain
    }
}

fn cell(value: Option<f64>) -> String {
    value.map(number).unwrap_or_default()
}

/// The cells of one `metrics.csv` row as [`metrics_csv`] writes them, in the order of
/// [`MetricsColumn::ALL`].
pub fn metrics_cells(r: &MetricsRow) -> [String; 10] {
    MetricsColumn::ALL.map(|column| match column {
        MetricsColumn::Step => r.step.to_string(),
        MetricsColumn::Epoch => r.epoch.to_string(),
        MetricsColumn::Samples => r.samples.to_string(),
        other => cell(r.value(other)),
    })
}

/// `metrics.csv` text.
pub fn metrics_csv(rows: &[MetricsRow]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(METRICS_HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&metrics_cells(r).join(","));
        out.push('\n');
    }
    out
}

/// A `timing.csv` cell of wall seconds: to the microsecond.
pub fn seconds_cell(seconds: f64) -> String {
    format!("{seconds:.6}")
}

/// A header line: `columns` joined by commas.
fn header<S: AsRef<str>>(columns: &[S]) -> String {
    let mut out = String::new();
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(column.as_ref());
    }
    out.push('\n');
    out
}

fn timing_csv(timing: &[(u64, f64)]) -> String {
    let mut out = header(&TIMING_COLUMNS);
    for (step, s) in timing {
        let _ = writeln!(out, "{step},{}", seconds_cell(*s));
    }
    out
}

fn trajectory_csv(rows: &[TrajectoryRow]) -> String {
    let dim = rows.first().map_or(0, |r| r.w.len());
    let mut out = header(&TrajectoryRow::columns(dim));
    for r in rows {
        let _ = write!(out, "{}", r.step);
        for &w in &r.w {
            let _ = write!(out, ",{}", number(w));
        }
        let _ = writeln!(out, ",{}", cell(r.loss));
    }
    out
}

fn measurements_csv(rows: &[(u64, String, f64)]) -> String {
    let mut out = header(&MEASUREMENTS_COLUMNS);
    for (step, name, value) in rows {
        let _ = writeln!(out, "{step},{name},{}", number(*value));
    }
    out
}

fn profiles_csv(rows: &[(u64, ProfilePoint)]) -> String {
    let mut out = header(&PROFILES_COLUMNS);
    for (step, p) in rows {
        let _ = writeln!(
            out,
            "{step},{},{},{},{},{}",
            p.name,
            p.series,
            number(p.x),
            cell(p.y),
            number(p.value)
        );
    }
    out
}

/// The magic bytes of `parameters.bin`, followed by the values as little-endian `f64`.
pub const PARAMETERS_MAGIC: &[u8; 8] = b"DSCNTPR1";

/// Writes `parameters` to `dir/parameters.bin`.
pub fn write_parameters(dir: &Path, parameters: &[f64]) -> Result<()> {
    write_parameter_file(&dir.join(PARAMETERS_BIN), parameters)
}

/// Writes `parameters` as the snapshot of `step` in the run directory `dir`
/// (`dir/snapshots/<step>.bin`, the format of `parameters.bin`).
pub fn write_snapshot(dir: &Path, step: u64, parameters: &[f64]) -> Result<()> {
    let snapshots = dir.join(SNAPSHOTS_DIR);
    std::fs::create_dir_all(&snapshots)
        .with_context(|| format!("cannot create {}", snapshots.display()))?;
    write_parameter_file(&snapshots.join(format!("{step}.bin")), parameters)
}

fn write_parameter_file(path: &Path, parameters: &[f64]) -> Result<()> {
    let mut bytes = PARAMETERS_MAGIC.to_vec();
    bytes.reserve(8 * parameters.len());
    for p in parameters {
        bytes.extend_from_slice(&p.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// Writes `barriers.csv` into the experiment directory `dir`.
pub fn write_barriers(dir: &Path, rows: &[BarrierPoint]) -> Result<()> {
    let mut out = header(&BARRIERS_COLUMNS);
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{}",
            r.group,
            r.seed_a,
            r.seed_b,
            r.set,
            number(r.a),
            number(r.loss),
            cell(r.accuracy)
        );
    }
    write_atomic(&dir.join(BARRIERS_CSV), out.as_bytes())
}

fn write_tables(dir: &Path, state: &Progressed) -> Result<()> {
    write_atomic(&dir.join(METRICS_CSV), metrics_csv(&state.rows).as_bytes())?;
    write_atomic(&dir.join(TIMING_CSV), timing_csv(&state.timing).as_bytes())?;
    if !state.trajectory.is_empty() {
        write_atomic(
            &dir.join(TRAJECTORY_CSV),
            trajectory_csv(&state.trajectory).as_bytes(),
        )?;
    }
    if !state.measurements.is_empty() {
        write_atomic(
            &dir.join(MEASUREMENTS_CSV),
            measurements_csv(&state.measurements).as_bytes(),
        )?;
    }
    if !state.profiles.is_empty() {
        write_atomic(
            &dir.join(PROFILES_CSV),
            profiles_csv(&state.profiles).as_bytes(),
        )?;
    }
    Ok(())
}

/// A checkpoint: the progress so far and the two records.
pub struct Checkpoint {
    /// Steps, rows and the rest.
    pub progress: Progressed,
    /// The model record (burn, f64 precision).
    pub module: Vec<u8>,
    /// The optimizer record.
    pub optimizer: Vec<u8>,
}

const MAGIC: &[u8; 8] = b"DSCNTCK1";

fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    for part in parts {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn unframe(bytes: &[u8], path: &Path) -> Result<Vec<Vec<u8>>> {
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        bail!("{}: not a descent checkpoint", path.display());
    };
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<8>()
            .with_context(|| format!("{}: truncated checkpoint", path.display()))?;
        let len = u64::from_le_bytes(*len) as usize;
        if tail.len() < len {
            bail!("{}: truncated checkpoint", path.display());
        }
        parts.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    Ok(parts)
}

/// Writes the tables so far and the checkpoint (the checkpoint last: if the process dies
/// between the two, the tables are only ahead, and a resume rewrites them).
pub fn write_partial(dir: &Path, checkpoint: &Checkpoint) -> Result<()> {
    write_tables(dir, &checkpoint.progress)?;
    // MessagePack stores every f64 as its 8 bytes: the metrics reload bit for bit.
    let header = rmp_serde::to_vec(&checkpoint.progress)?;
    let bytes = frame(&[&header, &checkpoint.module, &checkpoint.optimizer]);
    write_atomic(&dir.join(CHECKPOINT_BIN), &bytes)
}

/// The checkpoint in `dir`, if any.
pub fn read_checkpoint(dir: &Path) -> Result<Option<Checkpoint>> {
    let path = dir.join(CHECKPOINT_BIN);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut parts = unframe(&bytes, &path)?.into_iter();
    let (Some(header), Some(module), Some(optimizer)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("{}: incomplete checkpoint", path.display());
    };
    let progress =
        rmp_serde::from_slice(&header).with_context(|| format!("{}: header", path.display()))?;
    Ok(Some(Checkpoint {
        progress,
        module,
        optimizer,
    }))
}

/// Writes the final tables and `run.json`, then removes the checkpoint.
pub fn write_run(dir: &Path, state: &Progressed, record: &RunRecord) -> Result<()> {
    write_tables(dir, state)?;
    write_atomic(&dir.join(RUN_JSON), &serde_json::to_vec_pretty(record)?)?;
    let checkpoint = dir.join(CHECKPOINT_BIN);
    if checkpoint.exists() {
        std::fs::remove_file(&checkpoint)
            .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_read_back_exactly() {
        for (v, text) in [
            (2.147483647999985e-21, "2.147483647999985e-21"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (1e21, "1e21"),
            (0.5, "0.5"),
            (1234.5, "1234.5"),
            (100.0, "100"),
            (-0.001, "-1e-3"),
            (0.01, "0.01"),
            (0.0, "0"),
        ] {
            assert_eq!(number(v), text);
        }
        let mut x = 0.123_456_789_f64;
        for _ in 0..2000 {
            x = x * 1.7 + 1e-7;
            for v in [x, 1.0 / x, -x, x * 1e-200, x * 1e200] {
                let text = number(v);
                assert_eq!(
                    text.parse::<f64>().map(f64::to_bits),
                    Ok(v.to_bits()),
                    "{text}"
                );
                assert!(text.len() <= v.to_string().len().min(format!("{v:e}").len()));
            }
        }
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "inf");
    }

    #[test]
    fn the_tables_keep_their_layout() {
        let row = MetricsRow {
            step: 20,
            epoch: 1,
            samples: 640,
            lr: Some(0.05),
            train_loss: Some(f64::INFINITY),
            test_accuracy: Some(0.75),
            ..MetricsRow::default()
        };
        assert_eq!(
            metrics_csv(&[row]),
            format!("{METRICS_HEADER}\n20,1,640,0.05,inf,,,,,0.75\n")
        );
        assert_eq!(
            timing_csv(&[(0, 0.0), (20, 1.25)]),
            "step,wall_seconds\n0,0.000000\n20,1.250000\n"
        );
        let path = TrajectoryRow {
            step: 3,
            w: vec![0.5, -1.0],
            loss: None,
        };
        assert_eq!(trajectory_csv(&[path]), "step,w0,w1,loss\n3,0.5,-1,\n");
        assert_eq!(
            measurements_csv(&[(5, "sharpness".into(), 2.5)]),
            "step,name,value\n5,sharpness,2.5\n"
        );
    }
}
