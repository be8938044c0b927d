//! The calibration with learned transforms, and the out-of-sample comparison that says
//! whether learning them paid: the practitioner's transforms calibrated, the learned ones
//! calibrated (bins re-learned inside every fold, the holdout's earlier part and every
//! bootstrap replicate), and unconstrained logistic regression, linear and binned, all on
//! the same folds grouped by account.

use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use super::baselines::{self, Encoding};
use super::{LearnError, LearnParams, Learned, Learner};
use crate::calibrate::{grouped_folds, CalibrateError, CalibrateParams, Calibration, Relearn};
use crate::data::Snapshots;
use crate::profile::Profile;
use crate::score::{ScoreError, SubScores};

/// Bins of the binned logistic-regression baseline (deciles, as a practitioner would).
pub const BASELINE_BINS: usize = 10;

/// Why a learned calibration failed.
#[derive(Debug, Error)]
pub enum LearnFitError {
    /// The learning's parameters or data.
    #[error(transparent)]
    Learn(#[from] LearnError),
    /// The learned profile could not score the data.
    #[error(transparent)]
    Score(#[from] ScoreError),
    /// The calibration.
    #[error(transparent)]
    Calibrate(#[from] CalibrateError),
}

/// One model's out-of-sample figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFigures {
    /// What the model is.
    pub model: String,
    /// Out-of-fold AUC.
    pub auc: f64,
    /// Out-of-fold log-loss.
    pub log_loss: f64,
    /// Whether the model is a profile a CS team can read and run (score, SQL).
    pub readable: bool,
}

/// The comparison on the same folds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnComparison {
    /// How the figures were obtained.
    pub scheme: String,
    /// Rows compared.
    pub rows: usize,
    /// Churn events among them.
    pub events: usize,
    /// Hand-written transforms calibrated, learned transforms calibrated, logistic
    /// regression linear and binned.
    pub models: Vec<ModelFigures>,
}

/// A calibration with learned transforms.
#[derive(Debug, Clone)]
pub struct LearnedCalibration {
    /// The calibration of the learned profile (its profile is the one to write).
    pub calibration: Calibration,
    /// What was learned from all rows.
    pub learned: Learned,
    /// Hand-written versus learned versus logistic regression, out of fold.
    pub comparison: LearnComparison,
}

/// The calibration's hook that re-learns the transforms from a fold's or a replicate's
/// rows and returns the sub-scores of the fit rows under them.
pub fn relearn_with(learner: Arc<Learner>) -> Relearn {
    Arc::new(move |rows: &[usize], w: &[f64]| {
        let data = learner.data();
        let mut by_row = vec![0.0; data.rows];
        for (&i, &wi) in rows.iter().zip(w) {
            by_row[i] = wi;
        }
        let l = learner.learn(Some(&by_row));
        drop(by_row);
        // One metric at a time, kept only for the fit rows: one full column in memory.
        l.profile
            .metrics
            .iter()
            .map(|m| {
                let c = SubScores::column(m, data).map_err(|e| e.to_string())?;
                Ok(rows.iter().map(|&i| c[i]).collect())
            })
            .collect()
    })
}

impl LearnParams {
    /// Learn `prior`'s transforms from `data`, calibrate the learned profile with `params`
    /// (every fold, holdout and bootstrap replicate re-learning its own bins), and compare
    /// it out of fold with the hand-written transforms calibrated the same way and with
    /// logistic regression.
    pub fn calibrate(
        &self,
        params: &CalibrateParams,
        prior: &Profile,
        data: Arc<Snapshots>,
    ) -> Result<LearnedCalibration, LearnFitError> {
        let learner = Arc::new(self.learner(prior, Arc::clone(&data))?);
        let learned = learner.learn(None);
        learned
            .profile
            .check()
            .map_err(|e| LearnError::Invalid(format!("the learned profile: {e}")))?;
        let subs = SubScores::compute(&learned.profile, &data)?;
        let outcome = data.outcome.as_ref().ok_or(LearnError::NoOutcome)?;
        let rows: Vec<usize> = (0..data.rows).filter(|&i| subs.present[i] > 0).collect();
        let relearn = relearn_with(Arc::clone(&learner));
        let stage = tracing::info_span!("learn: calibrate the learned profile").entered();
        let calibration =
            params
                .clone()
                .relearn(Some(relearn))
                .fit(&learned.profile, &data, subs)?;
        drop(stage);
        let stage = tracing::info_span!("learn: the hand-written transforms").entered();
        let hand = params.clone().bootstrap(0).progress(None).fit(
            prior,
            &data,
            SubScores::compute(prior, &data)?,
        )?;
        drop(stage);
        let stage = tracing::info_span!("learn: logistic-regression baselines").entered();
        let accounts: Vec<u32> = rows.iter().map(|&i| data.account[i]).collect();
        let fold_of = grouped_folds(&accounts, params.folds_count(), params.seed_value());
        let y: Vec<u8> = rows.iter().map(|&i| outcome[i]).collect();
        let mut models = vec![
            ModelFigures {
                model: "hand-written transforms, calibrated".into(),
                auc: hand.cross_validation.calibrated.auc,
                log_loss: hand.cross_validation.calibrated.log_loss,
                readable: true,
            },
            ModelFigures {
                model: "learned transforms, calibrated".into(),
                auc: calibration.cross_validation.calibrated.auc,
                log_loss: calibration.cross_validation.calibrated.log_loss,
                readable: true,
            },
        ];
        for (name, enc) in [
            ("logistic regression, linear", Encoding::Linear),
            (
                "logistic regression, 10 bins per metric",
                Encoding::Binned(BASELINE_BINS),
            ),
        ] {
            let p =
                baselines::out_of_fold(prior, &data, &rows, &fold_of, params.folds_count(), enc);
            let (auc, log_loss) = baselines::quality(&p, &y);
            models.push(ModelFigures {
                model: name.into(),
                auc,
                log_loss,
                readable: false,
            });
        }
        drop(stage);
        let comparison = LearnComparison {
            scheme: format!(
                "{}-fold cross-validation grouped by account; every fold learns its own bins, \
                 encodings and weights from its training rows",
                params.folds_count()
            ),
            rows: rows.len(),
            events: y.iter().filter(|&&v| v == 1).count(),
            models,
        };
        Ok(LearnedCalibration {
            calibration,
            learned,
            comparison,
        })
    }
}
