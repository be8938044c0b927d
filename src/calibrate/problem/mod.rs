//! The constrained fit: the profile's own score function inside a logistic model.
//!
//! With sub-scores `x_ik = s_ik / 100` and non-negative `β_k`, a snapshot's score is the
//! renormalised mean over its present metrics, `score_i = Σ_P β_k x_ik / Σ_P β_k`, and
//! `logit P(churn_i) = α − B · score_i` with `B = Σ_k β_k`. When every metric is present this
//! is the linear model `α − Σ β_k x_ik`; with missing metrics (`redistribute`) it is a ratio
//! and the problem is smooth but not convex.
//!
//! The objective is the weighted mean negative log-likelihood plus
//! `λ Σ_k (β_k − β⁰_k)²`, minimised over `θ = (α, β)` with `β ≥ 0` by a projected Newton
//! method run by argmin ([`super::newton`]): the Fisher information of the logistic model
//! as curvature, so a fit takes a few passes over the data and weights reach 0 exactly.
//! The log-likelihood uses the stable forms `log(1 + e^η) = max(η, 0) + log1p(e^−|η|)`
//! (Mächler, "Accurately computing log(1 − exp(−|a|))", CRAN Rmpfr vignette, 2012).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use argmin::core::{Executor, State, TerminationReason, TerminationStatus};
use rayon::prelude::*;

use super::newton::{Curvature, Evaluation, ProjectedNewton};

use crate::stats::sigmoid;

mod build;
mod fit_data;
mod lanes;
pub mod onestep;
mod two;
pub use fit_data::*;
pub(crate) use lanes::likelihood_terms;
use lanes::*;
pub use two::*;

/// The penalised objective over `θ = (α, β)`, `β ≥ 0`.
struct Objective<'a> {
    data: &'a FitData,
    prior: &'a [f64],
    lambda: f64,
    wsum: f64,
    /// The data term (likelihood only, no penalty) at the last point evaluated.
    memo: &'a std::sync::Mutex<Option<DataTerm>>,
}

/// The likelihood part of the objective (mean NLL, its gradient and, when computed, its
/// curvature) at a point. It does not depend on λ, so a fit along a λ path starts from the
/// previous fit's last evaluation instead of a pass over the data.
#[derive(Debug, Clone)]
pub struct DataTerm {
    theta: Vec<f64>,
    eval: Evaluation,
}

impl<'a> Objective<'a> {
    fn new(
        data: &'a FitData,
        prior: &'a [f64],
        lambda: f64,
        memo: &'a std::sync::Mutex<Option<DataTerm>>,
    ) -> Self {
        Objective {
            data,
            prior,
            lambda,
            wsum: data.w.iter().sum(),
            memo,
        }
    }
}

/// One chunk's sums: NLL, gradient and the lower triangle of the Fisher information.
struct Partial {
    nll: f64,
    grad: Vec<f64>,
    info: Vec<f64>,
    /// Without the information, the gradient is gathered in three parts (see
    /// [`Objective::group`]): `Σ r·score`, and per metric `Σ c·x` and `Σ c·score` over the
    /// rows where it is present.
    mean: f64,
    value: Vec<f64>,
    present: Vec<f64>,
    /// Weight of the rows that added to `info`.
    info_w: f64,
}

/// Rows the Fisher information is computed from, at least: beyond twice this, an even
/// sample of row groups (every `stride`-th) gives it, scaled to the whole weight, while the
/// cost and gradient always use every row. The information only shapes the Newton step
/// (convergence is judged on the exact gradient, so the fit ends at the same optimum), and
/// 32 thousand rows pin it down to about a per cent (the whole information at 150 k rows
/// made a `calibrate` 0.93 s instead of 0.80 s, for the same weights).
const INFO_ROWS: usize = 32_768;

/// The point a pass evaluates, and the information's sampling stride (1: every row).
#[derive(Clone, Copy)]
struct At<'a> {
    alpha: f64,
    beta: &'a [f64],
    big_b: f64,
    stride: usize,
}

/// Rows evaluated together: independent accumulation chains across rows, and one update of
/// the gradient and information cells per group instead of per row.
const LANES: usize = 4;

impl Objective<'_> {
    /// [`Self::chunk`] compiled for AVX2 when the processor has it (4 doubles per vector
    /// instead of SSE2's 2), else the portable build. The arithmetic is the same operations
    /// in the same order (Rust does not fuse or reorder floating-point operations), so both
    /// give identical bits.
    fn chunk_fast<const FISHER: bool>(&self, rows: &[f64], start: usize, at: At) -> Partial {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor supports AVX2, checked just above.
            return unsafe { self.chunk_avx2::<FISHER>(rows, start, at) };
        }
        self.chunk::<FISHER, false>(rows, start, at)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn chunk_avx2<const FISHER: bool>(&self, rows: &[f64], start: usize, at: At) -> Partial {
        self.chunk::<FISHER, true>(rows, start, at)
    }

    /// Sums over one chunk of rows starting at row `start`: groups of [`LANES`] rows, then
    /// the remainder one at a time.
    #[inline(always)]
    fn chunk<const FISHER: bool, const AVX: bool>(
        &self,
        rows: &[f64],
        start: usize,
        At {
            alpha,
            beta,
            big_b,
            stride,
        }: At,
    ) -> Partial {
        let k = self.data.k;
        let p = k + 1;
        let mut out = Partial {
            nll: 0.0,
            grad: vec![0.0; p],
            info: if FISHER { vec![0.0; p * p] } else { Vec::new() },
            mean: 0.0,
            value: vec![0.0; k],
            present: vec![0.0; k],
            info_w: 0.0,
        };
        let mut z = vec![0.0; p * LANES];
        let full = rows.len() / (k * LANES);
        let params = (alpha, beta, big_b);
        for g in 0..full {
            let group = &rows[g * k * LANES..(g + 1) * k * LANES];
            let first = start + g * LANES;
            // Groups are numbered from the start of the data, so the sample does not
            // depend on how rows are split into chunks.
            if FISHER && (first / LANES).is_multiple_of(stride) {
                self.group::<LANES, true, AVX>(group, first, params, &mut z, &mut out);
            } else {
                self.group::<LANES, false, AVX>(group, first, params, &mut z, &mut out);
            }
        }
        for i in full * LANES..rows.len() / k {
            let row = &rows[i * k..(i + 1) * k];
            if FISHER && stride == 1 {
                self.group::<1, true, AVX>(row, start + i, params, &mut z, &mut out);
            } else {
                self.group::<1, false, AVX>(row, start + i, params, &mut z, &mut out);
            }
        }
        // The rows without the information gathered their gradient in three parts.
        for m in 0..k {
            out.grad[m + 1] += -out.mean - out.value[m] + out.present[m];
        }
        out
    }

    /// Adds `L` consecutive rows (first index `first`) to `out`.
    ///
    /// A row's score is the renormalised mean of its present sub-scores,
    /// `score = Σ_P (β_m + δ) x_m / D` with `D = Σ_P (β_m + δ)` and δ = [`WEIGHT_FLOOR`], and
    /// `η = α − B · score`. With `z = ∂η/∂θ` (`z₀ = 1`,
    /// `z_m = −[score + 1{m present} (B / D)(x_m − score)]`, which is `−x_m` up to δ when
    /// every metric is present), the row adds `w (log(1 + e^η) − yη)` to the NLL,
    /// `w (p − y) z` to the gradient and `w p (1 − p) z zᵀ` to the Fisher information: the
    /// Hessian of the linear model (every metric present), and a positive semi-definite
    /// (Gauss–Newton) stand-in for it where the score is a ratio.
    #[inline(always)]
    fn group<const L: usize, const FISHER: bool, const AVX: bool>(
        &self,
        rows: &[f64],
        first: usize,
        (alpha, beta, big_b): (f64, &[f64], f64),
        z: &mut [f64],
        out: &mut Partial,
    ) {
        let d = self.data;
        // Rows a bootstrap replicate left out (weight 0) add nothing; whole groups of them
        // are skipped (calibration orders rows by account, so they come in runs).
        if d.w[first..first + L].iter().all(|&w| w == 0.0) {
            return;
        }
        let k = d.k;
        let p = k + 1;
        let (mut cs, mut ds) = ([0.0; L], [0.0; L]);
        #[cfg(target_arch = "x86_64")]
        if AVX && L == 4 {
            // SAFETY: as for ratio_sums_avx2 below; `rows` holds the group's four rows.
            let (c4, d4) = unsafe {
                use std::arch::x86_64::*;
                let (c, d) = ratio4_avx2(rows, k, beta);
                let (mut c4, mut d4) = ([0.0; 4], [0.0; 4]);
                _mm256_storeu_pd(c4.as_mut_ptr(), c);
                _mm256_storeu_pd(d4.as_mut_ptr(), d);
                (c4, d4)
            };
            cs.copy_from_slice(&c4[..L]);
            ds.copy_from_slice(&d4[..L]);
        }
        for j in 0..L {
            #[cfg(target_arch = "x86_64")]
            if AVX && L == 4 {
                break;
            }
            let row = &rows[j * k..(j + 1) * k];
            (cs[j], ds[j]) = {
                #[cfg(target_arch = "x86_64")]
                if AVX {
                    // SAFETY: AVX is true only inside `chunk_avx2`, which runs after the
                    // processor was found to support AVX2.
                    unsafe { ratio_sums_avx2(row, beta) }
                } else {
                    ratio_sums(row, beta)
                }
                #[cfg(not(target_arch = "x86_64"))]
                ratio_sums(row, beta)
            };
        }
        let (mut r, mut v) = ([0.0; L], [0.0; L]);
        // Each row's c and c·score for the four-row gradient sums.
        #[cfg(target_arch = "x86_64")]
        let (mut cg, mut csg) = ([0.0; L], [0.0; L]);
        let (mut scores, mut etas) = ([0.0; L], [0.0; L]);
        for j in 0..L {
            scores[j] = cs[j] / ds[j];
            etas[j] = alpha - big_b * scores[j];
        }
        // One exponential for the likelihood and the probability, and ln(1 + e) for e in
        // (0, 1] (where e is below rounding of 1 the term is below 1e-16, far under the
        // sum's own rounding, so ln(1 + e) serves for ln_1p): four rows at a time.
        let (es, lns) = likelihood_terms::<L, AVX>(etas);
        #[cfg(target_arch = "x86_64")]
        if !FISHER && AVX && L == 4 {
            let four = |a: &[f64; L]| -> [f64; 4] {
                let mut f = [0.0; 4];
                f.copy_from_slice(&a[..4]);
                f
            };
            let lanes = Lanes4 {
                score: four(&scores),
                d: four(&ds),
                eta: four(&etas),
                e: four(&es),
                ln: four(&lns),
            };
            let sums = [&mut out.nll, &mut out.grad[0], &mut out.mean];
            // SAFETY: AVX is true only inside `chunk_avx2`, which runs after the processor
            // was found to support AVX2; the group's four rows have weights and outcomes.
            let (c, c_score) = unsafe {
                rows4_avx2(
                    &lanes,
                    &d.w[first..first + 4],
                    &d.y[first..first + 4],
                    big_b,
                    sums,
                )
            };
            // SAFETY: as above; `rows` holds the group's four rows.
            unsafe { value_present4_avx2(rows, k, &c, &c_score, &mut out.value, &mut out.present) };
            return;
        }
        for j in 0..L {
            let score = scores[j];
            let ratio = big_b / ds[j];
            let eta = etas[j];
            let e = es[j];
            let prob = if eta >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let w = d.w[first + j];
            let y = d.y[first + j] as f64;
            out.nll += w * (eta.max(0.0) + lns[j] - y * eta);
            r[j] = w * (prob - y);
            v[j] = w * prob * (1.0 - prob);
            if !FISHER {
                // r·z_m = −r·score − c·x_m + c·score on present metrics (c = r·B/D), and
                // −r·score on missing ones: two element-wise sums per metric, no z.
                let c = r[j] * ratio;
                let c_score = c * score;
                out.grad[0] += r[j];
                out.mean += r[j] * score;
                let row = &rows[j * k..(j + 1) * k];
                #[cfg(target_arch = "x86_64")]
                if AVX && L == 4 {
                    // The four rows' value and present sums together, after the loop.
                    cg[j] = c;
                    csg[j] = c_score;
                    continue;
                }
                #[cfg(target_arch = "x86_64")]
                if AVX {
                    // SAFETY: as for ratio_sums_avx2 above.
                    unsafe {
                        value_present_avx2(row, c, c_score, &mut out.value, &mut out.present)
                    };
                    continue;
                }
                for ((val, pre), &x) in out.value.iter_mut().zip(out.present.iter_mut()).zip(row) {
                    let present = !x.is_nan();
                    *val += c * if present { x } else { 0.0 };
                    *pre += if present { c_score } else { 0.0 };
                }
                continue;
            }
            out.info_w += w;
            // z stored parameter-major: z[a · L + j].
            z[j] = 1.0;
            for m in 0..k {
                let x = rows[j * k + m];
                let dev = if x.is_nan() { 0.0 } else { x - score };
                z[(m + 1) * L + j] = -(score + ratio * dev);
            }
        }
        if !FISHER {
            #[cfg(target_arch = "x86_64")]
            if AVX && L == 4 {
                // SAFETY: as for ratio_sums_avx2 above.
                unsafe {
                    value_present4_avx2(rows, k, &cg, &csg, &mut out.value, &mut out.present)
                };
            }
            return;
        }
        for a in 0..p {
            let za = &z[a * L..(a + 1) * L];
            let mut s = 0.0;
            for j in 0..L {
                s += r[j] * za[j];
            }
            out.grad[a] += s;
            let mut vz = [0.0; L];
            for j in 0..L {
                vz[j] = v[j] * za[j];
            }
            for (b, cell) in out.info[a * p..a * p + a + 1].iter_mut().enumerate() {
                let zb = &z[b * L..(b + 1) * L];
                let mut s = 0.0;
                for j in 0..L {
                    s += vz[j] * zb[j];
                }
                *cell += s;
            }
        }
    }
}

impl Curvature for Objective<'_> {
    fn evaluate(&self, theta: &[f64], with_curvature: bool) -> Evaluation {
        let memo = self.memo.lock().expect("memo lock").clone();
        let mut e = match memo {
            Some(m) if m.theta == theta && (!with_curvature || !m.eval.curvature.is_empty()) => {
                m.eval
            }
            _ => {
                let e = self.data_term(theta, with_curvature);
                *self.memo.lock().expect("memo lock") = Some(DataTerm {
                    theta: theta.to_vec(),
                    eval: e.clone(),
                });
                e
            }
        };
        if !with_curvature {
            e.curvature.clear();
        }
        let k = self.data.k;
        if with_curvature {
            let p = k + 1;
            for m in 0..k {
                e.curvature[(m + 1) * p + m + 1] += 2.0 * self.lambda;
            }
        }
        for m in 0..k {
            let diff = theta[m + 1] - self.prior[m];
            e.cost += self.lambda * diff * diff;
            e.grad[m + 1] += 2.0 * self.lambda * diff;
        }
        e
    }
}

/// Passes of the fit's objective over the data since the process started: `[gradient
/// only, with the information matrix]`.
static PASSES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// How many passes over the fit data the solver has made in this process so far, `[with
/// the gradient only, with the information matrix too]`: what a stage timing reports
/// beside the seconds, since a pass is the fit's unit of work.
pub fn solver_passes() -> [u64; 2] {
    [
        PASSES[0].load(Ordering::Relaxed),
        PASSES[1].load(Ordering::Relaxed),
    ]
}

impl Objective<'_> {
    /// The likelihood part at `theta`: one pass over the data.
    fn data_term(&self, theta: &[f64], with_curvature: bool) -> Evaluation {
        PASSES[usize::from(with_curvature)].fetch_add(1, Ordering::Relaxed);
        let d = self.data;
        let k = d.k;
        let p = k + 1;
        let alpha = theta[0];
        let beta = &theta[1..];
        let big_b: f64 = beta.iter().sum();
        let pass = |stride: usize| -> Vec<Partial> {
            d.x.par_chunks(k * CHUNK)
                .enumerate()
                .map(|(c, rows)| {
                    let at = At {
                        alpha,
                        beta,
                        big_b,
                        stride,
                    };
                    if with_curvature {
                        self.chunk_fast::<true>(rows, c * CHUNK, at)
                    } else {
                        self.chunk_fast::<false>(rows, c * CHUNK, At { stride: 1, ..at })
                    }
                })
                .collect()
        };
        let stride = if with_curvature {
            (d.n / LANES / (INFO_ROWS / LANES)).max(1)
        } else {
            1
        };
        let mut parts = pass(stride);
        if stride > 1 && parts.iter().map(|p| p.info_w).sum::<f64>() <= 0.0 {
            // The sampled groups all have weight 0 (a resample that left them out).
            parts = pass(1);
        }
        // Partial sums added in chunk order: the same bits whatever the thread count.
        let mut nll = 0.0;
        let mut grad = vec![0.0; p];
        let mut lower = vec![0.0; p * p];
        let mut info_w = 0.0;
        for part in parts {
            nll += part.nll;
            info_w += part.info_w;
            for (a, b) in grad.iter_mut().zip(part.grad) {
                *a += b;
            }
            for (a, b) in lower.iter_mut().zip(part.info) {
                *a += b;
            }
        }
        let cost = nll / self.wsum;
        for g in grad.iter_mut() {
            *g /= self.wsum;
        }
        let mut curvature = Vec::new();
        if with_curvature {
            // Per unit weight: of the sampled rows' weight when the information is a sample's.
            let per = if stride > 1 { info_w } else { self.wsum };
            curvature = vec![0.0; p * p];
            for a in 0..p {
                for b in 0..=a {
                    let v = lower[a * p + b] / per;
                    curvature[a * p + b] = v;
                    curvature[b * p + a] = v;
                }
            }
        }
        Evaluation {
            cost,
            grad,
            curvature,
        }
    }
}

/// The penalised objective's value and gradient at `θ = (α, β)`, and its curvature when
/// `curvature` is true: one pass over the data, the unit of work of a fit (for benchmarks
/// and diagnostics).
pub fn evaluate_objective(
    data: &FitData,
    prior: &[f64],
    lambda: f64,
    theta: &[f64],
    curvature: bool,
) -> Evaluation {
    let memo = std::sync::Mutex::new(None);
    Objective::new(data, prior, lambda, &memo).evaluate(theta, curvature)
}

/// How a solver run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SolverReport {
    /// Whether the solver met its tolerance (rather than running out of iterations).
    pub converged: bool,
    /// Iterations taken.
    pub iterations: u64,
    /// The solver's reason for stopping.
    pub reason: String,
}

/// A constrained fit's parameters.
#[derive(Debug, Clone)]
pub struct ConstrainedFit {
    /// Intercept α.
    pub alpha: f64,
    /// Non-negative coefficients β (per unit sub-score / 100); `B = Σ β` is −slope.
    pub beta: Vec<f64>,
    /// Penalised objective at the optimum.
    pub objective: f64,
    /// Weighted mean negative log-likelihood at the optimum.
    pub nll: f64,
    /// How the solver ended.
    pub solver: SolverReport,
    /// Fisher information of the likelihood (row-major `(k + 1)²`, per unit weight, without
    /// the penalty) at the solver's last curvature point near the optimum: a warm start for
    /// fits on related data ([`fit_constrained`]'s `information`).
    pub information: Vec<f64>,
    /// The likelihood part of the objective at the returned point when the solver evaluated
    /// it there (it did on convergence): the start of the next fit on the same data
    /// ([`fit_constrained_from`]).
    pub data_term: Option<DataTerm>,
}

impl ConstrainedFit {
    /// Weights summing to 100.
    pub fn weights(&self) -> Vec<f64> {
        let b: f64 = self.beta.iter().sum();
        self.beta.iter().map(|v| 100.0 * v / b).collect()
    }

    /// Slope per 100 score points (negative: healthier churns less).
    pub fn slope(&self) -> f64 {
        -self.beta.iter().sum::<f64>()
    }
}

/// Gradient tolerance of fits whose parameters are reported (final, maximum likelihood).
pub const TIGHT: f64 = 1e-8;

/// Gradient tolerance of the many fits that only feed predictions and intervals (CV folds,
/// bootstrap replicates): weights to about 0.01 points, at a fraction of the iterations.
pub const LOOSE: f64 = 1e-6;

/// Fit α and β ≥ 0 with L2 shrinkage `λ` toward `prior` (same scale as β), starting from
/// `start` (α, β), until the projected gradient is below `tol_grad` ([`TIGHT`] or
/// [`LOOSE`]) or `max_iters` Newton iterations have run. `information`, when given, is a
/// related fit's [`ConstrainedFit::information`] (another λ on the same rows, or the same
/// model on resampled rows), used as the first curvature instead of computing it; it changes
/// how fast the solver gets there, not where. Weights below 1e-9 of the total are returned
/// as exactly 0.
pub fn fit_constrained(
    data: &FitData,
    prior: &[f64],
    lambda: f64,
    start: (f64, &[f64]),
    information: Option<&[f64]>,
    max_iters: u64,
    tol_grad: f64,
) -> ConstrainedFit {
    fit_constrained_from(
        data,
        prior,
        lambda,
        start,
        information,
        None,
        max_iters,
        tol_grad,
    )
}

/// [`fit_constrained`] that may start from the data term of an earlier fit on the same
/// data (its [`ConstrainedFit::data_term`]): the next fit of a λ path then needs no pass
/// over the data at its starting point.
#[allow(clippy::too_many_arguments)]
pub fn fit_constrained_from(
    data: &FitData,
    prior: &[f64],
    lambda: f64,
    start: (f64, &[f64]),
    information: Option<&[f64]>,
    data_term: Option<DataTerm>,
    max_iters: u64,
    tol_grad: f64,
) -> ConstrainedFit {
    let p = data.k + 1;
    let penalty = |h: &mut [f64], sign: f64| {
        for m in 1..p {
            h[m * p + m] += sign * 2.0 * lambda;
        }
    };
    let mut theta = vec![start.0];
    theta.extend(start.1.iter().map(|b| b.max(0.0)));
    let memo = std::sync::Mutex::new(data_term);
    let problem = Objective::new(data, prior, lambda, &memo);
    let mut solver = ProjectedNewton::new(tol_grad, 1);
    if let Some(info) = information.filter(|i| i.len() == p * p) {
        let mut h = info.to_vec();
        penalty(&mut h, 1.0);
        solver = solver.with_curvature(h);
    }
    let run = Executor::new(problem, solver)
        .configure(|s| s.param(theta.clone()).max_iters(max_iters))
        .run();
    let mut information = Vec::new();
    let (best, objective, iterations, reason, converged) = match run {
        Ok(res) => {
            if let Some(h) = res.solver.curvature() {
                information = h.to_vec();
                penalty(&mut information, -1.0);
            }
            let st = res.state();
            let status = st.get_termination_status().clone();
            let (reason, converged) = match &status {
                TerminationStatus::Terminated(r) => (
                    r.text().to_string(),
                    matches!(r, TerminationReason::SolverConverged),
                ),
                TerminationStatus::NotTerminated => ("not terminated".to_string(), false),
            };
            let best = st.get_best_param().cloned().unwrap_or(theta.clone());
            (best, st.get_best_cost(), st.get_iter(), reason, converged)
        }
        Err(e) => {
            let cost = evaluate_objective(data, prior, lambda, &theta, false).cost;
            (theta.clone(), cost, 0, format!("solver error: {e}"), false)
        }
    };
    let alpha = best[0];
    let mut beta: Vec<f64> = best[1..].to_vec();
    let penalty: f64 = beta
        .iter()
        .zip(prior)
        .map(|(b, p)| (b - p) * (b - p))
        .sum::<f64>()
        * lambda;
    let total: f64 = beta.iter().sum();
    for b in beta.iter_mut() {
        if *b < 1e-9 * total {
            *b = 0.0;
        }
    }
    let data_term = memo
        .into_inner()
        .ok()
        .flatten()
        .filter(|m| m.theta[0] == alpha && m.theta[1..] == beta[..]);
    ConstrainedFit {
        alpha,
        beta,
        objective,
        nll: objective - penalty,
        solver: SolverReport {
            converged,
            iterations,
            reason,
        },
        information,
        data_term,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn tiny() -> FitData {
        // 3 metrics, 8 rows, one missing value
        let x = vec![
            0.9,
            0.8,
            0.7, //
            0.2,
            0.1,
            0.4, //
            0.5,
            f64::NAN,
            0.6, //
            0.1,
            0.3,
            0.2, //
            0.8,
            0.9,
            0.9, //
            0.3,
            0.2,
            0.1, //
            0.7,
            0.6,
            0.8, //
            0.4,
            0.5,
            0.3,
        ];
        FitData {
            n: 8,
            k: 3,
            x: x.into(),
            y: vec![0, 1, 0, 1, 0, 1, 0, 0].into(),
            w: vec![1.0; 8],
        }
    }

    #[test]
    fn gradient_and_curvature_match_finite_differences() {
        let d = tiny();
        let prior = [0.5, 1.0, 1.5];
        let memo = std::sync::Mutex::new(None);
        let obj = Objective::new(&d, &prior, 0.01, &memo);
        let theta = vec![0.3, 0.64, 1.21, 0.36];
        let ev = obj.evaluate(&theta, true);
        let p = theta.len();
        // The gradient gathered without the information (another formula) is the same.
        let plain = obj.evaluate(&theta, false);
        assert!(plain.curvature.is_empty());
        assert_relative_eq!(plain.cost, ev.cost, epsilon = 1e-15);
        for (a, b) in plain.grad.iter().zip(&ev.grad) {
            assert_relative_eq!(a, b, epsilon = 1e-14);
        }
        for j in 0..p {
            let h = 1e-6;
            let mut tp = theta.clone();
            tp[j] += h;
            let mut tm = theta.clone();
            tm[j] -= h;
            let (ep, em) = (obj.evaluate(&tp, true), obj.evaluate(&tm, true));
            assert_relative_eq!(ev.grad[j], (ep.cost - em.cost) / (2.0 * h), epsilon = 1e-7);
        }
        // The Fisher information is the Hessian when every metric is present: check it on
        // the complete rows (row 2 has a missing value).
        let complete = d.subset(&[0, 1, 3, 4, 5, 6, 7]);
        let memo = std::sync::Mutex::new(None);
        let obj = Objective::new(&complete, &prior, 0.01, &memo);
        let ev = obj.evaluate(&theta, true);
        for j in 0..p {
            let h = 1e-5;
            let mut tp = theta.clone();
            tp[j] += h;
            let mut tm = theta.clone();
            tm[j] -= h;
            let (gp, gm) = (obj.evaluate(&tp, true).grad, obj.evaluate(&tm, true).grad);
            for i in 0..p {
                assert_relative_eq!(
                    ev.curvature[i * p + j],
                    (gp[i] - gm[i]) / (2.0 * h),
                    epsilon = 1e-8
                );
            }
        }
    }

    #[test]
    fn curvature_is_the_gauss_newton_matrix_with_missing_metrics() {
        // Row 2 has a missing metric: the curvature is Σ w p(1−p) z zᵀ / Σw + 2λ on β,
        // with z = ∂η/∂θ, checked against finite differences of η.
        let d = tiny();
        let prior = [0.5, 1.0, 1.5];
        let memo = std::sync::Mutex::new(None);
        let obj = Objective::new(&d, &prior, 0.0, &memo);
        let theta = [0.3, 0.64, 1.21, 0.36];
        let eta = |t: &[f64], i: usize| {
            let s = d.subset(&[i]).scores(&t[1..])[0];
            t[0] - t[1..].iter().sum::<f64>() * s
        };
        let p = 4;
        let mut want = vec![0.0; p * p];
        for i in 0..d.n {
            let e = eta(&theta, i);
            let pr = sigmoid(e);
            let z: Vec<f64> = (0..p)
                .map(|j| {
                    let (mut tp, mut tm) = (theta, theta);
                    tp[j] += 1e-6;
                    tm[j] -= 1e-6;
                    (eta(&tp, i) - eta(&tm, i)) / 2e-6
                })
                .collect();
            for a in 0..p {
                for b in 0..p {
                    want[a * p + b] += pr * (1.0 - pr) * z[a] * z[b] / 8.0;
                }
            }
        }
        let ev = obj.evaluate(&theta, true);
        for (got, want) in ev.curvature.iter().zip(want) {
            assert_relative_eq!(*got, want, epsilon = 1e-7);
        }
    }

    // scipy.optimize.minimize(method="L-BFGS-B", bounds β ≥ 0) on the data of
    // tests/reference/kat.py, mean NLL + λ Σ (β − 1)²:
    //   λ = 0:    α 1.7301179619743396, β [3.1804412237283137, 1.80152215225512, 0]
    //             weights [63.83911288991559, 36.16088711008442, 0]
    //   λ = 0.01: α 1.0256028252569385,
    //             β [1.90156666390846, 1.2738970614977843, 0.21952220416273535]
    //             weights [56.01103225043054, 37.522896645981554, 6.4660711035879155]
    #[test]
    fn matches_scipy_lbfgsb_with_bounds() {
        let d = crate::calibrate::kat::data();
        let prior = [1.0, 1.0, 1.0];
        let cases = [
            (
                0.0,
                1.7301179619743396,
                [63.83911288991559, 36.16088711008442, 0.0],
            ),
            (
                0.01,
                1.0256028252569385,
                [56.01103225043054, 37.522896645981554, 6.4660711035879155],
            ),
        ];
        for (lam, alpha, weights) in cases {
            let f = fit_constrained(&d, &prior, lam, (0.0, &prior), None, 1000, TIGHT);
            assert!(f.solver.converged, "{:?}", f.solver);
            assert_relative_eq!(f.alpha, alpha, epsilon = 1e-4);
            for (w, want) in f.weights().iter().zip(weights) {
                assert_relative_eq!(*w, want, epsilon = 1e-4);
            }
        }
    }

    /// A deterministic sequence in [0, 1) from `seed`, for the bit-for-bit tests.
    fn sequence(seed: f64, step: f64) -> impl FnMut() -> f64 {
        let mut u = seed;
        move || {
            u = (u * 7_919.0 + step) % 1.0;
            u
        }
    }

    #[cfg(target_arch = "x86_64")]
    /// A chunk's sums through the AVX2 build (four rows at a time in vector registers) and
    /// through the portable one: the same bits, with missing metrics, zero weights (whole
    /// groups of them too), both outcomes, linear predictors of both signs and a remainder
    /// of rows after the last group; with and without the information.
    #[test]
    fn a_chunk_through_avx2_gives_the_portable_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut next = sequence(0.314_159_265_358_979_3, 0.577_215_664_901_532_9);
        let bits = |p: &Partial| -> Vec<u64> {
            [p.nll, p.mean, p.info_w]
                .iter()
                .chain(&p.grad)
                .chain(&p.info)
                .chain(&p.value)
                .chain(&p.present)
                .map(|v| v.to_bits())
                .collect()
        };
        for k in [1, 3, 4, 5, 13] {
            let n = 203;
            let mut x: Vec<f64> = (0..n * k)
                .map(|_| if next() < 0.1 { f64::NAN } else { next() })
                .collect();
            // Every row keeps a metric, as the fit's rows do.
            for (i, row) in x.chunks_mut(k).enumerate() {
                if row.iter().all(|v| v.is_nan()) {
                    row[i % k] = next();
                }
            }
            let y: Vec<u8> = (0..n).map(|_| u8::from(next() < 0.3)).collect();
            let w: Vec<f64> = (0..n)
                .map(|i| {
                    if i > 100 && i % 12 < 8 {
                        0.0
                    } else {
                        (next() * 3.0).floor() + 0.5
                    }
                })
                .collect();
            let fd = FitData {
                n,
                k,
                x: Arc::new(x),
                y: Arc::new(y),
                w,
            };
            let prior = vec![0.5; k];
            let memo = std::sync::Mutex::new(None);
            let obj = Objective::new(&fd, &prior, 0.01, &memo);
            let beta: Vec<f64> = (0..k)
                .map(|m| if m % 3 == 1 { 0.0 } else { 2.0 + 4.0 * next() })
                .collect();
            let big_b: f64 = beta.iter().sum();
            // The whole chunk, and each group alone (whose sums are small enough to show a
            // row's last bit).
            let ranges =
                std::iter::once(0..n).chain((0..n).step_by(LANES).map(|a| a..n.min(a + LANES)));
            for rows in ranges {
                let x = &fd.x[rows.start * k..rows.end * k];
                for alpha in [-3.0, 0.0, 2.5, 40.0] {
                    let at = At {
                        alpha,
                        beta: &beta,
                        big_b,
                        stride: 1,
                    };
                    let portable = obj.chunk::<false, false>(x, rows.start, at);
                    // SAFETY: AVX2 checked above.
                    let avx = unsafe { obj.chunk_avx2::<false>(x, rows.start, at) };
                    assert_eq!(bits(&portable), bits(&avx), "k {k}, α {alpha}, {rows:?}");
                    let at = At { stride: 3, ..at };
                    let portable = obj.chunk::<true, false>(x, rows.start, at);
                    // SAFETY: AVX2 checked above.
                    let avx = unsafe { obj.chunk_avx2::<true>(x, rows.start, at) };
                    let what = format!("k {k}, α {alpha}, {rows:?}, information");
                    assert_eq!(bits(&portable), bits(&avx), "{what}");
                }
            }
        }
    }

    #[test]
    fn the_avx2_row_sums_give_the_portable_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut next = sequence(0.123_456_789_012_345_6, 0.271_828_182_845);
        for k in 1..=41 {
            let mut group: Vec<f64> = Vec::new();
            let mut wanted = Vec::new();
            let mut cg = [0.0; 4];
            let mut csg = [0.0; 4];
            let (mut v4, mut p4) = (vec![0.5; k], vec![0.0; k]);
            for i in 0..200 {
                let row: Vec<f64> = (0..k)
                    .map(|_| {
                        let r = next();
                        if r < 0.15 {
                            f64::NAN
                        } else if r < 0.2 {
                            -0.0
                        } else {
                            next() * 100.0
                        }
                    })
                    .collect();
                let beta: Vec<f64> = (0..k)
                    .map(|_| if next() < 0.2 { 0.0 } else { next() })
                    .collect();
                let want = ratio_sums(&row, &beta);
                // SAFETY: AVX2 checked above.
                let got = unsafe { ratio_sums_avx2(&row, &beta) };
                assert_eq!(
                    (got.0.to_bits(), got.1.to_bits()),
                    (want.0.to_bits(), want.1.to_bits())
                );
                let (c, cs) = (next() - 0.5, next() - 0.5);
                let (mut v1, mut p1) = (vec![0.25; k], vec![-0.0; k]);
                let (mut v2, mut p2) = (v1.clone(), p1.clone());
                for ((val, pre), &x) in v1.iter_mut().zip(p1.iter_mut()).zip(&row) {
                    let present = !x.is_nan();
                    *val += c * if present { x } else { 0.0 };
                    *pre += if present { cs } else { 0.0 };
                }
                // SAFETY: AVX2 checked above.
                unsafe { value_present_avx2(&row, c, cs, &mut v2, &mut p2) };
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&v1), bits(&v2));
                assert_eq!(bits(&p1), bits(&p2));
                // Four rows at once (the same β for the group): the same bits as one by one.
                if i % 4 == 0 {
                    group.clear();
                    wanted.clear();
                }
                group.extend_from_slice(&row);
                wanted.push(row.clone());
                cg[i % 4] = c;
                csg[i % 4] = cs;
                if i % 4 == 3 {
                    let (mut v1, mut p1) = (v4.clone(), p4.clone());
                    for (j, row) in wanted.iter().enumerate() {
                        let want = ratio_sums(row, &beta);
                        // SAFETY: AVX2 checked above.
                        let got = unsafe {
                            use std::arch::x86_64::*;
                            let (c, d) = ratio4_avx2(&group, k, &beta);
                            let (mut c4, mut d4) = ([0.0; 4], [0.0; 4]);
                            _mm256_storeu_pd(c4.as_mut_ptr(), c);
                            _mm256_storeu_pd(d4.as_mut_ptr(), d);
                            (c4[j], d4[j])
                        };
                        assert_eq!(
                            (got.0.to_bits(), got.1.to_bits()),
                            (want.0.to_bits(), want.1.to_bits()),
                            "k {k}, row {j}"
                        );
                        // SAFETY: AVX2 checked above.
                        unsafe { value_present_avx2(row, cg[j], csg[j], &mut v1, &mut p1) };
                    }
                    // SAFETY: AVX2 checked above.
                    unsafe { value_present4_avx2(&group, k, &cg, &csg, &mut v4, &mut p4) };
                    assert_eq!(bits(&v1), bits(&v4), "k {k}");
                    assert_eq!(bits(&p1), bits(&p4), "k {k}");
                }
            }
        }
    }

    #[test]
    fn log1pexp_is_stable() {
        assert_relative_eq!(log1pexp(0.0), 2f64.ln());
        assert_relative_eq!(log1pexp(800.0), 800.0);
        assert!(log1pexp(-800.0) >= 0.0);
    }

    #[test]
    fn two_parameter_newton_converges() {
        let s = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
        let y = [1, 1, 0, 1, 0, 0, 1, 0];
        let (a, b, ok) = fit_two(&s, &y, &[1.0; 8], (0.0, 0.0));
        assert!(ok);
        // score equations hold at the optimum
        let g0: f64 = s
            .iter()
            .zip(&y)
            .map(|(&s, &y)| sigmoid(a + b * s) - y as f64)
            .sum();
        assert!(g0.abs() < 1e-10);
    }
}
