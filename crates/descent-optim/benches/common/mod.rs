//! What the step benches of both burn versions share: the machine's bandwidth, measured in
//! the same run, and the median.

use std::hint::black_box;
use std::time::Instant;

/// Bytes per second of `a[i] = b[i] + s * c[i]` over `n` f32 (12 bytes per element), median
/// of several passes: the memory bandwidth an optimizer step can hope for on this machine.
pub fn triad_bandwidth(n: usize) -> f64 {
    let b = vec![1.0_f32; n];
    let c = vec![2.0_f32; n];
    let mut a = vec![0.0_f32; n];
    let mut times = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        for ((a, b), c) in a.iter_mut().zip(&b).zip(&c) {
            *a = b + 3.0 * c;
        }
        black_box(&a);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    12.0 * n as f64 / times[times.len() / 2]
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
