//! The compute backends, chosen at compile time by cargo features (`ndarray`, `flex`, `wgpu`) and at
//! run time by `--backend` and `--precision`. This is the only module that names concrete
//! burn backends: everything else is generic over `B: AutodiffBackend` and reaches a backend
//! through [`dispatch`].

use anyhow::Result;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::error::usage;

/// Compute backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// CPU: burn-ndarray.
    Ndarray,
    /// CPU: burn-flex (im2col + gemm convolutions, SIMD, rayon over all cores); f32 only.
    Flex,
    /// GPU through wgpu (Vulkan, Metal, DX12).
    Wgpu,
}

impl BackendChoice {
    /// The name on the command line and in records.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Ndarray => "ndarray",
            BackendChoice::Flex => "flex",
            BackendChoice::Wgpu => "wgpu",
        }
    }

    /// Whether the backend computes on the CPU, splitting its work over rayon's threads.
    pub fn is_cpu(self) -> bool {
        match self {
            BackendChoice::Ndarray | BackendChoice::Flex => true,
            BackendChoice::Wgpu => false,
        }
    }

    fn compiled(self) -> bool {
        match self {
            BackendChoice::Ndarray => cfg!(feature = "ndarray"),
            BackendChoice::Flex => cfg!(feature = "flex"),
            BackendChoice::Wgpu => cfg!(feature = "wgpu"),
        }
    }
}

/// Floating-point precision of parameters and arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 64-bit floats (ndarray only).
    F64,
}

impl Precision {
    /// `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// The backend runs use when none is named: for f32, flex where it is compiled in (the faster
/// CPU backend: 1.1x-1.4x PyTorch on the MLP where ndarray is at 0.6x-0.9x, and its runs
/// repeat bit for bit as ndarray's do), else ndarray; for f64, ndarray (flex computes in f32
/// only); in a build with neither, wgpu.
pub fn default_for(precision: Precision) -> BackendChoice {
    match precision {
        Precision::F32 => [
            BackendChoice::Flex,
            BackendChoice::Ndarray,
            BackendChoice::Wgpu,
        ]
        .into_iter()
        .find(|b| b.compiled())
        .unwrap_or(BackendChoice::Ndarray),
        // Only ndarray computes in f64; where it is not compiled in, `check` says so.
        Precision::F64 => BackendChoice::Ndarray,
    }
}

/// The backends compiled into this binary.
pub fn available() -> Vec<&'static str> {
    [
        BackendChoice::Ndarray,
        BackendChoice::Flex,
        BackendChoice::Wgpu,
    ]
    .into_iter()
    .filter(|b| b.compiled())
    .map(BackendChoice::name)
    .collect()
}

/// Whether `backend` at `precision` can run in this binary; a usage error saying what to do
/// if not.
pub fn check(backend: BackendChoice, precision: Precision) -> Result<()> {
    if !backend.compiled() {
        return Err(usage(format!(
            "--backend {}: not compiled into this binary; available: {}. Rebuild with \
             `--features {}` (`cargo descent-all` has every backend).",
            backend.name(),
            available().join(", "),
            backend.name()
        )));
    }
    if backend != BackendChoice::Ndarray && precision == Precision::F64 {
        return Err(usage(format!(
            "--precision f64: the {} backend computes in f32 only; use --precision f32 or \
             --backend ndarray",
            backend.name()
        )));
    }
    Ok(())
}

/// Work to do on whichever backend [`dispatch`] picks.
pub trait OnBackend {
    /// What the work returns.
    type Output;
    /// Does the work on backend `B` with `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Runs `work` on `backend` at `precision`, on the backend's default device.
pub fn dispatch<W: OnBackend>(
    backend: BackendChoice,
    precision: Precision,
    work: W,
) -> Result<W::Output> {
    #[cfg(not(feature = "wgpu"))]
    let _ = &work;
    match (backend, precision) {
        #[cfg(feature = "ndarray")]
        (BackendChoice::Ndarray, Precision::F32) => {
            on::<burn::backend::Autodiff<burn::backend::NdArray<f32>>, W>(work)
        }
        #[cfg(feature = "ndarray")]
        (BackendChoice::Ndarray, Precision::F64) => {
            on::<burn::backend::Autodiff<burn::backend::NdArray<f64>>, W>(work)
        }
        #[cfg(feature = "flex")]
        (BackendChoice::Flex, Precision::F32) => {
            on::<burn::backend::Autodiff<burn::backend::Flex>, W>(work)
        }
        #[cfg(feature = "wgpu")]
        (BackendChoice::Wgpu, Precision::F32) => {
            // burn panics when no adapter exists; say what to install instead.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                on::<burn::backend::Autodiff<burn::backend::Wgpu<f32>>, W>(work)
            }))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(anyhow::anyhow!(
                    "the wgpu backend failed: {message}. Is a GPU driver installed? Without a \
                     GPU, Mesa's lavapipe runs Vulkan on the CPU (apt-get install \
                     mesa-vulkan-drivers); on headless NVIDIA machines see the GPU section of \
                     crates/descent-runner/README.md"
                ))
            })
        }
        _ => Err(usage(format!(
            "backend {} with precision {} is not available in this binary",
            backend.name(),
            precision.name()
        ))),
    }
}

#[allow(dead_code)] // unused when no backend feature is on
fn on<B: AutodiffBackend, W: OnBackend>(work: W) -> Result<W::Output> {
    use burn::tensor::Element;
    let device = B::Device::default();
    // One precision per process; ignoring "already set" keeps repeated runs working.
    let _ = burn::tensor::set_default_dtypes::<B>(
        &device,
        <B::FloatElem as Element>::dtype(),
        <B::IntElem as Element>::dtype(),
    );
    work.run::<B>(device)
}
