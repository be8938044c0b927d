//! `churncal risk`: revenue at risk from a calibrated profile (or profile set), per tier and
//! segment, with the expected survival per tier and, when the date's outcomes are known,
//! observed against expected.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use churncal::analysis::risk::{Calibrations, RiskParams};
use churncal::data::{parse, OutcomeNeed};
use churncal::profile::set::Profiles;
use churncal::report::risk as report;
use churncal::score;

use super::{Input, Ui};

/// Arguments of `churncal risk`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Output folder [default: reports/risk-<profile>-<date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The snapshot date whose accounts are at risk [default: the last date]. An earlier
    /// date with known outcomes checks the forecast: observed against expected.
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<String>,
    /// Break the revenue down by these segment columns too (an owner, a region, a plan).
    #[arg(long, value_name = "COL[,COL...]", value_delimiter = ',')]
    by: Vec<String>,
    /// Bootstrap resamples of accounts for the calibration's uncertainty (0: chance only).
    #[arg(short = 'B', long, value_name = "B", default_value_t = 200)]
    bootstrap: usize,
    /// Seed of the bootstrap and the draws.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Periods the survival curves run over.
    #[arg(long, value_name = "N", default_value_t = 20)]
    periods: usize,
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let profiles = a.input.profiles()?;
    let profile = profiles.main().clone();
    for p in profiles.all() {
        if p.calibration.is_none() {
            bail!(
                "profile '{}' is not calibrated: revenue at risk needs P(churn) (run churncal calibrate)",
                p.name
            );
        }
    }
    for c in &a.by {
        if !a.input.data.segment.contains(c) {
            a.input.data.segment.push(c.clone());
        }
    }
    if a.input.data.arr_col.is_none() {
        a.input.data.arr_col = Some(churncal::data::Roles::DEFAULT_ARR.to_string());
    }
    let at = match &a.at {
        None => None,
        Some(s) => match parse::date(s) {
            Ok(Some(d)) => Some(d),
            _ => bail!("--at '{s}' is not a date as YYYY-MM-DD"),
        },
    };
    let params = RiskParams::default()
        .at(at)
        .by(a.by.clone())
        .bootstrap(a.bootstrap)
        .seed(a.seed)
        .periods(a.periods);
    params.check()?;
    let (data, scored, assignment) = a.input.data.load_scored(
        &profiles,
        OutcomeNeed::Optional,
        churncal::data::memory::Job::Score,
        score::Extent::Tiers,
        ui,
    )?;
    let cals = match &assignment {
        Some(asg) => Calibrations {
            list: asg
                .profiles
                .iter()
                .map(|p| p.calibration.as_ref().expect("checked"))
                .collect(),
            which: Some(&asg.which),
        },
        None => Calibrations {
            list: vec![profile.calibration.as_ref().expect("checked")],
            which: None,
        },
    };
    let r = params.run(&data, &scored, &cals)?;
    let out_dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "risk-{}-{}",
            super::safe_file_name(&profile.name),
            r.at
        ))
    });
    let colors = profile.tier_colors();
    let profile_label = match &profiles {
        Profiles::One(p) => p.name.clone(),
        Profiles::Set(s) => format!("{} (a set by '{}')", a.input.profile, s.segment),
    };
    let files: Vec<(&str, String)> = vec![
        (
            "risk.md",
            report::markdown(&r, &a.input.data.data, &profile_label),
        ),
        ("risk.csv", report::csv(&r)),
        ("risk.json", report::json(&r)),
        ("risk.svg", report::tiers_svg(&r, &colors)),
        ("survival.svg", report::survival_svg(&r, &colors)),
    ];
    super::write_reports(&out_dir, &files)?;
    for g in r.groups.iter().filter(|g| g.by == "all" || g.by == "tier") {
        ui.note(format!(
            "  {:<18} {:>7} accounts  expected churned revenue {:>14.0}  [{:.0} – {:.0}]{}",
            g.label,
            g.accounts,
            g.expected,
            g.predicted[0],
            g.predicted[1],
            g.observed
                .map_or(String::new(), |o| format!("  observed {o:.0}"))
        ));
    }
    if let Some(v) = report::verdict(&r) {
        ui.note(v);
    }
    ui.note(format!(
        "wrote {}/ ({})",
        out_dir.display(),
        files.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
    ));
    Ok(ExitCode::SUCCESS)
}
