//! `churncal cohorts`: churn per segment cohort (and per cohort × tier), metric cohorts, and
//! Kaplan–Meier retention curves.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use churncal::analysis::cohorts::{self, CohortKey, DEFAULT_MIN_SIZE};
use churncal::analysis::survival::{self, RetentionBy};
use churncal::analysis::{distinct_accounts, metric_cohorts, unit_rows, Unit};
use churncal::data::{parse, OutcomeNeed, NO_DAY};
use churncal::profile::{self, presets::DEFAULT_PRESET};
use churncal::report::analysis::{self as report, CohortReport};
use churncal::report::churn_charts;
use churncal::score;

use super::{report_context, report_dir, DataArgs, Ui};

/// Arguments of `churncal cohorts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Profile: a .toml or .json file, or a preset name.
    #[arg(short, long, value_name = "PROFILE", default_value = DEFAULT_PRESET)]
    profile: String,
    /// Output folder [default: reports/cohorts-<profile>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Cohort keys, crossed: segment columns, or tenure, signup_quarter, signup_year
    /// (from customer_since). Example: --by industry,size_band.
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    by: Vec<String>,
    /// What a row counts: account (one per account and renewal decision) or snapshot.
    #[arg(long, value_name = "UNIT", default_value = "account", value_parser = super::tiers::parse_unit)]
    unit: Unit,
    /// Smallest cohort (accounts) whose churn is shown; smaller ones are suppressed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MIN_SIZE)]
    min_size: usize,
    /// Bins per metric cohort (deciles by default).
    #[arg(long, value_name = "N", default_value_t = 10)]
    bins: usize,
    /// Put zeros in a metric-cohort bin of their own.
    #[arg(long)]
    zero_bin: bool,
    /// Retention curves by signup_year, signup_quarter or tier (at --reference), or none
    /// [default: signup_year when the data has customer_since, else tier].
    #[arg(long, value_name = "BY")]
    retention: Option<String>,
    /// Reference date for retention by tier [default: the first snapshot date].
    #[arg(long, value_name = "YYYY-MM-DD")]
    reference: Option<String>,
}

pub fn run(a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let profile = profile::read_profile(&a.profile)?;
    if a.bins < 2 {
        bail!("--bins must be at least 2");
    }
    let (keys, data_args) = keys_and_data(&a.by, &a.data);
    let reference = match &a.reference {
        None => None,
        Some(s) => match parse::date(s) {
            Ok(Some(d)) => Some(d),
            _ => bail!("--reference '{s}' is not a date as YYYY-MM-DD"),
        },
    };
    let data = data_args.load(
        &profile,
        OutcomeNeed::Required,
        churncal::data::memory::Job::Score,
        ui,
    )?;
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("cohorts", &profile.name, &data));
    let scored = score::score_tiers(&profile, &data)?;
    let opts = Options {
        unit: a.unit,
        keys,
        min_size: a.min_size,
        bins: a.bins,
        zero_bin: a.zero_bin,
        retention: a.retention.clone(),
        reference,
    };
    let rep = build(&data, &profile, &scored, &a.data, &opts)?;
    let ctx = report_context(&a.data.data, &profile, &data);
    let mut files: Vec<(&str, String)> = vec![
        ("cohorts.md", report::cohorts_markdown(&rep, &ctx)),
        ("cohorts.json", report::cohorts_json(&rep, &ctx)),
    ];
    if let Some(t) = &rep.cohorts {
        files.push(("cohorts.csv", report::cohorts_csv(t)));
    }
    if !rep.metric_cohorts.is_empty() {
        files.push((
            "metric-cohorts.csv",
            report::metric_cohorts_csv(&rep.metric_cohorts),
        ));
        files.push((
            "metric-cohorts.svg",
            churn_charts::metric_cohorts_svg(
                &format!("Churn by metric decile: '{}'", profile.name),
                &rep.metric_cohorts,
                rep.overall_rate,
            ),
        ));
    }
    if let Some(r) = &rep.retention {
        files.push(("retention.csv", report::retention_csv(r)));
        files.push((
            "retention.svg",
            churn_charts::retention_svg(&format!("Retention by {}", r.by), r),
        ));
    }
    super::write_reports(&out_dir, &files)?;

    ui.note(format!(
        "{}: {} rows of {} accounts, overall churn {:.2} %",
        data.source,
        rep.units,
        rep.accounts,
        100.0 * rep.overall_rate
    ));
    if let Some(t) = &rep.cohorts {
        for r in t.cohorts.iter().take(5) {
            match &r.churn {
                Some(c) => ui.note(format!(
                    "  {:<30} {:>6} accounts {:>7.2} %  [{:.2} – {:.2}]",
                    r.cohort.join(" · "),
                    r.accounts,
                    100.0 * c.rate,
                    100.0 * c.ci[0],
                    100.0 * c.ci[1]
                )),
                None => ui.note(format!(
                    "  {:<30} {:>6} accounts  suppressed",
                    r.cohort.join(" · "),
                    r.accounts
                )),
            }
        }
        if t.cohorts.len() > 5 {
            ui.note(format!("  … {} cohorts in all", t.cohorts.len()));
        }
    }
    for m in &rep.metric_cohorts {
        if !m.monotone || m.direction_conflict {
            ui.note(format!(
                "metric '{}': churn {:?} as it grows{}",
                m.metric,
                m.trend,
                if m.direction_conflict {
                    ", against the profile's direction"
                } else {
                    ""
                }
            ));
        }
    }
    ui.note(format!(
        "wrote {}/ ({})",
        out_dir.display(),
        files.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
    ));
    Ok(ExitCode::SUCCESS)
}

/// What `cohorts` computes, shared with `report`.
pub(super) struct Options {
    pub unit: Unit,
    pub keys: Vec<CohortKey>,
    pub min_size: usize,
    pub bins: usize,
    pub zero_bin: bool,
    pub retention: Option<String>,
    pub reference: Option<churncal::data::Day>,
}

/// Segment cohorts, metric cohorts and retention curves of scored data.
pub(super) fn build(
    data: &churncal::data::Snapshots,
    profile: &churncal::profile::Profile,
    scored: &score::Scored,
    data_args: &DataArgs,
    opts: &Options,
) -> anyhow::Result<CohortReport> {
    let rows = unit_rows(data, opts.unit);
    let outcome = data.outcome.as_ref().expect("required");
    let churned = rows.iter().filter(|&&r| outcome[r as usize] == 1).count();
    let mut notes = Vec::new();

    let table = if opts.keys.is_empty() {
        notes.push("no cohort keys given (--by industry,tenure,…): segment tables skipped".into());
        None
    } else {
        Some(
            cohorts::cohort_table(data, scored, &rows, &opts.keys, opts.min_size)
                .map_err(anyhow::Error::msg)?,
        )
    };
    let metrics = metric_cohorts::metric_cohorts(data, profile, &rows, opts.bins, opts.zero_bin);

    // Retention curves.
    let retention_by = match opts.retention.as_deref().map(str::trim) {
        Some("none") => None,
        Some("signup_year") => Some(RetentionBy::SignupYear),
        Some("signup_quarter") => Some(RetentionBy::SignupQuarter),
        Some("tier") => Some(RetentionBy::Tier { reference: 0 }),
        Some(other) => {
            bail!("--retention '{other}': use signup_year, signup_quarter, tier or none")
        }
        None if data.churn_date.is_none() => {
            notes.push("no churn-date column: retention curves skipped".into());
            None
        }
        None if data.customer_since.is_some() => Some(RetentionBy::SignupYear),
        None if data.date.is_some() => Some(RetentionBy::Tier { reference: 0 }),
        None => None,
    };
    let retention = match retention_by {
        None => None,
        Some(by) => {
            let by = match by {
                RetentionBy::Tier { .. } => {
                    let first = data.date_range().map(|d| d.0);
                    let Some(r) = opts.reference.or(first) else {
                        bail!("retention by tier needs snapshot dates");
                    };
                    RetentionBy::Tier { reference: r }
                }
                other => other,
            };
            let req = data_args.request(profile, OutcomeNeed::Required)?;
            let end = req.as_of.unwrap_or_else(|| {
                let d = data.date_range().map_or(NO_DAY, |d| d.1);
                let c = data
                    .churn_date
                    .as_ref()
                    .and_then(|c| c.iter().copied().filter(|&x| x != NO_DAY).max())
                    .unwrap_or(NO_DAY);
                d.max(c)
            });
            Some(
                survival::retention(data, scored, &by, end, opts.min_size)
                    .map_err(anyhow::Error::msg)?,
            )
        }
    };

    Ok(CohortReport {
        unit: opts.unit,
        units: rows.len(),
        accounts: distinct_accounts(data, &rows),
        churned,
        overall_rate: churned as f64 / rows.len().max(1) as f64,
        cohorts: table,
        metric_cohorts: metrics,
        zero_bin: opts.zero_bin,
        retention,
        notes,
    })
}

/// Cohort keys from `--by`, and the data flags with every segment key among the segments
/// to load.
pub(super) fn keys_and_data(by: &[String], data: &DataArgs) -> (Vec<CohortKey>, DataArgs) {
    let keys: Vec<CohortKey> = by
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| CohortKey::parse(s))
        .collect();
    let mut data_args = data.clone();
    for k in &keys {
        if let CohortKey::Segment(name) = k {
            if !data_args.segment.contains(name) {
                data_args.segment.push(name.clone());
            }
        }
    }
    (keys, data_args)
}
