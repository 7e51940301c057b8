//! Loss landscapes: test functions with analytic derivatives, for watching optimizers walk.
//!
//! Every landscape has a name, a dimension, its value, gradient and Hessian in `f64`, its known
//! critical points (all global minima, and the saddles and other stationary points where they
//! are known in closed form or to full `f64` precision), and a window for contour plots;
//! [`Landscape::loss`] turns value and gradient into a graph burn's autodiff differentiates.
//!
//! | family | formula | global minima |
//! |---|---|---|
//! | [`Quadratic`] | `1/2 (w - c)^T A (w - c)`, `A = Q diag(lambda) Q^T` | `c` (if all `lambda >= 0`) |
//! | [`Rosenbrock`] | `sum_i 100 (w_{i+1} - w_i^2)^2 + (1 - w_i)^2` | `(1, ..., 1)` |
//! | [`Himmelblau`] | `(x^2 + y - 11)^2 + (x + y^2 - 7)^2` | four, value 0 |
//! | [`Beale`] | `sum_k (c_k - x + x y^k)^2` | `(3, 1/2)` |
//! | [`Rastrigin`] | `10 n + sum_i w_i^2 - 10 cos(2 pi w_i)` | `0` |
//! | [`SixHumpCamel`] | `(4 - 2.1 x^2 + x^4/3) x^2 + x y + (4 y^2 - 4) y^2` | two, value -1.0316 |
//! | [`StrictSaddle`] | `x^2 - y^2` | none (saddle at 0) |
//! | [`BoundedSaddle`] | `x^4/4 - x^2/2 + y^2/2` | `(+-1, 0)` |
//! | `quadratic_deep` | DeepOBS's: `1/2 w^T Q w` with 100-D `Q`, a finite sum over its data | `0` |
//! | [`DoubleWell`] | `x^4/4 - x^3/3 - x^2 + 1/2 sum_j w_j^2` | `(2, 0, ...)`; shallow one at `(-1, 0, ...)` |
//!
//! [`Landscape`] is the type callers hold (a shared handle on any [`Family`]); the registry
//! ([`find`], [`register`], [`BUILT_IN`]) maps the names experiment files use to builders, so a
//! new landscape is one file plus one registry line; [`Stochastic`] turns any landscape into a finite sum whose
//! mini-batch gradients carry noise of a chosen variance (and [`Stochastic::two_d_rosenbrock`]
//! is DeepOBS's `two_d_rosenbrock`; `quadratic_deep` is DeepOBS's problem of that name).

mod beale;
mod camel;
mod double_well;
mod himmelblau;
mod quadratic;
mod quadratic_deep;
mod rastrigin;
mod registry;
mod rosenbrock;
mod saddle;
mod spec;
mod stochastic;

use std::fmt;
use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element, Tensor, TensorData};

use crate::ModelError;

pub use beale::Beale;
pub use camel::SixHumpCamel;
pub use double_well::DoubleWell;
pub use himmelblau::Himmelblau;
pub use quadratic::{Quadratic, Rotation};
pub use quadratic_deep::{QUADRATIC_DEEP_HESSIAN_SEED, QUADRATIC_DEEP_START};
pub use rastrigin::Rastrigin;
pub use registry::{
    BUILT_IN, DefaultNoise, LandscapeEntry, LandscapeParams, entries, find, names, register,
};
pub use rosenbrock::Rosenbrock;
pub use saddle::{BoundedSaddle, StrictSaddle};
pub use spec::NoiseSpec;
pub use stochastic::{Stochastic, TWO_D_ROSENBROCK_EXAMPLES, TWO_D_ROSENBROCK_START};

/// What kind of stationary point (zero gradient) a [`CriticalPoint`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CriticalKind {
    /// A minimum with the least value of the landscape.
    GlobalMinimum,
    /// A minimum that is not global: where an optimizer can get stuck.
    LocalMinimum,
    /// A saddle point: the Hessian has negative and positive eigenvalues.
    Saddle,
    /// A local maximum.
    LocalMaximum,
}

/// A point where the gradient vanishes.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPoint {
    /// Its coordinates.
    pub point: Vec<f64>,
    /// What kind of point it is.
    pub kind: CriticalKind,
}

impl CriticalPoint {
    /// A stationary point of this kind at `point`.
    pub fn new(point: Vec<f64>, kind: CriticalKind) -> Self {
        CriticalPoint { point, kind }
    }
}

/// The region of the `(w_0, w_1)` plane a contour plot should show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotWindow {
    /// The range of `w_0`.
    pub x: (f64, f64),
    /// The range of `w_1` (for a 1-D landscape, an arbitrary range for the plot's other axis).
    pub y: (f64, f64),
}

impl PlotWindow {
    /// The window `x` by `y`.
    pub fn new(x: (f64, f64), y: (f64, f64)) -> Self {
        PlotWindow { x, y }
    }
}

/// One landscape family: what each of them computes, in `f64`, for points of the right
/// dimension. Implement it (and add a [`LandscapeEntry`] to the registry) to add a landscape.
///
/// Callers go through [`Landscape`], which checks the dimension first; so implementations may
/// assume `w.len() == self.dim()`.
pub trait Family: fmt::Debug + Send + Sync {
    /// Short name, as in experiment files.
    fn name(&self) -> &'static str;
    /// The number of coordinates.
    fn dim(&self) -> usize;
    /// The value at `w`.
    fn value(&self, w: &[f64]) -> f64;
    /// The gradient at `w`.
    fn gradient(&self, w: &[f64]) -> Vec<f64>;
    /// The Hessian at `w`, row-major (`dim * dim`). The default takes central differences of
    /// [`Self::gradient`] (step `1e-5` scaled by each coordinate), symmetrised; the built-in
    /// families all give theirs in closed form.
    fn hessian(&self, w: &[f64]) -> Vec<f64> {
        difference_hessian(self, w)
    }
    /// The known stationary points: all global minima, and whatever local minima, saddles and
    /// maxima are known. The default knows none.
    fn critical_points(&self) -> Vec<CriticalPoint> {
        Vec::new()
    }
    /// Where a contour plot of the `(w_0, w_1)` plane should look.
    fn window(&self) -> PlotWindow;
}

/// Central differences of the gradient, symmetrised: `(H + H^T) / 2`.
fn difference_hessian<F: Family + ?Sized>(family: &F, w: &[f64]) -> Vec<f64> {
    let n = w.len();
    let mut h = vec![0.0; n * n];
    let mut probe = w.to_vec();
    for j in 0..n {
        let step = 1e-5 * w[j].abs().max(1.0);
        probe[j] = w[j] + step;
        let plus = family.gradient(&probe);
        probe[j] = w[j] - step;
        let minus = family.gradient(&probe);
        probe[j] = w[j];
        for i in 0..n {
            h[i * n + j] = (plus[i] - minus[i]) / (2.0 * step);
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let mean = 0.5 * (h[i * n + j] + h[j * n + i]);
            h[i * n + j] = mean;
            h[j * n + i] = mean;
        }
    }
    h
}

/// A loss landscape: a shared handle on any [`Family`], built-in or added by a user.
#[derive(Clone)]
pub struct Landscape(Arc<dyn Family>);

impl fmt::Debug for Landscape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<F: Family + 'static> From<F> for Landscape {
    fn from(family: F) -> Self {
        Landscape(Arc::new(family))
    }
}

impl Landscape {
    /// The elongated bowl `x^2 + 4 y^2` (a [`Quadratic`] with eigenvalues 2 and 8): GD is
    /// stable for `eta < 2/8` and momentum pays off. Minimum 0 at the origin.
    pub fn elongated_bowl() -> Self {
        Quadratic::elongated_bowl().into()
    }

    /// Rosenbrock's 2-D valley `(1 - x)^2 + 100 (y - x^2)^2`, minimum 0 at `(1, 1)`.
    pub fn rosenbrock() -> Self {
        Rosenbrock::two_d().into()
    }

    /// The family behind this landscape.
    pub fn family(&self) -> &dyn Family {
        self.0.as_ref()
    }

    /// Short name of the family, as in experiment files (`"elongated_bowl"` for that preset).
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The number of coordinates.
    pub fn dim(&self) -> usize {
        self.0.dim()
    }

    /// `Ok` if `w` has [`Self::dim`] coordinates.
    pub fn check(&self, w: &[f64]) -> Result<(), ModelError> {
        self.check_len(w.len())
    }

    fn check_len(&self, got: usize) -> Result<(), ModelError> {
        if got == self.dim() {
            Ok(())
        } else {
            Err(ModelError::Dimension {
                landscape: self.name(),
                expected: self.dim(),
                got,
            })
        }
    }

    /// The value at `w`.
    pub fn value(&self, w: &[f64]) -> Result<f64, ModelError> {
        self.check(w)?;
        Ok(self.0.value(w))
    }

    /// The gradient at `w`.
    pub fn gradient(&self, w: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check(w)?;
        Ok(self.0.gradient(w))
    }

    /// The Hessian at `w`, row-major (`dim * dim` entries, entry `(i, j)` at `i * dim + j`).
    pub fn hessian(&self, w: &[f64]) -> Result<Vec<f64>, ModelError> {
        self.check(w)?;
        Ok(self.0.hessian(w))
    }

    /// The known stationary points: all global minima, and the local minima, saddles and
    /// maxima that each family's documentation lists.
    pub fn critical_points(&self) -> Vec<CriticalPoint> {
        self.0.critical_points()
    }

    /// All global minimisers (none for a landscape unbounded below).
    pub fn minimisers(&self) -> Vec<Vec<f64>> {
        self.points_of(CriticalKind::GlobalMinimum)
    }

    /// The known saddle points.
    pub fn saddles(&self) -> Vec<Vec<f64>> {
        self.points_of(CriticalKind::Saddle)
    }

    fn points_of(&self, kind: CriticalKind) -> Vec<Vec<f64>> {
        self.critical_points()
            .into_iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.point)
            .collect()
    }

    /// The global minimum value, where there is one.
    pub fn minimum(&self) -> Option<f64> {
        let first = self.minimisers().into_iter().next()?;
        self.value(&first).ok()
    }

    /// The largest eigenvalue of the Hessian at the (first) global minimiser, where there is
    /// one: the curvature that sets gradient descent's stability limit `eta < 2/lambda_max`
    /// near the minimum.
    pub fn sharpness_at_minimum(&self) -> Option<f64> {
        let minimiser = self.minimisers().into_iter().next()?;
        let n = minimiser.len();
        let hessian = self.hessian(&minimiser).ok()?;
        let matrix = nalgebra::DMatrix::from_row_slice(n, n, &hessian);
        matrix
            .symmetric_eigenvalues()
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .reduce(f64::max)
    }

    /// Euclidean distance from `w` to the nearest global minimiser (`None` if there is none).
    pub fn distance_to_minimiser(&self, w: &[f64]) -> Result<Option<f64>, ModelError> {
        self.check(w)?;
        Ok(self
            .minimisers()
            .iter()
            .map(|m| {
                m.iter()
                    .zip(w)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            })
            .reduce(f64::min))
    }

    /// Where a contour plot of the `(w_0, w_1)` plane should look.
    pub fn window(&self) -> PlotWindow {
        self.0.window()
    }

    /// The loss as a burn graph that autodiff differentiates: `w` has shape `[dim]`, the result
    /// shape `[1]`.
    ///
    /// The graph is the first-order surrogate `f(w) + g . (w' - w)` taken at `w' = w`, with
    /// `f(w)` and `g = grad f(w)` computed in `f64` by the family and `w' - w` formed as
    /// `w - detach(w)`: its value is `f(w)` and its gradient `g`, each rounded once to the
    /// backend's float type. So every family needs only its `f64` formulas (no burn code, and
    /// no trait generic over the backend, which is what lets the registry hold any family), and
    /// `f32` runs get gradients computed in `f64`. It reads `w` back from the device each call.
    pub fn loss<B: Backend>(&self, w: Tensor<B, 1>) -> Result<Tensor<B, 1>, ModelError> {
        let (g, at) = self.gradient_tensor(&w)?;
        Ok(surrogate(self.0.value(&at), g, w))
    }

    /// `grad f(w)` without a graph: the family's `f64` gradient rounded once to `w`'s float
    /// type on its device, which is exactly the gradient autodiff takes through
    /// [`loss`](Self::loss) (the surrogate's gradient is that constant times one). With
    /// `with_loss`, also `loss(w)`'s value, from the same read of `w` and the same gradient
    /// (the same operations, so the same bits). For a training loop that skips the graph.
    pub fn gradient_and_loss<B: Backend>(
        &self,
        w: Tensor<B, 1>,
        with_loss: bool,
    ) -> Result<(Tensor<B, 1>, Option<Tensor<B, 1>>), ModelError> {
        let (g, at) = self.gradient_tensor(&w)?;
        let loss = with_loss.then(|| surrogate(self.0.value(&at), g.clone(), w));
        Ok((g, loss))
    }

    /// The gradient at `w` as a tensor like `w`, and `w` read back as `f64`.
    fn gradient_tensor<B: Backend>(
        &self,
        w: &Tensor<B, 1>,
    ) -> Result<(Tensor<B, 1>, Vec<f64>), ModelError> {
        let [n] = w.dims();
        self.check_len(n)?;
        let at = read_f64(w)?;
        Ok((constant(self.0.gradient(&at), [n], w), at))
    }
}

/// `value + g . (w - detach(w))`: value `value`, gradient `g`.
fn surrogate<B: Backend>(value: f64, g: Tensor<B, 1>, w: Tensor<B, 1>) -> Tensor<B, 1> {
    let displacement = w.clone().sub(w.clone().detach());
    constant(vec![value], [1], &w).add(displacement.mul(g).sum())
}

/// A rank-1 tensor's values as `f64`.
fn read_f64<B: Backend>(w: &Tensor<B, 1>) -> Result<Vec<f64>, ModelError> {
    w.to_data()
        .convert::<f64>()
        .to_vec()
        .map_err(|e| ModelError::Readback(format!("{e:?}")))
}

/// The first two coordinates (NaN for missing ones, which [`Landscape`]'s checks rule out).
fn pair(w: &[f64]) -> (f64, f64) {
    match w {
        [x, y, ..] => (*x, *y),
        [x] => (*x, f64::NAN),
        [] => (f64::NAN, f64::NAN),
    }
}

/// A constant tensor on `like`'s device and in its float type.
fn constant<B: Backend, const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    like: &Tensor<B, 1>,
) -> Tensor<B, D> {
    Tensor::from_data(
        TensorData::new(values, shape),
        (&like.device(), like.dtype()),
    )
}

/// A module holding one parameter vector: a point on a landscape.
#[derive(Module, Debug)]
pub struct Point<B: Backend> {
    /// The coordinates.
    pub w: Param<Tensor<B, 1>>,
}

impl<B: Backend> Point<B> {
    /// A point at `start` on `device`, in the backend's float type.
    pub fn new(start: &[f64], device: &B::Device) -> Self {
        let dtype: DType = <B::FloatElem as Element>::dtype();
        let data = TensorData::new(start.to_vec(), [start.len()]);
        Point {
            w: Param::from_tensor(Tensor::from_data(data, (device, dtype))),
        }
    }

    /// The point on `landscape` at `start`, checked against its dimension.
    pub fn on(
        landscape: &Landscape,
        start: &[f64],
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        landscape.check(start)?;
        Ok(Self::new(start, device))
    }

    /// The coordinates, read back as `f64`.
    pub fn coordinates(&self) -> Vec<f64> {
        self.w
            .val()
            .into_data()
            .convert::<f64>()
            .to_vec()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};

    type B = Autodiff<NdArray<f64>>;

    #[test]
    fn a_start_point_of_the_wrong_dimension_is_an_error() {
        let err = Point::<B>::on(&Landscape::rosenbrock(), &[1.0], &Default::default()).err();
        assert_eq!(
            err,
            Some(ModelError::Dimension {
                landscape: "rosenbrock",
                expected: 2,
                got: 1
            })
        );
    }

    #[test]
    fn a_tensor_of_the_wrong_dimension_is_an_error_not_a_panic() {
        let point = Point::<B>::new(&[1.0, 2.0, 3.0], &Default::default());
        let err = Landscape::elongated_bowl().loss(point.w.val()).err();
        assert_eq!(
            err,
            Some(ModelError::Dimension {
                landscape: "elongated_bowl",
                expected: 2,
                got: 3
            })
        );
    }
}
