//! `hessian`: the Hessian's spectrum at the current point, PyHessian's three numbers (Yao et
//! al. 2020) with their error bars: the `top` largest eigenvalues (Lanczos with full
//! reorthogonalisation; `hessian_top_residual` bounds their error), the trace by Hutchinson's
//! estimator with its Student-t interval, and the eigenvalue density by stochastic Lanczos
//! quadrature (profile `hessian_density`, each quadrature node broadened into a Gaussian;
//! the nodes themselves in `hessian_quadrature`; `hessian_negative_mass` is its mass below
//! −10⁻³ × the spectrum's largest magnitude, the fraction of clearly negative eigenvalues).
//!
//! Hessian-vector products are exact: analytic on landscapes, and on models by double backward
//! in the run's backend and precision (see [`super::subject`]; central differences of
//! gradients in `f64` for the CNN,
//! whose max pooling burn cannot differentiate twice), over a fixed seeded subset of `items`
//! training items (default: all up to 1000).

use anyhow::Result;
use descent_surface::spectrum::{self, Density, Lanczos};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{ItemSubset, Measured, Probe, ProbeEntry, ProfilePoint, Subject, options};

/// `[[measure]] kind = "hessian"` and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// How many of the largest eigenvalues (default 10; 0: none).
    top: Option<usize>,
    /// The most Lanczos steps for them (default 100).
    steps: Option<usize>,
    /// Their convergence tolerance, relative to the largest (default 1e-6).
    tolerance: Option<f64>,
    /// Rademacher vectors for the trace (default 50; 0: no trace).
    trace_samples: Option<usize>,
    /// The trace interval's confidence (default 0.95).
    confidence: Option<f64>,
    /// Probe vectors of the density (default 3; 0: no density).
    density_probes: Option<usize>,
    /// Lanczos steps per density probe (default 60).
    density_steps: Option<usize>,
    /// Each node's Gaussian, as a fraction of the spectrum's range (default 0.005).
    broadening: Option<f64>,
    /// Training items the Hessian is taken over (default: all up to 1000).
    items: Option<usize>,
}

const DEFAULT_ITEMS: usize = 1000;
/// Eigenvalues below `-NEGATIVE` x the spectrum's largest magnitude count as negative.
const NEGATIVE: f64 = 1e-3;
/// Points of the broadened density's grid.
const DENSITY_POINTS: usize = 801;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "hessian",
    summary: "hessian: top-k eigenvalues (Lanczos), trace (Hutchinson, with CI), eigenvalue density (SLQ): hessian_top_1.., hessian_trace[_low|_high], profile hessian_density",
    landscapes_only: false,
    categorical: &[],
    // Drawn with the top eigenvalue and the trace, not each on a plot of its own.
    unplotted: &["hessian_top_", "hessian_trace_"],
    main: "hessian_top_1",
    build: |table, task, field| {
        let o: Options = options(table, field)?;
        let top = o.top.unwrap_or(10);
        let steps = o.steps.unwrap_or(100);
        let tolerance = o.tolerance.unwrap_or(1e-6);
        let trace_samples = o.trace_samples.unwrap_or(50);
        let confidence = o.confidence.unwrap_or(0.95);
        let density_probes = o.density_probes.unwrap_or(3);
        let density_steps = o.density_steps.unwrap_or(60);
        let broadening = o.broadening.unwrap_or(0.005);
        let in_range = |name: &str, value: usize, range: std::ops::RangeInclusive<usize>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "{field}.{name} = {value}: must be in {}..={}",
                    range.start(),
                    range.end()
                ))
            }
        };
        in_range("top", top, 0..=1000)?;
        in_range("steps", steps, 1..=10_000)?;
        in_range("trace_samples", trace_samples, 0..=100_000)?;
        in_range("density_probes", density_probes, 0..=1000)?;
        in_range("density_steps", density_steps, 1..=10_000)?;
        if trace_samples == 1 {
            return Err(format!(
                "{field}.trace_samples = 1: a confidence interval needs at least 2 (0: no trace)"
            ));
        }
        if top == 0 && trace_samples == 0 && density_probes == 0 {
            return Err(format!(
                "{field}: top, trace_samples and density_probes are all 0: nothing to measure"
            ));
        }
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(format!("{field}.tolerance = {tolerance}: must be >= 0"));
        }
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(format!(
                "{field}.confidence = {confidence}: must be in (0, 1)"
            ));
        }
        if !(broadening > 0.0 && broadening.is_finite()) {
            return Err(format!("{field}.broadening = {broadening}: must be > 0"));
        }
        let items = ItemSubset::new(
            Some(o.items.unwrap_or(DEFAULT_ITEMS.min(task.items()))),
            field,
        )?;
        Ok(Box::new(Hessian {
            top,
            lanczos: Lanczos {
                max_steps: steps,
                tolerance,
            },
            trace_samples,
            confidence,
            density_probes,
            density_steps,
            broadening,
            items,
        }))
    },
};

struct Hessian {
    top: usize,
    lanczos: Lanczos,
    trace_samples: usize,
    confidence: f64,
    density_probes: usize,
    density_steps: usize,
    broadening: f64,
    items: ItemSubset,
}

impl Probe for Hessian {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let dim = w.len();
        let n = subject.items();
        let batch = self.items.items(n, rng).map(<[usize]>::to_vec);
        let mut product = |v: &[f64]| subject.hessian_vector(&w, v, batch.as_deref());
        let mut measured = Measured::default();
        let mut value = |name: String, v: f64| measured.values.push((name, v));
        if self.top > 0 {
            let top: Vec<spectrum::Ritz> =
                spectrum::top_eigenvalues(dim, self.top, &self.lanczos, rng, &mut product)?;
            let residual = top.iter().fold(0.0f64, |m, r| m.max(r.residual));
            for (i, ritz) in top.iter().enumerate() {
                value(format!("hessian_top_{}", i + 1), ritz.value);
            }
            value("hessian_top_residual".into(), residual);
        }
        if self.trace_samples > 0 {
            let trace = spectrum::hutchinson_trace(
                dim,
                self.trace_samples,
                self.confidence,
                rng,
                &mut product,
            )?;
            value("hessian_trace".into(), trace.mean);
            value("hessian_trace_low".into(), trace.low);
            value("hessian_trace_high".into(), trace.high);
        }
        if self.density_probes > 0 {
            let density = spectrum::spectral_density(
                dim,
                self.density_probes,
                self.density_steps,
                rng,
                &mut product,
            )?;
            // Clearly negative: the bulk of a network's spectrum sits at 0 give or take rounding,
            // which a threshold at 0 would count at random.
            let scale = density
                .range()
                .map_or(0.0, |(lo, hi)| lo.abs().max(hi.abs()));
            value(
                "hessian_negative_mass".into(),
                density.mass_between(f64::NEG_INFINITY, -NEGATIVE * scale),
            );
            measured
                .profiles
                .extend(density_profiles(&density, self.broadening));
        }
        Ok(measured)
    }

    fn save(&self) -> Vec<f64> {
        self.items.state()
    }

    fn restore(&mut self, state: Vec<f64>) {
        self.items.restore(&state);
    }
}

/// The quadrature nodes (`hessian_quadrature`, one series per probe vector) and the broadened
/// density on a grid over their range (`hessian_density`).
fn density_profiles(density: &Density, broadening: f64) -> Vec<ProfilePoint> {
    let per_probe = density.nodes.len() / density.probes.max(1);
    let mut points: Vec<ProfilePoint> = density
        .nodes
        .iter()
        .enumerate()
        .map(|(i, &(theta, weight))| ProfilePoint {
            name: "hessian_quadrature".into(),
            series: (i / per_probe.max(1)) as u32,
            x: theta,
            y: None,
            value: weight,
        })
        .collect();
    if let Some((lo, hi)) = density.range() {
        let span = (hi - lo).max(hi.abs().max(lo.abs()) * 1e-6).max(1e-12);
        let sigma = broadening * span;
        let (from, to) = (
            lo - 0.05 * span - 3.0 * sigma,
            hi + 0.05 * span + 3.0 * sigma,
        );
        let step = (to - from) / (DENSITY_POINTS - 1) as f64;
        points.extend((0..DENSITY_POINTS).map(|i| {
            let x = from + step * i as f64;
            ProfilePoint {
                name: "hessian_density".into(),
                series: 0,
                x,
                y: None,
                value: density.at(x, sigma),
            }
        }));
    }
    points
}
