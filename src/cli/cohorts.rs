//! `churncal cohorts`: churn per segment cohort (and per cohort × tier), metric cohorts, and
//! Kaplan–Meier retention curves.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use churncal::analysis::cohorts::{CohortKey, DEFAULT_MIN_SIZE};
use churncal::analysis::stage::{AnalysisError, CohortParams, RetentionChoice};
use churncal::analysis::survival::RetentionBy;
use churncal::analysis::Unit;
use churncal::data::{parse, OutcomeNeed};
use churncal::report::analysis as report;
use churncal::report::churn_charts;
use churncal::score;

use super::{report_context, report_dir, DataArgs, Input, Ui};

/// Arguments of `churncal cohorts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
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

/// `--retention` as the library's choice.
pub(super) fn retention_choice(s: Option<&str>) -> anyhow::Result<RetentionChoice> {
    Ok(match s.map(str::trim) {
        None => RetentionChoice::Auto,
        Some("none") => RetentionChoice::None,
        Some("signup_year") => RetentionChoice::By(RetentionBy::SignupYear),
        Some("signup_quarter") => RetentionChoice::By(RetentionBy::SignupQuarter),
        Some("tier") => RetentionChoice::By(RetentionBy::Tier { reference: 0 }),
        Some(other) => {
            bail!("--retention '{other}': use signup_year, signup_quarter, tier or none")
        }
    })
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let profiles = a.input.profiles()?;
    let profile = profiles.main().clone();
    let (keys, data_args) = keys_and_data(&a.by, &a.input.data);
    let reference = match &a.reference {
        None => None,
        Some(s) => match parse::date(s) {
            Ok(Some(d)) => Some(d),
            _ => bail!("--reference '{s}' is not a date as YYYY-MM-DD"),
        },
    };
    let params = CohortParams {
        unit: a.unit,
        keys,
        min_size: a.min_size,
        bins: a.bins,
        zero_bin: a.zero_bin,
        retention: retention_choice(a.retention.as_deref())?,
        reference,
        as_of: a.input.data.as_of_day()?,
    };
    if let Err(AnalysisError::Bins(_)) = params.check() {
        bail!("--bins must be at least 2");
    }
    let (data, scored, _) = data_args.load_scored(
        &profiles,
        OutcomeNeed::Required,
        churncal::data::memory::Job::Score,
        score::Extent::Tiers,
        ui,
    )?;
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("cohorts", &profile.name, &data));
    let rep = params.run(&data, &profile, &scored)?;
    let ctx = report_context(&a.input.data.data, &profile, &data);
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
