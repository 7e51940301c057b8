//! The optimizers every burn version's save/load test resumes, one list for both: each as
//! `$check(name, lr, make)`, where `make` builds a fresh optimizer and `$check` is that
//! version's test (its optimizer trait bound is the only difference).

/// Call `$check(name, lr, make)` for every optimizer of the crate, with the hyperparameters
/// that exercise its whole state.
macro_rules! every_resume_case {
    ($check:ident) => {{
        $check("SGD momentum nesterov", 0.1, || {
            SgdConfig::new()
                .with_momentum(0.9)
                .with_nesterov(true)
                .with_weight_decay(0.01)
                .build()
                .expect("valid")
        });
        $check("Adam amsgrad", 0.01, || {
            AdamConfig::new().with_amsgrad(true).build().expect("valid")
        });
        $check("AdamW", 0.01, || AdamWConfig::new().build().expect("valid"));
        $check("NAdam", 0.01, || NAdamConfig::new().build().expect("valid"));
        $check("RAdam", 0.01, || RAdamConfig::new().build().expect("valid"));
        $check("Adamax", 0.01, || {
            AdamaxConfig::new().build().expect("valid")
        });
        $check("Rprop", 0.01, || RpropConfig::new().build().expect("valid"));
        $check("AdaBelief", 0.01, || {
            AdaBeliefConfig::new().build().expect("valid")
        });
        $check("Yogi", 0.01, || YogiConfig::new().build().expect("valid"));
        $check("Signum", 0.01, || {
            SignumConfig::new().build().expect("valid")
        });
        $check("Adan", 0.01, || AdanConfig::new().build().expect("valid"));
        $check("LAMB", 0.01, || {
            LambConfig::new()
                .with_weight_decay(0.01)
                .build()
                .expect("valid")
        });
        $check("LARS", 0.1, || {
            LarsConfig::new()
                .with_nesterov(true)
                .build()
                .expect("valid")
        });
        $check("ASGD", 0.01, || {
            AsgdConfig::new().with_t0(2.0).build().expect("valid")
        });
        $check("RMSProp centered momentum", 0.01, || {
            RmsPropConfig::new()
                .with_centered(true)
                .with_momentum(0.9)
                .build()
                .expect("valid")
        });
        $check("Adagrad", 0.01, || {
            AdagradConfig::new()
                .with_lr_decay(0.01)
                .build()
                .expect("valid")
        });
        $check("Adadelta", 1.0, || {
            AdadeltaConfig::new().build().expect("valid")
        });
        $check("Adafactor", 0.01, || {
            AdafactorConfig::new()
                .with_weight_decay(0.01)
                .build()
                .expect("valid")
        });
        $check("Muon (AdamW for the bias)", 0.02, || {
            MuonConfig::new().build().expect("valid")
        });
        $check("Lion", 1e-3, || {
            LionConfig::new()
                .with_weight_decay(0.1)
                .build()
                .expect("valid")
        });
        $check("Schedule-Free SGD", 0.1, || {
            ScheduleFreeSgdConfig::new()
                .with_warmup_steps(5)
                .build()
                .expect("valid")
        });
        $check("Schedule-Free AdamW", 0.01, || {
            ScheduleFreeAdamWConfig::new()
                .with_warmup_steps(5)
                .with_weight_decay(0.01)
                .build()
                .expect("valid")
        });
        $check("Lookahead(Adam), k = 3", 0.01, || {
            LookaheadConfig::new()
                .with_k(3)
                .build(AdamConfig::new().build().expect("valid"))
                .expect("valid")
        });
        $check("noisy GD", 0.05, || {
            NoisyGdConfig::new(0.01)
                .with_seed(7)
                .build()
                .expect("valid")
        });
        $check("Nesterov look-ahead", 0.1, || {
            NesterovLookaheadConfig::new()
                .with_momentum(0.9)
                .build()
                .expect("valid")
        });
    }};
}
pub(crate) use every_resume_case;
