//! Calibration by segment with partial pooling: one profile per value of a segment column,
//! each shrunk toward the pooled calibrated profile by a λ of its own chosen by
//! cross-validation grouped by account, with the pooled and segmented models compared out
//! of fold and a likelihood-ratio test of whether the segments' weights differ.
//!
//! The folds are the pooled calibration's. In fold `f`, the pooled fit on the other folds
//! is the prior of every segment's fit on its rows in those folds (its weights at the
//! segment's own intercept and slope); so no out-of-fold figure, pooled or segmented, saw
//! its test rows, and the segment's λ path is judged on the same folds as the pooled one.

use super::*;
use crate::stats::gamma::chi2_sf;
use crate::stats::logistic;

/// Parameters of a calibration by segment (the calibration's own are a
/// [`CalibrateParams`]).
#[derive(Debug, Clone)]
pub struct SegmentParams {
    column: String,
    min_events_per_weight: f64,
}

impl SegmentParams {
    /// Profiles per value of the segment column `column` (a segment the data was loaded
    /// with).
    pub fn new(column: &str) -> Self {
        SegmentParams {
            column: column.to_string(),
            min_events_per_weight: 10.0,
        }
    }

    /// Segments with fewer churn events per fitted weight keep the pooled profile.
    /// Default 10 (the calibration's warning level; Harrell's rule of thumb is 15).
    pub fn min_events_per_weight(mut self, v: f64) -> Self {
        self.min_events_per_weight = v;
        self
    }

    /// The segment column.
    pub fn column(&self) -> &str {
        &self.column
    }

    /// Refuse parameters out of range.
    pub fn check(&self) -> Result<(), CalibrateError> {
        if !(self.min_events_per_weight.is_finite() && self.min_events_per_weight >= 5.0) {
            return Err(CalibrateError::BadParam {
                param: "min_events_per_weight",
                message: format!(
                    "must be at least 5 (the calibration's own floor), not {}",
                    self.min_events_per_weight
                ),
            });
        }
        Ok(())
    }
}

/// The result of a calibration by segment.
#[derive(Debug, Clone, Serialize)]
pub struct Segmented {
    /// The segment column.
    pub column: String,
    /// The pooled calibration (every segment's prior, and the profile of the segments that
    /// keep it).
    pub pooled: Calibration,
    /// Each segment value with rows to fit, in the order of the labels.
    pub segments: Vec<SegmentFit>,
    /// Out-of-fold figures over all the fit's rows.
    pub overall: SegmentComparison,
    /// Whether the segments' weights differ: the likelihood-ratio test (none with fewer
    /// than two segments fitted).
    pub test: Option<SegmentTest>,
    /// The events-per-weight floor below which a segment keeps the pooled profile.
    pub min_events_per_weight: f64,
}

/// One segment value's fit.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentFit {
    /// The segment value.
    pub label: String,
    /// Fit rows (scored snapshots with an outcome).
    pub rows: usize,
    /// Accounts among them.
    pub accounts: usize,
    /// Churn events among them.
    pub events: usize,
    /// Events per fitted weight.
    pub events_per_weight: f64,
    /// Its own calibration, shrunk toward the pooled profile; none when it keeps the pooled
    /// profile.
    pub own: Option<Calibration>,
    /// Why it keeps the pooled profile.
    pub kept_pooled: Option<KeptPooled>,
    /// The segment's λ path out of fold (log-loss and AUC on its rows); empty when it keeps
    /// the pooled profile.
    pub lambda_path: Vec<LambdaPoint>,
    /// Out-of-fold figures on the segment's rows.
    pub comparison: SegmentComparison,
    /// Metrics whose data-alone weight interval in this segment does not overlap the pooled
    /// one's.
    pub differing: Vec<String>,
    /// Metrics whose sub-score is the same for every row of the segment: their weight is
    /// not identified there (it only shifts the score, which the intercept absorbs), and the
    /// segment's data-alone weights are then not compared with the pooled ones.
    pub constant: Vec<String>,
}

/// Why a segment keeps the pooled profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptPooled {
    /// Fewer churn events per weight than the floor.
    FewEvents,
    /// Fewer accounts than cross-validation folds.
    FewAccounts,
}

/// Pooled, pooled-recalibrated and segmented models out of fold on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentComparison {
    /// Rows evaluated.
    pub rows: usize,
    /// Churn events among them.
    pub events: usize,
    /// The pooled profile.
    pub pooled: Quality,
    /// The pooled weights with each segment's own intercept and slope (λ = ∞ in the
    /// segment): what segmenting gains from base rates alone.
    pub recalibrated: Quality,
    /// Each segment's own profile (the pooled one where it keeps it).
    pub segmented: Quality,
}

/// The likelihood-ratio test of common weights across the fitted segments: the
/// unconstrained logistic regression on the sub-scores (missing ones read as the row's
/// pooled score) with one intercept per segment, against one regression per segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentTest {
    /// Segments in the test.
    pub segments: usize,
    /// Rows in the test.
    pub rows: usize,
    /// 2 × (log-likelihood of the separate fits − that of the common-weights fit).
    pub statistic: f64,
    /// Degrees of freedom: the coefficients identified in the separate fits (metrics that
    /// vary within each segment) less those of the common fit (metrics that vary within
    /// some segment); (segments − 1) × metrics when every metric varies in every segment.
    pub df: usize,
    /// P(χ²(df) ≥ statistic).
    pub p_value: f64,
}

impl Segmented {
    /// The profile set: each segment value's own profile, or the pooled one where it keeps
    /// it; the pooled profile for any other value.
    pub fn profile_set(&self) -> crate::profile::set::ProfileSet {
        crate::profile::set::ProfileSet {
            segment: self.column.clone(),
            default: self.pooled.profile.clone(),
            profiles: self
                .segments
                .iter()
                .map(|g| {
                    let p = g.own.as_ref().map_or(&self.pooled.profile, |c| &c.profile);
                    (g.label.clone(), p.clone())
                })
                .collect(),
        }
    }
}

impl CalibrateParams {
    /// Calibrate `prior` on all of `data` (the pooled profile), then each value of the
    /// segment column toward it. `subs` are the prior's sub-scores of `data`, consumed.
    pub fn fit_segments(
        &self,
        prior: &Profile,
        data: &Snapshots,
        subs: SubScores,
        by: &SegmentParams,
    ) -> Result<Segmented, CalibrateError> {
        self.check()?;
        by.check()?;
        if self.relearn.is_some() {
            return Err(CalibrateError::BadParam {
                param: "relearn",
                message: "learned transforms cannot be calibrated by segment".into(),
            });
        }
        let seg = data
            .segments
            .iter()
            .find(|s| s.name == by.column)
            .ok_or_else(|| CalibrateError::NoSegment {
                column: by.column.clone(),
                loaded: data.segments.iter().map(|s| s.name.clone()).collect(),
            })?;
        let k = prior.metrics.len();
        // Each segment's sub-scores and rows, before the pooled fit consumes `subs`.
        let seg_rows: Vec<Vec<usize>> = {
            let mut v = vec![Vec::new(); seg.labels.len()];
            for (i, &c) in seg.codes.iter().enumerate() {
                v[c as usize].push(i);
            }
            v
        };
        let mut seg_subs: Vec<Option<SubScores>> = seg_rows
            .par_iter()
            .map(|rows| {
                Some(SubScores {
                    rows: rows.len(),
                    columns: subs
                        .columns
                        .iter()
                        .map(|c| rows.iter().map(|&i| c[i]).collect())
                        .collect(),
                    present: rows.iter().map(|&i| subs.present[i]).collect(),
                })
            })
            .collect();

        let stage = tracing::info_span!("calibrate by segment: pooled").entered();
        let (p, warnings) = self.prepare(prior, data, subs)?;
        let (pooled, per_fold) = self.fit_prepared(prior, data, &p, warnings)?;
        drop(stage);
        let _stage = tracing::info_span!("calibrate by segment: segments").entered();
        let lambdas = self.lambdas.clone().unwrap_or_else(default_lambdas);
        let mut order: Vec<usize> = (0..lambdas.len()).collect();
        order.sort_by(|&a, &b| lambdas[b].total_cmp(&lambdas[a]));
        let li_pool = lambdas
            .iter()
            .position(|&l| l == pooled.lambda)
            .expect("the chosen λ is on the grid");
        // The pooled model out of fold, and each fold's pooled weights.
        let mut oof_pooled = vec![0.0; p.fd.n];
        for fr in &per_fold {
            let (alpha, beta) = &fr.fits[li_pool];
            let test = fr.test.clone();
            predict_range_into(&p.fd, test.start, *alpha, beta, &mut oof_pooled[test]);
        }
        let code_of: Vec<u32> = p.rows.iter().map(|&i| seg.codes[i]).collect();
        let mut oof_recal = oof_pooled.clone();
        let mut oof_seg = oof_pooled.clone();
        let mut segments = Vec::new();
        let mut fitted: Vec<u32> = Vec::new();
        for (code, label) in seg.labels.iter().enumerate() {
            let idx: Vec<usize> = (0..p.fd.n).filter(|&j| code_of[j] == code as u32).collect();
            if idx.is_empty() {
                continue;
            }
            let fd_s = gather(&p.fd, &idx);
            let events = fd_s.y.iter().filter(|&&y| y == 1).count();
            let accounts =
                distinct(&idx.iter().map(|&j| p.accounts_of[j]).collect::<Vec<_>>()).len();
            let epv = events as f64 / k as f64;
            let kept = if epv < by.min_events_per_weight {
                Some(KeptPooled::FewEvents)
            } else if accounts < self.folds {
                Some(KeptPooled::FewAccounts)
            } else {
                None
            };
            let y_s: Vec<u8> = fd_s.y.to_vec();
            // Revenue weights when the calibration is revenue-weighted.
            let fw_s = p.figure_weights().map(|_| fd_s.w.as_slice());
            let quality = |oof: &[f64]| -> Quality {
                Quality::of_w(&idx.iter().map(|&j| oof[j]).collect::<Vec<_>>(), &y_s, fw_s)
            };
            let mut fit = SegmentFit {
                label: label.clone(),
                rows: idx.len(),
                accounts,
                events,
                events_per_weight: epv,
                own: None,
                kept_pooled: kept,
                lambda_path: Vec::new(),
                comparison: SegmentComparison {
                    rows: idx.len(),
                    events,
                    pooled: quality(&oof_pooled),
                    recalibrated: quality(&oof_pooled),
                    segmented: quality(&oof_pooled),
                },
                differing: Vec::new(),
                constant: Vec::new(),
            };
            if kept.is_some() {
                segments.push(fit);
                continue;
            }
            // Every λ out of fold on the segment's rows, each fold's prior the pooled fold
            // fit's weights at the segment's own intercept and slope.
            let folds_s: Vec<usize> = idx.iter().map(|&j| p.fold_of(j)).collect();
            type FoldPreds = (std::ops::Range<usize>, Vec<Vec<f64>>, Vec<f64>);
            let per_fold_s: Vec<FoldPreds> = (0..self.folds)
                .into_par_iter()
                .map(|f| {
                    let test =
                        folds_s.partition_point(|&g| g < f)..folds_s.partition_point(|&g| g <= f);
                    let (pa, pbeta) = &per_fold[f].fits[li_pool];
                    let big_b: f64 = pbeta.iter().sum();
                    let wf: Vec<f64> = if big_b > 0.0 {
                        pbeta.iter().map(|b| 100.0 * b / big_b).collect()
                    } else {
                        p.w0.clone()
                    };
                    let mut w = vec![1.0; fd_s.n];
                    w[test.clone()].fill(0.0);
                    let tr = fd_s.with_weights(w);
                    let s = tr.scores(&wf);
                    let (a, b, _) = fit_two(&s, &tr.y, &tr.w, (*pa, -big_b));
                    let prior_f = beta_from(&wf, -b);
                    let preds = self
                        .path_fits(
                            &tr,
                            &prior_f,
                            (&lambdas, &order),
                            (a, prior_f.clone()),
                            &|| {},
                        )
                        .into_iter()
                        .map(|(alpha, beta, _)| predict_range(&fd_s, test.clone(), alpha, &beta))
                        .collect();
                    let recal = predict_range(&fd_s, test.clone(), a, &prior_f);
                    (test, preds, recal)
                })
                .collect();
            let oof_of = |li: usize| -> Vec<f64> {
                let mut v = vec![0.0; fd_s.n];
                for (test, preds, _) in &per_fold_s {
                    v[test.clone()].copy_from_slice(&preds[li]);
                }
                v
            };
            fit.lambda_path = (0..lambdas.len())
                .map(|li| {
                    let q = Quality::of_w(&oof_of(li), &y_s, fw_s);
                    LambdaPoint {
                        lambda: lambdas[li],
                        cv_log_loss: q.log_loss,
                        cv_auc: q.auc,
                        not_converged: 0,
                    }
                })
                .collect();
            // Smallest log-loss; ties to the larger λ (closer to the pooled profile).
            let best = order
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    fit.lambda_path[a]
                        .cv_log_loss
                        .total_cmp(&fit.lambda_path[b].cv_log_loss)
                })
                .expect("at least one λ");
            // Out of fold, fold f is scored at the λ with the smallest log-loss on the other
            // folds' predictions: its own outcomes do not choose the λ that scores it, so
            // the segmented figures are not flattered by the choice (λ = ∞, the
            // recalibrated pooled model, is among the candidates).
            let fold_loss: Vec<Vec<f64>> = per_fold_s
                .iter()
                .map(|(test, preds, _)| {
                    let y = &y_s[test.clone()];
                    if y.is_empty() {
                        return vec![0.0; preds.len()];
                    }
                    let w = &fd_s.w[test.clone()];
                    let total: f64 = w.iter().sum();
                    preds
                        .iter()
                        .map(|p| stats::log_loss_weighted(p, y, w) * total)
                        .collect()
                })
                .collect();
            let mut best_oof = vec![0.0; fd_s.n];
            for (f, (test, preds, _)) in per_fold_s.iter().enumerate() {
                let others = |li: usize| -> f64 {
                    (0..per_fold_s.len())
                        .filter(|&g| g != f)
                        .map(|g| fold_loss[g][li])
                        .sum()
                };
                let li = order
                    .iter()
                    .copied()
                    .min_by(|&a, &b| others(a).total_cmp(&others(b)))
                    .expect("at least one λ");
                best_oof[test.clone()].copy_from_slice(&preds[li]);
            }
            let mut recal_oof = vec![0.0; fd_s.n];
            for (test, _, recal) in &per_fold_s {
                recal_oof[test.clone()].copy_from_slice(recal);
            }
            for (t, &j) in idx.iter().enumerate() {
                oof_seg[j] = best_oof[t];
                oof_recal[j] = recal_oof[t];
            }
            fit.comparison.segmented = quality(&oof_seg);
            fit.comparison.recalibrated = quality(&oof_recal);

            // The segment's own calibration at its λ, the pooled profile its prior.
            let mut own = self.clone().lambdas(vec![lambdas[best]]).fit(
                &pooled.profile,
                &data.select_rows_without_metrics(&seg_rows[code]),
                seg_subs[code].take().expect("each segment fitted once"),
            )?;
            own.profile.name = format!("{}-{label}", prior.name);
            own.profile.description = format!(
                "'{}' calibrated on the rows where {} = '{label}', shrunk toward the pooled profile",
                prior.name, by.column
            );
            fit.constant = (0..k)
                .filter(|&m| {
                    let mut it = (0..fd_s.n)
                        .map(|j| fd_s.x[j * k + m])
                        .filter(|v| !v.is_nan());
                    let first = it.next();
                    !it.any(|v| Some(v) != first)
                })
                .map(|m| pooled.metrics[m].name.clone())
                .collect();
            // A metric the same on every row lets the data-alone fit put any share of the
            // 100 points on it, so no share of this segment compares with the pooled ones.
            fit.differing = pooled
                .metrics
                .iter()
                .zip(&own.metrics)
                .filter(|_| fit.constant.is_empty())
                .filter(|(a, b)| {
                    let (x, y) = (a.weight_ci, b.weight_ci);
                    x.iter().chain(&y).all(|v| v.is_finite()) && (x[1] < y[0] || y[1] < x[0])
                })
                .map(|(a, _)| a.name.clone())
                .collect();
            fit.own = Some(own);
            fitted.push(code as u32);
            segments.push(fit);
        }
        let overall = SegmentComparison {
            rows: p.fd.n,
            events: p.events,
            pooled: Quality::of_w(&oof_pooled, &p.fd.y, p.figure_weights()),
            recalibrated: Quality::of_w(&oof_recal, &p.fd.y, p.figure_weights()),
            segmented: Quality::of_w(&oof_seg, &p.fd.y, p.figure_weights()),
        };
        let test = (fitted.len() >= 2).then(|| {
            let fill =
                p.fd.scores(&pooled.metrics.iter().map(|m| m.weight).collect::<Vec<_>>());
            likelihood_ratio(&p.fd, &fill, &code_of, &fitted)
        });
        Ok(Segmented {
            column: by.column.clone(),
            pooled,
            segments,
            overall,
            test,
            min_events_per_weight: by.min_events_per_weight,
        })
    }
}

/// The fit data's rows at `idx`, in that order.
fn gather(fd: &FitData, idx: &[usize]) -> FitData {
    let k = fd.k;
    let mut x = Vec::with_capacity(idx.len() * k);
    for &j in idx {
        x.extend_from_slice(&fd.x[j * k..(j + 1) * k]);
    }
    FitData {
        n: idx.len(),
        k,
        x: Arc::new(x),
        y: Arc::new(idx.iter().map(|&j| fd.y[j]).collect()),
        w: idx.iter().map(|&j| fd.w[j]).collect(),
    }
}

/// The likelihood-ratio test over the rows of the `fitted` segments (see [`SegmentTest`]).
fn likelihood_ratio(fd: &FitData, fill: &[f64], code_of: &[u32], fitted: &[u32]) -> SegmentTest {
    let k = fd.k;
    let s = fitted.len();
    let rows: Vec<usize> = (0..fd.n)
        .filter(|&j| fitted.contains(&code_of[j]))
        .collect();
    let feature = |j: usize, m: usize| {
        let v = fd.x[j * k + m];
        if v.is_nan() {
            fill[j]
        } else {
            v
        }
    };
    // Which features vary within each segment: one constant within a segment (a metric
    // that is the segment, like a contract type) is not identified there, and one constant
    // within every segment is the segments' intercepts.
    let varies: Vec<Vec<bool>> = fitted
        .iter()
        .map(|&c| {
            (0..k)
                .map(|m| {
                    let mut it = rows
                        .iter()
                        .filter(|&&j| code_of[j] == c)
                        .map(|&j| feature(j, m));
                    let first = it.next();
                    it.any(|v| Some(v) != first)
                })
                .collect()
        })
        .collect();
    let common_cols: Vec<usize> = (0..k).filter(|&m| varies.iter().any(|v| v[m])).collect();
    // Common weights, one intercept per segment (dummies for all but the first).
    let width = common_cols.len() + s - 1;
    let mut x = Vec::with_capacity(rows.len() * width);
    for &j in &rows {
        x.extend(common_cols.iter().map(|&m| feature(j, m)));
        x.extend(
            fitted[1..]
                .iter()
                .map(|&c| f64::from(u8::from(code_of[j] == c))),
        );
    }
    let y: Vec<u8> = rows.iter().map(|&j| fd.y[j]).collect();
    // Every snapshot once, also when the calibration is revenue-weighted: a weighted
    // likelihood's ratio is not χ²-distributed.
    let w = vec![1.0; rows.len()];
    // A vanishing ridge only keeps a separated segment's Newton steps finite.
    const RIDGE: f64 = 1e-8;
    let common = logistic::fit(&x, width, &y, &w, RIDGE);
    let nll_common = nll(&common, &x, width, &y, &w);
    // One regression per segment, on the features that vary in it.
    let nll_separate: f64 = fitted
        .par_iter()
        .zip(&varies)
        .map(|(&c, v)| {
            let cols: Vec<usize> = (0..k).filter(|&m| v[m]).collect();
            let mine: Vec<usize> = rows.iter().copied().filter(|&j| code_of[j] == c).collect();
            let x: Vec<f64> = mine
                .iter()
                .flat_map(|&j| cols.iter().map(move |&m| feature(j, m)))
                .collect();
            let y: Vec<u8> = mine.iter().map(|&j| fd.y[j]).collect();
            let w = vec![1.0; mine.len()];
            let m = logistic::fit(&x, cols.len(), &y, &w, RIDGE);
            nll(&m, &x, cols.len(), &y, &w)
        })
        .sum();
    let statistic = (2.0 * (nll_common - nll_separate)).max(0.0);
    // Parameters identified under the alternative less those under the common weights.
    let df = varies.iter().flatten().filter(|&&v| v).count() - common_cols.len();
    SegmentTest {
        segments: s,
        rows: rows.len(),
        statistic,
        df,
        p_value: chi2_sf(statistic, df as f64),
    }
}

/// The summed weighted negative log-likelihood of a logistic model.
fn nll(m: &logistic::Logistic, x: &[f64], k: usize, y: &[u8], w: &[f64]) -> f64 {
    (0..y.len())
        .map(|i| {
            let row = &x[i * k..(i + 1) * k];
            let eta = m.intercept + row.iter().zip(&m.coef).map(|(a, b)| a * b).sum::<f64>();
            w[i] * (log1pexp(eta) - f64::from(y[i]) * eta)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows in three segments with their own intercepts and (when `same`) common
    /// coefficients on three features in [0, 1].
    fn world(n: usize, same: bool, rng: &mut ChaCha8Rng) -> (FitData, Vec<u32>) {
        let mut x = Vec::with_capacity(n * 3);
        let mut y = Vec::with_capacity(n);
        let mut code = Vec::with_capacity(n);
        for i in 0..n {
            let c = (i % 3) as u32;
            let f: [f64; 3] = [rng.random(), rng.random(), rng.random()];
            let beta = if same || c == 0 {
                [2.0, 1.0, 0.5]
            } else {
                [0.5, 1.0, 2.0]
            };
            let eta =
                [-1.0, -0.5, 0.0][c as usize] - f.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>();
            x.extend(f);
            y.push(u8::from(rng.random::<f64>() < crate::stats::sigmoid(eta)));
            code.push(c);
        }
        let fd = FitData {
            n,
            k: 3,
            x: Arc::new(x),
            y: Arc::new(y),
            w: vec![1.0; n],
        };
        (fd, code)
    }

    #[test]
    fn likelihood_ratio_test_holds_its_level_and_finds_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let reps = 300;
        let rejected = (0..reps)
            .filter(|_| {
                let (fd, code) = world(900, true, &mut rng);
                let t = likelihood_ratio(&fd, &vec![0.5; fd.n], &code, &[0, 1, 2]);
                assert_eq!(t.df, 6);
                t.p_value < 0.05
            })
            .count();
        // 5 % of 300 is 15; the binomial's 99.9 % range is about 4–30.
        assert!(
            (5..=28).contains(&rejected),
            "{rejected} of {reps} rejected at 5 % under the null"
        );
        let (fd, code) = world(3000, false, &mut rng);
        let t = likelihood_ratio(&fd, &vec![0.5; fd.n], &code, &[0, 1, 2]);
        assert!(t.p_value < 1e-4, "{t:?}");
    }

    #[test]
    fn a_feature_constant_within_segments_is_not_counted() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut fd, code) = world(1200, true, &mut rng);
        // The first feature is the segment itself.
        let mut x = fd.x.to_vec();
        for (i, c) in code.iter().enumerate() {
            x[i * 3] = f64::from(*c) / 2.0;
        }
        fd.x = Arc::new(x);
        let t = likelihood_ratio(&fd, &vec![0.5; fd.n], &code, &[0, 1, 2]);
        assert_eq!(
            t.df, 4,
            "two features vary in each of three segments: 6 − 2"
        );
    }
}
