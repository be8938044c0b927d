//! Reading a file a batch at a time: Parquet by whole row groups, CSV cut into batches of
//! whole records in place and parsed by polars on the pool while the main thread converts.

use super::*;

/// Rows per Parquet batch at most, when the batches are sized by the rows per thread
/// (whole row groups: one larger group is one batch).
pub(super) const PARQUET_BATCH_ROWS: usize = 1 << 20;

/// Reads the `needed` columns of a Parquet file a batch of row groups at a time, each batch
/// converted into the targets while the next is read; returns the number of rows.
///
/// Memory then holds the converted columns and two batches' frames (the one converting and
/// the one read ahead), not the whole frame besides: at 10 M rows 1.6 GB less at the peak,
/// and as much less fresh memory for the kernel to fault in and zero (a batch's buffers
/// are the allocator's to reuse for a later one). polars decodes each batch in parallel. A batch is the next row groups up to
/// `batch_rows` rows or more (`None`: a quarter of the rows per thread, at most
/// [`PARQUET_BATCH_ROWS`]).
pub(super) fn append_parquet(
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
    // The batches' first rows and lengths: the next row groups up to `want` rows or more.
    let mut batches = Vec::new();
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
        if len > 0 {
            batches.push((offset, len));
            offset += len;
        }
    }
    let read = |(offset, len): (usize, usize)| -> Result<DataFrame, DataError> {
        let mut reader = ParquetReader::new(open()?)
            .with_columns(Some(needed.to_vec()))
            .with_slice(Some((offset, len)));
        reader.set_metadata(meta.clone());
        reader.finish().map_err(bad)
    };
    // The next batch is read while this one converts: polars decodes on its own pool
    // while the conversion runs on the global one, so neither waits for the other's
    // slowest column. The reader hands over one frame at a time (a rendezvous), so memory
    // holds two batches' frames at most.
    std::thread::scope(|scope| -> Result<(), DataError> {
        let (send, frames) = std::sync::mpsc::sync_channel::<Result<DataFrame, DataError>>(0);
        let read = &read;
        let batches = &batches;
        scope.spawn(move || {
            for &b in batches {
                let df = read(b);
                let failed = df.is_err();
                if send.send(df).is_err() || failed {
                    break;
                }
            }
        });
        for (&(offset, len), df) in batches.iter().zip(frames) {
            append_frame(path, targets, df?, offset)?;
            end_batch(path, targets, stream, offset, len)?;
        }
        Ok(())
    })?;
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
pub(super) struct ChunkParser {
    pub(super) options: CsvParseOptions,
    /// Every column of the file: the numeric ones as `Float64`, the others as text.
    pub(super) typed: Schema,
    /// Every column as text, to read a batch again when polars refuses a number.
    pub(super) text: Schema,
    /// The needed columns' positions, in file order.
    pub(super) projection: Vec<usize>,
    pub(super) has_float: bool,
}

impl ChunkParser {
    /// A parser of the `needed` columns of a text with `columns` (the header's names).
    pub(super) fn new(
        columns: &[String],
        needed: &[String],
        as_float: &[&str],
        delimiter: u8,
        decimal_comma: bool,
    ) -> Self {
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
                .with_decimal_comma(decimal_comma)
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
    pub(super) fn frame(&self, text: &[u8], records: usize) -> PolarsResult<DataFrame> {
        match self.parse(text, records, &self.typed) {
            Err(first) if self.has_float => {
                self.parse(text, records, &self.text).map_err(|_| first)
            }
            read => read,
        }
    }

    /// The needed columns of `text` read with `schema`.
    pub(super) fn parse(
        &self,
        text: &[u8],
        records: usize,
        schema: &Schema,
    ) -> PolarsResult<DataFrame> {
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
pub(super) fn append_batches(
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
    tracing::info!(
        batches = n_batches,
        "load: CSV read and converted in batches"
    );
    Ok(rows)
}

/// Bytes of CSV per batch at most (and at least one whole record): the memory a batch
/// in flight takes.
pub(super) const CSV_BATCH_BYTES: usize = 32 << 20;

/// Bytes of CSV per batch at least, unless the batch is the whole text.
pub(super) const MIN_CSV_BATCH_BYTES: usize = 1 << 20;

pub(super) fn ragged(path: &str, r: Ragged) -> DataError {
    DataError::Ragged {
        path: path.into(),
        row: r.row,
        expected: r.expected,
        found: r.found,
    }
}

/// A CSV text cut into batches of whole records, its field counts checked on the way
/// (polars would pad a short record with nulls and cut a long one; see [`super::fields`]).
pub(super) struct CsvBatches<'a> {
    pub(super) text: &'a [u8],
    pub(super) counter: FieldCounter,
    pub(super) batch_bytes: usize,
    /// Bytes fed to the counter so far.
    pub(super) fed: usize,
    /// Where the next batch starts: past the records of the last one.
    pub(super) next: usize,
    /// Records in the batches so far.
    pub(super) records_at: usize,
    pub(super) done: bool,
}

/// A batch of whole records (the header left out).
pub(super) struct Batch<'a> {
    pub(super) text: &'a [u8],
    /// The records in the batch (empty lines aside).
    pub(super) records: usize,
}

impl<'a> CsvBatches<'a> {
    pub(super) fn new(text: &'a [u8], delimiter: u8, batch_bytes: usize) -> Self {
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
    pub(super) fn next_batch(&mut self, path: &str) -> Result<Option<Batch<'a>>, DataError> {
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
pub(super) enum FileText {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileText {
    pub(super) fn open(path: &str, file: &str) -> Result<FileText, DataError> {
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

    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            FileText::Mapped(m) => m,
            FileText::Read(v) => v,
        }
    }

    /// Lets go of the pages of `part` (a piece of the text that has been parsed): they no
    /// longer count in the process's memory, and stay in the system's file cache.
    pub(super) fn release(&self, part: &[u8]) {
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
