//! Kaplan–Meier retention curves with Greenwood's variance, following lifelines'
//! `KaplanMeierFitter` (at-risk counts, left truncation by entry time, the log(−log)
//! "exponential Greenwood" 95 % interval, the median survival time), and retention curves of
//! accounts by signup cohort or by tier at a reference date.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::data::{parse, Day, Snapshots, NO_DAY};
use crate::score::Scored;

/// One time on the curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KmPoint {
    /// Time since the origin (days for retention curves).
    pub t: f64,
    /// Subjects at risk at `t`: entered before `t` (or at the first time), not removed
    /// before `t`.
    pub at_risk: f64,
    /// Events (churns) at `t`.
    pub events: f64,
    /// Subjects leaving at `t` (events and censored).
    pub removed: f64,
    /// Survival S(t).
    pub survival: f64,
    /// Greenwood's sum Σ d / (n (n − d)) up to `t`; Var S(t) = S(t)² · this.
    pub greenwood: f64,
    /// 95 % interval of S(t) on the log(−log) scale (lifelines' default).
    pub ci: [f64; 2],
}

/// Kaplan–Meier estimate from exit times, event flags and optional entry times (left
/// truncation: a subject is at risk only from its entry). One point per distinct exit or
/// entry time, ascending.
pub fn kaplan_meier(duration: &[f64], event: &[bool], entry: Option<&[f64]>) -> Vec<KmPoint> {
    #[derive(Default, Clone, Copy)]
    struct At {
        removed: f64,
        events: f64,
        entered: f64,
    }
    let mut times: Vec<(f64, At)> = Vec::new();
    {
        let mut map: FxHashMap<u64, At> = FxHashMap::default();
        for (i, (&d, &e)) in duration.iter().zip(event).enumerate() {
            let a = map.entry(d.to_bits()).or_default();
            a.removed += 1.0;
            if e {
                a.events += 1.0;
            }
            let s = entry.map_or(0.0, |en| en[i]);
            map.entry(s.to_bits()).or_default().entered += 1.0;
        }
        times.extend(map.into_iter().map(|(k, v)| (f64::from_bits(k), v)));
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let z = 1.959_963_984_540_054;
    let (mut entered, mut removed_before) = (0.0, 0.0);
    let (mut log_s, mut gw) = (0.0f64, 0.0f64);
    let mut out = Vec::with_capacity(times.len());
    for (p, (t, a)) in times.into_iter().enumerate() {
        // Subjects entering at t are at risk only after t (lifelines: "kill, then add the
        // entrants"), except at the first time, where entries come first.
        if p == 0 {
            entered += a.entered;
        }
        let n = entered - removed_before;
        if a.events > 0.0 && n > 0.0 {
            log_s += (1.0 - a.events / n).ln();
            if n > a.events {
                gw += a.events / (n * (n - a.events));
            }
        }
        removed_before += a.removed;
        if p > 0 {
            entered += a.entered;
        }
        let s = log_s.exp();
        let ci = if s >= 1.0 {
            [1.0, 1.0]
        } else if s <= 0.0 {
            [0.0, 0.0]
        } else {
            let v = log_s;
            let half = z * gw.sqrt() / v;
            [
                (-((-v).ln() - half).exp()).exp(),
                (-((-v).ln() + half).exp()).exp(),
            ]
        };
        out.push(KmPoint {
            t,
            at_risk: n,
            events: a.events,
            removed: a.removed,
            survival: s,
            greenwood: gw,
            ci,
        });
    }
    out
}

/// First time at which S(t) ≤ 0.5, as lifelines' `median_survival_time_`; `None` when the
/// curve stays above one half.
pub fn median(points: &[KmPoint]) -> Option<f64> {
    points.iter().find(|p| p.survival <= 0.5).map(|p| p.t)
}

/// The step value of the curve at `t` (1 before the first point): `(S, [lo, hi])`.
pub fn at(points: &[KmPoint], t: f64) -> (f64, [f64; 2]) {
    let i = points.partition_point(|p| p.t <= t);
    if i == 0 {
        (1.0, [1.0, 1.0])
    } else {
        (points[i - 1].survival, points[i - 1].ci)
    }
}

/// Fewest accounts at risk from which a retention curve is drawn.
pub const MIN_AT_RISK: usize = 10;

/// Kaplan–Meier over the times at which at least `min_at_risk` subjects are at risk: from
/// the first such time `t0` (subjects gone before it are left out and entries move up to it,
/// so the curve is S(t | T ≥ t0)) until the risk set falls below the floor again. Without
/// left truncation `t0` is the first time.
pub fn conditional_curve(
    duration: &[f64],
    event: &[bool],
    entry: &[f64],
    min_at_risk: f64,
) -> (Vec<KmPoint>, f64) {
    let full = kaplan_meier(duration, event, Some(entry));
    let Some(start) = full.iter().find(|p| p.at_risk >= min_at_risk).map(|p| p.t) else {
        return (Vec::new(), 0.0);
    };
    let mut curve = if full.first().is_some_and(|p| p.t == start) {
        full
    } else {
        let (mut d, mut e, mut en) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..duration.len() {
            if duration[i] >= start {
                d.push(duration[i]);
                e.push(event[i]);
                en.push(entry[i].max(start));
            }
        }
        kaplan_meier(&d, &e, Some(&en))
    };
    // The tail ends where the risk set falls below the floor again.
    if let Some(end) = curve.iter().position(|p| p.at_risk < min_at_risk) {
        curve.truncate(end);
    }
    (curve, start)
}

/// How accounts are grouped into retention curves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionBy {
    /// Signup year, time from `customer_since`.
    SignupYear,
    /// Signup quarter, time from `customer_since`.
    SignupQuarter,
    /// Tier at a reference date, time from that date.
    Tier {
        /// Each account's last snapshot on or before this date sets its tier.
        reference: Day,
    },
}

/// Times at which curves are read off in tables: 3, 6, 12 and 24 months.
pub const READ_AT_DAYS: [(f64, &str); 4] = [
    (91.3125, "3 months"),
    (182.625, "6 months"),
    (365.25, "12 months"),
    (730.5, "24 months"),
];

/// One retention curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Cohort label.
    pub label: String,
    /// Chart colour.
    pub color: String,
    /// Accounts in the cohort.
    pub accounts: usize,
    /// Accounts that churned within the follow-up.
    pub churned: usize,
    /// Under the minimum size: no curve is estimated.
    pub suppressed: bool,
    /// Median survival in days, when the curve reaches one half.
    pub median_days: Option<f64>,
    /// The curve starts here: the first time at which [`MIN_AT_RISK`] accounts (or all of a
    /// smaller cohort) are at risk. Accounts that signed up before the data starts are seen
    /// only from their first snapshot, so the curve is retention *given* survival to this
    /// time (0 when the data sees the cohort from its start).
    pub observed_from_days: f64,
    /// Retention at [`READ_AT_DAYS`]: `(label, S, lo, hi)`; NaN past the longest follow-up.
    pub read_at: Vec<(String, f64, f64, f64)>,
    /// The curve (empty when suppressed).
    pub points: Vec<KmPoint>,
}

/// Retention curves of one grouping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    /// `signup_year`, `signup_quarter` or `tier`.
    pub by: String,
    /// What time 0 is.
    pub origin: String,
    /// Follow-up ends (censoring) on this date.
    pub censored_at: String,
    /// Accounts left out, and why.
    pub excluded: Vec<(String, usize)>,
    /// The curves.
    pub curves: Vec<Curve>,
}

const PALETTE: [&str; 8] = [
    "#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#9e9d24", "#4e342e",
];

/// Retention curves of the accounts, censored at `end` (the data's last date).
pub fn retention(
    data: &Snapshots,
    scored: &Scored,
    by: &RetentionBy,
    end: Day,
    min_size: usize,
) -> Result<Retention, String> {
    let churn = data
        .churn_date
        .as_ref()
        .ok_or("retention curves need the churn-date column")?;
    let facts = AccountFacts::of(data, churn);
    let mut out = Excluded::default();
    let (groups, by_name, origin) = match by {
        RetentionBy::SignupYear | RetentionBy::SignupQuarter => {
            if data.customer_since.is_none() {
                return Err("retention by signup cohort needs the customer-since column".into());
            }
            let quarter = matches!(by, RetentionBy::SignupQuarter);
            (
                signup_groups(&facts, quarter, end, &mut out),
                if quarter {
                    "signup_quarter"
                } else {
                    "signup_year"
                },
                "customer since (accounts enter the risk set at their first snapshot)".to_string(),
            )
        }
        RetentionBy::Tier { reference } => {
            let dates = data
                .date
                .as_ref()
                .ok_or("retention by tier needs snapshot dates")?;
            (
                tier_groups(data, dates, scored, &facts, *reference, end, &mut out),
                "tier",
                format!("the reference date {}", parse::format_day(*reference)),
            )
        }
    };
    Ok(Retention {
        by: by_name.to_string(),
        origin,
        censored_at: parse::format_day(end),
        excluded: out.0,
        curves: curves(groups, min_size),
    })
}

/// Each account's churn date (its latest), customer-since date and first snapshot date.
struct AccountFacts {
    churn_of: Vec<Day>,
    since_of: Vec<Day>,
    first_seen: Vec<Day>,
}

impl AccountFacts {
    fn of(data: &Snapshots, churn: &[Day]) -> Self {
        let na = data.n_accounts;
        let mut churn_of = vec![NO_DAY; na];
        let mut since_of = vec![NO_DAY; na];
        let mut first_seen = vec![i32::MAX; na];
        for i in 0..data.rows {
            let a = data.account[i] as usize;
            if churn[i] != NO_DAY {
                churn_of[a] = churn_of[a].max(churn[i]);
            }
            if let Some(s) = &data.customer_since {
                if s[i] != NO_DAY && since_of[a] == NO_DAY {
                    since_of[a] = s[i];
                }
            }
            if let Some(d) = &data.date {
                first_seen[a] = first_seen[a].min(d[i]);
            }
        }
        AccountFacts {
            churn_of,
            since_of,
            first_seen,
        }
    }
}

/// Accounts left out of the curves, counted by reason in order of first appearance.
#[derive(Default)]
struct Excluded(Vec<(String, usize)>);

impl Excluded {
    fn count(&mut self, why: &str) {
        if let Some(e) = self.0.iter_mut().find(|e| e.0 == why) {
            e.1 += 1;
        } else {
            self.0.push((why.to_string(), 1));
        }
    }
}

/// The accounts of each curve: `(group, duration, event, entry)` per account, with the
/// groups' labels and colours.
struct Groups {
    subjects: Vec<(u32, f64, bool, f64)>,
    labels: Vec<String>,
    colors: Vec<String>,
}

/// Accounts by signup year or quarter, timed from their customer-since date and entering
/// the risk set at their first snapshot (left truncation).
fn signup_groups(facts: &AccountFacts, quarter: bool, end: Day, out: &mut Excluded) -> Groups {
    let AccountFacts {
        churn_of,
        since_of,
        first_seen,
    } = facts;
    let na = churn_of.len();
    let mut subjects = Vec::new();
    let (mut labels, mut colors) = (Vec::new(), Vec::new());
    let mut index: FxHashMap<i32, u32> = FxHashMap::default();
    let mut periods: Vec<i32> = Vec::new();
    for a in 0..na {
        let s = since_of[a];
        if s == NO_DAY {
            out.count("no customer-since date");
            continue;
        }
        let c = churn_of[a];
        let event = c != NO_DAY && c <= end;
        let exit = if event { c } else { end };
        if exit < s {
            out.count("churn date before customer-since date");
            continue;
        }
        // Left truncation: the account is seen only from its first snapshot.
        let entry = if first_seen[a] == i32::MAX {
            0.0
        } else {
            (first_seen[a].min(exit) - s).max(0) as f64
        };
        let (y, m) = parse::year_month(s);
        let p = if quarter {
            y * 4 + (m as i32 - 1) / 3
        } else {
            y
        };
        let next = index.len() as u32;
        let g = *index.entry(p).or_insert_with(|| {
            periods.push(p);
            next
        });
        subjects.push((g, (exit - s) as f64, event, entry));
    }
    // Label in period order.
    let mut order: Vec<usize> = (0..periods.len()).collect();
    order.sort_by_key(|&i| periods[i]);
    let mut remap = vec![0u32; periods.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old] = new as u32;
        let p = periods[old];
        labels.push(if quarter {
            format!("{}-Q{}", p.div_euclid(4), p.rem_euclid(4) + 1)
        } else {
            format!("{p}")
        });
        colors.push(PALETTE[new % PALETTE.len()].to_string());
    }
    for s in &mut subjects {
        s.0 = remap[s.0 as usize];
    }
    Groups {
        subjects,
        labels,
        colors,
    }
}

/// Accounts by their tier at the reference date (their last scored snapshot on or before
/// it), timed from that date; accounts churned by then are left out.
fn tier_groups(
    data: &Snapshots,
    dates: &[Day],
    scored: &Scored,
    facts: &AccountFacts,
    reference: Day,
    end: Day,
    out: &mut Excluded,
) -> Groups {
    let churn_of = &facts.churn_of;
    let na = churn_of.len();
    let mut subjects = Vec::new();
    // Each account's last scored snapshot on or before the reference date.
    let mut pick: Vec<Option<(Day, u8)>> = vec![None; na];
    for ((&d, &t), &a) in dates.iter().zip(&scored.tier).zip(&data.account) {
        if d > reference || t == u8::MAX {
            continue;
        }
        let a = a as usize;
        if pick[a].is_none_or(|(pd, _)| d > pd) {
            pick[a] = Some((d, t));
        }
    }
    for a in 0..na {
        let Some((_, t)) = pick[a] else {
            out.count("no snapshot on or before the reference date");
            continue;
        };
        let c = churn_of[a];
        if c != NO_DAY && c <= reference {
            out.count("churned on or before the reference date");
            continue;
        }
        let event = c != NO_DAY && c <= end;
        let exit = if event { c } else { end };
        subjects.push((t as u32, (exit - reference) as f64, event, 0.0));
    }
    Groups {
        subjects,
        labels: scored.tier_names.clone(),
        colors: scored.tier_colors.clone(),
    }
}

/// Each group's Kaplan–Meier curve, suppressed below `min_size` accounts, read off at the
/// table's times; a group with no account is left out.
fn curves(groups: Groups, min_size: usize) -> Vec<Curve> {
    let Groups {
        subjects,
        labels,
        colors,
    } = groups;
    let mut curves = Vec::with_capacity(labels.len());
    for (g, (label, color)) in labels.into_iter().zip(colors).enumerate() {
        let mine: Vec<&(u32, f64, bool, f64)> =
            subjects.iter().filter(|s| s.0 as usize == g).collect();
        let accounts = mine.len();
        let churned = mine.iter().filter(|s| s.2).count();
        let suppressed = accounts < min_size;
        let (points, observed_from) = if suppressed || accounts == 0 {
            (Vec::new(), 0.0)
        } else {
            let dur: Vec<f64> = mine.iter().map(|s| s.1).collect();
            let ev: Vec<bool> = mine.iter().map(|s| s.2).collect();
            let en: Vec<f64> = mine.iter().map(|s| s.3).collect();
            conditional_curve(&dur, &ev, &en, MIN_AT_RISK.min(accounts) as f64)
        };
        let longest = points.last().map_or(0.0, |p| p.t);
        let read_at = READ_AT_DAYS
            .iter()
            .map(|&(t, name)| {
                if points.is_empty() || t > longest || t < observed_from {
                    (name.to_string(), f64::NAN, f64::NAN, f64::NAN)
                } else {
                    let (s, ci) = at(&points, t);
                    (name.to_string(), s, ci[0], ci[1])
                }
            })
            .collect();
        if accounts == 0 {
            continue;
        }
        curves.push(Curve {
            label,
            color,
            accounts,
            churned,
            suppressed,
            median_days: median(&points),
            observed_from_days: observed_from,
            read_at,
            points,
        });
    }
    curves
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    // Reference: lifelines 0.30.3 (tests/reference/kat.py, "km" lines):
    //   T = [5, 6, 6, 2, 4, 4, 8, 9, 3, 7, 7, 10]; E = [1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1]
    //   kmf = KaplanMeierFitter().fit(T, E)
    //   kmf.survival_function_ at 2..10, kmf.confidence_interval_, var = Σ d/(n(n−d))
    const T: [f64; 12] = [5., 6., 6., 2., 4., 4., 8., 9., 3., 7., 7., 10.];
    const E: [bool; 12] = [
        true, false, true, true, true, false, true, false, true, true, false, true,
    ];

    #[test]
    fn kaplan_meier_matches_lifelines() {
        let km = kaplan_meier(&T, &E, None);
        let s: Vec<f64> = km.iter().map(|p| p.survival).collect();
        let want_t = [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let t: Vec<f64> = km.iter().map(|p| p.t).collect();
        assert_eq!(t, want_t);
        for (got, want) in s.iter().zip(KM_S) {
            assert_relative_eq!(*got, want, epsilon = 1e-12);
        }
        for (p, (lo, hi)) in km.iter().zip(KM_CI) {
            assert_relative_eq!(p.ci[0], lo, epsilon = 1e-10);
            assert_relative_eq!(p.ci[1], hi, epsilon = 1e-10);
        }
        for (p, gw) in km.iter().zip(KM_GW) {
            assert_relative_eq!(p.greenwood, gw, epsilon = 1e-12);
        }
        assert_eq!(median(&km), Some(KM_MEDIAN));
    }

    #[test]
    fn a_truncated_curve_starts_where_enough_accounts_are_at_risk() {
        // two early subjects, then ten entering at 5: the early death at 2 (1 of 2 at risk)
        // must not halve the curve
        let mut d = vec![2.0, 9.0];
        let mut e = vec![true, false];
        let mut en = vec![0.0, 0.0];
        for i in 0..10 {
            d.push(6.0 + i as f64);
            e.push(i % 2 == 0);
            en.push(5.0);
        }
        let (pts, from) = conditional_curve(&d, &e, &en, 10.0);
        assert_eq!(from, 6.0);
        // at 6: eleven at risk (the early survivor and the ten), one churns
        assert_eq!(pts[0].t, 6.0);
        assert_eq!(pts[0].at_risk, 11.0);
        assert!(
            (pts[0].survival - 10.0 / 11.0).abs() < 1e-12,
            "{:?}",
            pts[0]
        );
        let (plain, from0) = conditional_curve(&T, &E, &[0.0; 12], 1.0);
        assert_eq!(from0, 0.0);
        assert_eq!(plain, kaplan_meier(&T, &E, Some(&[0.0; 12])));
        // with a floor of 10 the curve stops once fewer than 10 are at risk (8 at t = 5)
        let (short, _) = conditional_curve(&T, &E, &[0.0; 12], 10.0);
        assert_eq!(short.last().unwrap().t, 4.0);
    }

    #[test]
    fn kaplan_meier_with_entry_matches_lifelines() {
        let entry = [0., 1., 2., 0., 0., 3., 1., 4., 0., 2., 5., 0.];
        let km = kaplan_meier(&T, &E, Some(&entry));
        for (p, (t, s, n)) in km.iter().zip(KM_ENTRY) {
            assert_relative_eq!(p.t, t);
            assert_relative_eq!(p.survival, s, epsilon = 1e-12);
            assert_relative_eq!(p.at_risk, n);
        }
    }

    const KM_S: [f64; 10] = [
        1.0,
        0.916_666_666_666_666_7,
        0.833_333_333_333_333_5,
        0.750_000_000_000_000_1,
        0.656_250_000_000_000_1,
        0.562_500_000_000_000_1,
        0.450_000_000_000_000_1,
        0.300_000_000_000_000_04,
        0.300_000_000_000_000_04,
        0.0,
    ];
    const KM_CI: [(f64, f64); 10] = [
        (1.0, 1.0),
        (0.538_977_180_570_740_5, 0.987_825_565_400_458_1),
        (0.481_714_942_195_378_64, 0.955_509_365_728_065),
        (0.408_415_913_151_594_9, 0.911_720_406_125_698_4),
        (0.320_411_637_599_600_2, 0.855_657_234_651_938_7),
        (0.243_680_982_605_186_8, 0.790_991_758_910_399_7),
        (0.154_886_634_322_987_16, 0.710_438_325_260_742_7),
        (0.056_361_869_953_569_475, 0.604_095_633_458_854),
        (0.056_361_869_953_569_475, 0.604_095_633_458_854),
        (0.0, 0.0),
    ];
    const KM_GW: [f64; 10] = [
        0.0,
        0.007_575_757_575_757_576,
        0.016_666_666_666_666_666,
        0.027_777_777_777_777_776,
        0.045_634_920_634_920_63,
        0.069_444_444_444_444_45,
        0.119_444_444_444_444_45,
        0.286_111_111_111_111_1,
        0.286_111_111_111_111_1,
        0.286_111_111_111_111_1,
    ];
    const KM_MEDIAN: f64 = 7.0;
    // entry = [0, 1, 2, 0, 0, 3, 1, 4, 0, 2, 5, 0]; kmf.fit(T, E, entry=entry):
    // (timeline, survival_function_, population): the population is lifelines'
    // event_table.at_risk minus the entrants at that time (except the first), the risk set
    // its estimate divides by.
    const KM_ENTRY: [(f64, f64, f64); 11] = [
        (0.0, 1.0, 5.0),
        (1.0, 1.0, 5.0),
        (2.0, 0.857_142_857_142_857_2, 7.0),
        (3.0, 0.750_000_000_000_000_1, 8.0),
        (4.0, 0.656_250_000_000_000_1, 8.0),
        (5.0, 0.562_500_000_000_000_1, 7.0),
        (6.0, 0.482_142_857_142_857_26, 7.0),
        (7.0, 0.385_714_285_714_285_84, 5.0),
        (8.0, 0.257_142_857_142_857_23, 3.0),
        (9.0, 0.257_142_857_142_857_23, 2.0),
        (10.0, 0.0, 1.0),
    ];
}
