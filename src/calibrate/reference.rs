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

use super::linalg::{invert_spd, solve_spd};
use crate::score::sigmoid;

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

/// Fit the unconstrained model on a row-major `n × k` feature matrix without missing values.
pub fn fit_reference(x: &[f64], n: usize, k: usize, y: &[u8]) -> ReferenceFit {
    let records = Array2::from_shape_vec((n, k), x.to_vec()).expect("n × k features");
    let targets = Array1::from_vec(y.to_vec());
    let dataset = Dataset::new(records, targets);
    // linfa's default alpha is an L2 penalty of 1; the reference fit is unpenalised.
    let start: Vec<f64> = match LogisticRegression::default()
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
    let rate = y.iter().filter(|&&v| v == 1).count() as f64 / n.max(1) as f64;
    let mut null = vec![0.0; k + 1];
    null[0] = (rate.clamp(1e-9, 1.0 - 1e-9) / (1.0 - rate.clamp(1e-9, 1.0 - 1e-9))).ln();
    let from = if loglik(x, n, k, y, &start) >= loglik(x, n, k, y, &null) {
        start
    } else {
        null
    };
    newton(x, n, k, y, from)
}

/// The same fit on other rows (a cross-validation fold, the rows before a holdout date),
/// by Newton's method from `from` (the fit on all rows): the same maximum-likelihood
/// estimate linfa + Newton would reach, without linfa's first-order iterations.
pub fn refit_reference(
    x: &[f64],
    n: usize,
    k: usize,
    y: &[u8],
    from: &ReferenceFit,
) -> ReferenceFit {
    let mut start = vec![from.intercept];
    start.extend(from.coef.iter().map(|c| -c));
    if !start.iter().all(|v| v.is_finite()) {
        return fit_reference(x, n, k, y);
    }
    newton(x, n, k, y, start)
}

/// Log-likelihood of (intercept, coefficients).
fn loglik(x: &[f64], n: usize, k: usize, y: &[u8], theta: &[f64]) -> f64 {
    let mut ll = 0.0;
    for i in 0..n {
        let row = &x[i * k..(i + 1) * k];
        let eta = theta[0] + row.iter().zip(&theta[1..]).map(|(a, b)| a * b).sum::<f64>();
        ll += y[i] as f64 * eta - super::problem::log1pexp(eta);
    }
    if ll.is_finite() {
        ll
    } else {
        f64::NEG_INFINITY
    }
}

/// Newton–Raphson on the logistic log-likelihood from `start` = (intercept, coefficients),
/// with step halving so that the likelihood never falls.
fn newton(x: &[f64], n: usize, k: usize, y: &[u8], start: Vec<f64>) -> ReferenceFit {
    let p = k + 1;
    let mut theta = start;
    let mut converged = false;
    let mut info = vec![0.0; p * p];
    let mut ll = loglik(x, n, k, y, &theta);
    for _ in 0..100 {
        let (g, lower) = gradient_information(x, n, k, y, &theta);
        for a in 0..p {
            for b in 0..=a {
                info[a * p + b] = lower[a * p + b];
                info[b * p + a] = lower[a * p + b];
            }
        }
        let Some(step) = solve_spd(&info, &g, p) else {
            break;
        };
        // Newton decrement: the expected gain of the full step is ½ gᵀ H⁻¹ g. Below
        // rounding level of the log-likelihood, the optimum is reached.
        let decrement: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        if decrement < 1e-12 * ll.abs().max(1.0) {
            for (t, s) in theta.iter_mut().zip(&step) {
                *t += s;
            }
            converged = true;
            break;
        }
        let mut t = 1.0;
        let mut next;
        loop {
            next = theta
                .iter()
                .zip(&step)
                .map(|(a, s)| a + t * s)
                .collect::<Vec<_>>();
            let l = loglik(x, n, k, y, &next);
            if l >= ll || t < 1e-8 {
                ll = l.max(ll);
                break;
            }
            t *= 0.5;
        }
        theta = next;
    }
    // The information at the final point.
    let (_, lower) = gradient_information(x, n, k, y, &theta);
    for a in 0..p {
        for b in 0..=a {
            info[a * p + b] = lower[a * p + b];
            info[b * p + a] = lower[a * p + b];
        }
    }
    let cov = invert_spd(&info, p);
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

/// Gradient of the log-likelihood and the lower triangle of the information matrix
/// `Xᵀ diag(p(1−p)) X` (with the intercept column), summed over row chunks in parallel and
/// added in chunk order so that the result does not depend on the thread count.
fn gradient_information(
    x: &[f64],
    n: usize,
    k: usize,
    y: &[u8],
    theta: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    const ROWS: usize = 8192;
    let p = k + 1;
    let parts: Vec<(Vec<f64>, Vec<f64>)> = (0..n.div_ceil(ROWS))
        .into_par_iter()
        .map(|c| {
            let mut g = vec![0.0; p];
            let mut info = vec![0.0; p * p];
            let mut z = vec![1.0; p];
            for i in c * ROWS..((c + 1) * ROWS).min(n) {
                z[1..].copy_from_slice(&x[i * k..(i + 1) * k]);
                let eta: f64 = z.iter().zip(theta).map(|(a, b)| a * b).sum();
                let pr = sigmoid(eta);
                let r = y[i] as f64 - pr;
                let v = pr * (1.0 - pr);
                for a in 0..p {
                    let za = z[a];
                    g[a] += r * za;
                    let vz = v * za;
                    let row = &mut info[a * p..a * p + a + 1];
                    for (cell, zb) in row.iter_mut().zip(&z[..=a]) {
                        *cell += vz * zb;
                    }
                }
            }
            (g, info)
        })
        .collect();
    let mut g = vec![0.0; p];
    let mut info = vec![0.0; p * p];
    for (pg, pi) in parts {
        for (a, b) in g.iter_mut().zip(pg) {
            *a += b;
        }
        for (a, b) in info.iter_mut().zip(pi) {
            *a += b;
        }
    }
    (g, info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    // statsmodels: sm.Logit(y, sm.add_constant(X)).fit(tol=1e-14) on the data of
    // tests/reference/kat.py gives
    //   params [ 1.372113373638526, -3.205062238033062, -1.8094249089020233, 0.7358752397566712]
    //   bse    [ 0.42723382476875166, 0.5085801674501971, 0.4811951696667818, 0.4635238402875406]
    // churncal's coefficients are the negated (protective) ones.
    #[test]
    fn matches_statsmodels_logit() {
        let d = crate::calibrate::kat::data();
        let r = fit_reference(&d.x, d.n, d.k, &d.y);
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
