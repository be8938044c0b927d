//! Tests of loading: roles, conversions, encodings and every refusal.

use super::*;
use crate::data::{Horizon, LoadRequest};

pub(super) fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

pub(super) fn req(metrics: &[(&str, InputKind)]) -> LoadRequest {
    LoadRequest {
        metrics: metrics.iter().map(|(c, k)| (c.to_string(), *k)).collect(),
        ..Default::default()
    }
}

pub(super) const GOOD: &str = "account_id,snapshot_date,churned,nps,plan\n\
    a,2024-03-31,0,10,gold\n\
    a,2024-06-30,1,  ,silver\n\
    b,2024-03-31,no,-20,\n";

#[test]
fn loads_roles_metrics_and_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.as_bytes());
    let s = load(
        &p,
        &req(&[("nps", InputKind::Numeric), ("plan", InputKind::Text)]),
    )
    .unwrap();
    assert_eq!(s.rows, 3);
    assert_eq!(s.n_accounts, 2);
    assert_eq!(s.outcome.as_deref(), Some(&[0, 1, 0][..]));
    match s.metric("nps").unwrap() {
        MetricColumn::Numeric(v) => {
            assert_eq!(v[0], 10.0);
            assert!(v[1].is_nan(), "whitespace-only is missing");
            assert_eq!(v[2], -20.0);
        }
        _ => panic!("numeric"),
    }
    assert!(s.metric("plan").unwrap().is_missing(2));
    assert_eq!(s.date_range().map(|(a, b)| b - a), Some(91));
}

#[test]
fn semicolon_delimiter_detected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.replace(',', ";").as_bytes());
    let s = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap();
    assert_eq!(s.rows, 3);
}

#[test]
fn bom_and_crlf_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(GOOD.replace('\n', "\r\n").as_bytes());
    let p = write(&dir, "s.csv", &bytes);
    let s = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap();
    assert_eq!(s.rows, 3);
    assert_eq!(s.account_name(0), "a");
}

#[test]
fn missing_column_lists_closest_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.as_bytes());
    let e = load(&p, &req(&[("NPS ", InputKind::Numeric)])).unwrap_err();
    assert!(matches!(&e, DataError::MissingColumn { closest, .. } if closest[0] == "nps"));
    let msg = e.to_string();
    assert!(
        msg.contains("s.csv") && msg.contains("'nps'") && msg.contains("'plan'"),
        "{msg}"
    );
}

#[test]
fn explicit_role_column_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.as_bytes());
    let mut r = req(&[]);
    r.roles.id = Some("customer".into());
    assert!(matches!(load(&p, &r), Err(DataError::MissingColumn { .. })));
}

#[test]
fn bad_number_names_row_column_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.replace("-20", "n/a").as_bytes());
    let e = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap_err();
    assert!(
        matches!(&e, DataError::BadValue { row: 3, column, value, .. } if column == "nps" && value == "n/a"),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("s.csv, row 3, column 'nps': value 'n/a'"));
}

#[test]
fn nan_and_infinity_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["NaN", "inf", "-Infinity"] {
        let p = write(&dir, "s.csv", GOOD.replace("10", bad).as_bytes());
        let e = load(&p, &req(&[("nps", InputKind::Numeric)])).unwrap_err();
        assert!(
            matches!(&e, DataError::BadValue { row: 1, .. }),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("finite"), "{e}");
    }
}

#[test]
fn bad_date_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "s.csv",
        GOOD.replace("2024-06-30", "30/06/2024").as_bytes(),
    );
    let e = load(&p, &req(&[])).unwrap_err();
    assert!(matches!(&e, DataError::BadValue { row: 2, column, .. } if column == "snapshot_date"));
    assert!(e.to_string().contains("YYYY-MM-DD"));
}

#[test]
fn bad_outcome_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.replace(",no,", ",maybe,").as_bytes());
    let e = load(&p, &req(&[])).unwrap_err();
    assert!(matches!(&e, DataError::UnknownOutcome { row: 3, value, .. } if value == "maybe"));
}

#[test]
fn missing_id_and_date_values_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.replace("b,2024", ",2024").as_bytes());
    assert!(matches!(
        load(&p, &req(&[])),
        Err(DataError::MissingValue { row: 3, .. })
    ));
    let p = write(&dir, "s.csv", GOOD.replace("a,2024-06-30", "a,").as_bytes());
    assert!(matches!(
        load(&p, &req(&[])),
        Err(DataError::MissingValue { row: 2, .. })
    ));
}

#[test]
fn duplicate_account_date_names_both_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "s.csv",
        GOOD.replace("2024-06-30", "2024-03-31").as_bytes(),
    );
    let e = load(&p, &req(&[])).unwrap_err();
    assert!(
        matches!(&e, DataError::DuplicateKey { first: 1, second: 2, account, .. } if account == "a"),
        "{e}"
    );
    assert!(e.to_string().contains("2024-03-31"));
}

#[test]
fn one_class_outcome_rejected_when_required() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", GOOD.replace(",1,", ",0,").as_bytes());
    let mut r = req(&[]);
    assert!(load(&p, &r).is_ok(), "scoring does not need both classes");
    r.outcome = OutcomeNeed::Required;
    assert!(matches!(
        load(&p, &r),
        Err(DataError::OneClass {
            class: "retained",
            ..
        })
    ));
}

#[test]
fn required_outcome_absent_suggests_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "s.csv",
        b"account_id,snapshot_date,churn_date\na,2024-01-01,\n",
    );
    let mut r = req(&[]);
    r.outcome = OutcomeNeed::Required;
    let e = load(&p, &r).unwrap_err();
    assert!(matches!(
        e,
        DataError::NoOutcome {
            has_churn_date: true,
            ..
        }
    ));
    assert!(e.to_string().contains("a horizon"), "{e}");
}

#[test]
fn empty_header_only_and_binary_files_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "e.csv", b"");
    assert!(matches!(load(&p, &req(&[])), Err(DataError::Empty { .. })));
    let p = write(&dir, "h.csv", b"account_id,snapshot_date,churned\n");
    assert!(matches!(load(&p, &req(&[])), Err(DataError::NoRows { .. })));
    let p = write(&dir, "b.csv", &[0x00, 0x01, 0xFF, 0x00, 0x10]);
    assert!(matches!(
        load(&p, &req(&[])),
        Err(DataError::NotTabular { .. })
    ));
    let p = write(&dir, "fake.parquet", GOOD.as_bytes());
    assert!(matches!(
        load(&p, &req(&[])),
        Err(DataError::NotTabular {
            format: "Parquet",
            ..
        })
    ));
    assert!(matches!(
        load("/nonexistent/x.csv", &req(&[])),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn latin1_is_located_and_readable_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = GOOD.replace("silver", "caf").into_bytes();
    let at = bytes.iter().position(|&b| b == b'f').unwrap() + 1;
    bytes.insert(at, 0xE9); // é in Latin-1
    let p = write(&dir, "l.csv", &bytes);
    let r = req(&[("plan", InputKind::Text)]);
    let e = load(&p, &r).unwrap_err();
    assert!(matches!(&e, DataError::Encoding { row: 2, .. }), "{e}");
    assert!(e.to_string().contains("Latin-1"), "{e}");
    let mut r = r;
    r.encoding = Encoding::Latin1;
    let s = load(&p, &r).unwrap();
    match s.metric("plan").unwrap() {
        MetricColumn::Text { labels, .. } => assert!(labels.contains(&"café".to_string())),
        _ => panic!("text"),
    }
}

#[test]
fn no_id_column_numbers_rows_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "s.csv", b"x,churned\n1,0\n2,1\n");
    let s = load(&p, &req(&[("x", InputKind::Numeric)])).unwrap();
    assert_eq!(s.n_accounts, 2);
    assert!(s.date.is_none());
    assert_eq!(s.account_name(1), "2");
    assert!(matches!(
        s.notes.warnings[0],
        LoadWarning::NoAccountId { .. }
    ));
}

#[test]
fn outcome_from_churn_date_with_censoring() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "account_id,snapshot_date,churn_date\n\
        a,2024-01-01,2024-05-15\n\
        a,2024-04-01,2024-05-15\n\
        a,2024-07-01,2024-05-15\n\
        b,2024-01-01,\n\
        b,2024-04-01,\n\
        b,2024-07-01,\n\
        c,2024-07-01,2024-08-01\n";
    let p = write(&dir, "s.csv", csv.as_bytes());
    let mut r = req(&[]);
    r.horizon = Some(Horizon::Days(90));
    r.outcome = OutcomeNeed::Required;
    let s = load(&p, &r).unwrap();
    // last date covered: 2024-08-01 (c's churn). a@01-01: churn 135 days later → 0;
    // a@04-01: churn within 90d → 1; a@07-01: after churn → dropped; b@01-01, b@04-01 → 0;
    // b@07-01: horizon past 08-01 with no churn → censored; c@07-01: churn within → 1.
    assert_eq!(s.outcome.as_deref(), Some(&[0, 1, 0, 0, 1][..]));
    assert_eq!(s.notes.after_churn, 1);
    assert_eq!(s.notes.censored, 1);
    assert_eq!(s.source_row, vec![1, 2, 4, 5, 7]);
}

#[test]
fn truncated_parquet_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "t.parquet", b"PAR1\x15\x00\x15");
    assert!(matches!(
        load(&p, &req(&[])),
        Err(DataError::NotTabular {
            format: "Parquet",
            ..
        })
    ));
}

#[test]
fn an_exports_own_outcome_labels_are_named_or_refused_with_the_values_found() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "bank.csv",
        b"account_id,snapshot_date,churned\na,2024-01-01,Attrited Customer\nb,2024-01-01,Existing Customer\nc,2024-01-01, existing customer \n",
    );
    let mut r = req(&[]);
    r.outcome = OutcomeNeed::Required;
    let e = load(&p, &r).unwrap_err();
    assert!(
        matches!(&e, DataError::UnknownOutcome { row: 1, labels: None, found, .. }
            if found == &["Attrited Customer", "Existing Customer", "existing customer"]),
        "{e}"
    );
    // The churned label named: every other value is retained, matched ignoring case.
    r.outcome_labels = Some(OutcomeLabels {
        churned: vec!["attrited customer".into()],
        retained: Vec::new(),
    });
    assert_eq!(load(&p, &r).unwrap().outcome.unwrap(), vec![1, 0, 0]);
    // Both named: a label that is neither is refused, naming the lists.
    r.outcome_labels = Some(OutcomeLabels {
        churned: vec!["Attrited Customer".into()],
        retained: vec!["Existing".into()],
    });
    let e = load(&p, &r).unwrap_err();
    assert!(
        matches!(
            &e,
            DataError::UnknownOutcome {
                row: 2,
                labels: Some(_),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("'Existing'"), "{e}");
    // An integer column with its own codes (2 = left, 1 = stayed).
    let p = write(
        &dir,
        "codes.csv",
        b"account_id,snapshot_date,churned\na,2024-01-01,2\nb,2024-01-01,1\n",
    );
    let mut r = req(&[]);
    r.outcome = OutcomeNeed::Required;
    assert!(matches!(
        load(&p, &r).unwrap_err(),
        DataError::UnknownOutcome { found, .. } if found == ["2", "1"]
    ));
    r.outcome_labels = Some(OutcomeLabels {
        churned: vec!["2".into()],
        retained: vec!["1".into()],
    });
    assert_eq!(load(&p, &r).unwrap().outcome.unwrap(), vec![1, 0]);
}
