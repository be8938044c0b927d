//! The AUC with DeLong's interval in the risk's own buffer, for one column at a time over
//! tens of millions of rows (the audit's per-metric signal): each class's order keys sorted
//! apart and merged, DeLong's structural components summed by tie group as exact integers.
//! No row index, rank or per-row component is kept: at 10M rows the working set is the
//! risk's buffer and the smaller class's keys (about 90 MB), against about 450 MB for
//! [`super::evaluation::auc_ci`].

use rayon::prelude::*;

use super::evaluation::Z95;

/// [`super::evaluation::auc_ci`] of the rows of `risk` that are not NaN (higher = more
/// likely to churn; `y`: 1 = churned), taking the risk's buffer. The AUC and its 95 %
/// interval are those of `auc_ci` over the same rows up to rounding in the last digits:
/// every row's component is `k / 2c` for an integer `k` (`c` the other class's size), so
/// their sums and sums of squares are exact integers and need no order of summation. NaN
/// for the AUC and the interval when either class is empty.
pub fn auc_ci_owned(risk: Vec<f64>, y: &[u8]) -> (f64, [f64; 2]) {
    debug_assert_eq!(risk.len(), y.len());
    // The negatives' keys in the risk's own buffer, the positives' apart.
    let mut keys: Vec<u64> = risk.into_iter().map(f64::to_bits).collect();
    let mut pos: Vec<u64> = Vec::new();
    let mut kept = 0;
    for i in 0..keys.len() {
        let x = f64::from_bits(keys[i]);
        if x.is_nan() {
            continue;
        }
        let k = super::order_key(x);
        if y[i] == 1 {
            pos.push(k);
        } else {
            keys[kept] = k;
            kept += 1;
        }
    }
    keys.truncate(kept);
    let mut neg = keys;
    let (m, n) = (pos.len(), neg.len());
    if m == 0 || n == 0 {
        return (f64::NAN, [f64::NAN; 2]);
    }
    pos.par_sort_unstable();
    neg.par_sort_unstable();
    // Tie group by tie group, lowest risk first: a positive's V10 is (negatives below + ½
    // tied) / n = k10 / 2n, a negative's V01 is (positives above + ½ tied) / m = k01 / 2m.
    let (mut i, mut j) = (0usize, 0usize);
    let mut s10 = Sums::default();
    let mut s01 = Sums::default();
    while i < m || j < n {
        let key = match (pos.get(i), neg.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => unreachable!("the loop runs while one class has rows left"),
        };
        let tp = pos[i..].iter().take_while(|&&k| k == key).count();
        let tn = neg[j..].iter().take_while(|&&k| k == key).count();
        s10.add(tp, (2 * j + tn) as u128);
        s01.add(tn, (2 * (m - i - tp) + tp) as u128);
        i += tp;
        j += tn;
    }
    let auc = s10.sum as f64 / (2.0 * n as f64 * m as f64);
    let var = s10.variance(m, n) / m as f64 + s01.variance(n, m) / n as f64;
    (
        auc,
        [
            (auc - Z95 * var.sqrt()).max(0.0),
            (auc + Z95 * var.sqrt()).min(1.0),
        ],
    )
}

/// Σ k and Σ k² of one class's components `k / 2c`, exactly.
#[derive(Default)]
struct Sums {
    sum: u128,
    squares: u128,
}

impl Sums {
    /// `count` rows with component numerator `k`.
    fn add(&mut self, count: usize, k: u128) {
        self.sum += count as u128 * k;
        self.squares += count as u128 * k * k;
    }

    /// The sample variance (denominator `len − 1`) of the `len` components `k / 2 other`.
    fn variance(&self, len: usize, other: usize) -> f64 {
        // len Σk² − (Σk)² ≥ 0 exactly (Cauchy–Schwarz).
        let spread = len as u128 * self.squares - self.sum * self.sum;
        let scale = 2.0 * other as f64;
        spread as f64 / (len as f64 * (len as f64 - 1.0)) / (scale * scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::evaluation::auc_ci;

    fn close(a: (f64, [f64; 2]), b: (f64, [f64; 2])) -> bool {
        let near = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12;
        near(a.0, b.0) && near(a.1[0], b.1[0]) && near(a.1[1], b.1[1])
    }

    #[test]
    fn matches_the_rank_based_interval_with_ties_and_gaps() {
        // Many ties (values in steps), −0 and +0, NaN rows left out.
        let n = 5_000;
        let risk: Vec<f64> = (0..n)
            .map(|i| match i % 97 {
                0 => f64::NAN,
                1 => -0.0,
                2 => 0.0,
                _ => ((i * 37) % 41) as f64 * 0.25 - 3.0,
            })
            .collect();
        let y: Vec<u8> = (0..n)
            .map(|i| u8::from((i * 7 + i / 13) % 9 == 0))
            .collect();
        let (r, yy): (Vec<f64>, Vec<u8>) = risk
            .iter()
            .zip(&y)
            .filter(|(r, _)| !r.is_nan())
            .map(|(&r, &y)| (r, y))
            .unzip();
        let want = auc_ci(&r, &yy);
        let got = auc_ci_owned(risk, &y);
        assert!(close(got, want), "{got:?} vs {want:?}");
        assert!(want.0 > 0.0 && want.0 < 1.0 && want.1[0] < want.0);
    }

    #[test]
    fn one_class_gives_nan_and_one_row_of_a_class_the_same_as_before() {
        let got = auc_ci_owned(vec![1.0, 2.0, f64::NAN], &[0, 0, 1]);
        assert!(got.0.is_nan() && got.1[0].is_nan());
        // One positive: its class's variance is 0/0, as in the rank-based one.
        let risk = vec![0.3, 0.9, 0.1, 0.5];
        let y = [0, 1, 0, 0];
        let want = auc_ci(&risk, &y);
        let got = auc_ci_owned(risk, &y);
        assert_eq!(got.0, want.0);
        assert_eq!(got.1[0].to_bits(), want.1[0].to_bits());
        assert_eq!(got.1[1].to_bits(), want.1[1].to_bits());
    }

    proptest::proptest! {
        #[test]
        fn matches_the_rank_based_interval(
            v in proptest::collection::vec((0u8..20, 0u8..2), 2..300),
        ) {
            let risk: Vec<f64> = v.iter().map(|&(x, _)| f64::from(x) * 1.5 - 7.0).collect();
            let y: Vec<u8> = v.iter().map(|&(_, c)| c).collect();
            proptest::prop_assume!(y.contains(&0) && y.contains(&1));
            let want = auc_ci(&risk, &y);
            let got = auc_ci_owned(risk, &y);
            proptest::prop_assert!(close(got, want), "{:?} vs {:?}", got, want);
        }
    }
}
