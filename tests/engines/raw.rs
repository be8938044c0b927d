//! The snapshots job's test data: raw accounts, events, invoices, surveys and churns
//! tables, and the snapshot table computed row by row from the query's definition.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use churncal::profile;
use churncal::sql::{self, Job, SqlParams};

use super::{dialect, Table};

/// A snapshot table: (account, date) → column → value (numbers as text).
pub type SnapshotTable = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Raw tables for the snapshots job: accounts, events, invoices, surveys, churns.
struct Raw {
    accounts: Vec<(String, NaiveDate, &'static str)>,
    churns: BTreeMap<String, NaiveDate>,
    /// (account, user, day of the event, feature); written with a time of day.
    events: Vec<(String, u32, NaiveDate, u32)>,
    /// (account, due, paid, arr)
    invoices: Vec<(String, NaiveDate, Option<NaiveDate>, i64)>,
    /// (account, answered, nps)
    surveys: Vec<(String, NaiveDate, i64)>,
}

fn raw_tables(dir: &Path) -> (Raw, BTreeMap<String, PathBuf>) {
    let day0 = NaiveDate::from_ymd_opt(2022, 6, 1).unwrap();
    let mut state = 99u64;
    let mut pick = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let mut raw = Raw {
        accounts: Vec::new(),
        churns: BTreeMap::new(),
        events: Vec::new(),
        invoices: Vec::new(),
        surveys: Vec::new(),
    };
    for a in 0..40 {
        let id = format!("A{a:02}");
        let since = day0 + chrono::Days::new(pick(730));
        raw.accounts
            .push((id.clone(), since, ["retail", "saas", "media"][a % 3]));
        if pick(3) == 0 {
            let churn = since + chrono::Days::new(200 + pick(900));
            raw.churns.insert(id.clone(), churn);
        }
        for _ in 0..150 {
            let d = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new(pick(1095));
            raw.events
                .push((id.clone(), pick(6) as u32, d, pick(9) as u32));
        }
        let mut due = since + chrono::Days::new(30);
        while due < NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() {
            let paid = match pick(5) {
                0 => None,
                k => Some(due + chrono::Days::new(k * 9)),
            };
            raw.invoices
                .push((id.clone(), due, paid, 1000 * (1 + pick(20) as i64)));
            due = due + chrono::Days::new(91);
        }
        let mut answered = since + chrono::Days::new(pick(90));
        while answered < NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() {
            raw.surveys
                .push((id.clone(), answered, pick(21) as i64 - 10));
            answered = answered + chrono::Days::new(60 + pick(120));
        }
    }
    let mut files = BTreeMap::new();
    let mut write = |name: &str, header: &str, lines: Vec<String>| {
        let p = dir.join(format!("raw-{name}.csv"));
        std::fs::write(&p, format!("{header}\n{}\n", lines.join("\n"))).unwrap();
        files.insert(name.to_string(), p);
    };
    write(
        "accounts",
        "account_id,customer_since,industry,plan,region",
        raw.accounts
            .iter()
            .map(|(a, s, i)| format!("{a},{s},{i},pro,emea"))
            .collect(),
    );
    write(
        "churns",
        "account_id,churn_date",
        raw.churns.iter().map(|(a, d)| format!("{a},{d}")).collect(),
    );
    write(
        "events",
        "account_id,user_id,event_time,feature",
        raw.events
            .iter()
            .enumerate()
            .map(|(i, (a, u, d, f))| format!("{a},u{u},{d} {:02}:17:00,f{f}", i % 24))
            .collect(),
    );
    write(
        "invoices",
        "account_id,due_date,paid_date,amount,arr",
        raw.invoices
            .iter()
            .map(|(a, due, paid, arr)| {
                let paid = paid.map(|p| p.to_string()).unwrap_or_default();
                format!("{a},{due},{paid},{},{arr}", arr / 4)
            })
            .collect(),
    );
    write(
        "surveys",
        "account_id,answered_at,nps",
        raw.surveys
            .iter()
            .map(|(a, d, n)| format!("{a},{d},{n}"))
            .collect(),
    );
    (raw, files)
}

/// The snapshot table the query must build, computed row by row from its definition:
/// (account, date) → column → value (numbers as f64, the rest as text).
fn snapshots_reference(raw: &Raw, spec: &sql::SnapshotSpec) -> SnapshotTable {
    let mut out = BTreeMap::new();
    let days = |n: u32| chrono::Days::new(n as u64);
    for d in spec.dates() {
        for (a, since, industry) in &raw.accounts {
            let churn = raw.churns.get(a);
            if *since > d || churn.is_some_and(|c| *c <= d) {
                continue;
            }
            let mut row = BTreeMap::new();
            let h = d + days(spec.horizon_days);
            let churned = match churn {
                Some(c) if *c <= h => "1",
                _ if h <= spec.end => "0",
                _ => "",
            };
            row.insert("churned".to_string(), churned.to_string());
            row.insert(
                "churn_date".into(),
                churn.map(|c| c.to_string()).unwrap_or_default(),
            );
            row.insert("customer_since".into(), since.to_string());
            row.insert("industry".into(), industry.to_string());
            let from = d - days(spec.window_days);
            let ev: Vec<_> = raw
                .events
                .iter()
                .filter(|e| &e.0 == a && e.2 > from && e.2 <= d)
                .collect();
            let users: BTreeSet<u32> = ev.iter().map(|e| e.1).collect();
            let features: BTreeSet<u32> = ev.iter().map(|e| e.3).collect();
            row.insert("active_users_30d".into(), users.len().to_string());
            row.insert("features_used_30d".into(), features.len().to_string());
            row.insert(
                "logins_per_user_30d".into(),
                if users.is_empty() {
                    String::new()
                } else {
                    (ev.len() as f64 / users.len() as f64).to_string()
                },
            );
            let inv: Vec<_> = raw
                .invoices
                .iter()
                .filter(|i| &i.0 == a && i.1 <= d)
                .collect();
            let late = inv
                .iter()
                .filter(|i| i.2.is_none_or(|p| p > d))
                .map(|i| (d - i.1).num_days())
                .max()
                .unwrap_or(0);
            row.insert("days_past_due".into(), late.to_string());
            row.insert(
                "arr".into(),
                inv.iter()
                    .map(|i| i.3)
                    .max()
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            );
            let nps = raw
                .surveys
                .iter()
                .filter(|s| &s.0 == a && s.1 <= d)
                .max_by_key(|s| s.1)
                .map(|s| s.2.to_string())
                .unwrap_or_default();
            row.insert("nps".into(), nps);
            out.insert((a.clone(), d.to_string()), row);
        }
    }
    out
}

/// Differences between an engine's snapshot table and the reference.
pub fn compare_snapshots(want: &SnapshotTable, t: &Table) -> Vec<String> {
    let mut bad = Vec::new();
    let (a, d) = (t.col("account_id"), t.col("snapshot_date"));
    let mut seen = 0;
    for r in &t.rows {
        let key = (r[a].clone(), r[d].clone());
        let Some(w) = want.get(&key) else {
            bad.push(format!("unexpected row {key:?}"));
            continue;
        };
        seen += 1;
        for (col, v) in w {
            let got = &r[t.col(col)];
            let same = match (got.parse::<f64>(), v.parse::<f64>()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                _ => got == v,
            };
            if !same {
                bad.push(format!("{key:?} {col}: {got} vs {v}"));
            }
        }
    }
    if seen != want.len() {
        bad.push(format!("{seen} rows, want {}", want.len()));
    }
    bad
}

/// The snapshots job's case for the manifest (raw tables, one query per engine) and the
/// table it must build.
pub fn snapshots_case(work: &Path, engines: &[String]) -> (serde_json::Value, SnapshotTable) {
    let (raw, files) = raw_tables(work);
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let spec = sql::SnapshotSpec::quarterly(d("2023-03-31"), d("2025-12-31"));
    let want = snapshots_reference(&raw, &spec);
    let churned: usize = want.values().filter(|r| r["churned"] == "1").count();
    assert!(
        want.len() > 300 && churned > 5,
        "{} rows, {churned} churned",
        want.len()
    );
    let mut sqls = serde_json::Map::new();
    let mut outs = serde_json::Map::new();
    for e in engines {
        let text = SqlParams::new(dialect(e), "", Job::Snapshots(spec.clone()))
            .compile(&profile::presets::preset("three-dimensions").unwrap())
            .unwrap();
        let f = work.join(format!("snapshots.{e}.sql"));
        std::fs::write(&f, text).unwrap();
        sqls.insert(e.clone(), f.to_str().unwrap().into());
        outs.insert(
            e.clone(),
            work.join(format!("snapshots.{e}.csv"))
                .to_str()
                .unwrap()
                .into(),
        );
    }
    let case = serde_json::json!({"name": "raw", "tables": files,
                   "jobs": [{"name": "snapshots", "sql": sqls, "out": outs}]});
    (case, want)
}
