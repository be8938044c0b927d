//! Scoring: raw metrics → sub-scores → group scores → score, tier, probability, reasons.
//!
//! [`SubScores::compute`] applies each metric's transform, direction and missing-value policy
//! column by column into contiguous buffers (NaN marks a metric that drops out and has its
//! weight redistributed). [`score`] turns them into a [`Scored`] table. The score of a
//! snapshot is `Σ_present w_k s_k / Σ_present w_k` over effective weights `w_k` (the
//! definition the calibration fits), which is the group-weighted mean of group scores when
//! nothing is missing.

mod stream;
pub mod summary;
pub mod table;

use std::ops::Range;

use rayon::prelude::*;
use thiserror::Error;

pub use stream::StreamedScores;

use crate::data::{MetricColumn, Snapshots};
use crate::profile::transform::{boolean, directed, linear, log, prepare, Prepared};
use crate::profile::{CutStat, Direction, Metric, Missing, Profile, QuantileCut, Transform};

/// Rows per parallel work item in the row-wise kernels.
const CHUNK: usize = 8192;

/// Problems found while scoring data with a profile.
#[derive(Debug, Error)]
pub enum ScoreError {
    /// A categorical metric holds a label its map does not know.
    #[error("{0}")]
    UnknownCategory(Box<UnknownCategory>),
    /// A value is missing for a metric whose policy is `error`.
    #[error("{path}, row {row}, column '{column}': value is missing and metric '{metric}' has missing = \"error\"")]
    MissingValue {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
        /// The metric.
        metric: String,
    },
    /// The data was loaded without a column the profile reads.
    #[error("metric '{metric}' reads column '{column}', which was not loaded")]
    NotLoaded {
        /// The metric.
        metric: String,
        /// The column.
        column: String,
    },
    /// The column's type does not fit the metric's transform.
    #[error("metric '{metric}': column '{column}' holds {found}, but the {transform} transform needs {needed}")]
    WrongKind {
        /// The metric.
        metric: String,
        /// The column.
        column: String,
        /// What the column holds.
        found: &'static str,
        /// The transform.
        transform: &'static str,
        /// What it needs.
        needed: &'static str,
    },
}

/// The facts of an unknown category label.
#[derive(Debug)]
pub struct UnknownCategory {
    /// The file.
    pub path: String,
    /// 1-based data row.
    pub row: usize,
    /// The column.
    pub column: String,
    /// The metric.
    pub metric: String,
    /// The label found.
    pub value: String,
    /// The labels the map knows.
    pub known: Vec<String>,
}

impl std::fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, row {}, column '{}': category '{}' is not in the map of metric '{}' (known: {})",
            self.path,
            self.row,
            self.column,
            self.value,
            self.metric,
            self.known.join(", ")
        )
    }
}

/// Sub-scores of every metric for every snapshot, column-major.
#[derive(Debug, Clone)]
pub struct SubScores {
    /// Number of rows.
    pub rows: usize,
    /// One column per profile metric, values in [0, 100]; NaN where the metric drops out
    /// (missing with policy `redistribute`).
    pub columns: Vec<Vec<f64>>,
    /// Number of metrics with a raw value present, per row (0: the row cannot be scored).
    pub present: Vec<u16>,
}

/// A metric's values on their way to sub-scores: numbers in a buffer of their own (which
/// becomes the sub-score column), or labels borrowed from the data.
enum Values<'a> {
    Numbers(Vec<f64>),
    Labels {
        codes: &'a [u32],
        labels: &'a [String],
    },
}

impl SubScores {
    /// Apply the profile's transforms, directions and missing policies to loaded data.
    pub fn compute(profile: &Profile, data: &Snapshots) -> Result<SubScores, ScoreError> {
        let none = profile.metrics.iter().map(|_| None).collect();
        Self::compute_from(profile, data, none)
    }

    /// One metric's sub-scores (a column of [`SubScores::compute`] alone).
    pub fn column(m: &Metric, data: &Snapshots) -> Result<Vec<f64>, ScoreError> {
        metric_column(
            m,
            Origin::of(data),
            values_of(m, data, None)?,
            Spare::default(),
        )
        .map(|(column, _)| column)
    }

    /// [`SubScores::compute`] for a caller done with the metric values: each numeric column
    /// that one profile metric reads is moved out of `data` and turned into its sub-scores
    /// in place, so that the values and the sub-scores are never both in memory (a gigabyte
    /// each at 10M rows × 13 metrics). Those columns are left empty in `data`, also when
    /// an error is returned.
    pub fn compute_consuming(
        profile: &Profile,
        data: &mut Snapshots,
    ) -> Result<SubScores, ScoreError> {
        let taken = profile
            .metrics
            .iter()
            .map(|m| {
                let readers = profile.metrics.iter().filter(|o| o.column == m.column);
                if readers.count() != 1 || matches!(m.transform, Transform::Categories { .. }) {
                    return None;
                }
                match data.metrics.iter_mut().find(|(c, _)| *c == m.column) {
                    Some((_, MetricColumn::Numeric(v))) => Some(std::mem::take(v)),
                    _ => None,
                }
            })
            .collect();
        Self::compute_from(profile, data, taken)
    }

    /// The sub-scores, with `taken[m]` the values of metric `m` when they were moved out of
    /// `data` (`None`: read them from `data`).
    fn compute_from(
        profile: &Profile,
        data: &Snapshots,
        taken: Vec<Option<Vec<f64>>>,
    ) -> Result<SubScores, ScoreError> {
        let origin = Origin::of(data);
        let columns: Vec<(Vec<f64>, Vec<bool>)> = profile
            .metrics
            .par_iter()
            .zip(taken)
            .map(|(m, taken)| {
                metric_column(m, origin, values_of(m, data, taken)?, Spare::default())
            })
            .collect::<Result<_, _>>()?;
        let (columns, presence): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
        Ok(Self::from_columns(
            data.rows,
            columns,
            &presence,
            Vec::new(),
        ))
    }

    /// The sub-scores of `rows` rows from each metric's column and presence (`counts`: a
    /// buffer to reuse for the present metrics' count).
    fn from_columns(
        rows: usize,
        columns: Vec<Vec<f64>>,
        presence: &[Vec<bool>],
        mut counts: Vec<u16>,
    ) -> SubScores {
        counts.clear();
        counts.resize(rows, 0);
        for p in presence {
            for (c, &ok) in counts.iter_mut().zip(p) {
                *c += ok as u16;
            }
        }
        SubScores {
            rows,
            columns,
            present: counts,
        }
    }

    /// Whether `a`'s sub-scores are `b`'s: the same metrics' columns, transforms,
    /// directions and missing policies in the same order (weights, groups, tiers and
    /// calibration may differ). A recalibrated profile and the one it came from share them,
    /// so comparing the two computes them once.
    pub fn same_for(a: &Profile, b: &Profile) -> bool {
        a.metrics.len() == b.metrics.len()
            && a.metrics.iter().zip(&b.metrics).all(|(x, y)| {
                x.column == y.column
                    && x.transform == y.transform
                    && x.direction == y.direction
                    && x.missing == y.missing
            })
    }

    /// Scores for the given effective weights: `Σ_present w s / Σ_present w`; NaN where no
    /// metric is present or the present ones all weigh 0.
    pub fn scores(&self, weights: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.rows];
        self.fill_scores(weights, &mut out);
        out
    }

    /// [`SubScores::scores`] into `out` (zeroed, one entry per row).
    fn fill_scores(&self, weights: &[f64], out: &mut [f64]) {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let mut den = vec![0.0; out.len()];
            self.scores_into(weights, c * CHUNK, out, &mut den);
        });
    }

    /// [`SubScores::scores`] of rows `start..start + out.len()` into `out` (zeroed), with
    /// `den` (zeroed, as long) for the weight sums.
    fn scores_into(&self, weights: &[f64], start: usize, out: &mut [f64], den: &mut [f64]) {
        for (col, &w) in self.columns.iter().zip(weights) {
            if w == 0.0 {
                continue;
            }
            for ((o, d), &s) in out.iter_mut().zip(den.iter_mut()).zip(&col[start..]) {
                let (s, m) = if s.is_nan() { (0.0, 0.0) } else { (s, w) };
                *o += m * s;
                *d += m;
            }
        }
        for (j, (o, d)) in out.iter_mut().zip(den.iter()).enumerate() {
            // Clamped: Σ w·s / Σ w can round a hair past 100 (or below 0).
            *o = if *d > 0.0 && self.present[start + j] > 0 {
                (*o / d).clamp(0.0, 100.0)
            } else {
                f64::NAN
            };
        }
    }

    /// The [`REASONS`] metrics costing each of rows `start..` the most score points, into
    /// `idx` and `pts` ([`REASONS`] entries per row, as many rows as they hold). Column by
    /// column over the rows (the weight sums and the points lost in vector passes), each
    /// row's top list kept in `scratch`; the metrics reach each row in profile order, so
    /// ties go to the earlier metric as in a row-by-row pass.
    fn reasons_into(
        &self,
        weights: &[f64],
        start: usize,
        idx: &mut [u16],
        pts: &mut [f32],
        scratch: &mut ReasonScratch,
    ) {
        let n = idx.len() / REASONS;
        let ReasonScratch { den, lost, top } = scratch;
        den.clear();
        den.resize(n, 0.0);
        for (col, &w) in self.columns.iter().zip(weights) {
            for (d, &s) in den.iter_mut().zip(&col[start..start + n]) {
                // (`+ 0.0` leaves a sum that starts at +0 unchanged, as skipping does.)
                *d += if s.is_nan() { 0.0 } else { w };
            }
        }
        // A row with nothing present or no weight gets no reasons: NaN losses skip it.
        for (d, &p) in den.iter_mut().zip(&self.present[start..start + n]) {
            if *d <= 0.0 || p == 0 {
                *d = f64::NAN;
            }
        }
        top.clear();
        top.resize(n, [(u16::MAX, 0f64); REASONS]);
        lost.resize(n, 0.0);
        for (k, (col, &w)) in self.columns.iter().zip(weights).enumerate() {
            for ((l, &d), &s) in lost.iter_mut().zip(den.iter()).zip(&col[start..start + n]) {
                *l = w / d * (100.0 - s);
            }
            for (t, &l) in top.iter_mut().zip(lost.iter()) {
                // (NaN, a missing metric or a skipped row, fails both.)
                if !(l > 1e-9 && l > t[REASONS - 1].1) {
                    continue;
                }
                let mut p = REASONS - 1;
                while p > 0 && t[p - 1].1 < l {
                    t[p] = t[p - 1];
                    p -= 1;
                }
                t[p] = (k as u16, l);
            }
        }
        for (j, t) in top.iter().enumerate() {
            for (r, (k, l)) in t.iter().enumerate() {
                idx[j * REASONS + r] = *k;
                pts[j * REASONS + r] = *l as f32;
            }
        }
    }
}

/// Working memory of [`SubScores::reasons_into`], reused from call to call.
#[derive(Debug, Default)]
struct ReasonScratch {
    den: Vec<f64>,
    lost: Vec<f64>,
    top: Vec<[(u16, f64); REASONS]>,
}

/// A score table's per-row detail — each group's score and the reason codes — computed a
/// range of rows at a time from the sub-scores, so that writing a table of 10M rows never
/// holds the detail of them all (0.8 GB at 8 groups).
pub struct Detail<'a> {
    subs: &'a SubScores,
    weights: Vec<f64>,
    group_weights: Vec<Vec<f64>>,
    /// Group labels, in profile order.
    pub group_labels: Vec<String>,
    /// Metric names, in profile order (what reason codes index).
    pub metric_names: Vec<String>,
}

/// The detail of a range of rows (see [`Detail::fill`]), indexed from the range's start.
#[derive(Debug, Default)]
pub struct DetailRows {
    /// Each group's scores.
    pub groups: Vec<Vec<f64>>,
    /// [`REASONS`] metric indices per row (`u16::MAX`: none).
    pub reasons: Vec<u16>,
    /// The score points each reason costs.
    pub points: Vec<f32>,
    den: Vec<f64>,
    scratch: ReasonScratch,
}

impl<'a> Detail<'a> {
    /// The detail of `profile`'s scores of `subs`.
    pub fn new(profile: &Profile, subs: &'a SubScores) -> Self {
        let weights = profile.effective_weights();
        let (group_labels, group_of) = profile.group_labels();
        let group_weights = (0..group_labels.len())
            .map(|g| {
                weights
                    .iter()
                    .zip(&group_of)
                    // A tiny floor keeps zero-weight metrics in their group's mean.
                    .map(|(&w, gi)| if *gi == Some(g) { w.max(1e-300) } else { 0.0 })
                    .collect()
            })
            .collect();
        Detail {
            subs,
            weights,
            group_weights,
            group_labels,
            metric_names: profile.metrics.iter().map(|m| m.name.clone()).collect(),
        }
    }

    /// The detail of `rows` into `out`, whose buffers are reused from call to call.
    pub fn fill(&self, rows: Range<usize>, out: &mut DetailRows) {
        let n = rows.len();
        out.groups.resize_with(self.group_weights.len(), Vec::new);
        for (g, w) in out.groups.iter_mut().zip(&self.group_weights) {
            g.clear();
            g.resize(n, 0.0);
            out.den.clear();
            out.den.resize(n, 0.0);
            self.subs.scores_into(w, rows.start, g, &mut out.den);
        }
        out.reasons.resize(n * REASONS, u16::MAX);
        out.points.resize(n * REASONS, 0.0);
        self.subs.reasons_into(
            &self.weights,
            rows.start,
            &mut out.reasons,
            &mut out.points,
            &mut out.scratch,
        );
    }
}

/// Where a metric's values come from, for messages: the file and its row numbers.
#[derive(Clone, Copy)]
struct Origin<'a> {
    path: &'a str,
    rows: usize,
    numbering: Numbering<'a>,
}

/// The 1-based file row of each row.
#[derive(Clone, Copy)]
enum Numbering<'a> {
    /// Listed (loaded snapshots, some rows perhaps left out).
    Rows(&'a [u32]),
    /// Consecutive from the first row's (a batch of a file being loaded).
    From(usize),
}

impl<'a> Origin<'a> {
    fn of(data: &'a Snapshots) -> Self {
        Origin {
            path: &data.source,
            rows: data.rows,
            numbering: Numbering::Rows(&data.source_row),
        }
    }

    /// The 1-based file row of row `i`.
    fn row(&self, i: usize) -> usize {
        match self.numbering {
            Numbering::Rows(r) => r[i] as usize,
            Numbering::From(first) => first + i,
        }
    }
}

/// A metric's values in `data`: `taken` when they were moved out of it, else read from it.
fn values_of<'a>(
    m: &Metric,
    data: &'a Snapshots,
    taken: Option<Vec<f64>>,
) -> Result<Values<'a>, ScoreError> {
    Ok(match (taken, data.metric(&m.column)) {
        (Some(v), _) => Values::Numbers(v),
        (None, Some(MetricColumn::Numeric(v))) => Values::Numbers(v.clone()),
        (None, Some(MetricColumn::Text { codes, labels })) => Values::Labels { codes, labels },
        (None, None) => return Err(not_loaded(m)),
    })
}

fn not_loaded(m: &Metric) -> ScoreError {
    ScoreError::NotLoaded {
        metric: m.name.clone(),
        column: m.column.clone(),
    }
}

/// Buffers a caller scoring batch after batch hands back for the next batch's column
/// (empty ones by default): the sub-scores of labels, and the rows' presence.
#[derive(Default)]
struct Spare {
    scores: Vec<f64>,
    present: Vec<bool>,
}

/// One metric's sub-scores (in the numbers' own buffer, when the values are numbers, else
/// in `spare`'s), and whether each row's raw value was present (in `spare`'s buffer).
fn metric_column(
    m: &Metric,
    origin: Origin,
    values: Values,
    spare: Spare,
) -> Result<(Vec<f64>, Vec<bool>), ScoreError> {
    let fill = match m.missing {
        Missing::Redistribute => f64::NAN,
        Missing::Neutral => 50.0,
        Missing::Worst => 0.0,
        Missing::Error => {
            let first_missing = match &values {
                Values::Numbers(v) => v.iter().position(|x| x.is_nan()),
                Values::Labels { codes, .. } => {
                    codes.iter().position(|&c| c == MetricColumn::MISSING_CODE)
                }
            };
            if let Some(i) = first_missing {
                return Err(ScoreError::MissingValue {
                    path: origin.path.to_string(),
                    row: origin.row(i),
                    column: m.column.clone(),
                    metric: m.name.clone(),
                });
            }
            f64::NAN
        }
    };
    let Spare {
        scores: mut out,
        mut present,
    } = spare;
    present.clear();
    present.resize(origin.rows, true);
    out.clear();
    let out = match (values, &m.transform) {
        (Values::Numbers(_), Transform::Categories { .. }) => {
            return Err(ScoreError::WrongKind {
                metric: m.name.clone(),
                column: m.column.clone(),
                found: "numbers",
                transform: "categories",
                needed: "text labels",
            });
        }
        (Values::Numbers(v), t) => transformed(
            v,
            prepare(t).expect("numeric transform"),
            m.direction,
            fill,
            &mut present,
        ),
        (Values::Labels { codes, labels }, Transform::Categories { map }) => {
            let table: Vec<Option<f64>> = labels
                .iter()
                .map(|l| map.get(l).map(|s| directed(m.direction, *s)))
                .collect();
            let known: Vec<String> = map.keys().cloned().collect();
            by_label(codes, labels, &table, fill, &mut present, out, || known)
                .map_err(|(i, value, known)| unknown(origin, m, i, value, known))?
        }
        (Values::Labels { codes, labels }, Transform::Boolean) => {
            // Labels read as booleans (true/1/yes, false/0/no).
            let table: Vec<Option<f64>> = labels
                .iter()
                .map(|l| match crate::data::parse::boolean(l) {
                    Ok(Some(b)) => Some(directed(m.direction, if b { 100.0 } else { 0.0 })),
                    _ => None,
                })
                .collect();
            let known = || {
                ["true", "false", "yes", "no", "1", "0"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            };
            by_label(codes, labels, &table, fill, &mut present, out, known)
                .map_err(|(i, value, known)| unknown(origin, m, i, value, known))?
        }
        (Values::Labels { .. }, t) => {
            return Err(ScoreError::WrongKind {
                metric: m.name.clone(),
                column: m.column.clone(),
                found: "text labels",
                transform: t.kind_name(),
                needed: "numbers",
            })
        }
    };
    Ok((out, present))
}

/// Sub-scores of a numeric column, in the values' own buffer: `fill` where a value is
/// missing (and `present` false). One loop per transform kind, so that each compiles to
/// straight-line code (the linear one to vector instructions).
fn transformed(
    values: Vec<f64>,
    prep: Prepared,
    direction: Direction,
    fill: f64,
    present: &mut [bool],
) -> Vec<f64> {
    #[inline(always)]
    fn run(
        mut values: Vec<f64>,
        fill: f64,
        present: &mut [bool],
        f: impl Fn(f64) -> f64 + Copy,
    ) -> Vec<f64> {
        for (x, p) in values.iter().zip(present.iter_mut()) {
            *p = !x.is_nan();
        }
        // The transform is computed for a missing value too (`f` must take NaN) and then
        // replaced: no branch (and no byte-wide store beside), so that the loop can become
        // vector instructions.
        for x in values.iter_mut() {
            let missing = x.is_nan();
            let s = f(*x);
            *x = if missing { fill } else { s };
        }
        values
    }
    // The direction is resolved here, once, so that each loop is straight-line code.
    macro_rules! directed_run {
        ($f:expr) => {
            match direction {
                Direction::HigherIsBetter => run(values, fill, present, $f),
                Direction::LowerIsBetter => {
                    let f = $f;
                    run(values, fill, present, move |x| {
                        directed(Direction::LowerIsBetter, f(x))
                    })
                }
            }
        };
    }
    match prep {
        // (The common span apart: `linear`'s test of it then folds away in the loop.)
        Prepared::Linear { lo, hi } if (hi - lo).is_finite() => {
            directed_run!(move |x| linear(x, lo, hi))
        }
        Prepared::Linear { lo, hi } => directed_run!(move |x| linear(x, lo, hi)),
        Prepared::Log { lo, hi, a, b } => directed_run!(move |x| log(x, lo, hi, a, b)),
        Prepared::Boolean => directed_run!(boolean),
        // (A missing value must not reach the lookups, which need a number.)
        p @ (Prepared::Points(_) | Prepared::Percentile(_)) => {
            directed_run!(|x: f64| if x.is_nan() { x } else { p.apply(x) })
        }
    }
}

/// Sub-scores of a label column through a per-label table (resolved once per distinct
/// label), into `out` (empty). An unknown label returns its row, the label and the known
/// labels.
fn by_label(
    codes: &[u32],
    labels: &[String],
    table: &[Option<f64>],
    fill: f64,
    present: &mut [bool],
    mut out: Vec<f64>,
    known: impl FnOnce() -> Vec<String>,
) -> Result<Vec<f64>, (usize, String, Vec<String>)> {
    out.reserve(codes.len());
    for (i, &c) in codes.iter().enumerate() {
        if c == MetricColumn::MISSING_CODE {
            present[i] = false;
            out.push(fill);
            continue;
        }
        match table[c as usize] {
            Some(s) => out.push(s),
            None => return Err((i, labels[c as usize].clone(), known())),
        }
    }
    Ok(out)
}

fn unknown(
    origin: Origin,
    m: &crate::profile::Metric,
    i: usize,
    value: String,
    known: Vec<String>,
) -> ScoreError {
    ScoreError::UnknownCategory(Box::new(UnknownCategory {
        path: origin.path.to_string(),
        row: origin.row(i),
        column: m.column.clone(),
        metric: m.name.clone(),
        value,
        known,
    }))
}

/// The result of scoring: one entry per snapshot in every vector.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Health score in [0, 100]; NaN for a snapshot with no metric present.
    pub score: Vec<f64>,
    /// Group labels, in profile order.
    pub group_labels: Vec<String>,
    /// Score of each group per snapshot (NaN where none of its metrics is present).
    pub group_scores: Vec<Vec<f64>>,
    /// Tier index per snapshot (into `tier_names`); `u8::MAX` when unscored.
    pub tier: Vec<u8>,
    /// Tier names, best first.
    pub tier_names: Vec<String>,
    /// Tier colours, best first.
    pub tier_colors: Vec<String>,
    /// The lowest score of each tier (resolved from quantiles where the profile says so).
    pub tier_mins: Vec<f64>,
    /// P(churn) per snapshot, when the profile is calibrated.
    pub probability: Option<Vec<f64>>,
    /// Metric names, in profile order (what reason codes index).
    pub metric_names: Vec<String>,
    /// The metrics pulling each score down most: `reasons_per_row` entries per row, the
    /// metric index or `u16::MAX` for none.
    pub reasons: Vec<u16>,
    /// Score points each reason costs: its share of the weight × (100 − sub-score) / 100.
    pub reason_points: Vec<f32>,
    /// Reasons kept per row.
    pub reasons_per_row: usize,
    /// Snapshots with no score.
    pub unscored: usize,
}

/// Reasons kept per snapshot.
pub const REASONS: usize = 3;

/// How much [`score`] computes beyond the score itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Scores, tiers and probabilities only, for the stages that count by tier (tiers,
    /// cohorts, validate): the group scores and reason codes are left empty, which saves a
    /// pass per group and per reason and their memory (0.8 GB at 10M rows and 8 groups).
    Tiers,
    /// Also every group's score and the reason codes of each row.
    Full,
}

/// Score snapshots with a profile, from their sub-scores:
///
/// ```no_run
/// # use churncal::{data, profile, score};
/// # let profile = profile::presets::preset("three-dimensions")?;
/// # let snapshots = data::load("notebooks-data/sample_snapshots.csv", &data::LoadRequest::for_profile(&profile))?;
/// let subs = score::SubScores::compute(&profile, &snapshots)?;
/// let scored = score::score(&profile, &subs, score::Extent::Full);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Sub-scores computed once serve every profile with the same metrics and transforms
/// ([`SubScores::same_for`]).
pub fn score(profile: &Profile, subs: &SubScores, extent: Extent) -> Scored {
    let weights = profile.effective_weights();
    let mut scored = from_scores(profile, subs.scores(&weights));
    if extent == Extent::Full {
        let detail = Detail::new(profile, subs);
        scored.group_scores = detail
            .group_weights
            .par_iter()
            .map(|w| subs.scores(w))
            .collect();
        scored.group_labels = detail.group_labels;
        (scored.reasons, scored.reason_points) = reasons(subs, &weights);
        scored.reasons_per_row = REASONS;
    }
    scored
}

/// The tiers and probabilities (no group scores or reasons) of scores computed with
/// `profile`'s weights (by [`SubScores::scores`] or [`StreamedScores`]); also what
/// re-tiers scores under other cut-offs of the same profile.
pub fn from_scores(profile: &Profile, score: Vec<f64>) -> Scored {
    let tier_mins = resolve_tiers(profile, &score);
    let tier: Vec<u8> = score
        .par_iter()
        .map(|&s| {
            if s.is_nan() {
                u8::MAX
            } else {
                tier_mins
                    .iter()
                    .position(|&m| s >= m)
                    .unwrap_or(tier_mins.len() - 1) as u8
            }
        })
        .collect();
    let probability = profile
        .calibration
        .as_ref()
        .map(|c| score.par_iter().map(|&s| c.probability(s)).collect());
    Scored {
        unscored: score.iter().filter(|s| s.is_nan()).count(),
        score,
        group_labels: Vec::new(),
        group_scores: Vec::new(),
        tier,
        tier_names: profile.tier_names(),
        tier_colors: profile.tier_colors(),
        tier_mins,
        probability,
        metric_names: profile.metrics.iter().map(|m| m.name.clone()).collect(),
        reasons: Vec::new(),
        reason_points: Vec::new(),
        reasons_per_row: 0,
    }
}

/// The lowest score of each tier, best first: the profile's `min`s, or the quantiles of the
/// scored population (linear interpolation between order statistics, as numpy's default),
/// kept non-increasing.
pub fn resolve_tiers(profile: &Profile, scores: &[f64]) -> Vec<f64> {
    let Some(q) = &profile.tiers_by_quantile else {
        return profile.tiers.iter().map(|t| t.min).collect();
    };
    let mut sorted: Vec<f64> = scores.iter().copied().filter(|s| !s.is_nan()).collect();
    sorted.par_sort_unstable_by(f64::total_cmp);
    let mut mins: Vec<f64> = q
        .tiers
        .iter()
        .map(|t| match t.from {
            QuantileCut::Quantile(p) => crate::stats::quantile_sorted(&sorted, p),
            QuantileCut::Stat(CutStat::Median) => crate::stats::quantile_sorted(&sorted, 0.5),
            QuantileCut::Stat(CutStat::Mean) => {
                if sorted.is_empty() {
                    0.0
                } else {
                    sorted.iter().sum::<f64>() / sorted.len() as f64
                }
            }
        })
        .collect();
    for i in 1..mins.len() {
        mins[i] = mins[i].min(mins[i - 1]);
    }
    if let Some(last) = mins.last_mut() {
        *last = 0.0;
    }
    mins
}

/// The [`REASONS`] metrics costing each row the most score points.
fn reasons(subs: &SubScores, weights: &[f64]) -> (Vec<u16>, Vec<f32>) {
    let n = subs.rows;
    let mut idx = vec![u16::MAX; n * REASONS];
    let mut pts = vec![0f32; n * REASONS];
    idx.par_chunks_mut(CHUNK * REASONS)
        .zip(pts.par_chunks_mut(CHUNK * REASONS))
        .enumerate()
        .for_each_init(ReasonScratch::default, |scratch, (c, (idx, pts))| {
            subs.reasons_into(weights, c * CHUNK, idx, pts, scratch)
        });
    (idx, pts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MetricColumn;
    use crate::profile::Tier;
    use approx::assert_relative_eq;

    /// Every detail of loaded snapshots.
    fn score_data(p: &Profile, d: &Snapshots) -> Result<Scored, ScoreError> {
        Ok(score(p, &SubScores::compute(p, d)?, Extent::Full))
    }

    fn metric(name: &str, weight: f64, missing: Missing) -> Metric {
        Metric {
            name: name.into(),
            column: name.into(),
            group: None,
            weight,
            direction: Direction::HigherIsBetter,
            transform: Transform::Linear { lo: 0.0, hi: 100.0 },
            missing,
            calibration: None,
        }
    }

    fn profile(metrics: Vec<Metric>) -> Profile {
        Profile {
            name: "t".into(),
            description: String::new(),
            format: 1,
            tiers: vec![
                Tier {
                    name: "good".into(),
                    min: 50.0,
                    color: None,
                },
                Tier {
                    name: "bad".into(),
                    min: 0.0,
                    color: None,
                },
            ],
            tiers_by_quantile: None,
            groups: vec![],
            metrics,
            calibration: None,
        }
    }

    fn data(cols: Vec<(&str, Vec<f64>)>) -> Snapshots {
        Snapshots::from_metrics(
            "t.csv",
            cols.into_iter()
                .map(|(n, v)| (n.to_string(), MetricColumn::Numeric(v)))
                .collect(),
        )
    }

    #[test]
    fn presence_counts_across_many_rows() {
        // A numeric metric missing every 7th row, a label metric every 5th, one always
        // there.
        let n = 70_013;
        let a: Vec<f64> = (0..n)
            .map(|i| if i % 7 == 0 { f64::NAN } else { 40.0 })
            .collect();
        let c: Vec<f64> = vec![60.0; n];
        let codes: Vec<u32> = (0..n)
            .map(|i| {
                if i % 5 == 0 {
                    MetricColumn::MISSING_CODE
                } else {
                    (i % 2) as u32
                }
            })
            .collect();
        let mut d = data(vec![("a", a), ("c", c)]);
        d.metrics.push((
            "b".into(),
            MetricColumn::Text {
                codes,
                labels: vec!["yes".into(), "no".into()],
            },
        ));
        let mut b = metric("b", 1.0, Missing::Neutral);
        b.transform = Transform::Boolean;
        let p = profile(vec![
            metric("a", 1.0, Missing::Redistribute),
            b,
            metric("c", 1.0, Missing::Worst),
        ]);
        for subs in [
            SubScores::compute(&p, &d).unwrap(),
            SubScores::compute_consuming(&p, &mut d.clone()).unwrap(),
        ] {
            for i in 0..n {
                let want = 3 - u16::from(i % 7 == 0) - u16::from(i % 5 == 0);
                assert_eq!(subs.present[i], want, "row {i}");
            }
            assert_eq!(subs.columns[1][5], 50.0);
            assert!(subs.columns[0][7].is_nan());
        }
    }

    #[test]
    fn tier_only_scoring_gives_the_same_scores_tiers_and_probabilities() {
        let synth = crate::synth::generate(&crate::synth::SynthParams {
            accounts: 300,
            ..Default::default()
        });
        let mut p = crate::profile::presets::preset("eight-pillars").unwrap();
        p.calibration = Some(
            serde_json::from_value(serde_json::json!({"intercept": -2.0, "slope": -3.0})).unwrap(),
        );
        let full = score_data(&p, &synth.snapshots).unwrap();
        let lean = score(
            &p,
            &SubScores::compute(&p, &synth.snapshots).unwrap(),
            Extent::Tiers,
        );
        assert_eq!(full.score.len(), lean.score.len());
        for (a, b) in full.score.iter().zip(&lean.score) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(full.tier, lean.tier);
        assert_eq!(full.probability, lean.probability);
        assert_eq!(full.unscored, lean.unscored);
        assert!(!full.group_scores.is_empty() && !full.reasons.is_empty());
        assert!(lean.group_scores.is_empty() && lean.group_labels.is_empty());
        assert!(lean.reasons.is_empty() && lean.reasons_per_row == 0);
    }

    // Found by the scoring fuzz target: Σ w·s / Σ w rounded to 100.00000000000001 here.
    /// Row by row, the rule as first written: the reference for the column-wise pass.
    fn reasons_row_by_row(subs: &SubScores, weights: &[f64]) -> (Vec<u16>, Vec<f32>) {
        let mut idx = vec![u16::MAX; subs.rows * REASONS];
        let mut pts = vec![0f32; subs.rows * REASONS];
        for i in 0..subs.rows {
            let mut den = 0.0;
            for (col, &w) in subs.columns.iter().zip(weights) {
                if !col[i].is_nan() {
                    den += w;
                }
            }
            if den <= 0.0 || subs.present[i] == 0 {
                continue;
            }
            let mut top = [(u16::MAX, 0f64); REASONS];
            for (k, (col, &w)) in subs.columns.iter().zip(weights).enumerate() {
                let s = col[i];
                if s.is_nan() {
                    continue;
                }
                let lost = w / den * (100.0 - s);
                if lost <= 1e-9 || lost <= top[REASONS - 1].1 {
                    continue;
                }
                let mut p = REASONS - 1;
                while p > 0 && top[p - 1].1 < lost {
                    top[p] = top[p - 1];
                    p -= 1;
                }
                top[p] = (k as u16, lost);
            }
            for (r, (k, l)) in top.iter().enumerate() {
                idx[i * REASONS + r] = *k;
                pts[i * REASONS + r] = *l as f32;
            }
        }
        (idx, pts)
    }

    proptest::proptest! {
        /// The column-wise reasons are the row-by-row rule's: missing metrics, zero
        /// weights, ties, perfect rows and rows with nothing present.
        #[test]
        fn reasons_column_by_column_match_row_by_row(
            cells in proptest::collection::vec(proptest::option::of(0u8..5), 6 * 40),
            weights in proptest::collection::vec(0u8..4, 6),
            dead in proptest::collection::vec(proptest::bool::ANY, 40),
        ) {
            let rows = 40;
            let columns: Vec<Vec<f64>> = (0..6)
                .map(|m| {
                    (0..rows)
                        .map(|i| cells[m * rows + i].map_or(f64::NAN, |v| 100.0 - 25.0 * f64::from(v)))
                        .collect()
                })
                .collect();
            let present: Vec<u16> = (0..rows)
                .map(|i| if dead[i] { 0 } else { columns.iter().filter(|c| !c[i].is_nan()).count() as u16 })
                .collect();
            let subs = SubScores { rows, columns, present };
            let w: Vec<f64> = weights.iter().map(|&x| f64::from(x) * 12.5).collect();
            proptest::prop_assert_eq!(reasons(&subs, &w), reasons_row_by_row(&subs, &w));
        }
    }

    #[test]
    fn detail_by_pieces_is_the_whole_tables_detail() {
        let synth = crate::synth::generate(&crate::synth::SynthParams {
            accounts: 300,
            quarters: 4,
            ..Default::default()
        });
        let profile = crate::profile::presets::preset("eight-pillars").unwrap();
        let subs = SubScores::compute(&profile, &synth.snapshots).unwrap();
        let full = score(&profile, &subs, Extent::Full);
        let detail = Detail::new(&profile, &subs);
        assert_eq!(detail.group_labels, full.group_labels);
        let mut d = DetailRows::default();
        for rows in [0..1, 7..400, 399..subs.rows, 0..subs.rows] {
            detail.fill(rows.clone(), &mut d);
            for (g, want) in d.groups.iter().zip(&full.group_scores) {
                let want = &want[rows.clone()];
                assert!(g.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()));
            }
            let r = rows.start * REASONS..rows.end * REASONS;
            assert_eq!(d.reasons, full.reasons[r.clone()]);
            assert_eq!(d.points, full.reason_points[r]);
        }
        assert!(full.reasons.iter().any(|&r| r != u16::MAX));
    }

    #[test]
    fn a_perfect_row_scores_exactly_100() {
        let p = profile(vec![
            metric("a", 0.2, Missing::Redistribute),
            metric("b", 0.1, Missing::Redistribute),
            metric("c", 0.3, Missing::Redistribute),
        ]);
        let d = data(vec![
            ("a", vec![100.0]),
            ("b", vec![100.0]),
            ("c", vec![100.0]),
        ]);
        assert_eq!(score_data(&p, &d).unwrap().score, vec![100.0]);
    }

    // Hand calculations: weights a = 3, b = 1 (effective 75 / 25); a = 80, b = 40.
    #[test]
    fn missing_policies_known_answers() {
        let nan = f64::NAN;
        let d = data(vec![("a", vec![80.0, 80.0]), ("b", vec![40.0, nan])]);
        let cases = [
            // policy of b, score of row 0, score of row 1
            (Missing::Redistribute, 70.0, 80.0), // row 1: only a, renormalised
            (Missing::Neutral, 70.0, 72.5),      // 0.75·80 + 0.25·50
            (Missing::Worst, 70.0, 60.0),        // 0.75·80 + 0.25·0
        ];
        for (policy, r0, r1) in cases {
            let p = profile(vec![
                metric("a", 3.0, Missing::Redistribute),
                metric("b", 1.0, policy),
            ]);
            let s = score_data(&p, &d).unwrap();
            assert_relative_eq!(s.score[0], r0, epsilon = 1e-12);
            assert_relative_eq!(s.score[1], r1, epsilon = 1e-12);
        }
        let p = profile(vec![
            metric("a", 3.0, Missing::Redistribute),
            metric("b", 1.0, Missing::Error),
        ]);
        assert!(matches!(
            score_data(&p, &d),
            Err(ScoreError::MissingValue { row: 2, .. })
        ));
    }

    #[test]
    fn no_metric_present_is_unscored_even_with_neutral_fill() {
        let nan = f64::NAN;
        let d = data(vec![("a", vec![nan, 10.0]), ("b", vec![nan, 20.0])]);
        let p = profile(vec![
            metric("a", 1.0, Missing::Neutral),
            metric("b", 1.0, Missing::Worst),
        ]);
        let s = score_data(&p, &d).unwrap();
        assert!(s.score[0].is_nan());
        assert_eq!(s.tier[0], u8::MAX);
        assert_eq!(s.unscored, 1);
        assert_relative_eq!(s.score[1], 15.0);
    }

    #[test]
    fn reasons_are_points_lost_largest_first() {
        // a: w 50, s 80 → loses 10; b: w 30, s 0 → loses 30; c: w 20, s 100 → loses 0
        let d = data(vec![
            ("a", vec![80.0]),
            ("b", vec![0.0]),
            ("c", vec![100.0]),
        ]);
        let p = profile(vec![
            metric("a", 5.0, Missing::Redistribute),
            metric("b", 3.0, Missing::Redistribute),
            metric("c", 2.0, Missing::Redistribute),
        ]);
        let s = score_data(&p, &d).unwrap();
        assert_relative_eq!(s.score[0], 60.0);
        assert_eq!(&s.reasons[..3], &[1, 0, u16::MAX]);
        assert_relative_eq!(s.reason_points[0], 30.0);
        assert_relative_eq!(s.reason_points[1], 10.0);
    }

    #[test]
    fn tiers_take_the_first_min_reached() {
        let d = data(vec![("a", vec![50.0, 49.99, 0.0, 100.0])]);
        let p = profile(vec![metric("a", 1.0, Missing::Redistribute)]);
        let s = score_data(&p, &d).unwrap();
        assert_eq!(s.tier, vec![0, 1, 1, 0]);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.quantile([1, 2, 3, 4], 0.25) == 1.75
        assert_relative_eq!(
            crate::stats::quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.25),
            1.75
        );
        assert_relative_eq!(
            crate::stats::quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 1.0),
            4.0
        );
    }

    #[test]
    fn probability_from_calibration() {
        let d = data(vec![("a", vec![50.0])]);
        let mut p = profile(vec![metric("a", 1.0, Missing::Redistribute)]);
        p.calibration = Some(crate::profile::Calibration::new(-1.0, -4.0));
        let s = score_data(&p, &d).unwrap();
        // 1 / (1 + exp(-(-1 - 4·0.5))) = 1 / (1 + e^3)
        assert_relative_eq!(
            s.probability.unwrap()[0],
            1.0 / (1.0 + 3f64.exp()),
            epsilon = 1e-15
        );
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_relative_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) > 0.0 || sigmoid(-800.0) == 0.0);
        assert!(sigmoid(800.0) <= 1.0);
        assert!(!sigmoid(-800.0).is_nan());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::profile::presets;
    use crate::profile::transform::numeric;
    use proptest::prelude::*;

    fn raw() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::NAN),
            -1e6..1e6f64,
            -200.0..200.0f64,
            prop::num::f64::NORMAL,
        ]
    }

    proptest! {
        #[test]
        fn numeric_subscores_stay_in_0_100(x in prop::num::f64::NORMAL | prop::num::f64::ZERO) {
            for name in presets::names() {
                for m in presets::preset(name).unwrap().metrics {
                    if let Some(s) = numeric(&m.transform, x) {
                        let s = directed(m.direction, s);
                        prop_assert!((0.0..=100.0).contains(&s), "{} {x} -> {s}", m.name);
                    }
                }
            }
        }

        // The column loops (one per transform kind) give the bits of the one-value
        // function, missing values aside.
        #[test]
        fn column_transforms_match_the_value_function(
            xs in prop::collection::vec(raw(), 1..40),
            lo in -1e3..1e3f64,
            span in 1e-6..1e4f64,
            lower in any::<bool>(),
        ) {
            let hi = lo + span;
            let direction = if lower { Direction::LowerIsBetter } else { Direction::HigherIsBetter };
            let transforms = [
                Transform::Linear { lo, hi },
                Transform::Log { lo: lo.abs(), hi: lo.abs() + span },
                Transform::Points { map: vec![[lo, 10.0], [lo + span / 3.0, 70.0], [hi, 40.0]] },
                Transform::Percentile { breaks: vec![lo, lo, lo + span / 2.0, hi] },
                Transform::Boolean,
            ];
            for t in &transforms {
                let mut present = vec![true; xs.len()];
                let col = transformed(xs.clone(), prepare(t).unwrap(), direction, 50.0, &mut present);
                for (i, &x) in xs.iter().enumerate() {
                    let want = if x.is_nan() { 50.0 } else { directed(direction, numeric(t, x).unwrap()) };
                    prop_assert_eq!(col[i].to_bits(), want.to_bits(), "{:?} at {}", t, x);
                    prop_assert_eq!(present[i], !x.is_nan());
                }
            }
        }

        #[test]
        fn scores_stay_in_0_100_and_weights_sum_to_100(
            cols in prop::collection::vec(prop::collection::vec(raw(), 6), 3),
            weights in prop::collection::vec(0.0..100.0f64, 3),
        ) {
            prop_assume!(weights.iter().any(|w| *w > 0.0));
            let subs = SubScores {
                rows: 6,
                columns: cols.iter().map(|c| c.iter().map(|x| if x.is_nan() { f64::NAN } else {
                    numeric(&Transform::Linear { lo: -100.0, hi: 100.0 }, *x).unwrap()
                }).collect()).collect(),
                present: (0..6).map(|i| cols.iter().filter(|c| !c[i].is_nan()).count() as u16).collect(),
            };
            for s in subs.scores(&weights) {
                prop_assert!(s.is_nan() || (0.0..=100.0 + 1e-9).contains(&s), "{s}");
            }
            let mut p = presets::preset("bigcommerce-ten").unwrap();
            for (m, w) in p.metrics.iter_mut().zip(weights.iter().cycle()) {
                m.weight = *w;
            }
            if p.check().is_ok() {
                let total: f64 = p.effective_weights().iter().sum();
                prop_assert!((total - 100.0).abs() < 1e-9);
            }
        }
    }
}
