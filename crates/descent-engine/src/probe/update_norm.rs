//! `update_norm`: how far the parameters moved since the last measurement, `|w_k - w_j|`.
//! With `every = 1` it is the length of each single step: the effective step an optimizer
//! takes, whatever its rate, moments and bias corrections made of the gradient.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};

/// `[[measure]] kind = "update_norm"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "update_norm",
    summary: "update_norm: |w_k - w_j| since the last measurement (every = 1: each step's length)",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "update_norm",
    build: |table, _, field| {
        let Options {} = options(table, field)?;
        Ok(Box::new(UpdateNorm { previous: None }))
    },
};

struct UpdateNorm {
    previous: Option<Vec<f64>>,
}

impl Probe for UpdateNorm {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters();
        let moved = self.previous.as_ref().map(|before| {
            before
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        });
        self.previous = Some(w.to_vec());
        Ok(moved
            .map(|m| vec![("update_norm".to_string(), m)])
            .unwrap_or_default()
            .into())
    }

    fn save(&self) -> Vec<f64> {
        self.previous.clone().unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<f64>) {
        self.previous = (!state.is_empty()).then_some(state);
    }
}
