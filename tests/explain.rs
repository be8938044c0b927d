//! `churncal explain` end to end on the bundled sample: every account's change split by
//! metric sums to it, the worklist's CSV and workbook hold the same accounts, and a
//! previous profile splits the change into the profile's part and the data's part.

use std::path::Path;

use assert_cmd::Command;
use calamine::{open_workbook_auto, Data, Reader};
use predicates::prelude::*;

fn churncal(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("churncal").unwrap();
    c.current_dir(dir).env("SOURCE_DATE_EPOCH", "1790000000");
    c
}

fn table(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            h.iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

fn num(v: &str) -> f64 {
    v.parse().unwrap()
}

#[test]
fn the_last_quarter_is_explained_and_its_worklist_written_three_ways() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["explain", "--out", "q"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "explain 2025-09-30 → 2025-12-31: 1888 accounts",
        ));
    let changes = table(&dir.path().join("q/changes.csv"));
    assert_eq!(changes.len(), 1888);
    for r in &changes {
        let points: f64 = r
            .iter()
            .filter(|(k, _)| k.starts_with("points_"))
            .map(|(_, v)| num(v))
            .sum();
        assert!((points - num(&r["change"])).abs() < 1e-9, "{r:?}");
    }
    let list = table(&dir.path().join("q/worklist.csv"));
    assert!(!list.is_empty());
    for r in &list {
        let dropped = num(&r["score_from"]) - num(&r["score_to"]) >= 10.0;
        assert!(dropped || r["why"].contains(" → "), "{r:?}");
    }
    // The workbook, read back: each sheet holds its list's accounts in the CSV's order.
    let mut book = open_workbook_auto(dir.path().join("q/worklist.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["Worse tier", "Dropped"]);
    for (sheet, keep) in [("Worse tier", " → "), ("Dropped", "dropped")] {
        let range = book.worksheet_range(sheet).unwrap();
        let ids: Vec<String> = range
            .rows()
            .skip(1)
            .map(|r| match &r[0] {
                Data::String(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let want: Vec<String> = list
            .iter()
            .filter(|r| r["why"].contains(keep))
            .map(|r| r["account_id"].clone())
            .collect();
        assert_eq!(ids, want, "{sheet}");
    }
    assert!(dir.path().join("q/worklist.parquet").exists());
    let summary = std::fs::read_to_string(dir.path().join("q/summary.md")).unwrap();
    assert!(
        summary.contains("## Tier migration")
            && summary.contains("![Why the mean score moved](waterfall.svg)")
    );
    let svg = std::fs::read_to_string(dir.path().join("q/waterfall.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("change of the mean score"));
    // By segment: one row per plan, the accounts adding up.
    churncal(dir.path())
        .args(["explain", "-q", "--segment", "plan", "--out", "by-plan"])
        .assert()
        .code(1);
    let by_plan = std::fs::read_to_string(dir.path().join("by-plan/summary.md")).unwrap();
    let section = by_plan
        .split("## By plan")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let accounts: usize = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| plan"))
        .map(|l| {
            l.split('|')
                .nth(2)
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(accounts, 1888, "{section}");
    // Written once; again only with --force.
    churncal(dir.path())
        .args(["explain", "--out", "q"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists"));
}

#[test]
fn a_recalibration_splits_into_the_profile_and_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let calibrated = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports/example/three-dimensions-calibrated.toml");
    churncal(dir.path())
        .args([
            "explain",
            "-q",
            "--previous-profile",
            "three-dimensions",
            "--out",
            "q",
            "-p",
        ])
        .arg(&calibrated)
        .args(["--from", "2025-06-30", "--to", "2025-12-31"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("2025-06-30 → 2025-12-31"));
    for r in table(&dir.path().join("q/changes.csv")) {
        let (p, d) = (num(&r["profile_part"]), num(&r["data_part"]));
        assert!((p + d - num(&r["change_with_new_profile"])).abs() < 1e-9);
        let sum = |prefix: &str| -> f64 {
            r.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| num(v))
                .sum()
        };
        assert!((sum("profile_points_") - p).abs() < 1e-9, "{r:?}");
        assert!((sum("data_points_") - d).abs() < 1e-9, "{r:?}");
    }
    // A date the data does not have is refused with the dates it has.
    churncal(dir.path())
        .args(["explain", "--to", "2025-12-30", "--out", "x"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no snapshots dated 2025-12-30")
                .and(predicate::str::contains("2025-12-31")),
        );
}
