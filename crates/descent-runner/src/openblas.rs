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
//! "SKYLAKEX" with AVX-512 (F, BW, DQ, VL), "HASWELL" with AVX2 and FMA.
//!
//! It also sets `OPENBLAS_NUM_THREADS=1`: the kernels multiply chunks of images in parallel on
//! rayon's threads, one OpenBLAS call per chunk, and OpenBLAS's own threads beside them
//! spin-waited for work (`sched_yield`) while rayon's built the next columns: measured
//! 2026-12-07 on a 2-core AMD EPYC (AVX-512), 14% of a 2c2d step's samples in the scheduler.
//! (An OpenBLAS built with OpenMP, Debian's `libopenblas0-openmp`, reads `OMP_NUM_THREADS`
//! instead; Debian's default, `libopenblas0-pthread`, reads this one.) Values the user sets are
//! left alone.

/// The environment variable OpenBLAS reads for its kernels.
pub const CORE_TYPE: &str = "OPENBLAS_CORETYPE";

/// The environment variable OpenBLAS reads for the number of its threads.
pub const THREADS: &str = "OPENBLAS_NUM_THREADS";

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

/// In a `blas` build with `OPENBLAS_CORETYPE` or `OPENBLAS_NUM_THREADS` unset, replaces this
/// process by itself with the unset ones set: the kernels to [`core_type_for_this_cpu`] (when
/// it knows better ones than OpenBLAS's generic kernels), the threads to 1 (the library has
/// loaded by now, so only a new process reads them). Returns when nothing needs doing or the
/// new process could not start (then the run goes on as OpenBLAS chose).
pub fn ensure_environment() {
    #[cfg(all(feature = "blas", unix))]
    {
        use std::os::unix::process::CommandExt;
        let unset = |name: &str| std::env::var_os(name).is_none();
        let core = core_type_for_this_cpu().filter(|_| unset(CORE_TYPE));
        let threads = unset(THREADS).then_some("1");
        if core.is_none() && threads.is_none() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
        let mut command = std::process::Command::new(&exe);
        command.arg0(arg0).args(args);
        for (name, value) in [(CORE_TYPE, core), (THREADS, threads)] {
            if let Some(value) = value {
                command.env(name, value);
            }
        }
        // `exec` returns only on failure.
        let _ = command.exec();
    }
}

/// How this build multiplies matrices in the convolution kernels, for the provenance of
/// results: "backend" or "OpenBLAS (OPENBLAS_CORETYPE=..., OPENBLAS_NUM_THREADS=...)".
pub fn products() -> String {
    if cfg!(feature = "blas") {
        let threads = match std::env::var(THREADS) {
            Ok(threads) => format!("{THREADS}={threads}"),
            Err(_) => "its own threads".to_string(),
        };
        match std::env::var(CORE_TYPE) {
            Ok(core) => format!("OpenBLAS ({CORE_TYPE}={core}, {threads})"),
            Err(_) => format!("OpenBLAS (the kernels it chose, {threads})"),
        }
    } else {
        "backend".to_string()
    }
}
