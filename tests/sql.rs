//! The SQL `churncal sql` writes, checked without an engine: every job in every dialect
//! parses with that dialect's grammar (the `sqlparser` crate), and the text for the
//! bundled calibrated profile matches the golden files in `tests/sql/` (BigQuery and
//! Snowflake have no engine here, so their text is reviewed there; `UPDATE_GOLDEN=1`
//! rewrites the files after a deliberate change). The engines that are here run the SQL in
//! `tests/engines.rs`.

use std::path::PathBuf;

use churncal::analysis::Unit;
use churncal::profile::{self, presets, Profile};
use churncal::sql::{Dialect, Job, SnapshotSpec, SqlParams};
use sqlparser::dialect::{
    BigQueryDialect, DatabricksDialect, DuckDbDialect, PostgreSqlDialect, SnowflakeDialect,
};
use sqlparser::parser::Parser;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn jobs() -> Vec<Job> {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    vec![
        Job::Score,
        Job::Tiers {
            bands: vec![30.0, 50.0],
            unit: Unit::Account,
        },
        Job::Sample {
            rate: 0.2,
            seed: 42,
        },
        Job::Snapshots(SnapshotSpec::quarterly(d("2023-03-31"), d("2025-12-31"))),
    ]
}

fn parses(d: Dialect, sql: &str) -> Result<(), String> {
    let r = match d {
        Dialect::Spark => Parser::parse_sql(&DatabricksDialect {}, sql),
        Dialect::DuckDb => Parser::parse_sql(&DuckDbDialect {}, sql),
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, sql),
        Dialect::BigQuery => Parser::parse_sql(&BigQueryDialect {}, sql),
        Dialect::Snowflake => Parser::parse_sql(&SnowflakeDialect {}, sql),
    };
    r.map(|_| ()).map_err(|e| e.to_string())
}

fn profiles() -> Vec<(String, Profile)> {
    let mut out: Vec<(String, Profile)> = presets::names()
        .iter()
        .map(|n| (n.to_string(), presets::preset(n).unwrap()))
        .collect();
    for f in [
        "reports/example/three-dimensions-calibrated.toml",
        "notebooks-data/real/telco.toml",
        "notebooks-data/real/iranian.toml",
        "notebooks-data/real/iranian-learned.toml",
    ] {
        let p = profile::read_profile(repo().join(f).to_str().unwrap()).unwrap();
        out.push((f.to_string(), p));
    }
    // Quantile tiers too.
    let mut q = presets::preset("eight-pillars").unwrap();
    q.tiers_by_quantile = Some(
        toml::from_str(
            "tiers = [{ name = \"a\", from = 0.75 }, { name = \"b\", from = \"mean\" }, { name = \"c\", from = 0.0 }]",
        )
        .unwrap(),
    );
    q.tiers.clear();
    out.push(("quantile tiers".into(), q));
    out
}

#[test]
fn every_job_parses_in_its_dialect() {
    let mut failures = Vec::new();
    for (name, p) in profiles() {
        for d in Dialect::ALL {
            for job in jobs() {
                let sql = SqlParams::new(d, "analytics.snapshots", job.clone())
                    .compile(&p)
                    .unwrap();
                if let Err(e) = parses(d, &sql) {
                    failures.push(format!("{name}, {} job, {}: {e}", job.name(), d.name()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_bundled_profiles_sql_matches_the_golden_files() {
    let p = profile::read_profile(
        repo()
            .join("reports/example/three-dimensions-calibrated.toml")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let update = std::env::var("UPDATE_GOLDEN").is_ok();
    let mut stale = Vec::new();
    for d in Dialect::ALL {
        for job in jobs() {
            let sql = SqlParams::new(d, "analytics.snapshots", job.clone())
                .compile(&p)
                .unwrap()
                .replace(env!("CARGO_PKG_VERSION"), "VERSION");
            let f = repo().join(format!("tests/sql/{}.{}.sql", job.name(), d.name()));
            if update {
                std::fs::write(&f, &sql).unwrap();
            } else if std::fs::read_to_string(&f).ok().as_deref() != Some(sql.as_str()) {
                stale.push(f.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the SQL differs from (review, then UPDATE_GOLDEN=1): {}",
        stale.join(", ")
    );
}
