//! Sub-scores: each metric's raw column through its transform and direction into 0–100,
//! column by column, with the missing-value policy's presence per row; a refused value names
//! its file row, column and value.

use super::*;

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

/// Rows per block of [`SubScores::scores_in_blocks`]: 2 MB per metric column.
pub const SCORE_BLOCK: usize = 1 << 18;

/// A metric's values on their way to sub-scores: numbers in a buffer of their own (which
/// becomes the sub-score column), or labels borrowed from the data.
pub(super) enum Values<'a> {
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
    pub(super) fn compute_from(
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

    /// [`SubScores::compute`] then [`SubScores::scores`] with `profile`'s effective weights,
    /// a block of [`SCORE_BLOCK`] rows at a time, for a caller that keeps the metric values:
    /// only one block's sub-scores are in memory instead of every row's (a gigabyte at 10M
    /// rows × 13 metrics). The scores are the same bits (each row's sum runs over the
    /// metrics in the same order), and a refused value names the same file row.
    pub fn scores_in_blocks(profile: &Profile, data: &Snapshots) -> Result<Vec<f64>, ScoreError> {
        Self::scores_in_blocks_of(profile, data, SCORE_BLOCK)
    }

    /// [`SubScores::scores_in_blocks`] with blocks of `block` rows.
    pub(super) fn scores_in_blocks_of(
        profile: &Profile,
        data: &Snapshots,
        block: usize,
    ) -> Result<Vec<f64>, ScoreError> {
        let weights = profile.effective_weights();
        let mut out = vec![0.0; data.rows];
        // Each metric's sub-score and presence buffers, handed from block to block.
        let mut spare: Vec<Spare> = profile.metrics.iter().map(|_| Spare::default()).collect();
        let mut counts = Vec::new();
        for start in (0..data.rows).step_by(block.max(1)) {
            let end = (start + block.max(1)).min(data.rows);
            let origin = Origin {
                path: &data.source,
                rows: end - start,
                numbering: Numbering::Rows(&data.source_row[start..end]),
            };
            let columns: Vec<(Vec<f64>, Vec<bool>)> = profile
                .metrics
                .par_iter()
                .zip(spare.par_drain(..))
                .map(|(m, spare)| {
                    let (values, spare) = match data.metric(&m.column) {
                        Some(MetricColumn::Numeric(v)) => {
                            // The values go into the sub-scores' buffer, which the
                            // transform turns into the sub-scores in place.
                            let Spare {
                                scores: mut buf,
                                present,
                            } = spare;
                            buf.clear();
                            buf.extend_from_slice(&v[start..end]);
                            let spare = Spare {
                                scores: Vec::new(),
                                present,
                            };
                            (Values::Numbers(buf), spare)
                        }
                        Some(MetricColumn::Text { codes, labels }) => (
                            Values::Labels {
                                codes: &codes[start..end],
                                labels,
                            },
                            spare,
                        ),
                        None => return Err(not_loaded(m)),
                    };
                    metric_column(m, origin, values, spare)
                })
                .collect::<Result<_, _>>()?;
            let (columns, presence): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
            let subs = Self::from_columns(end - start, columns, &presence, counts);
            subs.fill_scores(&weights, &mut out[start..end]);
            counts = subs.present;
            spare = subs
                .columns
                .into_iter()
                .zip(presence)
                .map(|(scores, present)| Spare { scores, present })
                .collect();
        }
        Ok(out)
    }

    /// The sub-scores of `rows` rows from each metric's column and presence (`counts`: a
    /// buffer to reuse for the present metrics' count).
    pub(super) fn from_columns(
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
    pub(super) fn fill_scores(&self, weights: &[f64], out: &mut [f64]) {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
            let mut den = vec![0.0; out.len()];
            self.scores_into(weights, c * CHUNK, out, &mut den);
        });
    }

    /// [`SubScores::scores`] of rows `start..start + out.len()` into `out` (zeroed), with
    /// `den` (zeroed, as long) for the weight sums.
    pub(super) fn scores_into(
        &self,
        weights: &[f64],
        start: usize,
        out: &mut [f64],
        den: &mut [f64],
    ) {
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
    pub(super) fn reasons_into(
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

/// Where a metric's values come from, for messages: the file and its row numbers.
#[derive(Clone, Copy)]
pub(super) struct Origin<'a> {
    pub(super) path: &'a str,
    pub(super) rows: usize,
    pub(super) numbering: Numbering<'a>,
}

/// The 1-based file row of each row.
#[derive(Clone, Copy)]
pub(super) enum Numbering<'a> {
    /// Listed (loaded snapshots, some rows perhaps left out).
    Rows(&'a [u32]),
    /// Consecutive from the first row's (a batch of a file being loaded).
    From(usize),
}

impl<'a> Origin<'a> {
    pub(super) fn of(data: &'a Snapshots) -> Self {
        Origin {
            path: &data.source,
            rows: data.rows,
            numbering: Numbering::Rows(&data.source_row),
        }
    }

    /// The 1-based file row of row `i`.
    pub(super) fn row(&self, i: usize) -> usize {
        match self.numbering {
            Numbering::Rows(r) => r[i] as usize,
            Numbering::From(first) => first + i,
        }
    }
}

/// A metric's values in `data`: `taken` when they were moved out of it, else read from it.
pub(super) fn values_of<'a>(
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

pub(super) fn not_loaded(m: &Metric) -> ScoreError {
    ScoreError::NotLoaded {
        metric: m.name.clone(),
        column: m.column.clone(),
    }
}

/// Buffers a caller scoring batch after batch hands back for the next batch's column
/// (empty ones by default): the sub-scores of labels, and the rows' presence.
#[derive(Default)]
pub(super) struct Spare {
    pub(super) scores: Vec<f64>,
    pub(super) present: Vec<bool>,
}

/// One metric's sub-scores (in the numbers' own buffer, when the values are numbers, else
/// in `spare`'s), and whether each row's raw value was present (in `spare`'s buffer).
pub(super) fn metric_column(
    m: &Metric,
    origin: Origin,
    values: Values,
    spare: Spare,
) -> Result<(Vec<f64>, Vec<bool>), ScoreError> {
    let fill = match m.missing {
        Missing::Redistribute => f64::NAN,
        Missing::Neutral => 50.0,
        Missing::Worst => 0.0,
        Missing::Score(v) => v,
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
pub(super) fn transformed(
    values: Vec<f64>,
    prep: Prepared,
    direction: Direction,
    fill: f64,
    present: &mut [bool],
) -> Vec<f64> {
    #[inline(always)]
    pub(super) fn run(
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
pub(super) fn by_label(
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

pub(super) fn unknown(
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
