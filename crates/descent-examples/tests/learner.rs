//! The Learner example trains, and burn-train stepped descent-optim's schedule as written.

use burn::backend::{Autodiff, NdArray};
use descent_examples::{Settings, train, warmup_cosine};
use descent_optim::schedule::Schedule;

#[test]
fn two_epochs_of_the_learner_example_learn_the_digits_on_schedule() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let settings = Settings {
        epochs: 2,
        directory: directory.path().join("run"),
        ..Settings::default()
    };
    let outcome = train::<Autodiff<NdArray<f32>>>(&settings, &Default::default())
        .expect("the example trains");
    // 1797 digits less 297 held out, in batches of 32.
    assert_eq!(outcome.steps, 2 * 1500_usize.div_ceil(32));
    // Ten classes: an untrained network sits near 0.1.
    assert!(outcome.accuracy_before < 0.3, "{outcome:?}");
    assert!(outcome.accuracy_after > 0.9, "{outcome:?}");

    // burn-train logs the rate of every step: it is the pure schedule's, step by step.
    let schedule = warmup_cosine(&settings, outcome.steps)
        .and_then(|c| Ok(c.build()?))
        .expect("schedule");
    let mut logged = Vec::new();
    for epoch in 1..=2 {
        let path = settings
            .directory
            .join(format!("train/epoch-{epoch}/Learning_Rate.log"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        logged.extend(text.lines().map(|line| {
            let value = line.split(',').next().unwrap_or_default();
            value.parse::<f64>().expect("a learning rate")
        }));
    }
    assert_eq!(logged.len(), outcome.steps);
    for (step, lr) in logged.iter().enumerate() {
        let expected = schedule.lr(step);
        assert!(
            (lr - expected).abs() <= 1e-12 * expected.max(1e-12),
            "step {step}: logged {lr}, schedule {expected}"
        );
    }
    assert!((logged[0] - 3e-4).abs() < 1e-15);

    // A second run into the same directory is refused rather than mixed into its summary.
    assert!(train::<Autodiff<NdArray<f32>>>(&settings, &Default::default()).is_err());
}
