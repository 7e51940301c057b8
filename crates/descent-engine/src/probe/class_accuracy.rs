//! `class_accuracy`: the test accuracy of each class, the worst of them and their mean
//! (balanced accuracy). A classifier trained on imbalanced data can score well overall while
//! it fails the rare class; this is where that shows.

use anyhow::Result;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{Items, Measured, Probe, ProbeEntry, Subject, options};
use crate::problem::Task;

/// `[[measure]] kind = "class_accuracy"` takes no options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {}

/// The registry's entry.
pub(super) const ENTRY: ProbeEntry = ProbeEntry {
    kind: "class_accuracy",
    summary: "test_accuracy_class<c> per class, min_class_accuracy and balanced_accuracy",
    landscapes_only: false,
    categorical: &[],
    unplotted: &["test_accuracy_class"],
    main: "min_class_accuracy",
    build: |table, task, field| {
        let Options {} = options(table, field)?;
        let classes = match task {
            Task::Supervised(t) => t.test.as_ref().and_then(|test| test.items_by_class()),
            Task::Landscape(_) => None,
        };
        let Some(classes) = classes else {
            return Err(format!(
                "{field}: class accuracy needs a classification dataset with a test set"
            ));
        };
        // Fixed for the run: each class's test items, classes without any left out.
        let members = classes
            .into_iter()
            .enumerate()
            .filter(|(_, items)| !items.is_empty())
            .collect();
        Ok(Box::new(ClassAccuracy { members }))
    },
};

struct ClassAccuracy {
    /// Each class with its test items.
    members: Vec<(usize, Vec<usize>)>,
}

impl Probe for ClassAccuracy {
    fn measure(
        &mut self,
        subject: &mut dyn Subject,
        _step: u64,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Measured> {
        let w = subject.parameters().to_vec();
        let mut values = Vec::new();
        let mut accuracies = Vec::new();
        for (class, items) in &self.members {
            let mut evaluate = subject.evaluator(Items::Test(Some(items)))?;
            let (_, accuracy) = evaluate(&w)?;
            let accuracy = accuracy.unwrap_or(f64::NAN);
            values.push((format!("test_accuracy_class{class}"), accuracy));
            accuracies.push(accuracy);
        }
        let worst = accuracies.iter().copied().fold(f64::INFINITY, f64::min);
        let balanced = accuracies.iter().sum::<f64>() / accuracies.len().max(1) as f64;
        values.push(("min_class_accuracy".to_string(), worst));
        values.push(("balanced_accuracy".to_string(), balanced));
        Ok(values.into())
    }
}
