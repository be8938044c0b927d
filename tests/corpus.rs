//! The malformed-input corpus (`tests/corpus/`, see its README): every command that reads
//! input, against every file, exits 2 with a message naming the problem, never panics, and
//! writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Files whose defect is in the outcome: `score` does not need one and may succeed.
const OUTCOME_ONLY: [&str; 5] = [
    "outcome_one_class.csv",
    "missing_id_and_outcome_columns.csv",
    "outcome_empty_cell.csv",
    "parquet_outcome_float.parquet",
    "outcome_number_2.csv",
];

/// Files `audit` reads and reports on as findings (its job: it writes the audit, exit 1 on
/// errors) rather than refusing.
const AUDIT_FINDINGS: [&str; 3] = [
    "categorical_unknown.csv",
    "outcome_one_class.csv",
    "missing_id_and_outcome_columns.csv",
];

/// Runs `args` in a fresh folder, output to `out`; checks the contract for `expect`.
fn check(file: &str, args: &[String], expect: Option<&str>, failures: &mut Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut cmd = Command::cargo_bin("churncal").unwrap();
    cmd.current_dir(corpus())
        .env("SOURCE_DATE_EPOCH", "1775001600")
        .args(args)
        .arg("--out");
    if args[0] == "score" {
        cmd.arg(out.join("scores.csv"));
    } else {
        cmd.arg(&out);
    }
    let o = cmd.arg("-q").output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let what = format!("{} on {file}", args[0]);
    if stderr.contains("panicked") {
        failures.push(format!("{what}: panic: {stderr}"));
        return;
    }
    match expect {
        None => {
            if o.status.code() != Some(0) {
                failures.push(format!("{what}: exit {:?}: {stderr}", o.status.code()));
            }
        }
        Some(e) => {
            if o.status.code() != Some(2) {
                failures.push(format!(
                    "{what}: exit {:?}, want 2: {stderr}",
                    o.status.code()
                ));
            } else if !stderr.to_lowercase().contains(&e.to_lowercase()) {
                failures.push(format!("{what}: message lacks '{e}': {stderr}"));
            }
            if out.exists() {
                failures.push(format!("{what}: wrote output despite the error"));
            }
        }
    }
}

fn data_commands(path: &str) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["score", "--data", path]),
        s(&["tiers", "--data", path]),
        s(&["cohorts", "--data", path, "--by", "industry"]),
        s(&["audit", "--data", path]),
        s(&["calibrate", "--data", path, "-B", "5"]),
        s(&[
            "validate",
            "--data",
            path,
            "--candidate",
            "eight-pillars",
            "--incumbent",
            "three-dimensions",
        ]),
        s(&["report", "--data", path, "--bootstrap", "5"]),
    ]
}

#[test]
fn every_command_rejects_every_malformed_file_cleanly() {
    let expected: BTreeMap<String, Option<String>> =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("expected.json")).unwrap())
            .unwrap();
    let files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.json" && n != "README.md")
        .collect();
    assert!(files.len() >= 50, "{} corpus files", files.len());
    for f in &files {
        assert!(
            expected.contains_key(f),
            "{f} has no entry in expected.json"
        );
    }
    let mut failures = Vec::new();
    let mut runs = 0;
    for (file, expect) in &expected {
        if file.starts_with("profile_") {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            let commands = match expect {
                // Valid but extreme: scoring must work.
                None => vec![s(&["score", "--profile", file])],
                Some(_) => vec![
                    s(&["score", "--profile", file]),
                    s(&["tiers", "--profile", file]),
                    s(&["calibrate", "--profile", file, "-B", "5"]),
                    s(&[
                        "validate",
                        "--candidate",
                        file,
                        "--incumbent",
                        "eight-pillars",
                    ]),
                ],
            };
            for args in commands {
                check(file, &args, expect.as_deref(), &mut failures);
                runs += 1;
            }
        } else {
            for args in data_commands(file) {
                if args[0] == "score" && OUTCOME_ONLY.contains(&file.as_str())
                    || args[0] == "audit" && AUDIT_FINDINGS.contains(&file.as_str())
                {
                    continue;
                }
                check(file, &args, expect.as_deref(), &mut failures);
                runs += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs broke the contract:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_ten_megabyte_single_line_is_rejected_without_running_out_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("one-line.csv");
    std::fs::write(path, "x".repeat(10 * 1024 * 1024)).unwrap();
    let mut failures = Vec::new();
    for args in data_commands(path.to_str().unwrap()).into_iter().take(2) {
        check("one-line.csv", &args, Some("column"), &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
