//! `cargo run -p descent-examples-burn-0-22 --example learner_0_22 [EPOCHS]`: burn-train 0.22's
//! `Learner` with descent-optim's AdamW and a warm-up + cosine schedule, on the embedded digits.

use descent_examples_burn_0_22::{Settings, flex_autodiff_device, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::default();
    if let Some(epochs) = std::env::args().nth(1) {
        settings.epochs = epochs
            .parse()
            .map_err(|e| format!("EPOCHS = {epochs:?}: {e}"))?;
    }
    let outcome = train(&settings, &flex_autodiff_device())?;
    println!(
        "validation accuracy: {:.3} before, {:.3} after {} steps (logs in {})",
        outcome.accuracy_before,
        outcome.accuracy_after,
        outcome.steps,
        settings.directory.display()
    );
    Ok(())
}
