//! Calibrating a profile's weights against observed churn.
//!
//! [`CalibrateParams`] (consuming setters, defaults documented) → [`CalibrateParams::check`] →
//! [`CalibrateParams::fit`] → [`Calibration`]: the method of `statistics.md`, "Fitting
//! weights". The constrained fit ([`problem`]) optimises the profile's own score function
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
use crate::stats::{self, sigmoid};
pub use problem::solver_passes;
use problem::{
    fit_constrained, fit_constrained_from, fit_two, nll_of_scores, ConstrainedFit, FitData,
    SolverReport, LOOSE, TIGHT,
};
use reference::{fit_reference, refit_reference, Features, ReferenceFit};

/// Why a calibration cannot run.
#[derive(Debug, Error)]
pub enum CalibrateError {
    /// The data has no outcome.
    #[error("calibration needs an outcome for every snapshot")]
    NoOutcome,
    /// Too few churn events for the number of weights.
    #[error("{events} churn events for {params} weights is {epv:.1} events per weight; below 5 the fit is not trustworthy (Harrell's rule of thumb is 15). Pass --force to fit anyway, or use fewer metrics")]
    TooFewEvents {
        /// Churn events.
        events: usize,
        /// Weights fitted.
        params: usize,
        /// Events per weight.
        epv: f64,
    },
    /// Fewer accounts than folds.
    #[error("{accounts} accounts cannot be split into {folds} cross-validation folds")]
    TooFewAccounts {
        /// Accounts with an outcome.
        accounts: usize,
        /// Folds asked for.
        folds: usize,
    },
    /// A parameter is out of range.
    #[error("{0}")]
    BadParam(String),
}

/// What progress a calibration reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Cross-validated λ search: (fits done, fits in all).
    LambdaSearch,
    /// Bootstrap replicates.
    Bootstrap,
}

/// A progress callback: stage, done, total.
pub type Progress = Arc<dyn Fn(Stage, usize, usize) + Send + Sync>;

/// Parameters of a calibration.
#[derive(Clone)]
pub struct CalibrateParams {
    folds: usize,
    bootstrap: usize,
    seed: u64,
    lambdas: Option<Vec<f64>>,
    holdout_from: Option<Day>,
    force: bool,
    max_iters: u64,
    progress: Option<Progress>,
    sample_controls: Option<f64>,
}

impl Default for CalibrateParams {
    fn default() -> Self {
        CalibrateParams {
            folds: 5,
            bootstrap: 200,
            seed: 42,
            lambdas: None,
            holdout_from: None,
            force: false,
            max_iters: 1000,
            progress: None,
            sample_controls: None,
        }
    }
}

/// The default λ grid: ∞ (the prior's weights), then 1, 10^−0.5, …, 10^−6, and 0.
pub fn default_lambdas() -> Vec<f64> {
    let mut v = vec![f64::INFINITY];
    v.extend((0..=12).map(|i| 10f64.powf(-0.5 * i as f64)));
    v.push(0.0);
    v
}

impl CalibrateParams {
    /// Cross-validation folds, grouped by account. Default 5.
    pub fn folds(mut self, k: usize) -> Self {
        self.folds = k;
        self
    }
    /// Bootstrap replicates over accounts. Default 200.
    pub fn bootstrap(mut self, b: usize) -> Self {
        self.bootstrap = b;
        self
    }
    /// Seed for folds and the bootstrap. Default 42.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// λ values to choose from by cross-validation (`f64::INFINITY` keeps the prior's
    /// weights). Default: [`default_lambdas`]. One value fixes λ.
    pub fn lambdas(mut self, l: Vec<f64>) -> Self {
        self.lambdas = Some(l);
        self
    }
    /// First date of the out-of-time holdout. Default: the last 25 % of snapshot dates.
    pub fn holdout_from(mut self, d: Option<Day>) -> Self {
        self.holdout_from = d;
        self
    }
    /// Fit even below 5 events per weight. Default false.
    pub fn force(mut self, f: bool) -> Self {
        self.force = f;
        self
    }
    /// Solver iteration cap per fit. Default 1000.
    pub fn max_iters(mut self, n: u64) -> Self {
        self.max_iters = n;
        self
    }
    /// Progress callback. Default none.
    pub fn progress(mut self, p: Option<Progress>) -> Self {
        self.progress = p;
        self
    }

    /// Fit on a case-control sample: every churned snapshot and each retained one with
    /// probability `rate` (seeded), then correct the intercept by `ln rate` (Prentice & Pyke,
    /// "Logistic disease incidence models and case-control studies", Biometrika 66(3),
    /// 1979: the slopes are those of the full data, only the intercept moves). Default none.
    pub fn sample_controls(mut self, rate: Option<f64>) -> Self {
        self.sample_controls = rate;
        self
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), CalibrateError> {
        if let Some(r) = self.sample_controls {
            if !(r > 0.0 && r <= 1.0) {
                return Err(CalibrateError::BadParam(format!(
                    "--sample-controls must lie in (0, 1], got {r}"
                )));
            }
        }
        if self.folds < 2 {
            return Err(CalibrateError::BadParam(format!(
                "--folds must be at least 2, got {}",
                self.folds
            )));
        }
        if let Some(l) = &self.lambdas {
            if l.is_empty() || l.iter().any(|v| v.is_nan() || *v < 0.0) {
                return Err(CalibrateError::BadParam(
                    "λ values must be >= 0 (inf keeps the prior's weights)".into(),
                ));
            }
        }
        if self.max_iters == 0 {
            return Err(CalibrateError::BadParam(
                "--max-iters must be at least 1".into(),
            ));
        }
        Ok(())
    }

    fn tick(&self, stage: Stage, done: usize, total: usize) {
        if let Some(p) = &self.progress {
            p(stage, done, total);
        }
    }
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
    fn of(p: &[f64], y: &[u8]) -> Quality {
        Quality {
            auc: stats::auc(p, y),
            log_loss: stats::log_loss(p, y),
            brier: stats::brier(p, y),
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

fn ser_lambda<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
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
    pub warnings: Vec<String>,
    /// What the calibration concluded, in plain words.
    pub verdict: String,
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
    /// Calibrate `prior` on `data` whose sub-scores under the prior are `subs`. The
    /// sub-scores are consumed: their columns are freed once copied into the fit's matrix.
    pub fn fit(
        &self,
        prior: &Profile,
        data: &Snapshots,
        subs: SubScores,
    ) -> Result<Calibration, CalibrateError> {
        let stage = tracing::info_span!("calibrate: data ready, prior slope fitted").entered();
        self.check()?;
        let (p, mut warnings) = self.prepare(prior, data, subs)?;
        // Unconstrained reference on all rows (linfa, then Newton); the folds and the
        // holdout refit it from there.
        drop(stage);
        let stage = tracing::info_span!("calibrate: unconstrained reference fit").entered();
        let reference = fit_reference(&features(&p.fd, &p.s0, &p.fd.w));
        drop(stage);
        let stage = tracing::info_span!("calibrate: cross-validation folds fitted").entered();
        warnings.extend(reference_warnings(prior, &p.fd, &reference));
        let lambdas = self.lambdas.clone().unwrap_or_else(default_lambdas);
        let mut order: Vec<usize> = (0..lambdas.len()).collect();
        // From most to least shrinkage, for warm starts.
        order.sort_by(|&a, &b| lambdas[b].total_cmp(&lambdas[a]));
        let per_fold = self.fit_folds(&p, &reference, &lambdas, &order);
        drop(stage);
        let stage = tracing::info_span!("calibrate: cross-validation").entered();
        let cv = cross_validation(self.folds, &p, &per_fold, &lambdas, &order);
        if cv.comparison.calibrated.auc >= 0.999 {
            warnings.push(format!(
                "the calibrated score separates churned from retained snapshots almost perfectly (cross-validated AUC {:.3}): with separable data the weights are set by the shrinkage rather than the data; check the audit for a leaking metric",
                cv.comparison.calibrated.auc
            ));
        }
        drop(stage);
        let stage = tracing::info_span!("calibrate: final fit").entered();
        let final_fit = self.final_fit(&p, cv.lambda);
        if !final_fit.solver.converged {
            warnings.push(format!(
                "the final fit's solver did not converge: {} after {} iterations",
                final_fit.solver.reason, final_fit.solver.iterations
            ));
        }
        drop(stage);
        let stage = tracing::info_span!("calibrate: out-of-time holdout").entered();
        let (holdout, holdout_note) = self.holdout(
            data, &p.rows, &p.fd, &p.s0, &p.w0, &p.beta0, cv.lambda, &final_fit, &reference,
        );
        drop(stage);
        let stage = tracing::info_span!("calibrate: bootstrap").entered();
        let (ml_fit, boot, boot_nc) = self.ml_and_bootstrap(&p, cv.lambda, &final_fit);
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
        };
        Ok(self.assemble(prior, &p, warnings, fitted))
    }

    /// The fit's rows (present, in fold and account order, case-control sampled when asked),
    /// its matrix, the guards on events and accounts, and the prior's own slope.
    fn prepare(
        &self,
        prior: &Profile,
        data: &Snapshots,
        subs: SubScores,
    ) -> Result<(Prepared, Vec<String>), CalibrateError> {
        let outcome = data.outcome.as_ref().ok_or(CalibrateError::NoOutcome)?;
        let mut rows: Vec<usize> = (0..data.rows).filter(|&i| subs.present[i] > 0).collect();
        // Rows in account order: a bootstrap replicate's left-out accounts are then runs of
        // zero weights the fit skips.
        crate::data::order::by_account(&mut rows, &data.account, data.n_accounts);
        let unscored = data.rows - rows.len();
        let mut case_control_note = None;
        if let Some(rate) = self.sample_controls.filter(|&r| r < 1.0) {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x00c0_5e00);
            let before = rows.len();
            let controls = rows.iter().filter(|&&i| outcome[i] == 0).count();
            rows.retain(|&i| outcome[i] == 1 || rng.random::<f64>() < rate);
            let kept = controls - (before - rows.len());
            case_control_note = Some(format!(
                "fitted on a case-control sample: every churned snapshot and {kept} of {controls} retained ones (rate {rate}); the intercept is corrected by ln {rate} = {:.4}. AUC is unaffected; log-loss, Brier and the tier table's churn rates are those of the sample",
                rate.ln()
            ));
        }
        // Cross-validation folds grouped by account, and the rows in (fold, account) order:
        // a fold's test rows are then one block, which its training fit leaves out as zero
        // weights without copying the data, and every account's rows stay a run, which a
        // bootstrap replicate that did not draw the account skips.
        let fold_of: Vec<usize> = {
            let accounts: Vec<u32> = rows.iter().map(|&i| data.account[i]).collect();
            let folds = grouped_folds(&accounts, self.folds, self.seed);
            // Stable: each fold's rows keep their account order.
            let mut order: Vec<usize> = Vec::with_capacity(rows.len());
            for f in 0..self.folds {
                order.extend((0..rows.len()).filter(|&j| folds[j] == f));
            }
            rows = order.iter().map(|&j| rows[j]).collect();
            order.iter().map(|&j| folds[j]).collect()
        };
        let k = prior.metrics.len();
        let fd = FitData::from_columns(&subs.columns, outcome, &rows);
        drop(subs);
        let events = fd.y.iter().filter(|&&y| y == 1).count();
        let mut warnings: Vec<String> = case_control_note.into_iter().collect();
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
            warnings.push(format!(
                "{events} churn events for {k} weights: {epv:.1} events per weight is below 10; weights will be noisy (Harrell suggests 15)"
            ));
        }
        let dropped = unscored;
        if dropped > 0 {
            warnings.push(format!(
                "{dropped} snapshots with no metric present were left out of the fit"
            ));
        }
        let accounts_of: Vec<u32> = rows.iter().map(|&i| data.account[i]).collect();
        let n_accounts = distinct(&accounts_of).len();
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
            warnings.push(format!(
                "the prior score barely separates churners (fitted slope {:.2} per 100 points); shrinkage uses a slope of 0.1",
                slope0
            ));
            b0 = 0.1;
        }
        let beta0: Vec<f64> = w0.iter().map(|w| b0 * w / 100.0).collect();
        let prepared = Prepared {
            rows,
            fold_of,
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

    /// Every fold's fits along the λ path (warm-started from the most shrunk) and its
    /// unconstrained reference refit's out-of-fold predictions.
    fn fit_folds(
        &self,
        p: &Prepared,
        reference: &ReferenceFit,
        lambdas: &[f64],
        order: &[usize],
    ) -> Vec<FoldResult> {
        let &Prepared {
            ref fold_of,
            ref fd,
            ref w0,
            ref s0,
            a0,
            slope0,
            ref beta0,
            ..
        } = p;
        let k = fd.k;
        // Cross-validation grouped by account: fold f's test rows are block f.
        let block =
            |f: usize| fold_of.partition_point(|&g| g < f)..fold_of.partition_point(|&g| g <= f);
        let total_fits = self.folds * lambdas.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        (0..self.folds)
            .into_par_iter()
            .map(|f| {
                let test = block(f);
                let mut w = fd.w.clone();
                w[test.clone()].fill(0.0);
                let tr = fd.with_weights(w);
                let (pa, pb, _) = fit_two(&s0, &tr.y, &tr.w, (a0, slope0));
                let mut warm = (pa, beta_from(&w0, -pb));
                let mut warm_info: Option<Vec<f64>> = None;
                let mut warm_term = None;
                let mut fits = vec![(0.0, Vec::new()); lambdas.len()];
                let mut not_conv = vec![0usize; lambdas.len()];
                for &li in order {
                    let lam = lambdas[li];
                    let (alpha, beta) = if lam.is_infinite() {
                        (pa, beta_from(&w0, -pb))
                    } else {
                        let fit = fit_constrained_from(
                            &tr,
                            &beta0,
                            lam,
                            (warm.0, &warm.1),
                            warm_info.as_deref(),
                            warm_term.take(),
                            self.max_iters,
                            LOOSE,
                        );
                        warm_term = fit.data_term.clone();
                        if !fit.solver.converged {
                            not_conv[li] += 1;
                        }
                        warm = (fit.alpha, fit.beta.clone());
                        warm_info = Some(fit.information);
                        (fit.alpha, fit.beta)
                    };
                    fits[li] = (alpha, beta);
                    let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    self.tick(Stage::LambdaSearch, d, total_fits);
                }
                let train_features = features(&fd, &s0, &tr.w);
                let rf = refit_reference(&train_features, &reference);
                let unc = test
                    .clone()
                    .into_par_iter()
                    .map_init(
                        || vec![0.0; k],
                        |row, i| {
                            train_features.row_into(i, row);
                            rf.probability(row)
                        },
                    )
                    .collect();
                FoldResult {
                    test,
                    fits,
                    unconstrained: unc,
                    not_converged: not_conv,
                }
            })
            .collect()
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
            let (a, b, ok) = fit_two(&s0, &fd.y, &fd.w, (a0, slope0));
            ConstrainedFit {
                alpha: a,
                beta: beta_from(&w0, -b),
                objective: nll_of_scores(a, b, &s0, &fd.y, &fd.w),
                nll: nll_of_scores(a, b, &s0, &fd.y, &fd.w),
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
            fit_constrained(
                &fd,
                &beta0,
                lambda,
                (a0, &beta0),
                None,
                self.max_iters,
                TIGHT,
            )
        }
    }

    /// The maximum-likelihood fit (λ = 0) and the bootstrap over accounts of its weights:
    /// the range of weights the data alone supports, whatever shrinkage the
    /// cross-validation chose.
    fn ml_and_bootstrap(
        &self,
        p: &Prepared,
        lambda: f64,
        final_fit: &ConstrainedFit,
    ) -> (ConstrainedFit, Vec<Vec<f64>>, usize) {
        let &Prepared {
            ref fd,
            ref accounts_of,
            ref beta0,
            ..
        } = p;
        // Bootstrap over accounts of the maximum-likelihood weights (λ = 0): the range of
        // weights the data alone supports, whatever shrinkage the cross-validation chose.
        let ml_fit = if lambda == 0.0 {
            final_fit.clone()
        } else {
            fit_constrained(
                &fd,
                &beta0,
                0.0,
                (final_fit.alpha, &final_fit.beta),
                Some(&final_fit.information),
                self.max_iters,
                TIGHT,
            )
        };
        let (boot, boot_nc) = self.bootstrap_weights(&fd, &accounts_of, &beta0, &ml_fit);
        (ml_fit, boot, boot_nc)
    }

    /// The result: integer weights and their cost, each metric's figures, the calibrated
    /// profile, its tier table and the verdict.
    fn assemble(
        &self,
        prior: &Profile,
        p: &Prepared,
        mut warnings: Vec<String>,
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
        } = fitted;
        let CrossValidation {
            lambda_path,
            lambda,
            comparison: cross_validation,
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
                warnings.push(format!(
                    "direction conflict: '{}' churns more as its sub-score rises (unconstrained coefficient {:.2}, 95 % CI {:.2} to {:.2}); its declared direction or transform may be wrong. Its weight is held at ≥ 0, not flipped",
                    m.name, m.coefficient, m.coefficient_ci[0], m.coefficient_ci[1]
                ));
            }
        }

        let ai = ai + offset;
        let profile =
            calibrated_profile(prior, &w_int, &metrics, ai, bi, lambda, &cross_validation);
        let tiers = tier_table(&profile, &fd, &w_int_f);
        let moved: f64 = metrics
            .iter()
            .map(|m| (m.weight - m.prior_weight).abs())
            .sum::<f64>()
            / 2.0;
        let cv = &cross_validation;
        let least = lambda_path
            .iter()
            .min_by(|a, b| a.lambda.total_cmp(&b.lambda));
        let verdict = if moved < 2.0 {
            format!(
                "The data does not support moving the prior's weights: cross-validation kept them (λ = {}), \
                 {moved:.1} points of 100 moved. With {events} churn events the less-shrunk weights do not beat the prior out of sample \
                 (CV log-loss {:.4} for the prior vs {:.4} at the smallest λ tried, {}).",
                lambda_label(lambda),
                cv.prior.log_loss,
                least.map_or(f64::NAN, |p| p.cv_log_loss),
                least.map_or("–".to_string(), |p| lambda_label(p.lambda)),
            )
        } else {
            format!(
                "Calibration moved {moved:.1} points of 100 between metrics; out of sample the AUC went from {:.3} to {:.3} and the log-loss from {:.4} to {:.4}.",
                cv.prior.auc, cv.calibrated.auc, cv.prior.log_loss, cv.calibrated.log_loss
            )
        };
        Calibration {
            verdict,
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

    #[allow(clippy::too_many_arguments)]
    fn holdout(
        &self,
        data: &Snapshots,
        rows: &[usize],
        fd: &FitData,
        s0: &[f64],
        w0: &[f64],
        beta0: &[f64],
        lambda: f64,
        final_fit: &ConstrainedFit,
        reference: &ReferenceFit,
    ) -> (Option<Comparison>, Option<String>) {
        let Some(dates) = &data.date else {
            return (None, Some("the data has no snapshot dates".into()));
        };
        let row_dates: Vec<Day> = rows.iter().map(|&i| dates[i]).collect();
        let distinct_dates = crate::data::order::distinct_days(&row_dates);
        if distinct_dates.len() < 2 && self.holdout_from.is_none() {
            return (None, Some("the data has a single snapshot date".into()));
        }
        let cut = self
            .holdout_from
            .unwrap_or_else(|| default_holdout(&distinct_dates));
        // The earlier rows fit (the later ones as zero weights), the later ones are scored.
        let tr = fd.with_weights(
            (0..fd.n)
                .map(|i| if row_dates[i] < cut { fd.w[i] } else { 0.0 })
                .collect(),
        );
        let test: Vec<usize> = (0..fd.n).filter(|&i| row_dates[i] >= cut).collect();
        let test_y: Vec<u8> = test.iter().map(|&i| fd.y[i]).collect();
        let train_n = fd.n - test.len();
        let train_events = (0..fd.n)
            .filter(|&i| row_dates[i] < cut && fd.y[i] == 1)
            .count();
        let test_events = test_y.iter().filter(|&&y| y == 1).count();
        if train_events == 0
            || test_events == 0
            || train_events == train_n
            || test_events == test.len()
        {
            return (
                None,
                Some(format!(
                    "the split at {} leaves a side without both churned and retained snapshots",
                    parse::format_day(cut)
                )),
            );
        }
        let (pa, pb, _) = fit_two(s0, &tr.y, &tr.w, (final_fit.alpha, final_fit.slope()));
        let prior_p = predict(fd, test.par_iter().copied(), pa, &beta_from(w0, -pb));
        let cal = if lambda.is_infinite() {
            prior_p.clone()
        } else {
            let f = fit_constrained(
                &tr,
                beta0,
                lambda,
                (final_fit.alpha, &final_fit.beta),
                Some(&final_fit.information),
                self.max_iters,
                LOOSE,
            );
            predict(fd, test.par_iter().copied(), f.alpha, &f.beta)
        };
        let features = features(fd, s0, &tr.w);
        let rf = refit_reference(&features, reference);
        let mut row = vec![0.0; fd.k];
        let unc: Vec<f64> = test
            .iter()
            .map(|&i| {
                features.row_into(i, &mut row);
                rf.probability(&row)
            })
            .collect();
        (
            Some(Comparison {
                scheme: format!(
                    "out-of-time: fitted before {}, evaluated from it on",
                    parse::format_day(cut)
                ),
                rows: test.len(),
                events: test_events,
                prior: Quality::of(&prior_p, &test_y),
                calibrated: Quality::of(&cal, &test_y),
                unconstrained: Quality::of(&unc, &test_y),
            }),
            None,
        )
    }

    fn bootstrap_weights(
        &self,
        fd: &FitData,
        accounts_of: &[u32],
        beta0: &[f64],
        ml_fit: &ConstrainedFit,
    ) -> (Vec<Vec<f64>>, usize) {
        if self.bootstrap == 0 {
            return (Vec::new(), 0);
        }
        let ids = distinct(accounts_of);
        let index: rustc_hash::FxHashMap<u32, usize> =
            ids.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        let acc_idx: Vec<usize> = accounts_of.iter().map(|a| index[a]).collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(Vec<f64>, bool)> = (0..self.bootstrap)
            .into_par_iter()
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(1000 + b as u64);
                let mut count = vec![0f64; ids.len()];
                for _ in 0..ids.len() {
                    count[rng.random_range(0..ids.len())] += 1.0;
                }
                let d = fd.with_weights(acc_idx.iter().map(|&a| count[a]).collect());
                let out = if d.events() == 0.0 {
                    (ml_fit.weights(), false)
                } else {
                    let f = fit_constrained(
                        &d,
                        beta0,
                        0.0,
                        (ml_fit.alpha, &ml_fit.beta),
                        Some(&ml_fit.information),
                        self.max_iters,
                        LOOSE,
                    );
                    (f.weights(), f.solver.converged)
                };
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                self.tick(Stage::Bootstrap, n, self.bootstrap);
                out
            })
            .collect();
        let nc = results.iter().filter(|(_, ok)| !ok).count();
        (results.into_iter().map(|(w, _)| w).collect(), nc)
    }
}

/// What the fit reads at every step: its rows, its matrix, and the prior's own fit.
struct Prepared {
    /// The data's rows the fit uses, in its order (by fold, then account).
    rows: Vec<usize>,
    /// Each fit row's fold.
    fold_of: Vec<usize>,
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

/// The cross-validation's findings: the λ path, the λ chosen and the out-of-fold figures.
struct CrossValidation {
    lambda_path: Vec<LambdaPoint>,
    lambda: f64,
    comparison: Comparison,
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
}

/// Warnings on the unconstrained reference fit and on metrics whose sub-score never varies.
fn reference_warnings(prior: &Profile, fd: &FitData, reference: &ReferenceFit) -> Vec<String> {
    let k = fd.k;
    let mut warnings = Vec::new();
    if !reference.converged {
        warnings.push(
            "the unconstrained reference fit did not converge (sub-scores that separate churners perfectly, or collinear metrics): its coefficients, intervals and the unconstrained model's figures are not reliable".into(),
        );
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
            warnings.push(format!(
                "'{}' has the same sub-score on every row: the data cannot tell its weight from the intercept, so its weight is where the shrinkage puts it",
                pm.name
            ));
        }
    }
    warnings
}

/// The λ path's out-of-fold log-loss and AUC, the λ with the smallest log-loss (ties to the
/// larger), and the prior, calibrated and unconstrained models' out-of-fold figures.
fn cross_validation(
    folds: usize,
    p: &Prepared,
    per_fold: &[FoldResult],
    lambdas: &[f64],
    order: &[usize],
) -> CrossValidation {
    let &Prepared {
        ref fd,
        events,
        ref w0,
        ref s0,
        a0,
        slope0,
        ..
    } = p;
    // Out-of-fold predictions of one λ, pooled in row order (one λ at a time: at ten
    // million rows, all of them at once would take more memory than the data).
    let pooled = |li: usize| {
        let mut p = vec![0.0; fd.n];
        for fr in per_fold {
            let (alpha, beta) = &fr.fits[li];
            p[fr.test.clone()].copy_from_slice(&predict(&fd, fr.test.clone(), *alpha, beta));
        }
        p
    };
    let mut oof_unc = vec![0.0; fd.n];
    let mut nc = vec![0usize; lambdas.len()];
    for fr in per_fold {
        for (li, n) in nc.iter_mut().enumerate() {
            *n += fr.not_converged[li];
        }
        oof_unc[fr.test.clone()].copy_from_slice(&fr.unconstrained);
    }
    let lambda_path: Vec<LambdaPoint> = (0..lambdas.len())
        .map(|li| {
            let p = pooled(li);
            LambdaPoint {
                lambda: lambdas[li],
                cv_log_loss: stats::log_loss(&p, &fd.y),
                cv_auc: stats::auc(&p, &fd.y),
                not_converged: nc[li],
            }
        })
        .collect();
    // Smallest CV log-loss; ties go to the larger λ (closer to the prior).
    let best = order
        .iter()
        .copied()
        .min_by(|&a, &b| {
            lambda_path[a]
                .cv_log_loss
                .total_cmp(&lambda_path[b].cv_log_loss)
        })
        .expect("at least one λ");
    let lambda = lambdas[best];
    let prior_idx = lambdas.iter().position(|l| l.is_infinite());
    let cv_prior = match prior_idx {
        Some(i) => Quality::of(&pooled(i), &fd.y),
        None => {
            // Not in the grid: evaluate the prior out of fold anyway.
            let mut p = vec![0.0; fd.n];
            for fr in per_fold {
                let mut w = fd.w.clone();
                w[fr.test.clone()].fill(0.0);
                let (pa, pb, _) = fit_two(&s0, &fd.y, &w, (a0, slope0));
                p[fr.test.clone()].copy_from_slice(&predict(
                    &fd,
                    fr.test.clone(),
                    pa,
                    &beta_from(&w0, -pb),
                ));
            }
            Quality::of(&p, &fd.y)
        }
    };
    let cross_validation = Comparison {
        scheme: format!("{folds}-fold cross-validation grouped by account"),
        rows: fd.n,
        events,
        prior: cv_prior,
        calibrated: Quality::of(&pooled(best), &fd.y),
        unconstrained: Quality::of(&oof_unc, &fd.y),
    };
    CrossValidation {
        lambda_path,
        lambda,
        comparison: cross_validation,
    }
}

struct FoldResult {
    /// The fold's test rows (a block of the fit's row order).
    test: std::ops::Range<usize>,
    /// (α, β) per λ, fitted on the other folds.
    fits: Vec<(f64, Vec<f64>)>,
    unconstrained: Vec<f64>,
    not_converged: Vec<usize>,
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

/// P(churn) for (α, β) of the given rows, in their order.
fn predict<I>(d: &FitData, rows: I, alpha: f64, beta: &[f64]) -> Vec<f64>
where
    I: IntoParallelIterator<Item = usize>,
    I::Iter: IndexedParallelIterator,
{
    let b: f64 = beta.iter().sum();
    rows.into_par_iter()
        .with_min_len(1024)
        .map(|i| sigmoid(alpha - b * d.score_row(i, beta)))
        .collect()
}

/// The first date of the default out-of-time holdout: the last 25 % of the distinct dates
/// (at least one date, and never all of them).
pub fn default_holdout(distinct_sorted_dates: &[Day]) -> Day {
    let n = distinct_sorted_dates.len();
    let take = ((n as f64) * 0.25).ceil().max(1.0) as usize;
    distinct_sorted_dates[n - take.min(n - 1)]
}

/// Fold of each row: accounts shuffled with the seed, then dealt round-robin.
pub fn grouped_folds(accounts: &[u32], folds: usize, seed: u64) -> Vec<usize> {
    let mut ids = distinct(accounts);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Fisher–Yates
    for i in (1..ids.len()).rev() {
        let j = rng.random_range(0..=i);
        ids.swap(i, j);
    }
    let fold: rustc_hash::FxHashMap<u32, usize> = ids
        .iter()
        .enumerate()
        .map(|(r, a)| (*a, r % folds))
        .collect();
    accounts.par_iter().map(|a| fold[a]).collect()
}

fn calibrated_profile(
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

fn tier_table(profile: &Profile, fd: &FitData, w: &[f64]) -> Vec<TierRow> {
    let scores: Vec<f64> = fd.scores(w).into_iter().map(|s| 100.0 * s).collect();
    let mins = crate::score::resolve_tiers(profile, &scores);
    let names = profile.tier_names();
    let mut n = vec![0usize; mins.len()];
    let mut c = vec![0usize; mins.len()];
    for (s, &y) in scores.iter().zip(fd.y.iter()) {
        let t = mins.iter().position(|&m| *s >= m).unwrap_or(mins.len() - 1);
        n[t] += 1;
        c[t] += y as usize;
    }
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
            }
        })
        .collect()
}

/// λ as written in reports: `∞`, `0`, or scientific notation.
pub fn lambda_label(l: f64) -> String {
    if l.is_infinite() {
        "∞".into()
    } else if l == 0.0 {
        "0".into()
    } else {
        format!("{l:.3e}")
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
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
