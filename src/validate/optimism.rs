//! Harrell's optimism correction: the candidate refitted on bootstrap samples, scored on
//! its own sample and on the original data.

use super::*;

/// Apparent, optimism and corrected figures of Harrell's bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// AUC.
    pub auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Calibration slope.
    pub slope: f64,
}

/// Harrell's optimism correction of a calibrated candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimism {
    /// Shrinkage λ the refits use (the candidate's own).
    pub lambda: f64,
    /// Rows the candidate is judged on (every scored row of the data).
    pub rows: usize,
    /// The candidate on those rows.
    pub apparent: Figures,
    /// Mean over replicates of (refit on its own sample − refit on the original rows).
    pub optimism: Figures,
    /// Apparent − optimism.
    pub corrected: Figures,
    /// Replicates.
    pub replicates: usize,
    /// Replicates whose solver stopped before converging (their fits are still used).
    pub not_converged: usize,
}

pub(super) fn figures(p: &[f64], y: &[u8], risk: &[f64]) -> Figures {
    let c = vs::calibration(p, y, 1);
    Figures {
        auc: stats::auc(risk, y),
        brier: c.brier,
        slope: c.slope,
    }
}

/// Harrell's optimism bootstrap for a candidate that carries a calibration block with its
/// prior weights: `replicates` times, resample accounts, refit the constrained weights at the
/// candidate's λ from its prior (warm-started at the candidate's own fit), score the refit on
/// its own sample and on the original rows; the mean difference is the optimism. `None` when
/// the candidate is not a churncal calibration (no prior weights to shrink toward).
///
/// `subs` are the candidate's sub-scores on `data`; they are consumed (freed once copied into
/// the refits' matrix).
pub fn harrell_optimism(
    candidate: &Profile,
    data: &Snapshots,
    subs: SubScores,
    replicates: usize,
    seed: u64,
) -> Result<Option<Optimism>, ValidateError> {
    assert_eq!(subs.rows, data.rows, "sub-scores of these data");
    use crate::calibrate::problem::{evaluate_objective, fit_constrained, FitData, LOOSE};
    let Some(cal) = &candidate.calibration else {
        return Ok(None);
    };
    let prior_w: Option<Vec<f64>> = candidate
        .metrics
        .iter()
        .map(|m| m.calibration.as_ref().and_then(|c| c.prior_weight))
        .collect();
    let Some(w0) = prior_w else {
        return Ok(None);
    };
    let y_all = data
        .outcome
        .as_deref()
        .ok_or_else(|| ValidateError::Data("validation needs the outcome".into()))?;
    let lambda = cal.shrinkage.unwrap_or(f64::INFINITY);
    let mut rows: Vec<usize> = (0..data.rows).filter(|&i| subs.present[i] > 0).collect();
    // Rows in account order: a replicate's left-out accounts are runs the refits skip.
    crate::data::order::by_account(&mut rows, &data.account, data.n_accounts);
    let fd = FitData::from_columns(&subs.columns, y_all, &rows);
    drop(subs);
    let sum_w0: f64 = w0.iter().sum();
    let w0: Vec<f64> = w0.iter().map(|w| 100.0 * w / sum_w0.max(1e-12)).collect();
    // The candidate's own fit, as the starting point and the apparent model.
    let w_c = candidate.effective_weights();
    let b_c = -cal.slope;
    let beta_c: Vec<f64> = w_c.iter().map(|w| b_c.max(1e-6) * w / 100.0).collect();
    // Probabilities, risk (−score) and log-odds of the rows for (α, β).
    let predict = |alpha: f64, beta: &[f64]| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let s = fd.scores(beta);
        let slope = -beta.iter().sum::<f64>();
        let lp: Vec<f64> = s.iter().map(|&v| alpha + slope * v).collect();
        let p = lp.iter().map(|&v| sigmoid(v)).collect();
        let risk = s.iter().map(|&v| -v).collect();
        (p, risk, lp)
    };
    let (p_app, r_app, _) = predict(cal.intercept, &beta_c);
    let apparent = figures(&p_app, &fd.y, &r_app);
    // The likelihood's curvature at the candidate on the original rows: each refit's first
    // Newton step (the replicates are resamples of these rows).
    let theta_c: Vec<f64> = std::iter::once(cal.intercept)
        .chain(beta_c.iter().copied())
        .collect();
    let information = evaluate_objective(&fd, &beta_c, 0.0, &theta_c, true).curvature;
    // The prior's own intercept and slope on the original rows: each replicate's start.
    let prior_fit = {
        let (a, b, _) = fit_two(&fd.scores(&w0), &fd.y, &fd.w, (cal.intercept, cal.slope));
        (a, b)
    };

    // Accounts of the rows, for resampling.
    let mut acc_index: rustc_hash::FxHashMap<u32, usize> = rustc_hash::FxHashMap::default();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for (r, &i) in rows.iter().enumerate() {
        let next = acc_index.len();
        let a = *acc_index.entry(data.account[i]).or_insert(next);
        if a == members.len() {
            members.push(Vec::new());
        }
        members[a].push(r as u32);
    }
    let na = members.len();
    let results: Vec<(Figures, Figures, bool)> = (0..replicates)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0a7e_0000 ^ b as u64);
            let mut w = vec![0f64; fd.n];
            for _ in 0..na {
                for &r in &members[rng.random_range(0..na)] {
                    w[r as usize] += 1.0;
                }
            }
            let boot = fd.with_weights(w);
            // The prior's own slope on the replicate sets the shrinkage target's scale,
            // as in calibration.
            let s0 = boot.scores(&w0);
            let (a0, slope0, _) = fit_two(&s0, &boot.y, &boot.w, prior_fit);
            let beta0: Vec<f64> = w0.iter().map(|v| (-slope0).max(0.1) * v / 100.0).collect();
            let (alpha, beta, ok) = if lambda.is_infinite() {
                let (a, sl, ok) = fit_two(&s0, &boot.y, &boot.w, (a0, slope0));
                let beta: Vec<f64> = w0.iter().map(|v| (-sl).max(1e-6) * v / 100.0).collect();
                (a, beta, ok)
            } else {
                let f = fit_constrained(
                    &boot,
                    &beta0,
                    lambda,
                    (cal.intercept, &beta_c),
                    Some(&information),
                    1000,
                    LOOSE,
                );
                (f.alpha, f.beta, f.solver.converged)
            };
            let (p, risk, lp) = predict(alpha, &beta);
            // Own sample: the original rows weighted by their bootstrap counts.
            let (auc_own, auc_test) = vs::auc_weighted_and_plain(&risk, &boot.y, &boot.w);
            let (mut b_own, mut b_test, mut n_own) = (0.0, 0.0, 0.0);
            for ((&pp, &yy), &ww) in p.iter().zip(boot.y.iter()).zip(&boot.w) {
                let e = (pp - yy as f64).powi(2);
                b_own += ww * e;
                b_test += e;
                n_own += ww;
            }
            let ones = vec![1.0; fd.n];
            let own = Figures {
                auc: auc_own,
                brier: b_own / n_own,
                slope: vs::calibration_slope_of_logits(&lp, &boot.y, &boot.w),
            };
            let test = Figures {
                auc: auc_test,
                brier: b_test / fd.n as f64,
                slope: vs::calibration_slope_of_logits(&lp, &boot.y, &ones),
            };
            (own, test, ok)
        })
        .collect();
    let nrep = results.len().max(1) as f64;
    let mean =
        |f: &dyn Fn(&(Figures, Figures, bool)) -> f64| results.iter().map(f).sum::<f64>() / nrep;
    let optimism = Figures {
        auc: mean(&|r| r.0.auc - r.1.auc),
        brier: mean(&|r| r.0.brier - r.1.brier),
        slope: mean(&|r| r.0.slope - r.1.slope),
    };
    Ok(Some(Optimism {
        lambda,
        rows: fd.n,
        apparent,
        optimism,
        corrected: Figures {
            auc: apparent.auc - optimism.auc,
            brier: apparent.brier - optimism.brier,
            slope: apparent.slope - optimism.slope,
        },
        replicates: results.len(),
        not_converged: results.iter().filter(|r| !r.2).count(),
    }))
}
