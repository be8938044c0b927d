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

use super::fields::{FieldCounter, Ragged};
use super::parse::{self, Day, NO_DAY};
use super::{
    closest_names, DataError, Encoding, Lifecycle, LoadNotes, LoadRequest, MetricColumn,
    OutcomeNeed, Roles, Segment, Snapshots,
};
use crate::profile::InputKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Parquet,
}

/// Where the bytes come from.
enum Source {
    Path(String),
    /// Bytes in memory (standard input, the bundled sample, re-encoded text), held as
    /// polars' shared buffer so that each scan of them is a reference, not a copy.
    Bytes(ScanSources),
}

impl Source {
    fn in_memory(bytes: Vec<u8>) -> Source {
        Source::Bytes(ScanSources::Buffers(Arc::from(vec![bytes.into()])))
    }

    /// The in-memory bytes (empty for a file path).
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Bytes(ScanSources::Buffers(b)) => b.first().map_or(&[], |b| b),
            _ => &[],
        }
    }
}

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
    let (format, source) = open(path, req.encoding)?;
    let delimiter = match format {
        Format::Csv => delimiter(&source, req)?,
        Format::Parquet => 0,
    };
    let mut probe = match format {
        Format::Csv => csv_frame(path, &source, delimiter, &[])?,
        Format::Parquet => parquet_frame(path)?,
    };
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

    // Columns polars may parse as Float64 directly (CSV only; Parquet is typed already).
    let float_cols: Vec<&str> = cols
        .metrics
        .iter()
        .filter(|(_, k)| *k == InputKind::Numeric)
        .map(|(c, _)| c.as_str())
        .chain(cols.arr.as_deref())
        .collect();
    let needed = cols.all();
    let mut targets = targets(&cols);
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
            let parser = ChunkParser::new(&available, &needed, &float_cols, delimiter);
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
    crate::timing::mark("load: columns converted");
    let mut snap = assemble(path, req, &cols, targets, rows)?;
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
            Sink::Outcome(o) => o.clear(),
        }
    }
    Ok(())
}

/// Rows per Parquet batch at most, when the batches are sized by the rows per thread
/// (whole row groups: one larger group is one batch).
const PARQUET_BATCH_ROWS: usize = 1 << 20;

/// Reads the `needed` columns of a Parquet file a batch of row groups at a time, each batch
/// converted into the targets before the next is read; returns the number of rows.
///
/// Memory then holds the converted columns and one batch's frame, not the whole frame
/// besides: at 10 M rows 1.6 GB less at the peak, and as much less fresh memory for the
/// kernel to fault in and zero (a batch's buffers are the allocator's to reuse for the
/// next). polars decodes each batch in parallel. A batch is the next row groups up to
/// `batch_rows` rows or more (`None`: a quarter of the rows per thread, at most
/// [`PARQUET_BATCH_ROWS`]).
fn append_parquet(
    path: &str,
    needed: &[String],
    targets: &mut [Target],
    stream: &mut Option<Stream>,
    batch_rows: Option<usize>,
) -> Result<usize, DataError> {
    let bad = |e| polars_error(path, Format::Parquet, &Source::Path(path.into()), e);
    let open = || {
        std::fs::File::open(path).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })
    };
    let meta = ParquetReader::new(open()?)
        .get_metadata()
        .map_err(bad)?
        .clone();
    let rows = meta.num_rows;
    for t in targets.iter_mut() {
        t.reserve(rows);
    }
    if let Some(s) = stream {
        s.sink.expect_rows(rows);
    }
    let threads = rayon::current_num_threads().max(1);
    let want = batch_rows
        .unwrap_or((rows / (4 * threads)).min(PARQUET_BATCH_ROWS))
        .max(1);
    let mut offset = 0;
    let mut groups = meta.row_groups.iter().map(|g| g.num_rows()).peekable();
    while groups.peek().is_some() {
        let mut len = 0;
        while len < want {
            match groups.next() {
                Some(n) => len += n,
                None => break,
            }
        }
        if len == 0 {
            continue;
        }
        let mut reader = ParquetReader::new(open()?)
            .with_columns(Some(needed.to_vec()))
            .with_slice(Some((offset, len)));
        reader.set_metadata(meta.clone());
        let df = reader.finish().map_err(bad)?;
        append_frame(path, targets, df, offset)?;
        end_batch(path, targets, stream, offset, len)?;
        offset += len;
    }
    Ok(offset)
}

/// polars' CSV parser applied to batches of whole records.
///
/// polars' own readers find the lines of a text in one serial pass, a byte at a time
/// (`CountLines`: its vector form needs a nightly compiler), before they parse the lines
/// in parallel; that pass took a quarter of the time of reading a CSV file. The batches
/// here are already cut at record ends by the field-count check's vector pass, so each
/// goes straight to polars' parser (`read_chunk`, which polars' streaming reader calls on
/// each batch of lines it found), several batches at a time.
struct ChunkParser {
    options: CsvParseOptions,
    /// Every column of the file: the numeric ones as `Float64`, the others as text.
    typed: Schema,
    /// Every column as text, to read a batch again when polars refuses a number.
    text: Schema,
    /// The needed columns' positions, in file order.
    projection: Vec<usize>,
    has_float: bool,
}

impl ChunkParser {
    /// A parser of the `needed` columns of a text with `columns` (the header's names).
    fn new(columns: &[String], needed: &[String], as_float: &[&str], delimiter: u8) -> Self {
        let schema = |float: &dyn Fn(&str) -> bool| {
            Schema::from_iter(columns.iter().map(|c| {
                let dtype = if float(c) {
                    DataType::Float64
                } else {
                    DataType::String
                };
                Field::new(c.as_str().into(), dtype)
            }))
        };
        let projection: Vec<usize> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| needed.contains(c))
            .map(|(i, _)| i)
            .collect();
        assert!(!projection.is_empty(), "a load needs at least one column");
        ChunkParser {
            options: CsvParseOptions::default()
                .with_separator(delimiter)
                .with_missing_is_null(true),
            typed: schema(&|c| as_float.contains(&c)),
            text: schema(&|_| false),
            projection,
            has_float: !as_float.is_empty(),
        }
    }

    /// The needed columns of `text` (whole records, about `records` of them): numbers as
    /// `Float64` if polars reads them all, else every column as text (the converters then
    /// name the value that is wrong); an error that remains is the first one.
    fn frame(&self, text: &[u8], records: usize) -> PolarsResult<DataFrame> {
        match self.parse(text, records, &self.typed) {
            Err(first) if self.has_float => {
                self.parse(text, records, &self.text).map_err(|_| first)
            }
            read => read,
        }
    }

    /// The needed columns of `text` read with `schema`.
    fn parse(&self, text: &[u8], records: usize, schema: &Schema) -> PolarsResult<DataFrame> {
        // (What polars' readers check before parsing text columns.)
        if !_csv_read_internal::validate_utf8(text) {
            polars_bail!(ComputeError: "invalid utf-8 sequence");
        }
        _csv_read_internal::read_chunk(
            text,
            &self.options,
            schema,
            false,
            &self.projection,
            0,
            records,
            None,
            usize::MAX,
            text.len(),
            Some(0),
        )
    }
}

/// Appends the batches' rows to the targets; returns the number of rows. Three stages run
/// side by side: one thread cuts the text into batches (checking its field counts),
/// `parsers` threads have polars parse them, and this thread converts the frames in the
/// file's order (and passes them on to `stream`). The text is `len` bytes of records of
/// `fields` fields.
#[allow(clippy::too_many_arguments)]
fn append_batches(
    path: &str,
    mut batches: CsvBatches,
    len: u64,
    fields: usize,
    parsers: usize,
    parse: &(impl Fn(&[u8], usize) -> Result<DataFrame, DataError> + Sync),
    targets: &mut [Target],
    stream: &mut Option<Stream>,
) -> Result<usize, DataError> {
    use std::sync::mpsc::sync_channel;
    use std::sync::Mutex;
    let (mut rows, mut n_batches) = (0, 0);
    std::thread::scope(|scope| -> Result<(), DataError> {
        let (send_text, texts) = sync_channel::<(usize, Batch)>(parsers);
        let (send_frame, frames) =
            sync_channel::<(usize, usize, Result<DataFrame, DataError>)>(parsers);
        // Each stage ends when the next one hangs up (the conversion stopped at an error)
        // or when the one before has nothing more.
        let cut = send_frame.clone();
        scope.spawn(move || {
            for i in 0.. {
                let sent = match batches.next_batch(path) {
                    Ok(Some(text)) => send_text.send((i, text)).is_ok(),
                    Ok(None) => false,
                    Err(e) => {
                        let _ = cut.send((i, 0, Err(e)));
                        false
                    }
                };
                if !sent {
                    break;
                }
            }
        });
        let texts = std::sync::Arc::new(Mutex::new(texts));
        for _ in 0..parsers {
            let (texts, send_frame) = (texts.clone(), send_frame.clone());
            scope.spawn(move || loop {
                let next = texts.lock().map(|t| t.recv());
                let Ok(Ok((i, batch))) = next else { break };
                let (bytes, df) = (batch.text.len(), parse(batch.text, batch.records));
                if send_frame.send((i, bytes, df)).is_err() {
                    break;
                }
            });
        }
        drop((texts, send_frame));
        // Frames arrive in any order and convert in the file's.
        let mut waiting = std::collections::BTreeMap::new();
        for (i, bytes, df) in frames {
            waiting.insert(i, (bytes, df));
            while let Some((bytes, df)) = waiting.remove(&n_batches) {
                let df = df?;
                let height = df.height();
                if n_batches == 0 && (bytes as u64) < len {
                    // The file's rows at the first batch's bytes per row, and a margin; at
                    // most as many as records of one byte per field fit in the text.
                    let guess = len as f64 / bytes.max(1) as f64 * height as f64 * 1.1;
                    let most = usize::try_from(len).unwrap_or(usize::MAX) / fields.max(1);
                    let expect = (guess as usize).min(most).max(height);
                    for t in targets.iter_mut() {
                        t.reserve(expect);
                    }
                    if let Some(s) = stream {
                        s.sink.expect_rows(expect);
                    }
                }
                append_frame(path, targets, df, rows)?;
                end_batch(path, targets, stream, rows, height)?;
                rows += height;
                n_batches += 1;
            }
        }
        Ok(())
    })?;
    crate::timing::mark(&format!("load: read and converted in {n_batches} batches"));
    Ok(rows)
}

/// Bytes of CSV per batch at most (and at least one whole record): the memory a batch
/// in flight takes.
const CSV_BATCH_BYTES: usize = 32 << 20;

/// Bytes of CSV per batch at least, unless the batch is the whole text.
const MIN_CSV_BATCH_BYTES: usize = 1 << 20;

fn ragged(path: &str, r: Ragged) -> DataError {
    DataError::Ragged {
        path: path.into(),
        row: r.row,
        expected: r.expected,
        found: r.found,
    }
}

/// A CSV text cut into batches of whole records, its field counts checked on the way
/// (polars would pad a short record with nulls and cut a long one; see [`super::fields`]).
struct CsvBatches<'a> {
    text: &'a [u8],
    counter: FieldCounter,
    batch_bytes: usize,
    /// Bytes fed to the counter so far.
    fed: usize,
    /// Where the next batch starts: past the records of the last one.
    next: usize,
    /// Records in the batches so far.
    records_at: usize,
    done: bool,
}

/// A batch of whole records (the header left out).
struct Batch<'a> {
    text: &'a [u8],
    /// The records in the batch (empty lines aside).
    records: usize,
}

impl<'a> CsvBatches<'a> {
    fn new(text: &'a [u8], delimiter: u8, batch_bytes: usize) -> Self {
        CsvBatches {
            text,
            counter: FieldCounter::new(delimiter),
            batch_bytes,
            fed: 0,
            next: 0,
            records_at: 0,
            done: false,
        }
    }

    /// The next batch of whole records; `None` after the last.
    fn next_batch(&mut self, path: &str) -> Result<Option<Batch<'a>>, DataError> {
        while !self.done {
            let to = self
                .fed
                .saturating_add(self.batch_bytes)
                .min(self.text.len());
            if let Some(bad) = self.counter.feed(&self.text[self.fed..to]) {
                return Err(ragged(path, bad));
            }
            self.fed = to;
            if to == self.text.len() {
                if let Some(bad) = self.counter.finish() {
                    return Err(ragged(path, bad));
                }
                self.done = true;
            }
            let Some(header_end) = self.counter.header_end() else {
                continue;
            };
            // The header (with any empty lines before it) is not a batch's.
            let start = self.next.max(header_end as usize);
            let end = match self.done {
                true => self.text.len(),
                false => self.counter.record_end() as usize,
            };
            if end > start {
                let records = self.counter.records() - self.records_at;
                self.records_at += records;
                self.next = end;
                return Ok(Some(Batch {
                    text: &self.text[start..end],
                    records,
                }));
            }
        }
        Ok(None)
    }
}

/// A CSV file's text: mapped into memory where the system allows (no copy of it into
/// buffers of ours), else read.
enum FileText {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileText {
    fn open(path: &str, file: &str) -> Result<FileText, DataError> {
        let io = |source| DataError::Io {
            path: path.into(),
            source,
        };
        let f = std::fs::File::open(file).map_err(io)?;
        // SAFETY: a mapped file changed by another program while it is read would change
        // the bytes under our feet; polars maps the files it reads alike. The text is only
        // read, and a file cut short by another program is an error of the read (SIGBUS),
        // not a wrong result.
        match unsafe { memmap2::Mmap::map(&f) } {
            Ok(m) => {
                let _ = m.advise(memmap2::Advice::Sequential);
                Ok(FileText::Mapped(m))
            }
            Err(_) => {
                let mut bytes = Vec::new();
                (&f).read_to_end(&mut bytes).map_err(io)?;
                Ok(FileText::Read(bytes))
            }
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            FileText::Mapped(m) => m,
            FileText::Read(v) => v,
        }
    }

    /// Lets go of the pages of `part` (a piece of the text that has been parsed): they no
    /// longer count in the process's memory, and stay in the system's file cache.
    fn release(&self, part: &[u8]) {
        if let FileText::Mapped(m) = self {
            let offset = part.as_ptr() as usize - m.as_ptr() as usize;
            // SAFETY: the pages belong to a read-only mapping of a file: dropping them
            // only makes a later read of them (by a batch sharing a page) fault them in
            // again from the file, with the same bytes.
            let _ = unsafe {
                m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, part.len())
            };
        }
    }
}

/// The column names of a snapshot file, in file order (CSV header or Parquet schema).
pub fn column_names(path: &str, req: &LoadRequest) -> Result<Vec<String>, DataError> {
    let (format, source) = open(path, req.encoding)?;
    let mut probe = match format {
        Format::Csv => csv_frame(path, &source, delimiter(&source, req)?, &[])?,
        Format::Parquet => parquet_frame(path)?,
    };
    let schema = probe
        .collect_schema()
        .map_err(|e| polars_error(path, format, &source, e))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Open the file and decide its format.
fn open(path: &str, encoding: Encoding) -> Result<(Format, Source), DataError> {
    if path == super::SAMPLE_PATH && !Path::new(path).exists() {
        return Ok((Format::Csv, Source::in_memory(super::SAMPLE_CSV.to_vec())));
    }
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|source| DataError::Io {
                path: "<stdin>".into(),
                source,
            })?;
        if bytes.is_empty() {
            return Err(DataError::Empty {
                path: "<stdin>".into(),
            });
        }
        return Ok((Format::Csv, Source::in_memory(text_bytes(bytes, encoding))));
    }
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(DataError::NotTabular {
            path: path.into(),
            format: "CSV or Parquet",
            message: "it is a directory".into(),
        });
    }
    if meta.len() == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    let mut head = vec![0u8; 8192.min(meta.len() as usize)];
    f.read_exact(&mut head).map_err(io)?;
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let is_parquet_magic = head.starts_with(b"PAR1");
    if is_parquet_magic || matches!(ext.as_deref(), Some("parquet" | "pq")) {
        if !is_parquet_magic {
            return Err(DataError::NotTabular {
                path: path.into(),
                format: "Parquet",
                message: "the file does not start with the Parquet magic bytes PAR1".into(),
            });
        }
        return Ok((Format::Parquet, Source::Path(path.into())));
    }
    if let Some(e) = ext
        .as_deref()
        .filter(|e| !matches!(*e, "csv" | "tsv" | "txt"))
    {
        return Err(DataError::UnknownFormat {
            path: path.into(),
            extension: e.to_string(),
        });
    }
    if head.contains(&0) {
        return Err(DataError::NotTabular {
            path: path.into(),
            format: "CSV",
            message: "it holds binary data (NUL bytes), not text".into(),
        });
    }
    let has_bom = head.starts_with(&[0xEF, 0xBB, 0xBF]);
    if encoding == Encoding::Latin1 || has_bom {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io)?;
        return Ok((Format::Csv, Source::in_memory(text_bytes(bytes, encoding))));
    }
    Ok((Format::Csv, Source::Path(path.into())))
}

/// Text as UTF-8 without a byte-order mark.
fn text_bytes(mut bytes: Vec<u8>, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => {
            if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
                bytes.drain(..3);
            }
            bytes
        }
        // Latin-1 bytes are the first 256 code points.
        Encoding::Latin1 => bytes
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes(),
    }
}

/// The delimiter the user gave, or the one the header suggests.
fn delimiter(source: &Source, req: &LoadRequest) -> Result<u8, DataError> {
    match req.delimiter {
        Some(d) => Ok(d),
        None => sniff_delimiter(source),
    }
}

fn csv_frame(
    path: &str,
    source: &Source,
    delimiter: u8,
    as_float: &[&str],
) -> Result<LazyFrame, DataError> {
    let reader = match source {
        Source::Path(p) => LazyCsvReader::new(PlRefPath::new(p.as_str())),
        Source::Bytes(b) => LazyCsvReader::new_with_sources(b.clone()),
    };
    let overwrite = if as_float.is_empty() {
        None
    } else {
        Some(Arc::new(Schema::from_iter(
            as_float
                .iter()
                .map(|c| Field::new((*c).into(), DataType::Float64)),
        )))
    };
    reader
        .with_has_header(true)
        .with_separator(delimiter)
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(overwrite)
        .with_missing_is_null(true)
        .with_raise_if_empty(true)
        .finish()
        .map_err(|e| DataError::NotTabular {
            path: path.into(),
            format: "CSV",
            message: e.to_string(),
        })
}

/// The most frequent of `,` `;` tab `|` outside quotes in the header line (comma on a tie).
fn sniff_delimiter(source: &Source) -> Result<u8, DataError> {
    let mut head = Vec::new();
    match source {
        Source::Path(p) => {
            let f = std::fs::File::open(p).map_err(|source| DataError::Io {
                path: p.into(),
                source,
            })?;
            f.take(65536)
                .read_to_end(&mut head)
                .map_err(|source| DataError::Io {
                    path: p.into(),
                    source,
                })?;
        }
        Source::Bytes(_) => {
            let b = source.bytes();
            head.extend_from_slice(&b[..b.len().min(65536)]);
        }
    }
    let mut counts = [0usize; 4];
    let cands = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for &c in &head {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = cands.iter().position(|&d| d == c) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], 4 - i)).unwrap_or(0);
    Ok(if counts[best] == 0 { b',' } else { cands[best] })
}

fn parquet_frame(path: &str) -> Result<LazyFrame, DataError> {
    LazyFrame::scan_parquet(PlRefPath::new(path), ScanArgsParquet::default()).map_err(|e| {
        DataError::NotTabular {
            path: path.into(),
            format: "Parquet",
            message: e.to_string(),
        }
    })
}

/// Turn a polars error into a user-facing one; an encoding problem is located by row.
fn polars_error(path: &str, format: Format, source: &Source, e: PolarsError) -> DataError {
    let message = e.to_string();
    if format == Format::Csv && message.to_ascii_lowercase().contains("utf") {
        if let Some(err) = locate_bad_utf8(path, source) {
            return err;
        }
    }
    let first_line = message.lines().next().unwrap_or("").to_string();
    if first_line.contains("empty") {
        return DataError::Empty { path: path.into() };
    }
    DataError::NotTabular {
        path: path.into(),
        format: match format {
            Format::Csv => "CSV",
            Format::Parquet => "Parquet",
        },
        message: first_line,
    }
}

/// Find the first invalid UTF-8 sequence and the data row it is on.
fn locate_bad_utf8(path: &str, source: &Source) -> Option<DataError> {
    let bytes = match source {
        Source::Path(p) => std::borrow::Cow::Owned(std::fs::read(p).ok()?),
        Source::Bytes(_) => std::borrow::Cow::Borrowed(source.bytes()),
    };
    let err = std::str::from_utf8(&bytes).err()?;
    let at = err.valid_up_to();
    let row = bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let len = err.error_len().unwrap_or(1).min(4);
    let hex: Vec<String> = bytes[at..at + len]
        .iter()
        .map(|b| format!("0x{b:02X}"))
        .collect();
    Some(DataError::Encoding {
        path: path.into(),
        row,
        bytes: hex.join(" "),
    })
}

/// Column names resolved against the file.
struct Columns {
    id: Option<String>,
    date: Option<String>,
    outcome: Option<String>,
    metrics: Vec<(String, InputKind)>,
    segments: Vec<String>,
    customer_since: Option<String>,
    churn_date: Option<String>,
    arr: Option<String>,
}

impl Columns {
    fn all(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut push = |c: &String| {
            if !v.contains(c) {
                v.push(c.clone());
            }
        };
        for c in [&self.id, &self.date, &self.outcome].into_iter().flatten() {
            push(c);
        }
        for (c, _) in &self.metrics {
            push(c);
        }
        for c in &self.segments {
            push(c);
        }
        for c in [&self.customer_since, &self.churn_date, &self.arr]
            .into_iter()
            .flatten()
        {
            push(c);
        }
        v
    }
}

fn resolve(path: &str, req: &LoadRequest, available: &[String]) -> Result<Columns, DataError> {
    let missing = |role: &str, column: &str| DataError::MissingColumn {
        path: path.into(),
        role: role.into(),
        column: column.into(),
        closest: closest_names(column, available),
        available: available.to_vec(),
    };
    let has = |c: &str| available.iter().any(|a| a == c);
    // An explicitly named role column must exist; a default one is used when present.
    let role =
        |given: &Option<String>, default: &str, what: &str| -> Result<Option<String>, DataError> {
            match given {
                Some(c) if has(c) => Ok(Some(c.clone())),
                Some(c) => Err(missing(what, c)),
                None if has(default) => Ok(Some(default.to_string())),
                None => Ok(None),
            }
        };
    let r = &req.roles;
    let id = role(&r.id, Roles::DEFAULT_ID, "account id (--id-col)")?;
    let date = role(&r.date, Roles::DEFAULT_DATE, "snapshot date (--date-col)")?;
    let churn_date = role(
        &r.churn_date,
        Roles::DEFAULT_CHURN_DATE,
        "churn date (--churn-date-col)",
    )?;
    let outcome = if req.horizon.is_some() {
        None
    } else {
        match role(
            &r.outcome,
            Roles::DEFAULT_OUTCOME,
            "outcome (--outcome-col)",
        ) {
            Ok(o) => o,
            Err(e) if req.outcome == OutcomeNeed::Required => return Err(e),
            Err(_) => None,
        }
    };
    if req.outcome == OutcomeNeed::Required && outcome.is_none() && req.horizon.is_none() {
        let column = r.outcome.clone().unwrap_or(Roles::DEFAULT_OUTCOME.into());
        let hint = if churn_date.is_some() {
            "the data has a churn date: pass --horizon (like 90d or 12m) to derive the outcome from it".to_string()
        } else {
            let closest = closest_names(&column, available);
            format!(
                "name the outcome column with --outcome-col{}",
                if closest.is_empty() {
                    String::new()
                } else {
                    format!(" (closest: '{}')", closest.join("', '"))
                }
            )
        };
        return Err(DataError::NoOutcome {
            path: path.into(),
            column,
            hint,
        });
    }
    if req.horizon.is_some() {
        if churn_date.is_none() {
            return Err(missing(
                "churn date (needed by --horizon)",
                r.churn_date.as_deref().unwrap_or(Roles::DEFAULT_CHURN_DATE),
            ));
        }
        if date.is_none() {
            return Err(missing(
                "snapshot date (needed by --horizon)",
                r.date.as_deref().unwrap_or(Roles::DEFAULT_DATE),
            ));
        }
    }
    let mut metrics = Vec::new();
    for (c, k) in &req.metrics {
        if !has(c) {
            return Err(missing(&format!("metric column '{c}'"), c));
        }
        metrics.push((c.clone(), *k));
    }
    let mut segments = Vec::new();
    for s in &r.segments {
        if !has(s) {
            return Err(missing("segment (--segment)", s));
        }
        segments.push(s.clone());
    }
    Ok(Columns {
        id,
        date,
        outcome,
        metrics,
        segments,
        customer_since: role(
            &r.customer_since,
            Roles::DEFAULT_CUSTOMER_SINCE,
            "customer-since date",
        )?,
        churn_date,
        arr: role(&r.arr, Roles::DEFAULT_ARR, "revenue (--arr-col)")?,
    })
}

/// Facts an error about a column needs.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    path: &'a str,
    column: &'a str,
    /// The file's row (0-based) of the values' first row.
    first_row: usize,
}

impl Ctx<'_> {
    fn bad(&self, i: usize, value: &str, expected: &str) -> DataError {
        DataError::BadValue {
            path: self.path.into(),
            row: self.first_row + i + 1,
            column: self.column.into(),
            value: truncate(value),
            expected: expected.into(),
        }
    }
    fn missing(&self, i: usize, why: &str) -> DataError {
        DataError::MissingValue {
            path: self.path.into(),
            row: self.first_row + i + 1,
            column: self.column.into(),
            why: why.into(),
        }
    }
}

fn truncate(v: &str) -> String {
    const MAX: usize = 80;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let s: String = v.chars().take(MAX).collect();
        format!("{s}…")
    }
}

fn is_numeric(dt: &DataType) -> bool {
    dt.is_primitive_numeric()
}

/// A numeric column appended to `out`: NaN for missing values, errors for text and
/// non-finite numbers.
fn to_f64(s: &Series, ctx: Ctx, out: &mut Vec<f64>) -> Result<(), DataError> {
    let dt = s.dtype();
    if dt == &DataType::String {
        let ca = s.str().expect("string dtype");
        out.reserve(ca.len());
        for (i, v) in ca.iter().enumerate() {
            match v {
                None => out.push(f64::NAN),
                Some(t) => match parse::number(t) {
                    Ok(Some(x)) => out.push(x),
                    Ok(None) => out.push(f64::NAN),
                    Err(exp) => return Err(ctx.bad(i, t, exp)),
                },
            }
        }
        return Ok(());
    }
    if dt == &DataType::Boolean {
        return to_bool(s, ctx, out);
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
        DataType::Float64 => numbers(s.f64().expect("f64"), ctx, |v| v, out),
        DataType::Int64 => numbers(s.i64().expect("i64"), ctx, |v| v as f64, out),
        DataType::Int32 => numbers(s.i32().expect("i32"), ctx, f64::from, out),
        _ => {
            let cast = s
                .cast(&DataType::Float64)
                .map_err(|e| ctx.bad(0, &e.to_string(), "a number"))?;
            numbers(cast.f64().expect("cast to f64"), ctx, |v| v, out)
        }
    }
}

/// A numeric column appended to `out` as `f64` through `to`, nulls as NaN; a NaN or
/// infinity in the data itself is an error.
fn numbers<T: PolarsNumericType>(
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
fn to_bool(s: &Series, ctx: Ctx, out: &mut Vec<f64>) -> Result<(), DataError> {
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
fn parse_labels<T: Copy>(
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

/// Labels interned as codes, over as many batches of a column as come; empty is missing.
#[derive(Default)]
struct Interner {
    /// polars keeps a string of up to 12 bytes inside its 16-byte view: a label that short
    /// is keyed by the view of its trimmed text ([`inline_key`]), so most rows find their
    /// code by comparing or hashing a `u128`, without reading or trimming the text, and a
    /// new label costs no allocation. A view that trims to a label (padded with blanks) is
    /// kept as a second key of that label's code.
    by_view: FxHashMap<u128, u32>,
    /// The short labels in code order, by their keys.
    short: Vec<(u32, u128)>,
    /// Labels longer than 12 bytes.
    by_text: FxHashMap<Box<str>, u32>,
    /// The code and label given to missing values, when they have one.
    missing: Option<(u32, String)>,
    len: u32,
}

/// The longest string polars keeps inside its view.
const INLINE: usize = 12;

/// The view polars gives a string of up to [`INLINE`] bytes: its length, then its bytes, then
/// zeros (`View::new_inline`; a test holds the two equal).
fn inline_key(text: &[u8]) -> u128 {
    debug_assert!(text.len() <= INLINE);
    let mut view = [0u8; 16];
    view[..4].copy_from_slice(&(text.len() as u32).to_ne_bytes());
    view[4..4 + text.len()].copy_from_slice(text);
    u128::from_ne_bytes(view)
}

/// The label an [`inline_key`] holds.
fn inline_label(key: u128) -> String {
    let view = key.to_ne_bytes();
    let len = u32::from_ne_bytes(view[..4].try_into().expect("4 bytes")) as usize;
    String::from_utf8_lossy(&view[4..4 + len]).into_owned()
}

impl Interner {
    /// Appends the codes of `s`'s values to `codes`; a missing value is
    /// [`MetricColumn::MISSING_CODE`], or the code of `missing_label` when given.
    fn push(
        &mut self,
        s: &Series,
        ctx: Ctx,
        missing_label: Option<&str>,
        codes: &mut Vec<u32>,
    ) -> Result<(), DataError> {
        let as_text = s
            .cast(&DataType::String)
            .map_err(|e| ctx.bad(0, &e.to_string(), "text"))?;
        let ca = as_text.str().expect("string");
        codes.reserve(ca.len());
        for (arr, chunk) in ca.downcast_iter().zip(ca.chunks()) {
            let views = arr.views();
            // (Through the chunk's `dyn Array`: polars does not re-export the `Array` trait.)
            let validity = chunk.validity();
            // Exports list an account's snapshots together and a label repeats in runs: a
            // view equal to the previous row's takes its code without a lookup.
            let mut last: Option<(u128, u32)> = None;
            for (i, view) in views.iter().enumerate() {
                let bits = view.as_u128();
                let valid = validity.is_none_or(|v| v.get_bit(i));
                if valid {
                    if let Some((_, c)) = last.filter(|&(l, _)| l == bits) {
                        codes.push(c);
                        continue;
                    }
                    if view.is_inline() {
                        if let Some(&c) = self.by_view.get(&bits) {
                            codes.push(c);
                            last = Some((bits, c));
                            continue;
                        }
                    }
                }
                let t = if valid { arr.value(i).trim() } else { "" };
                if t.is_empty() {
                    codes.push(match missing_label {
                        None => MetricColumn::MISSING_CODE,
                        Some(l) => self.missing_code(l),
                    });
                    continue;
                }
                let code = if t.len() <= INLINE {
                    let key = inline_key(t.as_bytes());
                    let code = match self.by_view.get(&key) {
                        Some(&c) => c,
                        None => {
                            let c = self.next_code();
                            self.by_view.insert(key, c);
                            self.short.push((c, key));
                            c
                        }
                    };
                    if view.is_inline() && bits != key {
                        self.by_view.insert(bits, code);
                    }
                    code
                } else {
                    match self.by_text.get(t) {
                        Some(&c) => c,
                        None => {
                            let c = self.next_code();
                            self.by_text.insert(t.into(), c);
                            c
                        }
                    }
                };
                codes.push(code);
                last = Some((bits, code));
            }
        }
        Ok(())
    }

    fn next_code(&mut self) -> u32 {
        self.len += 1;
        self.len - 1
    }

    fn missing_code(&mut self, label: &str) -> u32 {
        if let Some((c, _)) = self.missing {
            return c;
        }
        let c = self.next_code();
        self.missing = Some((c, label.to_string()));
        c
    }

    /// Extends `labels`, the labels of the codes below its length, with those given since.
    fn extend_labels(&self, labels: &mut Vec<String>) {
        let from = labels.len();
        if from == self.len as usize {
            return;
        }
        labels.resize(self.len as usize, String::new());
        let new = |c: u32| c as usize >= from;
        let first_new = self.short.partition_point(|&(c, _)| !new(c));
        for &(c, key) in &self.short[first_new..] {
            labels[c as usize] = inline_label(key);
        }
        for (text, &c) in self.by_text.iter().filter(|(_, &c)| new(c)) {
            labels[c as usize] = text.to_string();
        }
        if let Some((c, label)) = self.missing.as_ref().filter(|(c, _)| new(*c)) {
            labels[*c as usize] = label.clone();
        }
    }

    /// The labels by code.
    fn into_labels(self) -> Vec<String> {
        if self.short.len() == self.len as usize {
            // Short labels only (account ids, often): in code order already.
            return self
                .short
                .par_iter()
                .map(|&(_, key)| inline_label(key))
                .collect();
        }
        let mut labels = vec![String::new(); self.len as usize];
        for (c, key) in self.short {
            labels[c as usize] = inline_label(key);
        }
        for (text, c) in self.by_text {
            labels[c as usize] = text.into_string();
        }
        if let Some((c, label)) = self.missing {
            labels[c as usize] = label;
        }
        labels
    }
}

/// Dates appended to `out` as day numbers; `NO_DAY` for missing when allowed.
fn to_days(
    s: &Series,
    ctx: Ctx,
    required: Option<&str>,
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
        DataType::String => parse_labels(s, ctx, NO_DAY, out, parse::date)?,
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

/// Outcome labels appended to `out` as 0/1.
fn to_outcome(s: &Series, ctx: Ctx, out: &mut Vec<u8>) -> Result<(), DataError> {
    // Integer outcomes (0/1, the common export) without going through text: an integer's
    // text is its decimal digits, so a value other than 0 or 1 is reported as written.
    if s.dtype().is_integer() {
        let cast = s
            .cast(&DataType::Int64)
            .map_err(|e| ctx.bad(0, &e.to_string(), "an outcome"))?;
        let ca = cast.i64().expect("cast to i64");
        out.reserve(ca.len());
        for (i, v) in ca.iter().enumerate() {
            match v {
                None => return Err(ctx.missing(i, "every snapshot needs an outcome")),
                Some(y @ (0 | 1)) => out.push(y as u8),
                Some(y) => {
                    return Err(ctx.bad(
                        i,
                        &y.to_string(),
                        "an outcome: 0/1, true/false, yes/no or churned/renewed",
                    ))
                }
            }
        }
        return Ok(());
    }
    const MISSING: u8 = u8::MAX;
    let start = out.len();
    parse_labels(s, ctx, MISSING, out, parse::outcome)?;
    if let Some(i) = out[start..].iter().position(|&y| y == MISSING) {
        return Err(ctx.missing(i, "every snapshot needs an outcome"));
    }
    Ok(())
}

/// Where a column's values go in [`Snapshots`].
#[derive(Clone, Copy)]
enum Role {
    Metric(usize),
    Segment(usize),
    Accounts,
    Dates,
    Outcome,
    Since,
    ChurnDate,
    Arr,
}

/// A column's values converted so far.
enum Sink {
    Numbers {
        values: Vec<f64>,
        boolean: bool,
    },
    Codes {
        codes: Vec<u32>,
        interner: Interner,
        missing_label: Option<&'static str>,
        /// Why a missing value is an error, when it is.
        required: Option<&'static str>,
    },
    Days {
        days: Vec<Day>,
        required: Option<&'static str>,
    },
    Outcome(Vec<u8>),
}

/// One column being read, batch after batch.
struct Target<'a> {
    column: &'a str,
    role: Role,
    sink: Sink,
    /// Whether the values are passed on after each batch (a streaming load's metrics):
    /// then the target holds one batch, not the file.
    batch_only: bool,
}

impl Target<'_> {
    /// Room for `rows` values in all: a column that grows by copying touches its memory
    /// twice, and room never written to is not resident.
    fn reserve(&mut self, rows: usize) {
        if self.batch_only {
            return;
        }
        fn room<T>(v: &mut Vec<T>, rows: usize) {
            v.reserve_exact(rows.saturating_sub(v.len()));
        }
        match &mut self.sink {
            Sink::Numbers { values, .. } => room(values, rows),
            Sink::Codes { codes, .. } => room(codes, rows),
            Sink::Days { days, .. } => room(days, rows),
            Sink::Outcome(outcomes) => room(outcomes, rows),
        }
    }

    fn append(&mut self, s: &Series, ctx: Ctx) -> Result<(), DataError> {
        match &mut self.sink {
            Sink::Numbers { values, boolean } => {
                if *boolean {
                    to_bool(s, ctx, values)
                } else {
                    to_f64(s, ctx, values)
                }
            }
            Sink::Codes {
                codes,
                interner,
                missing_label,
                required,
            } => {
                let start = codes.len();
                interner.push(s, ctx, *missing_label, codes)?;
                match required {
                    Some(why) => match codes[start..]
                        .iter()
                        .position(|&c| c == MetricColumn::MISSING_CODE)
                    {
                        Some(i) => Err(ctx.missing(i, why)),
                        None => Ok(()),
                    },
                    None => Ok(()),
                }
            }
            Sink::Days { days, required } => to_days(s, ctx, *required, days),
            Sink::Outcome(out) => to_outcome(s, ctx, out),
        }
    }
}

/// The columns to read, in the order their errors are reported.
fn targets<'a>(cols: &'a Columns) -> Vec<Target<'a>> {
    let numbers = |boolean| Sink::Numbers {
        values: Vec::new(),
        boolean,
    };
    let codes = |missing_label, required| Sink::Codes {
        codes: Vec::new(),
        interner: Interner::default(),
        missing_label,
        required,
    };
    let days = |required| Sink::Days {
        days: Vec::new(),
        required,
    };
    let mut t = Vec::new();
    let mut push = |column: &'a str, role, sink| {
        t.push(Target {
            column,
            role,
            sink,
            batch_only: false,
        });
    };
    if let Some(c) = &cols.id {
        push(
            c,
            Role::Accounts,
            codes(None, Some("every snapshot needs an account id")),
        );
    }
    if let Some(c) = &cols.date {
        push(c, Role::Dates, days(Some("every snapshot needs a date")));
    }
    if let Some(c) = &cols.outcome {
        push(c, Role::Outcome, Sink::Outcome(Vec::new()));
    }
    for (i, (c, k)) in cols.metrics.iter().enumerate() {
        let sink = match k {
            InputKind::Numeric => numbers(false),
            InputKind::Boolean => numbers(true),
            InputKind::Text => codes(None, None),
        };
        push(c, Role::Metric(i), sink);
    }
    for (i, c) in cols.segments.iter().enumerate() {
        push(c, Role::Segment(i), codes(Some("(missing)"), None));
    }
    if let Some(c) = &cols.customer_since {
        push(c, Role::Since, days(None));
    }
    if let Some(c) = &cols.churn_date {
        push(c, Role::ChurnDate, days(None));
    }
    if let Some(c) = &cols.arr {
        push(c, Role::Arr, numbers(false));
    }
    t
}

/// Appends a frame's rows (the file's rows from `first_row`, 0-based) to the targets.
fn append_frame(
    path: &str,
    targets: &mut [Target],
    df: DataFrame,
    first_row: usize,
) -> Result<(), DataError> {
    // Each target takes its column (a reference-counted handle) and the frame goes: a
    // column's memory is freed as soon as its conversion is done.
    let columns: Vec<Column> = targets
        .iter()
        .map(|t| {
            df.column(t.column)
                .expect("resolved columns are selected")
                .clone()
        })
        .collect();
    drop(df);
    // Every column converts independently: in parallel, with the first error in column
    // order reported, so that the message is deterministic.
    let results: Vec<Result<(), DataError>> = targets
        .par_iter_mut()
        .zip(columns)
        .map(|(t, column)| {
            let ctx = Ctx {
                path,
                column: t.column,
                first_row,
            };
            t.append(column.as_materialized_series(), ctx)
        })
        .collect();
    results.into_iter().collect()
}

/// The snapshots from the converted columns.
fn assemble(
    path: &str,
    req: &LoadRequest,
    cols: &Columns,
    targets: Vec<Target>,
    n: usize,
) -> Result<Snapshots, DataError> {
    let mut notes = LoadNotes::default();
    let mut snap = Snapshots {
        source: path.to_string(),
        rows: n,
        account: Vec::new(),
        account_names: None,
        n_accounts: n,
        id_column: cols.id.clone().unwrap_or_else(|| "row".into()),
        date: None,
        date_column: cols.date.clone(),
        outcome: None,
        outcome_source: cols.outcome.clone(),
        metrics: cols
            .metrics
            .iter()
            .map(|(c, _)| (c.clone(), MetricColumn::Numeric(Vec::new())))
            .collect(),
        segments: cols
            .segments
            .iter()
            .map(|c| Segment {
                name: c.clone(),
                codes: Vec::new(),
                labels: Vec::new(),
            })
            .collect(),
        customer_since: None,
        churn_date: None,
        arr: None,
        source_row: (1..=n as u32).into_par_iter().collect(),
        notes: LoadNotes::default(),
    };
    for Target {
        role,
        sink,
        batch_only,
        ..
    } in targets
    {
        match (role, sink) {
            (Role::Metric(i), Sink::Numbers { values, .. }) => {
                snap.metrics[i].1 = MetricColumn::Numeric(values);
            }
            (
                Role::Metric(i),
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                let labels = interner.into_labels();
                snap.metrics[i].1 = MetricColumn::Text { codes, labels };
            }
            (
                Role::Segment(i),
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                snap.segments[i].codes = codes;
                snap.segments[i].labels = interner.into_labels();
            }
            (
                Role::Accounts,
                Sink::Codes {
                    codes, interner, ..
                },
            ) => {
                let names = interner.into_labels();
                snap.n_accounts = names.len();
                snap.account = codes;
                snap.account_names = Some(names);
            }
            (Role::Dates, Sink::Days { days, .. }) => snap.date = Some(days),
            (Role::Outcome, Sink::Outcome(o)) => snap.outcome = Some(o),
            (Role::Since | Role::ChurnDate, _) if batch_only => {}
            (Role::Since, Sink::Days { days, .. }) => snap.customer_since = Some(days),
            (Role::ChurnDate, Sink::Days { days, .. }) => snap.churn_date = Some(days),
            (Role::Arr, Sink::Numbers { values, .. }) => snap.arr = Some(values),
            _ => unreachable!("each role is given its kind of sink by `targets`"),
        }
    }
    if cols.id.is_none() {
        snap.account = (0..n as u32).collect();
        notes.warnings.push(format!(
            "{path} has no account id column ('{}'); each row is its own account, numbered by row (name one with --id-col)",
            req.roles.id.as_deref().unwrap_or(Roles::DEFAULT_ID)
        ));
    }
    check_duplicates(&snap)?;
    if let Some(h) = req.horizon {
        let name = cols
            .churn_date
            .as_deref()
            .unwrap_or(Roles::DEFAULT_CHURN_DATE);
        derive_outcome(&mut snap, h, req.as_of, name, &mut notes);
    }
    snap.notes = notes;
    if req.outcome == OutcomeNeed::Required {
        check_two_classes(&snap)?;
    }
    Ok(snap)
}

/// Two rows with the same (account, date) are an error naming both rows.
fn check_duplicates(s: &Snapshots) -> Result<(), DataError> {
    if s.account_names.is_none() {
        return Ok(()); // row-number ids are unique
    }
    let key = |i: u32| {
        (
            s.account[i as usize],
            s.date.as_ref().map_or(0, |d| d[i as usize]),
        )
    };
    // In (account, date) order equal keys are neighbours, the first in the file first.
    let order =
        super::order::all_by_account_date(s.rows, &s.account, s.n_accounts, s.date.as_deref());
    let Some(w) = order.windows(2).find(|w| key(w[0]) == key(w[1])) else {
        return Ok(());
    };
    let (first, second) = (w[0] as usize, w[1] as usize);
    Err(DataError::DuplicateKey {
        path: s.source.clone(),
        first: s.source_row[first] as usize,
        second: s.source_row[second] as usize,
        account: s.account_name(s.account[first]).into_owned(),
        date: s.date.as_ref().map(|d| parse::format_day(d[first])),
    })
}

/// Label each snapshot from the churn date: churned = 1 when
/// `snapshot_date < churn_date <= snapshot_date + H`. Snapshots on or after the churn date
/// are dropped; snapshots whose horizon passes the data's last date without a churn are
/// right-censored (dropped). Both are counted.
fn derive_outcome(
    s: &mut Snapshots,
    h: super::Horizon,
    as_of: Option<Day>,
    churn_column: &str,
    notes: &mut LoadNotes,
) {
    let dates = s.date.as_ref().expect("checked: --horizon needs dates");
    let churn = s
        .churn_date
        .as_ref()
        .expect("checked: --horizon needs churn dates");
    let last = as_of.unwrap_or_else(|| {
        dates
            .iter()
            .chain(churn.iter().filter(|&&d| d != NO_DAY))
            .copied()
            .max()
            .unwrap_or(0)
    });
    let mut end_of: FxHashMap<Day, Day> = FxHashMap::default();
    let mut keep = Vec::with_capacity(s.rows);
    let mut outcome = Vec::with_capacity(s.rows);
    for i in 0..s.rows {
        let d = dates[i];
        let c = churn[i];
        let end = *end_of.entry(d).or_insert_with(|| h.add_to(d));
        if c != NO_DAY && c <= d {
            notes.after_churn += 1;
            continue;
        }
        if c != NO_DAY && c <= end && c <= last {
            keep.push(i);
            outcome.push(1u8);
        } else if end > last {
            notes.censored += 1;
        } else {
            keep.push(i);
            outcome.push(0u8);
        }
    }
    s.retain_rows(&keep);
    s.outcome = Some(outcome);
    s.outcome_source = Some(format!("{churn_column} within {h}"));
    if notes.censored > 0 {
        notes.warnings.push(format!(
            "{} snapshots right-censored: their {h} horizon reaches past {} with no churn observed (pass --as-of to set the data's last date)",
            notes.censored,
            parse::format_day(last)
        ));
    }
    if notes.after_churn > 0 {
        notes.warnings.push(format!(
            "{} snapshots on or after their account's churn date dropped",
            notes.after_churn
        ));
    }
}

fn check_two_classes(s: &Snapshots) -> Result<(), DataError> {
    let o = s.outcome.as_ref().expect("required outcome is loaded");
    let churned = o.iter().filter(|&&y| y == 1).count();
    let column = s.outcome_source.clone().unwrap_or_default();
    if churned == 0 || churned == o.len() {
        return Err(DataError::OneClass {
            path: s.source.clone(),
            column,
            class: if churned == 0 { "retained" } else { "churned" },
            rows: o.len(),
        });
    }
    Ok(())
}

impl Snapshots {
    /// Keep only the rows at `keep` (ascending indices), in every column.
    pub fn retain_rows(&mut self, keep: &[usize]) {
        if keep.len() == self.rows {
            return;
        }
        *self = self.select_rows(keep);
    }

    /// A new set holding only the rows at `keep` (indices into this one), every column
    /// copied row by row; the rest is not cloned.
    pub fn select_rows(&self, keep: &[usize]) -> Snapshots {
        self.select(keep, true)
    }

    /// [`Snapshots::select_rows`] without the metric values (for what needs the rows'
    /// accounts, dates, outcomes and segments only).
    pub fn select_rows_without_metrics(&self, keep: &[usize]) -> Snapshots {
        self.select(keep, false)
    }

    fn select(&self, keep: &[usize], metrics: bool) -> Snapshots {
        fn pick<T: Copy>(v: &[T], keep: &[usize]) -> Vec<T> {
            keep.iter().map(|&i| v[i]).collect()
        }
        Snapshots {
            source: self.source.clone(),
            rows: keep.len(),
            account: pick(&self.account, keep),
            account_names: self.account_names.clone(),
            n_accounts: self.n_accounts,
            id_column: self.id_column.clone(),
            date: self.date.as_ref().map(|d| pick(d, keep)),
            date_column: self.date_column.clone(),
            outcome: self.outcome.as_ref().map(|o| pick(o, keep)),
            outcome_source: self.outcome_source.clone(),
            metrics: self
                .metrics
                .iter()
                .filter(|_| metrics)
                .map(|(n, m)| {
                    let m = match m {
                        MetricColumn::Numeric(v) => MetricColumn::Numeric(pick(v, keep)),
                        MetricColumn::Text { codes, labels } => MetricColumn::Text {
                            codes: pick(codes, keep),
                            labels: labels.clone(),
                        },
                    };
                    (n.clone(), m)
                })
                .collect(),
            segments: self
                .segments
                .iter()
                .map(|s| super::Segment {
                    name: s.name.clone(),
                    codes: pick(&s.codes, keep),
                    labels: s.labels.clone(),
                })
                .collect(),
            customer_since: self.customer_since.as_ref().map(|v| pick(v, keep)),
            churn_date: self.churn_date.as_ref().map(|v| pick(v, keep)),
            arr: self.arr.as_ref().map(|v| pick(v, keep)),
            source_row: pick(&self.source_row, keep),
            notes: self.notes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Horizon, LoadRequest};

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn req(metrics: &[(&str, InputKind)]) -> LoadRequest {
        LoadRequest {
            metrics: metrics.iter().map(|(c, k)| (c.to_string(), *k)).collect(),
            ..Default::default()
        }
    }

    const GOOD: &str = "account_id,snapshot_date,churned,nps,plan\n\
        a,2024-03-31,0,10,gold\n\
        a,2024-06-30,1,  ,silver\n\
        b,2024-03-31,no,-20,\n";

    #[test]
    fn loads_roles_metrics_and_missing_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.as_bytes());
        let s = load(
            &p,
            &req(&[("nps", InputKind::Numeric), ("plan", InputKind::Text)]),
        )
        .unwrap();
        assert_eq!(s.rows, 3);
        assert_eq!(s.n_accounts, 2);
        assert_eq!(s.outcome.as_deref(), Some(&[0, 1, 0][..]));
        match s.metric("nps").unwrap() {
            MetricColumn::Numeric(v) => {
                assert_eq!(v[0], 10.0);
                assert!(v[1].is_nan(), "whitespace-only is missing");
                assert_eq!(v[2], -20.0);
            }
            _ => panic!("numeric"),
        }
        assert!(s.metric("plan").unwrap().is_missing(2));
        assert_eq!(s.date_range().map(|(a, b)| b - a), Some(91));
    }

    /// A text for the batch tests: quoted fields with delimiters and line feeds, CRLF
    /// and empty lines, labels and accounts that recur across batches, missing values.
    fn batch_text(rows: usize, empty_lines: bool) -> String {
        // With empty lines (rows of missing values to polars) the role columns are named
        // otherwise, as they may not be missing.
        let mut t = String::from(if empty_lines {
            "acct,day,label,nps,plan,region,arr\r\n"
        } else {
            "account_id,snapshot_date,churned,nps,plan,region,arr\r\n"
        });
        for i in 0..rows {
            let plan = [
                "gold",
                "\"silver, \"\"old\"\"\"",
                "",
                "a label longer than twelve bytes",
            ][i % 4];
            let region = ["\"EU\nwest\"", "", "US"][i % 3];
            let nps = if i % 5 == 0 {
                String::new()
            } else {
                format!("{}", i as i64 % 201 - 100)
            };
            let outcome = ["0", "yes", "1", "no"][i % 4];
            t.push_str(&format!(
                "acct-{},2024-{:02}-01,{outcome},{nps},{plan},{region},{}.5\r\n",
                i / 3,
                i % 3 + 1,
                i * 10
            ));
            if empty_lines && i % 7 == 0 {
                t.push_str(["\n", "\r\n", "\n\n"][i % 3]);
            }
        }
        t
    }

    fn batch_req() -> LoadRequest {
        let mut r = req(&[
            ("nps", InputKind::Numeric),
            ("plan", InputKind::Text),
            ("arr", InputKind::Numeric),
        ]);
        r.roles.segments = vec!["region".into()];
        r
    }

    #[test]
    fn batches_give_what_one_read_gives() {
        let dir = tempfile::tempdir().unwrap();
        for empty_lines in [false, true] {
            let text = batch_text(300, empty_lines);
            let p = write(&dir, "s.csv", text.as_bytes());
            let whole = load_in_batches(&p, &batch_req(), usize::MAX, None, None).unwrap();
            if empty_lines {
                // One row of missing values per empty line.
                assert_eq!(whole.rows, 300 + 43 + 14);
            } else {
                assert_eq!((whole.rows, whole.n_accounts), (300, 100));
            }
            for batch_bytes in [1, 2, 37, 64, 65, 1000, text.len() - 1] {
                let s = load_in_batches(&p, &batch_req(), batch_bytes, None, None).unwrap();
                assert_eq!(
                    format!("{s:?}"),
                    format!("{whole:?}"),
                    "batches of {batch_bytes} bytes, empty lines {empty_lines}"
                );
            }
        }
    }

    /// A [`MetricSink`] writing down what it is handed: each metric's values row by row
    /// (labels as text, `None` where missing), refusing the batch `refuse_at` if given.
    #[derive(Default)]
    struct Recorder {
        rows: usize,
        batches: usize,
        numbers: Vec<Vec<f64>>,
        labels: Vec<Vec<Option<String>>>,
        refuse_at: Option<usize>,
    }

    impl MetricSink for Recorder {
        fn take(
            &mut self,
            batch: MetricBatch<'_>,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            assert_eq!(batch.first_row, self.rows, "batches come in file order");
            if self.refuse_at == Some(self.batches) {
                return Err(format!("refused rows from {}", batch.first_row + 1).into());
            }
            self.batches += 1;
            self.rows += batch.rows;
            let n = batch.columns.len();
            self.numbers.resize(n, Vec::new());
            self.labels.resize(n, Vec::new());
            for (k, (_, column)) in batch.columns.into_iter().enumerate() {
                match column {
                    BatchColumn::Numbers(v) => {
                        assert_eq!(v.len(), batch.rows);
                        self.numbers[k].extend_from_slice(v);
                        // A sink may leave its own buffer behind.
                        *v = vec![f64::NAN; 3];
                    }
                    BatchColumn::Labels { codes, labels } => {
                        assert_eq!(codes.len(), batch.rows);
                        self.labels[k].extend(codes.iter().map(|&c| {
                            (c != MetricColumn::MISSING_CODE).then(|| labels[c as usize].clone())
                        }));
                    }
                }
            }
            Ok(())
        }
    }

    impl Recorder {
        /// Whether it holds `whole`'s metric columns, and `streamed` is `whole` without them.
        fn check(&self, whole: &Snapshots, streamed: &Snapshots, what: &str) {
            assert_eq!(self.rows, whole.rows, "{what}");
            for (k, (_, column)) in whole.metrics.iter().enumerate() {
                match column {
                    MetricColumn::Numeric(v) => {
                        assert_eq!(format!("{v:?}"), format!("{:?}", self.numbers[k]), "{what}")
                    }
                    MetricColumn::Text { codes, labels } => {
                        let by_row: Vec<Option<String>> = codes
                            .iter()
                            .map(|&c| {
                                (c != MetricColumn::MISSING_CODE)
                                    .then(|| labels[c as usize].clone())
                            })
                            .collect();
                        assert_eq!(by_row, self.labels[k], "{what}");
                    }
                }
            }
            assert!(streamed.metrics.is_empty(), "{what}");
            let mut rest = whole.clone();
            rest.metrics.clear();
            assert_eq!(format!("{streamed:?}"), format!("{rest:?}"), "{what}");
        }
    }

    #[test]
    fn a_streaming_load_hands_over_what_a_whole_load_holds() {
        let dir = tempfile::tempdir().unwrap();
        // CSV, in batches of any size (empty lines: rows of missing values).
        for empty_lines in [false, true] {
            let text = batch_text(300, empty_lines);
            let p = write(&dir, "s.csv", text.as_bytes());
            let whole = load_in_batches(&p, &batch_req(), usize::MAX, None, None).unwrap();
            for batch_bytes in [1, 64, 1000, usize::MAX] {
                let mut rec = Recorder::default();
                let streamed =
                    load_in_batches(&p, &batch_req(), batch_bytes, None, Some(&mut rec)).unwrap();
                let what = format!("CSV batches of {batch_bytes} bytes, empty lines {empty_lines}");
                rec.check(&whole, &streamed, &what);
                if batch_bytes == 64 {
                    assert!(rec.batches > 10, "{what}: {} batches", rec.batches);
                }
            }
        }
        // Parquet, in batches of whole row groups.
        let n = 1000;
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(
                "account_id".into(),
                (0..n)
                    .map(|i| format!("acct-{}", i / 4))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "snapshot_date".into(),
                (0..n)
                    .map(|i| format!("2024-{:02}-01", i % 4 + 1))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "churned".into(),
                (0..n).map(|i| (i % 9 == 3) as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "nps".into(),
                (0..n)
                    .map(|i| (i % 6 != 0).then_some(i as f64 - 500.0))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "plan".into(),
                (0..n)
                    .map(|i| [Some("gold"), None, Some("a label longer than twelve bytes")][i % 3])
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "region".into(),
                (0..n).map(|i| ["EU", "US"][i % 2]).collect::<Vec<_>>(),
            ),
            Column::new("arr".into(), (0..n).map(|i| i as f64).collect::<Vec<_>>()),
        ])
        .unwrap();
        let p = dir.path().join("s.parquet");
        ParquetWriter::new(std::fs::File::create(&p).unwrap())
            .with_row_group_size(Some(64))
            .finish(&mut df)
            .unwrap();
        let p = p.to_str().unwrap();
        let whole =
            load_in_batches(p, &batch_req(), CSV_BATCH_BYTES, Some(usize::MAX), None).unwrap();
        for rows in [1, 64, 65, 300, usize::MAX] {
            let mut rec = Recorder::default();
            let streamed =
                load_in_batches(p, &batch_req(), CSV_BATCH_BYTES, Some(rows), Some(&mut rec))
                    .unwrap();
            rec.check(
                &whole,
                &streamed,
                &format!("Parquet batches of {rows} rows"),
            );
        }
    }

    #[test]
    fn a_sink_that_refuses_a_batch_stops_the_load_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", batch_text(300, false).as_bytes());
        let mut rec = Recorder {
            refuse_at: Some(2),
            ..Default::default()
        };
        let e = load_in_batches(&p, &batch_req(), 1000, None, Some(&mut rec)).unwrap_err();
        assert!(matches!(e, DataError::Refused(_)), "{e:?}");
        // The third batch was refused, and no batch after it was handed over.
        assert_eq!(rec.batches, 2);
        assert_eq!(e.to_string(), format!("refused rows from {}", rec.rows + 1));
    }

    #[test]
    fn a_mapped_file_reads_as_the_file_and_released_pages_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let text = batch_text(3000, true);
        let p = write(&dir, "s.csv", text.as_bytes());
        let mapped = FileText::open(&p, &p).unwrap();
        assert!(matches!(mapped, FileText::Mapped(_)));
        assert_eq!(mapped.bytes(), text.as_bytes());
        // Pages let go (any piece, aligned or not) fault in again with the same bytes.
        let b = mapped.bytes();
        for (from, to) in [(0, 10), (4095, 9000), (5000, b.len())] {
            mapped.release(&b[from..to]);
        }
        assert_eq!(mapped.bytes(), text.as_bytes());
        let read = FileText::Read(text.clone().into_bytes());
        read.release(read.bytes());
        assert_eq!(read.bytes(), mapped.bytes());
    }

    #[test]
    fn lifecycle_dates_can_be_checked_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let text = "account_id,snapshot_date,churned,nps,customer_since,churn_date\n\
              a,2024-03-31,0,10,2019-06-01,\n\
              b,2024-03-31,1,20,2020-01-01,2024-05-01\n";
        let p = write(&dir, "s.csv", text.as_bytes());
        let mut r = req(&[("nps", InputKind::Numeric)]);
        let kept = load(&p, &r).unwrap();
        assert!(kept.customer_since.is_some() && kept.churn_date.is_some());
        r.lifecycle_dates = Lifecycle::Checked;
        let s = load(&p, &r).unwrap();
        assert_eq!((&s.customer_since, &s.churn_date), (&None, &None));
        let mut rest = kept.clone();
        (rest.customer_since, rest.churn_date) = (None, None);
        assert_eq!(format!("{s:?}"), format!("{rest:?}"));
        // A bad date is refused all the same, in any batch.
        let bad = write(
            &dir,
            "b.csv",
            text.replace("2020-01-01", "someday").as_bytes(),
        );
        for batch_bytes in [1, usize::MAX] {
            let e = load_in_batches(&bad, &r, batch_bytes, None, None).unwrap_err();
            assert!(
                matches!(&e, DataError::BadValue { row: 2, .. })
                    && e.to_string().contains("'someday'"),
                "{e}"
            );
        }
        // The churn date a horizon needs is kept.
        r.horizon = Some(Horizon::parse("90d").unwrap());
        let s = load(&p, &r).unwrap();
        assert!(s.customer_since.is_none() && s.churn_date.is_some());
    }

    #[test]
    #[should_panic(expected = "derive the outcome with `load`")]
    fn a_streaming_load_cannot_derive_the_outcome() {
        let mut r = batch_req();
        r.horizon = Some(Horizon::parse("90d").unwrap());
        let _ = load_streaming("never-read.csv", &r, &mut Recorder::default());
    }

    /// The batches parsed by [`ChunkParser`] and stacked are the frame polars' own CSV
    /// reader gives of the whole text (kept as the oracle): quoted delimiters, quotes and
    /// line feeds, carriage returns, empty lines anywhere (rows of missing values), a last
    /// record without a line end, missing values, text that is no number.
    #[test]
    fn batches_parse_as_polars_reads_the_whole_text() {
        let dir = tempfile::tempdir().unwrap();
        let texts = [
            batch_text(120, false),
            batch_text(120, true),
            "\n\nid,x,y,z\n\na,1,\"p,q\",\n\n\nb,,\"\"\"\",2.5\n\n".to_string(),
            "id,x,y,z\r\na,1,é,3\r\nb,-0,\"\r\n\",1e3\r\nc,nan,,inf".to_string(),
            "id,x,y,z\na,1,b,2\n\r\n\n".to_string(),
            "id,x,y,z\na, 1,b,2\nc,one,d,3\n".to_string(),
        ];
        let (mut read, mut refused) = (0, 0);
        for (t, text) in texts.iter().enumerate() {
            let p = write(&dir, "o.csv", text.as_bytes());
            let source = Source::Path(p.clone());
            let mut probe = csv_frame(&p, &source, b',', &[]).unwrap();
            let columns: Vec<String> = probe
                .collect_schema()
                .unwrap()
                .iter_names()
                .map(|n| n.to_string())
                .collect();
            // Every column but the third is needed; the second or the last as a number.
            let needed: Vec<String> = (0..columns.len())
                .filter(|&i| i != 2)
                .map(|i| columns[i].clone())
                .collect();
            let (second, last) = (columns[1].as_str(), columns[columns.len() - 1].as_str());
            for as_float in [&[second][..], &[last], &[]] {
                let select: Vec<Expr> = needed.iter().map(|c| col(c.as_str())).collect();
                let oracle = csv_frame(&p, &source, b',', as_float)
                    .unwrap()
                    .select(&select)
                    .collect();
                let parser = ChunkParser::new(&columns, &needed, as_float, b',');
                for batch_bytes in [1, 7, 64, 1000, text.len() + 1] {
                    let mut batches = CsvBatches::new(text.as_bytes(), b',', batch_bytes);
                    let mut ours: Option<PolarsResult<DataFrame>> = None;
                    while let Some(batch) = batches.next_batch(&p).unwrap() {
                        let df = parser.parse(batch.text, batch.records, &parser.typed);
                        ours = Some(match (ours, df) {
                            (None, df) => df,
                            (Some(Ok(mut all)), Ok(df)) => match all.vstack_mut(&df) {
                                Ok(_) => Ok(all),
                                Err(e) => Err(e),
                            },
                            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
                        });
                    }
                    let ours = ours.expect("every text has a record");
                    let what = format!("text {t}, numbers {as_float:?}, batches {batch_bytes}");
                    match (&oracle, ours) {
                        (Ok(want), Ok(got)) => {
                            // The frame polars reads from the text has the names of the
                            // needed columns in the order they were asked for.
                            let got = got.select(needed.iter().map(|c| c.as_str())).unwrap();
                            assert!(got.equals_missing(want), "{what}: {got:?} {want:?}");
                            read += 1;
                        }
                        (Err(_), Err(_)) => refused += 1,
                        (want, got) => panic!("{what}: {want:?} {got:?}"),
                    }
                }
            }
        }
        // Both kinds of outcome were compared: frames, and text polars refuses as numbers.
        assert!(read > 50 && refused >= 10, "{read} read, {refused} refused");
    }

    #[test]
    fn errors_in_later_batches_name_the_files_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = vec!["account_id,snapshot_date,churned,nps,plan,region,arr".to_string()];
        for i in 0..300 {
            lines.push(format!(
                "a{},2024-0{}-01,{},{i},p{},r{},1",
                i / 3,
                i % 3 + 1,
                i % 2,
                i % 4,
                i % 3
            ));
        }
        let line_of = |row: usize| row;
        let bad_number = {
            let mut l = lines.clone();
            l[line_of(250)] = "acct-x,2024-01-01,0,n/a,gold,US,1".into();
            l.join("\n")
        };
        let ragged = {
            let mut l = lines.clone();
            l[line_of(260)] = "acct-y,2024-01-01,0,5,gold,US".into();
            l.join("\n")
        };
        lines[line_of(270)] = ",2024-01-01,0,5,gold,US,1".into();
        let no_id = lines.join("\n");
        for (name, text, want) in [
            (
                "number.csv",
                bad_number,
                "row 250, column 'nps': value 'n/a'",
            ),
            ("ragged.csv", ragged, "row 260"),
            ("id.csv", no_id, "row 270, column 'account_id'"),
        ] {
            let p = write(&dir, name, text.as_bytes());
            let whole = load_in_batches(&p, &batch_req(), usize::MAX, None, None)
                .unwrap_err()
                .to_string();
            assert!(whole.contains(want), "{whole}");
            for batch_bytes in [1, 100, 1000] {
                let e = load_in_batches(&p, &batch_req(), batch_bytes, None, None).unwrap_err();
                assert_eq!(e.to_string(), whole, "batches of {batch_bytes} bytes");
            }
        }
    }

    #[test]
    fn semicolon_delimiter_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.replace(',', ";").as_bytes());
        let s = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap();
        assert_eq!(s.rows, 3);
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(GOOD.replace('\n', "\r\n").as_bytes());
        let p = write(&dir, "s.csv", &bytes);
        let s = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap();
        assert_eq!(s.rows, 3);
        assert_eq!(s.account_name(0), "a");
    }

    #[test]
    fn missing_column_lists_closest_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.as_bytes());
        let e = load(&p, &req(&[("NPS ", InputKind::Numeric)])).unwrap_err();
        assert!(matches!(&e, DataError::MissingColumn { closest, .. } if closest[0] == "nps"));
        let msg = e.to_string();
        assert!(
            msg.contains("s.csv") && msg.contains("'nps'") && msg.contains("'plan'"),
            "{msg}"
        );
    }

    #[test]
    fn explicit_role_column_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.as_bytes());
        let mut r = req(&[]);
        r.roles.id = Some("customer".into());
        assert!(matches!(load(&p, &r), Err(DataError::MissingColumn { .. })));
    }

    #[test]
    fn bad_number_names_row_column_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.replace("-20", "n/a").as_bytes());
        let e = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap_err();
        assert!(
            matches!(&e, DataError::BadValue { row: 3, column, value, .. } if column == "nps" && value == "n/a"),
            "{e}"
        );
        assert!(e
            .to_string()
            .contains("s.csv, row 3, column 'nps': value 'n/a'"));
    }

    #[test]
    fn nan_and_infinity_rejected() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["NaN", "inf", "-Infinity"] {
            let p = write(&dir, "s.csv", GOOD.replace("10", bad).as_bytes());
            let e = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap_err();
            assert!(
                matches!(&e, DataError::BadValue { row: 1, .. }),
                "{bad}: {e}"
            );
            assert!(e.to_string().contains("finite"), "{e}");
        }
    }

    #[test]
    fn bad_date_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "s.csv",
            GOOD.replace("2024-06-30", "30/06/2024").as_bytes(),
        );
        let e = load(&p, &req(&[])).unwrap_err();
        assert!(
            matches!(&e, DataError::BadValue { row: 2, column, .. } if column == "snapshot_date")
        );
        assert!(e.to_string().contains("YYYY-MM-DD"));
    }

    #[test]
    fn bad_outcome_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.replace(",no,", ",maybe,").as_bytes());
        let e = load(&p, &req(&[])).unwrap_err();
        assert!(matches!(&e, DataError::BadValue { row: 3, value, .. } if value == "maybe"));
    }

    #[test]
    fn missing_id_and_date_values_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.replace("b,2024", ",2024").as_bytes());
        assert!(matches!(
            load(&p, &req(&[])),
            Err(DataError::MissingValue { row: 3, .. })
        ));
        let p = write(&dir, "s.csv", GOOD.replace("a,2024-06-30", "a,").as_bytes());
        assert!(matches!(
            load(&p, &req(&[])),
            Err(DataError::MissingValue { row: 2, .. })
        ));
    }

    #[test]
    fn duplicate_account_date_names_both_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "s.csv",
            GOOD.replace("2024-06-30", "2024-03-31").as_bytes(),
        );
        let e = load(&p, &req(&[])).unwrap_err();
        assert!(
            matches!(&e, DataError::DuplicateKey { first: 1, second: 2, account, .. } if account == "a"),
            "{e}"
        );
        assert!(e.to_string().contains("2024-03-31"));
    }

    #[test]
    fn one_class_outcome_rejected_when_required() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.replace(",1,", ",0,").as_bytes());
        let mut r = req(&[]);
        assert!(load(&p, &r).is_ok(), "scoring does not need both classes");
        r.outcome = OutcomeNeed::Required;
        assert!(matches!(
            load(&p, &r),
            Err(DataError::OneClass {
                class: "retained",
                ..
            })
        ));
    }

    #[test]
    fn required_outcome_absent_suggests_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "s.csv",
            b"account_id,snapshot_date,churn_date\na,2024-01-01,\n",
        );
        let mut r = req(&[]);
        r.outcome = OutcomeNeed::Required;
        let e = load(&p, &r).unwrap_err();
        assert!(matches!(e, DataError::NoOutcome { .. }));
        assert!(e.to_string().contains("--horizon"));
    }

    #[test]
    fn empty_header_only_and_binary_files_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "e.csv", b"");
        assert!(matches!(load(&p, &req(&[])), Err(DataError::Empty { .. })));
        let p = write(&dir, "h.csv", b"account_id,snapshot_date,churned\n");
        assert!(matches!(load(&p, &req(&[])), Err(DataError::NoRows { .. })));
        let p = write(&dir, "b.csv", &[0x00, 0x01, 0xFF, 0x00, 0x10]);
        assert!(matches!(
            load(&p, &req(&[])),
            Err(DataError::NotTabular { .. })
        ));
        let p = write(&dir, "fake.parquet", GOOD.as_bytes());
        assert!(matches!(
            load(&p, &req(&[])),
            Err(DataError::NotTabular {
                format: "Parquet",
                ..
            })
        ));
        assert!(matches!(
            load("/nonexistent/x.csv", &req(&[])),
            Err(DataError::Io { .. })
        ));
    }

    #[test]
    fn latin1_is_located_and_readable_with_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = GOOD.replace("silver", "caf").into_bytes();
        let at = bytes.iter().position(|&b| b == b'f').unwrap() + 1;
        bytes.insert(at, 0xE9); // é in Latin-1
        let p = write(&dir, "l.csv", &bytes);
        let r = req(&[("plan", InputKind::Text)]);
        let e = load(&p, &r).unwrap_err();
        assert!(matches!(&e, DataError::Encoding { row: 2, .. }), "{e}");
        assert!(e.to_string().contains("--encoding latin1"));
        let mut r = r;
        r.encoding = Encoding::Latin1;
        let s = load(&p, &r).unwrap();
        match s.metric("plan").unwrap() {
            MetricColumn::Text { labels, .. } => assert!(labels.contains(&"café".to_string())),
            _ => panic!("text"),
        }
    }

    #[test]
    fn no_id_column_numbers_rows_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", b"x,churned\n1,0\n2,1\n");
        let s = load(&p, &req(&[("x", InputKind::Numeric)])).unwrap();
        assert_eq!(s.n_accounts, 2);
        assert!(s.date.is_none());
        assert_eq!(s.account_name(1), "2");
        assert!(s.notes.warnings[0].contains("no account id"));
    }

    #[test]
    fn outcome_from_churn_date_with_censoring() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "account_id,snapshot_date,churn_date\n\
            a,2024-01-01,2024-05-15\n\
            a,2024-04-01,2024-05-15\n\
            a,2024-07-01,2024-05-15\n\
            b,2024-01-01,\n\
            b,2024-04-01,\n\
            b,2024-07-01,\n\
            c,2024-07-01,2024-08-01\n";
        let p = write(&dir, "s.csv", csv.as_bytes());
        let mut r = req(&[]);
        r.horizon = Some(Horizon::Days(90));
        r.outcome = OutcomeNeed::Required;
        let s = load(&p, &r).unwrap();
        // last date covered: 2024-08-01 (c's churn). a@01-01: churn 135 days later → 0;
        // a@04-01: churn within 90d → 1; a@07-01: after churn → dropped; b@01-01, b@04-01 → 0;
        // b@07-01: horizon past 08-01 with no churn → censored; c@07-01: churn within → 1.
        assert_eq!(s.outcome.as_deref(), Some(&[0, 1, 0, 0, 1][..]));
        assert_eq!(s.notes.after_churn, 1);
        assert_eq!(s.notes.censored, 1);
        assert_eq!(s.source_row, vec![1, 2, 4, 5, 7]);
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "s.csv", GOOD.as_bytes());
        let mut df = LazyCsvReader::new(PlRefPath::new(p.as_str()))
            .finish()
            .unwrap()
            .collect()
            .unwrap();
        let pq = dir.path().join("s.parquet");
        let f = std::fs::File::create(&pq).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
        let s = load(pq.to_str().unwrap(), &req(&[("nps", InputKind::Numeric)])).unwrap();
        assert_eq!(s.rows, 3);
        assert_eq!(s.outcome.as_deref(), Some(&[0, 1, 0][..]));
    }

    /// A Parquet file of many row groups read in batches of every size gives what one read
    /// gives (labels interned across batches), and a bad value in a later batch is named
    /// by its row in the file.
    #[test]
    fn parquet_batches_give_what_one_read_gives() {
        let dir = tempfile::tempdir().unwrap();
        let n = 1000;
        let frame = |bad_row: Option<usize>| {
            let ids: Vec<String> = (0..n).map(|i| format!("account-{}", i / 10)).collect();
            let dates: Vec<String> = (0..n)
                .map(|i| format!("2024-{:02}-01", 1 + i % 10))
                .collect();
            let plan: Vec<Option<&str>> = (0..n)
                .map(|i| [Some("pro"), None, Some("a plan with a long name")][i % 3])
                .collect();
            let nps: Vec<Option<f64>> = (0..n)
                .map(|i| match i {
                    _ if Some(i + 1) == bad_row => Some(f64::NAN),
                    _ if i % 7 == 0 => None,
                    _ => Some(i as f64 / 10.0),
                })
                .collect();
            let mut df = DataFrame::new_infer_height(vec![
                Column::new("account_id".into(), ids),
                Column::new("snapshot_date".into(), dates),
                Column::new(
                    "churned".into(),
                    (0..n as i64)
                        .map(|i| (i % 10 == 9) as i64)
                        .collect::<Vec<_>>(),
                ),
                Column::new("nps".into(), nps),
                Column::new("plan".into(), plan),
            ])
            .unwrap();
            let p = dir.path().join(format!("s{bad_row:?}.parquet"));
            let f = std::fs::File::create(&p).unwrap();
            ParquetWriter::new(f)
                .with_row_group_size(Some(64))
                .finish(&mut df)
                .unwrap();
            p.to_str().unwrap().to_string()
        };
        let req = req(&[("nps", InputKind::Numeric), ("plan", InputKind::Text)]);
        let good = frame(None);
        let whole = load_in_batches(&good, &req, CSV_BATCH_BYTES, Some(usize::MAX), None).unwrap();
        assert_eq!((whole.rows, whole.n_accounts), (n, n / 10));
        let bad = frame(Some(777));
        for rows in [1, 63, 64, 65, 300] {
            let s = load_in_batches(&good, &req, CSV_BATCH_BYTES, Some(rows), None).unwrap();
            assert_eq!(
                format!("{s:?}"),
                format!("{whole:?}"),
                "batches of {rows} rows"
            );
            let e = load_in_batches(&bad, &req, CSV_BATCH_BYTES, Some(rows), None).unwrap_err();
            assert!(
                matches!(&e, DataError::BadValue { row: 777, .. }),
                "batches of {rows} rows: {e}"
            );
        }
    }

    #[test]
    fn parquet_floats_with_nulls_become_nan_and_a_nan_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let frame = |nps: &[Option<f64>]| {
            DataFrame::new_infer_height(vec![
                Column::new("account_id".into(), ["a", "a", "b", "b"]),
                Column::new(
                    "snapshot_date".into(),
                    ["2024-03-31", "2024-06-30", "2024-03-31", "2024-06-30"],
                ),
                Column::new("churned".into(), [0i64, 1, 0, 0]),
                Column::new("nps".into(), nps),
            ])
            .unwrap()
        };
        let save = |name: &str, mut df: DataFrame| {
            let pq = dir.path().join(name);
            let f = std::fs::File::create(&pq).unwrap();
            ParquetWriter::new(f).finish(&mut df).unwrap();
            pq.to_str().unwrap().to_string()
        };
        let req = req(&[("nps", InputKind::Numeric)]);
        let good = save(
            "good.parquet",
            frame(&[Some(10.0), None, Some(-20.0), None]),
        );
        let s = load(&good, &req).unwrap();
        let MetricColumn::Numeric(v) = s.metric("nps").unwrap() else {
            panic!("numeric")
        };
        assert_eq!(v[0], 10.0);
        assert!(v[1].is_nan() && v[3].is_nan());
        assert_eq!(v[2], -20.0);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let p = save("bad.parquet", frame(&[Some(10.0), None, Some(bad), None]));
            let e = load(&p, &req).unwrap_err();
            assert!(
                matches!(&e, DataError::BadValue { row: 3, .. }),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn labels_are_interned_across_chunks_whatever_their_length() {
        let long = "a label longer than twelve bytes";
        let first = Series::new(
            "c".into(),
            [
                Some("x"),
                Some(" x "),
                None,
                Some(long),
                Some("y"),
                Some(long),
            ],
        );
        let second = Series::new("c".into(), [Some(long), Some("x"), Some(""), Some("y ")]);
        let mut s = first.clone();
        s.append(&second).unwrap();
        assert_eq!(s.n_chunks(), 2);
        let ctx = Ctx {
            path: "p",
            column: "c",
            first_row: 0,
        };
        let codes_of = |batches: &[&Series], missing: Option<&str>| {
            let mut interner = Interner::default();
            let mut codes = Vec::new();
            for b in batches {
                interner.push(b, ctx, missing, &mut codes).unwrap();
            }
            (codes, interner.into_labels())
        };
        let m = MetricColumn::MISSING_CODE;
        // One series of two chunks, or two batches: the same codes.
        for batches in [vec![&s], vec![&first, &second]] {
            let (codes, labels) = codes_of(&batches, None);
            assert_eq!(labels, ["x", long, "y"]);
            assert_eq!(codes, [0, 0, m, 1, 2, 1, 1, 0, m, 2]);
            let (codes, labels) = codes_of(&batches, Some("(missing)"));
            assert_eq!(labels, ["x", "(missing)", long, "y"]);
            assert_eq!(codes, [0, 0, 1, 2, 3, 2, 2, 0, 1, 3]);
        }
        // Parsed once per label; a bad label names its first row, counted from the
        // batch's first row in the file.
        let dates = Series::new("d".into(), ["2024-03-31", "2024-03-31", "", "2024-13-01"]);
        let mut days = Vec::new();
        let e = to_days(&dates, ctx, None, &mut days).unwrap_err();
        assert!(matches!(&e, DataError::BadValue { row: 4, value, .. } if value == "2024-13-01"));
        let later = Ctx {
            first_row: 100,
            ..ctx
        };
        let e = to_days(&dates, later, None, &mut days).unwrap_err();
        assert!(matches!(&e, DataError::BadValue { row: 104, .. }), "{e}");
        let flags = Series::new("b".into(), [Some("yes"), None, Some(" no"), Some("yes")]);
        let mut v = vec![0.5];
        to_bool(&flags, ctx, &mut v).unwrap();
        assert_eq!((v[0], v[1], v[3], v[4]), (0.5, 1.0, 0.0, 1.0));
        assert!(v[2].is_nan());
    }

    #[test]
    fn inline_keys_are_polars_views() {
        let texts = [
            "",
            "a",
            "é",
            "2024-03-31",
            "ACC-0000123",
            "twelve bytes",
            "ünïcödé!",
        ];
        let s = Series::new("c".into(), texts);
        let ca = s.str().unwrap();
        let views = ca.downcast_iter().next().unwrap().views();
        for (t, v) in texts.iter().zip(views.iter()) {
            assert!(t.len() <= INLINE && v.is_inline());
            assert_eq!(inline_key(t.as_bytes()), v.as_u128(), "{t:?}");
            assert_eq!(inline_label(inline_key(t.as_bytes())), *t);
        }
    }

    #[test]
    fn interned_codes_follow_the_trimmed_text_either_side_of_the_inline_length() {
        // Labels of 11 to 14 bytes, padded with blanks or not: a padded view (inline or
        // not) takes the code of the label it trims to; codes come in order of first sight.
        let words = [
            "eleven byte",
            "twelve bytes",
            "thirteen byte",
            "fourteen bytes",
            "ünïcödé",
            "x",
        ];
        let pads = ["", " ", "  ", "\t", "        "];
        let mut texts = Vec::new();
        for i in 0..240usize {
            let w = words[(i * 7 + i / 5) % words.len()];
            let (l, r) = (pads[i % pads.len()], pads[(i / 3) % pads.len()]);
            texts.push(format!("{l}{w}{r}"));
        }
        texts[17] = "   ".into();
        let mut expect_codes = Vec::new();
        let mut expect_labels: Vec<String> = Vec::new();
        for t in &texts {
            let t = t.trim();
            if t.is_empty() {
                expect_codes.push(MetricColumn::MISSING_CODE);
                continue;
            }
            let c = match expect_labels.iter().position(|l| l == t) {
                Some(c) => c,
                None => {
                    expect_labels.push(t.to_string());
                    expect_labels.len() - 1
                }
            };
            expect_codes.push(c as u32);
        }
        let ctx = Ctx {
            path: "p",
            column: "c",
            first_row: 0,
        };
        for cut in [1, 60, 239] {
            let mut interner = Interner::default();
            let (mut codes, mut seen) = (Vec::new(), Vec::new());
            for batch in [&texts[..cut], &texts[cut..]] {
                let s = Series::new("c".into(), batch);
                interner.push(&s, ctx, None, &mut codes).unwrap();
                interner.extend_labels(&mut seen);
                assert_eq!(seen, expect_labels[..seen.len()], "cut {cut}");
            }
            assert_eq!(codes, expect_codes, "cut {cut}");
            assert_eq!(seen, expect_labels, "cut {cut}");
            assert_eq!(interner.into_labels(), expect_labels, "cut {cut}");
        }
    }

    #[test]
    fn truncated_parquet_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "t.parquet", b"PAR1\x15\x00\x15");
        assert!(matches!(
            load(&p, &req(&[])),
            Err(DataError::NotTabular {
                format: "Parquet",
                ..
            })
        ));
    }
}
