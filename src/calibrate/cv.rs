//! Cross-validation grouped by account: folds dealt by account, each fold's fits along the
//! λ path with warm starts, the pooled out-of-fold figures and the λ they choose.

use super::*;

impl CalibrateParams {
    /// Every fold's fits along the λ path (warm-started from the most shrunk) and its
    /// unconstrained reference refit's out-of-fold predictions.
    pub(super) fn fit_folds(
        &self,
        p: &Prepared,
        (reference, blocks): (&ReferenceFit, &Blocks),
        lambdas: &[f64],
        order: &[usize],
    ) -> Result<Vec<FoldResult>, CalibrateError> {
        let &Prepared {
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
        let block = |f: usize| p.fold_rows(f);
        let total_fits = self.folds * lambdas.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        (0..self.folds)
            .into_par_iter()
            .map(|f| {
                let test = block(f);
                let mut w = fd.w.clone();
                w[test.clone()].fill(0.0);
                // Transforms learned on the training folds only, when they are learned.
                let own = self.relearned(&p.rows, &fd.y, &w, w0)?;
                let (fd, s0) = match &own {
                    Some((f, s)) => (f, s.as_slice()),
                    None => (fd, s0.as_slice()),
                };
                let tr = fd.with_weights(w);
                let (pa, pb, _) = fit_two(s0, &tr.y, &tr.w, (a0, slope0));
                let path = self.path_fits(
                    &tr,
                    beta0,
                    (lambdas, order),
                    (pa, beta_from(w0, -pb)),
                    &|| {
                        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        self.tick(Stage::LambdaSearch, d, total_fits);
                    },
                );
                let not_conv = path.iter().map(|f| usize::from(!f.2)).collect();
                let fits = path.into_iter().map(|(a, b, _)| (a, b)).collect();
                let train_features = features(fd, s0, &tr.w);
                // From the full fit's sums without this fold's block, unless the fold has
                // sub-scores of its own.
                let at = own.is_none().then(|| blocks.leaving_out(Some(f)));
                let rf = refit_reference_from(&train_features, reference, at);
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
                Ok(FoldResult {
                    test,
                    prior: (pa, pb),
                    fits,
                    unconstrained: unc,
                    not_converged: not_conv,
                    own,
                })
            })
            .collect()
    }
}

impl CalibrateParams {
    /// Fits of `tr` along the λ path, in `order` (most shrunk first, each warm-started from
    /// the one before): λ = ∞ is `at_infinity`, every other λ shrinks toward `prior`.
    /// Returns (α, β, converged) per λ in the order of `lambdas`; `each` runs after every
    /// fit.
    pub(super) fn path_fits(
        &self,
        tr: &FitData,
        prior: &[f64],
        (lambdas, order): (&[f64], &[usize]),
        at_infinity: (f64, Vec<f64>),
        each: &(dyn Fn() + Sync),
    ) -> Vec<(f64, Vec<f64>, bool)> {
        let mut warm = at_infinity.clone();
        let mut warm_info: Option<Vec<f64>> = None;
        let mut warm_term = None;
        let mut fits = vec![(0.0, Vec::new(), true); lambdas.len()];
        for &li in order {
            let lam = lambdas[li];
            fits[li] = if lam.is_infinite() {
                (at_infinity.0, at_infinity.1.clone(), true)
            } else {
                let fit = fit_constrained_from(
                    tr,
                    prior,
                    lam,
                    (warm.0, &warm.1),
                    warm_info.as_deref(),
                    warm_term.take(),
                    self.max_iters,
                    LOOSE,
                );
                warm_term = fit.data_term.clone();
                warm = (fit.alpha, fit.beta.clone());
                warm_info = Some(fit.information);
                (fit.alpha, fit.beta, fit.solver.converged)
            };
            each();
        }
        fits
    }
}

/// The cross-validation's findings: the λ path, the λ chosen and the out-of-fold figures.
pub(super) struct CrossValidation {
    pub(super) lambda_path: Vec<LambdaPoint>,
    pub(super) lambda: f64,
    pub(super) comparison: Comparison,
    /// With revenue weighting, the same predictions with every snapshot counted once.
    pub(super) unweighted: Option<Comparison>,
    /// The out-of-fold predictions at the chosen λ, in the fit's row order, when asked for
    /// (empty otherwise: 80 MB at 10M rows).
    pub(super) oof: Vec<f64>,
}

/// The λ path's out-of-fold log-loss and AUC, the λ with the smallest log-loss (ties to the
/// larger), and the prior, calibrated and unconstrained models' out-of-fold figures.
pub(super) fn cross_validation(
    folds: usize,
    p: &Prepared,
    per_fold: &mut [FoldResult],
    lambdas: &[f64],
    order: &[usize],
    keep_oof: bool,
) -> CrossValidation {
    let &Prepared {
        ref fd,
        events,
        ref w0,
        ..
    } = p;
    let fw = p.figure_weights();
    // A model's out-of-fold figures as the comparisons report them: weighted as the fit is,
    // and every snapshot once beside a revenue-weighted fit.
    let both = |v: &[f64]| {
        (
            Quality::of_w(v, &fd.y, fw),
            fw.map(|_| Quality::of_w(v, &fd.y, None)),
        )
    };
    let mut nc = vec![0usize; lambdas.len()];
    // The unconstrained model's, pooled from the folds (each fold's freed as it is
    // pooled), before the λ path: one vector of the rows' length alive at a time.
    let unconstrained = {
        let mut oof_unc = vec![0.0; fd.n];
        for fr in per_fold.iter_mut() {
            for (li, n) in nc.iter_mut().enumerate() {
                *n += fr.not_converged[li];
            }
            oof_unc[fr.test.clone()].copy_from_slice(&std::mem::take(&mut fr.unconstrained));
        }
        both(&oof_unc)
    };
    let per_fold: &[FoldResult] = per_fold;
    // Out-of-fold predictions of one λ, pooled in row order into the rows' places (the
    // folds' test rows cover every row once; one λ at a time: at ten million rows, all of
    // them at once would take more memory than the data).
    let pool_into = |li: usize, p: &mut [f64]| {
        for fr in per_fold {
            let (alpha, beta) = &fr.fits[li];
            let test = fr.test.clone();
            predict_range_into(fr.data(fd), test.start, *alpha, beta, &mut p[test]);
        }
    };
    // One buffer for every λ's predictions, the prior's and the chosen λ's (a fresh one
    // each would be 80 MB of new pages at ten million rows, seventeen times).
    let mut buffer = vec![0.0; fd.n];
    // Each λ's figures as the fit weighs rows, kept: the chosen λ's and the prior's are
    // not pooled and judged a second time unless figures once per snapshot are asked for.
    let path_figures: Vec<Quality> = (0..lambdas.len())
        .map(|li| {
            pool_into(li, &mut buffer);
            Quality::of_w(&buffer, &fd.y, fw)
        })
        .collect();
    let lambda_path: Vec<LambdaPoint> = (0..lambdas.len())
        .map(|li| LambdaPoint {
            lambda: lambdas[li],
            cv_log_loss: path_figures[li].log_loss,
            cv_auc: path_figures[li].auc,
            not_converged: nc[li],
        })
        .collect();
    // A λ's figures both ways (`both`), from the path's; its predictions are pooled again
    // only for the figures once per snapshot, or when `keep` asks for them in the buffer.
    let figures_of = |li: usize, buffer: &mut [f64], keep: bool| {
        if keep || fw.is_some() {
            pool_into(li, buffer);
        }
        (
            path_figures[li],
            fw.map(|_| Quality::of_w(buffer, &fd.y, None)),
        )
    };
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
    let prior = match lambdas.iter().position(|l| l.is_infinite()) {
        Some(i) => figures_of(i, &mut buffer, false),
        None => {
            // Not in the grid: evaluate the prior out of fold anyway, refitted on each
            // fold's training rows as the path's start was.
            for fr in per_fold {
                let (pa, pb) = fr.prior;
                let test = fr.test.clone();
                let beta = beta_from(w0, -pb);
                predict_range_into(fr.data(fd), test.start, pa, &beta, &mut buffer[test]);
            }
            both(&buffer)
        }
    };
    // Last: the buffer keeps the chosen λ's predictions (`oof`).
    let calibrated = figures_of(best, &mut buffer, keep_oof);
    // The figures as the fit weighs rows (`true`), or every snapshot once.
    let compare = |weighted: bool, scheme: String| {
        let pick = |q: &(Quality, Option<Quality>)| match weighted {
            true => q.0,
            false => q.1.expect("figures once per snapshot"),
        };
        Comparison {
            scheme,
            rows: fd.n,
            events,
            prior: pick(&prior),
            calibrated: pick(&calibrated),
            unconstrained: pick(&unconstrained),
        }
    };
    let scheme = format!("{folds}-fold cross-validation grouped by account");
    CrossValidation {
        lambda_path,
        lambda,
        comparison: compare(
            true,
            if fw.is_some() {
                format!("{scheme}, revenue-weighted")
            } else {
                scheme.clone()
            },
        ),
        unweighted: fw.map(|_| compare(false, format!("{scheme}, every snapshot once"))),
        oof: if keep_oof { buffer } else { Vec::new() },
    }
}

pub(super) struct FoldResult {
    /// The fold's test rows (a block of the fit's row order).
    pub(super) test: std::ops::Range<usize>,
    /// The prior's intercept and slope, refitted on the other folds.
    pub(super) prior: (f64, f64),
    /// (α, β) per λ, fitted on the other folds.
    pub(super) fits: Vec<(f64, Vec<f64>)>,
    pub(super) unconstrained: Vec<f64>,
    pub(super) not_converged: Vec<usize>,
    /// The fold's own sub-scores and prior scores, when transforms are re-learned per fold.
    pub(super) own: Option<(FitData, Vec<f64>)>,
}

impl FoldResult {
    /// The sub-scores the fold's fits were made on.
    fn data<'a>(&'a self, all: &'a FitData) -> &'a FitData {
        self.own.as_ref().map_or(all, |o| &o.0)
    }
}

/// Fold of each row: accounts shuffled with the seed, then dealt round-robin.
pub fn grouped_folds(accounts: &[u32], folds: usize, seed: u64) -> Vec<usize> {
    folds_of(distinct(accounts), accounts, folds, seed)
}

/// [`grouped_folds`] with the distinct accounts `ids` (sorted) given.
pub(super) fn folds_of(mut ids: Vec<u32>, accounts: &[u32], folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Fisher–Yates
    for i in (1..ids.len()).rev() {
        let j = rng.random_range(0..=i);
        ids.swap(i, j);
    }
    // Account codes are dense (below the number of accounts loaded): a table by code,
    // unless the codes given are sparse.
    let top = ids.iter().max().map_or(0, |&m| m as usize + 1);
    if top <= 4 * ids.len() + 1024 {
        let mut fold = vec![0u32; top];
        for (r, &a) in ids.iter().enumerate() {
            fold[a as usize] = (r % folds) as u32;
        }
        return accounts
            .par_iter()
            .map(|&a| fold[a as usize] as usize)
            .collect();
    }
    let fold: rustc_hash::FxHashMap<u32, usize> = ids
        .iter()
        .enumerate()
        .map(|(r, a)| (*a, r % folds))
        .collect();
    accounts.par_iter().map(|a| fold[a]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table by account code and the hash map for sparse codes deal the same folds:
    /// codes mapped in order keep their sorted order, so the same shuffle, the same deal.
    /// Every account's rows share a fold, and the folds are near equal in accounts.
    #[test]
    fn dense_and_sparse_account_codes_get_the_same_folds() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dense: Vec<u32> = (0..20_000).map(|_| rng.random_range(0..3_000)).collect();
        let sparse: Vec<u32> = dense.iter().map(|&a| a * 1_000_003 + 7).collect();
        let (d, s) = (grouped_folds(&dense, 5, 11), grouped_folds(&sparse, 5, 11));
        assert_eq!(d, s);
        let mut fold_of = vec![usize::MAX; 3_000];
        for (&a, &f) in dense.iter().zip(&d) {
            assert!(fold_of[a as usize] == usize::MAX || fold_of[a as usize] == f);
            fold_of[a as usize] = f;
        }
        let mut accounts = [0usize; 5];
        for f in fold_of.into_iter().filter(|&f| f != usize::MAX) {
            accounts[f] += 1;
        }
        let (lo, hi) = (accounts.iter().min(), accounts.iter().max());
        assert!(hi.unwrap() - lo.unwrap() <= 1, "{accounts:?}");
        assert_ne!(grouped_folds(&dense, 5, 12), d, "the seed shuffles");
    }
}
