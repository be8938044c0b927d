//! Statistics of a validation: DeLong's AUC variance and the paired ΔAUC test, calibration
//! (observed/expected, intercept and slope, ECE with per-bin intervals, Spiegelhalter's z),
//! Brier's Murphy decomposition, KS, and PSI.
//!
//! Risk scores are "higher = more likely to churn" throughout; a health score is passed as
//! `100 − score`.

use rayon::prelude::*;
use serde::Serialize;

use super::{normal_cdf, wilson};

pub(crate) const Z95: f64 = 1.959_963_984_540_054;

/// DeLong's structural components of one model's AUC, by the midrank algorithm of Sun & Xu
/// (2014), with the three midrankings (among positives, negatives and all) read off one
/// sort.
#[derive(Debug, Clone)]
pub struct Components {
    /// The AUC.
    pub auc: f64,
    /// V10, one per positive in row order.
    v10: Vec<f64>,
    /// V01, one per negative in row order.
    v01: Vec<f64>,
}

fn components(risk: &[f64], y: &[u8]) -> Components {
    components_sorted(&super::sorted_keys(risk), y)
}

/// [`Components`] from the risk's [`super::sorted_keys`], for a caller that reads the same
/// order for other figures.
pub fn components_sorted(keys: &[(u64, u32)], y: &[u8]) -> Components {
    let m = y.iter().filter(|&&v| v == 1).count();
    let n = y.len() - m;
    // position of each row among its class, in row order
    let mut slot = vec![0u32; y.len()];
    let (mut pi, mut ni) = (0u32, 0u32);
    for (i, &v) in y.iter().enumerate() {
        if v == 1 {
            slot[i] = pi;
            pi += 1;
        } else {
            slot[i] = ni;
            ni += 1;
        }
    }
    let (mf, nf) = (m as f64, n as f64);
    let mut v10 = vec![0f64; m];
    let mut v01 = vec![0f64; n];
    let mut sum_tz_pos = 0.0;
    let (mut all_before, mut pos_before, mut neg_before) = (0usize, 0usize, 0usize);
    for group in keys.chunk_by(|a, b| a.0 == b.0) {
        let tp = group.iter().filter(|&&(_, r)| y[r as usize] == 1).count();
        let tn = group.len() - tp;
        let t = tp + tn;
        // midranks (1-based) of this tie group among all, positives, negatives
        let tz = all_before as f64 + (t as f64 + 1.0) / 2.0;
        let tx = pos_before as f64 + (tp as f64 + 1.0) / 2.0;
        let ty = neg_before as f64 + (tn as f64 + 1.0) / 2.0;
        for &(_, r) in group {
            let r = r as usize;
            if y[r] == 1 {
                v10[slot[r] as usize] = (tz - tx) / nf;
                sum_tz_pos += tz;
            } else {
                v01[slot[r] as usize] = 1.0 - (tz - ty) / mf;
            }
        }
        all_before += t;
        pos_before += tp;
        neg_before += tn;
    }
    let auc = (sum_tz_pos - mf * (mf + 1.0) / 2.0) / (mf * nf);
    Components { auc, v10, v01 }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn cov(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() as f64 - 1.0)
}

/// Two correlated AUCs on the same rows, compared by DeLong's method.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeLong {
    /// AUC of model A.
    pub auc_a: f64,
    /// AUC of model B.
    pub auc_b: f64,
    /// DeLong variance of AUC A.
    pub var_a: f64,
    /// DeLong variance of AUC B.
    pub var_b: f64,
    /// Covariance of the two AUCs.
    pub cov_ab: f64,
    /// `auc_a − auc_b`.
    pub delta: f64,
    /// Standard error of the difference.
    pub se_delta: f64,
    /// z of the difference.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// 95 % interval of the difference.
    pub ci_delta: [f64; 2],
    /// 95 % interval of AUC A.
    pub ci_a: [f64; 2],
    /// 95 % interval of AUC B.
    pub ci_b: [f64; 2],
}

/// One model's AUC with its DeLong 95 % interval (one pass of the structural components).
pub fn auc_ci(risk: &[f64], y: &[u8]) -> (f64, [f64; 2]) {
    auc_ci_of(&components(risk, y))
}

/// [`auc_ci`] from the components.
pub fn auc_ci_of(c: &Components) -> (f64, [f64; 2]) {
    let (auc, x, yv) = (c.auc, &c.v10[..], &c.v01[..]);
    let var = cov(x, x) / x.len() as f64 + cov(yv, yv) / yv.len() as f64;
    (
        auc,
        [
            (auc - Z95 * var.sqrt()).max(0.0),
            (auc + Z95 * var.sqrt()).min(1.0),
        ],
    )
}

/// DeLong comparison of risk scores `a` and `b` against outcomes `y` (both classes needed).
pub fn delong(a: &[f64], b: &[f64], y: &[u8]) -> DeLong {
    delong_of(&components(a, y), &components(b, y))
}

/// [`delong`] from the two models' components on the same rows.
pub fn delong_of(a: &Components, b: &Components) -> DeLong {
    let (auc_a, x_a, y_a) = (a.auc, &a.v10[..], &a.v01[..]);
    let (auc_b, x_b, y_b) = (b.auc, &b.v10[..], &b.v01[..]);
    let (m, n) = (x_a.len() as f64, y_a.len() as f64);
    let var_a = cov(x_a, x_a) / m + cov(y_a, y_a) / n;
    let var_b = cov(x_b, x_b) / m + cov(y_b, y_b) / n;
    let cov_ab = cov(x_a, x_b) / m + cov(y_a, y_b) / n;
    let delta = auc_a - auc_b;
    let var_d = (var_a + var_b - 2.0 * cov_ab).max(0.0);
    let se = var_d.sqrt();
    let z = if se > 0.0 { delta / se } else { f64::NAN };
    let ci = |c: f64, v: f64| [(c - Z95 * v.sqrt()).max(0.0), (c + Z95 * v.sqrt()).min(1.0)];
    DeLong {
        auc_a,
        auc_b,
        var_a,
        var_b,
        cov_ab,
        delta,
        se_delta: se,
        z,
        p: if z.is_nan() {
            f64::NAN
        } else {
            2.0 * (1.0 - normal_cdf(z.abs()))
        },
        ci_delta: [delta - Z95 * se, delta + Z95 * se],
        ci_a: ci(auc_a, var_a),
        ci_b: ci(auc_b, var_b),
    }
}

/// Kolmogorov–Smirnov separation: the largest gap between the risk distributions of the
/// churned and the retained.
pub fn ks(risk: &[f64], y: &[u8]) -> f64 {
    ks_sorted(&super::sorted_keys(risk), risk, y)
}

/// [`ks`] from the risk's [`super::sorted_keys`].
pub fn ks_sorted(keys: &[(u64, u32)], risk: &[f64], y: &[u8]) -> f64 {
    let pos = y.iter().filter(|&&v| v == 1).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let (mut fp, mut fn_, mut best) = (0.0, 0.0, 0.0f64);
    for group in tie_groups(keys, risk) {
        for &(_, r) in group {
            if y[r as usize] == 1 {
                fp += 1.0;
            } else {
                fn_ += 1.0;
            }
        }
        best = best.max((fp / pos - fn_ / neg).abs());
    }
    best
}

/// The runs of equal values (`==`: −0 with +0, each NaN alone) in sorted keys, ascending;
/// `.rev()` walks them descending.
pub fn tie_groups<'a>(
    keys: &'a [(u64, u32)],
    v: &'a [f64],
) -> impl DoubleEndedIterator<Item = &'a [(u64, u32)]> + 'a {
    keys.chunk_by(move |a, b| a.0 == b.0 && !v[a.1 as usize].is_nan())
}

/// One equal-count bin of predicted probabilities.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Rows in the bin.
    pub n: usize,
    /// Mean predicted probability.
    pub predicted: f64,
    /// Observed churn rate.
    pub observed: f64,
    /// Wilson 95 % interval of the observed rate.
    pub ci: [f64; 2],
}

/// Calibration of predicted probabilities against outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationStats {
    /// Observed churn over expected (Σ y / Σ p): calibration-in-the-large.
    pub observed_expected: f64,
    /// Calibration intercept: α in `logit P(y) = α + logit p` (slope fixed at 1).
    pub intercept: f64,
    /// Calibration slope: b in `logit P(y) = a + b · logit p`.
    pub slope: f64,
    /// Expected calibration error over the bins: Σ n_k / N · |observed_k − predicted_k|.
    pub ece: f64,
    /// Spiegelhalter's z: Σ (y − p)(1 − 2p) / √Σ (1 − 2p)² p (1 − p).
    pub spiegelhalter_z: f64,
    /// Two-sided p-value of Spiegelhalter's z.
    pub spiegelhalter_p: f64,
    /// Equal-count bins of p, ascending.
    pub bins: Vec<ReliabilityBin>,
    /// Brier score.
    pub brier: f64,
    /// Murphy's decomposition over the bins: reliability (lower is better).
    pub reliability: f64,
    /// Resolution (higher is better).
    pub resolution: f64,
    /// Uncertainty ō(1 − ō).
    pub uncertainty: f64,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// AUC of `risk` against `y`, weighted by `w` (bootstrap counts) and unweighted, from one
/// sort: `(weighted, unweighted)`. Ties count ½, as in [`crate::stats::auc`].
pub fn auc_weighted_and_plain(risk: &[f64], y: &[u8], w: &[f64]) -> (f64, f64) {
    let keys = super::sorted_keys(risk);
    // [weighted, plain]: positives, negatives, negatives below, U
    let (mut pos, mut neg, mut below, mut u) = ([0f64; 2], [0f64; 2], [0f64; 2], [0f64; 2]);
    for group in keys.chunk_by(|a, b| a.0 == b.0) {
        let (mut pt, mut nt) = ([0f64; 2], [0f64; 2]);
        for &(_, r) in group {
            let r = r as usize;
            let wr = [w[r], 1.0];
            for k in 0..2 {
                if y[r] == 1 {
                    pt[k] += wr[k];
                } else {
                    nt[k] += wr[k];
                }
            }
        }
        for k in 0..2 {
            u[k] += pt[k] * (below[k] + 0.5 * nt[k]);
            below[k] += nt[k];
            pos[k] += pt[k];
            neg[k] += nt[k];
        }
    }
    let a = |k: usize| {
        if pos[k] > 0.0 && neg[k] > 0.0 {
            u[k] / (pos[k] * neg[k])
        } else {
            f64::NAN
        }
    };
    (a(0), a(1))
}

/// Weighted calibration slope: b in `logit P(y) = a + b · logit p`, rows weighted by `w`.
pub fn calibration_slope_weighted(p: &[f64], y: &[u8], w: &[f64]) -> f64 {
    let lp: Vec<f64> = p.par_iter().map(|&v| logit(v)).collect();
    calibration_slope_of_logits(&lp, y, w)
}

/// One Newton step of a two-parameter logistic fit `(a, b)` from its gradient and curvature
/// sums `[g0, g1, h00, h01, h11]`: the `(Δa, Δb)` to subtract, or `None` when the curvature
/// is singular.
pub fn newton_step2([g0, g1, h00, h01, h11]: [f64; 5]) -> Option<(f64, f64)> {
    let det = h00 * h11 - h01 * h01;
    if det.abs() < 1e-300 {
        return None;
    }
    Some(((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det))
}

/// [`calibration_slope_weighted`] from the predictions' log-odds `lp = logit p`.
///
/// Newton's method on (a, b); each pass sums fixed chunks in parallel and adds the chunk
/// sums in order, so the result does not depend on the thread count.
pub fn calibration_slope_of_logits(lp: &[f64], y: &[u8], w: &[f64]) -> f64 {
    calibration_slope_by(lp, y, |i| w[i])
}

/// [`calibration_slope_weighted`] with every weight 1 (the same bits), turning `p` into its
/// logits in place rather than into a second buffer.
pub fn calibration_slope_consuming(mut p: Vec<f64>, y: &[u8]) -> f64 {
    p.par_iter_mut().for_each(|v| *v = logit(*v));
    calibration_slope_by(&p, y, |_| 1.0)
}

/// [`calibration_slope_of_logits`] with row `i`'s weight `w(i)`.
fn calibration_slope_by(lp: &[f64], y: &[u8], w: impl Fn(usize) -> f64 + Sync) -> f64 {
    const CHUNK: usize = 1 << 14;
    let (mut a, mut b) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let parts: Vec<[f64; 5]> = lp
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, xs)| {
                let mut s = [0.0; 5];
                let base = c * CHUNK;
                for (j, &x) in xs.iter().enumerate() {
                    let ww = w(base + j);
                    if ww == 0.0 {
                        continue;
                    }
                    let q = crate::stats::sigmoid(a + b * x);
                    let r = ww * (q - y[base + j] as f64);
                    let v = ww * q * (1.0 - q);
                    s[0] += r;
                    s[1] += r * x;
                    s[2] += v;
                    s[3] += v * x;
                    s[4] += v * x * x;
                }
                s
            })
            .collect();
        let mut t = [0.0; 5];
        for part in parts {
            for (a, b) in t.iter_mut().zip(part) {
                *a += b;
            }
        }
        let Some((da, db)) = newton_step2(t) else {
            break;
        };
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    b
}

/// Calibration statistics of probabilities `p` for outcomes `y`, with `bins` equal-count
/// bins (rows sorted by p, split as evenly as possible; ties may straddle a split).
pub fn calibration(p: &[f64], y: &[u8], bins: usize) -> CalibrationStats {
    let n = p.len();
    let obs: f64 = y.iter().map(|&v| v as f64).sum();
    let exp: f64 = p.iter().sum();
    let lp: Vec<f64> = p.iter().map(|&v| logit(v)).collect();
    // intercept with slope fixed at 1: fit a on offset logit p
    let intercept = {
        let mut a = 0.0f64;
        for _ in 0..100 {
            let (mut g, mut h) = (0.0, 0.0);
            for (&x, &yy) in lp.iter().zip(y) {
                let q = crate::stats::sigmoid(a + x);
                g += q - yy as f64;
                h += q * (1.0 - q);
            }
            let d = g / h;
            a -= d;
            if d.abs() < 1e-12 {
                break;
            }
        }
        a
    };
    let slope = calibration_slope_weighted(p, y, &vec![1.0; n]);
    // Stable: tied probabilities keep row order, so bins do not depend on the thread count.
    let idx = super::stable_order(p, false);
    let bins = bins.clamp(1, n.max(1));
    let ybar = obs / n as f64;
    let mut out = Vec::with_capacity(bins);
    let (mut ece, mut rel, mut res) = (0.0, 0.0, 0.0);
    for k in 0..bins {
        let (lo, hi) = (k * n / bins, (k + 1) * n / bins);
        if hi <= lo {
            continue;
        }
        let part = &idx[lo..hi];
        let cnt = part.len();
        let sp: f64 = part.iter().map(|&i| p[i as usize]).sum();
        let sy: usize = part.iter().map(|&i| y[i as usize] as usize).sum();
        let (pk, ok) = (sp / cnt as f64, sy as f64 / cnt as f64);
        let w = cnt as f64 / n as f64;
        ece += w * (ok - pk).abs();
        rel += w * (pk - ok).powi(2);
        res += w * (ok - ybar).powi(2);
        let (a, b) = wilson(sy, cnt);
        out.push(ReliabilityBin {
            n: cnt,
            predicted: pk,
            observed: ok,
            ci: [a, b],
        });
    }
    let (mut num, mut den) = (0.0, 0.0);
    for (&pp, &yy) in p.iter().zip(y) {
        let pp = pp.clamp(1e-12, 1.0 - 1e-12);
        num += (yy as f64 - pp) * (1.0 - 2.0 * pp);
        den += (1.0 - 2.0 * pp).powi(2) * pp * (1.0 - pp);
    }
    let sz = num / den.sqrt();
    CalibrationStats {
        observed_expected: obs / exp,
        intercept,
        slope,
        ece,
        spiegelhalter_z: sz,
        spiegelhalter_p: 2.0 * (1.0 - normal_cdf(sz.abs())),
        bins: out,
        brier: super::brier(p, y),
        reliability: rel,
        resolution: res,
        uncertainty: ybar * (1.0 - ybar),
    }
}

/// Population stability index of `actual` against `expected` (the reference) over `bins`
/// equal-count bins of the reference (edges at its quantiles, a value on an edge going to
/// the bin above). Each bin's share is smoothed as (count + ½) / (N + ½ · bins), so an
/// empty bin gives a large but finite term.
pub fn psi(expected: &[f64], actual: &[f64], bins: usize) -> f64 {
    psi_of(
        expected.iter().copied(),
        actual.iter().copied(),
        bins,
        &mut Vec::new(),
    )
}

/// [`psi`] of values given one at a time (rows picked out of a column, say), with `scratch`
/// to hold the reference's values: a caller computing many reuses one buffer.
pub fn psi_of(
    expected: impl Iterator<Item = f64>,
    actual: impl Iterator<Item = f64>,
    bins: usize,
    scratch: &mut Vec<f64>,
) -> f64 {
    scratch.clear();
    scratch.extend(expected.filter(|v| !v.is_nan()));
    if scratch.is_empty() {
        return f64::NAN;
    }
    // The quantiles by selection: the same edges as from the sorted values.
    let edges = super::binning::decile_edges_unsorted(scratch, bins);
    let bin_of = super::binning::bin_of;
    let k = edges.len() + 1;
    let shares = |c: Vec<f64>, total: f64| -> Vec<f64> {
        c.iter()
            .map(|&ci| (ci + 0.5) / (total + 0.5 * k as f64))
            .collect()
    };
    let mut c = vec![0f64; k];
    for &x in scratch.iter() {
        c[bin_of(x, &edges)] += 1.0;
    }
    let e = shares(c, scratch.len() as f64);
    let (mut c, mut total, mut seen) = (vec![0f64; k], 0.0, false);
    for x in actual {
        seen = true;
        if !x.is_nan() {
            c[bin_of(x, &edges)] += 1.0;
            total += 1.0;
        }
    }
    if !seen {
        return f64::NAN;
    }
    let a = shares(c, total);
    e.iter()
        .zip(&a)
        .map(|(&e, &a)| (a - e) * (a / e).ln())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    // Reference values: tests/reference/kat.py, "delong" and "calibration" lines. DeLong is
    // computed there from the 1988 paper's definition (ψ over all churned × retained pairs),
    // independently of the midrank algorithm used here.
    fn data() -> (Vec<f64>, Vec<f64>, Vec<u8>) {
        let n = 60;
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let yi = u8::from((i * 7) % 5 < 2);
            let ai = ((i * 13) % 17) as f64 + 6.0 * yi as f64;
            let bi = ((i * 11) % 23) as f64 + 4.0 * yi as f64 + (i % 3) as f64;
            a.push(ai);
            b.push(bi);
            y.push(yi);
        }
        (a, b, y)
    }

    #[test]
    fn delong_matches_the_pairwise_definition() {
        let (a, b, y) = data();
        let d = delong(&a, &b, &y);
        assert_relative_eq!(d.auc_a, DL_AUC_A, epsilon = 1e-12);
        assert_relative_eq!(d.auc_b, DL_AUC_B, epsilon = 1e-12);
        assert_relative_eq!(d.var_a, DL_VAR_A, epsilon = 1e-12);
        assert_relative_eq!(d.var_b, DL_VAR_B, epsilon = 1e-12);
        assert_relative_eq!(d.cov_ab, DL_COV, epsilon = 1e-12);
        assert_relative_eq!(d.z, DL_Z, epsilon = 1e-9);
        assert_relative_eq!(d.auc_a, crate::stats::auc(&a, &y), epsilon = 1e-12);
        let (auc, ci) = auc_ci(&a, &y);
        assert_eq!((auc, ci), (d.auc_a, d.ci_a));
    }

    #[test]
    fn calibration_matches_statsmodels_and_hand_values() {
        let (a, _, y) = data();
        let p: Vec<f64> = a.iter().map(|&v| 0.05 + v / 30.0).collect();
        let c = calibration(&p, &y, 5);
        assert_relative_eq!(c.slope, CAL_SLOPE, epsilon = 1e-8);
        assert_relative_eq!(c.intercept, CAL_INTERCEPT, epsilon = 1e-8);
        assert_relative_eq!(c.ece, CAL_ECE, epsilon = 1e-12);
        assert_relative_eq!(c.spiegelhalter_z, CAL_SPIEGEL, epsilon = 1e-10);
        assert_relative_eq!(c.reliability, CAL_REL, epsilon = 1e-12);
        assert_relative_eq!(c.resolution, CAL_RES, epsilon = 1e-12);
        assert_relative_eq!(c.uncertainty, CAL_UNC, epsilon = 1e-12);
        assert_eq!(c.bins.iter().map(|b| b.n).sum::<usize>(), 60);
    }

    const DL_AUC_A: f64 = 0.797_453_703_703_703_7;
    const DL_AUC_B: f64 = 0.661_458_333_333_333_4;
    const DL_VAR_A: f64 = 0.003_224_539_167_071_374_3;
    const DL_VAR_B: f64 = 0.005_181_172_899_413_389;
    const DL_COV: f64 = 0.000_214_223_211_090_662_8;
    const DL_Z: f64 = 1.522_639_517_394_795;
    // statsmodels Logit(y, [1, logit p]) and GLM(Binomial, offset = logit p); bins by
    // np.argsort(p, kind="stable") split at k·60/5
    const CAL_SLOPE: f64 = 1.645_837_209_716_377_4;
    const CAL_INTERCEPT: f64 = 0.049_676_107_773_218_604;
    const CAL_ECE: f64 = 0.146_666_666_666_666_67;
    const CAL_SPIEGEL: f64 = -1.119_022_271_491_320_3;
    const CAL_REL: f64 = 0.025_595_679_012_345_68;
    const CAL_RES: f64 = 0.087_222_222_222_222_23;
    const CAL_UNC: f64 = 0.24;

    #[test]
    fn weighted_auc_and_slope_equal_the_plain_ones_on_repeated_rows() {
        let (a, _, y) = data();
        let w: Vec<f64> = (0..60).map(|i| (i % 3) as f64).collect();
        let (mut ra, mut ry) = (Vec::new(), Vec::new());
        for i in 0..60 {
            for _ in 0..w[i] as usize {
                ra.push(a[i]);
                ry.push(y[i]);
            }
        }
        let (wa, pa) = auc_weighted_and_plain(&a, &y, &w);
        assert_relative_eq!(wa, crate::stats::auc(&ra, &ry), epsilon = 1e-12);
        assert_relative_eq!(pa, crate::stats::auc(&a, &y), epsilon = 1e-12);
        let p: Vec<f64> = a.iter().map(|&v| 0.05 + v / 30.0).collect();
        let rp: Vec<f64> = ra.iter().map(|&v| 0.05 + v / 30.0).collect();
        assert_relative_eq!(
            calibration_slope_weighted(&p, &y, &w),
            calibration(&rp, &ry, 1).slope,
            epsilon = 1e-8
        );
        assert_relative_eq!(
            calibration_slope_weighted(&p, &y, &vec![1.0; 60]),
            CAL_SLOPE,
            epsilon = 1e-8
        );
    }

    proptest::proptest! {
        /// The sorted keys' runs, walked from the top, give the stable descending order
        /// (ties in row order) that the lift deciles rank by; and KS from them is KS.
        #[test]
        fn tie_groups_from_the_top_are_the_stable_descending_order(
            v in proptest::collection::vec(0u8..12, 0..200),
        ) {
            let risk: Vec<f64> = v.iter().map(|&x| 100.0 - f64::from(x) * 7.5).collect();
            let y: Vec<u8> = v.iter().enumerate().map(|(i, &x)| u8::from((i + x as usize).is_multiple_of(3))).collect();
            let keys = crate::stats::sorted_keys(&risk);
            let walked: Vec<u32> =
                tie_groups(&keys, &risk).rev().flat_map(|g| g.iter().map(|&(_, i)| i)).collect();
            proptest::prop_assert_eq!(walked, crate::stats::stable_order(&risk, true));
            let c = components_sorted(&keys, &y);
            let (auc, _) = auc_ci_of(&c);
            if y.contains(&0) && y.contains(&1) {
                proptest::prop_assert!((auc - crate::stats::auc(&risk, &y)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn psi_by_hand_and_ks() {
        // reference 0..100 in deciles; actual all in the top decile:
        // e_i = (10 + ½)/(100 + 5) = 0.1 for every bin; a = (0+½)/(10+5) for nine bins and
        // (10+½)/15 for the top one
        let e: Vec<f64> = (0..100).map(f64::from).collect();
        let a: Vec<f64> = vec![95.0; 10];
        let lo: f64 = 0.5 / 15.0;
        let hi: f64 = 10.5 / 15.0;
        let want = 9.0 * (lo - 0.1) * (lo / 0.1).ln() + (hi - 0.1) * (hi / 0.1).ln();
        assert_relative_eq!(psi(&e, &a, 10), want, epsilon = 1e-12);
        assert_relative_eq!(psi(&e, &e, 10), 0.0, epsilon = 1e-12);
        // KS: perfectly separated → 1; identical → 0
        assert_relative_eq!(ks(&[1.0, 2.0, 3.0, 4.0], &[0, 0, 1, 1]), 1.0);
        assert_relative_eq!(ks(&[1.0, 1.0, 1.0, 1.0], &[0, 1, 0, 1]), 0.0);
    }
}
