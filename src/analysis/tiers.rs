//! The tier-vs-churn table: churn per tier and per fixed score band with Wilson intervals,
//! share of churners captured, lift, revenue-weighted churn, the mean score of churned and
//! retained accounts, a monotonicity check, and the score trend per snapshot date. Also
//! tier cut-offs fitted from data.

use serde::Serialize;

use super::{count_groups, distinct_accounts, unit_rows, ChurnCount, Unit};
use crate::data::{parse, Snapshots};
use crate::profile::{Profile, Tier};
use crate::score::Scored;
use crate::stats;
use crate::stats::quantile_sorted;

/// The HBR study's bands: ≤ 30, between, ≥ 50.
pub const DEFAULT_BANDS: [f64; 2] = [30.0, 50.0];

/// One row of a churn table over score groups (a tier or a band).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    /// Tier name or band label.
    pub label: String,
    /// Lowest score in the group (inclusive unless the label says otherwise).
    pub from: f64,
    /// Highest score in the group.
    pub to: f64,
    /// Chart colour.
    pub color: String,
    /// Counts, rate, interval, share of churners, lift, ARR.
    #[serde(flatten)]
    pub count: ChurnCount,
    /// All scored snapshots in the group (whatever the unit).
    pub snapshots: usize,
    /// Mean score of the counted rows.
    pub mean_score: f64,
    /// Mean predicted churn probability, when the profile carries a calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<f64>,
}

/// One adjacent comparison of the monotonicity check: does the worse group churn more?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The better group (higher scores).
    pub better: String,
    /// The worse group.
    pub worse: String,
    /// Two-proportion z of `rate(worse) − rate(better)` (pooled standard error).
    pub z: f64,
    /// One-sided p-value of "the worse group churns more".
    pub p: f64,
    /// Whether the worse group's rate is strictly higher.
    pub increases: bool,
}

/// Whether churn rises strictly from each group to the next worse one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monotonicity {
    /// Every step increases (empty groups are skipped).
    pub monotone: bool,
    /// Adjacent comparisons, best group first.
    pub steps: Vec<Step>,
}

/// Mean score and tier mix of one snapshot date (or month).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendRow {
    /// `YYYY-MM-DD`, or `YYYY-MM` when the data has too many dates to list.
    pub period: String,
    /// Scored snapshots.
    pub snapshots: usize,
    /// Mean score.
    pub mean_score: f64,
    /// Share of the snapshots in each tier, best first.
    pub tier_share: Vec<f64>,
    /// Churned snapshots.
    pub churned: usize,
    /// Snapshot churn rate.
    pub rate: f64,
}

/// The whole tier report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierReport {
    /// What a counted row is.
    pub unit: Unit,
    /// Counted rows.
    pub units: usize,
    /// Distinct accounts among them.
    pub accounts: usize,
    /// Churned rows.
    pub churned: usize,
    /// Overall churn rate and its Wilson interval.
    pub overall_rate: f64,
    /// Wilson 95 % interval of the overall rate.
    pub overall_ci: [f64; 2],
    /// Counted rows with no score (no metric present), left out of every group.
    pub unscored: usize,
    /// One row per tier, best first.
    pub tiers: Vec<GroupRow>,
    /// Monotonicity across tiers.
    pub tier_check: Monotonicity,
    /// One row per fixed score band, best first.
    pub bands: Vec<GroupRow>,
    /// Monotonicity across bands.
    pub band_check: Monotonicity,
    /// Mean score of churned rows.
    pub mean_score_churned: f64,
    /// Mean score of retained rows.
    pub mean_score_retained: f64,
    /// Retained over churned mean score.
    pub score_ratio: f64,
    /// Tier names, best first (for the trend's shares).
    pub tier_names: Vec<String>,
    /// Mean score and tier mix per snapshot date.
    pub trend: Vec<TrendRow>,
}

/// Band labels and bounds from ascending cut points: `≤ c1`, `c1–c2`, `c2–c3`, …, `≥ cm`;
/// returned best (highest) first as `(label, from, to)`. A score on a cut point belongs to
/// the band above it, except on `c1`, which belongs to `≤ c1` (as in the HBR study's
/// ≤ 30 / 31–49 / ≥ 50).
pub fn band_bounds(cuts: &[f64]) -> Vec<(String, f64, f64)> {
    let m = cuts.len();
    let fmt = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    };
    let mut out = Vec::with_capacity(m + 1);
    if m == 0 {
        return vec![("all".into(), 0.0, 100.0)];
    }
    out.push((format!("≤ {}", fmt(cuts[0])), 0.0, cuts[0]));
    for i in 1..m {
        let label = format!("{}–{}", fmt(cuts[i - 1]), fmt(cuts[i]));
        out.push((label, cuts[i - 1], cuts[i]));
    }
    out.push((format!("≥ {}", fmt(cuts[m - 1])), cuts[m - 1], 100.0));
    out.reverse();
    out
}

/// Band index (best first) of a score for ascending `cuts`, as [`band_bounds`] labels them.
fn band_of(s: f64, cuts: &[f64]) -> u32 {
    let m = cuts.len();
    // position from the bottom: 0 = ≤ c1
    let pos = if s <= cuts[0] {
        0
    } else {
        // first i ≥ 1 with s < c_i, else m
        (1..m).find(|&i| s < cuts[i]).unwrap_or(m)
    };
    (m - pos) as u32
}

/// Check ascending band cut points.
pub fn check_bands(cuts: &[f64]) -> Result<(), String> {
    if cuts.is_empty() {
        return Err("score bands need at least one cut point, e.g. 30,50".into());
    }
    for w in cuts.windows(2) {
        if w[0] >= w[1] {
            return Err(format!(
                "score band cut points must be strictly increasing: {} then {}",
                w[0], w[1]
            ));
        }
    }
    if cuts.iter().any(|c| !(0.0..=100.0).contains(c)) {
        return Err("score band cut points must lie in 0–100".into());
    }
    Ok(())
}

pub(crate) fn monotonicity(rows: &[GroupRow]) -> Monotonicity {
    let present: Vec<&GroupRow> = rows.iter().filter(|r| r.count.units > 0).collect();
    let steps: Vec<Step> = present
        .windows(2)
        .map(|w| {
            let (b, v) = (&w[0].count, &w[1].count);
            let (z, p) = stats::two_proportion_z(v.churned, v.units, b.churned, b.units);
            Step {
                better: w[0].label.clone(),
                worse: w[1].label.clone(),
                z,
                p,
                increases: v.rate > b.rate,
            }
        })
        .collect();
    Monotonicity {
        monotone: steps.iter().all(|s| s.increases),
        steps,
    }
}

fn group_rows(
    data: &Snapshots,
    scored: &Scored,
    rows: &[u32],
    group_of: impl Fn(usize) -> u32 + Sync,
    labels: Vec<(String, f64, f64, String)>,
) -> Vec<GroupRow> {
    let k = labels.len();
    let group: Vec<u32> = rows.iter().map(|&r| group_of(r as usize)).collect();
    let counts = count_groups(data, rows, &group, k);
    let mut sum = vec![0f64; k];
    let mut prob = vec![0f64; k];
    for (&r, &g) in rows.iter().zip(&group) {
        if g != u32::MAX {
            sum[g as usize] += scored.score[r as usize];
            if let Some(p) = &scored.probability {
                prob[g as usize] += p[r as usize];
            }
        }
    }
    let mut snapshots = vec![0usize; k];
    for i in 0..data.rows {
        let g = group_of(i);
        if g != u32::MAX {
            snapshots[g as usize] += 1;
        }
    }
    labels
        .into_iter()
        .zip(counts)
        .enumerate()
        .map(|(g, ((label, from, to, color), count))| {
            let n = count.units as f64;
            GroupRow {
                label,
                from,
                to,
                color,
                snapshots: snapshots[g],
                mean_score: if n > 0.0 { sum[g] / n } else { f64::NAN },
                predicted: scored.probability.as_ref().map(|_| {
                    if n > 0.0 {
                        prob[g] / n
                    } else {
                        f64::NAN
                    }
                }),
                count,
            }
        })
        .collect()
}

/// Band colours, best first: green to red.
pub(crate) fn band_colors(n: usize) -> Vec<String> {
    const RAMP: [&str; 5] = ["#2e7d32", "#9e9d24", "#f9a825", "#ef6c00", "#c62828"];
    (0..n)
        .map(|i| {
            let pos = if n <= 1 { 0 } else { i * 4 / (n - 1) };
            RAMP[pos].to_string()
        })
        .collect()
}

/// The tier report of a scored population. Needs the outcome.
pub fn tier_report(data: &Snapshots, scored: &Scored, unit: Unit, bands: &[f64]) -> TierReport {
    let outcome = data.outcome.as_deref().expect("tiers need the outcome");
    let all_rows = unit_rows(data, unit);
    let unscored = all_rows
        .iter()
        .filter(|&&r| scored.tier[r as usize] == u8::MAX)
        .count();
    let rows: Vec<u32> = all_rows
        .into_iter()
        .filter(|&r| scored.tier[r as usize] != u8::MAX)
        .collect();
    let churned = rows.iter().filter(|&&r| outcome[r as usize] == 1).count();
    let units = rows.len();
    let overall_rate = churned as f64 / units as f64;
    let (lo, hi) = stats::wilson(churned, units);

    let k = scored.tier_names.len();
    let tier_labels: Vec<(String, f64, f64, String)> = (0..k)
        .map(|t| {
            let to = if t == 0 {
                100.0
            } else {
                scored.tier_mins[t - 1]
            };
            (
                scored.tier_names[t].clone(),
                scored.tier_mins[t],
                to,
                scored.tier_colors[t].clone(),
            )
        })
        .collect();
    // The tiers, the bands, the means and the trend are each a pass over the rows.
    let tier_rows = || {
        group_rows(
            data,
            scored,
            &rows,
            |i| match scored.tier[i] {
                u8::MAX => u32::MAX,
                t => t as u32,
            },
            tier_labels,
        )
    };
    let band_rows = || {
        let bb = band_bounds(bands);
        let colors = band_colors(bb.len());
        let band_labels = bb
            .into_iter()
            .zip(colors)
            .map(|((l, f, t), c)| (l, f, t, c))
            .collect();
        group_rows(
            data,
            scored,
            &rows,
            |i| {
                let s = scored.score[i];
                if s.is_nan() {
                    u32::MAX
                } else {
                    band_of(s, bands)
                }
            },
            band_labels,
        )
    };
    let means = || {
        let (mut sc, mut nc, mut sr, mut nr) = (0f64, 0usize, 0f64, 0usize);
        for &r in &rows {
            let s = scored.score[r as usize];
            if outcome[r as usize] == 1 {
                sc += s;
                nc += 1;
            } else {
                sr += s;
                nr += 1;
            }
        }
        (
            sc / nc as f64,
            sr / nr as f64,
            distinct_accounts(data, &rows),
        )
    };
    let ((tiers, band_rows), ((mean_c, mean_r, accounts), trend)) = rayon::join(
        || rayon::join(tier_rows, band_rows),
        || rayon::join(means, || trend(data, scored)),
    );

    TierReport {
        unit,
        units,
        accounts,
        churned,
        overall_rate,
        overall_ci: [lo, hi],
        unscored,
        tier_check: monotonicity(&tiers),
        tiers,
        band_check: monotonicity(&band_rows),
        bands: band_rows,
        mean_score_churned: mean_c,
        mean_score_retained: mean_r,
        score_ratio: mean_r / mean_c,
        tier_names: scored.tier_names.clone(),
        trend,
    }
}

/// Most dates listed one by one in the trend; beyond that, months.
pub const TREND_MAX_DATES: usize = 60;

/// Mean score and tier mix per snapshot date (per month when there are more than
/// [`TREND_MAX_DATES`] dates). Empty without dates.
pub fn trend(data: &Snapshots, scored: &Scored) -> Vec<TrendRow> {
    let Some(dates) = data.date.as_ref() else {
        return Vec::new();
    };
    let distinct = crate::data::order::distinct_days(dates);
    let by_month = distinct.len() > TREND_MAX_DATES;
    let key = |d: i32| -> i32 {
        if by_month {
            let (y, m) = parse::year_month(d);
            y * 12 + (m as i32 - 1)
        } else {
            d
        }
    };
    let mut periods: Vec<i32> = distinct.iter().map(|&d| key(d)).collect();
    periods.dedup();
    let pos = |d: i32| {
        periods
            .binary_search(&key(d))
            .expect("period of a known date")
    };
    let k = scored.tier_names.len();
    let p = periods.len();
    let mut n = vec![0usize; p];
    let mut sum = vec![0f64; p];
    let mut tiers = vec![0usize; p * k];
    let mut churned = vec![0usize; p];
    // One date → period lookup per distinct date, not per row.
    let period_of = PeriodOf::new(&distinct, pos);
    for i in 0..data.rows {
        let t = scored.tier[i];
        if t == u8::MAX {
            continue;
        }
        let q = period_of.get(dates[i]);
        n[q] += 1;
        sum[q] += scored.score[i];
        tiers[q * k + t as usize] += 1;
        if let Some(o) = &data.outcome {
            churned[q] += o[i] as usize;
        }
    }
    (0..p)
        .map(|q| {
            let label = if by_month {
                let (y, m) = (periods[q].div_euclid(12), periods[q].rem_euclid(12) + 1);
                format!("{y:04}-{m:02}")
            } else {
                parse::format_day(periods[q])
            };
            let nn = n[q].max(1) as f64;
            TrendRow {
                period: label,
                snapshots: n[q],
                mean_score: if n[q] > 0 { sum[q] / nn } else { f64::NAN },
                tier_share: (0..k).map(|t| tiers[q * k + t] as f64 / nn).collect(),
                churned: churned[q],
                rate: if n[q] > 0 {
                    churned[q] as f64 / nn
                } else {
                    f64::NAN
                },
            }
        })
        .collect()
}

/// Each distinct date's period: in a table by day since the first date when they span
/// at most [`PeriodOf::TABLE_DAYS`] (any real calendar), in a hash map otherwise.
enum PeriodOf {
    Table { first: i32, period: Vec<u32> },
    Map(rustc_hash::FxHashMap<i32, u32>),
}

impl PeriodOf {
    const TABLE_DAYS: usize = 1 << 16;

    /// The periods of the `distinct` dates (ascending) by `pos`.
    fn new(distinct: &[i32], pos: impl Fn(i32) -> usize) -> Self {
        let (Some(&first), Some(&last)) = (distinct.first(), distinct.last()) else {
            return PeriodOf::Map(Default::default());
        };
        let span = last.abs_diff(first) as usize + 1;
        if span > Self::TABLE_DAYS {
            return PeriodOf::Map(distinct.iter().map(|&d| (d, pos(d) as u32)).collect());
        }
        let mut period = vec![0; span];
        for &d in distinct {
            period[d.abs_diff(first) as usize] = pos(d) as u32;
        }
        PeriodOf::Table { first, period }
    }

    /// The period of one of the distinct dates.
    #[inline]
    fn get(&self, d: i32) -> usize {
        (match self {
            PeriodOf::Table { first, period } => period[d.abs_diff(*first) as usize],
            PeriodOf::Map(m) => m[&d],
        }) as usize
    }
}

/// How to propose tier cut-offs from data.
#[derive(Debug, Clone, PartialEq)]
pub enum FitTiers {
    /// Quantiles of the score, one per cut-off (`quartiles` = 0.25, 0.5, 0.75).
    Quantiles(Vec<f64>),
    /// Whole-number cut-offs that keep churn strictly monotone across tiers, each tier with at
    /// least `min_share` of the counted rows, maximising the separation of churn between
    /// tiers (the likelihood of a churn rate per tier).
    Separation {
        /// Smallest share of the counted rows in a tier.
        min_share: f64,
    },
}

impl FitTiers {
    /// Parse `quartiles`, `quantiles=0.2,0.5,0.8` or `separation`.
    pub fn parse(s: &str) -> Result<FitTiers, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("quartiles") {
            return Ok(FitTiers::Quantiles(vec![0.25, 0.5, 0.75]));
        }
        if s.eq_ignore_ascii_case("separation") {
            return Ok(FitTiers::Separation { min_share: 0.05 });
        }
        if let Some(list) = s.strip_prefix("quantiles=") {
            let mut q = Vec::new();
            for part in list.split(',') {
                match part.trim().parse::<f64>() {
                    Ok(v) if v > 0.0 && v < 1.0 => q.push(v),
                    _ => {
                        return Err(format!(
                            "tier quantiles: '{part}' is not a number strictly between 0 and 1"
                        ))
                    }
                }
            }
            q.sort_by(f64::total_cmp);
            q.dedup();
            return Ok(FitTiers::Quantiles(q));
        }
        Err(format!(
            "tier fitting method '{s}': use quartiles, quantiles=Q1,Q2,… or separation"
        ))
    }

    /// Number of tiers the method gives, when it fixes it.
    pub fn tiers(&self) -> Option<usize> {
        match self {
            FitTiers::Quantiles(q) => Some(q.len() + 1),
            FitTiers::Separation { .. } => None,
        }
    }
}

/// Propose `k` tier minimums (best first, the last 0) from the counted rows' scores and
/// outcomes. Quantile cut-offs are rounded to one decimal; separation cut-offs are whole
/// numbers.
pub fn fit_cutoffs(
    method: &FitTiers,
    scores: &[f64],
    outcome: &[u8],
    k: usize,
) -> Result<Vec<f64>, String> {
    match method {
        FitTiers::Quantiles(q) => {
            if q.len() + 1 != k {
                return Err(format!(
                    "{} quantile cut-offs make {} tiers but the profile has {k}; give {} quantiles (quantiles=…)",
                    q.len(),
                    q.len() + 1,
                    k - 1
                ));
            }
            let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
            sorted.sort_by(f64::total_cmp);
            let mut mins: Vec<f64> = q
                .iter()
                .rev()
                .map(|&p| (quantile_sorted(&sorted, p) * 10.0).round() / 10.0)
                .collect();
            mins.push(0.0);
            Ok(mins)
        }
        FitTiers::Separation { min_share } => separation_cutoffs(scores, outcome, k, *min_share),
    }
}

/// Log-likelihood of `c` churned in `n` at their own rate (0 ln 0 = 0).
fn seg_ll(n: f64, c: f64) -> f64 {
    let mut ll = 0.0;
    if c > 0.0 {
        ll += c * (c / n).ln();
    }
    if n - c > 0.0 {
        ll += (n - c) * ((n - c) / n).ln();
    }
    ll
}

/// Dynamic programme over 100 one-point score buckets: `k` contiguous segments, each with at
/// least `min_share` of the rows, churn strictly falling as scores rise, maximising the
/// log-likelihood of one churn rate per segment.
fn separation_cutoffs(
    scores: &[f64],
    outcome: &[u8],
    k: usize,
    min_share: f64,
) -> Result<Vec<f64>, String> {
    const B: usize = 100;
    let mut n = [0f64; B + 1];
    let mut c = [0f64; B + 1];
    for (&s, &y) in scores.iter().zip(outcome) {
        if s.is_nan() {
            continue;
        }
        let b = (s.floor().max(0.0) as usize).min(B - 1);
        n[b + 1] += 1.0;
        c[b + 1] += y as f64;
    }
    for b in 1..=B {
        n[b] += n[b - 1];
        c[b] += c[b - 1];
    }
    let total = n[B];
    let min_n = (min_share * total).ceil().max(1.0);
    let seg = |i: usize, j: usize| (n[j] - n[i], c[j] - c[i]);
    let rate = |i: usize, j: usize| {
        let (nn, cc) = seg(i, j);
        cc / nn
    };
    let neg = f64::NEG_INFINITY;
    // best[t][i][j]: t+1 segments cover buckets [0, j), the last one [i, j).
    let idx = |i: usize, j: usize| i * (B + 1) + j;
    let mut best = vec![vec![neg; (B + 1) * (B + 1)]; k];
    let mut back = vec![vec![usize::MAX; (B + 1) * (B + 1)]; k];
    for j in 1..=B {
        let (nn, cc) = seg(0, j);
        if nn >= min_n {
            best[0][idx(0, j)] = seg_ll(nn, cc);
        }
    }
    for t in 1..k {
        for j in 1..B {
            for i in 0..j {
                let prev = best[t - 1][idx(i, j)];
                if prev == neg {
                    continue;
                }
                let r_prev = rate(i, j);
                for m in j + 1..=B {
                    let (nn, cc) = seg(j, m);
                    if nn < min_n || cc / nn >= r_prev {
                        continue;
                    }
                    let v = prev + seg_ll(nn, cc);
                    if v > best[t][idx(j, m)] {
                        best[t][idx(j, m)] = v;
                        back[t][idx(j, m)] = i;
                    }
                }
            }
        }
    }
    let last = (0..B)
        .filter(|&i| best[k - 1][idx(i, B)] > neg)
        .max_by(|&a, &b| best[k - 1][idx(a, B)].total_cmp(&best[k - 1][idx(b, B)]));
    let Some(mut i) = last else {
        return Err(format!(
            "no {k} tiers with at least {:.0} % of the rows each have churn rates that fall strictly as the score rises",
            100.0 * min_share
        ));
    };
    // Walk back: the segment starts are the cut-offs, lowest last.
    let mut starts = Vec::with_capacity(k);
    let mut j = B;
    for t in (0..k).rev() {
        starts.push(i as f64);
        let prev = back[t][idx(i, j)];
        j = i;
        i = prev;
    }
    // starts: best tier's start first, the last is 0
    Ok(starts)
}

/// A copy of `profile` whose tiers are the given minimums (best first), keeping names and
/// colours; quantile tiers become fixed ones.
pub fn with_cutoffs(profile: &Profile, mins: &[f64]) -> Profile {
    let names = profile.tier_names();
    let given: Vec<Option<String>> = match &profile.tiers_by_quantile {
        Some(q) => q.tiers.iter().map(|t| t.color.clone()).collect(),
        None => profile.tiers.iter().map(|t| t.color.clone()).collect(),
    };
    let mut p = profile.clone();
    p.tiers_by_quantile = None;
    p.tiers = names
        .into_iter()
        .zip(given)
        .zip(mins)
        .map(|((name, color), &min)| Tier { name, min, color })
        .collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_hbr_study() {
        let b = band_bounds(&DEFAULT_BANDS);
        let labels: Vec<&str> = b.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(labels, ["≥ 50", "30–50", "≤ 30"]);
        assert_eq!(band_of(30.0, &DEFAULT_BANDS), 2);
        assert_eq!(band_of(30.5, &DEFAULT_BANDS), 1);
        assert_eq!(band_of(49.99, &DEFAULT_BANDS), 1);
        assert_eq!(band_of(50.0, &DEFAULT_BANDS), 0);
        assert_eq!(band_of(0.0, &DEFAULT_BANDS), 2);
        let four = band_bounds(&[20.0, 40.0, 60.0]);
        assert_eq!(four[1].0, "40–60");
        assert_eq!(band_of(40.0, &[20.0, 40.0, 60.0]), 1);
        assert!(check_bands(&[50.0, 30.0]).is_err());
        assert!(check_bands(&[]).is_err());
    }

    #[test]
    fn fit_tiers_parses_methods() {
        assert_eq!(
            FitTiers::parse("quartiles").unwrap(),
            FitTiers::Quantiles(vec![0.25, 0.5, 0.75])
        );
        assert_eq!(
            FitTiers::parse("quantiles=0.8, 0.2").unwrap(),
            FitTiers::Quantiles(vec![0.2, 0.8])
        );
        assert!(FitTiers::parse("quantiles=0,0.5").is_err());
        assert!(FitTiers::parse("kmeans").is_err());
    }

    #[test]
    fn quantile_cutoffs_are_best_first() {
        let s: Vec<f64> = (0..=100).map(f64::from).collect();
        let y = vec![0u8; s.len()];
        let m = fit_cutoffs(&FitTiers::Quantiles(vec![0.25, 0.5, 0.75]), &s, &y, 4).unwrap();
        assert_eq!(m, vec![75.0, 50.0, 25.0, 0.0]);
        assert!(fit_cutoffs(&FitTiers::Quantiles(vec![0.5]), &s, &y, 4).is_err());
    }

    #[test]
    fn separation_finds_the_steps_of_a_step_function() {
        // churn 40 % below 20, 10 % in 20–60, 1 % from 60: three tiers, cut at 60 and 20.
        let mut s = Vec::new();
        let mut y = Vec::new();
        for v in 0..100 {
            let rate_per_100 = if v < 20 {
                40
            } else if v < 60 {
                10
            } else {
                1
            };
            for r in 0..100 {
                s.push(v as f64 + 0.5);
                y.push(u8::from(r < rate_per_100));
            }
        }
        let m = fit_cutoffs(&FitTiers::Separation { min_share: 0.05 }, &s, &y, 3).unwrap();
        assert_eq!(m, vec![60.0, 20.0, 0.0]);
        // too many tiers for a 5 % floor and strict monotonicity in flat regions still works
        // out or fails clearly
        let flat: Vec<u8> = vec![0; s.len()];
        assert!(fit_cutoffs(&FitTiers::Separation { min_share: 0.05 }, &s, &flat, 2).is_err());
    }

    #[test]
    fn a_dates_period_is_found_in_a_table_or_a_map_alike() {
        let narrow = [-3, 0, 5, 100, PeriodOf::TABLE_DAYS as i32 - 4];
        let wide = [-70_000, -3, 0, 5, 70_000];
        for (distinct, table) in [(&narrow[..], true), (&wide[..], false)] {
            let pos = |d: i32| distinct.binary_search(&d).unwrap() * 10 + 1;
            let p = PeriodOf::new(distinct, pos);
            assert_eq!(matches!(p, PeriodOf::Table { .. }), table);
            for &d in distinct {
                assert_eq!(p.get(d), pos(d), "{d}");
            }
        }
        assert!(matches!(PeriodOf::new(&[], |_| 0), PeriodOf::Map(_)));
    }
}
