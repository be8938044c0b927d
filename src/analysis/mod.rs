//! Churn across tiers and cohorts: the tier-vs-churn table (as in the HBR study of churned
//! BigCommerce accounts), tier cut-offs fitted from data, segment cohorts, metric cohorts
//! ("Fighting Churn with Data"), Kaplan–Meier retention curves and the score trend.
//!
//! Everything here works on the loaded column buffers ([`crate::data::Snapshots`]) and a
//! scored population ([`crate::score::Scored`]); counting runs in one pass over contiguous
//! `u8`/`u32` buffers, split across threads with rayon where the data is large.
//!
//! ## The unit of analysis
//!
//! A tier table can count snapshots or renewal decisions, and the two answer different
//! questions. [`Unit::Account`] (the default) keeps one row per account and renewal decision:
//! the **last snapshot before each outcome**. With an account's snapshots in date order, a
//! decision ends at its last snapshot, and at every churned snapshot followed by a retained
//! one (an account that churned and came back has had two decisions). [`Unit::Snapshot`]
//! uses every snapshot, which weights long-lived accounts more.

pub mod cohorts;
pub mod counts;
pub mod metric_cohorts;
pub mod risk;
pub mod stage;
pub mod survival;
pub mod tiers;

use rayon::prelude::*;
use serde::Serialize;

use crate::data::{order, Snapshots};

/// What one row of a churn table counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// One row per account and renewal decision: the last snapshot before each outcome.
    #[default]
    Account,
    /// Every snapshot.
    Snapshot,
}

impl Unit {
    /// Parse `account` or `snapshot`.
    pub fn parse(s: &str) -> Option<Unit> {
        match s.trim().to_ascii_lowercase().as_str() {
            "account" | "accounts" | "decision" => Some(Unit::Account),
            "snapshot" | "snapshots" => Some(Unit::Snapshot),
            _ => None,
        }
    }

    /// A phrase for reports: what a counted row is.
    pub fn describe(self) -> &'static str {
        match self {
            Unit::Account => {
                "one row per account and renewal decision (its last snapshot before the outcome)"
            }
            Unit::Snapshot => "every snapshot",
        }
    }
}

/// The rows (indices into the snapshots) a table counts, in ascending order.
///
/// For [`Unit::Account`] the outcome decides where a decision ends (see the module docs);
/// without an outcome, each account's last snapshot is its one row.
pub fn unit_rows(data: &Snapshots, unit: Unit) -> Vec<u32> {
    let n = data.rows;
    if unit == Unit::Snapshot {
        return (0..n as u32).collect();
    }
    let Some(dates) = data.date.as_ref() else {
        // One snapshot per account.
        return (0..n as u32).collect();
    };
    // Rows in (account, date) order.
    let idx = order::all_by_account_date(n, &data.account, data.n_accounts, Some(dates));
    let outcome = data.outcome.as_deref();
    let mut keep: Vec<u32> = Vec::with_capacity(data.n_accounts);
    for (p, &i) in idx.iter().enumerate() {
        let next = idx.get(p + 1).copied();
        let same_account_next =
            next.filter(|&j| data.account[j as usize] == data.account[i as usize]);
        let ends = match same_account_next {
            None => true,
            Some(j) => outcome.is_some_and(|o| o[i as usize] == 1 && o[j as usize] == 0),
        };
        if ends {
            keep.push(i);
        }
    }
    keep.par_sort_unstable();
    keep
}

/// Counts of one group of rows (a tier, a band, a cohort): the shared columns of every churn
/// table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChurnCount {
    /// Counted rows (decisions or snapshots, by the table's unit).
    pub units: usize,
    /// Distinct accounts among them.
    pub accounts: usize,
    /// Churned rows.
    pub churned: usize,
    /// Churn rate `churned / units` (NaN when empty).
    pub rate: f64,
    /// Wilson 95 % interval of the rate.
    pub ci: [f64; 2],
    /// Share of all churned rows that fall in this group.
    pub churn_share: f64,
    /// Rate over the overall rate.
    pub lift: f64,
    /// Sum of ARR at the counted rows, when the data has ARR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arr: Option<f64>,
    /// ARR of the churned rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arr_churned: Option<f64>,
}

impl ChurnCount {
    /// Fill rate, interval, share and lift from the raw counts.
    pub fn finish(&mut self, total_churned: usize, overall_rate: f64) {
        self.rate = if self.units > 0 {
            self.churned as f64 / self.units as f64
        } else {
            f64::NAN
        };
        let (lo, hi) = crate::stats::wilson(self.churned, self.units);
        self.ci = [lo, hi];
        self.churn_share = if total_churned > 0 {
            self.churned as f64 / total_churned as f64
        } else {
            f64::NAN
        };
        self.lift = self.rate / overall_rate;
    }

    /// Revenue-weighted churn: churned ARR over ARR.
    pub fn arr_rate(&self) -> Option<f64> {
        match (self.arr, self.arr_churned) {
            (Some(a), Some(c)) if a > 0.0 => Some(c / a),
            _ => None,
        }
    }
}

/// Count rows per group in one pass: `group[r]` is the group of row `rows[r]`
/// (`u32::MAX` leaves the row out). Accounts are counted once per group.
pub fn count_groups(data: &Snapshots, rows: &[u32], group: &[u32], k: usize) -> Vec<ChurnCount> {
    debug_assert_eq!(rows.len(), group.len());
    let outcome = data.outcome.as_deref();
    let arr = data.arr.as_deref();
    #[derive(Clone)]
    struct Acc {
        units: Vec<usize>,
        churned: Vec<usize>,
        arr: Vec<f64>,
        arr_churned: Vec<f64>,
    }
    let zero = || Acc {
        units: vec![0; k],
        churned: vec![0; k],
        arr: vec![0.0; k],
        arr_churned: vec![0.0; k],
    };
    // Ordered chunks keep float sums identical whatever the thread count.
    const CHUNK: usize = 1 << 16;
    let parts: Vec<Acc> = rows
        .par_chunks(CHUNK)
        .zip(group.par_chunks(CHUNK))
        .map(|(rs, gs)| {
            let mut a = zero();
            for (&r, &g) in rs.iter().zip(gs) {
                if g == u32::MAX {
                    continue;
                }
                let (r, g) = (r as usize, g as usize);
                let y = outcome.map_or(0, |o| o[r] as usize);
                a.units[g] += 1;
                a.churned[g] += y;
                if let Some(v) = arr {
                    let v = v[r];
                    if v.is_finite() {
                        a.arr[g] += v;
                        if y == 1 {
                            a.arr_churned[g] += v;
                        }
                    }
                }
            }
            a
        })
        .collect();
    let mut total = zero();
    for p in &parts {
        for g in 0..k {
            total.units[g] += p.units[g];
            total.churned[g] += p.churned[g];
            total.arr[g] += p.arr[g];
            total.arr_churned[g] += p.arr_churned[g];
        }
    }
    // Distinct accounts per group: a seen-flag per (account, group).
    let mut accounts = vec![0usize; k];
    if k > 0 {
        let mut seen = vec![false; data.n_accounts * k];
        for (&r, &g) in rows.iter().zip(group) {
            if g == u32::MAX {
                continue;
            }
            let slot = data.account[r as usize] as usize * k + g as usize;
            if !seen[slot] {
                seen[slot] = true;
                accounts[g as usize] += 1;
            }
        }
    }
    let all_units: usize = total.units.iter().sum();
    let all_churned: usize = total.churned.iter().sum();
    let overall = if all_units > 0 {
        all_churned as f64 / all_units as f64
    } else {
        f64::NAN
    };
    (0..k)
        .map(|g| {
            let mut c = ChurnCount {
                units: total.units[g],
                accounts: accounts[g],
                churned: total.churned[g],
                arr: arr.map(|_| total.arr[g]),
                arr_churned: arr.map(|_| total.arr_churned[g]),
                ..Default::default()
            };
            c.finish(all_churned, overall);
            c
        })
        .collect()
}

/// Distinct accounts among `rows`.
pub fn distinct_accounts(data: &Snapshots, rows: &[u32]) -> usize {
    let mut seen = vec![false; data.n_accounts];
    let mut n = 0;
    for &r in rows {
        let a = data.account[r as usize] as usize;
        if !seen[a] {
            seen[a] = true;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
pub(crate) mod testdata {
    use crate::data::{LoadNotes, Snapshots};

    /// A small hand-made population: `(account, date, churned)` rows.
    pub fn snapshots(rows: &[(u32, i32, u8)]) -> Snapshots {
        let n_accounts = rows.iter().map(|r| r.0).max().map_or(0, |m| m as usize + 1);
        Snapshots {
            source: "test.csv".into(),
            rows: rows.len(),
            account: rows.iter().map(|r| r.0).collect(),
            account_names: None,
            n_accounts,
            id_column: "account_id".into(),
            date: Some(rows.iter().map(|r| r.1).collect()),
            date_column: Some("snapshot_date".into()),
            outcome: Some(rows.iter().map(|r| r.2).collect()),
            outcome_source: Some("churned".into()),
            metrics: Vec::new(),
            segments: Vec::new(),
            customer_since: None,
            churn_date: None,
            arr: None,
            arr_column: None,
            source_row: (1..=rows.len() as u32).collect(),
            notes: LoadNotes::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_ends_at_the_last_snapshot_and_at_each_churn_before_a_return() {
        // account 0: retained throughout (last row is its decision)
        // account 1: churned at its last snapshot
        // account 2: churned, came back, retained: two decisions
        // rows are shuffled on purpose
        let d = testdata::snapshots(&[
            (2, 30, 0),
            (0, 20, 0),
            (1, 10, 0),
            (2, 10, 1),
            (0, 10, 0),
            (1, 20, 1),
            (2, 20, 1),
            (2, 40, 0),
        ]);
        let rows = unit_rows(&d, Unit::Account);
        assert_eq!(rows, vec![1, 5, 6, 7]);
        assert_eq!(unit_rows(&d, Unit::Snapshot).len(), 8);
    }

    #[test]
    fn counts_rates_and_distinct_accounts() {
        let d = testdata::snapshots(&[(0, 1, 0), (0, 2, 1), (1, 1, 0), (2, 1, 1)]);
        let rows: Vec<u32> = (0..4).collect();
        let c = count_groups(&d, &rows, &[0, 0, 1, u32::MAX], 2);
        assert_eq!((c[0].units, c[0].accounts, c[0].churned), (2, 1, 1));
        assert_eq!((c[1].units, c[1].accounts, c[1].churned), (1, 1, 0));
        // overall rate over the counted rows: 1 of 3
        assert!((c[0].lift - 1.5).abs() < 1e-12);
        assert!((c[0].churn_share - 1.0).abs() < 1e-12);
        assert!(c[0].arr.is_none());
    }
}
