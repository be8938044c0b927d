//! The pre-rollout gate: a candidate profile against the incumbent on the same validation
//! accounts (out-of-time when the data has dates, else every row with out-of-fold
//! probabilities), with the checks and default thresholds of the specification
//! (`statistics.md`, "The pre-rollout gate"), every threshold overridable by a gate file.
//!
//! Probabilities: a profile with a `[calibration]` block is judged by its own mapping (what
//! would be deployed); one without is given an intercept and slope fitted on the development
//! rows (out-of-fold when there is no out-of-time split), so that proper scores compare
//! weights, not the absence of a mapping.

pub mod monitor;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::analysis::tiers::{tier_report, Monotonicity, DEFAULT_BANDS};
use crate::analysis::{unit_rows, Unit};
use crate::calibrate::{default_holdout, grouped_folds, problem::fit_two};
use crate::data::{parse, Day, Snapshots};
use crate::profile::Profile;
use crate::score::{self, Scored, SubScores};
use crate::stats::sigmoid;
use crate::stats::{self, evaluation as vs};

/// Thresholds of the gate. Every field can be set in a TOML gate file; missing fields keep
/// the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    /// Smallest acceptable ΔAUC (candidate − incumbent).
    pub min_delta_auc: f64,
    /// Calibration slope range.
    pub slope: [f64; 2],
    /// Observed / expected range.
    pub observed_expected: [f64; 2],
    /// Smallest share of the validation accounts in every tier.
    pub min_tier_share: f64,
    /// PSI from which the score has shifted (fail).
    pub psi_fail: f64,
    /// PSI from which to investigate (warn).
    pub psi_warn: f64,
    /// Smallest events per parameter in the development data.
    pub min_events_per_parameter: f64,
    /// Smallest AUC of a named segment...
    pub segment_auc_floor: f64,
    /// ...that has at least this many churn events.
    pub segment_min_events: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            min_delta_auc: -0.01,
            slope: [0.8, 1.2],
            observed_expected: [0.8, 1.25],
            min_tier_share: 0.05,
            psi_fail: 0.25,
            psi_warn: 0.10,
            min_events_per_parameter: 10.0,
            segment_auc_floor: 0.6,
            segment_min_events: 30,
        }
    }
}

impl Gate {
    /// Parse a gate file.
    pub fn from_toml(text: &str) -> Result<Gate, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Options of a validation.
#[derive(Debug, Clone)]
pub struct ValidateParams {
    /// First date of the validation period [default: the last 25 % of snapshot dates].
    pub holdout_from: Option<Day>,
    /// Paired bootstrap resamples of validation accounts.
    pub bootstrap: usize,
    /// Harrell's optimism bootstrap replicates (refits); 0 skips it.
    pub optimism_bootstrap: usize,
    /// Seed of the bootstrap and folds.
    pub seed: u64,
    /// Folds when there is no out-of-time split.
    pub folds: usize,
    /// Equal-count bins of the reliability diagram and ECE.
    pub bins: usize,
    /// Segment columns whose AUC is checked one by one against the gate's floor.
    pub segments: Vec<String>,
    /// The thresholds the candidate must meet.
    pub gate: Gate,
}

impl Default for ValidateParams {
    fn default() -> Self {
        ValidateParams {
            holdout_from: None,
            bootstrap: 200,
            optimism_bootstrap: 200,
            seed: 42,
            folds: 5,
            bins: 10,
            segments: Vec::new(),
            gate: Gate::default(),
        }
    }
}

impl ValidateParams {
    /// Check the parameters: at least two folds and two bins, a gate whose ranges are
    /// ordered.
    pub fn check(&self) -> Result<(), ValidateError> {
        if self.folds < 2 {
            return Err(ValidateError::Params(format!(
                "at least 2 folds are needed, got {}",
                self.folds
            )));
        }
        if self.bins < 2 {
            return Err(ValidateError::Params(format!(
                "at least 2 bins are needed, got {}",
                self.bins
            )));
        }
        let g = &self.gate;
        if g.slope[0] > g.slope[1] || g.observed_expected[0] > g.observed_expected[1] {
            return Err(ValidateError::Params(
                "the gate's slope and observed/expected ranges must be [low, high]".into(),
            ));
        }
        Ok(())
    }

    /// The gate: `candidate` against `incumbent` on the same validation rows of `data`.
    /// Handed over owned (`Cow::Owned`), the data's metric values are freed once the
    /// sub-scores exist.
    pub fn run(
        &self,
        candidate: &Profile,
        incumbent: &Profile,
        data: Cow<'_, Snapshots>,
    ) -> Result<Validation, ValidateError> {
        self.check()?;
        validate(candidate, incumbent, data, &self.segments, self, &self.gate)
    }
}

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
    /// The ROC curve, thinned to at most ~200 points: (false-positive rate, true-positive rate).
    pub roc: Vec<(f64, f64)>,
}

/// A paired difference with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDelta {
    /// Candidate − incumbent.
    pub delta: f64,
    /// 95 % percentile interval over account resamples.
    pub ci: [f64; 2],
}

/// Per-segment figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentEval {
    /// Segment column.
    pub column: String,
    /// Label.
    pub label: String,
    /// Validation rows.
    pub rows: usize,
    /// Churn events.
    pub events: usize,
    /// Candidate AUC.
    pub auc_candidate: f64,
    /// Incumbent AUC.
    pub auc_incumbent: f64,
    /// Candidate observed / expected.
    pub observed_expected: f64,
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Pass,
    /// Passed, with something to look at.
    Warn,
    /// Failed: the candidate should not replace the incumbent.
    Fail,
}

impl Status {
    /// `pass`, `warn` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One row of the verdict table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What is checked.
    pub check: String,
    /// The measured value.
    pub value: String,
    /// The threshold.
    pub threshold: String,
    /// Pass, warn or fail.
    pub status: Status,
}

/// The whole validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// How validation rows were chosen.
    pub scheme: String,
    /// Development rows (before the cut) and their events.
    pub development_rows: usize,
    /// Events in the development rows.
    pub development_events: usize,
    /// Validation rows.
    pub validation_rows: usize,
    /// Validation accounts.
    pub validation_accounts: usize,
    /// Events in the validation rows.
    pub validation_events: usize,
    /// The candidate.
    pub candidate: ModelEval,
    /// The incumbent.
    pub incumbent: ModelEval,
    /// DeLong comparison (A = candidate, B = incumbent).
    pub delong: vs::DeLong,
    /// Paired bootstrap Δ log-loss.
    pub delta_log_loss: PairedDelta,
    /// Paired bootstrap Δ Brier.
    pub delta_brier: PairedDelta,
    /// Bootstrap resamples used.
    pub bootstrap: usize,
    /// Candidate score PSI, development → validation (None without an out-of-time split).
    pub psi: Option<f64>,
    /// Candidate sub-score PSI per metric (CSI).
    pub csi: Vec<(String, f64)>,
    /// Tier migration: rows = incumbent tier, columns = candidate tier (validation accounts).
    pub migration: Vec<Vec<usize>>,
    /// Incumbent tier names.
    pub incumbent_tiers: Vec<String>,
    /// Candidate tier names.
    pub candidate_tiers: Vec<String>,
    /// Events per parameter of the candidate in the development data.
    pub events_per_parameter: f64,
    /// Harrell's optimism correction, for a candidate from `churncal calibrate`.
    pub optimism: Option<Optimism>,
    /// Named segments.
    pub segments: Vec<SegmentEval>,
    /// The gate applied.
    pub gate: Gate,
    /// The verdict table.
    pub checks: Vec<Check>,
    /// Whether every check passed (warnings allowed).
    pub passed: bool,
}

/// Apparent, optimism and corrected figures of Harrell's bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// AUC.
    pub auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Calibration slope.
    pub slope: f64,
}

/// Harrell's optimism correction of a calibrated candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimism {
    /// Shrinkage λ the refits use (the candidate's own).
    pub lambda: f64,
    /// Rows the candidate is judged on (every scored row of the data).
    pub rows: usize,
    /// The candidate on those rows.
    pub apparent: Figures,
    /// Mean over replicates of (refit on its own sample − refit on the original rows).
    pub optimism: Figures,
    /// Apparent − optimism.
    pub corrected: Figures,
    /// Replicates.
    pub replicates: usize,
    /// Replicates whose solver stopped before converging (their fits are still used).
    pub not_converged: usize,
}

fn figures(p: &[f64], y: &[u8], risk: &[f64]) -> Figures {
    let c = vs::calibration(p, y, 1);
    Figures {
        auc: stats::auc(risk, y),
        brier: c.brier,
        slope: c.slope,
    }
}

/// Harrell's optimism bootstrap for a candidate that carries a calibration block with its
/// prior weights: `replicates` times, resample accounts, refit the constrained weights at the
/// candidate's λ from its prior (warm-started at the candidate's own fit), score the refit on
/// its own sample and on the original rows; the mean difference is the optimism. `None` when
/// the candidate is not a churncal calibration (no prior weights to shrink toward).
///
/// `subs` are the candidate's sub-scores on `data`; they are consumed (freed once copied into
/// the refits' matrix).
pub fn harrell_optimism(
    candidate: &Profile,
    data: &Snapshots,
    subs: SubScores,
    replicates: usize,
    seed: u64,
) -> Result<Option<Optimism>, ValidateError> {
    assert_eq!(subs.rows, data.rows, "sub-scores of these data");
    use crate::calibrate::problem::{evaluate_objective, fit_constrained, FitData, LOOSE};
    let Some(cal) = &candidate.calibration else {
        return Ok(None);
    };
    let prior_w: Option<Vec<f64>> = candidate
        .metrics
        .iter()
        .map(|m| m.calibration.as_ref().and_then(|c| c.prior_weight))
        .collect();
    let Some(w0) = prior_w else {
        return Ok(None);
    };
    let y_all = data
        .outcome
        .as_deref()
        .ok_or_else(|| ValidateError::Data("validation needs the outcome".into()))?;
    let lambda = cal.shrinkage.unwrap_or(f64::INFINITY);
    let mut rows: Vec<usize> = (0..data.rows).filter(|&i| subs.present[i] > 0).collect();
    // Rows in account order: a replicate's left-out accounts are runs the refits skip.
    crate::data::order::by_account(&mut rows, &data.account, data.n_accounts);
    let fd = FitData::from_columns(&subs.columns, y_all, &rows);
    drop(subs);
    let sum_w0: f64 = w0.iter().sum();
    let w0: Vec<f64> = w0.iter().map(|w| 100.0 * w / sum_w0.max(1e-12)).collect();
    // The candidate's own fit, as the starting point and the apparent model.
    let w_c = candidate.effective_weights();
    let b_c = -cal.slope;
    let beta_c: Vec<f64> = w_c.iter().map(|w| b_c.max(1e-6) * w / 100.0).collect();
    // Probabilities, risk (−score) and log-odds of the rows for (α, β).
    let predict = |alpha: f64, beta: &[f64]| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let s = fd.scores(beta);
        let slope = -beta.iter().sum::<f64>();
        let lp: Vec<f64> = s.iter().map(|&v| alpha + slope * v).collect();
        let p = lp.iter().map(|&v| sigmoid(v)).collect();
        let risk = s.iter().map(|&v| -v).collect();
        (p, risk, lp)
    };
    let (p_app, r_app, _) = predict(cal.intercept, &beta_c);
    let apparent = figures(&p_app, &fd.y, &r_app);
    // The likelihood's curvature at the candidate on the original rows: each refit's first
    // Newton step (the replicates are resamples of these rows).
    let theta_c: Vec<f64> = std::iter::once(cal.intercept)
        .chain(beta_c.iter().copied())
        .collect();
    let information = evaluate_objective(&fd, &beta_c, 0.0, &theta_c, true).curvature;
    // The prior's own intercept and slope on the original rows: each replicate's start.
    let prior_fit = {
        let (a, b, _) = fit_two(&fd.scores(&w0), &fd.y, &fd.w, (cal.intercept, cal.slope));
        (a, b)
    };

    // Accounts of the rows, for resampling.
    let mut acc_index: rustc_hash::FxHashMap<u32, usize> = rustc_hash::FxHashMap::default();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (r, &i) in rows.iter().enumerate() {
        let next = acc_index.len();
        let a = *acc_index.entry(data.account[i]).or_insert(next);
        if a == members.len() {
            members.push(Vec::new());
        }
        members[a].push(r as u32);
    }
    let na = members.len();
    let results: Vec<(Figures, Figures, bool)> = (0..replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0a7e_0000 ^ b as u64);
            let mut w = vec![0f64; fd.n];
            for _ in 0..na {
                for &r in &members[rng.random_range(0..na)] {
                    w[r as usize] += 1.0;
                }
            }
            let boot = fd.with_weights(w);
            // The prior's own slope on the replicate sets the shrinkage target's scale,
            // as in calibration.
            let s0 = boot.scores(&w0);
            let (a0, slope0, _) = fit_two(&s0, &boot.y, &boot.w, prior_fit);
            let beta0: Vec<f64> = w0.iter().map(|v| (-slope0).max(0.1) * v / 100.0).collect();
            let (alpha, beta, ok) = if lambda.is_infinite() {
                let (a, sl, ok) = fit_two(&s0, &boot.y, &boot.w, (a0, slope0));
                let beta: Vec<f64> = w0.iter().map(|v| (-sl).max(1e-6) * v / 100.0).collect();
                (a, beta, ok)
            } else {
                let f = fit_constrained(
                    &boot,
                    &beta0,
                    lambda,
                    (cal.intercept, &beta_c),
                    Some(&information),
                    1000,
                    LOOSE,
                );
                (f.alpha, f.beta, f.solver.converged)
            };
            let (p, risk, lp) = predict(alpha, &beta);
            // Own sample: the original rows weighted by their bootstrap counts.
            let (auc_own, auc_test) = vs::auc_weighted_and_plain(&risk, &boot.y, &boot.w);
            let (mut b_own, mut b_test, mut n_own) = (0.0, 0.0, 0.0);
            for ((&pp, &yy), &ww) in p.iter().zip(boot.y.iter()).zip(&boot.w) {
                let e = (pp - yy as f64).powi(2);
                b_own += ww * e;
                b_test += e;
                n_own += ww;
            }
            let ones = vec![1.0; fd.n];
            let own = Figures {
                auc: auc_own,
                brier: b_own / n_own,
                slope: vs::calibration_slope_of_logits(&lp, &boot.y, &boot.w),
            };
            let test = Figures {
                auc: auc_test,
                brier: b_test / fd.n as f64,
                slope: vs::calibration_slope_of_logits(&lp, &boot.y, &ones),
            };
            (own, test, ok)
        })
        .collect();
    let nrep = results.len().max(1) as f64;
    let mean =
        |f: &dyn Fn(&(Figures, Figures, bool)) -> f64| results.iter().map(f).sum::<f64>() / nrep;
    let optimism = Figures {
        auc: mean(&|r| r.0.auc - r.1.auc),
        brier: mean(&|r| r.0.brier - r.1.brier),
        slope: mean(&|r| r.0.slope - r.1.slope),
    };
    Ok(Some(Optimism {
        lambda,
        rows: fd.n,
        apparent,
        optimism,
        corrected: Figures {
            auc: apparent.auc - optimism.auc,
            brier: apparent.brier - optimism.brier,
            slope: apparent.slope - optimism.slope,
        },
        replicates: results.len(),
        not_converged: results.iter().filter(|r| !r.2).count(),
    }))
}

fn probabilities(
    profile: &Profile,
    scored: &Scored,
    y: &[u8],
    dev: &[usize],
    folds_of: Option<&[usize]>,
) -> (Vec<f64>, String) {
    if let Some(c) = &profile.calibration {
        return (
            scored.score.iter().map(|&s| c.probability(s)).collect(),
            "the profile's calibration block".into(),
        );
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

fn roc_points(keys: &[(u64, u32)], risk: &[f64], y: &[u8]) -> Vec<(f64, f64)> {
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

fn lift_at(risk: &[f64], y: &[u8], flagged: impl Fn(usize) -> bool, label: String) -> LiftRow {
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
fn evaluate(
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
        tier_check: tr.tier_check,
        roc: roc_points(&keys, &risk, &yy),
    };
    (eval, components)
}

pub(crate) fn subset_scored(s: &Scored, rows: &[usize]) -> Scored {
    Scored {
        score: rows.iter().map(|&i| s.score[i]).collect(),
        group_labels: Vec::new(),
        group_scores: Vec::new(),
        tier: rows.iter().map(|&i| s.tier[i]).collect(),
        tier_names: s.tier_names.clone(),
        tier_colors: s.tier_colors.clone(),
        tier_mins: s.tier_mins.clone(),
        probability: s
            .probability
            .as_ref()
            .map(|p| rows.iter().map(|&i| p[i]).collect()),
        metric_names: Vec::new(),
        reasons: Vec::new(),
        reason_points: Vec::new(),
        reasons_per_row: 0,
        unscored: 0,
    }
}

/// Errors of a validation.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The parameters are out of range.
    #[error("validation parameters: {0}")]
    Params(String),
    /// The data cannot be split or scored as needed.
    #[error("{0}")]
    Data(String),
    /// Scoring failed.
    #[error(transparent)]
    Score(#[from] crate::score::ScoreError),
}

/// One validation account's sums for the paired bootstrap: log-loss of the candidate and
/// the incumbent, Brier of each, rows. One cache line each, so a draw touches one line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct AccountSums([f64; 5]);

/// Accounts drawn, and their sums prefetched, before they are added.
const DRAW_BATCH: usize = 32;

/// Ask for the cache line holding `v` ahead of its use.
#[inline(always)]
fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86_64; a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Validate `candidate` against `incumbent` on `data` (with outcome), applying `gate`.
fn validate(
    candidate: &Profile,
    incumbent: &Profile,
    data: Cow<'_, Snapshots>,
    segments: &[String],
    params: &ValidateParams,
    gate: &Gate,
) -> Result<Validation, ValidateError> {
    let stage = tracing::info_span!("validate: both profiles scored").entered();
    let mut data = data;
    if data.outcome.is_none() {
        return Err(ValidateError::Data("validation needs the outcome".into()));
    }
    let (subs, sc, si) = score_both(candidate, incumbent, &mut data)?;
    let data: &Snapshots = &data;
    let y = data.outcome.as_deref().expect("checked above");
    let scored_both: Vec<usize> = (0..data.rows)
        .filter(|&i| sc.tier[i] != u8::MAX && si.tier[i] != u8::MAX)
        .collect();
    drop(stage);
    let stage = tracing::info_span!("validate: stability of the metrics, optimism").entered();

    let Split {
        scheme,
        dev,
        val,
        folds,
        dev_events,
        val_events,
    } = split(data, &scored_both, params, y)?;

    // What needs the candidate's sub-scores comes first, and then they are freed: the
    // per-metric stability (out of time only) and Harrell's optimism.
    let oot = folds.is_none();
    let csi = if oot {
        metric_stability(candidate, &subs, &dev, &val)
    } else {
        Vec::new()
    };
    let optimism = if params.optimism_bootstrap > 0 {
        harrell_optimism(
            candidate,
            data,
            subs,
            params.optimism_bootstrap,
            params.seed,
        )?
    } else {
        drop(subs);
        None
    };
    drop(stage);
    let stage = tracing::info_span!("validate: probabilities").entered();

    // The two profiles' figures are independent: each pair runs on both cores (much of
    // each is a serial walk over the validation rows).
    let ((pc, src_c), (pi, src_i)) = rayon::join(
        || probabilities(candidate, &sc, y, &dev, folds.as_deref()),
        || probabilities(incumbent, &si, y, &dev, folds.as_deref()),
    );

    let val_data = data.select_rows_without_metrics(&val);
    drop(stage);
    let stage = tracing::info_span!("validate: evaluations").entered();
    let (val_sc, val_si) = (subset_scored(&sc, &val), subset_scored(&si, &val));
    let ((cand, comp_c), (inc, comp_i)) = rayon::join(
        || {
            evaluate(
                candidate,
                &sc,
                &pc,
                src_c,
                &val,
                y,
                &val_data,
                &val_sc,
                params.bins,
            )
        },
        || {
            evaluate(
                incumbent,
                &si,
                &pi,
                src_i,
                &val,
                y,
                &val_data,
                &val_si,
                params.bins,
            )
        },
    );

    drop(stage);
    let stage = tracing::info_span!("validate: DeLong and the bootstrap's account sums").entered();
    // DeLong's test (from the evaluations' components) and the per-account sums of the
    // paired bootstrap, side by side.
    let (delong, sums) = rayon::join(
        || vs::delong_of(&comp_c, &comp_i),
        || account_sums(&val, &data.account, y, &pc, &pi),
    );
    let na = sums.len();
    drop(stage);
    let stage = tracing::info_span!("validate: paired bootstrap").entered();
    let reps = paired_bootstrap(&sums, params.bootstrap, params.seed);
    let delta_log_loss = paired_delta(
        reps.iter().map(|r| r.0).collect(),
        cand.log_loss - inc.log_loss,
    );
    let delta_brier = paired_delta(
        reps.iter().map(|r| r.1).collect(),
        cand.calibration.brier - inc.calibration.brier,
    );

    drop(stage);
    let stage = tracing::info_span!("validate: stability, migration, segments").entered();
    // Stability of the score.
    let psi = oot.then(|| {
        let (d, v) = (
            dev.iter().map(|&i| sc.score[i]),
            val.iter().map(|&i| sc.score[i]),
        );
        vs::psi_of(d, v, 10, &mut Vec::new())
    });

    let migration = migration(&val_data, &val_si, &val_sc);

    let seg_out = segment_evals(segments, data, &val, y, (&sc, &si), &pc)?;

    let params_n = candidate.metrics.len().max(1) as f64;
    drop(stage);
    let epv = dev_events as f64 / params_n;

    let checks = gate_checks(
        gate,
        &cand,
        &delong,
        delta_log_loss,
        delta_brier,
        psi,
        epv,
        &seg_out,
    );
    let passed = checks.iter().all(|c| c.status != Status::Fail);
    Ok(Validation {
        scheme,
        development_rows: dev.len(),
        development_events: dev_events,
        validation_rows: val.len(),
        validation_accounts: na,
        validation_events: val_events,
        candidate: cand,
        incumbent: inc,
        delong,
        delta_log_loss,
        delta_brier,
        bootstrap: params.bootstrap,
        psi,
        csi,
        migration,
        incumbent_tiers: si.tier_names.clone(),
        candidate_tiers: sc.tier_names.clone(),
        events_per_parameter: epv,
        optimism,
        segments: seg_out,
        gate: gate.clone(),
        checks,
        passed,
    })
}

/// Both profiles' scores and tiers, and the candidate's sub-scores. The candidate's
/// sub-scores serve the incumbent too when they are the same (a recalibration changes
/// weights, not transforms), and the stability and optimism figures. Otherwise the
/// incumbent is scored first, so that its own sub-scores are freed before the candidate's
/// exist. Past the candidate's sub-scores the metric values are not needed: when the data
/// is ours they become the sub-scores in place, and the rest is freed.
fn score_both(
    candidate: &Profile,
    incumbent: &Profile,
    data: &mut Cow<'_, Snapshots>,
) -> Result<(SubScores, Scored, Scored), ValidateError> {
    let candidate_subs = |data: &mut Cow<'_, Snapshots>| match data {
        Cow::Owned(d) => {
            let subs = SubScores::compute_consuming(candidate, d);
            d.metrics = Vec::new();
            subs
        }
        Cow::Borrowed(d) => SubScores::compute(candidate, d),
    };
    if SubScores::same_for(candidate, incumbent) {
        let subs = candidate_subs(data)?;
        let sc = score::score(candidate, &subs, score::Extent::Tiers);
        let si = score::score(incumbent, &subs, score::Extent::Tiers);
        Ok((subs, sc, si))
    } else {
        let incumbent_subs = SubScores::compute(incumbent, data)?;
        let si = score::score(incumbent, &incumbent_subs, score::Extent::Tiers);
        drop(incumbent_subs);
        let subs = candidate_subs(data)?;
        let sc = score::score(candidate, &subs, score::Extent::Tiers);
        Ok((subs, sc, si))
    }
}

/// Development and validation rows: out-of-time at the holdout date when there are dates,
/// else every row validates with probabilities fitted out of fold.
struct Split {
    scheme: String,
    dev: Vec<usize>,
    val: Vec<usize>,
    /// Each row's fold, when there is no out-of-time split.
    folds: Option<Vec<usize>>,
    dev_events: usize,
    val_events: usize,
}

/// The split of the rows both profiles score.
fn split(
    data: &Snapshots,
    scored_both: &[usize],
    params: &ValidateParams,
    y: &[u8],
) -> Result<Split, ValidateError> {
    // The split.
    let distinct: Vec<Day> = data
        .date
        .as_deref()
        .map(crate::data::order::distinct_days)
        .unwrap_or_default();
    let cut = match (params.holdout_from, distinct.len()) {
        (Some(d), _) => Some(d),
        (None, n) if n >= 2 => Some(default_holdout(&distinct)),
        _ => None,
    };
    let (scheme, dev, val, folds) = match (cut, data.date.as_ref()) {
        (Some(c), Some(dates)) => {
            let dev: Vec<usize> = scored_both
                .iter()
                .copied()
                .filter(|&i| dates[i] < c)
                .collect();
            let val: Vec<usize> = scored_both
                .iter()
                .copied()
                .filter(|&i| dates[i] >= c)
                .collect();
            (
                format!(
                    "Out-of-time: snapshots from {} validate, earlier ones are the development data",
                    parse::format_day(c)
                ),
                dev,
                val,
                None,
            )
        }
        _ => {
            let fold = grouped_folds(&data.account, params.folds, params.seed);
            (
                format!(
                    "No out-of-time split (no or one snapshot date): every row validates, with probabilities fitted out of fold ({} folds by account)",
                    params.folds
                ),
                scored_both.to_vec(),
                scored_both.to_vec(),
                Some(fold),
            )
        }
    };
    let events = |rows: &[usize]| rows.iter().filter(|&&i| y[i] == 1).count();
    let (dev_events, val_events) = (events(&dev), events(&val));
    if val_events == 0 || val_events == val.len() {
        return Err(ValidateError::Data(format!(
            "the validation rows ({}) need both churned and retained snapshots; pass an earlier --holdout-from",
            val.len()
        )));
    }
    if dev_events == 0 || dev_events == dev.len() {
        return Err(ValidateError::Data(
            "the development rows need both churned and retained snapshots; pass a later --holdout-from".into(),
        ));
    }

    Ok(Split {
        scheme,
        dev,
        val,
        folds,
        dev_events,
        val_events,
    })
}

/// Per validation account, in order of first appearance: the candidate's and the
/// incumbent's log-loss and Brier sums, and its rows (the paired bootstrap's units).
fn account_sums(
    val: &[usize],
    account: &[u32],
    y: &[u8],
    pc: &[f64],
    pi: &[f64],
) -> Vec<AccountSums> {
    // Paired bootstrap over validation accounts.
    let mut acc_index: rustc_hash::FxHashMap<u32, usize> = rustc_hash::FxHashMap::default();
    let mut sums: Vec<AccountSums> = Vec::new();
    let eps = 1e-15;
    for &i in val {
        let next = acc_index.len();
        let a = *acc_index.entry(account[i]).or_insert(next);
        if a == sums.len() {
            sums.push(AccountSums([0.0; 5]));
        }
        let yy = y[i] as f64;
        let ll = |p: f64| {
            let p = p.clamp(eps, 1.0 - eps);
            -(yy * p.ln() + (1.0 - yy) * (1.0 - p).ln())
        };
        let s = &mut sums[a].0;
        s[0] += ll(pc[i]);
        s[1] += ll(pi[i]);
        s[2] += (pc[i] - yy).powi(2);
        s[3] += (pi[i] - yy).powi(2);
        s[4] += 1.0;
    }
    sums
}

/// `b` paired bootstrap replicates over accounts of (Δ log-loss, Δ Brier) per row.
fn paired_bootstrap(sums: &[AccountSums], b: usize, seed: u64) -> Vec<(f64, f64)> {
    let na = sums.len();
    (0..b)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000 ^ b as u64);
            let mut t = [0f64; 5];
            // The draws in batches: each batch's accounts are drawn and their sums
            // prefetched, then added in draw order (the same bits as one at a time). With
            // a million accounts the sums outgrow the caches and each draw is a memory
            // access; a batch's accesses overlap instead of queueing.
            let mut draws = [0usize; DRAW_BATCH];
            let mut left = na;
            while left > 0 {
                let m = left.min(DRAW_BATCH);
                for d in draws[..m].iter_mut() {
                    *d = rng.random_range(0..na);
                    prefetch(&sums[*d]);
                }
                for &d in &draws[..m] {
                    for (tk, sk) in t.iter_mut().zip(&sums[d].0) {
                        *tk += sk;
                    }
                }
                left -= m;
            }
            ((t[0] - t[1]) / t[4], (t[2] - t[3]) / t[4])
        })
        .collect()
}

/// Each metric's stability (PSI of its sub-score) from the development to the validation
/// rows.
fn metric_stability(
    candidate: &Profile,
    subs: &SubScores,
    dev: &[usize],
    val: &[usize],
) -> Vec<(String, f64)> {
    candidate
        .metrics
        .par_iter()
        .enumerate()
        .map_init(Vec::new, |scratch, (m, metric)| {
            let col = &subs.columns[m];
            let (d, v) = (dev.iter().map(|&i| col[i]), val.iter().map(|&i| col[i]));
            (metric.name.clone(), vs::psi_of(d, v, 10, scratch))
        })
        .collect()
}

/// A paired difference with its 95 % percentile interval from the replicates.
fn paired_delta(mut v: Vec<f64>, point: f64) -> PairedDelta {
    if v.is_empty() {
        return PairedDelta {
            delta: point,
            ci: [f64::NAN, f64::NAN],
        };
    }
    v.sort_by(f64::total_cmp);
    PairedDelta {
        delta: point,
        ci: [stats::quantile(&v, 0.025), stats::quantile(&v, 0.975)],
    }
}

/// Validation accounts by incumbent tier (rows) and candidate tier (columns), each at its
/// last validation snapshot.
fn migration(val_data: &Snapshots, val_si: &Scored, val_sc: &Scored) -> Vec<Vec<usize>> {
    // Migration on validation accounts.
    let ki = val_si.tier_names.len();
    let kc = val_sc.tier_names.len();
    let mut migration = vec![vec![0usize; kc]; ki];
    for r in unit_rows(&val_data, Unit::Account) {
        let (a, b) = (val_si.tier[r as usize], val_sc.tier[r as usize]);
        migration[a as usize][b as usize] += 1;
    }

    migration
}

/// Each named segment's labels on the validation rows: both profiles' AUC and the
/// candidate's observed/expected.
fn segment_evals(
    segments: &[String],
    data: &Snapshots,
    val: &[usize],
    y: &[u8],
    (sc, si): (&Scored, &Scored),
    pc: &[f64],
) -> Result<Vec<SegmentEval>, ValidateError> {
    // Segments.
    let mut seg_out = Vec::new();
    for name in segments {
        let Some(seg) = data.segments.iter().find(|s| &s.name == name) else {
            return Err(ValidateError::Data(format!(
                "segment column '{name}' was not loaded"
            )));
        };
        for (code, label) in seg.labels.iter().enumerate() {
            let rows: Vec<usize> = val
                .iter()
                .copied()
                .filter(|&i| seg.codes[i] as usize == code)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let yy: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
            let ev = yy.iter().filter(|&&v| v == 1).count();
            let rc: Vec<f64> = rows.iter().map(|&i| 100.0 - sc.score[i]).collect();
            let ri: Vec<f64> = rows.iter().map(|&i| 100.0 - si.score[i]).collect();
            let exp: f64 = rows.iter().map(|&i| pc[i]).sum();
            seg_out.push(SegmentEval {
                column: name.clone(),
                label: label.clone(),
                rows: rows.len(),
                events: ev,
                auc_candidate: stats::auc(&rc, &yy),
                auc_incumbent: stats::auc(&ri, &yy),
                observed_expected: ev as f64 / exp,
            });
        }
    }

    Ok(seg_out)
}

fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

#[allow(clippy::too_many_arguments)]
fn gate_checks(
    g: &Gate,
    c: &ModelEval,
    d: &vs::DeLong,
    dll: PairedDelta,
    dbr: PairedDelta,
    psi: Option<f64>,
    epv: f64,
    segments: &[SegmentEval],
) -> Vec<Check> {
    let mut out = Vec::new();
    let status = |ok: bool| if ok { Status::Pass } else { Status::Fail };
    out.push(Check {
        check: "ΔAUC (candidate − incumbent), non-inferiority".into(),
        value: format!(
            "{:+.4} (95 % CI {:+.4} to {:+.4})",
            d.delta, d.ci_delta[0], d.ci_delta[1]
        ),
        threshold: format!("≥ {:+.3}", g.min_delta_auc),
        status: if d.delta < g.min_delta_auc {
            Status::Fail
        } else if d.ci_delta[0] < g.min_delta_auc {
            Status::Warn
        } else {
            Status::Pass
        },
    });
    for (name, pd) in [("Δ log-loss", dll), ("Δ Brier", dbr)] {
        out.push(Check {
            check: format!("{name} (candidate − incumbent), not worse beyond its interval"),
            value: format!(
                "{:+.5} (95 % CI {:+.5} to {:+.5})",
                pd.delta, pd.ci[0], pd.ci[1]
            ),
            threshold: "interval not wholly above 0".into(),
            status: if pd.ci[0] > 0.0 {
                Status::Fail
            } else if pd.delta > 0.0 {
                Status::Warn
            } else {
                Status::Pass
            },
        });
    }
    let cal = &c.calibration;
    out.push(Check {
        check: "calibration slope".into(),
        value: f3(cal.slope),
        threshold: format!("{} – {}", g.slope[0], g.slope[1]),
        status: status(cal.slope >= g.slope[0] && cal.slope <= g.slope[1]),
    });
    out.push(Check {
        check: "observed / expected churn".into(),
        value: f3(cal.observed_expected),
        threshold: format!("{} – {}", g.observed_expected[0], g.observed_expected[1]),
        status: status(
            cal.observed_expected >= g.observed_expected[0]
                && cal.observed_expected <= g.observed_expected[1],
        ),
    });
    let bad: Vec<String> = c
        .tier_check
        .steps
        .iter()
        .filter(|s| !s.increases)
        .map(|s| format!("{} → {}", s.better, s.worse))
        .collect();
    out.push(Check {
        check: "tier churn strictly monotone".into(),
        value: if bad.is_empty() {
            "yes".into()
        } else {
            format!("no: {}", bad.join(", "))
        },
        threshold: "each worse tier churns more".into(),
        status: status(bad.is_empty()),
    });
    let min_share = c
        .tier_shares
        .iter()
        .map(|t| t.1)
        .fold(f64::INFINITY, f64::min);
    let smallest = c
        .tier_shares
        .iter()
        .find(|t| t.1 == min_share)
        .map_or(String::new(), |t| t.0.clone());
    out.push(Check {
        check: "smallest tier share".into(),
        value: format!("{:.1} % ({smallest})", 100.0 * min_share),
        threshold: format!("≥ {:.0} %", 100.0 * g.min_tier_share),
        status: status(min_share >= g.min_tier_share),
    });
    out.push(match psi {
        Some(p) => Check {
            check: "score PSI, development → validation".into(),
            value: f3(p),
            threshold: format!("< {} (warn from {})", g.psi_fail, g.psi_warn),
            status: if p >= g.psi_fail {
                Status::Fail
            } else if p >= g.psi_warn {
                Status::Warn
            } else {
                Status::Pass
            },
        },
        None => Check {
            check: "score PSI, development → validation".into(),
            value: "not measured: no out-of-time split".into(),
            threshold: format!("< {}", g.psi_fail),
            status: Status::Warn,
        },
    });
    out.push(Check {
        check: "events per parameter (development data)".into(),
        value: format!("{epv:.1}"),
        threshold: format!("≥ {}", g.min_events_per_parameter),
        status: status(epv >= g.min_events_per_parameter),
    });
    let judged: Vec<&SegmentEval> = segments
        .iter()
        .filter(|s| s.events >= g.segment_min_events)
        .collect();
    if !segments.is_empty() {
        let low: Vec<String> = judged
            .iter()
            // NaN (one class only) counts as below the floor
            .filter(|s| s.auc_candidate.is_nan() || s.auc_candidate < g.segment_auc_floor)
            .map(|s| format!("{}={} ({})", s.column, s.label, f3(s.auc_candidate)))
            .collect();
        out.push(Check {
            check: "segment AUC floor".into(),
            value: if low.is_empty() {
                format!("{} segments judged, none below", judged.len())
            } else {
                low.join(", ")
            },
            threshold: format!(
                "≥ {} where ≥ {} events",
                g.segment_auc_floor, g.segment_min_events
            ),
            status: status(low.is_empty()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_file_overrides_some_thresholds_and_rejects_typos() {
        let g = Gate::from_toml("min_delta_auc = -0.02\nslope = [0.7, 1.3]\n").unwrap();
        assert_eq!(g.min_delta_auc, -0.02);
        assert_eq!(g.slope, [0.7, 1.3]);
        assert_eq!(g.psi_fail, 0.25);
        assert!(Gate::from_toml("min_delta_aux = 1").is_err());
    }
}
