//! `churncal report`: the quarterly pack. Calibrates the profile (unless it is calibrated
//! and `--no-calibrate` is given), then tiers, cohorts, validation against the incumbent
//! and the data-quality audit, written as a self-contained `index.html`, `report.md`,
//! `report.json` and the SVG charts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use churncal::analysis::cohorts::{CohortKey, DEFAULT_MIN_SIZE};
use churncal::analysis::tiers::{self, DEFAULT_BANDS};
use churncal::analysis::{unit_rows, Unit};
use churncal::calibrate::CalibrateParams;
use churncal::data::OutcomeNeed;
use churncal::output;
use churncal::profile::{self, io, presets::DEFAULT_PRESET, Profile};
use churncal::report::calibration::{self as summary, md_cell};
use churncal::report::pack::{self, Section};
use churncal::report::pack_charts::{self, Cell};
use churncal::report::{analysis as arep, audit as aurep, chart, churn_charts, validation as vrep};
use churncal::score::{self, SubScores};
use churncal::validate::{self, Gate, ValidateParams};

use super::{report_context, report_dir, safe_file_name, DataArgs, Ui};

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
}

pub fn run(a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
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
    let (mut keys, data_args) = super::cohorts::keys_and_data(&a.by, &a.data);
    let profiles: Vec<&Profile> = std::iter::once(&prior).chain(incumbent.iter()).collect();
    let data = data_args.load_for(
        &profiles,
        OutcomeNeed::Required,
        churncal::data::memory::Job::Fit,
        ui,
    )?;
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
    let profile_file = format!("{}-calibrated.toml", safe_file_name(&prior.name));
    let profile_path = out_dir.join(&profile_file);
    if calibrating && profile_path.exists() && !a.force {
        bail!(
            "{} exists; pass --force to replace it (or --out another folder)",
            profile_path.display()
        );
    }

    // 1. The audit (errors stop a fit without --force).
    let audit = super::audit::before_fit(&prior, &data, &data_args, a.force, true, ui)?;

    // 2. Calibration.
    let calibration = if calibrating {
        let subs = SubScores::compute(&prior, &data)?;
        let params = CalibrateParams::default()
            .seed(a.seed)
            .bootstrap(a.bootstrap)
            .force(a.force)
            .progress(super::calibrate::progress(ui));
        ui.note(format!("calibrating '{}'", prior.name));
        let mut result = params.fit(&prior, &data, subs)?;
        super::calibrate::provenance(&mut result, &a.profile, &a.data.data, &data)?;
        result
            .profile
            .validate()
            .context("the calibrated profile")?;
        Some(result)
    } else {
        None
    };
    let candidate = calibration
        .as_ref()
        .map_or_else(|| prior.clone(), |c| c.profile.clone());

    // 3. Tiers and 4. cohorts of the candidate.
    let scored = score::score(&candidate, &data)?;
    let tier_rep = tiers::tier_report(&data, &scored, Unit::Account, &DEFAULT_BANDS);
    let cohort_rep = super::cohorts::build(
        &data,
        &candidate,
        &scored,
        &data_args,
        &super::cohorts::Options {
            unit: Unit::Account,
            keys,
            min_size: DEFAULT_MIN_SIZE,
            bins: 10,
            zero_bin: false,
            retention: None,
            reference: None,
        },
    )?;

    // 5. Validation against the incumbent.
    let segments: Vec<String> = data_args
        .segment
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    let validation = match &incumbent {
        None => None,
        Some(inc) => {
            ui.note(format!(
                "validating '{}' against '{}'",
                candidate.name, inc.name
            ));
            let params = ValidateParams {
                bootstrap: a.bootstrap,
                optimism_bootstrap: a.optimism_bootstrap,
                seed: a.seed,
                ..ValidateParams::default()
            };
            Some(validate::validate(
                &candidate,
                inc,
                std::borrow::Cow::Borrowed(&data),
                &segments,
                &params,
                &Gate::default(),
            )?)
        }
    };

    // 6. Accounts to act on first.
    let act = pack::act_first(&data, &scored, a.top);

    // Render.
    let ctx = report_context(&a.data.data, &candidate, &data);
    let dates = ctx.dates.clone();
    let title = format!(
        "Customer health report: '{}'{}",
        candidate.name,
        dates
            .as_ref()
            .map_or(String::new(), |d| format!(", {} to {}", d.0, d.1))
    );
    let sub = format!(
        "'{}' on {}: {} accounts' renewal decisions, {} churned",
        candidate.name, ctx.data, tier_rep.units, tier_rep.churned
    );
    let mut sections = Vec::new();
    let mut json_parts = serde_json::Map::new();

    if let Some(c) = &calibration {
        let sctx = summary::SummaryContext {
            data: a.data.data.clone(),
            dates: dates.clone(),
            profile_file: profile_file.clone(),
            transforms: Vec::new(),
        };
        sections.push(Section {
            id: "weights",
            title: "What changed in the weights".into(),
            markdown: pack::demote(&summary::markdown(c, &sctx), 3),
            charts: vec![(
                "weights.svg".into(),
                chart::weights_svg(
                    &format!("Weights of '{}': prior vs calibrated", prior.name),
                    &c.metrics,
                ),
            )],
        });
        json_parts.insert("calibration".into(), parse_json(&summary::json(c, &sctx))?);
    }

    let (churned_scores, retained_scores) = {
        let o = data.outcome.as_ref().expect("required");
        let (mut c, mut r) = (Vec::new(), Vec::new());
        for i in unit_rows(&data, Unit::Account) {
            let s = scored.score[i as usize];
            if s.is_finite() {
                if o[i as usize] == 1 {
                    c.push(s);
                } else {
                    r.push(s);
                }
            }
        }
        (c, r)
    };
    sections.push(Section {
        id: "tiers",
        title: "Churn by health tier".into(),
        markdown: pack::demote(&arep::tiers_markdown(&tier_rep, &ctx, None), 3),
        charts: vec![
            (
                "tiers.svg".into(),
                churn_charts::churn_bars_svg(
                    "Churn across health tiers",
                    &sub,
                    &tier_rep.tiers,
                    tier_rep.overall_rate,
                ),
            ),
            (
                "bands.svg".into(),
                churn_charts::churn_bars_svg(
                    "Churn across score bands",
                    &sub,
                    &tier_rep.bands,
                    tier_rep.overall_rate,
                ),
            ),
            (
                "score-distribution.svg".into(),
                pack_charts::score_distribution_svg(
                    "Scores of churned and retained accounts",
                    &sub,
                    &churned_scores,
                    &retained_scores,
                ),
            ),
        ],
    });
    // A trend needs dates: single-snapshot data (no date column) gets no trend chart.
    if data.date.is_some() {
        let tiers_section = sections.last_mut().expect("just pushed");
        tiers_section.charts.push((
            "score-trend.svg".into(),
            pack_charts::score_trend_svg(
                "Health score and churn per quarter",
                &format!("'{}' on {}, every snapshot", candidate.name, ctx.data),
                &tier_rep.trend,
            ),
        ));
    }
    json_parts.insert(
        "tiers".into(),
        parse_json(&arep::tiers_json(&tier_rep, &ctx, None))?,
    );

    let mut cohort_charts = Vec::new();
    if let Some(t) = &cohort_rep.cohorts {
        cohort_charts.push((
            "cohort-tiers.svg".to_string(),
            cohort_heatmap(t, &scored.tier_names),
        ));
    }
    if !cohort_rep.metric_cohorts.is_empty() {
        cohort_charts.push((
            "metric-cohorts.svg".into(),
            churn_charts::metric_cohorts_svg(
                &format!("Churn by metric decile: '{}'", candidate.name),
                &cohort_rep.metric_cohorts,
                cohort_rep.overall_rate,
            ),
        ));
    }
    if let Some(r) = &cohort_rep.retention {
        cohort_charts.push((
            "retention.svg".into(),
            churn_charts::retention_svg(&format!("Retention by {}", r.by), r),
        ));
    }
    sections.push(Section {
        id: "cohorts",
        title: "Which segments churn most".into(),
        markdown: pack::demote(&arep::cohorts_markdown(&cohort_rep, &ctx), 3),
        charts: cohort_charts,
    });
    json_parts.insert(
        "cohorts".into(),
        parse_json(&arep::cohorts_json(&cohort_rep, &ctx))?,
    );

    if let Some(v) = &validation {
        let mut vctx = ctx.clone();
        vctx.profile = format!("{} vs {}", v.candidate.name, v.incumbent.name);
        let migration = migration_heatmap(v);
        sections.push(Section {
            id: "validation",
            title: "Does the new profile pass the gate".into(),
            markdown: pack::demote(&vrep::markdown(v, &vctx), 3),
            charts: vec![
                ("roc.svg".into(), vrep::roc_svg(v)),
                (
                    "gains.svg".into(),
                    pack_charts::gains_svg(
                        "Cumulative gains: churners caught by flagging the riskiest",
                        &format!("{} validation rows ({})", v.validation_rows, v.scheme),
                        &v.candidate,
                        &v.incumbent,
                    ),
                ),
                ("reliability.svg".into(), vrep::reliability_svg(v)),
                ("migration.svg".into(), migration),
            ],
        });
        json_parts.insert("validation".into(), parse_json(&vrep::json(v, &vctx))?);
    }

    sections.push(Section {
        id: "act-first",
        title: "Accounts to act on first".into(),
        markdown: format!(
            "Identify → ideate → intervene: the {} riskiest accounts in the lowest tiers at the last snapshot date, with the metrics pulling their score down (points of 100 they cost). Start the conversation there. P(churn) is the calibrated profile's probability for one snapshot's outcome (the model is fitted on every snapshot), so it reads lower than the tiers' churn per renewal decision.\n\n{}",
            act.len(),
            pack::act_first_markdown(&act)
        ),
        charts: Vec::new(),
    });
    json_parts.insert("act_first".into(), serde_json::to_value(&act)?);

    sections.push(Section {
        id: "audit",
        title: "Data quality".into(),
        markdown: pack::demote(&aurep::markdown(&audit), 3),
        charts: Vec::new(),
    });
    json_parts.insert("audit".into(), parse_json(&aurep::json(&audit))?);

    let summary_md = executive_summary(
        calibration.as_ref(),
        validation.as_ref(),
        &tier_rep,
        &cohort_rep,
        &act,
        &audit,
    );
    let md = pack::markdown(&title, &summary_md, &sections);
    let html = pack::html_page(&title, &summary_md, &sections);
    let mut top = serde_json::Map::new();
    top.insert("title".into(), title.clone().into());
    top.insert("summary".into(), summary_md.clone().into());
    top.insert(
        "gate_passed".into(),
        validation.as_ref().map(|v| v.passed).into(),
    );
    top.extend(json_parts);
    let json = serde_json::to_string_pretty(&serde_json::Value::Object(top))? + "\n";

    // Write: the profile (never replaced without --force), then the pack.
    if let Some(c) = &calibration {
        output::write_atomic(&profile_path, io::to_toml(&c.profile).as_bytes(), a.force)
            .with_context(|| format!("writing {}", profile_path.display()))?;
    }
    let mut files: Vec<(String, String)> = vec![
        ("index.html".into(), html),
        ("report.md".into(), md),
        ("report.json".into(), json),
    ];
    for s in &sections {
        files.extend(s.charts.iter().cloned());
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    super::write_reports(&out_dir, &refs)?;
    ui.note(format!("wrote {}", out_dir.join("index.html").display()));
    Ok(ExitCode::SUCCESS)
}

fn parse_json(s: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(s)?)
}

/// Churn per cohort (rows, riskiest first, at most 20) × tier (columns).
fn cohort_heatmap(t: &churncal::analysis::cohorts::CohortTable, tiers: &[String]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &t.cohorts {
        if !rows.contains(&r.cohort) && rows.len() < 20 {
            rows.push(r.cohort.clone());
        }
    }
    let max = t
        .by_tier
        .iter()
        .filter_map(|r| r.churn.as_ref().map(|c| c.rate))
        .fold(0f64, f64::max);
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|cohort| {
            tiers
                .iter()
                .map(|tier| {
                    match t
                        .by_tier
                        .iter()
                        .find(|r| &r.cohort == cohort && r.tier.as_ref() == Some(tier))
                    {
                        Some(r) => match &r.churn {
                            Some(c) => Cell {
                                shade: (max > 0.0).then(|| c.rate / max),
                                label: format!("{:.1} % of {}", 100.0 * c.rate, r.accounts),
                            },
                            None => Cell {
                                shade: None,
                                label: format!("{} (too few)", r.accounts),
                            },
                        },
                        None => Cell {
                            shade: None,
                            label: "–".into(),
                        },
                    }
                })
                .collect()
        })
        .collect();
    let labels: Vec<String> = rows.iter().map(|c| c.join(" · ")).collect();
    pack_charts::heatmap_svg(
        "Churn by cohort and tier",
        &format!(
            "cohorts by {}, riskiest first; cells under {} accounts are not shown",
            t.by.join(" × "),
            t.min_size
        ),
        (&t.by.join(" · "), "health tier"),
        &labels,
        tiers,
        &cells,
        "cell: churn rate of the cohort's accounts in that tier, and how many accounts; darker is higher churn",
    )
}

/// Validation accounts by incumbent tier (rows) and candidate tier (columns).
fn migration_heatmap(v: &churncal::validate::Validation) -> String {
    let cells: Vec<Vec<Cell>> = v
        .migration
        .iter()
        .map(|row| {
            let total: usize = row.iter().sum();
            row.iter()
                .map(|&n| Cell {
                    shade: (total > 0).then(|| n as f64 / total as f64),
                    label: n.to_string(),
                })
                .collect()
        })
        .collect();
    pack_charts::heatmap_svg(
        "Tier migration: incumbent → candidate",
        &format!(
            "{} validation accounts, each at its last validation snapshot",
            v.validation_accounts
        ),
        (
            &format!("tier under '{}'", v.incumbent.name),
            &format!("tier under '{}'", v.candidate.name),
        ),
        &v.incumbent_tiers,
        &v.candidate_tiers,
        &cells,
        "cell: accounts moving from the row's tier to the column's; shade: share of the row",
    )
}

/// The summary a customer-success leader reads first, in plain words.
fn executive_summary(
    calibration: Option<&churncal::calibrate::Calibration>,
    validation: Option<&churncal::validate::Validation>,
    tiers: &tiers::TierReport,
    cohorts: &arep::CohortReport,
    act: &[pack::ActFirst],
    audit: &churncal::audit::Audit,
) -> String {
    let mut s = String::new();
    if let Some(c) = calibration {
        s.push_str(&format!("- **Weights.** {}", md_cell(&c.verdict)));
        let mut moves: Vec<_> = c
            .metrics
            .iter()
            .map(|m| (m.weight - m.prior_weight, m))
            .filter(|(d, _)| d.abs() >= 1.0)
            .collect();
        moves.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
        if !moves.is_empty() {
            let list: Vec<String> = moves
                .iter()
                .take(3)
                .map(|(_, m)| {
                    format!(
                        "{} {:.0} → {:.0}",
                        md_cell(&m.name),
                        m.prior_weight,
                        m.weight
                    )
                })
                .collect();
            s.push_str(&format!(" Largest moves: {}.", list.join("; ")));
        }
        s.push('\n');
    }
    if let Some(v) = validation {
        let failed: Vec<String> = v
            .checks
            .iter()
            .filter(|c| c.status == validate::Status::Fail)
            .map(|c| md_cell(&c.check))
            .collect();
        if v.passed {
            s.push_str(&format!(
                "- **Gate.** '{}' passes the pre-rollout gate against '{}' (AUC {:.3} vs {:.3} on {} validation rows).\n",
                md_cell(&v.candidate.name), md_cell(&v.incumbent.name), v.candidate.auc, v.incumbent.auc, v.validation_rows
            ));
        } else {
            s.push_str(&format!(
                "- **Gate.** '{}' does **not** pass the pre-rollout gate against '{}': {} failed. Keep the incumbent until that is fixed.\n",
                md_cell(&v.candidate.name),
                md_cell(&v.incumbent.name),
                failed.join(", ")
            ));
        }
    }
    if let (Some(first), Some(last)) = (tiers.tiers.first(), tiers.tiers.last()) {
        if first.count.units > 0 && last.count.units > 0 {
            s.push_str(&format!(
                "- **Tiers.** '{}' accounts churned at {:.1} % (95 % CI {:.1}–{:.1} %), '{}' at {:.1} % ({:.1}–{:.1} %); overall {:.1} % of {} renewal decisions.",
                md_cell(&last.label), 100.0 * last.count.rate, 100.0 * last.count.ci[0], 100.0 * last.count.ci[1],
                md_cell(&first.label), 100.0 * first.count.rate, 100.0 * first.count.ci[0], 100.0 * first.count.ci[1],
                100.0 * tiers.overall_rate, tiers.units
            ));
            if let Some(h) = arep::band_headline(tiers) {
                s.push_str(&format!(" {}", md_cell(&h)));
            }
            s.push('\n');
        }
    }
    if let Some(t) = &cohorts.cohorts {
        let shown: Vec<String> = t
            .cohorts
            .iter()
            .filter_map(|r| r.churn.as_ref().map(|c| (r, c)))
            .take(3)
            .map(|(r, c)| format!("{} {:.1} %", md_cell(&r.cohort.join(" · ")), 100.0 * c.rate))
            .collect();
        if !shown.is_empty() {
            s.push_str(&format!(
                "- **Segments.** Riskiest cohorts by {}: {}.\n",
                md_cell(&t.by.join(" × ")),
                shown.join("; ")
            ));
        }
    }
    if let Some(top) = act.first() {
        s.push_str(&format!(
            "- **Act first.** {} accounts in the lowest tiers at the last snapshot date are listed, riskiest first (top: {}, score {:.1}, {}). Identify the cause from the metrics pulling each score down, ideate the play, intervene.\n",
            act.len(),
            md_cell(&top.account),
            top.score,
            md_cell(&top.tier)
        ));
    }
    s.push_str(&format!(
        "- **Data quality.** The audit found {} errors and {} warnings.\n",
        audit.count(churncal::audit::Severity::Error),
        audit.count(churncal::audit::Severity::Warn)
    ));
    s
}
