//! The pre-rollout gate: a candidate profile against the incumbent on the same validation
//! accounts (out-of-time when the data has dates, else every row with out-of-fold
//! probabilities), with the checks and default thresholds of `docs/methods.md`
//! ("The pre-rollout gate"), every threshold overridable by a gate file.
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
use crate::profile::set::Profiles;
use crate::profile::Profile;
use crate::score::{self, Scored, SubScores};
use crate::stats::sigmoid;
use crate::stats::{self, evaluation as vs};

mod evaluate;
mod gate;
mod optimism;
mod paired;
mod replicates;
pub use evaluate::*;
pub use gate::*;
pub use optimism::*;
use paired::*;

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
    /// Refit the candidate to convergence on every optimism replicate instead of one
    /// constrained Newton step from its own fit (the one-step bootstrap, as the
    /// calibration's). Default false.
    pub full_refits: bool,
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
            full_refits: false,
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
        self.run_sets(
            &Profiles::One(candidate.clone()),
            &Profiles::One(incumbent.clone()),
            data,
        )
    }

    /// [`ValidateParams::run`] where either side may be a profile set: each row is scored
    /// by its segment value's profile, the probabilities are each row's profile's, and the
    /// optimism bootstrap refits every profile of a candidate set on its own rows.
    pub fn run_sets(
        &self,
        candidate: &Profiles,
        incumbent: &Profiles,
        data: Cow<'_, Snapshots>,
    ) -> Result<Validation, ValidateError> {
        self.check()?;
        validate(candidate, incumbent, data, &self.segments, self, &self.gate)
    }
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
    /// Churn events per fitted weight of the candidate over every row both profiles score
    /// (as calibration counts them).
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
    /// One side of the split has churned or retained snapshots only: move the holdout date
    /// (earlier for the validation side, later for the development side).
    #[error("the {part} rows ({rows}) need both churned and retained snapshots")]
    OneClass {
        /// The side without both classes.
        part: SplitPart,
        /// Its rows.
        rows: usize,
    },
    /// The data cannot be split or scored as needed.
    #[error("{0}")]
    Data(String),
    /// Scoring failed.
    #[error(transparent)]
    Score(#[from] crate::score::ScoreError),
}

/// Validate `candidate` against `incumbent` on `data` (with outcome), applying `gate`.
fn validate(
    candidate_set: &Profiles,
    incumbent_set: &Profiles,
    data: Cow<'_, Snapshots>,
    segments: &[String],
    params: &ValidateParams,
    gate: &Gate,
) -> Result<Validation, ValidateError> {
    let stage = tracing::info_span!("validate: score both profiles").entered();
    let mut data = data;
    if data.outcome.is_none() {
        return Err(ValidateError::Data("validation needs the outcome".into()));
    }
    let (candidate, incumbent) = (candidate_set.main(), incumbent_set.main());
    let (subs, mut sc, mut si, assignment) = score_both(candidate_set, incumbent_set, &mut data)?;
    // One profile's P(churn) is taken from its calibration block where it is needed
    // ([`evaluate::probabilities`]); only a set's scored probabilities are read.
    for (set, scored) in [(candidate_set, &mut sc), (incumbent_set, &mut si)] {
        if matches!(set, Profiles::One(_)) {
            scored.probability = None;
        }
    }
    crate::data::memory::release_free();
    let data: &Snapshots = &data;
    let y = data.outcome.as_deref().expect("checked above");
    let scored_both: Vec<usize> = (0..data.rows)
        .filter(|&i| sc.tier[i] != u8::MAX && si.tier[i] != u8::MAX)
        .collect();
    drop(stage);
    let stage = tracing::info_span!("validate: split, metric stability, optimism").entered();

    let Split {
        scheme,
        dev,
        val,
        folds,
        dev_events,
        val_events,
    } = split(data, &scored_both, params, y)?;
    // Its events are all that is needed of it after the split.
    let events_scored_both = scored_both.iter().filter(|&&i| y[i] == 1).count();
    drop(scored_both);

    // What needs the candidate's sub-scores comes first, and then they are freed: the
    // per-metric stability (out of time only) and Harrell's optimism.
    let oot = folds.is_none();
    let (csi, optimism) = metric_stability_and_optimism(
        candidate,
        assignment.as_ref(),
        data,
        subs,
        (&dev, &val),
        oot,
        params,
    )?;
    drop(stage);
    let stage = tracing::info_span!("validate: probabilities").entered();

    // The two profiles' figures are independent: each pair runs on both cores (much of
    // each is a serial walk over the validation rows).
    let ((pc, src_c), (pi, src_i)) = rayon::join(
        || probabilities(candidate_set, &sc, y, &dev, folds.as_deref()),
        || probabilities(incumbent_set, &si, y, &dev, folds.as_deref()),
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
    let stage = tracing::info_span!("validate: DeLong, account sums").entered();
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
    let psi = oot.then(|| score_psi(&sc, &dev, &val));
    let migration = migration(&val_data, &val_si, &val_sc);
    let seg_out = segment_evals(segments, data, &val, y, (&sc, &si), &pc)?;
    drop(stage);
    // A set fits every profile's weights.
    let epv = events_per_parameter(candidate, events_scored_both)
        / assignment
            .as_ref()
            .map_or(1, |a| a.rows.iter().filter(|&&n| n > 0).count().max(1)) as f64;

    let checks = gate_checks(
        gate,
        &GateInput {
            candidate: &cand,
            incumbent: &inc,
            delong: &delong,
            delta_log_loss,
            delta_brier,
            psi,
            events_per_parameter: epv,
            segments: &seg_out,
        },
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
/// With a profile set on either side, each side's rows are scored by their own profiles, and
/// the candidate's assignment comes back with its sub-scores.
fn score_both(
    candidate: &Profiles,
    incumbent: &Profiles,
    data: &mut Cow<'_, Snapshots>,
) -> Result<BothScored, ValidateError> {
    let (candidate, incumbent) = match (candidate, incumbent) {
        (Profiles::One(c), Profiles::One(i)) => (c, i),
        _ => {
            let (si_subs, ia) = score::subscores_for(incumbent, data)?;
            let si = score::score_assigned(
                incumbent.main(),
                &si_subs,
                ia.as_ref(),
                score::Extent::Tiers,
            );
            drop(si_subs);
            let (subs, ca) = score::subscores_for(candidate, data)?;
            let sc =
                score::score_assigned(candidate.main(), &subs, ca.as_ref(), score::Extent::Tiers);
            return Ok((subs, sc, si, ca));
        }
    };
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
        Ok((subs, sc, si, None))
    } else {
        let incumbent_subs = SubScores::compute(incumbent, data)?;
        let si = score::score(incumbent, &incumbent_subs, score::Extent::Tiers);
        drop(incumbent_subs);
        let subs = candidate_subs(data)?;
        let sc = score::score(candidate, &subs, score::Extent::Tiers);
        Ok((subs, sc, si, None))
    }
}

/// The candidate's sub-scores, both sides' scores and the candidate's assignment (a set).
type BothScored = (SubScores, Scored, Scored, Option<score::Assignment>);

/// A side of the development / validation split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitPart {
    /// The rows the probabilities are fitted on.
    Development,
    /// The rows the profiles are judged on.
    Validation,
}

impl std::fmt::Display for SplitPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitPart::Development => "development",
            SplitPart::Validation => "validation",
        })
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
        return Err(ValidateError::OneClass {
            part: SplitPart::Validation,
            rows: val.len(),
        });
    }
    if dev_events == 0 || dev_events == dev.len() {
        return Err(ValidateError::OneClass {
            part: SplitPart::Development,
            rows: dev.len(),
        });
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

/// A metric and the stability index of its sub-score.
type MetricPsi = (String, f64);

/// What needs the candidate's sub-scores, which are freed after it: the per-metric
/// stability (out of time only) and Harrell's optimism.
fn metric_stability_and_optimism(
    candidate: &Profile,
    assignment: Option<&score::Assignment>,
    data: &Snapshots,
    subs: SubScores,
    (dev, val): (&[usize], &[usize]),
    oot: bool,
    params: &ValidateParams,
) -> Result<(Vec<MetricPsi>, Option<Optimism>), ValidateError> {
    let csi = if oot {
        metric_stability(candidate, &subs, dev, val)
    } else {
        Vec::new()
    };
    let optimism = if params.optimism_bootstrap > 0 {
        harrell_optimism(
            candidate,
            assignment,
            data,
            subs,
            params.optimism_bootstrap,
            params.seed,
            params.full_refits,
        )?
    } else {
        drop(subs);
        None
    };
    Ok((csi, optimism))
}

/// The score's stability from the development to the validation rows.
fn score_psi(sc: &Scored, dev: &[usize], val: &[usize]) -> f64 {
    let (d, v) = (
        dev.iter().map(|&i| sc.score[i]),
        val.iter().map(|&i| sc.score[i]),
    );
    vs::psi_of(d, v, 10, &mut Vec::new())
}

/// Events per parameter as calibration counts them: the churn events of every row both
/// profiles score, over the candidate's weights.
fn events_per_parameter(candidate: &Profile, events: usize) -> f64 {
    events as f64 / candidate.metrics.len().max(1) as f64
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

/// Validation accounts by incumbent tier (rows) and candidate tier (columns), each at its
/// last validation snapshot.
fn migration(val_data: &Snapshots, val_si: &Scored, val_sc: &Scored) -> Vec<Vec<usize>> {
    // Migration on validation accounts.
    let ki = val_si.tier_names.len();
    let kc = val_sc.tier_names.len();
    let mut migration = vec![vec![0usize; kc]; ki];
    for r in unit_rows(val_data, Unit::Account) {
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
        let g = Gate::from_toml("fail_on = [\"tier-shares\", \"segment-auc\"]").unwrap();
        assert_eq!(
            g.fail_on,
            [BusinessRule::TierShares, BusinessRule::SegmentAuc]
        );
        assert!(Gate::from_toml("fail_on = [\"tier-share\"]").is_err());
    }

    fn eval(shares: &[f64], intervals: &[[f64; 2]], slope: f64, ci: [f64; 2]) -> ModelEval {
        let names = ["healthy", "at-risk", "critical"];
        ModelEval {
            name: "m".into(),
            probabilities: String::new(),
            auc: 0.7,
            auc_ci: [0.65, 0.75],
            gini: 0.4,
            ks: 0.3,
            log_loss: 0.2,
            calibration: vs::calibration(&[0.1, 0.2, 0.1, 0.3], &[0, 0, 1, 1], 2),
            lift_deciles: Vec::new(),
            lift_tiers: Vec::new(),
            tier_check: crate::analysis::tiers::Monotonicity {
                monotone: true,
                steps: Vec::new(),
            },
            tier_shares: names
                .iter()
                .map(|n| n.to_string())
                .zip(shares.iter().copied())
                .collect(),
            tier_intervals: names
                .iter()
                .map(|n| n.to_string())
                .zip(intervals.iter().copied())
                .collect(),
            roc: Vec::new(),
            score_slope: slope,
            score_slope_ci: ci,
        }
    }

    fn status_of(checks: &[Check], prefix: &str) -> Status {
        checks
            .iter()
            .find(|c| c.check.starts_with(prefix))
            .unwrap()
            .status
    }

    fn checks(g: &Gate, cand: &ModelEval, inc: &ModelEval, epv: f64) -> Vec<Check> {
        let delong = vs::delong(&[0.1, 0.4, 0.35, 0.8], &[0.2, 0.3, 0.4, 0.7], &[0, 0, 1, 1]);
        let flat = PairedDelta {
            delta: 0.0,
            ci: [-0.01, 0.01],
        };
        gate_checks(
            g,
            &GateInput {
                candidate: cand,
                incumbent: inc,
                delong: &delong,
                delta_log_loss: flat,
                delta_brier: flat,
                psi: Some(0.01),
                events_per_parameter: epv,
                segments: &[],
            },
        )
    }

    #[test]
    fn business_rules_warn_by_default_and_fail_when_the_gate_file_says_so() {
        let narrow = [[0.01, 0.03], [0.05, 0.09], [0.2, 0.3]];
        let inc = eval(&[0.3, 0.5, 0.2], &narrow, -5.0, [-6.0, -4.0]);
        // the candidate keeps 5 % of a tier the incumbent gave 20 %, on thin data
        let cand = eval(&[0.45, 0.5, 0.05], &narrow, -5.0, [-6.0, -4.0]);
        let c = checks(&Gate::default(), &cand, &inc, 4.0);
        assert_eq!(status_of(&c, "tier shares"), Status::Warn);
        assert_eq!(status_of(&c, "events per parameter"), Status::Warn);
        assert!(
            c.iter()
                .filter(|x| x.kind == CheckKind::BusinessRule)
                .all(|x| x.status != Status::Fail),
            "{c:?}"
        );
        let strict = Gate {
            fail_on: vec![BusinessRule::TierShares],
            ..Gate::default()
        };
        let c = checks(&strict, &cand, &inc, 4.0);
        assert_eq!(status_of(&c, "tier shares"), Status::Fail);
        assert_eq!(status_of(&c, "events per parameter"), Status::Warn);
        // a tier whose churn rate is known only to within 40 points warns too
        let wide = eval(
            &[0.3, 0.5, 0.2],
            &[[0.0, 0.4], [0.05, 0.09], [0.2, 0.3]],
            -5.0,
            [-6.0, -4.0],
        );
        assert_eq!(
            status_of(&checks(&Gate::default(), &wide, &inc, 20.0), "tier shares"),
            Status::Warn
        );
        // the same shares as the incumbent on enough data pass
        let c = checks(&Gate::default(), &inc, &inc, 20.0);
        assert_eq!(status_of(&c, "tier shares"), Status::Pass);
        assert!(c
            .iter()
            .all(|x| x.kind == CheckKind::Defect || x.status == Status::Pass));
    }

    #[test]
    fn a_score_that_rises_with_churn_fails_by_name() {
        let narrow = [[0.01, 0.03], [0.05, 0.09], [0.2, 0.3]];
        let inc = eval(&[0.3, 0.5, 0.2], &narrow, -5.0, [-6.0, -4.0]);
        let reversed = eval(&[0.3, 0.5, 0.2], &narrow, 5.0, [4.0, 6.0]);
        let c = checks(&Gate::default(), &reversed, &inc, 20.0);
        let d = c
            .iter()
            .find(|x| x.check.starts_with("score direction"))
            .unwrap();
        assert_eq!((d.status, d.kind), (Status::Fail, CheckKind::Defect));
        // a slope below 0 whose interval reaches 0 only warns
        let weak = eval(&[0.3, 0.5, 0.2], &narrow, -0.5, [-1.5, 0.5]);
        assert_eq!(
            status_of(
                &checks(&Gate::default(), &weak, &inc, 20.0),
                "score direction"
            ),
            Status::Warn
        );
        assert_eq!(
            status_of(
                &checks(&Gate::default(), &inc, &inc, 20.0),
                "score direction"
            ),
            Status::Pass
        );
    }

    #[test]
    fn tier_shares_are_compared_by_name_before_place() {
        let narrow = [[0.01, 0.03], [0.05, 0.09], [0.2, 0.3]];
        let inc = eval(&[0.6, 0.3, 0.1], &narrow, -5.0, [-6.0, -4.0]);
        // The same shares listed in another order: by place, "critical" (10 %) would be
        // held against the incumbent's "healthy" (60 %) and warn; by name it passes.
        let mut cand = inc.clone();
        cand.tier_shares = vec![
            ("critical".into(), 0.1),
            ("healthy".into(), 0.6),
            ("at-risk".into(), 0.3),
        ];
        let c = checks(&Gate::default(), &cand, &inc, 20.0);
        assert_eq!(status_of(&c, "tier shares"), Status::Pass, "{c:?}");
        // a renamed tier still falls back to its place
        cand.tier_shares = vec![
            ("great".into(), 0.6),
            ("fine".into(), 0.35),
            ("poor".into(), 0.01),
        ];
        let c = checks(&Gate::default(), &cand, &inc, 20.0);
        assert_eq!(status_of(&c, "tier shares"), Status::Warn, "{c:?}");
    }
}
