//! Sub-score functions: a raw value to a number in [0, 100], higher = healthier.
//!
//! These are the six transforms of the profile format. Each is a pure function of one
//! value; [`crate::score`] applies them column-wise. Inputs are finite (the loader rejects
//! NaN and infinities; missing values never reach a transform).

use super::{Direction, Transform};

/// Sub-score of a numeric raw value under `transform`, before `direction`.
///
/// Returns `None` for the text transforms (`categories`), which take labels.
/// `boolean` takes 1.0 for true and 0.0 for false.
pub fn numeric(transform: &Transform, x: f64) -> Option<f64> {
    prepare(transform).map(|p| p.apply(x))
}

/// A numeric transform made ready for a column: what it needs per value beyond the value
/// (the `log` transform's ends on the log scale) is computed once.
#[derive(Debug, Clone, Copy)]
pub enum Prepared<'a> {
    /// `linear` from `lo` to `hi`.
    Linear {
        /// Value scoring 0.
        lo: f64,
        /// Value scoring 100.
        hi: f64,
    },
    /// `log` from `lo` to `hi`.
    Log {
        /// Value scoring 0.
        lo: f64,
        /// Value scoring 100.
        hi: f64,
        /// `ln(1 + lo)`.
        a: f64,
        /// `ln(1 + hi)`.
        b: f64,
    },
    /// `points` through these (x, s) points.
    Points(&'a [[f64; 2]]),
    /// `percentile` over these breakpoints.
    Percentile(&'a [f64]),
    /// `boolean`: 100 for any non-zero value.
    Boolean,
}

/// `transform` ready for a column of values; `None` for `categories`, which takes labels.
pub fn prepare(transform: &Transform) -> Option<Prepared<'_>> {
    Some(match transform {
        Transform::Linear { lo, hi } => Prepared::Linear { lo: *lo, hi: *hi },
        Transform::Log { lo, hi } => Prepared::Log {
            lo: *lo,
            hi: *hi,
            a: lo.ln_1p(),
            b: hi.ln_1p(),
        },
        Transform::Points { map } => Prepared::Points(map),
        Transform::Percentile { breaks } => Prepared::Percentile(breaks),
        Transform::Boolean => Prepared::Boolean,
        Transform::Categories { .. } => return None,
    })
}

impl Prepared<'_> {
    /// The sub-score of `x`, before the direction.
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            Prepared::Linear { lo, hi } => linear(x, lo, hi),
            Prepared::Log { lo, hi, a, b } => log(x, lo, hi, a, b),
            Prepared::Points(map) => points(map, x).clamp(0.0, 100.0),
            Prepared::Percentile(breaks) => percentile(breaks, x).clamp(0.0, 100.0),
            Prepared::Boolean => boolean(x),
        }
    }
}

/// `linear` from `lo` to `hi` (a free function so a column loop can be compiled for it).
#[inline]
pub fn linear(x: f64, lo: f64, hi: f64) -> f64 {
    (100.0 * fraction(within(x, lo, hi), lo, hi)).clamp(0.0, 100.0)
}

/// `log` from `lo` to `hi`, given `a = ln(1 + lo)` and `b = ln(1 + hi)`.
#[inline]
pub fn log(x: f64, lo: f64, hi: f64, a: f64, b: f64) -> f64 {
    (100.0 * (within(x, lo, hi).ln_1p() - a) / (b - a)).clamp(0.0, 100.0)
}

/// `x.clamp(lo, hi)` (NaN stays NaN) for `lo ≤ hi`, without `clamp`'s check of the bounds
/// on every call: a loop over a column then compiles to vector instructions.
#[inline]
fn within(x: f64, lo: f64, hi: f64) -> f64 {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// `boolean`: 100 for any non-zero value, 0 for zero.
#[inline]
pub fn boolean(x: f64) -> f64 {
    if x != 0.0 {
        100.0
    } else {
        0.0
    }
}

/// Apply `direction` to a transform's output.
#[inline]
pub fn directed(direction: Direction, s: f64) -> f64 {
    match direction {
        Direction::HigherIsBetter => s,
        Direction::LowerIsBetter => 100.0 - s,
    }
}

/// Piecewise-linear interpolation through `(x, s)` points with strictly increasing x,
/// flat outside them.
pub fn points(map: &[[f64; 2]], x: f64) -> f64 {
    let first = map[0];
    let last = map[map.len() - 1];
    if x <= first[0] {
        return first[1];
    }
    if x >= last[0] {
        return last[1];
    }
    // First point whose x exceeds the value; the segment is [i-1, i].
    let i = map.partition_point(|p| p[0] <= x);
    let (p, q) = (map[i - 1], map[i]);
    p[1] + (q[1] - p[1]) * fraction(x, p[0], q[0])
}

/// Where `x` lies between `a < b`, in [0, 1]; exact where `b − a` is representable, and
/// computed on halved values where it overflows (a span of ±1.8e308).
#[inline]
fn fraction(x: f64, a: f64, b: f64) -> f64 {
    // x lies in [a, b], so x − a cannot overflow where b − a does not.
    let t = if (b - a).is_finite() {
        (x - a) / (b - a)
    } else {
        (0.5 * x - 0.5 * a) / (0.5 * b - 0.5 * a)
    };
    t.clamp(0.0, 1.0)
}

/// Quantile rank (×100) of `x` among breakpoints at evenly spaced quantiles.
///
/// `breaks[i]` is the value at quantile `i / (n − 1)`. Between two distinct breakpoints the
/// rank is interpolated linearly. A value equal to a run of tied breakpoints gets the middle
/// of that run's quantile range (so a metric that is zero for 40 % of the population scores
/// those zeros at the 20th percentile, not at 0 or 40).
pub fn percentile(breaks: &[f64], x: f64) -> f64 {
    let n = breaks.len();
    let step = 100.0 / (n - 1) as f64;
    let lo = breaks.partition_point(|b| *b < x); // first break >= x
    let hi = breaks.partition_point(|b| *b <= x); // first break > x
    if hi > lo {
        // x equals breaks[lo..hi]
        return step * (lo + hi - 1) as f64 / 2.0;
    }
    if lo == 0 {
        return 0.0;
    }
    if lo == n {
        return 100.0;
    }
    let (a, b) = (breaks[lo - 1], breaks[lo]);
    step * ((lo - 1) as f64 + fraction(x, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use std::collections::BTreeMap;

    // Hand calculations, one per transform.

    // Found by the scoring fuzz target: spans wider than f64::MAX gave NaN (∞/∞).
    #[test]
    fn spans_past_f64_max_still_interpolate() {
        let max = f64::MAX;
        let t = Transform::Linear { lo: -max, hi: max };
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 50.0);
        assert_relative_eq!(numeric(&t, max).unwrap(), 100.0);
        let t = Transform::Points {
            map: vec![[-max, 0.0], [1.8e294, 37.0]],
        };
        // 0 sits next to 1.8e294 on a span of 1.8e308.
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 37.0, max_relative = 1e-12);
        let t = Transform::Percentile {
            breaks: vec![-max, max],
        };
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 50.0);
        for x in [f64::INFINITY, f64::NEG_INFINITY, -max, max, 0.0] {
            assert!((0.0..=100.0).contains(&numeric(&t, x).unwrap()));
        }
    }

    #[test]
    fn linear_clips_and_scales() {
        let t = Transform::Linear {
            lo: -100.0,
            hi: 100.0,
        };
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 50.0);
        assert_relative_eq!(numeric(&t, 40.0).unwrap(), 70.0);
        assert_relative_eq!(numeric(&t, -250.0).unwrap(), 0.0);
        assert_relative_eq!(numeric(&t, 1e9).unwrap(), 100.0);
    }

    #[test]
    fn log_scales_ln1p_in_raw_units() {
        let t = Transform::Log { lo: 0.0, hi: 99.0 };
        // ln(1+9) / ln(1+99) = ln 10 / ln 100 = 0.5
        assert_relative_eq!(numeric(&t, 9.0).unwrap(), 50.0, epsilon = 1e-12);
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 0.0);
        assert_relative_eq!(numeric(&t, 500.0).unwrap(), 100.0);
        assert_relative_eq!(numeric(&t, -0.5).unwrap(), 0.0);
    }

    #[test]
    fn points_interpolate_and_stay_flat_outside() {
        let t = Transform::Points {
            map: vec![[1.0, 0.0], [12.0, 50.0], [24.0, 80.0], [36.0, 100.0]],
        };
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 0.0);
        assert_relative_eq!(numeric(&t, 12.0).unwrap(), 50.0);
        assert_relative_eq!(numeric(&t, 18.0).unwrap(), 65.0);
        assert_relative_eq!(numeric(&t, 30.0).unwrap(), 90.0);
        assert_relative_eq!(numeric(&t, 48.0).unwrap(), 100.0);
    }

    #[test]
    fn percentile_interpolates_ranks_and_centres_ties() {
        // quintile breaks: values at quantiles 0, .25, .5, .75, 1
        let t = Transform::Percentile {
            breaks: vec![0.0, 0.0, 10.0, 20.0, 40.0],
        };
        // 0 is tied at quantiles 0 and .25: centre 12.5
        assert_relative_eq!(numeric(&t, 0.0).unwrap(), 12.5);
        // 5 is half-way between .25 and .5
        assert_relative_eq!(numeric(&t, 5.0).unwrap(), 37.5);
        assert_relative_eq!(numeric(&t, 10.0).unwrap(), 50.0);
        assert_relative_eq!(numeric(&t, 30.0).unwrap(), 87.5);
        assert_relative_eq!(numeric(&t, -1.0).unwrap(), 0.0);
        assert_relative_eq!(numeric(&t, 41.0).unwrap(), 100.0);
    }

    #[test]
    fn boolean_is_all_or_nothing() {
        assert_relative_eq!(numeric(&Transform::Boolean, 1.0).unwrap(), 100.0);
        assert_relative_eq!(numeric(&Transform::Boolean, 0.0).unwrap(), 0.0);
    }

    #[test]
    fn categories_take_labels_not_numbers() {
        let t = Transform::Categories {
            map: BTreeMap::from([("a".to_string(), 10.0)]),
        };
        assert!(numeric(&t, 1.0).is_none());
    }

    #[test]
    fn direction_flips() {
        assert_relative_eq!(directed(Direction::LowerIsBetter, 30.0), 70.0);
        assert_relative_eq!(directed(Direction::HigherIsBetter, 30.0), 30.0);
    }
}
