//! The burn 0.22 Learner example trains, and burn-train stepped descent-optim's schedule as
//! written.

use descent_examples_burn_0_22::{Settings, flex_autodiff_device, train, warmup_cosine};
use descent_optim::schedule::Schedule;

#[test]
fn two_epochs_of_the_learner_example_learn_the_digits_on_schedule() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let settings = Settings {
        epochs: 2,
        directory: directory.path().join("run"),
        ..Settings::default()
    };
    let device = flex_autodiff_device();
    let outcome = train(&settings, &device).expect("the example trains");
    // 1797 digits less 297 held out, in batches of 32.
    assert_eq!(outcome.steps, 2 * 1500_usize.div_ceil(32));
    // Ten classes: an untrained network sits near 0.1.
    assert!(outcome.accuracy_before < 0.3, "{outcome:?}");
    assert!(
        outcome.accuracy_after > outcome.accuracy_before,
        "{outcome:?}"
    );
    assert!(outcome.accuracy_after > 0.9, "{outcome:?}");

    // burn-train logs the rate of every step (`train/epoch-N/Learning_Rate.log`, one
    // `value,count` line per step): it is the pure schedule's, step by step. burn-train 0.22
    // (unlike 0.21) also appends the epoch's mean as a last `value,final` line.
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
        let mut steps = Vec::new();
        let mut finals = Vec::new();
        for line in text.lines() {
            let mut fields = line.split(',');
            let value = fields
                .next()
                .unwrap_or_default()
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{}: {line:?}: {e}", path.display()));
            match fields.next() {
                Some("final") => finals.push(value),
                _ => steps.push(value),
            }
        }
        assert_eq!(finals.len(), 1, "{}: {finals:?}", path.display());
        let mean = steps.iter().sum::<f64>() / steps.len().max(1) as f64;
        assert!(
            (finals[0] - mean).abs() <= 1e-9 * mean,
            "epoch {epoch}: final {} against the mean {mean}",
            finals[0]
        );
        logged.extend(steps);
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
    assert!(train(&settings, &device).is_err());
}
