//! End-to-end tests: the `churncal` binary run as a user would, in a fresh folder.

use std::path::{Path, PathBuf};

mod common;

use common::{churncal, files_under, real, root};
use predicates::prelude::*;
use serde_json::Value;

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn score_with_no_arguments_scores_the_bundled_sample_into_reports() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .arg("score")
        .assert()
        .success()
        .stderr(predicate::str::contains("healthy").and(predicate::str::contains("critical")));
    let out =
        std::fs::read_to_string(dir.path().join("reports/three-dimensions-scores.csv")).unwrap();
    let header = out.lines().next().unwrap();
    assert!(header.starts_with("account_id,snapshot_date,score,group_relationship"));
    assert!(header.contains("tier,reason_1,reason_1_points"));
    assert_eq!(out.lines().count(), 15_537 + 1);
}

#[test]
fn every_preset_scores_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    for p in [
        "three-dimensions",
        "eight-pillars",
        "bigcommerce-ten",
        "quartiles",
    ] {
        churncal(dir.path())
            .args(["score", "--profile", p, "--out", "-"])
            .assert()
            .success()
            .stdout(predicate::str::contains("ACC-00001"));
    }
}

#[test]
fn score_writes_parquet_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["score", "--out", "s.parquet", "-q"])
        .assert()
        .success();
    let bytes = std::fs::read(dir.path().join("s.parquet")).unwrap();
    assert!(bytes.starts_with(b"PAR1"));
}

#[test]
fn calibrate_with_no_arguments_writes_profile_summary_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["calibrate", "-B", "20"])
        .assert()
        .success()
        .stderr(predicate::str::contains("cross-validated AUC"));
    let out = dir.path().join("reports/three-dimensions-2025-12-31");
    for f in [
        "three-dimensions-calibrated.toml",
        "summary.md",
        "summary.json",
        "weights.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let profile = std::fs::read_to_string(out.join("three-dimensions-calibrated.toml")).unwrap();
    assert!(profile.contains("[calibration]"));
    assert!(profile.contains("created = \"2026-09-21\""));
    // The calibrated profile scores data and reports a probability.
    churncal(dir.path())
        .args(["score", "--out", "-", "--profile"])
        .arg(out.join("three-dimensions-calibrated.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("p_churn"));
    // Not overwritten without --force.
    churncal(dir.path())
        .args(["calibrate", "-B", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn same_seed_gives_byte_identical_outputs_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    for (out, threads) in [("a", "1"), ("b", "2")] {
        churncal(dir.path())
            .env("RAYON_NUM_THREADS", threads)
            .args(["calibrate", "-B", "10", "--seed", "7", "--out", out, "-q"])
            .assert()
            .success();
    }
    let a = files_under(&dir.path().join("a"));
    let b = files_under(&dir.path().join("b"));
    assert_eq!(a.len(), 4);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{}",
            x.display()
        );
    }
}

#[test]
fn infinite_lambda_keeps_the_prior_weights_and_zero_is_maximum_likelihood() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--lambda",
            "inf",
            "-B",
            "0",
            "--out",
            "inf",
            "-q",
        ])
        .assert()
        .success();
    let s = summary(&dir.path().join("inf"));
    for m in s["calibration"]["metrics"].as_array().unwrap() {
        let (w, p) = (
            m["weight"].as_f64().unwrap(),
            m["prior_weight"].as_f64().unwrap(),
        );
        assert!((w - p).abs() < 1e-9, "{m}");
    }
    churncal(dir.path())
        .args([
            "calibrate",
            "--lambda",
            "0",
            "-B",
            "0",
            "--out",
            "zero",
            "-q",
        ])
        .assert()
        .success();
    let s = summary(&dir.path().join("zero"));
    let mut moved = 0.0;
    for m in s["calibration"]["metrics"].as_array().unwrap() {
        let (w, ml) = (
            m["weight"].as_f64().unwrap(),
            m["ml_weight"].as_f64().unwrap(),
        );
        assert!((w - ml).abs() < 1e-6, "{m}");
        moved += (w - m["prior_weight"].as_f64().unwrap()).abs();
    }
    assert!(moved > 5.0, "maximum likelihood moves away from the prior");
}

/// The generating weights of the bundled sample (notebooks-data/sample_truth.toml).
const TRUTH: [(&str, f64); 9] = [
    ("Days past due", 18.0),
    ("Active users", 16.0),
    ("Feature adoption", 14.0),
    ("Logins per user", 10.0),
    ("NPS", 10.0),
    ("CSM assessment", 10.0),
    ("Support tickets", 8.0),
    ("Long-term commitment", 8.0),
    ("Goals met", 6.0),
];

#[test]
fn calibration_recovers_the_generating_weights() {
    let dir = tempfile::tempdir().unwrap();
    // The truth's metrics and transforms, every weight equal: the prior knows the metrics,
    // not their weights.
    let truth = std::fs::read_to_string(root().join("notebooks-data/sample_truth.toml")).unwrap();
    let prior: String = truth[..truth.find("[calibration]").unwrap()]
        .lines()
        .map(|l| {
            if l.starts_with("weight = ") {
                "weight = 1"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("equal.toml"), prior).unwrap();
    churncal(dir.path())
        .args(["calibrate", "--profile", "equal.toml", "--out", "eq", "-q"])
        .assert()
        .success();
    let s = summary(&dir.path().join("eq"));
    let c = &s["calibration"];
    let mut inside = 0;
    for (name, w) in TRUTH {
        let m = c["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        let ci = m["weight_ci"].as_array().unwrap();
        if ci[0].as_f64().unwrap() <= w && w <= ci[1].as_f64().unwrap() {
            inside += 1;
        }
    }
    assert!(
        inside * 10 >= TRUTH.len() * 8,
        "{inside} of {} inside",
        TRUTH.len()
    );
    let cv = &c["cross_validation"];
    assert!(
        cv["calibrated"]["auc"].as_f64() >= cv["prior"]["auc"].as_f64(),
        "{cv}"
    );
}

#[test]
fn bad_value_exits_2_naming_file_row_column_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        std::fs::read_to_string(root().join("notebooks-data/sample_snapshots.csv")).unwrap();
    let mut lines: Vec<String> = sample.lines().take(50).map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = header.iter().position(|c| *c == "days_past_due").unwrap();
    let mut fields: Vec<String> = lines[7].split(',').map(String::from).collect();
    fields[col] = "ten".into();
    lines[7] = fields.join(",");
    std::fs::write(dir.path().join("bad.csv"), lines.join("\n")).unwrap();
    for cmd in ["score", "calibrate"] {
        churncal(dir.path())
            .args([cmd, "--data", "bad.csv"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "bad.csv, row 7, column 'days_past_due': value 'ten' is not a number",
            ));
    }
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn missing_metric_column_suggests_the_closest_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "name = \"x\"\nformat = 1\n[[tiers]]\nname = \"all\"\nmin = 0\n[[metrics]]\nname = \"Calls\"\ncolumn = \"Call Failure\"\nweight = 1\ndirection = \"lower-is-better\"\ntransform = { kind = \"linear\", lo = 0, hi = 20 }\n",
    )
    .unwrap();
    churncal(dir.path())
        .args(["score", "--profile", "p.toml", "--data"])
        .arg(real("iranian_churn.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("closest: 'Call  Failure'"));
}

#[test]
fn unknown_category_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let profile = std::fs::read_to_string(real("telco.toml"))
        .unwrap()
        .replace("\"Two year\" = 100", "\"Two years\" = 100");
    std::fs::write(dir.path().join("t.toml"), profile).unwrap();
    churncal(dir.path())
        .args([
            "score",
            "--profile",
            "t.toml",
            "--id-col",
            "customerID",
            "--data",
        ])
        .arg(real("telco_customer_churn.csv"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "category 'Two year' is not in the map",
        ));
}

#[test]
fn invalid_profile_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "name = \"x\"\nformat = 1\nmetrics = []\n[[tiers]]\nname = \"a\"\nmin = 0\n",
    )
    .unwrap();
    churncal(dir.path())
        .args(["score", "--profile", "p.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no [[metrics]]"));
}

#[test]
fn iranian_set_loads_with_no_id_no_date_and_double_spaced_names() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--outcome-col",
            "Churn",
            "-B",
            "20",
            "--out",
            "ir",
            "--fit-transforms",
        ])
        .args([
            "--profile",
            &real("iranian.toml"),
            "--data",
            &real("iranian_churn.csv"),
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("no account id column"));
    let s = summary(&dir.path().join("ir"));
    assert_eq!(s["calibration"]["rows"], 3150);
    assert_eq!(s["calibration"]["events"], 495);
    assert!(
        s["calibration"]["cross_validation"]["calibrated"]["auc"]
            .as_f64()
            .unwrap()
            > 0.85
    );
}

#[test]
fn telco_set_loads_yes_no_outcome_and_blank_total_charges() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--id-col",
            "customerID",
            "--outcome-col",
            "Churn",
            "-B",
            "20",
            "--out",
            "tc",
        ])
        .args([
            "--profile",
            &real("telco.toml"),
            "--data",
            &real("telco_customer_churn.csv"),
        ])
        .assert()
        .success();
    let s = summary(&dir.path().join("tc"));
    assert_eq!(s["calibration"]["rows"], 7043);
    assert_eq!(s["calibration"]["events"], 1869);
}

#[test]
fn outcome_from_churn_date_with_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        std::fs::read_to_string(root().join("notebooks-data/sample_snapshots.csv")).unwrap();
    // Drop the outcome column; derive it from churn_date over 90 days.
    let stripped: Vec<String> = sample
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(2);
            f.join(",")
        })
        .collect();
    std::fs::write(dir.path().join("s.csv"), stripped.join("\n")).unwrap();
    churncal(dir.path())
        .args(["calibrate", "--data", "s.csv"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--horizon"));
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            "s.csv",
            "--horizon",
            "90d",
            "-B",
            "0",
            "--out",
            "h",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("right-censored"));
}

#[test]
fn profile_list_show_and_init() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["profile", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("bigcommerce-ten").and(predicate::str::contains("35.3")));
    churncal(dir.path())
        .args(["profile", "show", "eight-pillars"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "anatomy of a high-performance health score",
        ));
    churncal(dir.path())
        .args(["profile", "init", "quartiles", "--out", "q.toml"])
        .assert()
        .success();
    churncal(dir.path())
        .args(["profile", "init", "quartiles", "--out", "q.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    churncal(dir.path())
        .args(["score", "--profile", "q.toml", "--out", "-", "-q"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unhealthy"));
}

#[test]
fn synth_is_deterministic_and_matches_the_bundled_sample() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["synth", "--out", "s.csv", "-q"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("s.csv")).unwrap(),
        std::fs::read(root().join("notebooks-data/sample_snapshots.csv")).unwrap(),
        "the bundled sample is `churncal synth` with the default seed"
    );
    assert_eq!(
        std::fs::read(dir.path().join("sample_truth.toml")).unwrap(),
        std::fs::read(root().join("notebooks-data/sample_truth.toml")).unwrap()
    );
}

#[test]
fn too_few_events_per_weight_is_refused_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let sample =
        std::fs::read_to_string(root().join("notebooks-data/sample_snapshots.csv")).unwrap();
    // The first 1,500 rows hold a handful of churn events for ten weights.
    let head: Vec<&str> = sample.lines().take(1501).collect();
    std::fs::write(dir.path().join("few.csv"), head.join("\n")).unwrap();
    churncal(dir.path())
        .args(["calibrate", "--data", "few.csv", "-B", "0"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("events per weight").and(predicate::str::contains("--force")),
        );
    assert!(!dir.path().join("reports").exists());
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            "few.csv",
            "-B",
            "0",
            "--force",
            "--out",
            "f",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("below 10"));
}

fn json_at(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tiers_on_the_sample_reproduce_the_hbr_shape_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .arg("tiers")
        .assert()
        .success()
        .stderr(predicate::str::contains("Accounts scoring ≤ 30 churned at"));
    let out = dir.path().join("reports/tiers-three-dimensions-2025-12-31");
    for f in [
        "tiers.md",
        "tiers.csv",
        "tiers.json",
        "tiers.svg",
        "bands.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let j = json_at(&out.join("tiers.json"));
    let t = &j["tiers"];
    assert_eq!(t["unit"], "account");
    assert_eq!(t["units"], 2000);
    assert_eq!(t["churned"], 132);
    let bands = t["bands"].as_array().unwrap();
    assert_eq!(bands.len(), 3);
    let best = &bands[0];
    let worst = &bands[2];
    assert_eq!(best["label"], "≥ 50");
    assert_eq!(worst["label"], "≤ 30");
    let (rb, rw) = (
        best["rate"].as_f64().unwrap(),
        worst["rate"].as_f64().unwrap(),
    );
    assert!(rw > 3.0 * rb, "critical band {rw} vs ≥ 50 band {rb}");
    // the intervals do not overlap: the difference is not noise
    assert!(worst["ci"][0].as_f64().unwrap() > best["ci"][1].as_f64().unwrap());
    assert_eq!(t["tier_check"]["monotone"], true);
    let churned: u64 = t["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["churned"].as_u64().unwrap())
        .sum();
    assert_eq!(churned, 132);
    assert!(t["trend"].as_array().unwrap().len() == 8);
    let svg = std::fs::read_to_string(out.join("tiers.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Churn across health tiers"));
    let csv = std::fs::read_to_string(out.join("tiers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 + 3);
}

#[test]
fn tiers_by_snapshot_count_every_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "tiers", "--unit", "snapshot", "--bands", "20,40,60", "--out", "t",
        ])
        .assert()
        .success();
    let j = json_at(&dir.path().join("t/tiers.json"));
    assert_eq!(j["tiers"]["units"], 15537);
    assert_eq!(j["tiers"]["bands"].as_array().unwrap().len(), 4);
    churncal(dir.path())
        .args(["tiers", "--bands", "50,30"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("strictly increasing"));
}

#[test]
fn fitted_tiers_are_monotone_written_to_a_copy_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut c = churncal(dir.path());
        c.args(["tiers", "--fit-tiers", "separation", "--out", "fit"])
            .args(extra);
        c
    };
    run(&[]).assert().success();
    let j = json_at(&dir.path().join("fit/tiers.json"));
    let p = &j["proposal"];
    assert_eq!(p["report"]["tier_check"]["monotone"], true);
    let rows = p["report"]["tiers"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for r in rows {
        assert!(
            r["units"].as_u64().unwrap() >= 100,
            "each tier ≥ 5 % of 2000"
        );
    }
    let copy = dir.path().join("fit/three-dimensions-tiers.toml");
    let before = std::fs::read(&copy).unwrap();
    // the copy is a valid profile
    churncal(dir.path())
        .args(["score", "--out", "s.csv", "--profile"])
        .arg(&copy)
        .assert()
        .success();
    run(&[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    run(&["--force"]).assert().success();
    churncal(dir.path())
        .args(["tiers", "--fit-tiers", "quantiles=0.5", "--out", "q"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("profile has 4"));
    churncal(dir.path())
        .args(["tiers", "--fit-tiers", "quartiles", "--out", "q"])
        .assert()
        .success();
}

#[test]
fn cohorts_by_segments_suppress_small_ones_and_sort_by_risk() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["cohorts", "--by", "industry,size_band", "--out", "c"])
        .assert()
        .success();
    let out = dir.path().join("c");
    for f in [
        "cohorts.md",
        "cohorts.json",
        "cohorts.csv",
        "metric-cohorts.csv",
        "metric-cohorts.svg",
        "retention.csv",
        "retention.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let j = json_at(&out.join("cohorts.json"));
    let r = &j["report"];
    let rows = r["cohorts"]["cohorts"].as_array().unwrap();
    let shown: Vec<f64> = rows
        .iter()
        .filter(|c| c["suppressed"] == false)
        .map(|c| c["churn"]["rate"].as_f64().unwrap())
        .collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "riskiest first");
    let accounts: u64 = rows.iter().map(|c| c["accounts"].as_u64().unwrap()).sum();
    assert_eq!(accounts, 2000, "suppressed cohorts are kept");
    for c in rows.iter().filter(|c| c["suppressed"] == true) {
        assert!(c["accounts"].as_u64().unwrap() < 30);
        assert!(c.get("churn").is_none());
    }
    // one metric cohort per profile metric; sample metrics churn in their declared direction
    let mc = r["metric_cohorts"].as_array().unwrap();
    assert_eq!(mc.len(), 10);
    assert!(mc.iter().all(|m| m["direction_conflict"] == false));
    let curves = r["retention"]["curves"].as_array().unwrap();
    assert!(!curves.is_empty());
    for c in curves.iter().filter(|c| c["suppressed"] == false) {
        let pts = c["points"].as_array().unwrap();
        let s: Vec<f64> = pts
            .iter()
            .map(|p| p["survival"].as_f64().unwrap())
            .collect();
        assert!(s.windows(2).all(|w| w[1] <= w[0]), "survival never rises");
        assert!(s[0] > 0.9, "a curve starts near 1");
    }
    churncal(dir.path())
        .args(["cohorts", "--by", "industri", "--out", "bad"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("industry"));
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn cohorts_on_telco_by_contract_put_month_to_month_first() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "cohorts",
            "--id-col",
            "customerID",
            "--outcome-col",
            "Churn",
            "--by",
            "Contract",
            "--out",
            "tc",
        ])
        .args([
            "--profile",
            &real("telco.toml"),
            "--data",
            &real("telco_customer_churn.csv"),
        ])
        .assert()
        .success();
    let j = json_at(&dir.path().join("tc/cohorts.json"));
    let rows = j["report"]["cohorts"]["cohorts"].as_array().unwrap();
    assert_eq!(rows[0]["cohort"][0], "Month-to-month");
    // 1655 of 3875 month-to-month customers churned
    assert_eq!(rows[0]["churn"]["churned"], 1655);
    assert_eq!(rows[0]["units"], 3875);
    assert!(
        j["report"]["retention"].is_null(),
        "no churn dates in Telco"
    );
}

/// Checks of a validation report by name → status.
fn gate_status(dir: &Path, check_prefix: &str) -> String {
    let j = json_at(&dir.join("validation.json"));
    j["validation"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().starts_with(check_prefix))
        .unwrap_or_else(|| panic!("no check '{check_prefix}'"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_gate_passes_a_calibrated_candidate_and_fails_broken_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    churncal(d)
        .args(["synth", "-q", "--accounts", "8000", "--churned", "600"])
        .args(["--out", "s.csv"])
        .assert()
        .success();
    churncal(d)
        .args([
            "calibrate",
            "-q",
            "--data",
            "s.csv",
            "-B",
            "0",
            "--lambda",
            "0.1",
        ])
        .args(["--out", "cal"])
        .assert()
        .success();
    let cand = "cal/three-dimensions-calibrated.toml";
    let validate = |candidate: &str, data: &str, out: &str| {
        let mut c = churncal(d);
        c.args(["validate", "-q", "-B", "50", "--incumbent", "quartiles"])
            .args(["--optimism-bootstrap", if out == "ok" { "20" } else { "0" }])
            .args(["--candidate", candidate, "--data", data, "--out", out]);
        c
    };
    // 1. calibrated on the data, against equal weights: passes
    validate(cand, "s.csv", "ok")
        .assert()
        .code(0)
        .stderr(predicate::str::contains("may replace"));
    let j = json_at(&d.join("ok/validation.json"));
    assert_eq!(j["validation"]["passed"], true);
    let o = &j["validation"]["optimism"];
    assert_eq!(o["replicates"], 20);
    let (app, cor) = (
        o["apparent"]["auc"].as_f64().unwrap(),
        o["corrected"]["auc"].as_f64().unwrap(),
    );
    assert!(
        (app - cor).abs() < 0.02,
        "small optimism at 64k rows: {app} vs {cor}"
    );
    for f in ["validation.md", "roc.svg", "reliability.svg"] {
        assert!(d.join("ok").join(f).exists(), "{f}");
    }

    // 2. directions reversed: the ranking inverts and ΔAUC fails
    let text = std::fs::read_to_string(d.join(cand)).unwrap();
    let reversed = text
        .replace("higher-is-better", "@")
        .replace("lower-is-better", "higher-is-better")
        .replace('@', "lower-is-better");
    std::fs::write(d.join("reversed.toml"), reversed).unwrap();
    validate("reversed.toml", "s.csv", "rev")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("must not replace")
                .and(predicate::str::contains("score direction")),
        );
    assert_eq!(gate_status(&d.join("rev"), "ΔAUC"), "fail");
    // the refitted slope says a higher score means more churn: the defect is named
    assert_eq!(gate_status(&d.join("rev"), "score direction"), "fail");

    // 3. tiers squeezed into the top of the scale: not monotone or too small
    let squeezed = text
        .replacen("min = 70", "min = 99", 1)
        .replacen("min = 51", "min = 98.5", 1)
        .replacen("min = 30", "min = 98", 1);
    assert_ne!(squeezed, text);
    std::fs::write(d.join("squeezed.toml"), squeezed).unwrap();
    let run = validate("squeezed.toml", "s.csv", "sq").assert();
    let mono = gate_status(&d.join("sq"), "tier churn strictly monotone");
    // Tier shares are a business rule: a warning by default...
    assert_eq!(gate_status(&d.join("sq"), "tier shares"), "warn");
    run.code(if mono == "fail" { 1 } else { 0 });
    // ...and a failure when the gate file says so.
    std::fs::write(d.join("gate.toml"), "fail_on = [\"tier-shares\"]\n").unwrap();
    validate("squeezed.toml", "s.csv", "sq2")
        .args(["--gate", "gate.toml"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("tier shares failed")
                .or(predicate::str::contains("tier shares")),
        );
    assert_eq!(gate_status(&d.join("sq2"), "tier shares"), "fail");

    // 4. the population shifts in the validation period: usage collapses
    let csv = std::fs::read_to_string(d.join("s.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (date, active, adoption) = (
        col("snapshot_date"),
        col("active_user_ratio"),
        col("feature_adoption_pct"),
    );
    let mut shifted = header.join(",");
    shifted.push('\n');
    for line in lines {
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        if f[date].as_str() >= "2025-09-30" {
            for c in [active, adoption] {
                if let Ok(v) = f[c].parse::<f64>() {
                    f[c] = format!("{}", v * 0.2);
                }
            }
        }
        shifted.push_str(&f.join(","));
        shifted.push('\n');
    }
    std::fs::write(d.join("shifted.csv"), shifted).unwrap();
    validate(cand, "shifted.csv", "sh").assert().code(1);
    assert_eq!(gate_status(&d.join("sh"), "score PSI"), "fail");

    // a gate file relaxes a threshold; a typo in it is an error (exit 2)
    std::fs::write(d.join("gate.toml"), "psi_fail = 5.0\npsi_warn = 4.0\n").unwrap();
    churncal(d)
        .args(["validate", "-q", "-B", "20", "--incumbent", "quartiles"])
        .args(["--optimism-bootstrap", "0"])
        .args(["--candidate", cand, "--data", "shifted.csv", "--out", "sh2"])
        .args(["--gate", "gate.toml"])
        .assert()
        .code(predicate::in_iter([0, 1]));
    assert_eq!(gate_status(&d.join("sh2"), "score PSI"), "pass");
    // one live profile, quarter by quarter: PSI against the data it was calibrated on
    // (s.csv, named in its calibration block) flags the shifted quarters
    churncal(d)
        .args([
            "validate",
            "-q",
            "--profile",
            cand,
            "--data",
            "shifted.csv",
            "--out",
            "mon",
        ])
        .assert()
        .code(1);
    let m = json_at(&d.join("mon/monitor.json"));
    let q = m["monitor"]["quarters"].as_array().unwrap();
    assert_eq!(q.len(), 8);
    assert!(m["monitor"]["reference"]
        .as_str()
        .unwrap()
        .contains("s.csv"));
    assert!(q[0]["psi"].as_f64().unwrap() < 0.1);
    assert!(q[7]["psi"].as_f64().unwrap() >= 0.25);
    churncal(d)
        .args([
            "validate",
            "-q",
            "--profile",
            cand,
            "--data",
            "s.csv",
            "--out",
            "mon2",
        ])
        .assert()
        .code(0);
    std::fs::write(d.join("bad.toml"), "psi_fial = 5.0\n").unwrap();
    churncal(d)
        .args([
            "validate",
            "-q",
            "--incumbent",
            "quartiles",
            "--candidate",
            cand,
        ])
        .args(["--data", "s.csv", "--gate", "bad.toml", "--out", "bad"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("psi_fial"));
    assert!(!d.join("bad").exists());
}

#[test]
fn audit_is_clean_on_the_sample_and_flags_the_real_sets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    churncal(d)
        .args(["audit", "--as-of", "2026-04-30", "--out", "a"])
        .assert()
        .success()
        .stderr(predicate::str::contains("audit: 0 errors, 0 warnings"));
    let j = json_at(&d.join("a/audit.json"));
    assert_eq!(j["audit"]["impact"].as_array().unwrap().len(), 10);

    churncal(d)
        .args([
            "audit",
            "--outcome-col",
            "Churn",
            "--scan",
            "all",
            "--out",
            "ir",
        ])
        .args([
            "--profile",
            &real("iranian.toml"),
            "--data",
            &real("iranian_churn.csv"),
        ])
        .assert()
        .success();
    let j = json_at(&d.join("ir/audit.json"));
    let findings = j["audit"]["findings"].as_array().unwrap();
    let has = |check: &str, text: &str| {
        findings
            .iter()
            .any(|f| f["check"] == check && f.to_string().contains(text))
    };
    assert!(has("duplicate rows", "300 rows"));
    assert!(has("suspected leakage", "Status"));

    churncal(d)
        .args([
            "audit",
            "--id-col",
            "customerID",
            "--outcome-col",
            "Churn",
            "--out",
            "tc",
        ])
        .args([
            "--profile",
            &real("telco.toml"),
            "--data",
            &real("telco_customer_churn.csv"),
        ])
        .assert()
        .success();
    let j = json_at(&d.join("tc/audit.json"));
    assert!(j["audit"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check"] == "missing values"
            && f["subject"] == "TotalCharges"
            && f["message"].as_str().unwrap().starts_with("11 missing")));
}

#[test]
fn calibrate_refuses_data_the_audit_rejects_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    // "today" before the data ends: snapshot dates in the future are an audit error
    churncal(dir.path())
        .args([
            "calibrate",
            "--as-of",
            "2025-06-30",
            "-B",
            "0",
            "--lambda",
            "1",
            "--out",
            "c",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("audit found errors")
                .and(predicate::str::contains("future dates")),
        );
    assert!(!dir.path().join("c").exists());
    churncal(dir.path())
        .args([
            "calibrate",
            "--as-of",
            "2025-06-30",
            "-B",
            "0",
            "--lambda",
            "1",
            "--out",
            "c",
        ])
        .arg("--force")
        .assert()
        .success();
}

#[test]
fn a_case_control_sample_gives_weights_inside_the_full_fits_intervals() {
    // Prentice & Pyke (1979): sampling retained snapshots at rate r leaves the slopes alone
    // and moves the intercept by −ln r, which calibrate adds back.
    let dir = tempfile::tempdir().unwrap();
    for (out, extra) in [("full", None), ("sampled", Some("0.3"))] {
        let mut c = churncal(dir.path());
        c.args([
            "calibrate",
            "--lambda",
            "0",
            "-B",
            "100",
            "--out",
            out,
            "-q",
        ]);
        if let Some(r) = extra {
            c.args(["--sample-controls", r]);
        }
        let a = c.assert().success();
        if extra.is_some() {
            a.stderr(predicate::str::contains("case-control sample"));
        }
    }
    let full = summary(&dir.path().join("full"));
    let sampled = summary(&dir.path().join("sampled"));
    let (f, s) = (&full["calibration"], &sampled["calibration"]);
    for (a, b) in f["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .zip(s["metrics"].as_array().unwrap())
    {
        let ci = a["weight_ci"].as_array().unwrap();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let w = b["weight"].as_f64().unwrap();
        assert!(
            lo <= w && w <= hi,
            "{}: {w} outside [{lo}, {hi}]",
            a["name"]
        );
    }
    // The corrected log-odds at a mid score agree with the full fit's.
    let at =
        |c: &Value, s: f64| c["intercept"].as_f64().unwrap() + c["slope"].as_f64().unwrap() * s;
    for score in [0.3, 0.5, 0.7] {
        assert!((at(f, score) - at(s, score)).abs() < 0.25, "at {score}");
    }
    // Without the correction the sample's log-odds would be off by ln 0.3 ≈ −1.2.
    assert!((at(f, 0.5) - (at(s, 0.5) - 0.3f64.ln())).abs() > 1.0);
    // The rate is checked.
    churncal(dir.path())
        .args([
            "calibrate",
            "--sample-controls",
            "1.5",
            "--out",
            "bad",
            "-q",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--sample-controls"));
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn every_command_gives_byte_identical_outputs_across_runs_and_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 7] = [
        &["score", "--out", "OUT/scores.csv"],
        &["tiers", "--fit-tiers", "separation", "--out", "OUT"],
        &["cohorts", "--by", "industry,tenure", "--out", "OUT"],
        &["audit", "--out", "OUT"],
        &[
            "validate",
            "--candidate",
            "eight-pillars",
            "--incumbent",
            "three-dimensions",
            "-B",
            "20",
            "--optimism-bootstrap",
            "5",
            "--out",
            "OUT",
        ],
        &["calibrate", "-B", "10", "--seed", "7", "--out", "OUT"],
        &[
            "report",
            "--bootstrap",
            "10",
            "--optimism-bootstrap",
            "5",
            "--out",
            "OUT",
        ],
    ];
    for args in commands {
        let name = args[0];
        // Two runs on one thread and one on two: all three byte-identical.
        for (run, threads) in [("1a", "1"), ("1b", "1"), ("2", "2")] {
            let out = format!("{name}-{run}");
            let args: Vec<String> = args.iter().map(|a| a.replace("OUT", &out)).collect();
            if name == "score" {
                std::fs::create_dir_all(dir.path().join(&out)).unwrap();
            }
            let code = churncal(dir.path())
                .env("RAYON_NUM_THREADS", threads)
                .args(&args)
                .arg("-q")
                .output()
                .unwrap()
                .status
                .code();
            // validate exits 1 when its gate fails, which is an answer too.
            assert!(matches!(code, Some(0) | Some(1)), "{name}: exit {code:?}");
        }
        let first = files_under(&dir.path().join(format!("{name}-1a")));
        assert!(!first.is_empty(), "{name} wrote nothing");
        for other in ["1b", "2"] {
            let files = files_under(&dir.path().join(format!("{name}-{other}")));
            assert_eq!(first.len(), files.len(), "{name}");
            for (x, y) in first.iter().zip(&files) {
                assert!(
                    std::fs::read(x).unwrap() == std::fs::read(y).unwrap(),
                    "{name}: {} differs between runs ({other})",
                    x.file_name().unwrap().to_string_lossy()
                );
            }
        }
    }
}

/// Edge data for the numerical edge cases: `a` separates churners perfectly when
/// `separable` (churned iff a < 20), `c` is constant, every score stays under 55 (the
/// profile's two upper tiers stay empty), and one account forms a cohort of its own.
fn edge_csv(dir: &Path, separable: bool) -> PathBuf {
    let mut s = String::from("account_id,snapshot_date,churned,a,c,b,seg\n");
    let mut state = 12345u64;
    let mut unif = || {
        // xorshift: a fixed, dependency-free sequence
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f64 / 100.0
    };
    for i in 0..300 {
        for d in ["2025-03-31", "2025-06-30", "2025-09-30"] {
            let a = unif() / 2.0;
            let b = unif() / 2.0;
            let y = if separable {
                (a < 20.0) as u8
            } else {
                (unif() < 2.0 + 30.0 * (a < 10.0) as u8 as f64) as u8
            };
            let seg = if i == 0 { "solo" } else { "big" };
            s.push_str(&format!("A{i},{d},{y},{a:.2},50,{b:.2},{seg}\n"));
        }
    }
    let p = dir.join(if separable { "sep.csv" } else { "edge.csv" });
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn numerical_edge_cases_warn_and_never_write_nan() {
    let dir = tempfile::tempdir().unwrap();
    let profile = root().join("tests/data/edge-profile.toml");
    let profile = profile.to_str().unwrap();
    // Perfect separation and a constant metric: calibrate warns about both.
    let sep = edge_csv(dir.path(), true);
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            sep.to_str().unwrap(),
            "--profile",
            profile,
        ])
        .args(["-B", "20", "--out", "sep", "-q"])
        .assert()
        .success()
        .stderr(predicate::str::contains("separates churned from retained"))
        .stderr(predicate::str::contains(
            "'Const' has the same sub-score on every row",
        ));
    // Empty tiers, a one-account cohort, all through the report pack.
    let edge = edge_csv(dir.path(), false);
    churncal(dir.path())
        .args([
            "report",
            "--data",
            edge.to_str().unwrap(),
            "--profile",
            profile,
        ])
        .args(["--segment", "seg", "--by", "seg", "--bootstrap", "20"])
        .args(["--optimism-bootstrap", "5", "--out", "edge", "-q"])
        .assert()
        .success();
    churncal(dir.path())
        .args([
            "tiers",
            "--data",
            edge.to_str().unwrap(),
            "--profile",
            profile,
        ])
        .args(["--out", "tiers", "-q"])
        .assert()
        .success();
    let tiers = std::fs::read_to_string(dir.path().join("tiers/tiers.md")).unwrap();
    assert!(
        tiers.contains("| empty-middle | 55.0–60.0 | 0 | 0 | 0 | 0 | – |"),
        "{tiers}"
    );
    let report = std::fs::read_to_string(dir.path().join("edge/report.md")).unwrap();
    assert!(
        report.contains("| solo | 1 | 1 | suppressed |"),
        "one-account cohort not suppressed"
    );
    for d in ["sep", "edge", "tiers"] {
        for f in files_under(&dir.path().join(d)) {
            let body = std::fs::read_to_string(&f).unwrap();
            assert!(!body.contains("NaN"), "NaN in {}", f.display());
        }
    }
}

#[test]
fn a_killed_calibration_leaves_the_previous_outputs_intact() {
    let dir = tempfile::tempdir().unwrap();
    // The previous quarter's outputs.
    churncal(dir.path())
        .args(["calibrate", "-B", "10", "--out", "q", "-q"])
        .assert()
        .success();
    let before: Vec<(PathBuf, Vec<u8>)> = files_under(&dir.path().join("q"))
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert_eq!(before.len(), 4);
    // A large run into the same folder, killed (SIGKILL) half-way.
    churncal(dir.path())
        .args([
            "synth",
            "--accounts",
            "40000",
            "--churned",
            "2600",
            "--out",
            "big.parquet",
            "-q",
        ])
        .assert()
        .success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churncal"))
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1790000000")
        .args([
            "calibrate",
            "--data",
            "big.parquet",
            "--profile",
            "eight-pillars",
        ])
        .args(["--out", "q", "--force", "-q"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let after = files_under(&dir.path().join("q"));
    assert_eq!(
        after,
        before.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        "files appeared or vanished"
    );
    for (p, b) in &before {
        assert!(&std::fs::read(p).unwrap() == b, "{} changed", p.display());
    }
}

/// SIGKILL while `score` writes a large table: the previous table stays whole, and the
/// killed run's temporary sibling (which no process can remove at SIGKILL) is cleared by the
/// next run that writes the same file.
#[cfg(unix)]
#[test]
fn a_score_killed_while_writing_leaves_the_old_table_and_the_next_run_clears_its_temporary() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args(["synth", "--accounts", "40000", "--churned", "2600"])
        .args(["--out", "big.parquet", "-q"])
        .assert()
        .success();
    std::fs::write(dir.path().join("scores.csv"), b"the previous table\n").unwrap();
    let temporaries = || -> Vec<PathBuf> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.starts_with(".scores.csv.") && n.ends_with(".tmp")
            })
            .collect()
    };
    let score_args = [
        "score",
        "--data",
        "big.parquet",
        "--profile",
        "eight-pillars",
        "--out",
        "scores.csv",
        "-q",
    ];
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("churncal"))
        .current_dir(dir.path())
        .args(score_args)
        .spawn()
        .unwrap();
    // Kill as soon as the temporary output exists (the table is being written).
    let start = std::time::Instant::now();
    while temporaries().is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "score finished before its output could be caught half-written"
        );
        assert!(
            start.elapsed().as_secs() < 120,
            "no temporary output appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("scores.csv")).unwrap(),
        b"the previous table\n",
        "the previous table changed"
    );
    assert_eq!(temporaries().len(), 1, "the killed run's temporary");
    churncal(dir.path()).args(score_args).assert().success();
    assert!(
        temporaries().is_empty(),
        "temporaries left: {:?}",
        temporaries()
    );
    let table = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    assert!(table.lines().count() > 200_000, "the whole table");
}

/// An export larger than the memory allowed stops before reading, saying how much it needs.
#[test]
fn a_run_that_would_not_fit_in_memory_stops_up_front_naming_the_need() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("notebooks-data/sample_snapshots.csv");
    for args in [
        vec!["calibrate", "--out", "out"],
        vec!["score", "--out", "out/s.csv"],
        vec!["tiers", "--out", "out"],
        vec!["audit", "--out", "out"],
    ] {
        churncal(dir.path())
            .args(&args)
            .args(["--data", data.to_str().unwrap(), "--max-memory", "2M"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("need about")
                    .and(predicate::str::contains("is the --max-memory limit"))
                    .and(predicate::str::contains("rows × ")),
            );
        assert!(!dir.path().join("out").exists(), "{args:?} wrote something");
    }
    // A sane limit lets it run.
    churncal(dir.path())
        .args(["score", "--out", "out/s.csv", "-q", "--max-memory", "2G"])
        .args(["--data", data.to_str().unwrap()])
        .assert()
        .success();
    churncal(dir.path())
        .args([
            "score",
            "--max-memory",
            "lots",
            "--data",
            data.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a size"));
}

#[test]
fn an_outcome_with_its_own_labels_is_named_by_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = "account_id,snapshot_date,churned,nps\n".to_string()
        + &(0..60)
            .map(|i| {
                format!(
                    "a{i},2024-01-01,{},{}\n",
                    if i % 3 == 0 {
                        "Attrited Customer"
                    } else {
                        "Existing Customer"
                    },
                    i
                )
            })
            .collect::<String>();
    std::fs::write(d.join("bank.csv"), csv).unwrap();
    std::fs::write(
        d.join("nps.toml"),
        "name = \"nps\"\nformat = 1\n\n[[tiers]]\nname = \"good\"\nmin = 30\n\n[[tiers]]\nname = \"bad\"\nmin = 0\n\n\
         [[metrics]]\nname = \"NPS\"\ncolumn = \"nps\"\nweight = 1\ndirection = \"higher-is-better\"\n\
         transform = { kind = \"linear\", lo = 0, hi = 60 }\nmissing = \"redistribute\"\n",
    )
    .unwrap();
    let tiers = || {
        let mut c = churncal(d);
        c.args([
            "tiers",
            "-q",
            "--profile",
            "nps.toml",
            "--data",
            "bank.csv",
            "--out",
            "t",
        ]);
        c
    };
    tiers().assert().code(2).stderr(
        predicate::str::contains("'Attrited Customer'")
            .and(predicate::str::contains("--churned-value")),
    );
    assert!(!d.join("t").exists());
    tiers()
        .args(["--churned-value", "attrited customer"])
        .assert()
        .success();
    let j = json_at(&d.join("t/tiers.json"));
    assert_eq!(j["tiers"]["churned"], 20);
}

#[test]
fn outputs_are_checked_before_the_work_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // synth: the truth file beside the snapshots exists, so neither is written
    std::fs::write(d.join("sample_truth.toml"), "keep me").unwrap();
    churncal(d)
        .args([
            "synth",
            "-q",
            "--accounts",
            "50",
            "--churned",
            "5",
            "--out",
            "s.csv",
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("sample_truth.toml exists")
                .and(predicate::str::contains("--force")),
        );
    assert!(!d.join("s.csv").exists(), "no half output");
    assert_eq!(
        std::fs::read_to_string(d.join("sample_truth.toml")).unwrap(),
        "keep me"
    );
    // calibrate: the calibrated profile exists in the given folder, so the data (here a
    // file that does not exist) is never read
    std::fs::create_dir(d.join("q4")).unwrap();
    std::fs::write(d.join("q4/three-dimensions-calibrated.toml"), "keep me").unwrap();
    churncal(d)
        .args(["calibrate", "-q", "--data", "missing.csv", "--out", "q4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "three-dimensions-calibrated.toml exists",
        ));
    churncal(d)
        .args(["report", "-q", "--data", "missing.csv", "--out", "q4"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists"));
    // score: a table that cannot be written (its folder is a file) stops before reading
    std::fs::write(d.join("plain"), "x").unwrap();
    churncal(d)
        .args([
            "score",
            "-q",
            "--data",
            "missing.csv",
            "--out",
            "plain/scores.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("writing plain/scores.csv"));
}

#[test]
fn an_unreadable_file_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["tiers", "--profile", "missing.toml"],
        ["tiers", "--data", "missing.csv"],
    ] {
        let out = churncal(dir.path())
            .args(args)
            .args(["-q"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("missing."), "{err}");
        assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    }
}

#[test]
fn sql_writes_a_query_and_refuses_bad_flags_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = churncal(dir.path())
        .args(["sql", "score", "--dialect", "duckdb", "--table", "cs.snaps"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(
        sql.contains("FROM \"cs\".\"snaps\"") && sql.contains("AS refused"),
        "{sql}"
    );
    for (args, says) in [
        (
            vec!["sql", "score", "--dialect", "mysql"],
            "unknown dialect 'mysql'",
        ),
        (vec!["sql", "sample", "--dialect", "spark"], "needs --rate"),
        (
            vec!["sql", "sample", "--dialect", "spark", "--rate", "2"],
            "must lie in (0, 1]",
        ),
        (
            vec![
                "sql",
                "snapshots",
                "--dialect",
                "postgres",
                "--start",
                "2024-03-31",
                "--end",
                "2025-03-31",
                "--horizon",
                "3m",
            ],
            "give days or weeks",
        ),
        (
            vec![
                "sql",
                "snapshots",
                "--dialect",
                "postgres",
                "--start",
                "2024-03-31",
            ],
            "needs --end",
        ),
        (
            vec!["sql", "tiers", "--dialect", "spark", "--bands", "50,30"],
            "strictly increasing",
        ),
    ] {
        let out = churncal(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // An existing file is kept without --force.
    std::fs::write(dir.path().join("q.sql"), "mine").unwrap();
    let out = churncal(dir.path())
        .args(["sql", "score", "--dialect", "spark", "--out", "q.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("q.sql")).unwrap(),
        "mine"
    );
    churncal(dir.path())
        .args([
            "sql",
            "score",
            "--dialect",
            "spark",
            "--out",
            "q.sql",
            "--force",
        ])
        .assert()
        .success();
    assert!(std::fs::read_to_string(dir.path().join("q.sql"))
        .unwrap()
        .contains("`snapshots`"));
}

#[test]
fn tiers_counts_refuses_a_file_that_is_not_counts() {
    // The counts of real engines are read back in tests/engines.rs; here the refusal.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("counts.csv"), "kind,label\noverall,\n").unwrap();
    let out = churncal(dir.path())
        .args(["tiers", "--counts", "counts.csv", "--out", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no column 'period'"));
    assert!(!dir.path().join("x").exists());
}
