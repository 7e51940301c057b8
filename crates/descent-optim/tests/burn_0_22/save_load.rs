//! On burn 0.22, stopping any optimizer after 7 steps, saving its `ModuleOptimizer` as
//! burnpack bytes (`into_bytes`) and loading them into a fresh one (`from_bytes`) continues
//! the f64 trajectory bit for bit.

use burn_0_22::optim::{ModuleOptimizer, Optimizer};
use descent_optim::optim::*;

use super::common::{F64, reference, run, start};

/// Run 20 steps unbroken, and 7 steps + save + load into a fresh optimizer + 13 steps: the
/// two trajectories must be equal, and must move.
fn check_resume<O: Optimizer>(name: &str, lr: f64, make: impl Fn() -> O) {
    let reference = reference();
    let mut unbroken = ModuleOptimizer::from(make());
    let (_, expected) = run(&reference, start(&reference, F64), &mut unbroken, lr, 0..20);

    let mut first = ModuleOptimizer::from(make());
    let (pair, mut resumed) = run(&reference, start(&reference, F64), &mut first, lr, 0..7);
    let bytes = first
        .into_bytes()
        .unwrap_or_else(|e| panic!("{name}: into_bytes: {e:?}"));
    drop(first);
    let mut second = ModuleOptimizer::from(make())
        .from_bytes(bytes)
        .unwrap_or_else(|e| panic!("{name}: from_bytes: {e:?}"));
    let (_, rest) = run(&reference, pair, &mut second, lr, 7..20);
    resumed.extend(rest);

    assert_eq!(resumed.len(), expected.len());
    for (step, (a, b)) in resumed.iter().zip(&expected).enumerate() {
        assert_eq!(
            a,
            b,
            "burn 0.22 {name}: step {} differs after resuming at step 7",
            step + 1
        );
    }
    // The trajectory must move, or the comparison above proves nothing.
    assert_ne!(expected[6], expected[19], "{name}: parameters did not move");
    println!("burn 0.22 {name:<32} resumed exactly");
}

#[test]
fn burn_0_22_every_optimizer_resumes_exactly_from_its_bytes() {
    check_resume("SGD momentum nesterov", 0.1, || {
        SgdConfig::new()
            .with_momentum(0.9)
            .with_nesterov(true)
            .with_weight_decay(0.01)
            .build()
            .expect("valid")
    });
    check_resume("Adam amsgrad", 0.01, || {
        AdamConfig::new().with_amsgrad(true).build().expect("valid")
    });
    check_resume("AdamW", 0.01, || AdamWConfig::new().build().expect("valid"));
    check_resume("NAdam", 0.01, || NAdamConfig::new().build().expect("valid"));
    check_resume("RAdam", 0.01, || RAdamConfig::new().build().expect("valid"));
    check_resume("Adamax", 0.01, || {
        AdamaxConfig::new().build().expect("valid")
    });
    check_resume("Rprop", 0.01, || RpropConfig::new().build().expect("valid"));
    check_resume("AdaBelief", 0.01, || {
        AdaBeliefConfig::new().build().expect("valid")
    });
    check_resume("Yogi", 0.01, || YogiConfig::new().build().expect("valid"));
    check_resume("Signum", 0.01, || {
        SignumConfig::new().build().expect("valid")
    });
    check_resume("Adan", 0.01, || AdanConfig::new().build().expect("valid"));
    check_resume("LAMB", 0.01, || {
        LambConfig::new()
            .with_weight_decay(0.01)
            .build()
            .expect("valid")
    });
    check_resume("LARS", 0.1, || {
        LarsConfig::new()
            .with_nesterov(true)
            .build()
            .expect("valid")
    });
    check_resume("ASGD", 0.01, || {
        AsgdConfig::new().with_t0(2.0).build().expect("valid")
    });
    check_resume("RMSProp centered momentum", 0.01, || {
        RmsPropConfig::new()
            .with_centered(true)
            .with_momentum(0.9)
            .build()
            .expect("valid")
    });
    check_resume("Adagrad", 0.01, || {
        AdagradConfig::new()
            .with_lr_decay(0.01)
            .build()
            .expect("valid")
    });
    check_resume("Adadelta", 1.0, || {
        AdadeltaConfig::new().build().expect("valid")
    });
    check_resume("Adafactor", 0.01, || {
        AdafactorConfig::new()
            .with_weight_decay(0.01)
            .build()
            .expect("valid")
    });
    check_resume("Muon (AdamW for the bias)", 0.02, || {
        MuonConfig::new().build().expect("valid")
    });
    check_resume("Lion", 1e-3, || {
        LionConfig::new()
            .with_weight_decay(0.1)
            .build()
            .expect("valid")
    });
    check_resume("Schedule-Free SGD", 0.1, || {
        ScheduleFreeSgdConfig::new()
            .with_warmup_steps(5)
            .build()
            .expect("valid")
    });
    check_resume("Schedule-Free AdamW", 0.01, || {
        ScheduleFreeAdamWConfig::new()
            .with_warmup_steps(5)
            .with_weight_decay(0.01)
            .build()
            .expect("valid")
    });
    check_resume("Lookahead(Adam), k = 3", 0.01, || {
        LookaheadConfig::new()
            .with_k(3)
            .build(AdamConfig::new().build().expect("valid"))
            .expect("valid")
    });
    check_resume("noisy GD", 0.05, || {
        NoisyGdConfig::new(0.01)
            .with_seed(7)
            .build()
            .expect("valid")
    });
    check_resume("Nesterov look-ahead", 0.1, || {
        NesterovLookaheadConfig::new()
            .with_momentum(0.9)
            .build()
            .expect("valid")
    });
}
