//! Dense symmetric positive-definite algebra for the small (parameters × parameters)
//! matrices of the Newton steps: Cholesky factor, solve, inverse. Row-major `n × n`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
