//! Churn per cohort: segment columns (industry, size band, plan, …), tenure bands and signup
//! periods, alone or crossed, and each cohort split by tier. Cohorts under a minimum size are
//! shown as suppressed, not dropped.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{count_groups, ChurnCount};
use crate::data::{parse, Snapshots, NO_DAY};
use crate::score::Scored;

/// Default smallest cohort (accounts) whose churn rate is shown.
pub const DEFAULT_MIN_SIZE: usize = 30;

/// What a cohort is keyed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CohortKey {
    /// A segment column, by name.
    Segment(String),
    /// Tenure at the snapshot, from `customer_since`: < 6 months, 6–12 months, 1–2 years,
    /// 2–5 years, ≥ 5 years.
    Tenure,
    /// Signup quarter from `customer_since`, as `2023-Q1`.
    SignupQuarter,
    /// Signup year from `customer_since`.
    SignupYear,
}

impl CohortKey {
    /// `tenure`, `signup_quarter`, `signup_year`, or a segment column.
    pub fn parse(s: &str) -> CohortKey {
        match s.trim() {
            "tenure" => CohortKey::Tenure,
            "signup_quarter" => CohortKey::SignupQuarter,
            "signup_year" => CohortKey::SignupYear,
            other => CohortKey::Segment(other.to_string()),
        }
    }

    /// The name shown in tables.
    pub fn name(&self) -> &str {
        match self {
            CohortKey::Segment(s) => s,
            CohortKey::Tenure => "tenure",
            CohortKey::SignupQuarter => "signup_quarter",
            CohortKey::SignupYear => "signup_year",
        }
    }

    /// Whether the key needs the customer-since column.
    pub fn needs_customer_since(&self) -> bool {
        !matches!(self, CohortKey::Segment(_))
    }
}

/// Tenure band labels, shortest first; the last is for a missing start date.
pub const TENURE_BANDS: [&str; 6] = [
    "< 6 months",
    "6–12 months",
    "1–2 years",
    "2–5 years",
    "≥ 5 years",
    "(unknown)",
];

fn tenure_band(days: i64) -> u32 {
    // months as 30.44 days; years as 365.25
    let d = days as f64;
    if d < 182.625 {
        0
    } else if d < 365.25 {
        1
    } else if d < 730.5 {
        2
    } else if d < 1826.25 {
        3
    } else {
        4
    }
}

/// Per-row codes and labels of one key, over all rows of the data.
fn key_codes(data: &Snapshots, key: &CohortKey) -> Result<(Vec<u32>, Vec<String>), String> {
    match key {
        CohortKey::Segment(name) => {
            let seg = data
                .segments
                .iter()
                .find(|s| &s.name == name)
                .ok_or_else(|| format!("segment column '{name}' was not loaded"))?;
            Ok((seg.codes.clone(), seg.labels.clone()))
        }
        _ => {
            let since = data.customer_since.as_ref().ok_or_else(|| {
                format!("cohorts by {} need the customer-since column", key.name())
            })?;
            match key {
                CohortKey::Tenure => {
                    let dates = data.date.as_ref();
                    let last = data.date_range().map_or(0, |d| d.1);
                    let codes = (0..data.rows)
                        .map(|i| {
                            let s = since[i];
                            if s == NO_DAY {
                                5
                            } else {
                                let at = dates.map_or(last, |d| d[i]);
                                tenure_band(at as i64 - s as i64)
                            }
                        })
                        .collect();
                    Ok((codes, TENURE_BANDS.iter().map(|s| s.to_string()).collect()))
                }
                _ => {
                    let quarter = matches!(key, CohortKey::SignupQuarter);
                    let mut labels: Vec<String> = Vec::new();
                    let mut index: FxHashMap<i32, u32> = FxHashMap::default();
                    let mut codes = Vec::with_capacity(data.rows);
                    for &s in since {
                        let period = if s == NO_DAY {
                            i32::MIN
                        } else {
                            let (y, m) = parse::year_month(s);
                            if quarter {
                                y * 4 + (m as i32 - 1) / 3
                            } else {
                                y
                            }
                        };
                        let next = index.len() as u32;
                        let c = *index.entry(period).or_insert_with(|| {
                            labels.push(if period == i32::MIN {
                                "(unknown)".into()
                            } else if quarter {
                                format!("{}-Q{}", period.div_euclid(4), period.rem_euclid(4) + 1)
                            } else {
                                format!("{period}")
                            });
                            next
                        });
                        codes.push(c);
                    }
                    Ok((codes, labels))
                }
            }
        }
    }
}

/// One cohort's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortRow {
    /// One label per key.
    pub cohort: Vec<String>,
    /// The tier, in the segment × tier table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Counted rows.
    pub units: usize,
    /// Distinct accounts.
    pub accounts: usize,
    /// Whether the cohort is under the minimum size: its churn figures are withheld.
    pub suppressed: bool,
    /// Churn figures, absent when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnCount>,
}

/// The cohort tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortTable {
    /// Key names.
    pub by: Vec<String>,
    /// Smallest cohort (accounts) whose churn is shown.
    pub min_size: usize,
    /// One row per cohort, riskiest first; suppressed cohorts last, largest first.
    pub cohorts: Vec<CohortRow>,
    /// One row per cohort and tier: cohorts in the order above, tiers best first.
    pub by_tier: Vec<CohortRow>,
}

fn rows_of(
    data: &Snapshots,
    rows: &[u32],
    group: &[u32],
    k: usize,
    min_size: usize,
    label: impl Fn(usize) -> (Vec<String>, Option<String>),
) -> Vec<CohortRow> {
    count_groups(data, rows, group, k)
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.units > 0)
        .map(|(g, c)| {
            let (cohort, tier) = label(g);
            let suppressed = c.accounts < min_size;
            CohortRow {
                cohort,
                tier,
                units: c.units,
                accounts: c.accounts,
                suppressed,
                churn: (!suppressed).then_some(c),
            }
        })
        .collect()
}

/// Churn per cohort of the counted `rows`, and per cohort × tier.
pub fn cohort_table(
    data: &Snapshots,
    scored: &Scored,
    rows: &[u32],
    keys: &[CohortKey],
    min_size: usize,
) -> Result<CohortTable, String> {
    if keys.is_empty() {
        return Err("name at least one cohort key (a segment column, tenure, signup_quarter or signup_year)".into());
    }
    let coded: Vec<(Vec<u32>, Vec<String>)> = keys
        .iter()
        .map(|k| key_codes(data, k))
        .collect::<Result<_, _>>()?;
    // Dense index of each combination that occurs among the counted rows.
    let mut index: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
    let mut combos: Vec<Vec<u32>> = Vec::new();
    let mut group = Vec::with_capacity(rows.len());
    let mut key = Vec::with_capacity(keys.len());
    for &r in rows {
        key.clear();
        key.extend(coded.iter().map(|(c, _)| c[r as usize]));
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                let g = combos.len() as u32;
                index.insert(key.clone(), g);
                combos.push(key.clone());
                g
            }
        };
        group.push(g);
    }
    let label_of = |g: usize| -> Vec<String> {
        combos[g]
            .iter()
            .zip(&coded)
            .map(|(&c, (_, labels))| {
                labels
                    .get(c as usize)
                    .cloned()
                    .unwrap_or_else(|| "(missing)".into())
            })
            .collect()
    };
    let k = combos.len();
    let mut cohorts = rows_of(data, rows, &group, k, min_size, |g| (label_of(g), None));
    sort_by_risk(&mut cohorts);

    // Cohort × tier: group = cohort * tiers + tier.
    let nt = scored.tier_names.len();
    let group_t: Vec<u32> = rows
        .iter()
        .zip(&group)
        .map(|(&r, &g)| match scored.tier[r as usize] {
            u8::MAX => u32::MAX,
            t => g * nt as u32 + t as u32,
        })
        .collect();
    let by_tier_raw = rows_of(data, rows, &group_t, k * nt, min_size, |g| {
        (label_of(g / nt), Some(scored.tier_names[g % nt].clone()))
    });
    // Order: cohorts as sorted above, tiers best first (already ascending within a cohort).
    let position: FxHashMap<&Vec<String>, usize> = cohorts
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.cohort, i))
        .collect();
    let mut by_tier = by_tier_raw;
    by_tier.sort_by_key(|r| {
        (
            position.get(&r.cohort).copied().unwrap_or(usize::MAX),
            scored
                .tier_names
                .iter()
                .position(|t| Some(t) == r.tier.as_ref()),
        )
    });
    Ok(CohortTable {
        by: keys.iter().map(|k| k.name().to_string()).collect(),
        min_size,
        cohorts,
        by_tier,
    })
}

/// Riskiest first; suppressed cohorts after the shown ones, largest first; ties by label.
fn sort_by_risk(rows: &mut [CohortRow]) {
    rows.sort_by(|a, b| match (&a.churn, &b.churn) {
        (Some(x), Some(y)) => y.rate.total_cmp(&x.rate).then(a.cohort.cmp(&b.cohort)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.accounts.cmp(&a.accounts).then(a.cohort.cmp(&b.cohort)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testdata;
    use crate::data::Segment;

    fn scored(tier: Vec<u8>) -> Scored {
        Scored {
            score: tier.iter().map(|&t| 80.0 - 30.0 * t as f64).collect(),
            group_labels: vec![],
            group_scores: vec![],
            tier,
            tier_names: vec!["good".into(), "bad".into()],
            tier_colors: vec!["#00ff00".into(), "#ff0000".into()],
            tier_mins: vec![50.0, 0.0],
            probability: None,
            metric_names: vec![],
            reasons: vec![],
            reason_points: vec![],
            reasons_per_row: 3,
            unscored: 0,
        }
    }

    #[test]
    fn cohorts_sorted_by_risk_with_small_ones_suppressed() {
        // 60 accounts in "retail" (6 churned), 40 in "saas" (8 churned), 5 in "gov" (5)
        let mut rows = Vec::new();
        let mut seg = Vec::new();
        for a in 0..105u32 {
            let (label, churn) = if a < 60 {
                (0, a < 6)
            } else if a < 100 {
                (1, a < 68)
            } else {
                (2, true)
            };
            rows.push((a, 1, u8::from(churn)));
            seg.push(label);
        }
        let mut d = testdata::snapshots(&rows);
        d.segments.push(Segment {
            name: "industry".into(),
            codes: seg,
            labels: vec!["retail".into(), "saas".into(), "gov".into()],
        });
        let s = scored((0..105).map(|a| u8::from(a % 2 == 0)).collect());
        let units: Vec<u32> = (0..105).collect();
        let t = cohort_table(&d, &s, &units, &[CohortKey::parse("industry")], 30).unwrap();
        let order: Vec<&str> = t.cohorts.iter().map(|r| r.cohort[0].as_str()).collect();
        assert_eq!(order, ["saas", "retail", "gov"]);
        assert!(t.cohorts[2].suppressed && t.cohorts[2].churn.is_none());
        assert_eq!(t.cohorts[2].accounts, 5);
        let saas = t.cohorts[0].churn.as_ref().unwrap();
        assert_eq!((saas.churned, saas.units), (8, 40));
        // by tier: saas good, saas bad, retail good, retail bad, gov good, gov bad
        assert_eq!(t.by_tier.len(), 6);
        assert_eq!(t.by_tier[0].cohort[0], "saas");
        assert_eq!(t.by_tier[0].tier.as_deref(), Some("good"));
        assert!(cohort_table(&d, &s, &units, &[CohortKey::parse("region")], 30).is_err());
        assert!(cohort_table(&d, &s, &units, &[CohortKey::Tenure], 30).is_err());
    }

    #[test]
    fn tenure_bands_and_signup_periods() {
        assert_eq!(tenure_band(0), 0);
        assert_eq!(tenure_band(182), 0);
        assert_eq!(tenure_band(183), 1);
        assert_eq!(tenure_band(365), 1);
        assert_eq!(tenure_band(366), 2);
        assert_eq!(tenure_band(2000), 4);
        let mut d = testdata::snapshots(&[(0, 19_800, 0), (1, 19_800, 1)]);
        // 2024-03-31 is day 19_813
        d.customer_since = Some(vec![19_723, NO_DAY]); // 2024-01-01
        let (codes, labels) = key_codes(&d, &CohortKey::SignupQuarter).unwrap();
        assert_eq!(labels[codes[0] as usize], "2024-Q1");
        assert_eq!(labels[codes[1] as usize], "(unknown)");
        let (codes, labels) = key_codes(&d, &CohortKey::Tenure).unwrap();
        assert_eq!(labels[codes[0] as usize], "< 6 months");
        assert_eq!(labels[codes[1] as usize], "(unknown)");
    }
}
