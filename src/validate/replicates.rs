//! The figures of one optimism replicate over every row in one pass that sorts nothing
//! large: the refit's scores, probabilities, Brier scores, both AUCs (the smaller class
//! sorted, [`crate::stats::pairs`]) and the bins of its log-odds from which both
//! calibration-slope fits (on the replicate's own rows and on the original rows) are then
//! solved ([`crate::stats::binned_slope`]).
//!
//! The pass sums fixed chunks of rows in parallel and adds the chunk sums in order, and the
//! probabilities come from the branch-free [`crate::stats::fastexp`] (four lanes where the
//! processor has AVX2), so the figures have the same bits whatever the thread count.

use rayon::prelude::*;

use super::Figures;
use crate::calibrate::problem::FitData;
use crate::stats::binned_slope::{BinnedPair, Grid, BINS};
use crate::stats::fastexp;
use crate::stats::pairs::{PairSums, SortedClass};

/// One replicate to judge: each part's fit (intercept and weights), and the replicate's
/// count of every account.
pub(super) type Replicate<'a> = (&'a [(f64, Vec<f64>)], &'a [f64]);

/// Rows per parallel work item (each carries its own bins).
const CHUNK: usize = 1 << 18;

/// The rows every replicate is judged on: the parts' fitting data one after another (each
/// part one profile's rows), each row's account and outcome.
pub(super) struct Rows<'a> {
    /// Each part's data and the row where it starts.
    parts: Vec<(&'a FitData, usize)>,
    /// `(part, first, end)` local row ranges of at most [`CHUNK`] rows, in row order.
    chunks: Vec<(usize, usize, usize)>,
    /// Account (0-based, in order of first appearance) of every row.
    account: Vec<u32>,
    /// Whether the positives are the smaller class (then they are the sorted one).
    sort_positives: bool,
    /// `(part, local row)` of the sorted class's rows.
    sorted: Vec<(u32, u32)>,
}

impl<'a> Rows<'a> {
    /// `parts`: each part's data, its rows following the previous part's; `account`: each
    /// row's account index.
    pub(super) fn new(parts: Vec<&'a FitData>, account: Vec<u32>) -> Rows<'a> {
        let mut placed = Vec::with_capacity(parts.len());
        let mut chunks = Vec::new();
        let mut offset = 0;
        let mut positives = 0;
        for (q, fd) in parts.iter().enumerate() {
            placed.push((*fd, offset));
            let mut from = 0;
            while from < fd.n {
                let end = (from + CHUNK).min(fd.n);
                chunks.push((q, from, end));
                from = end;
            }
            positives += fd.y.iter().filter(|&&v| v == 1).count();
            offset += fd.n;
        }
        assert_eq!(offset, account.len(), "one account per row");
        let sort_positives = positives <= offset - positives;
        let mut sorted = Vec::new();
        for (q, fd) in parts.iter().enumerate() {
            for (i, &v) in fd.y.iter().enumerate() {
                if (v == 1) == sort_positives {
                    sorted.push((q as u32, i as u32));
                }
            }
        }
        Rows {
            parts: placed,
            chunks,
            account,
            sort_positives,
            sorted,
        }
    }

    /// The accounts of rows `from .. from + n`.
    pub(super) fn accounts(&self, from: usize, n: usize) -> &[u32] {
        &self.account[from..from + n]
    }

    /// Own-sample and original-rows figures of the fits `fits` (each part's intercept and
    /// weights) for a replicate that counts account `a` `counts[a]` times.
    #[cfg(test)]
    fn figures(&self, fits: &[(f64, Vec<f64>)], counts: &[f64]) -> (Figures, Figures) {
        self.figures_of(&[(fits, counts)])
            .pop()
            .expect("one replicate's figures")
    }

    /// How many replicates [`Rows::figures_of`] should judge at once: up to four (each
    /// block of the sub-score matrix is then read from memory once for all of them, and
    /// from the core's cache for the others), fewer where the sorted class is large, so
    /// that their indexes stay within [`CLASSES_BYTES`] together.
    pub(super) fn batch(&self) -> usize {
        let bytes = SortedClass::bytes(self.sorted.len()).max(1);
        (CLASSES_BYTES / bytes).clamp(1, 4)
    }

    /// [`Rows::figures`] of several replicates in one pass over the rows; each replicate's
    /// figures are those it has alone (the same bits).
    pub(super) fn figures_of(&self, reps: &[Replicate<'_>]) -> Vec<(Figures, Figures)> {
        // Every part's log-odds lie in [α − Σβ, α] (scores in [0, 1]): the bins' range.
        let ranges: Vec<(f64, f64)> = reps
            .iter()
            .map(|&(fits, _)| {
                fits.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), f| {
                        let slope = -f.1.iter().sum::<f64>();
                        (lo.min(f.0 + slope.min(0.0)), hi.max(f.0 + slope.max(0.0)))
                    })
            })
            .collect();
        // The sorted class (risk = −score, weighted by the replicate's counts), and with one
        // part the bins its rows fall in.
        let (classes, marks): (Vec<SortedClass>, Vec<Option<Marks>>) = reps
            .iter()
            .zip(&ranges)
            .map(|(&(fits, counts), &(lo, hi))| {
                let mut marks = match fits {
                    [(alpha, beta)] => Marks::new(
                        *alpha,
                        -beta.iter().sum::<f64>(),
                        (lo, hi),
                        self.sort_positives,
                    ),
                    _ => None,
                };
                let mut items = Vec::with_capacity(self.sorted.len());
                for &(q, i) in &self.sorted {
                    let (fd, offset) = self.parts[q as usize];
                    let beta = &fits[q as usize].1;
                    let w = counts[self.account[offset + i as usize] as usize];
                    let s = fd.score_row(i as usize, beta);
                    if marks.as_mut().is_some_and(|m| !m.mark(s, w)) {
                        marks = None;
                    }
                    items.push((-s, w));
                }
                (SortedClass::new(items, self.sort_positives), marks)
            })
            .unzip();
        // Each chunk's sums, in parallel.
        let pass = |sc: &mut Scratch, &(q, from, end): &(usize, usize, usize)| -> Vec<Pass> {
            let (fd, offset) = self.parts[q];
            let mut passes: Vec<(Pass, Brier)> = ranges
                .iter()
                .map(|&(lo, hi)| (Pass::new(lo, hi), Brier::default()))
                .collect();
            // Blocks of rows small enough that the buffers between the steps, and the
            // block's sub-scores for the next replicate, stay in the core's cache (a
            // multiple of 4, so each row keeps its Brier lane).
            for first in (from..end).step_by(BLOCK) {
                let last = (first + BLOCK).min(end);
                let n = last - first;
                let y = &fd.y[first..last];
                for (((&(fits, counts), class), mark), (pass, brier)) in
                    reps.iter().zip(&classes).zip(&marks).zip(passes.iter_mut())
                {
                    let (alpha, beta) = (fits[q].0, &fits[q].1);
                    let slope = -beta.iter().sum::<f64>();
                    sc.s.resize(n, 0.0);
                    fd.scores_into(first, beta, &mut sc.s);
                    sc.w.clear();
                    sc.w.extend(
                        self.account[offset + first..offset + last]
                            .iter()
                            .map(|&a| counts[a as usize]),
                    );
                    sc.lp.resize(n, 0.0);
                    for (x, &s) in sc.lp.iter_mut().zip(&sc.s) {
                        *x = alpha + slope * s;
                    }
                    sc.p.resize(sc.lp.len(), 0.0);
                    fastexp::sigmoid_slice(&sc.lp, &mut sc.p);
                    let rows = (&sc.p[..], &sc.lp[..], y, &sc.w[..]);
                    let wins = match mark {
                        None => {
                            brier_and_bins(rows, brier, &mut pass.bins, None);
                            class.stream_rows(&sc.s, true, y, &sc.w, &mut sc.pend)
                        }
                        // Only the rows in bins the sorted class shares need its wins.
                        Some(m) => {
                            let listed = Some((m, &mut sc.listed));
                            brier_and_bins(rows, brier, &mut pass.bins, listed);
                            class.stream_listed(&sc.s, true, &sc.w, &sc.listed)
                        }
                    };
                    pass.pairs.add(&wins);
                }
            }
            let lanes = |a: [f64; 4]| (a[0] + a[1]) + (a[2] + a[3]);
            passes
                .into_iter()
                .map(|(mut pass, brier)| {
                    pass.brier = [lanes(brier.own), lanes(brier.plain)];
                    pass.weight = lanes(brier.weight);
                    pass.rows = (end - from) as f64;
                    pass
                })
                .collect()
        };
        // The chunks a window at a time, each window's sums added in chunk order (as all of
        // them at once would be, the same bits): memory holds a window's bins, not every
        // chunk's (at 10M rows 39 chunks × 4 replicates × 256 kB).
        let mut totals: Vec<Pass> = ranges.iter().map(|&(lo, hi)| Pass::new(lo, hi)).collect();
        let window = 4 * rayon::current_num_threads().max(1);
        for group in self.chunks.chunks(window) {
            let sums: Vec<Vec<Pass>> = group.par_iter().map_init(Scratch::default, pass).collect();
            for chunk in &sums {
                for (total, sum) in totals.iter_mut().zip(chunk) {
                    total.add(sum);
                }
            }
        }
        totals
            .into_iter()
            .enumerate()
            .map(|(r, mut total)| {
                if let Some(m) = &marks[r] {
                    total.pairs.add(&m.unlisted(&total.bins));
                }
                let [auc_own, auc_test] = classes[r].auc(&total.pairs);
                let (own, test) = total.bins.split();
                (
                    Figures {
                        auc: auc_own,
                        brier: total.brier[0] / total.weight,
                        slope: own.fit().1,
                    },
                    Figures {
                        auc: auc_test,
                        brier: total.brier[1] / total.rows,
                        slope: test.fit().1,
                    },
                )
            })
            .collect()
    }
}

/// The sorted classes' indexes of the replicates judged at once stay within this many
/// bytes together (see [`Rows::batch`]).
const CLASSES_BYTES: usize = 256 << 20;

/// One thread's buffers for its chunks: scores, weights, log-odds, probabilities, and the
/// rows whose wins need a search.
#[derive(Default)]
struct Scratch {
    s: Vec<f64>,
    w: Vec<f64>,
    lp: Vec<f64>,
    p: Vec<f64>,
    pend: Vec<u32>,
    listed: Vec<u32>,
}

/// Rows per block inside a chunk: the scores, weights, log-odds and probabilities of a
/// block (16 kB each) stay in the core's cache between the steps that make and read them,
/// and so does its sub-score matrix (208 kB at 13 metrics) between the replicates.
const BLOCK: usize = 2048;

/// A chunk's Brier sums so far, in four lanes (row `i` of the chunk in lane `i % 4`, the
/// last `n % 4` rows in lane 0), added in a fixed order at the end.
#[derive(Default, Clone, Copy)]
struct Brier {
    own: [f64; 4],
    plain: [f64; 4],
    weight: [f64; 4],
}

/// A block's rows `(p, lp, y, w)`: probabilities, log-odds, outcomes and weights.
type BlockRows<'b> = (&'b [f64], &'b [f64], &'b [u8], &'b [f64]);

/// One block's Brier sums into `brier` and its log-odds `lp` binned for the slope fits
/// into `bins` (four rows at a time in AVX2 where the processor has it: the same bits).
/// With `listed`, the rows of the streamed class whose bins [`Marks`] marks are listed
/// in it, in order (block row numbers).
fn brier_and_bins(
    rows: BlockRows<'_>,
    brier: &mut Brier,
    bins: &mut BinnedPair,
    listed: Option<(&Marks, &mut Vec<u32>)>,
) {
    let (p, lp, y, w) = rows;
    let whole = p.len() / 4 * 4;
    let groups = (&p[..whole], &lp[..whole], &y[..whole], &w[..whole]);
    let mut mark = listed.map(|(m, out)| {
        out.clear();
        out.resize(p.len(), 0);
        (m, out, 0)
    });
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { groups_avx2(groups, brier, bins, &mut mark) };
        brier_tail(rows, whole, brier, bins, &mut mark);
        return;
    }
    groups_of_four::<false>(groups, brier, bins, &mut mark);
    brier_tail(rows, whole, brier, bins, &mut mark);
}

/// The marks of a replicate, the list of rows and how many it holds so far.
type Listing<'m> = Option<(&'m Marks, &'m mut Vec<u32>, usize)>;

/// Lists row `i` of bin `j` and outcome `y` if it needs its wins (branch-free: the slot
/// is written either way, the count moves only for a listed row).
#[inline(always)]
fn list(mark: &mut Listing<'_>, i: usize, j: usize, y: u8) {
    if let Some((m, out, len)) = mark {
        out[*len] = i as u32;
        *len += usize::from(m.lists(j, y));
    }
}

/// Whole groups of four rows `(p, lp, y, w)`: their Brier terms into their lanes (summed in
/// registers for the block, not behind the reference) and their bins, four at a time in
/// AVX2 when `AVX`; the listed rows into `mark`.
#[inline(always)]
fn groups_of_four<const AVX: bool>(
    (p, lp, y, w): BlockRows<'_>,
    brier: &mut Brier,
    bins: &mut BinnedPair,
    mark: &mut Listing<'_>,
) {
    let mut sums = *brier;
    for (g, (((p4, y4), w4), x4)) in p
        .chunks_exact(4)
        .zip(y.chunks_exact(4))
        .zip(w.chunks_exact(4))
        .zip(lp.chunks_exact(4))
        .enumerate()
    {
        brier4(p4, y4, w4, &mut sums);
        #[cfg(target_arch = "x86_64")]
        if AVX {
            // SAFETY: AVX is true only inside `groups_avx2`, whose caller checked AVX2.
            let js = unsafe { bins.add4_avx2(x4, y4, w4) };
            if mark.is_some() {
                for t in 0..4 {
                    list(mark, 4 * g + t, js[t] as usize, y4[t]);
                }
            }
            continue;
        }
        for t in 0..4 {
            bins.add(x4[t], y4[t], w4[t]);
            if let Some((m, _, _)) = mark {
                let j = m.bin(x4[t]);
                list(mark, 4 * g + t, j, y4[t]);
            }
        }
    }
    *brier = sums;
    if let Some((_, out, len)) = mark {
        out.truncate(*len);
    }
}

/// [`groups_of_four`] compiled for AVX2.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn groups_avx2(
    groups: BlockRows<'_>,
    brier: &mut Brier,
    bins: &mut BinnedPair,
    mark: &mut Listing<'_>,
) {
    groups_of_four::<true>(groups, brier, bins, mark);
}

/// Four rows' Brier terms into their lanes.
#[inline(always)]
fn brier4(p4: &[f64], y4: &[u8], w4: &[f64], brier: &mut Brier) {
    for t in 0..4 {
        let e = (p4[t] - f64::from(y4[t])).powi(2);
        brier.own[t] += w4[t] * e;
        brier.plain[t] += e;
        brier.weight[t] += w4[t];
    }
}

/// The rows from `whole` on (fewer than four) into lane 0 and the bins, and into the list.
fn brier_tail(
    (p, lp, y, w): BlockRows<'_>,
    whole: usize,
    brier: &mut Brier,
    bins: &mut BinnedPair,
    mark: &mut Listing<'_>,
) {
    if let Some((_, out, len)) = mark {
        // `groups_of_four` cut the list to its length.
        out.resize(*len + (p.len() - whole), 0);
    }
    for i in whole..p.len() {
        let e = (p[i] - f64::from(y[i])).powi(2);
        brier.own[0] += w[i] * e;
        brier.plain[0] += e;
        brier.weight[0] += w[i];
        bins.add(lp[i], y[i], w[i]);
        if let Some((m, _, _)) = mark {
            let j = m.bin(lp[i]);
            list(mark, i, j, y[i]);
        }
    }
    if let Some((_, out, len)) = mark {
        out.truncate(*len);
    }
}

/// Which bins of a replicate's log-odds hold a row of the sorted class, when the bins are
/// in the order of the rows' risk: one part (one intercept and slope for every row) and a
/// negative slope, so that a row in a higher bin has a higher log-odds, a lower score and
/// a higher risk. A streamed row in a bin without a sorted row then beats (or is beaten
/// by) whole bins: its wins are the sorted class's weight in the bins above (or below),
/// and such rows are counted from the bins' totals after the pass ([`Marks::unlisted`]).
/// Only the rows in marked bins are listed for their wins one by one. Every term is an
/// integer (weights are counts), so the sums have the bits of the row-by-row ones.
struct Marks {
    alpha: f64,
    slope: f64,
    /// The bins of the pass (over the replicate's range of log-odds).
    grid: Grid,
    /// Bit `j`: bin `j` is marked (a sorted row in it; bin 0 always, where a NaN goes).
    bits: Vec<u64>,
    marked: usize,
    /// The sorted class's `[counts, plain]` weight per bin.
    class: Vec<[f64; 2]>,
    /// Outcome of the streamed class.
    streamed_y: u8,
    sort_positives: bool,
}

/// The most bins a sorted class may mark for [`Marks`] to be used: past it, most rows would
/// be listed and the plain pass is as quick.
const MAX_MARKED: usize = BINS / 8;

impl Marks {
    /// Marks for log-odds `alpha + slope · score` binned over `range`, or `None` when the
    /// bins are not in the order of risk.
    fn new(alpha: f64, slope: f64, range: (f64, f64), sort_positives: bool) -> Option<Marks> {
        let finite = alpha.is_finite() && range.0.is_finite() && range.1.is_finite();
        (finite && slope < 0.0).then(|| Marks {
            alpha,
            slope,
            grid: Grid::new(range.0, range.1),
            bits: {
                let mut bits = vec![0; BINS.div_ceil(64)];
                bits[0] = 1;
                bits
            },
            marked: 1,
            class: vec![[0.0; 2]; BINS],
            streamed_y: u8::from(!sort_positives),
            sort_positives,
        })
    }

    /// The bin of log-odds `x`, as the pass bins it.
    #[inline(always)]
    fn bin(&self, x: f64) -> usize {
        self.grid.bin(x)
    }

    /// Mark the bin of a sorted row of score `s` and weight `w`; false once the class
    /// marks more than [`MAX_MARKED`] bins.
    fn mark(&mut self, s: f64, w: f64) -> bool {
        let j = self.bin(self.alpha + self.slope * s);
        if self.bits[j / 64] >> (j % 64) & 1 == 0 {
            self.bits[j / 64] |= 1 << (j % 64);
            self.marked += 1;
        }
        self.class[j][0] += w;
        self.class[j][1] += 1.0;
        self.marked <= MAX_MARKED
    }

    /// Whether a row of bin `j` and outcome `y` is listed: a streamed row in a marked bin.
    #[inline(always)]
    fn lists(&self, j: usize, y: u8) -> bool {
        y == self.streamed_y && self.bits[j / 64] >> (j % 64) & 1 == 1
    }

    /// The Mann–Whitney sums of the streamed rows in unmarked bins, from the bins' total
    /// weights after the pass (every row of such a bin is a streamed one).
    fn unlisted(&self, bins: &BinnedPair) -> PairSums {
        let mut out = PairSums::default();
        // The sorted class's weight beyond the bin: above it for streamed negatives (the
        // positives of higher risk), below it for streamed positives.
        let mut beyond = [0.0; 2];
        let mut visit = |j: usize| {
            if self.bits[j / 64] >> (j % 64) & 1 == 1 {
                for (b, c) in beyond.iter_mut().zip(self.class[j]) {
                    *b += c;
                }
            } else {
                let weight = bins.weights(j);
                for k in 0..2 {
                    out.u[k] += weight[k] * beyond[k];
                    out.streamed[k] += weight[k];
                }
            }
        };
        if self.sort_positives {
            (0..BINS).rev().for_each(&mut visit);
        } else {
            (0..BINS).for_each(&mut visit);
        }
        out
    }
}

/// Sums of the pass over one chunk of rows.
struct Pass {
    /// `[own, original]` Brier sums.
    brier: [f64; 2],
    /// Σ counts, and rows.
    weight: f64,
    rows: f64,
    /// Log-odds binned for the slope fits, weighted by the counts and by 1.
    bins: BinnedPair,
    pairs: PairSums,
}

impl Pass {
    fn new(lo: f64, hi: f64) -> Pass {
        Pass {
            brier: [0.0; 2],
            weight: 0.0,
            rows: 0.0,
            bins: BinnedPair::new(lo, hi),
            pairs: PairSums::default(),
        }
    }

    fn add(&mut self, o: &Pass) {
        for k in 0..2 {
            self.brier[k] += o.brier[k];
        }
        self.weight += o.weight;
        self.rows += o.rows;
        self.bins.merge(&o.bins);
        self.pairs.add(&o.pairs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::evaluation as vs;
    use rand::{Rng, SeedableRng};

    /// The one-pass figures against the row-by-row ones (a sort per AUC, the slope fits to
    /// convergence on every row), on two parts with missing sub-scores, ties and counts.
    #[test]
    fn one_pass_figures_match_the_row_by_row_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..6 {
            let k = 5;
            let sizes = [700 + 37 * case, 1300];
            let rate: f64 = [0.05, 0.6, 0.2][case % 3];
            let mut parts = Vec::new();
            for &n in &sizes {
                // The first metric always present (the optimism's rows have one at least).
                let columns: Vec<Vec<f64>> = (0..k)
                    .map(|m| {
                        (0..n)
                            .map(|_| match rng.random_range(0..10) {
                                0 if m > 0 => f64::NAN,
                                r => (r * 10) as f64,
                            })
                            .collect()
                    })
                    .collect();
                // Churn likelier the lower the mean sub-score, around the case's rate.
                let y: Vec<u8> = (0..n)
                    .map(|i| {
                        let present: Vec<f64> = columns
                            .iter()
                            .map(|c| c[i])
                            .filter(|v| !v.is_nan())
                            .collect();
                        let mean = present.iter().sum::<f64>() / present.len().max(1) as f64;
                        let logit = (rate / (1.0 - rate)).ln() + 4.0 * (0.5 - mean / 100.0);
                        u8::from(rng.random::<f64>() < crate::stats::sigmoid(logit))
                    })
                    .collect();
                let rows: Vec<usize> = (0..n).collect();
                parts.push(FitData::from_columns(&columns, &y, &rows));
            }
            let n: usize = sizes.iter().sum();
            let account: Vec<u32> = (0..n as u32).map(|i| i / 3).collect();
            let na = n.div_ceil(3);
            let counts: Vec<f64> = (0..na).map(|_| rng.random_range(0..4) as f64).collect();
            let fits: Vec<(f64, Vec<f64>)> = (0..2)
                .map(|_| {
                    let beta: Vec<f64> = (0..k).map(|_| 0.5 + rng.random::<f64>()).collect();
                    let base = (rate / (1.0 - rate)).ln() + 2.5;
                    (base + 0.3 * rng.random::<f64>(), beta)
                })
                .collect();
            let rows = Rows::new(parts.iter().collect(), account.clone());
            let (own, test) = rows.figures(&fits, &counts);
            // Judged with two other replicates at once: the same bits as alone.
            let other: Vec<f64> = counts.iter().map(|c| (c + 1.0) % 3.0).collect();
            let shifted: Vec<(f64, Vec<f64>)> =
                fits.iter().map(|(a, b)| (a - 0.4, b.clone())).collect();
            let together =
                rows.figures_of(&[(&shifted, &other), (&fits, &counts), (&fits, &other)]);
            let bits = |f: &Figures| [f.auc.to_bits(), f.brier.to_bits(), f.slope.to_bits()];
            assert_eq!(bits(&together[1].0), bits(&own), "case {case}");
            assert_eq!(bits(&together[1].1), bits(&test), "case {case}");
            for (r, (f, c)) in [(&shifted, &other), (&fits, &other)].iter().enumerate() {
                let (o, t) = rows.figures(f, c);
                let at = [0, 2][r];
                assert_eq!(bits(&together[at].0), bits(&o), "case {case}");
                assert_eq!(bits(&together[at].1), bits(&t), "case {case}");
            }
            // One part alone: its bins are in the order of risk, and the rows whose bins
            // hold none of the sorted class are counted from the bins (`Marks`).
            let one = Rows::new(vec![&parts[0]], account[..sizes[0]].to_vec());
            let (alpha, beta) = &fits[0];
            let slope = -beta.iter().sum::<f64>();
            let mut marks = Marks::new(*alpha, slope, (alpha + slope, *alpha), one.sort_positives);
            let marked = {
                let m = marks.as_mut().expect("one part, a negative slope");
                one.sorted.iter().all(|&(_, i)| {
                    let w = counts[account[i as usize] as usize];
                    m.mark(parts[0].score_row(i as usize, beta), w)
                })
            };
            assert!(marked, "case {case}: the sorted class marks few bins");
            let (own1, test1) = one.figures(&fits[..1], &counts);
            let s1 = parts[0].scores(beta);
            let risk1: Vec<f64> = s1.iter().map(|v| -v).collect();
            let w1: Vec<f64> = account[..sizes[0]]
                .iter()
                .map(|&a| counts[a as usize])
                .collect();
            let (a_own, a_test) = vs::auc_weighted_and_plain(&risk1, &parts[0].y, &w1);
            assert_eq!(own1.auc.to_bits(), a_own.to_bits(), "case {case}, one part");
            assert_eq!(
                test1.auc.to_bits(),
                a_test.to_bits(),
                "case {case}, one part"
            );
            // Row by row.
            let (mut risk, mut lp, mut y) = (Vec::new(), Vec::new(), Vec::new());
            for (fd, (alpha, beta)) in parts.iter().zip(&fits) {
                let s = fd.scores(beta);
                let slope = -beta.iter().sum::<f64>();
                risk.extend(s.iter().map(|v| -v));
                lp.extend(s.iter().map(|v| alpha + slope * v));
                y.extend_from_slice(&fd.y);
            }
            let w: Vec<f64> = account.iter().map(|&a| counts[a as usize]).collect();
            let (auc_own, auc_test) = vs::auc_weighted_and_plain(&risk, &y, &w);
            assert_eq!(own.auc.to_bits(), auc_own.to_bits(), "case {case}");
            assert_eq!(
                test.auc.to_bits(),
                auc_test.to_bits(),
                "case {case}: {} vs {auc_test} (sorting AUC {})",
                test.auc,
                crate::stats::auc(&risk, &y)
            );
            let p: Vec<f64> = lp.iter().map(|&v| crate::stats::sigmoid(v)).collect();
            let e: Vec<f64> = p
                .iter()
                .zip(&y)
                .map(|(p, &y)| (p - f64::from(y)).powi(2))
                .collect();
            let brier_own =
                e.iter().zip(&w).map(|(e, w)| e * w).sum::<f64>() / w.iter().sum::<f64>();
            let brier_test = e.iter().sum::<f64>() / n as f64;
            assert!((own.brier - brier_own).abs() < 1e-14, "case {case}");
            assert!((test.brier - brier_test).abs() < 1e-14, "case {case}");
            let ones = vec![1.0; n];
            let slope_own = vs::calibration_slope_of_logits(&lp, &y, &w);
            let slope_test = vs::calibration_slope_of_logits(&lp, &y, &ones);
            assert!(
                (own.slope - slope_own).abs() < 1e-8,
                "case {case}: {} vs {slope_own}",
                own.slope
            );
            assert!(
                (test.slope - slope_test).abs() < 1e-8,
                "case {case}: {} vs {slope_test}",
                test.slope
            );
        }
    }
}
