//! Train / validation splits and standardisation.

use crate::dataset::ArrayDataset;
use crate::error::DataError;
use crate::rng::{Purpose, stream};
use rand::seq::SliceRandom;

/// A training set divided into the part that is trained on and the part held out for
/// validation. The test set is never touched here: it stays apart from every choice.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainValidation {
    /// What the optimizer sees.
    pub train: ArrayDataset,
    /// Held out for tuning and early stopping.
    pub validation: ArrayDataset,
}

/// Splits `data` into `validation` held-out items and the rest, chosen by `seed` alone (the
/// same seed gives the same split on any machine). Both parts keep the original item order.
pub fn train_validation_split(
    data: &ArrayDataset,
    validation: usize,
    seed: u64,
) -> Result<TrainValidation, DataError> {
    if validation == 0 || validation >= data.len() {
        return Err(DataError::InvalidParameter {
            owner: "split",
            field: "validation",
            value: validation.to_string(),
            allowed: "between 1 and one less than the training set's size",
        });
    }
    let mut order: Vec<usize> = (0..data.len()).collect();
    order.shuffle(&mut stream(seed, Purpose::Split, 0));
    let (held_out, kept) = order.split_at_mut(validation);
    held_out.sort_unstable();
    kept.sort_unstable();
    Ok(TrainValidation {
        train: data.subset(format!("{}/train", data.name()), kept),
        validation: data.subset(format!("{}/validation", data.name()), held_out),
    })
}

/// How features are standardised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standardization {
    /// Left as they are.
    #[default]
    None,
    /// Each feature to mean 0 and standard deviation 1 (a constant feature is only
    /// centred).
    PerFeature,
    /// One mean and one standard deviation over all features (the usual choice for images:
    /// it keeps the relation between pixels).
    Global,
}

/// Means and standard deviations fitted on a training split, applied to every split so that
/// no statistic leaks from validation or test data.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Standardizer {
    /// Statistics of `train` for `kind` (population standard deviation, computed in `f64`).
    pub fn fit(train: &ArrayDataset, kind: Standardization) -> Standardizer {
        let d = train.feature_len();
        let n = train.len() as f64;
        let features = train.features();
        let (mean, std): (Vec<f64>, Vec<f64>) = match kind {
            Standardization::None => (vec![0.0], vec![1.0]),
            Standardization::Global => {
                let count = features.len() as f64;
                let mean = features.iter().map(|&x| f64::from(x)).sum::<f64>() / count;
                let var = features
                    .iter()
                    .map(|&x| (f64::from(x) - mean).powi(2))
                    .sum::<f64>()
                    / count;
                (vec![mean], vec![var.sqrt()])
            }
            Standardization::PerFeature => {
                let mut mean = vec![0.0f64; d];
                for row in features.chunks_exact(d) {
                    for (m, &x) in mean.iter_mut().zip(row) {
                        *m += f64::from(x);
                    }
                }
                mean.iter_mut().for_each(|m| *m /= n);
                let mut var = vec![0.0f64; d];
                for row in features.chunks_exact(d) {
                    for ((v, &x), m) in var.iter_mut().zip(row).zip(&mean) {
                        *v += (f64::from(x) - m).powi(2);
                    }
                }
                (mean, var.iter().map(|v| (v / n).sqrt()).collect())
            }
        };
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            // A constant feature carries no information; dividing by ~0 would only blow up
            // rounding noise in other splits.
            std: std
                .iter()
                .map(|&s| if s > 1e-12 { s as f32 } else { 1.0 })
                .collect(),
        }
    }

    /// The means (one, or one per feature).
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviations used as divisors (one, or one per feature).
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// Standardises `data` in place.
    pub fn apply(&self, data: &mut ArrayDataset) {
        let d = data.feature_len();
        let features = data.features_mut();
        if self.mean.len() == 1 {
            let (m, s) = (self.mean[0], self.std[0]);
            features.iter_mut().for_each(|x| *x = (*x - m) / s);
        } else {
            for row in features.chunks_exact_mut(d) {
                for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                    *x = (*x - m) / s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Targets;

    fn ramp(n: usize) -> ArrayDataset {
        let features = (0..n * 2).map(|i| i as f32).collect();
        let labels = (0..n as u32).map(|i| i % 3).collect();
        ArrayDataset::new(
            "ramp",
            features,
            vec![2],
            Targets::Classes { labels, classes: 3 },
        )
        .unwrap()
    }

    #[test]
    fn a_split_is_a_seeded_partition() {
        let data = ramp(50);
        let a = train_validation_split(&data, 10, 3).unwrap();
        let b = train_validation_split(&data, 10, 3).unwrap();
        let c = train_validation_split(&data, 10, 4).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.validation, c.validation);
        assert_eq!((a.train.len(), a.validation.len()), (40, 10));
        let mut firsts: Vec<f32> = a
            .train
            .features()
            .chunks(2)
            .chain(a.validation.features().chunks(2))
            .map(|r| r[0])
            .collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, (0..50).map(|i| (2 * i) as f32).collect::<Vec<_>>());
        assert!(train_validation_split(&data, 50, 3).is_err());
        assert!(train_validation_split(&data, 0, 3).is_err());
    }

    #[test]
    fn standardisation_uses_training_statistics_only() {
        let data = ramp(50);
        let split = train_validation_split(&data, 10, 1).unwrap();
        let mut train = split.train.clone();
        let mut validation = split.validation.clone();
        let fitted = Standardizer::fit(&train, Standardization::PerFeature);
        fitted.apply(&mut train);
        fitted.apply(&mut validation);
        for j in 0..2 {
            let column: Vec<f64> = train.features()[j..]
                .iter()
                .step_by(2)
                .map(|&x| f64::from(x))
                .collect();
            let mean = column.iter().sum::<f64>() / column.len() as f64;
            let var = column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / column.len() as f64;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-5,
                "{mean} {var}"
            );
        }
        // The validation items went through the training statistics, not their own.
        let raw = split.validation.features()[0];
        let expected = (raw - fitted.mean()[0]) / fitted.std()[0];
        assert_eq!(validation.features()[0], expected);
        let global = Standardizer::fit(&split.train, Standardization::Global);
        assert_eq!(global.mean().len(), 1);
    }
}
