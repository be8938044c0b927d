//! The bottom layer: the statistics and numerics every stage shares, on plain slices. It
//! imports nothing else of the crate and knows no files, profiles or snapshots.
//!
//! Here: discrimination (AUC), proper scores (log-loss, Brier), intervals (Wilson), tests
//! of proportions and trend, the logistic function, quantiles, and integer rounding by
//! largest remainder; in the submodules, [`evaluation`] (DeLong, calibration, KS, PSI),
//! [`binning`] (decile edges), [`association`] (correlation, information value) and
//! [`linalg`] (small dense matrices).
//!
//! Each figure agrees with a reference implementation (scikit-learn for AUC, log-loss and
//! Brier, statsmodels for Wilson and the z test), checked by known-answer tests.

pub mod association;
pub mod auc_lean;
pub mod binned_slope;
pub mod binning;
pub mod evaluation;
pub mod fastexp;
pub mod gamma;
pub mod linalg;
pub mod logistic;
pub mod pairs;

use rayon::prelude::*;

/// Rows in ascending order of `v` as `(key, row)` pairs, where equal keys mean equal values
/// (−0 and +0 share one). Sorting contiguous pairs rather than indices into `v` keeps the
/// sort cache-friendly at tens of millions of rows.
pub fn sorted_keys(v: &[f64]) -> Vec<(u64, u32)> {
    sorted_pairs(v, order_key)
}

/// Row numbers in the order of a stable sort of `v` by [`f64::total_cmp`] (ascending, or
/// descending when `descending`; ties keep row order either way), from one parallel sort
/// of `(key, row)` pairs as in [`sorted_keys`].
pub fn stable_order(v: &[f64], descending: bool) -> Vec<u32> {
    let flip = if descending { u64::MAX } else { 0 };
    sorted_pairs(v, |x| total_key(x) ^ flip)
        .into_par_iter()
        .map(|(_, i)| i)
        .collect()
}

/// `(key(v[i]), i)` for every row, sorted: ties in key come out in row order.
fn sorted_pairs(v: &[f64], key: impl Fn(f64) -> u64 + Sync) -> Vec<(u64, u32)> {
    let mut k: Vec<(u64, u32)> = v
        .par_iter()
        .enumerate()
        .map(|(i, &x)| (key(x), i as u32))
        .collect();
    k.par_sort_unstable();
    k
}

/// A `u64` whose order is [`f64::total_cmp`]'s.
#[inline]
fn total_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// A `u64` whose order is the order of `x` (−0 and +0 one key).
#[inline]
pub fn order_key(x: f64) -> u64 {
    total_key(if x == 0.0 { 0.0 } else { x })
}

/// Area under the ROC curve of `risk` (higher = more likely to churn) against `y` (1 =
/// churned), by Mann–Whitney with ties counting ½, as scikit-learn's `roc_auc_score`.
/// NaN when either class is empty.
pub fn auc(risk: &[f64], y: &[u8]) -> f64 {
    debug_assert_eq!(risk.len(), y.len());
    // The smaller class's keys sorted, the larger class streamed past them in parallel
    // chunks (`pairs::SortedClass`): no sort of every row. Every sum is a count or a half
    // count, exact in f64, so the chunks' order does not change a bit.
    let positives = y.par_iter().filter(|&&c| c == 1).count();
    let sort_positives = positives <= y.len() - positives;
    let sorted: Vec<(f64, f64)> = risk
        .par_iter()
        .zip(y)
        .filter(|(_, &c)| (c == 1) == sort_positives)
        .map(|(&x, _)| (x, 1.0))
        .collect();
    let class = pairs::SortedClass::new(sorted, sort_positives);
    const CHUNK: usize = 1 << 16;
    let ones = vec![1.0; CHUNK.min(risk.len())];
    let sums = risk
        .par_chunks(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .map_init(Vec::new, |pend, (risk, y)| {
            class.stream_rows(risk, false, y, &ones[..risk.len()], pend)
        })
        .reduce(pairs::PairSums::default, |mut a, b| {
            a.add(&b);
            a
        });
    class.auc(&sums)[1]
}

/// Mean negative log-likelihood of probabilities `p` for outcomes `y`, with `p` clipped to
/// `[1e-15, 1 − 1e-15]` as scikit-learn's `log_loss`.
pub fn log_loss(p: &[f64], y: &[u8]) -> f64 {
    let s = sum_in_order(p.len().min(y.len()), |i| log_loss_term(p[i], y[i]));
    s / p.len() as f64
}

/// One row's log-loss, its probability clipped to [1e-15, 1 − 1e-15].
#[inline]
fn log_loss_term(p: f64, y: u8) -> f64 {
    let eps = 1e-15;
    let p = p.clamp(eps, 1.0 - eps);
    if y == 1 {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// `Σ term(i)` for `i` in `0..n`, added left to right as a sequential sum (from −0, as
/// `Iterator::sum`), so the same bits as one; the terms (a logarithm each) are computed in
/// parallel, a block at a time.
fn sum_in_order(n: usize, term: impl Fn(usize) -> f64 + Sync) -> f64 {
    const BLOCK: usize = 1 << 16;
    let mut s = -0.0;
    let mut terms = vec![0.0; BLOCK.min(n)];
    for from in (0..n).step_by(BLOCK) {
        let t = &mut terms[..(n - from).min(BLOCK)];
        t.par_chunks_mut(4096).enumerate().for_each(|(c, out)| {
            for (j, o) in out.iter_mut().enumerate() {
                *o = term(from + c * 4096 + j);
            }
        });
        for &v in t.iter() {
            s += v;
        }
    }
    s
}

/// Brier score: mean squared difference of probability and outcome (`brier_score_loss`).
pub fn brier(p: &[f64], y: &[u8]) -> f64 {
    let s: f64 = p.iter().zip(y).map(|(&p, &y)| (p - y as f64).powi(2)).sum();
    s / p.len() as f64
}

/// Weighted mean log-loss: `Σ w·ℓ / Σ w` (probabilities clipped to [1e-15, 1 − 1e-15] as
/// in [`log_loss`]).
pub fn log_loss_weighted(p: &[f64], y: &[u8], w: &[f64]) -> f64 {
    let n = p.len().min(y.len()).min(w.len());
    // From +0 as before (a −0 start differs only when every term is −0).
    let s = 0.0 + sum_in_order(n, |i| w[i] * log_loss_term(p[i], y[i]));
    let t = w[..n].iter().fold(0.0, |t, &w| t + w);
    s / t
}

/// Weighted Brier score: `Σ w (p − y)² / Σ w`.
pub fn brier_weighted(p: &[f64], y: &[u8], w: &[f64]) -> f64 {
    let (mut s, mut t) = (0.0, 0.0);
    for ((&p, &y), &w) in p.iter().zip(y).zip(w) {
        s += w * (p - y as f64).powi(2);
        t += w;
    }
    s / t
}

/// A weighted rate `R = Σ w·y / Σ w` and its 95 % interval by linearisation with the rows
/// clustered (`cluster`: each row's cluster, e.g. its account): `Var R ≈ Σ_c (Σ_{i∈c}
/// w_i (y_i − R))² / (Σ w)²`, the ratio estimator's sandwich variance (Cochran, *Sampling
/// Techniques*, 3rd ed., § 6.4). The interval is clipped to [0, 1].
pub fn weighted_rate_ci(y: &[u8], w: &[f64], cluster: &[u32]) -> (f64, [f64; 2]) {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return (f64::NAN, [f64::NAN; 2]);
    }
    let r = y.iter().zip(w).map(|(&y, &w)| w * y as f64).sum::<f64>() / total;
    let mut by: rustc_hash::FxHashMap<u32, f64> = rustc_hash::FxHashMap::default();
    for ((&y, &w), &c) in y.iter().zip(w).zip(cluster) {
        *by.entry(c).or_default() += w * (y as f64 - r);
    }
    let mut parts: Vec<(u32, f64)> = by.into_iter().collect();
    // A fixed order, so the same data gives the same bits.
    parts.sort_unstable_by_key(|&(c, _)| c);
    let var = parts.iter().map(|(_, e)| e * e).sum::<f64>() / (total * total);
    let h = 1.959_963_984_540_054 * var.sqrt();
    (r, [(r - h).max(0.0), (r + h).min(1.0)])
}

/// A bootstrap resample's counts: `n` draws with replacement from `n` items (accounts), by
/// ChaCha8 seeded with `seed` on stream `stream`, so that each replicate has its own stream
/// and the same seed gives the same counts whatever the thread count.
pub fn resample_counts(seed: u64, stream: u64, n: usize) -> Vec<f64> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    draw_counts(&mut rng, n)
}

/// Accounts drawn at a time by [`draw_counts`], their counts prefetched before they are
/// added to.
pub(crate) const DRAW_BATCH: usize = 32;

/// `n` draws with replacement from `n` items by `rng`, counted per item. The draws are
/// taken a batch at a time and their counts prefetched first: with a million accounts the
/// counts outgrow the caches and each draw is a memory access, which then overlap instead
/// of queueing. The counts are whole numbers, so the order they are added in does not
/// change them.
pub fn draw_counts(rng: &mut impl rand::Rng, n: usize) -> Vec<f64> {
    let mut count = vec![0f64; n];
    let mut draws = [0usize; DRAW_BATCH];
    let mut left = n;
    while left > 0 {
        let m = left.min(DRAW_BATCH);
        for d in draws[..m].iter_mut() {
            *d = rng.random_range(0..n);
            prefetch(&count[*d]);
        }
        for &d in &draws[..m] {
            count[d] += 1.0;
        }
        left -= m;
    }
    count
}

/// Ask the processor to bring `v` into its cache (a no-op on other processors).
#[inline(always)]
pub(crate) fn prefetch<T>(v: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86_64; a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((v as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = v;
}

/// Wilson score interval for `k` successes in `n` trials at 95 % (z = 1.959964).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let z = 1.959_963_984_540_054;
    let n = n as f64;
    let p = k as f64 / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // Exact ends when no or every trial succeeded (no rounding residue).
    let lo = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if k as f64 == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// Standard normal cumulative distribution function Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Two-proportion z-test with the pooled standard error: z for `k1/n1 − k2/n2` and the
/// one-sided p-value of `k1/n1 > k2/n2`. `(NaN, NaN)` when a group is empty or the pooled
/// rate is 0 or 1 (no variance to test against).
pub fn two_proportion_z(k1: usize, n1: usize, k2: usize, n2: usize) -> (f64, f64) {
    let z = two_proportion_z_of(k1 as f64, n1 as f64, k2 as f64, n2 as f64);
    (z, 1.0 - normal_cdf(z))
}

/// [`two_proportion_z`]'s z for weighted counts (bootstrap counts, revenue): NaN when a
/// group is empty or the pooled rate is 0 or 1.
pub fn two_proportion_z_of(k1: f64, n1: f64, k2: f64, n2: f64) -> f64 {
    if n1 <= 0.0 || n2 <= 0.0 {
        return f64::NAN;
    }
    let pooled = (k1 + k2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return f64::NAN;
    }
    (k1 / n1 - k2 / n2) / se
}

/// Cochran–Armitage test for a trend in proportions `k[i] / n[i]` across ordered groups
/// scored `0, 1, 2, …`: the z statistic (positive when the proportion rises with the
/// group). NaN when there is no variance (one group, or all or none succeed).
pub fn cochran_armitage(k: &[usize], n: &[usize]) -> f64 {
    let big_n: f64 = n.iter().sum::<usize>() as f64;
    let big_k: f64 = k.iter().sum::<usize>() as f64;
    if big_n == 0.0 {
        return f64::NAN;
    }
    let p = big_k / big_n;
    let (mut t, mut stn, mut st2n) = (0.0, 0.0, 0.0);
    for (i, (&ki, &ni)) in k.iter().zip(n).enumerate() {
        let (s, ni) = (i as f64, ni as f64);
        t += s * (ki as f64 - ni * p);
        stn += s * ni;
        st2n += s * s * ni;
    }
    let var = p * (1.0 - p) * (st2n - stn * stn / big_n);
    if var <= 0.0 {
        return f64::NAN;
    }
    t / var.sqrt()
}

/// Round non-negative `values` to integers summing to `total` by the largest-remainder
/// (Hamilton) method: scale to `total`, floor, then give the remaining units to the largest
/// fractional parts (ties to the earlier entry).
pub fn largest_remainder(values: &[f64], total: u32) -> Vec<u32> {
    let sum: f64 = values.iter().sum();
    if sum <= 0.0 {
        return vec![0; values.len()];
    }
    let scaled: Vec<f64> = values.iter().map(|v| v / sum * total as f64).collect();
    let mut out: Vec<u32> = scaled.iter().map(|s| s.floor() as u32).collect();
    let given: u32 = out.iter().sum();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = scaled[a] - scaled[a].floor();
        let fb = scaled[b] - scaled[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().take((total - given) as usize) {
        out[i] += 1;
    }
    out
}

/// Quantile `q` of unsorted values (linear interpolation, numpy's default); NaN if empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// Numerically stable logistic function `1 / (1 + e^−x)`.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Quantile `p` of sorted values, interpolating linearly between order statistics.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let h = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Counts drawn in prefetched batches are those of drawing and counting one at a time
    /// from the same generator, at sizes around the batch's.
    #[test]
    fn batched_draws_count_as_one_at_a_time() {
        use rand::{Rng, SeedableRng};
        for n in [0, 1, 2, DRAW_BATCH - 1, DRAW_BATCH, DRAW_BATCH + 1, 1000] {
            let mut one = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
            let mut want = vec![0f64; n];
            for _ in 0..n {
                want[one.random_range(0..n)] += 1.0;
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
            assert_eq!(draw_counts(&mut rng, n), want, "n = {n}");
            // The generator is left where one at a time leaves it.
            assert_eq!(rng.random::<u64>(), one.random::<u64>(), "n = {n}");
        }
    }

    /// The AUC by one sort of (key, row) pairs: the implementation before the two-class walk.
    fn auc_by_pairs(risk: &[f64], y: &[u8]) -> f64 {
        let keys = sorted_keys(risk);
        let (mut pos, mut neg) = (0f64, 0f64);
        let mut below_neg = 0f64;
        let mut u = 0f64;
        for group in keys.chunk_by(|a, b| a.0 == b.0) {
            let (mut p_tie, mut n_tie) = (0f64, 0f64);
            for &(_, r) in group {
                if y[r as usize] == 1 {
                    p_tie += 1.0;
                } else {
                    n_tie += 1.0;
                }
            }
            u += p_tie * (below_neg + 0.5 * n_tie);
            below_neg += n_tie;
            pos += p_tie;
            neg += n_tie;
        }
        if pos == 0.0 || neg == 0.0 {
            return f64::NAN;
        }
        u / (pos * neg)
    }

    #[test]
    fn stable_order_is_a_stable_sort_by_total_cmp() {
        let v = [
            0.5,
            -0.0,
            0.0,
            f64::NAN,
            -f64::NAN,
            0.5,
            f64::INFINITY,
            -1e-300,
            f64::NEG_INFINITY,
            0.5,
            1e-300,
            -0.0,
        ];
        for descending in [false, true] {
            let mut want: Vec<u32> = (0..v.len() as u32).collect();
            if descending {
                want.sort_by(|&a, &b| v[b as usize].total_cmp(&v[a as usize]));
            } else {
                want.sort_by(|&a, &b| v[a as usize].total_cmp(&v[b as usize]));
            }
            assert_eq!(
                stable_order(&v, descending),
                want,
                "descending {descending}"
            );
        }
    }

    #[test]
    fn the_two_class_walk_gives_the_bits_of_one_sort_of_pairs() {
        let mut u = 0.123_456_789f64;
        let mut next = || {
            u = (u * 7_919.0 + 0.271_828_182_845) % 1.0;
            u
        };
        for n in [0, 1, 2, 3, 10, 100, 5_000] {
            for ties in [2.0, 20.0, 1e9] {
                let risk: Vec<f64> = (0..n)
                    .map(|_| match next() {
                        r if r < 0.02 => f64::NAN,
                        r if r < 0.04 => -0.0,
                        r if r < 0.06 => 0.0,
                        _ => (next() * ties).floor() - ties / 2.0,
                    })
                    .collect();
                for rate in [0.0, 0.07, 0.5, 1.0] {
                    let y: Vec<u8> = (0..n).map(|_| (next() < rate) as u8).collect();
                    let (a, b) = (auc(&risk, &y), auc_by_pairs(&risk, &y));
                    assert_eq!(a.to_bits(), b.to_bits(), "n {n}, ties {ties}, rate {rate}");
                }
            }
        }
    }

    // Reference values from scikit-learn (tests/reference/kat.py, last line):
    //   y = [0, 0, 1, 1, 0, 1, 0, 0]; s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.05, 0.2]
    //   roc_auc_score(y, s) -> 0.8; log_loss(y, s) -> 0.4488381270723263;
    //   brier_score_loss(y, s) -> 0.149375
    const Y: [u8; 8] = [0, 0, 1, 1, 0, 1, 0, 0];
    const S: [f64; 8] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.05, 0.2];

    #[test]
    fn auc_matches_sklearn_with_ties() {
        // by hand: positives .35, .8, .4 against negatives .1 .4 .4 .05 .2 win 3, 5 and
        // 3 + ½·2 = 4 of 5 pairs each: 12 / 15 = 0.8
        assert_relative_eq!(auc(&S, &Y), 0.8, epsilon = 1e-12);
    }

    #[test]
    fn auc_is_nan_for_one_class() {
        assert!(auc(&[0.1, 0.2], &[0, 0]).is_nan());
    }

    #[test]
    fn log_loss_and_brier_match_sklearn() {
        assert_relative_eq!(log_loss(&S, &Y), 0.448_838_127_072_326_3, epsilon = 1e-12);
        assert_relative_eq!(brier(&S, &Y), 0.149375, epsilon = 1e-12);
    }

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(7, 100, method="wilson")
        // -> (0.03431926106727266, 0.13749514739073504)
        let (lo, hi) = wilson(7, 100);
        assert_relative_eq!(lo, 0.034_319_261_067_272_66, epsilon = 1e-12);
        assert_relative_eq!(hi, 0.137_495_147_390_735_04, epsilon = 1e-12);
    }

    #[test]
    fn two_proportion_z_matches_statsmodels() {
        // statsmodels.stats.proportion.proportions_ztest([30, 12], [200, 180],
        //     alternative="larger") -> (2.5868950351328817, 0.004842254432239699)
        let (z, p) = two_proportion_z(30, 200, 12, 180);
        assert_relative_eq!(z, 2.586_895_035_132_881_7, epsilon = 1e-12);
        assert_relative_eq!(p, 0.004_842_254_432_239_699, epsilon = 1e-12);
        assert!(two_proportion_z(0, 10, 0, 10).0.is_nan());
        assert!(two_proportion_z(1, 0, 0, 10).0.is_nan());
        assert_relative_eq!(normal_cdf(1.959_963_984_540_054), 0.975, epsilon = 1e-12);
    }

    #[test]
    fn cochran_armitage_by_hand() {
        // k = [1, 3, 6], n = [10, 10, 10]: p = 1/3, T = 0·(1−10/3) + 1·(3−10/3) + 2·(6−10/3)
        // = −1/3 + 16/3 = 5; Σs²n = 50, Σsn = 30, Var = (1/3)(2/3)(50 − 900/30) = 40/9
        // z = 5 / √(40/9) = 2.3717082451262845
        let z = cochran_armitage(&[1, 3, 6], &[10, 10, 10]);
        assert_relative_eq!(z, 2.371_708_245_126_284_5, epsilon = 1e-12);
        assert_relative_eq!(
            cochran_armitage(&[6, 3, 1], &[10, 10, 10]),
            -z,
            epsilon = 1e-12
        );
        assert!(cochran_armitage(&[0, 0], &[5, 5]).is_nan());
    }

    #[test]
    fn largest_remainder_sums_exactly() {
        // 35.29 + 11.76 + 11.76 + 7 × 5.88: floors 35+11+11+35 = 92, 8 units to the largest
        // fractions: the seven 5.88s (0.88) then a 11.76 (0.76)
        let w = [6.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let r = largest_remainder(&w, 100);
        assert_eq!(r.iter().sum::<u32>(), 100);
        assert_eq!(r, vec![35, 12, 11, 6, 6, 6, 6, 6, 6, 6]);
        assert_eq!(largest_remainder(&[0.0, 0.0], 100), vec![0, 0]);
    }

    proptest::proptest! {
        #[test]
        fn auc_ignores_row_order_and_stays_in_0_1(
            rows in proptest::collection::vec((0u8..20, 0u8..2), 2..200),
            rotate in 0usize..200,
        ) {
            let risk: Vec<f64> = rows.iter().map(|r| r.0 as f64).collect();
            let y: Vec<u8> = rows.iter().map(|r| r.1).collect();
            let a = auc(&risk, &y);
            let k = rotate % rows.len();
            let (mut r2, mut y2) = (risk.clone(), y.clone());
            r2.rotate_left(k);
            y2.rotate_left(k);
            r2.reverse();
            y2.reverse();
            let b = auc(&r2, &y2);
            proptest::prop_assert!(a.is_nan() == b.is_nan());
            if !a.is_nan() {
                proptest::prop_assert!((a - b).abs() < 1e-12);
                proptest::prop_assert!((0.0..=1.0).contains(&a));
            }
        }
    }

    #[test]
    fn sigmoid_is_stable() {
        assert_relative_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(-800.0) > 0.0 || sigmoid(-800.0) == 0.0);
        assert!(sigmoid(800.0) <= 1.0);
        assert!(!sigmoid(-800.0).is_nan());
    }
}
