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

use std::sync::Arc;

use argmin::core::{Executor, State, TerminationReason, TerminationStatus};
use rayon::prelude::*;

use super::newton::{Curvature, Evaluation, ProjectedNewton};

use crate::score::sigmoid;

/// Rows per parallel work item.
const CHUNK: usize = 16_384;

/// A floor added to every weight inside the score ratio, so that a snapshot whose present
/// metrics all have weight 0 keeps a defined score (the plain mean of its sub-scores).
const WEIGHT_FLOOR: f64 = 1e-9;

/// Fitting data: sub-scores row-major in [0, 1] (NaN = missing, redistributed), outcomes and
/// row weights.
#[derive(Debug, Clone)]
pub struct FitData {
    /// Number of rows.
    pub n: usize,
    /// Number of metrics.
    pub k: usize,
    /// Row-major `n × k` sub-scores / 100; NaN where the metric drops out. Shared, so that
    /// bootstrap replicates (which differ only in `w`) do not copy it.
    pub x: Arc<[f64]>,
    /// Outcomes (1 = churned).
    pub y: Vec<u8>,
    /// Row weights (1 for a plain fit; bootstrap counts otherwise).
    pub w: Vec<f64>,
}

impl FitData {
    /// Build from column-major sub-scores in [0, 100] for the given rows.
    pub fn from_columns(columns: &[Vec<f64>], y: &[u8], rows: &[usize]) -> FitData {
        let k = columns.len();
        let mut x = Vec::with_capacity(rows.len() * k);
        for &i in rows {
            for c in columns {
                x.push(c[i] / 100.0);
            }
        }
        FitData {
            n: rows.len(),
            k,
            x: x.into(),
            y: rows.iter().map(|&i| y[i]).collect(),
            w: vec![1.0; rows.len()],
        }
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
            y: rows.iter().map(|&i| self.y[i]).collect(),
            w: rows.iter().map(|&i| self.w[i]).collect(),
        }
    }

    /// Score in [0, 1] of every row for weights `beta` (any positive scale).
    pub fn scores(&self, beta: &[f64]) -> Vec<f64> {
        self.x
            .par_chunks(self.k * 1024)
            .flat_map_iter(|rows| {
                rows.chunks(self.k).map(|row| {
                    let (mut c, mut d) = (0.0, 0.0);
                    for (&xk, &b) in row.iter().zip(beta) {
                        if !xk.is_nan() {
                            let b = b + WEIGHT_FLOOR;
                            c += b * xk;
                            d += b;
                        }
                    }
                    c / d
                })
            })
            .collect()
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

/// `log(1 + e^η)` without overflow.
#[inline]
pub fn log1pexp(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

/// Weighted mean negative log-likelihood of `logit p = α + slope · s` for scores `s`.
pub fn nll_of_scores(alpha: f64, slope: f64, s: &[f64], y: &[u8], w: &[f64]) -> f64 {
    let (mut sum, mut wsum) = (0.0, 0.0);
    for ((&s, &y), &w) in s.iter().zip(y).zip(w) {
        let eta = alpha + slope * s;
        sum += w * (log1pexp(eta) - y as f64 * eta);
        wsum += w;
    }
    sum / wsum
}

/// Fit `logit p = α + slope · s` (two parameters) by Newton's method; returns
/// `(α, slope, converged)`. Used for the prior's own slope and for fixed weights.
pub fn fit_two(s: &[f64], y: &[u8], w: &[f64], start: (f64, f64)) -> (f64, f64, bool) {
    let (mut a, mut b) = start;
    for _ in 0..100 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for ((&s, &y), &w) in s.iter().zip(y).zip(w) {
            let p = sigmoid(a + b * s);
            let r = w * (p - y as f64);
            let v = w * p * (1.0 - p);
            g0 += r;
            g1 += r * s;
            h00 += v;
            h01 += v * s;
            h11 += v * s * s;
        }
        let det = h00 * h11 - h01 * h01;
        if det.abs() < 1e-300 || !det.is_finite() {
            return (a, b, false);
        }
        let da = (h11 * g0 - h01 * g1) / det;
        let db = (h00 * g1 - h01 * g0) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-12 {
            return (a, b, true);
        }
    }
    (a, b, false)
}

/// The penalised objective over `θ = (α, β)`, `β ≥ 0`.
struct Objective<'a> {
    data: &'a FitData,
    prior: &'a [f64],
    lambda: f64,
    wsum: f64,
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
}

/// Rows evaluated together: independent accumulation chains across rows, and one update of
/// the gradient and information cells per group instead of per row.
const LANES: usize = 4;

impl Objective<'_> {
    /// Sums over one chunk of rows starting at row `start`: groups of [`LANES`] rows, then
    /// the remainder one at a time.
    fn chunk<const FISHER: bool>(
        &self,
        rows: &[f64],
        start: usize,
        alpha: f64,
        beta: &[f64],
        big_b: f64,
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
        };
        let mut z = vec![0.0; p * LANES];
        let full = rows.len() / (k * LANES);
        for g in 0..full {
            let group = &rows[g * k * LANES..(g + 1) * k * LANES];
            self.group::<LANES, FISHER>(
                group,
                start + g * LANES,
                (alpha, beta, big_b),
                &mut z,
                &mut out,
            );
        }
        for i in full * LANES..rows.len() / k {
            let row = &rows[i * k..(i + 1) * k];
            self.group::<1, FISHER>(row, start + i, (alpha, beta, big_b), &mut z, &mut out);
        }
        if !FISHER {
            for m in 0..k {
                out.grad[m + 1] = -out.mean - out.value[m] + out.present[m];
            }
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
    fn group<const L: usize, const FISHER: bool>(
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
        // Branch-free sums: a missing metric adds 0 to both.
        let (mut cs, mut ds) = ([0.0; L], [0.0; L]);
        for (m, &b) in beta.iter().enumerate() {
            let b = b + WEIGHT_FLOOR;
            for j in 0..L {
                let x = rows[j * k + m];
                let present = !x.is_nan();
                let bj = if present { b } else { 0.0 };
                cs[j] += bj * if present { x } else { 0.0 };
                ds[j] += bj;
            }
        }
        let (mut r, mut v) = ([0.0; L], [0.0; L]);
        for j in 0..L {
            let score = cs[j] / ds[j];
            let ratio = big_b / ds[j];
            let eta = alpha - big_b * score;
            // One exponential for the likelihood and the probability.
            let e = (-eta.abs()).exp();
            let prob = if eta >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let w = d.w[first + j];
            let y = d.y[first + j] as f64;
            out.nll += w * (eta.max(0.0) + e.ln_1p() - y * eta);
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
                for ((val, pre), &x) in out.value.iter_mut().zip(out.present.iter_mut()).zip(row) {
                    let present = !x.is_nan();
                    *val += c * if present { x } else { 0.0 };
                    *pre += if present { c_score } else { 0.0 };
                }
                continue;
            }
            // z stored parameter-major: z[a · L + j].
            z[j] = 1.0;
            for m in 0..k {
                let x = rows[j * k + m];
                let dev = if x.is_nan() { 0.0 } else { x - score };
                z[(m + 1) * L + j] = -(score + ratio * dev);
            }
        }
        if !FISHER {
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
        let d = self.data;
        let k = d.k;
        let p = k + 1;
        let alpha = theta[0];
        let beta = &theta[1..];
        let big_b: f64 = beta.iter().sum();
        let parts: Vec<Partial> =
            d.x.par_chunks(k * CHUNK)
                .enumerate()
                .map(|(c, rows)| {
                    if with_curvature {
                        self.chunk::<true>(rows, c * CHUNK, alpha, beta, big_b)
                    } else {
                        self.chunk::<false>(rows, c * CHUNK, alpha, beta, big_b)
                    }
                })
                .collect();
        // Partial sums added in chunk order: the same bits whatever the thread count.
        let mut nll = 0.0;
        let mut grad = vec![0.0; p];
        let mut lower = vec![0.0; p * p];
        for part in parts {
            nll += part.nll;
            for (a, b) in grad.iter_mut().zip(part.grad) {
                *a += b;
            }
            for (a, b) in lower.iter_mut().zip(part.info) {
                *a += b;
            }
        }
        let mut cost = nll / self.wsum;
        for g in grad.iter_mut() {
            *g /= self.wsum;
        }
        let mut curvature = Vec::new();
        if with_curvature {
            curvature = vec![0.0; p * p];
            for a in 0..p {
                for b in 0..=a {
                    let v = lower[a * p + b] / self.wsum;
                    curvature[a * p + b] = v;
                    curvature[b * p + a] = v;
                }
            }
            for m in 0..k {
                curvature[(m + 1) * p + m + 1] += 2.0 * self.lambda;
            }
        }
        for m in 0..k {
            let diff = beta[m] - self.prior[m];
            cost += self.lambda * diff * diff;
            grad[m + 1] += 2.0 * self.lambda * diff;
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
    Objective {
        data,
        prior,
        lambda,
        wsum: data.w.iter().sum(),
    }
    .evaluate(theta, curvature)
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
    let p = data.k + 1;
    let penalty = |h: &mut [f64], sign: f64| {
        for m in 1..p {
            h[m * p + m] += sign * 2.0 * lambda;
        }
    };
    let wsum: f64 = data.w.iter().sum();
    let mut theta = vec![start.0];
    theta.extend(start.1.iter().map(|b| b.max(0.0)));
    let problem = Objective {
        data,
        prior,
        lambda,
        wsum,
    };
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
            y: vec![0, 1, 0, 1, 0, 1, 0, 0],
            w: vec![1.0; 8],
        }
    }

    #[test]
    fn gradient_and_curvature_match_finite_differences() {
        let d = tiny();
        let prior = [0.5, 1.0, 1.5];
        let obj = Objective {
            data: &d,
            prior: &prior,
            lambda: 0.01,
            wsum: 8.0,
        };
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
        let obj = Objective {
            data: &complete,
            prior: &prior,
            lambda: 0.01,
            wsum: 7.0,
        };
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
        let obj = Objective {
            data: &d,
            prior: &prior,
            lambda: 0.0,
            wsum: 8.0,
        };
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
