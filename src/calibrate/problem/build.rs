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

/// Bytes of matrix rows per block, at least: a block's copy stays in the cache while its
/// rows are put in place.
const BLOCK_BYTES: usize = 4 << 20;

/// Matrices smaller than this take the plain gather (their memory does not matter).
const SMALL_BYTES: usize = 64 << 20;

/// Data rows read per block of the first pass, between cuts of the columns.
const BLOCK_ROWS: usize = 1 << 18;

impl FitData {
    /// [`FitData::from_columns`] for a caller done with the columns: the same matrix, built
    /// while the columns are freed (see the module's documentation), so that the peak is
    /// about one copy of the data rather than two. Small data takes the plain gather.
    pub fn from_columns_consuming(columns: Vec<Vec<f64>>, y: &[u8], rows: &[usize]) -> FitData {
        let k = columns.len();
        let n = columns.first().map_or(0, Vec::len);
        if k == 0 || rows.len() * k * 8 < SMALL_BYTES || n >= u32::MAX as usize {
            return FitData::from_columns(&columns, y, rows);
        }
        let x = two_passes(columns, rows, k, n);
        FitData {
            n: rows.len(),
            k,
            x: Arc::new(x),
            y: Arc::new(rows.iter().map(|&i| y[i]).collect()),
            w: vec![1.0; rows.len()],
        }
    }
}

/// The two passes: `rows[j]` is the data row of matrix row `j`; every column has `n` rows.
fn two_passes(mut columns: Vec<Vec<f64>>, rows: &[usize], k: usize, n: usize) -> Vec<f64> {
    let m = rows.len();
    let stage = tracing::info_span!("matrix: first pass").entered();
    // A power of two of rows, so that a row's block is a shift.
    let per_block = (BLOCK_BYTES / (8 * k)).max(1).next_power_of_two();
    let shift = per_block.trailing_zeros();
    let blocks = m.div_ceil(per_block);
    // Each data row's matrix row (u32::MAX: not fitted).
    let mut target = vec![u32::MAX; n];
    for (j, &i) in rows.iter().enumerate() {
        target[i] = j as u32;
    }
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
        let start = end.saturating_sub(BLOCK_ROWS);
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

    /// Large enough for the two passes (many blocks, the last one short), with unfitted rows
    /// and rows in no order of the data's: the same bits as the plain gather.
    #[test]
    fn the_two_passes_give_the_plain_gathers_bits() {
        let k = 3;
        let n = 3 * SMALL_BYTES / (8 * k) + 12_345;
        let columns: Vec<Vec<f64>> = (0..k)
            .map(|c| {
                (0..n)
                    .map(|i| match (i * 7 + c) % 11 {
                        0 => f64::NAN,
                        r => (i as f64 * 0.37 + c as f64 + r as f64).sin() * 100.0,
                    })
                    .collect()
            })
            .collect();
        let y: Vec<u8> = (0..n).map(|i| (i % 13 == 0) as u8).collect();
        // Every third row left out; the rest in a scrambled order (a multiplicative walk).
        let kept: Vec<usize> = (0..n).filter(|i| i % 3 != 0).collect();
        let mut rows: Vec<usize> = (0..kept.len())
            .map(|j| kept[(j * 7_919 + 17) % kept.len()])
            .collect();
        rows.sort_unstable();
        rows.dedup();
        assert_eq!(rows.len(), kept.len(), "the walk is a permutation");
        let rows: Vec<usize> = (0..kept.len())
            .map(|j| kept[(j * 7_919 + 17) % kept.len()])
            .collect();
        let plain = FitData::from_columns(&columns, &y, &rows);
        let built = FitData::from_columns_consuming(columns, &y, &rows);
        assert!(rows.len() * k * 8 >= SMALL_BYTES, "takes the two passes");
        assert_eq!(built.n, plain.n);
        assert_eq!(built.k, plain.k);
        assert_eq!(built.y, plain.y);
        assert_eq!(built.w, plain.w);
        assert!(built
            .x
            .iter()
            .zip(plain.x.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
