use super::*;
use crate::profile::presets;

#[test]
fn literals_keep_every_bit() {
    let d = Dialect::DuckDb;
    assert_eq!(d.num(3.0), "3");
    assert_eq!(d.num(-12.0), "(-12)");
    assert_eq!(d.num(0.1), "CAST('0.1' AS DOUBLE)");
    assert_eq!(
        Dialect::Postgres.num(1e-300),
        "CAST('1e-300' AS DOUBLE PRECISION)"
    );
    assert_eq!(d.num(-0.0), "CAST('-0.0' AS DOUBLE)");
    assert_eq!(d.num(1e17), "CAST('1e17' AS DOUBLE)");
    for x in [0.1, 1.0 / 3.0, 2.0f64.sqrt() * 1e-7, 123456.789e200] {
        let s = d.num(x);
        let inner = s.split('\'').nth(1).unwrap();
        assert_eq!(inner.parse::<f64>().unwrap().to_bits(), x.to_bits());
    }
}

#[test]
fn names_and_texts_are_quoted_per_dialect() {
    assert_eq!(Dialect::Spark.ident("a`b"), "`a``b`");
    assert_eq!(Dialect::Postgres.ident("Plan \"X\""), "\"Plan \"\"X\"\"\"");
    assert_eq!(
        Dialect::DuckDb.table("cs.snap shots"),
        "\"cs\".\"snap shots\""
    );
    assert_eq!(
        Dialect::Spark.table(" {{ ref('snapshots') }} "),
        "{{ ref('snapshots') }}"
    );
    assert_eq!(Dialect::Postgres.string("it's \\ ok"), "'it''s \\ ok'");
    assert_eq!(Dialect::Spark.string("it's \\ ok"), "'it''s \\\\ ok'");
    assert_eq!(Dialect::parse("Databricks"), Some(Dialect::Spark));
    assert_eq!(Dialect::parse("mysql"), None);
}

#[test]
fn every_job_compiles_for_every_preset_and_dialect() {
    for name in presets::names() {
        let p = presets::preset(name).unwrap();
        for d in Dialect::ALL {
            for job in [
                Job::Score,
                Job::Tiers {
                    bands: vec![30.0, 50.0],
                    unit: crate::analysis::Unit::Account,
                },
                Job::Sample { rate: 0.2, seed: 1 },
            ] {
                let q = SqlParams::new(d, "cs.snapshots", job).compile(&p).unwrap();
                assert!(q.contains("\"cs\".\"snapshots\"") || q.contains("`cs`.`snapshots`"));
            }
        }
    }
}

#[test]
fn bad_parameters_are_named() {
    let p = presets::preset("three-dimensions").unwrap();
    let e = SqlParams::new(Dialect::Spark, "t", Job::Sample { rate: 1.5, seed: 1 })
        .compile(&p)
        .unwrap_err();
    assert!(e.to_string().contains("rate"), "{e}");
    let mut params = SqlParams::new(Dialect::Spark, "t", Job::Sample { rate: 0.5, seed: 1 });
    params.columns.account = None;
    assert!(params.compile(&p).is_err());
    let e = SqlParams::new(Dialect::Spark, " ", Job::Score)
        .compile(&p)
        .unwrap_err();
    assert!(e.to_string().contains("table"), "{e}");
}

#[test]
fn snapshot_dates_keep_month_ends() {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let spec = SnapshotSpec::quarterly(d("2023-03-31"), d("2024-03-31"));
    let got: Vec<String> = spec.dates().iter().map(|x| x.to_string()).collect();
    assert_eq!(
        got,
        [
            "2023-03-31",
            "2023-06-30",
            "2023-09-30",
            "2023-12-31",
            "2024-03-31"
        ]
    );
    let spec = SnapshotSpec::quarterly(d("2023-01-15"), d("2023-07-14"));
    assert_eq!(spec.dates().len(), 2);
}
