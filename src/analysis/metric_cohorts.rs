//! Metric cohorts, the "Fighting Churn with Data" method: the counted rows binned by a raw
//! metric's deciles, churn rate per bin against the bin's mean value.
//!
//! ## The decile rule
//!
//! With the present values sorted, `v[0] ≤ … ≤ v[n−1]`, the bin edges are
//! `e_j = v[⌊j·n/10⌋]` for `j = 1…9`. A value goes to the bin numbered by how many distinct
//! edges are ≤ it, so **a value equal to an edge goes to the bin above it, and equal values
//! always share a bin**. Repeated edges merge bins, so a metric with heavy ties (a count that
//! is mostly 0) has fewer than ten bins; empty bins are not shown. A metric with at most as
//! many distinct values as bins (a flag, a band) gets one bin per value instead, so a rare
//! value is not merged into its neighbour. With `zero_bin`, zeros get
//! a bin of their own and the deciles are taken over the non-zero values. Missing values get
//! a `(missing)` bin after the others. Text metrics get one bin per label.

use serde::Serialize;

use super::{count_groups, ChurnCount};
use crate::data::{MetricColumn, Snapshots};
use crate::profile::{Direction, Profile};
use crate::stats;

/// One bin of a metric cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// `[lo, hi]`, a label, `0` or `(missing)`.
    pub label: String,
    /// Smallest value in the bin (NaN for labels and missing).
    pub lo: f64,
    /// Largest value in the bin.
    pub hi: f64,
    /// Mean value in the bin.
    pub mean: f64,
    /// Churn counts.
    #[serde(flatten)]
    pub count: ChurnCount,
}

/// How churn moves across a numeric metric's bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// Churn rises as the metric grows (Cochran–Armitage trend test).
    Rising,
    /// Churn falls as the metric grows.
    Falling,
    /// No significant trend.
    Flat,
    /// A significant step against the trend: not monotone.
    Mixed,
    /// Text metric: bins have no order.
    Unordered,
}

/// The bins of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricCohort {
    /// Metric name in the profile.
    pub metric: String,
    /// Its column.
    pub column: String,
    /// The bins in metric order (the missing bin last).
    pub bins: Vec<Bin>,
    /// How churn moves as the metric grows.
    pub trend: Trend,
    /// Whether the churn rate is monotone in the metric (no significant reversal).
    pub monotone: bool,
    /// The data's direction contradicts the profile's: churn rises with a metric declared
    /// higher-is-better, or falls with one declared lower-is-better.
    pub direction_conflict: bool,
}

/// Decile edges by the documented rule: with `v` the values sorted, the distinct
/// `v[⌊j·n/bins⌋]` for `j = 1..bins` above the minimum (only those split anything). The
/// order statistics come by selection instead of a sort (O(n log bins) rather than
/// O(n log n); `values` is reordered). No NaN.
pub fn decile_edges_unsorted(values: &mut [f64], bins: usize) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let mut at: Vec<usize> = (1..bins).map(|j| j * n / bins).collect();
    at.dedup();
    select_at(values, 0, &at);
    let mut edges: Vec<f64> = (1..bins).map(|j| values[j * n / bins]).collect();
    edges.dedup();
    // The minimum lies at or before the first selected position (all of them when none).
    let head = at.first().map_or(n, |&p| p + 1);
    let min = values[..head]
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .expect("n > 0");
    edges.retain(|&e| e > min);
    edges
}

/// Puts the value of sorted rank `at[i]` (ascending; `values` starts at rank `offset`) in its
/// place, the smaller values before it and the larger after it.
fn select_at(values: &mut [f64], offset: usize, at: &[usize]) {
    if at.is_empty() || values.is_empty() {
        return;
    }
    let mid = at.len() / 2;
    let k = at[mid] - offset;
    let (below, _, above) = values.select_nth_unstable_by(k, f64::total_cmp);
    select_at(below, offset, &at[..mid]);
    select_at(above, offset + k + 1, &at[mid + 1..]);
}

/// The distinct values (by `==`, each the least of its equals by `total_cmp`, as sorting and
/// deduplicating gives them), ascending, when there are at most `max`; `None` otherwise. No
/// NaN. Stops at the `max + 1`-th distinct value, so a continuous column costs a few reads.
pub fn few_distinct(values: &[f64], max: usize) -> Option<Vec<f64>> {
    let mut seen: Vec<f64> = Vec::with_capacity(max + 1);
    for &x in values {
        match seen.iter().position(|&e| e == x) {
            Some(i) => {
                if x.total_cmp(&seen[i]).is_lt() {
                    seen[i] = x;
                }
            }
            None if seen.len() == max => return None,
            None => seen.push(x),
        }
    }
    seen.sort_unstable_by(f64::total_cmp);
    Some(seen)
}

/// Bin edges for `values` (no NaN; reordered): one bin per value when there are at most
/// `bins` distinct values (a flag, a band: deciles would merge a rare value into its
/// neighbour and hide it), [`decile_edges`] otherwise. No edges for no values.
pub fn bin_edges(values: &mut [f64], bins: usize) -> Vec<f64> {
    match few_distinct(values, bins) {
        Some(d) => d.get(1..).unwrap_or_default().to_vec(),
        None => decile_edges_unsorted(values, bins.max(1)),
    }
}

/// Bin of a value: how many edges are ≤ it.
pub fn bin_of(v: f64, edges: &[f64]) -> usize {
    edges.partition_point(|&e| e <= v)
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Metric cohorts of every metric in the profile, over the counted `rows`.
pub fn metric_cohorts(
    data: &Snapshots,
    profile: &Profile,
    rows: &[u32],
    bins: usize,
    zero_bin: bool,
) -> Vec<MetricCohort> {
    profile
        .metrics
        .iter()
        .filter_map(|m| {
            let col = data.metric(&m.column)?;
            let mut mc = match col {
                MetricColumn::Numeric(v) => numeric(data, v, rows, bins, zero_bin),
                MetricColumn::Text { codes, labels } => text(data, codes, labels, rows),
            };
            mc.metric = m.name.clone();
            mc.column = m.column.clone();
            mc.direction_conflict = matches!(
                (mc.trend, m.direction),
                (Trend::Rising, Direction::HigherIsBetter)
                    | (Trend::Falling, Direction::LowerIsBetter)
            );
            Some(mc)
        })
        .collect()
}

fn numeric(data: &Snapshots, v: &[f64], rows: &[u32], bins: usize, zero_bin: bool) -> MetricCohort {
    let mut values: Vec<f64> = rows
        .iter()
        .map(|&r| v[r as usize])
        .filter(|x| !(x.is_nan() || zero_bin && *x == 0.0))
        .collect();
    // A metric with no more values than bins (a flag, a score band) gets a bin per value.
    let edges = bin_edges(&mut values, bins);
    drop(values);
    let nb = edges.len() + 1;
    // groups: [zero bin], value bins, missing bin
    let off = usize::from(zero_bin);
    let missing = off + nb;
    let k = missing + 1;
    let group: Vec<u32> = rows
        .iter()
        .map(|&r| {
            let x = v[r as usize];
            if x.is_nan() {
                missing as u32
            } else if zero_bin && x == 0.0 {
                0
            } else {
                (off + bin_of(x, &edges)) as u32
            }
        })
        .collect();
    let counts = count_groups(data, rows, &group, k);
    let mut lo = vec![f64::INFINITY; k];
    let mut hi = vec![f64::NEG_INFINITY; k];
    let mut sum = vec![0f64; k];
    for (&r, &g) in rows.iter().zip(&group) {
        let x = v[r as usize];
        if !x.is_nan() {
            let g = g as usize;
            lo[g] = lo[g].min(x);
            hi[g] = hi[g].max(x);
            sum[g] += x;
        }
    }
    let mut out: Vec<Bin> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.units > 0)
        .map(|(g, count)| {
            let is_missing = g == missing;
            let label = if is_missing {
                "(missing)".to_string()
            } else if zero_bin && g == 0 {
                "0".to_string()
            } else if lo[g] == hi[g] {
                fmt_value(lo[g])
            } else {
                format!("{} – {}", fmt_value(lo[g]), fmt_value(hi[g]))
            };
            Bin {
                label,
                lo: if is_missing { f64::NAN } else { lo[g] },
                hi: if is_missing { f64::NAN } else { hi[g] },
                mean: if is_missing {
                    f64::NAN
                } else {
                    sum[g] / count.units as f64
                },
                count,
            }
        })
        .collect();
    // A zero bin sits in value order (before positives, after negatives).
    out.sort_by(|a, b| match (a.mean.is_nan(), b.mean.is_nan()) {
        (false, false) => a.mean.total_cmp(&b.mean),
        (x, y) => x.cmp(&y),
    });
    let (trend, monotone) = trend_of(out.iter().filter(|b| !b.mean.is_nan()));
    MetricCohort {
        metric: String::new(),
        column: String::new(),
        bins: out,
        trend,
        monotone,
        direction_conflict: false,
    }
}

fn text(data: &Snapshots, codes: &[u32], labels: &[String], rows: &[u32]) -> MetricCohort {
    let k = labels.len() + 1;
    let group: Vec<u32> = rows
        .iter()
        .map(|&r| match codes[r as usize] {
            MetricColumn::MISSING_CODE => labels.len() as u32,
            c => c,
        })
        .collect();
    let bins = count_groups(data, rows, &group, k)
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.units > 0)
        .map(|(g, count)| Bin {
            label: labels.get(g).cloned().unwrap_or_else(|| "(missing)".into()),
            lo: f64::NAN,
            hi: f64::NAN,
            mean: f64::NAN,
            count,
        })
        .collect();
    MetricCohort {
        metric: String::new(),
        column: String::new(),
        bins,
        trend: Trend::Unordered,
        monotone: true,
        direction_conflict: false,
    }
}

/// The trend is the Cochran–Armitage test across the bins in metric order (|z| > 1.96);
/// the metric is not monotone when some adjacent step goes significantly against it (or, with
/// no overall trend, steps go significantly both ways), by two-proportion z beyond ±1.96.
fn trend_of<'a>(bins: impl Iterator<Item = &'a Bin>) -> (Trend, bool) {
    const Z: f64 = 1.959_963_984_540_054;
    let bins: Vec<&Bin> = bins.collect();
    let k: Vec<usize> = bins.iter().map(|b| b.count.churned).collect();
    let n: Vec<usize> = bins.iter().map(|b| b.count.units).collect();
    let z = stats::cochran_armitage(&k, &n);
    let trend = if z > Z {
        Trend::Rising
    } else if z < -Z {
        Trend::Falling
    } else {
        Trend::Flat
    };
    let (mut up, mut down) = (false, false);
    for w in bins.windows(2) {
        let (a, b) = (&w[0].count, &w[1].count);
        let (step, _) = stats::two_proportion_z(b.churned, b.units, a.churned, a.units);
        if step > Z {
            up = true;
        } else if step < -Z {
            down = true;
        }
    }
    let monotone = match trend {
        Trend::Rising => !down,
        Trend::Falling => !up,
        _ => !(up && down),
    };
    (if monotone { trend } else { Trend::Mixed }, monotone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testdata;

    /// The rule read off the sorted values: the oracle for the selection.
    fn decile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
        let n = sorted.len();
        let mut edges: Vec<f64> = (1..bins).map(|j| sorted[j * n / bins]).collect();
        edges.dedup();
        if let Some(&min) = sorted.first() {
            edges.retain(|&e| e > min);
        }
        edges
    }

    /// The sort-based rule the selection must reproduce, bit for bit.
    fn sorted_edges(values: &[f64], bins: usize) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let mut distinct = sorted.clone();
        distinct.dedup();
        if distinct.is_empty() {
            Vec::new()
        } else if distinct.len() <= bins {
            distinct[1..].to_vec()
        } else {
            decile_edges(&sorted, bins)
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest::proptest! {
        /// Selection gives the edges sorting gives: heavy ties, ±0, ±∞, every bin count.
        #[test]
        fn edges_by_selection_match_the_sorted_rule(
            picks in proptest::collection::vec(0usize..40, 0..300),
            spread in 1usize..40,
            bins in 1usize..13,
        ) {
            let pool: Vec<f64> = (0..40)
                .map(|i| match i {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::INFINITY,
                    3 => f64::NEG_INFINITY,
                    _ => (i as f64 - 20.0) * 0.37,
                })
                .collect();
            let values: Vec<f64> = picks.iter().map(|&p| pool[p % spread]).collect();
            let mut v = values.clone();
            proptest::prop_assert_eq!(bits(&bin_edges(&mut v, bins)), bits(&sorted_edges(&values, bins)));
            if !values.is_empty() {
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let mut v = values.clone();
                proptest::prop_assert_eq!(
                    bits(&decile_edges_unsorted(&mut v, bins)),
                    bits(&decile_edges(&sorted, bins))
                );
            }
        }
    }

    #[test]
    fn decile_rule_with_ties() {
        // 20 values: 0 ×8, then 1..=12. Edges v[2j] for j = 1..9:
        // v[2]=0 v[4]=0 v[6]=0 v[8]=1 v[10]=3 v[12]=5 v[14]=7 v[16]=9 v[18]=11
        // → 0 is the minimum and splits nothing; distinct edges 1 3 5 7 9 11
        let mut v: Vec<f64> = vec![0.0; 8];
        v.extend((1..=12).map(f64::from));
        v.reverse();
        let e = decile_edges_unsorted(&mut v, 10);
        assert_eq!(e, vec![1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        // an edge value goes to the bin above it; equal values share a bin
        assert_eq!(bin_of(0.0, &e), 0);
        assert_eq!(bin_of(1.0, &e), 1);
        assert_eq!(bin_of(2.0, &e), 1);
        assert_eq!(bin_of(3.0, &e), 2);
        assert_eq!(bin_of(12.0, &e), 6);
        // 100 distinct values: ten bins of ten
        let w: Vec<f64> = (0..100).map(f64::from).collect();
        let e = decile_edges_unsorted(&mut w.clone(), 10);
        assert_eq!(e.len(), 9);
        let mut counts = [0; 10];
        for &x in &w {
            counts[bin_of(x, &e)] += 1;
        }
        assert_eq!(counts, [10; 10]);
    }

    #[test]
    fn bins_zero_bin_missing_and_trend() {
        // 200 accounts, metric = account % 10 (0..9), churn falls as the metric grows
        let rows: Vec<(u32, i32, u8)> = (0..200u32)
            .map(|a| (a, 1, u8::from((a % 10) < 3 && a % 3 == 0 || a % 10 == 0)))
            .collect();
        let d = testdata::snapshots(&rows);
        let mut v: Vec<f64> = (0..200).map(|a| (a % 10) as f64).collect();
        v[199] = f64::NAN;
        let units: Vec<u32> = (0..200).collect();
        let mc = numeric(&d, &v, &units, 10, true);
        assert_eq!(mc.bins[0].label, "0");
        assert_eq!(mc.bins.last().unwrap().label, "(missing)");
        assert_eq!(mc.bins.last().unwrap().count.units, 1);
        let total: usize = mc.bins.iter().map(|b| b.count.units).sum();
        assert_eq!(total, 200);
        assert_eq!(mc.trend, Trend::Falling);
        assert!(mc.monotone);
        // a rare flag (1 in 20) keeps a bin of its own
        let flag: Vec<f64> = (0..200).map(|a| f64::from(u8::from(a % 20 == 0))).collect();
        let mf = numeric(&d, &flag, &units, 10, false);
        assert_eq!(mf.bins.len(), 2);
        assert_eq!(mf.bins[1].count.units, 10);
    }
}
