//! The fit's row-major matrix built from sub-score columns that are freed as they are
//! copied, so that the columns and the matrix (a gigabyte each at 10M rows × 13 metrics)
//! are never both whole in memory.
//!
//! The fit's rows are in fold and account order, which is no order of the data's: a plain
//! gather reads every column at random until the last row, so all columns live until the
//! matrix is complete. Here the copy goes in two passes instead:
//!
//! 1. The columns are read from their last row to their first, a block at a time. Each
//!    fitted row is appended to the bucket of its target block of matrix rows, and after each
//!    block the columns are cut to what is still unread (a shrinking reallocation, which
//!    returns the freed tail to the system). Buckets fill in arrival order, so their pages
//!    are touched as they fill, no sooner.
//! 2. Each bucket's rows are put in their places in its block of the matrix, whose pages
//!    are then touched, and the bucket is freed.
//!
//! At any moment the columns still unread, the buckets still full and the matrix's filled
//! blocks add up to about one copy of the data. Buckets are at least 32 MB, above the
//! allocator's largest threshold for mapping an allocation on its own, so that freeing
//! one returns its memory rather than keeping it in the heap.
//!
//! The values are the same bits as the plain gather's (`c[i] / 100`).

use super::*;

/// Least bytes of matrix rows per bucket (each bucket a mapping of its own: see above).
const BUCKET_BYTES: usize = 32 << 20;

/// Data rows read per block of the first pass, between cuts of the columns.
const BLOCK_ROWS: usize = 1 << 18;

impl FitData {
    /// [`FitData::from_columns`] for a caller done with the columns: the same matrix, built
    /// while the columns are freed (see the module's documentation), so that the peak is
    /// about one copy of the data rather than two. Small data takes the plain gather.
    pub fn from_columns_consuming(columns: Vec<Vec<f64>>, y: &[u8], rows: &[usize]) -> FitData {
        let k = columns.len();
        let n = columns.first().map_or(0, Vec::len);
        if k == 0 || rows.len() * k * 8 < 2 * BUCKET_BYTES || n >= u32::MAX as usize {
            return FitData::from_columns(&columns, y, rows);
        }
        let x = bucketed(columns, rows, k, n);
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
fn bucketed(mut columns: Vec<Vec<f64>>, rows: &[usize], k: usize, n: usize) -> Vec<f64> {
    let m = rows.len();
    let stage = tracing::info_span!("matrix: first pass").entered();
    // A power of two of rows, so that a row's bucket is a shift.
    let per_bucket = (BUCKET_BYTES / (8 * k)).max(1).next_power_of_two();
    let shift = per_bucket.trailing_zeros();
    let buckets = m.div_ceil(per_bucket);
    let size = |b: usize| per_bucket.min(m - b * per_bucket);
    // Each data row's matrix row (u32::MAX: not fitted).
    let mut target = vec![u32::MAX; n];
    for (j, &i) in rows.iter().enumerate() {
        target[i] = j as u32;
    }
    // Bucket b: the rows of matrix rows b·per_bucket.., in arrival order, and each one's
    // place in the block. Capacity reserved now, touched as filled.
    let mut values: Vec<Vec<f64>> = (0..buckets)
        .map(|b| Vec::with_capacity(size(b) * k))
        .collect();
    let mut places: Vec<Vec<u32>> = (0..buckets).map(|b| Vec::with_capacity(size(b))).collect();
    // Each thread fills a group of buckets of its own, reading the rows that go there.
    let group = buckets.div_ceil(rayon::current_num_threads().clamp(1, buckets));
    let mut end = n;
    while end > 0 {
        let start = end.saturating_sub(BLOCK_ROWS);
        let (cols, target) = (&columns, &target);
        values
            .par_chunks_mut(group)
            .zip(places.par_chunks_mut(group))
            .enumerate()
            .for_each(|(g, (values, places))| {
                let first = g * group;
                for i in (start..end).rev() {
                    let t = target[i];
                    if t == u32::MAX {
                        continue;
                    }
                    let t = t as usize;
                    let b = (t >> shift).wrapping_sub(first);
                    if b >= values.len() {
                        continue;
                    }
                    values[b].extend(cols.iter().map(|c| c[i] / 100.0));
                    places[b].push((t & (per_bucket - 1)) as u32);
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
    // Zeroed pages, mapped fresh and touched only when written.
    let mut x = vec![0.0; m * k];
    x.par_chunks_mut(per_bucket * k)
        .zip(values.into_par_iter().zip(places))
        .for_each(|(block, (values, places))| {
            for (row, &p) in values.chunks_exact(k).zip(&places) {
                let p = p as usize;
                block[p * k..(p + 1) * k].copy_from_slice(row);
            }
        });
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large enough for buckets (several, the last one short), with unfitted rows and rows
    /// in no order of the data's: the same bits as the plain gather.
    #[test]
    fn the_bucketed_build_is_the_plain_gather() {
        let k = 3;
        let n = 3 * BUCKET_BYTES / (8 * k) + 12_345;
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
        assert!(
            rows.len() * k * 8 >= 2 * BUCKET_BYTES,
            "takes the bucketed path"
        );
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
