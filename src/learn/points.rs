//! Learned bins as a `points` transform a reader can check: each split written as the
//! shortest decimal that separates the same rows (the data's own precision), with a point
//! at the last value of the bin before it and one at the split, so the table reads
//! "up to 2 logins: 0; from 3: 35; …" and values between them are interpolated.

use super::binning::{Bins, Sorted};

/// A learned metric's points: the rounded split points, the `(value, health)` points and
/// each bin's health sub-score as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsTable {
    /// Split points as written (a value at or above `edges[b]` is past bin `b`).
    pub edges: Vec<f64>,
    /// `(value, health)` points, values strictly increasing.
    pub points: Vec<[f64; 2]>,
    /// Health sub-score of each bin, one decimal.
    pub health: Vec<f64>,
}

/// The shortest decimal (fewest significant digits) between `lo` and `hi`; `lo` and `hi`
/// themselves count when `lo_in` / `hi_in`. Falls back to `hi` (or `lo`).
pub fn round_between(lo: f64, hi: f64, lo_in: bool, hi_in: bool) -> f64 {
    let inside = |c: f64| (c > lo || (lo_in && c == lo)) && (c < hi || (hi_in && c == hi));
    for d in -15i32..=17 {
        let step = 10f64.powi(-d);
        if !step.is_finite() || step == 0.0 {
            continue;
        }
        let mut k = (lo / step).ceil();
        for _ in 0..2 {
            let c = clean(k * step, d);
            if inside(c) {
                return c;
            }
            k += 1.0;
        }
    }
    if hi_in {
        hi
    } else {
        lo
    }
}

/// `v` written with `d` decimals and read back (no `0.30000000000000004`).
fn clean(v: f64, d: i32) -> f64 {
    if d <= 0 {
        v.round()
    } else {
        format!("{v:.*}", d as usize).parse().unwrap_or(v)
    }
}

/// The points of `bins` learned on `s`, with health sub-scores `health` per bin.
pub fn table(bins: &Bins, s: &Sorted, health: &[f64]) -> PointsTable {
    let health: Vec<f64> = health.iter().map(|h| (h * 10.0).round() / 10.0).collect();
    let mut edges = Vec::with_capacity(bins.splits.len());
    let mut points: Vec<[f64; 2]> = Vec::new();
    let push = |points: &mut Vec<[f64; 2]>, x: f64, h: f64| {
        if points.last().is_none_or(|p| x > p[0]) {
            points.push([x, h]);
        }
    };
    for (i, &split) in bins.splits.iter().enumerate() {
        let j = s.x.partition_point(|&x| x < split);
        let a = if j > 0 { s.x[j - 1] } else { split };
        let b = s.x.get(j).copied().unwrap_or(split);
        let r = if a < b {
            round_between(a, b, false, true)
        } else {
            split
        };
        let l = if a < r {
            round_between(a, r, true, false)
        } else {
            a
        };
        edges.push(r);
        if l < r {
            push(&mut points, l, health[i]);
        }
        push(&mut points, r, health[i + 1]);
    }
    if points.len() < 2 {
        // One bin: flat over the observed range.
        let (lo, hi) = match (s.x.first(), s.x.last()) {
            (Some(&lo), Some(&hi)) if lo < hi => (lo, hi),
            (Some(&lo), _) => (lo, lo + 1.0),
            _ => (0.0, 1.0),
        };
        let h = health.first().copied().unwrap_or(50.0);
        points = vec![[lo, h], [hi, h]];
    }
    PointsTable {
        edges,
        points,
        health,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_decimals() {
        assert_eq!(round_between(2.0, 3.0, false, true), 3.0);
        assert_eq!(round_between(2.0, 3.0, true, false), 2.0);
        assert_eq!(round_between(0.41234, 0.41291, false, true), 0.4124);
        assert_eq!(round_between(0.41234, 0.4124, true, false), 0.41234);
        assert_eq!(round_between(117.0, 240.0, false, true), 200.0);
        assert_eq!(round_between(-3.7, -1.2, false, true), -3.0);
        assert_eq!(round_between(0.1, 0.2, false, true), 0.2);
    }

    #[test]
    fn integer_data_reads_as_ranges() {
        let s = Sorted {
            x: vec![0.0, 1.0, 2.0, 3.0, 4.0, 9.0, 10.0, 30.0],
            ev: vec![1.0; 8],
            ne: vec![1.0; 8],
        };
        let bins = Bins {
            splits: vec![2.5, 9.5],
            events: vec![3.0, 3.0, 2.0],
            nonevents: vec![3.0, 3.0, 2.0],
        };
        let t = table(&bins, &s, &[0.0, 35.04, 100.0]);
        assert_eq!(t.edges, vec![3.0, 10.0]);
        assert_eq!(
            t.points,
            vec![[2.0, 0.0], [3.0, 35.0], [9.0, 35.0], [10.0, 100.0]]
        );
        // A bin holding one value: no duplicate point.
        let bins = Bins {
            splits: vec![2.5, 3.5],
            events: vec![1.0; 3],
            nonevents: vec![1.0; 3],
        };
        let t = table(&bins, &s, &[0.0, 50.0, 100.0]);
        assert_eq!(t.points, vec![[2.0, 0.0], [3.0, 50.0], [4.0, 100.0]]);
    }
}
