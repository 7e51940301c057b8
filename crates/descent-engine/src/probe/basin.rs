//! `basin`: which known critical point of a landscape is nearest (its index in the
//! landscape's list of critical points) and how far it is; the summary counts the seeds that
//! end in each.

use anyhow::{Context, Result};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};
use crate::problem::Task;

/// `[[measure]] kind = "basin"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "basin",
    summary: "basin (index of the nearest known critical point) and basin_distance",
    landscapes_only: true,
    categorical: &["basin"],
    unplotted: &[],
    main: "",
    build: |table, task, field| {
        let Options {} = options(table, field)?;
        let Task::Landscape(t) = task else {
            return Err(format!("{field}: basin needs a landscape problem"));
        };
        if t.landscape.critical_points().is_empty() {
            return Err(format!(
                "{field}: the {} landscape lists no critical points",
                t.landscape.name()
            ));
        }
        Ok(Box::new(Basin))
    },
};

struct Basin;

impl Probe for Basin {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let landscape = &subject
            .landscape()
            .context("internal error: basin on a problem without a landscape")?
            .landscape;
        let w = subject.parameters();
        let (index, distance) = landscape
            .critical_points()
            .iter()
            .map(|c| super::norm(&difference(&c.point, w)))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .context("internal error: no critical points")?;
        Ok(vec![
            ("basin".to_string(), index as f64),
            ("basin_distance".to_string(), distance),
        ]
        .into())
    }
}

fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a - b).collect()
}
