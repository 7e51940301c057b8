//! The real Fashion-MNIST, when it is installed (`apt-get install dataset-fashion-mnist`);
//! otherwise the test says it was skipped and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

#[test]
fn fashion_mnist_when_installed_has_its_published_shape() {
    let Ok(dir) = descent_data::locate_fashion_mnist(None) else {
        eprintln!("Fashion-MNIST not installed: skipped");
        return;
    };
    // Loading verifies the four checksums; a mismatch would be an error here.
    let set = descent_data::fashion_mnist(None).unwrap();
    eprintln!("Fashion-MNIST from {}", dir.display());
    assert_eq!((set.train.len(), set.test.len()), (60000, 10000));
    assert_eq!(set.train.item_shape(), &[1, 28, 28]);
    assert_eq!(set.train.class_counts().unwrap(), vec![6000; 10]);
    assert_eq!(set.test.class_counts().unwrap(), vec![1000; 10]);
    let max = set.train.features().iter().copied().fold(0.0f32, f32::max);
    assert_eq!(max, 1.0);
}
