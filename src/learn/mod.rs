//! Learned transforms: each numeric metric cut into a few bins by optimal monotone binning,
//! each bin given a sub-score from its churn rate, written back as a `points` transform a
//! reader can check; categorical metrics get their category points the same way.
//!
//! [`LearnParams`] (consuming setters, defaults documented) → [`LearnParams::check`] →
//! [`LearnParams::learner`] on loaded [`Snapshots`] → [`Learner::learn`] for any row weights
//! (all rows, a cross-validation fold's training rows, a bootstrap replicate) →
//! [`Learned`]: the profile with learned transforms and, per metric, its bins. The method
//! is `docs/methods.md`, "Learned transforms": pre-binning by quantiles and the optimal
//! merge of [`binning`]; a bin's sub-score is its weight of evidence scaled so that the
//! healthiest bin scores 100 and the least healthy 0 (sub-scores then add up on the
//! log-odds scale, as a scorecard's points do).

pub mod baselines;
pub mod binning;
mod points;

use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::data::{MetricColumn, Snapshots};
use crate::profile::{transform, Direction, Missing, Profile, Transform};
use binning::{Constraints, Sorted, Trend};
pub use points::{round_between, PointsTable};

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

    /// Check the parameters.
    pub fn check(&self) -> Result<(), LearnError> {
        let bad = |m: String| Err(LearnError::Invalid(m));
        if !(1..=50).contains(&self.max_bins) {
            return bad(format!("--max-bins {}: expected 1 to 50", self.max_bins));
        }
        if !(2..=200).contains(&self.max_prebins) {
            return bad(format!(
                "--max-prebins {}: expected 2 to 200",
                self.max_prebins
            ));
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
        let preps = profile
            .metrics
            .iter()
            .map(|m| match (&m.transform, data.metric(&m.column)) {
                (Transform::Boolean, _) | (_, None) => Prep::Keep,
                (Transform::Categories { .. }, Some(MetricColumn::Text { codes, .. })) => {
                    Prep::Labels(codes.clone())
                }
                (Transform::Categories { .. }, _) => Prep::Keep,
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
                (_, Some(MetricColumn::Text { .. })) => Prep::Keep,
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
    /// Left as written (boolean, or not learnable).
    Keep,
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
        let mut metrics = Vec::with_capacity(profile.metrics.len());
        for (m, prep) in profile.metrics.iter_mut().zip(&self.preps) {
            let before = describe(&m.transform);
            let kept = |m: &crate::profile::Metric| MetricBins {
                metric: m.name.clone(),
                column: m.column.clone(),
                kind: "kept",
                declared: m.direction,
                direction: m.direction,
                shape: None,
                conflict: false,
                flipped: false,
                g_declared: 0.0,
                g_opposite: 0.0,
                iv: 0.0,
                monotone: true,
                bins: Vec::new(),
                missing: None,
                before: before.clone(),
            };
            let mb = match prep {
                Prep::Keep => kept(m),
                Prep::Numbers { order, missing } => {
                    self.numeric(m, order, missing, &w, before.clone())
                }
                Prep::Labels(codes) => self.labels(m, codes, &w, before.clone()),
            };
            metrics.push(mb);
        }
        Learned { profile, metrics }
    }

    fn numeric(
        &self,
        m: &mut crate::profile::Metric,
        order: &[u32],
        missing: &[u32],
        w: &dyn Fn(usize) -> f64,
        before: String,
    ) -> MetricBins {
        let p = &self.params;
        let y = &self.outcome;
        let Some(MetricColumn::Numeric(v)) = self.data.metric(&m.column) else {
            unreachable!("prepared as numbers")
        };
        let mut s = Sorted::default();
        for &i in order {
            let i = i as usize;
            let wi = w(i);
            if wi > 0.0 {
                s.x.push(v[i]);
                let e = if y[i] == 1 { wi } else { 0.0 };
                s.ev.push(e);
                s.ne.push(wi - e);
            }
        }
        let (mut me, mut mn) = (0.0, 0.0);
        for &i in missing {
            let wi = w(i as usize);
            if y[i as usize] == 1 {
                me += wi;
            } else {
                mn += wi;
            }
        }
        let total = s.total() + me + mn;
        let c = Constraints {
            max_bins: p.max_bins,
            min_bin_size: (p.min_bin_share * total).ceil(),
            min_bin_events: p.min_bin_events,
        };
        let pre = binning::prebins(&s, p.max_prebins);
        let fit = |shape: Shape| {
            let ends = binning::optimal_merge(&pre, shape.trend(), &c);
            binning::merged(&pre, &ends)
        };
        let declared = Shape::of(m.direction);
        let opposite = match declared {
            Shape::Increasing => Shape::Decreasing,
            _ => Shape::Increasing,
        };
        let b_decl = fit(declared);
        let b_opp = fit(opposite);
        let (g_decl, g_opp) = (b_decl.g_statistic(), b_opp.g_statistic());
        let conflict = g_opp - g_decl >= SHAPE_G;
        let flipped = conflict && p.flip;
        let mut shape = if flipped { opposite } else { declared };
        let mut bins = if flipped { b_opp } else { b_decl };
        if p.shape == ShapeChoice::Auto {
            let g0 = bins.g_statistic();
            let mut best = (g0 + SHAPE_G, None);
            for sh in [Shape::Peaked, Shape::Valley] {
                let b = fit(sh);
                let g = b.g_statistic();
                if g >= best.0 {
                    best = (g, Some((sh, b)));
                }
            }
            if let Some((sh, b)) = best.1 {
                shape = sh;
                bins = b;
            }
        }
        if flipped {
            m.direction = match m.direction {
                Direction::HigherIsBetter => Direction::LowerIsBetter,
                Direction::LowerIsBetter => Direction::HigherIsBetter,
            };
        }
        let te: f64 = bins.events.iter().sum();
        let tn: f64 = bins.nonevents.iter().sum();
        let totals = (te, tn);
        let woes: Vec<f64> = (0..bins.len()).map(|b| bins.woe(b, totals)).collect();
        let mut health = scaled(&woes);
        // Shrink toward the prior transform's mean sub-score on each bin.
        if p.prior_rows > 0.0 {
            if let Some(prior) = transform::prepare(&m.transform) {
                let mut sum = vec![0.0; bins.len()];
                let mut cnt = vec![0.0; bins.len()];
                let declared_dir = self.profile_direction(&m.name);
                for (j, &x) in s.x.iter().enumerate() {
                    let b = bins.bin_of(x);
                    let wt = s.ev[j] + s.ne[j];
                    sum[b] += wt * transform::directed(declared_dir, prior.apply(x));
                    cnt[b] += wt;
                }
                for b in 0..bins.len() {
                    if cnt[b] > 0.0 {
                        let prior_mean = sum[b] / cnt[b];
                        health[b] = (cnt[b] * health[b] + p.prior_rows * prior_mean)
                            / (cnt[b] + p.prior_rows);
                    }
                }
            }
        }
        // Missing values: their own sub-score when they are a bin's worth and their churn
        // rate differs from the present values' (two-sided p < 0.05).
        let missing_bin = (me + mn > 0.0).then(|| {
            let p_value = two_proportion_p(me, me + mn, te, te + tn);
            let own = me + mn >= c.min_bin_size && me >= c.min_bin_events && p_value < 0.05;
            if own {
                let wm = woe_scaled(binning::woe(me, mn, totals), &woes);
                m.missing = Missing::Score(round_points(wm));
            }
            MissingBin {
                rows: me + mn,
                events: me,
                churn_rate: me / (me + mn),
                p_value,
                policy: m.missing,
            }
        });
        let table = points::table(&bins, &s, &health);
        m.transform = Transform::Points {
            map: table
                .points
                .iter()
                .map(|&[x, h]| [x, undirected(m.direction, h)])
                .collect(),
        };
        let monotone = (1..bins.len()).all(|b| match declared {
            Shape::Increasing => bins.rate(b) <= bins.rate(b - 1),
            _ => bins.rate(b) >= bins.rate(b - 1),
        });
        let out_bins = (0..bins.len())
            .map(|b| Bin {
                from: (b > 0).then(|| table.edges[b - 1]),
                to: (b + 1 < bins.len()).then(|| table.edges[b]),
                labels: Vec::new(),
                rows: bins.events[b] + bins.nonevents[b],
                events: bins.events[b],
                churn_rate: bins.rate(b),
                woe: woes[b],
                iv: jeffrey_term(bins.events[b] / te, bins.nonevents[b] / tn),
                points: table.health[b],
            })
            .collect();
        MetricBins {
            metric: m.name.clone(),
            column: m.column.clone(),
            kind: "numeric",
            declared: self.profile_direction(&m.name),
            direction: m.direction,
            shape: Some(shape),
            conflict,
            flipped,
            g_declared: g_decl,
            g_opposite: g_opp,
            iv: bins.iv(totals),
            monotone,
            bins: out_bins,
            missing: missing_bin,
            before,
        }
    }

    fn labels(
        &self,
        m: &mut crate::profile::Metric,
        codes: &[u32],
        w: &dyn Fn(usize) -> f64,
        before: String,
    ) -> MetricBins {
        let p = &self.params;
        let y = &self.outcome;
        let Some(MetricColumn::Text { labels, .. }) = self.data.metric(&m.column) else {
            unreachable!("prepared as labels")
        };
        let n = labels.len();
        let (mut ev, mut ne) = (vec![0.0; n], vec![0.0; n]);
        let (mut me, mut mn) = (0.0, 0.0);
        for (i, &c) in codes.iter().enumerate() {
            let wi = w(i);
            if wi <= 0.0 {
                continue;
            }
            let e = if y[i] == 1 { wi } else { 0.0 };
            if c == MetricColumn::MISSING_CODE {
                me += e;
                mn += wi - e;
            } else {
                ev[c as usize] += e;
                ne[c as usize] += wi - e;
            }
        }
        let present: f64 = ev.iter().sum::<f64>() + ne.iter().sum::<f64>();
        let total = present + me + mn;
        let min_size = (p.min_bin_share * total).ceil();
        // Rare labels (and labels not in these rows) are pooled into one group.
        let rare: Vec<bool> = (0..n).map(|l| ev[l] + ne[l] < min_size).collect();
        let (pe, pn) = (0..n)
            .filter(|&l| rare[l])
            .fold((0.0, 0.0), |a, l| (a.0 + ev[l], a.1 + ne[l]));
        // Groups ordered by churn rate: the labels, then the pool.
        let mut groups: Vec<(Vec<usize>, f64, f64)> = (0..n)
            .filter(|&l| !rare[l])
            .map(|l| (vec![l], ev[l], ne[l]))
            .collect();
        if pe + pn > 0.0 {
            groups.push(((0..n).filter(|&l| rare[l]).collect(), pe, pn));
        }
        groups.sort_by(|a, b| (a.1 / (a.1 + a.2)).total_cmp(&(b.1 / (b.1 + b.2))));
        let s = Sorted {
            x: (0..groups.len()).map(|g| g as f64).collect(),
            ev: groups.iter().map(|g| g.1).collect(),
            ne: groups.iter().map(|g| g.2).collect(),
        };
        let splits: Vec<f64> = (1..groups.len()).map(|g| g as f64 - 0.5).collect();
        let pre = binning::refine(&s, splits);
        let c = Constraints {
            max_bins: p.max_bins,
            min_bin_size: min_size,
            min_bin_events: p.min_bin_events,
        };
        let bins = binning::merged(&pre, &binning::optimal_merge(&pre, Trend::Ascending, &c));
        let totals = (
            bins.events.iter().sum::<f64>(),
            bins.nonevents.iter().sum::<f64>(),
        );
        let woes: Vec<f64> = (0..bins.len()).map(|b| bins.woe(b, totals)).collect();
        let health: Vec<f64> = scaled(&woes).into_iter().map(round_points).collect();
        let mut label_points = vec![None; n];
        let mut out_bins = Vec::new();
        for b in 0..bins.len() {
            let members: Vec<usize> = groups
                .iter()
                .enumerate()
                .filter(|(g, _)| bins.bin_of(*g as f64) == b)
                .flat_map(|(_, g)| g.0.iter().copied())
                .collect();
            for &l in &members {
                label_points[l] = Some(health[b]);
            }
            out_bins.push(Bin {
                from: None,
                to: None,
                labels: members.iter().map(|&l| labels[l].clone()).collect(),
                rows: bins.events[b] + bins.nonevents[b],
                events: bins.events[b],
                churn_rate: bins.rate(b),
                woe: woes[b],
                iv: jeffrey_term(bins.events[b] / totals.0, bins.nonevents[b] / totals.1),
                points: health[b],
            });
        }
        // Bins run from least to most healthy.
        out_bins.reverse();
        let Transform::Categories { map } = &mut m.transform else {
            unreachable!("prepared from a categories transform")
        };
        let neutral = 50.0;
        let old = std::mem::take(map);
        for (l, label) in labels.iter().enumerate() {
            let h = label_points[l].unwrap_or(neutral);
            map.insert(label.clone(), undirected(m.direction, h));
        }
        // Labels the prior knew that the data lacks keep a neutral score.
        for k in old.keys() {
            map.entry(k.clone())
                .or_insert_with(|| undirected(m.direction, neutral));
        }
        let missing_bin = (me + mn > 0.0).then(|| MissingBin {
            rows: me + mn,
            events: me,
            churn_rate: me / (me + mn),
            p_value: two_proportion_p(me, me + mn, totals.0, totals.0 + totals.1),
            policy: m.missing,
        });
        MetricBins {
            metric: m.name.clone(),
            column: m.column.clone(),
            kind: "categories",
            declared: m.direction,
            direction: m.direction,
            shape: None,
            conflict: false,
            flipped: false,
            g_declared: bins.g_statistic(),
            g_opposite: 0.0,
            iv: bins.iv(totals),
            monotone: true,
            bins: out_bins,
            missing: missing_bin,
            before,
        }
    }

    fn profile_direction(&self, metric: &str) -> Direction {
        self.profile
            .metrics
            .iter()
            .find(|m| m.name == metric)
            .map_or(Direction::HigherIsBetter, |m| m.direction)
    }
}

/// Weights of evidence scaled to sub-scores: the healthiest 100, the least healthy 0; all
/// 50 when the bins do not differ.
fn scaled(woes: &[f64]) -> Vec<f64> {
    woes.iter().map(|&w| woe_scaled(w, woes)).collect()
}

fn woe_scaled(w: f64, woes: &[f64]) -> f64 {
    let lo = woes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = woes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(hi - lo > 1e-12) {
        return 50.0;
    }
    (100.0 * (w - lo) / (hi - lo)).clamp(0.0, 100.0)
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

fn jeffrey_term(p: f64, q: f64) -> f64 {
    if p == q || p == 0.0 || q == 0.0 {
        0.0
    } else {
        (p - q) * (p / q).ln()
    }
}

/// Two-sided p-value of the two-proportion z-test of `e1 / n1` against `e2 / n2`.
fn two_proportion_p(e1: f64, n1: f64, e2: f64, n2: f64) -> f64 {
    if n1 <= 0.0 || n2 <= 0.0 {
        return 1.0;
    }
    let pooled = (e1 + e2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return 1.0;
    }
    let z = (e1 / n1 - e2 / n2) / se;
    2.0 * (1.0 - crate::stats::normal_cdf(z.abs()))
}

/// A transform in a few words.
pub fn describe(t: &Transform) -> String {
    match t {
        Transform::Linear { lo, hi } => format!("linear {lo} to {hi}"),
        Transform::Log { lo, hi } => format!("log {lo} to {hi}"),
        Transform::Points { map } => format!("points ({} points)", map.len()),
        Transform::Percentile { breaks } => format!("percentile ({} breaks)", breaks.len()),
        Transform::Categories { map } => format!("categories ({} labels)", map.len()),
        Transform::Boolean => "boolean".into(),
    }
}

#[cfg(test)]
mod tests;
