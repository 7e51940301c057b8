//! `gradient_noise`: how noisy the mini-batch gradient is at the current point, and how the
//! noise falls with the batch size.
//!
//! For each batch size `B`, `draws` batches of `B` distinct items are drawn uniformly (without
//! replacement, as the runner's shuffled batches are) and
//! `grad_var_b<B> = mean_m |g_m - G|^2` is measured, `G` being the full gradient: an unbiased
//! estimate of `tr Cov(g_B) = tr(Sigma) (n - B) / (B (n - 1))`, with `Sigma` the covariance of
//! one item's gradient over the `n` items. From the smallest `B < n` it reports
//! `trace_sigma`, `grad_norm_sq = |G|^2` and the simple noise scale
//! `noise_scale = tr(Sigma) / |G|^2` (McCandlish et al. 2018, *An Empirical Model of
//! Large-Batch Training*): the batch size beyond which larger batches stop paying off.

use anyhow::Result;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};

/// `[[measure]] kind = "gradient_noise", batch_sizes = [...], draws = M`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The batch sizes measured (default `[1, 8, 64]`, capped at the training set's size).
    batch_sizes: Option<Vec<usize>>,
    /// Batches drawn per size (default 16).
    draws: Option<usize>,
}

/// The most draws per batch size.
const MAX_DRAWS: usize = 100_000;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "gradient_noise",
    summary: "grad_var_b<B> per batch size, trace_sigma, grad_norm_sq and noise_scale",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "noise_scale",
    build: |table, task, field| {
        let Options { batch_sizes, draws } = options(table, field)?;
        let items = task.items();
        if items < 2 {
            return Err(format!(
                "{field}: gradient noise needs a finite sum of at least 2 items (a landscape \
                 needs noise_sigma)"
            ));
        }
        let sizes = match batch_sizes {
            Some(sizes) => {
                if let Some(bad) = sizes.iter().find(|&&b| b == 0 || b > items) {
                    return Err(format!(
                        "{field}.batch_sizes: {bad} is outside 1..={items} (the training items)"
                    ));
                }
                sizes
            }
            None => {
                let mut sizes: Vec<usize> = [1, 8, 64].into_iter().filter(|&b| b < items).collect();
                sizes.dedup();
                sizes
            }
        };
        if sizes.is_empty() {
            return Err(format!("{field}.batch_sizes: give at least one"));
        }
        let draws = draws.unwrap_or(16);
        if !(2..=MAX_DRAWS).contains(&draws) {
            return Err(format!(
                "{field}.draws = {draws}: must be in 2..={MAX_DRAWS}"
            ));
        }
        Ok(Box::new(GradientNoise { sizes, draws }))
    },
};

struct GradientNoise {
    sizes: Vec<usize>,
    draws: usize,
}

impl Probe for GradientNoise {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let n = subject.items();
        let (_, full) = subject.loss_and_gradient(&w, None)?;
        let grad_norm_sq = super::dot(&full, &full);
        let mut values = Vec::new();
        let mut trace_sigma = None;
        let mut sizes = self.sizes.clone();
        sizes.sort_unstable();
        for &size in &sizes {
            let mut total = 0.0;
            for _ in 0..self.draws {
                let batch = sample(rng, n, size).into_vec();
                let (_, g) = subject.loss_and_gradient(&w, Some(&batch))?;
                total += g
                    .iter()
                    .zip(&full)
                    .map(|(g, f)| (g - f) * (g - f))
                    .sum::<f64>();
            }
            let variance = total / self.draws as f64;
            values.push((format!("grad_var_b{size}"), variance));
            if trace_sigma.is_none() && size < n {
                let (b, n) = (size as f64, n as f64);
                trace_sigma = Some(variance * b * (n - 1.0) / (n - b));
            }
        }
        values.push(("grad_norm_sq".to_string(), grad_norm_sq));
        if let Some(t) = trace_sigma {
            values.push(("trace_sigma".to_string(), t));
            values.push(("noise_scale".to_string(), t / grad_norm_sq));
        }
        Ok(values.into())
    }
}
