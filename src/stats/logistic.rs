//! L2-penalised logistic regression by Newton's method, the baseline of
//! `calibrate --learn-transforms`: scikit-learn's `LogisticRegression()` with its defaults
//! (penalty `½‖β‖²` on the summed log-loss, `C = 1`, intercept not penalised), so its
//! out-of-sample figures compare with a practitioner's.

use super::linalg::solve_spd;
use super::sigmoid;

/// A fitted model: P(churn) = σ(intercept + coef · x).
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// Intercept.
    pub intercept: f64,
    /// One coefficient per feature.
    pub coef: Vec<f64>,
}

impl Logistic {
    /// P(churn) of a row of features.
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.intercept + row.iter().zip(&self.coef).map(|(x, c)| x * c).sum::<f64>())
    }
}

/// Fit on the rows of row-major `x` (`n × k`) with weight > 0; `l2` is `1 / C`.
pub fn fit(x: &[f64], k: usize, y: &[u8], w: &[f64], l2: f64) -> Logistic {
    let n = y.len();
    let dim = k + 1;
    let mut beta = vec![0.0; dim];
    let wsum: f64 = w.iter().sum();
    let ysum: f64 = (0..n).map(|i| w[i] * y[i] as f64).sum();
    let rate = (ysum / wsum).clamp(1e-6, 1.0 - 1e-6);
    beta[0] = (rate / (1.0 - rate)).ln();
    let objective = |b: &[f64]| -> f64 {
        let mut f = 0.0;
        for i in 0..n {
            if w[i] <= 0.0 {
                continue;
            }
            let row = &x[i * k..(i + 1) * k];
            let eta = b[0] + row.iter().zip(&b[1..]).map(|(a, c)| a * c).sum::<f64>();
            // log(1 + e^eta) − y·eta, stably.
            let sp = if eta > 0.0 {
                eta + (-eta).exp().ln_1p()
            } else {
                eta.exp().ln_1p()
            };
            f += w[i] * (sp - y[i] as f64 * eta);
        }
        f + 0.5 * l2 * b[1..].iter().map(|v| v * v).sum::<f64>()
    };
    let mut f = objective(&beta);
    for _ in 0..100 {
        let mut g = vec![0.0; dim];
        let mut h = vec![0.0; dim * dim];
        let mut row1 = vec![0.0; dim];
        for i in 0..n {
            if w[i] <= 0.0 {
                continue;
            }
            row1[0] = 1.0;
            row1[1..].copy_from_slice(&x[i * k..(i + 1) * k]);
            let eta: f64 = row1.iter().zip(&beta).map(|(a, c)| a * c).sum();
            let p = sigmoid(eta);
            let r = w[i] * (p - y[i] as f64);
            let c = w[i] * p * (1.0 - p);
            for a in 0..dim {
                g[a] += r * row1[a];
                let ca = c * row1[a];
                if ca != 0.0 {
                    for b in 0..=a {
                        h[a * dim + b] += ca * row1[b];
                    }
                }
            }
        }
        for a in 1..dim {
            g[a] += l2 * beta[a];
            h[a * dim + a] += l2;
        }
        for a in 0..dim {
            for b in 0..a {
                h[b * dim + a] = h[a * dim + b];
            }
            h[a * dim + a] += 1e-10;
        }
        let Some(step) = solve_spd(&h, &g, dim) else {
            break;
        };
        // Backtracking on the penalised objective.
        let mut t = 1.0;
        let mut next;
        loop {
            next = beta
                .iter()
                .zip(&step)
                .map(|(b, s)| b - t * s)
                .collect::<Vec<_>>();
            let fn_ = objective(&next);
            if fn_ <= f || t < 1e-8 {
                let done = (f - fn_).abs() <= 1e-10 * (1.0 + f.abs());
                f = fn_.min(f);
                beta = next;
                if done {
                    return Logistic {
                        intercept: beta[0],
                        coef: beta[1..].to_vec(),
                    };
                }
                break;
            }
            t *= 0.5;
        }
    }
    Logistic {
        intercept: beta[0],
        coef: beta[1..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // scikit-learn 1.9.1: LogisticRegression().fit(X, y) on
    // X = [[0], [1], [2], [3], [4], [5]], y = [0, 0, 1, 0, 1, 1]:
    // intercept_ = -1.91767556, coef_ = [0.76706738] (L-BFGS to its tolerance 1e-4; Newton
    // goes to the optimum, 4e-5 away).
    #[test]
    fn matches_scikit_learn_default() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [0, 0, 1, 0, 1, 1];
        let m = fit(&x, 1, &y, &[1.0; 6], 1.0);
        assert!((m.intercept - (-1.91767556)).abs() < 2e-4, "{m:?}");
        assert!((m.coef[0] - 0.76706738).abs() < 2e-4, "{m:?}");
    }
}
