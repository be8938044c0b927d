//! Exports shaped like the ones users have (CRM exports through Excel, in many locales),
//! built here from the bundled sample: each reads to the same scores, tier tables and
//! audit as the clean CSV of the same rows, and each defect of such a file is refused with
//! its row, column, value and the flag that reads it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Rows of the sample the tests use (whole accounts: the sample is sorted by account).
const ROWS: usize = 4000;

const DATE_COLUMNS: [&str; 3] = ["snapshot_date", "churn_date", "customer_since"];

fn churncal(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("churncal").unwrap();
    c.current_dir(dir).env("SOURCE_DATE_EPOCH", "1790000000");
    c
}

/// The sample's header and its first [`ROWS`] rows.
fn sample() -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(root().join("notebooks-data/sample_snapshots.csv")).unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .take(ROWS)
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// Whether every non-empty value of column `j` is a number.
fn numeric(rows: &[Vec<String>], j: usize) -> bool {
    rows.iter()
        .all(|r| r[j].is_empty() || r[j].parse::<f64>().is_ok())
}

/// The sample with each field rewritten by `f(column, value)`, written with `delimiter`.
fn rewrite(
    dir: &Path,
    name: &str,
    delimiter: u8,
    f: impl Fn(&str, bool, &str) -> String,
) -> PathBuf {
    let (header, rows) = sample();
    let numbers: Vec<bool> = (0..header.len()).map(|j| numeric(&rows, j)).collect();
    let path = dir.join(name);
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_path(&path)
        .unwrap();
    w.write_record(&header).unwrap();
    for r in &rows {
        let out: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if v.is_empty() {
                    v.clone()
                } else {
                    f(&header[j], numbers[j] && header[j] != "churned", v)
                }
            })
            .collect();
        w.write_record(&out).unwrap();
    }
    w.flush().unwrap();
    path
}

/// `YYYY-MM-DD` rearranged by `order` (0 year, 1 month, 2 day) with `sep`.
fn date_as(v: &str, order: [usize; 3], sep: &str) -> String {
    let p: Vec<&str> = v.split('-').collect();
    order.map(|i| p[i]).join(sep)
}

/// `churncal score` of `data` (with `flags`) as its output text.
fn scores(dir: &Path, data: &Path, flags: &[&str]) -> String {
    let out = dir.join(format!(
        "{}-scores.csv",
        data.file_name().unwrap().to_string_lossy()
    ));
    churncal(dir)
        .args(["score", "-q", "--data"])
        .arg(data)
        .args(flags)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    std::fs::read_to_string(out).unwrap()
}

fn clean(dir: &Path) -> PathBuf {
    rewrite(dir, "clean.csv", b',', |_, _, v| v.to_string())
}

#[test]
fn us_and_european_dates_read_to_the_same_scores_as_iso() {
    let dir = tempfile::tempdir().unwrap();
    let want = scores(dir.path(), &clean(dir.path()), &[]);
    let shapes: [(&str, [usize; 3], &str); 4] = [
        ("us.csv", [1, 2, 0], "/"),
        ("eu-slash.csv", [2, 1, 0], "/"),
        ("eu-dot.csv", [2, 1, 0], "."),
        ("year-first.csv", [0, 1, 2], "/"),
    ];
    for (name, order, sep) in shapes {
        let f = rewrite(dir.path(), name, b',', |c, _, v| {
            if DATE_COLUMNS.contains(&c) {
                date_as(v, order, sep)
            } else {
                v.to_string()
            }
        });
        assert_eq!(scores(dir.path(), &f, &[]), want, "{name}");
    }
    // A named format reads the same, and a wrong one is refused by row.
    let us = dir.path().join("us.csv");
    assert_eq!(
        scores(dir.path(), &us, &["--date-format", "%m/%d/%Y"]),
        want
    );
    churncal(dir.path())
        .args([
            "score",
            "--data",
            "us.csv",
            "--date-format",
            "%d/%m/%Y",
            "-o",
            "x.csv",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("us.csv, row 1, column 'snapshot_date': value '03/31/2024'")
                .and(predicate::str::contains("DD/MM/YYYY")),
        );
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn a_date_column_that_reads_both_ways_is_refused_with_both_readings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.csv"),
        "account_id,snapshot_date,churned,nps\nA,01/02/2025,0,10\nB,03/04/2025,1,-20\nC,12/12/2025,0,5\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "name = \"nps\"\nformat = 1\n\n[[tiers]]\nname = \"ok\"\nmin = 50\n\n[[tiers]]\nname = \"low\"\nmin = 0\n\n[[metrics]]\nname = \"nps\"\ncolumn = \"nps\"\nweight = 1\n\
         direction = \"higher-is-better\"\ntransform = { kind = \"linear\", lo = -100, hi = 100 }\n",
    )
    .unwrap();
    churncal(dir.path())
        .args(["score", "-d", "d.csv", "-p", "p.toml", "-o", "s.csv"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("d.csv, column 'snapshot_date'")
                .and(predicate::str::contains(
                    "'01/02/2025' is 2025-01-02 as MM/DD/YYYY or 2025-02-01 as DD/MM/YYYY",
                ))
                .and(predicate::str::contains(
                    "hint: pass --date-format %m/%d/%Y or --date-format %d/%m/%Y",
                )),
        );
    assert!(!dir.path().join("s.csv").exists());
    let s = scores(
        dir.path(),
        &dir.path().join("d.csv"),
        &["-p", "p.toml", "--date-format", "%d/%m/%Y"],
    );
    assert!(s.contains("A,2025-02-01,"), "{s}");
}

#[test]
fn a_semicolon_export_with_decimal_commas_reads_as_the_clean_csv() {
    let dir = tempfile::tempdir().unwrap();
    let want = scores(dir.path(), &clean(dir.path()), &[]);
    let eu = rewrite(dir.path(), "excel-fr.csv", b';', |c, num, v| {
        if DATE_COLUMNS.contains(&c) {
            date_as(v, [2, 1, 0], ".")
        } else if num {
            v.replace('.', ",")
        } else {
            v.to_string()
        }
    });
    churncal(dir.path())
        .args(["score", "--data", "excel-fr.csv", "-o", "fr.csv"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("numbers read with a decimal comma (detected)").and(
                predicate::str::contains("dates in 'snapshot_date' read as DD.MM.YYYY (detected)"),
            ),
        );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("fr.csv")).unwrap(),
        want
    );
    assert_eq!(scores(dir.path(), &eu, &["--decimal-comma"]), want);
    // Told the file uses points, the first comma is refused with the flag that reads it.
    churncal(dir.path())
        .args([
            "score",
            "--data",
            "excel-fr.csv",
            "--decimal-point",
            "-o",
            "x.csv",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("has a decimal comma")
                .and(predicate::str::contains("hint: pass --decimal-comma")),
        );
}

#[test]
fn percents_currencies_and_thousands_need_the_flag_and_are_counted_in_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let want = scores(dir.path(), &clean(dir.path()), &[]);
    let money = rewrite(dir.path(), "crm.csv", b',', |c, _, v| match c {
        "arr" => {
            let x: f64 = v.parse().unwrap();
            let cents = format!("{:.2}", x.abs());
            let (int, frac) = cents.split_once('.').unwrap();
            let mut grouped = String::new();
            for (i, ch) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    grouped.push(',');
                }
                grouped.push(ch);
            }
            format!("{}${grouped}.{frac}", if x < 0.0 { "-" } else { "" })
        }
        "feature_adoption_pct" => format!("{v}%"),
        _ => v.to_string(),
    });
    churncal(dir.path())
        .args(["score", "--data", "crm.csv", "-o", "x.csv"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(
                "crm.csv, row 1, column 'feature_adoption_pct': value '18.4%'",
            )
            .and(predicate::str::contains("hint: pass --lenient-numbers")),
        );
    assert_eq!(scores(dir.path(), &money, &["--lenient-numbers"]), want);
    churncal(dir.path())
        .args([
            "audit",
            "--data",
            "crm.csv",
            "--lenient-numbers",
            "--out",
            "audit",
        ])
        .assert()
        .stderr(predicate::str::contains(format!(
            "[feature_adoption_pct]: {} values read by stripping",
            sample().1.iter().filter(|r| !r[13].is_empty()).count()
        )));
    let audit = std::fs::read_to_string(dir.path().join("audit/audit.json")).unwrap();
    assert!(
        audit.contains("NumbersStripped") || audit.contains("stripping"),
        "{audit}"
    );
}

#[test]
fn a_bank_export_with_its_own_outcome_labels_gives_the_same_tier_table() {
    let dir = tempfile::tempdir().unwrap();
    clean(dir.path());
    rewrite(dir.path(), "bank.csv", b',', |c, _, v| match (c, v) {
        ("churned", "1") => "Attrited Customer".into(),
        ("churned", _) => "Existing Customer".into(),
        _ => v.to_string(),
    });
    for (data, out, flags) in [
        ("clean.csv", "t-clean", vec![]),
        (
            "bank.csv",
            "t-bank",
            vec!["--churned-value", "attrited customer"],
        ),
    ] {
        churncal(dir.path())
            .args(["tiers", "-q", "--data", data, "--out", out])
            .args(flags)
            .assert()
            .success();
    }
    let read = |d: &str| std::fs::read_to_string(dir.path().join(d).join("tiers.csv")).unwrap();
    assert_eq!(read("t-bank"), read("t-clean"));
}

/// The sample as a workbook: a title row and a blank row above the header (as report
/// exports have), numbers as numbers, dates as date cells or, with `serials`, as plain
/// serial numbers.
fn workbook(path: &Path, sheet: &str, serials: bool, bad: Option<(usize, &str, &str)>) {
    let (header, rows) = sample();
    let numbers: Vec<bool> = (0..header.len()).map(|j| numeric(&rows, j)).collect();
    let mut book = Workbook::new();
    book.add_worksheet()
        .set_name("Notes")
        .unwrap()
        .write(0, 0, "read me")
        .unwrap();
    let ws = book.add_worksheet();
    ws.set_name(sheet).unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    ws.write(0, 0, "Account health export").unwrap();
    for (j, h) in header.iter().enumerate() {
        ws.write(2, j as u16, h.as_str()).unwrap();
    }
    for (i, r) in rows.iter().enumerate() {
        let row = 3 + i as u32;
        for (j, v) in r.iter().enumerate() {
            let col = j as u16;
            if let Some((bi, bc, bv)) = bad {
                if bi == i && header[j] == bc {
                    ws.write(row, col, bv).unwrap();
                    continue;
                }
            }
            if v.is_empty() {
                continue;
            }
            if DATE_COLUMNS.contains(&header[j].as_str()) {
                let d = ExcelDateTime::parse_from_str(v).unwrap();
                if serials {
                    ws.write(row, col, d.to_excel()).unwrap();
                } else {
                    ws.write_datetime_with_format(row, col, &d, &date).unwrap();
                }
            } else if numbers[j] {
                ws.write(row, col, v.parse::<f64>().unwrap()).unwrap();
            } else {
                ws.write(row, col, v.as_str()).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

#[test]
fn a_workbook_reads_to_the_same_scores_as_the_csv_and_names_its_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let want = scores(dir.path(), &clean(dir.path()), &[]);
    let book = dir.path().join("export.xlsx");
    workbook(&book, "Accounts", false, None);
    churncal(dir.path())
        .args([
            "score",
            "--data",
            "export.xlsx",
            "--sheet",
            "Accounts",
            "-o",
            "x.csv",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "read worksheet 'Accounts', its header on row 3",
        ));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("x.csv")).unwrap(),
        want
    );
    // The first sheet is the default: here a notes sheet, named in the error.
    churncal(dir.path())
        .args(["score", "--data", "export.xlsx", "-o", "y.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("export.xlsx, worksheet 'Notes'"));
    churncal(dir.path())
        .args([
            "score",
            "--data",
            "export.xlsx",
            "--sheet",
            "Data",
            "-o",
            "y.csv",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no worksheet 'Data'; the workbook has 'Notes', 'Accounts'")
                .and(predicate::str::contains(
                    "hint: name one of them with --sheet",
                )),
        );
    // Dates held as plain serial numbers are read as Excel's day numbers.
    let serial = dir.path().join("serial.xlsx");
    workbook(&serial, "Accounts", true, None);
    assert_eq!(scores(dir.path(), &serial, &["--sheet", "accounts"]), want);
    // An error cell is refused by the sheet's own row (data row 10 is sheet row 13).
    let bad = dir.path().join("bad.xlsx");
    workbook(&bad, "Accounts", false, Some((9, "nps", "#N/A")));
    churncal(dir.path())
        .args([
            "score", "--data", "bad.xlsx", "--sheet", "Accounts", "-o", "y.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.xlsx, worksheet 'Accounts', row 13, column 'nps': value '#N/A' is not a number",
        ));
    assert!(!dir.path().join("y.csv").exists());
}

#[test]
fn legacy_excel_and_opendocument_sheets_read_like_the_csv() {
    // Fixtures written by xlwt (.xls, BIFF8) and odfpy (.ods) from the sample's first 400
    // rows: dates as date cells formatted DD/MM/YYYY, numbers as numbers.
    let dir = tempfile::tempdir().unwrap();
    let (header, rows) = sample();
    let clean = dir.path().join("first-400.csv");
    let mut w = csv::Writer::from_path(&clean).unwrap();
    w.write_record(&header).unwrap();
    for r in &rows[..400] {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    let want = scores(dir.path(), &clean, &[]);
    for f in ["sample-400.xls", "sample-400.ods"] {
        let book = root().join("tests/data").join(f);
        assert_eq!(scores(dir.path(), &book, &[]), want, "{f}");
    }
}

#[test]
fn init_guesses_a_project_and_report_runs_from_it_with_no_flags() {
    let dir = tempfile::tempdir().unwrap();
    rewrite(dir.path(), "export.csv", b';', |c, num, v| match c {
        "churned" if v == "1" => "Attrited Customer".into(),
        "churned" => "Existing Customer".into(),
        c if DATE_COLUMNS.contains(&c) => date_as(v, [2, 1, 0], "."),
        _ if num => v.replace('.', ","),
        _ => v.to_string(),
    });
    churncal(dir.path())
        .args(["init", "--data", "export.csv"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("outcome          churned")
                .and(predicate::str::contains(
                    "'Attrited Customer' means churned",
                ))
                .and(predicate::str::contains("snapshot date    snapshot_date")),
        );
    let project = std::fs::read_to_string(dir.path().join("churncal.toml")).unwrap();
    for line in [
        "data = \"export.csv\"",
        "id-col = \"account_id\"",
        "churned-value = [\"Attrited Customer\"]",
        "decimal-comma = true",
        "arr-col = \"arr\"",
    ] {
        assert!(project.contains(line), "{line} not in\n{project}");
    }
    // Written once; again only with --force.
    churncal(dir.path())
        .args(["init", "--data", "export.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("churncal.toml exists"));
    churncal(dir.path())
        .args(["report", "--bootstrap", "20", "--out", "pack"])
        .assert()
        .success()
        .stderr(predicate::str::contains("settings from churncal.toml: "));
    let summary = std::fs::read_to_string(dir.path().join("pack/report.json")).unwrap();
    assert!(summary.contains("export.csv"), "{}", &summary[..200]);
}

#[test]
fn the_project_file_fills_what_flags_leave_out_and_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    clean(dir.path());
    std::fs::create_dir(dir.path().join("q4")).unwrap();
    std::fs::write(
        dir.path().join("q4/project.toml"),
        "data = \"../clean.csv\"\nprofile = \"eight-pillars\"\noutcome-col = \"no_such_column\"\n\n[tiers]\nout = \"tiers-out\"\n",
    )
    .unwrap();
    // The file's outcome column is wrong: its error shows the setting was used.
    churncal(dir.path())
        .args(["tiers", "--config", "q4/project.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no_such_column"));
    // A flag on the command line wins; paths are the file's folder's.
    churncal(dir.path())
        .args([
            "tiers",
            "--config",
            "q4/project.toml",
            "--outcome-col",
            "churned",
        ])
        .assert()
        .success();
    assert!(dir.path().join("q4/tiers-out/tiers.csv").exists());
    std::fs::write(
        dir.path().join("churncal.toml"),
        "data = \"clean.csv\"\nbootstap = 5\n",
    )
    .unwrap();
    churncal(dir.path())
        .args(["tiers"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "churncal.toml: bootstap: no command has a flag --bootstap",
        ));
    std::fs::write(dir.path().join("churncal.toml"), "[tiers]\nbootstrap = 5\n").unwrap();
    churncal(dir.path())
        .args(["tiers"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[tiers] bootstrap: 'tiers' has no flag --bootstrap",
        ));
}
