//! The data-quality audit that runs before every fit, after the practitioner guide's five
//! criteria: **access** (the columns are there and read as the profile needs), **accuracy**
//! (ranges, duplicates, constants, future dates), **currency** (how old the data is, accounts
//! that stopped appearing, feeds that never change), **impact** (each metric's univariate
//! AUC and information value against churn, and its direction), **integration** (missing
//! values, gaps, redundancy), plus **outcome** sanity (labels cut off at the end of the
//! window, leakage, events per parameter).
//!
//! Every finding has a severity: `error` (the fit should not run), `warn`, `info`.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analysis::metric_cohorts::{bin_edges, bin_of};
use crate::data::{parse, Day, MetricColumn, Snapshots, NO_DAY};
use crate::profile::{Profile, Transform};
use crate::score::SubScores;
use crate::stats::{self, validation as vs};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The fit should not run on this data.
    Error,
    /// Worth a look before trusting the results.
    Warn,
    /// For the record.
    Info,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// access, accuracy, currency, impact, integration or outcome.
    pub criterion: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Short name of the check.
    pub check: &'static str,
    /// The column, metric or pair concerned (empty for the whole file).
    pub subject: String,
    /// What was found, in words.
    pub message: String,
}

/// A metric's signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Impact {
    /// Metric name (or column, for scanned extra columns).
    pub metric: String,
    /// Column.
    pub column: String,
    /// AUC of the metric as a churn signal: for profile metrics, of its sub-score in the
    /// profile's direction (above 0.5: the direction holds); for extra columns, the larger
    /// of the two orientations.
    pub auc: f64,
    /// DeLong 95 % interval.
    pub auc_ci: [f64; 2],
    /// Information value over deciles (missing values in a bin of their own).
    pub iv: f64,
    /// 95 % bootstrap interval of the information value.
    pub iv_ci: [f64; 2],
    /// Share of rows where the value is missing.
    pub missing: f64,
    /// Whether this is a profile metric (else a scanned extra column).
    pub in_profile: bool,
    /// Distinct present values (counted up to 1000).
    pub levels: usize,
}

/// The audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    /// The file.
    pub source: String,
    /// Rows read.
    pub rows: usize,
    /// Accounts.
    pub accounts: usize,
    /// The date the audit treats as today.
    pub as_of: String,
    /// Findings, errors first.
    pub findings: Vec<Finding>,
    /// Each metric's signal.
    pub impact: Vec<Impact>,
    /// Churn rate per snapshot date: (date, rows, churned).
    pub churn_by_date: Vec<(String, usize, usize)>,
    /// Metric pairs with |r| > 0.9.
    pub correlated: Vec<(String, String, f64)>,
    /// Variance inflation factor per numeric metric.
    pub vif: Vec<(String, f64)>,
}

impl Audit {
    /// Number of findings at a severity.
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// Options of the audit.
#[derive(Debug, Clone)]
pub struct AuditParams {
    /// Today, for currency and future dates.
    pub as_of: Day,
    /// Data older than this many days is stale.
    pub stale_days: i32,
    /// Accounts with at least this many snapshots are checked for metrics that never change.
    pub stale_snapshots: usize,
    /// Measure each metric's impact (AUC with its interval, information value with a
    /// bootstrap interval) and flag suspected leakage. These checks only warn, and they are
    /// the audit's most expensive part on large data: the check before a fit skips them.
    pub impact: bool,
}

/// Pearson correlation over rows where both are present.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        if x.is_nan() || y.is_nan() {
            continue;
        }
        n += 1.0;
        sa += x;
        sb += y;
        saa += x * x;
        sbb += y * y;
        sab += x * y;
    }
    let cov = sab - sa * sb / n;
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    if va <= 0.0 || vb <= 0.0 {
        return f64::NAN;
    }
    cov / (va * vb).sqrt()
}

/// Inverse of a small symmetric matrix by Gauss–Jordan with partial pivoting; `None` when
/// singular.
fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.clone();
            row.extend((0..n).map(|j| f64::from(u8::from(i == j))));
            row
        })
        .collect();
    for c in 0..n {
        let p = (c..n).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        let piv = a[c][c];
        for v in a[c].iter_mut() {
            *v /= piv;
        }
        for r in 0..n {
            if r != c {
                let f = a[r][c];
                if f != 0.0 {
                    let (src, dst) = if r < c {
                        let (lo, hi) = a.split_at_mut(c);
                        (&hi[0], &mut lo[r])
                    } else {
                        let (lo, hi) = a.split_at_mut(r);
                        (&lo[c], &mut hi[0])
                    };
                    for (d, s) in dst.iter_mut().zip(src.iter()) {
                        *d -= f * s;
                    }
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[n..].to_vec()).collect())
}

/// Information value of `v` against `y` over deciles (a bin per value when there are at most
/// ten; missing in its own bin), with each bin's shares smoothed by ½.
pub fn information_value(v: &[f64], y: &[u8]) -> f64 {
    information_value_ci(v, y, 0, 0).0
}

fn iv_of(c: &[f64], r: &[f64]) -> f64 {
    let (tc, tr): (f64, f64) = (c.iter().sum(), r.iter().sum());
    let used: Vec<usize> = (0..c.len()).filter(|&b| c[b] + r[b] > 0.0).collect();
    let kb = used.len() as f64;
    used.iter()
        .map(|&b| {
            let dc = (c[b] + 0.5) / (tc + 0.5 * kb);
            let dr = (r[b] + 0.5) / (tr + 0.5 * kb);
            (dr - dc) * (dr / dc).ln()
        })
        .sum()
}

/// Multinomial draw of `n` over probabilities `p`, by successive binomials.
fn multinomial(rng: &mut rand_chacha::ChaCha8Rng, n: f64, p: &[f64]) -> Vec<f64> {
    use rand_distr::{Binomial, Distribution};
    let mut left = n as u64;
    let mut rest = 1.0;
    p.iter()
        .map(|&q| {
            if left == 0 || rest <= 0.0 {
                return 0.0;
            }
            let share = (q / rest).clamp(0.0, 1.0);
            let k = Binomial::new(left, share).map_or(0, |b| b.sample(rng));
            left -= k;
            rest -= q;
            k as f64
        })
        .collect()
}

/// Information value with a 95 % percentile interval from `replicates` bootstrap draws of
/// the bin counts (churned and retained resampled separately, bins fixed: a stratified
/// bootstrap of rows, without touching the rows again). `(iv, [lo, hi])`; no interval when
/// `replicates` is 0.
pub fn information_value_ci(v: &[f64], y: &[u8], replicates: usize, seed: u64) -> (f64, [f64; 2]) {
    use rand::SeedableRng;
    let mut values: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if values.is_empty() {
        return (f64::NAN, [f64::NAN; 2]);
    }
    // A column with at most ten values (a flag, a band) gets a bin per value.
    let edges = bin_edges(&mut values, 10);
    drop(values);
    let k = edges.len() + 2;
    let mut c = vec![0f64; k];
    let mut r = vec![0f64; k];
    for (&x, &yy) in v.iter().zip(y) {
        let b = if x.is_nan() { k - 1 } else { bin_of(x, &edges) };
        if yy == 1 {
            c[b] += 1.0;
        } else {
            r[b] += 1.0;
        }
    }
    let iv = iv_of(&c, &r);
    if replicates == 0 {
        return (iv, [f64::NAN; 2]);
    }
    let (tc, tr): (f64, f64) = (c.iter().sum(), r.iter().sum());
    let pc: Vec<f64> = c.iter().map(|x| x / tc.max(1.0)).collect();
    let pr: Vec<f64> = r.iter().map(|x| x / tr.max(1.0)).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut reps: Vec<f64> = (0..replicates)
        .map(|_| {
            let cb = multinomial(&mut rng, tc, &pc);
            let rb = multinomial(&mut rng, tr, &pr);
            iv_of(&cb, &rb)
        })
        .collect();
    reps.sort_by(f64::total_cmp);
    (
        iv,
        [
            crate::stats::quantile(&reps, 0.025),
            crate::stats::quantile(&reps, 0.975),
        ],
    )
}

/// A metric column's missing values: how many, and `(rows, missing)` per label of each
/// segment (none when nothing is missing).
type MissingCounts = (usize, Vec<Vec<(usize, usize)>>);

/// What the accuracy checks need of a numeric metric's present (not NaN) values.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ValueRanges {
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

/// Run every check on loaded `data`. `extra` are columns outside the profile scanned for
/// leakage (numeric values, NaN missing).
pub fn audit(
    profile: &Profile,
    data: &Snapshots,
    extra: &[(String, Vec<f64>)],
    params: &AuditParams,
) -> Audit {
    let mut f: Vec<Finding> = Vec::new();
    let mut add = |criterion, severity, check, subject: &str, message: String| {
        f.push(Finding {
            criterion,
            severity,
            check,
            subject: subject.to_string(),
            message,
        })
    };
    let n = data.rows;
    let y = data.outcome.as_deref();

    // ---- accuracy: one pass over each numeric metric (the metrics in parallel), then the
    // findings in metric order
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
            add(
                "accuracy",
                Severity::Warn,
                "constant column",
                &m.column,
                format!("every present value is {min}: the metric cannot separate anyone"),
            );
        }
        let lname = m.column.to_ascii_lowercase();
        if lname.contains("nps") {
            let bad = r.outside_nps;
            if bad > 0 {
                add(
                    "accuracy",
                    Severity::Error,
                    "physical range",
                    &m.column,
                    format!("{bad} values outside −100…100, impossible for an NPS (min {min}, max {max})"),
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
                add(
                    "accuracy",
                    Severity::Warn,
                    "physical range",
                    &m.column,
                    format!("{bad} values above 100 in a percentage (max {max})"),
                );
            }
        }
        if let Transform::Linear { lo, hi } | Transform::Log { lo, hi } = m.transform {
            if lo >= 0.0 {
                let neg = r.negative;
                if neg > 0 {
                    add(
                        "accuracy",
                        Severity::Warn,
                        "physical range",
                        &m.column,
                        format!("{neg} negative values in a metric whose range starts at {lo}"),
                    );
                }
            }
            let out = r.outside;
            if out > 0 {
                let share = out as f64 / r.present as f64;
                add(
                    "accuracy",
                    if share > 0.2 { Severity::Warn } else { Severity::Info },
                    "transform range",
                    &m.column,
                    format!(
                        "{out} values ({:.1} %) outside the transform's {lo}…{hi}; they are clipped (observed {min}…{max})",
                        100.0 * share
                    ),
                );
            }
        }
    }
    // exact duplicate rows over every loaded column (a generated row-number id excluded):
    // a 64-bit fingerprint per row, sorted; equal fingerprints are compared value by value.
    {
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
            add(
                "accuracy",
                Severity::Warn,
                "duplicate rows",
                "",
                format!("{dup} rows repeat an earlier row in every column read: double-counted accounts or a repeated export"),
            );
        }
    }
    let last_date = data.date_range().map(|d| d.1);
    if let Some(dates) = &data.date {
        let future = dates.iter().filter(|&&d| d > params.as_of).count();
        if future > 0 {
            add(
                "accuracy",
                Severity::Error,
                "future dates",
                data.date_column.as_deref().unwrap_or("snapshot date"),
                format!(
                    "{future} snapshot dates after {} (today)",
                    parse::format_day(params.as_of)
                ),
            );
        }
    }
    if let Some(c) = &data.churn_date {
        let future = c
            .iter()
            .filter(|&&d| d != NO_DAY && d > params.as_of)
            .count();
        if future > 0 {
            add(
                "accuracy",
                Severity::Error,
                "future dates",
                "churn date",
                format!(
                    "{future} churn dates after {} (today)",
                    parse::format_day(params.as_of)
                ),
            );
        }
    }

    // ---- currency
    if let Some(last) = last_date {
        let age = params.as_of - last;
        if age > params.stale_days {
            add(
                "currency",
                Severity::Warn,
                "data age",
                "",
                format!(
                    "the latest snapshot is {} , {age} days before {}: weights fitted now describe the past",
                    parse::format_day(last),
                    parse::format_day(params.as_of)
                ),
            );
        }
    }
    let order = account_date_order(data);
    if let (Some(dates), Some(last)) = (&data.date, last_date) {
        // accounts that stopped appearing without churning
        let churn = data.churn_date.as_ref();
        let mut stopped = 0usize;
        let mut gaps = 0usize;
        let distinct = crate::data::order::distinct_days(dates);
        let pos = |d: Day| distinct.binary_search(&d).unwrap_or(0);
        for run in runs(&order, &data.account) {
            let first_i = run[0] as usize;
            let last_i = *run.last().expect("non-empty run") as usize;
            let churned = y.is_some_and(|o| run.iter().any(|&i| o[i as usize] == 1))
                || churn.is_some_and(|c| c[last_i] != NO_DAY);
            if dates[last_i] < last - params.stale_days && !churned {
                stopped += 1;
            }
            let span = pos(dates[last_i]) - pos(dates[first_i]) + 1;
            if span > run.len() {
                gaps += 1;
            }
        }
        if stopped > 0 {
            add(
                "currency",
                Severity::Warn,
                "stale accounts",
                "",
                format!(
                    "{stopped} accounts have no snapshot in the last {} days of the data and no churn: missing from the feed, or churned unrecorded",
                    params.stale_days
                ),
            );
        }
        if gaps > 0 {
            add(
                "integration",
                Severity::Info,
                "gaps",
                "",
                format!("{gaps} accounts miss snapshot dates between their first and last"),
            );
        }
        // metrics that never change for an account: a stale feed (the metrics in parallel,
        // the findings in metric order)
        let frozen_counts: Vec<Option<(usize, usize)>> = {
            use rayon::prelude::*;
            profile
                .metrics
                .par_iter()
                .map(|m| {
                    if !matches!(
                        m.transform,
                        Transform::Linear { .. }
                            | Transform::Log { .. }
                            | Transform::Percentile { .. }
                    ) {
                        return None;
                    }
                    let Some(MetricColumn::Numeric(v)) = data.metric(&m.column) else {
                        return None;
                    };
                    let mut distinct_vals: Vec<u64> = v
                        .iter()
                        .filter(|x| !x.is_nan())
                        .map(|x| x.to_bits())
                        .take(100_000)
                        .collect();
                    distinct_vals.sort_unstable();
                    distinct_vals.dedup();
                    if distinct_vals.len() < 20 {
                        return None; // a coarse metric legitimately repeats
                    }
                    let (mut eligible, mut frozen) = (0usize, 0usize);
                    for run in runs(&order, &data.account) {
                        let mut present =
                            run.iter().map(|&i| v[i as usize]).filter(|x| !x.is_nan());
                        let Some(first) = present.next() else {
                            continue;
                        };
                        let (mut count, mut same) = (1usize, true);
                        for x in present {
                            count += 1;
                            same &= x == first;
                        }
                        if count >= params.stale_snapshots {
                            eligible += 1;
                            frozen += usize::from(same);
                        }
                    }
                    Some((eligible, frozen))
                })
                .collect()
        };
        for (m, counts) in profile.metrics.iter().zip(frozen_counts) {
            let Some((eligible, frozen)) = counts else {
                continue;
            };
            if eligible > 0 && frozen as f64 / eligible as f64 > 0.5 {
                add(
                    "currency",
                    Severity::Warn,
                    "frozen values",
                    &m.column,
                    format!(
                        "{frozen} of {eligible} accounts with ≥ {} snapshots have the same value in every one: a feed that stopped updating?",
                        params.stale_snapshots
                    ),
                );
            }
        }
    }

    // ---- impact and outcome
    let mut impact = Vec::new();
    let mut churn_by_date = Vec::new();
    if let Some(o) = y {
        let events = o.iter().filter(|&&v| v == 1).count();
        if params.impact {
            use rayon::prelude::*;
            // One metric's sub-scores at a time (all of them at once are a gigabyte at 10 M
            // rows × 13 metrics); a metric whose sub-scores cannot be computed is left out.
            let mine: Vec<Impact> = profile
                .metrics
                .par_iter()
                .enumerate()
                .filter_map(|(mi, m)| {
                    let col = SubScores::column(m, data).ok()?;
                    let raw: &[f64] = match data.metric(&m.column) {
                        Some(MetricColumn::Numeric(v)) => v,
                        _ => &col,
                    };
                    let missing = raw.iter().filter(|x| x.is_nan()).count();
                    let (risk, yy): (Vec<f64>, Vec<u8>) = col
                        .iter()
                        .zip(o)
                        .filter(|(c, _)| !c.is_nan())
                        .map(|(&c, &y)| (-c, y))
                        .unzip();
                    let ev = yy.iter().filter(|&&v| v == 1).count();
                    let (auc, ci) = if ev > 0 && ev < yy.len() {
                        vs::auc_ci(&risk, &yy)
                    } else {
                        (f64::NAN, [f64::NAN; 2])
                    };
                    drop((risk, yy));
                    let ivc = information_value_ci(raw, o, 200, 42 + mi as u64);
                    Some(Impact {
                        metric: m.name.clone(),
                        column: m.column.clone(),
                        auc,
                        auc_ci: ci,
                        iv: ivc.0,
                        iv_ci: ivc.1,
                        missing: missing as f64 / n as f64,
                        in_profile: true,
                        levels: levels(raw),
                    })
                })
                .collect();
            impact.extend(mine);
        }
        for (name, v) in extra.iter().filter(|_| params.impact) {
            let rows: Vec<usize> = (0..n).filter(|&i| !v[i].is_nan()).collect();
            let risk: Vec<f64> = rows.iter().map(|&i| v[i]).collect();
            let yy: Vec<u8> = rows.iter().map(|&i| o[i]).collect();
            let ev = yy.iter().filter(|&&v| v == 1).count();
            let (auc, ci) = if ev > 0 && ev < yy.len() {
                let (a, c) = vs::auc_ci(&risk, &yy);
                if a >= 0.5 {
                    (a, c)
                } else {
                    (1.0 - a, [1.0 - c[1], 1.0 - c[0]])
                }
            } else {
                (f64::NAN, [f64::NAN; 2])
            };
            let ivc = information_value_ci(v, o, 200, 4242);
            impact.push(Impact {
                metric: name.clone(),
                column: name.clone(),
                auc,
                auc_ci: ci,
                iv: ivc.0,
                iv_ci: ivc.1,
                missing: (n - rows.len()) as f64 / n as f64,
                in_profile: false,
                levels: levels(v),
            });
        }
        for im in &impact {
            if im.auc > 0.95 || (im.levels <= 3 && im.auc >= 0.75) {
                add(
                    "outcome",
                    Severity::Warn,
                    "suspected leakage",
                    &im.column,
                    format!(
                        "AUC {:.3}, information value {:.2}{}: a signal this strong usually means the column is recorded after the outcome or encodes it",
                        im.auc,
                        im.iv,
                        if im.levels <= 3 {
                            format!(" from a column with only {} values (a status or flag)", im.levels)
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            if !im.in_profile {
                continue;
            }
            if im.auc_ci[1] < 0.5 {
                add(
                    "impact",
                    Severity::Warn,
                    "against the profile's direction",
                    &im.column,
                    format!(
                        "AUC {:.3} (95 % CI {:.3}–{:.3}) in the profile's direction: churners look healthier on this metric",
                        im.auc, im.auc_ci[0], im.auc_ci[1]
                    ),
                );
            } else if im.auc_ci[0] <= 0.5 {
                add(
                    "impact",
                    Severity::Info,
                    "no signal",
                    &im.column,
                    format!(
                        "AUC {:.3} (95 % CI {:.3}–{:.3}): no evidence it separates churners",
                        im.auc, im.auc_ci[0], im.auc_ci[1]
                    ),
                );
            }
        }
        // events per parameter
        let k = profile.metrics.len().max(1);
        let epv = events as f64 / k as f64;
        if epv < 10.0 {
            add(
                "outcome",
                if epv < 5.0 {
                    Severity::Error
                } else {
                    Severity::Warn
                },
                "events per parameter",
                "",
                format!("{events} churn events for {k} weights: {epv:.1} per weight (below 5 calibration refuses, below 10 it is noisy)"),
            );
        }
        // churn rate per date, and labels cut off at the end of the window
        if let Some(dates) = &data.date {
            let mut by: FxHashMap<Day, (usize, usize)> = FxHashMap::default();
            for (i, &d) in dates.iter().enumerate() {
                let e = by.entry(d).or_default();
                e.0 += 1;
                e.1 += o[i] as usize;
            }
            let mut v: Vec<(Day, (usize, usize))> = by.into_iter().collect();
            v.sort_by_key(|x| x.0);
            let rates: Vec<f64> = v.iter().map(|x| x.1 .1 as f64 / x.1 .0 as f64).collect();
            if rates.len() >= 4 {
                let mut earlier: Vec<f64> = rates[..rates.len() - 1].to_vec();
                earlier.sort_by(f64::total_cmp);
                let median = stats::quantile(&earlier, 0.5);
                let cut: Vec<String> = v
                    .iter()
                    .zip(&rates)
                    .rev()
                    .take_while(|(_, &r)| r < 0.25 * median)
                    .map(|(x, _)| parse::format_day(x.0))
                    .collect();
                if !cut.is_empty() && median > 0.0 {
                    add(
                        "outcome",
                        Severity::Warn,
                        "labels cut off",
                        data.outcome_source.as_deref().unwrap_or("outcome"),
                        format!(
                            "the last dates ({}) churn at under a quarter of the earlier median rate ({:.2} %): their outcomes are probably not known yet; leave them out or label them with --horizon, which right-censors",
                            cut.into_iter().rev().collect::<Vec<_>>().join(", "),
                            100.0 * median
                        ),
                    );
                }
            }
            churn_by_date = v
                .into_iter()
                .map(|(d, (rows, ch))| (parse::format_day(d), rows, ch))
                .collect();
            // leakage: snapshots on or after their churn date with a given outcome column
            if let Some(c) = &data.churn_date {
                let after = (0..n)
                    .filter(|&i| c[i] != NO_DAY && dates[i] >= c[i])
                    .count();
                if after > 0 {
                    add(
                        "outcome",
                        Severity::Error,
                        "snapshots after churn",
                        "churn date",
                        format!("{after} snapshots are dated on or after their account's churn date: their metrics already show the churn (leakage)"),
                    );
                }
            }
        }
    }
    if data.notes.after_churn > 0 {
        add(
            "outcome",
            Severity::Info,
            "snapshots after churn",
            "churn date",
            format!(
                "{} snapshots on or after the churn date were dropped while deriving labels",
                data.notes.after_churn
            ),
        );
    }

    // ---- integration: missing values, per segment, redundancy
    let numeric: Vec<(&str, &Vec<f64>)> = profile
        .metrics
        .iter()
        .filter_map(|m| match data.metric(&m.column) {
            Some(MetricColumn::Numeric(v)) => Some((m.column.as_str(), v)),
            _ => None,
        })
        .collect();
    // Each metric column once, in profile order; their missing values counted in parallel
    // (per segment label only for a column with any).
    let mut once: Vec<&crate::profile::Metric> = Vec::new();
    for m in &profile.metrics {
        if !once.iter().any(|o| o.column == m.column) {
            once.push(m);
        }
    }
    let missing: Vec<Option<MissingCounts>> = {
        use rayon::prelude::*;
        once.par_iter()
            .map(|m| {
                let c = data.metric(&m.column)?;
                let miss = (0..n).filter(|&i| c.is_missing(i)).count();
                // (rows, missing) per label of each segment
                let per_segment = if miss == 0 {
                    Vec::new()
                } else {
                    data.segments
                        .iter()
                        .map(|seg| {
                            let mut per = vec![(0, 0); seg.labels.len()];
                            for i in 0..n {
                                let p: &mut (usize, usize) = &mut per[seg.codes[i] as usize];
                                p.0 += 1;
                                p.1 += usize::from(c.is_missing(i));
                            }
                            per
                        })
                        .collect()
                };
                Some((miss, per_segment))
            })
            .collect()
    };
    for (m, counts) in once.iter().zip(&missing) {
        let Some((miss, per_segment)) = counts else {
            continue;
        };
        let miss = *miss;
        if miss > 0 {
            let share = miss as f64 / n as f64;
            // A profile that redistributes a metric's weight expects it to be missing often.
            let expected = m.missing == crate::profile::Missing::Redistribute;
            add(
                "integration",
                if share > 0.5 && !expected {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                "missing values",
                &m.column,
                format!(
                    "{miss} missing values ({:.1} %); the profile's missing policy ({:?}) applies",
                    100.0 * share,
                    m.missing
                ),
            );
            for (seg, per) in data.segments.iter().zip(per_segment) {
                for (l, &(rows, mi)) in per.iter().enumerate() {
                    let s = mi as f64 / rows.max(1) as f64;
                    if rows >= 30 && s > 0.2 && s > 2.0 * share {
                        add(
                            "integration",
                            Severity::Warn,
                            "missing by segment",
                            &m.column,
                            format!(
                                "{:.1} % missing where {} = {} against {:.1} % overall: the feed may not cover that segment",
                                100.0 * s,
                                seg.name,
                                seg.labels[l],
                                100.0 * share
                            ),
                        );
                    }
                }
            }
        }
    }
    let k = numeric.len();
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let r_of: Vec<f64> = {
        use rayon::prelude::*;
        pairs
            .par_iter()
            .map(|&(a, b)| pearson(numeric[a].1, numeric[b].1))
            .collect()
    };
    let r_at = |a: usize, b: usize| -> f64 {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        r_of[pairs.iter().position(|&p| p == (a, b)).expect("pair")]
    };
    let mut correlated = Vec::new();
    for a in 0..numeric.len() {
        for b in a + 1..numeric.len() {
            let r = r_at(a, b);
            if r.abs() > 0.9 {
                correlated.push((numeric[a].0.to_string(), numeric[b].0.to_string(), r));
                add(
                    "integration",
                    Severity::Warn,
                    "redundant metrics",
                    &format!("{} ~ {}", numeric[a].0, numeric[b].0),
                    format!("correlation {r:.3}: the two metrics count the same thing twice, and their weights cannot be told apart"),
                );
            }
        }
    }
    let mut vif = Vec::new();
    if numeric.len() >= 2 {
        let corr: Vec<Vec<f64>> = (0..numeric.len())
            .map(|a| {
                (0..numeric.len())
                    .map(|b| {
                        if a == b {
                            1.0
                        } else {
                            let r = r_at(a, b);
                            if r.is_nan() {
                                0.0
                            } else {
                                r
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        let inverse = invert(&corr);
        if inverse.is_none() {
            add(
                "integration",
                Severity::Warn,
                "collinearity",
                "",
                "the numeric metrics are exactly collinear (their correlation matrix is singular): some metric is a linear function of others".into(),
            );
        }
        if let Some(inv) = inverse {
            for (a, (name, _)) in numeric.iter().enumerate() {
                let v = inv[a][a];
                vif.push((name.to_string(), v));
                if v > 10.0 {
                    add(
                        "integration",
                        Severity::Warn,
                        "collinearity",
                        name,
                        format!("variance inflation factor {v:.1}: the other metrics predict it almost entirely"),
                    );
                }
            }
        }
    }

    f.sort_by_key(|x| (x.severity, x.criterion));
    Audit {
        source: data.source.clone(),
        rows: n,
        accounts: data.n_accounts,
        as_of: parse::format_day(params.as_of),
        findings: f,
        impact,
        churn_by_date,
        correlated,
        vif,
    }
}

/// Distinct present values, counted up to 1000.
fn levels(v: &[f64]) -> usize {
    let mut seen: rustc_hash::FxHashSet<u64> = rustc_hash::FxHashSet::default();
    for x in v.iter().filter(|x| !x.is_nan()) {
        seen.insert(x.to_bits());
        if seen.len() >= 1000 {
            break;
        }
    }
    seen.len()
}

/// Row indices in (account, date) order.
fn account_date_order(data: &Snapshots) -> Vec<u32> {
    crate::data::order::all_by_account_date(
        data.rows,
        &data.account,
        data.n_accounts,
        data.date.as_deref(),
    )
}

/// Runs of one account in an (account, date) order.
fn runs<'a>(order: &'a [u32], account: &'a [u32]) -> impl Iterator<Item = &'a [u32]> {
    order.chunk_by(move |&a, &b| account[a as usize] == account[b as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    use crate::analysis::testdata;
    use crate::data::{MetricColumn, Segment};
    use crate::profile::io::{parse_profile, ProfileFormat};

    fn profile(metrics: &[(&str, &str, &str)]) -> Profile {
        // (column, transform, missing)
        let mut t = String::from(
            "name = \"t\"\nformat = 1\n[[tiers]]\nname = \"good\"\nmin = 50\n[[tiers]]\nname = \"bad\"\nmin = 0\n",
        );
        for (c, tr, miss) in metrics {
            t.push_str(&format!(
                "[[metrics]]\nname = \"{c}\"\ncolumn = \"{c}\"\nweight = 1\ndirection = \"higher-is-better\"\ntransform = {tr}\nmissing = \"{miss}\"\n"
            ));
        }
        parse_profile(&t, ProfileFormat::Toml).unwrap()
    }

    const LIN: &str = "{ kind = \"linear\", lo = 0, hi = 100 }";

    /// 400 accounts × 4 quarterly dates; churn 10 % at every date, driven by `good`
    /// (healthier = higher), plus a noise metric. Clean: no warning or error.
    fn clean() -> (Profile, Snapshots) {
        let mut rows = Vec::new();
        let mut good = Vec::new();
        let mut noise = Vec::new();
        for a in 0..400u32 {
            for q in 0..4 {
                let g = ((a * 37 + q * 11) % 100) as f64;
                let churn = u8::from(g < 20.0 && (a + q) % 2 == 0);
                rows.push((a, 19_000 + 91 * q as i32, churn));
                good.push(g + 0.1 * q as f64);
                noise.push(((a * 53 + q * 7) % 97) as f64);
            }
        }
        let mut d = testdata::snapshots(&rows);
        d.metrics = vec![
            ("good".into(), MetricColumn::Numeric(good)),
            ("noise".into(), MetricColumn::Numeric(noise)),
        ];
        let p = profile(&[("good", LIN, "neutral"), ("noise", LIN, "neutral")]);
        (p, d)
    }

    fn params() -> AuditParams {
        AuditParams {
            impact: true,
            as_of: 19_000 + 91 * 3 + 30,
            stale_days: 120,
            stale_snapshots: 4,
        }
    }

    fn checks(a: &Audit, sev: Severity) -> Vec<&'static str> {
        a.findings
            .iter()
            .filter(|f| f.severity == sev)
            .map(|f| f.check)
            .collect()
    }

    fn numeric<'a>(d: &'a mut Snapshots, col: &str) -> &'a mut Vec<f64> {
        match d.metrics.iter_mut().find(|m| m.0 == col).map(|m| &mut m.1) {
            Some(MetricColumn::Numeric(v)) => v,
            _ => panic!("no numeric {col}"),
        }
    }

    #[test]
    fn clean_data_raises_nothing() {
        let (p, d) = clean();
        let a = audit(&p, &d, &[], &params());
        assert!(checks(&a, Severity::Error).is_empty(), "{:?}", a.findings);
        assert!(checks(&a, Severity::Warn).is_empty(), "{:?}", a.findings);
        assert_eq!(a.churn_by_date.len(), 4);
        // the metric that drives churn has signal; noise has none
        assert!(a.impact[0].auc > 0.8);
        assert!(checks(&a, Severity::Info).contains(&"no signal"));
    }

    #[test]
    fn accuracy_checks_fire() {
        let (_, mut d) = clean();
        let p = profile(&[
            ("good", LIN, "neutral"),
            ("noise", LIN, "neutral"),
            (
                "nps",
                "{ kind = \"linear\", lo = -100, hi = 100 }",
                "neutral",
            ),
            ("adoption_pct", LIN, "neutral"),
            ("flat", LIN, "neutral"),
        ]);
        let n = d.rows;
        let mut nps = vec![10.0; n];
        nps[0] = 150.0;
        let mut pct = vec![50.0; n];
        pct[1] = 130.0;
        pct[2] = -5.0;
        pct[3] = f64::NAN;
        d.metrics.push(("nps".into(), MetricColumn::Numeric(nps)));
        d.metrics
            .push(("adoption_pct".into(), MetricColumn::Numeric(pct)));
        d.metrics
            .push(("flat".into(), MetricColumn::Numeric(vec![7.0; n])));
        // a future date and a repeated row
        d.date.as_mut().unwrap()[5] = 30_000;
        let (g, q) = (numeric(&mut d, "good")[4], numeric(&mut d, "noise")[4]);
        numeric(&mut d, "good")[6] = g;
        numeric(&mut d, "noise")[6] = q;
        d.account[6] = d.account[4];
        d.date.as_mut().unwrap()[6] = d.date.as_ref().unwrap()[4];
        d.outcome.as_mut().unwrap()[6] = d.outcome.as_ref().unwrap()[4];
        let a = audit(&p, &d, &[], &params());
        let errors = checks(&a, Severity::Error);
        let warns = checks(&a, Severity::Warn);
        assert!(errors.contains(&"physical range"), "{errors:?}"); // NPS 150
        assert!(errors.contains(&"future dates"));
        assert!(warns.contains(&"constant column"));
        assert!(warns.contains(&"duplicate rows"), "{warns:?}");
        let pct_msgs: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.subject == "adoption_pct")
            .map(|f| f.message.as_str())
            .collect();
        assert!(
            pct_msgs.iter().any(|m| m.contains("above 100")),
            "{pct_msgs:?}"
        );
        assert!(pct_msgs.iter().any(|m| m.contains("negative")));
        assert!(checks(&a, Severity::Info).contains(&"transform range"));
    }

    #[test]
    fn currency_checks_fire() {
        let (p, mut d) = clean();
        // old data
        let mut old = params();
        old.as_of += 400;
        assert!(checks(&audit(&p, &d, &[], &old), Severity::Warn).contains(&"data age"));
        // account 0 stops after its first snapshot (no churn): stale, and frozen values
        // for `good` in every account
        for q in 1..4 {
            d.date.as_mut().unwrap()[q] = 19_000;
            d.account[q] = 0;
        }
        d.date.as_mut().unwrap()[1] = 18_000;
        d.date.as_mut().unwrap()[2] = 18_100;
        d.date.as_mut().unwrap()[3] = 18_200;
        for o in &mut d.outcome.as_mut().unwrap()[..4] {
            *o = 0;
        }
        let g = numeric(&mut d, "good");
        for a in 0..400 {
            let v = g[a * 4];
            for q in 0..4 {
                g[a * 4 + q] = v;
            }
        }
        let a = audit(&p, &d, &[], &params());
        let warns = checks(&a, Severity::Warn);
        assert!(warns.contains(&"stale accounts"), "{warns:?}");
        assert!(warns.contains(&"frozen values"));
    }

    #[test]
    fn impact_and_outcome_checks_fire() {
        let (p, mut d) = clean();
        // direction reversed: churners score higher on `noise`
        let y = d.outcome.clone().unwrap();
        let noise = numeric(&mut d, "noise");
        for (v, &yy) in noise.iter_mut().zip(&y) {
            *v += 60.0 * yy as f64;
        }
        // a leaked flag, and a copy of the outcome
        let flag: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if i % 10 == 0 {
                    1.0 - v as f64
                } else {
                    v as f64
                }
            })
            .collect();
        let copy: Vec<f64> = y.iter().map(|&v| 3.0 * v as f64).collect();
        // labels cut off: the last date has no churn
        let dates = d.date.clone().unwrap();
        let last = *dates.iter().max().unwrap();
        for (o, &dd) in d.outcome.as_mut().unwrap().iter_mut().zip(&dates) {
            if dd == last {
                *o = 0;
            }
        }
        // a snapshot on its account's churn date
        let mut churn = vec![NO_DAY; d.rows];
        churn[8] = dates[8];
        d.churn_date = Some(churn);
        let a = audit(
            &p,
            &d,
            &[("status".into(), flag), ("copy".into(), copy)],
            &params(),
        );
        let warns = checks(&a, Severity::Warn);
        assert!(
            warns.contains(&"against the profile's direction"),
            "{warns:?}"
        );
        assert!(warns.contains(&"labels cut off"));
        let leaks: Vec<&str> = a
            .findings
            .iter()
            .filter(|f| f.check == "suspected leakage")
            .map(|f| f.subject.as_str())
            .collect();
        assert!(
            leaks.contains(&"status") && leaks.contains(&"copy"),
            "{leaks:?}"
        );
        assert!(checks(&a, Severity::Error).contains(&"snapshots after churn"));
        // events per parameter: three churn events for two metrics
        let (p2, mut d2) = clean();
        for (i, o) in d2.outcome.as_mut().unwrap().iter_mut().enumerate() {
            *o = u8::from(i < 3);
        }
        assert!(checks(&audit(&p2, &d2, &[], &params()), Severity::Error)
            .contains(&"events per parameter"));
    }

    #[test]
    fn integration_checks_fire() {
        let (_, mut d) = clean();
        let p = profile(&[
            ("good", LIN, "neutral"),
            ("noise", LIN, "neutral"),
            ("twin", LIN, "neutral"),
            ("sparse", LIN, "neutral"),
        ]);
        let twin: Vec<f64> = numeric(&mut d, "good")
            .iter()
            .map(|v| v * 2.0 + 1.0)
            .collect();
        let sparse: Vec<f64> = (0..d.rows)
            .map(|i| {
                if i % 10 < 7 {
                    f64::NAN
                } else {
                    5.0 + (i % 7) as f64
                }
            })
            .collect();
        d.metrics.push(("twin".into(), MetricColumn::Numeric(twin)));
        d.metrics
            .push(("sparse".into(), MetricColumn::Numeric(sparse)));
        // a segment where `noise` is mostly missing
        let codes: Vec<u32> = (0..d.rows).map(|i| u32::from(i % 4 == 0)).collect();
        for (i, v) in numeric(&mut d, "noise").iter_mut().enumerate() {
            if i % 4 == 0 && i % 8 != 0 {
                *v = f64::NAN;
            }
        }
        d.segments.push(Segment {
            name: "region".into(),
            codes,
            labels: vec!["EU".into(), "US".into()],
        });
        // a gap: account 1 misses its second date
        d.date.as_mut().unwrap()[5] = d.date.as_ref().unwrap()[6];
        d.date.as_mut().unwrap()[6] = d.date.as_ref().unwrap()[7] + 91;
        let a = audit(&p, &d, &[], &params());
        let warns = checks(&a, Severity::Warn);
        assert!(warns.contains(&"redundant metrics"), "{warns:?}");
        assert!(warns.contains(&"collinearity"));
        assert!(warns.contains(&"missing values")); // sparse: 70 % under "neutral"
        assert!(warns.contains(&"missing by segment"));
        assert!(checks(&a, Severity::Info).contains(&"gaps"));
        assert_eq!(a.correlated.len(), 1);
    }

    #[test]
    fn inverse_and_vif_by_hand() {
        // correlation 0.9 between two variables: VIF = 1 / (1 − 0.81) = 5.263…
        let inv = invert(&[vec![1.0, 0.9], vec![0.9, 1.0]]).unwrap();
        assert_relative_eq!(inv[0][0], 1.0 / 0.19, epsilon = 1e-12);
        assert!(invert(&[vec![1.0, 1.0], vec![1.0, 1.0]]).is_none());
    }

    #[test]
    fn iv_is_zero_without_signal_and_large_for_a_copy_of_the_outcome() {
        let y: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
        let flat: Vec<f64> = (0..1000).map(|i| (i / 10) as f64).collect();
        assert!(information_value(&flat, &y) < 0.01);
        let copy: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        assert!(information_value(&copy, &y) > 2.0);
        // a rare flag (5 % of rows) keeps its own bin
        let flag: Vec<f64> = (0..1000)
            .map(|i| f64::from(u8::from(i % 20 == 0)))
            .collect();
        assert!(information_value(&flag, &y) > 0.5);
        // the interval covers the estimate, is reproducible, and excludes 0 for a real signal
        let signal: Vec<f64> = (0..1000)
            .map(|i| {
                if y[i] == 1 {
                    (i % 7) as f64
                } else {
                    (i % 13) as f64 + 3.0
                }
            })
            .collect();
        let (iv, ci) = information_value_ci(&signal, &y, 200, 1);
        assert!(ci[0] < iv && iv < ci[1] && ci[0] > 0.0, "{iv} {ci:?}");
        assert_eq!(information_value_ci(&signal, &y, 200, 1), (iv, ci));
        assert_relative_eq!(pearson(&flat, &flat), 1.0, epsilon = 1e-12);
    }
}
