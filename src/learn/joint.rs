//! Points from a joint fit: one L2-penalised logistic regression on every learned metric's
//! bins together (and the sub-scores of metrics left as written), so that a bin's points
//! say what the bin adds given the other metrics, not what it shows alone. A numeric
//! metric enters as steps between neighbouring bins whose signs its shape fixes (health
//! never falls from one bin to the next for an increasing metric; rises to the turning
//! bin, then falls, for a peaked one), so the fit is the best one that keeps the shape,
//! not a fit bent into it afterwards. Each metric's points are then scaled so its
//! healthiest bin scores 100 and its least healthy 0; the weight fit that follows puts the
//! metrics on one scale again.
//!
//! With weight-of-evidence points instead (`--bin-points woe`), each metric is scored
//! alone, as a classic scorecard's WoE does; metrics that overlap (two that both single out
//! the same customers) then count that signal twice.

use super::metric::{scaled_with, Draft, DraftKind};
use super::Shape;
use crate::data::MetricColumn;
use crate::stats::{linalg::solve_spd, sigmoid};

/// How one draft enters the joint design.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Not in the model.
    None,
    /// Numeric bins (or label groups from least to most churn): `n − 1` cumulative
    /// indicators `[bin ≥ j]` from `offset` (their coefficients are the steps between
    /// neighbouring bins, signed by the shape), then one indicator for the missing values'
    /// own bin and one for rows without a bin.
    Steps { offset: usize, n: usize },
    /// A kept metric's sub-score / 100.
    Value { offset: usize },
}

/// Replace each learned metric's health by the joint fit's, on the rows of positive
/// weight. `columns[d]` is draft `d`'s data column; `kept[d]` a kept metric's sub-scores.
pub(super) fn joint_points(
    drafts: &mut [Draft],
    columns: &[Option<&MetricColumn>],
    kept: &[Option<&Vec<f64>>],
    y: &[u8],
    w: &dyn Fn(usize) -> f64,
) {
    let positive: Vec<usize> = (0..y.len()).filter(|&i| w(i) > 0.0).collect();
    let sampled = super::stride_sample(&positive, y, JOINT_ROWS);
    let weights: Vec<f64> = sampled.iter().map(|&(i, f)| w(i) * f).collect();
    let rows: Vec<usize> = sampled.iter().map(|&(i, _)| i).collect();
    let mut layout = Vec::with_capacity(drafts.len());
    // Sign of each coefficient: +1 must be ≥ 0, −1 ≤ 0, 0 free. The intercept first.
    let mut sign = vec![0i8];
    for (d, draft) in drafts.iter().enumerate() {
        let offset = sign.len();
        match (&draft.kind, columns[d]) {
            (
                DraftKind::Numbers {
                    bins,
                    shape,
                    health,
                    ..
                },
                Some(_),
            ) => {
                let n = bins.len();
                // Health rises where the churn coefficient falls.
                let turn = turning_point(*shape, health);
                for j in 1..n {
                    let health_rises = match shape {
                        Shape::Increasing => true,
                        Shape::Decreasing => false,
                        Shape::Peaked => j <= turn,
                        Shape::Valley => j > turn,
                    };
                    sign.push(if health_rises { -1 } else { 1 });
                }
                sign.extend([0, 0]);
                layout.push(Layout::Steps { offset, n });
            }
            (DraftKind::Labels { bins, .. }, Some(_)) => {
                // Label groups run from least to most churn alone; the joint fit keeps
                // that order (health never rises along it).
                let n = bins.len();
                sign.extend(std::iter::repeat_n(1, n.saturating_sub(1)));
                sign.extend([0, 0]);
                layout.push(Layout::Steps { offset, n });
            }
            _ => match kept[d] {
                Some(_) => {
                    sign.push(0);
                    layout.push(Layout::Value { offset });
                }
                None => layout.push(Layout::None),
            },
        }
    }
    let dim = sign.len();
    if dim == 1 || rows.is_empty() {
        return;
    }
    // Each row's columns, as (column, value) runs.
    let mut cols: Vec<(u32, f64)> = Vec::new();
    let mut at = vec![0usize; rows.len() + 1];
    for (r, &i) in rows.iter().enumerate() {
        cols.push((0, 1.0));
        for (d, draft) in drafts.iter().enumerate() {
            match layout[d] {
                Layout::None => {}
                Layout::Value { offset } => {
                    let k = kept[d].expect("laid out as a value");
                    let v = if k[i].is_nan() { 0.5 } else { k[i] / 100.0 };
                    cols.push((offset as u32, v));
                }
                Layout::Steps { offset, n } => {
                    let col = columns[d].expect("laid out from a column");
                    match draft.kind.bin_of_row(col, i) {
                        Some(b) if b < n => {
                            for j in 1..=b {
                                cols.push((offset as u32 + j as u32 - 1, 1.0));
                            }
                        }
                        Some(_) => cols.push(((offset + n - 1) as u32, 1.0)),
                        None => cols.push(((offset + n) as u32, 1.0)),
                    }
                }
            }
        }
        at[r + 1] = cols.len();
    }
    let ys: Vec<u8> = rows.iter().map(|&i| y[i]).collect();
    let beta = fit_signed(
        &Design {
            cols: &cols,
            at: &at,
            y: &ys,
            w: &weights,
        },
        &sign,
    );
    for (d, draft) in drafts.iter_mut().enumerate() {
        match (&mut draft.kind, layout[d]) {
            (
                DraftKind::Numbers {
                    health, missing, ..
                },
                Layout::Steps { offset, n },
            ) => {
                // Health: minus the churn log-odds, bin 0 the reference.
                let mut raw = vec![0.0; n];
                for b in 1..n {
                    raw[b] = raw[b - 1] - beta[offset + b - 1];
                }
                let own = missing.map(|_| -beta[offset + n - 1]);
                (*health, *missing) = scaled_with(&raw, own);
            }
            (DraftKind::Labels { health, .. }, Layout::Steps { offset, n }) => {
                let mut raw = vec![0.0; n];
                for b in 1..n {
                    raw[b] = raw[b - 1] - beta[offset + b - 1];
                }
                *health = scaled_with(&raw, None).0;
            }
            _ => {}
        }
    }
}

/// Rows the joint fit reads beyond this many: every churned row, and an even stride of
/// the retained ones weighted up to stand for all of them. Some sixty coefficients are
/// estimated as well from these as from every row, at a fraction of the passes' cost.
pub(super) const JOINT_ROWS: usize = 60_000;

/// The bin where a peaked (valley) sub-score turns: the metric's own healthiest (least
/// healthy) bin.
fn turning_point(shape: Shape, univariate: &[f64]) -> usize {
    let better = |a: f64, b: f64| match shape {
        Shape::Valley => a < b,
        _ => a > b,
    };
    (0..univariate.len()).fold(0, |t, b| {
        if better(univariate[b], univariate[t]) {
            b
        } else {
            t
        }
    })
}

/// Rows of the joint design: each row's `(column, value)` pairs (`cols[at[r]..at[r + 1]]`,
/// the intercept included), outcomes and weights.
struct Design<'a> {
    cols: &'a [(u32, f64)],
    at: &'a [usize],
    y: &'a [u8],
    w: &'a [f64],
}

impl Design<'_> {
    fn row(&self, r: usize) -> &[(u32, f64)] {
        &self.cols[self.at[r]..self.at[r + 1]]
    }

    /// Penalised negative log-likelihood (`½‖β‖²` on all but the intercept).
    fn objective(&self, b: &[f64]) -> f64 {
        let mut f = 0.0;
        for r in 0..self.y.len() {
            let eta: f64 = self.row(r).iter().map(|&(c, x)| b[c as usize] * x).sum();
            let sp = if eta > 0.0 {
                eta + (-eta).exp().ln_1p()
            } else {
                eta.exp().ln_1p()
            };
            f += self.w[r] * (sp - self.y[r] as f64 * eta);
        }
        f + 0.5 * b[1..].iter().map(|v| v * v).sum::<f64>()
    }
}

/// The penalised logistic regression with sign constraints (`sign[j]` +1: `β_j ≥ 0`, −1:
/// `β_j ≤ 0`, 0: free), by projected Newton steps on the free coefficients (those at their
/// bound whose gradient pushes outward stay there), with backtracking.
fn fit_signed(x: &Design, sign: &[i8]) -> Vec<f64> {
    let dim = sign.len();
    let mut beta = vec![0.0; dim];
    let (ws, ys): (f64, f64) = (0..x.y.len()).fold((0.0, 0.0), |a, r| {
        (a.0 + x.w[r], a.1 + x.w[r] * x.y[r] as f64)
    });
    let rate = (ys / ws).clamp(1e-6, 1.0 - 1e-6);
    beta[0] = (rate / (1.0 - rate)).ln();
    let project = |b: &mut [f64]| {
        for (v, &s) in b.iter_mut().zip(sign) {
            if (s > 0 && *v < 0.0) || (s < 0 && *v > 0.0) {
                *v = 0.0;
            }
        }
    };
    let mut f = x.objective(&beta);
    for _ in 0..100 {
        let mut grad = vec![0.0; dim];
        let mut h = vec![0.0; dim * dim];
        for r in 0..x.y.len() {
            let row = x.row(r);
            let eta: f64 = row.iter().map(|&(c, v)| beta[c as usize] * v).sum();
            let p = sigmoid(eta);
            let res = x.w[r] * (p - x.y[r] as f64);
            let cur = x.w[r] * p * (1.0 - p);
            for &(a, xa) in row {
                grad[a as usize] += res * xa;
                for &(b, xb) in row {
                    h[a as usize * dim + b as usize] += cur * xa * xb;
                }
            }
        }
        for a in 1..dim {
            grad[a] += beta[a];
            h[a * dim + a] += 1.0;
        }
        h[0] += 1e-9;
        // Coefficients held at their bound: at it, and the descent direction leaves it.
        let held: Vec<bool> = (0..dim)
            .map(|j| sign[j] != 0 && beta[j] == 0.0 && (sign[j] as f64) * grad[j] > 0.0)
            .collect();
        let free: Vec<usize> = (0..dim).filter(|&j| !held[j]).collect();
        let nf = free.len();
        let mut hf = vec![0.0; nf * nf];
        let mut gf = vec![0.0; nf];
        for (a, &ja) in free.iter().enumerate() {
            gf[a] = grad[ja];
            for (b, &jb) in free.iter().enumerate() {
                hf[a * nf + b] = h[ja * dim + jb];
            }
        }
        let Some(step) = solve_spd(&hf, &gf, nf) else {
            break;
        };
        let mut t = 1.0;
        let mut moved = false;
        while t >= 1e-10 {
            let mut next = beta.clone();
            for (a, &j) in free.iter().enumerate() {
                next[j] -= t * step[a];
            }
            project(&mut next);
            let fn_ = x.objective(&next);
            if fn_ <= f {
                let gain = f - fn_;
                beta = next;
                f = fn_;
                moved = gain > 1e-12 * (1.0 + f.abs());
                break;
            }
            t *= 0.5;
        }
        if !moved {
            break;
        }
    }
    beta
}
