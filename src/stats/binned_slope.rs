//! The calibration slope — `b` in `logit P(y) = a + b · x` for log-odds (or scores) `x` — fitted from
//! fine bins of `x` instead of the rows: one pass over the rows fills the bins (weight, and
//! the first two moments of `x` about each bin's centre) and the outcome sums, and every
//! Newton iteration then costs the number of bins, not the number of rows.
//!
//! Within a bin, each sum `Σ u h(x)` the Newton step needs (`h` the fitted probability or its
//! variance, times `1`, `x` or `x²`) is taken by its second-order expansion about the bin's
//! mean, `U h(m) + ½ h''(m) V` (`V` the bin's weighted sum of squared deviations). The
//! error is third order in the bin width: with 4,096 bins over the range of the log-odds,
//! the slope agrees with the row-by-row fit to about 1e-9 (tested).

/// [`BINS`] equal bins over a range of log-odds: which bin a value falls in, and each bin's
/// centre (the same arithmetic for every binning, so the same bits).
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    lo: f64,
    width: f64,
    per_width: f64,
}

impl Grid {
    /// Bins over `[lo, hi]` (an empty or infinite range is taken as width 1 from `lo`).
    pub fn new(lo: f64, hi: f64) -> Grid {
        let span = if hi > lo && (hi - lo).is_finite() {
            hi - lo
        } else {
            1.0
        };
        Grid {
            lo,
            width: span / BINS as f64,
            per_width: BINS as f64 / span,
        }
    }

    /// The bin of `x` (below the range and NaN the first, above it the last). The bins are
    /// in the order of the values: a value in a higher bin is greater.
    #[inline(always)]
    pub fn bin(&self, x: f64) -> usize {
        (((x - self.lo) * self.per_width) as usize).min(BINS - 1)
    }

    #[inline(always)]
    fn centre(&self, j: usize) -> f64 {
        self.lo + (j as f64 + 0.5) * self.width
    }
}

/// Bins of one weighting of the rows.
#[derive(Debug, Clone)]
pub struct BinnedLogits {
    grid: Grid,
    /// Per bin: Σu, Σu·d, Σu·d² with `d = x − centre`.
    bins: Vec<[f64; 3]>,
    /// Σu·y and Σu·y·x.
    y: [f64; 2],
}

/// Bins per fit.
pub const BINS: usize = 4096;

impl BinnedLogits {
    /// Empty bins over `[lo, hi]` (values outside go to the end bins, exactly summed still:
    /// only the expansion's accuracy depends on the range).
    pub fn new(lo: f64, hi: f64) -> BinnedLogits {
        BinnedLogits {
            grid: Grid::new(lo, hi),
            bins: vec![[0.0; 3]; BINS],
            y: [0.0; 2],
        }
    }

    /// Add a row of log-odds `x`, outcome `y` and weight `u`.
    #[inline]
    pub fn add(&mut self, x: f64, y: u8, u: f64) {
        let j = self.grid.bin(x);
        let d = x - self.grid.centre(j);
        let b = &mut self.bins[j];
        b[0] += u;
        b[1] += u * d;
        b[2] += u * d * d;
        if y == 1 {
            self.y[0] += u;
            self.y[1] += u * x;
        }
    }

    /// Add another set of bins over the same range (in a fixed order for reproducible bits).
    pub fn merge(&mut self, o: &BinnedLogits) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            for k in 0..3 {
                a[k] += b[k];
            }
        }
        self.y[0] += o.y[0];
        self.y[1] += o.y[1];
    }

    /// The fit's gradient and curvature `[g0, g1, h00, h01, h11]` at `(a, b)`.
    fn sums(&self, a: f64, b: f64) -> [f64; 5] {
        let mut s = [0.0; 5];
        for (j, &[u, du, d2]) in self.bins.iter().enumerate() {
            if u == 0.0 {
                continue;
            }
            let mean_d = du / u;
            let m = self.grid.centre(j) + mean_d;
            let v = (d2 - du * mean_d).max(0.0);
            let q = super::sigmoid(a + b * m);
            let g = q * (1.0 - q);
            let t = 1.0 - 2.0 * q;
            let f1 = b * g;
            let f2 = b * b * g * t;
            let g1 = b * g * t;
            let g2 = b * b * g * (t * t - 2.0 * g);
            s[0] += u * q + 0.5 * f2 * v;
            s[1] += u * q * m + 0.5 * (2.0 * f1 + m * f2) * v;
            s[2] += u * g + 0.5 * g2 * v;
            s[3] += u * g * m + 0.5 * (2.0 * g1 + m * g2) * v;
            s[4] += u * g * m * m + 0.5 * (2.0 * g + 4.0 * m * g1 + m * m * g2) * v;
        }
        s[0] -= self.y[0];
        s[1] -= self.y[1];
        s
    }

    /// `(a, b)` by Newton's method from (0, 1), as
    /// [`crate::stats::evaluation::calibration_slope_of_logits`].
    pub fn fit(&self) -> (f64, f64) {
        self.fit_from((0.0, 1.0))
    }

    /// `(a, b)` by Newton's method from `start`.
    pub fn fit_from(&self, start: (f64, f64)) -> (f64, f64) {
        let (mut a, mut b) = start;
        for _ in 0..100 {
            let Some((da, db)) = super::evaluation::newton_step2(self.sums(a, b)) else {
                break;
            };
            a -= da;
            b -= db;
            if da.abs() < 1e-10 && db.abs() < 1e-10 {
                break;
            }
        }
        (a, b)
    }
}

/// Two weightings of the same rows binned together (a replicate's counts `w` and the plain
/// 1 per row): one bin index, one centre and one cache line per row instead of two.
#[derive(Debug, Clone)]
pub struct BinnedPair {
    grid: Grid,
    /// Per bin: Σw, Σw·d, Σw·d², then Σ1, Σd, Σd² (`d = x − centre`), two unused.
    bins: Vec<Line>,
    /// Σw·y, Σw·y·x, Σy, Σy·x.
    y: [f64; 4],
}

/// One bin of a [`BinnedPair`], a cache line of its own.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Line([f64; 8]);

impl BinnedPair {
    /// Empty bins over `[lo, hi]`, as [`BinnedLogits::new`].
    pub fn new(lo: f64, hi: f64) -> BinnedPair {
        BinnedPair {
            grid: Grid::new(lo, hi),
            bins: vec![Line::default(); BINS],
            y: [0.0; 4],
        }
    }

    /// Add a row of log-odds `x` and outcome `y`, weighted `w` in the first weighting and 1
    /// in the second.
    #[inline(always)]
    pub fn add(&mut self, x: f64, y: u8, w: f64) {
        let j = self.grid.bin(x);
        let d = x - self.grid.centre(j);
        let b = &mut self.bins[j].0;
        let wd = w * d;
        b[0] += w;
        b[1] += wd;
        b[2] += wd * d;
        b[4] += 1.0;
        b[5] += d;
        b[6] += d * d;
        if y == 1 {
            self.y[0] += w;
            self.y[1] += w * x;
            self.y[2] += 1.0;
            self.y[3] += x;
        }
    }

    /// Bin `j`'s total weight, `[counts, plain]` (the rows in it, when weights are 1).
    pub fn weights(&self, j: usize) -> [f64; 2] {
        [self.bins[j].0[0], self.bins[j].0[4]]
    }

    /// [`BinnedPair::add`] of four rows in order, the bins, centres and moments computed
    /// four lanes at once: the same operations per row, so the same bits. Returns the four
    /// rows' bins.
    ///
    /// # Safety
    /// The processor must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn add4_avx2(&mut self, x: &[f64], y: &[u8], w: &[f64]) -> [i32; 4] {
        use std::arch::x86_64::*;
        assert!(x.len() >= 4 && y.len() >= 4 && w.len() >= 4, "four rows");
        // SAFETY: four values in each slice (checked above).
        let (xv, wv) = unsafe { (_mm256_loadu_pd(x.as_ptr()), _mm256_loadu_pd(w.as_ptr())) };
        // The bin: (x − lo)·per_width truncated, NaN and below 0 to 0, above to the last.
        let t = _mm256_mul_pd(
            _mm256_sub_pd(xv, _mm256_set1_pd(self.grid.lo)),
            _mm256_set1_pd(self.grid.per_width),
        );
        let t = _mm256_min_pd(
            _mm256_max_pd(t, _mm256_setzero_pd()),
            _mm256_set1_pd((BINS - 1) as f64),
        );
        let j = _mm256_cvttpd_epi32(t);
        let centre = _mm256_add_pd(
            _mm256_set1_pd(self.grid.lo),
            _mm256_mul_pd(
                _mm256_add_pd(_mm256_cvtepi32_pd(j), _mm256_set1_pd(0.5)),
                _mm256_set1_pd(self.grid.width),
            ),
        );
        let d = _mm256_sub_pd(xv, centre);
        let wd = _mm256_mul_pd(wv, d);
        let wdd = _mm256_mul_pd(wd, d);
        let dd = _mm256_mul_pd(d, d);
        let zero = _mm256_setzero_pd();
        // Rows to lines: lanes (w, w·d, w·d², 0) and (1, d, d², 0) of each row.
        let transpose = |a: __m256d, b: __m256d, c: __m256d| {
            let ab_lo = _mm256_unpacklo_pd(a, b);
            let ab_hi = _mm256_unpackhi_pd(a, b);
            let cz_lo = _mm256_unpacklo_pd(c, zero);
            let cz_hi = _mm256_unpackhi_pd(c, zero);
            [
                _mm256_permute2f128_pd::<0x20>(ab_lo, cz_lo),
                _mm256_permute2f128_pd::<0x20>(ab_hi, cz_hi),
                _mm256_permute2f128_pd::<0x31>(ab_lo, cz_lo),
                _mm256_permute2f128_pd::<0x31>(ab_hi, cz_hi),
            ]
        };
        let weighted = transpose(wv, wd, wdd);
        let plain = transpose(_mm256_set1_pd(1.0), d, dd);
        let mut js = [0i32; 4];
        // SAFETY: four lanes into an array of four.
        unsafe { _mm_storeu_si128(js.as_mut_ptr().cast(), j) };
        for t in 0..4 {
            let line = &mut self.bins[js[t] as usize].0;
            // SAFETY: a line is eight values, 64-byte aligned.
            unsafe {
                let p = line.as_mut_ptr();
                _mm256_store_pd(p, _mm256_add_pd(_mm256_load_pd(p), weighted[t]));
                _mm256_store_pd(p.add(4), _mm256_add_pd(_mm256_load_pd(p.add(4)), plain[t]));
            }
        }
        if y[..4].contains(&1) {
            for t in 0..4 {
                if y[t] == 1 {
                    self.y[0] += w[t];
                    self.y[1] += w[t] * x[t];
                    self.y[2] += 1.0;
                    self.y[3] += x[t];
                }
            }
        }
        js
    }

    /// Add another pair of bins over the same range (in a fixed order for reproducible
    /// bits).
    pub fn merge(&mut self, o: &BinnedPair) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            for k in 0..8 {
                a.0[k] += b.0[k];
            }
        }
        for k in 0..4 {
            self.y[k] += o.y[k];
        }
    }

    /// The two weightings' bins, `(counts, plain)`.
    pub fn split(&self) -> (BinnedLogits, BinnedLogits) {
        let one = |at: usize| BinnedLogits {
            grid: self.grid,
            bins: self
                .bins
                .iter()
                .map(|l| [l.0[at], l.0[at + 1], l.0[at + 2]])
                .collect(),
            y: [self.y[at / 2], self.y[at / 2 + 1]],
        };
        (one(0), one(4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Four rows at once in AVX2 give the bits of four rows one by one, with rows outside
    /// the range, infinities, NaN, shared bins and zero weights.
    #[test]
    fn four_rows_at_once_give_the_same_bits() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::arch::is_x86_feature_detected!("avx2") {
                return;
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
            let (mut one, mut four) = (BinnedPair::new(-3.0, 1.0), BinnedPair::new(-3.0, 1.0));
            let specials = [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -7.0,
                9.0,
                1.0,
                -3.0,
            ];
            let n = 40_000;
            let x: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 97 == 0 {
                        specials[(i / 97) % specials.len()]
                    } else if i % 5 == 0 {
                        -1.0 // many rows in one bin
                    } else {
                        -3.5 + 5.0 * rng.random::<f64>()
                    }
                })
                .collect();
            let y: Vec<u8> = (0..n)
                .map(|_| u8::from(rng.random::<f64>() < 0.2))
                .collect();
            let w: Vec<f64> = (0..n).map(|_| rng.random_range(0..4) as f64).collect();
            for i in 0..n {
                one.add(x[i], y[i], w[i]);
            }
            for g in (0..n).step_by(4) {
                // SAFETY: AVX2 checked above.
                let js = unsafe { four.add4_avx2(&x[g..g + 4], &y[g..g + 4], &w[g..g + 4]) };
                for t in 0..4 {
                    let want = Grid::new(-3.0, 1.0).bin(x[g + t]);
                    assert_eq!(js[t] as usize, want, "row {}: {}", g + t, x[g + t]);
                }
            }
            let bits = |b: &BinnedPair| {
                let mut v: Vec<u64> = b.bins.iter().flat_map(|l| l.0.map(f64::to_bits)).collect();
                v.extend(b.y.map(f64::to_bits));
                v
            };
            assert_eq!(bits(&one), bits(&four));
        }
    }

    #[test]
    fn slope_from_bins_matches_the_row_by_row_fit() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for case in 0..8 {
            let n = 20_000;
            let (shift, spread, truth) = [(-4.0, 1.5, 0.8), (-1.0, 2.0, 1.2)][case % 2];
            let x: Vec<f64> = (0..n)
                .map(|_| shift + spread * (rng.random::<f64>() - 0.5) * 4.0)
                .collect();
            let y: Vec<u8> = x
                .iter()
                .map(|&v| u8::from(rng.random::<f64>() < crate::stats::sigmoid(truth * v)))
                .collect();
            let u: Vec<f64> = (0..n)
                .map(|_| {
                    if case >= 4 {
                        rng.random_range(0..3) as f64
                    } else {
                        1.0
                    }
                })
                .collect();
            let (lo, hi) = (shift - 2.0 * spread, shift + 2.0 * spread);
            let mut bins = BinnedLogits::new(lo, hi);
            for i in 0..n {
                bins.add(x[i], y[i], u[i]);
            }
            let (_, b) = bins.fit();
            let exact = crate::stats::evaluation::calibration_slope_of_logits(&x, &y, &u);
            assert!((b - exact).abs() < 1e-8, "case {case}: {b} vs {exact}");
            // Both weightings in one pass, split into two halves merged in order.
            let (mut first, mut second) = (BinnedPair::new(lo, hi), BinnedPair::new(lo, hi));
            for i in 0..n {
                let half = if i < n / 3 { &mut first } else { &mut second };
                half.add(x[i], y[i], u[i]);
            }
            first.merge(&second);
            let (counts, plain) = first.split();
            let ones = vec![1.0; n];
            let exact_plain = crate::stats::evaluation::calibration_slope_of_logits(&x, &y, &ones);
            let (b_counts, b_plain) = (counts.fit().1, plain.fit().1);
            assert!(
                (b_counts - exact).abs() < 1e-8,
                "case {case}: {b_counts} vs {exact}"
            );
            assert!(
                (b_plain - exact_plain).abs() < 1e-8,
                "case {case}: {b_plain} vs {exact_plain}"
            );
        }
    }
}
