//! Learned transforms: each numeric metric cut into a few bins by optimal monotone binning,
//! each bin given a sub-score from its churn rate, written back as a `points` transform a
//! reader can check; categorical metrics get their category points the same way.
//!
//! [`LearnParams`] (consuming setters, defaults documented) → [`LearnParams::check`] →
//! [`LearnParams::learner`] on loaded [`Snapshots`] → [`Learner::learn`] for any row weights
//! (all rows, a cross-validation fold's training rows, a bootstrap replicate) →
//! [`Learned`]: the profile with learned transforms and, per metric, its bins. The method
//! is `docs/methods.md`, "Learned transforms": pre-binning by quantiles and the optimal
//! merge of [`binning`] per metric (`metric.rs`); a bin's points from one logistic
//! regression on every metric's bins that keeps each metric's shape (`joint.rs`), or from
//! its own weight of evidence ([`PointsFrom::Woe`]), scaled so that each metric's healthiest
//! bin scores 100 and its least healthy 0 (points then add up on the log-odds scale, as a
//! scorecard's do); written as ramps or steps (`points.rs`). [`LearnParams::calibrate`]
//! calibrates the learned profile, re-learning inside every fold and replicate, and compares
//! it out of fold with the hand-written transforms and logistic regression ([`baselines`]).

pub mod baselines;
pub mod binning;
mod fit;
mod joint;
mod metric;
mod points;

use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::data::{MetricColumn, Snapshots};
use crate::profile::{transform, Direction, Missing, Profile, Transform};
use binning::Trend;
pub use fit::{
    relearn_with, LearnComparison, LearnFitError, LearnedCalibration, ModelFigures, BASELINE_BINS,
};
pub use points::{round_between, Form, PointsTable};

/// G statistic a shape other than the declared one must gain to be chosen or reported:
/// the 0.1 % point of χ² with one degree of freedom (conservative, as several shapes are
/// tried).
pub const SHAPE_G: f64 = 10.83;

/// Which shapes a metric's sub-score may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeChoice {
    /// Monotone in the profile's declared direction.
    Declared,
    /// The declared monotone shape, or peaked or valley where the data supports it.
    Auto,
}

/// The shape of a learned sub-score along the raw value (health, not churn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Higher values are healthier.
    Increasing,
    /// Lower values are healthier.
    Decreasing,
    /// Healthiest in the middle.
    Peaked,
    /// Least healthy in the middle.
    Valley,
}

impl Shape {
    /// The churn-rate trend of this health shape.
    fn trend(self) -> Trend {
        match self {
            Shape::Increasing => Trend::Descending,
            Shape::Decreasing => Trend::Ascending,
            Shape::Peaked => Trend::Valley,
            Shape::Valley => Trend::Peak,
        }
    }

    fn of(d: Direction) -> Shape {
        match d {
            Direction::HigherIsBetter => Shape::Increasing,
            Direction::LowerIsBetter => Shape::Decreasing,
        }
    }
}

/// Parameters of the learning, with the defaults of `calibrate --learn-transforms`.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnParams {
    pub(crate) max_bins: usize,
    pub(crate) max_prebins: usize,
    pub(crate) min_bin_share: f64,
    pub(crate) min_bin_events: f64,
    pub(crate) shape: ShapeChoice,
    pub(crate) flip: bool,
    pub(crate) prior_rows: f64,
    pub(crate) points: PointsFrom,
    pub(crate) form: Form,
    pub(crate) max_pvalue: Option<f64>,
}

/// Where a learned bin's points come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PointsFrom {
    /// One penalised logistic regression on all metrics' bins together, each metric's
    /// coefficients kept in its shape: what a bin adds given the other metrics.
    Joint,
    /// Each bin's weight of evidence: what the bin shows alone (a classic scorecard).
    Woe,
}

impl Default for LearnParams {
    fn default() -> Self {
        LearnParams {
            max_bins: 5,
            max_prebins: 20,
            min_bin_share: 0.05,
            min_bin_events: 5.0,
            shape: ShapeChoice::Declared,
            flip: false,
            prior_rows: 0.0,
            points: PointsFrom::Joint,
            form: Form::Ramps,
            max_pvalue: Some(0.05),
        }
    }
}

/// Why learning cannot start.
#[derive(Debug, Error, PartialEq)]
pub enum LearnError {
    /// A parameter is out of its range.
    #[error("{0}")]
    Invalid(String),
    /// The data has no outcome to learn from.
    #[error("learning transforms needs an outcome column (churned yes/no) in the data")]
    NoOutcome,
}

impl LearnParams {
    /// Most bins per metric (default 5).
    pub fn max_bins(mut self, n: usize) -> Self {
        self.max_bins = n;
        self
    }
    /// Quantile pre-bins per metric before merging (default 20).
    pub fn max_prebins(mut self, n: usize) -> Self {
        self.max_prebins = n;
        self
    }
    /// Smallest bin as a share of the rows (default 0.05).
    pub fn min_bin_share(mut self, s: f64) -> Self {
        self.min_bin_share = s;
        self
    }
    /// Fewest churn events in a bin (default 5).
    pub fn min_bin_events(mut self, n: f64) -> Self {
        self.min_bin_events = n;
        self
    }
    /// Shapes allowed (default: monotone in the declared direction).
    pub fn shape(mut self, s: ShapeChoice) -> Self {
        self.shape = s;
        self
    }
    /// Flip the direction of a metric whose data contradicts it (default: only report it).
    pub fn flip(mut self, f: bool) -> Self {
        self.flip = f;
        self
    }
    /// Shrink each bin's sub-score toward the prior transform's mean sub-score on the bin,
    /// as if the prior were worth this many rows (default 0: no shrinkage).
    pub fn prior_rows(mut self, n: f64) -> Self {
        self.prior_rows = n;
        self
    }

    /// Where the bins' points come from (default: the joint fit).
    pub fn points_from(mut self, p: PointsFrom) -> Self {
        self.points = p;
        self
    }

    /// How bins become points (default: ramps through each bin's middle).
    pub fn form(mut self, f: Form) -> Self {
        self.form = f;
        self
    }

    /// Neighbouring bins must differ in churn rate at this significance (default 0.05;
    /// `None` cuts wherever the information value grows).
    pub fn max_pvalue(mut self, p: Option<f64>) -> Self {
        self.max_pvalue = p;
        self
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Invalid(m));
        if let Some(p) = self.max_pvalue {
            if !(p > 0.0 && p <= 1.0) {
                return bad(format!(
                    "--max-pvalue {p}: expected more than 0 and at most 1"
                ));
            }
        }
        if !(1..=20).contains(&self.max_bins) {
            return bad(format!(
                "--max-bins {}: expected 1 to 20 (a readable profile has a handful)",
                self.max_bins
            ));
        }
        if !(2..=100).contains(&self.max_prebins) {
            return bad(format!("--prebins {}: expected 2 to 100", self.max_prebins));
        }
        if !(self.min_bin_share > 0.0 && self.min_bin_share <= 0.5) {
            return bad(format!(
                "--min-bin-share {}: expected more than 0 and at most 0.5",
                self.min_bin_share
            ));
        }
        if !(self.min_bin_events >= 0.0 && self.min_bin_events.is_finite()) {
            return bad(format!(
                "--min-bin-events {}: expected a count >= 0",
                self.min_bin_events
            ));
        }
        if !(self.prior_rows >= 0.0 && self.prior_rows.is_finite()) {
            return bad(format!(
                "--transform-prior {}: expected a number of rows >= 0",
                self.prior_rows
            ));
        }
        Ok(())
    }

    /// Prepare `profile`'s metrics on `data` (values sorted once) for repeated learning.
    pub fn learner(&self, profile: &Profile, data: Arc<Snapshots>) -> Result<Learner, LearnError> {
        self.check()?;
        let outcome = data.outcome.clone().ok_or(LearnError::NoOutcome)?;
        let kept = |m: &crate::profile::Metric| crate::score::SubScores::column(m, &data).ok();
        let preps = profile
            .metrics
            .iter()
            .map(|m| match (&m.transform, data.metric(&m.column)) {
                (Transform::Boolean, _) | (_, None) => Prep::Keep(kept(m)),
                (Transform::Categories { .. }, Some(MetricColumn::Text { codes, .. })) => {
                    Prep::Labels(codes.clone())
                }
                (Transform::Categories { .. }, _) => Prep::Keep(kept(m)),
                (_, Some(MetricColumn::Numeric(v))) => {
                    let mut order: Vec<u32> = (0..v.len() as u32)
                        .filter(|&i| !v[i as usize].is_nan())
                        .collect();
                    order.sort_by(|&a, &b| v[a as usize].total_cmp(&v[b as usize]));
                    let missing: Vec<u32> = (0..v.len() as u32)
                        .filter(|&i| v[i as usize].is_nan())
                        .collect();
                    Prep::Numbers { order, missing }
                }
                (_, Some(MetricColumn::Text { .. })) => Prep::Keep(kept(m)),
            })
            .collect();
        Ok(Learner {
            params: self.clone(),
            profile: profile.clone(),
            data,
            outcome,
            preps,
        })
    }
}

enum Prep {
    /// Left as written (boolean, or not learnable), with its sub-scores for the joint fit.
    Keep(Option<Vec<f64>>),
    /// Row numbers of present values in value order, and of missing ones.
    Numbers { order: Vec<u32>, missing: Vec<u32> },
    /// Label codes per row.
    Labels(Vec<u32>),
}

/// A profile's metrics prepared on one data set, ready to learn for any row weights.
pub struct Learner {
    params: LearnParams,
    profile: Profile,
    data: Arc<Snapshots>,
    outcome: Vec<u8>,
    preps: Vec<Prep>,
}

/// One bin of a learned metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    /// Lower edge (inclusive; none for the first bin) for numbers.
    pub from: Option<f64>,
    /// Upper edge (exclusive; none for the last bin) for numbers.
    pub to: Option<f64>,
    /// The labels of a categorical bin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Rows (weight) in the bin.
    pub rows: f64,
    /// Churn events (weight).
    pub events: f64,
    /// Churn rate.
    pub churn_rate: f64,
    /// Weight of evidence (higher: healthier).
    pub woe: f64,
    /// The bin's share of the information value.
    pub iv: f64,
    /// The bin's sub-score (health, direction applied).
    pub points: f64,
}

/// What was learned for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricBins {
    /// Metric name.
    pub metric: String,
    /// Input column.
    pub column: String,
    /// `numeric`, `categories`, or `kept` (left as written: boolean or not learnable).
    pub kind: &'static str,
    /// The direction the profile declared.
    pub declared: Direction,
    /// The direction written (differs only when flipped).
    pub direction: Direction,
    /// The shape of the learned sub-score.
    pub shape: Option<Shape>,
    /// The data contradicts the declared direction (the opposite monotone shape gains
    /// G ≥ [`SHAPE_G`]).
    pub conflict: bool,
    /// The direction was flipped (with `--flip-directions` only).
    pub flipped: bool,
    /// G statistic of the declared monotone binning against one bin.
    pub g_declared: f64,
    /// G statistic of the opposite monotone binning.
    pub g_opposite: f64,
    /// Information value of the learned bins.
    pub iv: f64,
    /// The learned churn rates are monotone in the declared direction.
    pub monotone: bool,
    /// The bins, in value order (numbers) or from least to most healthy (labels).
    pub bins: Vec<Bin>,
    /// The missing values, when present: rows, events, churn rate, and what they score.
    pub missing: Option<MissingBin>,
    /// The transform before learning.
    pub before: String,
}

/// The missing values of a learned metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingBin {
    /// Rows (weight) missing.
    pub rows: f64,
    /// Churn events among them.
    pub events: f64,
    /// Their churn rate.
    pub churn_rate: f64,
    /// Two-sided p-value of their churn rate against the present values'.
    pub p_value: f64,
    /// The policy written: the profile's, or their own sub-score when they carry signal.
    pub policy: Missing,
}

/// A learned profile and its bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Learned {
    /// The profile with learned transforms (weights as before).
    #[serde(skip)]
    pub profile: Profile,
    /// Per metric, in profile order.
    pub metrics: Vec<MetricBins>,
}

impl Learner {
    /// The data the learner reads.
    pub fn data(&self) -> &Arc<Snapshots> {
        &self.data
    }

    /// Learn every metric's transform from the rows with positive `weights` (by data row;
    /// `None`: every row once).
    pub fn learn(&self, weights: Option<&[f64]>) -> Learned {
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let mut profile = self.profile.clone();
        let mut drafts: Vec<metric::Draft> = profile
            .metrics
            .iter_mut()
            .zip(&self.preps)
            .map(|(m, prep)| match prep {
                Prep::Keep(_) => self.kept(m),
                Prep::Numbers { order, missing } => self.numeric(m, order, missing, &w),
                Prep::Labels(codes) => self.labels(m, codes, &w),
            })
            .collect();
        if self.params.points == PointsFrom::Joint {
            let columns: Vec<Option<&MetricColumn>> = profile
                .metrics
                .iter()
                .zip(&self.preps)
                .map(|(m, prep)| match prep {
                    Prep::Keep(_) => None,
                    _ => self.data.metric(&m.column),
                })
                .collect();
            let kept: Vec<Option<&Vec<f64>>> = self
                .preps
                .iter()
                .map(|p| match p {
                    Prep::Keep(k) => k.as_ref(),
                    _ => None,
                })
                .collect();
            joint::joint_points(&mut drafts, &columns, &kept, &self.outcome, &w);
        }
        // Shrink each bin toward the prior transform's mean on it.
        if self.params.prior_rows > 0.0 {
            let k = self.params.prior_rows;
            for d in &mut drafts {
                if let metric::DraftKind::Numbers {
                    bins,
                    health,
                    prior_mean: Some(pm),
                    ..
                }
                | metric::DraftKind::Labels {
                    bins,
                    health,
                    prior_mean: Some(pm),
                    ..
                } = &mut d.kind
                {
                    for b in 0..bins.len() {
                        let n = bins.events[b] + bins.nonevents[b];
                        health[b] = (n * health[b] + k * pm[b]) / (n + k);
                    }
                }
            }
        }
        let metrics = drafts
            .into_iter()
            .zip(profile.metrics.iter_mut())
            .map(|(d, m)| d.finish(m, self.params.form))
            .collect();
        Learned { profile, metrics }
    }
}

/// Points as written: one decimal.
fn round_points(h: f64) -> f64 {
    (h * 10.0).round() / 10.0
}

/// The transform's value for a health sub-score `h` under `direction`.
fn undirected(direction: Direction, h: f64) -> f64 {
    match direction {
        Direction::HigherIsBetter => h,
        Direction::LowerIsBetter => round_points(100.0 - h),
    }
}

/// Two-sided p-value of the two-proportion z-test of `e1 / n1` against `e2 / n2`.
fn two_proportion_p(e1: f64, n1: f64, e2: f64, n2: f64) -> f64 {
    let z = crate::stats::two_proportion_z_of(e1, n1, e2, n2);
    if z.is_nan() {
        1.0
    } else {
        2.0 * (1.0 - crate::stats::normal_cdf(z.abs()))
    }
}

pub use crate::calibrate::transforms::describe;

/// `rows` with a weight factor each: all of them (factor 1) up to `cap`, else every
/// churned row and every k-th retained one (factor k), so that about `cap` rows stand for
/// all of them (at least a quarter of `cap` retained ones when churn is common).
pub(crate) fn stride_sample(rows: &[usize], y: &[u8], cap: usize) -> Vec<(usize, f64)> {
    if rows.len() <= cap {
        return rows.iter().map(|&i| (i, 1.0)).collect();
    }
    let events = rows.iter().filter(|&&i| y[i] == 1).count();
    let room = cap.saturating_sub(events).max(cap / 4);
    let k = (rows.len() - events).div_ceil(room).max(1);
    let mut seen = 0usize;
    rows.iter()
        .filter_map(|&i| {
            if y[i] == 1 {
                return Some((i, 1.0));
            }
            seen += 1;
            seen.is_multiple_of(k).then_some((i, k as f64))
        })
        .collect()
}

#[cfg(test)]
mod tests;
