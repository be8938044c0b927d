//! End-to-end tests of `churncal report`: the committed example is current, its charts are
//! well-formed SVG, and hostile data cannot inject markup or write outside `--out`.

use std::path::{Path, PathBuf};

mod common;

use assert_cmd::Command;
use common::{files_under, root};
use quick_xml::events::Event;
use quick_xml::Reader;

/// `SOURCE_DATE_EPOCH` of the committed example (2026-04-01, after the sample's last churn date).
const EXAMPLE_EPOCH: &str = "1775001600";

fn names(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_committed_example_report_is_current() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("example");
    Command::cargo_bin("churncal")
        .unwrap()
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", EXAMPLE_EPOCH)
        .args(["report", "--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let example = root().join("reports/example");
    let regenerate = format!(
        "reports/example is stale; regenerate it with\n  cargo build --release && SOURCE_DATE_EPOCH={EXAMPLE_EPOCH} \"${{CARGO_TARGET_DIR:-target}}\"/release/churncal report --out reports/example --force"
    );
    assert_eq!(names(&out), names(&example), "{regenerate}");
    for name in names(&out) {
        let new = std::fs::read(out.join(&name)).unwrap();
        let old = std::fs::read(example.join(&name)).unwrap();
        assert!(new == old, "{name} differs. {regenerate}");
    }
}

/// The quarterly pack is a library stage: composed and rendered without the command line,
/// it gives the committed example's charts byte for byte and its summary and verdict.
#[test]
fn the_library_produces_the_quarterly_pack_without_the_cli() {
    use churncal::analysis::cohorts::CohortKey;
    use churncal::{data, pack::PackParams, profile, report};

    let prior = profile::presets::preset("three-dimensions").unwrap();
    // Integration tests run in the crate's root, as the example was made.
    let snapshots = data::load(
        "notebooks-data/sample_snapshots.csv",
        &data::LoadRequest::for_profile(&prior),
    )
    .unwrap();
    // What `churncal report` does with no flags: the audit's today is SOURCE_DATE_EPOCH's
    // day, the cohorts are by tenure (the sample has customer_since and no --segment), and
    // the incumbent is the prior itself.
    let today = EXAMPLE_EPOCH.parse::<i64>().unwrap().div_euclid(86_400) as i32;
    let mut params = PackParams::new(today);
    params.cohorts.keys = vec![CohortKey::parse("tenure")];
    let pack = params.run(&snapshots, &prior, Some(&prior)).unwrap();
    let context = report::pack::PackContext::new(
        "notebooks-data/sample_snapshots.csv",
        &snapshots,
        "three-dimensions-calibrated.toml",
    );
    let files = report::pack::render(&pack, &context);
    let example = root().join("reports/example");
    let mut charts = 0;
    for (name, body) in &files {
        let committed = std::fs::read_to_string(example.join(name)).unwrap();
        if name.ends_with(".svg") {
            assert!(*body == committed, "{name} differs from the example's");
            charts += 1;
        }
    }
    assert_eq!(
        charts,
        names(&example)
            .iter()
            .filter(|n| n.ends_with(".svg"))
            .count()
    );
    // The calibration's provenance (file hashes, creation date) is the caller's to add;
    // everything the pack says before it is the example's.
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    let ours = json(&files.iter().find(|f| f.0 == "report.json").unwrap().1);
    let theirs = json(&std::fs::read_to_string(example.join("report.json")).unwrap());
    for key in [
        "title",
        "summary",
        "gate_passed",
        "tiers",
        "cohorts",
        "validation",
        "act_first",
        "audit",
    ] {
        assert_eq!(ours[key], theirs[key], "report.json's {key}");
    }
}

/// The pack reading a copy of its own for each stage that consumes one gives the pack that
/// borrows one copy throughout, file for file; the copy it gives back has no metric values,
/// and a data file that changes between the reads stops it.
#[test]
fn the_pack_reading_the_data_per_stage_is_the_pack_borrowing_it() {
    use churncal::analysis::cohorts::CohortKey;
    use churncal::{data, pack::PackError, pack::PackParams, profile, report};

    let prior = profile::presets::preset("three-dimensions").unwrap();
    let path = "notebooks-data/sample_snapshots.csv";
    let request = data::LoadRequest::for_profile(&prior);
    let read = || data::load(path, &request);
    let snapshots = read().unwrap();
    let today = EXAMPLE_EPOCH.parse::<i64>().unwrap().div_euclid(86_400) as i32;
    let mut params = PackParams::new(today);
    params.cohorts.keys = vec![CohortKey::parse("tenure")];
    let context = report::pack::PackContext::new(path, &snapshots, "calibrated.toml");
    let borrowed = params.run(&snapshots, &prior, Some(&prior)).unwrap();
    let reads = std::cell::Cell::new(0);
    let counted = || {
        reads.set(reads.get() + 1);
        read()
    };
    let (reading, last) = params
        .run_reading(snapshots.clone(), &counted, &prior, Some(&prior))
        .unwrap();
    assert_eq!(reads.get(), 2, "read again for the gate and for the rest");
    assert!(last.metrics.is_empty());
    assert_eq!(last.rows, snapshots.rows);
    let a = report::pack::render(&borrowed, &context);
    let b = report::pack::render(&reading, &context);
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs");
    }
    // Reporting on a calibrated profile as it is: the audit's copy goes on to the gate,
    // and only the stages after it read again; with no gate, nothing is read again.
    let calibrated = profile::read_profile(
        root()
            .join("reports/example/three-dimensions-calibrated.toml")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let mut as_is = params.clone();
    as_is.calibrate = None;
    for (incumbent, want_reads) in [(Some(&prior), 1), (None, 0)] {
        let borrowed = as_is.run(&snapshots, &calibrated, incumbent).unwrap();
        reads.set(0);
        let (reading, _) = as_is
            .run_reading(snapshots.clone(), &counted, &calibrated, incumbent)
            .unwrap();
        assert_eq!(
            reads.get(),
            want_reads,
            "incumbent: {}",
            incumbent.is_some()
        );
        let a = report::pack::render(&borrowed, &context);
        let b = report::pack::render(&reading, &context);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(x == y, "{name} differs (no calibration)");
        }
    }
    // A second read that is not the first stops the pack, naming both.
    let changed = || {
        let mut d = read()?;
        d.retain_rows(&(0..d.rows - 1).collect::<Vec<_>>());
        Ok(d)
    };
    let err = params
        .run_reading(snapshots.clone(), &changed, &prior, Some(&prior))
        .unwrap_err();
    assert!(matches!(err, PackError::DataChanged { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("changed while the pack ran")
            && text.contains(&format!("{} rows", snapshots.rows))
            && text.contains(&format!("{} rows", snapshots.rows - 1)),
        "{text}"
    );
}

/// Width and height of an SVG's root element.
fn canvas(svg: &str) -> (f64, f64) {
    let mut r = Reader::from_str(svg);
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"svg" => {
                let get = |k: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| String::from_utf8_lossy(&a.value).parse::<f64>().unwrap())
                        .unwrap()
                };
                return (get(b"width"), get(b"height"));
            }
            Event::Eof => panic!("no <svg> element"),
            _ => {}
        }
    }
}

/// Checks every element of an SVG: well-formed, finite coordinates, `<text>` anchored inside
/// the canvas; returns (element name → count, the texts).
fn inspect(name: &str, svg: &str) -> (std::collections::BTreeMap<String, usize>, Vec<String>) {
    let (w, h) = canvas(svg);
    let mut r = Reader::from_str(svg);
    let mut counts = std::collections::BTreeMap::new();
    let mut texts = Vec::new();
    let mut in_text = false;
    loop {
        match r.read_event() {
            Err(e) => panic!("{name}: not well-formed XML: {e}"),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let el = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                *counts.entry(el.clone()).or_insert(0) += 1;
                for a in e.attributes().flatten() {
                    let v = String::from_utf8_lossy(&a.value).into_owned();
                    assert!(
                        !v.contains("NaN") && !v.contains("inf"),
                        "{name}: <{el}> {}={v}",
                        String::from_utf8_lossy(a.key.as_ref())
                    );
                    if el == "text" && matches!(a.key.as_ref(), b"x" | b"y") {
                        let c: f64 = v.parse().unwrap();
                        let max = if a.key.as_ref() == b"x" { w } else { h };
                        assert!(
                            (0.0..=max).contains(&c),
                            "{name}: text at {c} outside 0–{max}"
                        );
                    }
                }
                in_text = el == "text";
            }
            Ok(Event::Text(t)) if in_text => {
                texts.push(t.decode().unwrap().trim().to_string());
            }
            Ok(Event::End(_)) => in_text = false,
            _ => {}
        }
    }
    (counts, texts)
}

#[test]
fn the_example_charts_are_well_formed_with_the_expected_marks() {
    let dir = root().join("reports/example");
    let svgs: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert!(svgs.len() >= 11, "{} charts", svgs.len());
    let mut seen = std::collections::BTreeMap::new();
    for p in &svgs {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let svg = std::fs::read_to_string(p).unwrap();
        seen.insert(name.clone(), inspect(&name, &svg));
    }
    let tiers = ["healthy", "needs-attention", "at-risk", "critical"];
    let has = |chart: &str, text: &str| seen[chart].1.iter().any(|t| t.contains(text));
    // Tier bars: one label per tier, a Wilson whisker (3 lines) per non-empty tier.
    for t in tiers {
        assert!(has("tiers.svg", t), "tiers.svg lacks {t}");
        assert!(has("cohort-tiers.svg", t), "cohort-tiers.svg lacks {t}");
        assert!(has("migration.svg", t), "migration.svg lacks {t}");
    }
    // Score distribution: 20 bins × 2 groups of bars, two legend entries.
    assert!(seen["score-distribution.svg"].0["rect"] >= 40 + 2);
    assert!(has("score-distribution.svg", "churned (132)"));
    // Gains: two profiles in the legend; the diagonal is named.
    assert!(has("gains.svg", "three-dimensions-calibrated (AUC"));
    assert!(has("gains.svg", "three-dimensions (AUC"));
    assert!(has("gains.svg", "random flagging"));
    // Migration: a 4 × 4 grid of counts.
    let counts = seen["migration.svg"]
        .1
        .iter()
        .filter(|t| t.parse::<usize>().is_ok())
        .count();
    assert_eq!(counts, 16);
    // Score trend: eight quarters of 2024–2025.
    for q in ["2024 Q1", "2025 Q4"] {
        assert!(has("score-trend.svg", q), "score-trend.svg lacks {q}");
    }
    // Weights: every metric of the profile is labelled.
    assert!(has("weights.svg", "Days past due"));
    // ROC: both curves' names.
    assert!(has("roc.svg", "three-dimensions-calibrated"));
}

#[test]
fn hostile_data_cannot_inject_markup_or_write_outside_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // The bundled sample with every account id and the plan and industry names hostile.
    let sample =
        std::fs::read_to_string(root().join("notebooks-data/sample_snapshots.csv")).unwrap();
    let mut csv = String::new();
    for (i, line) in sample.lines().enumerate() {
        if i == 0 {
            csv.push_str(line);
            csv.push('\n');
            continue;
        }
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        f[0] = format!(
            "\"<script>alert(1)</script>\"\"'{}</td><img src=x onerror=alert(2)>\"",
            f[0]
        );
        f[6] = format!("<b onmouseover=alert(3)>{}</b>", f[6]);
        f[8] = format!("../../{}\"\"", f[8]).replace('"', "");
        csv.push_str(&f.join(","));
        csv.push('\n');
    }
    std::fs::write(tmp.path().join("hostile.csv"), csv).unwrap();
    Command::cargo_bin("churncal")
        .unwrap()
        .current_dir(tmp.path())
        .env("SOURCE_DATE_EPOCH", EXAMPLE_EPOCH)
        .args([
            "report",
            "--quiet",
            "--data",
            "hostile.csv",
            "--segment",
            "plan",
            "--by",
            "plan",
            "--bootstrap",
            "20",
            "--optimism-bootstrap",
            "10",
            "--out",
            "out",
        ])
        .assert()
        .success();
    // Nothing outside out/ besides the input.
    let all = names(tmp.path());
    assert!(
        all.iter()
            .all(|n| n == "hostile.csv" || n.starts_with("out/")),
        "{all:?}"
    );
    let out = tmp.path().join("out");
    for p in files_under(&out) {
        let body = std::fs::read_to_string(&p).unwrap();
        let lower = body.to_lowercase();
        let ext = p.extension().unwrap().to_string_lossy().into_owned();
        if ext == "html" || ext == "svg" {
            // A handler can only be injected with a tag: no raw tag from the data may appear
            // (escaped, `&lt;img … onerror=…&gt;` is harmless text).
            for bad in ["<script", "<img", "<b "] {
                assert!(!lower.contains(bad), "{}: contains {bad}", p.display());
            }
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The snapshots show what a reader sees of hostile names in Markdown and JSON.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let head: String = md.split("\n## Contents").next().unwrap().to_string();
    insta::assert_snapshot!("hostile_report_summary", head);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let first: Vec<&serde_json::Value> = json["act_first"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .collect();
    insta::assert_json_snapshot!("hostile_report_act_first", first);
}

#[test]
fn the_pack_on_a_real_single_snapshot_export_has_no_trend_chart() {
    // IBM Telco: one snapshot per customer, Yes/No outcome, no dates.
    let tmp = tempfile::tempdir().unwrap();
    let real = root().join("notebooks-data/real");
    Command::cargo_bin("churncal")
        .unwrap()
        .current_dir(tmp.path())
        .env("SOURCE_DATE_EPOCH", EXAMPLE_EPOCH)
        .args(["report", "--quiet", "--data"])
        .arg(real.join("telco_customer_churn.csv"))
        .arg("--profile")
        .arg(real.join("telco.toml"))
        .args(["--id-col", "customerID", "--outcome-col", "Churn"])
        .args(["--segment", "Contract", "--bootstrap", "10"])
        .args(["--optimism-bootstrap", "5", "--out", "out"])
        .assert()
        .success();
    let out = tmp.path().join("out");
    let files = names(&out);
    assert!(files.contains(&"index.html".to_string()), "{files:?}");
    assert!(files.contains(&"cohort-tiers.svg".to_string()), "{files:?}");
    assert!(!files.contains(&"score-trend.svg".to_string()), "{files:?}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Riskiest cohorts by Contract: Month-to-month"),
        "{md}"
    );
}
