//! The quarterly pack as one stage: the data-quality audit, the calibration (unless the
//! profile is reported on as it is), the candidate's scores, tiers and cohorts, the
//! rollout gate against the incumbent, and the accounts to act on first. Numbers only:
//! [`crate::report::pack`] words and draws them.
//!
//! ```no_run
//! use churncal::{data, pack::PackParams, profile, report};
//!
//! let prior = profile::presets::preset("three-dimensions")?;
//! let request = data::LoadRequest::for_profile(&prior);
//! let snapshots = data::load("notebooks-data/sample_snapshots.csv", &request)?;
//! let today = data::parse::date("2026-01-15")?.expect("a date");
//! let pack = PackParams::new(today).run(&snapshots, &prior, Some(&prior))?;
//! let context = report::pack::PackContext::new("sample", &snapshots, "calibrated.toml");
//! let files = report::pack::render(&pack, &context);
//! println!("{} files, gate passed: {:?}", files.len(), pack.validation.map(|v| v.passed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;

use serde::Serialize;
use thiserror::Error;

use crate::analysis::risk::{Calibrations, RevenueAtRisk, RiskError, RiskParams};
use crate::analysis::stage::{AnalysisError, CohortParams, CohortReport, TierParams};
use crate::analysis::tiers::TierReport;
use crate::audit::{Audit, AuditError, AuditParams, Finding};
use crate::calibrate::{CalibrateError, CalibrateParams, Calibration, SegmentParams, Segmented};
use crate::data::memory::release_free;
use crate::data::{DataError, Day, Snapshots};
use crate::explain::{ExplainError, ExplainParams, Explanation};
use crate::learn::{LearnComparison, LearnFitError, LearnParams, Learned};
use crate::profile::set::Profiles;
use crate::profile::{Profile, ProfileError};
use crate::score::{self, ScoreError, Scored, SubScores};
use crate::validate::{ValidateError, ValidateParams, Validation};

/// What can stop the pack.
#[derive(Debug, Error)]
pub enum PackError {
    /// The pack needs the outcome.
    #[error("the quarterly pack needs the outcome")]
    NoOutcome,
    /// Reporting without calibrating needs a calibrated profile.
    #[error("'{0}' has no [calibration] block: calibrate it first")]
    NotCalibrated(String),
    /// The audit found errors that stop a fit (and `force` is off).
    #[error("the data-quality audit found {} errors", .0.len())]
    Audit(Vec<Finding>),
    /// The audit's parameters are out of range.
    #[error(transparent)]
    AuditParams(#[from] AuditError),
    /// Calibration failed.
    #[error(transparent)]
    Calibrate(#[from] CalibrateError),
    /// The calibrated profile breaks the format's rules.
    #[error("the calibrated profile: {0}")]
    Profile(#[from] ProfileError),
    /// Scoring failed.
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// The tier or cohort tables failed.
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    /// The gate failed to run (a failed gate is a result, not an error).
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// Explaining the last change failed.
    #[error(transparent)]
    Explain(#[from] ExplainError),
    /// Learning the transforms failed.
    #[error(transparent)]
    Learn(#[from] LearnFitError),
    /// Revenue at risk failed.
    #[error(transparent)]
    Risk(#[from] RiskError),
    /// Reading the data again failed.
    #[error(transparent)]
    Read(DataError),
    /// The data read again is not the data read first.
    #[error("{path} changed while the pack ran: read first it had {first}, read again {again}")]
    DataChanged {
        /// The data file.
        path: String,
        /// What the first read found.
        first: String,
        /// What the second found.
        again: String,
    },
}

/// Parameters of the pack: one set per stage it runs.
#[derive(Clone)]
pub struct PackParams {
    /// The audit run first; its errors stop the calibration unless `force`.
    pub audit: AuditParams,
    /// The calibration; `None` reports on the profile as it is (it must be calibrated).
    pub calibrate: Option<CalibrateParams>,
    /// The tier table of the candidate.
    pub tiers: TierParams,
    /// The cohort tables of the candidate.
    pub cohorts: CohortParams,
    /// The gate, when there is an incumbent.
    pub validate: ValidateParams,
    /// What changed since the previous snapshot date (`None`: not explained); with a
    /// calibration, the change is also split into the new weights' part and the data's.
    pub explain: Option<ExplainParams>,
    /// Learn the transforms before calibrating (with a calibration only): every fold,
    /// holdout and bootstrap replicate re-learns them. The pack then keeps a copy of the
    /// data while it calibrates.
    pub learn: Option<LearnParams>,
    /// Calibrate one profile per value of a segment column toward the pooled one (with a
    /// calibration, without learned transforms): the pack then reports on the profile set.
    pub segments: Option<SegmentParams>,
    /// Revenue at risk at the last snapshot date (`None`: not computed); the pack runs it
    /// when the data has revenue and dates and the candidate is calibrated, broken down by
    /// the data's segment columns.
    pub risk: Option<RiskParams>,
    /// Accounts listed to act on first.
    pub top: usize,
    /// Calibrate despite audit errors.
    pub force: bool,
}

impl PackParams {
    /// Every stage's defaults, with `as_of` the day the audit takes for today (future
    /// dates, staleness).
    pub fn new(as_of: Day) -> Self {
        PackParams {
            audit: AuditParams::new(as_of),
            calibrate: Some(CalibrateParams::default()),
            tiers: TierParams::default(),
            cohorts: CohortParams::default(),
            validate: ValidateParams::default(),
            explain: Some(ExplainParams::default()),
            learn: None,
            segments: None,
            risk: Some(RiskParams::default()),
            top: 20,
            force: false,
        }
    }
}

/// The pack's results.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The prior profile (the one calibrated, or reported on).
    pub prior: Profile,
    /// The audit of the data.
    pub audit: Audit,
    /// The calibration, when the pack calibrated.
    pub calibration: Option<Calibration>,
    /// What was learned and how it compares, when the pack learned the transforms.
    pub learned: Option<(Learned, LearnComparison)>,
    /// The calibration by segment, when the pack calibrated one profile per segment value
    /// (its pooled calibration is [`Pack::calibration`]).
    pub segmented: Option<Segmented>,
    /// The candidate's scores, tiers and probabilities on every snapshot (extent
    /// [`score::Extent::Tiers`]: the act-first list computes its own rows' reasons).
    pub scored: Scored,
    /// Churn by tier and score band.
    pub tiers: TierReport,
    /// Churn by cohort, metric decile and retention.
    pub cohorts: CohortReport,
    /// The gate against the incumbent, when there is one.
    pub validation: Option<Validation>,
    /// What changed since the previous snapshot date, when the data has two dates.
    pub changes: Option<Changes>,
    /// Accounts to act on first.
    pub act_first: Vec<ActFirst>,
    /// Revenue at risk at the last snapshot date, when the data has revenue.
    pub risk: Option<RevenueAtRisk>,
    /// Score of each account's row in the tier table, by outcome: `(churned, retained)`.
    pub scores_by_outcome: (Vec<f64>, Vec<f64>),
}

impl Pack {
    /// The profile the pack reports on: the calibrated one, else the prior.
    pub fn candidate(&self) -> &Profile {
        self.calibration
            .as_ref()
            .map_or(&self.prior, |c| &c.profile)
    }
}

impl PackParams {
    /// Check every stage's parameters.
    pub fn check(&self) -> Result<(), PackError> {
        self.audit.check()?;
        if let Some(c) = &self.calibrate {
            c.check()?;
        }
        self.tiers.check()?;
        self.cohorts.check()?;
        self.validate.check()?;
        if let Some(r) = &self.risk {
            r.check()?;
        }
        if let Some(s) = &self.segments {
            s.check()?;
        }
        Ok(())
    }

    /// Run the pack on `data`: audit, calibrate `prior` (unless [`PackParams::calibrate`]
    /// is `None`), score, tiers, cohorts, the gate against `incumbent` and the act-first
    /// list. Every stage reads the data beside its own buffers; [`PackParams::run_reading`]
    /// needs about half the memory at scale.
    pub fn run(
        &self,
        data: &Snapshots,
        prior: &Profile,
        incumbent: Option<&Profile>,
    ) -> Result<Pack, PackError> {
        Ok(self.run_from(Source::Borrowed(data), prior, incumbent)?.0)
    }

    /// [`PackParams::run`] on `data` as `read` reads it: the calibration and the gate each
    /// take a copy of their own and turn its metric values into sub-scores in place, and
    /// the rest of the pack drops the metric values once it has read them, so no stage
    /// holds the data beside a second gigabyte of its own at 10M rows × 13 metrics. The
    /// data is read twice more (a second and a half each at 10M rows from Parquet), and a
    /// read that differs from the first (the file changed meanwhile) stops the pack. Gives
    /// the last copy back, without its metric values.
    pub fn run_reading(
        &self,
        data: Snapshots,
        read: &dyn Fn() -> Result<Snapshots, DataError>,
        prior: &Profile,
        incumbent: Option<&Profile>,
    ) -> Result<(Pack, Snapshots), PackError> {
        let (pack, last) = self.run_from(
            Source::Reading {
                shape: Shape::of(&data),
                next: Some(Box::new(data)),
                read,
            },
            prior,
            incumbent,
        )?;
        Ok((pack, last.into_owned()))
    }

    fn run_from<'a>(
        &self,
        mut source: Source<'a>,
        prior: &Profile,
        incumbent: Option<&Profile>,
    ) -> Result<(Pack, Cow<'a, Snapshots>), PackError> {
        self.check()?;
        let data = source.get()?;
        if data.outcome.is_none() {
            return Err(PackError::NoOutcome);
        }
        if self.calibrate.is_none() && prior.calibration.is_none() {
            return Err(PackError::NotCalibrated(prior.name.clone()));
        }
        let audit = {
            let _stage = tracing::info_span!("pack: audit").entered();
            self.audit.run(prior, &data, &[])
        };
        let blocking = audit.blocking();
        if !blocking.is_empty() && !self.force {
            return Err(PackError::Audit(blocking.into_iter().cloned().collect()));
        }
        let mut segmented = None;
        let (calibration, learned) = match (&self.calibrate, &self.learn) {
            (None, _) => {
                // Not consumed: the next stage takes this copy instead of reading again.
                source.give_back(data);
                (None, None)
            }
            (Some(params), None) if self.segments.is_some() => {
                let _stage = tracing::info_span!("pack: calibrate by segment").entered();
                let by = self.segments.as_ref().expect("matched");
                let (data, subs) = subscores_for_fit(data, prior, params.is_revenue_weighted())?;
                let s = params.fit_segments(prior, &data, subs, by)?;
                s.pooled.profile.check()?;
                for g in &s.segments {
                    if let Some(c) = &g.own {
                        c.profile.check()?;
                    }
                }
                let pooled = s.pooled.clone();
                segmented = Some(s);
                (Some(pooled), None)
            }
            (Some(params), None) => {
                let _stage = tracing::info_span!("pack: calibrate").entered();
                let (data, subs) = subscores_for_fit(data, prior, params.is_revenue_weighted())?;
                let fitted = params.fit(prior, &data, subs)?;
                fitted.profile.check()?;
                (Some(fitted), None)
            }
            (Some(params), Some(lp)) => {
                let _stage = tracing::info_span!("pack: learn and calibrate").entered();
                let lc = lp.calibrate(params, prior, std::sync::Arc::new(data.into_owned()))?;
                lc.calibration.profile.check()?;
                (Some(lc.calibration), Some((lc.learned, lc.comparison)))
            }
        };
        // Each stage's buffers freed by worker threads go back to the system before the next.
        release_free();
        let candidate = calibration.as_ref().map_or(prior, |c| &c.profile);
        // With profiles per segment, the pack reports on their set.
        let profiles = match &segmented {
            Some(s) => Profiles::Set(s.profile_set()),
            None => Profiles::One(candidate.clone()),
        };
        // Before the candidate's scores exist: the validation's own sub-scores and refit
        // matrix come on top of the data alone.
        let validation = match incumbent {
            None => None,
            Some(inc) => {
                let _stage = tracing::info_span!("pack: validate").entered();
                let mut data = source.get()?;
                if let Cow::Owned(d) = &mut data {
                    // The gate reads neither the lifecycle dates, the revenue nor the
                    // accounts' names.
                    d.free_for_fit(false);
                    d.account_names = None;
                }
                Some(
                    self.validate
                        .run_sets(&profiles, &Profiles::One(inc.clone()), data)?,
                )
            }
        };
        release_free();
        let mut data = source.get()?;
        let stage = tracing::info_span!("pack: score, tiers and cohorts").entered();
        let (scored, assignment) = match &profiles {
            // One profile's scores a block of rows at a time: its sub-scores are never all
            // in memory beside the metric values.
            Profiles::One(p) => (
                score::from_scores(p, SubScores::scores_in_blocks(p, &data)?),
                None,
            ),
            Profiles::Set(_) => {
                let (subs, assignment) = score::subscores_for(&profiles, &data)?;
                let scored = score::score_assigned(
                    candidate,
                    &subs,
                    assignment.as_ref(),
                    score::Extent::Tiers,
                );
                (scored, assignment)
            }
        };
        let tiers = self.tiers.run(&data, &scored)?;
        let cohorts = self.cohorts.run(&data, candidate, &scored)?;
        let act_first = act_first(&data, &scored, self.top, &profiles)?;
        drop(stage);
        // What changed since the previous snapshot date reads the rows at the two dates
        // only: with a copy of its own, the rest of the pack needs no metric value.
        let explain = match &self.explain {
            Some(params) if data.date_range().is_some_and(|(a, b)| a < b) => {
                let keep = params.rows_needed(&profiles, &data)?;
                let rows = keep.as_ref().map(|k| match &mut data {
                    Cow::Owned(d) => d.select_rows_taking_metrics(k),
                    Cow::Borrowed(d) => d.select_rows(k),
                });
                Some((params, keep, rows))
            }
            _ => None,
        };
        if let Cow::Owned(d) = &mut data {
            if explain.as_ref().is_none_or(|(_, keep, _)| keep.is_some()) {
                d.metrics = Vec::new();
            }
        }
        release_free();
        let changes = match explain {
            Some((params, keep, rows)) => {
                let _stage = tracing::info_span!("pack: explain").entered();
                // The split into the new weights' part and the data's takes one profile.
                let previous = calibration
                    .as_ref()
                    .filter(|_| segmented.is_none())
                    .map(|_| prior);
                let explanation = params.run_selected(
                    &profiles,
                    previous,
                    rows.as_ref().unwrap_or(&data),
                    keep.as_deref(),
                )?;
                let names = explanation
                    .largest_falls(10)
                    .into_iter()
                    .map(|i| {
                        let a = explanation.changes[i].account;
                        (a, data.account_name(a).into_owned())
                    })
                    .collect();
                Some(Changes { explanation, names })
            }
            None => None,
        };
        release_free();
        let risk = match (&self.risk, &candidate.calibration) {
            (Some(params), Some(cal)) if data.arr.is_some() && data.date.is_some() => {
                let _stage = tracing::info_span!("pack: revenue at risk").entered();
                let by = data.segments.iter().map(|s| s.name.clone()).collect();
                let cals = match &assignment {
                    Some(a) => Calibrations {
                        list: a
                            .profiles
                            .iter()
                            .map(|p| p.calibration.as_ref().unwrap_or(cal))
                            .collect(),
                        which: Some(&a.which),
                    },
                    None => Calibrations {
                        list: vec![cal],
                        which: None,
                    },
                };
                Some(params.clone().by(by).run(&data, &scored, &cals)?)
            }
            _ => None,
        };
        let scores_by_outcome = scores_by_outcome(&data, &scored, &self.tiers);
        let pack = Pack {
            prior: prior.clone(),
            audit,
            calibration,
            learned,
            segmented,
            scored,
            tiers,
            cohorts,
            validation,
            changes,
            act_first,
            risk,
            scores_by_outcome,
        };
        Ok((pack, data))
    }
}

/// The prior's sub-scores for a fit, and the data it reads beside them: a copy of the
/// pack's own gives up its metric values (they become the sub-scores in place) and the
/// columns a fit does not read.
fn subscores_for_fit<'a>(
    data: Cow<'a, Snapshots>,
    prior: &Profile,
    revenue: bool,
) -> Result<(Cow<'a, Snapshots>, SubScores), PackError> {
    match data {
        Cow::Borrowed(d) => Ok((data, SubScores::compute(prior, d)?)),
        Cow::Owned(mut d) => {
            let subs = SubScores::compute_consuming(prior, &mut d)?;
            d.metrics = Vec::new();
            d.free_for_fit(revenue);
            Ok((Cow::Owned(d), subs))
        }
    }
}

/// Where the pack's stages get the data.
enum Source<'a> {
    /// The caller's, borrowed by every stage.
    Borrowed(&'a Snapshots),
    /// A copy of its own for each stage that asks: the first as given, then read again.
    Reading {
        shape: Shape,
        next: Option<Box<Snapshots>>,
        read: &'a dyn Fn() -> Result<Snapshots, DataError>,
    },
}

impl<'a> Source<'a> {
    /// A stage's copy that it did not consume, for the next stage.
    fn give_back(&mut self, data: Cow<'a, Snapshots>) {
        if let (Source::Reading { next, .. }, Cow::Owned(d)) = (self, data) {
            *next = Some(Box::new(d));
        }
    }

    /// The data for the next stage.
    fn get(&mut self) -> Result<Cow<'a, Snapshots>, PackError> {
        match self {
            Source::Borrowed(d) => Ok(Cow::Borrowed(*d)),
            Source::Reading { shape, next, read } => {
                if let Some(d) = next.take() {
                    return Ok(Cow::Owned(*d));
                }
                let _stage = tracing::info_span!("pack: read the data again").entered();
                let d = read().map_err(PackError::Read)?;
                release_free();
                let again = Shape::of(&d);
                if again != *shape {
                    return Err(PackError::DataChanged {
                        path: d.source.clone(),
                        first: shape.to_string(),
                        again: again.to_string(),
                    });
                }
                Ok(Cow::Owned(d))
            }
        }
    }
}

/// What a second read of the data must repeat of the first: rows, accounts, churned rows,
/// snapshot dates.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    rows: usize,
    accounts: usize,
    churned: Option<usize>,
    dates: Option<(Day, Day)>,
}

impl Shape {
    fn of(d: &Snapshots) -> Shape {
        Shape {
            rows: d.rows,
            accounts: d.n_accounts,
            churned: d.churned_rows(),
            dates: d.date_range(),
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows, {} accounts", self.rows, self.accounts)?;
        if let Some(c) = self.churned {
            write!(f, ", {c} churned rows")?;
        }
        if let Some((a, b)) = self.dates {
            write!(
                f,
                ", snapshots {} to {}",
                crate::data::parse::format_day(a),
                crate::data::parse::format_day(b)
            )?;
        }
        Ok(())
    }
}

/// The scores of the tier table's rows, split by outcome.
fn scores_by_outcome(
    data: &Snapshots,
    scored: &Scored,
    tiers: &TierParams,
) -> (Vec<f64>, Vec<f64>) {
    let o = data.outcome.as_ref().expect("checked");
    let (mut c, mut r) = (Vec::new(), Vec::new());
    for i in crate::analysis::unit_rows(data, tiers.unit) {
        let s = scored.score[i as usize];
        if s.is_finite() {
            if o[i as usize] == 1 {
                c.push(s);
            } else {
                r.push(s);
            }
        }
    }
    (c, r)
}

/// What changed since the previous snapshot date: the explanation, and the names of the
/// accounts the report lists (the largest falls).
#[derive(Debug, Clone)]
pub struct Changes {
    /// The explain stage's result.
    pub explanation: Explanation,
    /// Account index and name of the accounts listed.
    pub names: Vec<(u32, String)>,
}

/// An account to act on first: its latest snapshot, lowest tiers, highest risk first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActFirst {
    /// Account id as in the data.
    pub account: String,
    /// Date of the snapshot (`YYYY-MM-DD`), when the data has dates.
    pub date: Option<String>,
    /// Health score.
    pub score: f64,
    /// Tier.
    pub tier: String,
    /// Predicted probability of churn, when the profile is calibrated.
    pub probability: Option<f64>,
    /// The metrics pulling the score down most, with the points they cost.
    pub reasons: Vec<(String, f64)>,
    /// ARR, when the data has it.
    pub arr: Option<f64>,
}

/// The `top` accounts to act on first: each account's latest snapshot on the data's last
/// snapshot date (accounts still there at the end), in the two lowest tiers (or the lowest
/// when there are only two), riskiest first (highest P(churn), else lowest score; ties by
/// account id). `scored` gives the scores and tiers; the reasons are computed for the
/// listed rows alone, each with its own profile of `profiles`.
pub fn act_first(
    data: &Snapshots,
    scored: &Scored,
    top: usize,
    profiles: &Profiles,
) -> Result<Vec<ActFirst>, ScoreError> {
    let last = data.date_range().map(|d| d.1);
    let n_tiers = scored.tier_names.len();
    let worst_two = n_tiers.saturating_sub(if n_tiers > 2 { 2 } else { 1 });
    // Latest row per account.
    let mut latest: Vec<Option<usize>> = vec![None; data.n_accounts];
    for i in 0..data.rows {
        let a = data.account[i] as usize;
        let newer = match (latest[a], &data.date) {
            (None, _) => true,
            (Some(j), Some(d)) => d[i] >= d[j],
            (Some(_), None) => true,
        };
        if newer {
            latest[a] = Some(i);
        }
    }
    let mut rows: Vec<usize> = latest
        .into_iter()
        .flatten()
        .filter(|&i| match (&data.date, last) {
            (Some(d), Some(l)) => d[i] == l,
            _ => true,
        })
        .filter(|&i| scored.score[i].is_finite() && (scored.tier[i] as usize) >= worst_two)
        .collect();
    let risk = |i: usize| match &scored.probability {
        Some(p) => -p[i],
        None => scored.score[i],
    };
    rows.sort_by(|&a, &b| {
        risk(a).total_cmp(&risk(b)).then_with(|| {
            data.account_name(data.account[a])
                .cmp(&data.account_name(data.account[b]))
        })
    });
    rows.truncate(top);
    // The listed rows' reasons: each row's own, whatever rows are scored with it.
    let listed = data.select_rows(&rows);
    let (subs, assignment) = score::subscores_for(profiles, &listed)?;
    let why = score::score_assigned(
        profiles.main(),
        &subs,
        assignment.as_ref(),
        score::Extent::Full,
    );
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(r, i)| {
            let k = why.reasons_per_row;
            let reasons = (0..k)
                .filter_map(|j| {
                    let m = why.reasons[r * k + j];
                    // Points to 0.01 (stored as f32).
                    let pts = (why.reason_points[r * k + j] as f64 * 100.0).round() / 100.0;
                    (m != u16::MAX && pts > 0.0)
                        .then(|| (why.metric_names[m as usize].clone(), pts))
                })
                .collect();
            ActFirst {
                account: data.account_name(data.account[i]).into_owned(),
                date: data
                    .date
                    .as_ref()
                    .map(|d| crate::data::parse::format_day(d[i])),
                score: scored.score[i],
                tier: scored.tier_names[scored.tier[i] as usize].clone(),
                probability: scored.probability.as_ref().map(|p| p[i]),
                reasons,
                arr: data.arr.as_ref().map(|a| a[i]).filter(|v| v.is_finite()),
            }
        })
        .collect())
}
