//! The calibration's parameters: consuming setters whose doc states the default, and
//! `check` before any work; the typed error.

use super::*;

/// Why a calibration cannot run.
#[derive(Debug, Error)]
pub enum CalibrateError {
    /// The data has no outcome.
    #[error("calibration needs an outcome for every snapshot")]
    NoOutcome,
    /// Too few churn events for the number of weights.
    #[error("{events} churn events for {params} weights is {epv:.1} events per weight; below 5 the fit is not trustworthy (Harrell's rule of thumb is 15); use fewer metrics, or force the fit")]
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
    #[error("{param} {message}")]
    BadParam {
        /// The parameter, as [`CalibrateParams`] names it.
        param: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Revenue weighting asked for, and the data has no revenue column.
    #[error("weighting by revenue needs a revenue column, and none was loaded")]
    NoRevenue,
    /// A snapshot's revenue cannot weight it.
    #[error("{path}, row {row}, column '{column}': revenue {value} cannot weight a snapshot (it must be a number ≥ 0, present on every row the fit uses)")]
    BadRevenue {
        /// The data file.
        path: String,
        /// The revenue column.
        column: String,
        /// 1-based data row.
        row: u32,
        /// The value (NaN: missing).
        value: f64,
    },
    /// The segment column to calibrate by was not loaded.
    #[error("no segment column '{column}' in the data (segments loaded: {})", if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") })]
    NoSegment {
        /// The column asked for.
        column: String,
        /// The segment columns the data was loaded with.
        loaded: Vec<String>,
    },
    /// Transforms re-learned for a fold or a replicate could not score the data.
    #[error("re-learning the transforms: {0}")]
    Relearn(String),
}

/// Sub-scores under transforms re-learned from a weighted subset of the fit's rows: given
/// the fit's data rows and a weight per row (0 leaves a row out of the learning), the
/// sub-score columns (0–100, one per metric) of all those rows, in that order.
pub type Relearn = Arc<dyn Fn(&[usize], &[f64]) -> Result<Vec<Vec<f64>>, String> + Send + Sync>;

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
    pub(super) folds: usize,
    pub(super) bootstrap: usize,
    pub(super) seed: u64,
    pub(super) lambdas: Option<Vec<f64>>,
    pub(super) holdout_from: Option<Day>,
    pub(super) force: bool,
    pub(super) max_iters: u64,
    pub(super) progress: Option<Progress>,
    pub(super) sample_controls: Option<f64>,
    pub(super) relearn: Option<Relearn>,
    pub(super) revenue_weighted: bool,
    pub(super) full_bootstrap: bool,
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
            relearn: None,
            revenue_weighted: false,
            full_bootstrap: false,
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
    /// Weight each snapshot by its revenue (the data's revenue column, scaled to mean 1):
    /// the fit maximises the revenue-weighted likelihood, and the cross-validation, holdout,
    /// bootstrap and tier table are revenue-weighted (the cross-validation also unweighted,
    /// for comparison). Default false (every snapshot counts once).
    pub fn revenue_weighted(mut self, on: bool) -> Self {
        self.revenue_weighted = on;
        self
    }
    /// Whether the fit is weighted by revenue ([`Self::revenue_weighted`]).
    pub fn is_revenue_weighted(&self) -> bool {
        self.revenue_weighted
    }
    /// Refit every bootstrap replicate to convergence instead of taking one constrained
    /// Newton step from the full fit with the replicate's gradient (the one-step bootstrap,
    /// [`super::problem::onestep`]; its intervals match the full refits' within their Monte
    /// Carlo error, tested). Replicates with learned transforms are always refitted.
    /// Default false.
    pub fn full_bootstrap(mut self, on: bool) -> Self {
        self.full_bootstrap = on;
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

    /// Transforms learned from the data: every cross-validation fold, the holdout's earlier
    /// part and every bootstrap replicate re-learns them from its own rows through this
    /// callback, so that no figure is computed on rows its transforms were learned from.
    /// The sub-scores given to [`CalibrateParams::fit`] are those learned from all rows.
    /// Default none (the transforms are fixed).
    pub fn relearn(mut self, r: Option<Relearn>) -> Self {
        self.relearn = r;
        self
    }

    /// The sub-scores of the fit rows under transforms learned from the rows of weight
    /// `w` (fit order), and the prior's scores of them.
    pub(super) fn relearned(
        &self,
        rows: &[usize],
        y: &[u8],
        w: &[f64],
        w0: &[f64],
    ) -> Result<Option<(FitData, Vec<f64>)>, CalibrateError> {
        let Some(r) = &self.relearn else {
            return Ok(None);
        };
        let cols = r(rows, w).map_err(CalibrateError::Relearn)?;
        let identity: Vec<usize> = (0..rows.len()).collect();
        let fd = FitData::from_columns(&cols, y, &identity).with_weights(w.to_vec());
        let s0 = fd.scores(w0);
        Ok(Some((fd, s0)))
    }

    /// The number of cross-validation folds.
    pub fn folds_count(&self) -> usize {
        self.folds
    }

    /// The seed of the folds and the bootstrap.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), CalibrateError> {
        if let Some(r) = self.sample_controls {
            if !(r > 0.0 && r <= 1.0) {
                return Err(CalibrateError::BadParam {
                    param: "sample_controls",
                    message: format!("must lie in (0, 1], got {r}"),
                });
            }
        }
        if self.folds < 2 {
            return Err(CalibrateError::BadParam {
                param: "folds",
                message: format!("must be at least 2, got {}", self.folds),
            });
        }
        if let Some(l) = &self.lambdas {
            if l.is_empty() || l.iter().any(|v| v.is_nan() || *v < 0.0) {
                return Err(CalibrateError::BadParam {
                    param: "lambdas",
                    message: "must be >= 0 (inf keeps the prior's weights)".into(),
                });
            }
        }
        if self.max_iters == 0 {
            return Err(CalibrateError::BadParam {
                param: "max_iters",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    pub(super) fn tick(&self, stage: Stage, done: usize, total: usize) {
        if let Some(p) = &self.progress {
            p(stage, done, total);
        }
    }
}
