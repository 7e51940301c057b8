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
//!
//! Per batch size it also reports how well one batch's gradient points the full gradient's
//! way: `grad_cos_b<B>`, the mean cosine between them, and `agree_b<B>`, the fraction of
//! batches whose gradient is a descent direction of the full loss (`g . G > 0`). At `B = 1`
//! these say whether a single item identifies the descent direction.
//!
//! With `stratified = true` it also draws class-stratified batches of each size and reports
//! their `grad_var_strat_b<B>`: each class gets its share `B n_c / n` of the batch, rounded
//! down, and the remaining places go to classes picked by systematic sampling with the
//! fractional parts as probabilities. Every item then has the same chance `B / n` to be in a
//! batch, so the batch gradient stays unbiased, and what the variance loses is the part
//! due to how many items of each class a uniform batch happens to hold.

use anyhow::Result;
use rand::Rng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};
use crate::problem::Task;

/// `[[measure]] kind = "gradient_noise", batch_sizes = [...], draws = M`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The batch sizes measured (default `[1, 8, 64]`, capped at the training set's size).
    batch_sizes: Option<Vec<usize>>,
    /// Batches drawn per size (default 16).
    draws: Option<usize>,
    /// Also measure class-stratified batches (default false).
    stratified: Option<bool>,
}

/// The most draws per batch size.
const MAX_DRAWS: usize = 100_000;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "gradient_noise",
    summary: "grad_var_b<B>, grad_cos_b<B> and agree_b<B> per batch size, trace_sigma, grad_norm_sq and noise_scale",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "noise_scale",
    build: |table, task, field| {
        let Options {
            batch_sizes,
            draws,
            stratified,
        } = options(table, field)?;
        // The classes' items, fixed for the run: drawn from at every measurement.
        let strata = if stratified.unwrap_or(false) {
            let classes = match task {
                Task::Supervised(t) => t.train.items_by_class(),
                Task::Landscape(_) => None,
            };
            let Some(mut strata) = classes else {
                return Err(format!(
                    "{field}.stratified: stratified batches need a classification dataset"
                ));
            };
            strata.retain(|s| !s.is_empty());
            Some(strata)
        } else {
            None
        };
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
        Ok(Box::new(GradientNoise {
            sizes,
            draws,
            strata,
        }))
    },
};

struct GradientNoise {
    sizes: Vec<usize>,
    draws: usize,
    /// For stratified batches: each class's training items.
    strata: Option<Vec<Vec<usize>>>,
}

/// How `draws` batch gradients at `w`, each batch drawn by `draw`, stand to the full
/// gradient `full`.
struct BatchStatistics {
    /// Mean of `|g - G|^2`.
    variance: f64,
    /// Mean cosine between `g` and `G` (0 for a zero gradient).
    cosine: f64,
    /// Fraction with `g . G > 0`.
    agreeing: f64,
}

fn batch_statistics(
    subject: &mut dyn Subject,
    w: &[f64],
    full: &[f64],
    draws: usize,
    mut draw: impl FnMut() -> Vec<usize>,
) -> Result<BatchStatistics> {
    let full_norm_sq = super::dot(full, full);
    let (mut total, mut cosines, mut agreeing) = (0.0, 0.0, 0usize);
    for _ in 0..draws {
        let (_, g) = subject.loss_and_gradient(w, Some(&draw()))?;
        total += g
            .iter()
            .zip(full)
            .map(|(g, f)| (g - f) * (g - f))
            .sum::<f64>();
        let along = super::dot(&g, full);
        let norms = (super::dot(&g, &g) * full_norm_sq).sqrt();
        if norms > 0.0 {
            cosines += along / norms;
        }
        agreeing += usize::from(along > 0.0);
    }
    let draws = draws as f64;
    Ok(BatchStatistics {
        variance: total / draws,
        cosine: cosines / draws,
        agreeing: agreeing as f64 / draws,
    })
}

/// A batch of `size` distinct items holding `size n_c / n` items of class `c` in
/// expectation: the floor of that share, plus one for the classes that systematic sampling
/// of the fractional parts picks (so each item's chance to be drawn is exactly `size / n`).
fn stratified_batch(
    strata: &[Vec<usize>],
    n: usize,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    // Integer arithmetic: class c's share is q_c + r_c / n.
    let start = rng.random_range(0..n);
    let points_below = |x: usize| {
        if x <= start {
            0
        } else {
            (x - start).div_ceil(n)
        }
    };
    let mut batch = Vec::with_capacity(size);
    let mut cumulative = 0;
    for members in strata {
        let numerator = size * members.len();
        let (whole, rest) = (numerator / n, numerator % n);
        let extra = points_below(cumulative + rest) - points_below(cumulative);
        cumulative += rest;
        batch.extend(
            sample(rng, members.len(), whole + extra)
                .into_iter()
                .map(|k| members[k]),
        );
    }
    batch
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
            let uniform = batch_statistics(subject, &w, &full, self.draws, || {
                sample(rng, n, size).into_vec()
            })?;
            let variance = uniform.variance;
            values.push((format!("grad_var_b{size}"), variance));
            values.push((format!("grad_cos_b{size}"), uniform.cosine));
            values.push((format!("agree_b{size}"), uniform.agreeing));
            if let Some(strata) = &self.strata {
                let stratified = batch_statistics(subject, &w, &full, self.draws, || {
                    stratified_batch(strata, n, size, rng)
                })?;
                values.push((format!("grad_var_strat_b{size}"), stratified.variance));
            }
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

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn stratified_batches_hold_each_class_in_share_and_every_item_equally_often() {
        // 3 classes of 50, 30 and 17 items (97): a batch of 10 wants 5.15, 3.09 and 1.75.
        let mut strata = Vec::new();
        let mut next = 0;
        for size in [50, 30, 17] {
            strata.push((next..next + size).collect::<Vec<usize>>());
            next += size;
        }
        let (n, size, draws) = (97, 10, 200_000);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = vec![0usize; n];
        for _ in 0..draws {
            let batch = stratified_batch(&strata, n, size, &mut rng);
            assert_eq!(batch.len(), size);
            let mut distinct = batch.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), size, "{batch:?}");
            for (members, share) in strata.iter().zip([5.15, 3.09, 1.75]) {
                let count = batch.iter().filter(|i| members.contains(i)).count();
                let share: f64 = share;
                assert!(
                    count == share.floor() as usize || count == share.ceil() as usize,
                    "{count} of a share {share:.2}"
                );
            }
            for i in batch {
                seen[i] += 1;
            }
        }
        // Each item in a batch with probability size / n: within 5 standard errors.
        let p = size as f64 / n as f64;
        let sd = (p * (1.0 - p) / draws as f64).sqrt();
        for (i, &count) in seen.iter().enumerate() {
            let rate = count as f64 / draws as f64;
            assert!((rate - p).abs() < 5.0 * sd, "item {i}: {rate} vs {p}");
        }
    }
}
