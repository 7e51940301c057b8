//! Invalid hyperparameters give a typed error from `build`/`init`, never a panic or a NaN.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use descent_optim::OptimError;
use descent_optim::optim::*;

use super::common::F64;

#[derive(Module, Debug)]
struct Tiny<B: Backend> {
    w: Param<Tensor<B, 1>>,
}

/// Asserts `result` is an `InvalidHyperparameter` error naming `field`.
fn rejects<T>(result: Result<T, OptimError>, owner: &str, field: &str) {
    match result {
        Err(OptimError::InvalidHyperparameter {
            owner: o, field: f, ..
        }) => {
            assert_eq!((o, f), (owner, field), "wrong field blamed");
        }
        Err(other) => panic!("{owner}.{field}: unexpected error {other}"),
        Ok(_) => panic!("{owner}.{field}: invalid value accepted"),
    }
}

#[test]
fn out_of_range_hyperparameters_are_typed_errors() {
    rejects(
        SgdConfig::new().with_momentum(-0.1).build(),
        "SGD",
        "momentum",
    );
    rejects(
        SgdConfig::new().with_dampening(1.5).build(),
        "SGD",
        "dampening",
    );
    rejects(
        SgdConfig::new().with_weight_decay(f64::NAN).build(),
        "SGD",
        "weight_decay",
    );
    rejects(AdamConfig::new().with_beta_1(1.0).build(), "Adam", "beta_1");
    rejects(
        AdamConfig::new().with_beta_2(-0.5).build(),
        "Adam",
        "beta_2",
    );
    rejects(
        AdamConfig::new().with_epsilon(-1e-8).build(),
        "Adam",
        "epsilon",
    );
    rejects(
        AdamWConfig::new().with_weight_decay(-0.01).build(),
        "AdamW",
        "weight_decay",
    );
    rejects(
        NAdamConfig::new().with_momentum_decay(-1.0).build(),
        "NAdam",
        "momentum_decay",
    );
    rejects(
        RAdamConfig::new().with_beta_2(1.0).build(),
        "RAdam",
        "beta_2",
    );
    rejects(
        AdamaxConfig::new().with_epsilon(f64::INFINITY).build(),
        "Adamax",
        "epsilon",
    );
    rejects(
        RpropConfig::new().with_eta_minus(1.0).build(),
        "Rprop",
        "eta_minus",
    );
    rejects(
        RpropConfig::new().with_eta_plus(0.9).build(),
        "Rprop",
        "eta_plus",
    );
    rejects(
        RpropConfig::new().with_step_size_min(100.0).build(),
        "Rprop",
        "step_size_min",
    );
    rejects(AsgdConfig::new().with_alpha(-1.0).build(), "ASGD", "alpha");
    rejects(
        AdaBeliefConfig::new().with_epsilon_root(-1.0).build(),
        "AdaBelief",
        "epsilon_root",
    );
    rejects(YogiConfig::new().with_beta_2(1.0).build(), "Yogi", "beta_2");
    rejects(SignumConfig::new().with_beta(1.0).build(), "Signum", "beta");
    rejects(LambConfig::new().with_beta_1(1.0).build(), "LAMB", "beta_1");
    rejects(AdanConfig::new().with_beta_3(1.5).build(), "Adan", "beta_3");
    rejects(
        LarsConfig::new().with_trust_coefficient(0.0).build(),
        "LARS",
        "trust_coefficient",
    );
    rejects(
        RmsPropConfig::new().with_alpha(1.01).build(),
        "RMSProp",
        "alpha",
    );
    rejects(
        AdagradConfig::new().with_lr_decay(-1.0).build(),
        "Adagrad",
        "lr_decay",
    );
    rejects(
        AdadeltaConfig::new().with_rho(2.0).build(),
        "Adadelta",
        "rho",
    );
    rejects(LionConfig::new().with_beta_2(1.0).build(), "Lion", "beta_2");
    rejects(
        ScheduleFreeSgdConfig::new().with_momentum(0.0).build(),
        "ScheduleFreeSGD",
        "momentum",
    );
    rejects(
        ScheduleFreeAdamWConfig::new().with_beta_1(1.5).build(),
        "ScheduleFreeAdamW",
        "beta_1",
    );
    rejects(LookaheadConfig::new().with_k(0).build(()), "Lookahead", "k");
    rejects(
        LookaheadConfig::new().with_alpha(-0.5).build(()),
        "Lookahead",
        "alpha",
    );
    rejects(NoisyGdConfig::new(-1.0).build(), "NoisyGD", "noise_std");
    // `init` validates too, before anything is built.
    rejects(
        AdamConfig::new().with_beta_1(-0.1).init::<F64, Tiny<F64>>(),
        "Adam",
        "beta_1",
    );
    rejects(
        AdafactorConfig::new().with_beta2_decay(0.5).build(),
        "Adafactor",
        "beta2_decay",
    );
    rejects(AdafactorConfig::new().with_d(0.5).build(), "Adafactor", "d");
    rejects(
        AdafactorConfig::new().with_epsilon_1(Some(-1.0)).build(),
        "Adafactor",
        "epsilon_1",
    );
    rejects(
        MuonConfig::new().with_momentum(1.0).build(),
        "Muon",
        "momentum",
    );
    rejects(
        MuonConfig::new().with_ns_steps(100).build(),
        "Muon",
        "ns_steps",
    );
    rejects(
        MuonConfig::new()
            .with_ns_coefficients([3.4445, f64::NAN, 2.0315])
            .build(),
        "Muon",
        "ns_coefficients[1]",
    );
    rejects(
        MuonConfig::new()
            .with_fallback(AdamWConfig::new().with_beta_1(1.0))
            .build(),
        "AdamW",
        "beta_1",
    );
}

#[test]
fn nesterov_needs_momentum_and_no_dampening() {
    let err = SgdConfig::new().with_nesterov(true).build().err();
    assert!(matches!(
        err,
        Some(OptimError::NesterovWithoutMomentum { .. })
    ));
    let err = SgdConfig::new()
        .with_nesterov(true)
        .with_momentum(0.9)
        .with_dampening(0.1)
        .build()
        .err();
    assert!(matches!(
        err,
        Some(OptimError::NesterovWithoutMomentum { .. })
    ));
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("dampening 0.1"),
        "message names the values: {message}"
    );
}
