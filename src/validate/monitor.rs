//! One live profile, quarter by quarter: discrimination, calibration, tier monotonicity and
//! the score's PSI against a reference population (the data the profile was calibrated on,
//! when that file is at hand, else the first quarter of the data).

use serde::Serialize;

use super::{Check, CheckKind, Gate, Status};
use crate::analysis::tiers::{tier_report, DEFAULT_BANDS};
use crate::analysis::Unit;
use crate::calibrate::problem::fit_two;
use crate::data::{parse, Snapshots};
use crate::profile::Profile;
use crate::score;
use crate::stats::sigmoid;
use crate::stats::{self, evaluation as vs};

/// One quarter's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quarter {
    /// `2025-Q3`.
    pub quarter: String,
    /// Scored snapshots.
    pub rows: usize,
    /// Churned snapshots.
    pub events: usize,
    /// AUC with its DeLong 95 % interval.
    pub auc: f64,
    /// DeLong 95 % interval.
    pub auc_ci: [f64; 2],
    /// Log-loss.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Observed / expected churn.
    pub observed_expected: f64,
    /// Calibration slope.
    pub slope: f64,
    /// ECE over 10 equal-count bins.
    pub ece: f64,
    /// Whether tier churn rises strictly from tier to tier (accounts' last snapshot in the
    /// quarter).
    pub tiers_monotone: bool,
    /// Smallest tier share.
    pub min_tier_share: f64,
    /// Score PSI against the reference.
    pub psi: f64,
}

/// The monitoring report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    /// Profile name.
    pub profile: String,
    /// What PSI is measured against.
    pub reference: String,
    /// Where the probabilities come from.
    pub probabilities: String,
    /// Quarter by quarter, oldest first.
    pub quarters: Vec<Quarter>,
    /// Gate checks (calibration, tiers, PSI) on the latest quarter with events.
    pub checks: Vec<Check>,
    /// Whether the latest quarter passes them.
    pub passed: bool,
}

fn quarter_of(day: i32) -> (i32, String) {
    let (y, m) = parse::year_month(day);
    let q = (m as i32 - 1) / 3;
    (y * 4 + q, format!("{y}-Q{}", q + 1))
}

/// Monitor `profile` on `data` by quarter. `reference_scores`: the profile's scores on the
/// data it was calibrated on, when available (else the first quarter is the reference).
pub fn monitor(
    profile: &Profile,
    data: &Snapshots,
    reference_scores: Option<(&str, Vec<f64>)>,
    gate: &Gate,
) -> Result<Monitor, super::ValidateError> {
    let y = data
        .outcome
        .as_deref()
        .ok_or_else(|| super::ValidateError::Data("monitoring needs the outcome".into()))?;
    let dates = data.date.as_ref().ok_or_else(|| {
        super::ValidateError::Data("monitoring by quarter needs snapshot dates".into())
    })?;
    let sc = score::score(
        profile,
        &score::SubScores::compute(profile, data)?,
        score::Extent::Tiers,
    );
    let distinct = crate::data::order::distinct_days(dates);
    let mut keys: Vec<(i32, String)> = distinct.into_iter().map(quarter_of).collect();
    keys.dedup();
    let row_quarter: Vec<i32> = dates.iter().map(|&d| quarter_of(d).0).collect();
    let rows_of = |k: i32| -> Vec<usize> {
        (0..data.rows)
            .filter(|&i| sc.tier[i] != u8::MAX && row_quarter[i] == k)
            .collect()
    };
    let first = rows_of(keys[0].0);
    let (reference, ref_scores) = match reference_scores {
        Some((name, s)) => (format!("the calibration data ({name})"), s),
        None => (
            format!("the first quarter of the data ({})", keys[0].1),
            first.iter().map(|&i| sc.score[i]).collect(),
        ),
    };
    let (p, probabilities): (Vec<f64>, String) = match &profile.calibration {
        Some(c) => (
            sc.score.iter().map(|&s| c.probability(s)).collect(),
            "the profile's calibration block".into(),
        ),
        None => {
            let s: Vec<f64> = first.iter().map(|&i| sc.score[i] / 100.0).collect();
            let yy: Vec<u8> = first.iter().map(|&i| y[i]).collect();
            let (a, b, _) = fit_two(&s, &yy, &vec![1.0; s.len()], (0.0, -1.0));
            (
                sc.score
                    .iter()
                    .map(|&v| sigmoid(a + b * v / 100.0))
                    .collect(),
                format!(
                    "intercept and slope fitted on the first quarter ({})",
                    keys[0].1
                ),
            )
        }
    };
    let mut quarters = Vec::new();
    for (k, label) in &keys {
        let rows = rows_of(*k);
        let yy: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
        let events = yy.iter().filter(|&&v| v == 1).count();
        let risk: Vec<f64> = rows.iter().map(|&i| 100.0 - sc.score[i]).collect();
        let pp: Vec<f64> = rows.iter().map(|&i| p[i]).collect();
        let scores: Vec<f64> = rows.iter().map(|&i| sc.score[i]).collect();
        let both = events > 0 && events < rows.len();
        let (auc, auc_ci) = if both {
            vs::auc_ci(&risk, &yy)
        } else {
            (f64::NAN, [f64::NAN; 2])
        };
        let cal = vs::calibration(&pp, &yy, 10);
        let sub = data.select_rows(&rows);
        let sub_scored = super::subset_scored(&sc, &rows);
        let tr = tier_report(&sub, &sub_scored, Unit::Account, &DEFAULT_BANDS);
        let total: usize = tr.tiers.iter().map(|t| t.count.units).sum();
        quarters.push(Quarter {
            quarter: label.clone(),
            rows: rows.len(),
            events,
            auc,
            auc_ci,
            log_loss: stats::log_loss(&pp, &yy),
            brier: cal.brier,
            observed_expected: cal.observed_expected,
            slope: if both { cal.slope } else { f64::NAN },
            ece: cal.ece,
            tiers_monotone: tr.tier_check.monotone,
            min_tier_share: tr
                .tiers
                .iter()
                .map(|t| t.count.units as f64 / total.max(1) as f64)
                .fold(f64::INFINITY, f64::min),
            psi: vs::psi(&ref_scores, &scores, 10),
        });
    }
    let latest = quarters
        .iter()
        .rev()
        .find(|q| q.events > 0 && q.events < q.rows)
        .or(quarters.last())
        .expect("at least one quarter");
    let checks = checks(latest, gate);
    let passed = checks.iter().all(|c| c.status != Status::Fail);
    Ok(Monitor {
        profile: profile.name.clone(),
        reference,
        probabilities,
        quarters,
        checks,
        passed,
    })
}
/// The gate's checks that apply to one quarter of a live profile (all model defects).
fn checks(latest: &Quarter, gate: &Gate) -> Vec<Check> {
    let status = |ok: bool| if ok { Status::Pass } else { Status::Fail };
    vec![
        Check {
            check: format!("calibration slope ({})", latest.quarter),
            value: format!("{:.3}", latest.slope),
            threshold: format!("{} – {}", gate.slope[0], gate.slope[1]),
            status: status(latest.slope >= gate.slope[0] && latest.slope <= gate.slope[1]),
            kind: CheckKind::Defect,
        },
        Check {
            check: format!("observed / expected churn ({})", latest.quarter),
            value: format!("{:.3}", latest.observed_expected),
            threshold: format!(
                "{} – {}",
                gate.observed_expected[0], gate.observed_expected[1]
            ),
            status: status(
                latest.observed_expected >= gate.observed_expected[0]
                    && latest.observed_expected <= gate.observed_expected[1],
            ),
            kind: CheckKind::Defect,
        },
        Check {
            check: format!("tier churn strictly monotone ({})", latest.quarter),
            value: if latest.tiers_monotone { "yes" } else { "no" }.into(),
            threshold: "each worse tier churns more".into(),
            status: status(latest.tiers_monotone),
            kind: CheckKind::Defect,
        },
        Check {
            check: format!("score PSI against the reference ({})", latest.quarter),
            value: format!("{:.3}", latest.psi),
            threshold: format!("< {} (warn from {})", gate.psi_fail, gate.psi_warn),
            status: if latest.psi >= gate.psi_fail {
                Status::Fail
            } else if latest.psi >= gate.psi_warn {
                Status::Warn
            } else {
                Status::Pass
            },
            kind: CheckKind::Defect,
        },
    ]
}
