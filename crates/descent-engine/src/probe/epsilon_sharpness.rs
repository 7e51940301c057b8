//! `epsilon_sharpness`: Keskar et al.'s (2017) sharpness, the largest rise of the training
//! objective `f` in a box around the current point, relative to `1 + f`, in percent:
//!
//! `100 (max_{y in C} f(w + y) - f(w)) / (1 + f(w))`, `C = { y : |y_i| <= eps (|w_i| + 1) }`.
//!
//! The box scales with each weight, so unlike the top Hessian eigenvalue the measure does not
//! change when a layer's weights are scaled up and the next one's down by the same factor
//! in the region where `|w_i| >> 1` (Dinh et al. 2017 show how plain curvature does).
//! Keskar et al. solved the inner maximisation with 10 iterations of L-BFGS-B; here it is
//! `iterations` steps of projected sign ascent from `y = 0` (the steepest ascent for a box,
//! Madry et al.'s step `2.5 eps (|w_i| + 1) / iterations`), keeping the highest value met: a
//! lower bound on the maximum, exact where `f` is separable and convex along each coordinate
//! (a diagonal quadratic: tested). The objective is over a fixed seeded subset of `items`
//! training items (default all up to 1000), with any L2 term, as the optimizer sees it.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{ItemSubset, Measured, Probe, ProbeEntry, Subject, options};

/// `[[measure]] kind = "epsilon_sharpness"` and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The box sizes (default `[1e-3, 5e-4]`, Keskar et al.'s).
    epsilons: Option<Vec<f64>>,
    /// Ascent steps per box (default 10).
    iterations: Option<usize>,
    /// Training items (default all up to 1000).
    items: Option<usize>,
}

const DEFAULT_ITEMS: usize = 1000;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "epsilon_sharpness",
    summary: "epsilon_sharpness: Keskar et al.'s largest loss rise in a box |y_i| <= eps (|w_i| + 1), in % of 1 + f: epsilon_sharpness_<eps>",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "",
    build: |table, _task, field| {
        let o: Options = options(table, field)?;
        let epsilons = o.epsilons.unwrap_or_else(|| vec![1e-3, 5e-4]);
        if epsilons.is_empty() {
            return Err(format!("{field}.epsilons: give at least one"));
        }
        if let Some(e) = epsilons.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
            return Err(format!("{field}.epsilons: {e} must be a number > 0"));
        }
        let iterations = o.iterations.unwrap_or(10);
        if !(1..=10_000).contains(&iterations) {
            return Err(format!(
                "{field}.iterations = {iterations}: must be in 1..=10000"
            ));
        }
        Ok(Box::new(EpsilonSharpness {
            epsilons,
            iterations,
            items: ItemSubset::new(Some(o.items.unwrap_or(DEFAULT_ITEMS)), field)?,
        }))
    },
};

struct EpsilonSharpness {
    epsilons: Vec<f64>,
    iterations: usize,
    items: ItemSubset,
}

/// The measurement's name for box size `eps`: `epsilon_sharpness_1e-3`.
fn name(eps: f64) -> String {
    format!("epsilon_sharpness_{eps:e}")
}

impl Probe for EpsilonSharpness {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let n = subject.items();
        let batch = self.items.items(n, rng).map(<[usize]>::to_vec);
        // Every box's ascent starts at `w`: one gradient there serves them all.
        let start = subject.loss_and_gradient(&w, batch.as_deref())?;
        let base = start.0;
        let mut values = Vec::with_capacity(self.epsilons.len());
        for &eps in &self.epsilons {
            let bound: Vec<f64> = w.iter().map(|w| eps * (w.abs() + 1.0)).collect();
            let ascent = Ascent {
                w: &w,
                bound: &bound,
                start: &start,
                iterations: self.iterations,
                batch: batch.as_deref(),
            };
            let rise = ascent.highest_rise(subject)?;
            values.push((name(eps), 100.0 * rise / (1.0 + base)));
        }
        Ok(values.into())
    }

    fn save(&self) -> Vec<f64> {
        self.items.state()
    }

    fn restore(&mut self, state: Vec<f64>) {
        self.items.restore(&state);
    }
}

/// One box's ascent: from `w`, where the loss and gradient are `start`, within
/// `|y_i| <= bound_i`.
struct Ascent<'a> {
    w: &'a [f64],
    bound: &'a [f64],
    start: &'a (f64, Vec<f64>),
    iterations: usize,
    batch: Option<&'a [usize]>,
}

impl Ascent<'_> {
    /// `max f(w + y) - f(w)` over the iterates of projected sign ascent.
    fn highest_rise(&self, subject: &mut dyn Subject) -> Result<f64> {
        let step = 2.5 / self.iterations as f64;
        let (base, first) = self.start;
        let mut y = vec![0.0; self.w.len()];
        let mut point = self.w.to_vec();
        let mut gradient = first.clone();
        let mut highest = 0.0_f64;
        for _ in 0..self.iterations {
            for (((y, p), (&w, &b)), g) in y
                .iter_mut()
                .zip(point.iter_mut())
                .zip(self.w.iter().zip(self.bound))
                .zip(&gradient)
            {
                let sign = if *g == 0.0 { 0.0 } else { g.signum() };
                *y = (*y + step * b * sign).clamp(-b, b);
                *p = w + *y;
            }
            let (loss, next) = subject.loss_and_gradient(&point, self.batch)?;
            // A NaN loss is passed over (`max` keeps the other); an infinite one is the answer.
            highest = highest.max(loss - base);
            gradient = next;
        }
        Ok(highest)
    }
}
