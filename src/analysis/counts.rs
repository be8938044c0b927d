//! The tier report from counts made elsewhere: the result of `churncal sql tiers`, run on
//! a warehouse or Spark, read back into the same [`TierReport`] that [`tier_report`]
//! builds from the data, so that the table, its intervals, the monotonicity check and the
//! charts come out the same.
//!
//! [`tier_report`]: super::tiers::tier_report

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

use super::tiers::{
    band_bounds, band_colors, monotonicity, GroupRow, TierReport, TrendRow, TREND_MAX_DATES,
};
use super::{ChurnCount, Unit};
use crate::data::parse;
use crate::profile::Profile;
use crate::stats;

/// Problems reading a counts file.
#[derive(Debug, Error)]
pub enum CountsError {
    /// The file cannot be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A value is not what its column holds.
    #[error("{path}, row {row}, column '{column}': value '{value}' {message}")]
    Value {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// What was expected.
        message: &'static str,
    },
    /// The counts do not fit the profile or the bands.
    #[error("{path}: {message}")]
    Mismatch {
        /// The file.
        path: String,
        /// What does not fit.
        message: String,
    },
}

/// One row of the counts table.
#[derive(Debug, Default, Clone)]
struct Row {
    kind: String,
    label: String,
    period: String,
    tier_min: Option<f64>,
    units: usize,
    accounts: usize,
    churned: usize,
    snapshots: usize,
    score_sum: Option<f64>,
    score_sum_churned: Option<f64>,
    p_sum: Option<f64>,
    arr: Option<f64>,
    arr_churned: Option<f64>,
    unscored: usize,
    refused: usize,
}

/// Read a counts CSV written from `churncal sql tiers`'s result.
fn read_rows(path: &Path) -> Result<Vec<Row>, CountsError> {
    let p = path.display().to_string();
    let read = |m: String| CountsError::Read {
        path: p.clone(),
        message: m,
    };
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| read(e.to_string()))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| read(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    for need in crate::sql::COUNT_COLUMNS {
        if col(need).is_none() {
            return Err(read(format!(
                "no column '{need}': expected the result of `churncal sql tiers` ({})",
                crate::sql::COUNT_COLUMNS.join(", ")
            )));
        }
    }
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| read(e.to_string()))?;
        let get = |name: &str| rec.get(col(name).unwrap_or(0)).unwrap_or("").trim();
        let bad = |name: &str, message| CountsError::Value {
            path: p.clone(),
            row: i + 1,
            column: name.to_string(),
            value: get(name).to_string(),
            message,
        };
        let float = |name: &str| -> Result<Option<f64>, CountsError> {
            match get(name) {
                "" | "NULL" | "null" => Ok(None),
                v => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Some)
                    .ok_or_else(|| bad(name, "is not a number")),
            }
        };
        let count = |name: &str| -> Result<usize, CountsError> {
            match float(name)? {
                None => Ok(0),
                Some(x) if x >= 0.0 && x.fract() == 0.0 => Ok(x as usize),
                Some(_) => Err(bad(name, "is not a count")),
            }
        };
        rows.push(Row {
            kind: get("kind").to_string(),
            label: get("label").to_string(),
            period: get("period").to_string(),
            tier_min: float("tier_min")?,
            units: count("units")?,
            accounts: count("accounts")?,
            churned: count("churned")?,
            snapshots: count("snapshots")?,
            score_sum: float("score_sum")?,
            score_sum_churned: float("score_sum_churned")?,
            p_sum: float("p_sum")?,
            arr: float("arr")?,
            arr_churned: float("arr_churned")?,
            unscored: count("unscored")?,
            refused: count("refused")?,
        });
        let last = rows.last().expect("just pushed");
        if !["overall", "tier", "band", "trend"].contains(&last.kind.as_str()) {
            return Err(bad("kind", "is not overall, tier, band or trend"));
        }
    }
    Ok(rows)
}

/// The tier report of the counts in `path` (a CSV of `churncal sql tiers`'s result) for
/// `profile`, with score `bands` and counting `unit` as the query was compiled with.
pub fn from_counts(
    path: &Path,
    profile: &Profile,
    unit: Unit,
    bands: &[f64],
) -> Result<TierReport, CountsError> {
    let rows = read_rows(path)?;
    let p = path.display().to_string();
    let mismatch = |m: String| CountsError::Mismatch {
        path: p.clone(),
        message: m,
    };
    let overall = rows.iter().find(|r| r.kind == "overall").ok_or_else(|| {
        mismatch("no 'overall' row: is this the result of `churncal sql tiers`?".into())
    })?;
    if overall.refused > 0 {
        return Err(mismatch(format!(
            "{} rows were refused (a missing value under missing = \"error\", an unknown label, or \
             an outcome that is not 0/1, true/false, yes/no): churncal would refuse this data. \
             Run `churncal sql score` and look at its refused column",
            overall.refused
        )));
    }
    let names = profile.tier_names();
    let colors = profile.tier_colors();
    for r in rows
        .iter()
        .filter(|r| r.kind == "tier" || r.kind == "trend")
    {
        if !names.contains(&r.label) {
            return Err(mismatch(format!(
                "tier '{}' is not one of the profile's ({}): were the counts made with this profile?",
                r.label,
                names.join(", ")
            )));
        }
    }
    let bb = band_bounds(bands);
    for r in rows.iter().filter(|r| r.kind == "band") {
        if !bb.iter().any(|b| b.0 == r.label) {
            return Err(mismatch(format!(
                "band '{}' is not one of --bands' ({}): pass the bands the query was written with",
                r.label,
                bb.iter()
                    .map(|b| b.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let units = overall.units;
    let churned = overall.churned;
    let overall_rate = if units > 0 {
        churned as f64 / units as f64
    } else {
        f64::NAN
    };
    let calibrated = profile.calibration.is_some();
    let has_arr = rows.iter().any(|r| r.kind == "tier" && r.arr.is_some());
    let group = |kind: &str, labels: Vec<(String, f64, f64, String)>| -> Vec<GroupRow> {
        let all_churned: usize = rows
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.churned)
            .sum();
        labels
            .into_iter()
            .map(|(label, from, to, color)| {
                let r = rows
                    .iter()
                    .find(|r| r.kind == kind && r.label == label)
                    .cloned()
                    .unwrap_or_default();
                let mut count = ChurnCount {
                    units: r.units,
                    accounts: r.accounts,
                    churned: r.churned,
                    arr: has_arr.then(|| r.arr.unwrap_or(0.0)),
                    arr_churned: has_arr.then(|| r.arr_churned.unwrap_or(0.0)),
                    ..Default::default()
                };
                count.finish(all_churned, overall_rate);
                let n = r.units as f64;
                GroupRow {
                    from: r.tier_min.filter(|_| kind == "tier").unwrap_or(from),
                    label,
                    to,
                    color,
                    count,
                    snapshots: r.snapshots,
                    mean_score: if r.units > 0 {
                        r.score_sum.unwrap_or(0.0) / n
                    } else {
                        f64::NAN
                    },
                    predicted: calibrated.then(|| {
                        if r.units > 0 {
                            r.p_sum.unwrap_or(0.0) / n
                        } else {
                            f64::NAN
                        }
                    }),
                }
            })
            .collect()
    };
    // Each tier's lowest score, from the counts (quantile tiers are resolved there).
    let mins: Vec<f64> = names
        .iter()
        .enumerate()
        .map(|(t, name)| {
            rows.iter()
                .find(|r| r.kind == "tier" && &r.label == name)
                .and_then(|r| r.tier_min)
                .or_else(|| profile.tiers.get(t).map(|x| x.min))
                .unwrap_or(0.0)
        })
        .collect();
    let tier_labels = (0..names.len())
        .map(|t| {
            let to = if t == 0 { 100.0 } else { mins[t - 1] };
            (names[t].clone(), mins[t], to, colors[t].clone())
        })
        .collect();
    let tiers = group("tier", tier_labels);
    let band_labels = bb
        .into_iter()
        .zip(band_colors(bands.len() + 1))
        .map(|((l, f, t), c)| (l, f, t, c))
        .collect();
    let band_rows = group("band", band_labels);
    let sum_all: f64 = rows
        .iter()
        .filter(|r| r.kind == "tier")
        .filter_map(|r| r.score_sum)
        .sum();
    let sum_churned: f64 = rows
        .iter()
        .filter(|r| r.kind == "tier")
        .filter_map(|r| r.score_sum_churned)
        .sum();
    let mean_c = sum_churned / churned as f64;
    let mean_r = (sum_all - sum_churned) / (units - churned) as f64;
    let (lo, hi) = stats::wilson(churned, units);
    Ok(TierReport {
        unit,
        units,
        accounts: overall.accounts,
        churned,
        overall_rate,
        overall_ci: [lo, hi],
        unscored: overall.unscored,
        tier_check: monotonicity(&tiers),
        tiers,
        band_check: monotonicity(&band_rows),
        bands: band_rows,
        mean_score_churned: mean_c,
        mean_score_retained: mean_r,
        score_ratio: mean_r / mean_c,
        tier_names: names.clone(),
        trend: trend(&rows, &names, &p)?,
    })
}

/// The trend from the `trend` rows: per date, or per month beyond
/// [`TREND_MAX_DATES`] dates, as [`super::tiers::trend`] does.
fn trend(rows: &[Row], names: &[String], path: &str) -> Result<Vec<TrendRow>, CountsError> {
    let mut days = BTreeMap::new();
    for (i, r) in rows.iter().enumerate().filter(|(_, r)| r.kind == "trend") {
        let day = parse::date(&r.period)
            .ok()
            .flatten()
            .ok_or_else(|| CountsError::Value {
                path: path.to_string(),
                row: i + 1,
                column: "period".into(),
                value: r.period.clone(),
                message: "is not a date (YYYY-MM-DD)",
            })?;
        days.entry(day).or_insert_with(Vec::new).push(r);
    }
    let by_month = days.len() > TREND_MAX_DATES;
    let k = names.len();
    // period label → (snapshots, score sum, churned, per-tier snapshots)
    let mut periods: BTreeMap<String, (usize, f64, usize, Vec<usize>)> = BTreeMap::new();
    for (day, rs) in days {
        let label = if by_month {
            let (y, m) = parse::year_month(day);
            format!("{y:04}-{m:02}")
        } else {
            parse::format_day(day)
        };
        let e = periods
            .entry(label)
            .or_insert_with(|| (0, 0.0, 0, vec![0; k]));
        for r in rs {
            let t = names.iter().position(|n| *n == r.label).unwrap_or(0);
            e.0 += r.snapshots;
            e.1 += r.score_sum.unwrap_or(0.0);
            e.2 += r.churned;
            e.3[t] += r.snapshots;
        }
    }
    Ok(periods
        .into_iter()
        .map(|(period, (n, sum, churned, tiers))| {
            let nn = n.max(1) as f64;
            TrendRow {
                period,
                snapshots: n,
                mean_score: if n > 0 { sum / nn } else { f64::NAN },
                tier_share: tiers.iter().map(|&t| t as f64 / nn).collect(),
                churned,
                rate: if n > 0 { churned as f64 / nn } else { f64::NAN },
            }
        })
        .collect())
}
