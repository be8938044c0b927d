//! One-step bootstrap replicates: each replicate's fit as one constrained Newton step from
//! the full-data fit, with the full data's curvature and the replicate's gradient, which is
//! a count-weighted sum of per-account gradients computed in one pass. The replicates then
//! cost a small quadratic programme each instead of a fit over the data.
//!
//! At the full fit θ̂, a replicate that counts account `a` `c_a` times has the mean gradient
//! `g_b = Σ_a c_a G_a / W_b` (`G_a` the account's summed gradient, `W_b` the replicate's
//! weight), and its fit is approximately `θ̂ + Δ` with `Δ` minimising
//! `g_bᵀΔ + ½ ΔᵀHΔ` subject to `β̂ + Δβ ≥ 0` (`H` the full data's information per unit
//! weight): the one-step bootstrap (Davison & Hinkley, *Bootstrap Methods and their
//! Application*, 1997, § 6.3; for M-estimators, Hu & Kalbfleisch, "The estimating function
//! bootstrap", Canadian Journal of Statistics 28(3), 2000).

use super::*;

/// Each account's summed gradient of the weighted negative log-likelihood at `theta`
/// (`(k + 1)` values per account, row-major), for rows whose account index is `account_of`
/// (`n_accounts` accounts); the same row terms as the objective's.
pub fn account_gradients(
    fd: &FitData,
    theta: &[f64],
    account_of: &[u32],
    n_accounts: usize,
) -> Vec<f64> {
    let k = fd.k;
    let p = k + 1;
    let alpha = theta[0];
    let beta = &theta[1..];
    let big_b: f64 = beta.iter().sum();
    // Per chunk of rows, the sums of the accounts it touches, flat (an account and its p
    // sums per run); accounts' rows are runs, so a chunk touches few accounts and the merge
    // is cheap. Chunks go a batch at a time, so that only a batch's sums wait to be merged.
    let chunk = |c: usize| -> (Vec<u32>, Vec<f64>) {
        let mut ids: Vec<u32> = Vec::new();
        let mut out: Vec<f64> = Vec::new();
        let rows = c * CHUNK..((c + 1) * CHUNK).min(fd.n);
        for (i, &a) in rows.clone().zip(&account_of[rows]) {
            let w = fd.w[i];
            if w == 0.0 {
                continue;
            }
            let row = &fd.x[i * k..(i + 1) * k];
            let (c, d) = fit_data::ratio_sums(row, beta);
            let score = c / d;
            let ratio = big_b / d;
            let r = w * (sigmoid(alpha - big_b * score) - f64::from(fd.y[i]));
            if ids.last() != Some(&a) {
                ids.push(a);
                out.resize(out.len() + p, 0.0);
            }
            let g = &mut out[(ids.len() - 1) * p..];
            g[0] += r;
            for (m, &x) in row.iter().enumerate() {
                let dev = if x.is_nan() { 0.0 } else { x - score };
                g[m + 1] -= r * (score + ratio * dev);
            }
        }
        (ids, out)
    };
    const BATCH: usize = 64;
    let chunks = fd.n.div_ceil(CHUNK);
    let mut sums = vec![0.0; n_accounts * p];
    for first in (0..chunks).step_by(BATCH) {
        let parts: Vec<(Vec<u32>, Vec<f64>)> = (first..(first + BATCH).min(chunks))
            .into_par_iter()
            .map(chunk)
            .collect();
        for (ids, g) in parts {
            for (&a, g) in ids.iter().zip(g.chunks_exact(p)) {
                let a = a as usize;
                for (s, v) in sums[a * p..(a + 1) * p].iter_mut().zip(g) {
                    *s += v;
                }
            }
        }
    }
    sums
}

/// The step `Δ` minimising `gᵀΔ + ½ ΔᵀHΔ` with `Δ_m ≥ lower_m` for the coefficients
/// (`lower[0]` is −∞: the intercept is free), by cyclic coordinate descent, which converges
/// for a positive semi-definite `H` (Luo & Tseng, "On the convergence of the coordinate
/// descent method for convex differentiable minimization", JOTA 72(1), 1992).
pub fn box_newton_step(g: &[f64], h: &[f64], lower: &[f64]) -> Vec<f64> {
    let p = g.len();
    let mut d = vec![0.0; p];
    // H·Δ, kept up to date.
    let mut hd = vec![0.0; p];
    for _ in 0..1000 {
        let mut moved = 0.0f64;
        for j in 0..p {
            let hjj = h[j * p + j];
            if hjj <= 0.0 {
                continue;
            }
            let new = (d[j] - (g[j] + hd[j]) / hjj).max(lower[j]);
            let delta = new - d[j];
            if delta != 0.0 {
                for (i, v) in hd.iter_mut().enumerate() {
                    *v += h[i * p + j] * delta;
                }
                d[j] = new;
                moved = moved.max(delta.abs());
            }
        }
        if moved < 1e-13 {
            break;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_step_is_the_newton_step_inside_and_respects_the_bound() {
        // H = [[2, 1], [1, 2]], g = [-1, -1]: the free step solves HΔ = −g: Δ = (1/3, 1/3).
        let h = [2.0, 1.0, 1.0, 2.0];
        let d = box_newton_step(&[-1.0, -1.0], &h, &[f64::NEG_INFINITY, -10.0]);
        assert!((d[0] - 1.0 / 3.0).abs() < 1e-12 && (d[1] - 1.0 / 3.0).abs() < 1e-12);
        // With Δ₁ ≥ 0.5 the bound holds and Δ₀ minimises given it: (1 − 0.5) / 2.
        let d = box_newton_step(&[-1.0, -1.0], &h, &[f64::NEG_INFINITY, 0.5]);
        assert!((d[1] - 0.5).abs() < 1e-12 && (d[0] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn account_gradients_sum_to_the_objectives_gradient() {
        let fd = crate::calibrate::kat::data();
        let theta = [0.4, 1.2, 0.7, 0.1];
        let accounts: Vec<u32> = (0..fd.n as u32).map(|i| i / 3).collect();
        let g = account_gradients(&fd, &theta, &accounts, fd.n.div_ceil(3));
        let total: Vec<f64> = (0..4)
            .map(|j| g.chunks(4).map(|a| a[j]).sum::<f64>() / fd.n as f64)
            .collect();
        let want = evaluate_objective(&fd, &theta[1..], 0.0, &theta, false).grad;
        for (a, b) in total.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{total:?} vs {want:?}");
        }
    }
}
