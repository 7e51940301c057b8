//! `suboptimality`: `f(w) - f*` where the minimum `f*` of the training objective is known: a
//! landscape's global minimum, or linear regression's (MSE, any L2 penalty) least-squares
//! minimum, solved once per problem in `f64`. In an `f32` run the objective itself is
//! evaluated in `f32`, so near the minimum the measurement bottoms out at f32 rounding (and
//! can dip just below 0).

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};
use crate::problem::Task;

/// `[[measure]] kind = "suboptimality"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "suboptimality",
    summary: "suboptimality: f(w) - f* on a landscape with a known minimum or linear regression",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "suboptimality",
    build: |table, task, field| {
        let Options {} = options(table, field)?;
        let minimum = match task {
            Task::Landscape(t) => t.landscape.minimum().ok_or_else(|| {
                format!(
                    "{field}: the {} landscape has no known minimum",
                    t.landscape.name()
                )
            })?,
            Task::Supervised(t) => t.known_minimum().map_err(|e| format!("{field}: {e}"))?,
        };
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
    ) -> Result<Measured> {
        let (value, _) = subject.full_train()?;
        Ok(vec![("suboptimality".to_string(), value - self.minimum)].into())
    }
}
