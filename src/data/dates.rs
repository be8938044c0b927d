//! Dates as exports write them: ISO (`2025-12-31`, with or without a time and zone), US
//! (`12/31/2025`), European (`31/12/2025`, `31.12.2025`, `31-12-2025`), year first with
//! slashes or dots, Excel serial day numbers in spreadsheets, or a strftime pattern the
//! user names.
//!
//! A column's format is decided once, over its distinct values ([`detect`]): the format
//! every value reads in. A column where both the month-first and the day-first readings
//! hold for every value (every day ≤ 12) is ambiguous and refused rather than guessed.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::parse::{self, Day};

/// How a date column is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// `YYYY-MM-DD`, a time and zone after it ignored: the contract's form.
    Iso,
    /// Year, month, day: `2025/12/31`, `2025.12.31` (the separator).
    YearFirst(u8),
    /// Month, day, year: `12/31/2025` (the separator).
    MonthFirst(u8),
    /// Day, month, year: `31/12/2025`, `31.12.2025`, `31-12-2025` (the separator).
    DayFirst(u8),
    /// Excel's serial day numbers (days since 1899-12-30), as spreadsheets hold dates
    /// whose cells are not formatted as dates.
    ExcelSerial,
    /// A strftime pattern (`%d/%m/%Y`, `%b %d, %Y`, ...), as chrono reads them.
    Pattern(String),
}

/// The candidates detection tries, in order of preference.
const CANDIDATES: [DateFormat; 9] = [
    DateFormat::Iso,
    DateFormat::YearFirst(b'/'),
    DateFormat::YearFirst(b'.'),
    DateFormat::MonthFirst(b'/'),
    DateFormat::DayFirst(b'/'),
    DateFormat::DayFirst(b'.'),
    DateFormat::DayFirst(b'-'),
    DateFormat::MonthFirst(b'-'),
    DateFormat::ExcelSerial,
];

/// What the error for a value that is no date in a detected format expects.
pub const EXPECTED_ANY: &str = "a date as YYYY-MM-DD, MM/DD/YYYY, DD/MM/YYYY or DD.MM.YYYY";

impl DateFormat {
    /// Read `field` (empty is missing).
    pub fn parse(&self, field: &str) -> Result<Option<Day>, &'static str> {
        let t = field.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match self {
            DateFormat::Iso => parse::date(t),
            DateFormat::YearFirst(sep) => triple(t, *sep, [2, 1, 0]),
            DateFormat::MonthFirst(sep) => triple(t, *sep, [1, 0, 2]),
            DateFormat::DayFirst(sep) => triple(t, *sep, [0, 1, 2]),
            DateFormat::ExcelSerial => excel_serial(t),
            DateFormat::Pattern(p) => pattern(t, p),
        }
    }

    /// The format as a user writes it: `MM/DD/YYYY`, or the pattern.
    pub fn describe(&self) -> String {
        let dmy = |order: [&str; 3], sep: u8| {
            let s = sep as char;
            format!("{}{s}{}{s}{}", order[0], order[1], order[2])
        };
        match self {
            DateFormat::Iso => "YYYY-MM-DD".into(),
            DateFormat::YearFirst(s) => dmy(["YYYY", "MM", "DD"], *s),
            DateFormat::MonthFirst(s) => dmy(["MM", "DD", "YYYY"], *s),
            DateFormat::DayFirst(s) => dmy(["DD", "MM", "YYYY"], *s),
            DateFormat::ExcelSerial => "Excel serial day numbers".into(),
            DateFormat::Pattern(p) => p.clone(),
        }
    }

    /// The `--date-format` pattern that names this format.
    pub fn pattern(&self) -> String {
        let dmy = |order: [&str; 3], sep: u8| {
            let s = sep as char;
            format!("{}{s}{}{s}{}", order[0], order[1], order[2])
        };
        match self {
            DateFormat::Iso => "%Y-%m-%d".into(),
            DateFormat::YearFirst(s) => dmy(["%Y", "%m", "%d"], *s),
            DateFormat::MonthFirst(s) => dmy(["%m", "%d", "%Y"], *s),
            DateFormat::DayFirst(s) => dmy(["%d", "%m", "%Y"], *s),
            DateFormat::ExcelSerial => "excel".into(),
            DateFormat::Pattern(p) => p.clone(),
        }
    }

    /// The format a `--date-format` value names: a strftime pattern, or `excel` for
    /// serial day numbers. A pattern must name a year, a month and a day.
    pub fn from_flag(s: &str) -> Result<DateFormat, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("excel") {
            return Ok(DateFormat::ExcelSerial);
        }
        let has = |specs: &[&str]| specs.iter().any(|x| t.contains(x));
        if !(has(&["%Y", "%y", "%G"]) && has(&["%m", "%b", "%B", "%h"]) && has(&["%d", "%e"])
            || has(&["%F", "%D"]))
        {
            return Err(format!(
                "--date-format '{s}': a strftime pattern naming the year, month and day, \
                 like %d/%m/%Y, %m/%d/%Y, %d.%m.%Y or %d-%b-%Y (or excel for serial day numbers)"
            ));
        }
        let fast = [
            ("%Y-%m-%d", DateFormat::Iso),
            ("%F", DateFormat::Iso),
            ("%m/%d/%Y", DateFormat::MonthFirst(b'/')),
            ("%d/%m/%Y", DateFormat::DayFirst(b'/')),
            ("%d.%m.%Y", DateFormat::DayFirst(b'.')),
            ("%d-%m-%Y", DateFormat::DayFirst(b'-')),
            ("%m-%d-%Y", DateFormat::MonthFirst(b'-')),
            ("%Y/%m/%d", DateFormat::YearFirst(b'/')),
            ("%Y.%m.%d", DateFormat::YearFirst(b'.')),
        ];
        Ok(fast
            .into_iter()
            .find(|(p, _)| *p == t)
            .map(|(_, f)| f)
            .unwrap_or_else(|| DateFormat::Pattern(t.to_string())))
    }
}

/// Three numbers separated by `sep` (a time after a space or `T` ignored); `order` gives
/// the positions of the day, month and year.
fn triple(t: &str, sep: u8, order: [usize; 3]) -> Result<Option<Day>, &'static str> {
    const EXPECTED: &str = "a date in the column's format";
    let date = t.split([' ', 'T']).next().unwrap_or(t);
    let mut parts = [0u32; 3];
    let mut lens = [0usize; 3];
    let mut n = 0;
    for p in date.split(sep as char) {
        if n == 3 || p.is_empty() || p.len() > 4 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(EXPECTED);
        }
        parts[n] = p.parse().map_err(|_| EXPECTED)?;
        lens[n] = p.len();
        n += 1;
    }
    if n != 3 {
        return Err(EXPECTED);
    }
    let [d, m, y] = order;
    if lens[y] != 4 || lens[d] > 2 || lens[m] > 2 {
        return Err(EXPECTED);
    }
    NaiveDate::from_ymd_opt(parts[y] as i32, parts[m], parts[d])
        .map(|nd| Some(parse::from_naive(nd)))
        .ok_or("a valid calendar date")
}

/// An Excel serial day number (1900 date system; a fraction is a time of day).
fn excel_serial(t: &str) -> Result<Option<Day>, &'static str> {
    const EXPECTED: &str = "an Excel serial day number";
    let v: f64 = t.parse().map_err(|_| EXPECTED)?;
    // 1900-03-01 .. 9999-12-31: below 61, Excel's calendar has its false 1900-02-29.
    if !(61.0..2_958_466.0).contains(&v) {
        return Err(EXPECTED);
    }
    const EXCEL_EPOCH: Day = -25_569; // 1899-12-30
    Ok(Some(EXCEL_EPOCH + v.floor() as Day))
}

/// A strftime pattern: a date, a date with a time, or one with a zone.
fn pattern(t: &str, p: &str) -> Result<Option<Day>, &'static str> {
    const EXPECTED: &str = "a date in the pattern given";
    if let Ok(d) = NaiveDate::parse_from_str(t, p) {
        return Ok(Some(parse::from_naive(d)));
    }
    if let Ok(d) = NaiveDateTime::parse_from_str(t, p) {
        return Ok(Some(parse::from_naive(d.date())));
    }
    if let Ok(d) = DateTime::parse_from_str(t, p) {
        return Ok(Some(parse::from_naive(d.date_naive())));
    }
    Err(EXPECTED)
}

/// What [`detect`] found in a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// Every value reads in this format.
    Format(DateFormat),
    /// Every value reads month first and day first alike (every day ≤ 12).
    Ambiguous {
        /// A value whose two readings differ (or the first value).
        example: String,
        /// The month-first format.
        month_first: DateFormat,
        /// The day-first format.
        day_first: DateFormat,
    },
    /// No known format reads every value: the first that none of the remaining read.
    Unknown {
        /// The value.
        example: String,
    },
}

/// The format of a column's values (distinct values suffice). Excel serial numbers are a
/// candidate only for a spreadsheet's column. An empty column is ISO.
pub fn detect<'a>(values: impl IntoIterator<Item = &'a str>, spreadsheet: bool) -> Detected {
    let mut alive: Vec<bool> = CANDIDATES
        .iter()
        .map(|c| spreadsheet || *c != DateFormat::ExcelSerial)
        .collect();
    let mut example: Option<String> = None;
    let mut differing: Option<String> = None;
    for v in values {
        let t = v.trim();
        if t.is_empty() {
            continue;
        }
        example.get_or_insert_with(|| t.to_string());
        let before = alive.iter().filter(|a| **a).count();
        for (c, a) in CANDIDATES.iter().zip(alive.iter_mut()) {
            if *a && !matches!(c.parse(t), Ok(Some(_))) {
                *a = false;
            }
        }
        if alive.iter().all(|a| !a) {
            return Detected::Unknown {
                example: t.to_string(),
            };
        }
        if differing.is_none() && before > 1 {
            let (m, d) = (
                DateFormat::MonthFirst(b'/').parse(t),
                DateFormat::DayFirst(b'/').parse(t),
            );
            let (m2, d2) = (
                DateFormat::MonthFirst(b'-').parse(t),
                DateFormat::DayFirst(b'-').parse(t),
            );
            if matches!((m, d), (Ok(Some(a)), Ok(Some(b))) if a != b)
                || matches!((m2, d2), (Ok(Some(a)), Ok(Some(b))) if a != b)
            {
                differing = Some(t.to_string());
            }
        }
    }
    let alive: Vec<&DateFormat> = CANDIDATES
        .iter()
        .zip(&alive)
        .filter(|(_, a)| **a)
        .map(|(c, _)| c)
        .collect();
    if example.is_none() || alive.contains(&&DateFormat::Iso) {
        return Detected::Format(DateFormat::Iso);
    }
    for sep in [b'/', b'-'] {
        let (m, d) = (DateFormat::MonthFirst(sep), DateFormat::DayFirst(sep));
        if alive.contains(&&m) && alive.contains(&&d) {
            return Detected::Ambiguous {
                example: differing.or(example).unwrap_or_default(),
                month_first: m,
                day_first: d,
            };
        }
    }
    Detected::Format(alive[0].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        parse::date(s).unwrap().unwrap()
    }

    #[test]
    fn each_format_reads_its_dates() {
        let cases = [
            (DateFormat::Iso, "2025-12-31T10:00:00+01:00"),
            (DateFormat::YearFirst(b'/'), "2025/12/31"),
            (DateFormat::MonthFirst(b'/'), "12/31/2025"),
            (DateFormat::MonthFirst(b'/'), "12/31/2025 11:59 PM"),
            (DateFormat::DayFirst(b'/'), "31/12/2025"),
            (DateFormat::DayFirst(b'.'), "31.12.2025"),
            (DateFormat::DayFirst(b'-'), "31-12-2025"),
            (DateFormat::ExcelSerial, "46022"),
            (DateFormat::ExcelSerial, "46022.75"),
            (DateFormat::Pattern("%d-%b-%Y".into()), "31-Dec-2025"),
            (DateFormat::Pattern("%b %d, %Y".into()), "Dec 31, 2025"),
            (
                DateFormat::Pattern("%d/%m/%Y %H:%M".into()),
                "31/12/2025 23:59",
            ),
        ];
        for (f, text) in cases {
            assert_eq!(f.parse(text), Ok(Some(day("2025-12-31"))), "{f:?} {text}");
        }
        assert_eq!(DateFormat::DayFirst(b'/').parse(" "), Ok(None));
        assert!(DateFormat::DayFirst(b'/').parse("31/02/2025").is_err());
        assert!(DateFormat::DayFirst(b'/').parse("31/12/25").is_err());
        assert!(DateFormat::DayFirst(b'/').parse("1/2/3/2025").is_err());
        assert!(DateFormat::ExcelSerial.parse("12").is_err());
        assert!(DateFormat::Pattern("%d-%b-%Y".into())
            .parse("2025-12-31")
            .is_err());
    }

    #[test]
    fn a_column_is_detected_from_all_its_values() {
        let f = |v: &[&str]| detect(v.iter().copied(), false);
        assert_eq!(f(&["2025-01-31", ""]), Detected::Format(DateFormat::Iso));
        assert_eq!(f(&[]), Detected::Format(DateFormat::Iso));
        assert_eq!(
            f(&["01/02/2025", "12/31/2025"]),
            Detected::Format(DateFormat::MonthFirst(b'/'))
        );
        assert_eq!(
            f(&["01/02/2025", "31/12/2025"]),
            Detected::Format(DateFormat::DayFirst(b'/'))
        );
        assert_eq!(
            f(&["1.2.2025", "31.12.2025"]),
            Detected::Format(DateFormat::DayFirst(b'.'))
        );
        // Dots are read day first only: a dotted date is European.
        assert_eq!(
            f(&["01.02.2025"]),
            Detected::Format(DateFormat::DayFirst(b'.'))
        );
        assert_eq!(
            f(&["2025/01/02"]),
            Detected::Format(DateFormat::YearFirst(b'/'))
        );
        assert_eq!(
            f(&["01/01/2025", "03/04/2025", "12/12/2025"]),
            Detected::Ambiguous {
                example: "03/04/2025".into(),
                month_first: DateFormat::MonthFirst(b'/'),
                day_first: DateFormat::DayFirst(b'/'),
            }
        );
        assert_eq!(
            f(&["12/31/2025", "31/12/2025"]),
            Detected::Unknown {
                example: "31/12/2025".into()
            }
        );
        assert_eq!(
            f(&["46022"]),
            Detected::Unknown {
                example: "46022".into()
            }
        );
        assert_eq!(
            detect(["46022", "45000"], true),
            Detected::Format(DateFormat::ExcelSerial)
        );
    }

    #[test]
    fn flags_name_formats() {
        assert_eq!(
            DateFormat::from_flag("%d/%m/%Y"),
            Ok(DateFormat::DayFirst(b'/'))
        );
        assert_eq!(DateFormat::from_flag("excel"), Ok(DateFormat::ExcelSerial));
        assert_eq!(
            DateFormat::from_flag("%d %B %Y"),
            Ok(DateFormat::Pattern("%d %B %Y".into()))
        );
        assert!(DateFormat::from_flag("%H:%M").is_err());
        assert!(DateFormat::from_flag("dd/mm/yyyy").is_err());
        for f in CANDIDATES {
            if f != DateFormat::ExcelSerial {
                assert_eq!(DateFormat::from_flag(&f.pattern()), Ok(f.clone()));
            }
        }
        assert_eq!(DateFormat::MonthFirst(b'/').describe(), "MM/DD/YYYY");
    }
}
