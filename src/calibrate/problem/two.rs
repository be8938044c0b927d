//! The two-parameter fit of the prior's score: intercept and slope of P(churn) by Newton's
//! method, and the stable log(1 + eᵗ) it needs.

use super::*;

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
        // Chunk sums added in chunk order: the same bits whatever the thread count.
        let parts: Vec<[f64; 5]> = s
            .par_chunks(CHUNK)
            .zip(y.par_chunks(CHUNK))
            .zip(w.par_chunks(CHUNK))
            .map(|((s, y), w)| {
                // The chunk's probabilities first, four lanes at a time.
                let mut p: Vec<f64> = s.iter().map(|&s| a + b * s).collect();
                crate::stats::fastexp::sigmoid_in_place(&mut p);
                let mut t = [0.0; 5];
                for (((&s, &y), &w), &p) in s.iter().zip(y).zip(w).zip(&p) {
                    if w == 0.0 {
                        continue;
                    }
                    let r = w * (p - y as f64);
                    let v = w * p * (1.0 - p);
                    t[0] += r;
                    t[1] += r * s;
                    t[2] += v;
                    t[3] += v * s;
                    t[4] += v * s * s;
                }
                t
            })
            .collect();
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for t in parts {
            g0 += t[0];
            g1 += t[1];
            h00 += t[2];
            h01 += t[3];
            h11 += t[4];
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
