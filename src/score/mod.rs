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

mod detail;
mod set;
mod subscores;
pub use detail::*;
pub use set::*;
pub use subscores::*;

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
    /// A profile set's segment column was not loaded.
    #[error("the profile set picks profiles by column '{column}', which was not loaded")]
    NoSetSegment {
        /// The segment column.
        column: String,
    },
    /// A profile set with more than 255 distinct profiles.
    #[error("a profile set may hold at most 255 distinct profiles")]
    SetTooLarge,
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
    fn scores_in_blocks_are_the_scores_of_every_row_at_once() {
        // Varied values, missing ones under each policy, labels, a metric read twice and
        // a metric of weight 0, in blocks that split the rows every way.
        let n = 1_000;
        let wave = |k: f64| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    if ((i as f64 * k) as usize).is_multiple_of(11) {
                        f64::NAN
                    } else {
                        (i as f64 * k).sin() * 80.0 + 50.0
                    }
                })
                .collect()
        };
        let mut d = data(vec![
            ("a", wave(0.37)),
            ("c", wave(1.91)),
            ("e", wave(0.05)),
        ]);
        d.metrics.push((
            "b".into(),
            MetricColumn::Text {
                codes: (0..n as u32)
                    .map(|i| {
                        if i % 13 == 0 {
                            MetricColumn::MISSING_CODE
                        } else {
                            i % 2
                        }
                    })
                    .collect(),
                labels: vec!["yes".into(), "no".into()],
            },
        ));
        let mut b = metric("b", 2.0, Missing::Neutral);
        b.transform = Transform::Boolean;
        let mut twice = metric("a", 0.5, Missing::Worst);
        twice.name = "a again".into();
        twice.direction = Direction::LowerIsBetter;
        let p = profile(vec![
            metric("a", 1.0, Missing::Redistribute),
            b,
            metric("c", 3.0, Missing::Score(20.0)),
            twice,
            metric("e", 0.0, Missing::Redistribute),
        ]);
        let want = SubScores::compute(&p, &d)
            .unwrap()
            .scores(&p.effective_weights());
        for block in [1, 2, 7, 256, 999, 1_000, 5_000] {
            let got = SubScores::scores_in_blocks_of(&p, &d, block).unwrap();
            assert_eq!(got.len(), n);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.to_bits(), w.to_bits(), "block {block}, row {i}");
            }
        }
        assert_eq!(
            SubScores::scores_in_blocks(&p, &d).unwrap().len(),
            n,
            "the default block"
        );
        // A refused value names its file row, also past the first block.
        let mut strict = p.clone();
        strict.metrics.push(metric("f", 1.0, Missing::Error));
        let f: Vec<f64> = (0..n)
            .map(|i| if i == 700 { f64::NAN } else { 1.0 })
            .collect();
        d.metrics.push(("f".into(), MetricColumn::Numeric(f)));
        d.source_row = (0..n as u32).map(|i| 10 + 2 * i).collect();
        let whole = SubScores::compute(&strict, &d).unwrap_err().to_string();
        for block in [3, 64] {
            let err = SubScores::scores_in_blocks_of(&strict, &d, block).unwrap_err();
            assert_eq!(err.to_string(), whole, "block {block}");
        }
        assert!(whole.contains("row 1410"), "{whole}");
        // No rows, no scores.
        let empty = data(vec![("a", vec![]), ("c", vec![]), ("e", vec![])]);
        let mut e = empty.clone();
        e.metrics.push((
            "b".into(),
            MetricColumn::Text {
                codes: vec![],
                labels: vec![],
            },
        ));
        assert!(SubScores::scores_in_blocks(&p, &e).unwrap().is_empty());
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
