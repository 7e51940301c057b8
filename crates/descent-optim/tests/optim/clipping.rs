//! Global-norm and value clipping against a direct computation on the raw numbers.

use burn::module::Module;
use burn::optim::GradientsParams;
use descent_optim::clip::{Clipping, clip_grad_norm, clip_grad_value, global_grad_norm};

use super::common::{F64, Pair, flat, grads_for, reference, start};

type Inner = <F64 as burn::tensor::backend::AutodiffBackend>::InnerBackend;

fn raw(grads: &GradientsParams, pair: &Pair<F64>) -> Vec<f64> {
    let w = grads.get::<Inner, 2>(pair.w.id).expect("W gradient");
    let b = grads.get::<Inner, 1>(pair.b.id).expect("b gradient");
    let mut v: Vec<f64> = w.into_data().convert::<f64>().to_vec().expect("floats");
    v.extend(
        b.into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("floats"),
    );
    v
}

#[test]
fn global_norm_clipping_scales_all_gradients_together_like_pytorch() {
    let reference = reference();
    let pair: Pair<F64> = start(&reference);
    let g = flat(&reference["grads"][0]);
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(norm > 1.0);

    let grads = grads_for(&reference, 0, &pair);
    assert!((global_grad_norm(&pair, &grads) - norm).abs() < 1e-12);
    let (clipped, reported) = clip_grad_norm(&pair, grads, 1.0).expect("valid");
    assert!((reported - norm).abs() < 1e-12);
    let coefficient = 1.0 / (norm + 1e-6);
    for (ours, x) in raw(&clipped, &pair).iter().zip(&g) {
        assert!(
            (ours - x * coefficient).abs() < 1e-15,
            "{ours} vs {}",
            x * coefficient
        );
    }

    // Below the threshold nothing changes.
    let grads = grads_for(&reference, 0, &pair);
    let (unchanged, _) = clip_grad_norm(&pair, grads, 2.0 * norm).expect("valid");
    assert_eq!(raw(&unchanged, &pair), g);
    assert!(clip_grad_norm(&pair, grads_for(&reference, 0, &pair), -1.0).is_err());
    assert_eq!(pair.num_params(), 16);
}

#[test]
fn value_clipping_clamps_each_coordinate() {
    let reference = reference();
    let pair: Pair<F64> = start(&reference);
    let g = flat(&reference["grads"][3]);
    let clipped = clip_grad_value(&pair, grads_for(&reference, 3, &pair), 0.5).expect("valid");
    let clipped = raw(&clipped, &pair);
    assert!(
        g.iter().any(|x| x.abs() > 0.5),
        "the test needs something to clip"
    );
    for (ours, x) in clipped.iter().zip(&g) {
        assert_eq!(*ours, x.clamp(-0.5, 0.5));
    }
    let (_, norm) = Clipping::Value(0.5)
        .apply(&pair, grads_for(&reference, 3, &pair))
        .expect("valid");
    assert!((norm - g.iter().map(|x| x * x).sum::<f64>().sqrt()).abs() < 1e-12);
}
