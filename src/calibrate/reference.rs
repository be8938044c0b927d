//! The unconstrained reference fit: plain maximum-likelihood logistic regression on the
//! sub-scores, with standard errors from the inverse Fisher information (as statsmodels'
//! `Logit` reports them).
//!
//! linfa-logistic fits the model; a few Newton steps then polish the optimum to machine
//! precision (linfa stops at a gradient tolerance), and the Hessian at the optimum is the
//! observed Fisher information `Xᵀ diag(p(1−p)) X`. Missing sub-scores (redistributed
//! metrics) are imputed with the snapshot's prior score, which is what redistribution
//! assumes of a missing metric.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};

use crate::stats::linalg::{invert_spd, solve_spd};
use crate::stats::sigmoid;

/// Result of the unconstrained fit. Coefficients are per unit sub-score / 100 and signed so
/// that a positive value is protective (a higher sub-score, less churn), like β.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReferenceFit {
    /// Intercept (log-odds of churn with every sub-score at 0).
    pub intercept: f64,
    /// Protective coefficient per metric (−1 × the logistic coefficient).
    pub coef: Vec<f64>,
    /// Standard error of each coefficient.
    pub se: Vec<f64>,
    /// Standard error of the intercept.
    pub intercept_se: f64,
    /// Whether the Newton polish converged (false also for a singular information matrix).
    pub converged: bool,
}

impl ReferenceFit {
    /// 95 % Wald interval of coefficient `k`.
    pub fn ci(&self, k: usize) -> [f64; 2] {
        let z = 1.959_963_984_540_054;
        [self.coef[k] - z * self.se[k], self.coef[k] + z * self.se[k]]
    }

    /// Probability of churn for a row of features (sub-score / 100, none missing).
    pub fn probability(&self, row: &[f64]) -> f64 {
        let eta = self.intercept - row.iter().zip(&self.coef).map(|(x, c)| x * c).sum::<f64>();
        sigmoid(eta)
    }
}

/// linfa's iterations: enough for a starting point that Newton's method (quadratic
/// convergence) polishes to machine precision in a few steps.
const LINFA_ITERS: u64 = 5;

/// Rows linfa sees for the starting point: an even stride through the data beyond this.
/// Newton's method then runs on the samples and every row, so the estimate is the full
/// data's (20,000 rows cost 30–40 ms for the same fits: 5,000 cost under 10 ms).
const LINFA_ROWS: usize = 5_000;

/// Rows of the samples Newton's method runs on before the full data, largest first: data of
/// more than twice a size is first fitted on a sample of that size, itself started from
/// the fit on the next smaller sample of it, and so on down to linfa's start.
const SAMPLE_ROWS: [usize; 2] = [250_000, 32_000];

/// The reference model's features without a copy: the fit's row-major sub-scores with each
/// missing one read as the row's `fill` (its prior score), and row weights (0 leaves a row
/// out: a cross-validation fold's test rows, a holdout's later snapshots).
#[derive(Clone, Copy)]
pub struct Features<'a> {
    /// Row-major `n × k` sub-scores / 100, NaN where missing.
    pub x: &'a [f64],
    /// Metrics per row.
    pub k: usize,
    /// The value of a missing sub-score, per row.
    pub fill: &'a [f64],
    /// Outcomes (1 = churned).
    pub y: &'a [u8],
    /// Row weights.
    pub w: &'a [f64],
}

impl Features<'_> {
    /// Number of rows.
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// Row `i` with missing values filled, into `out` (length k).
    #[inline]
    pub fn row_into(&self, i: usize, out: &mut [f64]) {
        let fill = self.fill[i];
        for (o, &v) in out.iter_mut().zip(&self.x[i * self.k..(i + 1) * self.k]) {
            *o = if v.is_nan() { fill } else { v };
        }
    }
}

/// Fit the unconstrained model on the rows with positive weight.
///
/// On large data the start is found on samples of rows: linfa's first-order iterations on
/// `LINFA_ROWS` of them, then Newton's method to convergence on the nested samples of
/// `SAMPLE_ROWS` from the smallest up; Newton's method on every row then needs two or three
/// passes, since each sample's estimate lies within its sampling error of the full data's.
pub fn fit_reference(f: &Features) -> ReferenceFit {
    fit_reference_in_blocks(f, &[0, f.n()]).0
}

/// [`fit_reference`], with the fit's sums at its optimum kept apart for each block of rows
/// `starts[b]..starts[b + 1]` (a cross-validation fold's test rows are a block): each fold's
/// refit then starts from them ([`Blocks::leaving_out`], [`refit_reference_from`]) without
/// a pass of its own. The standard errors come from the blocks' information added in block
/// order.
pub fn fit_reference_in_blocks(f: &Features, starts: &[usize]) -> (ReferenceFit, Blocks) {
    let k = f.k;
    let stage = tracing::info_span!("reference: linfa's start").entered();
    let used: Vec<usize> = (0..f.n()).filter(|&i| f.w[i] > 0.0).collect();
    let sample = |max: usize| -> Vec<usize> {
        let stride = used.len().div_ceil(max).max(1);
        used.iter().step_by(stride).copied().collect()
    };
    let small = sample(LINFA_ROWS);
    let mut records = Array2::zeros((small.len(), k));
    for (r, &i) in small.iter().enumerate() {
        f.row_into(
            i,
            records.row_mut(r).as_slice_mut().expect("standard layout"),
        );
    }
    let targets = Array1::from_iter(small.iter().map(|&i| f.y[i]));
    let dataset = Dataset::new(records, targets);
    // linfa's default alpha is an L2 penalty of 1; the reference fit is unpenalised.
    let linfa: Vec<f64> = match LogisticRegression::default()
        .alpha(0.0)
        .max_iterations(LINFA_ITERS)
        .gradient_tolerance(1e-6)
        .fit(&dataset)
    {
        Ok(m) => {
            let mut v = vec![m.intercept()];
            v.extend(m.params().iter().copied());
            v
        }
        // linfa refuses some degenerate problems; Newton from zero still tries.
        Err(_) => vec![0.0; k + 1],
    };
    // Newton from linfa's solution, or from the null model if that is more likely
    // (linfa stops at a gradient tolerance and can stop far out on a flat ridge).
    let (events, total) = (0..f.n()).fold((0.0, 0.0), |(e, t), i| {
        (e + f.w[i] * f.y[i] as f64, t + f.w[i])
    });
    let rate = (events / f64::max(total, 1e-300)).clamp(1e-9, 1.0 - 1e-9);
    let mut null = vec![0.0; k + 1];
    null[0] = (rate / (1.0 - rate)).ln();
    let better = |on: &Features, a: Vec<f64>, b: Vec<f64>| {
        if loglik(on, &a) >= loglik(on, &b) {
            a
        } else {
            b
        }
    };
    drop(stage);
    let stage = tracing::info_span!("reference: Newton's method on samples").entered();
    let from = sampled_start(f, &used, &SAMPLE_ROWS, &|on| {
        better(on, linfa.clone(), null.clone())
    });
    let from = if from.iter().all(|v| v.is_finite()) {
        from
    } else {
        null
    };
    drop(stage);
    polished(f, from, starts)
}

/// The start of Newton's method on the rows `used` of `f`: on data more than twice the
/// first of `sizes`, the maximum of a sample of that size, stratified by outcome (every
/// churned row where they are rare), each row weighted up by its class's sampling
/// fraction, so that its weighted likelihood estimates the full one and its maximum lies
/// within sampling error of the full data's even when churn is rare. That sample's own
/// start comes the same way from the sizes after the first; the smallest data's is `first`.
fn sampled_start(
    f: &Features,
    used: &[usize],
    sizes: &[usize],
    first: &dyn Fn(&Features) -> Vec<f64>,
) -> Vec<f64> {
    let Some(at) = sizes.iter().position(|&s| used.len() > 2 * s) else {
        return first(f);
    };
    let k = f.k;
    let (rows, w) = stratified_sample(f, used, sizes[at]);
    let mut x = Vec::with_capacity(rows.len() * k);
    let mut row = vec![0.0; k];
    for &i in &rows {
        f.row_into(i, &mut row);
        x.extend_from_slice(&row);
    }
    let y: Vec<u8> = rows.iter().map(|&i| f.y[i]).collect();
    let none = vec![0.0; rows.len()];
    let on = Features {
        x: &x,
        k,
        fill: &none,
        y: &y,
        w: &w,
    };
    // Every sampled row has a positive weight.
    let all: Vec<usize> = (0..rows.len()).collect();
    let start = sampled_start(&on, &all, &sizes[at + 1..], first);
    iterate(&on, start, false, None).0
}

/// About `size` of the rows `used` (in row order), stratified by outcome: each class keeps
/// every row if it has at most half the size (or what the other class leaves), else an
/// even sample of it; with each row's weight times its class's rows per sampled row.
fn stratified_sample(f: &Features, used: &[usize], size: usize) -> (Vec<usize>, Vec<f64>) {
    let churned = used.iter().filter(|&&i| f.y[i] == 1).count();
    let counts = [used.len() - churned, churned];
    let smaller = counts[0].min(counts[1]);
    let quota = |c: usize| {
        if counts[c] == smaller {
            counts[c].min(size / 2)
        } else {
            counts[c].min(size - smaller.min(size / 2))
        }
    };
    let stride = [0, 1].map(|c| counts[c].div_ceil(quota(c).max(1)).max(1));
    let (mut rows, mut w) = (Vec::new(), Vec::new());
    let mut seen = [0usize; 2];
    let mut kept = [0usize; 2];
    for &i in used {
        let c = usize::from(f.y[i] == 1);
        if seen[c].is_multiple_of(stride[c]) {
            rows.push(i);
            kept[c] += 1;
        }
        seen[c] += 1;
    }
    let factor = [0, 1].map(|c| counts[c] as f64 / kept[c].max(1) as f64);
    for &i in &rows {
        w.push(f.w[i] * factor[usize::from(f.y[i] == 1)]);
    }
    (rows, w)
}

/// The same fit on other rows (a cross-validation fold, the rows before a holdout date),
/// by Newton's method from `from` (the fit on all rows): the same maximum-likelihood
/// estimate linfa + Newton would reach, without linfa's first-order iterations.
pub fn refit_reference(f: &Features, from: &ReferenceFit) -> ReferenceFit {
    refit_reference_from(f, from, None)
}

/// [`refit_reference`] from the sums of its rows at `from` when they are known (`at`, from
/// [`Blocks::leaving_out`]: a cross-validation fold's training rows at the full fit): no
/// pass at the start, and every step takes that exact information as its curvature. The
/// fold's optimum lies within its sampling error of the full fit's, where the information
/// differs from the fold's own by about that error, so each step shrinks the distance to
/// the optimum by about that factor. The rate of convergence that stops the iterations is
/// taken from the second step on (the first is an exact Newton step, faster than the ones
/// after it): two passes in all, where the sampled information's steps took three or
/// four.
pub fn refit_reference_from(f: &Features, from: &ReferenceFit, at: Option<Sums>) -> ReferenceFit {
    let mut start = vec![from.intercept];
    start.extend(from.coef.iter().map(|c| -c));
    if !start.iter().all(|v| v.is_finite()) {
        return fit_reference(f);
    }
    // The folds' and the holdout's refits only predict: no standard errors.
    let (theta, converged, at) = iterate(f, start, false, at.map(|s| s.0));
    finish(theta, converged, &at.info, f.k + 1)
}

/// The log-likelihood, gradient and exact information of some rows at one point (a fold's
/// training rows at the full fit: [`Blocks::leaving_out`]).
pub struct Sums(Pass);

/// The full fit's sums at its optimum for each block of rows ([`fit_reference_in_blocks`]).
pub struct Blocks(Vec<Pass>);

impl Blocks {
    /// The sums of every block but `b` (all of them for `None`), added in block order.
    pub fn leaving_out(&self, b: Option<usize>) -> Sums {
        let mut blocks = self.0.iter().enumerate().filter(|&(i, _)| Some(i) != b);
        let Some((_, first)) = blocks.next() else {
            return Sums(Pass {
                ll: 0.0,
                grad: Vec::new(),
                info: Vec::new(),
            });
        };
        let mut out = first.clone();
        for (_, x) in blocks {
            out.ll += x.ll;
            for (a, b) in out.grad.iter_mut().zip(&x.grad) {
                *a += b;
            }
            for (a, b) in out.info.iter_mut().zip(&x.info) {
                *a += b;
            }
        }
        Sums(out)
    }
}

/// Rows per parallel work item of the passes below.
const ROWS: usize = 8192;

/// Rows the information is computed from during the iterations, at least (as in the
/// constrained fit: beyond twice this, every `stride`-th group of 4 rows); the gradient and
/// log-likelihood always use every row, and the standard errors the exact information.
const INFO_ROWS: usize = 32_768;

/// Weighted log-likelihood of (intercept, coefficients), summed in chunk order.
fn loglik(f: &Features, theta: &[f64]) -> f64 {
    pass(f, theta, None).ll
}

/// One pass over the rows: log-likelihood, its gradient and the lower triangle of the
/// information `Xᵀ diag(w p(1−p)) X` (with the intercept column), from every row
/// (`stride` 1), a sample of row groups (`stride` > 1, scaled to the whole weight), or not
/// at all (`None`). Chunk sums are added in chunk order: the same bits whatever the thread
/// count.
#[derive(Clone)]
struct Pass {
    ll: f64,
    grad: Vec<f64>,
    info: Vec<f64>,
}

fn pass(f: &Features, theta: &[f64], stride: Option<usize>) -> Pass {
    use rayon::prelude::*;
    let n = f.n();
    let parts: Vec<Part> = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .map(|c| chunk_fast(f, theta, stride, c * ROWS..((c + 1) * ROWS).min(n)))
        .collect();
    merge(f, parts, stride)
}

/// [`pass`] with the exact information, its sums kept apart for each block of rows
/// `starts[b]..starts[b + 1]` (each block's rows in pieces of [`ROWS`] from its start).
fn pass_blocks(f: &Features, theta: &[f64], starts: &[usize]) -> Vec<Pass> {
    use rayon::prelude::*;
    let pieces: Vec<(usize, std::ops::Range<usize>)> = starts
        .windows(2)
        .enumerate()
        .flat_map(|(b, s)| {
            (s[0]..s[1])
                .step_by(ROWS)
                .map(move |a| (b, a..(a + ROWS).min(s[1])))
        })
        .collect();
    let mut parts: Vec<(usize, Part)> = pieces
        .into_par_iter()
        .map(|(b, rows)| (b, chunk_fast(f, theta, Some(1), rows)))
        .collect();
    (0..starts.len().saturating_sub(1))
        .map(|b| {
            let mine = parts.iter().take_while(|(o, _)| *o == b).count();
            let block: Vec<Part> = parts.drain(..mine).map(|(_, part)| part).collect();
            merge(f, block, Some(1))
        })
        .collect()
}

/// The chunks' sums added in chunk order, the information's lower triangle made whole and
/// (from a sample of rows) scaled to the whole weight.
fn merge(f: &Features, parts: Vec<Part>, stride: Option<usize>) -> Pass {
    let n = f.n();
    let p = f.k + 1;
    let mut out = Pass {
        ll: 0.0,
        grad: vec![0.0; p],
        info: vec![0.0; p * p],
    };
    let (mut info_w, mut total_w) = (0.0, 0.0);
    for part in parts {
        out.ll += part.ll;
        for (a, b) in out.grad.iter_mut().zip(part.grad) {
            *a += b;
        }
        for (a, b) in out.info.iter_mut().zip(part.info) {
            *a += b;
        }
        info_w += part.info_w;
    }
    if !out.ll.is_finite() {
        out.ll = f64::NEG_INFINITY;
    }
    if stride.is_some_and(|s| s > 1) && info_w > 0.0 {
        total_w = (0..n).map(|i| f.w[i]).sum::<f64>();
    }
    // Lower triangle to full, scaled from the sample to the whole weight.
    let scale = if total_w > 0.0 { total_w / info_w } else { 1.0 };
    for a in 0..p {
        for b in 0..=a {
            let v = out.info[a * p + b] * scale;
            out.info[a * p + b] = v;
            out.info[b * p + a] = v;
        }
    }
    out
}

/// Rows evaluated together, one per vector lane: each lane keeps its own sums (of the
/// log-likelihood, the gradient and the information cells), added across lanes at the end
/// of a chunk, so the inner loops are vertical vector operations.
const LANES: usize = 4;

/// One chunk's sums: log-likelihood, gradient and the lower triangle of the information
/// (row-major `p × p`, only `b ≤ a` filled) with the weight of the rows that added to it.
struct Part {
    ll: f64,
    grad: Vec<f64>,
    info: Vec<f64>,
    info_w: f64,
}

/// [`chunk`] compiled for AVX2 when the processor has it, else the portable build: the same
/// operations in the same order (Rust neither fuses nor reorders floating-point
/// operations), so both give identical bits.
fn chunk_fast(
    f: &Features,
    theta: &[f64],
    stride: Option<usize>,
    rows: std::ops::Range<usize>,
) -> Part {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { chunk_avx2(f, theta, stride, rows) };
    }
    chunk::<false>(f, theta, stride, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_avx2(
    f: &Features,
    theta: &[f64],
    stride: Option<usize>,
    rows: std::ops::Range<usize>,
) -> Part {
    chunk::<true>(f, theta, stride, rows)
}

/// The sums over `rows` (whose start is a multiple of [`LANES`]), [`LANES`] rows at a
/// time. Rows of weight 0 add nothing (a fold's test rows, a holdout's later snapshots), and
/// groups of them are skipped. With a `stride`, the group starting at row `i` adds to the
/// information when `(i / LANES) % stride == 0`; without one, only the log-likelihood is
/// summed.
#[inline(always)]
fn chunk<const AVX: bool>(
    f: &Features,
    theta: &[f64],
    stride: Option<usize>,
    rows: std::ops::Range<usize>,
) -> Part {
    let k = f.k;
    let p = k + 1;
    let tri = p * (p + 1) / 2;
    let derivatives = stride.is_some();
    let mut ll = [0.0; LANES];
    let mut grad = vec![[0.0; LANES]; if derivatives { p } else { 0 }];
    let mut info = vec![[0.0; LANES]; if derivatives { tri } else { 0 }];
    let mut info_w = 0.0;
    // The group's features, parameter-major: z[a][j] for row j of the group (z[0] = 1).
    let mut z = vec![[1.0; LANES]; p];
    let mut i0 = rows.start;
    while i0 < rows.end {
        let len = (rows.end - i0).min(LANES);
        let mut w = [0.0; LANES];
        let mut y = [0.0; LANES];
        for j in 0..len {
            w[j] = f.w[i0 + j];
            y[j] = f.y[i0 + j] as f64;
        }
        if w.iter().all(|&w| w == 0.0) {
            i0 += LANES;
            continue;
        }
        #[cfg(target_arch = "x86_64")]
        let filled = AVX && len == LANES && {
            let fill = [f.fill[i0], f.fill[i0 + 1], f.fill[i0 + 2], f.fill[i0 + 3]];
            // SAFETY: AVX is true only inside `chunk_avx2`, which runs after the processor
            // was found to support AVX2.
            unsafe { features_avx2(&f.x[i0 * k..(i0 + LANES) * k], k, &fill, &mut z[1..]) };
            true
        };
        #[cfg(not(target_arch = "x86_64"))]
        let filled = false;
        for j in (0..LANES).filter(|_| !filled) {
            if j < len {
                let i = i0 + j;
                let fill = f.fill[i];
                for (m, &v) in f.x[i * k..(i + 1) * k].iter().enumerate() {
                    z[m + 1][j] = if v.is_nan() { fill } else { v };
                }
            } else {
                for za in z[1..].iter_mut() {
                    za[j] = 0.0;
                }
            }
        }
        let mut eta = [0.0; LANES];
        for (za, &t) in z.iter().zip(theta) {
            for j in 0..LANES {
                eta[j] += za[j] * t;
            }
        }
        // One exponential per row for the log-likelihood and the probability.
        let mut prob = [0.0; LANES];
        // ln(1 + e) for e in (0, 1]: below rounding of 1 the term is under 1e-16, far under
        // the sum's own rounding (as in the constrained fit's kernel).
        let (es, lns) = crate::calibrate::problem::likelihood_terms::<LANES, AVX>(eta);
        #[cfg(target_arch = "x86_64")]
        let vectored = AVX && {
            // SAFETY: AVX is true only inside `chunk_avx2`, which runs after the processor
            // was found to support AVX2.
            unsafe { likelihood4_avx2([&eta, &es, &lns, &w, &y], &mut ll, &mut prob) };
            true
        };
        #[cfg(not(target_arch = "x86_64"))]
        let vectored = false;
        for j in (0..LANES).filter(|_| !vectored) {
            let e = es[j];
            let term = y[j] * eta[j] - (eta[j].max(0.0) + lns[j]);
            ll[j] += if w[j] == 0.0 { 0.0 } else { w[j] * term };
            prob[j] = if eta[j] >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
        }
        let Some(stride) = stride else {
            i0 += LANES;
            continue;
        };
        let mut r = [0.0; LANES];
        for j in 0..LANES {
            r[j] = w[j] * (y[j] - prob[j]);
        }
        for (g, za) in grad.iter_mut().zip(&z) {
            for j in 0..LANES {
                g[j] += r[j] * za[j];
            }
        }
        if (i0 / LANES).is_multiple_of(stride) {
            let mut v = [0.0; LANES];
            for j in 0..LANES {
                info_w += w[j];
                v[j] = w[j] * prob[j] * (1.0 - prob[j]);
            }
            let mut cell = 0;
            for a in 0..p {
                let mut vz = [0.0; LANES];
                for j in 0..LANES {
                    vz[j] = v[j] * z[a][j];
                }
                for zb in &z[..=a] {
                    for j in 0..LANES {
                        info[cell][j] += vz[j] * zb[j];
                    }
                    cell += 1;
                }
            }
        }
        i0 += LANES;
    }
    let lanes = |s: &[f64; LANES]| s.iter().sum::<f64>();
    let mut lower = vec![0.0; if derivatives { p * p } else { 0 }];
    let mut cell = 0;
    for a in 0..if derivatives { p } else { 0 } {
        for b in 0..=a {
            lower[a * p + b] = lanes(&info[cell]);
            cell += 1;
        }
    }
    Part {
        ll: lanes(&ll),
        grad: grad.iter().map(lanes).collect(),
        info: lower,
        info_w,
    }
}

/// The four lanes' log-likelihood terms added to `ll` and their probabilities into `prob`,
/// in AVX2 registers: the portable loop's operations lane by lane (one vector division for
/// the four probabilities where it spends a scalar division on each), so the same bits. A
/// row of weight 0 adds +0, as there. `rows` is `[η, e, ln(1 + e), w, y]`.
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn likelihood4_avx2(
    rows: [&[f64; LANES]; 5],
    ll: &mut [f64; LANES],
    prob: &mut [f64; LANES],
) {
    use std::arch::x86_64::*;
    // SAFETY: every array holds four f64.
    let [eta, e, ln, w, y] = rows.map(|a| unsafe { _mm256_loadu_pd(a.as_ptr()) });
    let (zero, one) = (_mm256_setzero_pd(), _mm256_set1_pd(1.0));
    // y η − (max(η, 0) + ln(1 + e)); `max_pd` gives 0 for a NaN η, as `f64::max` does.
    let term = _mm256_sub_pd(
        _mm256_mul_pd(y, eta),
        _mm256_add_pd(_mm256_max_pd(eta, zero), ln),
    );
    let weighted = _mm256_and_pd(
        _mm256_mul_pd(w, term),
        _mm256_cmp_pd::<_CMP_NEQ_UQ>(w, zero),
    );
    // 1 / (1 + e) where η ≥ 0, e / (1 + e) elsewhere.
    let numerator = _mm256_blendv_pd(e, one, _mm256_cmp_pd::<_CMP_GE_OQ>(eta, zero));
    // SAFETY: four f64 each.
    unsafe {
        let sums = _mm256_add_pd(_mm256_loadu_pd(ll.as_ptr()), weighted);
        _mm256_storeu_pd(ll.as_mut_ptr(), sums);
        _mm256_storeu_pd(
            prob.as_mut_ptr(),
            _mm256_div_pd(numerator, _mm256_add_pd(one, e)),
        );
    }
}

/// Four rows' features into `z` (`z[m]` the lanes of metric `m`, a missing value read as
/// its row's `fill`), four metrics at a time: each row's values loaded as one vector, the
/// NaNs replaced, and the 4 × 4 block transposed in registers and stored as whole lanes
/// (which the loads that follow read straight from the store buffer, where four separate
/// stores under one vector load would stall it).
///
/// # Safety
/// The processor must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn features_avx2(rows: &[f64], k: usize, fill: &[f64; LANES], z: &mut [[f64; LANES]]) {
    use std::arch::x86_64::*;
    assert!(
        rows.len() >= LANES * k && z.len() >= k,
        "four rows of k metrics"
    );
    let fills = [
        _mm256_set1_pd(fill[0]),
        _mm256_set1_pd(fill[1]),
        _mm256_set1_pd(fill[2]),
        _mm256_set1_pd(fill[3]),
    ];
    for q in 0..k / 4 {
        let mut r = [_mm256_setzero_pd(); 4];
        for (j, rj) in r.iter_mut().enumerate() {
            // SAFETY: 4q + 3 < k, inside row j (checked above).
            let x = unsafe { _mm256_loadu_pd(rows.as_ptr().add(j * k + 4 * q)) };
            let missing = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
            *rj = _mm256_blendv_pd(x, fills[j], missing);
        }
        let lo01 = _mm256_unpacklo_pd(r[0], r[1]);
        let hi01 = _mm256_unpackhi_pd(r[0], r[1]);
        let lo23 = _mm256_unpacklo_pd(r[2], r[3]);
        let hi23 = _mm256_unpackhi_pd(r[2], r[3]);
        let cols = [
            _mm256_permute2f128_pd::<0x20>(lo01, lo23),
            _mm256_permute2f128_pd::<0x20>(hi01, hi23),
            _mm256_permute2f128_pd::<0x31>(lo01, lo23),
            _mm256_permute2f128_pd::<0x31>(hi01, hi23),
        ];
        for (t, c) in cols.into_iter().enumerate() {
            // SAFETY: z[4q + t] is four f64.
            unsafe { _mm256_storeu_pd(z[4 * q + t].as_mut_ptr(), c) };
        }
    }
    for m in k / 4 * 4..k {
        let mut lanes = [0.0; LANES];
        for (j, l) in lanes.iter_mut().enumerate() {
            let v = rows[j * k + m];
            *l = if v.is_nan() { fill[j] } else { v };
        }
        // SAFETY: z[m] is four f64.
        unsafe { _mm256_storeu_pd(z[m].as_mut_ptr(), _mm256_loadu_pd(lanes.as_ptr())) };
    }
}

/// Newton–Raphson on the logistic log-likelihood from `start` = (intercept, coefficients),
/// with step halving so that the likelihood never falls, and the standard errors from the
/// exact information at the end when `errors` is set ([`iterate`], [`finish`]).
#[cfg(test)]
fn newton_with(f: &Features, start: Vec<f64>, errors: bool) -> ReferenceFit {
    let p = f.k + 1;
    let stride = (f.n() / INFO_ROWS).max(1);
    let (theta, converged, at) = iterate(f, start, errors, None);
    // The information at the final point: exact for standard errors, else the last one.
    let info = if errors || stride == 1 {
        pass(f, &theta, Some(1)).info
    } else {
        at.info
    };
    finish(theta, converged, &info, p)
}

/// The full fit's Newton iterations from `start`, then its exact information at the optimum
/// block by block ([`pass_blocks`]): the standard errors come from their total.
fn polished(f: &Features, start: Vec<f64>, starts: &[usize]) -> (ReferenceFit, Blocks) {
    let stage = tracing::info_span!("reference: Newton's method on all rows").entered();
    let (theta, converged, _) = iterate(f, start, true, None);
    drop(stage);
    let _stage = tracing::info_span!("reference: exact information by fold").entered();
    let blocks = Blocks(pass_blocks(f, &theta, starts));
    let total = blocks.leaving_out(None).0;
    (finish(theta, converged, &total.info, f.k + 1), blocks)
}

/// The fit at `theta`, with standard errors from the information `info`.
fn finish(theta: Vec<f64>, converged: bool, info: &[f64], p: usize) -> ReferenceFit {
    let cov = invert_spd(info, p);
    let se: Vec<f64> = (0..p)
        .map(|j| cov.as_ref().map_or(f64::NAN, |c| c[j * p + j].sqrt()))
        .collect();
    ReferenceFit {
        intercept: theta[0],
        coef: theta[1..].iter().map(|c| -c).collect(),
        intercept_se: se[0],
        se: se[1..].to_vec(),
        converged: converged && cov.is_some(),
    }
}

/// Newton's iterations from `start`; returns the point, whether it converged and the last
/// pass. Each iteration is one pass (the pass at an accepted point gives the next step's
/// gradient and information). On large data the information comes from a sample of rows
/// (a Newton step with a slightly inexact Hessian still converges, judged on the exact
/// gradient). With the sums at `start` given (`at`), the first pass is theirs and their
/// exact information is every step's curvature.
fn iterate(
    f: &Features,
    start: Vec<f64>,
    errors: bool,
    at: Option<Pass>,
) -> (Vec<f64>, bool, Pass) {
    let p = f.k + 1;
    let stride = (f.n() / INFO_ROWS).max(1);
    let mut theta = start;
    let mut converged = false;
    let fixed = at.as_ref().map(|a| a.info.clone());
    let mut first = true;
    let mut at = at.unwrap_or_else(|| pass(f, &theta, Some(stride)));
    // The last full step's decrement, for the rate of convergence.
    let mut previous: Option<f64> = None;
    for _ in 0..100 {
        let Some(step) = solve_spd(&at.info, &at.grad, p) else {
            break;
        };
        // Newton decrement: the expected gain of the full step is ½ gᵀ H⁻¹ g. Below
        // rounding level of the log-likelihood, the optimum is reached, and the last step
        // takes the coefficients to about machine precision. A refit that only predicts
        // (no standard errors) also stops when the rate so far says the step lands there:
        // with the sampled information Newton converges linearly, each step's decrement a
        // steady fraction of the one before (about 10⁻³ at 10M rows), so the point after
        // the step has a decrement of about rate × this one, and the pass that would
        // check it is saved (coefficients then within about 10⁻⁶ relative of the
        // polished ones, predictions within 10⁻⁶ relative: out-of-fold AUCs move by
        // about 10⁻⁸).
        let decrement: f64 = at.grad.iter().zip(&step).map(|(a, b)| a * b).sum();
        let tolerance = 1e-12 * at.ll.abs().max(1.0);
        let rate = previous
            .filter(|_| !errors)
            .map(|prev| decrement / prev)
            .filter(|&r| r < 1.0);
        if rate.map_or(decrement, |r| r * decrement) < tolerance {
            for (t, s) in theta.iter_mut().zip(&step) {
                *t += s;
            }
            converged = true;
            break;
        }
        let mut t = 1.0;
        loop {
            let next: Vec<f64> = theta.iter().zip(&step).map(|(a, s)| a + t * s).collect();
            let mut there = pass(f, &next, Some(stride));
            if there.ll >= at.ll || t < 1e-8 {
                if let Some(info) = &fixed {
                    there.info.clone_from(info);
                }
                theta = next;
                at = there;
                break;
            }
            t *= 0.5;
        }
        // A halved step says nothing of the full step's rate; nor does the first step with
        // a fixed curvature, an exact Newton step where the later ones are not.
        let first_exact = fixed.is_some() && std::mem::take(&mut first);
        previous = (t == 1.0 && !first_exact).then_some(decrement);
    }
    (theta, converged, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// `n` rows of `k` uniform sub-scores (each missing, NaN, with probability `missing`)
    /// and outcomes drawn with log-odds `eta(row)`.
    fn simulate(
        seed: u64,
        (n, k): (usize, usize),
        missing: f64,
        eta: impl Fn(&[f64]) -> f64,
    ) -> (Vec<f64>, Vec<u8>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(n * k);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = (0..k)
                .map(|_| rng.random::<f64>())
                .map(|v| if v < missing { f64::NAN } else { v })
                .collect();
            y.push(u8::from(
                rng.random::<f64>() < crate::stats::sigmoid(eta(&row)),
            ));
            x.extend(row);
        }
        (x, y)
    }

    /// A chunk's sums through the AVX2 build and through the portable one: the same bits,
    /// with missing metrics (filled per row), zero weights (whole groups of them too),
    /// linear predictors of both signs and a last group short of four rows; with the
    /// information from every row, from a sample of groups, and without it.
    #[test]
    fn a_chunk_through_avx2_gives_the_portable_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let (n, k) = (203, 6);
        let (x, y) = simulate(11, (n, k), 0.15, |r| {
            1.0 - 3.0 * r.iter().filter(|v| !v.is_nan()).sum::<f64>() / 6.0
        });
        let fill: Vec<f64> = (0..n).map(|i| (i % 7) as f64 / 7.0).collect();
        let w: Vec<f64> = (0..n)
            .map(|i| {
                if i > 100 && i % 12 < 8 {
                    0.0
                } else {
                    1.0 + (i % 3) as f64
                }
            })
            .collect();
        let f = Features {
            x: &x,
            k,
            fill: &fill,
            y: &y,
            w: &w,
        };
        let bits = |p: &Part| -> Vec<u64> {
            [p.ll, p.info_w]
                .iter()
                .chain(&p.grad)
                .chain(&p.info)
                .map(|v| v.to_bits())
                .collect()
        };
        for theta in [
            vec![-1.0, 2.0, -0.5, 0.0, 1.5, -3.0, 0.25],
            vec![4.0, -6.0, 1.0, -2.0, 0.5, -1.0, -8.0],
            vec![3.0, 0.5, -0.25, 1.0, 0.0, 0.75, -0.5],
        ] {
            // The whole chunk, and each group alone (whose sums are small enough to show a
            // row's last bit).
            let ranges =
                std::iter::once(0..n).chain((0..n).step_by(LANES).map(|a| a..n.min(a + LANES)));
            for rows in ranges {
                for stride in [None, Some(1), Some(3)] {
                    let portable = chunk::<false>(&f, &theta, stride, rows.clone());
                    // SAFETY: AVX2 checked above.
                    let avx = unsafe { chunk_avx2(&f, &theta, stride, rows.clone()) };
                    assert_eq!(
                        bits(&portable),
                        bits(&avx),
                        "θ {theta:?}, rows {rows:?}, stride {stride:?}"
                    );
                }
            }
        }
    }

    /// A fold's refit that stops where the rate of convergence says its last step lands
    /// (no pass to check it) predicts as the fit polished to machine precision does.
    #[test]
    fn a_refit_stopped_by_its_rate_predicts_as_the_polished_fit() {
        // Large enough for the sampled information (and so linear convergence).
        let (n, k) = (300_000, 5);
        let (x, y) = simulate(11, (n, k), 0.0, |r| -4.0 - 2.0 * r[0] + 1.5 * r[1] - r[3]);
        let fill = vec![0.0; n];
        let all = vec![1.0; n];
        let full = fit_reference(&Features {
            x: &x,
            k,
            fill: &fill,
            y: &y,
            w: &all,
        });
        // The first fifth left out, as a fold's test rows.
        let mut w = all.clone();
        w[..n / 5].fill(0.0);
        let fold = Features {
            x: &x,
            k,
            fill: &fill,
            y: &y,
            w: &w,
        };
        let refit = refit_reference(&fold, &full);
        assert_predicts_as_polished(&fold, &full, &refit, 0..n / 5);
    }

    /// `refit` of `fold` from `full` converged, and its coefficients and its predictions on
    /// `rows` are those of `fold`'s fit polished to machine precision from `full` (within
    /// 10⁻⁶ relative).
    fn assert_predicts_as_polished(
        fold: &Features,
        full: &ReferenceFit,
        refit: &ReferenceFit,
        rows: std::ops::Range<usize>,
    ) {
        let mut start = vec![full.intercept];
        start.extend(full.coef.iter().map(|c| -c));
        let polished = newton_with(fold, start, true);
        assert!(refit.converged && polished.converged);
        assert_relative_eq!(refit.intercept, polished.intercept, max_relative = 1e-6);
        for j in 0..fold.k {
            assert_relative_eq!(refit.coef[j], polished.coef[j], epsilon = 1e-6);
        }
        let mut row = vec![0.0; fold.k];
        for i in rows {
            fold.row_into(i, &mut row);
            let (a, b) = (refit.probability(&row), polished.probability(&row));
            assert!((a - b).abs() <= 1e-6 * b, "row {i}: {a} vs {b}");
        }
    }

    /// A fold's refit from the full fit's sums without the fold's block (no pass at the
    /// start, their exact information as every step's curvature) reaches the fold's own
    /// optimum, and predicts as the polished fit does (within 4·10⁻⁷ here, where the refit
    /// from the sampled information, stopped by its rate, is up to 4·10⁻⁶ off); the full
    /// fit's standard errors from the blocks' information are the one-block fit's.
    #[test]
    fn a_refit_from_the_blocks_sums_predicts_as_the_polished_fit() {
        let (n, k) = (200_000, 5);
        let (x, y) = simulate(12, (n, k), 0.05, |r| {
            -3.0 - 2.0 * r[0].max(0.0) + 1.5 * r[1].max(0.0) - r[3].max(0.0)
        });
        let fill: Vec<f64> = (0..n).map(|i| 0.3 + 0.4 * (i % 7) as f64 / 7.0).collect();
        let all = vec![1.0; n];
        let full_f = Features {
            x: &x,
            k,
            fill: &fill,
            y: &y,
            w: &all,
        };
        // Five blocks of uneven sizes, not on multiples of the vector lanes.
        let starts = [0, 39_999, 81_003, 120_000, 161_234, n];
        let (full, blocks) = fit_reference_in_blocks(&full_f, &starts);
        let plain = fit_reference(&full_f);
        assert!(full.converged);
        assert_eq!(full.coef, plain.coef);
        for j in 0..k {
            assert_relative_eq!(full.se[j], plain.se[j], max_relative = 1e-12);
        }
        for b in 0..5 {
            let mut w = all.clone();
            w[starts[b]..starts[b + 1]].fill(0.0);
            let fold = Features { w: &w, ..full_f };
            let refit = refit_reference_from(&fold, &full, Some(blocks.leaving_out(Some(b))));
            // The fold's optimum is not the full fit's.
            assert!((refit.coef[0] - full.coef[0]).abs() > 1e-4);
            assert_predicts_as_polished(&fold, &full, &refit, starts[b]..starts[b + 1]);
        }
    }

    /// Large data with rare churn: the start comes from a sample that keeps every churned
    /// row (weights restoring each class's total), and the fit is the full data's maximum
    /// likelihood, as Newton's method on every row from the null model finds it.
    #[test]
    fn rare_churn_on_large_data_is_fitted_from_a_sample_keeping_every_churned_row() {
        let (n, k) = (2 * SAMPLE_ROWS[0] + 40_000, 4);
        let (x, y) = simulate(5, (n, k), 0.0, |r| {
            -7.0 - 2.5 * r[0] + 1.0 * r[1] - 1.5 * r[2]
        });
        let (fill, w) = (vec![0.0; n], vec![1.0; n]);
        let f = Features {
            x: &x,
            k,
            fill: &fill,
            y: &y,
            w: &w,
        };
        let churned = y.iter().filter(|&&v| v == 1).count();
        assert!((100..1000).contains(&churned), "{churned} churned rows");
        let used: Vec<usize> = (0..n).collect();
        let (rows, sw) = stratified_sample(&f, &used, SAMPLE_ROWS[0]);
        let kept = rows.iter().filter(|&&i| y[i] == 1).count();
        assert_eq!(kept, churned, "every churned row in the sample");
        assert!(rows.len() <= SAMPLE_ROWS[0] + 1);
        for c in [0, 1] {
            let total: f64 = rows
                .iter()
                .zip(&sw)
                .filter(|(&i, _)| usize::from(y[i] == 1) == c)
                .map(|(_, w)| w)
                .sum();
            let count = y.iter().filter(|&&v| usize::from(v == 1) == c).count();
            assert_relative_eq!(total, count as f64, max_relative = 1e-9);
        }
        let r = fit_reference(&f);
        assert!(r.converged);
        let rate = churned as f64 / n as f64;
        let mut null = vec![0.0; k + 1];
        null[0] = (rate / (1.0 - rate)).ln();
        let direct = newton_with(&f, null, true);
        assert!(direct.converged);
        assert_relative_eq!(r.intercept, direct.intercept, epsilon = 1e-6);
        for j in 0..k {
            assert_relative_eq!(r.coef[j], direct.coef[j], epsilon = 1e-6);
            assert_relative_eq!(r.se[j], direct.se[j], max_relative = 1e-6);
        }
    }

    // statsmodels: sm.Logit(y, sm.add_constant(X)).fit(tol=1e-14) on the data of
    // tests/reference/kat.py gives
    //   params [ 1.372113373638526, -3.205062238033062, -1.8094249089020233, 0.7358752397566712]
    //   bse    [ 0.42723382476875166, 0.5085801674501971, 0.4811951696667818, 0.4635238402875406]
    // churncal's coefficients are the negated (protective) ones.
    #[test]
    fn matches_statsmodels_logit() {
        let d = crate::calibrate::kat::data();
        let fill = vec![0.0; d.n];
        let r = fit_reference(&Features {
            x: &d.x,
            k: d.k,
            fill: &fill,
            y: &d.y,
            w: &d.w,
        });
        assert!(r.converged);
        let params = [
            1.372113373638526,
            -3.205062238033062,
            -1.8094249089020233,
            0.7358752397566712,
        ];
        let bse = [
            0.42723382476875166,
            0.5085801674501971,
            0.4811951696667818,
            0.4635238402875406,
        ];
        assert_relative_eq!(r.intercept, params[0], max_relative = 1e-6);
        assert_relative_eq!(r.intercept_se, bse[0], max_relative = 1e-6);
        for j in 0..3 {
            assert_relative_eq!(r.coef[j], -params[j + 1], max_relative = 1e-6);
            assert_relative_eq!(r.se[j], bse[j + 1], max_relative = 1e-6);
        }
        // sklearn on the fitted probabilities: auc 0.7587045321921806,
        // log_loss 0.5474754145576973, brier 0.18541110648041567
        let p: Vec<f64> = d.x.chunks(3).map(|row| r.probability(row)).collect();
        assert_relative_eq!(
            crate::stats::auc(&p, &d.y),
            0.7587045321921806,
            epsilon = 1e-12
        );
        assert_relative_eq!(
            crate::stats::log_loss(&p, &d.y),
            0.5474754145576973,
            max_relative = 1e-9
        );
        assert_relative_eq!(
            crate::stats::brier(&p, &d.y),
            0.18541110648041567,
            max_relative = 1e-9
        );
    }
}
