//! `churncal calibrate`: fit a profile's weights against churn and write the calibrated
//! profile, a summary (Markdown and JSON) and a weights chart.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::calibrate_segments as segments;
use super::learn_args::LearnArgs;
use churncal::calibrate::{transforms, CalibrateParams, Progress, SegmentParams, Stage};
use churncal::data::{parse, OutcomeNeed, SAMPLE_CSV, SAMPLE_PATH};
use churncal::output;
use churncal::profile::{self, io, CalibrationData};
use churncal::report::{calibration as summary, chart, learned as learned_report};
use churncal::score::SubScores;

use super::{Input, Ui};

/// Arguments of `churncal calibrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Output folder [default: reports/<profile>-<last snapshot date>].
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Cross-validation folds, grouped by account.
    #[arg(long, value_name = "K", default_value_t = 5)]
    folds: usize,
    /// Bootstrap resamples of accounts for the weight intervals (0 skips them).
    #[arg(short = 'B', long, value_name = "B", default_value_t = 200)]
    bootstrap: usize,
    /// Refit every bootstrap resample to convergence instead of one Newton step from the
    /// full fit with the resample's gradient (slower; the intervals agree within their
    /// Monte Carlo error).
    #[arg(long)]
    full_bootstrap: bool,
    /// Seed for the folds and the bootstrap; the same seed gives the same bytes.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Shrinkage λ toward the prior: one value fixes it ("inf" keeps the prior's weights,
    /// 0 is pure maximum likelihood); a comma list is searched [default: a grid from inf to 0].
    #[arg(long, value_name = "L[,L...]", value_delimiter = ',')]
    lambda: Vec<String>,
    /// Fit on a case-control sample for data too large to fit whole: every churned snapshot
    /// and this share of the retained ones, with the intercept corrected by ln RATE.
    #[arg(long, value_name = "RATE")]
    sample_controls: Option<f64>,
    /// First date of the out-of-time holdout [default: the last 25 % of snapshot dates].
    #[arg(long, value_name = "YYYY-MM-DD")]
    holdout_from: Option<String>,
    /// Fill lo/hi (5th–95th percentiles) and percentile breaks from the data, and check each
    /// metric's direction against churn.
    #[arg(long, conflicts_with = "learn_transforms")]
    fit_transforms: bool,
    #[command(flatten)]
    learn: LearnArgs,
    /// Weight each snapshot by this revenue column (e.g. arr): the fit, its cross-validation,
    /// holdout, bootstrap and tier table count revenue rather than snapshots.
    #[arg(long, value_name = "COL")]
    weight_col: Option<String>,
    /// Calibrate one profile per value of this segment column, each shrunk toward the
    /// pooled calibrated profile (partial pooling), and write them as a profile set.
    #[arg(long, value_name = "COLUMN", conflicts_with = "learn_transforms")]
    by: Option<String>,
    /// With --by: segments with fewer churn events per weight keep the pooled profile.
    #[arg(long, value_name = "N", default_value_t = 10.0, requires = "by")]
    min_segment_epv: f64,
    /// Fit below 5 events per weight, and replace an existing calibrated profile.
    #[arg(long)]
    force: bool,
    /// Iteration cap of the solver per fit.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_iters: u64,
}

fn sha256_of(path: &str) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    if path == SAMPLE_PATH && !Path::new(path).exists() {
        h.update(SAMPLE_CSV);
    } else if path == "-" {
        return Ok(String::new());
    } else if Path::new(path).exists() {
        let mut f = std::fs::File::open(path).with_context(|| format!("reading {path}"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else {
        // A preset name: hash its source.
        h.update(profile::presets::source(path).unwrap_or("").as_bytes());
    }
    Ok(format!("{:x}", h.finalize()))
}

pub(super) fn progress(ui: &Ui) -> Option<Progress> {
    if ui.quiet {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let bar = Arc::new(bar);
    Some(Arc::new(move |stage, done, total| {
        let msg = match stage {
            Stage::LambdaSearch => "λ search",
            Stage::Bootstrap => "bootstrap",
        };
        if bar.message() != msg {
            bar.reset();
            bar.set_message(msg);
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done == total {
            bar.finish_and_clear();
        }
    }))
}

fn parse_lambdas(v: &[String]) -> anyhow::Result<Option<Vec<f64>>> {
    if v.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for s in v {
        let t = s.trim();
        let l = if t.eq_ignore_ascii_case("inf") || t == "∞" {
            f64::INFINITY
        } else {
            match t.parse::<f64>() {
                Ok(x) if x >= 0.0 && x.is_finite() => x,
                _ => bail!("--lambda '{t}': expected a number >= 0 or inf"),
            }
        };
        out.push(l);
    }
    Ok(Some(out))
}

/// Today (UTC), or the date of `SOURCE_DATE_EPOCH` for reproducible outputs.
fn created_date() -> String {
    chrono::DateTime::from_timestamp(super::now_timestamp(), 0)
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d")
        .to_string()
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let stage = tracing::info_span!("load").entered();
    if let Some(by) = &a.by {
        if !a.input.data.segment.contains(by) {
            a.input.data.segment.push(by.clone());
        }
    }
    if let Some(col) = &a.weight_col {
        match &a.input.data.arr_col {
            Some(arr) if arr != col => bail!(
                "--weight-col '{col}' and --arr-col '{arr}' name different revenue columns; give one"
            ),
            _ => a.input.data.arr_col = Some(col.clone()),
        }
    }
    let prior = profile::read_profile(&a.input.profile)?;
    let profile_name = format!("{}-calibrated.toml", super::safe_file_name(&prior.name));
    // With the folder given, the profile is known to be writable before the data is read.
    if let Some(dir) = &a.out {
        super::check_output(&dir.join(&profile_name), a.force)?;
    }
    let lambdas = parse_lambdas(&a.lambda)?;
    let holdout_from = match &a.holdout_from {
        None => None,
        Some(s) => match parse::date(s) {
            Ok(Some(d)) => Some(d),
            _ => bail!("--holdout-from '{s}' is not a date as YYYY-MM-DD"),
        },
    };
    let mut params = CalibrateParams::default()
        .folds(a.folds)
        .bootstrap(a.bootstrap)
        .seed(a.seed)
        .holdout_from(holdout_from)
        .force(a.force)
        .max_iters(a.max_iters)
        .sample_controls(a.sample_controls)
        .revenue_weighted(a.weight_col.is_some())
        .full_bootstrap(a.full_bootstrap)
        .progress(progress(ui));
    if let Some(l) = lambdas {
        params = params.lambdas(l);
    }
    params.check()?;
    let learn = a.learn.params()?;
    let by =
        a.by.as_deref()
            .map(|c| {
                let b = SegmentParams::new(c).min_events_per_weight(a.min_segment_epv);
                b.check().map(|_| b)
            })
            .transpose()?;

    let job = match (&learn, &by) {
        (Some(_), _) => churncal::data::memory::Job::FitLearned,
        (None, Some(_)) => churncal::data::memory::Job::FitSegments,
        (None, None) => churncal::data::memory::Job::Fit,
    };
    let data = a.input.data.load(&prior, OutcomeNeed::Required, job, ui)?;
    drop(stage);
    let stage = tracing::info_span!("audit").entered();
    super::audit::before_fit(&prior, &data, &a.input.data, a.force, false, ui)?;
    let (prior_fitted, transform_fits) = if a.fit_transforms {
        let (p, t) = transforms::fit_transforms(&prior, &data);
        p.check().context("the fitted transforms")?;
        (p, t)
    } else {
        (prior.clone(), Vec::new())
    };
    let dates = data
        .date_range()
        .map(|(f, l)| (parse::format_day(f), parse::format_day(l)));
    let out_dir = a.out.clone().unwrap_or_else(|| {
        let last = dates.as_ref().map_or("all".to_string(), |d| d.1.clone());
        PathBuf::from("reports").join(format!("{}-{last}", super::safe_file_name(&prior.name)))
    });
    let profile_path = out_dir.join(&profile_name);
    // The default folder is named after the data's last date: checked once it is known,
    // still before the fit.
    if a.out.is_none() {
        super::check_output(&profile_path, a.force)?;
    }
    drop(stage);
    if let Some(by) = by {
        let ctx = segments::Context {
            prior_arg: &a.input.profile,
            data_arg: &a.input.data.data,
            out_dir: &out_dir,
            profile_name: &profile_name,
            dates,
            transforms: transform_fits,
            force: a.force,
        };
        return segments::run(&params, &prior_fitted, data, &by, ctx, ui);
    }
    let stage = tracing::info_span!("sub-scores").entered();
    ui.note(format!(
        "calibrating '{}' on {}: {} snapshots, {} accounts, {} churn events{}",
        prior.name,
        data.source,
        data.rows,
        data.n_accounts,
        data.churned_rows().unwrap_or(0),
        if learn.is_some() {
            "; learning the transforms"
        } else {
            ""
        }
    ));
    let (data, mut result, learned) = if let Some(lp) = &learn {
        // The values stay: every fold and replicate learns its bins from them.
        drop(stage);
        let _stage = tracing::info_span!("fit").entered();
        let data = Arc::new(data);
        let lc = lp.calibrate(&params, &prior_fitted, Arc::clone(&data))?;
        (data, lc.calibration, Some((lc.learned, lc.comparison)))
    } else {
        // The metric values are not needed past the sub-scores: they become the sub-scores
        // in place, and the rest is freed before the fit.
        let mut data = data;
        let subs = SubScores::compute_consuming(&prior_fitted, &mut data)?;
        data.metrics = Vec::new();
        data.free_for_fit(a.weight_col.is_some());
        drop(stage);
        let _stage = tracing::info_span!("fit").entered();
        let r = params.fit(&prior_fitted, &data, subs)?;
        (Arc::new(data), r, None)
    };
    for w in &result.warnings {
        ui.warn(churncal::report::calibration::warning(w));
    }

    let stage = tracing::info_span!("write").entered();
    provenance(&mut result, &a.input.profile, &a.input.data.data, &data)?;
    result.profile.check().context("the calibrated profile")?;

    // Render everything, then write.
    let ctx = summary::SummaryContext {
        data: a.input.data.data.clone(),
        dates,
        profile_file: profile_name.clone(),
        transforms: transform_fits,
    };
    let toml = io::to_toml(&result.profile);
    let mut md = summary::markdown(&result, &ctx);
    let mut json = summary::json(&result, &ctx);
    // Learned transforms: their section, their JSON and a chart per learned metric.
    let mut charts: Vec<(PathBuf, String)> = Vec::new();
    if let Some((l, comparison)) = &learned {
        let names: Vec<Option<String>> = l
            .metrics
            .iter()
            .map(|m| {
                (m.kind != "kept")
                    .then(|| format!("transforms/{}.svg", super::safe_file_name(&m.metric)))
            })
            .collect();
        for (m, name) in l.metrics.iter().zip(&names) {
            if let Some(n) = name {
                charts.push((out_dir.join(n), learned_report::bins_svg(m)));
            }
        }
        md.push('\n');
        md.push_str(&learned_report::markdown(comparison, &l.metrics, &names));
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("our own JSON");
        v["learned"] = serde_json::json!({
            "comparison": comparison,
            "metrics": l.metrics,
        });
        json = serde_json::to_string_pretty(&v).expect("JSON value serialises") + "\n";
        for m in l.metrics.iter().filter(|m| m.conflict) {
            ui.warn(format!(
                "'{}': the data contradicts its declared direction{}",
                m.metric,
                if m.flipped {
                    "; flipped (--flip-directions)"
                } else {
                    "; kept (--flip-directions flips it)"
                }
            ));
        }
    }
    let svg = chart::weights_svg(
        &format!("Weights of '{}': prior vs calibrated", prior.name),
        &result.metrics,
    );
    output::write_atomic(&profile_path, toml.as_bytes(), a.force)
        .with_context(|| format!("writing {}", profile_path.display()))?;
    for (name, body) in [
        ("summary.md", md.as_str()),
        ("summary.json", json.as_str()),
        ("weights.svg", svg.as_str()),
    ] {
        let p = out_dir.join(name);
        output::write_atomic(&p, body.as_bytes(), true)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    for (p, body) in &charts {
        output::write_atomic(p, body.as_bytes(), true)
            .with_context(|| format!("writing {}", p.display()))?;
    }

    drop(stage);
    let cv = &result.cross_validation;
    ui.note(format!(
        "cross-validated AUC: prior {:.3}, calibrated {:.3}, unconstrained {:.3}; log-loss: prior {:.4}, calibrated {:.4}",
        cv.prior.auc, cv.calibrated.auc, cv.unconstrained.auc, cv.prior.log_loss, cv.calibrated.log_loss
    ));
    if let Some((_, comparison)) = &learned {
        let figures: Vec<String> = comparison
            .models
            .iter()
            .map(|m| format!("{} {:.3}", m.model, m.auc))
            .collect();
        ui.note(format!("out-of-fold AUC: {}", figures.join("; ")));
        ui.note(learned_report::verdict(comparison));
    }
    if let Some(h) = &result.holdout {
        ui.note(format!(
            "out-of-time AUC: prior {:.3}, calibrated {:.3}, unconstrained {:.3}",
            h.prior.auc, h.calibrated.auc, h.unconstrained.auc
        ));
    }
    let weights: Vec<String> = result
        .metrics
        .iter()
        .map(|m| format!("{} {}→{}", m.name, m.prior_weight.round(), m.weight_int))
        .collect();
    ui.note(format!("weights: {}", weights.join(", ")));
    ui.note(churncal::report::calibration::verdict(&result));
    ui.note(format!(
        "wrote {}/ ({profile_name}, summary.md, summary.json, weights.svg{})",
        out_dir.display(),
        if charts.is_empty() {
            String::new()
        } else {
            format!(", transforms/ with {} charts", charts.len())
        }
    ));
    Ok(ExitCode::SUCCESS)
}

/// Where a calibrated profile came from: the prior's and the data's SHA-256, the data's
/// rows, accounts, churned accounts and dates, the creation date.
pub(super) fn provenance(
    result: &mut churncal::calibrate::Calibration,
    profile_arg: &str,
    data_path: &str,
    data: &churncal::data::Snapshots,
) -> anyhow::Result<()> {
    let dates = data
        .date_range()
        .map(|(f, l)| (parse::format_day(f), parse::format_day(l)));
    let churned_accounts = {
        let o = data.outcome.as_ref().expect("required");
        let mut acc: Vec<u32> = (0..data.rows)
            .filter(|&i| o[i] == 1)
            .map(|i| data.account[i])
            .collect();
        acc.sort_unstable();
        acc.dedup();
        acc.len() as u64
    };
    if let Some(c) = result.profile.calibration.as_mut() {
        c.prior_sha256 = Some(sha256_of(profile_arg)?);
        c.data = Some(CalibrationData {
            path: data_path.to_string(),
            sha256: sha256_of(data_path)?,
            rows: result.rows as u64,
            accounts: result.accounts as u64,
            churned: churned_accounts,
            first: dates.as_ref().map(|d| d.0.clone()),
            last: dates.as_ref().map(|d| d.1.clone()),
        });
        c.created = Some(created_date());
    }
    Ok(())
}
