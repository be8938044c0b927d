//! Rows ordered by account, and by account and date, in linear time.
//!
//! Account codes are dense (`0..n_accounts`) and given in order of first appearance, so an
//! export that lists each account's snapshots together, by date (the usual layout), is
//! already in (account, date) order: one pass checks it. Any other layout is put in order
//! by a counting sort on the account code (stable, so a file sorted by date keeps each
//! account's rows by date), and only the accounts whose rows are still out of date order
//! are sorted, each on its own. At 10 M rows this replaces a comparison sort of row indices
//! whose key is read from two columns at random.

use rayon::prelude::*;

use super::Day;

/// A row index: `u32` or `usize`.
pub trait RowIndex: Copy + Send + Sync {
    /// The index as `usize`.
    fn at(self) -> usize;
}

impl RowIndex for u32 {
    #[inline]
    fn at(self) -> usize {
        self as usize
    }
}

impl RowIndex for usize {
    #[inline]
    fn at(self) -> usize {
        self
    }
}

/// Sorts `rows` by their account code, stably: one account's rows keep their order.
/// `account[r]` must be below `n_accounts` for every row `r`.
pub fn by_account<I: RowIndex>(rows: &mut Vec<I>, account: &[u32], n_accounts: usize) {
    if rows
        .windows(2)
        .all(|w| account[w[0].at()] <= account[w[1].at()])
    {
        return;
    }
    // Counting sort: each account's first place, then the rows scattered in their order.
    let mut next = vec![0usize; n_accounts + 1];
    for r in rows.iter() {
        next[account[r.at()] as usize + 1] += 1;
    }
    for a in 1..next.len() {
        next[a] += next[a - 1];
    }
    let mut out = vec![rows[0]; rows.len()];
    for &r in rows.iter() {
        let slot = &mut next[account[r.at()] as usize];
        out[*slot] = r;
        *slot += 1;
    }
    *rows = out;
}

/// Sorts `rows` by (account code, date), stably: rows of equal account and date keep their
/// order, next to each other.
pub fn by_account_date<I: RowIndex>(
    rows: &mut Vec<I>,
    account: &[u32],
    n_accounts: usize,
    date: &[Day],
) {
    let key = |r: I| (account[r.at()], date[r.at()]);
    if rows.windows(2).all(|w| key(w[0]) <= key(w[1])) {
        return;
    }
    by_account(rows, account, n_accounts);
    rows.par_chunk_by_mut(|&a, &b| account[a.at()] == account[b.at()])
        .for_each(|run| {
            if !run.is_sorted_by_key(|&r| date[r.at()]) {
                run.sort_by_key(|&r| date[r.at()]);
            }
        });
}

/// All rows of a table in (account, date) order (by account alone without dates); see
/// [`by_account_date`].
pub fn all_by_account_date(
    rows: usize,
    account: &[u32],
    n_accounts: usize,
    date: Option<&[Day]>,
) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..rows as u32).collect();
    match date {
        Some(d) => by_account_date(&mut idx, account, n_accounts, d),
        None => by_account(&mut idx, account, n_accounts),
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oracle(rows: &[u32], account: &[u32], date: Option<&[Day]>) -> Vec<u32> {
        let mut r = rows.to_vec();
        match date {
            Some(d) => r.sort_by_key(|&i| (account[i as usize], d[i as usize])),
            None => r.sort_by_key(|&i| account[i as usize]),
        }
        r
    }

    proptest! {
        /// Whatever the layout (grouped, by date, shuffled, with repeated dates), the order
        /// is the one a stable comparison sort gives.
        #[test]
        fn orders_as_a_stable_sort_does(
            table in prop::collection::vec((0u32..40, -3i32..6), 0..400),
            subset in prop::collection::vec(any::<bool>(), 400),
            layout in 0u8..3,
        ) {
            let mut table = table;
            match layout {
                0 => table.sort(),
                1 => table.sort_by_key(|&(a, d)| (d, a)),
                _ => {}
            }
            let account: Vec<u32> = table.iter().map(|x| x.0).collect();
            let date: Vec<Day> = table.iter().map(|x| x.1).collect();
            let rows: Vec<u32> =
                (0..table.len() as u32).filter(|&i| subset[i as usize]).collect();

            let mut got = rows.clone();
            by_account_date(&mut got, &account, 40, &date);
            prop_assert_eq!(&got, &oracle(&rows, &account, Some(&date)));

            let mut got: Vec<usize> = rows.iter().map(|&i| i as usize).collect();
            by_account(&mut got, &account, 40);
            let want: Vec<usize> =
                oracle(&rows, &account, None).iter().map(|&i| i as usize).collect();
            prop_assert_eq!(got, want);

            prop_assert_eq!(
                all_by_account_date(table.len(), &account, 40, Some(&date)),
                oracle(&(0..table.len() as u32).collect::<Vec<_>>(), &account, Some(&date))
            );
        }
    }
}
