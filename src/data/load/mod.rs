//! Reading a snapshot file through polars into [`Snapshots`].
//!
//! CSV is read in batches of whole records (cut where the field-count check finds record
//! ends), each parsed by polars for the needed columns only; a file is mapped into memory
//! rather than copied, and each batch's pages are let go once it is parsed. Numeric metrics are first read
//! as `Float64` by polars (fast); if polars refuses a value (whitespace, a stray word), the
//! batch is read again with those columns as text and parsed here, which is also what
//! names the offending row, column and value. Parquet columns arrive typed and are
//! converted.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::dates::DateFormat;
use super::fields::{FieldCounter, Ragged};
use super::numbers::{self, NumberStyle};
use super::parse::{self, Day, NO_DAY};
use super::{
    closest_names, ColumnRole, DataError, Encoding, Lifecycle, LoadNotes, LoadRequest, LoadWarning,
    MetricColumn, Origin, OutcomeLabels, OutcomeNeed, Roles, Segment, Snapshots,
};
use crate::profile::InputKind;

mod assemble;
mod batches;
mod columns;
mod convert;
mod formats;
mod intern;
mod sheet;
mod source;
use assemble::*;
use batches::*;
use columns::*;
use convert::*;
use intern::*;
use source::*;
pub use source::{column_names, text_sample, TextSample};

/// Load snapshots from `path` (`-` is CSV on standard input) as `req` says.
pub fn load(path: &str, req: &LoadRequest) -> Result<Snapshots, DataError> {
    load_in_batches(path, req, CSV_BATCH_BYTES, None, None)
}

/// [`load`], handing each batch's metric values to `sink` as soon as they are converted
/// instead of keeping them: the snapshots come back without metric columns, and memory
/// holds one batch of metric values, not the file's (a gigabyte at 10 M rows × 13
/// metrics). What a command that needs only a result per row (a score) reads with.
///
/// Every check of the data is made as in [`load`]; the sink sees the batches in file
/// order, and an error it returns stops the load (as [`DataError::Refused`]), before
/// anything later in the file is read or checked.
///
/// # Panics
/// If `req` derives the outcome over a horizon: the rows that drops are known only once
/// the whole file is read, after the sink has seen them.
pub fn load_streaming(
    path: &str,
    req: &LoadRequest,
    sink: &mut dyn MetricSink,
) -> Result<Snapshots, DataError> {
    assert!(
        req.horizon.is_none(),
        "a streaming load keeps every row: derive the outcome with `load`"
    );
    load_in_batches(path, req, CSV_BATCH_BYTES, None, Some(sink))
}

/// What takes a file's metric values batch by batch in [`load_streaming`].
pub trait MetricSink {
    /// One batch of rows, in file order.
    fn take(
        &mut self,
        batch: MetricBatch<'_>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// The file holds about `rows` rows (a guess, for CSV), told before the first batch
    /// when known: room may be made for them at once.
    fn expect_rows(&mut self, _rows: usize) {}
}

/// The metric values of the rows `first_row .. first_row + rows` of a file (0-based: a
/// message names row `first_row + i + 1` for the batch's row `i`).
pub struct MetricBatch<'a> {
    /// The file as the user named it.
    pub path: &'a str,
    /// The file row of the batch's first row (0-based, header excluded).
    pub first_row: usize,
    /// Rows in the batch.
    pub rows: usize,
    /// The request's metric columns, in its order, by column name.
    pub columns: Vec<(&'a str, BatchColumn<'a>)>,
}

/// One metric column of a [`MetricBatch`].
pub enum BatchColumn<'a> {
    /// Numbers (booleans as 1/0), NaN where missing. The buffer is the loader's, emptied
    /// after the batch: a sink may work in it, or swap in a buffer of its own to be reused.
    Numbers(&'a mut Vec<f64>),
    /// Label codes ([`MetricColumn::MISSING_CODE`] where missing) and every label the
    /// column has had so far, by code.
    Labels {
        /// Per-row label code.
        codes: &'a [u32],
        /// Labels by code.
        labels: &'a [String],
    },
}

/// [`load`], reading a CSV text longer than `batch_bytes` in batches of about that size,
/// and a Parquet file in batches of whole row groups of `parquet_rows` rows or more (`None`:
/// about a quarter of the rows per thread, up to [`PARQUET_BATCH_ROWS`]).
fn load_in_batches(
    path: &str,
    req: &LoadRequest,
    batch_bytes: usize,
    parquet_rows: Option<usize>,
    sink: Option<&mut dyn MetricSink>,
) -> Result<Snapshots, DataError> {
    let (format, source, sheet) = open(path, req)?;
    let loaded = load_source(
        path,
        req,
        format,
        source,
        sheet.as_ref(),
        batch_bytes,
        parquet_rows,
        sink,
    );
    match sheet {
        None => loaded,
        Some(s) => loaded
            .map(|mut snap| {
                let shift = s.header_row as u32;
                snap.source_row.iter_mut().for_each(|r| *r += shift);
                snap.notes.formats.sheet = Some((s.name.clone(), s.header_row));
                snap
            })
            .map_err(|e| sheet::in_sheet(e, path, &s.name, s.header_row)),
    }
}

/// [`load_in_batches`] from an opened source.
#[allow(clippy::too_many_arguments)]
fn load_source(
    path: &str,
    req: &LoadRequest,
    format: Format,
    source: Source,
    sheet: Option<&SheetOrigin>,
    batch_bytes: usize,
    parquet_rows: Option<usize>,
    sink: Option<&mut dyn MetricSink>,
) -> Result<Snapshots, DataError> {
    let stage = tracing::info_span!("load: read and convert the columns").entered();
    let delimiter = match format {
        Format::Csv => delimiter(&source, sheet, req)?,
        Format::Parquet => 0,
    };
    let frame = || match format {
        Format::Csv => csv_frame(path, &source, delimiter, &[]),
        Format::Parquet => parquet_frame(path),
    };
    let mut probe = frame()?;
    let schema = probe
        .collect_schema()
        .map_err(|e| polars_error(path, format, &source, e))?;
    let available: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    if available.is_empty() || (available.len() == 1 && available[0].is_empty()) {
        return Err(DataError::Empty {
            path: path.to_string(),
        });
    }
    let cols = resolve(path, req, &available)?;
    let decided = formats::decide(
        path,
        req,
        &frame,
        delimiter,
        &cols,
        &schema,
        sheet.is_some(),
    )?;

    // Columns polars may parse as Float64 directly (CSV only; Parquet is typed already).
    let float_cols: Vec<&str> = cols
        .metrics
        .iter()
        .filter(|(_, k)| *k == InputKind::Numeric)
        .map(|(c, _)| c.as_str())
        .chain(cols.arr.as_deref())
        .collect();
    let needed = cols.all();
    let mut targets = targets(&cols, &decided);
    if req.lifecycle_dates == Lifecycle::Checked {
        for t in &mut targets {
            // (The churn date a horizon needs is kept.)
            t.batch_only |= matches!(t.role, Role::Since)
                || matches!(t.role, Role::ChurnDate) && req.horizon.is_none();
        }
    }
    let streamed = sink.is_some();
    let mut stream = sink.map(|sink| Stream::new(sink, &mut targets));
    let rows = match format {
        Format::Parquet => append_parquet(path, &needed, &mut targets, &mut stream, parquet_rows)?,
        Format::Csv => {
            // Batch by batch: memory holds the converted columns and a few batches, not
            // the whole file and the whole frame besides.
            // (polars reads a decimal comma where the comma is not the delimiter.)
            let comma = decided.numbers.decimal_comma && delimiter != b',';
            let parser = ChunkParser::new(&available, &needed, &float_cols, delimiter, comma);
            let file = match &source {
                Source::Path(p) => Some(FileText::open(path, p)?),
                Source::Bytes(_) => None,
            };
            let text = file.as_ref().map_or(source.bytes(), FileText::bytes);
            let parsers = rayon::current_num_threads().max(1);
            // Enough batches for every parser to have several (a small file too), each
            // big enough that polars' setup per batch does not count.
            let share = text.len() / (4 * parsers);
            let batches = CsvBatches::new(
                text,
                delimiter,
                batch_bytes.min(share.max(MIN_CSV_BATCH_BYTES)),
            );
            let parse = |text: &[u8], records: usize| {
                let df = parser
                    .frame(text, records)
                    .map_err(|e| polars_error(path, format, &source, e));
                if let Some(f) = &file {
                    f.release(text);
                }
                df
            };
            let fields = available.len();
            append_batches(
                path,
                batches,
                text.len() as u64,
                fields,
                parsers,
                &parse,
                &mut targets,
                &mut stream,
            )?
        }
    };
    if rows == 0 {
        return Err(DataError::NoRows {
            path: path.to_string(),
        });
    }
    drop(stage);
    let _stage = tracing::info_span!("load: assemble the snapshots").entered();
    let mut snap = assemble(path, req, &cols, targets, rows)?;
    snap.notes.formats.decimal_comma = decided.notes.decimal_comma;
    snap.notes.formats.dates = decided.notes.dates;
    if streamed {
        snap.metrics.clear();
    }
    Ok(snap)
}

/// Hands each batch's metric values to a [`MetricSink`] and empties the metric targets for
/// the next batch (their buffers reused).
struct Stream<'s> {
    sink: &'s mut dyn MetricSink,
    /// Each label metric's labels by code so far (empty for numeric metrics), in the
    /// targets' order of metrics.
    labels: Vec<Vec<String>>,
}

impl<'s> Stream<'s> {
    /// A stream into `sink`; the metric targets then hold one batch at a time.
    fn new(sink: &'s mut dyn MetricSink, targets: &mut [Target]) -> Self {
        let mut metrics = 0;
        for t in targets.iter_mut() {
            if let Role::Metric(_) = t.role {
                t.batch_only = true;
                metrics += 1;
            }
        }
        Stream {
            sink,
            labels: vec![Vec::new(); metrics],
        }
    }

    /// Passes the batch of rows `first_row .. first_row + rows` on.
    fn pass(
        &mut self,
        path: &str,
        targets: &mut [Target],
        first_row: usize,
        rows: usize,
    ) -> Result<(), DataError> {
        let mut columns = Vec::with_capacity(self.labels.len());
        let mut labels = self.labels.iter_mut();
        // (`targets` lists the metrics in request order.)
        for t in targets.iter_mut() {
            if !matches!(t.role, Role::Metric(_)) {
                continue;
            }
            let seen = labels.next().expect("one label list per metric");
            let column = match &mut t.sink {
                Sink::Numbers { values, .. } => BatchColumn::Numbers(values),
                Sink::Codes {
                    codes, interner, ..
                } => {
                    interner.extend_labels(seen);
                    BatchColumn::Labels {
                        codes,
                        labels: seen,
                    }
                }
                _ => unreachable!("metrics are numbers or labels"),
            };
            columns.push((t.column, column));
        }
        let batch = MetricBatch {
            path,
            first_row,
            rows,
            columns,
        };
        self.sink.take(batch).map_err(DataError::Refused)
    }
}

/// After the batch of rows `first_row .. first_row + rows` is converted: the metric values
/// go to the stream, if any, and every target that keeps one batch only is emptied for the
/// next (its buffer reused).
fn end_batch(
    path: &str,
    targets: &mut [Target],
    stream: &mut Option<Stream>,
    first_row: usize,
    rows: usize,
) -> Result<(), DataError> {
    if let Some(s) = stream {
        s.pass(path, targets, first_row, rows)?;
    }
    for t in targets.iter_mut().filter(|t| t.batch_only) {
        match &mut t.sink {
            Sink::Numbers { values, .. } => values.clear(),
            Sink::Codes { codes, .. } => codes.clear(),
            Sink::Days { days, .. } => days.clear(),
            Sink::Outcome(o, _) => o.clear(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod batch_tests;
