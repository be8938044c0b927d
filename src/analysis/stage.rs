//! The tier and cohort stages in the shape every stage has: parameters that are
//! [`check`](TierParams::check)ed, then `run` on scored snapshots, giving numbers (the
//! report layer words and draws them).

use serde::Serialize;
use thiserror::Error;

use super::cohorts::{self, CohortKey, CohortTable, DEFAULT_MIN_SIZE};
use super::metric_cohorts::{self, MetricCohort};
use super::survival::{self, Retention, RetentionBy};
use super::tiers::{self, TierReport, DEFAULT_BANDS};
use super::{distinct_accounts, unit_rows, Unit};
use crate::data::{ColumnRole, Day, Snapshots, NO_DAY};
use crate::profile::Profile;
use crate::score::Scored;

/// What can stop the tier or cohort stage.
#[derive(Debug, Error)]
pub enum AnalysisError {
    /// The score bands are not ascending cut points within 0–100.
    #[error("score bands: {0}")]
    Bands(String),
    /// Metric cohorts need at least two bins.
    #[error("metric cohorts need at least 2 bins, got {0}")]
    Bins(usize),
    /// The tables need the outcome.
    #[error("churn by tier and cohort needs the outcome")]
    NoOutcome,
    /// Retention by tier needs snapshot dates.
    #[error("retention by tier needs snapshot dates")]
    NoDates,
    /// What was asked needs a column the data does not have.
    #[error("{purpose} need the {role} column")]
    NeedsColumn {
        /// The column's role.
        role: ColumnRole,
        /// What needs it.
        purpose: String,
    },
    /// A cohort or retention table could not be built from the data.
    #[error("{0}")]
    Data(String),
}

/// Parameters of the tier stage: churn per tier and per fixed score band.
#[derive(Debug, Clone)]
pub struct TierParams {
    /// What a row counts (one per account and renewal decision, or every snapshot).
    pub unit: Unit,
    /// Ascending cut points of the score bands (30, 50: ≤ 30, between, ≥ 50).
    pub bands: Vec<f64>,
}

impl Default for TierParams {
    fn default() -> Self {
        TierParams {
            unit: Unit::Account,
            bands: DEFAULT_BANDS.to_vec(),
        }
    }
}

impl TierParams {
    /// Check the bands.
    pub fn check(&self) -> Result<(), AnalysisError> {
        tiers::check_bands(&self.bands).map_err(AnalysisError::Bands)
    }

    /// Tier cut-offs fitted by `method` on `data` scored with `profile` as `scored` (the
    /// rows this stage counts): the proposed minimums, a copy of the profile with them, and
    /// the tier report they give (the same scores, tiered by the proposed cut-offs).
    pub fn propose(
        &self,
        data: &Snapshots,
        profile: &Profile,
        scored: &Scored,
        method: &tiers::FitTiers,
    ) -> Result<(Vec<f64>, Profile, TierReport), AnalysisError> {
        self.check()?;
        let o = data.outcome.as_ref().ok_or(AnalysisError::NoOutcome)?;
        let k = profile.tier_names().len();
        let rows = unit_rows(data, self.unit);
        let (mut s, mut y) = (
            Vec::with_capacity(rows.len()),
            Vec::with_capacity(rows.len()),
        );
        for &i in &rows {
            s.push(scored.score[i as usize]);
            y.push(o[i as usize]);
        }
        let mins = tiers::fit_cutoffs(method, &s, &y, k).map_err(AnalysisError::Data)?;
        let fitted = tiers::with_cutoffs(profile, &mins);
        let rescored = crate::score::from_scores(&fitted, scored.score.clone());
        let report = tiers::tier_report(data, &rescored, self.unit, &self.bands);
        Ok((mins, fitted, report))
    }

    /// The tier report of `data` scored as `scored`.
    pub fn run(&self, data: &Snapshots, scored: &Scored) -> Result<TierReport, AnalysisError> {
        self.check()?;
        if data.outcome.is_none() {
            return Err(AnalysisError::NoOutcome);
        }
        Ok(tiers::tier_report(data, scored, self.unit, &self.bands))
    }
}

/// Which retention curves the cohort stage draws.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RetentionChoice {
    /// By signup year when the data has `customer_since`, else by tier at the first
    /// snapshot date; none without churn dates.
    #[default]
    Auto,
    /// No curves.
    None,
    /// Curves by signup year, signup quarter, or tier (at the reference date, or the first
    /// snapshot date when it is 0 and [`CohortParams::reference`] is not set).
    By(RetentionBy),
}

/// Parameters of the cohort stage: churn per segment cohort (and cohort × tier), per metric
/// decile, and Kaplan–Meier retention curves.
#[derive(Debug, Clone)]
pub struct CohortParams {
    /// What a row counts.
    pub unit: Unit,
    /// Cohort keys, crossed; none skips the segment tables.
    pub keys: Vec<CohortKey>,
    /// Smallest cohort (accounts) whose churn is shown; smaller ones are suppressed.
    pub min_size: usize,
    /// Bins per metric cohort.
    pub bins: usize,
    /// Zeros in a metric-cohort bin of their own.
    pub zero_bin: bool,
    /// Which retention curves.
    pub retention: RetentionChoice,
    /// Reference date of retention by tier (default: the first snapshot date).
    pub reference: Option<Day>,
    /// The end of observation for retention (default: the last snapshot or churn date).
    pub as_of: Option<Day>,
}

impl Default for CohortParams {
    fn default() -> Self {
        CohortParams {
            unit: Unit::Account,
            keys: Vec::new(),
            min_size: DEFAULT_MIN_SIZE,
            bins: 10,
            zero_bin: false,
            retention: RetentionChoice::Auto,
            reference: None,
            as_of: None,
        }
    }
}

/// Everything the cohort stage finds.
#[derive(Debug, Clone, Serialize)]
pub struct CohortReport {
    /// Unit of analysis.
    pub unit: Unit,
    /// Rows counted, accounts, churned, overall rate.
    pub units: usize,
    /// Distinct accounts.
    pub accounts: usize,
    /// Churned rows.
    pub churned: usize,
    /// Overall churn rate.
    pub overall_rate: f64,
    /// Segment cohorts, when keys were given.
    pub cohorts: Option<CohortTable>,
    /// Metric cohorts.
    pub metric_cohorts: Vec<MetricCohort>,
    /// Whether zeros had their own bin.
    pub zero_bin: bool,
    /// Retention curves, when the data has the dates they need.
    pub retention: Option<Retention>,
    /// Sections left out, and why (worded by the report as its notes).
    #[serde(skip)]
    pub skipped: Vec<Skipped>,
}

/// A section of the cohort report that was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    /// No cohort keys were given: no segment tables.
    NoCohortKeys,
    /// No churn-date column: no retention curves.
    NoChurnDates,
}

impl CohortParams {
    /// Check the parameters.
    pub fn check(&self) -> Result<(), AnalysisError> {
        if self.bins < 2 {
            return Err(AnalysisError::Bins(self.bins));
        }
        Ok(())
    }

    /// Segment cohorts, metric cohorts and retention curves of `data` scored as `scored`
    /// with `profile`.
    pub fn run(
        &self,
        data: &Snapshots,
        profile: &Profile,
        scored: &Scored,
    ) -> Result<CohortReport, AnalysisError> {
        self.check()?;
        let outcome = data.outcome.as_ref().ok_or(AnalysisError::NoOutcome)?;
        self.needs(data)?;
        let rows = unit_rows(data, self.unit);
        let churned = rows.iter().filter(|&&r| outcome[r as usize] == 1).count();
        let mut skipped = Vec::new();
        let table = if self.keys.is_empty() {
            skipped.push(Skipped::NoCohortKeys);
            None
        } else {
            Some(
                cohorts::cohort_table(data, scored, &rows, &self.keys, self.min_size)
                    .map_err(AnalysisError::Data)?,
            )
        };
        let metrics =
            metric_cohorts::metric_cohorts(data, profile, &rows, self.bins, self.zero_bin);
        let retention_by = match &self.retention {
            RetentionChoice::None => None,
            RetentionChoice::By(by) => Some(by.clone()),
            RetentionChoice::Auto if data.churn_date.is_none() => {
                skipped.push(Skipped::NoChurnDates);
                None
            }
            RetentionChoice::Auto if data.customer_since.is_some() => Some(RetentionBy::SignupYear),
            RetentionChoice::Auto if data.date.is_some() => {
                Some(RetentionBy::Tier { reference: 0 })
            }
            RetentionChoice::Auto => None,
        };
        let retention = match retention_by {
            None => None,
            Some(by) => Some(self.retention(data, scored, by)?),
        };
        Ok(CohortReport {
            unit: self.unit,
            units: rows.len(),
            accounts: distinct_accounts(data, &rows),
            churned,
            overall_rate: churned as f64 / rows.len().max(1) as f64,
            cohorts: table,
            metric_cohorts: metrics,
            zero_bin: self.zero_bin,
            retention,
            skipped,
        })
    }

    /// The columns the keys and the retention curves asked for need.
    fn needs(&self, data: &Snapshots) -> Result<(), AnalysisError> {
        let needs =
            |role: ColumnRole, purpose: String| AnalysisError::NeedsColumn { role, purpose };
        for k in &self.keys {
            if !matches!(k, CohortKey::Segment(_)) && data.customer_since.is_none() {
                return Err(needs(
                    ColumnRole::CustomerSince,
                    format!("cohorts by {}", k.name()),
                ));
            }
        }
        if let RetentionChoice::By(by) = &self.retention {
            if data.churn_date.is_none() {
                return Err(needs(ColumnRole::ChurnDate, "retention curves".into()));
            }
            if !matches!(by, RetentionBy::Tier { .. }) && data.customer_since.is_none() {
                return Err(needs(
                    ColumnRole::CustomerSince,
                    "retention curves by signup cohort".into(),
                ));
            }
        }
        Ok(())
    }

    /// The retention curves by `by`, observed to [`CohortParams::as_of`] or the data's end.
    fn retention(
        &self,
        data: &Snapshots,
        scored: &Scored,
        by: RetentionBy,
    ) -> Result<Retention, AnalysisError> {
        let by = match by {
            RetentionBy::Tier { .. } => {
                let first = data.date_range().map(|d| d.0);
                let reference = self.reference.or(first).ok_or(AnalysisError::NoDates)?;
                RetentionBy::Tier { reference }
            }
            other => other,
        };
        let end = self.as_of.unwrap_or_else(|| {
            let d = data.date_range().map_or(NO_DAY, |d| d.1);
            let c = data
                .churn_date
                .as_ref()
                .and_then(|c| c.iter().copied().filter(|&x| x != NO_DAY).max())
                .unwrap_or(NO_DAY);
            d.max(c)
        });
        survival::retention(data, scored, &by, end, self.min_size).map_err(AnalysisError::Data)
    }
}
