//! The per-snapshot score table `score` writes, as CSV or Parquet, streamed from the score
//! buffers a batch of rows at a time (10M rows never become one frame or one string).

use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;

use polars::prelude::*;
use rayon::prelude::*;

use super::{Detail, DetailRows, Scored, REASONS};
use crate::data::parse::{format_day, Day};
use crate::data::Snapshots;

/// Rows per Parquet row group, and per CSV formatting batch.
const BATCH: usize = 1 << 18;
/// Rows one worker formats as CSV at a time.
const CSV_PIECE: usize = 1 << 14;

/// Output file formats of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated text.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// `.parquet` / `.pq` is Parquet, anything else (and `-`) CSV.
    pub fn from_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            TableFormat::Parquet
        } else {
            TableFormat::Csv
        }
    }
}

/// Write the score table of `s` (one row per snapshot of `data`) in `format`.
pub fn write_scores(
    data: &Snapshots,
    s: &Scored,
    detail: &Detail,
    format: TableFormat,
    w: &mut dyn Write,
) -> io::Result<()> {
    write_in_batches(data, s, detail, format, w, BATCH)
}

/// [`write_scores`] with `batch` rows per Parquet row group and CSV formatting round.
fn write_in_batches(
    data: &Snapshots,
    s: &Scored,
    detail: &Detail,
    format: TableFormat,
    w: &mut dyn Write,
    batch: usize,
) -> io::Result<()> {
    match format {
        TableFormat::Csv => write_scores_csv(data, s, detail, w, batch),
        TableFormat::Parquet => write_scores_parquet(data, s, detail, w, batch),
    }
}

/// The score table as Parquet, one row group per `batch` rows. The row groups' frames are
/// built and their columns encoded (dictionaries, pages) a few at a time in parallel, by a
/// second writer to nowhere with the same schema and options, and written in order: the
/// same file as polars' writer gives batch by batch, which does all of it on one thread.
/// (polars still compresses the pages on this thread as it writes them.)
fn write_scores_parquet(
    data: &Snapshots,
    s: &Scored,
    detail: &Detail,
    w: &mut dyn Write,
    batch: usize,
) -> io::Result<()> {
    let err = io::Error::other;
    let frame = |start: usize| score_frame(data, s, detail, start..(start + batch).min(data.rows));
    let schema = score_frame(data, s, detail, 0..0)
        .map_err(err)?
        .schema()
        .clone();
    let writer = ParquetWriter::new(w).batched(&schema).map_err(err)?;
    let encoder = ParquetWriter::new(io::sink())
        .batched(&schema)
        .map_err(err)?;
    let starts: Vec<usize> = (0..data.rows).step_by(batch).collect();
    // As many row groups in memory at a time as there are threads.
    for window in starts.chunks(rayon::current_num_threads()) {
        let encoded: Vec<_> = window
            .par_iter()
            .map(|&start| {
                let df = frame(start)?;
                encoder
                    .encode_and_compress(&df)
                    .collect::<PolarsResult<Vec<_>>>()
            })
            .collect::<PolarsResult<_>>()
            .map_err(err)?;
        for row_groups in encoded {
            writer.write_row_groups(row_groups).map_err(err)?;
        }
    }
    writer.finish().map_err(err)?;
    Ok(())
}

/// Column names of the score table, in order.
fn header(data: &Snapshots, s: &Scored, detail: &Detail) -> Vec<String> {
    let mut h = vec![match &data.account_names {
        Some(_) => data.id_column.clone(),
        None => "row".to_string(),
    }];
    if let (Some(_), Some(name)) = (&data.date, &data.date_column) {
        h.push(name.clone());
    }
    h.push("score".into());
    h.extend(detail.group_labels.iter().map(|l| format!("group_{l}")));
    h.push("tier".into());
    if s.probability.is_some() {
        h.push("p_churn".into());
    }
    for r in 1..=REASONS {
        h.push(format!("reason_{r}"));
        h.push(format!("reason_{r}_points"));
    }
    h
}

/// Rows `rows` of the score table as a frame: id, date, score, group scores, tier,
/// probability, reasons. Scores are rounded to 2 decimals, probabilities to 6.
pub fn score_frame(
    data: &Snapshots,
    s: &Scored,
    detail: &Detail,
    rows: Range<usize>,
) -> PolarsResult<DataFrame> {
    let names = header(data, s, detail);
    let mut d = DetailRows::default();
    detail.fill(rows.clone(), &mut d);
    let mut name = names.iter().map(|n| PlSmallStr::from(n.as_str()));
    let mut next = || name.next().expect("a name per column");
    let n = rows.len();
    let mut cols: Vec<Column> = Vec::with_capacity(names.len());
    let ids: StringChunked = match &data.account_names {
        Some(names) => StringChunked::from_iter_values(
            next(),
            data.account[rows.clone()]
                .iter()
                .map(|&a| names[a as usize].as_str()),
        ),
        None => StringChunked::from_iter_values(
            next(),
            data.source_row[rows.clone()].iter().map(|r| r.to_string()),
        ),
    };
    cols.push(ids.into_series().into());
    if let (Some(d), Some(_)) = (&data.date, &data.date_column) {
        let days = Int32Chunked::from_slice(next(), &d[rows.clone()]);
        cols.push(days.into_series().cast(&DataType::Date)?.into());
    }
    let rounded = |name: PlSmallStr, v: &[f64], digits: i32| -> Column {
        let f = 10f64.powi(digits);
        Float64Chunked::from_iter_options(
            name,
            v.iter()
                .map(|&x| (!x.is_nan()).then(|| (x * f).round() / f)),
        )
        .into_series()
        .into()
    };
    cols.push(rounded(next(), &s.score[rows.clone()], 2));
    for g in &d.groups {
        cols.push(rounded(next(), g, 2));
    }
    let tiers = StringChunked::from_iter_options(
        next(),
        s.tier[rows.clone()]
            .iter()
            .map(|&t| s.tier_names.get(t as usize).map(String::as_str)),
    );
    cols.push(tiers.into_series().into());
    if let Some(p) = &s.probability {
        cols.push(rounded(next(), &p[rows.clone()], 6));
    }
    for r in 0..REASONS {
        let at = |i: usize| i * REASONS + r;
        let names = StringChunked::from_iter_options(
            next(),
            (0..n).map(|i| {
                detail
                    .metric_names
                    .get(d.reasons[at(i)] as usize)
                    .map(String::as_str)
            }),
        );
        cols.push(names.into_series().into());
        let pts = Float64Chunked::from_iter_options(
            next(),
            (0..n).map(|i| {
                (d.reasons[at(i)] != u16::MAX)
                    .then(|| (d.points[at(i)] as f64 * 100.0).round() / 100.0)
            }),
        );
        cols.push(pts.into_series().into());
    }
    DataFrame::new(n, cols)
}

/// `field` as a CSV field: quoted (with quotes doubled) when it holds a comma, a quote or a
/// line break, as it is otherwise.
fn csv_field(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// `x` rounded to `digits` decimals (at most 6), written as the shortest decimal that reads
/// back as the rounded value — what polars writes for it (`26.24`, `100.0`, `0.000123`);
/// nothing for NaN.
fn push_rounded(out: &mut Vec<u8>, x: f64, digits: u32) {
    if x.is_nan() {
        return;
    }
    let scale = 10u64.pow(digits);
    let v = x * scale as f64;
    if v.abs() >= 9.0e15 {
        // Out of the exact-integer range (never for scores or probabilities).
        let _ = write!(out, "{:?}", v.round() / scale as f64);
        return;
    }
    // `v.round()` (half away from zero) without a call: the truncation and the fraction
    // it leaves are exact below 2⁵³.
    let t = v as i64;
    let f = v - t as f64;
    let k = if f >= 0.5 {
        t + 1
    } else if f <= -0.5 {
        t - 1
    } else {
        t
    };
    if k.unsigned_abs() >= 9_000_000_000_000_000 {
        let _ = write!(out, "{:?}", k as f64 / scale as f64);
        return;
    }
    if k < 0 {
        out.push(b'-');
    }
    let k = k.unsigned_abs();
    if digits == 2 && k < 100_000 {
        // Scores and points (below 1000, two decimals): digit pairs from a table.
        let (int, frac) = ((k / 100) as usize, (k % 100) as usize);
        let pair = |n: usize| &DIGIT_PAIRS[2 * n..2 * n + 2];
        if int >= 100 {
            out.push(b'0' + (int / 100) as u8);
            out.extend_from_slice(pair(int % 100));
        } else if int >= 10 {
            out.extend_from_slice(pair(int));
        } else {
            out.push(b'0' + int as u8);
        }
        out.push(b'.');
        if frac % 10 == 0 {
            out.push(b'0' + (frac / 10) as u8);
        } else {
            out.extend_from_slice(pair(frac));
        }
        return;
    }
    let mut ibuf = itoa::Buffer::new();
    out.extend_from_slice(ibuf.format(k / scale).as_bytes());
    out.push(b'.');
    let mut frac = k % scale;
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let mut width = digits;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let s = ibuf.format(frac);
    out.extend(std::iter::repeat_n(b'0', width as usize - s.len()));
    out.extend_from_slice(s.as_bytes());
}

/// "00", "01", …, "99".
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        t[2 * n] = b'0' + (n / 10) as u8;
        t[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    t
};

/// The score table as CSV: rows formatted in parallel pieces straight from the buffers.
fn write_scores_csv(
    data: &Snapshots,
    s: &Scored,
    detail: &Detail,
    w: &mut dyn Write,
    batch: usize,
) -> io::Result<()> {
    let header = header(data, s, detail);
    let line: Vec<Cow<str>> = header.iter().map(|h| csv_field(h)).collect();
    writeln!(w, "{}", line.join(","))?;
    let ids: Option<Vec<Cow<str>>> = data
        .account_names
        .as_ref()
        .map(|names| names.iter().map(|n| csv_field(n)).collect());
    let tiers: Vec<Cow<str>> = s.tier_names.iter().map(|t| csv_field(t)).collect();
    let metrics: Vec<Cow<str>> = detail.metric_names.iter().map(|m| csv_field(m)).collect();
    let dates = data.date.as_deref().filter(|_| data.date_column.is_some());
    let piece = |(out, d): &mut (Vec<u8>, DetailRows), rows: Range<usize>| {
        out.clear();
        let start = rows.start;
        detail.fill(rows.clone(), d);
        let mut ibuf = itoa::Buffer::new();
        // Snapshot dates repeat (quarter ends): a small direct-mapped cache of formatted days.
        let mut day_cache: [(Day, [u8; 10]); 64] = [(Day::MIN, [0; 10]); 64];
        for i in rows {
            match &ids {
                Some(ids) => out.extend_from_slice(ids[data.account[i] as usize].as_bytes()),
                None => out.extend_from_slice(ibuf.format(data.source_row[i]).as_bytes()),
            }
            if let Some(d) = dates {
                out.push(b',');
                let day = d[i];
                let slot = &mut day_cache[(day as usize) & 63];
                if slot.0 == day {
                    out.extend_from_slice(&slot.1);
                } else {
                    let text = format_day(day);
                    // Years past 9999 (longer text) are written but not cached.
                    if let Ok(bytes) = <[u8; 10]>::try_from(text.as_bytes()) {
                        *slot = (day, bytes);
                    }
                    out.extend_from_slice(text.as_bytes());
                }
            }
            continue_row(out, s, i, (d, i - start), &tiers, &metrics);
        }
    };
    // One thread formats a batch (its pieces in parallel on the pool) while this one writes
    // the batch before it: writing 1.4 GB at 10M rows is seconds of one core in the kernel.
    // Two sets of buffers go back and forth, reused: fresh ones would be fresh pages for
    // the kernel to zero each time.
    type Set = Vec<(Vec<u8>, DetailRows)>;
    let rows = data.rows;
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Set, usize)>(2);
        let (free_tx, free_rx) = std::sync::mpsc::channel::<Set>();
        for _ in 0..2 {
            let set: Set = (0..batch.div_ceil(CSV_PIECE))
                .map(|_| Default::default())
                .collect();
            free_tx.send(set).expect("the receiver is here");
        }
        scope.spawn(move || {
            for start in (0..rows).step_by(batch) {
                // Either channel closes when the writer stops early (a write failed).
                let Ok(mut set) = free_rx.recv() else { return };
                let end = (start + batch).min(rows);
                let used = (end - start).div_ceil(CSV_PIECE);
                set[..used].par_iter_mut().enumerate().for_each(|(p, buf)| {
                    let a = start + p * CSV_PIECE;
                    piece(buf, a..(a + CSV_PIECE).min(end));
                });
                if full_tx.send((set, used)).is_err() {
                    return;
                }
            }
        });
        for (set, used) in full_rx {
            for (p, _) in &set[..used] {
                w.write_all(p)?;
            }
            // The formatter may be done and gone: then the set is simply dropped.
            let _ = free_tx.send(set);
        }
        Ok(())
    })
}

/// Everything after the id and date of row `i`, with the line break; its detail is row
/// `j` of `d`.
fn continue_row(
    out: &mut Vec<u8>,
    s: &Scored,
    i: usize,
    (d, j): (&DetailRows, usize),
    tiers: &[Cow<str>],
    metrics: &[Cow<str>],
) {
    out.push(b',');
    push_rounded(out, s.score[i], 2);
    for g in &d.groups {
        out.push(b',');
        push_rounded(out, g[j], 2);
    }
    out.push(b',');
    if let Some(t) = tiers.get(s.tier[i] as usize) {
        out.extend_from_slice(t.as_bytes());
    }
    if let Some(p) = &s.probability {
        out.push(b',');
        push_rounded(out, p[i], 6);
    }
    for r in j * REASONS..(j + 1) * REASONS {
        out.push(b',');
        if let Some(m) = metrics.get(d.reasons[r] as usize) {
            out.extend_from_slice(m.as_bytes());
        }
        out.push(b',');
        if d.reasons[r] != u16::MAX {
            push_rounded(out, d.points[r] as f64, 2);
        }
    }
    out.push(b'\n');
}

/// Write a frame in the given format.
pub fn write_table(df: &mut DataFrame, format: TableFormat, w: &mut dyn Write) -> PolarsResult<()> {
    match format {
        TableFormat::Csv => CsvWriter::new(w).include_header(true).finish(df),
        TableFormat::Parquet => ParquetWriter::new(w).finish(df).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{presets, Profile};
    use crate::score::SubScores;
    use crate::synth::{generate, SynthParams};

    /// A scored synthetic population with awkward account names and a calibration: the
    /// data, the profile, its sub-scores and the scores.
    fn scored() -> (Snapshots, Profile, SubScores, Scored) {
        let synth = generate(&SynthParams {
            accounts: 700,
            quarters: 6,
            ..Default::default()
        });
        let mut data = synth.snapshots;
        if let Some(names) = &mut data.account_names {
            names[0] = "comma, inc".into();
            names[1] = "say \"hi\"".into();
            names[2] = "two\nlines".into();
            names[3] = "<script>é</script>".into();
        }
        let mut profile = presets::preset("eight-pillars").unwrap();
        profile.metrics[0].name = "odd, \"name\"".into();
        profile.calibration = Some(
            serde_json::from_value(serde_json::json!({"intercept": -9.0, "slope": -6.0})).unwrap(),
        );
        let subs = SubScores::compute(&profile, &data).unwrap();
        let s = crate::score::score(&profile, &subs, crate::score::Extent::Tiers);
        (data, profile, subs, s)
    }

    /// The CSV polars writes for the whole frame, and ours, both read back by polars.
    fn both_read_back(data: &Snapshots, s: &Scored, d: &Detail) -> (DataFrame, DataFrame, String) {
        let mut df = score_frame(data, s, d, 0..data.rows).unwrap();
        let mut theirs = Vec::new();
        write_table(&mut df, TableFormat::Csv, &mut theirs).unwrap();
        let mut ours = Vec::new();
        write_in_batches(data, s, d, TableFormat::Csv, &mut ours, 1000).unwrap();
        let read = |bytes: Vec<u8>| {
            CsvReadOptions::default()
                .with_infer_schema_length(None)
                .into_reader_with_file_handle(std::io::Cursor::new(bytes))
                .finish()
                .unwrap()
        };
        let text = String::from_utf8(ours.clone()).unwrap();
        (read(ours), read(theirs), text)
    }

    // Ours writes small probabilities as 0.000008 where polars writes 8e-6; the values, the
    // quoting and everything else are the same.
    #[test]
    fn the_streamed_csv_reads_back_as_the_frame_polars_writes() {
        let (data, profile, subs, s) = scored();
        assert!(s.probability.as_ref().unwrap().iter().any(|&p| p < 1e-4));
        let (ours, theirs, text) = both_read_back(&data, &s, &Detail::new(&profile, &subs));
        assert_eq!(ours.height(), data.rows);
        assert!(ours.equals_missing(&theirs));
        assert!(text.contains("\n\"comma, inc\",2024-03-31,"));
        assert!(text.contains("\"two\nlines\""));
        assert!(text.contains(",\"odd, \"\"name\"\"\","));
        assert!(!text.contains("e-"));
    }

    #[test]
    fn the_streamed_csv_matches_polars_without_ids_or_dates_and_with_unscored_rows() {
        let (mut data, profile, mut subs, _) = scored();
        data.account_names = None;
        data.date = None;
        // Row 5 has no metric: no score, tier, group scores or reasons.
        subs.present[5] = 0;
        for c in &mut subs.columns {
            c[5] = f64::NAN;
        }
        let s = crate::score::score(&profile, &subs, crate::score::Extent::Tiers);
        let (ours, theirs, text) = both_read_back(&data, &s, &Detail::new(&profile, &subs));
        assert!(ours.equals_missing(&theirs));
        assert!(text.starts_with("row,score,"));
        let unscored = text.lines().nth(6).unwrap();
        assert!(unscored.starts_with("6,,"), "{unscored}");
        assert!(unscored.trim_end_matches(',').ends_with("6"), "{unscored}");
    }

    /// A disk that fills up after `room` bytes.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.room {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.room -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_stops_the_formatting_and_is_reported() {
        let (data, profile, subs, s) = scored();
        let d = Detail::new(&profile, &subs);
        for room in [0, 100, 30_000] {
            let err = write_in_batches(&data, &s, &d, TableFormat::Csv, &mut Full { room }, 50)
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        }
    }

    /// The formatting by the book: `round`, then `itoa` for the integer and the fraction.
    fn push_rounded_reference(out: &mut Vec<u8>, x: f64, digits: u32) {
        if x.is_nan() {
            return;
        }
        let scale = 10u64.pow(digits);
        let k = (x * scale as f64).round();
        if k.abs() >= 9.0e15 {
            // Out of the exact-integer range (never for scores or probabilities).
            let _ = write!(out, "{:?}", k / scale as f64);
            return;
        }
        if k < 0.0 {
            out.push(b'-');
        }
        let k = k.abs() as u64;
        let mut ibuf = itoa::Buffer::new();
        out.extend_from_slice(ibuf.format(k / scale).as_bytes());
        out.push(b'.');
        let mut frac = k % scale;
        if frac == 0 {
            out.push(b'0');
            return;
        }
        let mut width = digits;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        let s = ibuf.format(frac);
        out.extend(std::iter::repeat_n(b'0', width as usize - s.len()));
        out.extend_from_slice(s.as_bytes());
    }

    /// Every two-decimal value below 1000 (the table's fast path), both signs and a hair
    /// either side of each rounding edge.
    #[test]
    fn two_decimals_below_1000_match_the_reference() {
        for k in 0..100_500i64 {
            let x = k as f64 / 100.0;
            for v in [x, -x, x + 0.004_999, x - 0.005_001, x + 0.005] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                push_rounded(&mut a, v, 2);
                push_rounded_reference(&mut b, v, 2);
                assert_eq!(a, b, "{v}");
            }
        }
    }

    proptest::proptest! {
        /// The hand-rolled digits are the reference's, for every magnitude and both signs.
        #[test]
        fn rounding_digits_match_the_reference(
            x in proptest::num::f64::ANY,
            m in 0i32..30,
            digits in 0u32..7,
        ) {
            for v in [x, x * 10f64.powi(m - 15), (x * 1e4).round() / 1e4 / 10f64.powi(m % 7)] {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                push_rounded(&mut a, v, digits);
                push_rounded_reference(&mut b, v, digits);
                proptest::prop_assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap(), "{}", v);
            }
        }
    }

    #[test]
    fn rounded_numbers_are_written_as_their_shortest_decimal() {
        let cases = [
            (26.2449, 2, "26.24"),
            (100.0, 2, "100.0"),
            (0.0, 2, "0.0"),
            (18.4, 2, "18.4"),
            (0.000123449, 6, "0.000123"),
            (0.5, 6, "0.5"),
            (1.0, 6, "1.0"),
            (-2.5, 2, "-2.5"),
            // halves round away from zero; a negative that rounds to 0 has no sign
            (0.125, 2, "0.13"),
            (-0.125, 2, "-0.13"),
            (9.5, 0, "10.0"),
            (-0.001, 2, "0.0"),
            (1e300, 2, "1e300"),
            (f64::NAN, 2, ""),
        ];
        for (x, d, want) in cases {
            let mut out = Vec::new();
            push_rounded(&mut out, x, d);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{x}");
        }
    }

    #[test]
    fn parquet_is_written_in_row_groups_and_reads_back_whole() {
        let (data, profile, subs, s) = scored();
        let d = Detail::new(&profile, &subs);
        let mut out = Vec::new();
        write_in_batches(&data, &s, &d, TableFormat::Parquet, &mut out, 1000).unwrap();
        let back = ParquetReader::new(std::io::Cursor::new(out))
            .finish()
            .unwrap();
        let whole = score_frame(&data, &s, &d, 0..data.rows).unwrap();
        assert!(
            data.rows > 2500,
            "{} rows: several row groups of 1000",
            data.rows
        );
        assert!(back.equals_missing(&whole));
        let mut one = Vec::new();
        write_scores(&data, &s, &d, TableFormat::Parquet, &mut one).unwrap();
        let one = ParquetReader::new(std::io::Cursor::new(one))
            .finish()
            .unwrap();
        assert!(one.equals_missing(&whole));
    }
}
