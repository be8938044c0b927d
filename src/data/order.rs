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

/// The distinct dates, ascending, in linear time: a bitmap over the dates' span when it is
/// at most [`SPAN_BITMAP`] days (any real calendar), a sort otherwise.
pub fn distinct_days(dates: &[Day]) -> Vec<Day> {
    let Some((lo, hi)) = dates
        .par_iter()
        .fold(
            || None,
            |acc: Option<(Day, Day)>, &d| Some(acc.map_or((d, d), |(l, h)| (l.min(d), h.max(d)))),
        )
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some((la, ha)), Some((lb, hb))) => Some((la.min(lb), ha.max(hb))),
                (x, None) | (None, x) => x,
            },
        )
    else {
        return Vec::new();
    };
    let span = (i64::from(hi) - i64::from(lo)) as usize + 1;
    if span > SPAN_BITMAP {
        let mut d = dates.to_vec();
        d.par_sort_unstable();
        d.dedup();
        return d;
    }
    let words = span.div_ceil(64);
    let seen = dates
        .par_chunks(1 << 16)
        .fold(
            || vec![0u64; words],
            |mut bits, chunk| {
                for &d in chunk {
                    let k = (d - lo) as usize;
                    bits[k / 64] |= 1 << (k % 64);
                }
                bits
            },
        )
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x |= y);
            a
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (w, &bits) in seen.iter().enumerate() {
        let mut b = bits;
        while b != 0 {
            out.push(lo + (w * 64 + b.trailing_zeros() as usize) as Day);
            b &= b - 1;
        }
    }
    out
}

/// The widest span of dates [`distinct_days`] marks in a bitmap (2²⁴ days, 46,000 years:
/// a 2 MB bitmap per thread).
pub const SPAN_BITMAP: usize = 1 << 24;

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
        /// The bitmap and the sort give the same distinct dates, in a narrow span or a wide one.
        #[test]
        fn distinct_days_are_sorted_and_deduplicated(
            dates in prop::collection::vec(-50i32..50, 0..300),
            wide in any::<bool>(),
        ) {
            let dates: Vec<Day> = dates
                .iter()
                .map(|&d| if wide && d % 7 == 0 { d * 1_000_000 } else { d })
                .collect();
            let mut want = dates.clone();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(distinct_days(&dates), want);
        }

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
