//! `exp` and the logistic function without a library call: range reduction by `ln 2` and a
//! degree-13 polynomial by Estrin's scheme, with no branch, so that a loop over a slice of them vectorises
//! (two lanes in the baseline x86-64 instruction set, four where a caller compiles the loop
//! for AVX2). Within 2 units in the last place of `f64::exp` over the range that matters for
//! probabilities; the same bits on every machine (no fused multiply-add).

/// `1.5 · 2⁵²`: adding it rounds a number below 2⁵¹ in magnitude to an integer held in the
/// low bits of the sum.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// `ln 2` split in a part with trailing zeros (so that `n · LN2_HI` is exact) and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `eˣ` for `x` clamped to [−708, 709] (below, a tiny positive number instead of 0 or a
/// subnormal; above, about 8.2 · 10³⁰⁷ instead of infinity). NaN stays NaN.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    let x = x.clamp(-708.0, 709.0);
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    // n · ln 2 subtracted in two parts: r in [−ln 2 / 2, ln 2 / 2] to within an ulp.
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // eʳ by its Taylor series to r¹³ (the next term is below 5 · 10⁻¹⁸ for |r| ≤ 0.35).
    let p = estrin(r, &TAYLOR);
    // 2ⁿ from n's bits (n in [−1022, 1023], a normal number).
    let k = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    p * f64::from_bits((k + 1023).wrapping_shl(52) as u64)
}

/// The logistic function `1 / (1 + e⁻ˣ)` by [`exp`]: no branch, relative error of a few ulp
/// on both tails (for `x` far below 0 it is `≈ eˣ`, kept to full relative precision).
#[inline(always)]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// The Taylor coefficients of [`exp`]'s polynomial, `1 / i!` for i = 0 ..= 13.
const TAYLOR: [f64; 14] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// `Σ c[i] xⁱ` by Estrin's scheme: pairs, then pairs of pairs in x², x⁴, x⁸, so the
/// longest chain of dependent operations is four multiply-adds instead of thirteen.
#[inline(always)]
fn estrin(x: f64, c: &[f64; 14]) -> f64 {
    let (x2, p) = (x * x, |i: usize| c[i] + c[i + 1] * x);
    let x4 = x2 * x2;
    let x8 = x4 * x4;
    let (q0, q1, q2, q3) = (p(0) + p(2) * x2, p(4) + p(6) * x2, p(8) + p(10) * x2, p(12));
    (q0 + q1 * x4) + (q2 + q3 * x4) * x8
}

/// [`estrin`] in four AVX2 lanes: the same operations in the same order.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn estrin_avx2(x: std::arch::x86_64::__m256d, c: &[f64; 14]) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    let x2 = _mm256_mul_pd(x, x);
    let p = |i: usize| {
        _mm256_add_pd(
            _mm256_set1_pd(c[i]),
            _mm256_mul_pd(_mm256_set1_pd(c[i + 1]), x),
        )
    };
    let x4 = _mm256_mul_pd(x2, x2);
    let x8 = _mm256_mul_pd(x4, x4);
    let q0 = _mm256_add_pd(p(0), _mm256_mul_pd(p(2), x2));
    let q1 = _mm256_add_pd(p(4), _mm256_mul_pd(p(6), x2));
    let q2 = _mm256_add_pd(p(8), _mm256_mul_pd(p(10), x2));
    let q3 = p(12);
    _mm256_add_pd(
        _mm256_add_pd(q0, _mm256_mul_pd(q1, x4)),
        _mm256_mul_pd(_mm256_add_pd(q2, _mm256_mul_pd(q3, x4)), x8),
    )
}

/// [`exp`] of four values in one AVX2 register: the same operations in the same order, so
/// the same bits lane by lane.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn exp_avx2(x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    // min(hi, max(lo, x)): NaN in x stays NaN, as with `f64::clamp`.
    let x = _mm256_min_pd(
        _mm256_set1_pd(709.0),
        _mm256_max_pd(_mm256_set1_pd(-708.0), x),
    );
    let shift = _mm256_set1_pd(SHIFT);
    let t = _mm256_add_pd(
        _mm256_mul_pd(x, _mm256_set1_pd(std::f64::consts::LOG2_E)),
        shift,
    );
    let n = _mm256_sub_pd(t, shift);
    let r = _mm256_sub_pd(
        _mm256_sub_pd(x, _mm256_mul_pd(n, _mm256_set1_pd(LN2_HI))),
        _mm256_mul_pd(n, _mm256_set1_pd(LN2_LO)),
    );
    let p = estrin_avx2(r, &TAYLOR);
    let k = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(shift));
    let scale = _mm256_slli_epi64::<52>(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)));
    _mm256_mul_pd(p, _mm256_castsi256_pd(scale))
}

/// [`sigmoid`] of four values in one AVX2 register (the same bits lane by lane).
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn sigmoid_avx2(x: std::arch::x86_64::__m256d) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    let minus = _mm256_xor_pd(x, _mm256_set1_pd(-0.0));
    let one = _mm256_set1_pd(1.0);
    _mm256_div_pd(one, _mm256_add_pd(one, exp_avx2(minus)))
}

/// [`sigmoid`] of every value of `x` into `out` (as long): [`sigmoid_in_place`] of a copy.
pub fn sigmoid_slice(x: &[f64], out: &mut [f64]) {
    out.copy_from_slice(x);
    sigmoid_in_place(out);
}

/// [`sigmoid`] of every value of `v`, in place, four at a time where the processor has
/// AVX2: the same bits either way.
pub fn sigmoid_in_place(v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    let done = if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { sigmoid_in_place_avx2(v) }
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for x in &mut v[done..] {
        *x = sigmoid(*x);
    }
}

/// [`sigmoid_in_place`]'s whole groups of four; returns how many values it did.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sigmoid_in_place_avx2(v: &mut [f64]) -> usize {
    use std::arch::x86_64::*;
    let whole = v.len() / 4 * 4;
    for j in (0..whole).step_by(4) {
        // SAFETY: j + 4 <= the length.
        unsafe {
            let x = _mm256_loadu_pd(v.as_ptr().add(j));
            _mm256_storeu_pd(v.as_mut_ptr().add(j), sigmoid_avx2(x));
        }
    }
    whole
}

/// `1 / (2n + 1)` for n = 0 ..= 11 (two zeros to fill [`estrin`]'s 14): the series
/// `atanh f = f Σ f²ⁿ / (2n + 1)`.
const ATANH: [f64; 14] = [
    1.0,
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
    1.0 / 23.0,
    0.0,
    0.0,
];

/// `ln x` for `x` in [1, 2] (the logistic likelihood's `ln(1 + e)`, `e` in (0, 1]): halved
/// above √2 (adding ln 2), then `2 atanh((m − 1) / (m + 1))` by its series to f²³
/// (|f| ≤ 0.172: the next term is below 10⁻¹⁸). No branch; within 4 ulp of `f64::ln`
/// (3.03 measured over [1, 2]).
#[inline(always)]
pub fn ln_1_2(x: f64) -> f64 {
    let k = f64::from(u8::from(x > std::f64::consts::SQRT_2));
    let m = x * (1.0 - 0.5 * k);
    let f = (m - 1.0) / (m + 1.0);
    let f2 = f * f;
    let p = estrin(f2, &ATANH);
    k * LN2_HI + ((f + f) * p + k * LN2_LO)
}

/// The logistic log-likelihood's two transcendental terms of a linear predictor `η`:
/// `e = exp(−|η|)` and `ln(1 + e)`.
#[inline(always)]
pub fn exp_ln1p(eta: f64) -> (f64, f64) {
    let e = exp(-eta.abs());
    (e, ln_1_2(1.0 + e))
}

/// [`exp_ln1p`] of four values in AVX2 registers (the same bits lane by lane).
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub unsafe fn exp_ln1p_avx2(eta: [f64; 4]) -> ([f64; 4], [f64; 4]) {
    use std::arch::x86_64::*;
    let sign = _mm256_set1_pd(-0.0);
    let one = _mm256_set1_pd(1.0);
    // SAFETY: loads and stores of local arrays of four.
    let x = unsafe { _mm256_loadu_pd(eta.as_ptr()) };
    let e = exp_avx2(_mm256_or_pd(x, sign));
    let x = _mm256_add_pd(one, e);
    let k = _mm256_and_pd(
        _mm256_cmp_pd::<_CMP_GT_OQ>(x, _mm256_set1_pd(std::f64::consts::SQRT_2)),
        one,
    );
    let m = _mm256_mul_pd(x, _mm256_sub_pd(one, _mm256_mul_pd(_mm256_set1_pd(0.5), k)));
    let f = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    let f2 = _mm256_mul_pd(f, f);
    let p = estrin_avx2(f2, &ATANH);
    let l = _mm256_add_pd(
        _mm256_mul_pd(k, _mm256_set1_pd(LN2_HI)),
        _mm256_add_pd(
            _mm256_mul_pd(_mm256_add_pd(f, f), p),
            _mm256_mul_pd(k, _mm256_set1_pd(LN2_LO)),
        ),
    );
    let (mut eo, mut lo) = ([0.0; 4], [0.0; 4]);
    // SAFETY: stores into local arrays of four.
    unsafe {
        _mm256_storeu_pd(eo.as_mut_ptr(), e);
        _mm256_storeu_pd(lo.as_mut_ptr(), l);
    }
    (eo, lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs() / f64::EPSILON
    }

    #[test]
    fn exp_is_within_two_ulp_of_std() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let x = -700.0 + 1400.0 * i as f64 / 200_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for i in 0..=100_000 {
            let x = -1.0 + 2.0 * i as f64 / 100_000.0;
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f64::NAN).is_nan());
        assert!(exp(1e6).is_finite() && exp(-1e6) > 0.0);
    }

    #[test]
    fn sigmoid_matches_the_stable_one_on_both_tails() {
        let mut worst: f64 = 0.0;
        for i in 0..=100_000 {
            let x = -700.0 + 1400.0 * i as f64 / 100_000.0;
            worst = worst.max(ulps(sigmoid(x), crate::stats::sigmoid(x)));
        }
        assert!(worst <= 4.0, "worst {worst} ulp");
        assert_eq!(sigmoid(0.0), 0.5);
    }

    /// Every length's four-lane body and scalar tail give the scalar function's bits.
    #[test]
    fn the_slice_is_the_scalar_function_value_by_value() {
        let x: Vec<f64> = (0..1_003)
            .map(|i| match i % 7 {
                0 => f64::NAN,
                1 => -750.0 + i as f64,
                _ => (i as f64 * 0.731).sin() * 30.0,
            })
            .collect();
        for len in [0, 1, 3, 4, 5, 8, 1_003] {
            let mut out = vec![0.0; len];
            sigmoid_slice(&x[..len], &mut out);
            let mut inside = x[..len].to_vec();
            sigmoid_in_place(&mut inside);
            for ((o, i), &v) in out.iter().zip(&inside).zip(&x) {
                assert_eq!(o.to_bits(), sigmoid(v).to_bits(), "{v}");
                assert_eq!(i.to_bits(), sigmoid(v).to_bits(), "{v}");
            }
        }
    }

    #[test]
    fn ln_is_within_four_ulp_of_std_on_1_to_2() {
        let mut worst: f64 = 0.0;
        for i in 0..=400_000 {
            let x = 1.0 + i as f64 / 400_000.0;
            let (a, b) = (ln_1_2(x), x.ln());
            let err = if b == 0.0 {
                a.abs()
            } else {
                ((a - b) / b).abs() / f64::EPSILON
            };
            worst = worst.max(err);
        }
        assert!(worst <= 4.0, "worst {worst} ulp");
        assert_eq!(ln_1_2(1.0), 0.0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn four_lanes_of_the_likelihood_terms_have_the_scalar_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for i in 0..50_000 {
            let eta = [
                -40.0 + 0.0016 * i as f64,
                (i as f64).cos() * 3.0,
                1e-9 * i as f64,
                -800.0 + 0.03 * i as f64,
            ];
            // SAFETY: AVX2 checked above.
            let (e, l) = unsafe { exp_ln1p_avx2(eta) };
            for t in 0..4 {
                let (se, sl) = exp_ln1p(eta[t]);
                assert_eq!(e[t].to_bits(), se.to_bits(), "{}", eta[t]);
                assert_eq!(l[t].to_bits(), sl.to_bits(), "{}", eta[t]);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn four_lanes_have_the_scalar_bits() {
        use std::arch::x86_64::*;
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for i in 0..20_000 {
            let x = [
                -720.0 + 0.072 * i as f64,
                -3.0 + 0.0003 * i as f64,
                (i as f64).sin() * 40.0,
                if i == 0 { f64::NAN } else { 1e-300 * i as f64 },
            ];
            let mut e = [0.0; 4];
            let mut s = [0.0; 4];
            // SAFETY: AVX2 checked above; stores into local arrays of four.
            unsafe {
                let v = _mm256_loadu_pd(x.as_ptr());
                _mm256_storeu_pd(e.as_mut_ptr(), exp_avx2(v));
                _mm256_storeu_pd(s.as_mut_ptr(), sigmoid_avx2(v));
            }
            for t in 0..4 {
                assert_eq!(e[t].to_bits(), exp(x[t]).to_bits(), "exp {}", x[t]);
                assert_eq!(s[t].to_bits(), sigmoid(x[t]).to_bits(), "sigmoid {}", x[t]);
            }
        }
    }
}
