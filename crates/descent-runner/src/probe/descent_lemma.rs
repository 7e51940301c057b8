//! `descent_lemma`: whether each step made the progress smoothness guarantees.
//!
//! For an `L`-smooth objective the descent lemma bounds a gradient step from `w`:
//! `f(w - eta g) <= f(w) - eta (1 - L eta / 2) |g|^2`. At `eta = 1/L` that is a decrease of at
//! least `|g|^2 / (2L)`; below `2/L` some decrease; at `2/L` and above, none. Measured at
//! consecutive steps (`every = 1`) of full-batch GD, `lemma_ratio = (f_k - f_{k+1}) /
//! (|g_k|^2 / (2L))` is the decrease made in units of the guarantee at `1/L`: at least 1
//! there, positive below `2/L`, negative when a step went uphill. `lemma_ratio_min` is the
//! smallest so far. Steps whose guaranteed decrease is within reach of the rounding error of
//! `f` (below 1024 machine epsilons of it, once the run has nearly converged) are not
//! compared: there a difference of two rounded losses could be off by more than 0.2% of it.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, dot, options};

/// `[[measure]] kind = "descent_lemma", smoothness = L`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The objective's smoothness constant `L` (the largest Hessian eigenvalue bound).
    smoothness: f64,
}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "descent_lemma",
    summary: "lemma_ratio: each step's decrease over |g|^2/(2L), and its minimum lemma_ratio_min",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "lemma_ratio",
    build: |table, _, field| {
        let Options { smoothness } = options(table, field)?;
        if !(smoothness.is_finite() && smoothness > 0.0) {
            return Err(format!(
                "{field}.smoothness = {smoothness}: must be a finite number > 0"
            ));
        }
        Ok(Box::new(DescentLemma {
            smoothness,
            previous: None,
            smallest: f64::INFINITY,
        }))
    },
};

struct DescentLemma {
    smoothness: f64,
    /// `f` and `|g|^2` at the last measurement.
    previous: Option<(f64, f64)>,
    smallest: f64,
}

impl Probe for DescentLemma {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let (loss, gradient) = subject.loss_and_gradient(&w, None)?;
        let grad_norm_sq = dot(&gradient, &gradient);
        let epsilon = subject.difference_step().powi(3);
        let mut values = Vec::new();
        if let Some((before, grad_before)) = self.previous.replace((loss, grad_norm_sq)) {
            let guaranteed = grad_before / (2.0 * self.smoothness);
            if guaranteed > 1024.0 * epsilon * before.abs() || !loss.is_finite() {
                let ratio = (before - loss) / guaranteed;
                self.smallest = self.smallest.min(ratio);
                values.push(("lemma_ratio".to_string(), ratio));
            }
        }
        if self.smallest < f64::INFINITY {
            values.push(("lemma_ratio_min".to_string(), self.smallest));
        }
        Ok(values.into())
    }

    fn save(&self) -> Vec<f64> {
        match self.previous {
            Some((loss, grad)) => vec![self.smallest, loss, grad],
            None => vec![self.smallest],
        }
    }

    fn restore(&mut self, state: Vec<f64>) {
        match state[..] {
            [smallest, loss, grad] => {
                self.smallest = smallest;
                self.previous = Some((loss, grad));
            }
            [smallest] => self.smallest = smallest,
            _ => {}
        }
    }
}
