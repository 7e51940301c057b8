//! `grad_norm_min`: the norm of the full gradient, and its smallest value so far: the
//! quantity non-convex convergence rates bound (`min_k |grad f(w_k)|^2 <= C / k` for GD).

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, norm, options};

/// `[[measure]] kind = "grad_norm_min"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "grad_norm_min",
    summary: "full_grad_norm and full_grad_norm_min: the full gradient's norm and its minimum so far",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "full_grad_norm_min",
    build: |table, _, field| {
        let Options {} = options(table, field)?;
        Ok(Box::new(GradNormMin {
            smallest: f64::INFINITY,
        }))
    },
};

struct GradNormMin {
    smallest: f64,
}

impl Probe for GradNormMin {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let (_, gradient) = subject.loss_and_gradient(&w, None)?;
        let current = norm(&gradient);
        self.smallest = self.smallest.min(current);
        Ok(vec![
            ("full_grad_norm".to_string(), current),
            ("full_grad_norm_min".to_string(), self.smallest),
        ]
        .into())
    }

    fn save(&self) -> Vec<f64> {
        vec![self.smallest]
    }

    fn restore(&mut self, state: Vec<f64>) {
        if let [smallest] = state[..] {
            self.smallest = smallest;
        }
    }
}
