//! Which OpenBLAS kernels a `blas` build runs (cargo feature `blas`: the products of
//! descent-models' convolution kernels through the system OpenBLAS).
//!
//! OpenBLAS picks its kernels when the library loads, from the CPU model, unless the
//! environment names them in `OPENBLAS_CORETYPE`. Debian 12's OpenBLAS 0.3.21 does not know
//! CPUs newer than itself and falls back to its generic SSE3 kernels ("Prescott"): measured
//! 2026-12-07 on a 2-core Intel Xeon (model 207, AVX-512), the 2c2d's convolution product
//! (64 x 800 by 800 x 25088) ran at 43 GFLOP/s on them and at 155 on "SKYLAKEX", the dense
//! layer's (128 x 3136 by 3136 x 1024) at 45 and 261. So a `blas` build of `descent`, when
//! `OPENBLAS_CORETYPE` is unset, starts itself again with it set from what the CPU can run:
//! "SKYLAKEX" with AVX-512 (F, BW, DQ, VL), "HASWELL" with AVX2 and FMA. A value the user sets
//! is left alone.

/// The environment variable OpenBLAS reads.
pub const CORE_TYPE: &str = "OPENBLAS_CORETYPE";

/// The OpenBLAS kernels this CPU runs best among those OpenBLAS 0.3.21 has, if any is better
/// than its generic ones.
pub fn core_type_for_this_cpu() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
            return Some("SKYLAKEX");
        }
        if has!("avx2") && has!("fma") {
            return Some("HASWELL");
        }
    }
    None
}

/// In a `blas` build with `OPENBLAS_CORETYPE` unset, replaces this process by itself with the
/// variable set to [`core_type_for_this_cpu`] (the library has loaded by now, so only a new
/// process reads it). Returns when nothing needs doing or the new process could not start
/// (then the run goes on with the kernels OpenBLAS chose).
pub fn ensure_core_type() {
    #[cfg(all(feature = "blas", unix))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(CORE_TYPE).is_some() {
            return;
        }
        let (Some(core), Ok(exe)) = (core_type_for_this_cpu(), std::env::current_exe()) else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        // `exec` returns only on failure.
        let _ = std::process::Command::new(&exe)
            .arg0(arg0)
            .args(args)
            .env(CORE_TYPE, core)
            .exec();
    }
}

/// How this build multiplies matrices in the convolution kernels, for the provenance of
/// results: "backend" or "OpenBLAS (OPENBLAS_CORETYPE=...)".
pub fn products() -> String {
    if cfg!(feature = "blas") {
        match std::env::var(CORE_TYPE) {
            Ok(core) => format!("OpenBLAS ({CORE_TYPE}={core})"),
            Err(_) => "OpenBLAS (the kernels it chose)".to_string(),
        }
    } else {
        "backend".to_string()
    }
}
