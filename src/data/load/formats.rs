//! How a file writes its numbers and dates, decided once before its rows are read: the
//! user's formats where given, else detected from the first rows (and, for a date column
//! whose first rows read both month first and day first, from all of its distinct values).

use super::*;
use crate::data::dates::{self, DateFormat, Detected};
use crate::data::numbers::{self, NumberStyle};
use crate::data::{Origin, ReadFormats};

/// Rows looked at to detect the formats.
const SAMPLE_ROWS: u32 = 2000;

/// The formats a load reads with.
pub(super) struct Decided {
    pub(super) numbers: NumberStyle,
    /// The format of each date-role column held as text.
    pub(super) dates: Vec<(String, DateFormat, Origin)>,
    pub(super) notes: ReadFormats,
}

impl Decided {
    /// The format of a date column (ISO for one not decided: typed, or absent).
    pub(super) fn date_format(&self, column: &str) -> (DateFormat, Option<Origin>) {
        self.dates
            .iter()
            .find(|(c, _, _)| c == column)
            .map_or((DateFormat::Iso, None), |(_, f, o)| (f.clone(), Some(*o)))
    }
}

/// Decide the formats of the columns `cols` of a file whose `schema` polars read.
#[allow(clippy::too_many_arguments)]
pub(super) fn decide(
    path: &str,
    req: &LoadRequest,
    frame: &dyn Fn() -> Result<LazyFrame, DataError>,
    delimiter: u8,
    cols: &Columns,
    schema: &Schema,
    spreadsheet: bool,
) -> Result<Decided, DataError> {
    let is_text = |c: &str| schema.get(c) == Some(&DataType::String);
    let mut date_cols: Vec<&str> = Vec::new();
    for c in [&cols.date, &cols.customer_since, &cols.churn_date]
        .into_iter()
        .flatten()
    {
        if is_text(c) && !date_cols.contains(&c.as_str()) {
            date_cols.push(c);
        }
    }
    let number_cols: Vec<&str> = cols
        .metrics
        .iter()
        .filter(|(_, k)| *k == InputKind::Numeric)
        .map(|(c, _)| c.as_str())
        .chain(cols.arr.as_deref())
        .filter(|c| is_text(c))
        .collect();
    let detect_comma =
        req.formats.decimal_comma.is_none() && delimiter == b';' && !number_cols.is_empty();
    let detect_dates = req.formats.date_format.is_none() && !date_cols.is_empty();
    let mut sampled: Vec<&str> = Vec::new();
    if detect_dates {
        sampled.extend(&date_cols);
    }
    if detect_comma {
        for c in &number_cols {
            if !sampled.contains(c) {
                sampled.push(c);
            }
        }
    }
    // A sample polars cannot read (a ragged row, bad bytes) is left to the main pass,
    // which names the row.
    let sample = if sampled.is_empty() {
        None
    } else {
        frame().ok().and_then(|f| {
            f.select(sampled.iter().map(|c| col(*c)).collect::<Vec<_>>())
                .slice(0, SAMPLE_ROWS)
                .collect()
                .ok()
        })
    };
    let texts = |df: &DataFrame, c: &str| -> Vec<String> {
        df.column(c)
            .ok()
            .and_then(|s| {
                s.str()
                    .ok()
                    .map(|ca| ca.iter().flatten().map(String::from).collect())
            })
            .unwrap_or_default()
    };

    let mut notes = ReadFormats::default();
    let decimal_comma = match req.formats.decimal_comma {
        Some(given) => {
            if given {
                notes.decimal_comma = Some(Origin::Given);
            }
            given
        }
        None => {
            let found = detect_comma
                && sample.as_ref().is_some_and(|df| {
                    let values: Vec<String> =
                        number_cols.iter().flat_map(|c| texts(df, c)).collect();
                    numbers::detect_decimal_comma(values.iter().map(String::as_str))
                });
            if found {
                notes.decimal_comma = Some(Origin::Detected);
            }
            found
        }
    };

    let mut formats = Vec::new();
    for c in date_cols {
        if let Some(f) = &req.formats.date_format {
            formats.push((c.to_string(), f.clone(), Origin::Given));
            continue;
        }
        let Some(df) = &sample else { continue };
        let mut found = dates::detect(texts(df, c).iter().map(String::as_str), spreadsheet);
        if matches!(found, Detected::Ambiguous { .. }) {
            // The first rows read both ways: all of the column's distinct values decide.
            if let Some(all) = frame()
                .ok()
                .and_then(|f| f.select([col(c).unique_stable()]).collect().ok())
            {
                found = dates::detect(texts(&all, c).iter().map(String::as_str), spreadsheet);
            }
        }
        match found {
            Detected::Format(DateFormat::Iso) => {}
            Detected::Format(f) => formats.push((c.to_string(), f, Origin::Detected)),
            Detected::Ambiguous {
                example,
                month_first,
                day_first,
            } => {
                let read = |f: &DateFormat| f.parse(&example).ok().flatten().unwrap_or(NO_DAY);
                return Err(DataError::AmbiguousDates {
                    path: path.into(),
                    column: c.into(),
                    month_first_day: read(&month_first),
                    day_first_day: read(&day_first),
                    example,
                    month_first: Box::new(month_first),
                    day_first: Box::new(day_first),
                });
            }
            // Read as ISO: the value no format reads is then named by its row, with the
            // formats known and the flag.
            Detected::Unknown { .. } => {
                formats.push((c.to_string(), DateFormat::Iso, Origin::Detected));
            }
        }
    }
    notes.dates = formats
        .iter()
        .filter(|(_, f, _)| *f != DateFormat::Iso || req.formats.date_format.is_some())
        .cloned()
        .collect();
    Ok(Decided {
        numbers: NumberStyle {
            decimal_comma,
            lenient: req.formats.lenient_numbers,
        },
        dates: formats,
        notes,
    })
}
