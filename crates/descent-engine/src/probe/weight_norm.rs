//! `weight_norm`: the Euclidean norm of all parameters, what an L2 penalty `lambda/2 |w|^2`
//! shrinks.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, norm, options};

/// `[[measure]] kind = "weight_norm"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "weight_norm",
    summary: "weight_norm: |w|, the norm of all parameters",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "weight_norm",
    build: |table, _, field| {
        let Options {} = options(table, field)?;
        Ok(Box::new(WeightNorm))
    },
};

struct WeightNorm;

impl Probe for WeightNorm {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        Ok(vec![("weight_norm".to_string(), norm(subject.parameters()))].into())
    }
}
