//! The embedded digits and the synthetic problems, checked against independent
//! computations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use descent_data::synthetic::{self, QUADRATIC_DEEP_DIM};
use descent_data::{DIGITS_CSV_GZ, DIGITS_MD5, Targets, digits, md5_hex};
use nalgebra::{DMatrix, DVector};

#[test]
fn the_embedded_digits_are_the_recorded_file() {
    assert_eq!(md5_hex(DIGITS_CSV_GZ), DIGITS_MD5);
    let provenance = include_str!("../data/PROVENANCE.md");
    assert!(provenance.contains(DIGITS_MD5) && provenance.contains("CC BY 4.0"));
    let data = digits().unwrap();
    assert_eq!(data.len(), 1797);
    assert_eq!(data.item_shape(), &[1, 8, 8]);
    // scikit-learn's load_digits: per-class counts of the 1797 images.
    assert_eq!(
        data.class_counts().unwrap(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    // The first row of the file (a zero), scaled by 1/16.
    let first: Vec<f32> = [0, 0, 5, 13, 9, 1, 0, 0]
        .iter()
        .map(|&p| p as f32 / 16.0)
        .collect();
    assert_eq!(&data.row(0).unwrap()[..8], first.as_slice());
    assert_eq!(data.labels().unwrap()[..3], [0, 1, 2]);
}

#[test]
fn linear_regression_optimum_solves_the_normal_equations() {
    let problem = synthetic::linear_regression(200, 5, 0.1, 3).unwrap();
    let Targets::Values { values, width: 1 } = problem.data.targets() else {
        panic!("regression targets")
    };
    let x = DMatrix::from_row_slice(
        200,
        5,
        &problem
            .data
            .features()
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>(),
    );
    let y = DVector::from_iterator(200, values.iter().map(|&v| f64::from(v)));
    let w = DVector::from_vec(problem.optimum.clone());
    let gradient = x.transpose() * (&x * &w - &y) * (2.0 / 200.0);
    assert!(gradient.amax() < 1e-10, "{gradient}");
    let loss = (&x * &w - &y).norm_squared() / 200.0;
    assert!((loss - problem.optimal_loss).abs() < 1e-12);
    // Small noise: the optimum is near the generating weights and the loss near noise^2.
    let gap = problem
        .optimum
        .iter()
        .zip(&problem.true_weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(gap < 0.05, "{gap}");
    assert!(
        (problem.optimal_loss - 0.01).abs() < 0.004,
        "{}",
        problem.optimal_loss
    );
    assert!(synthetic::linear_regression(5, 5, 0.1, 3).is_err());
    assert!(synthetic::linear_regression(50, 5, -1.0, 3).is_err());
}

#[test]
fn classification_generators_have_the_promised_shape_and_labels() {
    let blobs = synthetic::blobs(4, 25, 3, 1.0, 1).unwrap();
    assert_eq!((blobs.len(), blobs.feature_len()), (100, 3));
    assert_eq!(blobs.class_counts().unwrap(), vec![25; 4]);
    assert_eq!(blobs, synthetic::blobs(4, 25, 3, 1.0, 1).unwrap());
    assert_ne!(blobs, synthetic::blobs(4, 25, 3, 1.0, 2).unwrap());

    let (separable, w) = synthetic::logistic(500, 4, true, 7).unwrap();
    let labels = separable.labels().unwrap();
    for (i, row) in separable.features().chunks(4).enumerate() {
        let margin: f64 = row.iter().zip(&w).map(|(&a, b)| f64::from(a) * b).sum();
        // The f32 rounding of x can flip only points within rounding of the hyperplane.
        if margin.abs() > 1e-5 {
            assert_eq!(labels[i] == 1, margin > 0.0);
        }
    }
    let (noisy, w) = synthetic::logistic(2000, 4, false, 7).unwrap();
    let disagreements = noisy
        .features()
        .chunks(4)
        .zip(noisy.labels().unwrap())
        .filter(|(row, l)| {
            let margin: f64 = row.iter().zip(&w).map(|(&a, b)| f64::from(a) * b).sum();
            (**l == 1) != (margin > 0.0)
        })
        .count();
    assert!(
        disagreements > 100,
        "{disagreements}: labels should be noisy"
    );

    let moons = synthetic::two_moons(50, 0.0, 0).unwrap();
    assert_eq!(moons.class_counts().unwrap(), vec![50, 50]);
    for (row, &l) in moons.features().chunks(2).zip(moons.labels().unwrap()) {
        let centre = if l == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
        let r = ((row[0] - centre.0).powi(2) + (row[1] - centre.1).powi(2)).sqrt();
        assert!((r - 1.0).abs() < 1e-6);
    }
    let spirals = synthetic::spirals(3, 40, 0.1, 0).unwrap();
    assert_eq!(spirals.class_counts().unwrap(), vec![40; 3]);
    assert!(synthetic::spirals(1, 40, 0.1, 0).is_err());
}

#[test]
fn quadratic_deep_has_the_deepobs_spectrum() {
    let problem = synthetic::quadratic_deep(42).unwrap();
    let d = QUADRATIC_DEEP_DIM;
    assert_eq!((problem.train.len(), problem.test.len()), (1000, 1000));
    assert_eq!(problem.train.feature_len(), d);
    let small = &problem.eigenvalues[..90];
    let large = &problem.eigenvalues[90..];
    assert!(small.iter().all(|&e| (0.0..1.0).contains(&e)));
    assert!(large.iter().all(|&e| (30.0..60.0).contains(&e)) && large.len() == 10);
    // Q = R^T D R: symmetric, with exactly D's eigenvalues (computed independently).
    let q = DMatrix::from_row_slice(d, d, &problem.hessian);
    assert!((&q - q.transpose()).amax() < 1e-12);
    let mut found: Vec<f64> = q.symmetric_eigenvalues().iter().copied().collect();
    let mut drawn = problem.eigenvalues.clone();
    found.sort_by(f64::total_cmp);
    drawn.sort_by(f64::total_cmp);
    let worst = found
        .iter()
        .zip(&drawn)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-10, "{worst}");
    // The rotation is not the identity: Q is far from diagonal.
    let off_diagonal = (0..d)
        .flat_map(|i| (0..d).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .map(|(i, j)| q[(i, j)].abs())
        .fold(0.0, f64::max);
    assert!(off_diagonal > 1.0, "{off_diagonal}");
    // Column k of `eigenvectors` is a unit eigenvector of Q for eigenvalues[k], orthogonal
    // to the others.
    let v = DMatrix::from_row_slice(d, d, &problem.eigenvectors);
    let residual =
        (&q * &v - &v * DMatrix::from_diagonal(&problem.eigenvalues.clone().into())).amax();
    assert!(residual < 1e-10, "{residual}");
    assert!((v.transpose() * &v - DMatrix::identity(d, d)).amax() < 1e-12);
    // Points ~ N(0, 0.6^2).
    let x = problem.train.features();
    let var = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
    assert!((var.sqrt() - 0.6).abs() < 0.01, "{}", var.sqrt());
    assert_ne!(problem.train.features(), problem.test.features());
}
