//! `escape`: the first measured step at which the point is farther than `radius` from `from`
//! (default: the start): how long a run needs to leave a saddle or a plateau. Measure every
//! step (`every = 1`) for the exact step.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, norm, options};
use crate::problem::Task;

/// `[[measure]] kind = "escape", radius = R, from = [...]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// How far counts as escaped.
    radius: f64,
    /// The point escaped from (default: the start point).
    from: Option<Vec<f64>>,
}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "escape",
    summary: "escape_distance from a point, and escaped_at: the first step beyond `radius`",
    landscapes_only: true,
    categorical: &[],
    unplotted: &[],
    main: "escape_distance",
    build: |table, task, field| {
        let Options { radius, from } = options(table, field)?;
        let Task::Landscape(t) = task else {
            return Err(format!("{field}: escape needs a landscape problem"));
        };
        if !(radius.is_finite() && radius > 0.0) {
            return Err(format!(
                "{field}.radius = {radius}: must be a finite number > 0"
            ));
        }
        let from = from.unwrap_or_else(|| t.start.clone());
        if from.len() != t.landscape.dim() || from.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "{field}.from: needs {} finite coordinates",
                t.landscape.dim()
            ));
        }
        Ok(Box::new(Escape {
            radius,
            from,
            escaped_at: None,
        }))
    },
};

struct Escape {
    radius: f64,
    from: Vec<f64>,
    escaped_at: Option<u64>,
}

impl Probe for Escape {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let away: Vec<f64> = subject
            .parameters()
            .iter()
            .zip(&self.from)
            .map(|(w, f)| w - f)
            .collect();
        let distance = norm(&away);
        let mut values = vec![("escape_distance".to_string(), distance)];
        if self.escaped_at.is_none() && distance > self.radius {
            self.escaped_at = Some(step);
            values.push(("escaped_at".to_string(), step as f64));
        }
        Ok(values.into())
    }

    fn save(&self) -> Vec<f64> {
        self.escaped_at.map(|s| vec![s as f64]).unwrap_or_default()
    }

    fn restore(&mut self, state: Vec<f64>) {
        self.escaped_at = state.first().map(|&s| s as u64);
    }
}
