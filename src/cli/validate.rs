//! `churncal validate`: the pre-rollout gate, a candidate profile against the incumbent.

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use churncal::data::{parse, OutcomeNeed};
use churncal::profile;
use churncal::profile::set::Profiles;
use churncal::report::validate as report;
use churncal::validate::{self, Check, Gate, ValidateParams};

use super::{report_context, report_dir, DataArgs, Ui};

/// Arguments of `churncal validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The profile that would go live: a .toml or .json file, or a preset name.
    #[arg(
        long,
        value_name = "PROFILE",
        requires = "incumbent",
        required_unless_present = "profile"
    )]
    candidate: Option<String>,
    /// The profile in use now.
    #[arg(long, value_name = "PROFILE", requires = "candidate")]
    incumbent: Option<String>,
    /// One live profile alone: its figures quarter by quarter, with the score's PSI against
    /// the data it was calibrated on (or the first quarter).
    #[arg(short, long, value_name = "PROFILE", conflicts_with_all = ["candidate", "incumbent"])]
    profile: Option<String>,
    /// First date of the validation period [default: the last 25 % of snapshot dates].
    #[arg(long, value_name = "YYYY-MM-DD")]
    holdout_from: Option<String>,
    /// Gate thresholds (TOML); missing keys keep the defaults (docs/methods.md).
    #[arg(long, value_name = "FILE")]
    gate: Option<PathBuf>,
    /// Paired bootstrap resamples of validation accounts for the Δ log-loss and Δ Brier
    /// intervals.
    #[arg(short = 'B', long, value_name = "B", default_value_t = 200)]
    bootstrap: usize,
    /// Harrell's optimism bootstrap: refits of a calibrated candidate (0 skips it).
    #[arg(long, value_name = "B", default_value_t = 200)]
    optimism_bootstrap: usize,
    /// Refit the candidate to convergence on every optimism resample instead of one Newton
    /// step from its fit (slower; the optimism agrees within its Monte Carlo error).
    #[arg(long)]
    full_refits: bool,
    /// Seed of the bootstrap and folds.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Output folder [default: reports/validate-<candidate>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let gate = match &a.gate {
        None => Gate::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the gate file {}", p.display()))?;
            Gate::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
    };
    if let Some(p) = &a.profile {
        return run_monitor(&a, p, &gate, ui);
    }
    let candidate_set = Profiles::read(a.candidate.as_deref().expect("clap requires it"))?;
    let incumbent_set = Profiles::read(a.incumbent.as_deref().expect("clap requires it"))?;
    // A set's segment column is loaded with the data.
    for p in [&candidate_set, &incumbent_set] {
        if let Profiles::Set(s) = p {
            if !a.data.segment.contains(&s.segment) {
                a.data.segment.push(s.segment.clone());
            }
        }
    }
    let (candidate, incumbent) = (candidate_set.main().clone(), incumbent_set.main().clone());
    let holdout_from = match &a.holdout_from {
        None => None,
        Some(s) => match parse::date(s) {
            Ok(Some(d)) => Some(d),
            _ => bail!("--holdout-from '{s}' is not a date as YYYY-MM-DD"),
        },
    };
    let params = ValidateParams {
        holdout_from,
        bootstrap: a.bootstrap,
        optimism_bootstrap: a.optimism_bootstrap,
        full_refits: a.full_refits,
        seed: a.seed,
        segments: a.data.segments(),
        gate,
        ..ValidateParams::default()
    };
    params.check()?;
    let all: Vec<&churncal::profile::Profile> = candidate_set
        .all()
        .into_iter()
        .chain(incumbent_set.all())
        .collect();
    let data = a.data.load_for(
        &all,
        OutcomeNeed::Required,
        churncal::data::memory::Job::Fit,
        ui,
    )?;
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("validate", &candidate.name, &data));
    let mut ctx = report_context(&a.data.data, &candidate, &data);
    ctx.profile = format!("{} vs {}", candidate.name, incumbent.name);
    let source = data.source.clone();
    // Validation reads neither the lifecycle dates, the revenue nor the accounts' names.
    let mut data = data;
    data.free_for_fit(false);
    data.account_names = None;
    // Handed over, so that validation frees the metric values once it has the sub-scores.
    let v = params.run_sets(&candidate_set, &incumbent_set, Cow::Owned(data))?;
    let files = [
        ("validation.md", report::markdown(&v, &ctx)),
        ("validation.json", report::json(&v, &ctx)),
        ("roc.svg", report::roc_svg(&v)),
        ("reliability.svg", report::reliability_svg(&v)),
    ];
    super::write_reports(&out_dir, &files)?;
    ui.note(format!(
        "{}: {} validation rows of {} accounts, {} churned ({})",
        source, v.validation_rows, v.validation_accounts, v.validation_events, v.scheme
    ));
    print_checks(&v.checks);
    ui.note(format!(
        "wrote {}/ (validation.md, validation.json, roc.svg, reliability.svg)",
        out_dir.display()
    ));
    if v.passed {
        eprintln!(
            "verdict: '{}' may replace '{}'",
            candidate.name, incumbent.name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "verdict: '{}' must not replace '{}': {} failed",
            candidate.name,
            incumbent.name,
            churncal::report::validate::named(&v.checks, churncal::validate::Status::Fail)
                .join("; ")
        );
        Ok(ExitCode::from(1))
    }
}

fn run_monitor(a: &Args, path: &str, gate: &Gate, ui: &Ui) -> anyhow::Result<ExitCode> {
    let prof = profile::read_profile(path)?;
    let data = a.data.load(
        &prof,
        OutcomeNeed::Required,
        churncal::data::memory::Job::Score,
        ui,
    )?;
    // The data the profile was calibrated on, when that file is here and is not this data.
    let reference = match prof.calibration.as_ref().and_then(|c| c.data.as_ref()) {
        Some(d) if d.path != a.data.data && std::path::Path::new(&d.path).exists() => {
            let mut args = a.data.clone();
            args.data = d.path.clone();
            let r = args.load(
                &prof,
                OutcomeNeed::Optional,
                churncal::data::memory::Job::Score,
                ui,
            )?;
            let s = churncal::score::score(
                &prof,
                &churncal::score::SubScores::compute(&prof, &r)?,
                churncal::score::Extent::Tiers,
            );
            let scores: Vec<f64> = s.score.into_iter().filter(|v| !v.is_nan()).collect();
            Some((d.path.clone(), scores))
        }
        _ => None,
    };
    let m = validate::monitor::monitor(
        &prof,
        &data,
        reference.as_ref().map(|(p, s)| (p.as_str(), s.clone())),
        gate,
    )?;
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("monitor", &prof.name, &data));
    let ctx = report_context(&a.data.data, &prof, &data);
    super::write_reports(
        &out_dir,
        &[
            ("monitor.md", report::monitor_markdown(&m, &ctx)),
            ("monitor.json", report::monitor_json(&m, &ctx)),
        ],
    )?;
    for q in &m.quarters {
        ui.note(format!(
            "{}: {} rows, {} churned, AUC {:.3}, O/E {:.2}, slope {:.2}, PSI {:.3}",
            q.quarter, q.rows, q.events, q.auc, q.observed_expected, q.slope, q.psi
        ));
    }
    print_checks(&m.checks);
    ui.note(format!(
        "wrote {}/ (monitor.md, monitor.json)",
        out_dir.display()
    ));
    Ok(if m.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The verdict on standard error, shown even with --quiet: it is the command's answer.
fn print_checks(checks: &[Check]) {
    for c in checks {
        eprintln!(
            "{:>5}  {}: {} (threshold {}; {})",
            c.status.label(),
            c.check,
            c.value,
            c.threshold,
            churncal::report::validate::kind_label(c.kind)
        );
    }
}
