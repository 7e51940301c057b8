//! Muon: momentum, orthogonalised by a Newton-Schulz iteration, for weight matrices.

use burn::config::Config;
use burn::optim::LearningRate;
#[cfg(feature = "burn-0-21")]
use burn::tensor::Tensor;
#[cfg(feature = "burn-0-21")]
use burn::tensor::backend::Backend;

use super::adam::AdamState;
use super::adamw::{AdamW, AdamWConfig};
use super::common::{Decay, torch_lerp};
use crate::arith::Arith;
use crate::error::OptimError;
use crate::optim::OptimConfig;
use crate::state::optimizer_state;
use crate::validate;

/// How Muon scales its learning rate by the shape `A x B` (fan-out x fan-in) of a matrix,
/// PyTorch's `adjust_lr_fn`.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum MuonLrAdjustment {
    /// `eta sqrt(max(1, A / B))`, Keller Jordan's original (PyTorch's default).
    Original,
    /// `0.2 eta sqrt(max(A, B))`, Moonshot's, to match AdamW's update RMS.
    MatchRmsAdamW,
    /// `eta sqrt(A / B)`, Bernstein's spectral-norm condition.
    SpectralUnclamped,
}

/// Which dimension of a 2-D parameter is its fan-out, for [`MuonLrAdjustment`].
#[derive(Config, Debug, Copy, PartialEq)]
pub enum MatrixLayout {
    /// `[fan_in, fan_out]`: burn's `Linear` weight.
    InputOutput,
    /// `[fan_out, fan_in]`: PyTorch's `nn.Linear` weight.
    OutputInput,
}

/// Configuration of [`Muon`]; every default equals `torch.optim.Muon`'s, plus the
/// layout of burn's weights and the AdamW that updates every tensor that is not a matrix.
#[derive(Config, Debug)]
pub struct MuonConfig {
    /// Decoupled weight decay `lambda`: `theta <- theta (1 - eta lambda)` each step.
    #[config(default = 0.1)]
    pub weight_decay: f64,
    /// Momentum `mu` of the buffer `B_t = mu B_{t-1} + (1 - mu) g_t`.
    #[config(default = 0.95)]
    pub momentum: f64,
    /// Orthogonalise `(1 - mu) g_t + mu B_t` (Nesterov) instead of `B_t`.
    #[config(default = true)]
    pub nesterov: bool,
    /// Coefficients `(a, b, c)` of the quintic Newton-Schulz step
    /// `X <- a X + (b X X^T + c (X X^T)^2) X`.
    #[config(default = "[3.4445, -4.775, 2.0315]")]
    pub ns_coefficients: [f64; 3],
    /// Floor of the norm `X` is divided by before the iteration (> 0).
    #[config(default = 1e-7)]
    pub epsilon: f64,
    /// Number of Newton-Schulz steps (below 100, as PyTorch requires).
    #[config(default = 5)]
    pub ns_steps: usize,
    /// How the learning rate scales with a matrix's shape.
    #[config(default = "MuonLrAdjustment::Original")]
    pub lr_adjustment: MuonLrAdjustment,
    /// Which dimension is the fan-out. burn stores `Linear` weights as `[in, out]`, PyTorch
    /// as `[out, in]`; only the learning-rate adjustment depends on it.
    #[config(default = "MatrixLayout::InputOutput")]
    pub layout: MatrixLayout,
    /// The optimizer of every parameter that is not a 2-D matrix (biases, norms,
    /// convolution kernels), as PyTorch's documentation prescribes: AdamW.
    #[config(default = "AdamWConfig::new()")]
    pub fallback: AdamWConfig,
    /// The fallback's learning rate as a multiple of Muon's (PyTorch runs two optimizers with
    /// two learning rates; burn updates a module with one).
    #[config(default = 1.0)]
    pub fallback_lr_factor: f64,
}

/// Muon, exactly as `torch.optim.Muon` for 2-D parameters, AdamW for the rest.
///
/// ```text
/// B_t   = lerp(B_{t-1}, g_t, 1 - mu)                     (B_0 = 0)
/// M_t   = lerp(g_t, B_t, mu) if nesterov, else B_t
/// X_0   = M_t / max(|M_t|_F, eps)        (transposed first if it has more rows than columns)
/// X_k+1 = a X_k + (b X_k X_k^T + c (X_k X_k^T)^2) X_k,  k < ns_steps
/// theta <- theta (1 - eta lambda) - adjust(eta, A, B) X_ns
/// ```
///
/// The Newton-Schulz polynomial pushes every singular value of `M_t` towards 1 (to about
/// 0.7-1.2 with the default coefficients and 5 steps), so the update is close to the nearest
/// semi-orthogonal matrix `U V^T`: every direction of the matrix moves by the same amount.
///
/// Paper and reference: Jordan et al., *Muon: An optimizer for hidden layers in neural
/// networks* (2024); Liu et al., *Muon is Scalable for LLM Training* (2025).
///
/// Differs from PyTorch in one way: PyTorch runs the iteration in bfloat16; descent runs it
/// in the parameters' precision. Against PyTorch with the iteration in float64 (reference
/// entries made that way) it is identical (3e-16 after 20 steps of the parity problem);
/// against stock PyTorch the bfloat16 rounding shows (3.7e-3 absolute, 1% of the
/// parameters). Every 2-D tensor is treated as a matrix, the first and last layers
/// included; PyTorch leaves that choice to the user.
#[derive(Clone, Debug)]
pub struct Muon {
    decay: Decay,
    momentum: f64,
    nesterov: bool,
    ns_coefficients: [f64; 3],
    epsilon: f64,
    ns_steps: usize,
    lr_adjustment: MuonLrAdjustment,
    layout: MatrixLayout,
    fallback: AdamW,
    fallback_lr_factor: f64,
}

optimizer_state! {
    /// State of [`Muon`] for one parameter tensor: the momentum buffer of a matrix, or the
    /// fallback AdamW's moments for any other tensor.
    pub struct MuonState {
        /// The momentum buffer `B_t` of a 2-D parameter.
        pub momentum: OptionTensor,
        /// The fallback's state, for parameters that are not 2-D.
        pub fallback: Nested<AdamState>,
    }
}

impl OptimConfig for MuonConfig {
    type Optimizer = Muon;

    fn validate(&self) -> Result<(), OptimError> {
        validate::non_negative("Muon", "weight_decay", self.weight_decay)?;
        validate::unit_half_open("Muon", "momentum", self.momentum)?;
        for (coefficient, field) in self.ns_coefficients.iter().zip([
            "ns_coefficients[0]",
            "ns_coefficients[1]",
            "ns_coefficients[2]",
        ]) {
            if !coefficient.is_finite() {
                return Err(OptimError::InvalidHyperparameter {
                    owner: "Muon",
                    field,
                    value: coefficient.to_string(),
                    allowed: "finite",
                });
            }
        }
        // A zero floor would divide an all-zero gradient (an unused weight) by zero.
        validate::positive("Muon", "epsilon", self.epsilon)?;
        if self.ns_steps >= 100 {
            return Err(OptimError::InvalidHyperparameter {
                owner: "Muon",
                field: "ns_steps",
                value: self.ns_steps.to_string(),
                allowed: "below 100",
            });
        }
        validate::non_negative("Muon", "fallback_lr_factor", self.fallback_lr_factor)?;
        self.fallback.validate()
    }

    fn build(&self) -> Result<Self::Optimizer, OptimError> {
        self.validate()?;
        Ok(Muon {
            decay: Decay::Decoupled(self.weight_decay),
            momentum: self.momentum,
            nesterov: self.nesterov,
            ns_coefficients: self.ns_coefficients,
            epsilon: self.epsilon,
            ns_steps: self.ns_steps,
            lr_adjustment: self.lr_adjustment,
            layout: self.layout,
            fallback: self.fallback.build()?,
            fallback_lr_factor: self.fallback_lr_factor,
        })
    }
}

/// `ns_steps` quintic Newton-Schulz steps on `matrix` (2-D), PyTorch's
/// `_zeropower_via_newtonschulz` in the input's precision.
#[cfg(feature = "burn-0-21")]
pub fn newton_schulz<B: Backend>(
    matrix: Tensor<B, 2>,
    coefficients: [f64; 3],
    steps: usize,
    epsilon: f64,
) -> Tensor<B, 2> {
    newton_schulz_rule(matrix, coefficients, steps, epsilon)
}

/// The Newton-Schulz iteration of `newton_schulz` over [`Arith`] (`matrix` is 2-D).
pub(crate) fn newton_schulz_rule<T: Arith>(
    matrix: T,
    coefficients: [f64; 3],
    steps: usize,
    epsilon: f64,
) -> T {
    let [a, b, c] = coefficients;
    let dims = matrix.dims();
    let (rows, columns) = (dims[0], dims[1]);
    let tall = rows > columns;
    // The Gram matrix X X^T is then the smaller of the two.
    let mut x = if tall { matrix.transpose() } else { matrix };
    let scale = x.clone().norm().clamp_min(epsilon);
    x = x.div(scale);
    for _ in 0..steps {
        let gram = x.clone().matmul(x.clone().transpose());
        let polynomial = gram
            .clone()
            .mul_scalar(b)
            .add(gram.clone().matmul(gram).mul_scalar(c));
        x = x.clone().mul_scalar(a).add(polynomial.matmul(x));
    }
    if tall { x.transpose() } else { x }
}

impl Muon {
    /// The learning rate for a matrix of `dims`, PyTorch's `_adjust_lr`.
    fn adjusted_lr(&self, lr: f64, dims: [usize; 2]) -> f64 {
        let (fan_out, fan_in) = match self.layout {
            MatrixLayout::OutputInput => (dims[0] as f64, dims[1] as f64),
            MatrixLayout::InputOutput => (dims[1] as f64, dims[0] as f64),
        };
        let ratio = match self.lr_adjustment {
            MuonLrAdjustment::Original => (fan_out / fan_in).max(1.0).sqrt(),
            MuonLrAdjustment::MatchRmsAdamW => 0.2 * fan_out.max(fan_in).sqrt(),
            MuonLrAdjustment::SpectralUnclamped => (fan_out / fan_in).sqrt(),
        };
        lr * ratio
    }
}

impl Muon {
    /// One step of the rule on one tensor (every burn version's adapter calls this).
    pub(crate) fn update<T: Arith>(
        &self,
        lr: LearningRate,
        tensor: T,
        grad: T,
        state: Option<MuonState<T>>,
    ) -> (T, Option<MuonState<T>>) {
        let (momentum, fallback) = match state {
            Some(s) => (s.momentum, s.fallback),
            None => (None, None),
        };
        if tensor.dims().len() != 2 {
            let (tensor, fallback) =
                self.fallback
                    .update(lr * self.fallback_lr_factor, tensor, grad, fallback);
            return (
                tensor,
                Some(MuonState {
                    momentum: None,
                    fallback,
                }),
            );
        }
        let (tensor, grad) = self.decay.apply(lr, tensor, grad);
        let shape = tensor.dims();
        let dims = [shape[0], shape[1]];
        let momentum = momentum.unwrap_or_else(|| grad.zeros_like());
        let momentum = torch_lerp(momentum, grad.clone(), 1.0 - self.momentum);
        let direction = if self.nesterov {
            torch_lerp(grad, momentum.clone(), self.momentum)
        } else {
            momentum.clone()
        };
        let orthogonal =
            newton_schulz_rule(direction, self.ns_coefficients, self.ns_steps, self.epsilon);
        let tensor = tensor.sub(orthogonal.mul_scalar(self.adjusted_lr(lr, dims)));
        (
            tensor,
            Some(MuonState {
                momentum: Some(momentum),
                fallback: None,
            }),
        )
    }
}

#[cfg(test)]
#[cfg(feature = "burn-0-21")]
mod tests {
    use burn::backend::NdArray;
    use burn::tensor::{Tensor, TensorData};

    use super::newton_schulz;

    type B = NdArray<f64>;

    fn matrix(rows: usize, columns: usize) -> Tensor<B, 2> {
        let values: Vec<f64> = (0..rows * columns)
            .map(|k| (0.37 * (k * k) as f64 + 1.0).sin())
            .collect();
        // An explicit dtype: `NdArray<f32>` and `NdArray<f64>` share one device, whose
        // default dtype is fixed by whichever test in this binary asks first.
        Tensor::from_data(
            TensorData::new(values, [rows, columns]),
            (&Default::default(), burn::tensor::DType::F64),
        )
    }

    fn values(tensor: Tensor<B, 2>) -> Vec<f64> {
        tensor.into_data().to_vec().unwrap_or_default()
    }

    const PYTORCH: [f64; 3] = [3.4445, -4.775, 2.0315];

    /// A tall matrix is orthogonalised through its transpose: NS(G^T) = NS(G)^T exactly.
    #[test]
    fn tall_and_wide_are_transposes() {
        let wide = matrix(3, 5);
        let tall = wide.clone().transpose();
        let from_wide = values(newton_schulz(wide, PYTORCH, 5, 1e-7).transpose());
        let from_tall = values(newton_schulz(tall, PYTORCH, 5, 1e-7));
        assert_eq!(from_wide, from_tall);
    }

    /// With the cubic coefficients (1.5, -0.5, 0) the iteration converges to `U V^T`, so
    /// `X X^T = I`; the default quintic stops near it (singular values within 0.6..1.25).
    #[test]
    fn iteration_orthogonalises() {
        let x = newton_schulz(matrix(4, 6), [1.5, -0.5, 0.0], 60, 1e-7);
        let gram = values(x.clone().matmul(x.transpose()));
        for i in 0..4 {
            for j in 0..4 {
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((gram[4 * i + j] - expected).abs() < 1e-9, "{gram:?}");
            }
        }
        let x = newton_schulz(matrix(4, 6), PYTORCH, 5, 1e-7);
        let gram = values(x.clone().matmul(x.transpose()));
        for i in 0..4 {
            // The Gram matrix's diagonal is each row's squared norm.
            assert!((0.36..1.5625).contains(&gram[5 * i]), "{gram:?}");
        }
    }
}
