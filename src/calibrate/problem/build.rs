//! The fit's row-major matrix built from sub-score columns that are freed as they are
//! copied, so that the columns and the matrix (a gigabyte each at 10M rows × 13 metrics)
//! are never both whole in memory.
//!
//! The fit's rows are in fold and account order, which is no order of the data's: a plain
//! gather reads every column at random until the last row, so all columns live until the
//! matrix is complete. Here the copy goes in two passes instead:
//!
//! 1. The columns are read from their last row to their first, a block at a time. Each
//!    fitted row is appended to its block of the matrix (a few megabytes of matrix rows), in
//!    arrival order, and after each block of data rows the columns are cut to what is still
//!    unread (a shrinking reallocation, which returns the freed tail to the system). The
//!    matrix is mapped fresh and its pages are touched as its blocks fill, no sooner.
//! 2. Each block's rows are put in their places within the block, through a copy of the
//!    block that stays in the processor's cache.
//!
//! At any moment the columns still unread and the matrix's filled rows add up to about one
//! copy of the data. The values are the same bits as the plain gather's (`c[i] / 100`).

use super::*;

/// The build's sizes.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Matrices smaller than this take the plain gather (their memory does not matter).
    small: usize,
    /// Bytes of matrix rows per block, at least: a block's copy stays in the cache while
    /// its rows are put in place.
    block_bytes: usize,
    /// Data rows read in the first pass between cuts of the columns.
    cut_rows: usize,
}

impl Sizes {
    const DEFAULT: Sizes = Sizes {
        small: 64 << 20,
        block_bytes: 4 << 20,
        cut_rows: 1 << 18,
    };
}

/// Each data row's matrix row (`u32::MAX`: not fitted), for `n` data rows; `None` when a
/// data row is fitted twice (the plain gather copies it twice).
fn targets(rows: &[usize], n: usize) -> Option<Vec<u32>> {
    let mut target = vec![u32::MAX; n];
    for (j, &i) in rows.iter().enumerate() {
        if target[i] != u32::MAX {
            return None;
        }
        target[i] = j as u32;
    }
    Some(target)
}

impl FitData {
    /// [`FitData::from_columns`] for a caller done with the columns: the same matrix, built
    /// while the columns are freed (see the module's documentation), so that the peak is
    /// about one copy of the data rather than two. Small data takes the plain gather.
    pub fn from_columns_consuming(columns: Vec<Vec<f64>>, y: &[u8], rows: &[usize]) -> FitData {
        Self::consuming_with(columns, y, rows, Sizes::DEFAULT)
    }

    /// [`FitData::from_columns_consuming`] with its sizes given (the tests' are small).
    fn consuming_with(columns: Vec<Vec<f64>>, y: &[u8], rows: &[usize], sizes: Sizes) -> FitData {
        let k = columns.len();
        let n = columns.first().map_or(0, Vec::len);
        let target = (k > 0 && rows.len() * k * 8 >= sizes.small && n < u32::MAX as usize)
            .then(|| targets(rows, n))
            .flatten();
        let Some(target) = target else {
            return FitData::from_columns(&columns, y, rows);
        };
        let x = two_passes(columns, rows.len(), target, sizes);
        FitData {
            n: rows.len(),
            k,
            x: Arc::new(x),
            y: Arc::new(rows.iter().map(|&i| y[i]).collect()),
            w: vec![1.0; rows.len()],
        }
    }
}

/// The two passes: `target[i]` is the matrix row of data row `i` (each of the `m` matrix
/// rows once); every column has `target.len()` rows.
fn two_passes(mut columns: Vec<Vec<f64>>, m: usize, target: Vec<u32>, sizes: Sizes) -> Vec<f64> {
    let (k, n) = (columns.len(), target.len());
    let stage = tracing::info_span!("matrix: first pass").entered();
    // A power of two of rows, so that a row's block is a shift.
    let per_block = (sizes.block_bytes / (8 * k)).max(1).next_power_of_two();
    let shift = per_block.trailing_zeros();
    let blocks = m.div_ceil(per_block);
    // Zeroed pages, mapped fresh and touched only when written.
    let mut x = vec![0.0; m * k];
    // Block b's rows in arrival order, and each one's place in the block.
    let mut filled: Vec<(&mut [f64], Vec<u32>)> = x
        .chunks_mut(per_block * k)
        .map(|block| {
            let rows = block.len() / k;
            (block, Vec::with_capacity(rows))
        })
        .collect();
    // Each thread fills a group of blocks of its own, reading the rows that go there.
    let group = blocks.div_ceil(rayon::current_num_threads().clamp(1, blocks));
    let mut end = n;
    while end > 0 {
        let start = end.saturating_sub(sizes.cut_rows);
        let (cols, target) = (&columns, &target);
        filled
            .par_chunks_mut(group)
            .enumerate()
            .for_each(|(g, filled)| {
                let first = g * group;
                for i in (start..end).rev() {
                    let t = target[i];
                    if t == u32::MAX {
                        continue;
                    }
                    let t = t as usize;
                    let b = (t >> shift).wrapping_sub(first);
                    let Some((block, places)) = filled.get_mut(b) else {
                        continue;
                    };
                    let at = places.len() * k;
                    for (v, c) in block[at..at + k].iter_mut().zip(cols) {
                        *v = c[i] / 100.0;
                    }
                    places.push((t & (per_block - 1)) as u32);
                }
            });
        for c in &mut columns {
            c.truncate(start);
            c.shrink_to_fit();
        }
        end = start;
    }
    drop(columns);
    drop(target);
    drop(stage);
    let _stage = tracing::info_span!("matrix: second pass").entered();
    filled
        .into_par_iter()
        .for_each_init(Vec::new, |copy, (block, places)| {
            copy.clear();
            copy.extend_from_slice(block);
            for (row, &p) in copy.chunks_exact(k).zip(&places) {
                let p = p as usize;
                block[p * k..(p + 1) * k].copy_from_slice(row);
            }
        });
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small sizes: many blocks (the last one short) and many cuts of the columns.
    const TEST: Sizes = Sizes {
        small: 0,
        block_bytes: 4096,
        cut_rows: 1000,
    };

    fn columns(k: usize, n: usize) -> Vec<Vec<f64>> {
        (0..k)
            .map(|c| {
                (0..n)
                    .map(|i| match (i * 7 + c) % 11 {
                        0 => f64::NAN,
                        r => (i as f64 * 0.37 + c as f64 + r as f64).sin() * 100.0,
                    })
                    .collect()
            })
            .collect()
    }

    fn same(a: &FitData, b: &FitData) {
        assert_eq!((a.n, a.k), (b.n, b.k));
        assert_eq!(a.y, b.y);
        assert_eq!(a.w, b.w);
        assert!(a
            .x
            .iter()
            .zip(b.x.iter())
            .all(|(u, v)| u.to_bits() == v.to_bits()));
    }

    /// Unfitted rows and rows in no order of the data's: the same bits as the plain gather.
    #[test]
    fn the_two_passes_give_the_plain_gathers_bits() {
        for k in [1, 3, 13] {
            let n = 54_321;
            let y: Vec<u8> = (0..n).map(|i| (i % 13 == 0) as u8).collect();
            // Every third row left out; the rest scrambled (a multiplicative walk, a
            // permutation since 7,919 is a prime that does not divide the count).
            let kept: Vec<usize> = (0..n).filter(|i| i % 3 != 0).collect();
            assert_ne!(kept.len() % 7_919, 0);
            let rows: Vec<usize> = (0..kept.len())
                .map(|j| kept[(j * 7_919 + 17) % kept.len()])
                .collect();
            let plain = FitData::from_columns(&columns(k, n), &y, &rows);
            let built = FitData::consuming_with(columns(k, n), &y, &rows, TEST);
            same(&built, &plain);
        }
    }

    /// A data row fitted twice takes the plain gather, which copies it twice.
    #[test]
    fn a_row_fitted_twice_is_copied_twice() {
        let (k, n) = (3, 10_000);
        let y = vec![0u8; n];
        let mut rows: Vec<usize> = (0..n).rev().collect();
        rows.push(17);
        assert!(targets(&rows, n).is_none());
        let plain = FitData::from_columns(&columns(k, n), &y, &rows);
        same(
            &FitData::consuming_with(columns(k, n), &y, &rows, TEST),
            &plain,
        );
    }
}
