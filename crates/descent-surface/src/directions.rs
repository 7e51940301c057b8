//! Random directions in parameter space, filter-normalised (Li et al. 2018, "Visualizing the
//! Loss Landscape of Neural Nets", §4).
//!
//! A plain Gaussian direction means different things for differently scaled layers: a step of
//! 1 along it is a large change to a layer of small weights and a small one to a layer of large
//! weights, and networks with ReLUs are invariant to rescaling a layer's filters. Filter
//! normalisation removes the scale: the direction is drawn Gaussian, then each of its output
//! filters (a convolution's output channel, a dense layer's output neuron) is rescaled to the
//! Euclidean norm of the matching filter of the weights. A slice along it then moves each
//! filter by the same fraction of its own size. Parameters of one dimension (biases, and the
//! scales of normalisation layers) are zeroed by default, as Li et al.'s `ignore = 'biasbn'`
//! does.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::{Error, Result, check_length};

/// One parameter tensor in the flattened vector: its shape (row-major, as the vector stores
/// it) and the axis that indexes its output filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// The axis whose index picks one output filter (burn's dense weight `[in, out]`: 1; a
    /// convolution's `[out, in, k, k]`: 0). Ignored for tensors of one dimension.
    pub output_axis: usize,
}

impl Block {
    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it is a bias-like vector (one dimension, or none).
    pub fn is_one_dimensional(&self) -> bool {
        self.shape.len() <= 1
    }
}

/// The parameters' blocks in the order of the flattened vector.
pub type Layout = [Block];

/// What a filter-normalised direction does with one-dimensional parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OneDimensional {
    /// Zero them: the slice leaves biases where they are (Li et al.'s default).
    #[default]
    Zero,
    /// Treat each as one filter: rescale the direction's vector to the weights' norm.
    Normalise,
}

/// How a random direction is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalisation {
    /// Each output filter to the norm of the weights' filter.
    #[default]
    Filter,
    /// Each whole parameter tensor to the norm of the weights' tensor.
    Layer,
    /// None: a Gaussian direction as drawn.
    None,
}

/// A Gaussian direction of `w`'s length, normalised as asked on `layout`.
pub fn random_direction<R: Rng + ?Sized>(
    layout: &Layout,
    w: &[f64],
    normalisation: Normalisation,
    one_dimensional: OneDimensional,
    rng: &mut R,
) -> Result<Vec<f64>> {
    let mut d: Vec<f64> = (0..w.len()).map(|_| StandardNormal.sample(rng)).collect();
    normalise(layout, w, &mut d, normalisation, one_dimensional)?;
    Ok(d)
}

/// Rescales `d` in place as [`random_direction`] does.
pub fn normalise(
    layout: &Layout,
    w: &[f64],
    d: &mut [f64],
    normalisation: Normalisation,
    one_dimensional: OneDimensional,
) -> Result<()> {
    let total: usize = layout.iter().map(Block::len).sum();
    check_length("the parameter vector", w.len(), total)?;
    check_length("the direction", d.len(), total)?;
    if let Some(block) = layout
        .iter()
        .find(|b| !b.is_one_dimensional() && b.output_axis >= b.shape.len())
    {
        return Err(Error::Option(format!(
            "a parameter of shape {:?} has no axis {}",
            block.shape, block.output_axis
        )));
    }
    if normalisation == Normalisation::None {
        return Ok(());
    }
    let mut at = 0;
    for block in layout {
        let n = block.len();
        let (wb, db) = (&w[at..at + n], &mut d[at..at + n]);
        at += n;
        if block.is_one_dimensional() {
            match one_dimensional {
                OneDimensional::Zero => db.fill(0.0),
                OneDimensional::Normalise => rescale_groups(wb, db, 1, 1, n),
            }
            continue;
        }
        match normalisation {
            Normalisation::Layer => rescale_groups(wb, db, 1, 1, n),
            Normalisation::Filter => {
                let axis = block.output_axis;
                let filters = block.shape[axis];
                let inner: usize = block.shape[axis + 1..].iter().product();
                rescale_groups(wb, db, filters, inner, n)
            }
            Normalisation::None => {}
        }
    }
    Ok(())
}

/// Rescales the groups of `d` to the norms of the same groups of `w`. Element `e` belongs to
/// group `(e / inner) % groups`: the index along an axis of size `groups` whose trailing axes
/// hold `inner` elements, in row-major order.
fn rescale_groups(w: &[f64], d: &mut [f64], groups: usize, inner: usize, n: usize) {
    let group = |e: usize| (e / inner.max(1)) % groups.max(1);
    let mut w_sq = vec![0.0; groups.max(1)];
    let mut d_sq = vec![0.0; groups.max(1)];
    for e in 0..n {
        w_sq[group(e)] += w[e] * w[e];
        d_sq[group(e)] += d[e] * d[e];
    }
    // Li et al. divide by ‖d‖ + 1e-10: a zero group of the direction stays zero.
    let factors: Vec<f64> = w_sq
        .iter()
        .zip(&d_sq)
        .map(|(w, d)| w.sqrt() / (d.sqrt() + 1e-10))
        .collect();
    for (e, x) in d.iter_mut().enumerate() {
        *x *= factors[group(e)];
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// A 2-layer MLP 3-2-2 as burn stores it: W1 `[3, 2]`, b1 `[2]`, W2 `[2, 2]`, b2 `[2]`.
    fn mlp() -> (Vec<Block>, Vec<f64>) {
        let layout = vec![
            Block {
                shape: vec![3, 2],
                output_axis: 1,
            },
            Block {
                shape: vec![2],
                output_axis: 0,
            },
            Block {
                shape: vec![2, 2],
                output_axis: 1,
            },
            Block {
                shape: vec![2],
                output_axis: 0,
            },
        ];
        #[rustfmt::skip]
        let w = vec![
            1.0, 2.0,  // W1 row 0: input 0 to neurons 0 and 1
            2.0, 0.0,
            2.0, 1.0,
            5.0, 6.0,  // b1
            3.0, 0.0,  // W2
            4.0, 1.0,
            7.0, 8.0,  // b2
        ];
        (layout, w)
    }

    #[test]
    fn each_neuron_of_the_direction_gets_its_weights_norm() {
        let (layout, w) = mlp();
        #[rustfmt::skip]
        let mut d = vec![
            1.0, 0.0,
            1.0, 3.0,
            1.0, 4.0,
            9.0, 9.0,
            0.0, 2.0,
            0.0, 0.0,
            9.0, 9.0,
        ];
        normalise(
            &layout,
            &w,
            &mut d,
            Normalisation::Filter,
            OneDimensional::Zero,
        )
        .unwrap();
        // By hand. W1 neuron 0 (column 0): w = (1, 2, 2), norm 3; d = (1, 1, 1), norm √3:
        // factor √3. Neuron 1: w = (2, 0, 1), norm √5; d = (0, 3, 4), norm 5: factor √5/5.
        // W2 neuron 0: w = (3, 4), norm 5; d = (0, 0): stays 0. Neuron 1: w = (0, 1), norm 1;
        // d = (2, 0), norm 2: factor 1/2. Biases: zero.
        let s3 = 3f64.sqrt();
        let s5 = 5f64.sqrt() / 5.0;
        #[rustfmt::skip]
        let expected = [
            s3, 0.0,
            s3, 3.0 * s5,
            s3, 4.0 * s5,
            0.0, 0.0,
            0.0, 1.0,
            0.0, 0.0,
            0.0, 0.0,
        ];
        for (i, (got, want)) in d.iter().zip(expected).enumerate() {
            assert!((got - want).abs() < 1e-9, "value {i}: {got} vs {want}");
        }
    }

    #[test]
    fn biases_can_be_kept_as_one_filter_and_layers_normalised_whole() {
        let (layout, w) = mlp();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let d = random_direction(
            &layout,
            &w,
            Normalisation::Layer,
            OneDimensional::Normalise,
            &mut rng,
        )
        .unwrap();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for (range, expected) in [
            (0..6, norm(&w[0..6])),
            (6..8, 61f64.sqrt()),
            (8..12, 26f64.sqrt()),
            (12..14, 113f64.sqrt()),
        ] {
            assert!(
                (norm(&d[range.clone()]) - expected).abs() < 1e-9,
                "{range:?}"
            );
        }
    }

    #[test]
    fn a_convolution_normalises_over_its_first_axis() {
        // [out 2, in 1, 2, 1]: filter 0 is elements 0..2, filter 1 is 2..4.
        let layout = [Block {
            shape: vec![2, 1, 2, 1],
            output_axis: 0,
        }];
        let w = [3.0, 4.0, 0.0, 2.0];
        let mut d = [1.0, 0.0, 1.0, 1.0];
        normalise(
            &layout,
            &w,
            &mut d,
            Normalisation::Filter,
            OneDimensional::Zero,
        )
        .unwrap();
        let s = 2f64.sqrt();
        for (got, want) in d.iter().zip([5.0, 0.0, 2.0 / s, 2.0 / s]) {
            assert!((got - want).abs() < 1e-9, "{d:?}");
        }
    }

    #[test]
    fn a_layout_that_does_not_fit_is_refused() {
        let (layout, w) = mlp();
        let mut d = vec![0.0; w.len() - 1];
        assert!(
            normalise(
                &layout,
                &w,
                &mut d,
                Normalisation::Filter,
                OneDimensional::Zero
            )
            .is_err()
        );
        let bad = [Block {
            shape: vec![2, 2],
            output_axis: 2,
        }];
        let mut d = [0.0; 4];
        assert!(
            normalise(
                &bad,
                &[1.0; 4],
                &mut d,
                Normalisation::Filter,
                OneDimensional::Zero
            )
            .is_err()
        );
    }
}
