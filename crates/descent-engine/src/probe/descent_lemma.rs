//! `descent_lemma`: whether each step made the progress smoothness guarantees.
//!
//! For an `L`-smooth objective the descent lemma bounds a gradient step from `w`:
//! `f(w - eta g) <= f(w) - eta (1 - L eta / 2) |g|^2`. At `eta = 1/L` that is a decrease of at
//! least `|g|^2 / (2L)`; below `2/L` some decrease; at `2/L` and above, none. Measured at
//! consecutive steps (`every = 1`) of full-batch GD, `lemma_ratio = (f_k - f_{k+1}) /
//! (|g_k|^2 / (2L))` is the decrease made in units of the guarantee at `1/L`: at least 1
//! there, positive below `2/L`, negative when a step went uphill. `lemma_ratio_min` is the
//! smallest so far. Only measurements one step apart are compared (`every = 1`; a gap, as
//! after a checkpoint's step or in `descent surface` over snapshots, is skipped). Nor are
//! steps whose guaranteed decrease is within reach of rounding, once a run has nearly
//! converged: below 2^14 machine epsilons of `f` (a loss summed in `f32` over many items is
//! off by several epsilons of itself; measured on least squares, ~10), or with
//! `|g| < 2048 L eps |w|` (rounding the new weights moves `f` by up to `eps |g| |w|`): either
//! could put the ratio off by more than about 0.1%.

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
    previous: Option<Point>,
    smallest: f64,
}

/// What the last measurement saw.
#[derive(Debug, Clone, Copy)]
struct Point {
    step: u64,
    loss: f64,
    grad_norm_sq: f64,
    weight_norm: f64,
}

impl Probe for DescentLemma {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let (loss, gradient) = subject.loss_and_gradient(&w, None)?;
        let now = Point {
            step,
            loss,
            grad_norm_sq: dot(&gradient, &gradient),
            weight_norm: dot(&w, &w).sqrt(),
        };
        let epsilon = subject.difference_step().powi(3);
        let mut values = Vec::new();
        if let Some(before) = self.previous.replace(now)
            && before.step + 1 == step
        {
            let guaranteed = before.grad_norm_sq / (2.0 * self.smoothness);
            let above_rounding = guaranteed > 16384.0 * epsilon * before.loss.abs()
                && before.grad_norm_sq.sqrt()
                    > 2048.0 * self.smoothness * epsilon * before.weight_norm;
            if above_rounding || !loss.is_finite() {
                let ratio = (before.loss - loss) / guaranteed;
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
            // Steps are far below 2^53: exact as f64.
            Some(p) => vec![
                self.smallest,
                p.step as f64,
                p.loss,
                p.grad_norm_sq,
                p.weight_norm,
            ],
            None => vec![self.smallest],
        }
    }

    fn restore(&mut self, state: Vec<f64>) {
        match state[..] {
            [smallest, step, loss, grad_norm_sq, weight_norm] => {
                self.smallest = smallest;
                self.previous = Some(Point {
                    step: step as u64,
                    loss,
                    grad_norm_sq,
                    weight_norm,
                });
            }
            [smallest] => self.smallest = smallest,
            _ => {}
        }
    }
}
