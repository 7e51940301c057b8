//! Links the system OpenBLAS for the `blas` feature: ndarray's `blas` feature calls
//! `cblas_sgemm` through `cblas-sys`, which names no library.
//!
//! This is what `openblas-src`'s `system` feature does on Linux (pkg-config, else
//! `-lopenblas`), without its build-dependency `openblas-build`, which downloads and builds
//! OpenBLAS from source when asked to and so compiles an HTTPS client (ureq, rustls, ring's C
//! code) into every `blas` build, the test command's included.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    #[cfg(feature = "blas")]
    if pkg_config::Config::new().probe("openblas").is_err() {
        // Debian's libopenblas-dev installs libopenblas.so where the linker looks, without a
        // pkg-config file on some releases.
        println!("cargo::rustc-link-lib=dylib=openblas");
    }
}
