//! Accuracy: values outside their physical or declared range, constant columns, exact
//! duplicate rows, dates in the future.

use super::*;

/// Each numeric metric in one pass (the metrics in parallel), then its findings in
/// metric order: constant columns, impossible NPS and percentages, negative values, values
/// outside the transform's range.
pub(super) fn ranges(x: &Input<'_>, f: &mut Findings) {
    let Input { profile, data, .. } = *x;
    let ranges: Vec<Option<ValueRanges>> = {
        use rayon::prelude::*;
        profile
            .metrics
            .par_iter()
            .map(|m| match data.metric(&m.column) {
                Some(MetricColumn::Numeric(v)) => {
                    let (lo, hi) = match m.transform {
                        Transform::Linear { lo, hi } | Transform::Log { lo, hi } => (lo, hi),
                        _ => (f64::NAN, f64::NAN),
                    };
                    Some(ValueRanges::of(v, lo, hi)).filter(|r| r.present > 0)
                }
                _ => None,
            })
            .collect()
    };
    for (m, r) in profile.metrics.iter().zip(&ranges) {
        let Some(r) = r else {
            continue;
        };
        let (min, max) = (r.min, r.max);
        if min == max {
            f.add(
                "accuracy",
                Severity::Warn,
                "constant column",
                &m.column,
                Issue::Constant { value: min },
            );
        }
        let lname = m.column.to_ascii_lowercase();
        if lname.contains("nps") {
            let bad = r.outside_nps;
            if bad > 0 {
                f.add(
                    "accuracy",
                    Severity::Error,
                    "physical range",
                    &m.column,
                    Issue::ImpossibleNps {
                        count: bad,
                        min,
                        max,
                    },
                );
            }
        }
        let non_negative = matches!(
            m.transform,
            Transform::Linear { lo, .. } | Transform::Log { lo, .. } if lo >= 0.0
        );
        if non_negative && (lname.ends_with("pct") || lname.contains("percent")) {
            let bad = r.above_100;
            if bad > 0 {
                f.add(
                    "accuracy",
                    Severity::Warn,
                    "physical range",
                    &m.column,
                    Issue::PercentAbove100 { count: bad, max },
                );
            }
        }
        if let Transform::Linear { lo, hi } | Transform::Log { lo, hi } = m.transform {
            if lo >= 0.0 {
                let neg = r.negative;
                if neg > 0 {
                    f.add(
                        "accuracy",
                        Severity::Warn,
                        "physical range",
                        &m.column,
                        Issue::Negative { count: neg, lo },
                    );
                }
            }
            let out = r.outside;
            if out > 0 {
                let share = out as f64 / r.present as f64;
                f.add(
                    "accuracy",
                    if share > 0.2 {
                        Severity::Warn
                    } else {
                        Severity::Info
                    },
                    "transform range",
                    &m.column,
                    Issue::OutsideTransform {
                        count: out,
                        share,
                        range: [lo, hi],
                        observed: [min, max],
                    },
                );
            }
        }
    }
}

/// Exact duplicate rows over every loaded column (a generated row-number id excluded):
/// a 64-bit fingerprint per row, sorted; equal fingerprints are compared value by value.
pub(super) fn duplicates(x: &Input<'_>, f: &mut Findings) {
    let Input { data, extra, y, .. } = *x;
    let n = data.rows;
    use rayon::prelude::*;
    use std::hash::{Hash, Hasher};
    let row_values = |i: usize, out: &mut Vec<u64>| {
        out.clear();
        if data.account_names.is_some() {
            out.push(data.account[i] as u64);
        }
        if let Some(d) = &data.date {
            out.push(d[i] as u64);
        }
        if let Some(o) = y {
            out.push(o[i] as u64);
        }
        for (_, c) in &data.metrics {
            out.push(match c {
                MetricColumn::Numeric(v) => v[i].to_bits(),
                MetricColumn::Text { codes, .. } => codes[i] as u64,
            });
        }
        for (_, v) in extra {
            out.push(v[i].to_bits());
        }
    };
    let mut prints: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .map_init(Vec::new, |buf, i| {
            row_values(i, buf);
            let mut h = rustc_hash::FxHasher::default();
            buf.hash(&mut h);
            (h.finish(), i as u32)
        })
        .collect();
    prints.par_sort_unstable();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut dup = 0usize;
    for group in prints.chunk_by(|p, q| p.0 == q.0).filter(|g| g.len() > 1) {
        // rows equal to an earlier row of the group
        for (k, &(_, r)) in group.iter().enumerate().skip(1) {
            row_values(r as usize, &mut a);
            let repeated = group[..k].iter().any(|&(_, q)| {
                row_values(q as usize, &mut b);
                a == b
            });
            dup += usize::from(repeated);
        }
    }
    if dup > 0 {
        f.add(
            "accuracy",
            Severity::Warn,
            "duplicate rows",
            "",
            Issue::DuplicateRows { count: dup },
        );
    }
}

/// Snapshot and churn dates after the audit's today.
pub(super) fn future_dates(x: &Input<'_>, f: &mut Findings) {
    let Input { data, params, .. } = *x;
    if let Some(dates) = &data.date {
        let future = dates.iter().filter(|&&d| d > params.as_of).count();
        if future > 0 {
            f.add(
                "accuracy",
                Severity::Error,
                "future dates",
                data.date_column.as_deref().unwrap_or("snapshot date"),
                Issue::FutureSnapshots {
                    count: future,
                    today: params.as_of,
                },
            );
        }
    }
    if let Some(c) = &data.churn_date {
        let future = c
            .iter()
            .filter(|&&d| d != NO_DAY && d > params.as_of)
            .count();
        if future > 0 {
            f.add(
                "accuracy",
                Severity::Error,
                "future dates",
                "churn date",
                Issue::FutureChurnDates {
                    count: future,
                    today: params.as_of,
                },
            );
        }
    }
}

/// What the accuracy checks need of a numeric metric's present (not NaN) values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ValueRanges {
    present: usize,
    min: f64,
    max: f64,
    /// Values outside −100…100 (an impossible NPS).
    outside_nps: usize,
    above_100: usize,
    negative: usize,
    /// Values outside the transform's `lo…hi` (none when those are NaN).
    outside: usize,
}

impl ValueRanges {
    /// One pass over `v`.
    fn of(v: &[f64], lo: f64, hi: f64) -> Self {
        let mut r = ValueRanges {
            present: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            outside_nps: 0,
            above_100: 0,
            negative: 0,
            outside: 0,
        };
        for &x in v.iter().filter(|x| !x.is_nan()) {
            r.present += 1;
            r.min = r.min.min(x);
            r.max = r.max.max(x);
            r.outside_nps += usize::from(!(-100.0..=100.0).contains(&x));
            r.above_100 += usize::from(x > 100.0);
            r.negative += usize::from(x < 0.0);
            r.outside += usize::from(x < lo || x > hi);
        }
        r
    }
}
