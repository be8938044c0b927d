//! Command-line layer: one file per subcommand with its arguments and the call into the
//! library. Arguments are converted once into library options; no clap type crosses into
//! the library.

mod audit;
mod calibrate;
mod calibrate_segments;
mod cohorts;
pub mod config;
mod data_args;
mod explain;
pub mod hint;
mod init;
mod learn_args;
mod profile;
mod report;
mod risk;
mod score;
mod sql;
mod synth;
mod tiers;
pub mod timing;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use data_args::{DataArgs, Input};

/// Calibrate customer-health-score weights against real churn.
#[derive(Debug, Parser)]
#[command(
    name = "churncal",
    version,
    about,
    long_about = "Calibrate customer-health-score weights against real churn.\n\n\
Load account snapshots (CSV, Parquet or a spreadsheet), score them with a weight profile (TOML), \
and see how the score's tiers line up with who actually churned. With no --data, \
commands run on the bundled sample (notebooks-data/sample_snapshots.csv).",
    after_help = "Exit status: 0 success, 1 a validation gate failed, 2 an error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print no progress or notes on standard error.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print each stage's timing, passes and memory on standard error (as does
    /// CHURNCAL_TIMINGS=1).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Project file with the settings flags leave out [default: churncal.toml here, when
    /// there is one; `churncal init` writes it].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit the profile's weights against churn: the quarterly recalibration.
    Calibrate(calibrate::Args),
    /// Score snapshots with a profile: score, group scores, tier, P(churn), reason codes.
    Score(score::Args),
    /// Churn across health tiers and score bands: the tier-vs-churn table.
    Tiers(tiers::Args),
    /// Churn per segment cohort, per metric decile, and retention curves.
    Cohorts(cohorts::Args),
    /// Revenue at risk from a calibrated profile: expected churned revenue per tier and
    /// segment with intervals, expected survival per tier, observed against expected.
    Risk(risk::Args),
    /// The pre-rollout gate: a candidate profile against the incumbent (exit 1 on failure).
    Validate(validate::Args),
    /// Why scores moved between two snapshot dates: each account's change split exactly
    /// by metric, and the worklist (CSV, Parquet, .xlsx; exit 1 when it has accounts).
    Explain(explain::Args),
    /// Data quality before a fit: access, accuracy, currency, impact, integration, outcome.
    Audit(audit::Args),
    /// The quarterly pack: calibration, tiers, cohorts, validation and audit as one
    /// self-contained index.html, report.md, report.json and SVG charts.
    Report(report::Args),
    /// Start a project from an export: guess its columns' roles and metrics, write
    /// churncal.toml and a starter profile.
    Init(init::Args),
    /// List, show or start from the built-in profiles.
    #[command(subcommand)]
    Profile(profile::Command),
    /// Generate synthetic snapshots from a documented model (the bundled sample).
    Synth(synth::Args),
    /// Compile a profile to SQL (Spark, DuckDB, PostgreSQL, BigQuery, Snowflake): the
    /// score table, the tier counts, the case-control sample or the snapshot table.
    Sql(sql::Args),
}

impl Cli {
    /// Whether --quiet was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    timing::install(cli.verbose || timing::from_env());
    let ui = Ui { quiet: cli.quiet };
    match cli.command {
        Command::Calibrate(a) => calibrate::run(a, &ui),
        Command::Score(a) => score::run(a, &ui),
        Command::Tiers(a) => tiers::run(a, &ui),
        Command::Cohorts(a) => cohorts::run(a, &ui),
        Command::Risk(a) => risk::run(a, &ui),
        Command::Validate(a) => validate::run(a, &ui),
        Command::Audit(a) => audit::run(a, &ui),
        Command::Explain(a) => explain::run(a, &ui),
        Command::Report(a) => report::run(a, &ui),
        Command::Init(a) => init::run(a, &ui),
        Command::Profile(c) => profile::run(c),
        Command::Synth(a) => synth::run(a, &ui),
        Command::Sql(a) => sql::run(a, &ui),
    }
}

/// Write report files into `dir`, each atomically, replacing earlier ones.
fn write_reports<S: AsRef<str>>(dir: &std::path::Path, files: &[(&str, S)]) -> anyhow::Result<()> {
    use anyhow::Context;
    for (name, body) in files {
        let p = dir.join(name);
        churncal::output::write_atomic(&p, body.as_ref().as_bytes(), true)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Stop, before any work, when `path` cannot be written: it exists without `--force`, or
/// its folder is not writable (the hint names the flag).
/// Which profile of a set scored how many rows, and the values it does not map.
fn note_assignment(
    a: &churncal::score::Assignment,
    profiles: &churncal::profile::set::Profiles,
    ui: &Ui,
) {
    let segment = match profiles {
        churncal::profile::set::Profiles::Set(s) => s.segment.as_str(),
        churncal::profile::set::Profiles::One(_) => return,
    };
    let parts: Vec<String> = a
        .profiles
        .iter()
        .zip(&a.rows)
        .filter(|(_, &n)| n > 0)
        .map(|(p, n)| format!("'{}' {n}", p.name))
        .collect();
    ui.note(format!(
        "rows per profile (by '{segment}'): {}",
        parts.join(", ")
    ));
    if !a.unmapped.is_empty() {
        let values: Vec<String> = a
            .unmapped
            .iter()
            .map(|(l, n)| format!("'{l}' ({n} rows)"))
            .collect();
        ui.warn(format!(
            "{} rows have a '{segment}' value the profile set does not map, scored by its default '{}': {}",
            a.unmapped_rows(),
            a.profiles[0].name,
            values.join(", ")
        ));
    }
}

fn check_output(path: &std::path::Path, force: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    churncal::output::check_writable(path, force)
        .with_context(|| format!("writing {}", path.display()))
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible outputs), else the
/// clock.
fn now_timestamp() -> i64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp())
}

/// The default output folder of a report: `reports/<kind>-<profile>-<last snapshot date>`.
fn report_dir(kind: &str, profile: &str, data: &churncal::data::Snapshots) -> std::path::PathBuf {
    let last = data.date_range().map_or("all".to_string(), |d| {
        churncal::data::parse::format_day(d.1)
    });
    std::path::PathBuf::from("reports").join(format!("{kind}-{}-{last}", safe_file_name(profile)))
}

use churncal::output::safe_file_name;

/// What a report states about its inputs.
fn report_context(
    path: &str,
    profile: &churncal::profile::Profile,
    data: &churncal::data::Snapshots,
) -> churncal::report::analysis::ReportContext {
    churncal::report::analysis::ReportContext {
        data: path.to_string(),
        dates: data.date_range().map(|(a, b)| {
            (
                churncal::data::parse::format_day(a),
                churncal::data::parse::format_day(b),
            )
        }),
        profile: profile.name.clone(),
        calibrated: profile.calibration.is_some(),
    }
}

/// What every command may print on standard error.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Silence notes and progress.
    pub quiet: bool,
}

impl Ui {
    /// A note for the user on standard error.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A warning: shown even with --quiet.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!("warning: {}", msg.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn file_names_from_text_stay_in_their_folder() {
        assert_eq!(safe_file_name("eight-pillars"), "eight-pillars");
        // One path component, never hidden, never a parent folder.
        assert_eq!(safe_file_name("../../etc/x"), "-.-..-etc-x");
        assert_eq!(safe_file_name("<script>a b"), "-script-a-b");
        assert_eq!(safe_file_name(""), "profile");
        assert!(!safe_file_name("..").contains('/'));
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
