//! Every landscape checked three ways against itself: the analytic gradient against central
//! differences of the value, the analytic Hessian against differences of the analytic gradient, and the listed
//! critical points against the gradient and Hessian there; and the stochastic finite sums
//! against the statistics they promise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{ElementConversion, Tensor};
use descent_models::ModelError;
use descent_models::landscape::{
    Beale, BoundedSaddle, CriticalKind, DoubleWell, Family, Himmelblau, Landscape, LandscapeEntry,
    LandscapeParams, NoiseSpec, PlotWindow, Point, Quadratic, Rastrigin, Rosenbrock, Rotation,
    SixHumpCamel, Stochastic, StrictSaddle, TWO_D_ROSENBROCK_START,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = Autodiff<NdArray<f64>>;

/// One or more instances of every family, in several dimensions.
fn landscapes() -> Vec<Landscape> {
    let quadratic = |eigenvalues: &[f64], rotation, centre: Option<&[f64]>| {
        Landscape::from(Quadratic::new(eigenvalues, rotation, centre).unwrap())
    };
    vec![
        Landscape::elongated_bowl(),
        quadratic(&[1.0, 10.0], Rotation::Angle(0.7), Some(&[1.0, -2.0])),
        quadratic(
            &[0.1, 1.0, 3.0, 7.0, 20.0, 50.0],
            Rotation::Seeded(7),
            Some(&[0.5, -0.5, 1.0, 0.0, 2.0, -1.0]),
        ),
        quadratic(&[3.0, 0.5, -1.0, 7.0, 2.0], Rotation::Seeded(8), None),
        quadratic(&[4.0], Rotation::None, Some(&[0.25])),
        Landscape::rosenbrock(),
        Rosenbrock::new(5).unwrap().into(),
        Himmelblau.into(),
        Beale.into(),
        Rastrigin::new(2).unwrap().into(),
        Rastrigin::new(4).unwrap().into(),
        SixHumpCamel.into(),
        StrictSaddle.into(),
        BoundedSaddle.into(),
        DoubleWell::new(1).unwrap().into(),
        DoubleWell::new(2).unwrap().into(),
        DoubleWell::new(3).unwrap().into(),
    ]
}

/// Seeded random points in the landscape's plot window (later coordinates use the `y` range).
fn random_points(landscape: &Landscape, count: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let window = landscape.window();
    (0..count)
        .map(|_| {
            (0..landscape.dim())
                .map(|i| {
                    let (lo, hi) = if i == 0 { window.x } else { window.y };
                    rng.random_range(lo..hi)
                })
                .collect()
        })
        .collect()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Eigenvalues of a symmetric row-major matrix by cyclic Jacobi rotations.
fn symmetric_eigenvalues(h: &[f64], n: usize) -> Vec<f64> {
    let mut a = h.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off < 1e-30 * max_abs(&a).powi(2).max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

fn autodiff(landscape: &Landscape, w: &[f64]) -> (f64, Vec<f64>) {
    let point = Point::<B>::on(landscape, w, &Default::default()).unwrap();
    let value = landscape.loss(point.w.val()).unwrap();
    assert_eq!(value.dims(), [1], "{}", landscape.name());
    let grads = value.clone().backward();
    let grad = point.w.grad(&grads).unwrap();
    let grad: Vec<f64> = grad.into_data().convert::<f64>().to_vec().unwrap();
    (value.into_scalar().elem(), grad)
}

#[test]
fn the_gradient_matches_central_differences_of_the_value() {
    for (l, landscape) in landscapes().iter().enumerate() {
        for w in random_points(landscape, 6, 100 + l as u64) {
            let analytic = landscape.gradient(&w).unwrap();
            let scale = max_abs(&analytic)
                .max(landscape.value(&w).unwrap().abs())
                .max(1.0);
            for (i, a) in analytic.iter().enumerate() {
                let h = 1e-6 * w[i].abs().max(1.0);
                let (mut plus, mut minus) = (w.clone(), w.clone());
                plus[i] += h;
                minus[i] -= h;
                let fd = (landscape.value(&plus).unwrap() - landscape.value(&minus).unwrap())
                    / (2.0 * h);
                assert!(
                    (fd - a).abs() <= 1e-6 * scale,
                    "{} at {w:?}: d/dw{i} analytic {a} vs differences {fd}",
                    landscape.name()
                );
            }
        }
    }
}

#[test]
fn autodiff_of_the_loss_graph_gives_the_analytic_value_and_gradient_exactly() {
    for (l, landscape) in landscapes().iter().enumerate() {
        for w in random_points(landscape, 3, 150 + l as u64) {
            let (value, grad) = autodiff(landscape, &w);
            assert_eq!(value, landscape.value(&w).unwrap(), "{}", landscape.name());
            assert_eq!(
                grad,
                landscape.gradient(&w).unwrap(),
                "{}",
                landscape.name()
            );
        }
    }
}

#[test]
fn in_f32_the_loss_graph_rounds_the_f64_value_and_gradient_once() {
    type F = Autodiff<NdArray<f32>>;
    let landscape = Landscape::from(Rosenbrock::new(3).unwrap());
    let w = [-1.2_f32, 0.7, 1.9];
    let point = Point::<F>::new(&w.map(f64::from), &Default::default());
    let loss = landscape.loss(point.w.val()).unwrap();
    let grads = loss.clone().backward();
    let grad: Vec<f32> = point.w.grad(&grads).unwrap().into_data().to_vec().unwrap();
    let at = w.map(f64::from);
    let expected: Vec<f32> = landscape
        .gradient(&at)
        .unwrap()
        .iter()
        .map(|&g| g as f32)
        .collect();
    assert_eq!(grad, expected);
    let value: f32 = loss.into_scalar().elem();
    assert_eq!(value, landscape.value(&at).unwrap() as f32);
}

#[test]
fn the_hessian_matches_central_differences_of_the_gradient() {
    let h = 1e-5;
    for (l, landscape) in landscapes().iter().enumerate() {
        let n = landscape.dim();
        for w in random_points(landscape, 6, 200 + l as u64) {
            let hessian = landscape.hessian(&w).unwrap();
            assert_eq!(hessian.len(), n * n);
            let scale = max_abs(&hessian).max(1.0);
            for j in 0..n {
                let mut plus = w.clone();
                let mut minus = w.clone();
                plus[j] += h;
                minus[j] -= h;
                let gp = landscape.gradient(&plus).unwrap();
                let gm = landscape.gradient(&minus).unwrap();
                for i in 0..n {
                    let fd = (gp[i] - gm[i]) / (2.0 * h);
                    let an = hessian[i * n + j];
                    assert!(
                        (fd - an).abs() <= 1e-6 * scale,
                        "{} at {w:?}: H[{i},{j}] analytic {an} vs differences {fd}",
                        landscape.name()
                    );
                    assert_eq!(an, hessian[j * n + i], "{} not symmetric", landscape.name());
                }
            }
        }
    }
}

#[test]
fn the_gradient_vanishes_at_every_listed_critical_point() {
    for landscape in landscapes() {
        let points = landscape.critical_points();
        assert!(!points.is_empty(), "{} lists nothing", landscape.name());
        for c in points {
            let g = landscape.gradient(&c.point).unwrap();
            let scale = max_abs(&landscape.hessian(&c.point).unwrap()).max(1.0)
                * max_abs(&c.point).max(1.0);
            assert!(
                max_abs(&g) <= 1e-13 * scale,
                "{} at {:?}: gradient {g:?}",
                landscape.name(),
                c.point
            );
        }
    }
}

#[test]
fn critical_point_kinds_agree_with_the_hessian_eigenvalue_signs() {
    for landscape in landscapes() {
        let n = landscape.dim();
        for c in landscape.critical_points() {
            let eig = symmetric_eigenvalues(&landscape.hessian(&c.point).unwrap(), n);
            let negative = eig.iter().filter(|&&e| e < -1e-9).count();
            let positive = eig.iter().filter(|&&e| e > 1e-9).count();
            let what = format!("{} at {:?}: eigenvalues {eig:?}", landscape.name(), c.point);
            match c.kind {
                CriticalKind::GlobalMinimum | CriticalKind::LocalMinimum => {
                    assert_eq!(positive, n, "{what}")
                }
                CriticalKind::LocalMaximum => assert_eq!(negative, n, "{what}"),
                CriticalKind::Saddle => {
                    assert!(negative >= 1 && positive >= 1, "{what}");
                    if n == 2 {
                        assert_eq!((negative, positive), (1, 1), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn saddles_are_listed_where_the_landscape_has_them() {
    let name_and_count = |l: &Landscape| (l.name(), l.dim(), l.saddles().len());
    let counts: Vec<_> = landscapes().iter().map(name_and_count).collect();
    for expected in [
        ("strict_saddle", 2, 1),
        ("bounded_saddle", 2, 1),
        ("quadratic", 5, 1),
        ("himmelblau", 2, 4),
        ("beale", 2, 2),
        ("six_hump_camel", 2, 7),
        ("double_well", 2, 1),
        ("double_well", 1, 0),
    ] {
        assert!(counts.contains(&expected), "{expected:?} not in {counts:?}");
    }
    // Beale's saddle on its plateau is exactly [[0, 27.75], [27.75, 0]].
    let beale = Landscape::from(Beale);
    assert_eq!(
        beale.hessian(&[0.0, 1.0]).unwrap(),
        vec![0.0, 27.75, 27.75, 0.0]
    );
}

#[test]
fn global_minima_have_the_documented_values_and_nothing_listed_or_sampled_is_lower() {
    let documented = [
        ("elongated_bowl", 0.0),
        ("quadratic", 0.0),
        ("rosenbrock", 0.0),
        ("himmelblau", 0.0),
        ("beale", 0.0),
        ("rastrigin", 0.0),
        ("six_hump_camel", -1.0316284534898774),
        ("bounded_saddle", -0.25),
        ("double_well", -8.0 / 3.0),
    ];
    for (l, landscape) in landscapes().iter().enumerate() {
        let Some(minimum) = landscape.minimum() else {
            assert!(landscape.minimisers().is_empty());
            continue;
        };
        if let Some((_, value)) = documented.iter().find(|(n, _)| *n == landscape.name()) {
            assert!((minimum - value).abs() < 1e-14, "{}", landscape.name());
        }
        let tolerance = 1e-12 * minimum.abs().max(1.0);
        for m in landscape.minimisers() {
            let v = landscape.value(&m).unwrap();
            assert!(
                (v - minimum).abs() < tolerance,
                "{} at {m:?}",
                landscape.name()
            );
        }
        for c in landscape.critical_points() {
            let v = landscape.value(&c.point).unwrap();
            assert!(
                v >= minimum - tolerance,
                "{} at {:?}",
                landscape.name(),
                c.point
            );
            if c.kind != CriticalKind::GlobalMinimum {
                assert!(
                    v > minimum + tolerance,
                    "{} at {:?}",
                    landscape.name(),
                    c.point
                );
            }
        }
        for w in random_points(landscape, 2000, 300 + l as u64) {
            let v = landscape.value(&w).unwrap();
            assert!(
                v >= minimum - tolerance,
                "{} at {w:?}: {v}",
                landscape.name()
            );
        }
    }
    let well = Landscape::from(DoubleWell::new(2).unwrap());
    assert!((well.value(&[-1.0, 0.0]).unwrap() + 5.0 / 12.0).abs() < 1e-15);
    assert_eq!(well.value(&[0.0, 0.0]).unwrap(), 0.0);
    assert_eq!(well.minimisers(), vec![vec![2.0, 0.0]]);
}

#[test]
fn himmelblau_and_the_camel_list_all_their_global_minima() {
    let himmelblau = Landscape::from(Himmelblau);
    assert_eq!(himmelblau.minimisers().len(), 4);
    let camel = Landscape::from(SixHumpCamel);
    assert_eq!(camel.minimisers().len(), 2);
    assert_eq!(camel.critical_points().len(), 15);
    let bounded = Landscape::from(BoundedSaddle);
    assert_eq!(bounded.minimisers(), vec![vec![1.0, 0.0], vec![-1.0, 0.0]]);
    assert_eq!(
        bounded.distance_to_minimiser(&[-0.5, 0.0]).unwrap(),
        Some(0.5)
    );
    let saddle = Landscape::from(StrictSaddle);
    assert!(saddle.minimisers().is_empty());
    assert_eq!(saddle.distance_to_minimiser(&[1.0, 1.0]).unwrap(), None);
}

#[test]
fn the_elongated_bowl_is_x2_plus_4y2() {
    let bowl = Landscape::elongated_bowl();
    assert_eq!(bowl.name(), "elongated_bowl");
    for [x, y] in [[-2.0, 1.0], [0.3, -0.7], [1.5, 2.5]] {
        assert_eq!(bowl.value(&[x, y]).unwrap(), x * x + 4.0 * y * y);
        assert_eq!(bowl.gradient(&[x, y]).unwrap(), vec![2.0 * x, 8.0 * y]);
    }
    assert_eq!(bowl.hessian(&[0.0, 0.0]).unwrap(), vec![2.0, 0.0, 0.0, 8.0]);
    assert_eq!(bowl.minimisers(), vec![vec![0.0, 0.0]]);
}

#[test]
fn a_rotated_quadratic_has_the_chosen_spectrum_and_eigenvectors() {
    let eigenvalues = [0.5, 2.0, 9.0, 30.0];
    let n = eigenvalues.len();
    let q = Quadratic::new(&eigenvalues, Rotation::Seeded(3), None).unwrap();
    let (a, basis) = (q.matrix(), q.basis());
    for (k, lambda) in eigenvalues.iter().enumerate() {
        for i in 0..n {
            let av: f64 = (0..n).map(|j| a[i * n + j] * basis[j * n + k]).sum();
            assert!((av - lambda * basis[i * n + k]).abs() < 1e-12);
        }
    }
    let mut found = symmetric_eigenvalues(a, n);
    found.sort_by(f64::total_cmp);
    for (f, e) in found.iter().zip(eigenvalues) {
        assert!((f - e).abs() < 1e-10, "{found:?}");
    }
    // A genuine rotation: not diagonal.
    assert!(a[1].abs() > 1e-3);
    // Angle rotation: the bowl's first axis along (cos, sin).
    let theta: f64 = 0.4;
    let rotated =
        Landscape::from(Quadratic::new(&[1.0, 5.0], Rotation::Angle(theta), None).unwrap());
    let along = [theta.cos(), theta.sin()];
    assert!((rotated.value(&along).unwrap() - 0.5).abs() < 1e-15);
    let across = [-theta.sin(), theta.cos()];
    assert!((rotated.value(&across).unwrap() - 2.5).abs() < 1e-15);
}

#[test]
fn bad_descriptions_and_wrong_dimensions_are_errors() {
    assert_eq!(
        Rosenbrock::new(1).err(),
        Some(ModelError::TooFewDimensions {
            landscape: "rosenbrock",
            min: 2,
            got: 1
        })
    );
    assert!(Rastrigin::new(0).is_err());
    assert!(DoubleWell::new(0).is_err());
    assert!(Quadratic::new(&[1.0, f64::NEG_INFINITY], Rotation::None, None).is_err());
    let rosenbrock = Landscape::from(Rosenbrock::new(3).unwrap());
    let wrong = Some(ModelError::Dimension {
        landscape: "rosenbrock",
        expected: 3,
        got: 2,
    });
    assert_eq!(rosenbrock.value(&[1.0, 1.0]).err(), wrong);
    assert_eq!(rosenbrock.gradient(&[1.0, 1.0]).err(), wrong);
    assert_eq!(rosenbrock.hessian(&[1.0, 1.0]).err(), wrong);
    assert_eq!(rosenbrock.distance_to_minimiser(&[1.0, 1.0]).err(), wrong);
}

#[test]
fn every_registered_landscape_builds_under_its_own_name() {
    let names = descent_models::landscape::names();
    for entry in descent_models::landscape::BUILT_IN {
        let params = LandscapeParams {
            eigenvalues: entry.takes.contains(&"eigenvalues").then(|| vec![1.0, 3.0]),
            ..LandscapeParams::default()
        };
        let landscape = entry.build(&params).unwrap();
        if entry.noise.is_none() {
            // A preset finite sum (two_d_rosenbrock) is its deterministic part plus noise.
            assert_eq!(landscape.name(), entry.name);
        }
        assert_eq!(names.iter().filter(|n| **n == entry.name).count(), 1);
        if let Some(start) = entry.start {
            landscape.check(start).unwrap();
        }
    }
    let params = |dim| LandscapeParams {
        dim: Some(dim),
        ..LandscapeParams::default()
    };
    let rosenbrock = descent_models::landscape::find("rosenbrock").unwrap();
    assert_eq!(rosenbrock.build(&params(5)).unwrap().dim(), 5);
    assert!(rosenbrock.build(&params(1)).is_err());
}

#[test]
fn the_registry_refuses_unknown_names_and_parameters_a_landscape_does_not_take() {
    let err = descent_models::landscape::find("egg_crate").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("egg_crate") && message.contains("rosenbrock, two_d_rosenbrock"));
    let himmelblau = descent_models::landscape::find("himmelblau").unwrap();
    let with_dim = LandscapeParams {
        dim: Some(3),
        ..LandscapeParams::default()
    };
    match himmelblau.build(&with_dim) {
        Err(ModelError::LandscapeParameter { parameter, reason }) => {
            assert_eq!(parameter, "dim");
            assert!(reason.contains("himmelblau"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let quadratic = descent_models::landscape::find("quadratic").unwrap();
    match quadratic.build(&LandscapeParams::default()) {
        Err(ModelError::LandscapeParameter { parameter, .. }) => {
            assert_eq!(parameter, "eigenvalues")
        }
        other => panic!("{other:?}"),
    }
}

/// A landscape defined outside the crate: `cosh(x) + y^2 / 2`, no Hessian given.
#[derive(Debug)]
struct Catenary;

impl Family for Catenary {
    fn name(&self) -> &'static str {
        "catenary"
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, w: &[f64]) -> f64 {
        w[0].cosh() + 0.5 * w[1] * w[1]
    }
    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        vec![w[0].sinh(), w[1]]
    }
    fn window(&self) -> PlotWindow {
        PlotWindow::new((-2.0, 2.0), (-2.0, 2.0))
    }
}

#[test]
fn a_landscape_added_at_run_time_is_found_by_name_and_gets_a_difference_hessian() {
    let entry = LandscapeEntry {
        name: "catenary",
        summary: "cosh(x) + y^2/2",
        takes: &[],
        build: |_| Ok(Catenary.into()),
        start: Some(&[1.0, 1.0]),
        noise: None,
    };
    descent_models::landscape::register(entry).unwrap();
    assert!(descent_models::landscape::register(entry).is_err());
    let landscape = descent_models::landscape::find("catenary")
        .unwrap()
        .build(&LandscapeParams::default())
        .unwrap();
    let h = landscape.hessian(&[0.5, -1.0]).unwrap();
    let exact = [0.5_f64.cosh(), 0.0, 0.0, 1.0];
    for (a, e) in h.iter().zip(exact) {
        assert!((a - e).abs() < 1e-8, "{h:?}");
    }
    let (value, grad) = autodiff(&landscape, &[0.5, -1.0]);
    assert_eq!(value, Catenary.value(&[0.5, -1.0]));
    assert_eq!(grad, Catenary.gradient(&[0.5, -1.0]));
}

// ---- stochastic finite sums ----

fn stochastic(landscape: Landscape, examples: usize, sigma: f64, seed: u64) -> Stochastic {
    NoiseSpec {
        examples,
        sigma,
        seed,
    }
    .build(landscape)
    .unwrap()
}

#[test]
fn the_noise_sums_to_zero_and_the_full_batch_is_the_landscape() {
    for (l, landscape) in [
        Landscape::elongated_bowl(),
        Landscape::from(Rosenbrock::new(5).unwrap()),
        Landscape::from(Himmelblau),
    ]
    .into_iter()
    .enumerate()
    {
        let s = stochastic(landscape.clone(), 1000, 2.0, l as u64);
        assert_eq!(s.noise().len(), 1000);
        for j in 0..landscape.dim() {
            let sum: f64 = s.noise().iter().map(|xi| xi[j]).sum();
            assert!(sum.abs() < 1e-12, "{}: sum {sum}", landscape.name());
        }
        for w in random_points(&landscape, 4, 400 + l as u64) {
            let full = s.full_gradient(&w).unwrap();
            let exact = landscape.gradient(&w).unwrap();
            for (f, e) in full.iter().zip(&exact) {
                assert!((f - e).abs() < 1e-12 * e.abs().max(1.0));
            }
            let (fv, ev) = (s.full_value(&w).unwrap(), landscape.value(&w).unwrap());
            assert!((fv - ev).abs() < 1e-12 * ev.abs().max(1.0));
        }
    }
}

#[test]
fn the_noise_is_reproducible_from_its_seed() {
    let a = stochastic(Landscape::rosenbrock(), 50, 1.0, 5);
    assert_eq!(
        a.noise(),
        stochastic(Landscape::rosenbrock(), 50, 1.0, 5).noise()
    );
    assert_ne!(
        a.noise(),
        stochastic(Landscape::rosenbrock(), 50, 1.0, 6).noise()
    );
    assert_eq!((a.examples(), a.sigma(), a.seed()), (50, Some(1.0), 5));
}

#[test]
fn minibatch_gradient_variance_matches_sampling_without_replacement() {
    // Few examples, so the finite-population factor (n - B) / (n - 1) is far from 1 and the
    // usual mistakes are far off: sigma^2 / B is 80% too big, a divisor n instead of n - 1
    // 10% too small. 50 000 batches measure the variance to about 1% per coordinate.
    let (n, batch, sigma) = (10, 4, 1.5);
    let landscape =
        Landscape::from(Quadratic::new(&[1.0, 2.0, 3.0], Rotation::Seeded(1), None).unwrap());
    let s = stochastic(landscape.clone(), n, sigma, 11);
    let w = [0.3, -1.2, 2.0];
    let exact = landscape.gradient(&w).unwrap();
    let predicted = s.minibatch_variance(batch).unwrap();
    let population = s.population_variance();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let draws = 50_000;
    let mut sum = [0.0; 3];
    let mut sum_sq = [0.0; 3];
    for _ in 0..draws {
        let indices = rand::seq::index::sample(&mut rng, n, batch).into_vec();
        let g = s.gradient(&w, &indices).unwrap();
        for j in 0..3 {
            let noise = g[j] - exact[j];
            sum[j] += noise;
            sum_sq[j] += noise * noise;
        }
    }
    for j in 0..3 {
        let mean = sum[j] / draws as f64;
        let variance = sum_sq[j] / draws as f64 - mean * mean;
        let formula = population[j] * (n - batch) as f64 / (batch * (n - 1)) as f64;
        assert!((predicted[j] - formula).abs() < 1e-15);
        assert!(
            (variance / predicted[j] - 1.0).abs() < 0.04,
            "coordinate {j}: measured {variance}, predicted {}",
            predicted[j]
        );
        // Unbiased: the mean noise is within four standard errors of zero.
        assert!(mean.abs() < 4.0 * (predicted[j] / draws as f64).sqrt());
    }
    assert_eq!(s.minibatch_variance(n).unwrap(), vec![0.0; 3]);
    assert_eq!(s.minibatch_variance(1).unwrap(), population);
}

#[test]
fn the_noise_variance_is_sigma_squared_for_many_examples() {
    let sigma = 0.7;
    let s = stochastic(
        Landscape::from(Rastrigin::new(3).unwrap()),
        20_000,
        sigma,
        3,
    );
    // Relative standard error sqrt(2 / n) = 1%.
    for s2 in s.population_variance() {
        assert!((s2 / (sigma * sigma) - 1.0).abs() < 0.05, "{s2}");
    }
    let deepobs = Stochastic::two_d_rosenbrock(42);
    assert_eq!(deepobs.examples(), 10_000);
    assert_eq!(deepobs.landscape().name(), "rosenbrock");
    assert_eq!(deepobs.landscape().dim(), 2);
    assert_eq!(TWO_D_ROSENBROCK_START, [-0.5, 1.5]);
    for s2 in deepobs.population_variance() {
        assert!((s2 - 1.0).abs() < 0.06, "{s2}");
    }
}

#[test]
fn the_minibatch_graph_matches_the_analytic_minibatch_gradient() {
    for (l, landscape) in landscapes().into_iter().enumerate() {
        let s = stochastic(landscape.clone(), 32, 3.0, 500 + l as u64);
        let batches: [&[usize]; 3] = [&[0], &[3, 7, 7, 31], &[5, 1, 2, 9, 10, 11, 12, 30]];
        for (w, batch) in random_points(&landscape, 3, 600 + l as u64)
            .iter()
            .zip(batches)
        {
            let point = Point::<B>::on(&landscape, w, &Default::default()).unwrap();
            let loss = s.loss(point.w.val(), batch).unwrap();
            assert_eq!(loss.dims(), [1]);
            let grads = loss.clone().backward();
            let grad: Vec<f64> = point
                .w
                .grad(&grads)
                .unwrap()
                .into_data()
                .convert::<f64>()
                .to_vec()
                .unwrap();
            let expected = s.gradient(w, batch).unwrap();
            let scale = max_abs(&expected).max(1.0);
            for (g, e) in grad.iter().zip(&expected) {
                assert!(
                    (g - e).abs() <= 1e-10 * scale,
                    "{}: {g} vs {e}",
                    landscape.name()
                );
            }
            let v: f64 = loss.into_scalar().elem();
            let e = s.value(w, batch).unwrap();
            assert!((v - e).abs() <= 1e-10 * e.abs().max(1.0));
            // Per-example losses average to the batch loss.
            let mean = batch
                .iter()
                .map(|&i| s.value(w, &[i]).unwrap())
                .sum::<f64>()
                / batch.len() as f64;
            assert!((mean - e).abs() <= 1e-10 * e.abs().max(1.0));
        }
    }
}

#[test]
fn bad_noise_and_bad_batches_are_errors() {
    let rosenbrock = Landscape::rosenbrock;
    assert_eq!(
        Stochastic::new(rosenbrock(), 0, 1.0, 0).err(),
        Some(ModelError::NoExamples)
    );
    assert_eq!(
        Stochastic::new(rosenbrock(), 5, -1.0, 0).err(),
        Some(ModelError::NoiseScale(-1.0))
    );
    assert!(Stochastic::new(rosenbrock(), 5, f64::NAN, 0).is_err());
    let s = stochastic(rosenbrock(), 5, 1.0, 0);
    assert_eq!(
        s.gradient(&[0.0, 0.0], &[]).err(),
        Some(ModelError::EmptyBatch)
    );
    assert_eq!(
        s.value(&[0.0, 0.0], &[1, 5]).err(),
        Some(ModelError::BatchIndex {
            index: 5,
            examples: 5
        })
    );
    assert!(s.gradient(&[0.0], &[1]).is_err());
    assert_eq!(
        s.minibatch_variance(6).err(),
        Some(ModelError::BatchSize {
            size: 6,
            examples: 5
        })
    );
    assert!(s.minibatch_variance(0).is_err());
    let point = Point::<B>::new(&[0.0, 0.0], &Default::default());
    assert!(s.loss(point.w.val(), &[9]).is_err());
    let wrong = Tensor::<B, 1>::zeros([3], &Default::default());
    assert!(s.loss(wrong, &[0]).is_err());
    let one = stochastic(rosenbrock(), 1, 1.0, 0);
    assert_eq!(one.minibatch_variance(1).unwrap(), vec![0.0, 0.0]);
}

#[test]
fn a_quadratic_of_a_given_dimension_spreads_its_spectrum_and_rotates_by_a_seed() {
    let quadratic = descent_models::landscape::find("quadratic").unwrap();
    let params = LandscapeParams {
        dim: Some(12),
        eigenvalues: Some(vec![0.01, 1.0]),
        rotation_seed: Some(3),
        ..LandscapeParams::default()
    };
    let landscape = quadratic.build(&params).unwrap();
    assert_eq!(landscape.dim(), 12);
    let h = landscape.hessian(&[0.0; 12]).unwrap();
    let mut eigenvalues = symmetric_eigenvalues(&h, 12);
    eigenvalues.sort_by(f64::total_cmp);
    for (i, e) in eigenvalues.iter().enumerate() {
        let expected = 0.01 * 100f64.powf(i as f64 / 11.0);
        assert!((e - expected).abs() < 1e-12, "{i}: {e} vs {expected}");
    }
    let off_diagonal = (0..12)
        .flat_map(|i| (0..12).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| h[i * 12 + j].abs())
        .fold(0.0, f64::max);
    assert!(off_diagonal > 1e-3, "the seeded rotation left A diagonal");
    for bad in [
        LandscapeParams {
            dim: Some(5),
            eigenvalues: Some(vec![1.0, 2.0, 3.0]),
            ..LandscapeParams::default()
        },
        LandscapeParams {
            eigenvalues: Some(vec![1.0, 2.0]),
            angle: Some(0.1),
            rotation_seed: Some(1),
            ..LandscapeParams::default()
        },
    ] {
        assert!(quadratic.build(&bad).is_err(), "{bad:?}");
    }
}

/// The curvature at the minimum: a quadratic's largest eigenvalue whatever its rotation,
/// and for Rosenbrock the closed form for its Hessian [[802, -400], [-400, 200]] at (1, 1).
#[test]
fn sharpness_at_minimum_is_the_top_hessian_eigenvalue() {
    let rotated = Landscape::from(
        Quadratic::new(&[1.0, 10.0], Rotation::Angle(0.5), Some(&[1.0, -2.0])).unwrap(),
    );
    assert!((rotated.sharpness_at_minimum().unwrap() - 10.0).abs() < 1e-12);
    let seeded = Landscape::from(
        Quadratic::new(&[0.1, 1.0, 3.0, 7.0, 20.0, 50.0], Rotation::Seeded(7), None).unwrap(),
    );
    assert!((seeded.sharpness_at_minimum().unwrap() - 50.0).abs() < 1e-10);
    let rosenbrock = Landscape::rosenbrock().sharpness_at_minimum().unwrap();
    let closed_form = (1002.0 + (602.0_f64.powi(2) + 4.0 * 400.0_f64.powi(2)).sqrt()) / 2.0;
    assert!(
        (rosenbrock - closed_form).abs() < 1e-9,
        "{rosenbrock} vs {closed_form}"
    );
    // A saddle-only landscape has no minimum, so no curvature there.
    let saddle = Landscape::from(Quadratic::new(&[3.0, -1.0], Rotation::None, None).unwrap());
    assert!(saddle.sharpness_at_minimum().is_none());
}
