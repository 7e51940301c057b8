//! The same seed gives bit-identical initial weights on the GPU backend and on the CPU one,
//! because every weight is drawn and rounded on the CPU. Needs `--features wgpu` and a
//! Vulkan/Metal/DX12 adapter (a CPU driver such as lavapipe will do).

#![cfg(feature = "wgpu")]
#![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

use burn::backend::{NdArray, Wgpu};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use descent_models::{Cnn2c2dConfig, MlpConfig, ModelConfig};

/// Every float parameter's bits, in visiting order.
struct Bits(Vec<Vec<u32>>);

impl<B: Backend> ModuleVisitor<B> for Bits {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let values = param.val().into_data().to_vec::<f32>().unwrap();
        self.0.push(values.iter().map(|v| v.to_bits()).collect());
    }
}

fn bits<B: Backend, M: Module<B>>(model: &M) -> Vec<Vec<u32>> {
    let mut b = Bits(Vec::new());
    model.visit(&mut b);
    b.0
}

/// Whether a Vulkan driver is installed (an ICD manifest where the loader looks); without
/// one the test says SKIPPED, unless `DESCENT_REQUIRE_WGPU` (set by `.ci/run`) is set.
fn vulkan_driver() -> bool {
    let found = [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ]
    .iter()
    .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()))
        || std::env::var_os("VK_ICD_FILENAMES").is_some()
        || std::env::var_os("VK_DRIVER_FILES").is_some();
    if !found {
        assert!(
            std::env::var("DESCENT_REQUIRE_WGPU").is_err(),
            "DESCENT_REQUIRE_WGPU is set but no Vulkan driver is installed"
        );
        eprintln!("SKIPPED: no Vulkan driver (apt-get install mesa-vulkan-drivers)");
    }
    found
}

#[test]
fn wgpu_and_ndarray_get_the_same_initial_weights() {
    if !vulkan_driver() {
        return;
    }
    let gpu = Default::default();
    let cpu = Default::default();
    for config in [
        ModelConfig::Mlp(MlpConfig::fmnist_mlp().with_seed(17)),
        ModelConfig::Cnn2c2d(Cnn2c2dConfig::new().with_seed(17)),
    ] {
        let on_gpu = bits(&config.init::<Wgpu>(&gpu).unwrap());
        let on_cpu = bits(&config.init::<NdArray<f32>>(&cpu).unwrap());
        assert_eq!(on_gpu.len(), on_cpu.len());
        assert!(on_gpu == on_cpu, "{config}: weights differ");
    }
}
