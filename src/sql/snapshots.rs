//! The snapshot-building query: one row per account per snapshot date from five raw
//! tables, point in time, with the outcome over a horizon after the date.
//!
//! Raw tables (names are parameters, columns are not):
//!
//! | table | columns |
//! |---|---|
//! | accounts | `account_id, customer_since, industry, plan, region` |
//! | events | `account_id, user_id, event_time, feature` (product usage) |
//! | invoices | `account_id, due_date, paid_date, amount, arr` |
//! | surveys | `account_id, answered_at, nps` |
//! | churns | `account_id, churn_date` (one row per lost account) |
//!
//! The snapshot dates are listed in the query (computed here), so no dialect's series
//! function is needed; day arithmetic is written per dialect.

use std::fmt::Write;

use chrono::{Datelike, Months, NaiveDate};

use super::{bad, Dialect, SqlError};

/// What the snapshot query covers.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSpec {
    /// First snapshot date.
    pub start: NaiveDate,
    /// Last possible snapshot date, and the end of the data (outcomes whose horizon runs
    /// past it are left NULL: right-censored).
    pub end: NaiveDate,
    /// Months between snapshot dates (a month-end start stays on month ends).
    pub every_months: u32,
    /// Outcome horizon in days.
    pub horizon_days: u32,
    /// Usage window before each snapshot, in days.
    pub window_days: u32,
    /// Names of the raw tables: accounts, events, invoices, surveys, churns.
    pub tables: [String; 5],
}

impl SnapshotSpec {
    /// Quarterly snapshots from `start` to `end`, a 90-day horizon, a 30-day usage
    /// window, and tables named `accounts`, `events`, `invoices`, `surveys`, `churns`.
    pub fn quarterly(start: NaiveDate, end: NaiveDate) -> Self {
        SnapshotSpec {
            start,
            end,
            every_months: 3,
            horizon_days: 90,
            window_days: 30,
            tables: ["accounts", "events", "invoices", "surveys", "churns"].map(String::from),
        }
    }

    /// Check the parameters.
    pub fn check(&self) -> Result<(), SqlError> {
        if self.end < self.start {
            return Err(bad("end", "the last date comes before the first"));
        }
        if self.every_months == 0 || self.horizon_days == 0 || self.window_days == 0 {
            return Err(bad(
                "every",
                "the step, the horizon and the window must be positive",
            ));
        }
        if self.dates().len() > 10_000 {
            return Err(bad("every", "more than 10,000 snapshot dates"));
        }
        if self.tables.iter().any(|t| t.trim().is_empty()) {
            return Err(bad("tables", "every raw table needs a name"));
        }
        Ok(())
    }

    /// The snapshot dates, ascending.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let month_end = |d: NaiveDate| d.succ_opt().is_none_or(|n| n.month() != d.month());
        let at_end = month_end(self.start);
        let mut out = Vec::new();
        for i in 0.. {
            let Some(mut d) = self
                .start
                .checked_add_months(Months::new(i * self.every_months))
            else {
                break;
            };
            if at_end {
                while !month_end(d) {
                    d = d.succ_opt().expect("a month's end");
                }
            }
            if d > self.end || out.len() > 10_000 {
                break;
            }
            out.push(d);
        }
        out
    }
}

/// A date literal.
fn date(d: Dialect, x: NaiveDate) -> String {
    let _ = d;
    format!("DATE '{}'", x.format("%Y-%m-%d"))
}

/// `x` plus `n` days (n may be negative), as a date.
fn add_days(d: Dialect, x: &str, n: i64) -> String {
    match d {
        Dialect::Spark => format!("date_add({x}, {n})"),
        Dialect::DuckDb | Dialect::Postgres => format!("({x} + ({n}))"),
        Dialect::BigQuery => format!("DATE_ADD({x}, INTERVAL {n} DAY)"),
        Dialect::Snowflake => format!("DATEADD(day, {n}, {x})"),
    }
}

/// Days from `a` to `b` (`b − a`).
fn days_between(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Spark => format!("datediff({b}, {a})"),
        Dialect::DuckDb => format!("date_diff('day', {a}, {b})"),
        Dialect::Postgres => format!("({b} - {a})"),
        Dialect::BigQuery => format!("DATE_DIFF({b}, {a}, DAY)"),
        Dialect::Snowflake => format!("DATEDIFF(day, {a}, {b})"),
    }
}

pub(super) fn query(spec: &SnapshotSpec, d: Dialect) -> String {
    let t = |i: usize| d.table(&spec.tables[i]);
    let dates: Vec<String> = spec.dates().into_iter().map(|x| date(d, x)).collect();
    let dates_cte = match d {
        Dialect::BigQuery => format!(
            "SELECT snapshot_date FROM UNNEST([{}]) AS snapshot_date",
            dates.join(", ")
        ),
        _ => format!(
            "SELECT CAST(v AS DATE) AS snapshot_date FROM (VALUES ({})) AS t(v)",
            dates.join("), (")
        ),
    };
    let double = d.double();
    let as_date = |x: &str| format!("CAST({x} AS DATE)");
    let w = spec.window_days as i64;
    let h = spec.horizon_days as i64;
    let mut q = String::new();
    let _ = write!(
        q,
        "-- One row per account and snapshot date: the metrics as known on the date, and\n\
         -- churned over ({h} days] after it (NULL where that runs past {end}).\n\
         WITH\n\
         dates AS (\n  {dates_cte}\n),\n\
         base AS (\n  SELECT a.account_id, d.snapshot_date, a.customer_since, a.industry, a.plan, a.region,\n\
         \x20        c.churn_date\n\
         \x20 FROM {acc} a\n  CROSS JOIN dates d\n  LEFT JOIN {churns} c ON c.account_id = a.account_id\n\
         \x20 WHERE a.customer_since <= d.snapshot_date\n\
         \x20   AND (c.churn_date IS NULL OR c.churn_date > d.snapshot_date)\n),\n\
         usage AS (\n  SELECT b.account_id, b.snapshot_date,\n\
         \x20        COUNT(DISTINCT e.user_id) AS active_users_30d,\n\
         \x20        CAST(COUNT(e.user_id) AS {double}) / NULLIF(COUNT(DISTINCT e.user_id), 0) AS logins_per_user_30d,\n\
         \x20        COUNT(DISTINCT e.feature) AS features_used_30d\n\
         \x20 FROM base b\n  LEFT JOIN {events} e\n\
         \x20   ON e.account_id = b.account_id\n\
         \x20  AND {ev} > {from}\n\
         \x20  AND {ev} <= b.snapshot_date\n\
         \x20 GROUP BY b.account_id, b.snapshot_date\n),\n\
         billing AS (\n  SELECT b.account_id, b.snapshot_date,\n\
         \x20        COALESCE(MAX(CASE WHEN i.due_date <= b.snapshot_date\n\
         \x20                           AND (i.paid_date IS NULL OR i.paid_date > b.snapshot_date)\n\
         \x20                          THEN {late} END), 0) AS days_past_due,\n\
         \x20        MAX(CASE WHEN i.due_date <= b.snapshot_date THEN i.arr END) AS arr\n\
         \x20 FROM base b LEFT JOIN {invoices} i ON i.account_id = b.account_id\n\
         \x20 GROUP BY b.account_id, b.snapshot_date\n),\n\
         answers AS (\n  SELECT b.account_id, b.snapshot_date, s.nps,\n\
         \x20        ROW_NUMBER() OVER (PARTITION BY b.account_id, b.snapshot_date ORDER BY s.answered_at DESC) AS k\n\
         \x20 FROM base b JOIN {surveys} s\n\
         \x20   ON s.account_id = b.account_id AND s.answered_at <= b.snapshot_date\n),\n\
         sentiment AS (\n  SELECT account_id, snapshot_date, nps FROM answers WHERE k = 1\n)\n\
         SELECT b.account_id,\n\
         \x20      b.snapshot_date,\n\
         \x20      CASE WHEN b.churn_date <= {horizon} THEN 1\n\
         \x20           WHEN {horizon} <= {end_lit} THEN 0 END AS churned,\n\
         \x20      b.churn_date, b.customer_since, bl.arr, b.industry, b.plan, b.region,\n\
         \x20      u.active_users_30d, u.logins_per_user_30d, u.features_used_30d,\n\
         \x20      bl.days_past_due, s.nps\n\
         FROM base b\n\
         JOIN usage u ON u.account_id = b.account_id AND u.snapshot_date = b.snapshot_date\n\
         JOIN billing bl ON bl.account_id = b.account_id AND bl.snapshot_date = b.snapshot_date\n\
         LEFT JOIN sentiment s ON s.account_id = b.account_id AND s.snapshot_date = b.snapshot_date\n\
         ORDER BY b.account_id, b.snapshot_date;\n",
        end = spec.end.format("%Y-%m-%d"),
        acc = t(0),
        events = t(1),
        invoices = t(2),
        surveys = t(3),
        churns = t(4),
        ev = as_date("e.event_time"),
        from = add_days(d, "b.snapshot_date", -w),
        late = days_between(d, "i.due_date", "b.snapshot_date"),
        horizon = add_days(d, "b.snapshot_date", h),
        end_lit = date(d, spec.end),
    );
    q
}
