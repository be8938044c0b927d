//! `churncal report`: the quarterly pack. Calibrates the profile (unless it is calibrated
//! and `--no-calibrate` is given), then tiers, cohorts, validation against the incumbent
//! and the data-quality audit, written as a self-contained `index.html`, `report.md`,
//! `report.json` and the SVG charts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use churncal::analysis::cohorts::CohortKey;
use churncal::calibrate::{CalibrateParams, SegmentParams};
use churncal::data::OutcomeNeed;
use churncal::output;
use churncal::pack::{PackError, PackParams};
use churncal::profile::set::{SetIndex, SET_FORMAT_VERSION};
use churncal::profile::{self, io, presets::DEFAULT_PRESET, Profile};
use churncal::report;
use churncal::validate::ValidateParams;

use super::{report_dir, safe_file_name, DataArgs, Ui};

/// Arguments of `churncal report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Profile to calibrate (a .toml/.json file or a preset), or with --no-calibrate a
    /// calibrated profile to report on.
    #[arg(short, long, value_name = "PROFILE", default_value = DEFAULT_PRESET)]
    profile: String,
    /// The profile in use today, validated against [default: the --profile itself when
    /// calibrating; no validation with --no-calibrate].
    #[arg(long, value_name = "PROFILE")]
    incumbent: Option<String>,
    /// Report on the profile as it is (it must have a [calibration] block).
    #[arg(long)]
    no_calibrate: bool,
    /// Output folder [default: reports/report-<profile>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Cohort keys, crossed [default: the --segment columns, else tenure when the data has
    /// customer_since].
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    by: Vec<String>,
    /// Calibrate one profile per value of this segment column, shrunk toward the pooled one,
    /// and report on the profile set (written beside the pooled profile as profiles.toml).
    #[arg(long, value_name = "COLUMN", conflicts_with_all = ["learn_transforms", "no_calibrate"])]
    calibrate_by: Option<String>,
    /// With --calibrate-by: segments with fewer churn events per weight keep the pooled
    /// profile.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10.0,
        requires = "calibrate_by"
    )]
    min_segment_epv: f64,
    /// Accounts listed to act on first.
    #[arg(long, value_name = "N", default_value_t = 20)]
    top: usize,
    /// Seed of folds and bootstraps.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Bootstrap resamples (calibration intervals and the paired validation deltas).
    #[arg(long, value_name = "B", default_value_t = 200)]
    bootstrap: usize,
    /// Harrell optimism refits in the validation.
    #[arg(long, value_name = "B", default_value_t = 200)]
    optimism_bootstrap: usize,
    /// Fit despite audit errors or few events; replace an existing calibrated profile.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    learn: super::learn_args::LearnArgs,
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    if let Some(c) = &a.calibrate_by {
        if !a.data.segment.contains(c) {
            a.data.segment.push(c.clone());
        }
    }
    let segments = a
        .calibrate_by
        .as_deref()
        .map(|c| SegmentParams::new(c).min_events_per_weight(a.min_segment_epv));
    if let Some(s) = &segments {
        s.check()?;
    }
    let prior = profile::read_profile(&a.profile)?;
    let calibrating = !a.no_calibrate;
    if !calibrating && prior.calibration.is_none() {
        bail!(
            "'{}' has no [calibration] block: drop --no-calibrate to calibrate it first",
            a.profile
        );
    }
    let incumbent = match &a.incumbent {
        Some(p) => Some(profile::read_profile(p)?),
        None if calibrating => Some(prior.clone()),
        None => None,
    };
    let profile_file = format!("{}-calibrated.toml", safe_file_name(&prior.name));
    // With the folder given, the profile is known to be writable before the data is read.
    if let (true, Some(dir)) = (calibrating, &a.out) {
        super::check_output(&dir.join(&profile_file), a.force)?;
    }
    let (mut keys, data_args) = super::cohorts::keys_and_data(&a.by, &a.data);
    let profiles: Vec<&Profile> = std::iter::once(&prior).chain(incumbent.iter()).collect();
    let request = data_args.request_for(&profiles, OutcomeNeed::Required)?;
    let learn = a.learn.params()?;
    let job = if learn.is_some() {
        churncal::data::memory::Job::FitLearned
    } else if segments.is_some() {
        churncal::data::memory::Job::FitSegments
    } else {
        churncal::data::memory::Job::Fit
    };
    let data = data_args.load_request(&request, job, ui)?;
    if keys.is_empty() {
        keys = data
            .segments
            .iter()
            .take(1)
            .map(|s| CohortKey::Segment(s.name.clone()))
            .collect();
        if keys.is_empty() && data.customer_since.is_some() {
            keys.push(CohortKey::parse("tenure"));
        }
    }
    let out_dir = a
        .out
        .clone()
        .unwrap_or_else(|| report_dir("report", &prior.name, &data));
    let profile_path = out_dir.join(&profile_file);
    // The default folder is named after the data's last date: checked once it is known,
    // still before the pack runs.
    if calibrating && a.out.is_none() {
        super::check_output(&profile_path, a.force)?;
    }
    // The set's files, known once the segment's values are.
    let set_files: Vec<(String, String)> = match &segments {
        None => Vec::new(),
        Some(s) => {
            let seg = data
                .segments
                .iter()
                .find(|g| g.name == s.column())
                .context("the segment column was loaded")?;
            seg.labels
                .iter()
                .map(|l| (l.clone(), report::segments::segment_file(&profile_file, l)))
                .collect()
        }
    };
    for (_, f) in &set_files {
        super::check_output(&out_dir.join(f), a.force)?;
    }
    if segments.is_some() {
        super::check_output(&out_dir.join("profiles.toml"), a.force)?;
    }
    let mut params = PackParams::new(super::audit::as_of(&data_args)?);
    params.calibrate = calibrating.then(|| {
        CalibrateParams::default()
            .seed(a.seed)
            .bootstrap(a.bootstrap)
            .force(a.force)
            .progress(super::calibrate::progress(ui))
    });
    params.cohorts.keys = keys;
    params.cohorts.as_of = data_args.as_of_day()?;
    params.validate = ValidateParams {
        bootstrap: a.bootstrap,
        optimism_bootstrap: a.optimism_bootstrap,
        seed: a.seed,
        segments: data_args.segments(),
        ..ValidateParams::default()
    };
    params.learn = learn;
    if params.learn.is_some() && !calibrating {
        anyhow::bail!("--learn-transforms learns them for a calibration; drop --no-calibrate");
    }
    params.segments = segments;
    params.top = a.top;
    params.force = a.force;
    if calibrating {
        ui.note(format!("calibrating '{}'", prior.name));
    }
    // The calibration and the gate each read a copy of their own (see PackParams::run_reading).
    let read = || churncal::data::load(&data_args.data, &request);
    let (mut pack, data) = match params.run_reading(data, &read, &prior, incumbent.as_ref()) {
        Err(PackError::Audit(errors)) => return Err(super::audit::blocking_error(&errors)),
        other => other?,
    };
    super::audit::note_counts(&pack.audit, true, ui);
    if let Some(c) = pack.calibration.as_mut() {
        super::calibrate::provenance(c, &a.profile, &a.data.data, &data)?;
    }
    // The set: the segments' own profiles (with their provenance) and the index.
    let mut set_writes: Vec<(PathBuf, String)> = Vec::new();
    if let Some(s) = pack.segmented.as_mut() {
        let mut index = SetIndex {
            profile_set: SET_FORMAT_VERSION,
            segment: s.column.clone(),
            default: profile_file.clone(),
            profiles: Default::default(),
        };
        let seg = data
            .segments
            .iter()
            .find(|g| g.name == s.column)
            .context("the segment column was loaded")?;
        for g in s.segments.iter_mut() {
            let file = match g.own.as_mut() {
                Some(c) => {
                    let code = seg.labels.iter().position(|l| *l == g.label);
                    let rows: Vec<usize> = (0..data.rows)
                        .filter(|&i| Some(seg.codes[i] as usize) == code)
                        .collect();
                    super::calibrate::provenance(
                        c,
                        &a.profile,
                        &a.data.data,
                        &data.select_rows_without_metrics(&rows),
                    )?;
                    let f = report::segments::segment_file(&profile_file, &g.label);
                    set_writes.push((out_dir.join(&f), io::to_toml(&c.profile)));
                    f
                }
                None => profile_file.clone(),
            };
            index.profiles.insert(g.label.clone(), file);
        }
        set_writes.push((out_dir.join("profiles.toml"), index.to_toml()));
    }
    let files = report::pack::render(
        &pack,
        &report::pack::PackContext::new(&a.data.data, &data, &profile_file),
    );
    // Write: the profile (never replaced without --force), then the pack.
    if let Some(c) = &pack.calibration {
        output::write_atomic(&profile_path, io::to_toml(&c.profile).as_bytes(), a.force)
            .with_context(|| format!("writing {}", profile_path.display()))?;
    }
    for (p, body) in &set_writes {
        output::write_atomic(p, body.as_bytes(), a.force)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    super::write_reports(&out_dir, &refs)?;
    ui.note(format!("wrote {}", out_dir.join("index.html").display()));
    Ok(ExitCode::SUCCESS)
}
