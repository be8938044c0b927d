//! Property-based fuzzing (proptest; `cargo fuzz` needs a nightly toolchain this project
//! does not use): the profile parser and validator, the CSV and spreadsheet loading paths,
//! the number and date readers of exports, and the transforms on arbitrary values. Case counts default to a few hundred so that `cargo test` stays
//! quick; `CHURNCAL_FUZZ_CASES=1000000 cargo test --release --test fuzz` is the long run.

use churncal::data::{load, OutcomeNeed};
use churncal::profile::io::{parse_profile, to_toml, ProfileFormat};
use churncal::profile::transform::numeric;
use churncal::profile::{presets, Transform};
use proptest::prelude::*;

fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("CHURNCAL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        // Generators that make invalid profiles skip them; allow that at any case count.
        max_global_rejects: n.max(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with `edits` applied: (position, kind, byte) — delete, insert or replace.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for &(pos, kind, byte) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let at = pos % b.len();
        match kind % 3 {
            0 => {
                b.remove(at);
            }
            1 => b.insert(at, byte),
            _ => b[at] = byte,
        }
    }
    b
}

/// `csv` with `edits` applied, loaded for three of eight-pillars' metrics (numbers read
/// leniently when `lenient`): the result does not matter, only that there is one.
fn load_mutated(csv: &str, edits: &[(usize, u8, u8)], lenient: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(&path, mutate(csv, edits)).unwrap();
    let profile = presets::preset("eight-pillars").unwrap();
    let mut req = churncal::data::LoadRequest::for_profile(&profile);
    req.metrics
        .retain(|m| ["nps", "days_past_due", "csm_assessment"].contains(&m.0.as_str()));
    req.outcome = OutcomeNeed::Optional;
    req.formats.lenient_numbers = lenient;
    let _ = load(path.to_str().unwrap(), &req);
}

/// Bytes that matter to TOML, CSV and numbers, more often than chance would pick them.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"=[]{}\",.-+0123456789eE\n\r#'\\ <>&;\tinfNa".to_vec()),
        1 => any::<u8>(),
    ]
}

/// The scores of `data` from a [`StreamedScores`] handed its metric values in batches cut
/// at `cuts`, as a streaming load hands them over.
fn streamed_scores(
    profile: &churncal::profile::Profile,
    data: &churncal::data::Snapshots,
    cuts: &[usize],
) -> Result<Vec<f64>, Box<dyn std::error::Error + Send + Sync>> {
    use churncal::data::{BatchColumn, MetricBatch, MetricColumn, MetricSink};
    let mut ends: Vec<usize> = cuts.iter().copied().chain([data.rows]).collect();
    ends.sort_unstable();
    let mut sink = churncal::score::StreamedScores::new(profile);
    let mut start = 0;
    for end in ends {
        let mut numbers: Vec<Vec<f64>> = data
            .metrics
            .iter()
            .map(|(_, c)| match c {
                MetricColumn::Numeric(v) => v[start..end].to_vec(),
                MetricColumn::Text { .. } => Vec::new(),
            })
            .collect();
        let columns = data
            .metrics
            .iter()
            .zip(numbers.iter_mut())
            .map(|((name, c), v)| {
                let column = match c {
                    MetricColumn::Numeric(_) => BatchColumn::Numbers(v),
                    MetricColumn::Text { codes, labels } => BatchColumn::Labels {
                        codes: &codes[start..end],
                        labels,
                    },
                };
                (name.as_str(), column)
            })
            .collect();
        sink.take(MetricBatch {
            path: &data.source,
            first_row: start,
            rows: end - start,
            columns,
        })?;
        start = end;
    }
    Ok(sink.into_scores())
}

proptest! {
    #![proptest_config(cases(512))]

    /// Any text: parsing and validating a profile returns Ok or Err, never panics, and a
    /// profile that validates renders to TOML that parses back to the same profile.
    #[test]
    fn profile_parser_and_validator_never_panic(
        preset in prop::sample::select(vec!["three-dimensions", "eight-pillars", "bigcommerce-ten", "quartiles"]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 0..12),
    ) {
        let text = to_toml(&presets::preset(preset).unwrap());
        let bytes = mutate(&text, &edits);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            if let Ok(p) = parse_profile(s, ProfileFormat::Toml) {
                if p.check().is_ok() {
                    let again = parse_profile(&to_toml(&p), ProfileFormat::Toml);
                    prop_assert!(again.is_ok());
                    prop_assert_eq!(again.unwrap(), p);
                }
            }
            let _ = parse_profile(s, ProfileFormat::Json);
        }
    }

    /// Every numeric transform that validates maps every finite value into [0, 100].
    #[test]
    fn transforms_map_finite_values_into_0_100(
        a in prop::num::f64::NORMAL | prop::num::f64::ZERO,
        b in prop::num::f64::NORMAL | prop::num::f64::ZERO,
        x in prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL,
        kind in 0u8..3,
        breaks in prop::collection::vec(prop::num::f64::NORMAL, 1..6),
    ) {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let t = match kind {
            0 => Transform::Linear { lo, hi },
            1 => Transform::Log { lo, hi },
            _ => {
                let mut br = breaks.clone();
                br.sort_by(f64::total_cmp);
                br.dedup();
                Transform::Percentile { breaks: br }
            }
        };
        if churncal::profile::check::check_transform("m", &t).is_ok() {
            let s = numeric(&t, x).unwrap();
            prop_assert!((0.0..=100.0).contains(&s), "{:?} at {} gave {}", t, x, s);
        }
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Any mutation of a valid CSV export loads or is refused with an error; never a panic.
    #[test]
    fn csv_loading_never_panics(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 0..16),
    ) {
        let csv = "account_id,snapshot_date,churned,nps,days_past_due,csm_assessment\n\
                   a,2024-03-31,0,10,0,happy\n\
                   a,2024-06-30,1,-20,30,wavering\n\
                   b,2024-03-31,0,,5,neutral\n\
                   \"c,d\",2024-03-31,1,40,0,happy\n";
        load_mutated(csv, &edits, false);
    }
}

/// Characters exports put in numbers and dates, more often than chance would pick them.
fn export_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select("0123456789.,-+%$€£ ()'/:TZEe\u{a0}\u{202f}USDCHF".chars().collect::<Vec<_>>()),
            1 => any::<char>(),
        ],
        0..24,
    )
    .prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(cases(512))]

    /// Any text read as a number, in every style, is a finite number, missing, or refused
    /// with a reason; a plain number reads the same in the lenient style.
    #[test]
    fn number_reading_is_total_and_finite(text in export_text()) {
        use churncal::data::numbers::{read, NumberStyle, Read};
        for (decimal_comma, lenient) in [(false, false), (false, true), (true, false), (true, true)] {
            let style = NumberStyle { decimal_comma, lenient };
            match read(&text, style) {
                Ok(Read::Plain(v) | Read::Stripped(v)) => prop_assert!(v.is_finite(), "{text:?} → {v}"),
                Ok(Read::Missing) => {
                    let blank = text
                        .chars()
                        .all(|c| c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}');
                    prop_assert!(blank, "{:?} read as missing", text);
                }
                Err(e) => prop_assert!(!e.is_empty()),
            }
            if let Ok(Read::Plain(v)) = read(&text, NumberStyle { decimal_comma, lenient: false }) {
                prop_assert_eq!(read(&text, style), Ok(Read::Plain(v)));
            }
        }
    }

    /// Any text read as a date in every format, and any column of them detected, is a day,
    /// missing, or refused; never a panic. A detected format reads every value it saw.
    #[test]
    fn date_reading_and_detection_are_total(values in prop::collection::vec(export_text(), 0..6)) {
        use churncal::data::dates::{detect, DateFormat, Detected};
        for v in &values {
            for f in [DateFormat::Iso, DateFormat::MonthFirst(b'/'), DateFormat::DayFirst(b'.'),
                      DateFormat::ExcelSerial, DateFormat::Pattern("%d-%b-%Y".into())] {
                let _ = f.parse(v);
            }
        }
        for sheet in [false, true] {
            if let Detected::Format(f) = detect(values.iter().map(String::as_str), sheet) {
                if f != DateFormat::Iso {
                    for v in &values {
                        prop_assert!(f.parse(v).is_ok(), "{f:?} detected but refuses {v:?}");
                    }
                }
            }
        }
    }

    /// Any mutation of a European export (`;`, decimal commas, DD.MM.YYYY) loads or is
    /// refused, with the formats detected and the lenient reading on; never a panic.
    #[test]
    fn european_export_loading_never_panics(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 0..16),
        lenient in any::<bool>(),
    ) {
        let csv = "account_id;snapshot_date;churned;nps;days_past_due;csm_assessment\n\
                   a;31.03.2024;0;10,5;0;happy\n\
                   a;30.06.2024;1;-20;1.230,5;wavering\n\
                   b;31.03.2024;0;;5 %;neutral\n\
                   \"c;d\";01.04.2024;1;40,25;0;happy\n";
        load_mutated(csv, &edits, lenient);
    }
}

proptest! {
    #![proptest_config(cases(32))]

    /// Any mutation of a workbook's bytes is read or refused; never a panic.
    #[test]
    fn spreadsheet_loading_never_panics(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12),
    ) {
        let _ = load_mutated_workbook(&edits);
    }
}

/// A workbook of five snapshots (id, date, outcome, NPS), the same bytes on every run (the
/// creation time is otherwise now), so that a failing case found once fails again.
fn small_workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 1, 1).unwrap();
    book.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let ws = book.add_worksheet();
    for (j, h) in ["account_id", "snapshot_date", "churned", "nps"]
        .iter()
        .enumerate()
    {
        ws.write(0, j as u16, *h).unwrap();
    }
    for i in 1..6u32 {
        ws.write(i, 0, format!("A{i}")).unwrap();
        ws.write(i, 1, "2024-03-31").unwrap();
        ws.write(i, 2, f64::from(i % 2)).unwrap();
        ws.write(i, 3, f64::from(i) * 10.0).unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// [`small_workbook`] with its bytes edited (`(position, kind, byte)`: set the byte, or flip
/// one of its bits), read as snapshots: whatever the result, it must come back.
fn load_mutated_workbook(edits: &[(usize, u8, u8)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.xlsx");
    let mut b = small_workbook();
    for &(pos, kind, byte) in edits {
        let at = pos % b.len();
        match kind % 2 {
            0 => b[at] = byte,
            _ => b[at] ^= 1 << (byte % 8),
        }
    }
    std::fs::write(&path, b).unwrap();
    let profile = presets::preset("eight-pillars").unwrap();
    let mut req = churncal::data::LoadRequest::for_profile(&profile);
    req.metrics.retain(|m| m.0 == "nps");
    req.outcome = OutcomeNeed::Optional;
    load(path.to_str().unwrap(), &req)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// [`small_workbook`] with its first worksheet's XML edited,
/// every part stored again uncompressed.
fn workbook_with_sheet_xml(edit: impl Fn(&str) -> String) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(small_workbook())).unwrap();
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).unwrap();
        let name = part.name().to_string();
        let mut text = Vec::new();
        part.read_to_end(&mut text).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            text = edit(std::str::from_utf8(&text).unwrap()).into_bytes();
        }
        zout.start_file(name, stored).unwrap();
        zout.write_all(&text).unwrap();
    }
    zout.finish().unwrap().into_inner()
}

/// A cell reference of more column letters than a `u32` column number holds, which
/// calamine 0.32 reads with an overflowing multiplication (a panic in a debug build; a
/// mutation the fuzz test above found): refused as a damaged workbook, naming the file.
#[test]
fn a_workbook_whose_cell_reference_overflows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.xlsx");
    std::fs::write(
        &path,
        workbook_with_sheet_xml(|xml| xml.replacen("r=\"D6\"", "r=\"DDDDDDDDDDDDDDDD6\"", 1)),
    )
    .unwrap();
    let profile = presets::preset("eight-pillars").unwrap();
    let mut req = churncal::data::LoadRequest::for_profile(&profile);
    req.metrics.retain(|m| m.0 == "nps");
    req.outcome = OutcomeNeed::Optional;
    let err = load(path.to_str().unwrap(), &req).unwrap_err().to_string();
    assert!(
        err.contains("damaged.xlsx") && err.contains("damaged"),
        "{err}"
    );
}

/// A stray cell in the last row and column of an otherwise small worksheet: the table it
/// spans (17 billion cells) is refused before it is made dense, naming its extent.
#[test]
fn a_worksheet_spanning_billions_of_cells_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stray.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write(0, 0, "account_id").unwrap();
    ws.write(1, 0, "A1").unwrap();
    ws.write(1_048_575, 16_383, "note").unwrap();
    book.save(&path).unwrap();
    let profile = presets::preset("eight-pillars").unwrap();
    let req = churncal::data::LoadRequest::for_profile(&profile);
    let err = load(path.to_str().unwrap(), &req).unwrap_err().to_string();
    assert!(
        err.contains("stray.xlsx") && err.contains("1048576 rows × 16384 columns"),
        "{err}"
    );
}

/// Any f64 at all, with the awkward ones (NaN, ±∞, ±0, subnormals, ±MAX) far more often
/// than chance would draw them.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => prop::sample::select(vec![
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            -1.0,
            1.0,
        ]),
        2 => -1e3f64..1e3,
        1 => prop::num::f64::ANY,
    ]
}

/// One generated metric: transform kind, its parameters, direction, missing policy, weight.
type MetricSpec = (u8, (f64, f64), Vec<f64>, bool, u8, f64);

fn metric_spec() -> impl Strategy<Value = MetricSpec> {
    (
        0u8..6,
        (any_value(), any_value()),
        prop::collection::vec(any_value(), 1..6),
        any::<bool>(),
        0u8..4,
        prop_oneof![Just(0.0), 1e-300f64..1e-290, 0.0f64..100.0, 1e290f64..1e300],
    )
}

/// The profile metric for `spec`, reading column `c{i}`; a generated transform that does
/// not validate becomes `linear 0..1` (the property is about profiles that load).
fn build_metric(i: usize, spec: &MetricSpec) -> churncal::profile::Metric {
    use churncal::profile::{Direction, Metric, Missing};
    let (kind, (a, b), pts, higher, policy, weight) = spec;
    let (lo, hi) = if a < b { (*a, *b) } else { (*b, *a) };
    let mut sorted: Vec<f64> = pts.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let transform = match kind {
        0 => Transform::Linear { lo, hi },
        1 => Transform::Log { lo, hi },
        2 => Transform::Points {
            map: sorted
                .iter()
                .enumerate()
                .map(|(j, &x)| [x, (j as f64 * 37.0) % 101.0])
                .collect(),
        },
        3 => Transform::Percentile { breaks: sorted },
        4 => Transform::Boolean,
        _ => Transform::Categories {
            map: [("low", 0.0), ("mid", 55.5), ("high", 100.0)]
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        },
    };
    let transform = match churncal::profile::check::check_transform("m", &transform) {
        Ok(()) => transform,
        Err(_) => Transform::Linear { lo: 0.0, hi: 1.0 },
    };
    Metric {
        name: format!("metric {i}"),
        column: format!("c{i}"),
        group: None,
        weight: *weight,
        direction: if *higher {
            Direction::HigherIsBetter
        } else {
            Direction::LowerIsBetter
        },
        transform,
        missing: [
            Missing::Redistribute,
            Missing::Neutral,
            Missing::Worst,
            Missing::Error,
        ][*policy as usize],
        calibration: None,
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// Scoring arbitrary values, finite and not, through every transform, direction and
    /// missing policy, with weights from zero to 1e300, fixed and quantile tiers, and a
    /// calibration: never a panic; a refusal exactly when a `missing = "error"` metric
    /// meets a missing value or a categorical metric an unknown label; otherwise every
    /// score equals Σ w·s / Σ w over the metrics that count (checked against a direct
    /// computation), lies in [0, 100], is NaN exactly where no weighted metric is
    /// present, and tiers, group scores, probabilities and reason codes are all sane.
    #[test]
    fn scoring_arbitrary_values_is_total_and_bounded(
        specs in prop::collection::vec(metric_spec(), 1..5),
        values in prop::collection::vec(prop::collection::vec(any_value(), 24), 5),
        labels in prop::collection::vec(0u32..5, 24),
        tiers in prop::sample::select(vec!["eight-pillars", "quartiles", "three-dimensions"]),
        calibration in (-50.0f64..50.0, -50.0f64..50.0),
        cuts in prop::collection::vec(0usize..=24, 0..4),
    ) {
        use churncal::data::{MetricColumn, Snapshots};
        use churncal::profile::{Calibration, Direction, Missing};
        use churncal::score::{score, Extent, ScoreError, SubScores};
        let metrics: Vec<_> = specs.iter().enumerate().map(|(i, s)| build_metric(i, s)).collect();
        let mut profile = presets::preset(tiers).unwrap();
        profile.groups.clear();
        profile.metrics = metrics;
        let calibration: Calibration = serde_json::from_value(serde_json::json!({
            "intercept": calibration.0,
            "slope": calibration.1,
        }))
        .unwrap();
        profile.calibration = Some(calibration);
        prop_assume!(profile.check().is_ok());
        let rows = 24;
        // Label codes: 0..3 known, 3 unknown ("zz"), 4 missing.
        let text = MetricColumn::Text {
            codes: labels.iter().map(|&c| if c == 4 { MetricColumn::MISSING_CODE } else { c }).collect(),
            labels: ["low", "mid", "high", "zz"].iter().map(|s| s.to_string()).collect(),
        };
        let data = Snapshots::from_metrics(
            "fuzz.csv",
            profile
                .metrics
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let col = match m.transform {
                        Transform::Categories { .. } => text.clone(),
                        _ => MetricColumn::Numeric(values[i % values.len()].clone()),
                    };
                    (m.column.clone(), col)
                })
                .collect(),
        );
        let missing = |c: &MetricColumn, r: usize| c.is_missing(r);
        let refuses_missing = profile.metrics.iter().zip(&data.metrics).any(|(m, (_, c))| {
            m.missing == Missing::Error && (0..rows).any(|r| missing(c, r))
        });
        let unknown_label = profile.metrics.iter().any(|m| matches!(m.transform, Transform::Categories { .. }))
            && labels.contains(&3);
        let result = SubScores::compute(&profile, &data).map(|subs| score(&profile, &subs, Extent::Full));
        // The same values handed over in batches, as a file loads for `tiers`: the same
        // scores bit for bit, or a refusal naming a row that holds what is refused.
        match (&result, streamed_scores(&profile, &data, &cuts)) {
            (Ok(s), Ok(v)) => prop_assert_eq!(
                s.score.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            ),
            (Err(_), Err(e)) => match e.downcast_ref::<ScoreError>() {
                Some(ScoreError::MissingValue { row, column, .. }) => {
                    let (m, (_, c)) = profile.metrics.iter().zip(&data.metrics)
                        .find(|(m, _)| &m.column == column).unwrap();
                    prop_assert!(m.missing == Missing::Error && missing(c, row - 1), "{}", e);
                }
                Some(ScoreError::UnknownCategory(u)) => {
                    prop_assert_eq!(u.value.as_str(), "zz");
                    prop_assert_eq!(labels[u.row - 1], 3, "{}", e);
                }
                _ => prop_assert!(false, "unexpected refusal: {}", e),
            },
            (whole, streamed) => prop_assert!(
                false,
                "whole: {:?}, streamed: {:?}",
                whole.as_ref().err(),
                streamed.err()
            ),
        }
        match result {
            Err(ScoreError::MissingValue { row, .. }) => {
                prop_assert!(refuses_missing);
                prop_assert!((1..=rows).contains(&row));
            }
            Err(ScoreError::UnknownCategory(u)) => {
                prop_assert!(unknown_label);
                prop_assert_eq!(u.value.as_str(), "zz");
            }
            Err(e) => prop_assert!(false, "unexpected refusal: {}", e),
            Ok(s) => {
                prop_assert!(!refuses_missing && !unknown_label);
                let w = profile.effective_weights();
                prop_assert!(w.iter().all(|w| w.is_finite() && *w >= 0.0), "weights {:?}", w);
                let tiers_n = s.tier_names.len();
                let mut unscored = 0;
                for r in 0..rows {
                    // The score computed directly from the transforms.
                    let (mut num, mut den, mut present) = (0.0, 0.0, 0);
                    for ((m, (_, col)), &wm) in profile.metrics.iter().zip(&data.metrics).zip(&w) {
                        let sub = if missing(col, r) {
                            match m.missing {
                                Missing::Neutral => 50.0,
                                Missing::Worst => 0.0,
                                _ => continue,
                            }
                        } else {
                            present += 1;
                            let raw = match (col, &m.transform) {
                                (MetricColumn::Text { codes, .. }, Transform::Categories { map }) => {
                                    map[["low", "mid", "high"][codes[r] as usize]]
                                }
                                (MetricColumn::Numeric(v), t) => numeric(t, v[r]).unwrap(),
                                _ => unreachable!(),
                            };
                            match m.direction {
                                Direction::HigherIsBetter => raw,
                                Direction::LowerIsBetter => 100.0 - raw,
                            }
                        };
                        prop_assert!((0.0..=100.0).contains(&sub), "{:?} gave {}", m.transform, sub);
                        if wm > 0.0 {
                            num += wm * sub;
                            den += wm;
                        }
                    }
                    let score = s.score[r];
                    // A row with no raw value at all has no score, whatever the policies
                        // (profile-format.md: "reported, not silently scored").
                    if den > 0.0 && present > 0 {
                        let want = num / den;
                        prop_assert!((0.0..=100.0).contains(&score), "row {} score {}", r, score);
                        prop_assert!((score - want).abs() <= 1e-9 * 100.0, "row {}: {} vs {}", r, score, want);
                        prop_assert!((s.tier[r] as usize) < tiers_n);
                        let p = s.probability.as_ref().unwrap()[r];
                        prop_assert!((0.0..=1.0).contains(&p), "probability {}", p);
                    } else {
                        prop_assert!(score.is_nan(), "row {} should be unscored, got {}", r, score);
                        prop_assert_eq!(s.tier[r], u8::MAX);
                        unscored += 1;
                    }
                    for g in &s.group_scores {
                        prop_assert!(g[r].is_nan() || (0.0..=100.0).contains(&g[r]));
                    }
                }
                prop_assert_eq!(s.unscored, unscored);
                prop_assert!(s.tier_mins.iter().all(|m| m.is_finite()));
                prop_assert!(s.reason_points.iter().all(|p| p.is_finite() && *p >= 0.0));
                prop_assert!(s.reasons.iter().all(|&r| r == u16::MAX || (r as usize) < profile.metrics.len()));
            }
        }
    }

    /// Non-finite numbers written as text in every spelling a spreadsheet or a database
    /// might export are refused at load, naming the row, the column and the value; the
    /// finite ones load and score.
    #[test]
    fn non_finite_text_in_a_file_is_refused_with_its_place(
        cells in prop::collection::vec(prop::sample::select(vec![
            "1", "-2.5", "", " ", "0", "-0", "1e-320", "1e308", "1.7976931348623157e308",
            "inf", "-inf", "+inf", "Inf", "INF", "infinity", "-Infinity", "NaN", "nan", "-nan",
            "1e309", "-1e999", "NAN", " inf ",
        ]), 1..12),
    ) {
        let mut csv = String::from("account_id,churned,nps\n");
        for (i, c) in cells.iter().enumerate() {
            csv.push_str(&format!("a{i},{},{c}\n", i % 2));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        std::fs::write(&path, &csv).unwrap();
        let mut profile = presets::preset("eight-pillars").unwrap();
        profile.groups.clear();
        profile.metrics.retain(|m| m.column == "nps");
        prop_assume!(profile.metrics.len() == 1);
        profile.metrics[0].group = None;
        let mut req = churncal::data::LoadRequest::for_profile(&profile);
        req.outcome = OutcomeNeed::Optional;
        let bad = cells.iter().position(|c| {
            let t = c.trim();
            !t.is_empty() && !t.parse::<f64>().is_ok_and(f64::is_finite)
        });
        match load(path.to_str().unwrap(), &req) {
            Ok(data) => {
                prop_assert!(bad.is_none(), "{:?} loaded", cells);
                let s = churncal::score::score(&profile, &churncal::score::SubScores::compute(&profile, &data).unwrap(), churncal::score::Extent::Full);
                prop_assert!(s.score.iter().all(|v| v.is_nan() || (0.0..=100.0).contains(v)));
            }
            Err(e) => {
                let msg = e.to_string();
                let i = bad.unwrap_or_else(|| panic!("{cells:?} refused: {msg}"));
                prop_assert!(msg.contains("nps"), "{}", msg);
                prop_assert!(msg.contains(&format!("row {}", i + 1)), "{} (cell {})", msg, i);
                // The value as written, or as the CSV reader parsed it (`+inf` → `inf`).
                let parsed = cells[i].trim().parse::<f64>().map(|v| v.to_string()).unwrap_or_default();
                prop_assert!(msg.contains(cells[i].trim()) || msg.contains(&format!("'{parsed}'")), "{}", msg);
            }
        }
    }
}
