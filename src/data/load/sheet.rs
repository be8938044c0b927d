//! Spreadsheets (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) read through calamine: one
//! worksheet becomes CSV text in memory, which the CSV path then reads like any export.
//!
//! Cells are written as they hold their values: numbers in full (shortest form that reads
//! back the same `f64`), dates and times formatted as dates as ISO text, unformatted serial
//! numbers as numbers (a date column of them is detected as Excel serial days), error cells
//! (`#N/A`) as their text, which a numeric column then refuses by row and column. Row
//! numbers in errors are the sheet's: [`Sheet::header_row`] is added to the data row.

use calamine::{open_workbook_auto, Data, Reader};

use super::*;

/// The extensions read as spreadsheets.
pub(super) const EXTENSIONS: [&str; 6] = ["xlsx", "xlsm", "xlsb", "xls", "xla", "ods"];

/// One worksheet as CSV text.
pub(super) struct Sheet {
    /// The worksheet's name.
    pub(super) name: String,
    /// The sheet's 1-based row of the header: data row `i` (1-based) is sheet row
    /// `header_row + i`.
    pub(super) header_row: usize,
    /// The cells as CSV (`,`-separated, quoted where needed).
    pub(super) csv: Vec<u8>,
}

/// Excel's own limits: a cell beyond them is a damaged reference.
const MAX_ROWS: u32 = 1 << 20;
const MAX_COLUMNS: u32 = 1 << 14;

/// The most cells a worksheet's table may span (rows × columns from its first used cell to
/// its last): 256 million, 8 GB as the reader holds them, far beyond any export.
const MAX_CELLS: u64 = 1 << 28;

/// Worksheet `name` of an `.xlsx` workbook as calamine's `worksheet_range` reads it (its
/// non-empty cells, made dense), with each cell's position checked against Excel's limits
/// and the table they span against [`MAX_CELLS`] before the dense table is made: a damaged
/// cell reference would otherwise ask for billions of cells.
fn xlsx_range<RS: std::io::Read + std::io::Seek>(
    book: &mut calamine::Xlsx<RS>,
    name: &str,
) -> Result<calamine::Range<Data>, String> {
    let mut reader = match book.worksheet_cells_reader(name) {
        Ok(r) => r,
        // (As calamine's own: a chart sheet reads as empty.)
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(calamine::Range::default()),
        Err(e) => return Err(e.to_string()),
    };
    let mut cells = Vec::new();
    let (mut lo, mut hi) = ((u32::MAX, u32::MAX), (0u32, 0u32));
    while let Some(cell) = reader.next_cell().map_err(|e| e.to_string())? {
        if matches!(cell.get_value(), calamine::DataRef::Empty) {
            continue;
        }
        let (r, c) = cell.get_position();
        if r >= MAX_ROWS || c >= MAX_COLUMNS {
            return Err(format!(
                "a cell at row {} and column {} lies beyond Excel's {MAX_ROWS} rows and \
                 {MAX_COLUMNS} columns: the workbook is damaged",
                u64::from(r) + 1,
                u64::from(c) + 1
            ));
        }
        lo = (lo.0.min(r), lo.1.min(c));
        hi = (hi.0.max(r), hi.1.max(c));
        cells.push(calamine::Cell::new(
            (r, c),
            Data::from(cell.get_value().clone()),
        ));
    }
    if lo.0 <= hi.0 {
        let spanned = u64::from(hi.0 - lo.0 + 1) * u64::from(hi.1 - lo.1 + 1);
        if spanned > MAX_CELLS {
            return Err(format!(
                "its used cells span {} rows × {} columns, more than {MAX_CELLS} cells",
                hi.0 - lo.0 + 1,
                hi.1 - lo.1 + 1
            ));
        }
    }
    Ok(calamine::Range::from_sparse(cells))
}

/// `f`, with a panic caught (and not printed: it becomes the caller's error message).
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}

/// Read worksheet `want` (the first when `None`) of the workbook at `path`, numbers written
/// with a decimal comma when `decimal_comma`.
pub(super) fn read(
    path: &str,
    want: Option<&str>,
    decimal_comma: bool,
) -> Result<Sheet, DataError> {
    let unreadable = |message: String| DataError::NotTabular {
        path: path.into(),
        format: "spreadsheet",
        message,
    };
    let mut book = quietly(|| open_workbook_auto(path))
        .map_err(|_| unreadable("the workbook is damaged (its reader failed on it)".into()))?
        .map_err(|e| unreadable(e.to_string()))?;
    let names = book.sheet_names();
    let name = match want {
        None => names
            .first()
            .cloned()
            .ok_or_else(|| unreadable("the workbook has no worksheets".into()))?,
        Some(w) => names
            .iter()
            .find(|n| n.as_str() == w)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(w)))
            .cloned()
            .ok_or_else(|| DataError::NoSheet {
                path: path.into(),
                sheet: w.into(),
                available: names.clone(),
            })?,
    };
    // A damaged workbook can make the reader panic (a cell reference whose column overflows
    // its number) or ask for a table of billions of cells: an `.xlsx` worksheet's cell
    // positions are checked as they are read, and a panic is an error like any other.
    let range = quietly(|| match &mut book {
        calamine::Sheets::Xlsx(x) => xlsx_range(x, &name),
        other => other.worksheet_range(&name).map_err(|e| e.to_string()),
    })
    .map(|r| r.map_err(|m| unreadable(format!("worksheet '{name}': {m}"))))
    .unwrap_or_else(|_| {
        Err(unreadable(format!(
            "worksheet '{name}': the workbook is damaged (its reader failed on it)"
        )))
    })?;
    let Some((first_row, first_col)) = range.start() else {
        return Err(DataError::Empty {
            path: format!("{path}, worksheet '{name}'"),
        });
    };
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(range.height() * range.width() * 8));
    // The header is the first row about as wide as the table: title rows and notes
    // above it (one cell each, usually) are left out.
    let filled = |cells: &[Data]| cells.iter().filter(|c| !matches!(c, Data::Empty)).count();
    let widest = range.rows().take(50).map(filled).max().unwrap_or(0);
    let skip = range
        .rows()
        .position(|cells| filled(cells) >= widest.div_ceil(2).max(1))
        .unwrap_or(0);
    let mut rows = range.rows().skip(skip);
    let header: Vec<String> = match rows.next() {
        Some(cells) => cells
            .iter()
            .enumerate()
            .map(|(j, c)| match cell_text(c, false) {
                t if t.trim().is_empty() => column_letters(first_col as usize + j),
                t => t.trim().to_string(),
            })
            .collect(),
        None => Vec::new(),
    };
    let write = |out: &mut csv::Writer<Vec<u8>>, fields: &[String]| {
        out.write_record(fields)
            .map_err(|e| unreadable(e.to_string()))
    };
    write(&mut out, &header)?;
    let mut fields: Vec<String> = vec![String::new(); header.len()];
    let mut pending_empty = 0usize;
    for cells in rows {
        // Empty rows at the end of a sheet are formatting, not data; one between rows
        // is kept (as a row of missing values) so that row numbers stay the sheet's.
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            fields.iter_mut().for_each(String::clear);
            write(&mut out, &fields)?;
        }
        pending_empty = 0;
        for (f, c) in fields.iter_mut().zip(cells) {
            *f = cell_text(c, decimal_comma);
        }
        write(&mut out, &fields)?;
    }
    let csv = out
        .into_inner()
        .map_err(|e| unreadable(e.error().to_string()))?;
    Ok(Sheet {
        name,
        header_row: first_row as usize + skip + 1,
        csv,
    })
}

/// A cell's value as text.
fn cell_text(c: &Data, decimal_comma: bool) -> String {
    let number = |v: f64| {
        let s = v.to_string();
        if decimal_comma {
            s.replace('.', ",")
        } else {
            s
        }
    };
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(v) => number(*v),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_datetime() => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.format("%Y-%m-%d").to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => number(d.as_f64()),
        },
        Data::DateTime(d) => number(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

/// A 0-based column index as the sheet's letters: 0 → A, 26 → AA.
fn column_letters(mut j: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (j % 26) as u8);
        if j < 26 {
            break;
        }
        j = j / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII letters")
}

/// The error of a load from a sheet, its rows the sheet's (`header_row` is the sheet's
/// 1-based row of the header) and its file named with the worksheet.
pub(super) fn in_sheet(e: DataError, path: &str, name: &str, header_row: usize) -> DataError {
    let shift = |row: &mut usize| *row += header_row;
    let mut e = e;
    let named = |p: &mut String| {
        if p == path {
            *p = format!("{path}, worksheet '{name}'");
        }
    };
    match &mut e {
        DataError::BadValue { path, row, .. }
        | DataError::MissingValue { path, row, .. }
        | DataError::UnknownOutcome { path, row, .. } => {
            shift(row);
            named(path);
        }
        DataError::DuplicateKey {
            path,
            first,
            second,
            ..
        } => {
            shift(first);
            shift(second);
            named(path);
        }
        DataError::NoRows { path }
        | DataError::OneClass { path, .. }
        | DataError::NoOutcome { path, .. }
        | DataError::AmbiguousDates { path, .. }
        | DataError::MissingColumn { path, .. } => named(path),
        _ => {}
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_as_in_the_sheet() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn cells_are_written_as_they_hold_their_values() {
        assert_eq!(cell_text(&Data::Float(1001.0), false), "1001");
        assert_eq!(cell_text(&Data::Float(0.1), false), "0.1");
        assert_eq!(cell_text(&Data::Float(45.5), true), "45,5");
        assert_eq!(cell_text(&Data::Int(-3), false), "-3");
        assert_eq!(cell_text(&Data::Bool(true), false), "true");
        assert_eq!(cell_text(&Data::Empty, false), "");
        assert_eq!(
            cell_text(&Data::Error(calamine::CellErrorType::NA), false),
            "#N/A"
        );
    }
}
