//! Binning of a numeric column: decile edges by selection, a bin per value for columns with
//! few distinct values, and the bin a value falls in. Shared by the metric cohorts, the
//! audit's information value and the population stability index.

/// Decile edges by the documented rule: with `v` the values sorted, the distinct
/// `v[⌊j·n/bins⌋]` for `j = 1..bins` above the minimum (only those split anything). The
/// order statistics come by selection instead of a sort (O(n log bins) rather than
/// O(n log n); `values` is reordered). No NaN.
pub fn decile_edges_unsorted(values: &mut [f64], bins: usize) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let mut at: Vec<usize> = (1..bins).map(|j| j * n / bins).collect();
    at.dedup();
    select_at(values, 0, &at);
    let mut edges: Vec<f64> = (1..bins).map(|j| values[j * n / bins]).collect();
    edges.dedup();
    // The minimum lies at or before the first selected position (all of them when none).
    let head = at.first().map_or(n, |&p| p + 1);
    let min = values[..head]
        .iter()
        .copied()
        .min_by(f64::total_cmp)
        .expect("n > 0");
    edges.retain(|&e| e > min);
    edges
}

/// Puts the value of sorted rank `at[i]` (ascending; `values` starts at rank `offset`) in its
/// place, the smaller values before it and the larger after it.
fn select_at(values: &mut [f64], offset: usize, at: &[usize]) {
    if at.is_empty() || values.is_empty() {
        return;
    }
    let mid = at.len() / 2;
    let k = at[mid] - offset;
    let (below, _, above) = values.select_nth_unstable_by(k, f64::total_cmp);
    select_at(below, offset, &at[..mid]);
    select_at(above, offset + k + 1, &at[mid + 1..]);
}

/// The distinct values (by `==`, each the least of its equals by `total_cmp`, as sorting and
/// deduplicating gives them), ascending, when there are at most `max`; `None` otherwise. No
/// NaN. Stops at the `max + 1`-th distinct value, so a continuous column costs a few reads.
pub fn few_distinct(values: &[f64], max: usize) -> Option<Vec<f64>> {
    let mut seen: Vec<f64> = Vec::with_capacity(max + 1);
    for &x in values {
        match seen.iter().position(|&e| e == x) {
            Some(i) => {
                if x.total_cmp(&seen[i]).is_lt() {
                    seen[i] = x;
                }
            }
            None if seen.len() == max => return None,
            None => seen.push(x),
        }
    }
    seen.sort_unstable_by(f64::total_cmp);
    Some(seen)
}

/// Bin edges for `values` (no NaN; reordered): one bin per value when there are at most
/// `bins` distinct values (a flag, a band: deciles would merge a rare value into its
/// neighbour and hide it), [`decile_edges_unsorted`] otherwise. No edges for no values.
pub fn bin_edges(values: &mut [f64], bins: usize) -> Vec<f64> {
    match few_distinct(values, bins) {
        Some(d) => d.get(1..).unwrap_or_default().to_vec(),
        None => decile_edges_unsorted(values, bins.max(1)),
    }
}

/// Bin of a value: how many edges are ≤ it.
pub fn bin_of(v: f64, edges: &[f64]) -> usize {
    edges.partition_point(|&e| e <= v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule read off the sorted values: the oracle for the selection.
    fn decile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
        let n = sorted.len();
        let mut edges: Vec<f64> = (1..bins).map(|j| sorted[j * n / bins]).collect();
        edges.dedup();
        if let Some(&min) = sorted.first() {
            edges.retain(|&e| e > min);
        }
        edges
    }

    /// The sort-based rule the selection must reproduce, bit for bit.
    fn sorted_edges(values: &[f64], bins: usize) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let mut distinct = sorted.clone();
        distinct.dedup();
        if distinct.is_empty() {
            Vec::new()
        } else if distinct.len() <= bins {
            distinct[1..].to_vec()
        } else {
            decile_edges(&sorted, bins)
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest::proptest! {
        /// Selection gives the edges sorting gives: heavy ties, ±0, ±∞, every bin count.
        #[test]
        fn edges_by_selection_match_the_sorted_rule(
            picks in proptest::collection::vec(0usize..40, 0..300),
            spread in 1usize..40,
            bins in 1usize..13,
        ) {
            let pool: Vec<f64> = (0..40)
                .map(|i| match i {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::INFINITY,
                    3 => f64::NEG_INFINITY,
                    _ => (i as f64 - 20.0) * 0.37,
                })
                .collect();
            let values: Vec<f64> = picks.iter().map(|&p| pool[p % spread]).collect();
            let mut v = values.clone();
            proptest::prop_assert_eq!(bits(&bin_edges(&mut v, bins)), bits(&sorted_edges(&values, bins)));
            if !values.is_empty() {
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                let mut v = values.clone();
                proptest::prop_assert_eq!(
                    bits(&decile_edges_unsorted(&mut v, bins)),
                    bits(&decile_edges(&sorted, bins))
                );
            }
        }
    }

    #[test]
    fn decile_rule_with_ties() {
        // 20 values: 0 ×8, then 1..=12. Edges v[2j] for j = 1..9:
        // v[2]=0 v[4]=0 v[6]=0 v[8]=1 v[10]=3 v[12]=5 v[14]=7 v[16]=9 v[18]=11
        // → 0 is the minimum and splits nothing; distinct edges 1 3 5 7 9 11
        let mut v: Vec<f64> = vec![0.0; 8];
        v.extend((1..=12).map(f64::from));
        v.reverse();
        let e = decile_edges_unsorted(&mut v, 10);
        assert_eq!(e, vec![1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        // an edge value goes to the bin above it; equal values share a bin
        assert_eq!(bin_of(0.0, &e), 0);
        assert_eq!(bin_of(1.0, &e), 1);
        assert_eq!(bin_of(2.0, &e), 1);
        assert_eq!(bin_of(3.0, &e), 2);
        assert_eq!(bin_of(12.0, &e), 6);
        // 100 distinct values: ten bins of ten
        let w: Vec<f64> = (0..100).map(f64::from).collect();
        let e = decile_edges_unsorted(&mut w.clone(), 10);
        assert_eq!(e.len(), 9);
        let mut counts = [0; 10];
        for &x in &w {
            counts[bin_of(x, &e)] += 1;
        }
        assert_eq!(counts, [10; 10]);
    }
}
