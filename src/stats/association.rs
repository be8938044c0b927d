//! Association between a column and the outcome or another column: Pearson correlation and
//! information value (with a bootstrap interval over multinomial draws of the bin counts).

use super::binning::{bin_edges, bin_of};

/// Pearson correlation over rows where both are present.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    // Sums in eight lanes (row i in lane i % 8), branch-free (a pair with a NaN adds 0),
    // so that the compiler keeps them in vector registers; the lanes are added in a fixed
    // order, so the result is the same run to run.
    const L: usize = 8;
    let mut s = [[0.0f64; L]; 6];
    let len = a.len().min(b.len());
    let whole = len / L * L;
    let mut add = |lane: usize, x: f64, y: f64| {
        let both = !(x.is_nan() || y.is_nan());
        let (x, y) = if both { (x, y) } else { (0.0, 0.0) };
        s[0][lane] += if both { 1.0 } else { 0.0 };
        s[1][lane] += x;
        s[2][lane] += y;
        s[3][lane] += x * x;
        s[4][lane] += y * y;
        s[5][lane] += x * y;
    };
    for (xa, yb) in a[..whole].chunks_exact(L).zip(b[..whole].chunks_exact(L)) {
        for t in 0..L {
            add(t, xa[t], yb[t]);
        }
    }
    for i in whole..len {
        add(i - whole, a[i], b[i]);
    }
    let total = |v: &[f64; L]| ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    let [n, sa, sb, saa, sbb, sab] = s.each_ref().map(total);
    let cov = sab - sa * sb / n;
    let va = saa - sa * sa / n;
    let vb = sbb - sb * sb / n;
    if va <= 0.0 || vb <= 0.0 {
        return f64::NAN;
    }
    cov / (va * vb).sqrt()
}

/// Information value of `v` against `y` over deciles (a bin per value when there are at most
/// ten; missing in its own bin), with each bin's shares smoothed by ½.
pub fn information_value(v: &[f64], y: &[u8]) -> f64 {
    information_value_ci(v, y, 0, 0).0
}

fn iv_of(c: &[f64], r: &[f64]) -> f64 {
    let (tc, tr): (f64, f64) = (c.iter().sum(), r.iter().sum());
    let used: Vec<usize> = (0..c.len()).filter(|&b| c[b] + r[b] > 0.0).collect();
    let kb = used.len() as f64;
    used.iter()
        .map(|&b| {
            let dc = (c[b] + 0.5) / (tc + 0.5 * kb);
            let dr = (r[b] + 0.5) / (tr + 0.5 * kb);
            (dr - dc) * (dr / dc).ln()
        })
        .sum()
}

/// Multinomial draw of `n` over probabilities `p`, by successive binomials.
fn multinomial(rng: &mut rand_chacha::ChaCha8Rng, n: f64, p: &[f64]) -> Vec<f64> {
    use rand_distr::{Binomial, Distribution};
    let mut left = n as u64;
    let mut rest = 1.0;
    p.iter()
        .map(|&q| {
            if left == 0 || rest <= 0.0 {
                return 0.0;
            }
            let share = (q / rest).clamp(0.0, 1.0);
            let k = Binomial::new(left, share).map_or(0, |b| b.sample(rng));
            left -= k;
            rest -= q;
            k as f64
        })
        .collect()
}

/// Information value with a 95 % percentile interval from `replicates` bootstrap draws of
/// the bin counts (churned and retained resampled separately, bins fixed: a stratified
/// bootstrap of rows, without touching the rows again). `(iv, [lo, hi])`; no interval when
/// `replicates` is 0.
pub fn information_value_ci(v: &[f64], y: &[u8], replicates: usize, seed: u64) -> (f64, [f64; 2]) {
    use rand::SeedableRng;
    let mut values: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if values.is_empty() {
        return (f64::NAN, [f64::NAN; 2]);
    }
    // A column with at most ten values (a flag, a band) gets a bin per value.
    let edges = bin_edges(&mut values, 10);
    drop(values);
    let k = edges.len() + 2;
    let mut c = vec![0f64; k];
    let mut r = vec![0f64; k];
    for (&x, &yy) in v.iter().zip(y) {
        let b = if x.is_nan() { k - 1 } else { bin_of(x, &edges) };
        if yy == 1 {
            c[b] += 1.0;
        } else {
            r[b] += 1.0;
        }
    }
    let iv = iv_of(&c, &r);
    if replicates == 0 {
        return (iv, [f64::NAN; 2]);
    }
    let (tc, tr): (f64, f64) = (c.iter().sum(), r.iter().sum());
    let pc: Vec<f64> = c.iter().map(|x| x / tc.max(1.0)).collect();
    let pr: Vec<f64> = r.iter().map(|x| x / tr.max(1.0)).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut reps: Vec<f64> = (0..replicates)
        .map(|_| {
            let cb = multinomial(&mut rng, tc, &pc);
            let rb = multinomial(&mut rng, tr, &pr);
            iv_of(&cb, &rb)
        })
        .collect();
    reps.sort_by(f64::total_cmp);
    (
        iv,
        [super::quantile(&reps, 0.025), super::quantile(&reps, 0.975)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn iv_is_zero_without_signal_and_large_for_a_copy_of_the_outcome() {
        let y: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
        let flat: Vec<f64> = (0..1000).map(|i| (i / 10) as f64).collect();
        assert!(information_value(&flat, &y) < 0.01);
        let copy: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        assert!(information_value(&copy, &y) > 2.0);
        // a rare flag (5 % of rows) keeps its own bin
        let flag: Vec<f64> = (0..1000)
            .map(|i| f64::from(u8::from(i % 20 == 0)))
            .collect();
        assert!(information_value(&flag, &y) > 0.5);
        // the interval covers the estimate, is reproducible, and excludes 0 for a real signal
        let signal: Vec<f64> = (0..1000)
            .map(|i| {
                if y[i] == 1 {
                    (i % 7) as f64
                } else {
                    (i % 13) as f64 + 3.0
                }
            })
            .collect();
        let (iv, ci) = information_value_ci(&signal, &y, 200, 1);
        assert!(ci[0] < iv && iv < ci[1] && ci[0] > 0.0, "{iv} {ci:?}");
        assert_eq!(information_value_ci(&signal, &y, 200, 1), (iv, ci));
        assert_relative_eq!(pearson(&flat, &flat), 1.0, epsilon = 1e-12);
    }

    /// The lane sums against the two-pass textbook formula over the complete pairs, with
    /// NaNs in either column and lengths that are not multiples of the lanes.
    #[test]
    fn pearson_matches_the_two_pass_formula() {
        for n in [1usize, 2, 7, 8, 9, 1000, 4099] {
            let a: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 11 == 3 {
                        f64::NAN
                    } else {
                        ((i * 37) % 101) as f64
                    }
                })
                .collect();
            let b: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 13 == 5 {
                        f64::NAN
                    } else {
                        0.5 * a[i].max(0.0) + ((i * 53) % 17) as f64
                    }
                })
                .collect();
            let pairs: Vec<(f64, f64)> = a
                .iter()
                .zip(&b)
                .filter(|(x, y)| !x.is_nan() && !y.is_nan())
                .map(|(&x, &y)| (x, y))
                .collect();
            let m = pairs.len() as f64;
            let (ma, mb) = (
                pairs.iter().map(|p| p.0).sum::<f64>() / m,
                pairs.iter().map(|p| p.1).sum::<f64>() / m,
            );
            let cov: f64 = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum();
            let va: f64 = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum();
            let vb: f64 = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum();
            let r = pearson(&a, &b);
            if va > 0.0 && vb > 0.0 && pairs.len() > 2 {
                assert_relative_eq!(r, cov / (va * vb).sqrt(), epsilon = 1e-10);
            }
        }
    }
}
