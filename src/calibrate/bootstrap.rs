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
        let (boot, boot_nc) = self.bootstrap_weights(fd, accounts_of, beta0, &ml_fit, rows, w0)?;
        Ok((ml_fit, boot, boot_nc))
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
        let ids = distinct(accounts_of);
        let index: rustc_hash::FxHashMap<u32, usize> =
            ids.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        let acc_idx: Vec<usize> = accounts_of.iter().map(|a| index[a]).collect();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(Vec<f64>, bool)> = (0..self.bootstrap)
            .into_par_iter()
            .map(|b| {
                let count = stats::resample_counts(self.seed, 1000 + b as u64, ids.len());
                // Drawn accounts' rows count as often as drawn, each by its own weight.
                let w: Vec<f64> = acc_idx
                    .iter()
                    .zip(&fd.w)
                    .map(|(&a, &base)| count[a] * base)
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
