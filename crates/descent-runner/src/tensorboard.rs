//! TensorBoard event files from an experiment's stored runs: every `metrics.csv` and
//! `measurements.csv` column as a scalar, and each run's hyperparameters for the HParams
//! dashboard, so a sweep's runs compare in its table.
//!
//! The files are TFRecord streams of `tensorflow.Event` protocol buffers. The messages are
//! declared below with `prost`'s derive, field numbers as in TensorFlow's `event.proto`,
//! `summary.proto` and TensorBoard's `plugins/hparams/plugin_data.proto` (the crates that
//! write TensorBoard files from Rust carry no HParams support, and the most used one is no
//! longer maintained); the framing's checksum is CRC-32C from the `crc32c` crate.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use prost::Message;

use crate::run_files::{ExperimentDir, RunDir, StoredRun};
use crate::state::{MetricsColumn, Outcome, RunRecord};

/// `tensorflow.Event`.
#[derive(Clone, PartialEq, Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    what: Option<What>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`, with the two kinds written here.
#[derive(Clone, PartialEq, Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
    #[prost(message, optional, tag = "9")]
    metadata: Option<SummaryMetadata>,
}

/// `tensorflow.SummaryMetadata`.
#[derive(Clone, PartialEq, Message)]
struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    plugin_data: Option<PluginData>,
}

/// `tensorflow.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, Message)]
struct PluginData {
    #[prost(string, tag = "1")]
    plugin_name: String,
    #[prost(bytes = "vec", tag = "2")]
    content: Vec<u8>,
}

/// `tensorboard.hparams.HParamsPluginData`.
#[derive(Clone, PartialEq, Message)]
struct HParamsPluginData {
    #[prost(int32, tag = "1")]
    version: i32,
    #[prost(oneof = "HParamsData", tags = "3, 4")]
    data: Option<HParamsData>,
}

/// `HParamsPluginData.data`.
#[derive(Clone, PartialEq, prost::Oneof)]
enum HParamsData {
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, Message)]
struct SessionStartInfo {
    #[prost(btree_map = "string, message", tag = "1")]
    hparams: BTreeMap<String, ProtoValue>,
    #[prost(string, tag = "4")]
    group_name: String,
    #[prost(double, tag = "5")]
    start_time_secs: f64,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, Message)]
struct SessionEndInfo {
    /// `Status`: 1 = success, 2 = failure (a diverged run).
    #[prost(int32, tag = "1")]
    status: i32,
    #[prost(double, tag = "2")]
    end_time_secs: f64,
}

/// `google.protobuf.Value`, with the kinds a hyperparameter takes.
#[derive(Clone, PartialEq, Message)]
struct ProtoValue {
    #[prost(oneof = "Kind", tags = "2, 3, 4")]
    kind: Option<Kind>,
}

/// `google.protobuf.Value.kind`.
#[derive(Clone, PartialEq, prost::Oneof)]
enum Kind {
    #[prost(double, tag = "2")]
    Number(f64),
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(bool, tag = "4")]
    Flag(bool),
}

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of CRCs stays distinct.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its checksum, the data, its checksum.
fn append_record(data: &[u8], out: &mut Vec<u8>) {
    let length = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

fn event(wall_time: f64, step: i64, what: What) -> Vec<u8> {
    Event {
        wall_time,
        step,
        what: Some(what),
    }
    .encode_to_vec()
}

fn hparams_event(wall_time: f64, tag: &str, data: HParamsData) -> Vec<u8> {
    let content = HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    event(
        wall_time,
        0,
        What::Summary(Summary {
            value: vec![SummaryValue {
                tag: tag.into(),
                simple_value: None,
                metadata: Some(SummaryMetadata {
                    plugin_data: Some(PluginData {
                        plugin_name: "hparams".into(),
                        content,
                    }),
                }),
            }],
        }),
    )
}

/// `value` as a hyperparameter, when it is a number, a flag or a string.
fn proto_value(value: &toml::Value) -> Option<ProtoValue> {
    let kind = match value {
        toml::Value::Float(x) => Kind::Number(*x),
        toml::Value::Integer(i) => Kind::Number(*i as f64),
        toml::Value::Boolean(b) => Kind::Flag(*b),
        toml::Value::String(s) => Kind::Text(s.clone()),
        _ => return None,
    };
    Some(ProtoValue { kind: Some(kind) })
}

/// The hyperparameters of one run: its variant's resolved fields (learning rate, the
/// optimizer's and schedule's, its own batch), the experiment's batch size where the variant
/// has none, the swept values (which win), the variant and the seed.
fn hyperparameters(config: &toml::Table, record: &RunRecord) -> BTreeMap<String, ProtoValue> {
    let mut out = BTreeMap::new();
    let put = |out: &mut BTreeMap<String, ProtoValue>, key: String, value: &toml::Value| {
        if let Some(value) = proto_value(value) {
            out.insert(key, value);
        }
    };
    put(
        &mut out,
        "variant".into(),
        &toml::Value::String(record.variant.clone()),
    );
    put(
        &mut out,
        "seed".into(),
        &toml::Value::Integer(record.seed as i64),
    );
    let variant = config
        .get("variants")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table)
        .find(|v| v.get("name").and_then(toml::Value::as_str) == Some(&record.variant));
    for (key, value) in variant.into_iter().flatten() {
        match value {
            toml::Value::Table(table) => {
                for (inner, value) in table {
                    put(&mut out, format!("{key}.{inner}"), value);
                }
            }
            _ if key != "name" => put(&mut out, key.clone(), value),
            _ => {}
        }
    }
    if let Some(size) = config.get("batch").and_then(|b| b.get("size"))
        && !out.contains_key("batch.size")
    {
        put(&mut out, "batch.size".into(), size);
    }
    // A swept value is what this run used, whatever the tables say: named by its path
    // within the variant (`variants.*.optimizer.momentum` -> `optimizer.momentum`).
    for (key, value) in &record.point.values {
        let value = match value {
            serde_json::Value::Number(n) => n.as_f64().map(toml::Value::Float),
            serde_json::Value::String(s) => Some(toml::Value::String(s.clone())),
            serde_json::Value::Bool(b) => Some(toml::Value::Boolean(*b)),
            _ => None,
        };
        let name = match key.strip_prefix("variants.") {
            Some(rest) => rest.split_once('.').map_or(rest, |(_, field)| field),
            None => key,
        };
        if let Some(value) = value {
            put(&mut out, name.to_owned(), &value);
        }
    }
    out
}

/// Writes `<dir>/tensorboard/<run_id>/events.out.tfevents.<time>.descent` for every run of
/// the experiment directory `dir`; returns the files. `tensorboard --logdir
/// <dir>/tensorboard` shows every run's curves, and the HParams tab their table.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>> {
    let experiment = ExperimentDir::new(dir);
    let config = experiment.config()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let root = dir.join("tensorboard");
    let mut written = Vec::new();
    for run in experiment.runs()? {
        let bytes = events(&config, &run, now)?;
        let run_dir = root.join(&run.record.run_id);
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;
        // One file per run: an earlier export is replaced, not added to.
        for old in std::fs::read_dir(&run_dir)?.flatten() {
            if old.file_name().to_string_lossy().contains("tfevents") {
                std::fs::remove_file(old.path())?;
            }
        }
        let file = run_dir.join(format!("events.out.tfevents.{}.descent", now as u64));
        let mut handle =
            std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
        handle
            .write_all(&bytes)
            .with_context(|| format!("writing {}", file.display()))?;
        written.push(file);
    }
    Ok(written)
}

/// The event file of one run, started at `now`: the file version, the hyperparameters,
/// every logged step's scalars and how the run ended.
fn events(config: &toml::Table, run: &StoredRun, now: f64) -> Result<Vec<u8>> {
    let record = &run.record;
    let mut bytes = Vec::new();
    append_record(
        &event(now, 0, What::FileVersion("brain.Event:2".into())),
        &mut bytes,
    );
    append_record(
        &hparams_event(
            now,
            "_hparams_/session_start_info",
            HParamsData::SessionStartInfo(SessionStartInfo {
                hparams: hyperparameters(config, record),
                // The summary's grouping: a variant at a sweep point, over seeds.
                group_name: format!("{} {}", record.variant, record.point.label)
                    .trim()
                    .to_owned(),
                start_time_secs: now,
            }),
        ),
        &mut bytes,
    );
    // Each step's wall time is the start plus its training seconds, where timed.
    let wall: BTreeMap<u64, f64> = run.dir.timing()?.unwrap_or_default().into_iter().collect();
    let at = |step: u64| now + wall.get(&step).copied().unwrap_or(0.0);
    for (step, values) in scalars(&run.dir)? {
        let value = values
            .into_iter()
            .map(|(tag, v)| SummaryValue {
                tag,
                simple_value: Some(v as f32),
                metadata: None,
            })
            .collect();
        let summary = What::Summary(Summary { value });
        append_record(
            &event(at(step), i64::try_from(step).unwrap_or(0), summary),
            &mut bytes,
        );
    }
    let status = match record.status {
        Outcome::Diverged => 2,
        Outcome::Finished => 1,
    };
    append_record(
        &hparams_event(
            now,
            "_hparams_/session_end_info",
            HParamsData::SessionEndInfo(SessionEndInfo {
                status,
                end_time_secs: now + record.seconds,
            }),
        ),
        &mut bytes,
    );
    Ok(bytes)
}

/// One event's worth of scalars: the step and its `(tag, value)` pairs.
type LoggedStep = (u64, Vec<(String, f64)>);

/// What [`write`] logs of a run, as `(step, [(tag, value)])` in file order: each
/// `metrics.csv` row's finite numbers (the step column aside), then each finite measurement
/// as `measure/<name>`.
fn scalars(run: &RunDir) -> Result<Vec<LoggedStep>> {
    let mut out = Vec::new();
    for row in run.metrics()?.unwrap_or_default() {
        let values: Vec<(String, f64)> = MetricsColumn::ALL
            .into_iter()
            .filter(|c| *c != MetricsColumn::Step)
            .filter_map(|c| Some((c.name().to_owned(), row.value(c).filter(|v| v.is_finite())?)))
            .collect();
        if !values.is_empty() {
            out.push((row.step, values));
        }
    }
    for m in run.measurements()?.unwrap_or_default() {
        if m.value.is_finite() {
            out.push((m.step, vec![(format!("measure/{}", m.name), m.value)]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TFRecord's masked CRC of the empty string and of "a", as TensorFlow computes them
    /// (CRC-32C of "" is 0, of "a" is 0xc1d04330).
    #[test]
    fn masked_crc_matches_tensorflow() {
        assert_eq!(masked_crc(b""), 0xa282_ead8);
        let crc: u32 = 0xc1d0_4330;
        assert_eq!(crc32c::crc32c(b"a"), crc);
        assert_eq!(
            masked_crc(b"a"),
            crc.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }
}
