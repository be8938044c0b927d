//! `churncal calibrate --by SEGMENT`: the pooled calibration and one profile per segment
//! value shrunk toward it, written as a profile set with its summary and charts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use churncal::calibrate::{transforms::TransformFit, CalibrateParams, SegmentParams};
use churncal::data::Snapshots;
use churncal::output;
use churncal::profile::set::{SetIndex, SET_FORMAT_VERSION};
use churncal::profile::{io, Profile};
use churncal::report::{calibration as summary, chart, segments as report};
use churncal::score::SubScores;

use super::Ui;

/// What the plain calibration already worked out.
pub(super) struct Context<'a> {
    pub prior_arg: &'a str,
    pub data_arg: &'a str,
    pub out_dir: &'a Path,
    pub profile_name: &'a str,
    pub dates: Option<(String, String)>,
    pub transforms: Vec<TransformFit>,
    pub force: bool,
}

pub(super) fn run(
    params: &CalibrateParams,
    prior: &Profile,
    mut data: Snapshots,
    by: &SegmentParams,
    ctx: Context,
    ui: &Ui,
) -> anyhow::Result<ExitCode> {
    let seg = data
        .segments
        .iter()
        .find(|s| s.name == by.column())
        .context("the segment column was loaded")?;
    // Every file a run could write is checked before the fit.
    let files: Vec<String> = seg
        .labels
        .iter()
        .map(|l| report::segment_file(ctx.profile_name, l))
        .collect();
    {
        let mut seen = std::collections::HashSet::new();
        for (l, f) in seg.labels.iter().zip(&files) {
            anyhow::ensure!(
                seen.insert(f.clone()) && f != ctx.profile_name && f != "profiles.toml",
                "segment value '{l}' of '{}' would be written as {f}, the name of another file of this run; rename the value",
                by.column()
            );
        }
    }
    for f in files.iter().map(String::as_str).chain(["profiles.toml"]) {
        super::check_output(&ctx.out_dir.join(f), ctx.force)?;
    }
    ui.note(format!(
        "calibrating '{}' on {} by '{}' ({} values): {} snapshots, {} accounts, {} churn events",
        prior.name,
        data.source,
        by.column(),
        seg.labels.len(),
        data.rows,
        data.n_accounts,
        data.churned_rows().unwrap_or(0)
    ));
    let stage = tracing::info_span!("sub-scores").entered();
    let subs = SubScores::compute_consuming(prior, &mut data)?;
    data.metrics = Vec::new();
    drop(stage);
    let stage = tracing::info_span!("fit").entered();
    let mut result = params.fit_segments(prior, &data, subs, by)?;
    drop(stage);
    let _stage = tracing::info_span!("write").entered();
    for w in &result.pooled.warnings {
        ui.warn(summary::warning(w));
    }
    super::calibrate::provenance(&mut result.pooled, ctx.prior_arg, ctx.data_arg, &data)?;
    result
        .pooled
        .profile
        .check()
        .context("the pooled profile")?;
    let seg = data
        .segments
        .iter()
        .find(|s| s.name == by.column())
        .expect("loaded");
    let mut own_files: Vec<Option<String>> = Vec::new();
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    let mut index = SetIndex {
        profile_set: SET_FORMAT_VERSION,
        segment: by.column().to_string(),
        default: ctx.profile_name.to_string(),
        profiles: Default::default(),
    };
    for g in result.segments.iter_mut() {
        let code = seg
            .labels
            .iter()
            .position(|l| *l == g.label)
            .expect("a label of the column");
        let file = match g.own.as_mut() {
            Some(c) => {
                let rows: Vec<usize> = (0..data.rows)
                    .filter(|&i| seg.codes[i] as usize == code)
                    .collect();
                super::calibrate::provenance(
                    c,
                    ctx.prior_arg,
                    ctx.data_arg,
                    &data.select_rows_without_metrics(&rows),
                )?;
                c.profile
                    .check()
                    .with_context(|| format!("the profile of '{}'", g.label))?;
                let f = files[code].clone();
                writes.push((ctx.out_dir.join(&f), io::to_toml(&c.profile)));
                own_files.push(Some(f.clone()));
                f
            }
            None => {
                own_files.push(None);
                ctx.profile_name.to_string()
            }
        };
        index.profiles.insert(g.label.clone(), file);
    }
    let sctx = summary::SummaryContext {
        data: ctx.data_arg.to_string(),
        dates: ctx.dates.clone(),
        profile_file: ctx.profile_name.to_string(),
        transforms: ctx.transforms,
    };
    let mut md = report::markdown(
        &result,
        &report::SegmentFiles {
            pooled: ctx.profile_name,
            index: "profiles.toml",
            own: &own_files,
        },
    );
    // The pooled calibration's own summary, one heading level down.
    md.push_str("\n# The pooled calibration\n\n");
    for line in summary::markdown(&result.pooled, &sctx).lines().skip(1) {
        if line.starts_with('#') {
            md.push('#');
        }
        md.push_str(line);
        md.push('\n');
    }
    let mut json: serde_json::Value =
        serde_json::from_str(&summary::json(&result.pooled, &sctx)).expect("our own JSON");
    json["segments"] = report::json(&result);
    let json = serde_json::to_string_pretty(&json).expect("JSON value serialises") + "\n";
    writes.push((
        ctx.out_dir.join(ctx.profile_name),
        io::to_toml(&result.pooled.profile),
    ));
    writes.push((ctx.out_dir.join("profiles.toml"), index.to_toml()));
    writes.push((ctx.out_dir.join("summary.md"), md));
    writes.push((ctx.out_dir.join("summary.json"), json));
    writes.push((
        ctx.out_dir.join("weights.svg"),
        chart::weights_svg(
            &format!("Weights of '{}': prior vs pooled calibrated", prior.name),
            &result.pooled.metrics,
        ),
    ));
    writes.push((
        ctx.out_dir.join("segments.svg"),
        report::weights_svg(&result),
    ));
    for (p, body) in &writes {
        let profile = p.extension().is_some_and(|e| e == "toml");
        output::write_atomic(p, body.as_bytes(), !profile || ctx.force)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let o = &result.overall;
    ui.note(format!(
        "out-of-fold log-loss / AUC: pooled {:.4} / {:.3}, pooled recalibrated {:.4} / {:.3}, segmented {:.4} / {:.3}",
        o.pooled.log_loss,
        o.pooled.auc,
        o.recalibrated.log_loss,
        o.recalibrated.auc,
        o.segmented.log_loss,
        o.segmented.auc
    ));
    for g in &result.segments {
        ui.note(format!(
            "'{}': {} snapshots, {} churn events, {}",
            g.label,
            g.rows,
            g.events,
            match &g.own {
                Some(c) => format!(
                    "own profile (λ = {}){}",
                    summary::lambda_text(c.lambda),
                    if g.differing.is_empty() {
                        String::new()
                    } else {
                        format!("; differs from pooled in {}", g.differing.join(", "))
                    }
                ),
                None => "keeps the pooled profile".into(),
            }
        ));
    }
    ui.note(report::verdict(&result));
    let n = 1 + own_files.iter().flatten().count();
    ui.note(format!(
        "wrote {}/ (profiles.toml, {n} profile{}, summary.md, summary.json, weights.svg, segments.svg)",
        ctx.out_dir.display(),
        if n == 1 { "" } else { "s" }
    ));
    Ok(ExitCode::SUCCESS)
}
