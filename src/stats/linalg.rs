//! Dense algebra for small (parameters × parameters) matrices: Cholesky factor, solve and
//! inverse of symmetric positive-definite matrices (row-major `n × n`, the Newton steps of
//! the fit), and the Gauss–Jordan inverse of a small symmetric matrix (the audit's VIF).

/// Cholesky factor `L` (row-major lower triangle) of a symmetric positive-definite matrix.
pub fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for m in 0..j {
                s -= l[i * n + m] * l[j * n + m];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solve `A x = b` for symmetric positive-definite `A`.
pub fn solve_spd(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut z = b.to_vec();
    for i in 0..n {
        for m in 0..i {
            z[i] -= l[i * n + m] * z[m];
        }
        z[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for m in i + 1..n {
            z[i] -= l[m * n + i] * z[m];
        }
        z[i] /= l[i * n + i];
    }
    Some(z)
}

/// Inverse of a symmetric positive-definite matrix.
pub fn invert_spd(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = solve_spd(a, &e, n)?;
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    Some(inv)
}

/// Inverse of a small symmetric matrix by Gauss–Jordan with partial pivoting; `None` when
/// singular.
pub fn invert(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.clone();
            row.extend((0..n).map(|j| f64::from(u8::from(i == j))));
            row
        })
        .collect();
    for c in 0..n {
        let p = (c..n).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        let piv = a[c][c];
        for v in a[c].iter_mut() {
            *v /= piv;
        }
        for r in 0..n {
            if r != c {
                let f = a[r][c];
                if f != 0.0 {
                    let (src, dst) = if r < c {
                        let (lo, hi) = a.split_at_mut(c);
                        (&hi[0], &mut lo[r])
                    } else {
                        let (lo, hi) = a.split_at_mut(r);
                        (&lo[c], &mut hi[0])
                    };
                    for (d, s) in dst.iter_mut().zip(src.iter()) {
                        *d -= f * s;
                    }
                }
            }
        }
    }
    Some(a.into_iter().map(|r| r[n..].to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn inverse_of_a_known_matrix() {
        // [[4, 2], [2, 3]]⁻¹ = [[3, −2], [−2, 4]] / 8
        let inv = invert_spd(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let want = [0.375, -0.25, -0.25, 0.5];
        for (a, b) in inv.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(invert_spd(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn inverse_and_vif_by_hand() {
        // correlation 0.9 between two variables: VIF = 1 / (1 − 0.81) = 5.263…
        let inv = invert(&[vec![1.0, 0.9], vec![0.9, 1.0]]).unwrap();
        assert_relative_eq!(inv[0][0], 1.0 / 0.19, epsilon = 1e-12);
        assert!(invert(&[vec![1.0, 1.0], vec![1.0, 1.0]]).is_none());
    }
}
