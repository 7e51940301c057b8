//! One axis type for linear and logarithmic scales, so that each chart is drawn by one
//! function whichever scales the data asks for, with ticks at round numbers.

use std::ops::Range;

use plotters::coord::ranged1d::{
    KeyPointHint, KeyPointWeight, NoDefaultFormatting, Ranged, ValueFormatter,
};

/// A linear or base-10 logarithmic axis over `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// Ticks above this are left out: the sweep plot keeps a strip at the top for
    /// diverged runs, where a value on the axis would mean nothing.
    tick_hi: f64,
    /// Ticks given by the caller (a sweep's values), the first `given` of them.
    ticks: [f64; MAX_GIVEN],
    given: usize,
    /// Ticks on whole numbers only (steps).
    whole: bool,
}

/// At most this many ticks can be given; more values than that get round ones.
const MAX_GIVEN: usize = 12;

impl Axis {
    /// A linear axis; `lo < hi` is forced by widening a degenerate range.
    pub fn linear(lo: f64, hi: f64) -> Self {
        let (lo, hi) = widen(lo, hi, false);
        Axis {
            lo,
            hi,
            log: false,
            tick_hi: hi,
            ticks: [0.0; MAX_GIVEN],
            given: 0,
            whole: false,
        }
    }

    /// A logarithmic axis; both ends must be positive (a degenerate range is widened).
    pub fn log(lo: f64, hi: f64) -> Self {
        let (lo, hi) = widen(lo, hi, true);
        Axis {
            lo,
            hi,
            log: true,
            tick_hi: hi,
            ticks: [0.0; MAX_GIVEN],
            given: 0,
            whole: false,
        }
    }

    /// An axis around the finite values given, padded by `pad` of its length on each
    /// side; logarithmic when `log` is asked for and no value is negative (zeros, which a
    /// log axis cannot show, are left out of its range).
    pub fn fit(values: impl IntoIterator<Item = f64>, log: bool, pad: f64) -> Self {
        let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        let log = log && values.iter().all(|&v| v >= 0.0) && values.iter().any(|&v| v > 0.0);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut all_positive = true;
        for v in values.into_iter().filter(|&v| !log || v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
            all_positive &= v > 0.0;
        }
        if lo > hi {
            return if log {
                Axis::log(0.1, 10.0)
            } else {
                Axis::linear(0.0, 1.0)
            };
        }
        if log && all_positive {
            let (l, h) = widen(lo.log10(), hi.log10(), false);
            let d = (h - l) * pad;
            Axis::log(10f64.powf(l - d), 10f64.powf(h + d))
        } else {
            let (l, h) = widen(lo, hi, false);
            let d = (h - l) * pad;
            Axis::linear(l - d, h + d)
        }
    }

    /// Whether the axis is logarithmic.
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// Its lower end.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Its upper end.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// The same axis with its top stretched so that the data, up to the current top,
    /// fills only `fraction` of it; ticks stay within the data.
    pub fn with_headroom(self, fraction: f64) -> Self {
        let top = self.at(1.0 / fraction);
        Axis {
            hi: top,
            tick_hi: self.hi,
            ..self
        }
    }

    /// The same axis labelled at exactly these values (those on it), when there are
    /// two to [`MAX_GIVEN`] of them: a sweep's values read better than round numbers.
    pub fn with_ticks(mut self, values: &[f64]) -> Self {
        let on: Vec<f64> = values
            .iter()
            .copied()
            .filter(|v| (0.0..=1.0).contains(&self.frac(*v)))
            .collect();
        if (2..=MAX_GIVEN).contains(&on.len()) {
            self.ticks[..on.len()].copy_from_slice(&on);
            self.given = on.len();
        }
        self
    }

    /// The same axis ticked at whole numbers only: half a step means nothing.
    pub fn whole_numbers(self) -> Self {
        Axis {
            whole: true,
            ..self
        }
    }

    fn transform(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }

    /// Where `v` falls, as a fraction of the axis from its lower end (outside `[0, 1]`
    /// when off the axis; `-inf` for non-positive values on a log axis).
    pub fn frac(&self, v: f64) -> f64 {
        let (a, b) = (self.transform(self.lo), self.transform(self.hi));
        (self.transform(v) - a) / (b - a)
    }

    /// The value at fraction `t` of the axis; inverse of [`Axis::frac`].
    pub fn at(&self, t: f64) -> f64 {
        let (a, b) = (self.transform(self.lo), self.transform(self.hi));
        let u = a + t * (b - a);
        if self.log { 10f64.powf(u) } else { u }
    }

    /// `v` moved onto the axis if it is off it.
    pub fn clamp(&self, v: f64) -> f64 {
        let t = self.frac(v);
        if t.is_nan() || t < 0.0 {
            self.lo
        } else if t > 1.0 {
            self.hi
        } else {
            v
        }
    }

    /// The labelled ticks.
    fn major(&self, max: usize) -> Vec<f64> {
        if self.given > 0 {
            // Labels closer than 4% of the axis would overprint each other: keep the first.
            let mut kept: Vec<f64> = Vec::with_capacity(self.given);
            for &t in &self.ticks[..self.given] {
                if kept
                    .last()
                    .is_none_or(|&k| (self.frac(t) - self.frac(k)).abs() >= 0.04)
                {
                    kept.push(t);
                }
            }
            return kept;
        }
        let max = max.max(2);
        if self.log {
            let powers = self.powers();
            // Within two decades, 1-2-5 ticks label more than the powers alone; within a
            // decade and a half, 1-2-4-5 labels the octaves too (a sharpness of 4 on an axis
            // from 0.45 to 4.5 is read off a label, not guessed between 2 and 5).
            if powers.len() <= 2 {
                let mantissas: &[f64] = if self.hi_tick() / self.lo < 30.0 {
                    &[1.0, 2.0, 4.0, 5.0]
                } else {
                    &[1.0, 2.0, 5.0]
                };
                for m in [mantissas, &[1.0, 2.0, 5.0]] {
                    let ticks = self.mantissa_ticks(m);
                    if ticks.len() >= 3 && ticks.len() <= max {
                        return ticks;
                    }
                }
            }
            if powers.len() >= 2 {
                let every = powers.len().div_ceil(max) as i64;
                // The same decades at every zoom: those whose exponent `every` divides.
                let kept: Vec<f64> = powers
                    .iter()
                    .copied()
                    .filter(|p| (p.log10().round() as i64).rem_euclid(every) == 0)
                    .collect();
                return if kept.len() >= 2 { kept } else { powers };
            }
        }
        let mut step = nice_step(self.hi_tick() - self.lo, max);
        if self.whole {
            step = step.max(1.0);
        }
        linear_ticks(self.lo, self.hi_tick(), step)
    }

    /// The unlabelled grid lines between the labelled ticks.
    fn minor(&self, max_major: usize) -> Vec<f64> {
        if self.given > 0 {
            // Given ticks are irregular; the round ones make the grid instead.
            let given = &self.ticks[..self.given];
            let round = Axis { given: 0, ..*self };
            let mut lines = round.major(max_major);
            lines.extend(round.minor(max_major));
            lines.retain(|v| !given.iter().any(|g| (g - v).abs() <= 1e-9 * g.abs()));
            return lines;
        }
        let major = self.major(max_major);
        if self.log && (self.powers().len() >= 2 || major.len() >= 3) {
            if self.powers().len() > major.len() {
                // Decades were skipped for their labels; their lines stay as minor ones.
                return self
                    .powers()
                    .into_iter()
                    .filter(|p| !major.contains(p))
                    .collect();
            }
            return self
                .mantissa_ticks(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
                .into_iter()
                .filter(|v| !major.contains(v))
                .collect();
        }
        if major.len() < 2 {
            return Vec::new();
        }
        let step = major[1] - major[0];
        let mantissa = step / 10f64.powf(step.log10().floor());
        let parts = if self.whole && step <= 5.0 {
            step
        } else if (mantissa - 2.0).abs() < 1e-6 {
            4.0
        } else {
            5.0
        };
        linear_ticks(self.lo, self.hi_tick(), step / parts)
            .into_iter()
            .filter(|v| major.iter().all(|m| (m - v).abs() > step * 1e-6))
            .collect()
    }

    fn hi_tick(&self) -> f64 {
        self.tick_hi.min(self.hi)
    }

    fn powers(&self) -> Vec<f64> {
        let first = self.lo.log10().ceil() as i32;
        let last = self.hi_tick().log10().floor() as i32;
        (first..=last).map(|k| 10f64.powi(k)).collect()
    }

    fn mantissa_ticks(&self, mantissas: &[f64]) -> Vec<f64> {
        let first = self.lo.log10().floor() as i32;
        let last = self.hi_tick().log10().ceil() as i32;
        let mut ticks = Vec::new();
        for k in first..=last {
            for m in mantissas {
                // Built from a decimal string so that 3 × 10⁻¹ is 0.3 exactly as printed.
                let v: f64 = format!("{m}e{k}").parse().unwrap_or(m * 10f64.powi(k));
                if v >= self.lo * (1.0 - 1e-9) && v <= self.hi_tick() * (1.0 + 1e-9) {
                    ticks.push(v);
                }
            }
        }
        ticks
    }
}

/// A range with room in it: equal ends become a decade (log) or a unit (linear) wide.
fn widen(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if log {
        let lo = if lo > 0.0 && lo.is_finite() {
            lo
        } else {
            f64::MIN_POSITIVE
        };
        let hi = if hi > lo && hi.is_finite() {
            hi
        } else {
            lo * 10.0
        };
        if hi / lo < 1.0 + 1e-9 {
            return (lo / 3.0, hi * 3.0);
        }
        (lo, hi)
    } else {
        if (hi - lo).is_nan() || hi - lo <= 1e-12 * lo.abs().max(hi.abs()) {
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            return (lo - d, hi + d);
        }
        (lo, hi)
    }
}

/// The round step (1, 2 or 5 times a power of ten) that puts at most `max` ticks on a
/// range of length `span`.
fn nice_step(span: f64, max: usize) -> f64 {
    let raw = span / (max.max(2) - 1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * power >= raw {
            return m * power;
        }
    }
    10.0 * power
}

fn linear_ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    if !step.is_finite() || step <= 0.0 {
        return Vec::new();
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // A decimal string again, so that 3 × 0.1 prints as 0.3.
    let decimals = decimals_of(step);
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            format!("{v:.decimals$}").parse().unwrap_or(v)
        })
        .collect()
}

/// How many decimals a multiple of `step` needs.
fn decimals_of(step: f64) -> usize {
    let mut d = 0;
    let mut s = step;
    while d < 15 && (s - s.round()).abs() > 1e-9 * s.abs().max(1.0) {
        s *= 10.0;
        d += 1;
    }
    d
}

/// A tick label: plain decimals between 0.001 and 100 000, powers of ten as `1e-5`
/// and other values as `2.5e-5` outside that.
pub(crate) fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        // Shortest round-trip form, trimmed of float noise past 10 significant digits.
        let s = format!(
            "{:.*}",
            10usize.saturating_sub(a.log10().floor() as usize + 1),
            v
        );
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        return s;
    }
    // Three decimals, rounded by the formatter itself, so that 9.9999999e-31 becomes
    // `1e-30` and not `10e-31`.
    let s = format!("{v:.3e}");
    match s.split_once('e') {
        Some((m, e)) => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
        None => s,
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = self.frac(*value);
        // Far-off values (a diverged iterate) must not overflow the pixel type.
        let t = if t.is_nan() {
            0.0
        } else {
            t.clamp(-100.0, 100.0)
        };
        let span = f64::from(limit.1 - limit.0);
        (f64::from(limit.0) + t * span).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match hint.weight() {
            KeyPointWeight::Bold => self.major(hint.max_num_points()),
            KeyPointWeight::Any => self.minor(hint.bold_points()),
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format(value: &f64) -> String {
        fmt_tick(*value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        let a = Axis::linear(0.0, 1.0);
        assert_eq!(a.major(8), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        let a = Axis::log(1e-6, 10.0);
        assert_eq!(
            a.major(10),
            vec![1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
        );
        let a = Axis::log(1e-30, 1e3);
        let major = a.major(8);
        assert!(major.len() <= 8 && major.len() >= 4, "{major:?}");
        assert!(a.minor(8).len() > 10);
        let a = Axis::log(0.3, 4.0);
        assert_eq!(a.major(8), vec![0.4, 0.5, 1.0, 2.0, 4.0]);
        let a = Axis::log(0.45, 4.5);
        assert_eq!(a.major(8), vec![0.5, 1.0, 2.0, 4.0]);
        let a = Axis::log(0.003, 0.6);
        assert_eq!(a.major(9), vec![0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]);
        let a = Axis::log(0.01, 0.05);
        assert_eq!(a.major(9), vec![0.01, 0.02, 0.04, 0.05]);
    }

    #[test]
    fn given_ticks_win() {
        let a = Axis::log(10.0, 100.0).with_ticks(&[16.0, 64.0, 1000.0]);
        assert_eq!(a.major(8), vec![16.0, 64.0]);
        assert!(a.minor(8).contains(&20.0));
        let a = Axis::log(10.0, 100.0).with_ticks(&[16.0]);
        assert_eq!(a.major(8), vec![10.0, 20.0, 40.0, 50.0, 100.0]);
    }

    #[test]
    fn steps_tick_on_whole_numbers() {
        let a = Axis::linear(0.0, 4.0).whole_numbers();
        assert_eq!(a.major(9), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert!(a.minor(9).is_empty());
        let a = Axis::linear(0.0, 2000.0).whole_numbers();
        assert_eq!(a.major(9), vec![0.0, 500.0, 1000.0, 1500.0, 2000.0]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(fmt_tick(9.999_999_999_999_999e-31), "1e-30");
        assert_eq!(fmt_tick(2.5e-5), "2.5e-5");
        assert_eq!(fmt_tick(1.000_000_000_000_000_2e-5), "1e-5");
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(fmt_tick(1e-5), "1e-5");
        assert_eq!(fmt_tick(2.5e7), "2.5e7");
        assert_eq!(fmt_tick(1.0000000000000002e-7), "1e-7");
        assert_eq!(fmt_tick(100.0), "100");
        assert_eq!(fmt_tick(-0.25), "-0.25");
    }

    #[test]
    fn frac_and_at_invert() {
        for axis in [Axis::linear(-2.0, 3.0), Axis::log(1e-3, 1e2)] {
            for t in [0.0, 0.25, 1.0] {
                assert!((axis.frac(axis.at(t)) - t).abs() < 1e-12);
            }
        }
    }
}
