//! `exp` and the logistic function without a library call: range reduction by `ln 2` and a
//! degree-13 polynomial, with no branch, so that a loop over a slice of them vectorises
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
    let mut p = TAYLOR[0];
    for &c in &TAYLOR[1..] {
        p = p * r + c;
    }
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

/// The Taylor coefficients of [`exp`]'s polynomial, highest first.
const TAYLOR: [f64; 14] = [
    1.0 / 6_227_020_800.0,
    1.0 / 479_001_600.0,
    1.0 / 39_916_800.0,
    1.0 / 3_628_800.0,
    1.0 / 362_880.0,
    1.0 / 40_320.0,
    1.0 / 5_040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

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
    let mut p = _mm256_set1_pd(TAYLOR[0]);
    for &c in &TAYLOR[1..] {
        p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(c));
    }
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
