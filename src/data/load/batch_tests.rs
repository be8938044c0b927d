//! Tests of reading in batches: CSV and Parquet batches against one read, streaming into a
//! sink, mapped files, and the interning of labels across batches.

use super::tests::{req, write, GOOD};
use super::*;
use crate::data::{Horizon, LoadRequest};

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
                            (c != MetricColumn::MISSING_CODE).then(|| labels[c as usize].clone())
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
    let whole = load_in_batches(p, &batch_req(), CSV_BATCH_BYTES, Some(usize::MAX), None).unwrap();
    for rows in [1, 64, 65, 300, usize::MAX] {
        let mut rec = Recorder::default();
        let streamed =
            load_in_batches(p, &batch_req(), CSV_BATCH_BYTES, Some(rows), Some(&mut rec)).unwrap();
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
            matches!(&e, DataError::BadValue { row: 2, .. }) && e.to_string().contains("'someday'"),
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
            let parser = ChunkParser::new(&columns, &needed, as_float, b',', false);
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
    let e = to_days(&dates, ctx, None, (&DateFormat::Iso, false), &mut days).unwrap_err();
    assert!(matches!(&e, DataError::BadValue { row: 4, value, .. } if value == "2024-13-01"));
    let later = Ctx {
        first_row: 100,
        ..ctx
    };
    let e = to_days(&dates, later, None, (&DateFormat::Iso, false), &mut days).unwrap_err();
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
