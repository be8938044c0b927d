//! The paired bootstrap over validation accounts of Δ log-loss and Δ Brier: each account's
//! sums once, then replicates that draw accounts in prefetched batches.

use super::*;

/// One validation account's sums for the paired bootstrap: log-loss of the candidate and
/// the incumbent, Brier of each, rows. One cache line each, so a draw touches one line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct AccountSums([f64; 5]);

/// Per validation account, in order of first appearance: the candidate's and the
/// incumbent's log-loss and Brier sums, and its rows (the paired bootstrap's units).
pub(super) fn account_sums(
    val: &[usize],
    account: &[u32],
    y: &[u8],
    pc: &[f64],
    pi: &[f64],
) -> Vec<AccountSums> {
    // Paired bootstrap over validation accounts.
    let mut acc_index: rustc_hash::FxHashMap<u32, usize> = rustc_hash::FxHashMap::default();
    let mut sums: Vec<AccountSums> = Vec::new();
    let eps = 1e-15;
    for &i in val {
        let next = acc_index.len();
        let a = *acc_index.entry(account[i]).or_insert(next);
        if a == sums.len() {
            sums.push(AccountSums([0.0; 5]));
        }
        let yy = y[i] as f64;
        let ll = |p: f64| {
            let p = p.clamp(eps, 1.0 - eps);
            -(yy * p.ln() + (1.0 - yy) * (1.0 - p).ln())
        };
        let s = &mut sums[a].0;
        s[0] += ll(pc[i]);
        s[1] += ll(pi[i]);
        s[2] += (pc[i] - yy).powi(2);
        s[3] += (pi[i] - yy).powi(2);
        s[4] += 1.0;
    }
    sums
}

/// `b` paired bootstrap replicates over accounts of (Δ log-loss, Δ Brier) per row.
pub(super) fn paired_bootstrap(sums: &[AccountSums], b: usize, seed: u64) -> Vec<(f64, f64)> {
    let na = sums.len();
    (0..b)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000 ^ b as u64);
            let mut t = [0f64; 5];
            // The draws in batches: each batch's accounts are drawn and their sums
            // prefetched, then added in draw order (the same bits as one at a time). With
            // a million accounts the sums outgrow the caches and each draw is a memory
            // access; a batch's accesses overlap instead of queueing.
            let mut draws = [0usize; stats::DRAW_BATCH];
            let mut left = na;
            while left > 0 {
                let m = left.min(stats::DRAW_BATCH);
                for d in draws[..m].iter_mut() {
                    *d = rng.random_range(0..na);
                    stats::prefetch(&sums[*d]);
                }
                for &d in &draws[..m] {
                    for (tk, sk) in t.iter_mut().zip(&sums[d].0) {
                        *tk += sk;
                    }
                }
                left -= m;
            }
            ((t[0] - t[1]) / t[4], (t[2] - t[3]) / t[4])
        })
        .collect()
}

/// A paired difference with its 95 % percentile interval from the replicates.
pub(super) fn paired_delta(mut v: Vec<f64>, point: f64) -> PairedDelta {
    if v.is_empty() {
        return PairedDelta {
            delta: point,
            ci: [f64::NAN, f64::NAN],
        };
    }
    v.sort_by(f64::total_cmp);
    PairedDelta {
        delta: point,
        ci: [stats::quantile(&v, 0.025), stats::quantile(&v, 0.975)],
    }
}
