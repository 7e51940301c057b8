//! What a run leaves on disk, written atomically (temporary file, then rename), so a crash
//! at any moment leaves either the old file or the new one, never half of one.
//!
//! Per run directory: `metrics.csv` (deterministic: the same run gives the same bytes),
//! `timing.csv` (wall seconds, which never repeat), `trajectory.csv` (landscapes),
//! `measurements.csv` (further per-evaluation measurements), `run.json` (what happened),
//! and while it runs `checkpoint.bin`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::config::{RunSpec, SweepPoint};
use crate::train::{Limits, Progressed, TargetReached};

/// One row of `metrics.csv`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Optimizer steps taken before this row's measurements.
    pub step: u64,
    /// The epoch this step is in.
    pub epoch: u64,
    /// Items seen before this step.
    pub samples: u64,
    /// Learning rate of this step's update.
    pub lr: Option<f64>,
    /// Loss on this step's batch, before the update.
    pub train_loss: Option<f64>,
    /// Global L2 norm of this step's gradient (before clipping).
    pub grad_norm: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss (landscapes: the full objective).
    pub test_loss: Option<f64>,
    /// Test accuracy.
    pub test_accuracy: Option<f64>,
}

/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str =
    "step,epoch,samples,lr,train_loss,grad_norm,val_loss,val_accuracy,test_loss,test_accuracy";

/// One row of `trajectory.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRow {
    /// The step.
    pub step: u64,
    /// The coordinates.
    pub w: Vec<f64>,
    /// The landscape's value there.
    pub loss: Option<f64>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunStatus {
    /// It used its budget.
    Finished,
    /// Its loss became non-finite or passed the threshold at `step`.
    Diverged {
        /// The step.
        step: u64,
    },
}

/// `run.json`: everything about a finished run that the summary needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id (its directory's name).
    pub run_id: String,
    /// Position in the unsharded run list.
    pub index: usize,
    /// The variant.
    pub variant: String,
    /// The sweep point.
    pub point: SweepPoint,
    /// The seed.
    pub seed: u64,
    /// `finished` or `diverged`.
    pub status: String,
    /// The step at which it diverged.
    pub diverged_at: Option<u64>,
    /// Steps taken.
    pub steps: u64,
    /// Items seen.
    pub samples: u64,
    /// The last row's values.
    pub last: MetricsRow,
    /// The lowest train loss, validation and test loss and the highest accuracies seen.
    pub best: Best,
    /// First step at which the target was reached.
    pub steps_to_target: Option<u64>,
    /// Wall seconds until then (not reproducible).
    pub seconds_to_target: Option<f64>,
    /// Wall seconds of the whole run (not reproducible).
    pub seconds: f64,
    /// The budget the run had.
    pub limits: Limits,
}

/// Best values over a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Lowest train loss.
    pub train_loss: Option<f64>,
    /// Lowest validation loss.
    pub val_loss: Option<f64>,
    /// Highest validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Lowest test loss.
    pub test_loss: Option<f64>,
    /// Highest test accuracy.
    pub test_accuracy: Option<f64>,
}

fn fold(values: impl Iterator<Item = Option<f64>>, better: fn(f64, f64) -> f64) -> Option<f64> {
    values.flatten().filter(|v| v.is_finite()).reduce(better)
}

impl RunRecord {
    /// The record of `run` ending with `status` after `state`.
    pub fn new(
        run: &RunSpec,
        status: RunStatus,
        state: &Progressed,
        target: TargetReached,
        limits: Limits,
    ) -> RunRecord {
        let rows = &state.rows;
        let best = Best {
            train_loss: fold(rows.iter().map(|r| r.train_loss), f64::min),
            val_loss: fold(rows.iter().map(|r| r.val_loss), f64::min),
            val_accuracy: fold(rows.iter().map(|r| r.val_accuracy), f64::max),
            test_loss: fold(rows.iter().map(|r| r.test_loss), f64::min),
            test_accuracy: fold(rows.iter().map(|r| r.test_accuracy), f64::max),
        };
        let (status_name, diverged_at) = match status {
            RunStatus::Finished => ("finished", None),
            RunStatus::Diverged { step } => ("diverged", Some(step)),
        };
        RunRecord {
            run_id: run.id.clone(),
            index: run.index,
            variant: run.variant.clone(),
            point: run.point.clone(),
            seed: run.seed,
            status: status_name.into(),
            diverged_at,
            steps: state.step,
            samples: state.samples,
            last: rows.last().cloned().unwrap_or_default(),
            best,
            steps_to_target: target.map(|t| t.0),
            seconds_to_target: target.map(|t| t.1),
            seconds: state.timing.last().map_or(0.0, |t| t.1),
            limits,
        }
    }
}

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

fn cell(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// `metrics.csv` text.
pub fn metrics_csv(rows: &[MetricsRow]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(METRICS_HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            r.step,
            r.epoch,
            r.samples,
            cell(r.lr),
            cell(r.train_loss),
            cell(r.grad_norm),
            cell(r.val_loss),
            cell(r.val_accuracy),
            cell(r.test_loss),
            cell(r.test_accuracy)
        );
    }
    out
}

fn timing_csv(timing: &[(u64, f64)]) -> String {
    let mut out = String::from("step,wall_seconds\n");
    for (step, s) in timing {
        let _ = writeln!(out, "{step},{s:.6}");
    }
    out
}

fn trajectory_csv(rows: &[TrajectoryRow]) -> String {
    let dim = rows.first().map_or(0, |r| r.w.len());
    let mut out = String::from("step");
    for i in 0..dim {
        let _ = write!(out, ",w{i}");
    }
    out.push_str(",loss\n");
    for r in rows {
        let _ = write!(out, "{}", r.step);
        for w in &r.w {
            let _ = write!(out, ",{w}");
        }
        let _ = writeln!(out, ",{}", cell(r.loss));
    }
    out
}

fn measurements_csv(rows: &[(u64, String, f64)]) -> String {
    let mut out = String::from("step,name,value\n");
    for (step, name, value) in rows {
        let _ = writeln!(out, "{step},{name},{value}");
    }
    out
}

fn write_tables(dir: &Path, state: &Progressed) -> Result<()> {
    write_atomic(
        &dir.join("metrics.csv"),
        metrics_csv(&state.rows).as_bytes(),
    )?;
    write_atomic(
        &dir.join("timing.csv"),
        timing_csv(&state.timing).as_bytes(),
    )?;
    if !state.trajectory.is_empty() {
        write_atomic(
            &dir.join("trajectory.csv"),
            trajectory_csv(&state.trajectory).as_bytes(),
        )?;
    }
    if !state.measurements.is_empty() {
        write_atomic(
            &dir.join("measurements.csv"),
            measurements_csv(&state.measurements).as_bytes(),
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
    write_atomic(&dir.join("checkpoint.bin"), &bytes)
}

/// The checkpoint in `dir`, if any.
pub fn read_checkpoint(dir: &Path) -> Result<Option<Checkpoint>> {
    let path = dir.join("checkpoint.bin");
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
    write_atomic(&dir.join("run.json"), &serde_json::to_vec_pretty(record)?)?;
    let checkpoint = dir.join("checkpoint.bin");
    if checkpoint.exists() {
        std::fs::remove_file(&checkpoint)
            .with_context(|| format!("cannot remove {}", checkpoint.display()))?;
    }
    Ok(())
}

/// The finished record in `dir`, if the run finished.
pub fn read_record(dir: &Path) -> Result<Option<RunRecord>> {
    let path = dir.join("run.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let record = serde_json::from_slice(&bytes).map_err(|e| {
        crate::UsageError(format!(
            "{}: damaged run record ({e}); delete the run's directory and `descent resume` to rerun it",
            path.display()
        ))
    })?;
    Ok(Some(record))
}

/// Every run record under an experiment directory, in run-list order.
pub fn read_records(dir: &Path) -> Result<Vec<(PathBuf, RunRecord)>> {
    let mut records = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir()
            && let Some(record) = read_record(&path)?
        {
            records.push((path, record));
        }
    }
    records.sort_by_key(|(_, r)| r.index);
    Ok(records)
}
