//! The snapshot table: one row per account per observation date, with its outcome.
//!
//! [`load`] reads CSV or Parquet through polars (a lazy scan of only the needed columns)
//! into [`Snapshots`]: contiguous column buffers ready for numeric work. Column roles
//! (id, date, outcome, segments, ...) are named by [`Roles`]; what to read is said by a
//! [`LoadRequest`]. Every problem becomes a [`DataError`] naming the file, the row (1-based,
//! header excluded), the column and the value. The contract is `docs/data-contract.md`.

pub mod controls;
pub mod dates;
mod fields;
mod load;
pub mod memory;
pub mod numbers;
pub mod order;
pub mod parse;

use std::borrow::Cow;
use std::path::PathBuf;

use thiserror::Error;

pub use dates::DateFormat;
pub use load::{
    column_names, load, load_streaming, text_sample, BatchColumn, MetricBatch, MetricSink,
    TextSample,
};
pub use numbers::NumberStyle;
pub use parse::{Day, Horizon, NO_DAY};

use crate::profile::{InputKind, Profile};

/// Where the bundled sample lives in a checkout; loading this path from elsewhere uses the
/// copy compiled into the binary.
pub const SAMPLE_PATH: &str = "notebooks-data/sample_snapshots.csv";

/// The bundled sample, compiled in so that `churncal` runs from any folder.
pub static SAMPLE_CSV: &[u8] = include_bytes!("../../notebooks-data/sample_snapshots.csv");

/// Which column plays which role. `None` means "the default name, if the data has it".
#[derive(Debug, Clone, Default)]
pub struct Roles {
    /// Account id column (default `account_id`); absent: the row number, with a warning.
    pub id: Option<String>,
    /// Snapshot date column (default `snapshot_date`); absent: one snapshot.
    pub date: Option<String>,
    /// Outcome column (default `churned`).
    pub outcome: Option<String>,
    /// Segment columns to load (industry, plan, ...).
    pub segments: Vec<String>,
    /// Start of the relationship (default `customer_since`), loaded when present.
    pub customer_since: Option<String>,
    /// Churn date (default `churn_date`), loaded when present.
    pub churn_date: Option<String>,
    /// Annual recurring revenue (default `arr`), loaded when present.
    pub arr: Option<String>,
}

impl Roles {
    /// Default column names of the data contract.
    pub const DEFAULT_ID: &'static str = "account_id";
    /// Default snapshot date column.
    pub const DEFAULT_DATE: &'static str = "snapshot_date";
    /// Default outcome column.
    pub const DEFAULT_OUTCOME: &'static str = "churned";
    /// Default customer-since column.
    pub const DEFAULT_CUSTOMER_SINCE: &'static str = "customer_since";
    /// Default churn-date column.
    pub const DEFAULT_CHURN_DATE: &'static str = "churn_date";
    /// Default revenue column.
    pub const DEFAULT_ARR: &'static str = "arr";
}

/// Whether a command needs the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeNeed {
    /// Load it when present (scoring).
    #[default]
    Optional,
    /// Required, with both classes present (calibrate, tiers, validate, ...).
    Required,
}

/// The CSV text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is allowed); invalid bytes are an error naming the row.
    #[default]
    Utf8,
    /// ISO-8859-1 / Windows-1252 exports, transcoded to UTF-8 on reading.
    Latin1,
}

/// What to read from a snapshot file.
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    /// Column roles.
    pub roles: Roles,
    /// Metric columns and how to read each.
    pub metrics: Vec<(String, InputKind)>,
    /// Whether the outcome must be there.
    pub outcome: OutcomeNeed,
    /// Derive the outcome from `churn_date` over this horizon (instead of an outcome column).
    pub horizon: Option<Horizon>,
    /// The last date the data covers, for right-censoring derived labels (default: the
    /// latest snapshot or churn date in the file).
    pub as_of: Option<Day>,
    /// CSV field separator; `None`: detected from the header line (`,` `;` tab `|`).
    pub delimiter: Option<u8>,
    /// CSV text encoding.
    pub encoding: Encoding,
    /// Whether the customer-since and churn-date columns are kept.
    pub lifecycle_dates: Lifecycle,
    /// The outcome's own labels (`Attrited Customer` / `Existing Customer`), when they are
    /// not 0/1, true/false, yes/no or churned/renewed.
    pub outcome_labels: Option<OutcomeLabels>,
    /// How the file writes numbers and dates, and which worksheet to read.
    pub formats: Formats,
}

/// How a file writes what the contract writes plainly, and which worksheet holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Formats {
    /// Whether `,` is the decimal mark; `None`: detected, on when the delimiter is `;`
    /// and the numbers in the first rows read only that way.
    pub decimal_comma: Option<bool>,
    /// Strip percent signs, currency symbols and thousands separators from numbers.
    pub lenient_numbers: bool,
    /// The format of every date column; `None`: each column's is detected from its values.
    pub date_format: Option<DateFormat>,
    /// The worksheet of a spreadsheet (`None`: the first).
    pub sheet: Option<String>,
}

/// Whether a reading was asked for or found in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The user named it.
    Given,
    /// Detected from the values.
    Detected,
}

/// How a load read the file, where that was not the contract's plain form: what the
/// audit counts and the command line notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadFormats {
    /// Numbers were read with a decimal comma.
    pub decimal_comma: Option<Origin>,
    /// Date columns read in a format other than ISO: column, format, origin.
    pub dates: Vec<(String, DateFormat, Origin)>,
    /// Per numeric column, the values read by stripping a percent sign, a currency or
    /// thousands separators (columns with none left out).
    pub stripped: Vec<(String, usize)>,
    /// The worksheet read, for a spreadsheet, and its row of the header (1-based).
    pub sheet: Option<(String, usize)>,
}

impl ReadFormats {
    /// Each fact as a sentence, for notes.
    pub fn sentences(&self) -> Vec<String> {
        let how = |o: &Origin| match o {
            Origin::Given => "as given",
            Origin::Detected => "detected",
        };
        let mut out = Vec::new();
        if let Some((sheet, row)) = &self.sheet {
            out.push(format!("read worksheet '{sheet}', its header on row {row}"));
        }
        if let Some(o) = &self.decimal_comma {
            out.push(format!("numbers read with a decimal comma ({})", how(o)));
        }
        for (c, f, o) in &self.dates {
            out.push(format!(
                "dates in '{c}' read as {} ({})",
                f.describe(),
                how(o)
            ));
        }
        for (c, n) in &self.stripped {
            out.push(format!(
                "{n} values of '{c}' read by stripping a percent sign, currency or thousands separators"
            ));
        }
        out
    }
}

/// An outcome column's own labels: which values mean churned and which retained, matched
/// after trimming and ignoring case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeLabels {
    /// The labels of a churned snapshot.
    pub churned: Vec<String>,
    /// The labels of a retained one; empty: every other non-empty value.
    pub retained: Vec<String>,
}

impl OutcomeLabels {
    /// The outcome a label means: 1 churned, 0 retained, `None` neither.
    pub fn outcome(&self, label: &str) -> Option<u8> {
        let t = label.trim();
        let is = |list: &[String]| list.iter().any(|l| l.trim().eq_ignore_ascii_case(t));
        if is(&self.churned) {
            Some(1)
        } else if self.retained.is_empty() || is(&self.retained) {
            Some(0)
        } else {
            None
        }
    }
}

/// What becomes of the customer-since and churn-date columns of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// Read, checked and kept (when the data has them).
    #[default]
    Kept,
    /// Read and checked like every column (a bad date is refused whatever the command),
    /// then let go a batch at a time: for a command that uses neither. The churn date a
    /// horizon needs is kept.
    Checked,
}

impl LoadRequest {
    /// A request for the metric columns a profile reads.
    pub fn for_profile(profile: &Profile) -> Self {
        let mut metrics: Vec<(String, InputKind)> = Vec::new();
        for m in &profile.metrics {
            if !metrics.iter().any(|(c, _)| c == &m.column) {
                metrics.push((m.column.clone(), m.transform.input_kind()));
            }
        }
        LoadRequest {
            metrics,
            ..Default::default()
        }
    }
}

/// One loaded metric column.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricColumn {
    /// Numbers (booleans as 1/0); NaN marks a missing value.
    Numeric(Vec<f64>),
    /// Labels as codes into `labels`; [`MetricColumn::MISSING_CODE`] marks a missing value.
    Text {
        /// Per-row label code.
        codes: Vec<u32>,
        /// Distinct labels.
        labels: Vec<String>,
    },
}

impl MetricColumn {
    /// Code of a missing label.
    pub const MISSING_CODE: u32 = u32::MAX;

    /// Whether row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            MetricColumn::Numeric(v) => v[i].is_nan(),
            MetricColumn::Text { codes, .. } => codes[i] == Self::MISSING_CODE,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            MetricColumn::Numeric(v) => v.len(),
            MetricColumn::Text { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A segment column: labels as codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Column name.
    pub name: String,
    /// Per-row label code (missing values get the label `(missing)`).
    pub codes: Vec<u32>,
    /// Distinct labels.
    pub labels: Vec<String>,
}

/// Rows left out while deriving labels, and other facts worth a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadNotes {
    /// Snapshots on or after the account's churn date (dropped).
    pub after_churn: usize,
    /// Snapshots whose horizon reaches past the data's last date without a churn (dropped).
    pub censored: usize,
    /// What the user should know about the load (no id column, ...).
    pub warnings: Vec<LoadWarning>,
    /// How numbers and dates were read, where not in the contract's plain form.
    pub formats: ReadFormats,
}

/// Something about a load the user should know, though nothing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// The file has no account id column: each row is its own account.
    NoAccountId {
        /// The file.
        path: String,
        /// The id column looked for.
        column: String,
    },
    /// Snapshots whose horizon reaches past the data's last date with no churn observed were
    /// left out (right-censored).
    RightCensored {
        /// How many.
        count: usize,
        /// The horizon.
        horizon: Horizon,
        /// The data's last date.
        last: Day,
    },
    /// Snapshots on or after their account's churn date were dropped.
    AfterChurn {
        /// How many.
        count: usize,
    },
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadWarning::NoAccountId { path, column } => write!(
                f,
                "{path} has no account id column ('{column}'); each row is its own account, numbered by row"
            ),
            LoadWarning::RightCensored {
                count,
                horizon,
                last,
            } => write!(
                f,
                "{count} snapshots right-censored: their {horizon} horizon reaches past {} with no churn observed",
                parse::format_day(*last)
            ),
            LoadWarning::AfterChurn { count } => write!(
                f,
                "{count} snapshots on or after their account's churn date dropped"
            ),
        }
    }
}

/// The loaded snapshot table: column-wise, one entry per kept row.
#[derive(Debug, Clone)]
pub struct Snapshots {
    /// The file as the user named it.
    pub source: String,
    /// Number of rows kept.
    pub rows: usize,
    /// Account index of each row (into `account_names`, or the row number).
    pub account: Vec<u32>,
    /// Account names by index; `None` when the data has no id column (then the name is the
    /// 1-based row number).
    pub account_names: Option<Vec<String>>,
    /// Number of distinct accounts.
    pub n_accounts: usize,
    /// The id column's name (or `row` when there is none).
    pub id_column: String,
    /// Snapshot date of each row, if the data has dates.
    pub date: Option<Vec<Day>>,
    /// The date column's name.
    pub date_column: Option<String>,
    /// Outcome of each row (1 = churned within the horizon), if known.
    pub outcome: Option<Vec<u8>>,
    /// The outcome column's name, or `churn_date within H` when derived.
    pub outcome_source: Option<String>,
    /// Metric columns, in request order, by column name.
    pub metrics: Vec<(String, MetricColumn)>,
    /// Segment columns.
    pub segments: Vec<Segment>,
    /// Start of the relationship per row ([`NO_DAY`] where missing).
    pub customer_since: Option<Vec<Day>>,
    /// Churn date per row ([`NO_DAY`] where the account has not churned).
    pub churn_date: Option<Vec<Day>>,
    /// ARR per row (NaN where missing).
    pub arr: Option<Vec<f64>>,
    /// The revenue column's name, when loaded.
    pub arr_column: Option<String>,
    /// The 1-based source row of each kept row.
    pub source_row: Vec<u32>,
    /// What was dropped, and warnings.
    pub notes: LoadNotes,
}

impl Snapshots {
    /// Snapshots holding only metric columns (all of one length): no ids, dates or outcome,
    /// one account per row, rows numbered from 1. For scoring values that did not come from
    /// a file, and for tests.
    pub fn from_metrics(source: &str, metrics: Vec<(String, MetricColumn)>) -> Snapshots {
        let rows = metrics.first().map_or(0, |(_, c)| c.len());
        Snapshots {
            source: source.to_string(),
            rows,
            account: (0..rows as u32).collect(),
            account_names: None,
            n_accounts: rows,
            id_column: "row".into(),
            date: None,
            date_column: None,
            outcome: None,
            outcome_source: None,
            metrics,
            segments: vec![],
            customer_since: None,
            churn_date: None,
            arr: None,
            arr_column: None,
            source_row: (1..=rows as u32).collect(),
            notes: LoadNotes::default(),
        }
    }

    /// The name of an account index.
    pub fn account_name(&self, account: u32) -> Cow<'_, str> {
        match &self.account_names {
            Some(n) => Cow::Borrowed(n[account as usize].as_str()),
            None => Cow::Owned((account + 1).to_string()),
        }
    }

    /// The metric column read from `column`.
    pub fn metric(&self, column: &str) -> Option<&MetricColumn> {
        self.metrics
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, m)| m)
    }

    /// Free the columns a fit does not read, for the fitting commands once the data is
    /// checked (a few hundred megabytes at 10M rows): the relationship's start and the churn
    /// dates, and the revenue unless `revenue`.
    pub fn free_for_fit(&mut self, revenue: bool) {
        self.customer_since = None;
        self.churn_date = None;
        if !revenue {
            self.arr = None;
        }
    }

    /// The first and last snapshot dates.
    pub fn date_range(&self) -> Option<(Day, Day)> {
        let d = self.date.as_ref()?;
        let min = d.iter().copied().min()?;
        let max = d.iter().copied().max()?;
        Some((min, max))
    }

    /// Number of churned rows, if the outcome is known.
    pub fn churned_rows(&self) -> Option<usize> {
        self.outcome
            .as_ref()
            .map(|o| o.iter().filter(|&&y| y == 1).count())
    }
}

/// Everything that can be wrong with snapshot data.
#[derive(Debug, Error)]
pub enum DataError {
    /// The [`MetricSink`] of a streaming load refused a batch (its error, as it gave it).
    #[error(transparent)]
    Refused(Box<dyn std::error::Error + Send + Sync>),
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has no bytes, or no header.
    #[error("{path} is empty")]
    Empty {
        /// The file.
        path: String,
    },
    /// The file has a header and no rows.
    #[error("{path} has a header but no rows")]
    NoRows {
        /// The file.
        path: String,
    },
    /// The file is neither CSV nor Parquet, or polars could not read it.
    #[error("{path} is not a readable {format} file: {message}")]
    NotTabular {
        /// The file.
        path: String,
        /// `CSV` or `Parquet`.
        format: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The CSV text is not valid in the declared encoding.
    #[error("{path}, row {row}: bytes that are not UTF-8 ({bytes}); the export may be Latin-1 or Windows-1252")]
    Encoding {
        /// The file.
        path: String,
        /// 1-based data row (0 = the header).
        row: usize,
        /// The offending bytes in hex.
        bytes: String,
    },
    /// A required column is absent.
    #[error("{path}: no column '{column}' for the {role}; {}{}", closest_text(.closest), available_text(.available))]
    MissingColumn {
        /// The file.
        path: String,
        /// The role the column plays.
        role: ColumnRole,
        /// The column name looked for.
        column: String,
        /// Closest names in the file, best first.
        closest: Vec<String>,
        /// Every column in the file.
        available: Vec<String>,
    },
    /// A CSV record with more or fewer fields than the header.
    #[error("{path}, row {row}: {found} fields where the header has {expected} (a stray delimiter or quote, or a cut-off line)")]
    Ragged {
        /// File.
        path: String,
        /// 1-based data row (header excluded).
        row: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A file whose extension is none churncal reads.
    #[error("{path}: churncal reads .csv (also .tsv, .txt), .parquet and spreadsheets (.xlsx, .xls, .ods), not '.{extension}'; export the data as CSV or Parquet")]
    UnknownFormat {
        /// File.
        path: String,
        /// Its extension.
        extension: String,
    },
    /// A worksheet the workbook does not have.
    #[error("{path}: no worksheet '{sheet}'; the workbook has {}", quoted(.available))]
    NoSheet {
        /// The file.
        path: String,
        /// The worksheet asked for.
        sheet: String,
        /// The workbook's worksheets.
        available: Vec<String>,
    },
    /// A date column that reads both month first and day first.
    #[error("{path}, column '{column}': every date reads month first and day first alike ('{example}' is {} as {} or {} as {}); the format has to be named",
        parse::format_day(*.month_first_day), .month_first.describe(), parse::format_day(*.day_first_day), .day_first.describe())]
    AmbiguousDates {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// A value whose two readings differ.
        example: String,
        /// The month-first format.
        month_first: Box<DateFormat>,
        /// The example read month first.
        month_first_day: Day,
        /// The day-first format.
        day_first: Box<DateFormat>,
        /// The example read day first.
        day_first_day: Day,
    },
    /// An outcome label that is none of the known ones.
    #[error("{path}, row {row}, column '{column}': value '{value}' is {}; the column holds {}", outcome_expected(.labels), quoted(.found))]
    UnknownOutcome {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// The outcome column.
        column: String,
        /// The value as found.
        value: String,
        /// The labels the load was given, if any.
        labels: Option<Box<OutcomeLabels>>,
        /// The column's distinct values (the first 10).
        found: Vec<String>,
    },
    /// A value that does not parse for its column's role.
    #[error("{path}, row {row}, column '{column}': value '{value}' is not {expected}")]
    BadValue {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
        /// The value as found.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A required value is empty.
    #[error("{path}, row {row}, column '{column}': value is missing ({why})")]
    MissingValue {
        /// The file.
        path: String,
        /// 1-based data row.
        row: usize,
        /// The column.
        column: String,
        /// Why it may not be missing.
        why: String,
    },
    /// Two rows with the same account and snapshot date.
    #[error("{path}, rows {first} and {second}: account '{account}' appears twice{}", .date.as_ref().map(|d| format!(" on {d}")).unwrap_or_default())]
    DuplicateKey {
        /// The file.
        path: String,
        /// 1-based row of the first occurrence.
        first: usize,
        /// 1-based row of the repeat.
        second: usize,
        /// The account id.
        account: String,
        /// The snapshot date, if the data has dates.
        date: Option<String>,
    },
    /// The outcome has only one class where a command needs both.
    #[error("{path}: column '{column}' has only {class} outcomes ({rows} rows); this needs both churned and retained accounts")]
    OneClass {
        /// The file.
        path: String,
        /// The outcome column.
        column: String,
        /// `churned` or `retained`.
        class: &'static str,
        /// Rows with an outcome.
        rows: usize,
    },
    /// The command needs an outcome and the data has none.
    #[error("{path}: no outcome column '{column}' and no way to derive one; {}", outcome_hint(*.has_churn_date, .closest))]
    NoOutcome {
        /// The file.
        path: String,
        /// The outcome column looked for.
        column: String,
        /// Whether the data has a churn date, from which a horizon derives the outcome.
        has_churn_date: bool,
        /// The closest column names to the one looked for.
        closest: Vec<String>,
    },
}

fn outcome_expected(labels: &Option<Box<OutcomeLabels>>) -> String {
    match labels {
        None => "not an outcome: 0/1, true/false, yes/no or churned/renewed".into(),
        Some(l) => format!(
            "neither a churned label ({}) nor a retained one ({})",
            quoted(&l.churned),
            quoted(&l.retained)
        ),
    }
}

fn quoted(values: &[String]) -> String {
    let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    list.join(", ")
}

fn outcome_hint(has_churn_date: bool, closest: &[String]) -> String {
    if has_churn_date {
        "the data has a churn date: a horizon (like 90d or 12m) derives the outcome from it"
            .to_string()
    } else if closest.is_empty() {
        "name the outcome column".to_string()
    } else {
        format!(
            "name the outcome column (closest: '{}')",
            closest.join("', '")
        )
    }
}

/// The part a column plays in the snapshot table, as errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRole {
    /// The account id.
    AccountId,
    /// The snapshot date.
    SnapshotDate,
    /// The outcome.
    Outcome,
    /// The churn date.
    ChurnDate,
    /// The customer-since date.
    CustomerSince,
    /// Annual recurring revenue.
    Revenue,
    /// A segment column.
    Segment,
    /// A profile metric's column.
    Metric(String),
    /// A date needed to derive outcomes over a horizon (the churn or the snapshot date).
    ForHorizon(Box<ColumnRole>),
}

impl std::fmt::Display for ColumnRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnRole::AccountId => f.write_str("account id"),
            ColumnRole::SnapshotDate => f.write_str("snapshot date"),
            ColumnRole::Outcome => f.write_str("outcome"),
            ColumnRole::ChurnDate => f.write_str("churn date"),
            ColumnRole::CustomerSince => f.write_str("customer-since date"),
            ColumnRole::Revenue => f.write_str("revenue"),
            ColumnRole::Segment => f.write_str("segment"),
            ColumnRole::Metric(c) => write!(f, "metric column '{c}'"),
            ColumnRole::ForHorizon(r) => {
                write!(f, "{r} (needed to derive outcomes over a horizon)")
            }
        }
    }
}

fn closest_text(closest: &[String]) -> String {
    if closest.is_empty() {
        String::new()
    } else {
        let q: Vec<String> = closest.iter().map(|c| format!("'{c}'")).collect();
        format!("closest: {}; ", q.join(", "))
    }
}

fn available_text(available: &[String]) -> String {
    const SHOW: usize = 40;
    let q: Vec<String> = available
        .iter()
        .take(SHOW)
        .map(|c| format!("'{c}'"))
        .collect();
    let more = if available.len() > SHOW {
        format!(" and {} more", available.len() - SHOW)
    } else {
        String::new()
    };
    format!("columns in the file: {}{more}", q.join(", "))
}

/// Up to three names from `candidates` closest to `wanted`, best first: case- and
/// whitespace-insensitive matches, then by Jaro–Winkler similarity.
pub fn closest_names(wanted: &str, candidates: &[String]) -> Vec<String> {
    let norm = |s: &str| -> String {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
            .replace(['-', ' '], "_")
    };
    let w = norm(wanted);
    let mut scored: Vec<(f64, &String)> = candidates
        .iter()
        .map(|c| {
            let n = norm(c);
            let s = if n == w {
                2.0
            } else {
                strsim::jaro_winkler(&w, &n)
            };
            (s, c)
        })
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_ignore_spacing_and_case() {
        let cols: Vec<String> = ["Call  Failure", "Complains", "Charge  Amount"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest_names("call failure", &cols)[0], "Call  Failure");
        assert_eq!(closest_names("Complaints", &cols)[0], "Complains");
        assert!(closest_names("zzzz", &cols).is_empty());
    }
}
