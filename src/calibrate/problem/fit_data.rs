//! The fit's data: the sub-score matrix row-major with its outcome and row weights, and the
//! row kernel that takes a row's score as a ratio of weighted sums (missing metrics
//! redistributed), in AVX2 where the processor has it and portable code otherwise.

use super::*;

/// Rows per parallel work item.
pub(super) const CHUNK: usize = 16_384;

/// A floor added to every weight inside the score ratio, so that a snapshot whose present
/// metrics all have weight 0 keeps a defined score (the plain mean of its sub-scores).
pub(super) const WEIGHT_FLOOR: f64 = 1e-9;

/// Fitting data: sub-scores row-major in [0, 1] (NaN = missing, redistributed), outcomes and
/// row weights.
#[derive(Debug, Clone)]
pub struct FitData {
    /// Number of rows.
    pub n: usize,
    /// Number of metrics.
    pub k: usize,
    /// Row-major `n × k` sub-scores / 100; NaN where the metric drops out. Shared, so that
    /// bootstrap replicates (which differ only in `w`) do not copy it. An `Arc<Vec>` rather
    /// than an `Arc<[f64]>`, whose conversion from the built `Vec` would copy it (a second
    /// gigabyte at 10M rows).
    pub x: Arc<Vec<f64>>,
    /// Outcomes (1 = churned), shared like `x`.
    pub y: Arc<Vec<u8>>,
    /// Row weights (1 for a plain fit; bootstrap counts, or 0 for the rows a fold or a
    /// holdout leaves out).
    pub w: Vec<f64>,
}

impl FitData {
    /// Build from column-major sub-scores in [0, 100] for the given rows.
    pub fn from_columns(columns: &[Vec<f64>], y: &[u8], rows: &[usize]) -> FitData {
        let k = columns.len();
        let mut x = vec![0.0; rows.len() * k];
        x.par_chunks_mut(k.max(1) * 4096)
            .zip(rows.par_chunks(4096))
            .for_each(|(out, rows)| {
                for (row, &i) in out.chunks_mut(k.max(1)).zip(rows) {
                    for (v, c) in row.iter_mut().zip(columns) {
                        *v = c[i] / 100.0;
                    }
                }
            });
        FitData {
            n: rows.len(),
            k,
            x: x.into(),
            y: Arc::new(rows.iter().map(|&i| y[i]).collect()),
            w: vec![1.0; rows.len()],
        }
    }

    /// The same rows with other weights (no copy of the sub-scores or outcomes).
    pub fn with_weights(&self, w: Vec<f64>) -> FitData {
        assert_eq!(w.len(), self.n, "one weight per row");
        FitData {
            n: self.n,
            k: self.k,
            x: Arc::clone(&self.x),
            y: Arc::clone(&self.y),
            w,
        }
    }

    /// Score in [0, 1] of row `i` for weights `beta`.
    #[inline]
    pub fn score_row(&self, i: usize, beta: &[f64]) -> f64 {
        let row = &self.x[i * self.k..(i + 1) * self.k];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            let (c, d) = unsafe { ratio_sums_avx2(row, beta) };
            return c / d;
        }
        let (c, d) = ratio_sums(row, beta);
        c / d
    }

    /// The rows at `rows`, as a new contiguous data set.
    pub fn subset(&self, rows: &[usize]) -> FitData {
        let mut x = Vec::with_capacity(rows.len() * self.k);
        for &i in rows {
            x.extend_from_slice(&self.x[i * self.k..(i + 1) * self.k]);
        }
        FitData {
            n: rows.len(),
            k: self.k,
            x: x.into(),
            y: Arc::new(rows.iter().map(|&i| self.y[i]).collect()),
            w: rows.iter().map(|&i| self.w[i]).collect(),
        }
    }

    /// Score in [0, 1] of every row for weights `beta` (any positive scale).
    pub fn scores(&self, beta: &[f64]) -> Vec<f64> {
        const PIECE: usize = 4096;
        let mut out = vec![0.0; self.n];
        out.par_chunks_mut(PIECE)
            .enumerate()
            .for_each(|(c, o)| self.scores_into(c * PIECE, beta, o));
        out
    }

    /// Scores in [0, 1] of rows `from .. from + out.len()` for weights `beta`, into `out`
    /// (the same bits as [`FitData::score_row`]; the processor's features checked once).
    pub fn scores_into(&self, from: usize, beta: &[f64], out: &mut [f64]) {
        let k = self.k;
        let rows = &self.x[from * k..(from + out.len()) * k];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            unsafe { scores_avx2(rows, k, beta, out) };
            return;
        }
        for (o, row) in out.iter_mut().zip(rows.chunks_exact(k.max(1))) {
            let (c, d) = ratio_sums(row, beta);
            *o = c / d;
        }
    }

    /// Weighted number of churn events.
    pub fn events(&self) -> f64 {
        self.y
            .iter()
            .zip(&self.w)
            .map(|(&y, &w)| y as f64 * w)
            .sum()
    }
}

/// [`FitData::scores_into`]'s loop in AVX2, the row kernel inlined into it.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scores_avx2(rows: &[f64], k: usize, beta: &[f64], out: &mut [f64]) {
    use std::arch::x86_64::*;
    let k = k.max(1);
    let whole = out.len().min(rows.len() / k) / 4 * 4;
    for (o, four) in out[..whole]
        .chunks_exact_mut(4)
        .zip(rows.chunks_exact(4 * k))
    {
        // SAFETY: the caller's processor supports AVX2; `o` holds four values.
        unsafe {
            let (c, d) = ratio4_avx2(four, k, beta);
            _mm256_storeu_pd(o.as_mut_ptr(), _mm256_div_pd(c, d));
        }
    }
    for (o, row) in out[whole..]
        .iter_mut()
        .zip(rows[whole * k..].chunks_exact(k))
    {
        // SAFETY: the caller's processor supports AVX2.
        let (c, d) = unsafe { ratio_sums_avx2(row, beta) };
        *o = c / d;
    }
}

/// [`ratio_sums_avx2`] of four consecutive rows (`rows` holds `4 k` values, `beta` `k`) at
/// once, each row's numerators and denominators in one lane of the two results: each row's
/// four partial sums are the same as [`ratio_sums_avx2`]'s and are added in the same order
/// (`(s₀ + s₁) + (s₂ + s₃)`), so the same bits, with one horizontal reduction for the four
/// rows instead of one each.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn ratio4_avx2(
    rows: &[f64],
    k: usize,
    beta: &[f64],
) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d) {
    use std::arch::x86_64::*;
    assert!(
        rows.len() >= 4 * k && beta.len() >= k,
        "four rows of k metrics"
    );
    let full = k / 4;
    let floor = _mm256_set1_pd(WEIGHT_FLOOR);
    let mut c = [_mm256_setzero_pd(); 4];
    let mut d = [_mm256_setzero_pd(); 4];
    // One row's four lanes: present ones weighted by β + δ, missing ones adding 0.
    let add = |c: &mut __m256d, d: &mut __m256d, x: __m256d, b0: __m256d| {
        let present = _mm256_cmp_pd::<_CMP_ORD_Q>(x, x);
        let b = _mm256_and_pd(b0, present);
        *c = _mm256_add_pd(*c, _mm256_mul_pd(b, _mm256_and_pd(x, present)));
        *d = _mm256_add_pd(*d, b);
    };
    for q in 0..full {
        // SAFETY: 4q + 3 < k, within `beta` and within each row (checked above).
        let b0 = unsafe { _mm256_add_pd(_mm256_loadu_pd(beta.as_ptr().add(4 * q)), floor) };
        for j in 0..4 {
            // SAFETY: as above.
            let x = unsafe { _mm256_loadu_pd(rows.as_ptr().add(j * k + 4 * q)) };
            add(&mut c[j], &mut d[j], x, b0);
        }
    }
    let tail = k % 4;
    if tail > 0 {
        // The last `tail` metrics into the first lanes (the other lanes load 0 and add
        // +0, which leaves a sum of non-negative terms as it is).
        let lanes = [-1i64, -i64::from(tail > 1), -i64::from(tail > 2), 0];
        let mask = _mm256_set_epi64x(lanes[3], lanes[2], lanes[1], lanes[0]);
        let maskd = _mm256_castsi256_pd(mask);
        // SAFETY: the masked loads read only the first `tail` values, which lie inside.
        let b0 = unsafe {
            _mm256_and_pd(
                _mm256_add_pd(_mm256_maskload_pd(beta.as_ptr().add(4 * full), mask), floor),
                maskd,
            )
        };
        for j in 0..4 {
            // SAFETY: as above.
            let x = unsafe { _mm256_maskload_pd(rows.as_ptr().add(j * k + 4 * full), mask) };
            add(&mut c[j], &mut d[j], x, b0);
        }
    }
    // Lane j of the result: (s₀ + s₁) + (s₂ + s₃) of row j.
    let reduce = |s: &[__m256d; 4]| {
        let h01 = _mm256_hadd_pd(s[0], s[1]);
        let h23 = _mm256_hadd_pd(s[2], s[3]);
        _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(h01, h23),
            _mm256_permute2f128_pd::<0x31>(h01, h23),
        )
    };
    (reduce(&c), reduce(&d))
}

/// The score ratio's numerator `Σ_P (β_m + δ) x_m` and denominator `Σ_P (β_m + δ)` over
/// the present metrics of one row (δ = [`WEIGHT_FLOOR`]). Branch-free (a missing metric adds
/// 0 to both), and summed in four interleaved partial sums so that the compiler can keep
/// them in one vector register; the fixed order keeps results identical run to run.
#[inline(always)]
pub(super) fn ratio_sums(row: &[f64], beta: &[f64]) -> (f64, f64) {
    let (mut c4, mut d4) = ([0.0f64; 4], [0.0f64; 4]);
    let mut xs = row.chunks_exact(4);
    let mut bs = beta.chunks_exact(4);
    for (x4, b4) in (&mut xs).zip(&mut bs) {
        for t in 0..4 {
            let x = x4[t];
            let present = !x.is_nan();
            let b = if present { b4[t] + WEIGHT_FLOOR } else { 0.0 };
            c4[t] += b * if present { x } else { 0.0 };
            d4[t] += b;
        }
    }
    ratio_tail(xs.remainder(), bs.remainder(), c4, d4)
}

/// The last `row.len() % 4` metrics of [`ratio_sums`] into the first lanes of the partial
/// sums, then the four lanes summed in a fixed order.
#[inline(always)]
pub(super) fn ratio_tail(
    row: &[f64],
    beta: &[f64],
    mut c4: [f64; 4],
    mut d4: [f64; 4],
) -> (f64, f64) {
    for (t, (&x, &b)) in row.iter().zip(beta).enumerate() {
        let present = !x.is_nan();
        let b = if present { b + WEIGHT_FLOOR } else { 0.0 };
        c4[t] += b * if present { x } else { 0.0 };
        d4[t] += b;
    }
    (
        (c4[0] + c4[1]) + (c4[2] + c4[3]),
        (d4[0] + d4[1]) + (d4[2] + d4[3]),
    )
}

/// [`ratio_sums`] in AVX2 registers: the same four partial sums, the same operations in the
/// same order per lane, so the same bits.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn ratio_sums_avx2(row: &[f64], beta: &[f64]) -> (f64, f64) {
    use std::arch::x86_64::*;
    let n = row.len().min(beta.len());
    let full = n / 4;
    let floor = _mm256_set1_pd(WEIGHT_FLOOR);
    let (mut c, mut d) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for q in 0..full {
        // SAFETY: 4q + 3 < n ≤ both lengths.
        let (x, b) = unsafe {
            (
                _mm256_loadu_pd(row.as_ptr().add(4 * q)),
                _mm256_loadu_pd(beta.as_ptr().add(4 * q)),
            )
        };
        // All ones where x is a number (present), zero where it is NaN (missing).
        let present = _mm256_cmp_pd::<_CMP_ORD_Q>(x, x);
        let b = _mm256_and_pd(_mm256_add_pd(b, floor), present);
        c = _mm256_add_pd(c, _mm256_mul_pd(b, _mm256_and_pd(x, present)));
        d = _mm256_add_pd(d, b);
    }
    let (mut c4, mut d4) = ([0.0f64; 4], [0.0f64; 4]);
    // SAFETY: stores into local arrays of four.
    unsafe {
        _mm256_storeu_pd(c4.as_mut_ptr(), c);
        _mm256_storeu_pd(d4.as_mut_ptr(), d);
    }
    ratio_tail(&row[4 * full..n], &beta[4 * full..n], c4, d4)
}
