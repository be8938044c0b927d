//! The constrained fit's row kernel in vector registers: the per-row divisions, the
//! likelihood terms and the gradient's per-metric sums of four rows at a time, each doing
//! the portable loop's operations in its order, so that both builds give the same bits
//! (`tests` in the parent module compare them).

/// The gradient's per-metric parts of one row without the information (see
/// [`super::Objective::group`]): `value_m += c·x_m` and `present_m += c·score` over present metrics,
/// in AVX2 registers; the same operations per element as the portable loop, so the same bits.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn value_present_avx2(
    row: &[f64],
    c: f64,
    c_score: f64,
    value: &mut [f64],
    pres: &mut [f64],
) {
    use std::arch::x86_64::*;
    let n = row.len().min(value.len()).min(pres.len());
    let (cv, csv) = (_mm256_set1_pd(c), _mm256_set1_pd(c_score));
    let full = n / 4;
    for q in 0..full {
        // SAFETY: 4q + 3 < n ≤ every length.
        unsafe {
            let x = _mm256_loadu_pd(row.as_ptr().add(4 * q));
            let present = _mm256_cmp_pd::<_CMP_ORD_Q>(x, x);
            let v = _mm256_loadu_pd(value.as_ptr().add(4 * q));
            let v = _mm256_add_pd(v, _mm256_mul_pd(cv, _mm256_and_pd(x, present)));
            _mm256_storeu_pd(value.as_mut_ptr().add(4 * q), v);
            let p = _mm256_loadu_pd(pres.as_ptr().add(4 * q));
            let p = _mm256_add_pd(p, _mm256_and_pd(csv, present));
            _mm256_storeu_pd(pres.as_mut_ptr().add(4 * q), p);
        }
    }
    for m in 4 * full..n {
        let x = row[m];
        let present = !x.is_nan();
        value[m] += c * if present { x } else { 0.0 };
        pres[m] += if present { c_score } else { 0.0 };
    }
}

/// [`value_present_avx2`] of four consecutive rows (`rows` holds `4 k` values) with their
/// own `c` and `c·score`: each sum takes the rows in order, as four calls would, but is
/// loaded and stored once for the four (a sum kept in a register between rows rather than
/// sent through memory after each).
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn value_present4_avx2<const L: usize>(
    rows: &[f64],
    k: usize,
    c: &[f64; L],
    c_score: &[f64; L],
    value: &mut [f64],
    pres: &mut [f64],
) {
    use std::arch::x86_64::*;
    assert!(
        L == 4 && rows.len() >= 4 * k && value.len() >= k && pres.len() >= k,
        "four rows of k metrics"
    );
    let full = k / 4;
    for q in 0..full {
        // SAFETY: 4q + 3 < k, within every row, `value` and `pres` (checked above).
        unsafe {
            let mut v = _mm256_loadu_pd(value.as_ptr().add(4 * q));
            let mut p = _mm256_loadu_pd(pres.as_ptr().add(4 * q));
            for j in 0..4 {
                let x = _mm256_loadu_pd(rows.as_ptr().add(j * k + 4 * q));
                let present = _mm256_cmp_pd::<_CMP_ORD_Q>(x, x);
                v = _mm256_add_pd(
                    v,
                    _mm256_mul_pd(_mm256_set1_pd(c[j]), _mm256_and_pd(x, present)),
                );
                p = _mm256_add_pd(p, _mm256_and_pd(_mm256_set1_pd(c_score[j]), present));
            }
            _mm256_storeu_pd(value.as_mut_ptr().add(4 * q), v);
            _mm256_storeu_pd(pres.as_mut_ptr().add(4 * q), p);
        }
    }
    for m in 4 * full..k {
        let (mut v, mut p) = (value[m], pres[m]);
        for j in 0..4 {
            let x = rows[j * k + m];
            let present = !x.is_nan();
            v += c[j] * if present { x } else { 0.0 };
            p += if present { c_score[j] } else { 0.0 };
        }
        value[m] = v;
        pres[m] = p;
    }
}

/// Four rows' scores `c / d` (from the ratio sums `c = Σ (β + δ) x` and `d = Σ (β + δ)` over
/// present metrics), denominators `d`, linear predictors, `e = exp(−|η|)` and `ln(1 + e)`:
/// what [`rows4_avx2`] starts from.
#[cfg(target_arch = "x86_64")]
pub(super) struct Lanes4 {
    pub(super) score: [f64; 4],
    pub(super) d: [f64; 4],
    pub(super) eta: [f64; 4],
    pub(super) e: [f64; 4],
    pub(super) ln: [f64; 4],
}

/// The per-row part of [`super::Objective::group`] without the information, for four rows in AVX2
/// registers: each row's `B / d`, probability, likelihood term and gradient factors
/// `c = r·B/d` and `c·score` (returned), where the portable loop spends a scalar division on
/// two of them per row. Every lane does the portable loop's operations in its
/// order (IEEE division, multiplication and addition are correctly rounded lane by lane,
/// and `max_pd(η, 0)` returns 0 for a NaN η as `f64::max` does), and the NLL, `Σ r` and
/// `Σ r·score` (`sums`) take the four rows one after another as the loop adds them: the
/// same bits.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn rows4_avx2(
    lanes: &Lanes4,
    w: &[f64],
    y: &[u8],
    big_b: f64,
    sums: [&mut f64; 3],
) -> ([f64; 4], [f64; 4]) {
    use std::arch::x86_64::*;
    assert!(
        w.len() >= 4 && y.len() >= 4,
        "four rows' weights and outcomes"
    );
    let load = |a: &[f64; 4]| {
        // SAFETY: four f64 in a local array.
        unsafe { _mm256_loadu_pd(a.as_ptr()) }
    };
    let (zero, one) = (_mm256_setzero_pd(), _mm256_set1_pd(1.0));
    // SAFETY: `w` holds four weights (checked above).
    let wv = unsafe { _mm256_loadu_pd(w.as_ptr()) };
    let yv = _mm256_set_pd(
        f64::from(y[3]),
        f64::from(y[2]),
        f64::from(y[1]),
        f64::from(y[0]),
    );
    let (d, eta, e) = (load(&lanes.d), load(&lanes.eta), load(&lanes.e));
    let score = load(&lanes.score);
    let ratio = _mm256_div_pd(_mm256_set1_pd(big_b), d);
    // 1 / (1 + e) where η ≥ 0, e / (1 + e) elsewhere (a NaN η too).
    let numerator = _mm256_blendv_pd(e, one, _mm256_cmp_pd::<_CMP_GE_OQ>(eta, zero));
    let prob = _mm256_div_pd(numerator, _mm256_add_pd(one, e));
    // w (max(η, 0) + ln(1 + e) − y η)
    let term = _mm256_mul_pd(
        wv,
        _mm256_sub_pd(
            _mm256_add_pd(_mm256_max_pd(eta, zero), load(&lanes.ln)),
            _mm256_mul_pd(yv, eta),
        ),
    );
    let r = _mm256_mul_pd(wv, _mm256_sub_pd(prob, yv));
    let c = _mm256_mul_pd(r, ratio);
    let c_score = _mm256_mul_pd(c, score);
    let r_score = _mm256_mul_pd(r, score);
    let store = |v: __m256d| {
        let mut a = [0.0; 4];
        // SAFETY: four f64 into a local array.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) };
        a
    };
    let (term, r, r_score) = (store(term), store(r), store(r_score));
    let [nll, grad0, mean] = sums;
    for j in 0..4 {
        *nll += term[j];
        *grad0 += r[j];
        *mean += r_score[j];
    }
    (store(c), store(c_score))
}

/// `exp(−|η|)` and `ln(1 + exp(−|η|))` of `L` rows' linear predictors
/// ([`crate::stats::fastexp::exp_ln1p`]): four lanes at once in AVX2 when `AVX` (the same
/// bits as the portable code).
#[inline(always)]
pub(crate) fn likelihood_terms<const L: usize, const AVX: bool>(
    eta: [f64; L],
) -> ([f64; L], [f64; L]) {
    #[cfg(target_arch = "x86_64")]
    if AVX && L == 4 {
        let mut four = [0.0; 4];
        four.copy_from_slice(&eta[..4]);
        // SAFETY: AVX is true only in code compiled for and run on a processor with AVX2.
        let (e4, l4) = unsafe { crate::stats::fastexp::exp_ln1p_avx2(four) };
        let (mut e, mut l) = ([0.0; L], [0.0; L]);
        e.copy_from_slice(&e4[..L]);
        l.copy_from_slice(&l4[..L]);
        return (e, l);
    }
    let (mut e, mut l) = ([0.0; L], [0.0; L]);
    for j in 0..L {
        (e[j], l[j]) = crate::stats::fastexp::exp_ln1p(eta[j]);
    }
    (e, l)
}
