//! Learned bins as a `points` transform a reader can check: each split written as the
//! shortest decimal that separates the same rows (the data's own precision), with a point
//! at the last value of the bin before it and one at the split, so the table reads
//! "up to 2 logins: 0; from 3: 35; …" and values between them are interpolated.

use super::binning::{Bins, Sorted};

/// How a learned metric's bins become points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// One point at each bin's middle value (its median, rounded within its middle fifth),
    /// straight lines between: no cliff at an edge, and finer ranking inside a bin.
    Ramps,
    /// Each bin flat, a point at the last value before each edge and one at the edge: the
    /// file shows the edges themselves.
    Steps,
}

/// One point per bin at its middle value, rounded to the fewest digits between the bin's
/// 40th and 60th weighted percentiles.
fn ramps(bins: &Bins, s: &Sorted, health: &[f64]) -> Vec<[f64; 2]> {
    let mut points: Vec<[f64; 2]> = Vec::with_capacity(bins.len());
    for (b, &h) in health.iter().enumerate().take(bins.len()) {
        let lo = if b == 0 {
            0
        } else {
            s.x.partition_point(|&x| x < bins.splits[b - 1])
        };
        let hi = if b + 1 == bins.len() {
            s.x.len()
        } else {
            s.x.partition_point(|&x| x < bins.splits[b])
        };
        if lo >= hi {
            continue;
        }
        let total: f64 = (lo..hi).map(|j| s.ev[j] + s.ne[j]).sum();
        let at = |q: f64| {
            let mut acc = 0.0;
            for j in lo..hi {
                acc += s.ev[j] + s.ne[j];
                if acc >= q * total {
                    return s.x[j];
                }
            }
            s.x[hi - 1]
        };
        let (a, m, c) = (at(0.4), at(0.5), at(0.6));
        let x = if a < c {
            round_between(a, c, true, true)
        } else {
            m
        };
        if points.last().is_none_or(|p| x > p[0]) {
            points.push([x, h]);
        }
    }
    // A point on the straight line between its neighbours adds nothing (three equal in a
    // row, most often).
    let mut i = 1;
    while i + 1 < points.len() {
        let ([x0, y0], [x1, y1], [x2, y2]) = (points[i - 1], points[i], points[i + 1]);
        if (y1 - (y0 + (y2 - y0) * (x1 - x0) / (x2 - x0))).abs() < 1e-9 {
            points.remove(i);
        } else {
            i += 1;
        }
    }
    points
}

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
pub fn table(bins: &Bins, s: &Sorted, health: &[f64], form: Form) -> PointsTable {
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
    if form == Form::Ramps && bins.len() >= 2 {
        points = ramps(bins, s, &health);
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
        let t = table(&bins, &s, &[0.0, 35.04, 100.0], Form::Steps);
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
        let t = table(&bins, &s, &[0.0, 50.0, 100.0], Form::Steps);
        assert_eq!(t.points, vec![[2.0, 0.0], [3.0, 50.0], [4.0, 100.0]]);
        // Ramps: a point in the middle of each bin (0..=2 → 1, 3 → 3, 4..30 → 9 or 10).
        let t = table(&bins, &s, &[0.0, 50.0, 100.0], Form::Ramps);
        assert_eq!(t.points[0], [1.0, 0.0]);
        assert_eq!(t.points[1], [3.0, 50.0]);
        assert!(
            t.points[2][0] >= 9.0 && t.points[2][0] <= 10.0,
            "{:?}",
            t.points
        );
    }
}
