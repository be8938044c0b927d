//! Optimal binning of one numeric variable against a binary outcome: the formulation of
//! Navas-Palencia (2020), as `optbinning`'s `OptimalBinning` solves it with
//! `prebinning_method="quantile"`, solved exactly by dynamic programming.
//!
//! 1. **Pre-binning**: split points at `max_prebins` evenly spaced quantiles of the values
//!    (NumPy's `averaged_inverted_cdf`, as scikit-learn's `KBinsDiscretizer` computes
//!    them; edges closer than 1e-8 dropped); a value `x` falls in the bin of the splits
//!    `≤ x`. Pre-bins without an event or without a non-event are merged into their
//!    right-hand neighbour (the last into its left), until none is left.
//! 2. **Merging**: the contiguous grouping of pre-bins that maximises the information value
//!    (the sum over bins of Jeffrey's divergence `(p − q) ln(p / q)`, `p` and `q` the bin's
//!    shares of events and non-events), subject to a maximum number of bins, a minimum bin
//!    size (a share of all rows, missing ones included), a minimum number of events per
//!    bin and the event-rate trend (ascending, descending, peak or valley). As in
//!    `optbinning`, event rates and divergences are compared as integers `⌊10⁶ · v⌋`, and an
//!    ascending (descending) trend may not split between two pre-bins where the event rate
//!    steps down (up) from the merged pair to the right-hand one.
//!
//! `optbinning` hands that problem to a constraint solver; with at most a few dozen
//! pre-bins a dynamic programme over (last bin, bins used, side of the peak) finds the same
//! optimum in microseconds. Rows carry weights (bootstrap counts, revenue), so the
//! quantiles are those of the data with each row repeated by its weight.

use serde::Serialize;

/// The event-rate trend a binning must follow, in `optbinning`'s words (of the churn rate,
/// not of health).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// Churn rate never falls as the value grows.
    Ascending,
    /// Churn rate never rises as the value grows.
    Descending,
    /// Churn rate rises, then falls.
    Peak,
    /// Churn rate falls, then rises.
    Valley,
}

/// Constraints of the merge step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    /// Most bins.
    pub max_bins: usize,
    /// Fewest rows (weight) in a bin.
    pub min_bin_size: f64,
    /// Fewest events (weight) in a bin.
    pub min_bin_events: f64,
    /// Neighbouring bins' event rates must differ at this two-sided significance (the
    /// two-proportion z-test; `optbinning`'s `max_pvalue` with policy `consecutive`), so
    /// that noise is not cut into bins. `None`: no test.
    pub max_pvalue: Option<f64>,
}

/// Values sorted ascending with each one's event and non-event weight (for unweighted data,
/// `y` and `1 − y`). Entries of zero total weight may be left out.
#[derive(Debug, Clone, Default)]
pub struct Sorted {
    /// Values, ascending (finite).
    pub x: Vec<f64>,
    /// Event weight per value.
    pub ev: Vec<f64>,
    /// Non-event weight per value.
    pub ne: Vec<f64>,
}

impl Sorted {
    /// Total weight.
    pub fn total(&self) -> f64 {
        self.ev.iter().sum::<f64>() + self.ne.iter().sum::<f64>()
    }
}

/// Bins: split points (a value `x` belongs to the bin after the last split `≤ x`) and the
/// event and non-event weight of each bin.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Bins {
    /// Split points, ascending; `splits.len() + 1` bins.
    pub splits: Vec<f64>,
    /// Events per bin.
    pub events: Vec<f64>,
    /// Non-events per bin.
    pub nonevents: Vec<f64>,
}

impl Bins {
    /// Number of bins.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no bins (no data).
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Event rate of bin `b`.
    pub fn rate(&self, b: usize) -> f64 {
        self.events[b] / (self.events[b] + self.nonevents[b])
    }

    /// Weight of evidence of bin `b`, `ln(non-event share / event share)` with both shares
    /// taken over `totals` = (events, non-events) and half a count added to an empty side
    /// (higher: healthier).
    pub fn woe(&self, b: usize, totals: (f64, f64)) -> f64 {
        woe(self.events[b], self.nonevents[b], totals)
    }

    /// Information value of the bins over `totals`.
    pub fn iv(&self, totals: (f64, f64)) -> f64 {
        (0..self.len())
            .map(|b| jeffrey(self.events[b] / totals.0, self.nonevents[b] / totals.1))
            .sum()
    }

    /// Likelihood-ratio statistic `G` of the bins against a single bin (twice the
    /// log-likelihood gained by the bins' own event rates).
    pub fn g_statistic(&self) -> f64 {
        let (te, tn) = (
            self.events.iter().sum::<f64>(),
            self.nonevents.iter().sum::<f64>(),
        );
        let p = te / (te + tn);
        let mut g = 0.0;
        for b in 0..self.len() {
            let (e, n) = (self.events[b], self.nonevents[b]);
            let size = e + n;
            if e > 0.0 {
                g += e * (e / (size * p)).ln();
            }
            if n > 0.0 {
                g += n * (n / (size * (1.0 - p))).ln();
            }
        }
        2.0 * g
    }

    /// Bin index of `x`.
    pub fn bin_of(&self, x: f64) -> usize {
        self.splits.partition_point(|&s| s <= x)
    }
}

/// Weight of evidence of a bin with `e` events and `n` non-events among `totals`.
pub fn woe(e: f64, n: f64, totals: (f64, f64)) -> f64 {
    let (e, n) = if e == 0.0 || n == 0.0 {
        (e + 0.5, n + 0.5)
    } else {
        (e, n)
    };
    ((n / totals.1) / (e / totals.0)).ln()
}

/// Jeffrey's divergence term `(p − q) ln(p / q)`: 0 where `p = q`, and for a bin without
/// events or without non-events (which the merge never sees: such pre-bins are merged
/// away first).
pub fn jeffrey(p: f64, q: f64) -> f64 {
    let d = p - q;
    if d == 0.0 || p == 0.0 || q == 0.0 {
        0.0
    } else {
        d * (p / q).ln()
    }
}

/// Split points at `n` evenly spaced quantiles of the weighted values (NumPy's
/// `averaged_inverted_cdf`), edges within 1e-8 of the previous one dropped, first and last
/// edge removed: scikit-learn's `KBinsDiscretizer(strategy="quantile")`.
pub fn quantile_splits(s: &Sorted, n: usize) -> Vec<f64> {
    if s.x.is_empty() || n < 2 {
        return Vec::new();
    }
    let mut cum = Vec::with_capacity(s.x.len());
    let mut acc = 0.0;
    for i in 0..s.x.len() {
        acc += s.ev[i] + s.ne[i];
        cum.push(acc);
    }
    let total = acc;
    // The value at position k (0-based) of the data with each value repeated by its weight.
    let at = |k: f64| -> f64 {
        let k = k.clamp(0.0, (total - 1.0).max(0.0));
        let i = cum.partition_point(|&c| c <= k);
        s.x[i.min(s.x.len() - 1)]
    };
    let step = 100.0 / n as f64;
    let edges: Vec<f64> = (0..=n)
        .map(|i| {
            let level = if i == n { 100.0 } else { i as f64 * step };
            let q = level / 100.0;
            let v = total * q - 1.0;
            let prev = v.floor();
            let gamma = if v - prev == 0.0 { 0.5 } else { 1.0 };
            let (a, b) = (at(prev), at(prev + 1.0));
            // NumPy's lerp for t ≥ 0.5.
            b - (b - a) * (1.0 - gamma)
        })
        .collect();
    let mut kept = vec![edges[0]];
    for i in 1..edges.len() {
        if edges[i] - edges[i - 1] > 1e-8 {
            kept.push(edges[i]);
        }
    }
    if kept.len() < 2 {
        return Vec::new();
    }
    kept[1..kept.len() - 1].to_vec()
}

/// Event and non-event weight per bin of `splits`.
pub fn count(s: &Sorted, splits: &[f64]) -> Bins {
    let mut events = vec![0.0; splits.len() + 1];
    let mut nonevents = vec![0.0; splits.len() + 1];
    let mut b = 0;
    for i in 0..s.x.len() {
        while b < splits.len() && splits[b] <= s.x[i] {
            b += 1;
        }
        events[b] += s.ev[i];
        nonevents[b] += s.ne[i];
    }
    Bins {
        splits: splits.to_vec(),
        events,
        nonevents,
    }
}

/// The pre-bins: quantile splits, then pre-bins without events or without non-events
/// merged away (as `optbinning`'s pre-binning refinement).
pub fn prebins(s: &Sorted, max_prebins: usize) -> Bins {
    refine(s, quantile_splits(s, max_prebins))
}

/// The bins of `splits` on `s`, with bins lacking events or non-events merged into their
/// right-hand neighbour (the last into its left) until none is left.
pub fn refine(s: &Sorted, mut splits: Vec<f64>) -> Bins {
    loop {
        let bins = count(s, &splits);
        if splits.is_empty() {
            return bins;
        }
        let pure: Vec<bool> = (0..bins.len())
            .map(|b| bins.events[b] == 0.0 || bins.nonevents[b] == 0.0)
            .collect();
        if !pure.iter().any(|&p| p) {
            return bins;
        }
        // Split b closes bin b; the last split also goes when the last bin is pure.
        let n = splits.len();
        let remove: Vec<bool> = (0..n)
            .map(|b| {
                if b == n - 1 {
                    pure[n - 1] || pure[n]
                } else {
                    pure[b]
                }
            })
            .collect();
        splits = splits
            .iter()
            .zip(&remove)
            .filter(|(_, &r)| !r)
            .map(|(s, _)| *s)
            .collect();
    }
}

/// The optimal merge of `pre` under `c` and `trend`: which pre-bins end a bin (the last
/// always does). When no grouping satisfies the constraints, one bin.
pub fn optimal_merge(pre: &Bins, trend: Trend, c: &Constraints) -> Vec<usize> {
    let n = pre.len();
    if n <= 1 {
        return (0..n).collect();
    }
    let te: f64 = pre.events.iter().sum();
    let tn: f64 = pre.nonevents.iter().sum();
    // d[i][j], v[i][j]: ⌊10⁶ · event rate⌋ and ⌊10⁶ · divergence⌋ of pre-bins j..=i, from
    // reverse cumulative sums as optbinning computes them.
    let scale = 1e6;
    let mut d = vec![vec![0i64; n]; n];
    let mut v = vec![vec![0i64; n]; n];
    let mut size = vec![vec![0.0; n]; n];
    let mut evs = vec![vec![0.0; n]; n];
    for i in 0..n {
        let (mut se, mut sn) = (0.0, 0.0);
        for j in (0..=i).rev() {
            se += pre.events[j];
            sn += pre.nonevents[j];
            let rate = se / (sn + se);
            d[i][j] = (rate * scale) as i64;
            v[i][j] = (jeffrey(se / te, sn / tn) * scale) as i64;
            size[i][j] = se + sn;
            evs[i][j] = se;
        }
    }
    // Pre-bins after which an ascending (descending) trend may not split.
    let mut no_split = vec![false; n];
    if matches!(trend, Trend::Ascending | Trend::Descending) {
        let wrong = |a: i64, b: i64| match trend {
            Trend::Ascending => a - b > 0,
            _ => a - b < 0,
        };
        for i in 0..n - 1 {
            if wrong(d[i + 1][i], d[i + 1][i + 1]) {
                no_split[i] = true;
                for j in 0..n - i - 1 {
                    if wrong(d[i + 1 + j][i], d[i + 1 + j][i + 1 + j]) {
                        no_split[i + j] = true;
                    }
                }
            }
        }
    }
    let ok_bin = |s: usize, e: usize| size[e][s] >= c.min_bin_size && evs[e][s] >= c.min_bin_events;
    // Whether bins s..=e and e+1..=e2 differ significantly (always, without a test).
    let z_crit = c.max_pvalue.map(|p| z_of(1.0 - p / 2.0));
    let differ = |s: usize, e: usize, e2: usize| {
        let Some(z_crit) = z_crit else {
            return true;
        };
        let z = crate::stats::two_proportion_z_of(
            evs[e][s],
            size[e][s],
            evs[e2][e + 1],
            size[e2][e + 1],
        );
        z.abs() >= z_crit
    };
    let max_bins = c.max_bins.max(1).min(n);
    // best[e][s][m][phase]: the largest divergence of pre-bins 0..=e in m + 1 bins, the
    // last being s..=e; phase 1 once a peak (valley) trend has turned.
    const NONE: i64 = i64::MIN;
    let idx = |e: usize, s: usize, m: usize, ph: usize| ((e * n + s) * max_bins + m) * 2 + ph;
    let mut best = vec![NONE; n * n * max_bins * 2];
    let mut from: Vec<Option<(usize, usize)>> = vec![None; n * n * max_bins * 2];
    for e in 0..n {
        if ok_bin(0, e) {
            best[idx(e, 0, 0, 0)] = v[e][0];
        }
    }
    // Whether a bin of rate b may follow one of rate a in `phase`; the phase after it.
    let step = |a: i64, b: i64, phase: usize| -> Vec<usize> {
        match trend {
            Trend::Ascending => (a <= b).then_some(0).into_iter().collect(),
            Trend::Descending => (a >= b).then_some(0).into_iter().collect(),
            Trend::Peak | Trend::Valley => {
                let rising = if trend == Trend::Peak { a <= b } else { a >= b };
                if phase == 0 {
                    // Stay on the first side, or turn (no constraint across the turn).
                    if rising {
                        vec![0, 1]
                    } else {
                        vec![1]
                    }
                } else if !rising || a == b {
                    vec![1]
                } else {
                    vec![]
                }
            }
        }
    };
    for e in 0..n - 1 {
        if no_split[e] {
            continue;
        }
        for s in 0..=e {
            for m in 0..max_bins - 1 {
                for ph in 0..2 {
                    let cur = best[idx(e, s, m, ph)];
                    if cur == NONE {
                        continue;
                    }
                    for e2 in e + 1..n {
                        let s2 = e + 1;
                        if !ok_bin(s2, e2) {
                            continue;
                        }
                        if !differ(s, e, e2) {
                            continue;
                        }
                        for ph2 in step(d[e][s], d[e2][s2], ph) {
                            let val = cur + v[e2][s2];
                            let k = idx(e2, s2, m + 1, ph2);
                            if val > best[k] {
                                best[k] = val;
                                from[k] = Some((s, ph));
                            }
                        }
                    }
                }
            }
        }
    }
    // The best complete grouping (ending at the last pre-bin).
    let mut top: Option<(i64, usize, usize, usize)> = None;
    for s in 0..n {
        for m in 0..max_bins {
            for ph in 0..2 {
                let b = best[idx(n - 1, s, m, ph)];
                if b != NONE && top.is_none_or(|t| b > t.0) {
                    top = Some((b, s, m, ph));
                }
            }
        }
    }
    let Some((_, mut s, mut m, mut ph)) = top else {
        return vec![n - 1];
    };
    let mut ends = vec![n - 1];
    while m > 0 {
        let (ps, pph) = from[idx(ends[ends.len() - 1], s, m, ph)].expect("a predecessor");
        let e = s - 1;
        ends.push(e);
        s = ps;
        ph = pph;
        m -= 1;
    }
    ends.reverse();
    ends
}

/// The standard normal quantile of `q` in (0, 1), by bisection on the distribution
/// function.
fn z_of(q: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if crate::stats::normal_cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The bins of `pre` grouped at `ends`.
pub fn merged(pre: &Bins, ends: &[usize]) -> Bins {
    let mut out = Bins::default();
    let mut start = 0;
    for &e in ends {
        out.events.push(pre.events[start..=e].iter().sum());
        out.nonevents.push(pre.nonevents[start..=e].iter().sum());
        if e + 1 < pre.len() {
            out.splits.push(pre.splits[e]);
        }
        start = e + 1;
    }
    out
}

/// Pre-bin, then merge optimally: the whole procedure.
pub fn optimal_binning(s: &Sorted, max_prebins: usize, trend: Trend, c: &Constraints) -> Bins {
    let pre = prebins(s, max_prebins);
    let ends = optimal_merge(&pre, trend, c);
    merged(&pre, &ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(pairs: &[(f64, u8)]) -> Sorted {
        let mut p = pairs.to_vec();
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
        Sorted {
            x: p.iter().map(|t| t.0).collect(),
            ev: p.iter().map(|t| t.1 as f64).collect(),
            ne: p.iter().map(|t| 1.0 - t.1 as f64).collect(),
        }
    }

    #[test]
    fn quantiles_follow_numpy_averaged_inverted_cdf() {
        // np.percentile([1..10], [0, 25, 50, 75, 100], method="averaged_inverted_cdf")
        // = [1, 3, 5.5, 8, 10]
        let s = sorted(&(1..=10).map(|i| (i as f64, 0)).collect::<Vec<_>>());
        assert_eq!(quantile_splits(&s, 4), vec![3.0, 5.5, 8.0]);
        // Ties collapse: [0]*8 + [1, 2] in 4 bins → edges [0, 0, 0, 0, 2] → splits []
        // after dropping repeats ([0, 2] kept).
        let mut v: Vec<(f64, u8)> = vec![(0.0, 0); 8];
        v.push((1.0, 0));
        v.push((2.0, 0));
        assert!(quantile_splits(&sorted(&v), 4).is_empty());
        // Weights repeat values: weight 2 on each of 1..5 is 1,1,2,2,..,5,5.
        let w = Sorted {
            x: (1..=5).map(|i| i as f64).collect(),
            ev: vec![0.0; 5],
            ne: vec![2.0; 5],
        };
        assert_eq!(quantile_splits(&w, 2), vec![3.0]);
    }

    #[test]
    fn pure_prebins_merge_right_and_last_left() {
        // Four pre-bins: (0 events), (mixed), (mixed), (0 non-events).
        let s = sorted(&[
            (1.0, 0),
            (1.0, 0),
            (2.0, 1),
            (2.0, 0),
            (3.0, 1),
            (3.0, 0),
            (4.0, 1),
            (4.0, 1),
        ]);
        let pre = prebins(&s, 4);
        assert!(pre.events.iter().all(|&e| e > 0.0));
        assert!(pre.nonevents.iter().all(|&n| n > 0.0));
        assert_eq!(pre.events.iter().sum::<f64>(), 4.0);
    }

    #[test]
    fn merge_is_monotone_and_maximises_iv() {
        // Event rates per pre-bin: 10 %, 30 %, 20 %, 50 %, 60 %; 100 rows each.
        let pre = Bins {
            splits: vec![1.0, 2.0, 3.0, 4.0],
            events: vec![10.0, 30.0, 20.0, 50.0, 60.0],
            nonevents: vec![90.0, 70.0, 80.0, 50.0, 40.0],
        };
        let c = Constraints {
            max_bins: 5,
            min_bin_size: 0.0,
            min_bin_events: 0.0,
            max_pvalue: None,
        };
        let ends = optimal_merge(&pre, Trend::Ascending, &c);
        let b = merged(&pre, &ends);
        for i in 1..b.len() {
            assert!(b.rate(i) >= b.rate(i - 1), "{b:?}");
        }
        // Brute force over all groupings that are ascending.
        let totals = (170.0, 330.0);
        let mut best = f64::MIN;
        for mask in 0u32..16 {
            let ends: Vec<usize> = (0..4).filter(|i| mask & (1 << i) != 0).chain([4]).collect();
            let m = merged(&pre, &ends);
            if (1..m.len()).all(|i| m.rate(i) >= m.rate(i - 1)) {
                best = best.max(m.iv(totals));
            }
        }
        assert!(
            (b.iv(totals) - best).abs() < 1e-4,
            "{} vs {best}",
            b.iv(totals)
        );
        // Descending data with an ascending trend: one bin.
        let down = Bins {
            splits: vec![1.0],
            events: vec![50.0, 10.0],
            nonevents: vec![50.0, 90.0],
        };
        assert_eq!(optimal_merge(&down, Trend::Ascending, &c), vec![1]);
        assert_eq!(optimal_merge(&down, Trend::Descending, &c), vec![0, 1]);
    }

    #[test]
    fn peak_and_valley_turn_once() {
        let pre = Bins {
            splits: vec![1.0, 2.0, 3.0],
            events: vec![10.0, 40.0, 40.0, 10.0],
            nonevents: vec![90.0, 60.0, 60.0, 90.0],
        };
        let c = Constraints {
            max_bins: 4,
            min_bin_size: 0.0,
            min_bin_events: 0.0,
            max_pvalue: None,
        };
        let b = merged(&pre, &optimal_merge(&pre, Trend::Peak, &c));
        assert_eq!(b.len(), 3, "{b:?}");
        let valley = merged(&pre, &optimal_merge(&pre, Trend::Valley, &c));
        assert!(valley.len() <= 2, "{valley:?}");
        // Size and event floors bind.
        let c = Constraints {
            max_bins: 4,
            min_bin_size: 150.0,
            min_bin_events: 0.0,
            max_pvalue: None,
        };
        let b = merged(&pre, &optimal_merge(&pre, Trend::Peak, &c));
        assert!(b.len() <= 2, "{b:?}");
        assert!((0..b.len()).all(|i| b.events[i] + b.nonevents[i] >= 150.0));
        let c = Constraints {
            max_bins: 2,
            min_bin_size: 0.0,
            min_bin_events: 0.0,
            max_pvalue: None,
        };
        assert!(optimal_merge(&pre, Trend::Peak, &c).len() <= 2);
    }
}
