//! `calibrate --learn-transforms` as a user runs it: the learned profile, its summary and
//! charts, and the learned profile scoring new data and compiling to SQL like any other.

mod common;

use common::{churncal, files_under, real};
use predicates::prelude::*;
use serde_json::Value;

#[test]
fn learned_telco_profile_is_readable_scores_and_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let data = real("telco_customer_churn.csv");
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            &data,
            "--profile",
            &real("telco.toml"),
        ])
        .args([
            "--outcome-col",
            "Churn",
            "--learn-transforms",
            "-B",
            "20",
            "--out",
            "out",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "out-of-fold AUC: hand-written transforms",
        ));
    let out = dir.path().join("out");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let models = summary["learned"]["comparison"]["models"]
        .as_array()
        .unwrap();
    assert_eq!(models.len(), 4);
    let auc = |i: usize| models[i]["auc"].as_f64().unwrap();
    // Learned transforms are within 0.01 of binned logistic regression out of fold.
    assert!(auc(1) > auc(3) - 0.01, "{models:?}");
    // Every learned numeric metric: at most 5 bins, each with a chart.
    for m in summary["learned"]["metrics"].as_array().unwrap() {
        if m["kind"] == "kept" {
            continue;
        }
        assert!(m["bins"].as_array().unwrap().len() <= 5, "{m}");
        let name = m["metric"].as_str().unwrap().replace(' ', "-");
        let svg = std::fs::read_to_string(out.join(format!("transforms/{name}.svg"))).unwrap();
        assert!(svg.contains("Learned points of"), "{name}");
    }
    // The profile, the summary, the weights chart and one chart per learned metric.
    let learned = summary["learned"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] != "kept")
        .count();
    assert_eq!(files_under(&out).len(), 4 + learned);
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("## Learned transforms") && md.contains("![Tenure](transforms/Tenure.svg)")
    );
    let profile = out.join("telco-calibrated.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("kind = \"points\""), "{text}");
    // The learned profile scores data and compiles to SQL.
    churncal(dir.path())
        .args(["score", "--data", &data, "--profile"])
        .arg(&profile)
        .args(["--outcome-col", "Churn", "--out", "scores.csv"])
        .assert()
        .success();
    let scores = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    assert_eq!(scores.lines().count(), 7043 + 1);
    churncal(dir.path())
        .args(["sql", "score", "--dialect", "duckdb", "--profile"])
        .arg(&profile)
        .assert()
        .success()
        .stdout(predicate::str::contains("points"));
}

#[test]
fn learning_flags_need_learn_transforms_and_bad_values_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["calibrate", "--max-bins", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--learn-transforms"));
    churncal(dir.path())
        .args(["calibrate", "--learn-transforms", "--max-bins", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-bins 0"));
    churncal(dir.path())
        .args(["calibrate", "--learn-transforms", "--fit-transforms"])
        .assert()
        .code(2);
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn the_bundled_sample_learns_its_transforms() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--learn-transforms",
            "-B",
            "10",
            "--out",
            "out",
        ])
        .assert()
        .success();
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    let c = &summary["learned"]["comparison"];
    assert_eq!(c["models"].as_array().unwrap().len(), 4);
    // The holdout refits on the earlier dates with bins learned there.
    assert!(
        summary["calibration"]["holdout"]["calibrated"]["auc"]
            .as_f64()
            .unwrap()
            > 0.6
    );
}
