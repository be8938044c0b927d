//! `churncal tiers`: churn across health tiers and score bands, with intervals, a
//! monotonicity check, the score trend, and tier cut-offs proposed from data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use churncal::analysis::stage::TierParams;
use churncal::analysis::tiers::{self, FitTiers, DEFAULT_BANDS};
use churncal::analysis::Unit;
use churncal::data::OutcomeNeed;
use churncal::output;
use churncal::profile::set::Profiles;
use churncal::profile::{self, io};
use churncal::report::analysis::{self as report, Proposal};
use churncal::report::churn_charts;
use churncal::score;

use super::{report_context, report_dir, Input, Ui};

/// Arguments of `churncal tiers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Output folder [default: reports/tiers-<profile>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// What a row counts: account (one per account and renewal decision, its last snapshot
    /// before the outcome) or snapshot (every snapshot).
    #[arg(long, value_name = "UNIT", default_value = "account", value_parser = parse_unit)]
    unit: Unit,
    /// Fixed score bands as ascending cut points: 30,50 gives ≤ 30, between, ≥ 50.
    #[arg(long, value_name = "C1,C2,…", value_delimiter = ',', default_values_t = DEFAULT_BANDS.to_vec())]
    bands: Vec<f64>,
    /// Propose tier cut-offs from the data and write them into a copy of the profile:
    /// quartiles, quantiles=Q1,Q2,… or separation (monotone tiers, each ≥ --min-share of
    /// the rows, maximising separation).
    #[arg(long, value_name = "METHOD")]
    fit_tiers: Option<String>,
    /// Smallest share of the rows per tier for --fit-tiers separation.
    #[arg(long, value_name = "SHARE", default_value_t = 0.05)]
    min_share: f64,
    /// Replace an existing proposed profile.
    #[arg(long)]
    force: bool,
    /// Make the report from counts made where the data lives: a CSV of the result of
    /// `churncal sql tiers` (same profile, --bands and --unit); --data is not read.
    #[arg(long, value_name = "FILE", conflicts_with = "fit_tiers")]
    counts: Option<PathBuf>,
}

pub(super) fn parse_unit(s: &str) -> Result<Unit, String> {
    Unit::parse(s).ok_or_else(|| format!("'{s}': use account or snapshot"))
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    if let Some(counts) = &a.counts {
        return run_counts(&a, counts, ui);
    }
    let stage = tracing::info_span!("load and score").entered();
    let profiles = a.input.profiles()?;
    let profile = profiles.main().clone();
    if matches!(profiles, Profiles::Set(_)) && a.fit_tiers.is_some() {
        bail!("--fit-tiers fits one profile's cut-offs: give it one profile of the set");
    }
    tiers::check_bands(&a.bands).map_err(anyhow::Error::msg)?;
    let method = a
        .fit_tiers
        .as_deref()
        .map(FitTiers::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?
        .map(|m| match m {
            FitTiers::Separation { .. } => FitTiers::Separation {
                min_share: a.min_share,
            },
            other => other,
        });
    if !(0.0..0.5).contains(&a.min_share) {
        bail!("--min-share must lie in [0, 0.5)");
    }
    let proposal_file = format!("{}-tiers.toml", super::safe_file_name(&profile.name));
    // With the folder given, the proposed profile is known to be writable before the read.
    if let (Some(_), Some(dir)) = (&method, &a.out) {
        super::check_output(&dir.join(&proposal_file), a.force)?;
    }
    // The metric values become scores batch by batch as the file loads: the table holds
    // the rows' ids, dates and outcomes, not their metrics.
    let (data, scored) = match &profiles {
        Profiles::One(p) => {
            let (data, scores) = a.input.data.load_scores(p, OutcomeNeed::Required, ui)?;
            (data, score::from_scores(p, scores))
        }
        Profiles::Set(_) => {
            let (data, scored, _) = a.input.data.load_scored(
                &profiles,
                OutcomeNeed::Required,
                churncal::data::memory::Job::Score,
                score::Extent::Tiers,
                ui,
            )?;
            (data, scored)
        }
    };
    drop(stage);
    let stage = tracing::info_span!("tier table").entered();
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("tiers", &profile.name, &data));
    let r = tiers::tier_report(&data, &scored, a.unit, &a.bands);
    drop(stage);
    let ctx = report_context(&a.input.data.data, &profile, &data);

    let mut proposal = None;
    let mut proposed_toml = None;
    if let Some(m) = &method {
        let (mins, fitted, proposed_report) = TierParams {
            unit: a.unit,
            bands: a.bands.clone(),
        }
        .propose(&data, &profile, &scored, m)?;
        fitted.check().context("the proposed tiers")?;
        let file = proposal_file;
        let path = out_dir.join(&file);
        if a.out.is_none() {
            super::check_output(&path, a.force)?;
        }
        proposal = Some(Proposal {
            method: a.fit_tiers.clone().unwrap_or_default(),
            mins,
            file,
            report: proposed_report,
        });
        proposed_toml = Some((path, io::to_toml(&fitted)));
    }

    let md = report::tiers_markdown(&r, &ctx, proposal.as_ref());
    let csv = report::tiers_csv(&r, proposal.as_ref());
    let json = report::tiers_json(&r, &ctx, proposal.as_ref());
    let sub = subtitle(&profile.name, &ctx.data, &r, a.unit);
    if let Some((path, toml)) = &proposed_toml {
        output::write_atomic(path, toml.as_bytes(), a.force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    write_tier_files(&out_dir, &sub, &r, md, csv, json)?;
    print_summary(&data.source, &r, proposal.as_ref(), a.unit, &out_dir, ui);
    Ok(ExitCode::SUCCESS)
}

/// The charts' subtitle: profile, data, rows counted, churned.
fn subtitle(profile: &str, data: &str, r: &tiers::TierReport, unit: Unit) -> String {
    format!(
        "'{profile}' on {data}: {} rows ({}), {} churned",
        r.units,
        match unit {
            Unit::Account => "accounts' renewal decisions",
            Unit::Snapshot => "snapshots",
        },
        r.churned
    )
}

/// The report's files: the table as Markdown, CSV and JSON, and the two charts.
fn write_tier_files(
    out_dir: &std::path::Path,
    sub: &str,
    r: &tiers::TierReport,
    md: String,
    csv: String,
    json: String,
) -> anyhow::Result<()> {
    let tiers_svg =
        churn_charts::churn_bars_svg("Churn across health tiers", sub, &r.tiers, r.overall_rate);
    let bands_svg =
        churn_charts::churn_bars_svg("Churn across score bands", sub, &r.bands, r.overall_rate);
    super::write_reports(
        out_dir,
        &[
            ("tiers.md", md),
            ("tiers.csv", csv),
            ("tiers.json", json),
            ("tiers.svg", tiers_svg),
            ("bands.svg", bands_svg),
        ],
    )
}

/// `tiers --counts`: the report from the counts of `churncal sql tiers`.
fn run_counts(a: &Args, counts: &std::path::Path, ui: &Ui) -> anyhow::Result<ExitCode> {
    let profile = profile::read_profile(&a.input.profile)?;
    tiers::check_bands(&a.bands).map_err(anyhow::Error::msg)?;
    let r = churncal::analysis::counts::from_counts(counts, &profile, a.unit, &a.bands)?;
    let dates = match (r.trend.first(), r.trend.last()) {
        (Some(f), Some(l)) => Some((f.period.clone(), l.period.clone())),
        _ => None,
    };
    let out_dir = a.out.clone().unwrap_or_else(|| {
        let last = dates.as_ref().map_or("all".to_string(), |d| d.1.clone());
        PathBuf::from("reports").join(format!(
            "tiers-{}-{last}",
            super::safe_file_name(&profile.name)
        ))
    });
    let ctx = churncal::report::analysis::ReportContext {
        data: counts.display().to_string(),
        dates,
        profile: profile.name.clone(),
        calibrated: profile.calibration.is_some(),
    };
    let md = report::tiers_markdown(&r, &ctx, None);
    let csv = report::tiers_csv(&r, None);
    let json = report::tiers_json(&r, &ctx, None);
    let sub = subtitle(&profile.name, &format!("{} (counts)", ctx.data), &r, a.unit);
    write_tier_files(&out_dir, &sub, &r, md, csv, json)?;
    print_summary(&ctx.data, &r, None, a.unit, &out_dir, ui);
    Ok(ExitCode::SUCCESS)
}

/// What `tiers` prints: the tier table, its monotonicity, the band headline, the proposal.
fn print_summary(
    source: &str,
    r: &tiers::TierReport,
    proposal: Option<&Proposal>,
    unit: Unit,
    out_dir: &std::path::Path,
    ui: &Ui,
) {
    ui.note(format!(
        "{}: {} {} of {} accounts, overall churn {:.2} %",
        source,
        r.units,
        match unit {
            Unit::Account => "renewal decisions",
            Unit::Snapshot => "snapshots",
        },
        r.accounts,
        100.0 * r.overall_rate
    ));
    for t in &r.tiers {
        ui.note(format!(
            "  {:<18} {:>7} rows {:>6} churned {:>7.2} %  [{:.2} – {:.2}]",
            t.label,
            t.count.units,
            t.count.churned,
            100.0 * t.count.rate,
            100.0 * t.count.ci[0],
            100.0 * t.count.ci[1]
        ));
    }
    if !r.tier_check.monotone {
        ui.warn("churn does not rise strictly from each tier to the next worse one (see tiers.md)");
    }
    if let Some(h) = report::band_headline(r) {
        ui.note(h);
    }
    if let Some(p) = proposal {
        ui.note(format!(
            "proposed tier minimums ({}): {}",
            p.method,
            p.mins
                .iter()
                .map(|m| format!("{m}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    ui.note(format!(
        "wrote {}/ (tiers.md, tiers.csv, tiers.json, tiers.svg, bands.svg{})",
        out_dir.display(),
        proposal.map_or(String::new(), |p| format!(", {}", p.file))
    ));
}
