//! `slice`: the loss along random directions through the current point, with error bars (Li
//! et al. 2018, "Visualizing the Loss Landscape of Neural Nets").
//!
//! A 1-D slice evaluates `L(w + a d)` for `a` on a grid (default 51 points on [-1, 1]) along
//! `directions` independent random directions (default 5), so the plot shows the mean ± std
//! over directions, not one direction's accident; a 2-D slice evaluates `L(w + a d₁ + b d₂)` on
//! a square grid (default 25 x 25, one pair of directions). Directions are Gaussian with Li et
//! al.'s filter normalisation on models (each output neuron or filter rescaled to the norm of
//! its weights; biases zeroed; `normalisation = "layer"` or `"none"`, `biases = "normalise"`
//! change that) and plain Gaussian on landscapes, drawn afresh at every measurement. The loss
//! is the data loss (no L2 penalty) over a fixed seeded subset of `items` training items
//! (default: all), and on the test set too with `test = true`.
//!
//! Profiles `slice_1d_train` / `slice_2d_train` (and `_test`, and `_accuracy` for
//! classifiers), one series per direction; the measurement `slice_width` (1-D slices) is the
//! mean over directions of the width of the interval around `a = 0` on which the training loss stays
//! within `rise` (default 0.1) of its value at the point (the grid's ends where it never
//! rises that far), a flatness measure that sees beyond the quadratic neighbourhood.

use anyhow::Result;
use descent_surface::directions::{self, Normalisation, OneDimensional};
use descent_surface::path;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{ItemSubset, Items, Measured, Probe, ProbeEntry, Subject, grid, options};
use crate::problem::Task;

/// `[[measure]] kind = "slice"` and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// 1 or 2 (default 1).
    dims: Option<usize>,
    /// The grid's start (default -1).
    from: Option<f64>,
    /// The grid's end (default 1).
    to: Option<f64>,
    /// Points per axis (default 51 in 1-D, 25 in 2-D).
    points: Option<usize>,
    /// Random directions (1-D) or pairs (2-D) per measurement (default 5 in 1-D, 1 in 2-D).
    directions: Option<usize>,
    /// `"filter"` (models' default), `"layer"` or `"none"` (landscapes' default).
    normalisation: Option<String>,
    /// One-dimensional parameters: `"zero"` (default) or `"normalise"`.
    biases: Option<String>,
    /// Training items (default: all).
    items: Option<usize>,
    /// Also the test loss (default false).
    test: Option<bool>,
    /// The loss rise that `slice_width` is measured at (default 0.1).
    rise: Option<f64>,
}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "slice",
    summary: "slice: the loss along filter-normalised random directions (1-D with bands, or 2-D), slice_width, profiles slice_1d_train / slice_2d_train",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "slice_width",
    build: |table, task, field| {
        let o: Options = options(table, field)?;
        let dims = o.dims.unwrap_or(1);
        if !(1..=2).contains(&dims) {
            return Err(format!("{field}.dims = {dims}: must be 1 or 2"));
        }
        let points = o.points.unwrap_or(if dims == 1 { 51 } else { 25 });
        let axis = grid(o.from.unwrap_or(-1.0), o.to.unwrap_or(1.0), points, field)?;
        if !axis.iter().any(|a| a.abs() < 1e-12) {
            return Err(format!(
                "{field}: the grid of {points} points on [{}, {}] misses 0, the point itself \
                 (an odd number of points on a symmetric range holds it)",
                axis[0],
                axis[points - 1]
            ));
        }
        let count = o.directions.unwrap_or(if dims == 1 { 5 } else { 1 });
        if !(1..=1000).contains(&count) {
            return Err(format!("{field}.directions = {count}: must be in 1..=1000"));
        }
        let landscape = matches!(task, Task::Landscape(_));
        let normalisation = match (o.normalisation.as_deref(), landscape) {
            (None, false) | (Some("filter"), false) => Normalisation::Filter,
            (Some("layer"), false) => Normalisation::Layer,
            (None | Some("none"), _) => Normalisation::None,
            (Some("filter" | "layer"), true) => {
                return Err(format!(
                    "{field}.normalisation: a landscape has no layers to normalise by; use \"none\""
                ));
            }
            (Some(other), _) => {
                return Err(format!(
                    "{field}.normalisation = {other:?}: allowed: filter, layer, none"
                ));
            }
        };
        let biases = match o.biases.as_deref() {
            None | Some("zero") => OneDimensional::Zero,
            Some("normalise") => OneDimensional::Normalise,
            Some(other) => {
                return Err(format!(
                    "{field}.biases = {other:?}: allowed: zero, normalise"
                ));
            }
        };
        let rise = o.rise.unwrap_or(0.1);
        if !(rise > 0.0 && rise.is_finite()) {
            return Err(format!("{field}.rise = {rise}: must be > 0"));
        }
        let test = o.test.unwrap_or(false);
        if test && !task.has_test_set() {
            return Err(format!("{field}.test = true: this problem has no test set"));
        }
        Ok(Box::new(Slice {
            dims,
            axis,
            count,
            normalisation,
            biases,
            items: ItemSubset::new(o.items, field)?,
            test,
            rise,
        }))
    },
};

struct Slice {
    dims: usize,
    axis: Vec<f64>,
    count: usize,
    normalisation: Normalisation,
    biases: OneDimensional,
    items: ItemSubset,
    test: bool,
    rise: f64,
}

impl Slice {
    fn direction(
        &self,
        subject: &dyn Subject,
        w: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<f64>> {
        let layout = match subject.layout() {
            Some(layout) => layout,
            // A landscape: its coordinates as one block, normalised (if at all) as a whole.
            None => vec![descent_surface::Block {
                shape: vec![1, w.len()],
                output_axis: 0,
            }],
        };
        Ok(directions::random_direction(
            &layout,
            w,
            self.normalisation,
            self.biases,
            rng,
        )?)
    }
}

impl Probe for Slice {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let n = subject.items();
        let batch = self.items.items(n, rng).map(<[usize]>::to_vec);
        let mut pairs = Vec::with_capacity(self.count);
        for _ in 0..self.count {
            let first = self.direction(subject, &w, rng)?;
            let second = if self.dims == 2 {
                Some(self.direction(subject, &w, rng)?)
            } else {
                None
            };
            pairs.push((first, second));
        }
        let mut measured = Measured::default();
        let mut sets = vec![("train", Items::Train(batch.as_deref()))];
        if self.test {
            sets.push(("test", Items::Test(None)));
        }
        let mut widths = Vec::new();
        for (set, items) in sets {
            let name = format!("slice_{}d_{set}", self.dims);
            for (series, (first, second)) in pairs.iter().enumerate() {
                let directions: Vec<&[f64]> = match second {
                    Some(second) => vec![first, second],
                    None => vec![first],
                };
                let mut evaluate = subject.plane_evaluator(items, &w, &directions)?;
                let mut line = Vec::new();
                let ys: &[f64] = if second.is_some() { &self.axis } else { &[0.0] };
                for &b in ys {
                    for &a in &self.axis {
                        let evaluation = if second.is_some() {
                            evaluate(&[a, b])?
                        } else {
                            evaluate(&[a])?
                        };
                        let y = second.is_some().then_some(b);
                        measured.push_evaluation(&name, series as u32, (a, y), evaluation);
                        let loss = evaluation.0;
                        if set == "train" && second.is_none() {
                            line.push(loss);
                        }
                    }
                }
                if set == "train"
                    && second.is_none()
                    && let Some(width) = path::width_at_rise(&self.axis, &line, self.rise)
                {
                    widths.push(width);
                }
            }
        }
        if !widths.is_empty() {
            let mean = widths.iter().sum::<f64>() / widths.len() as f64;
            measured.values.push(("slice_width".into(), mean));
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
