//! Calibrating a profile's weights against observed churn.
//!
//! [`CalibrateParams`] (consuming setters, defaults documented) → [`CalibrateParams::check`] →
//! [`CalibrateParams::fit`] → [`Calibration`]: the method of `docs/methods.md`, "Calibrating
//! the weights". The constrained fit ([`problem`]) optimises the profile's own score function
//! with non-negative weights and L2 shrinkage toward the prior; λ is chosen by K-fold
//! cross-validation grouped by account; an out-of-time holdout is reported when the data has
//! dates; a bootstrap over accounts gives every weight an interval; the unconstrained
//! reference fit ([`reference`](mod@reference)) flags direction conflicts; weights are rounded to integers
//! by largest remainder with the cost reported.

pub mod newton;
pub mod problem;
pub mod reference;
pub mod transforms;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::data::{parse, Day, Snapshots};
use crate::profile::{self, MetricCalibration, Profile};
use crate::score::SubScores;
use crate::stats;
pub use problem::solver_passes;
use problem::{
    fit_constrained, fit_constrained_from, fit_two, log1pexp, nll_of_scores, ConstrainedFit,
    FitData, SolverReport, LOOSE, TIGHT,
};
use reference::{
    fit_reference_in_blocks, refit_reference, refit_reference_from, Blocks, Features, ReferenceFit,
};

mod bootstrap;
mod cv;
mod holdout;
mod params;
mod result;
mod segments;
pub use cv::*;
pub use holdout::*;
pub use params::*;
pub use result::*;
pub use segments::*;

impl CalibrateParams {
    /// Calibrate `prior` on `data` whose sub-scores under the prior are `subs`. The
    /// sub-scores are consumed: their columns are freed once copied into the fit's matrix.
    pub fn fit(
        &self,
        prior: &Profile,
        data: &Snapshots,
        subs: SubScores,
    ) -> Result<Calibration, CalibrateError> {
        let stage = tracing::info_span!("calibrate: fit rows and the prior's slope").entered();
        self.check()?;
        let (p, warnings) = self.prepare(prior, data, subs)?;
        drop(stage);
        Ok(self.fit_prepared(prior, data, &p, warnings)?.0)
    }

    /// [`Self::fit`] from its prepared rows, also returning every fold's fits along the λ
    /// path (the segmented calibration starts from them).
    fn fit_prepared(
        &self,
        prior: &Profile,
        data: &Snapshots,
        p: &Prepared,
        mut warnings: Vec<CalibrationWarning>,
    ) -> Result<(Calibration, Vec<FoldResult>), CalibrateError> {
        // Unconstrained reference on all rows (linfa, then Newton); the folds and the
        // holdout refit it from there.
        let stage = tracing::info_span!("calibrate: unconstrained reference fit").entered();
        let (reference, blocks) =
            fit_reference_in_blocks(&features(&p.fd, &p.s0, &p.fd.w), &p.fold_starts);
        drop(stage);
        let stage = tracing::info_span!("calibrate: cross-validation folds").entered();
        warnings.extend(reference_warnings(prior, &p.fd, &reference));
        let lambdas = self.lambdas.clone().unwrap_or_else(default_lambdas);
        let mut order: Vec<usize> = (0..lambdas.len()).collect();
        // From most to least shrinkage, for warm starts.
        order.sort_by(|&a, &b| lambdas[b].total_cmp(&lambdas[a]));
        let mut per_fold = self.fit_folds(p, (&reference, &blocks), &lambdas, &order)?;
        drop(stage);
        let stage = tracing::info_span!("calibrate: λ path, out of fold").entered();
        // The out-of-fold predictions are kept for the revenue comparison only.
        let keep_oof = p.revenue_scale.is_some();
        let cv = cross_validation(self.folds, p, &mut per_fold, &lambdas, &order, keep_oof);
        if cv.comparison.calibrated.auc >= 0.999 {
            warnings.push(CalibrationWarning::Separable {
                auc: cv.comparison.calibrated.auc,
            });
        }
        drop(stage);
        let stage = tracing::info_span!("calibrate: final fit").entered();
        let final_fit = self.final_fit(p, cv.lambda);
        if !final_fit.solver.converged {
            warnings.push(CalibrationWarning::FinalNotConverged {
                reason: final_fit.solver.reason.clone(),
                iterations: final_fit.solver.iterations,
            });
        }
        drop(stage);
        let revenue_comparison = match p.revenue_scale {
            Some(_) => Some(self.revenue_comparison(p, &cv, &final_fit, &lambdas, &order)?),
            None => None,
        };
        let stage = tracing::info_span!("calibrate: out-of-time holdout").entered();
        let (holdout, holdout_note) = self.holdout(
            data, &p.rows, &p.fd, &p.s0, &p.w0, &p.beta0, cv.lambda, &final_fit, &reference,
        )?;
        drop(stage);
        let stage = tracing::info_span!("calibrate: bootstrap").entered();
        let (ml_fit, boot, boot_nc) = self.ml_and_bootstrap(p, cv.lambda, &final_fit)?;
        drop(stage);
        let fitted = Fitted {
            reference,
            cv,
            final_fit,
            holdout,
            holdout_note,
            ml_fit,
            boot,
            boot_nc,
            revenue_comparison,
        };
        Ok((self.assemble(prior, p, warnings, fitted), per_fold))
    }

    /// The fit's rows (present, in fold and account order, case-control sampled when asked),
    /// its matrix, the guards on events and accounts, and the prior's own slope.
    fn prepare(
        &self,
        prior: &Profile,
        data: &Snapshots,
        subs: SubScores,
    ) -> Result<(Prepared, Vec<CalibrationWarning>), CalibrateError> {
        let outcome = data.outcome.as_ref().ok_or(CalibrateError::NoOutcome)?;
        let mut rows: Vec<usize> = (0..data.rows).filter(|&i| subs.present[i] > 0).collect();
        // Rows in account order: a bootstrap replicate's left-out accounts are then runs of
        // zero weights the fit skips.
        crate::data::order::by_account(&mut rows, &data.account, data.n_accounts);
        let unscored = data.rows - rows.len();
        let mut case_control_note = None;
        if let Some(rate) = self.sample_controls.filter(|&r| r < 1.0) {
            // Whole accounts, by the hash `churncal sql sample` computes in the engine, so
            // that a sample drawn there is this one and drawing again keeps all of it.
            let kept: Vec<bool> = (0..data.n_accounts)
                .into_par_iter()
                .map(|a| {
                    crate::data::controls::controls_kept(
                        self.seed,
                        &data.account_name(a as u32),
                        rate,
                    )
                })
                .collect();
            let before = rows.len();
            let controls = rows.iter().filter(|&&i| outcome[i] == 0).count();
            rows.retain(|&i| outcome[i] == 1 || kept[data.account[i] as usize]);
            let kept = controls - (before - rows.len());
            case_control_note = Some(CalibrationWarning::CaseControl {
                kept,
                controls,
                rate,
            });
        }
        // Cross-validation folds grouped by account, and the rows in (fold, account) order:
        // a fold's test rows are then one block, which its training fit leaves out as zero
        // weights without copying the data, and every account's rows stay a run, which a
        // bootstrap replicate that did not draw the account skips.
        let (fold_starts, n_accounts) = {
            let accounts: Vec<u32> = rows.iter().map(|&i| data.account[i]).collect();
            let ids = distinct(&accounts);
            let n_accounts = ids.len();
            let folds = folds_of(ids, &accounts, self.folds, self.seed);
            drop(accounts);
            // A counting sort, stable: each fold's rows keep their account order.
            let mut starts = vec![0; self.folds + 1];
            for &f in &folds {
                starts[f + 1] += 1;
            }
            for f in 0..self.folds {
                starts[f + 1] += starts[f];
            }
            let mut next = starts.clone();
            let mut ordered = vec![0; rows.len()];
            for (&i, &f) in rows.iter().zip(&folds) {
                ordered[next[f]] = i;
                next[f] += 1;
            }
            rows = ordered;
            (starts, n_accounts)
        };
        let k = prior.metrics.len();
        // The sub-score columns are freed as they are copied into the matrix.
        let mut fd = FitData::from_columns_consuming(subs.columns, outcome, &rows);
        // Revenue weights, scaled to mean 1 over the fit's rows (so λ means what it means
        // unweighted).
        let revenue_scale = if self.revenue_weighted {
            let arr = data.arr.as_ref().ok_or(CalibrateError::NoRevenue)?;
            if let Some(&i) = rows
                .iter()
                .find(|&&i| !(arr[i] >= 0.0 && arr[i].is_finite()))
            {
                return Err(CalibrateError::BadRevenue {
                    path: data.source.clone(),
                    column: data.arr_column.clone().unwrap_or_else(|| "revenue".into()),
                    row: data.source_row[i],
                    value: arr[i],
                });
            }
            let mean = rows.iter().map(|&i| arr[i]).sum::<f64>() / rows.len().max(1) as f64;
            if mean <= 0.0 {
                return Err(CalibrateError::BadRevenue {
                    path: data.source.clone(),
                    column: data.arr_column.clone().unwrap_or_else(|| "revenue".into()),
                    row: data.source_row[rows[0]],
                    value: 0.0,
                });
            }
            fd.w = rows.iter().map(|&i| arr[i] / mean).collect();
            Some(mean)
        } else {
            None
        };
        let events = fd.y.iter().filter(|&&y| y == 1).count();
        let mut warnings: Vec<CalibrationWarning> = case_control_note.into_iter().collect();
        // The case-control intercept correction (0 without sampling).
        let offset = self.sample_controls.map_or(0.0, f64::ln);
        let epv = events as f64 / k as f64;
        if epv < 5.0 && !self.force {
            return Err(CalibrateError::TooFewEvents {
                events,
                params: k,
                epv,
            });
        }
        if epv < 10.0 {
            warnings.push(CalibrationWarning::FewEvents {
                events,
                weights: k,
                per_weight: epv,
            });
        }
        let dropped = unscored;
        if dropped > 0 {
            warnings.push(CalibrationWarning::Unscored { snapshots: dropped });
        }
        let accounts_of: Vec<u32> = rows.iter().map(|&i| data.account[i]).collect();
        if n_accounts < self.folds {
            return Err(CalibrateError::TooFewAccounts {
                accounts: n_accounts,
                folds: self.folds,
            });
        }

        // The prior and its own slope: β⁰ = b₀ · w⁰ / 100.
        let w0 = prior.effective_weights();
        let s0 = fd.scores(&w0);
        let (a0, slope0, _) = fit_two(&s0, &fd.y, &fd.w, (logit_rate(&fd), 0.0));
        let mut b0 = -slope0;
        if b0 < 0.1 {
            warnings.push(CalibrationWarning::WeakPrior { slope: slope0 });
            b0 = 0.1;
        }
        let beta0: Vec<f64> = w0.iter().map(|w| b0 * w / 100.0).collect();
        let prepared = Prepared {
            revenue_scale,
            rows,
            fold_starts,
            fd,
            events,
            epv,
            offset,
            accounts_of,
            n_accounts,
            w0,
            s0,
            a0,
            slope0,
            beta0,
        };
        Ok((prepared, warnings))
    }

    /// The revenue-weighted fit beside the fit that counts every snapshot once, each with
    /// its λ from the same folds and each judged out of fold both ways.
    fn revenue_comparison(
        &self,
        p: &Prepared,
        weighted: &CrossValidation,
        weighted_fit: &ConstrainedFit,
        lambdas: &[f64],
        order: &[usize],
    ) -> Result<RevenueComparison, CalibrateError> {
        let _stage = tracing::info_span!("calibrate: the unweighted fit beside").entered();
        let u = p.unweighted();
        let (reference, blocks) =
            fit_reference_in_blocks(&features(&u.fd, &u.s0, &u.fd.w), &u.fold_starts);
        let mut per_fold = self.fit_folds(&u, (&reference, &blocks), lambdas, order)?;
        let cv = cross_validation(self.folds, &u, &mut per_fold, lambdas, order, true);
        let revenue = Some(p.fd.w.as_slice());
        let figures = |cv: &CrossValidation, fit: &ConstrainedFit| WeightingFigures {
            lambda: cv.lambda,
            weights: fit.weights(),
            by_snapshot: Quality::of(&cv.oof, &p.fd.y),
            by_revenue: Quality::of_w(&cv.oof, &p.fd.y, revenue),
        };
        Ok(RevenueComparison {
            by_snapshot: figures(&cv, &self.final_fit(&u, cv.lambda)),
            by_revenue: figures(weighted, weighted_fit),
        })
    }

    /// The final fit on all rows at the chosen λ.
    fn final_fit(&self, p: &Prepared, lambda: f64) -> ConstrainedFit {
        let &Prepared {
            ref fd,
            ref w0,
            ref s0,
            a0,
            slope0,
            ref beta0,
            ..
        } = p;
        // The final fit on all rows.
        if lambda.is_infinite() {
            let (a, b, ok) = fit_two(s0, &fd.y, &fd.w, (a0, slope0));
            ConstrainedFit {
                alpha: a,
                beta: beta_from(w0, -b),
                objective: nll_of_scores(a, b, s0, &fd.y, &fd.w),
                nll: nll_of_scores(a, b, s0, &fd.y, &fd.w),
                solver: SolverReport {
                    converged: ok,
                    iterations: 0,
                    reason: "λ = ∞: the prior's weights, intercept and slope refitted by Newton"
                        .into(),
                },
                information: Vec::new(),
                data_term: None,
            }
        } else {
            fit_constrained(fd, beta0, lambda, (a0, beta0), None, self.max_iters, TIGHT)
        }
    }
}

/// What the fit reads at every step: its rows, its matrix, and the prior's own fit.
#[derive(Clone)]
struct Prepared {
    /// With revenue weighting, the mean revenue the row weights were divided by.
    revenue_scale: Option<f64>,
    /// The data's rows the fit uses, in its order (by fold, then account).
    rows: Vec<usize>,
    /// Where each fold's rows start in the fit's order, and the end (`folds + 1` values).
    fold_starts: Vec<usize>,
    /// The sub-score matrix, outcome and weights.
    fd: FitData,
    /// Churn events among the fit rows.
    events: usize,
    /// Events per fitted weight.
    epv: f64,
    /// The case-control intercept correction (0 without sampling).
    offset: f64,
    /// Each fit row's account.
    accounts_of: Vec<u32>,
    /// Distinct accounts among the fit rows.
    n_accounts: usize,
    /// The prior's effective weights.
    w0: Vec<f64>,
    /// The prior's scores of the fit rows.
    s0: Vec<f64>,
    /// The prior score's fitted intercept.
    a0: f64,
    /// The prior score's fitted slope.
    slope0: f64,
    /// The shrinkage target: the prior's weights at its own slope (at least 0.1).
    beta0: Vec<f64>,
}

impl Prepared {
    /// The row weights the figures count rows by: the revenue weights when weighted.
    fn figure_weights(&self) -> Option<&[f64]> {
        self.revenue_scale.map(|_| self.fd.w.as_slice())
    }

    /// Fold `f`'s rows, a block of the fit's order.
    fn fold_rows(&self, f: usize) -> std::ops::Range<usize> {
        self.fold_starts[f]..self.fold_starts[f + 1]
    }

    /// The fold of fit row `j`.
    fn fold_of(&self, j: usize) -> usize {
        self.fold_starts.partition_point(|&s| s <= j) - 1
    }

    /// The same rows with every snapshot counted once (the prior's slope refitted so).
    fn unweighted(&self) -> Prepared {
        let mut p = self.clone();
        p.fd = self.fd.with_weights(vec![1.0; self.fd.n]);
        p.revenue_scale = None;
        let (a0, slope0, _) = fit_two(&p.s0, &p.fd.y, &p.fd.w, (logit_rate(&p.fd), 0.0));
        let b0 = (-slope0).max(0.1);
        p.a0 = a0;
        p.slope0 = slope0;
        p.beta0 = p.w0.iter().map(|w| b0 * w / 100.0).collect();
        p
    }
}

/// What the fit's steps produced, for the result.
struct Fitted {
    reference: ReferenceFit,
    cv: CrossValidation,
    final_fit: ConstrainedFit,
    holdout: Option<Comparison>,
    holdout_note: Option<String>,
    ml_fit: ConstrainedFit,
    boot: Vec<Vec<f64>>,
    boot_nc: usize,
    revenue_comparison: Option<RevenueComparison>,
}

/// Warnings on the unconstrained reference fit and on metrics whose sub-score never varies.
fn reference_warnings(
    prior: &Profile,
    fd: &FitData,
    reference: &ReferenceFit,
) -> Vec<CalibrationWarning> {
    let k = fd.k;
    let mut warnings = Vec::new();
    if !reference.converged {
        warnings.push(CalibrationWarning::ReferenceNotConverged);
    }
    // Each metric's smallest and largest present sub-score, in one pass.
    let ranges =
        fd.x.par_chunks(k * 16_384)
            .map(|rows| {
                let mut r = vec![(f64::INFINITY, f64::NEG_INFINITY); k];
                for row in rows.chunks(k) {
                    for (v, (lo, hi)) in row.iter().zip(r.iter_mut()) {
                        if !v.is_nan() {
                            *lo = lo.min(*v);
                            *hi = hi.max(*v);
                        }
                    }
                }
                r
            })
            .reduce(
                || vec![(f64::INFINITY, f64::NEG_INFINITY); k],
                |a, b| {
                    a.iter()
                        .zip(&b)
                        .map(|(x, y)| (x.0.min(y.0), x.1.max(y.1)))
                        .collect()
                },
            );
    for (pm, &(lo, hi)) in prior.metrics.iter().zip(&ranges) {
        // No present value (∞ ≥ −∞) or a single one.
        if lo >= hi {
            warnings.push(CalibrationWarning::ConstantSubScore {
                metric: pm.name.clone(),
            });
        }
    }
    warnings
}

fn distinct(v: &[u32]) -> Vec<u32> {
    let mut d = v.to_vec();
    d.par_sort_unstable();
    d.dedup();
    d
}

fn logit_rate(fd: &FitData) -> f64 {
    let p = (fd.events() / fd.w.iter().sum::<f64>()).clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// β for weights `w` (sum 100) and total `b`.
fn beta_from(w: &[f64], b: f64) -> Vec<f64> {
    w.iter().map(|v| b.max(0.0) * v / 100.0).collect()
}

/// The unconstrained reference model's features: the fit's sub-scores, a missing one read
/// as the row's prior score `s0`, with row weights `w`.
fn features<'a>(fd: &'a FitData, s0: &'a [f64], w: &'a [f64]) -> Features<'a> {
    Features {
        x: &fd.x,
        k: fd.k,
        fill: s0,
        y: &fd.y,
        w,
    }
}

/// [`predict`] of a block of rows: their scores a piece at a time by
/// [`FitData::scores_into`] (the same bits as row by row).
fn predict_range(d: &FitData, rows: std::ops::Range<usize>, alpha: f64, beta: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; rows.len()];
    predict_range_into(d, rows.start, alpha, beta, &mut out);
    out
}

/// [`predict_range`] of rows `from .. from + out.len()` into `out`.
fn predict_range_into(d: &FitData, from: usize, alpha: f64, beta: &[f64], out: &mut [f64]) {
    const PIECE: usize = 4096;
    let b: f64 = beta.iter().sum();
    out.par_chunks_mut(PIECE).enumerate().for_each(|(c, o)| {
        d.scores_into(from + c * PIECE, beta, o);
        o.iter_mut().for_each(|s| *s = alpha - b * *s);
        crate::stats::fastexp::sigmoid_in_place(o);
    });
}

/// P(churn) for (α, β) of the given rows, in their order (the logistic function of
/// [`crate::stats::fastexp`], as in the fit).
fn predict<I>(d: &FitData, rows: I, alpha: f64, beta: &[f64]) -> Vec<f64>
where
    I: IntoParallelIterator<Item = usize>,
    I::Iter: IndexedParallelIterator,
{
    let b: f64 = beta.iter().sum();
    rows.into_par_iter()
        .with_min_len(1024)
        .map(|i| crate::stats::fastexp::sigmoid(alpha - b * d.score_row(i, beta)))
        .collect()
}

#[cfg(test)]
pub(crate) mod kat {
    //! The deterministic data set of `tests/reference/kat.py`, computed the same way here.
    use super::problem::FitData;
    use crate::stats::sigmoid;

    /// 300 rows, 3 sub-scores in [0, 1], 106 events.
    pub fn data() -> FitData {
        let n = 300;
        let mut x = Vec::with_capacity(n * 3);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let x0 = ((i * 37) % 101) as f64 / 100.0;
            let x1 = ((i * 53 + 11) % 89) as f64 / 88.0;
            let x2 = ((i * 17 + 5) % 71) as f64 / 70.0;
            let z = 1.5 - 3.0 * x0 - 1.5 * x1 + 0.2 * x2;
            let u = ((i * 7919) % 1000) as f64 / 1000.0;
            x.extend([x0, x1, x2]);
            y.push((u < sigmoid(z)) as u8);
        }
        FitData {
            n,
            k: 3,
            x: x.into(),
            y: y.into(),
            w: vec![1.0; n],
        }
    }

    #[test]
    fn default_holdout_is_the_last_quarter_of_dates() {
        use super::default_holdout;
        let d: Vec<crate::data::Day> = (0..8).collect();
        assert_eq!(default_holdout(&d), 6);
        assert_eq!(default_holdout(&[1, 2]), 2);
    }

    #[test]
    fn same_data_as_the_python_script() {
        assert_eq!(data().y.iter().filter(|&&v| v == 1).count(), 106);
    }
}
