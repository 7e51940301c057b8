//! Loss landscapes: low-dimensional test functions with analytic derivatives.

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Element, Tensor, TensorData};

use crate::ModelError;

/// A 2-D test function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Landscape {
    /// Rosenbrock's valley `(1 - x)^2 + 100 (y - x^2)^2`, minimum 0 at `(1, 1)`.
    Rosenbrock,
    /// The elongated bowl `x^2 + 4 y^2`: Hessian eigenvalues 2 and 8, so GD is stable for
    /// `eta < 2/8` and momentum pays off.
    ElongatedBowl,
}

impl Landscape {
    /// Short name, as in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Landscape::Rosenbrock => "rosenbrock",
            Landscape::ElongatedBowl => "elongated_bowl",
        }
    }

    /// The global minimiser.
    pub fn minimiser(self) -> [f64; 2] {
        match self {
            Landscape::Rosenbrock => [1.0, 1.0],
            Landscape::ElongatedBowl => [0.0, 0.0],
        }
    }

    /// Analytic value at `w`.
    pub fn value(self, [x, y]: [f64; 2]) -> f64 {
        match self {
            Landscape::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            Landscape::ElongatedBowl => x * x + 4.0 * y * y,
        }
    }

    /// Analytic gradient at `w`.
    pub fn gradient(self, [x, y]: [f64; 2]) -> [f64; 2] {
        match self {
            Landscape::Rosenbrock => [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ],
            Landscape::ElongatedBowl => [2.0 * x, 8.0 * y],
        }
    }

    /// The value as a burn graph on a parameter vector of length 2 (differentiable).
    pub fn loss<B: Backend>(self, w: Tensor<B, 1>) -> Tensor<B, 1> {
        let x = w.clone().slice(0..1);
        let y = w.slice(1..2);
        match self {
            Landscape::Rosenbrock => {
                let valley = y.sub(x.clone().square()).square().mul_scalar(100.0);
                x.neg().add_scalar(1.0).square().add(valley)
            }
            Landscape::ElongatedBowl => x.square().add(y.square().mul_scalar(4.0)),
        }
    }
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
    pub fn on(landscape: Landscape, start: &[f64], device: &B::Device) -> Result<Self, ModelError> {
        if start.len() != 2 {
            return Err(ModelError::Dimension {
                landscape: landscape.name(),
                expected: 2,
                got: start.len(),
            });
        }
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
    use burn::tensor::ElementConversion;

    type B = Autodiff<NdArray<f64>>;

    #[test]
    fn autodiff_gradient_equals_the_analytic_gradient() {
        let points = [[-1.5, 2.0], [0.3, -0.7], [1.0, 1.0], [2.2, 4.1]];
        for landscape in [Landscape::Rosenbrock, Landscape::ElongatedBowl] {
            for w in points {
                let point = Point::<B>::new(&w, &Default::default());
                let value = landscape.loss(point.w.val());
                let grads = value.clone().backward();
                let grad = point.w.grad(&grads).expect("gradient");
                let grad: Vec<f64> = grad.into_data().convert::<f64>().to_vec().unwrap();
                let expected = landscape.gradient(w);
                for (g, e) in grad.iter().zip(expected) {
                    assert!(
                        (g - e).abs() <= 1e-12 * e.abs().max(1.0),
                        "{landscape:?} at {w:?}: {g} vs {e}"
                    );
                }
                let v: f64 = value.into_scalar().elem();
                assert!((v - landscape.value(w)).abs() <= 1e-12 * v.abs().max(1.0));
            }
            assert_eq!(landscape.value(landscape.minimiser()), 0.0);
        }
    }

    #[test]
    fn a_start_point_of_the_wrong_dimension_is_an_error() {
        let err = Point::<B>::on(Landscape::Rosenbrock, &[1.0], &Default::default()).err();
        assert_eq!(
            err,
            Some(ModelError::Dimension {
                landscape: "rosenbrock",
                expected: 2,
                got: 1
            })
        );
    }
}
