//! `churncal audit`: data quality before a fit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use churncal::audit::{self, AuditParams, Severity};
use churncal::data::{self, parse, MetricColumn, OutcomeNeed};
use churncal::profile::{self, InputKind, Profile};
use churncal::report::audit as report;

use super::{report_dir, DataArgs, Input, Ui};

/// Arguments of `churncal audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Also scan these columns outside the profile for leakage ("all": every column that
    /// plays no role and is not a profile metric).
    #[arg(long, value_name = "COLS|all", value_delimiter = ',')]
    scan: Vec<String>,
    /// Data older than this many days is stale; accounts absent this long are flagged.
    #[arg(long, value_name = "DAYS", default_value_t = 120)]
    stale_days: i32,
    /// Accounts with at least this many snapshots are checked for values that never change.
    #[arg(long, value_name = "N", default_value_t = 4)]
    stale_snapshots: usize,
    /// Output folder [default: reports/audit-<profile>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Today, or the date of `SOURCE_DATE_EPOCH` (reproducible runs), as a day number.
pub(super) fn today() -> i32 {
    super::now_timestamp().div_euclid(86_400) as i32
}

pub fn run(a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let prof = profile::read_profile(&a.input.profile)?;
    let mut req = a.input.data.request(&prof, OutcomeNeed::Optional)?;
    // Extra columns to scan, read as text and kept when every value is a number.
    let mut extra_cols: Vec<String> = Vec::new();
    if !a.scan.is_empty() {
        let names = data::column_names(&a.input.data.data, &req)?;
        let used = |c: &str| {
            prof.metrics.iter().any(|m| m.column == c)
                || [
                    a.input
                        .data
                        .id_col
                        .as_deref()
                        .unwrap_or(data::Roles::DEFAULT_ID),
                    a.input
                        .data
                        .date_col
                        .as_deref()
                        .unwrap_or(data::Roles::DEFAULT_DATE),
                    a.input
                        .data
                        .outcome_col
                        .as_deref()
                        .unwrap_or(data::Roles::DEFAULT_OUTCOME),
                    a.input
                        .data
                        .churn_date_col
                        .as_deref()
                        .unwrap_or(data::Roles::DEFAULT_CHURN_DATE),
                    a.input
                        .data
                        .customer_since_col
                        .as_deref()
                        .unwrap_or(data::Roles::DEFAULT_CUSTOMER_SINCE),
                ]
                .contains(&c)
                || a.input.data.segment.iter().any(|s| s == c)
        };
        if a.scan.iter().any(|s| s == "all") {
            extra_cols = names.into_iter().filter(|c| !used(c)).collect();
        } else {
            for c in &a.scan {
                if !names.contains(c) {
                    bail!(
                        "--scan: no column '{c}' in {} (closest: {})",
                        a.input.data.data,
                        data::closest_names(c, &names).join(", ")
                    );
                }
                extra_cols.push(c.clone());
            }
        }
        for c in &extra_cols {
            if !req.metrics.iter().any(|(m, _)| m == c) {
                req.metrics.push((c.clone(), InputKind::Text));
            }
        }
    }
    a.input
        .data
        .check_memory(churncal::data::memory::Job::Score, req.metrics.len())?;
    let snaps = data::load(&a.input.data.data, &req)?;
    for w in &snaps.notes.warnings {
        ui.warn(super::hint::for_warning(w));
    }
    let extra: Vec<(String, Vec<f64>)> = extra_cols
        .iter()
        .filter_map(|c| match snaps.metric(c) {
            Some(MetricColumn::Text { codes, labels }) => {
                let vals: Option<Vec<f64>> = labels
                    .iter()
                    .map(|l| parse::number(l).ok().flatten())
                    .collect();
                let vals = vals?;
                Some((
                    c.clone(),
                    codes
                        .iter()
                        .map(|&k| vals.get(k as usize).copied().unwrap_or(f64::NAN))
                        .collect(),
                ))
            }
            Some(MetricColumn::Numeric(v)) => Some((c.clone(), v.clone())),
            None => None,
        })
        .collect();
    let p = AuditParams {
        stale_days: a.stale_days,
        stale_snapshots: a.stale_snapshots,
        ..AuditParams::new(as_of(&a.input.data)?)
    };
    p.check()?;
    let result = audit::audit(&prof, &snaps, &extra, &p);
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("audit", &prof.name, &snaps));
    super::write_reports(
        &out_dir,
        &[
            ("audit.md", report::markdown(&result)),
            ("audit.json", report::json(&result)),
        ],
    )?;
    print_findings(&result, ui);
    ui.note(format!(
        "wrote {}/ (audit.md, audit.json)",
        out_dir.display()
    ));
    Ok(if result.count(Severity::Error) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Findings on standard error: errors and warnings always, notes unless --quiet.
pub(super) fn print_findings(result: &audit::Audit, ui: &Ui) {
    for x in &result.findings {
        let line = format!(
            "{} {}{}: {}",
            x.criterion,
            x.check,
            if x.subject.is_empty() {
                String::new()
            } else {
                format!(" [{}]", x.subject)
            },
            churncal::report::audit::message(x)
        );
        match x.severity {
            Severity::Error => eprintln!("error: {line}"),
            Severity::Warn => ui.warn(line),
            Severity::Info => ui.note(format!("note: {line}")),
        }
    }
    ui.note(format!(
        "audit: {} errors, {} warnings, {} notes",
        result.count(Severity::Error),
        result.count(Severity::Warn),
        result.count(Severity::Info)
    ));
}

/// The audit's "today": `--as-of` when given, else today.
pub(super) fn as_of(data: &DataArgs) -> anyhow::Result<i32> {
    Ok(data.as_of_day()?.unwrap_or_else(today))
}

/// The note on the audit run before a fit.
pub(super) fn note_counts(result: &audit::Audit, impact: bool, ui: &Ui) {
    ui.note(format!(
        "audit: {} errors, {} warnings (churncal audit writes the details{})",
        result.count(Severity::Error),
        result.count(Severity::Warn),
        if impact {
            ""
        } else {
            " and checks each metric's impact and leakage"
        }
    ));
}

/// The error for audit findings that stop a fit.
pub(super) fn blocking_error(errors: &[audit::Finding]) -> anyhow::Error {
    let list: Vec<String> = errors
        .iter()
        .map(|f| {
            format!(
                "  {} {}: {}",
                f.criterion,
                f.check,
                churncal::report::audit::message(f)
            )
        })
        .collect();
    anyhow::anyhow!(
        "the data-quality audit found errors; fix the data, or pass --force to fit anyway:\n{}",
        list.join("\n")
    )
}

/// The audit `calibrate` runs first: its errors stop the fit unless `--force`. Without
/// `impact` the per-metric impact and leakage checks (warnings only, and the expensive part
/// on large data) are left to `churncal audit`.
pub(super) fn before_fit(
    prof: &Profile,
    snaps: &data::Snapshots,
    data_args: &DataArgs,
    force: bool,
    impact: bool,
    ui: &Ui,
) -> anyhow::Result<audit::Audit> {
    let mut p = AuditParams::new(as_of(data_args)?);
    p.impact = impact;
    let result = p.run(prof, snaps, &[]);
    note_counts(&result, impact, ui);
    let errors = result.blocking();
    if !errors.is_empty() && !force {
        let owned: Vec<audit::Finding> = errors.into_iter().cloned().collect();
        return Err(blocking_error(&owned));
    }
    Ok(result)
}
