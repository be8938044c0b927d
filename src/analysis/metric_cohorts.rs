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
use crate::stats::binning::{bin_edges, bin_of};

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
