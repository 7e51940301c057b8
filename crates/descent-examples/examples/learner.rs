//! `cargo run -p descent-examples --example learner [EPOCHS]`: burn-train's `Learner` with
//! descent-optim's AdamW and a warm-up + cosine schedule, on the embedded digits.

use burn::backend::{Autodiff, NdArray};
use descent_examples::{Settings, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::default();
    if let Some(epochs) = std::env::args().nth(1) {
        settings.epochs = epochs
            .parse()
            .map_err(|e| format!("EPOCHS = {epochs:?}: {e}"))?;
    }
    let outcome = train::<Autodiff<NdArray<f32>>>(&settings, &Default::default())?;
    println!(
        "validation accuracy: {:.3} before, {:.3} after {} steps (logs in {})",
        outcome.accuracy_before,
        outcome.accuracy_after,
        outcome.steps,
        settings.directory.display()
    );
    Ok(())
}
