//! The maximum-likelihood weights and their bootstrap over accounts: the range of weights
//! the data alone supports.

use super::*;

impl CalibrateParams {
    /// The maximum-likelihood fit (λ = 0) and the bootstrap over accounts of its weights:
    /// the range of weights the data alone supports, whatever shrinkage the
    /// cross-validation chose.
    pub(super) fn ml_and_bootstrap(
        &self,
        p: &Prepared,
        lambda: f64,
        final_fit: &ConstrainedFit,
    ) -> Result<(ConstrainedFit, Vec<Vec<f64>>, usize), CalibrateError> {
        let Prepared {
            fd,
            accounts_of,
            beta0,
            rows,
            w0,
            ..
        } = p;
        // Bootstrap over accounts of the maximum-likelihood weights (λ = 0): the range of
        // weights the data alone supports, whatever shrinkage the cross-validation chose.
        let stage = tracing::info_span!("bootstrap: the λ = 0 fit").entered();
        let ml_fit = if lambda == 0.0 {
            final_fit.clone()
        } else {
            fit_constrained(
                fd,
                beta0,
                0.0,
                (final_fit.alpha, &final_fit.beta),
                Some(&final_fit.information),
                self.max_iters,
                TIGHT,
            )
        };
        drop(stage);
        let (boot, boot_nc) = self.bootstrap_weights(fd, accounts_of, beta0, &ml_fit, rows, w0)?;
        Ok((ml_fit, boot, boot_nc))
    }

    /// The bootstrap's weights by one constrained Newton step per replicate from the
    /// maximum-likelihood fit ([`problem::onestep`]): one pass for the accounts' gradients,
    /// then a small quadratic programme per replicate. The replicates draw the same
    /// accounts as the full refits.
    fn one_step_bootstrap(
        &self,
        fd: &FitData,
        acc_idx: Vec<u32>,
        n_accounts: usize,
        ml_fit: &ConstrainedFit,
    ) -> (Vec<Vec<f64>>, usize) {
        use problem::onestep::{account_gradients, box_newton_step};
        let p = fd.k + 1;
        let theta: Vec<f64> = std::iter::once(ml_fit.alpha)
            .chain(ml_fit.beta.iter().copied())
            .collect();
        let stage = tracing::info_span!("bootstrap: accounts' gradients, curvature").entered();
        let grads = account_gradients(fd, &theta, &acc_idx, n_accounts);
        let h = problem::evaluate_objective(fd, &ml_fit.beta, 0.0, &theta, true).curvature;
        drop(stage);
        let _stage = tracing::info_span!("bootstrap: replicates").entered();
        // Each account's weight (its rows' base weights).
        let mut acc_w = vec![0.0; n_accounts];
        for (&a, &w) in acc_idx.iter().zip(&fd.w) {
            acc_w[a as usize] += w;
        }
        drop(acc_idx);
        let lower: Vec<f64> = std::iter::once(f64::NEG_INFINITY)
            .chain(ml_fit.beta.iter().map(|b| -b))
            .collect();
        // Replicates a batch at a time: the batch's counts drawn in parallel, then one pass
        // over the accounts' gradients (140 MB at 1.25M accounts × 14 parameters) serves
        // the whole batch, in parallel blocks of accounts whose sums are added in order.
        const BATCH: usize = 16;
        const BLOCK: usize = 1 << 14;
        let mut weights: Vec<Vec<f64>> = Vec::with_capacity(self.bootstrap);
        for first in (0..self.bootstrap).step_by(BATCH) {
            let batch: Vec<usize> = (first..(first + BATCH).min(self.bootstrap)).collect();
            // Whole numbers no larger than the accounts' count: exact as u32, half the bytes.
            let counts: Vec<Vec<u32>> = batch
                .par_iter()
                .map(|&b| {
                    stats::resample_counts(self.seed, 1000 + b as u64, n_accounts)
                        .into_iter()
                        .map(|c| c as u32)
                        .collect()
                })
                .collect();
            let r = batch.len();
            // Per replicate: p gradient sums, then the total weight.
            let sums: Vec<Vec<f64>> = (0..n_accounts.div_ceil(BLOCK))
                .into_par_iter()
                .map(|blk| {
                    let mut out = vec![0.0; r * (p + 1)];
                    for a in blk * BLOCK..((blk + 1) * BLOCK).min(n_accounts) {
                        let grad = &grads[a * p..(a + 1) * p];
                        for (j, count) in counts.iter().enumerate() {
                            let c = count[a];
                            if c == 0 {
                                continue;
                            }
                            let c = f64::from(c);
                            let o = &mut out[j * (p + 1)..(j + 1) * (p + 1)];
                            for (s, v) in o[..p].iter_mut().zip(grad) {
                                *s += c * v;
                            }
                            o[p] += c * acc_w[a];
                        }
                    }
                    out
                })
                .collect();
            let mut total = vec![0.0; r * (p + 1)];
            for part in sums {
                for (t, v) in total.iter_mut().zip(part) {
                    *t += v;
                }
            }
            for j in 0..r {
                let o = &total[j * (p + 1)..(j + 1) * (p + 1)];
                let g: Vec<f64> = o[..p].iter().map(|v| v / o[p].max(1e-300)).collect();
                let step = box_newton_step(&g, &h, &lower);
                let beta: Vec<f64> = ml_fit
                    .beta
                    .iter()
                    .zip(&step[1..])
                    .map(|(b, d)| (b + d).max(0.0))
                    .collect();
                let sum: f64 = beta.iter().sum();
                weights.push(if sum > 0.0 {
                    beta.iter().map(|v| 100.0 * v / sum).collect()
                } else {
                    ml_fit.weights()
                });
                self.tick(Stage::Bootstrap, weights.len(), self.bootstrap);
            }
        }
        (weights, 0)
    }

    pub(super) fn bootstrap_weights(
        &self,
        fd: &FitData,
        accounts_of: &[u32],
        beta0: &[f64],
        ml_fit: &ConstrainedFit,
        rows: &[usize],
        w0: &[f64],
    ) -> Result<(Vec<Vec<f64>>, usize), CalibrateError> {
        if self.bootstrap == 0 {
            return Ok((Vec::new(), 0));
        }
        let stage = tracing::info_span!("bootstrap: accounts").entered();
        // Each row's account by its rank among the fit's accounts (the replicates draw
        // ranks), through a table over the data's account numbers.
        let ids = distinct(accounts_of);
        let mut rank = vec![0u32; ids.last().map_or(0, |&a| a as usize + 1)];
        for (r, &a) in ids.iter().enumerate() {
            rank[a as usize] = r as u32;
        }
        let acc_idx: Vec<u32> = accounts_of.iter().map(|&a| rank[a as usize]).collect();
        drop(rank);
        drop(stage);
        if self.relearn.is_none() && !self.full_bootstrap {
            return Ok(self.one_step_bootstrap(fd, acc_idx, ids.len(), ml_fit));
        }
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(Vec<f64>, bool)> = (0..self.bootstrap)
            .into_par_iter()
            .map(|b| {
                let count = stats::resample_counts(self.seed, 1000 + b as u64, ids.len());
                // Drawn accounts' rows count as often as drawn, each by its own weight.
                let w: Vec<f64> = acc_idx
                    .iter()
                    .zip(&fd.w)
                    .map(|(&a, &base)| count[a as usize] * base)
                    .collect();
                // Transforms re-learned from the replicate's rows, when they are learned.
                let d = match self.relearned(rows, &fd.y, &w, w0)? {
                    Some((own, _)) => own,
                    None => fd.with_weights(w),
                };
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
                Ok(out)
            })
            .collect::<Result<_, CalibrateError>>()?;
        let nc = results.iter().filter(|(_, ok)| !ok).count();
        Ok((results.into_iter().map(|(w, _)| w).collect(), nc))
    }
}
