//! `sharpness`: the Hessian eigenvalue of largest magnitude of the training objective at the
//! current point, by power iteration on Hessian-vector products (the Rayleigh quotient is
//! reported, so its sign says whether the curvature is up or down).
//!
//! Landscapes use their analytic Hessian. Models use exact Hessian-vector products by double
//! backward in the run's precision (the CNN, whose max pooling burn cannot differentiate twice, central
//! differences of gradients, `(g(w + h v) - g(w - h v)) / 2h`), on a fixed subset of `items`
//! training items drawn once per run (default: all items up to 1000). Each measurement starts from the previous one's vector (kept in checkpoints), so
//! later measurements take few iterations. The gradient step of GD is stable iff
//! `eta < 2 / sharpness` on a quadratic: the edge of stability.

use anyhow::Result;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, dot, norm, options};

/// `[[measure]] kind = "sharpness", iterations = K, tolerance = t, items = N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The most power iterations per measurement (default 20).
    iterations: Option<usize>,
    /// Stop when the Rayleigh quotient changes by less than this, relatively (default 1e-4).
    tolerance: Option<f64>,
    /// Training items the Hessian is taken over (default: all up to 1000).
    items: Option<usize>,
}

/// Default size of the item subset.
const DEFAULT_ITEMS: usize = 1000;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "sharpness",
    summary: "sharpness: the top Hessian eigenvalue (power iteration), sharpness_iterations",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "sharpness",
    build: |table, task, field| {
        let Options {
            iterations,
            tolerance,
            items,
        } = options(table, field)?;
        let iterations = iterations.unwrap_or(20);
        if !(1..=10_000).contains(&iterations) {
            return Err(format!(
                "{field}.iterations = {iterations}: must be in 1..=10000"
            ));
        }
        let tolerance = tolerance.unwrap_or(1e-4);
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(format!("{field}.tolerance = {tolerance}: must be >= 0"));
        }
        let n = task.items();
        if items == Some(0) {
            return Err(format!("{field}.items = 0: must be at least 1"));
        }
        let subset = match items {
            Some(k) => k.min(n),
            None => n.min(DEFAULT_ITEMS),
        };
        Ok(Box::new(Sharpness {
            iterations,
            tolerance,
            subset,
            chosen: None,
            vector: None,
        }))
    },
};

struct Sharpness {
    iterations: usize,
    tolerance: f64,
    /// How many items the Hessian is over (all of them: the full objective).
    subset: usize,
    /// The items, drawn at the first measurement (`None` before it, or when all are used).
    chosen: Option<Vec<usize>>,
    /// The last eigenvector estimate.
    vector: Option<Vec<f64>>,
}

impl Probe for Sharpness {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let n = subject.items();
        if self.subset < n && self.chosen.is_none() {
            let mut items = sample(rng, n, self.subset).into_vec();
            items.sort_unstable();
            self.chosen = Some(items);
        }
        let batch = self.chosen.as_deref();
        let mut v = match self.vector.take() {
            Some(v) if v.len() == w.len() && norm(&v) > 0.0 => v,
            _ => (0..w.len())
                .map(|_| StandardNormal.sample(rng))
                .collect::<Vec<f64>>(),
        };
        let length = norm(&v).max(f64::MIN_POSITIVE);
        scale(&mut v, 1.0 / length);
        let mut estimate = f64::NAN;
        let mut used = 0;
        for k in 1..=self.iterations {
            used = k;
            let hv = subject.hessian_vector(&w, &v, batch)?;
            let rayleigh = dot(&v, &hv);
            let length = norm(&hv);
            let settled = (rayleigh - estimate).abs() <= self.tolerance * rayleigh.abs();
            estimate = rayleigh;
            if length == 0.0 || !length.is_finite() {
                break;
            }
            v = hv;
            scale(&mut v, 1.0 / length);
            if settled {
                break;
            }
        }
        self.vector = Some(v);
        Ok(vec![
            ("sharpness".to_string(), estimate),
            ("sharpness_iterations".to_string(), used as f64),
        ]
        .into())
    }

    fn save(&self) -> Vec<f64> {
        // [count of chosen items, the items..., the vector...]
        let chosen = self.chosen.as_deref().unwrap_or_default();
        let mut state = vec![chosen.len() as f64];
        state.extend(chosen.iter().map(|&i| i as f64));
        state.extend(self.vector.as_deref().unwrap_or_default());
        state
    }

    fn restore(&mut self, state: Vec<f64>) {
        let Some((&count, rest)) = state.split_first() else {
            return;
        };
        let count = (count as usize).min(rest.len());
        let (chosen, vector) = rest.split_at(count);
        self.chosen = (count > 0).then(|| chosen.iter().map(|&i| i as usize).collect());
        self.vector = (!vector.is_empty()).then(|| vector.to_vec());
    }
}

fn scale(v: &mut [f64], factor: f64) {
    for x in v {
        *x *= factor;
    }
}
