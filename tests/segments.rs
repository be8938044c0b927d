//! Segment profiles, revenue weighting and revenue at risk: the segmented calibration in a
//! world where segments churn by different weights, profile sets across the commands, the
//! revenue-weighted fit against repeated rows, and the revenue-at-risk intervals' coverage.

mod common;

use churncal::analysis::risk::{Calibrations, RiskParams};
use churncal::calibrate::{CalibrateParams, SegmentParams};
use churncal::score::{self, Extent, SubScores};
use churncal::synth::{generate, upmarket_truth, SynthParams};
use common::churncal;
use predicates::prelude::*;

#[test]
fn segmented_fit_recovers_each_segments_weights_where_they_differ() {
    let s = generate(&SynthParams {
        accounts: 12_000,
        target_churned: 1_200.0,
        weights_by_size: true,
        seed: 5,
        ..Default::default()
    });
    let truth = &s.truth;
    let data = &s.snapshots;
    let subs = SubScores::compute(truth, data).unwrap();
    let r = CalibrateParams::default()
        .bootstrap(60)
        .fit_segments(truth, data, subs, &SegmentParams::new("size_band"))
        .unwrap();
    let t = r.test.as_ref().expect("three segments fitted");
    assert!(t.p_value < 1e-3, "{t:?}");
    // Out of fold the segmented profiles beat the pooled one, also with its own
    // intercept and slope per segment.
    assert!(r.overall.segmented.log_loss < r.overall.recalibrated.log_loss);
    assert!(r.overall.segmented.log_loss < r.overall.pooled.log_loss);
    assert!(r.overall.segmented.auc > r.overall.pooled.auc);
    let smb = truth.effective_weights();
    let up = upmarket_truth().effective_weights();
    let (mut inside, mut all) = (0, 0);
    for g in &r.segments {
        let own = g.own.as_ref().expect("every size band has its own profile");
        let want = if g.label == "SMB" { &smb } else { &up };
        for (m, w) in own.metrics.iter().zip(want) {
            all += 1;
            inside += usize::from(m.weight_ci[0] <= *w && *w <= m.weight_ci[1]);
        }
    }
    assert!(
        inside * 100 >= all * 85,
        "{inside} of {all} true weights inside the segments' intervals"
    );
    // Days past due drives SMB churn (18 of 100) far more than the others' (6).
    let dpd = |label: &str| {
        r.segments
            .iter()
            .find(|g| g.label == label)
            .unwrap()
            .own
            .as_ref()
            .unwrap()
            .metrics[0]
            .weight
    };
    assert!(dpd("SMB") > dpd("Mid-Market") + 5.0 && dpd("SMB") > dpd("Enterprise") + 5.0);
}

#[test]
fn revenue_weights_are_repeated_rows() {
    // Integer revenue weights give the fit of the data with each row repeated that often.
    let s = generate(&SynthParams {
        accounts: 1_500,
        target_churned: 150.0,
        seed: 9,
        ..Default::default()
    });
    let truth = &s.truth;
    let mut data = s.snapshots.clone();
    let times: Vec<usize> = (0..data.rows).map(|i| 1 + (i * 7 + 3) % 3).collect();
    data.arr = Some(times.iter().map(|&t| t as f64).collect());
    let keep: Vec<usize> = (0..data.rows)
        .flat_map(|i| std::iter::repeat_n(i, times[i]))
        .collect();
    let repeated = data.select_rows(&keep);
    let params = CalibrateParams::default()
        .lambdas(vec![0.01])
        .bootstrap(0)
        .holdout_from(None);
    let weighted = params
        .clone()
        .revenue_weighted(true)
        .fit(truth, &data, SubScores::compute(truth, &data).unwrap())
        .unwrap();
    let plain = params
        .fit(
            truth,
            &repeated,
            SubScores::compute(truth, &repeated).unwrap(),
        )
        .unwrap();
    for (a, b) in weighted.metrics.iter().zip(&plain.metrics) {
        assert!(
            (a.weight - b.weight).abs() < 1e-4,
            "{}: {} vs {}",
            a.name,
            a.weight,
            b.weight
        );
    }
    assert!((weighted.intercept - plain.intercept).abs() < 1e-5);
    let rc = weighted.revenue_comparison.as_ref().expect("beside it");
    assert_eq!(rc.by_revenue.weights.len(), truth.metrics.len());
    assert!(weighted.tiers.iter().all(|t| t.revenue.is_some()));
}

#[test]
fn revenue_at_risk_prediction_intervals_cover_the_generators_churn() {
    // Scored by the generating model itself, the observed churned revenue of the last
    // quarter falls inside its 95 % prediction interval about 95 times in 100.
    let mut inside = 0;
    let seeds = 40;
    for seed in 0..seeds {
        let s = generate(&SynthParams {
            accounts: 1_500,
            seed,
            ..Default::default()
        });
        let data = &s.snapshots;
        let subs = SubScores::compute(&s.truth, data).unwrap();
        let scored = score::score(&s.truth, &subs, Extent::Tiers);
        let cal = Calibrations {
            list: vec![s.truth.calibration.as_ref().unwrap()],
            which: None,
        };
        let r = RiskParams::default()
            .bootstrap(0)
            .seed(seed)
            .run(data, &scored, &cal)
            .unwrap();
        assert!(r.checked);
        let all = &r.groups[0];
        let p = scored.probability.as_ref().unwrap();
        let last = data.date.as_ref().unwrap().iter().max().copied().unwrap();
        let want: f64 = (0..data.rows)
            .filter(|&i| data.date.as_ref().unwrap()[i] == last)
            .map(|i| p[i] * data.arr.as_ref().unwrap()[i])
            .sum();
        assert!((all.expected - want).abs() < 1e-6 * want);
        inside += usize::from(all.within() == Some(true));
    }
    assert!(
        inside >= 34,
        "{inside} of {seeds} quarters inside their 95 % prediction interval"
    );
}

/// `calibrate --by size_band` on the bundled sample into `seg/` (SMB gets its own profile at
/// 5 events per weight; the others keep the pooled one).
fn segment_set(dir: &std::path::Path) -> assert_cmd::assert::Assert {
    churncal(dir)
        .args([
            "calibrate",
            "--by",
            "size_band",
            "--min-segment-epv",
            "5",
            "-B",
            "20",
            "--out",
            "seg",
        ])
        .assert()
        .success()
}

#[test]
fn calibrate_by_segment_writes_a_profile_set_the_commands_read() {
    let dir = tempfile::tempdir().unwrap();
    segment_set(dir.path())
        .stderr(predicate::str::contains("'SMB': 8494 snapshots"))
        .stderr(predicate::str::contains("keeps the pooled profile"));
    let seg = dir.path().join("seg");
    let index = std::fs::read_to_string(seg.join("profiles.toml")).unwrap();
    assert!(index.contains("segment = \"size_band\""));
    assert!(seg.join("three-dimensions-SMB.toml").exists());
    assert!(seg.join("segments.svg").exists());
    let summary = std::fs::read_to_string(seg.join("summary.md")).unwrap();
    assert!(summary.contains("## Pooled against segmented, out of fold"));
    // A set whose index maps SMB only: every other value is scored by the default and
    // counted.
    std::fs::write(
        seg.join("smb-only.toml"),
        "profile_set = 1\nsegment = \"size_band\"\ndefault = \"three-dimensions-calibrated.toml\"\n\n[profiles]\nSMB = \"three-dimensions-SMB.toml\"\n",
    )
    .unwrap();
    for cmd in ["score", "tiers", "cohorts"] {
        churncal(dir.path())
            .args([cmd, "--profile", "seg/smb-only.toml", "--out"])
            .arg(format!(
                "out-{cmd}{}",
                if cmd == "score" { ".csv" } else { "" }
            ))
            .assert()
            .success()
            .stderr(predicate::str::contains(
                "7043 rows have a 'size_band' value the profile set does not map",
            ));
    }
    churncal(dir.path())
        .args([
            "sql",
            "score",
            "--dialect",
            "duckdb",
            "--profile",
            "seg/profiles.toml",
            "--table",
            "t",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("UNION ALL"));
    // Revenue at risk from the set, checked on the last quarter.
    churncal(dir.path())
        .args([
            "risk",
            "--profile",
            "seg/profiles.toml",
            "--by",
            "csm",
            "-B",
            "20",
            "--out",
            "risk",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Churned revenue on 2025-12-31: observed",
        ));
    let risk = dir.path().join("risk");
    for f in [
        "risk.md",
        "risk.csv",
        "risk.json",
        "risk.svg",
        "survival.svg",
    ] {
        assert!(risk.join(f).exists(), "{f}");
    }
}

#[test]
fn bad_revenue_is_refused_with_its_row() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.csv"),
        "account_id,snapshot_date,churned,arr,nps\nA,2025-01-01,0,100,10\nA,2025-04-01,1,-5,20\nB,2025-01-01,0,50,30\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.toml"),
        "name = \"p\"\nformat = 1\n[[tiers]]\nname = \"a\"\nmin = 50\n[[tiers]]\nname = \"b\"\nmin = 0\n[[metrics]]\nname = \"NPS\"\ncolumn = \"nps\"\nweight = 1\ndirection = \"higher-is-better\"\ntransform = { kind = \"linear\", lo = -100, hi = 100 }\n",
    )
    .unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            "d.csv",
            "--profile",
            "p.toml",
            "--weight-col",
            "arr",
            "--folds",
            "2",
            "--force",
            "--out",
            "o",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "d.csv, row 2, column 'arr': revenue -5",
        ));
    assert!(!dir.path().join("o").exists());
}

#[test]
fn validate_and_explain_take_a_profile_set() {
    let dir = tempfile::tempdir().unwrap();
    segment_set(dir.path());
    // A set whose every value maps to the pooled profile scores, validates and explains
    // exactly as that profile does.
    std::fs::write(
        dir.path().join("seg/same.toml"),
        "profile_set = 1\nsegment = \"size_band\"\ndefault = \"three-dimensions-calibrated.toml\"\n\n[profiles]\nSMB = \"three-dimensions-calibrated.toml\"\nMid-Market = \"three-dimensions-calibrated.toml\"\nEnterprise = \"three-dimensions-calibrated.toml\"\n",
    )
    .unwrap();
    let run = |args: &[&str], out: &str| {
        let a = churncal(dir.path())
            .args(args)
            .args(["--optimism-bootstrap", "20", "--out", out])
            .assert();
        let code = a.get_output().status.code();
        assert!(matches!(code, Some(0 | 1)), "{args:?}: {code:?}");
        std::fs::read_to_string(dir.path().join(out).join("validation.json")).unwrap()
    };
    let single = run(
        &[
            "validate",
            "--candidate",
            "seg/three-dimensions-calibrated.toml",
            "--incumbent",
            "three-dimensions",
        ],
        "v1",
    );
    let set = run(
        &[
            "validate",
            "--candidate",
            "seg/same.toml",
            "--incumbent",
            "three-dimensions",
            "--segment",
            "size_band",
        ],
        "v2",
    );
    let figures = |text: &str| {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let c = &v["validation"]["candidate"];
        (
            c["auc"].clone(),
            c["log_loss"].clone(),
            v["validation"]["optimism"].clone(),
        )
    };
    assert_eq!(figures(&single), figures(&set));
    // The set with its own SMB profile validates and explains.
    run(
        &[
            "validate",
            "--candidate",
            "seg/profiles.toml",
            "--incumbent",
            "seg/three-dimensions-calibrated.toml",
        ],
        "v3",
    );
    let v3: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("v3/validation.json")).unwrap(),
    )
    .unwrap();
    assert!(v3["validation"]["optimism"]["replicates"].as_u64() == Some(20));
    let code = churncal(dir.path())
        .args(["explain", "--profile", "seg/profiles.toml", "--out", "ex"])
        .assert()
        .get_output()
        .status
        .code();
    assert!(matches!(code, Some(0 | 1)));
    assert!(dir.path().join("ex/summary.md").exists());
}

#[test]
fn report_calibrates_by_segment_and_reports_on_the_set() {
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "report",
            "--calibrate-by",
            "size_band",
            "--min-segment-epv",
            "5",
            "--bootstrap",
            "10",
            "--optimism-bootstrap",
            "10",
            "--out",
            "pack",
        ])
        .assert()
        .success();
    let pack = dir.path().join("pack");
    for f in [
        "profiles.toml",
        "three-dimensions-calibrated.toml",
        "three-dimensions-SMB.toml",
        "segments.svg",
        "risk.svg",
    ] {
        assert!(pack.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(pack.join("report.md")).unwrap();
    assert!(md.contains("## Do the segments of 'size_band' need their own weights"));
    assert!(md.contains("## Revenue at risk on 2025-12-31"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pack.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        json["segments"]["segments"][0]["label"].as_str(),
        Some("SMB")
    );
}

#[test]
fn a_metric_constant_in_a_segment_leaves_its_weights_uncompared() {
    // IBM Telco by payment method: 'Automatic payment' is the same on every row of each
    // method, so the data-alone fit there can put any share on it (it took all 100 points
    // and flagged six metrics as differing before this was handled).
    let dir = tempfile::tempdir().unwrap();
    churncal(dir.path())
        .args([
            "calibrate",
            "--data",
            &common::real("telco_customer_churn.csv"),
        ])
        .args(["--profile", &common::real("telco.toml")])
        .args(["--id-col", "customerID", "--outcome-col", "Churn"])
        .args(["--by", "PaymentMethod", "-B", "20", "--out", "pm"])
        .assert()
        .success()
        .stderr(predicate::str::contains("differs from pooled").not());
    let md = std::fs::read_to_string(dir.path().join("pm/summary.md")).unwrap();
    assert!(
        md.contains("In 'Credit card (automatic)', 'Automatic payment' is the same on every row")
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("pm/summary.json")).unwrap())
            .unwrap();
    for g in json["segments"]["segments"].as_array().unwrap() {
        assert_eq!(
            g["constant"][0].as_str(),
            Some("Automatic payment"),
            "{}",
            g["label"]
        );
        assert!(g["differing"].as_array().unwrap().is_empty());
    }
}
