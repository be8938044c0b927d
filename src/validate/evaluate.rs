//! One profile on the validation rows: probabilities refitted on the development rows (or
//! out of fold), discrimination, calibration, lift, KS and the ROC curve.

use super::*;

/// Lift and capture when flagging the riskiest rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiftRow {
    /// `top 10 %`, … or `at or below <tier>`.
    pub flagged: String,
    /// Share of rows flagged.
    pub share: f64,
    /// Churn rate among them over the overall rate.
    pub lift: f64,
    /// Share of all churners among them.
    pub capture: f64,
}

/// One profile's figures on the validation rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelEval {
    /// Profile name.
    pub name: String,
    /// Where its probabilities come from.
    pub probabilities: String,
    /// AUC.
    pub auc: f64,
    /// DeLong 95 % interval.
    pub auc_ci: [f64; 2],
    /// Gini = 2 AUC − 1.
    pub gini: f64,
    /// KS separation.
    pub ks: f64,
    /// Log-loss.
    pub log_loss: f64,
    /// Calibration, Brier and its decomposition, reliability bins.
    pub calibration: vs::CalibrationStats,
    /// Lift at deciles.
    pub lift_deciles: Vec<LiftRow>,
    /// Lift at each tier cut-off.
    pub lift_tiers: Vec<LiftRow>,
    /// Tier churn on the validation accounts: monotonicity.
    pub tier_check: Monotonicity,
    /// Share of validation accounts per tier, best first.
    pub tier_shares: Vec<(String, f64)>,
    /// 95 % Wilson interval of each tier's churn rate on the validation accounts, best
    /// first (`NaN` for an empty tier).
    pub tier_intervals: Vec<(String, [f64; 2])>,
    /// The logistic regression of the validation outcome on the score, refitted: change of
    /// the log-odds of churn per 100 score points. Negative when a higher score means less
    /// churn, as a health score must.
    pub score_slope: f64,
    /// The slope's 95 % interval (Wald, from the Fisher information).
    pub score_slope_ci: [f64; 2],
    /// The ROC curve, thinned to at most ~200 points: (false-positive rate, true-positive rate).
    pub roc: Vec<(f64, f64)>,
}

pub(super) fn probabilities(
    profiles: &Profiles,
    scored: &Scored,
    y: &[u8],
    dev: &[usize],
    folds_of: Option<&[usize]>,
) -> (Vec<f64>, String) {
    match profiles {
        Profiles::One(profile) => {
            if let Some(c) = &profile.calibration {
                return (
                    scored.score.iter().map(|&s| c.probability(s)).collect(),
                    "the profile's calibration block".into(),
                );
            }
        }
        // Scored by each row's profile: P(churn) is there when every profile is calibrated.
        Profiles::Set(_) => {
            if let Some(p) = &scored.probability {
                return (p.clone(), "each row's profile's calibration block".into());
            }
        }
    }
    let s01: Vec<f64> = scored.score.iter().map(|s| s / 100.0).collect();
    let fit = |rows: &[usize]| {
        let s: Vec<f64> = rows.iter().map(|&i| s01[i]).collect();
        let yy: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
        let w = vec![1.0; rows.len()];
        let (a, b, _) = fit_two(&s, &yy, &w, (0.0, -1.0));
        (a, b)
    };
    match folds_of {
        None => {
            let (a, b) = fit(dev);
            (
                s01.iter().map(|&s| sigmoid(a + b * s)).collect(),
                "intercept and slope fitted on the development rows".into(),
            )
        }
        Some(fold) => {
            let k = fold.iter().copied().max().map_or(1, |m| m + 1);
            let mut p = vec![f64::NAN; s01.len()];
            for f in 0..k {
                let train: Vec<usize> = dev.iter().copied().filter(|&i| fold[i] != f).collect();
                let (a, b) = fit(&train);
                for &i in dev.iter().filter(|&&i| fold[i] == f) {
                    p[i] = sigmoid(a + b * s01[i]);
                }
            }
            (
                p,
                format!("intercept and slope fitted out of fold ({k} folds by account)"),
            )
        }
    }
}

pub(super) fn roc_points(keys: &[(u64, u32)], risk: &[f64], y: &[u8]) -> Vec<(f64, f64)> {
    let pos = y.iter().filter(|&&v| v == 1).count() as f64;
    let neg = y.len() as f64 - pos;
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let step = (risk.len() / 200).max(1);
    let mut since = 0;
    let mut groups = vs::tie_groups(keys, risk).rev().peekable();
    while let Some(group) = groups.next() {
        for &(_, r) in group {
            if y[r as usize] == 1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        since += group.len();
        if since >= step || groups.peek().is_none() {
            pts.push((fp / neg, tp / pos));
            since = 0;
        }
    }
    pts
}

pub(super) fn lift_at(
    risk: &[f64],
    y: &[u8],
    flagged: impl Fn(usize) -> bool,
    label: String,
) -> LiftRow {
    let n = risk.len() as f64;
    let total: f64 = y.iter().map(|&v| v as f64).sum();
    let (mut k, mut c) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        if flagged(i) {
            k += 1.0;
            c += yi as f64;
        }
    }
    LiftRow {
        flagged: label,
        share: k / n,
        lift: if k > 0.0 {
            (c / k) / (total / n)
        } else {
            f64::NAN
        },
        capture: c / total,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn evaluate(
    profile: &Profile,
    scored: &Scored,
    p_all: &[f64],
    probabilities: String,
    rows: &[usize],
    y: &[u8],
    val_data: &Snapshots,
    val_scored: &Scored,
    bins: usize,
) -> (ModelEval, vs::Components) {
    let risk: Vec<f64> = rows.iter().map(|&i| 100.0 - scored.score[i]).collect();
    let p: Vec<f64> = rows.iter().map(|&i| p_all[i]).collect();
    let yy: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
    // One sort of the risk serves the AUC and its DeLong components, the lift deciles, KS
    // and the ROC curve.
    let keys = stats::sorted_keys(&risk);
    let components = vs::components_sorted(&keys, &yy);
    let (auc, auc_ci) = vs::auc_ci_of(&components);
    // Deciles of risk, riskiest first, ties in row order: the keys' runs of equal values
    // from the top (a risk `100 − score` is never −0, so equal keys are equal values).
    let mut rank = vec![0usize; risk.len()];
    let descending = vs::tie_groups(&keys, &risk)
        .rev()
        .flat_map(|g| g.iter().map(|&(_, i)| i));
    for (r, i) in descending.enumerate() {
        rank[i as usize] = r;
    }
    let n = risk.len();
    let lift_deciles = (1..=5)
        .map(|k| {
            let cut = k * n / 10;
            lift_at(
                &risk,
                &yy,
                |i| rank[i] < cut,
                format!("riskiest {} %", k * 10),
            )
        })
        .collect();
    let names = scored.tier_names.clone();
    let tiers: Vec<u8> = rows.iter().map(|&i| scored.tier[i]).collect();
    let lift_tiers = (1..names.len())
        .rev()
        .map(|t| {
            lift_at(
                &risk,
                &yy,
                |i| tiers[i] != u8::MAX && tiers[i] as usize >= t,
                format!("{} or worse", names[t]),
            )
        })
        .collect();
    let (score_slope, score_slope_ci) = score_slope(rows, scored, y);
    let tr = tier_report(val_data, val_scored, Unit::Account, &DEFAULT_BANDS);
    let total: usize = tr.tiers.iter().map(|t| t.count.units).sum();
    let eval = ModelEval {
        name: profile.name.clone(),
        probabilities,
        auc,
        auc_ci,
        gini: 2.0 * auc - 1.0,
        ks: vs::ks_sorted(&keys, &risk, &yy),
        log_loss: stats::log_loss(&p, &yy),
        calibration: vs::calibration(&p, &yy, bins),
        lift_deciles,
        lift_tiers,
        tier_shares: tr
            .tiers
            .iter()
            .map(|t| (t.label.clone(), t.count.units as f64 / total.max(1) as f64))
            .collect(),
        tier_intervals: tr
            .tiers
            .iter()
            .map(|t| (t.label.clone(), t.count.ci))
            .collect(),
        tier_check: tr.tier_check,
        score_slope,
        score_slope_ci,
        roc: roc_points(&keys, &risk, &yy),
    };
    (eval, components)
}

/// The slope of `logit P(churn) = a + b · score / 100` refitted on `rows`, with its 95 %
/// Wald interval from the 2 × 2 Fisher information at the fit.
pub(super) fn score_slope(rows: &[usize], scored: &Scored, y: &[u8]) -> (f64, [f64; 2]) {
    let s: Vec<f64> = rows.iter().map(|&i| scored.score[i] / 100.0).collect();
    let yy: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
    let w = vec![1.0; rows.len()];
    let (a, b, _) = fit_two(&s, &yy, &w, (0.0, -1.0));
    let (mut i00, mut i01, mut i11) = (0.0, 0.0, 0.0);
    for &x in &s {
        let p = sigmoid(a + b * x);
        let v = p * (1.0 - p);
        i00 += v;
        i01 += v * x;
        i11 += v * x * x;
    }
    let det = i00 * i11 - i01 * i01;
    let se = if det > 0.0 {
        (i00 / det).sqrt()
    } else {
        f64::NAN
    };
    (b, [b - 1.96 * se, b + 1.96 * se])
}
