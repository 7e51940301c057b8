//! `interpolation`: the loss on the straight line from the run's initial parameters `w₀`
//! through the current ones `w`, `(1 − a) w₀ + a w` for `a` on a grid (default 41 points on
//! [-0.5, 1.5]), as Goodfellow, Vinyals & Saxe (2015) drew it: their networks' loss fell
//! monotonically along it, with no barrier from start to end.
//!
//! `w₀` is the point of the probe's first measurement (step 0; kept in checkpoints). The loss
//! is the data loss over a fixed seeded subset of `items` training items (default: all), and
//! on the test set with `test = true`. Profiles `interpolation_train` (and `_test`, `_accuracy`);
//! the measurement `interpolation_rise` is the largest rise of the training loss met going from
//! `a = 0` to `a = 1` (0 where it falls monotonically). Between two solutions of similar loss
//! the barrier height is the number to report instead (`[barriers]`, between seeds).

use anyhow::Result;
use descent_surface::path;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{ItemSubset, Items, Measured, Probe, ProbeEntry, Subject, grid, options};

/// `[[measure]] kind = "interpolation"` and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// The grid's start (default -0.5).
    from: Option<f64>,
    /// The grid's end (default 1.5).
    to: Option<f64>,
    /// Points (default 41).
    points: Option<usize>,
    /// Training items (default: all).
    items: Option<usize>,
    /// Also the test loss (default false).
    test: Option<bool>,
}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "interpolation",
    summary: "interpolation: the loss from the initial to the current parameters (Goodfellow et al.), interpolation_rise, profile interpolation_train",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "interpolation_rise",
    build: |table, task, field| {
        let o: Options = options(table, field)?;
        let points = o.points.unwrap_or(41);
        let axis = grid(o.from.unwrap_or(-0.5), o.to.unwrap_or(1.5), points, field)?;
        let holds = |v: f64| axis.iter().any(|a| (a - v).abs() < 1e-12);
        if !(holds(0.0) && holds(1.0)) {
            return Err(format!(
                "{field}: the grid of {points} points on [{}, {}] must hold 0 and 1 (the two \
                 ends of the path)",
                axis[0],
                axis[points - 1]
            ));
        }
        let test = o.test.unwrap_or(false);
        if test && !task.has_test_set() {
            return Err(format!("{field}.test = true: this problem has no test set"));
        }
        Ok(Box::new(Interpolation {
            axis,
            items: ItemSubset::new(o.items, field)?,
            test,
            start: None,
        }))
    },
};

struct Interpolation {
    axis: Vec<f64>,
    items: ItemSubset,
    test: bool,
    /// `w₀`.
    start: Option<Vec<f64>>,
}

impl Probe for Interpolation {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let Some(start) = self.start.clone().filter(|s| s.len() == w.len()) else {
            self.start = Some(w);
            return Ok(Measured::default());
        };
        let n = subject.items();
        let batch = self.items.items(n, rng).map(<[usize]>::to_vec);
        let mut measured = Measured::default();
        let mut sets = vec![("train", Items::Train(batch.as_deref()))];
        if self.test {
            sets.push(("test", Items::Test(None)));
        }
        let direction: Vec<f64> = w.iter().zip(&start).map(|(w, s)| w - s).collect();
        for (set, items) in sets {
            let name = format!("interpolation_{set}");
            let mut evaluate = subject.plane_evaluator(items, &start, &[&direction])?;
            let mut losses = Vec::with_capacity(self.axis.len());
            for &a in &self.axis {
                let evaluation = evaluate(&[a])?;
                measured.push_evaluation(&name, 0, (a, None), evaluation);
                losses.push(evaluation.0);
            }
            if set == "train" {
                measured.values.push((
                    "interpolation_rise".into(),
                    path::largest_rise(&self.axis, &losses),
                ));
            }
        }
        Ok(measured)
    }

    fn initial(&mut self, w0: &[f64]) {
        if self.start.is_none() {
            self.start = Some(w0.to_vec());
        }
    }

    fn save(&self) -> Vec<f64> {
        let mut state = Vec::new();
        self.items.save(&mut state);
        state.extend(self.start.as_deref().unwrap_or_default());
        state
    }

    fn restore(&mut self, state: Vec<f64>) {
        let rest = self.items.restore(&state);
        self.start = (!rest.is_empty()).then(|| rest.to_vec());
    }
}
