//! `full_train`: the training objective over the whole training set (and the training
//! accuracy), the quantity GD and SGD are compared on; `train_loss` in `metrics.csv` is only
//! the loss of the step's mini-batch, before its update.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Measured, Probe, ProbeEntry, Subject, options};

/// `[[measure]] kind = "full_train"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "full_train",
    summary: "full_train_loss (and full_train_accuracy): the objective on the whole training set",
    landscapes_only: false,
    categorical: &[],
    unplotted: &[],
    main: "full_train_loss",
    build: |table, _, field| {
        let Options {} = options(table, field)?;
        Ok(Box::new(FullTrain))
    },
};

struct FullTrain;

impl Probe for FullTrain {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let (loss, accuracy) = subject.full_train()?;
        let mut values = vec![("full_train_loss".to_string(), loss)];
        if let Some(a) = accuracy {
            values.push(("full_train_accuracy".to_string(), a));
        }
        Ok(values.into())
    }
}
