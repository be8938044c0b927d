//! Parsers for single field values: numbers, dates, outcome labels, booleans, horizons.
//!
//! Each returns `Ok(None)` for a missing value (empty or whitespace-only), `Ok(Some(v))` for
//! a value, and `Err(expected)` with a description of what was expected, which the loader
//! turns into an error naming file, row, column and value.

use chrono::{Datelike, Months, NaiveDate};

/// Days since 1970-01-01 of the Unix epoch, the representation of every date in churncal.
pub type Day = i32;

/// Marker for a missing date in a `Vec<Day>`.
pub const NO_DAY: Day = i32::MIN;

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("the epoch is a valid date"),
};

/// Parse a number. Empty or whitespace-only is missing; NaN and infinities are rejected
/// (`Err` says so), as is anything else that is not a decimal number.
pub fn number(field: &str) -> Result<Option<f64>, &'static str> {
    let t = field.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err("a finite number (NaN and infinities are not allowed)"),
        Err(_) => Err("a number"),
    }
}

/// Parse a `YYYY-MM-DD` date; a datetime (`YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SSZ`, …)
/// is truncated to its date. Empty is missing.
pub fn date(field: &str) -> Result<Option<Day>, &'static str> {
    const EXPECTED: &str = "a date as YYYY-MM-DD";
    let t = field.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let b = t.as_bytes();
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || (b.len() > 10 && !matches!(b[10], b' ' | b'T'))
    {
        return Err(EXPECTED);
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &t[r];
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(EXPECTED);
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .map(|nd| Some(from_naive(nd)))
        .ok_or("a valid calendar date as YYYY-MM-DD")
}

/// Days since the epoch of a calendar date.
pub fn from_naive(d: NaiveDate) -> Day {
    (d - EPOCH).num_days() as Day
}

/// The calendar date of a day number.
pub fn to_naive(day: Day) -> NaiveDate {
    EPOCH + chrono::Duration::days(day as i64)
}

/// Year and month (1–12) of a day number, without formatting it.
pub fn year_month(day: Day) -> (i32, u32) {
    let d = to_naive(day);
    (d.year(), d.month())
}

/// Format a day number as `YYYY-MM-DD`.
pub fn format_day(day: Day) -> String {
    let d = to_naive(day);
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// The outcome labels that mean churned (compared ignoring case).
pub const OUTCOME_YES: [&str; 6] = ["1", "true", "yes", "churned", "y", "1.0"];
/// The outcome labels that mean retained (compared ignoring case).
pub const OUTCOME_NO: [&str; 6] = ["0", "false", "no", "renewed", "n", "0.0"];

/// Parse an outcome label: 0/1, true/false, yes/no, churned/renewed, case-insensitive
/// (`1`, `true`, `yes`, `churned` are churn). Empty is missing.
pub fn outcome(field: &str) -> Result<Option<u8>, &'static str> {
    let t = field.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if OUTCOME_YES.iter().any(|y| t.eq_ignore_ascii_case(y)) {
        Ok(Some(1))
    } else if OUTCOME_NO.iter().any(|n| t.eq_ignore_ascii_case(n)) {
        Ok(Some(0))
    } else {
        Err("an outcome: 0/1, true/false, yes/no or churned/renewed")
    }
}

/// The labels a boolean metric reads as true (compared ignoring case).
pub const BOOLEAN_YES: [&str; 5] = ["true", "1", "yes", "y", "1.0"];
/// The labels a boolean metric reads as false (compared ignoring case).
pub const BOOLEAN_NO: [&str; 5] = ["false", "0", "no", "n", "0.0"];

/// Parse a boolean metric value: true/1/yes or false/0/no (case-insensitive). Empty is
/// missing.
pub fn boolean(field: &str) -> Result<Option<bool>, &'static str> {
    let t = field.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if BOOLEAN_YES.iter().any(|y| t.eq_ignore_ascii_case(y)) {
        Ok(Some(true))
    } else if BOOLEAN_NO.iter().any(|n| t.eq_ignore_ascii_case(n)) {
        Ok(Some(false))
    } else {
        Err("a boolean: true/false, 1/0 or yes/no")
    }
}

/// A look-ahead window for outcome labels: `90d`, `13w`, `6m`, `1y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// A number of days.
    Days(u32),
    /// A number of calendar months (end-of-month dates stay at month ends where possible).
    Months(u32),
}

impl Horizon {
    /// Parse `90d`, `13w`, `6m`, `12m`, `1y`.
    pub fn parse(s: &str) -> Result<Horizon, String> {
        let t = s.trim();
        let (num, unit) = t.split_at(t.len().saturating_sub(1));
        let n: u32 = num.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("horizon '{s}': expected a positive count and a unit, like 90d, 13w, 6m or 1y")
        })?;
        match unit {
            "d" | "D" => Ok(Horizon::Days(n)),
            "w" | "W" => Ok(Horizon::Days(7 * n)),
            "m" | "M" => Ok(Horizon::Months(n)),
            "y" | "Y" => Ok(Horizon::Months(12 * n)),
            _ => Err(format!(
                "horizon '{s}': unit must be d, w, m or y (like 90d, 13w, 6m or 1y)"
            )),
        }
    }

    /// The day `self` after `day`.
    pub fn add_to(self, day: Day) -> Day {
        match self {
            Horizon::Days(n) => day + n as Day,
            Horizon::Months(n) => {
                let d = to_naive(day);
                from_naive(d.checked_add_months(Months::new(n)).unwrap_or(d))
            }
        }
    }
}

impl std::fmt::Display for Horizon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Horizon::Days(n) => write!(f, "{n}d"),
            Horizon::Months(n) => write!(f, "{n}m"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(" 3.5 "), Ok(Some(3.5)));
        assert_eq!(number("-1e3"), Ok(Some(-1000.0)));
        assert_eq!(number("   "), Ok(None));
        assert_eq!(number(""), Ok(None));
        assert!(number("abc").is_err());
        assert!(number("1,5").is_err());
        assert!(number("NaN").unwrap_err().contains("finite"));
        assert!(number("inf").unwrap_err().contains("finite"));
    }

    #[test]
    fn dates() {
        assert_eq!(date("1970-01-02"), Ok(Some(1)));
        assert_eq!(date("2024-03-31"), date("2024-03-31 23:59:59"));
        assert_eq!(date("2024-03-31"), date("2024-03-31T10:00:00Z"));
        assert_eq!(date(""), Ok(None));
        assert!(date("31/03/2024").is_err());
        assert!(date("2024-02-30").unwrap_err().contains("valid"));
        assert!(date("2024-3-31").is_err());
        assert_eq!(
            format_day(date("2025-12-31").unwrap().unwrap()),
            "2025-12-31"
        );
    }

    #[test]
    fn outcomes() {
        for y in ["1", "TRUE", "Yes", "churned", "CHURNED"] {
            assert_eq!(outcome(y), Ok(Some(1)), "{y}");
        }
        for n in ["0", "false", "No", "renewed"] {
            assert_eq!(outcome(n), Ok(Some(0)), "{n}");
        }
        assert_eq!(outcome(" "), Ok(None));
        assert!(outcome("maybe").is_err());
        assert!(outcome("2").is_err());
    }

    #[test]
    fn booleans() {
        assert_eq!(boolean("Yes"), Ok(Some(true)));
        assert_eq!(boolean("0"), Ok(Some(false)));
        assert!(boolean("sometimes").is_err());
    }

    #[test]
    fn horizons() {
        assert_eq!(Horizon::parse("90d"), Ok(Horizon::Days(90)));
        assert_eq!(Horizon::parse("13w"), Ok(Horizon::Days(91)));
        assert_eq!(Horizon::parse("6m"), Ok(Horizon::Months(6)));
        assert_eq!(Horizon::parse("1y"), Ok(Horizon::Months(12)));
        assert!(Horizon::parse("0d").is_err());
        assert!(Horizon::parse("6x").is_err());
        assert!(Horizon::parse("d").is_err());
        let q1 = date("2024-03-31").unwrap().unwrap();
        assert_eq!(format_day(Horizon::Months(3).add_to(q1)), "2024-06-30");
        assert_eq!(year_month(q1), (2024, 3));
        assert_eq!(format_day(Horizon::Days(90).add_to(q1)), "2024-06-29");
    }
}
