//! Stopping any optimizer after 7 steps, saving its record with a burn recorder and loading
//! it into a fresh optimizer continues the trajectory exactly. (f64 parameters need
//! `DoublePrecisionSettings`: burn's `FullPrecisionSettings` stores floats as f32.)

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Optimizer, SimpleOptimizer};
use burn::record::{BinBytesRecorder, DoublePrecisionSettings, Recorder};
use descent_optim::optim::*;

use crate::resume_cases::every_resume_case;

use super::common::{F64, Pair, reference, run, start};

type Adaptor<O> = OptimizerAdaptor<O, Pair<F64>, F64>;

fn check_resume<O>(name: &str, lr: f64, make: impl Fn() -> O)
where
    O: SimpleOptimizer<<F64 as burn::tensor::backend::AutodiffBackend>::InnerBackend>,
{
    let reference = reference();
    let mut unbroken: Adaptor<O> = OptimizerAdaptor::from(make());
    let (_, expected) = run(&reference, start(&reference), &mut unbroken, lr, 0..20);

    let mut first: Adaptor<O> = OptimizerAdaptor::from(make());
    let (pair, mut resumed) = run(&reference, start(&reference), &mut first, lr, 0..7);
    let recorder = BinBytesRecorder::<DoublePrecisionSettings>::default();
    let bytes = Recorder::<F64>::record(&recorder, first.to_record(), ())
        .unwrap_or_else(|e| panic!("{name}: record: {e}"));
    drop(first);
    let record = Recorder::<F64>::load(&recorder, bytes, &Default::default())
        .unwrap_or_else(|e| panic!("{name}: load: {e}"));
    let mut second: Adaptor<O> = OptimizerAdaptor::from(make()).load_record(record);
    let (_, rest) = run(&reference, pair, &mut second, lr, 7..20);
    resumed.extend(rest);

    assert_eq!(resumed.len(), expected.len());
    for (step, (a, b)) in resumed.iter().zip(&expected).enumerate() {
        assert_eq!(
            a,
            b,
            "{name}: step {} differs after resuming at step 7",
            step + 1
        );
    }
    // The trajectory must move, or the comparison above proves nothing.
    assert_ne!(expected[6], expected[19], "{name}: parameters did not move");
}

#[test]
fn every_optimizer_resumes_exactly_from_its_record() {
    every_resume_case!(check_resume);
}
