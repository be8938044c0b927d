//! AUC without sorting every row: the smaller class sorted once, the larger one streamed
//! past it. Each streamed value finds how much of the sorted class lies below it and how
//! much ties with it (a bucket index over the sorted values, then a search inside one
//! bucket), so the cost is `O(n + m log m)` for `m` rows of the smaller class, and the
//! pass over the larger class can be fused with any other pass over the rows.
//!
//! Values are compared by their order keys ([`crate::stats::order_key`]: the order of
//! [`f64::total_cmp`] with −0 = +0, NaN ranked as the sorts rank it). With integer weights
//! (bootstrap counts) every sum is exact, so the AUC has the same bits as a sorting one
//! ([`crate::stats::evaluation::auc_weighted_and_plain`]); [`crate::stats::auc`] is this.

/// One class's values, sorted, with the prefix sums of two weightings (a replicate's counts
/// and the plain 1 per row), and a bucket index over the values.
#[derive(Debug, Clone)]
pub struct SortedClass {
    /// Whether the sorted class is the positives (`y = 1`).
    pub positives: bool,
    values: Vec<u64>,
    /// `prefix[i]`: total weight of the first `i` values; `[weighted, plain]`.
    prefix: Vec<[f64; 2]>,
    /// The bucket index is linear in the value over the class's numbers (a NaN goes to the
    /// end its key sorts to): `min`, `scale` and the largest key.
    min: f64,
    scale: f64,
    max_key: u64,
    /// Four buckets per value, linear in the value (see [`Bucket`]).
    buckets: Vec<Bucket>,
    /// `start[b]`: index of bucket `b`'s first value in `values` (one more entry, `m`).
    start: Vec<u32>,
}

/// The most buckets a class has (a class of more than a million values has fewer than four
/// per value, and more of its streamed values take the search).
const MAX_BUCKETS: usize = 1 << 22;

/// One bucket, as the common case reads it: the wins of a value below the bucket's only
/// value (`base`; the whole bucket's wins if it is empty), and what a value above it adds
/// (`step` weighted; ±1 plain). `first` is that only value (+∞ when the bucket is empty,
/// NaN when it holds several values or a NaN, so that no value compares above or below
/// it and the row takes the search).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Bucket {
    first: f64,
    base: [f64; 2],
    step: f64,
}

/// The running sums of one streamed pass: `[weighted, plain]` Mann–Whitney U and the
/// streamed class's total weight.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairSums {
    /// Σ over pairs of w_pos · w_neg · (1 if the positive ranks above, ½ on a tie).
    pub u: [f64; 2],
    /// Streamed class's total weight.
    pub streamed: [f64; 2],
}

impl PairSums {
    /// Add another chunk's sums (in a fixed order for reproducible bits).
    pub fn add(&mut self, o: &PairSums) {
        for k in 0..2 {
            self.u[k] += o.u[k];
            self.streamed[k] += o.streamed[k];
        }
    }
}

impl SortedClass {
    /// Sort the `(risk, weight)` pairs of one class (a higher risk ranks a row as likelier
    /// to churn; compared by [`crate::stats::order_key`]); `positives`: whether they are the
    /// churned rows.
    pub fn new(items: Vec<(f64, f64)>, positives: bool) -> SortedClass {
        let mut items: Vec<(u64, f64, f64)> = items
            .into_iter()
            .map(|(v, w)| (super::order_key(v), v, w))
            .collect();
        items.sort_unstable_by_key(|a| a.0);
        let m = items.len();
        let mut prefix = Vec::with_capacity(m + 1);
        let mut acc = [0.0, 0.0];
        prefix.push(acc);
        for &(_, _, w) in &items {
            acc[0] += w;
            acc[1] += 1.0;
            prefix.push(acc);
        }
        let numbers = || items.iter().map(|t| t.1).filter(|v| !v.is_nan());
        let (min, max) = (
            numbers().next().unwrap_or(0.0),
            numbers().next_back().unwrap_or(0.0),
        );
        // Four times as many buckets as values: most hold at most one value, and a value
        // landing in such a bucket needs no search (at most `MAX_BUCKETS`, 144 MB).
        let count = Self::buckets_for(m);
        let scale = if max > min && (max - min).is_finite() {
            count as f64 / (max - min)
        } else {
            0.0
        };
        let mut s = SortedClass {
            positives,
            values: Vec::new(),
            prefix,
            min,
            scale,
            max_key: items.last().map_or(0, |t| t.0),
            buckets: vec![Bucket::default(); count],
            start: Vec::new(),
        };
        let mut start = vec![0u32; count + 1];
        let mut b = 0;
        for (i, &(key, v, _)) in items.iter().enumerate() {
            let bv = s.bucket(v, key);
            while b < bv {
                b += 1;
                start[b] = i as u32;
            }
        }
        for e in start.iter_mut().skip(b + 1) {
            *e = m as u32;
        }
        let total = s.prefix[m];
        for (k, bucket) in s.buckets.iter_mut().enumerate() {
            let (from, to) = (start[k] as usize, start[k + 1] as usize);
            let below = s.prefix[from];
            // A value below the bucket's values beats (a streamed negative: the positives
            // above it) or is beaten by all of them.
            let base = if positives {
                [total[0] - below[0], total[1] - below[1]]
            } else {
                below
            };
            let first_weight = if to > from {
                s.prefix[from + 1][0] - below[0]
            } else {
                0.0
            };
            *bucket = Bucket {
                first: match to - from {
                    0 => f64::INFINITY,
                    1 => items[from].1,
                    _ => f64::NAN,
                },
                base,
                step: if positives {
                    -first_weight
                } else {
                    first_weight
                },
            };
        }
        s.values = items.into_iter().map(|t| t.0).collect();
        s.start = start;
        s
    }

    /// Buckets for `m` sorted values.
    fn buckets_for(m: usize) -> usize {
        (4 * m.max(1)).min(MAX_BUCKETS)
    }

    /// The memory a class of `m` values takes, in bytes (values, prefix sums, buckets).
    pub fn bytes(m: usize) -> usize {
        m * (8 + 16) + Self::buckets_for(m) * (std::mem::size_of::<Bucket>() + 4)
    }

    /// The bucket of value `v` with order key `key`: linear in the value (monotone: below
    /// the class's smallest number, bucket 0; above its largest, the last), a NaN at the end
    /// its key sorts to.
    #[inline(always)]
    fn bucket(&self, v: f64, key: u64) -> usize {
        let last = self.buckets.len() - 1;
        if v.is_nan() {
            return if key >= self.max_key { last } else { 0 };
        }
        (((v - self.min) * self.scale) as usize).min(last)
    }

    /// Number of sorted values below `v` and at or below `v` (in [`crate::stats::order_key`]
    /// order).
    pub fn place(&self, v: f64) -> (usize, usize) {
        let key = super::order_key(v);
        self.search(self.bucket(v, key), key)
    }

    /// [`SortedClass::place`] of the value with order key `key`, in its bucket `b`.
    #[inline(always)]
    fn search(&self, b: usize, key: u64) -> (usize, usize) {
        let (from, to) = (self.start[b] as usize, self.start[b + 1] as usize);
        let inside = &self.values[from..to];
        let lo = from + inside.partition_point(|&x| x < key);
        let hi = lo + inside[lo - from..].partition_point(|&x| x <= key);
        (lo, hi)
    }

    /// `[weighted, plain]` wins of a streamed row of risk `v` against the sorted class
    /// (the sorted class's weight it beats, plus half the weight it ties), before the row's
    /// own weight: `u[0] += w · wins[0]` and `u[1] += wins[1]` are its Mann–Whitney terms.
    /// Every term is a half-integer when the weights are integers, so a pass may add them in
    /// any order (several accumulators, registers rather than memory) with the same bits.
    /// This is the case that needs no search (`v`'s bucket holds at most one value,
    /// both numbers): most rows. `None` otherwise, for [`SortedClass::wins_searched`]; a
    /// pass that leaves those for later keeps its loop free of calls.
    #[inline(always)]
    pub fn wins_quick(&self, v: f64) -> Option<[f64; 2]> {
        // The bucket of a number as `bucket` finds it (a NaN goes to bucket 0 here, whose
        // comparisons below fail, and takes the search).
        let last = self.buckets.len() - 1;
        let t = ((v - self.min) * self.scale).max(0.0).min(last as f64);
        // SAFETY: `t` is a number in [0, last] (`max` turns NaN into 0).
        let b = &self.buckets[unsafe { t.to_int_unchecked::<usize>() }];
        let (above, below) = (v > b.first, v < b.first);
        if !(above || below) {
            return None;
        }
        let a = f64::from(u8::from(above));
        let plain_step = if self.positives { -1.0 } else { 1.0 };
        Some([b.base[0] + a * b.step, b.base[1] + a * plain_step])
    }

    /// [`SortedClass::wins_quick`] of four values at once: the weighted and plain wins in
    /// the lanes, and a bit mask of the lanes that have them (the others need
    /// [`SortedClass::wins_searched`]; their lanes hold nothing useful). The same
    /// operations per lane, so the same bits.
    ///
    /// # Safety
    /// The processor must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn wins4_avx2(
        &self,
        v: std::arch::x86_64::__m256d,
    ) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d, i32) {
        use std::arch::x86_64::*;
        let last = self.buckets.len() - 1;
        let t = _mm256_mul_pd(
            _mm256_sub_pd(v, _mm256_set1_pd(self.min)),
            _mm256_set1_pd(self.scale),
        );
        // NaN and below 0 to 0 (`max` returns its second operand for a NaN), above to the
        // last bucket.
        let t = _mm256_min_pd(
            _mm256_max_pd(t, _mm256_setzero_pd()),
            _mm256_set1_pd(last as f64),
        );
        let mut js = [0i32; 4];
        // SAFETY: four lanes into an array of four.
        unsafe { _mm_storeu_si128(js.as_mut_ptr().cast(), _mm256_cvttpd_epi32(t)) };
        // Each bucket is four values (first, base, base, step): four loads, transposed.
        let row = |j: i32| {
            let b = &self.buckets[j as usize];
            // SAFETY: `Bucket` is four f64 in order (`repr(C)`).
            unsafe { _mm256_loadu_pd((b as *const Bucket).cast()) }
        };
        let (r0, r1, r2, r3) = (row(js[0]), row(js[1]), row(js[2]), row(js[3]));
        let lo01 = _mm256_unpacklo_pd(r0, r1);
        let hi01 = _mm256_unpackhi_pd(r0, r1);
        let lo23 = _mm256_unpacklo_pd(r2, r3);
        let hi23 = _mm256_unpackhi_pd(r2, r3);
        let first = _mm256_permute2f128_pd::<0x20>(lo01, lo23);
        let base0 = _mm256_permute2f128_pd::<0x20>(hi01, hi23);
        let base1 = _mm256_permute2f128_pd::<0x31>(lo01, lo23);
        let step = _mm256_permute2f128_pd::<0x31>(hi01, hi23);
        let above = _mm256_cmp_pd::<_CMP_GT_OQ>(v, first);
        let below = _mm256_cmp_pd::<_CMP_LT_OQ>(v, first);
        let plain_step = _mm256_set1_pd(if self.positives { -1.0 } else { 1.0 });
        (
            _mm256_add_pd(base0, _mm256_and_pd(above, step)),
            _mm256_add_pd(base1, _mm256_and_pd(above, plain_step)),
            _mm256_movemask_pd(_mm256_or_pd(above, below)),
        )
    }

    /// [`SortedClass::wins_quick`]'s wins by a search inside `v`'s bucket (any value; needed where the
    /// bucket holds several values, or for a NaN). Kept out of line, so that the common path
    /// stays small.
    #[cold]
    #[inline(never)]
    pub fn wins_searched(&self, v: f64) -> [f64; 2] {
        let total = self.prefix[self.values.len()];
        let key = super::order_key(v);
        let (lo, hi) = self.search(self.bucket(v, key), key);
        let (below, upto) = (self.prefix[lo], self.prefix[hi]);
        let mut out = [0.0; 2];
        for k in 0..2 {
            let tied = upto[k] - below[k];
            // The streamed row is a negative: positives above it (higher risk) count; it is a
            // positive: negatives below it count.
            let wins = if self.positives {
                total[k] - upto[k]
            } else {
                below[k]
            };
            out[k] = wins + 0.5 * tied;
        }
        out
    }

    /// The Mann–Whitney sums of a block of rows against the sorted class: the rows of the
    /// other class (outcomes `y`) with risks `v` (or `−v` when `negate`: scores, whose
    /// lower values are the riskier) and weights `w`. The sums are in registers, four lanes
    /// at a time where the processor has AVX2, and the rows needing a search wait in `pend`
    /// until after the loop, so the loop makes no call; every term is exact (integer
    /// weights), so the order does not change the bits.
    pub fn stream_rows(
        &self,
        v: &[f64],
        negate: bool,
        y: &[u8],
        w: &[f64],
        pend: &mut Vec<u32>,
    ) -> PairSums {
        let (class, s, sort_positives) = (self, v, self.positives);
        let sign = if negate { -1.0 } else { 1.0 };
        let (mut u, mut streamed) = ([0.0; 2], [0.0; 2]);
        pend.resize(s.len(), 0);
        let mut waiting = 0;
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            (u, streamed, waiting) = unsafe { wins_avx2(class, negate, s, y, w, pend) };
            done = s.len() / 4 * 4;
        }
        for (i, ((&s, &yy), &w)) in s.iter().zip(y).zip(w).enumerate().skip(done) {
            if (yy == 1) != sort_positives {
                streamed[0] += w;
                streamed[1] += 1.0;
                match class.wins_quick(sign * s) {
                    Some(c) => {
                        u[0] += w * c[0];
                        u[1] += c[1];
                    }
                    None => {
                        pend[waiting] = i as u32;
                        waiting += 1;
                    }
                }
            }
        }
        for &i in &pend[..waiting] {
            let c = class.wins_searched(sign * s[i as usize]);
            u[0] += w[i as usize] * c[0];
            u[1] += c[1];
        }
        PairSums { u, streamed }
    }

    /// [`SortedClass::stream_rows`] of the listed rows only (each of the streamed class):
    /// their risks `v` (or `−v` when `negate`) and weights `w`, by row. For a pass that
    /// settles the other rows' wins another way.
    pub fn stream_listed(&self, v: &[f64], negate: bool, w: &[f64], rows: &[u32]) -> PairSums {
        let sign = if negate { -1.0 } else { 1.0 };
        let (mut u, mut streamed) = ([0.0; 2], [0.0; 2]);
        for &i in rows {
            let (v, w) = (sign * v[i as usize], w[i as usize]);
            streamed[0] += w;
            streamed[1] += 1.0;
            let c = self.wins_quick(v).unwrap_or_else(|| self.wins_searched(v));
            u[0] += w * c[0];
            u[1] += c[1];
        }
        PairSums { u, streamed }
    }

    /// `[weighted, plain]` AUC from the streamed pass's sums (NaN with one class empty).
    pub fn auc(&self, sums: &PairSums) -> [f64; 2] {
        let total = self.prefix[self.values.len()];
        let mut out = [f64::NAN; 2];
        for k in 0..2 {
            if total[k] > 0.0 && sums.streamed[k] > 0.0 {
                out[k] = sums.u[k] / (total[k] * sums.streamed[k]);
            }
        }
        out
    }
}

/// [`SortedClass::stream_rows`] of the whole groups of four rows, four lanes at once: the sums (exact, so in
/// any order) and the rows waiting for a search, counted.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn wins_avx2(
    class: &SortedClass,
    negate: bool,
    s: &[f64],
    y: &[u8],
    w: &[f64],
    pend: &mut [u32],
) -> ([f64; 2], [f64; 2], usize) {
    use std::arch::x86_64::*;
    let (mut u0, mut u1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut st0, mut st1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let one = _mm256_set1_pd(1.0);
    let sort_positives = class.positives;
    // The sign bit flipped (−v) or left (v).
    let sign = _mm256_set1_pd(if negate { -0.0 } else { 0.0 });
    let mut waiting = 0;
    let whole = s.len().min(y.len()).min(w.len()) / 4 * 4;
    for g in (0..whole).step_by(4) {
        // The streamed rows of the group, as a bit mask and as lanes.
        let mut bits = 0;
        for t in 0..4 {
            bits |= i32::from((y[g + t] == 1) != sort_positives) << t;
        }
        if bits == 0 {
            continue;
        }
        let lane = |b: i32| -i64::from(bits >> b & 1);
        let streamed = _mm256_castsi256_pd(_mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0)));
        // SAFETY: g + 3 < whole ≤ both lengths.
        let (sv, wv) = unsafe {
            (
                _mm256_loadu_pd(s.as_ptr().add(g)),
                _mm256_loadu_pd(w.as_ptr().add(g)),
            )
        };
        // SAFETY: the processor supports AVX2 (this function's contract).
        let (c0, c1, quick) = unsafe { class.wins4_avx2(_mm256_xor_pd(sv, sign)) };
        let taken = bits & quick;
        let lane = |b: i32| -i64::from(taken >> b & 1);
        let used = _mm256_castsi256_pd(_mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0)));
        u0 = _mm256_add_pd(u0, _mm256_and_pd(used, _mm256_mul_pd(wv, c0)));
        u1 = _mm256_add_pd(u1, _mm256_and_pd(used, c1));
        st0 = _mm256_add_pd(st0, _mm256_and_pd(streamed, wv));
        st1 = _mm256_add_pd(st1, _mm256_and_pd(streamed, one));
        let mut left = bits & !quick;
        while left != 0 {
            let t = left.trailing_zeros() as usize;
            pend[waiting] = (g + t) as u32;
            waiting += 1;
            left &= left - 1;
        }
    }
    let sum = |v: __m256d| {
        let mut a = [0.0; 4];
        // SAFETY: four lanes into an array of four.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) };
        (a[0] + a[1]) + (a[2] + a[3])
    };
    ([sum(u0), sum(u1)], [sum(st0), sum(st1)], waiting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn run(risk: &[f64], y: &[u8], w: &[f64]) -> [f64; 2] {
        let pos = y.iter().filter(|&&v| v == 1).count();
        let sort_pos = pos <= y.len() - pos;
        let sorted: Vec<(f64, f64)> = (0..y.len())
            .filter(|&i| (y[i] == 1) == sort_pos)
            .map(|i| (risk[i], w[i]))
            .collect();
        let class = SortedClass::new(sorted, sort_pos);
        // The block streaming (four lanes where the processor has AVX2), and row by row
        // by the portable quick path or the search: the same sums.
        let mut pend = Vec::new();
        let sums = class.stream_rows(risk, false, y, w, &mut pend);
        let mut rows = PairSums::default();
        for i in 0..y.len() {
            if (y[i] == 1) != sort_pos {
                let c = class
                    .wins_quick(risk[i])
                    .unwrap_or_else(|| class.wins_searched(risk[i]));
                rows.u[0] += w[i] * c[0];
                rows.u[1] += c[1];
                rows.streamed[0] += w[i];
                rows.streamed[1] += 1.0;
            }
        }
        assert_eq!(sums, rows);
        class.auc(&sums)
    }

    #[test]
    fn same_bits_as_the_sorting_auc_with_ties_and_counts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..60 {
            let n = 1 + rng.random_range(0..3000);
            let rate = [0.02, 0.3, 0.5, 0.9][case % 4];
            let levels = [3.0, 40.0, 1e9][case % 3];
            let mut risk: Vec<f64> = (0..n)
                .map(|_| (rng.random::<f64>() * levels).floor() - 7.0)
                .collect();
            let y: Vec<u8> = (0..n)
                .map(|_| u8::from(rng.random::<f64>() < rate))
                .collect();
            // NaN ranks as the sorts rank it (its order key).
            if case % 5 == 0 {
                risk[rng.random_range(0..n)] = f64::NAN;
            }
            let w: Vec<f64> = (0..n).map(|_| rng.random_range(0..4) as f64).collect();
            let [aw, ap] = run(&risk, &y, &w);
            let (ew, ep) = crate::stats::evaluation::auc_weighted_and_plain(&risk, &y, &w);
            assert_eq!(
                ap.to_bits(),
                crate::stats::auc(&risk, &y).to_bits(),
                "case {case}"
            );
            assert_eq!(ap.to_bits(), ep.to_bits(), "case {case}");
            assert_eq!(aw.is_nan(), ew.is_nan(), "case {case}");
            if !aw.is_nan() {
                assert_eq!(aw.to_bits(), ew.to_bits(), "case {case}");
            }
        }
    }

    /// A class of more values than the bucket cap allows four buckets each (fewer buckets
    /// per value, more searches): still the sorting AUC's bits.
    #[test]
    fn a_class_beyond_the_bucket_cap_gives_the_same_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        // Both classes larger than the cap's quarter: the sorted (smaller) one too.
        let half = MAX_BUCKETS / 4 + 30_000;
        let n = 2 * half + 1;
        let y: Vec<u8> = (0..n).map(|i| u8::from(i % 2 == 0)).collect();
        let risk: Vec<f64> = (0..n)
            .map(|i| (rng.random::<f64>() * 3e5).floor() + f64::from(y[i]) * 5e4)
            .collect();
        let w: Vec<f64> = (0..n).map(|_| rng.random_range(0..3) as f64).collect();
        let negatives = y.iter().filter(|&&v| v == 0).count();
        assert!(4 * negatives > MAX_BUCKETS);
        let sorted: Vec<(f64, f64)> = (0..n)
            .filter(|&i| y[i] == 0)
            .map(|i| (risk[i], w[i]))
            .collect();
        let class = SortedClass::new(sorted, false);
        assert_eq!(class.buckets.len(), MAX_BUCKETS);
        // Streamed a block at a time, four lanes where the processor has AVX2.
        let mut sums = PairSums::default();
        let mut pend = Vec::new();
        for ((r, yy), ww) in risk
            .chunks(100_003)
            .zip(y.chunks(100_003))
            .zip(w.chunks(100_003))
        {
            sums.add(&class.stream_rows(r, false, yy, ww, &mut pend));
        }
        let [aw, ap] = class.auc(&sums);
        let (ew, ep) = crate::stats::evaluation::auc_weighted_and_plain(&risk, &y, &w);
        assert_eq!(ap.to_bits(), ep.to_bits());
        assert_eq!(aw.to_bits(), ew.to_bits());
    }

    #[test]
    fn one_value_and_extremes() {
        assert_eq!(run(&[1.0, 1.0, 1.0], &[1, 0, 0], &[1.0; 3]), [0.5, 0.5]);
        assert_eq!(run(&[3.0, 1.0, 2.0], &[1, 0, 0], &[1.0; 3]), [1.0, 1.0]);
        assert_eq!(run(&[-3.0, 1.0, 2.0], &[1, 0, 0], &[1.0; 3]), [0.0, 0.0]);
        assert!(run(&[1.0, 2.0], &[0, 0], &[1.0; 2])[1].is_nan());
    }
}
