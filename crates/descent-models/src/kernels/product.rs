//! The kernels' matrix products, `C = op(A) op(B)` (optionally `+ C`) on row-major host
//! buffers: through BLAS on the host with the cargo feature `blas` (OpenBLAS, through
//! `ndarray`'s `general_mat_mul`), else on the backend's own matrix product (`gemm` on `Flex`,
//! `matrixmultiply` on `NdArray`).
//!
//! Why a BLAS: on a 2-core AVX-512 machine (2026-12-07, Intel Xeon, OpenBLAS 0.3.21 with its
//! SkylakeX kernels) the 2c2d's products run at 150-330 GFLOP/s in C, and the 2c2d trains at
//! 1,577 images/s on flex against 1,069 with `gemm`'s AVX-512 kernels. The same OpenBLAS on
//! its generic kernels ("Prescott", which Debian's 0.3.21 picks on CPUs newer than itself
//! unless `OPENBLAS_CORETYPE` says otherwise) runs at 38-68 GFLOP/s; the `descent` binary sets
//! the variable itself (crates/descent-runner/PERFORMANCE.md, "AVX-512 products and the
//! `blas` feature"), a program of your own must set it before it starts.

use std::borrow::Cow;

use burn::tensor::backend::Backend;

use super::Real;
#[cfg(not(feature = "blas"))]
use super::{read, upload};
use crate::ModelError;

/// A row-major matrix of `rows` x `cols` values, used as itself or transposed.
pub(super) struct Operand<'a, T: Clone> {
    values: Cow<'a, [T]>,
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a, T: Clone> Operand<'a, T> {
    /// The matrix `values` (`rows` x `cols`, row-major).
    pub(super) fn new(values: impl Into<Cow<'a, [T]>>, rows: usize, cols: usize) -> Self {
        Self {
            values: values.into(),
            rows,
            cols,
            transposed: false,
        }
    }

    /// The same matrix, transposed.
    pub(super) fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }

    /// The shape of `op(self)`.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
}

/// Lends a reusable buffer to a [`product`]: the host BLAS reads it in place, so the caller
/// refills it for the next chunk without allocating; the backend takes the values over (an
/// upload moves them), leaving it empty.
#[cfg_attr(
    feature = "blas",
    allow(
        clippy::ptr_arg,
        reason = "without `blas` the backend takes the vector over"
    )
)]
pub(super) fn lend<T: Clone>(buffer: &mut Vec<T>) -> Cow<'_, [T]> {
    #[cfg(feature = "blas")]
    {
        Cow::Borrowed(&buffer[..])
    }
    #[cfg(not(feature = "blas"))]
    {
        Cow::Owned(std::mem::take(buffer))
    }
}

/// The error of a product whose shapes do not fit (a bug in a kernel, reported, not a panic).
fn mismatch() -> ModelError {
    ModelError::Kernel("matrix product of mismatched shapes")
}

/// `out = op(a) op(b)`, or `out += op(a) op(b)` with `accumulate`; `out` is row-major with
/// `op(a)`'s rows and `op(b)`'s columns.
pub(super) fn product<I: Backend, T: Real>(
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
    accumulate: bool,
    device: &I::Device,
) -> Result<(), ModelError> {
    let ((m, k), (k_b, n)) = (a.shape(), b.shape());
    let fits = |o: &Operand<'_, T>| o.values.len() == o.rows * o.cols;
    if k != k_b || out.len() != m * n || !fits(&a) || !fits(&b) {
        return Err(mismatch());
    }
    #[cfg(feature = "blas")]
    {
        let _ = device;
        on_host(a, b, out, accumulate, (m, n))
    }
    #[cfg(not(feature = "blas"))]
    {
        on_backend::<I, T>(a, b, out, accumulate, device)
    }
}

#[cfg(feature = "blas")]
fn on_host<T: Real>(
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
    accumulate: bool,
    (m, n): (usize, usize),
) -> Result<(), ModelError> {
    use ndarray::ArrayViewMut2;
    use ndarray::linalg::general_mat_mul;

    let (a, b) = (view(&a)?, view(&b)?);
    let mut c = ArrayViewMut2::from_shape((m, n), out).map_err(|_| mismatch())?;
    let beta = if accumulate { T::one() } else { T::zero() };
    general_mat_mul(T::one(), &a, &b, beta, &mut c);
    Ok(())
}

/// `operand` as an ndarray view, transposed if it is.
#[cfg(feature = "blas")]
fn view<'a, T: Real>(
    operand: &'a Operand<'_, T>,
) -> Result<ndarray::ArrayView2<'a, T>, ModelError> {
    let view = ndarray::ArrayView2::from_shape((operand.rows, operand.cols), &operand.values[..])
        .map_err(|_| mismatch())?;
    Ok(if operand.transposed {
        view.reversed_axes()
    } else {
        view
    })
}

#[cfg(not(feature = "blas"))]
fn on_backend<I: Backend, T: Real>(
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    out: &mut [T],
    accumulate: bool,
    device: &I::Device,
) -> Result<(), ModelError> {
    let tensor = |o: Operand<'_, T>| {
        let matrix = upload::<I, T, 2>(o.values.into_owned(), [o.rows, o.cols], device);
        if o.transposed {
            matrix.transpose()
        } else {
            matrix
        }
    };
    let values = read::<T, I, 2>(tensor(a).matmul(tensor(b)))?;
    if accumulate {
        for (to, value) in out.iter_mut().zip(values) {
            *to = *to + value;
        }
    } else {
        out.copy_from_slice(&values);
    }
    Ok(())
}
