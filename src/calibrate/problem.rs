//! The constrained fit: the profile's own score function inside a logistic model.
//!
//! With sub-scores `x_ik = s_ik / 100` and non-negative `β_k`, a snapshot's score is the
//! renormalised mean over its present metrics, `score_i = Σ_P β_k x_ik / Σ_P β_k`, and
//! `logit P(churn_i) = α − B · score_i` with `B = Σ_k β_k`. When every metric is present this
//! is the linear model `α − Σ β_k x_ik`; with missing metrics (`redistribute`) it is a ratio
//! and the problem is smooth but not convex.
//!
//! The objective is the weighted mean negative log-likelihood plus
//! `λ Σ_k (β_k − β⁰_k)²`, minimised by argmin's L-BFGS (Moré–Thuente line search) over
//! `θ = (α, u)` with `β = u²`, which keeps every weight non-negative and lets a weight reach 0.
//! The log-likelihood uses the stable forms `log(1 + e^η) = max(η, 0) + log1p(e^−|η|)`
//! (Mächler, "Accurately computing log(1 − exp(−|a|))", CRAN Rmpfr vignette, 2012).

use std::sync::{Arc, Mutex};

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;

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

/// A point θ with its cost and gradient.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// The penalised objective handed to argmin.
struct Objective<'a> {
    data: &'a FitData,
    prior: &'a [f64],
    lambda: f64,
    wsum: f64,
    cache: Mutex<Option<Evaluation>>,
}

impl Objective<'_> {
    /// Cost and gradient with respect to `θ = (α, u)`, cached for the last point.
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        if let Some((t, c, g)) = self.cache.lock().expect("cache lock").as_ref() {
            if t.as_slice() == theta {
                return (*c, g.clone());
            }
        }
        let k = self.data.k;
        let alpha = theta[0];
        let u = &theta[1..];
        let beta: Vec<f64> = u.iter().map(|v| v * v).collect();
        let big_b: f64 = beta.iter().sum();
        let d = self.data;
        let (nll, mut grad) =
            d.x.par_chunks(k * CHUNK)
                .enumerate()
                .map(|(c, rows)| {
                    let start = c * CHUNK;
                    let mut nll = 0.0;
                    let mut g = vec![0.0; k + 1];
                    for (j, row) in rows.chunks(k).enumerate() {
                        let i = start + j;
                        let w = d.w[i];
                        if w == 0.0 {
                            continue;
                        }
                        let (mut cs, mut ds) = (0.0, 0.0);
                        for (&xk, &b) in row.iter().zip(&beta) {
                            if !xk.is_nan() {
                                let b = b + WEIGHT_FLOOR;
                                cs += b * xk;
                                ds += b;
                            }
                        }
                        let score = cs / ds;
                        let eta = alpha - big_b * score;
                        let y = d.y[i] as f64;
                        nll += w * (log1pexp(eta) - y * eta);
                        let r = w * (sigmoid(eta) - y);
                        g[0] += r;
                        // ∂η/∂β_m = −[score + 1{m present} (B / D)(x_m − score)]
                        let ratio = big_b / ds;
                        for (m, &xk) in row.iter().enumerate() {
                            let dm = if xk.is_nan() {
                                score
                            } else {
                                score + ratio * (xk - score)
                            };
                            g[m + 1] -= r * dm;
                        }
                    }
                    (nll, g)
                })
                // Partial sums in chunk order, added in order: the same bits whatever
                // the thread count.
                .collect::<Vec<_>>()
                .into_iter()
                .fold((0.0, vec![0.0; k + 1]), |(a, mut ga), (b, gb)| {
                    for (x, y) in ga.iter_mut().zip(gb) {
                        *x += y;
                    }
                    (a + b, ga)
                });
        let mut cost = nll / self.wsum;
        for v in grad.iter_mut() {
            *v /= self.wsum;
        }
        for m in 0..k {
            let diff = beta[m] - self.prior[m];
            cost += self.lambda * diff * diff;
            grad[m + 1] += 2.0 * self.lambda * diff;
            // chain rule through β = u²
            grad[m + 1] *= 2.0 * u[m];
        }
        *self.cache.lock().expect("cache lock") = Some((theta.to_vec(), cost, grad.clone()));
        (cost, grad)
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(p).0)
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(p).1)
    }
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
/// `start` (α, β), until the gradient norm is below `tol_grad` ([`TIGHT`] or [`LOOSE`]).
/// Weights below 1e-9 of the total are returned as exactly 0.
pub fn fit_constrained(
    data: &FitData,
    prior: &[f64],
    lambda: f64,
    start: (f64, &[f64]),
    max_iters: u64,
    tol_grad: f64,
) -> ConstrainedFit {
    let wsum: f64 = data.w.iter().sum();
    let b0: f64 = start.1.iter().sum::<f64>().max(1e-3);
    // u must start away from 0, where its gradient vanishes.
    let floor = (1e-4 * b0 / data.k as f64).max(1e-8);
    let mut theta = vec![start.0];
    theta.extend(start.1.iter().map(|b| b.max(floor).sqrt()));
    let problem = Objective {
        data,
        prior,
        lambda,
        wsum,
        cache: Mutex::new(None),
    };
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, 10)
        .with_tolerance_grad(tol_grad)
        .expect("valid tolerance")
        .with_tolerance_cost(1e-12)
        .expect("valid tolerance");
    let run = Executor::new(problem, solver)
        .configure(|s| s.param(theta.clone()).max_iters(max_iters))
        .run();
    let (best, iterations, reason, converged) = match run {
        Ok(res) => {
            let st = res.state();
            let status = st.get_termination_status().clone();
            let (reason, converged) = match &status {
                TerminationStatus::Terminated(r) => (
                    r.text().to_string(),
                    matches!(
                        r,
                        TerminationReason::SolverConverged | TerminationReason::TargetCostReached
                    ),
                ),
                TerminationStatus::NotTerminated => ("not terminated".to_string(), false),
            };
            let best = st.get_best_param().cloned().unwrap_or(theta.clone());
            (best, st.get_iter(), reason, converged)
        }
        Err(e) => {
            // A line search that cannot improve further ends here; the start is kept.
            (theta.clone(), 0, format!("solver error: {e}"), false)
        }
    };
    let alpha = best[0];
    let mut beta: Vec<f64> = best[1..].iter().map(|u| u * u).collect();
    let total: f64 = beta.iter().sum();
    for b in beta.iter_mut() {
        if *b < 1e-9 * total {
            *b = 0.0;
        }
    }
    let s = data.scores(&beta);
    let big_b: f64 = beta.iter().sum();
    let nll = nll_of_scores(alpha, -big_b, &s, &data.y, &data.w);
    let penalty: f64 = beta
        .iter()
        .zip(prior)
        .map(|(b, p)| (b - p) * (b - p))
        .sum::<f64>()
        * lambda;
    ConstrainedFit {
        alpha,
        beta,
        objective: nll + penalty,
        nll,
        solver: SolverReport {
            converged,
            iterations,
            reason,
        },
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
    fn gradient_matches_finite_differences() {
        let d = tiny();
        let prior = [0.5, 1.0, 1.5];
        let obj = Objective {
            data: &d,
            prior: &prior,
            lambda: 0.01,
            wsum: 8.0,
            cache: Mutex::new(None),
        };
        let theta = vec![0.3, 0.8, 1.1, 0.6];
        let (_, g) = obj.eval(&theta);
        for j in 0..theta.len() {
            let h = 1e-6;
            let mut tp = theta.clone();
            tp[j] += h;
            let mut tm = theta.clone();
            tm[j] -= h;
            let fd = (obj.eval(&tp).0 - obj.eval(&tm).0) / (2.0 * h);
            assert_relative_eq!(g[j], fd, epsilon = 1e-7);
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
            let f = fit_constrained(&d, &prior, lam, (0.0, &prior), 1000, TIGHT);
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
