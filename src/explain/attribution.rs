//! Exact attribution of a score's change to its metrics.
//!
//! A profile's score is `Σ_P w_i s_i / Σ_P w_i` over the metrics `P` present (a missing
//! metric under `redistribute` drops out and its weight is shared; `neutral` and `worst`
//! fill a sub-score and keep it). Between two snapshots of an account:
//!
//! - when the same metrics are present at both dates, the score is linear in the
//!   sub-scores and metric `i` contributes `w_i Δs_i / Σ_P w` — exactly the change;
//! - when a metric appeared or disappeared, the denominator moves with it and metrics
//!   interact: each gets its **Shapley value** over metrics (the value of a coalition `S`
//!   is the score with the metrics in `S` at their new state and the others at their
//!   old), which sums exactly to the change and is the only split that is symmetric and
//!   gives nothing to a metric that changes nothing.
//!
//! The Shapley values are computed exactly without enumerating all `2^n` coalitions: a
//! metric present at both dates (`A`) never changes the denominator, so its marginal
//! contribution depends only on which of the `c` metrics whose presence changed (`C`) came
//! before it; a metric of `C` needs the expected old/new mix of `A` before it, which is
//! linear. The cost per account is `2^(c−1)·c + 2^c` terms: one term when nothing appeared
//! or disappeared; past `c` = [`MAX_CHANGED`] (twenty metrics appearing or disappearing in
//! one account at once) the account is counted and not split.

/// How an account's change was attributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The same metrics were present at both dates: `w Δs / Σw`, exact.
    Linear,
    /// Metrics appeared or disappeared (`changed` of them): exact Shapley values.
    Shapley {
        /// Metrics whose presence changed.
        changed: usize,
    },
    /// A coalition leaves no metric present (the account's metrics at the two dates do not
    /// overlap and some in-between state has none): the score there is undefined, and so
    /// are the contributions (NaN).
    Undefined,
    /// No score at one of the two dates.
    Unscored,
    /// The account's segment value picks another profile of the set at the second date:
    /// its change is the new profile's as well as the data's, and no split by metric is
    /// made (NaN).
    ProfileChanged,
    /// More than [`MAX_CHANGED`] metrics appeared or disappeared at once: the exact split
    /// would take `2^c` terms, and none is made (NaN).
    TooManyChanged {
        /// Metrics whose presence changed.
        changed: usize,
    },
}

/// Largest number of metrics whose presence may change between two snapshots of an
/// account (the exact computation is exponential in it).
pub const MAX_CHANGED: usize = 20;

/// The score `Σ w s / Σ w` over the present (non-NaN) sub-scores; NaN when none weighs.
pub fn score_of(w: &[f64], s: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (&w, &s) in w.iter().zip(s) {
        if !s.is_nan() {
            num += w * s;
            den += w;
        }
    }
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

/// Contributions of each metric to `score_of(w, to) − score_of(w, from)` into `out` (one
/// per metric; 0 for a metric absent at both dates). `scratch` holds the changed metrics.
pub fn attribute(
    w: &[f64],
    from: &[f64],
    to: &[f64],
    out: &mut [f64],
    scratch: &mut Vec<usize>,
) -> Method {
    let n = w.len();
    debug_assert!(from.len() == n && to.len() == n && out.len() == n);
    out.fill(0.0);
    let (before, after) = (score_of(w, from), score_of(w, to));
    if before.is_nan() || after.is_nan() {
        out.fill(f64::NAN);
        return Method::Unscored;
    }
    // A: present at both; C: present at one date only.
    scratch.clear();
    let mut w_a = 0.0;
    for i in 0..n {
        match (from[i].is_nan(), to[i].is_nan()) {
            (false, false) => w_a += w[i],
            (true, true) => {}
            _ => scratch.push(i),
        }
    }
    let c = scratch.len();
    if c == 0 {
        for i in 0..n {
            if !from[i].is_nan() {
                out[i] = w[i] * (to[i] - from[i]) / w_a;
            }
        }
        return Method::Linear;
    }
    if c > MAX_CHANGED {
        out.fill(f64::NAN);
        return Method::TooManyChanged { changed: c };
    }
    let changed = &scratch[..];
    // The weight and weighted sum of the C metrics present in a state: in T (a subset of C,
    // as a bit mask) a metric is at its new state, outside it at its old one.
    let c_state = |t: u32| -> (f64, f64) {
        let (mut den, mut num) = (0.0, 0.0);
        for (b, &j) in changed.iter().enumerate() {
            let s = if t >> b & 1 == 1 { to[j] } else { from[j] };
            if !s.is_nan() {
                den += w[j];
                num += w[j] * s;
            }
        }
        (den, num)
    };
    let fact = factorials(c + 1);
    // Metrics of A: w_i Δs_i × E[1 / W(T)], T the C metrics before i in a random order:
    // P(T) = |T|! (c − |T|)! / (c + 1)!.
    let mut mean_inverse = 0.0;
    for t in 0..(1u32 << c) {
        let k = t.count_ones() as usize;
        let den = w_a + c_state(t).0;
        if den <= 0.0 {
            out.fill(f64::NAN);
            return Method::Undefined;
        }
        mean_inverse += fact[k] * fact[c - k] / fact[c + 1] / den;
    }
    // The weighted old and new sums of A, for the expected mix before a C metric.
    let (mut a_old, mut a_new) = (0.0, 0.0);
    for i in 0..n {
        if !from[i].is_nan() && !to[i].is_nan() {
            out[i] = w[i] * (to[i] - from[i]) * mean_inverse;
            a_old += w[i] * from[i];
            a_new += w[i] * to[i];
        }
    }
    // Metrics of C: T ⊆ C \ {j} before j, P(T) = |T|! (c − 1 − |T|)! / c!; each A metric
    // precedes j with probability (|T| + 1) / (c + 1), so the A part of the numerator is
    // a_old + (|T| + 1) / (c + 1) (a_new − a_old) in expectation, and the marginal
    // contribution is linear in it.
    for (b, &j) in changed.iter().enumerate() {
        let mut phi = 0.0;
        let others = ((1u32 << c) - 1) & !(1 << b);
        // Every subset of the others, as masks of C.
        let mut t = others;
        loop {
            let k = t.count_ones() as usize;
            let a = a_old + (k + 1) as f64 / (c + 1) as f64 * (a_new - a_old);
            let (d0, n0) = c_state(t);
            let (d1, n1) = c_state(t | 1 << b);
            let marginal = (a + n1) / (w_a + d1) - (a + n0) / (w_a + d0);
            phi += fact[k] * fact[c - 1 - k] / fact[c] * marginal;
            if t == 0 {
                break;
            }
            t = (t - 1) & others;
        }
        out[j] = phi;
    }
    Method::Shapley { changed: c }
}

/// 0! … m! as floats.
fn factorials(m: usize) -> Vec<f64> {
    let mut f = vec![1.0; m + 1];
    for k in 1..=m {
        f[k] = f[k - 1] * k as f64;
    }
    f
}

/// Shapley values by enumerating every coalition: what [`attribute`] is checked against
/// (`2^n` scores; for a handful of metrics only).
pub fn shapley_brute_force(w: &[f64], from: &[f64], to: &[f64]) -> Vec<f64> {
    let n = w.len();
    assert!(n <= 16, "brute force is for small n");
    let fact = factorials(n);
    let v = |mask: u32| -> f64 {
        let s: Vec<f64> = (0..n)
            .map(|i| if mask >> i & 1 == 1 { to[i] } else { from[i] })
            .collect();
        score_of(w, &s)
    };
    let mut phi = vec![0.0; n];
    for (i, p) in phi.iter_mut().enumerate() {
        for mask in 0..(1u32 << n) {
            if mask >> i & 1 == 1 {
                continue;
            }
            let k = mask.count_ones() as usize;
            *p += fact[k] * fact[n - 1 - k] / fact[n] * (v(mask | 1 << i) - v(mask));
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sub_score() -> impl Strategy<Value = f64> {
        prop_oneof![2 => 0.0..=100.0, 1 => Just(f64::NAN), 1 => Just(0.0), 1 => Just(100.0)]
    }

    fn case(max: usize) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
        (1..=max).prop_flat_map(|n| {
            (
                prop::collection::vec(prop_oneof![4 => 0.01..50.0, 1 => Just(0.0)], n),
                prop::collection::vec(sub_score(), n),
                prop::collection::vec(sub_score(), n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// The contributions sum to the change, for any weights and missing pattern.
        #[test]
        fn contributions_sum_to_the_change((w, from, to) in case(14)) {
            let mut out = vec![0.0; w.len()];
            let method = attribute(&w, &from, &to, &mut out, &mut Vec::new());
            let change = score_of(&w, &to) - score_of(&w, &from);
            match method {
                Method::Unscored => prop_assert!(change.is_nan()),
                Method::Undefined | Method::TooManyChanged { .. } => prop_assert!(out.iter().all(|c| c.is_nan())),
                _ => {
                    let sum: f64 = out.iter().sum();
                    prop_assert!((sum - change).abs() < 1e-9, "{sum} vs {change} ({method:?})");
                    // A metric absent at both dates, or unchanged and present at both,
                    // gets nothing.
                    for i in 0..w.len() {
                        if from[i].is_nan() && to[i].is_nan() {
                            prop_assert_eq!(out[i], 0.0);
                        }
                    }
                }
            }
        }

        /// Equal to the Shapley values by enumeration of all coalitions, up to 8 metrics.
        #[test]
        fn equals_brute_force_shapley((w, from, to) in case(8)) {
            let mut out = vec![0.0; w.len()];
            let method = attribute(&w, &from, &to, &mut out, &mut Vec::new());
            if matches!(method, Method::Linear | Method::Shapley { .. }) {
                let brute = shapley_brute_force(&w, &from, &to);
                for (a, b) in out.iter().zip(&brute) {
                    prop_assert!((a - b).abs() < 1e-9, "{out:?} vs {brute:?}");
                }
            }
        }
    }

    #[test]
    fn a_hand_computed_example() {
        // Weights 50/30/20; usage 80 → 40, support 60 → 60, payments missing → 100.
        // Before: (50·80 + 30·60) / 80 = 72.5. After: (50·40 + 30·60 + 20·100) / 100 = 58.
        let w = [50.0, 30.0, 20.0];
        let (from, to) = ([80.0, 60.0, f64::NAN], [40.0, 60.0, 100.0]);
        let mut out = [0.0; 3];
        let m = attribute(&w, &from, &to, &mut out, &mut Vec::new());
        assert_eq!(m, Method::Shapley { changed: 1 });
        // Usage: 50 × (−40) × ½(1/80 + 1/100) = −22.5; support: 0; payments: the rest.
        assert!((out[0] + 22.5).abs() < 1e-12, "{out:?}");
        assert_eq!(out[1], 0.0);
        assert!((out[2] - 8.0).abs() < 1e-12, "{out:?}");
        assert!((out.iter().sum::<f64>() - (58.0 - 72.5)).abs() < 1e-12);
        // The same metrics present: linear.
        let m = attribute(
            &w,
            &[80.0, 60.0, 50.0],
            &[40.0, 60.0, 50.0],
            &mut out,
            &mut Vec::new(),
        );
        assert_eq!(m, Method::Linear);
        assert!((out[0] + 20.0).abs() < 1e-12);
    }

    #[test]
    fn too_many_metrics_appearing_at_once_are_counted_not_split() {
        let n = MAX_CHANGED + 2;
        let w = vec![1.0; n];
        let mut from = vec![f64::NAN; n];
        from[0] = 50.0;
        let mut to = vec![70.0; n];
        to[0] = f64::NAN;
        let mut out = vec![0.0; n];
        let m = attribute(&w, &from, &to, &mut out, &mut Vec::new());
        assert_eq!(m, Method::TooManyChanged { changed: n });
        assert!(out.iter().all(|v| v.is_nan()));
    }
}
