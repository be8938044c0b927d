//! `churncal sql` run on the real engines: DuckDB, Apache Spark (local mode, one JVM for
//! the whole run) and PostgreSQL (a throwaway server on loopback), over the bundled
//! sample, the two real exports in `notebooks-data/real`, a 1M-row synthetic file and an
//! edge-case table, compared with churncal's own results:
//!
//! - score: every score, group score and P(churn) within 1e-9 (the count of bit-identical
//!   scores is printed), tiers, reason codes and refusals identical, reason points within
//!   f32 rounding;
//! - tiers: the report from the engine's counts (`tiers --counts`) has churncal's counts
//!   (units, churned, accounts, snapshots per tier, band, date) and its means within 1e-9;
//! - sample: the same rows on every engine and in `calibrate --sample-controls`, and the
//!   calibration on the engine's sample inside the full fit's bootstrap intervals;
//! - snapshots: the table built from raw accounts, events, invoices, surveys and churns
//!   equal to the one computed row by row from the query's definition.
//!
//! One harness run serves every case: one JVM and one PostgreSQL server per test run.
//!
//! The engines come from a virtual environment outside the checkout
//! (`~/.cache/churncal-venv`, created from `tests/engines/requirements.txt` on first use;
//! `CHURNCAL_PYTHON` names another interpreter) and Debian's PostgreSQL server binaries
//! (`/usr/lib/postgresql/<version>/bin`, or `CHURNCAL_PG_BIN`). `CHURNCAL_ENGINES=duckdb,spark`
//! limits the engines. The equality table is printed: run
//! `cargo test --release --test engines -- --nocapture` to see it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use churncal::analysis::{counts, tiers, Unit};
use churncal::calibrate::CalibrateParams;
use churncal::data::{self, LoadRequest, Roles, Snapshots};
use churncal::profile::set::{ProfileSet, Profiles};
use churncal::profile::{self, Profile};
use churncal::score::{self, Extent, Scored, SubScores};
use churncal::sql::{self, Columns, Dialect, Job, SqlParams};

#[path = "engines/raw.rs"]
mod raw;
use raw::{compare_snapshots, snapshots_case};

const ENGINES: [&str; 3] = ["duckdb", "spark", "postgres"];
const BANDS: [f64; 2] = [30.0, 50.0];
const RATE: f64 = 0.3;
const SEED: u64 = 42;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has the engines, made on first use.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("CHURNCAL_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").expect("HOME");
    let venv = Path::new(&home).join(".cache/churncal-venv");
    let py = venv.join("bin/python");
    let req = repo().join("tests/engines/requirements.txt");
    let ready = Command::new(&py)
        .args(["-c", "import duckdb, pyspark, psycopg"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!("creating {} from {}", venv.display(), req.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(&req)
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "could not install the engines (pip install -r {})",
            req.display()
        );
    }
    py
}

/// PostgreSQL's server binaries: `CHURNCAL_PG_BIN`, or Debian's newest.
fn postgres_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHURNCAL_PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn engines() -> Vec<String> {
    match std::env::var("CHURNCAL_ENGINES") {
        Ok(s) => s.split(',').map(|e| e.trim().to_string()).collect(),
        Err(_) => ENGINES.map(String::from).to_vec(),
    }
}

fn dialect(engine: &str) -> Dialect {
    Dialect::parse(engine).expect("a known engine")
}

/// One data set and profile to run.
struct Case {
    name: String,
    data: PathBuf,
    /// What churncal loads for the comparison (the data without the rows it would refuse).
    clean: PathBuf,
    /// `_row` (1-based row of `data`) of each row of `clean`.
    rows_of_clean: Vec<usize>,
    /// Rows of `data` churncal would refuse.
    refused: BTreeSet<usize>,
    profile: Profile,
    /// A profile set scoring the rows (its default is `profile`).
    set: Option<ProfileSet>,
    roles: Roles,
    columns: Columns,
    sample: bool,
    tiers: bool,
}

impl Case {
    fn plain(name: &str, data: PathBuf, profile: Profile, columns: Columns) -> Case {
        let rows = count_rows(&data);
        Case {
            name: name.into(),
            clean: data.clone(),
            data,
            rows_of_clean: (1..=rows).collect(),
            refused: BTreeSet::new(),
            profile,
            set: None,
            roles: Roles {
                id: columns.account.clone(),
                date: columns.date.clone(),
                outcome: columns.outcome.clone(),
                arr: columns.arr.clone(),
                ..Default::default()
            },
            sample: columns.account.is_some(),
            tiers: true,
            columns,
        }
    }

    /// The profile or profile set the case scores with.
    fn profiles(&self) -> Profiles {
        match &self.set {
            Some(s) => Profiles::Set(s.clone()),
            None => Profiles::One(self.profile.clone()),
        }
    }

    /// Scored as churncal scores it: each row by its own profile in a set.
    fn scored(&self, data: &Snapshots) -> Scored {
        let (subs, a) = score::subscores_for(&self.profiles(), data).unwrap();
        score::score_assigned(&self.profile, &subs, a.as_ref(), Extent::Full)
    }

    fn types(&self) -> serde_json::Value {
        let mut t = serde_json::Map::new();
        for m in self.profiles().all().into_iter().flat_map(|p| &p.metrics) {
            let kind = match m.transform.input_kind() {
                profile::InputKind::Numeric => "double",
                _ => "text",
            };
            t.insert(m.column.clone(), kind.into());
        }
        if let Some(d) = &self.columns.date {
            t.insert(d.clone(), "date".into());
        }
        if let Some(a) = &self.columns.arr {
            t.insert(a.clone(), "double".into());
        }
        serde_json::Value::Object(t)
    }

    fn load(&self) -> Snapshots {
        let mut req = LoadRequest::for_profile(&self.profile);
        req.roles = self.roles.clone();
        if let Some(set) = &self.set {
            for p in self.profiles().all() {
                for m in LoadRequest::for_profile(p).metrics {
                    if !req.metrics.contains(&m) {
                        req.metrics.push(m);
                    }
                }
            }
            req.roles.segments.push(set.segment.clone());
        }
        data::load(self.clean.to_str().unwrap(), &req).expect("churncal loads the case")
    }
}

fn count_rows(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).filter(|l| !l.is_empty()).count()
}

fn roles_columns(
    id: Option<&str>,
    date: Option<&str>,
    outcome: &str,
    arr: Option<&str>,
) -> Columns {
    Columns {
        account: id.map(String::from),
        date: date.map(String::from),
        outcome: Some(outcome.into()),
        segments: vec!["_row".into()],
        arr: arr.map(String::from),
    }
}

/// The bundled sample with its roles, scored by `profile`.
fn sample_case(name: &str, profile: Profile) -> Case {
    Case::plain(
        name,
        repo().join("notebooks-data/sample_snapshots.csv"),
        profile,
        roles_columns(
            Some("account_id"),
            Some("snapshot_date"),
            "churned",
            Some("arr"),
        ),
    )
}

/// The bundled sample scored by a profile set by size band: the example's calibrated
/// profile for SMB (and any other value), Mid-Market with its weights reversed and another
/// calibration, Enterprise with other transforms as well (a steeper days-past-due line and
/// the CSM assessment mapped otherwise).
fn set_case(calibrated: &Profile) -> Case {
    let mut mid = calibrated.clone();
    mid.name = "set-mid-market".into();
    let w: Vec<f64> = mid.metrics.iter().rev().map(|m| m.weight).collect();
    for (m, w) in mid.metrics.iter_mut().zip(w) {
        m.weight = w;
    }
    mid.calibration = Some(profile::Calibration::new(-1.5, -6.0));
    let mut ent = mid.clone();
    ent.name = "set-enterprise".into();
    ent.calibration = Some(profile::Calibration::new(-2.25, -5.5));
    for m in &mut ent.metrics {
        match &mut m.transform {
            profile::Transform::Linear { hi, .. } => *hi *= 0.5,
            profile::Transform::Categories { map } => {
                for v in map.values_mut() {
                    *v = (100.0 - *v).max(0.0) * 0.5 + 25.0;
                }
            }
            _ => {}
        }
    }
    mid.check().unwrap();
    ent.check().unwrap();
    let set = ProfileSet {
        segment: "size_band".into(),
        default: calibrated.clone(),
        profiles: vec![("Mid-Market".into(), mid), ("Enterprise".into(), ent)],
    };
    set.check(Path::new("set")).unwrap();
    let mut case = sample_case("set", calibrated.clone());
    case.set = Some(set);
    case.sample = false;
    case
}

/// The edge-case table and profile: every transform, every missing policy, quantile tiers
/// with ties at the cut-offs, rows with nothing present, extremes, and rows churncal
/// refuses (an unknown label, a boolean that is not one, a missing value under `error`).
fn edge_case(dir: &Path) -> Case {
    let profile: Profile = toml::from_str(
        r#"
name = "edge"
format = 1
groups = [ { name = "a", weight = 60 }, { name = "b", weight = 40 } ]
[tiers_by_quantile]
tiers = [
  { name = "top", from = 0.75 },
  { name = "middle", from = "median" },
  { name = "lower", from = "mean" },
  { name = "bottom", from = 0.0 },
]
[[metrics]]
name = "lin"
column = "lin"
group = "a"
weight = 3
direction = "higher-is-better"
transform = { kind = "linear", lo = -50, hi = 150 }
missing = "error"
[[metrics]]
name = "lg"
column = "lg"
group = "a"
weight = 2
direction = "lower-is-better"
transform = { kind = "log", lo = 0, hi = 1000 }
missing = "neutral"
[[metrics]]
name = "pts"
column = "pts"
group = "a"
weight = 2.5
direction = "higher-is-better"
transform = { kind = "points", map = [[0, 0], [10, 40], [20, 40], [50, 100]] }
missing = "worst"
[[metrics]]
name = "pct"
column = "pct"
group = "b"
weight = 0
direction = "lower-is-better"
transform = { kind = "percentile", breaks = [0, 0, 0, 5, 10, 10, 40] }
[[metrics]]
name = "cat"
column = "cat"
group = "b"
weight = 1.7
direction = "higher-is-better"
transform = { kind = "categories", map = { gold = 100, silver = 60, bronze = 0, "it's \\ odd" = 30 } }
[[metrics]]
name = "flag"
column = "flag"
group = "b"
weight = 1
direction = "lower-is-better"
transform = { kind = "boolean" }
missing = "neutral"
[[metrics]]
name = "huge"
column = "huge"
group = "b"
weight = 0.3
direction = "higher-is-better"
transform = { kind = "linear", lo = -1.7e308, hi = 1.7e308 }
missing = 12.5
[calibration]
intercept = -1.25
slope = -3.5
"#,
    )
    .expect("the edge profile");
    profile.check().expect("a valid edge profile");
    let lin = [
        "-100", "-50", "0", "25.5", "50", "100", "150", "200", "1e300", "-1e300", "0.1",
    ];
    let lg = ["0", "1", "9", "99.5", "999", "5000", "", "0.001"];
    let pts = ["0", "5", "10", "15", "20", "35", "50", "60", "-3", ""];
    let pct = ["-1", "0", "2.5", "5", "7", "10", "20", "40", "50", ""];
    let cat = ["gold", "silver", "bronze", "it's \\ odd", "", " gold "];
    let flag = ["yes", "no", "TRUE", "0", "", "N", "1.0"];
    let huge = ["0", "1e308", "-1e308", "12345", ""];
    let mut rows: Vec<[String; 7]> = Vec::new();
    let mut state = 12345u64;
    let mut pick = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    for _ in 0..400 {
        rows.push([
            lin[pick(lin.len())].to_string(),
            lg[pick(lg.len())].to_string(),
            pts[pick(pts.len())].to_string(),
            pct[pick(pct.len())].to_string(),
            cat[pick(cat.len())].to_string(),
            flag[pick(flag.len())].to_string(),
            huge[pick(huge.len())].to_string(),
        ]);
    }
    // Ties at the quantile cut-offs: a block of identical rows.
    for _ in 0..120 {
        rows.push(["50", "9", "20", "5", "silver", "no", "0"].map(String::from));
    }
    // Nothing present but the error metric: scored from it alone; everything missing
    // except it... and rows churncal refuses.
    for _ in 0..5 {
        rows.push(["25", "", "", "", "", "", ""].map(String::from));
    }
    let refusing = [
        ["", "1", "5", "5", "gold", "yes", "0"], // missing under error
        ["10", "1", "5", "5", "platinum", "yes", "0"], // unknown label
        ["10", "1", "5", "5", "gold", "maybe", "0"], // not a boolean
        ["", "", "", "", "", "", ""],            // all missing: refused (error)
    ];
    let mut refused = BTreeSet::new();
    for (i, r) in refusing.iter().enumerate() {
        let at = 37 + 61 * i;
        rows.insert(at, r.map(String::from));
    }
    for (i, r) in rows.iter().enumerate() {
        if refusing.iter().any(|x| x.map(String::from) == *r) {
            refused.insert(i + 1);
        }
    }
    let header = "account_id,snapshot_date,churned,lin,lg,pts,pct,cat,flag,huge";
    let line = |i: usize, r: &[String; 7]| {
        let q = |s: &str| {
            if s.contains(',') || s.contains('"') {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let date = ["2024-03-31", "2024-06-30", "2024-09-30"][i % 3];
        let churned = if (i * 7919) % 11 < 2 { "1" } else { "0" };
        let cells: Vec<String> = r.iter().map(|c| q(c)).collect();
        format!("E{:03},{date},{churned},{}", i / 3, cells.join(","))
    };
    let mut full = vec![header.to_string()];
    let mut clean = vec![header.to_string()];
    let mut rows_of_clean = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        full.push(line(i, r));
        if !refused.contains(&(i + 1)) {
            clean.push(line(i, r));
            rows_of_clean.push(i + 1);
        }
    }
    let data = dir.join("edge.csv");
    let clean_path = dir.join("edge-clean.csv");
    std::fs::write(&data, full.join("\n") + "\n").unwrap();
    std::fs::write(&clean_path, clean.join("\n") + "\n").unwrap();
    let columns = roles_columns(Some("account_id"), Some("snapshot_date"), "churned", None);
    Case {
        name: "edge".into(),
        data,
        clean: clean_path,
        rows_of_clean,
        refused,
        profile,
        set: None,
        roles: Roles {
            id: Some("account_id".into()),
            date: Some("snapshot_date".into()),
            outcome: Some("churned".into()),
            ..Default::default()
        },
        columns,
        sample: false,
        tiers: false,
    }
}

/// A CSV result written by the harness, by column.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Table {
        let mut r =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        Table { header, rows }
    }
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }
}

fn num(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| {
        s.parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {s}"))
    })
}

/// One line of the equality table.
#[derive(Default)]
struct Line {
    rows: usize,
    identical: usize,
    max_score: f64,
    max_p: f64,
    mismatches: Vec<String>,
}

fn close(a: Option<f64>, b: f64, tol: f64, line: &mut Line, what: &str, row: usize, max: &mut f64) {
    match a {
        None if b.is_nan() => {}
        Some(a) if !b.is_nan() => {
            let d = (a - b).abs();
            *max = max.max(d);
            if d > tol {
                line.mismatches
                    .push(format!("row {row} {what}: {a} vs {b}"));
            }
        }
        _ => line
            .mismatches
            .push(format!("row {row} {what}: {a:?} vs {b}")),
    }
}

fn compare_scores(case: &Case, s: &Scored, t: &Table) -> Line {
    let mut line = Line::default();
    let row_col = t.col("_row");
    let by_row: BTreeMap<usize, &Vec<String>> = t
        .rows
        .iter()
        .map(|r| (r[row_col].parse::<usize>().unwrap(), r))
        .collect();
    assert_eq!(by_row.len(), t.rows.len(), "{}: _row not unique", case.name);
    let refused_col = t.col("refused");
    let got_refused: BTreeSet<usize> = by_row
        .iter()
        .filter(|(_, r)| !r[refused_col].is_empty())
        .map(|(&i, _)| i)
        .collect();
    if got_refused != case.refused {
        line.mismatches.push(format!(
            "refused rows {got_refused:?}, want {:?}",
            case.refused
        ));
    }
    let (score_c, tier_c) = (t.col("score"), t.col("tier"));
    let p_c = s.probability.as_ref().map(|_| t.col("p_churn"));
    let groups: Vec<usize> = s
        .group_labels
        .iter()
        .map(|g| t.col(&format!("group_{g}")))
        .collect();
    for (i, &r) in case.rows_of_clean.iter().enumerate() {
        let Some(got) = by_row.get(&r) else {
            line.mismatches.push(format!("row {r} missing"));
            continue;
        };
        line.rows += 1;
        let want = s.score[i];
        let g = num(&got[score_c]);
        if g.map(f64::to_bits) == Some(want.to_bits()) || (g.is_none() && want.is_nan()) {
            line.identical += 1;
        }
        let mut m = line.max_score;
        close(g, want, 1e-9, &mut line, "score", r, &mut m);
        for (k, &c) in groups.iter().enumerate() {
            close(
                num(&got[c]),
                s.group_scores[k][i],
                1e-9,
                &mut line,
                "group",
                r,
                &mut m,
            );
        }
        line.max_score = m;
        if let (Some(c), Some(p)) = (p_c, &s.probability) {
            let mut mp = line.max_p;
            let want = if s.score[i].is_nan() { f64::NAN } else { p[i] };
            close(num(&got[c]), want, 1e-9, &mut line, "p_churn", r, &mut mp);
            line.max_p = mp;
        }
        let want_tier = match s.tier[i] {
            u8::MAX => String::new(),
            k => s.tier_names[k as usize].clone(),
        };
        if got[tier_c] != want_tier {
            line.mismatches
                .push(format!("row {r} tier: {} vs {want_tier}", got[tier_c]));
        }
        for k in 0..score::REASONS {
            let idx = s.reasons[i * score::REASONS + k];
            let want = if idx == u16::MAX {
                String::new()
            } else {
                s.metric_names[idx as usize].clone()
            };
            let name = &got[t.col(&format!("reason_{}", k + 1))];
            if *name != want {
                line.mismatches
                    .push(format!("row {r} reason {}: {name} vs {want}", k + 1));
            }
            if idx != u16::MAX {
                let pts = num(&got[t.col(&format!("reason_{}_points", k + 1))]).unwrap_or(f64::NAN);
                let want = s.reason_points[i * score::REASONS + k];
                if (pts as f32 - want).abs() > 1e-5 * want.abs().max(1.0) {
                    line.mismatches
                        .push(format!("row {r} reason {} points: {pts} vs {want}", k + 1));
                }
            }
        }
    }
    line
}

fn eq(bad: &mut Vec<String>, what: &str, a: usize, b: usize) {
    if a != b {
        bad.push(format!("{what}: {a} vs {b}"));
    }
}

fn compare_tiers(want: &tiers::TierReport, got: &tiers::TierReport) -> Vec<String> {
    let mut bad = Vec::new();
    eq(&mut bad, "units", want.units, got.units);
    eq(&mut bad, "churned", want.churned, got.churned);
    eq(&mut bad, "accounts", want.accounts, got.accounts);
    eq(&mut bad, "unscored", want.unscored, got.unscored);
    for (a, b) in want
        .tiers
        .iter()
        .chain(&want.bands)
        .zip(got.tiers.iter().chain(&got.bands))
    {
        eq(
            &mut bad,
            &format!("{} units", a.label),
            a.count.units,
            b.count.units,
        );
        eq(
            &mut bad,
            &format!("{} churned", a.label),
            a.count.churned,
            b.count.churned,
        );
        eq(
            &mut bad,
            &format!("{} accounts", a.label),
            a.count.accounts,
            b.count.accounts,
        );
        eq(
            &mut bad,
            &format!("{} snapshots", a.label),
            a.snapshots,
            b.snapshots,
        );
        let rel =
            |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-9 * x.abs().max(1.0);
        if !rel(a.mean_score, b.mean_score) || !rel(a.from, b.from) {
            bad.push(format!(
                "{}: mean {} vs {}, from {} vs {}",
                a.label, a.mean_score, b.mean_score, a.from, b.from
            ));
        }
        if let (Some(x), Some(y)) = (a.predicted, b.predicted) {
            if !rel(x, y) {
                bad.push(format!("{} predicted {x} vs {y}", a.label));
            }
        }
        if a.count.arr.is_some()
            && (a.count.arr.unwrap() - b.count.arr.unwrap_or(f64::NAN)).abs() > 1e-6
        {
            bad.push(format!(
                "{} arr {:?} vs {:?}",
                a.label, a.count.arr, b.count.arr
            ));
        }
    }
    eq(&mut bad, "trend periods", want.trend.len(), got.trend.len());
    for (a, b) in want.trend.iter().zip(&got.trend) {
        eq(
            &mut bad,
            &format!("trend {} snapshots", a.period),
            a.snapshots,
            b.snapshots,
        );
        eq(
            &mut bad,
            &format!("trend {} churned", a.period),
            a.churned,
            b.churned,
        );
    }
    if (want.mean_score_churned - got.mean_score_churned).abs() > 1e-9 {
        bad.push(format!(
            "mean churned {} vs {}",
            want.mean_score_churned, got.mean_score_churned
        ));
    }
    bad
}

#[test]
fn generated_sql_gives_churncals_results_on_every_engine() {
    let engines = engines();
    let pg = if engines.iter().any(|e| e == "postgres") {
        Some(postgres_bin().expect(
            "PostgreSQL's server is not installed: apt-get install postgresql, set \
             CHURNCAL_PG_BIN, or leave it out with CHURNCAL_ENGINES=duckdb,spark",
        ))
    } else {
        None
    };
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let real = repo().join("notebooks-data/real");
    let calibrated = profile::read_profile(
        repo()
            .join("reports/example/three-dimensions-calibrated.toml")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let mut cases = vec![
        sample_case("sample", calibrated.clone()),
        Case::plain(
            "telco",
            real.join("telco_customer_churn.csv"),
            profile::read_profile(real.join("telco.toml").to_str().unwrap()).unwrap(),
            roles_columns(Some("customerID"), None, "Churn", None),
        ),
        Case::plain(
            "iranian",
            real.join("iranian_churn.csv"),
            profile::read_profile(real.join("iranian.toml").to_str().unwrap()).unwrap(),
            roles_columns(None, None, "Churn", None),
        ),
        // The learned transforms (points from `calibrate --learn-transforms`).
        Case::plain(
            "iranian-learned",
            real.join("iranian_churn.csv"),
            profile::read_profile(real.join("iranian-learned.toml").to_str().unwrap()).unwrap(),
            roles_columns(None, None, "Churn", None),
        ),
    ];
    cases.push(set_case(&calibrated));
    cases.push(edge_case(work));
    // A million rows from the generator, scored with its own eight-pillar preset and
    // quantile tiers.
    let synth = work.join("synth.csv");
    let st = Command::new(env!("CARGO_BIN_EXE_churncal"))
        .args(["synth", "-q", "--accounts", "128000", "--out"])
        .arg(&synth)
        .arg("--truth")
        .arg(work.join("truth.toml"))
        .status()
        .unwrap();
    assert!(st.success());
    let mut pillars = profile::presets::preset("eight-pillars").unwrap();
    pillars.tiers_by_quantile = Some(
        toml::from_str::<profile::QuantileTiers>(
            "tiers = [{ name = \"top\", from = 0.8 }, { name = \"mid\", from = \"mean\" }, { name = \"low\", from = 0.1 }, { name = \"bottom\", from = 0.0 }]",
        )
        .unwrap(),
    );
    pillars.tiers.clear();
    pillars.calibration = Some(profile::Calibration::new(-2.0, -3.0));
    pillars.check().unwrap();
    cases.push(Case::plain(
        "synth-1m",
        synth,
        pillars,
        roles_columns(
            Some("account_id"),
            Some("snapshot_date"),
            "churned",
            Some("arr"),
        ),
    ));

    // The queries and the manifest.
    let mut manifest_cases = Vec::new();
    for case in &cases {
        let mut jobs = Vec::new();
        let mut add = |job: Job, name: &str| {
            let mut sqls = serde_json::Map::new();
            let mut outs = serde_json::Map::new();
            for e in &engines {
                let mut p = SqlParams::new(dialect(e), "snapshots", job.clone());
                p.columns = case.columns.clone();
                let text = p.compile_for(&case.profiles()).unwrap();
                let f = work.join(format!("{}-{name}.{e}.sql", case.name));
                std::fs::write(&f, text).unwrap();
                sqls.insert(e.clone(), f.to_str().unwrap().into());
                outs.insert(
                    e.clone(),
                    work.join(format!("{}-{name}.{e}.csv", case.name))
                        .to_str()
                        .unwrap()
                        .into(),
                );
            }
            jobs.push(serde_json::json!({"name": name, "sql": sqls, "out": outs}));
        };
        add(Job::Score, "score");
        if case.tiers {
            add(
                Job::Tiers {
                    bands: BANDS.to_vec(),
                    unit: Unit::Account,
                },
                "tiers",
            );
        }
        if case.sample {
            add(
                Job::Sample {
                    rate: RATE,
                    seed: SEED,
                },
                "sample",
            );
        }
        manifest_cases.push(serde_json::json!({
            "name": case.name, "data": case.data, "table": "snapshots",
            "types": case.types(), "jobs": jobs,
        }));
    }
    let (raw_case, want_snapshots) = snapshots_case(work, &engines);
    manifest_cases.push(raw_case);
    let manifest = serde_json::json!({
        "work": work, "engines": engines, "postgres_bin": pg,
        "timings": work.join("timings.json"), "cases": manifest_cases,
    });
    let mpath = work.join("manifest.json");
    std::fs::write(&mpath, manifest.to_string()).unwrap();
    let st = Command::new(&py)
        .arg(repo().join("tests/engines/run.py"))
        .arg(&mpath)
        .status()
        .unwrap();
    assert!(st.success(), "the engine harness failed");

    // The comparisons.
    let mut failures = Vec::new();
    println!("\n| data set | engine | rows compared | scores bit-identical | largest score difference | largest P(churn) difference | tier counts | sample | mismatches |");
    println!("|---|---|---:|---:|---:|---:|---|---|---:|");
    for case in &cases {
        let data = case.load();
        let scored = case.scored(&data);
        let want_report = case
            .tiers
            .then(|| tiers::tier_report(&data, &scored, Unit::Account, &BANDS));
        let want_sample: Option<BTreeSet<usize>> = case.sample.then(|| {
            let outcome = data.outcome.as_ref().unwrap();
            (0..data.rows)
                .filter(|&i| {
                    outcome[i] == 1
                        || churncal::data::controls::controls_kept(
                            SEED,
                            &data.account_name(data.account[i]),
                            RATE,
                        )
                })
                .map(|i| i + 1)
                .collect()
        });
        for e in &engines {
            let t = Table::read(&work.join(format!("{}-score.{e}.csv", case.name)));
            let mut line = compare_scores(case, &scored, &t);
            let tiers_note = match &want_report {
                None => "–".to_string(),
                Some(want) => {
                    let got = counts::from_counts(
                        &work.join(format!("{}-tiers.{e}.csv", case.name)),
                        &case.profile,
                        Unit::Account,
                        &BANDS,
                    )
                    .unwrap();
                    let bad = compare_tiers(want, &got);
                    let note = if bad.is_empty() {
                        "identical".into()
                    } else {
                        format!("{} differ", bad.len())
                    };
                    line.mismatches.extend(bad);
                    note
                }
            };
            let sample_note = match &want_sample {
                None => "–".to_string(),
                Some(want) => {
                    let t = Table::read(&work.join(format!("{}-sample.{e}.csv", case.name)));
                    let c = t.col("_row");
                    let got: BTreeSet<usize> =
                        t.rows.iter().map(|r| r[c].parse().unwrap()).collect();
                    if got == *want {
                        format!("identical ({} rows)", got.len())
                    } else {
                        line.mismatches.push(format!(
                            "sample: {} rows, want {} ({} in common)",
                            got.len(),
                            want.len(),
                            got.intersection(want).count()
                        ));
                        "differs".into()
                    }
                }
            };
            println!(
                "| {} | {e} | {} | {} | {:.1e} | {:.1e} | {tiers_note} | {sample_note} | {} |",
                case.name,
                line.rows,
                line.identical,
                line.max_score,
                line.max_p,
                line.mismatches.len()
            );
            for m in line.mismatches.iter().take(5) {
                failures.push(format!("{} on {e}: {m}", case.name));
            }
        }
    }
    // The snapshots job against the table computed from its definition.
    for e in &engines {
        let t = Table::read(&work.join(format!("snapshots.{e}.csv")));
        let bad = compare_snapshots(&want_snapshots, &t);
        println!(
            "snapshots on {e}: {} rows ({} in the reference), {} differences",
            t.rows.len(),
            want_snapshots.len(),
            bad.len()
        );
        failures.extend(
            bad.into_iter()
                .take(5)
                .map(|b| format!("snapshots on {e}: {b}")),
        );
    }
    // The calibration on an engine's sample of the bundled data lies inside the full
    // fit's bootstrap intervals.
    let case = &cases[0];
    let data = case.load();
    let full = CalibrateParams::default()
        .lambdas(vec![0.0])
        .bootstrap(100)
        .fit(
            &case.profile,
            &data,
            SubScores::compute(&case.profile, &data).unwrap(),
        )
        .unwrap();
    let engine = engines.last().unwrap();
    let mut req = LoadRequest::for_profile(&case.profile);
    req.roles = case.roles.clone();
    let drawn = data::load(
        work.join(format!("sample-sample.{engine}.csv"))
            .to_str()
            .unwrap(),
        &req,
    )
    .unwrap();
    let sampled = CalibrateParams::default()
        .lambdas(vec![0.0])
        .bootstrap(0)
        .sample_controls(Some(RATE))
        .fit(
            &case.profile,
            &drawn,
            SubScores::compute(&case.profile, &drawn).unwrap(),
        )
        .unwrap();
    println!(
        "\ncalibration on {engine}'s {}-row sample against the full fit ({} rows):",
        drawn.rows, data.rows
    );
    for (f, s) in full.metrics.iter().zip(&sampled.metrics) {
        let inside = f.weight_ci[0] <= s.ml_weight && s.ml_weight <= f.weight_ci[1];
        println!(
            "  {:<22} sample {:6.2}  full {:6.2}  interval [{:.2}, {:.2}] {}",
            f.name,
            s.ml_weight,
            f.ml_weight,
            f.weight_ci[0],
            f.weight_ci[1],
            if inside { "inside" } else { "OUTSIDE" }
        );
        if !inside {
            failures.push(format!(
                "sampled weight of {} outside the full fit's interval",
                f.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tiers_counts_refuse_refused_rows() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.csv");
    let header = sql::COUNT_COLUMNS.join(",");
    std::fs::write(&f, format!("{header}\noverall,,,,10,10,1,10,,,,,,0,3\n")).unwrap();
    let p = profile::presets::preset("three-dimensions").unwrap();
    let e = counts::from_counts(&f, &p, Unit::Account, &BANDS).unwrap_err();
    assert!(e.to_string().contains("3 rows were refused"), "{e}");
    std::fs::write(&f, format!("{header}\noverall,,,,ten,10,1,10,,,,,,0,0\n")).unwrap();
    let e = counts::from_counts(&f, &p, Unit::Account, &BANDS).unwrap_err();
    assert!(
        e.to_string().contains("row 1, column 'units': value 'ten'"),
        "{e}"
    );
}
