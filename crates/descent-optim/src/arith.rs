//! The tensor operations the update rules are written in, so that each rule exists once and
//! serves every supported burn version.
//!
//! burn 0.21's `Tensor<B, D>` and burn 0.22's `Tensor<D>` offer the same element-wise
//! operations under the same names; they differ in their type parameters and in the traits
//! around them. Each rule of this crate (`update` on an optimizer) is generic over [`Arith`],
//! and each burn version's adapter (`crate::burn_0_21`, `crate::burn_0_22`) implements
//! [`Arith`] by forwarding every method to the tensor method of the same name. A new burn
//! version is one more adapter: an [`Arith`] impl, the per-tensor optimizer trait's impls and
//! the state records, and no rule is touched.
//!
//! Every method has the meaning, and performs the IEEE operations, of the burn tensor method
//! of the same name, so a rule written here gives the bits it gave when it was written
//! against one burn version's tensors.

/// The floating-point precision of a tensor's elements, for the few rules whose scalars follow
/// the parameters' precision (PyTorch keeps them in scalar tensors of that dtype).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precision {
    /// `f64`.
    Double,
    /// `f32`, and any other element type the rules do not single out.
    Single,
    /// IEEE half precision.
    Half,
    /// bfloat16.
    BrainHalf,
}

impl Precision {
    /// The machine epsilon, PyTorch's `torch.finfo(dtype).eps`.
    pub(crate) fn machine_epsilon(self) -> f64 {
        match self {
            Precision::Double => f64::EPSILON,
            Precision::Single => f32::EPSILON as f64,
            Precision::Half => 9.765_625e-4,
            Precision::BrainHalf => 7.812_5e-3,
        }
    }

    /// `value` as a scalar tensor of this precision holds it: `f64` keeps it, every other
    /// precision rounds it through `f32` (as PyTorch's float32 scalar tensors do).
    pub(crate) fn round(self, value: f64) -> f64 {
        if self == Precision::Double {
            value
        } else {
            f64::from(value as f32)
        }
    }
}

/// A float tensor of some fixed rank, as the update rules see it.
pub(crate) trait Arith: Clone + Sized {
    /// A boolean tensor of the same shape.
    type Mask: Clone;

    /// Element-wise `self + other` (broadcasting).
    fn add(self, other: Self) -> Self;
    /// Element-wise `self - other` (broadcasting).
    fn sub(self, other: Self) -> Self;
    /// Element-wise `self * other` (broadcasting).
    fn mul(self, other: Self) -> Self;
    /// Element-wise `self / other` (broadcasting).
    fn div(self, other: Self) -> Self;
    /// `self + value`.
    fn add_scalar(self, value: f64) -> Self;
    /// `self * value`.
    fn mul_scalar(self, value: f64) -> Self;
    /// `self / value`.
    fn div_scalar(self, value: f64) -> Self;
    /// `-self`.
    fn neg(self) -> Self;
    /// Element-wise square root.
    fn sqrt(self) -> Self;
    /// Element-wise square.
    fn square(self) -> Self;
    /// Element-wise absolute value.
    fn abs(self) -> Self;
    /// Element-wise sign (-1, 0 or 1).
    fn sign(self) -> Self;
    /// Element-wise `1 / self`.
    fn recip(self) -> Self;
    /// Element-wise maximum of two tensors.
    fn max_pair(self, other: Self) -> Self;
    /// Element-wise `max(self, min)`.
    fn clamp_min(self, min: f64) -> Self;
    /// Element-wise `min(max(self, min), max)`.
    fn clamp(self, min: f64, max: f64) -> Self;
    /// Zeros of the same shape, device and dtype.
    fn zeros_like(&self) -> Self;
    /// Ones of the same shape, device and dtype.
    fn ones_like(&self) -> Self;
    /// The sum over dimension `dim`, which is kept with size 1.
    fn sum_dim(self, dim: usize) -> Self;
    /// The mean over dimension `dim`, which is kept with size 1.
    fn mean_dim(self, dim: usize) -> Self;
    /// The sum of every element, as a tensor of the same rank with every dimension 1 (so it
    /// broadcasts against the original; nothing is read back from the device).
    fn sum_all(self) -> Self;
    /// Matrix product over the last two dimensions.
    fn matmul(self, other: Self) -> Self;
    /// Swap the last two dimensions.
    fn transpose(self) -> Self;
    /// The size of every dimension.
    fn dims(&self) -> Vec<usize>;
    /// The element type's precision.
    fn precision(&self) -> Precision;
    /// A tensor of the same shape, device and dtype holding `values` (row-major).
    fn with_values(&self, values: Vec<f64>) -> Self;
    /// Where `self < value`.
    fn lower_elem(self, value: f64) -> Self::Mask;
    /// Where `self > value`.
    fn greater_elem(self, value: f64) -> Self::Mask;
    /// Where `self == value`.
    fn equal_elem(self, value: f64) -> Self::Mask;
    /// Element-wise or of two masks.
    fn mask_or(left: Self::Mask, right: Self::Mask) -> Self::Mask;
    /// `value` where `mask` holds, `self` elsewhere.
    fn mask_fill(self, mask: Self::Mask, value: f64) -> Self;

    /// The number of elements.
    fn num_elements(&self) -> usize {
        self.dims().iter().product()
    }

    /// The Euclidean norm of the whole tensor, with every dimension 1.
    fn norm(self) -> Self {
        self.square().sum_all().sqrt()
    }
}

/// Implement [`Arith`] for a burn version's float tensor type: every method forwards to the
/// tensor method of the same name (`sum_all` reshapes burn's one-element sum to the tensor's
/// rank `D`). Paths in the body (`DType`, `TensorData`) resolve where the macro is invoked,
/// in that version's adapter.
macro_rules! forward_arith {
    (impl [$($generics:tt)*] Arith for $tensor:ty, mask = $mask:ty) => {
        impl<$($generics)*> $crate::arith::Arith for $tensor {
            type Mask = $mask;

            fn add(self, other: Self) -> Self {
                <$tensor>::add(self, other)
            }
            fn sub(self, other: Self) -> Self {
                <$tensor>::sub(self, other)
            }
            fn mul(self, other: Self) -> Self {
                <$tensor>::mul(self, other)
            }
            fn div(self, other: Self) -> Self {
                <$tensor>::div(self, other)
            }
            fn add_scalar(self, value: f64) -> Self {
                <$tensor>::add_scalar(self, value)
            }
            fn mul_scalar(self, value: f64) -> Self {
                <$tensor>::mul_scalar(self, value)
            }
            fn div_scalar(self, value: f64) -> Self {
                <$tensor>::div_scalar(self, value)
            }
            fn neg(self) -> Self {
                <$tensor>::neg(self)
            }
            fn sqrt(self) -> Self {
                <$tensor>::sqrt(self)
            }
            fn square(self) -> Self {
                <$tensor>::square(self)
            }
            fn abs(self) -> Self {
                <$tensor>::abs(self)
            }
            fn sign(self) -> Self {
                <$tensor>::sign(self)
            }
            fn recip(self) -> Self {
                <$tensor>::recip(self)
            }
            fn max_pair(self, other: Self) -> Self {
                <$tensor>::max_pair(self, other)
            }
            fn clamp_min(self, min: f64) -> Self {
                <$tensor>::clamp_min(self, min)
            }
            fn clamp(self, min: f64, max: f64) -> Self {
                <$tensor>::clamp(self, min, max)
            }
            fn zeros_like(&self) -> Self {
                <$tensor>::zeros_like(self)
            }
            fn ones_like(&self) -> Self {
                <$tensor>::ones_like(self)
            }
            fn sum_dim(self, dim: usize) -> Self {
                <$tensor>::sum_dim(self, dim)
            }
            fn mean_dim(self, dim: usize) -> Self {
                <$tensor>::mean_dim(self, dim)
            }
            fn sum_all(self) -> Self {
                <$tensor>::sum(self).reshape([1; D])
            }
            fn matmul(self, other: Self) -> Self {
                <$tensor>::matmul(self, other)
            }
            fn transpose(self) -> Self {
                <$tensor>::transpose(self)
            }
            fn dims(&self) -> Vec<usize> {
                <$tensor>::dims(self).to_vec()
            }
            fn precision(&self) -> $crate::arith::Precision {
                use $crate::arith::Precision;
                match self.dtype() {
                    DType::F64 => Precision::Double,
                    DType::F16 => Precision::Half,
                    DType::BF16 => Precision::BrainHalf,
                    _ => Precision::Single,
                }
            }
            fn with_values(&self, values: Vec<f64>) -> Self {
                // The dtype is explicit: burn's device-wide default need not be this tensor's.
                <$tensor>::from_data(
                    TensorData::new(values, self.shape()),
                    (&self.device(), self.dtype()),
                )
            }
            fn lower_elem(self, value: f64) -> Self::Mask {
                <$tensor>::lower_elem(self, value)
            }
            fn greater_elem(self, value: f64) -> Self::Mask {
                <$tensor>::greater_elem(self, value)
            }
            fn equal_elem(self, value: f64) -> Self::Mask {
                <$tensor>::equal_elem(self, value)
            }
            fn mask_or(left: Self::Mask, right: Self::Mask) -> Self::Mask {
                left.bool_or(right)
            }
            fn mask_fill(self, mask: Self::Mask, value: f64) -> Self {
                <$tensor>::mask_fill(self, mask, value)
            }
        }
    };
}
pub(crate) use forward_arith;
