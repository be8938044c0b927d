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
    ) -> (ConstrainedFit, Vec<Vec<f64>>, usize) {
        let Prepared {
            fd,
            accounts_of,
            beta0,
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
        let (boot, boot_nc) = self.bootstrap_weights(fd, accounts_of, beta0, &ml_fit);
        (ml_fit, boot, boot_nc)
    }

    pub(super) fn bootstrap_weights(
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
