//! `churncal sql`: a profile compiled to SQL for a warehouse or a lakehouse.

use std::process::ExitCode;

use anyhow::{bail, Context};

use churncal::analysis::tiers::DEFAULT_BANDS;
use churncal::analysis::Unit;
use churncal::data::parse::Horizon;
use churncal::profile;
use churncal::sql::{Columns, Dialect, Job, SnapshotSpec, SqlParams};

use super::Ui;

/// Arguments of `churncal sql`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:\n  \
churncal sql score --dialect spark --table analytics.snapshots --profile calibrated.toml\n  \
churncal sql tiers --dialect duckdb --table snapshots --profile calibrated.toml > counts.sql\n  \
churncal sql sample --dialect bigquery --table proj.cs.snapshots --rate 0.2\n  \
churncal sql snapshots --dialect postgres --start 2023-03-31 --end 2025-12-31\n\n\
The score query returns, per row: the id, date and segment columns, score, group_<name>, \
tier, p_churn (calibrated profiles), reason_1..3 with their points, and refused (why \
churncal would refuse the row: a missing value under missing = \"error\", an unknown \
label; such rows get no score). Run the tiers query's result through \
`churncal tiers --counts FILE` for the tier report.")]
pub struct Args {
    /// The query: score (per-row scores, tiers, P(churn), reasons), tiers (the counts of
    /// the tier report), sample (the case-control sample calibrate fits) or snapshots
    /// (the snapshot table from raw tables).
    #[arg(value_name = "JOB", value_parser = ["score", "tiers", "sample", "snapshots"])]
    job: String,
    /// SQL dialect: spark (also Databricks), duckdb, postgres, bigquery or snowflake.
    #[arg(long, value_name = "DIALECT", value_parser = parse_dialect)]
    dialect: Dialect,
    /// Table or view holding the snapshots (schema.table allowed).
    #[arg(long, value_name = "NAME", default_value = "snapshots")]
    table: String,
    /// Profile: a .toml or .json file (a calibrated one adds P(churn)), or a preset name.
    #[arg(short, long, value_name = "PROFILE", default_value = profile::presets::DEFAULT_PRESET)]
    profile: String,
    /// Account id column (needed by sample).
    #[arg(long, value_name = "COL", default_value = "account_id")]
    id_col: String,
    /// Snapshot date column ("" for none).
    #[arg(long, value_name = "COL", default_value = "snapshot_date")]
    date_col: String,
    /// Outcome column: 0/1, true/false, yes/no, churned/renewed (tiers, sample).
    #[arg(long, value_name = "COL", default_value = "churned")]
    outcome_col: String,
    /// Segment columns carried into the score table, comma-separated.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    segment: Vec<String>,
    /// Revenue (ARR) column summed by the tiers job.
    #[arg(long, value_name = "COL")]
    arr_col: Option<String>,
    /// tiers: score band cut points, ascending.
    #[arg(long, value_name = "C1,C2,…", value_delimiter = ',', default_values_t = DEFAULT_BANDS.to_vec())]
    bands: Vec<f64>,
    /// tiers: what a counted row is: account (its last snapshot before each renewal
    /// decision) or snapshot.
    #[arg(long, value_name = "UNIT", default_value = "account", value_parser = super::tiers::parse_unit)]
    unit: Unit,
    /// sample: share of accounts whose retained snapshots are kept, in (0, 1].
    #[arg(long, value_name = "RATE")]
    rate: Option<f64>,
    /// sample: seed of the hash (calibrate's --seed).
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// snapshots: first snapshot date.
    #[arg(long, value_name = "YYYY-MM-DD")]
    start: Option<String>,
    /// snapshots: last snapshot date and end of the data.
    #[arg(long, value_name = "YYYY-MM-DD")]
    end: Option<String>,
    /// snapshots: months between snapshot dates (3m quarterly, 1m monthly).
    #[arg(long, value_name = "Nm", default_value = "3m")]
    every: String,
    /// snapshots: outcome horizon in days or weeks (90d, 13w).
    #[arg(long, value_name = "H", default_value = "90d")]
    horizon: String,
    /// snapshots: usage window before each date (30d).
    #[arg(long, value_name = "Nd", default_value = "30d")]
    window: String,
    /// snapshots: raw table names for accounts, events, invoices, surveys, churns.
    #[arg(long, value_name = "A,E,I,S,C", value_delimiter = ',',
          default_values_t = ["accounts", "events", "invoices", "surveys", "churns"].map(String::from).to_vec())]
    tables: Vec<String>,
    /// Write the query to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

fn parse_dialect(s: &str) -> Result<Dialect, String> {
    Dialect::parse(s).ok_or_else(|| {
        format!("unknown dialect '{s}': use spark, duckdb, postgres, bigquery or snowflake")
    })
}

fn day(flag: &str, v: &Option<String>) -> anyhow::Result<chrono::NaiveDate> {
    let Some(s) = v else {
        bail!("the snapshots job needs --{flag} YYYY-MM-DD");
    };
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("--{flag} '{s}': expected YYYY-MM-DD"))
}

fn days(flag: &str, s: &str) -> anyhow::Result<u32> {
    match Horizon::parse(s).map_err(anyhow::Error::msg)? {
        Horizon::Days(n) => Ok(n),
        Horizon::Months(_) => bail!(
            "--{flag} '{s}': give days or weeks (90d, 13w); months differ between engines' date functions"
        ),
    }
}

pub fn run(a: Args, _ui: &Ui) -> anyhow::Result<ExitCode> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let job = match a.job.as_str() {
        "score" => Job::Score,
        "tiers" => Job::Tiers {
            bands: a.bands.clone(),
            unit: a.unit,
        },
        "sample" => Job::Sample {
            rate: a.rate.context(
                "the sample job needs --rate, the share of retained accounts to keep (0.2)",
            )?,
            seed: a.seed,
        },
        _ => {
            let every = match Horizon::parse(&a.every).map_err(anyhow::Error::msg)? {
                Horizon::Months(n) => n,
                Horizon::Days(_) => bail!("--every '{}': give months (3m, 1m)", a.every),
            };
            let tables: [String; 5] = a.tables.clone().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "--tables names five tables: accounts,events,invoices,surveys,churns"
                )
            })?;
            Job::Snapshots(SnapshotSpec {
                start: day("start", &a.start)?,
                end: day("end", &a.end)?,
                every_months: every,
                horizon_days: days("horizon", &a.horizon)?,
                window_days: days("window", &a.window)?,
                tables,
            })
        }
    };
    let params = SqlParams {
        dialect: a.dialect,
        table: a.table.clone(),
        columns: Columns {
            account: opt(&a.id_col),
            date: opt(&a.date_col),
            outcome: opt(&a.outcome_col),
            segments: a.segment.iter().filter_map(|s| opt(s)).collect(),
            arr: a.arr_col.as_deref().and_then(opt),
        },
        job,
    };
    params.check()?;
    let profiles = churncal::profile::set::Profiles::read(&a.profile)?;
    if let Some(p) = &a.out {
        super::check_output(p, a.force)?;
    }
    let text = params.compile_for(&profiles)?;
    match &a.out {
        Some(p) => churncal::output::write_atomic(p, text.as_bytes(), a.force)
            .with_context(|| format!("writing {}", p.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
