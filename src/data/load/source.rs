//! Opening a snapshot file: its format, its bytes (mapped, read, or re-encoded from
//! Latin-1), the CSV delimiter, the lazy frames polars reads, and errors that name the file.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Csv,
    Parquet,
}

/// Where the bytes come from.
pub(super) enum Source {
    Path(String),
    /// Bytes in memory (standard input, the bundled sample, re-encoded text), held as
    /// polars' shared buffer so that each scan of them is a reference, not a copy.
    Bytes(ScanSources),
}

impl Source {
    pub(super) fn in_memory(bytes: Vec<u8>) -> Source {
        Source::Bytes(ScanSources::Buffers(Arc::from(vec![bytes.into()])))
    }

    /// The in-memory bytes (empty for a file path).
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Source::Bytes(ScanSources::Buffers(b)) => b.first().map_or(&[], |b| b),
            _ => &[],
        }
    }
}

/// The column names of a snapshot file, in file order (CSV header or Parquet schema).
pub fn column_names(path: &str, req: &LoadRequest) -> Result<Vec<String>, DataError> {
    let (format, source, sheet) = open(path, req)?;
    let mut probe = match format {
        Format::Csv => csv_frame(path, &source, delimiter(&source, sheet.as_ref(), req)?, &[])?,
        Format::Parquet => parquet_frame(path)?,
    };
    let schema = probe
        .collect_schema()
        .map_err(|e| polars_error(path, format, &source, e))?;
    Ok(schema.iter_names().map(|n| n.to_string()).collect())
}

/// Where a spreadsheet's CSV text came from: the worksheet, and its row of the header.
pub(super) struct SheetOrigin {
    pub(super) name: String,
    pub(super) header_row: usize,
}

/// Open the file and decide its format; a spreadsheet's worksheet is read into CSV text.
pub(super) fn open(
    path: &str,
    req: &LoadRequest,
) -> Result<(Format, Source, Option<SheetOrigin>), DataError> {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if ext
        .as_deref()
        .is_some_and(|e| sheet::EXTENSIONS.contains(&e))
        && path != "-"
    {
        let s = sheet::read(
            path,
            req.formats.sheet.as_deref(),
            req.formats.decimal_comma == Some(true),
        )?;
        let origin = SheetOrigin {
            name: s.name,
            header_row: s.header_row,
        };
        return Ok((Format::Csv, Source::in_memory(s.csv), Some(origin)));
    }
    let (format, source) = open_text(path, req.encoding)?;
    Ok((format, source, None))
}

/// Open a CSV or Parquet file and decide which it is.
fn open_text(path: &str, encoding: Encoding) -> Result<(Format, Source), DataError> {
    if path == crate::data::SAMPLE_PATH && !Path::new(path).exists() {
        return Ok((
            Format::Csv,
            Source::in_memory(crate::data::SAMPLE_CSV.to_vec()),
        ));
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
pub(super) fn text_bytes(mut bytes: Vec<u8>, encoding: Encoding) -> Vec<u8> {
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

/// The delimiter the user gave, or the one the header suggests (a worksheet's text is
/// written with commas).
pub(super) fn delimiter(
    source: &Source,
    sheet: Option<&SheetOrigin>,
    req: &LoadRequest,
) -> Result<u8, DataError> {
    match (sheet, req.delimiter) {
        (Some(_), _) => Ok(b','),
        (None, Some(d)) => Ok(d),
        (None, None) => sniff_delimiter(source),
    }
}

pub(super) fn csv_frame(
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
pub(super) fn sniff_delimiter(source: &Source) -> Result<u8, DataError> {
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

pub(super) fn parquet_frame(path: &str) -> Result<LazyFrame, DataError> {
    LazyFrame::scan_parquet(PlRefPath::new(path), ScanArgsParquet::default()).map_err(|e| {
        DataError::NotTabular {
            path: path.into(),
            format: "Parquet",
            message: e.to_string(),
        }
    })
}

/// Turn a polars error into a user-facing one; an encoding problem is located by row.
pub(super) fn polars_error(
    path: &str,
    format: Format,
    source: &Source,
    e: PolarsError,
) -> DataError {
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
pub(super) fn locate_bad_utf8(path: &str, source: &Source) -> Option<DataError> {
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

/// The first rows of a file, every column as text (a spreadsheet's cells as the loader
/// reads them), for guessing what the columns hold.
pub struct TextSample {
    /// Each column's name and values (`None` where empty), in file order.
    pub columns: Vec<(String, Vec<Option<String>>)>,
    /// The CSV delimiter found (`None` for Parquet).
    pub delimiter: Option<u8>,
    /// The worksheet read, for a spreadsheet.
    pub sheet: Option<String>,
}

/// The first `rows` rows of the file at `path`, every column as text.
pub fn text_sample(path: &str, req: &LoadRequest, rows: u32) -> Result<TextSample, DataError> {
    let (format, source, sheet) = open(path, req)?;
    let delimiter = match format {
        Format::Csv => Some(delimiter(&source, sheet.as_ref(), req)?),
        Format::Parquet => None,
    };
    let frame = match format {
        Format::Csv => csv_frame(path, &source, delimiter.unwrap_or(b','), &[])?,
        Format::Parquet => parquet_frame(path)?,
    };
    let df = frame
        .slice(0, rows)
        .collect()
        .map_err(|e| polars_error(path, format, &source, e))?;
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        let text = c
            .cast(&DataType::String)
            .map_err(|e| polars_error(path, format, &source, e))?;
        let values = text
            .str()
            .expect("cast to text")
            .iter()
            .map(|v| v.filter(|s| !s.trim().is_empty()).map(String::from))
            .collect();
        columns.push((c.name().to_string(), values));
    }
    Ok(TextSample {
        columns,
        delimiter,
        sheet: sheet.map(|s| s.name),
    })
}
