//! `suboptimality`: `f(w) - f*` on a landscape whose global minimum `f*` is known.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Probe, ProbeEntry, Subject, options};
use crate::problem::Task;

/// `[[measure]] kind = "suboptimality"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "suboptimality",
    summary: "suboptimality: f(w) - f* on a landscape with a known minimum",
    landscapes_only: true,
    categorical: &[],
    build: |table, task, field| {
        let Options {} = options(table, field)?;
        let Task::Landscape(t) = task else {
            return Err(format!("{field}: suboptimality needs a landscape problem"));
        };
        let minimum = t.landscape.minimum().ok_or_else(|| {
            format!(
                "{field}: the {} landscape has no known minimum",
                t.landscape.name()
            )
        })?;
        Ok(Box::new(Suboptimality { minimum }))
    },
};

struct Suboptimality {
    minimum: f64,
}

impl Probe for Suboptimality {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Vec<(String, f64)>> {
        let (value, _) = subject.full_train()?;
        Ok(vec![("suboptimality".to_string(), value - self.minimum)])
    }
}
