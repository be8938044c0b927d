//! The calibration's result: the calibrated profile with its provenance block, each
//! metric's figures, the cross-validated and out-of-time comparisons, the tier table;
//! and how it is assembled from the fit's steps.

use super::*;

/// Something the user should know about a calibration (worded by the report).
#[derive(Debug, Clone, PartialEq)]
pub enum CalibrationWarning {
    /// Fitted on a case-control sample: every churned snapshot and `kept` of `controls`
    /// retained ones, at `rate`; the intercept is corrected by `ln rate`.
    CaseControl {
        /// Retained snapshots kept.
        kept: usize,
        /// Retained snapshots in all.
        controls: usize,
        /// The sampling rate.
        rate: f64,
    },
    /// Fewer than 10 churn events per fitted weight.
    FewEvents {
        /// Churn events.
        events: usize,
        /// Weights fitted.
        weights: usize,
        /// Events per weight.
        per_weight: f64,
    },
    /// Snapshots with no metric present, left out of the fit.
    Unscored {
        /// How many.
        snapshots: usize,
    },
    /// The prior's score barely separates churners (fitted slope below 0.1 per 100
    /// points); the shrinkage uses a slope of 0.1.
    WeakPrior {
        /// The prior's fitted slope.
        slope: f64,
    },
    /// The unconstrained reference fit did not converge.
    ReferenceNotConverged,
    /// A metric has the same sub-score on every row.
    ConstantSubScore {
        /// The metric.
        metric: String,
    },
    /// The calibrated score separates churned from retained snapshots almost perfectly.
    Separable {
        /// The cross-validated AUC.
        auc: f64,
    },
    /// The final fit's solver stopped before converging.
    FinalNotConverged {
        /// Why it stopped.
        reason: String,
        /// Iterations made.
        iterations: u64,
    },
    /// A metric churns more as its sub-score rises (a confidently negative unconstrained
    /// coefficient); its weight is held at ≥ 0, not flipped.
    DirectionConflict {
        /// The metric.
        metric: String,
        /// Its unconstrained coefficient.
        coefficient: f64,
        /// The coefficient's 95 % interval.
        ci: [f64; 2],
    },
}

/// AUC, log-loss and Brier score of one model on one evaluation set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quality {
    /// Area under the ROC curve.
    pub auc: f64,
    /// Mean negative log-likelihood.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
}

impl Quality {
    pub(super) fn of(p: &[f64], y: &[u8]) -> Quality {
        Quality {
            auc: stats::auc(p, y),
            log_loss: stats::log_loss(p, y),
            brier: stats::brier(p, y),
        }
    }

    /// [`Quality::of`] with each row weighted by `w` when given (the AUC counts every pair
    /// of a churned and a retained row by the product of their weights).
    pub(super) fn of_w(p: &[f64], y: &[u8], w: Option<&[f64]>) -> Quality {
        match w {
            None => Quality::of(p, y),
            Some(w) => Quality {
                auc: stats::evaluation::auc_weighted_and_plain(p, y, w).0,
                log_loss: stats::log_loss_weighted(p, y, w),
                brier: stats::brier_weighted(p, y, w),
            },
        }
    }
}

/// Prior, calibrated and unconstrained models on one evaluation scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// How the figures were obtained.
    pub scheme: String,
    /// Rows evaluated.
    pub rows: usize,
    /// Churn events among them.
    pub events: usize,
    /// The prior's weights with intercept and slope refitted.
    pub prior: Quality,
    /// The calibrated weights.
    pub calibrated: Quality,
    /// The unconstrained logistic regression.
    pub unconstrained: Quality,
}

/// One λ of the cross-validated search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LambdaPoint {
    /// λ (`inf`: the prior's weights).
    #[serde(serialize_with = "ser_lambda")]
    pub lambda: f64,
    /// Pooled out-of-fold log-loss.
    pub cv_log_loss: f64,
    /// Pooled out-of-fold AUC.
    pub cv_auc: f64,
    /// Fits (of all folds) whose solver did not converge.
    pub not_converged: usize,
}

pub(super) fn ser_lambda<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_infinite() {
        s.serialize_str("inf")
    } else {
        s.serialize_f64(*v)
    }
}

/// Per-metric results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// Group label.
    pub group: Option<String>,
    /// Prior effective weight.
    pub prior_weight: f64,
    /// Calibrated weight (exact).
    pub weight: f64,
    /// Calibrated weight rounded to an integer (what the profile stores).
    pub weight_int: u32,
    /// Maximum-likelihood weight (λ = 0, weights ≥ 0): what the data alone says.
    pub ml_weight: f64,
    /// Bootstrap 95 % percentile interval of the maximum-likelihood weight.
    pub weight_ci: [f64; 2],
    /// Bootstrap interval wider than max(10, the maximum-likelihood weight) points: the
    /// data does not pin this weight down.
    pub unstable: bool,
    /// Unconstrained protective coefficient (per 100 sub-score points).
    pub coefficient: f64,
    /// Its 95 % Wald interval.
    pub coefficient_ci: [f64; 2],
    /// Its standard error.
    pub coefficient_se: f64,
    /// The coefficient's interval lies entirely on the wrong side of 0.
    pub direction_conflict: bool,
}

/// One tier of the calibrated profile on the fitting data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierRow {
    /// Tier name.
    pub tier: String,
    /// Lowest score.
    pub min: f64,
    /// Snapshots.
    pub snapshots: usize,
    /// Churned snapshots.
    pub churned: usize,
    /// Churn rate.
    pub rate: f64,
    /// Wilson 95 % interval of the rate.
    pub rate_ci: [f64; 2],
    /// Revenue in the tier, and churned, when the calibration is revenue-weighted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue: Option<TierRevenue>,
}

/// A fit's out-of-fold figures counted both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightingFigures {
    /// The λ its cross-validation chose.
    #[serde(serialize_with = "ser_lambda")]
    pub lambda: f64,
    /// Its weights (out of 100) on all rows at that λ.
    pub weights: Vec<f64>,
    /// Out of fold, every snapshot once.
    pub by_snapshot: Quality,
    /// Out of fold, each snapshot by its revenue.
    pub by_revenue: Quality,
}

/// A revenue-weighted calibration beside the one that counts every snapshot once, on the
/// same folds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueComparison {
    /// The fit counting every snapshot once.
    pub by_snapshot: WeightingFigures,
    /// The revenue-weighted fit (the calibration's own).
    pub by_revenue: WeightingFigures,
}

/// A tier's revenue on the fitting data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierRevenue {
    /// Revenue of its snapshots.
    pub revenue: f64,
    /// Revenue of its churned snapshots.
    pub churned: f64,
    /// Revenue churn rate: churned / revenue.
    pub rate: f64,
    /// 95 % interval of the rate (linearised, accounts as clusters).
    pub rate_ci: [f64; 2],
}

/// Everything a calibration found.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// The calibrated profile, with integer weights and its `[calibration]` block.
    #[serde(skip)]
    pub profile: Profile,
    /// Name of the prior profile.
    pub prior: String,
    /// Rows used (snapshots with an outcome and at least one metric).
    pub rows: usize,
    /// Distinct accounts.
    pub accounts: usize,
    /// Churn events (churned snapshots).
    pub events: usize,
    /// Events per fitted weight.
    pub events_per_weight: f64,
    /// Warnings for the user.
    #[serde(skip)]
    pub warnings: Vec<CalibrationWarning>,
    /// The chosen λ.
    #[serde(serialize_with = "ser_lambda")]
    pub lambda: f64,
    /// The λ search.
    pub lambda_path: Vec<LambdaPoint>,
    /// The prior score's own fitted slope (per 100 points; shrinkage target scale).
    pub prior_slope: f64,
    /// Intercept of the final calibrated model (exact weights).
    pub intercept: f64,
    /// Slope of the final calibrated model (exact weights).
    pub slope: f64,
    /// Intercept after rounding the weights (written to the profile).
    pub intercept_int: f64,
    /// Slope after rounding the weights (written to the profile).
    pub slope_int: f64,
    /// In-sample log-loss with exact weights.
    pub log_loss_exact: f64,
    /// In-sample log-loss with integer weights.
    pub log_loss_int: f64,
    /// Per-metric results, profile order.
    pub metrics: Vec<MetricResult>,
    /// The final fit's solver report.
    pub solver: SolverReport,
    /// Cross-validated comparison.
    pub cross_validation: Comparison,
    /// With revenue weighting, the same out-of-fold predictions with every snapshot
    /// counted once.
    pub cross_validation_unweighted: Option<Comparison>,
    /// Whether each snapshot was weighted by its revenue (fit, figures, bootstrap, tiers).
    pub revenue_weighted: bool,
    /// With revenue weighting, the fit that counts every snapshot once beside it.
    pub revenue_comparison: Option<RevenueComparison>,
    /// Out-of-time comparison, when the data has dates.
    pub holdout: Option<Comparison>,
    /// Why there is no holdout, when there is none.
    pub holdout_note: Option<String>,
    /// Bootstrap replicates run.
    pub bootstrap: usize,
    /// Bootstrap replicates whose solver did not converge.
    pub bootstrap_not_converged: usize,
    /// Tier table of the calibrated profile on the fitting data.
    pub tiers: Vec<TierRow>,
    /// The unconstrained reference fit.
    pub reference: ReferenceFit,
    /// Folds and seed used.
    pub folds: usize,
    /// Seed.
    pub seed: u64,
}

impl CalibrateParams {
    /// The result: integer weights and their cost, each metric's figures, the calibrated
    /// profile and its tier table.
    pub(super) fn assemble(
        &self,
        prior: &Profile,
        p: &Prepared,
        mut warnings: Vec<CalibrationWarning>,
        fitted: Fitted,
    ) -> Calibration {
        let &Prepared {
            ref fd,
            events,
            epv,
            offset,
            n_accounts,
            ref w0,
            slope0,
            ..
        } = p;
        let Fitted {
            reference,
            cv,
            final_fit,
            holdout,
            holdout_note,
            ml_fit,
            boot,
            boot_nc,
            revenue_comparison,
        } = fitted;
        let CrossValidation {
            lambda_path,
            lambda,
            comparison: cross_validation,
            unweighted: cross_validation_unweighted,
            ..
        } = cv;
        let weights = final_fit.weights();
        // Integer weights and their cost.
        let w_int = stats::largest_remainder(&weights, 100);
        let w_int_f: Vec<f64> = w_int.iter().map(|&v| v as f64).collect();
        let s_int = fd.scores(&w_int_f);
        let (ai, bi, _) = fit_two(&s_int, &fd.y, &fd.w, (final_fit.alpha, final_fit.slope()));
        let ll_int = nll_of_scores(ai, bi, &s_int, &fd.y, &fd.w);

        let ml_w = ml_fit.weights();
        let metrics: Vec<MetricResult> = prior
            .metrics
            .iter()
            .enumerate()
            .map(|(m, pm)| {
                let col: Vec<f64> = boot.iter().map(|b| b[m]).collect();
                let lo = stats::quantile(&col, 0.025);
                let hi = stats::quantile(&col, 0.975);
                let ci = reference.ci(m);
                MetricResult {
                    name: pm.name.clone(),
                    group: pm.group.clone(),
                    prior_weight: w0[m],
                    weight: weights[m],
                    weight_int: w_int[m],
                    ml_weight: ml_w[m],
                    weight_ci: if boot.is_empty() {
                        [f64::NAN; 2]
                    } else {
                        [lo, hi]
                    },
                    unstable: !boot.is_empty() && hi - lo > ml_w[m].max(10.0),
                    coefficient: reference.coef[m],
                    coefficient_ci: ci,
                    coefficient_se: reference.se[m],
                    direction_conflict: ci[1] < 0.0,
                }
            })
            .collect();
        for m in &metrics {
            if m.direction_conflict {
                warnings.push(CalibrationWarning::DirectionConflict {
                    metric: m.name.clone(),
                    coefficient: m.coefficient,
                    ci: m.coefficient_ci,
                });
            }
        }

        let ai = ai + offset;
        let profile =
            calibrated_profile(prior, &w_int, &metrics, ai, bi, lambda, &cross_validation);
        let tiers = tier_table(
            &profile,
            fd,
            s_int,
            p.revenue_scale.map(|s| (s, p.accounts_of.as_slice())),
        );
        Calibration {
            profile,
            prior: prior.name.clone(),
            rows: fd.n,
            accounts: n_accounts,
            events,
            events_per_weight: epv,
            warnings,
            lambda,
            lambda_path,
            prior_slope: slope0,
            intercept: final_fit.alpha + offset,
            slope: final_fit.slope(),
            intercept_int: ai,
            slope_int: bi,
            log_loss_exact: final_fit.nll,
            log_loss_int: ll_int,
            metrics,
            solver: final_fit.solver.clone(),
            cross_validation,
            cross_validation_unweighted,
            revenue_weighted: p.revenue_scale.is_some(),
            revenue_comparison,
            holdout,
            holdout_note,
            bootstrap: boot.len(),
            bootstrap_not_converged: boot_nc,
            tiers,
            reference,
            folds: self.folds,
            seed: self.seed,
        }
    }
}

pub(super) fn calibrated_profile(
    prior: &Profile,
    w_int: &[u32],
    metrics: &[MetricResult],
    intercept: f64,
    slope: f64,
    lambda: f64,
    cv: &Comparison,
) -> Profile {
    let mut p = prior.clone();
    p.name = format!("{}-calibrated", prior.name);
    p.description = format!(
        "{} weights calibrated against churn by churncal",
        prior.name
    );
    for ((m, &w), r) in p.metrics.iter_mut().zip(w_int).zip(metrics) {
        m.weight = w as f64;
        m.calibration = Some(MetricCalibration {
            prior_weight: Some(round(r.prior_weight, 2)),
            data_weight: Some(round(r.ml_weight, 2)),
            weight_ci: (!r.weight_ci[0].is_nan())
                .then(|| [round(r.weight_ci[0], 2), round(r.weight_ci[1], 2)]),
            coefficient: Some(round(r.coefficient, 4)),
            coefficient_ci: Some([round(r.coefficient_ci[0], 4), round(r.coefficient_ci[1], 4)]),
            direction_conflict: r.direction_conflict,
            unstable: r.unstable,
        });
    }
    for g in p.groups.iter_mut() {
        g.weight = p
            .metrics
            .iter()
            .filter(|m| m.group.as_deref() == Some(g.name.as_str()))
            .map(|m| m.weight)
            .sum();
    }
    p.calibration = Some(profile::Calibration {
        intercept: round(intercept, 6),
        slope: round(slope, 6),
        method: "non-negative logistic regression of the profile's own score, L2 shrinkage toward the prior profile".into(),
        shrinkage: Some(lambda).filter(|l| l.is_finite()),
        prior: Some(prior.name.clone()),
        prior_sha256: None,
        data: None,
        validation: Some(profile::CalibrationValidation {
            scheme: cv.scheme.clone(),
            auc: round(cv.calibrated.auc, 4),
            log_loss: round(cv.calibrated.log_loss, 5),
            brier: round(cv.calibrated.brier, 5),
        }),
        created: None,
        tool: Some(crate::TOOL.into()),
    });
    p
}

/// The calibrated profile's tiers on the fitting data; with `revenue` (the scale of the
/// fit's row weights, and each row's account), each tier's revenue and revenue churn rate.
/// `scores` are the profile's scores in [0, 1] on the fit's rows (consumed: turned into
/// points in place).
pub(super) fn tier_table(
    profile: &Profile,
    fd: &FitData,
    mut scores: Vec<f64>,
    revenue: Option<(f64, &[u32])>,
) -> Vec<TierRow> {
    scores.iter_mut().for_each(|s| *s *= 100.0);
    let mins = crate::score::resolve_tiers(profile, &scores);
    let names = profile.tier_names();
    let mut n = vec![0usize; mins.len()];
    let mut c = vec![0usize; mins.len()];
    let tier_of = |s: f64| mins.iter().position(|&m| s >= m).unwrap_or(mins.len() - 1);
    for (&s, &y) in scores.iter().zip(fd.y.iter()) {
        let t = tier_of(s);
        n[t] += 1;
        c[t] += y as usize;
    }
    let revenue_of = |t: usize| {
        revenue.map(|(scale, accounts)| {
            let rows: Vec<usize> = (0..fd.n).filter(|&i| tier_of(scores[i]) == t).collect();
            let y: Vec<u8> = rows.iter().map(|&i| fd.y[i]).collect();
            let w: Vec<f64> = rows.iter().map(|&i| fd.w[i]).collect();
            let a: Vec<u32> = rows.iter().map(|&i| accounts[i]).collect();
            let (rate, rate_ci) = stats::weighted_rate_ci(&y, &w, &a);
            let total: f64 = w.iter().sum();
            TierRevenue {
                revenue: total * scale,
                churned: y.iter().zip(&w).map(|(&y, &w)| w * y as f64).sum::<f64>() * scale,
                rate,
                rate_ci,
            }
        })
    };
    (0..mins.len())
        .map(|t| {
            let (lo, hi) = stats::wilson(c[t], n[t]);
            TierRow {
                tier: names[t].clone(),
                min: mins[t],
                snapshots: n[t],
                churned: c[t],
                rate: if n[t] > 0 {
                    c[t] as f64 / n[t] as f64
                } else {
                    f64::NAN
                },
                rate_ci: [lo, hi],
                revenue: revenue_of(t),
            }
        })
        .collect()
}

pub(super) fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}
