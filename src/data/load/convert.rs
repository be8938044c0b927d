//! Conversion of polars columns into the contract's buffers: numbers, booleans, dates and
//! outcomes, each failure naming the file, row, column and value.

use super::*;

/// Facts an error about a column needs.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    pub(super) path: &'a str,
    pub(super) column: &'a str,
    /// The file's row (0-based) of the values' first row.
    pub(super) first_row: usize,
}

impl Ctx<'_> {
    pub(super) fn bad(&self, i: usize, value: &str, expected: &str) -> DataError {
        DataError::BadValue {
            path: self.path.into(),
            row: self.first_row + i + 1,
            column: self.column.into(),
            value: truncate(value),
            expected: expected.into(),
        }
    }
    pub(super) fn missing(&self, i: usize, why: &str) -> DataError {
        DataError::MissingValue {
            path: self.path.into(),
            row: self.first_row + i + 1,
            column: self.column.into(),
            why: why.into(),
        }
    }
}

pub(super) fn truncate(v: &str) -> String {
    const MAX: usize = 80;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let s: String = v.chars().take(MAX).collect();
        format!("{s}…")
    }
}

pub(super) fn is_numeric(dt: &DataType) -> bool {
    dt.is_primitive_numeric()
}

/// A numeric column appended to `out`: NaN for missing values, errors for text and
/// non-finite numbers; text is read in `style`. Returns how many values were read by
/// stripping a percent sign, a currency or thousands separators.
pub(super) fn to_f64(
    s: &Series,
    ctx: Ctx,
    style: NumberStyle,
    out: &mut Vec<f64>,
) -> Result<usize, DataError> {
    let dt = s.dtype();
    if dt == &DataType::String {
        let ca = s.str().expect("string dtype");
        out.reserve(ca.len());
        let mut stripped = 0;
        for (i, v) in ca.iter().enumerate() {
            match v {
                None => out.push(f64::NAN),
                Some(t) => match numbers::read(t, style) {
                    Ok(numbers::Read::Plain(x)) => out.push(x),
                    Ok(numbers::Read::Stripped(x)) => {
                        stripped += 1;
                        out.push(x);
                    }
                    Ok(numbers::Read::Missing) => out.push(f64::NAN),
                    Err(exp) => return Err(ctx.bad(i, t, exp)),
                },
            }
        }
        return Ok(stripped);
    }
    if dt == &DataType::Boolean {
        return to_bool(s, ctx, out).map(|()| 0);
    }
    if !is_numeric(dt) {
        return Err(ctx.bad(
            0,
            &format!("<{dt}>"),
            "a number (the column has another type)",
        ));
    }
    // The common integer types convert straight into the output (no polars cast, which
    // would build a second column first).
    match dt {
        DataType::Float64 => typed_numbers(s.f64().expect("f64"), ctx, |v| v, out),
        DataType::Int64 => typed_numbers(s.i64().expect("i64"), ctx, |v| v as f64, out),
        DataType::Int32 => typed_numbers(s.i32().expect("i32"), ctx, f64::from, out),
        _ => {
            let cast = s
                .cast(&DataType::Float64)
                .map_err(|e| ctx.bad(0, &e.to_string(), "a number"))?;
            typed_numbers(cast.f64().expect("cast to f64"), ctx, |v| v, out)
        }
    }
    .map(|()| 0)
}

/// A numeric column appended to `out` as `f64` through `to`, nulls as NaN; a NaN or
/// infinity in the data itself is an error.
pub(super) fn typed_numbers<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    ctx: Ctx,
    to: impl Fn(T::Native) -> f64,
    out: &mut Vec<f64>,
) -> Result<(), DataError> {
    let start = out.len();
    out.reserve(ca.len());
    for arr in ca.downcast_iter() {
        let offset = out.len();
        out.extend(arr.values().iter().map(|&v| to(v)));
        let values = &mut out[offset..];
        let nulls = arr.validity().filter(|v| v.unset_bits() > 0);
        // A null's slot may hold anything: only a valid value is checked.
        let mut from = 0;
        while let Some(j) = values[from..].iter().position(|v| !v.is_finite()) {
            let j = from + j;
            if nulls.is_none_or(|valid| valid.get_bit(j)) {
                return Err(ctx.bad(
                    offset - start + j,
                    &values[j].to_string(),
                    "a finite number (NaN and infinities are not allowed)",
                ));
            }
            from = j + 1;
        }
        if let Some(valid) = nulls {
            for (v, ok) in values.iter_mut().zip(valid.iter()) {
                if !ok {
                    *v = f64::NAN;
                }
            }
        }
    }
    Ok(())
}

/// A boolean metric appended to `out` as 1/0, NaN for missing.
pub(super) fn to_bool(s: &Series, ctx: Ctx, out: &mut Vec<f64>) -> Result<(), DataError> {
    if s.dtype() == &DataType::Boolean {
        let ca = s.bool().expect("bool dtype");
        out.extend(
            ca.iter()
                .map(|v| v.map_or(f64::NAN, |b| if b { 1.0 } else { 0.0 })),
        );
        return Ok(());
    }
    parse_labels(s, ctx, f64::NAN, out, |t| {
        parse::boolean(t).map(|b| b.map(|b| if b { 1.0 } else { 0.0 }))
    })
}

/// Text parsed once per distinct label and appended to `out`: dates, booleans and outcomes
/// repeat, so the column is interned by an [`Interner`] and each label parsed once;
/// `missing` where a value is missing (empty or null). A label that does not parse names
/// the first row holding it.
pub(super) fn parse_labels<T: Copy>(
    s: &Series,
    ctx: Ctx,
    missing: T,
    out: &mut Vec<T>,
    parse: impl Fn(&str) -> Result<Option<T>, &'static str>,
) -> Result<(), DataError> {
    let mut interner = Interner::default();
    let mut codes = Vec::new();
    interner.push(s, ctx, None, &mut codes)?;
    let labels = interner.into_labels();
    let table: Vec<Result<T, &'static str>> = labels
        .iter()
        .map(|l| parse(l).map(|v| v.unwrap_or(missing)))
        .collect();
    out.reserve(codes.len());
    for (i, &c) in codes.iter().enumerate() {
        if c == MetricColumn::MISSING_CODE {
            out.push(missing);
            continue;
        }
        match table[c as usize] {
            Ok(v) => out.push(v),
            Err(expected) => return Err(ctx.bad(i, &labels[c as usize], expected)),
        }
    }
    Ok(())
}

/// Dates appended to `out` as day numbers; `NO_DAY` for missing when allowed. Text is read
/// in `format` (`detected`: found in the data rather than given, which a value it does not
/// read is then told with the formats churncal knows).
pub(super) fn to_days(
    s: &Series,
    ctx: Ctx,
    required: Option<&str>,
    (format, detected): (&DateFormat, bool),
    out: &mut Vec<Day>,
) -> Result<(), DataError> {
    let start = out.len();
    match s.dtype() {
        DataType::Date => out.extend(
            s.date()
                .expect("date")
                .physical()
                .iter()
                .map(|v| v.unwrap_or(NO_DAY)),
        ),
        DataType::Datetime(_, _) => {
            let d = s
                .cast(&DataType::Date)
                .map_err(|e| ctx.bad(0, &e.to_string(), "a date"))?;
            out.extend(
                d.date()
                    .expect("date")
                    .physical()
                    .iter()
                    .map(|v| v.unwrap_or(NO_DAY)),
            );
        }
        DataType::String => {
            let read = match format {
                DateFormat::Iso if !detected => parse_labels(s, ctx, NO_DAY, out, parse::date),
                _ => parse_labels(s, ctx, NO_DAY, out, |t| format.parse(t)),
            };
            read.map_err(|e| match e {
                DataError::BadValue {
                    path,
                    row,
                    column,
                    value,
                    expected,
                } => DataError::BadValue {
                    expected: date_expected(format, detected, &expected),
                    path,
                    row,
                    column,
                    value,
                },
                e => e,
            })?
        }
        other => {
            return Err(ctx.bad(
                0,
                &format!("<{other}>"),
                "a date as YYYY-MM-DD (the column has another type)",
            ))
        }
    };
    if let Some(why) = required {
        if let Some(i) = out[start..].iter().position(|&d| d == NO_DAY) {
            return Err(ctx.missing(i, why));
        }
    }
    Ok(())
}

/// What a date column's value that does not read was expected to be.
fn date_expected(format: &DateFormat, detected: bool, parser_said: &str) -> String {
    match (format, detected) {
        (DateFormat::Iso, false) => parser_said.to_string(),
        (DateFormat::Iso, true) => crate::data::dates::EXPECTED_ANY.to_string(),
        (DateFormat::Pattern(p), _) => format!("a date in the pattern '{p}'"),
        (f, true) => format!("a date as {}, like the column's other values", f.describe()),
        (f, false) => format!("a date as {}, the format given", f.describe()),
    }
}

/// Outcomes appended to `out`: integers 0/1 directly, text through the usual labels or
/// through `labels` when the load was given the column's own. Every snapshot needs one; an
/// unknown label is reported with the column's distinct values.
pub(super) fn to_outcome(
    s: &Series,
    ctx: Ctx,
    labels: Option<&OutcomeLabels>,
    out: &mut Vec<u8>,
) -> Result<(), DataError> {
    // Integer outcomes (0/1, the common export) without going through text: an integer's
    // text is its decimal digits, so a value other than 0 or 1 is reported as written.
    if s.dtype().is_integer() && labels.is_none() {
        let cast = s
            .cast(&DataType::Int64)
            .map_err(|e| ctx.bad(0, &e.to_string(), "an outcome"))?;
        let ca = cast.i64().expect("cast to i64");
        out.reserve(ca.len());
        for (i, v) in ca.iter().enumerate() {
            match v {
                None => return Err(ctx.missing(i, "every snapshot needs an outcome")),
                Some(y @ (0 | 1)) => out.push(y as u8),
                Some(y) => return Err(unknown_outcome(s, ctx, i, &y.to_string(), None)),
            }
        }
        return Ok(());
    }
    const MISSING: u8 = u8::MAX;
    let text = if s.dtype().is_integer() {
        s.cast(&DataType::String)
            .map_err(|e| ctx.bad(0, &e.to_string(), "an outcome"))?
    } else {
        s.clone()
    };
    let start = out.len();
    let parsed = match labels {
        None => parse_labels(&text, ctx, MISSING, out, parse::outcome),
        Some(l) => parse_labels(&text, ctx, MISSING, out, |v| {
            if v.trim().is_empty() {
                Ok(None)
            } else {
                l.outcome(v).map(Some).ok_or("an outcome label")
            }
        }),
    };
    if let Err(DataError::BadValue { row, value, .. }) = &parsed {
        return Err(unknown_outcome(
            &text,
            ctx,
            row - ctx.first_row - 1,
            value,
            labels,
        ));
    }
    parsed?;
    if let Some(i) = out[start..].iter().position(|&y| y == MISSING) {
        return Err(ctx.missing(i, "every snapshot needs an outcome"));
    }
    Ok(())
}

/// The error for an outcome label that is none of the known ones, with the column's
/// distinct values (the first ten, in order of appearance) so that the user can name them.
fn unknown_outcome(
    s: &Series,
    ctx: Ctx,
    i: usize,
    value: &str,
    labels: Option<&OutcomeLabels>,
) -> DataError {
    let mut found: Vec<String> = Vec::new();
    if let Ok(text) = s.cast(&DataType::String) {
        for v in text.str().expect("cast to text").iter().flatten() {
            let v = v.trim();
            if !v.is_empty() && !found.iter().any(|f| f == v) {
                found.push(truncate(v));
                if found.len() == 10 {
                    break;
                }
            }
        }
    }
    DataError::UnknownOutcome {
        path: ctx.path.into(),
        row: ctx.first_row + i + 1,
        column: ctx.column.into(),
        value: truncate(value),
        labels: labels.cloned().map(Box::new),
        found,
    }
}
