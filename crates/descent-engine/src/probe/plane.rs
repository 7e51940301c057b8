//! `trajectory_plane`: a run's path drawn on the loss surface of the plane it moves in most
//! (Li et al. 2018, §7), with what the plane misses.
//!
//! Every measurement keeps the parameters (at most `keep`, default 40: past it every second
//! one is dropped, the first and the newest kept). At the run's last step the kept points,
//! taken relative to the final one, give the plane of their first two principal directions;
//! the loss is evaluated on a `points` x `points` grid (default 25) covering the path's
//! projection with a `margin` (default 0.25 of its extent) on each side, and at every kept
//! point both the *true* loss and the loss at its projection on the plane. Where the two
//! differ, the contours do not show the loss the run saw: a projected path can cross contour
//! lines its run never climbed. Data loss over a fixed seeded subset of `items` training items
//! (default: all up to 10,000).
//!
//! Profiles `plane_loss` (the grid, `x`/`y` the coordinates along the two directions),
//! `plane_path` (each kept point's coordinates, `series` its order, the true loss) and
//! `plane_gap` (`x` the step: series 0 the true loss, series 1 the loss at the projection);
//! measurements `plane_explained` (the fraction of the path's spread about the final point the
//! two directions hold) and `plane_miss` (the largest difference between a point's true loss
//! and the loss at its projection). Memory and checkpoints hold `keep` x the parameter count
//! `f64`s.

use anyhow::Result;
use descent_surface::path;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{ItemSubset, Items, Measured, Probe, ProbeEntry, ProfilePoint, Subject, options};

/// `[[measure]] kind = "trajectory_plane"` and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The most points kept (default 40).
    keep: Option<usize>,
    /// Grid points per axis (default 25).
    points: Option<usize>,
    /// The grid's margin beyond the path, as a fraction of its extent (default 0.25).
    margin: Option<f64>,
    /// Training items (default: all up to 10,000).
    items: Option<usize>,
}

const DEFAULT_ITEMS: usize = 10_000;

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "trajectory_plane",
    summary: "trajectory_plane: the path on the loss contours of its top-two PCA plane, with the true loss beside the plane's (plane_explained, plane_miss; profiles plane_loss, plane_path, plane_gap)",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "plane_miss",
    build: |table, _task, field| {
        let o: Options = options(table, field)?;
        let keep = o.keep.unwrap_or(40);
        if !(3..=10_000).contains(&keep) {
            return Err(format!("{field}.keep = {keep}: must be in 3..=10000"));
        }
        let points = o.points.unwrap_or(25);
        if !(2..=1001).contains(&points) {
            return Err(format!("{field}.points = {points}: must be in 2..=1001"));
        }
        let margin = o.margin.unwrap_or(0.25);
        if !(margin.is_finite() && margin >= 0.0) {
            return Err(format!("{field}.margin = {margin}: must be >= 0"));
        }
        Ok(Box::new(Plane {
            keep,
            points,
            margin,
            items: ItemSubset::new(Some(o.items.unwrap_or(DEFAULT_ITEMS)), field)?,
            kept: Vec::new(),
        }))
    },
};

struct Plane {
    keep: usize,
    points: usize,
    margin: f64,
    items: ItemSubset,
    /// `(step, parameters)`, oldest first.
    kept: Vec<(u64, Vec<f64>)>,
}

impl Plane {
    /// Keeps `w` at `step`; past `keep`, every second older point goes.
    fn remember(&mut self, step: u64, w: Vec<f64>) {
        if self.kept.last().is_some_and(|(s, _)| *s == step) {
            return;
        }
        self.kept.push((step, w));
        if self.kept.len() > self.keep {
            let newest = self.kept.len() - 1;
            let mut i = 0;
            self.kept.retain(|_| {
                let keep = i % 2 == 0 || i == newest;
                i += 1;
                keep
            });
        }
    }
}

impl Probe for Plane {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        self.remember(step, subject.parameters().to_vec());
        Ok(Measured::default())
    }

    fn conclude(
        &mut self,
        subject: &mut dyn Subject,
        step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        self.remember(step, w.clone());
        let mut measured = Measured::default();
        if self.kept.len() < 3 {
            return Ok(measured);
        }
        let points: Vec<Vec<f64>> = self.kept.iter().map(|(_, p)| p.clone()).collect();
        let plane = path::pca_plane(&points, &w)?;
        let n = subject.items();
        let batch = self.items.items(n, rng).map(<[usize]>::to_vec);
        let [d1, d2] = &plane.directions;
        let extent = |k: usize| {
            let values = plane.coordinates.iter().map(|c| c[k]);
            let lo = values.clone().fold(0.0f64, f64::min);
            let hi = values.fold(0.0f64, f64::max);
            let pad = (self.margin * (hi - lo)).max(1e-9);
            (lo - pad, hi + pad)
        };
        let ((x0, x1), (y0, y1)) = (extent(0), extent(1));
        let xs = path::linspace(x0, x1, self.points)?;
        let ys = path::linspace(y0, y1, self.points)?;
        let items = Items::Train(batch.as_deref());
        // The grid and the projections lie on the plane; the kept points themselves do not.
        let mut projected = Vec::with_capacity(self.kept.len());
        {
            let mut on_plane = subject.plane_evaluator(items, &w, &[d1, d2])?;
            for &y in &ys {
                for &x in &xs {
                    let (loss, _) = on_plane(&[x, y])?;
                    measured.profiles.push(ProfilePoint {
                        name: "plane_loss".into(),
                        series: 0,
                        x,
                        y: Some(y),
                        value: loss,
                    });
                }
            }
            for c in &plane.coordinates {
                projected.push(on_plane(&[c[0], c[1]])?.0);
            }
        }
        let mut evaluate = subject.evaluator(items)?;
        let mut miss = 0.0f64;
        for (i, (((at, p), c), projected)) in self
            .kept
            .iter()
            .zip(&plane.coordinates)
            .zip(projected)
            .enumerate()
        {
            let (truth, _) = evaluate(p)?;
            miss = miss.max((truth - projected).abs());
            let profile =
                |name: &str, series: u32, x: f64, y: Option<f64>, value: f64| ProfilePoint {
                    name: name.into(),
                    series,
                    x,
                    y,
                    value,
                };
            measured
                .profiles
                .push(profile("plane_path", i as u32, c[0], Some(c[1]), truth));
            measured
                .profiles
                .push(profile("plane_gap", 0, *at as f64, None, truth));
            measured
                .profiles
                .push(profile("plane_gap", 1, *at as f64, None, projected));
        }
        measured.values.push((
            "plane_explained".into(),
            plane.explained[0] + plane.explained[1],
        ));
        measured.values.push(("plane_miss".into(), miss));
        Ok(measured)
    }

    fn save(&self) -> Vec<f64> {
        // [items..., count, dim, steps..., points...]
        let mut state = Vec::new();
        self.items.save(&mut state);
        let dim = self.kept.first().map_or(0, |(_, p)| p.len());
        state.push(self.kept.len() as f64);
        state.push(dim as f64);
        state.extend(self.kept.iter().map(|(s, _)| *s as f64));
        for (_, p) in &self.kept {
            state.extend(p);
        }
        state
    }

    fn restore(&mut self, state: Vec<f64>) {
        let rest = self.items.restore(&state);
        let [count, dim, rest @ ..] = rest else {
            return;
        };
        let (count, dim) = (*count as usize, *dim as usize);
        if rest.len() != count * (dim + 1) {
            return;
        }
        let (steps, values) = rest.split_at(count);
        self.kept = steps
            .iter()
            .zip(values.chunks_exact(dim.max(1)))
            .map(|(s, p)| (*s as u64, p.to_vec()))
            .collect();
    }
}
