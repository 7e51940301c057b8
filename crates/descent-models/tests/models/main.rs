//! descent-models' integration tests, as one test binary: each file is a module, so burn's
//! generic code they share is compiled once (as five binaries they took 159 s of one core to
//! build in a cold test build, and each linked burn apart).
//!
//! `NdArray<f32>` and `NdArray<f64>` share one device, whose default float dtype is set by the
//! first tensor made on it; every tensor here names its dtype (`float_dtype`), so the modules'
//! order does not matter (checked: the whole binary on one thread after a first tensor of
//! either precision passes).

mod convergence;
mod landscapes;
mod loss;
mod networks;
mod wgpu;
