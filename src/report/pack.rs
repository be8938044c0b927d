//! The quarterly pack in words and charts: an executive summary in plain words, then the
//! evidence (calibration, tiers, cohorts, validation, the accounts to act on first, the
//! audit) as one self-contained `index.html`, `report.md`, `report.json` and the SVG
//! charts. Pure: [`render`] gives the files' names and contents; writing them is the
//! caller's.

use super::analysis::{self, ReportContext};
use super::calibration::{self as summary, md_cell};
use super::html::{self, Section};
use super::{audit as aurep, chart, churn_charts, pack_charts, validate as vrep};
use crate::analysis::stage::CohortReport;
use crate::analysis::tiers::TierReport;
use crate::data::{parse, Snapshots};
use crate::pack::{ActFirst, Pack};

/// What the pack states beside its results.
#[derive(Debug, Clone)]
pub struct PackContext {
    /// The data as the reader knows it (its file).
    pub data: String,
    /// First and last snapshot dates.
    pub dates: Option<(String, String)>,
    /// The calibrated profile's file name, as written beside the pack.
    pub profile_file: String,
}

impl PackContext {
    /// The context of `data` known as `label`, with the calibrated profile in
    /// `profile_file`.
    pub fn new(label: &str, data: &Snapshots, profile_file: &str) -> Self {
        PackContext {
            data: label.to_string(),
            dates: data
                .date_range()
                .map(|(a, b)| (parse::format_day(a), parse::format_day(b))),
            profile_file: profile_file.to_string(),
        }
    }
}

/// The pack's files, `(name, contents)`: `index.html`, `report.md`, `report.json`, then
/// every chart.
pub fn render(pack: &Pack, pctx: &PackContext) -> Vec<(String, String)> {
    let candidate = pack.candidate();
    let ctx = ReportContext {
        data: pctx.data.clone(),
        dates: pctx.dates.clone(),
        profile: candidate.name.clone(),
        calibrated: candidate.calibration.is_some(),
    };
    let title = format!(
        "Customer health report: '{}'{}",
        candidate.name,
        ctx.dates
            .as_ref()
            .map_or(String::new(), |d| format!(", {} to {}", d.0, d.1))
    );
    let mut sections = Vec::new();
    let mut json_parts = serde_json::Map::new();
    if let Some(c) = &pack.calibration {
        let sctx = summary::SummaryContext {
            data: pctx.data.clone(),
            dates: pctx.dates.clone(),
            profile_file: pctx.profile_file.clone(),
            transforms: Vec::new(),
        };
        let mut markdown = html::demote(&summary::markdown(c, &sctx), 3);
        let mut charts = vec![(
            "weights.svg".into(),
            chart::weights_svg(
                &format!("Weights of '{}': prior vs calibrated", pack.prior.name),
                &c.metrics,
            ),
        )];
        let mut calibration_json = parse_json(&summary::json(c, &sctx));
        if let Some((l, comparison)) = &pack.learned {
            // The learned transforms' section; its charts follow the weights chart.
            let none: Vec<Option<String>> = l.metrics.iter().map(|_| None).collect();
            markdown.push('\n');
            markdown.push_str(&html::demote(
                &super::learned::markdown(comparison, &l.metrics, &none),
                3,
            ));
            for m in l.metrics.iter().filter(|m| m.kind != "kept") {
                charts.push((
                    format!("transform-{}.svg", crate::output::safe_file_name(&m.metric)),
                    super::learned::bins_svg(m),
                ));
            }
            calibration_json["learned"] = serde_json::json!({
                "comparison": comparison,
                "metrics": l.metrics,
            });
        }
        sections.push(Section {
            id: "weights",
            title: "What changed in the weights".into(),
            markdown,
            charts,
        });
        json_parts.insert("calibration".into(), calibration_json);
    }
    if let Some(s) = &pack.segmented {
        let own: Vec<Option<String>> = s
            .segments
            .iter()
            .map(|g| {
                g.own
                    .as_ref()
                    .map(|_| super::segments::segment_file(&pctx.profile_file, &g.label))
            })
            .collect();
        let files = super::segments::SegmentFiles {
            pooled: &pctx.profile_file,
            index: "profiles.toml",
            own: &own,
        };
        sections.push(Section {
            id: "segments",
            title: format!("Do the segments of '{}' need their own weights", s.column),
            markdown: html::demote(&super::segments::markdown(s, &files), 3)
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
                + "\n\nFrom here on the report scores each account with its segment's profile (the set above); the split of the last change into the new weights' part and the data's is left out (it takes one profile).\n",
            charts: vec![("segments.svg".into(), super::segments::weights_svg(s))],
        });
        json_parts.insert("segments".into(), super::segments::json(s));
    }
    sections.push(tiers_section(pack, &ctx));
    json_parts.insert(
        "tiers".into(),
        parse_json(&analysis::tiers_json(&pack.tiers, &ctx, None)),
    );
    sections.push(cohorts_section(pack, &ctx));
    json_parts.insert(
        "cohorts".into(),
        parse_json(&analysis::cohorts_json(&pack.cohorts, &ctx)),
    );
    if let Some(v) = &pack.validation {
        let mut vctx = ctx.clone();
        vctx.profile = format!("{} vs {}", v.candidate.name, v.incumbent.name);
        sections.push(Section {
            id: "validation",
            title: "Does the new profile pass the gate".into(),
            markdown: html::demote(&vrep::markdown(v, &vctx), 3),
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
                (
                    "migration.svg".into(),
                    pack_charts::migration_heatmap_svg(v),
                ),
            ],
        });
        json_parts.insert("validation".into(), parse_json(&vrep::json(v, &vctx)));
    }
    if let Some(ch) = &pack.changes {
        let ex = &ch.explanation;
        let name = |a: u32| {
            ch.names
                .iter()
                .find(|(i, _)| *i == a)
                .map_or_else(|| (a + 1).to_string(), |(_, n)| n.clone())
        };
        sections.push(Section {
            id: "changes",
            title: format!(
                "What changed since {}",
                crate::data::parse::format_day(ex.from)
            ),
            markdown: html::demote(
                &format!(
                    "{}{}{}",
                    super::explain::portfolio_md(ex, None),
                    super::explain::migration_md(ex),
                    super::explain::falls_md(ex, &name)
                ),
                3,
            ),
            charts: vec![("waterfall.svg".into(), super::explain::waterfall_svg(ex))],
        });
        json_parts.insert(
            "changes".into(),
            serde_json::json!({
                "from": crate::data::parse::format_day(ex.from),
                "to": crate::data::parse::format_day(ex.to),
                "accounts": ex.changes.len(),
                "mean_change": ex.mean_change,
                "by_metric": ex.metrics.iter().zip(&ex.mean_by_metric)
                    .map(|(m, v)| serde_json::json!({"metric": m, "mean_points": v}))
                    .collect::<Vec<_>>(),
                "tiers": ex.tiers,
                "migration": ex.migration,
            }),
        );
    }
    if let Some(r) = &pack.risk {
        let colors = candidate.tier_colors();
        sections.push(Section {
            id: "risk",
            title: format!("Revenue at risk on {}", r.at),
            markdown: html::demote(
                &super::risk::markdown(r, &pctx.data, &candidate.name),
                3,
            )
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
                + if pack.calibration.is_some() && r.checked {
                    "\n\nThe profile was calibrated on these snapshots too, so observed against expected here checks the fit, not a forecast: \
                     `churncal risk --at DATE` with a profile calibrated on the quarters before DATE checks the forecast.\n"
                } else {
                    "\n"
                },
            charts: vec![
                ("risk.svg".into(), super::risk::tiers_svg(r, &colors)),
                ("survival.svg".into(), super::risk::survival_svg(r, &colors)),
            ],
        });
        json_parts.insert("risk".into(), parse_json(&super::risk::json(r)));
    }
    let act = &pack.act_first;
    sections.push(Section {
        id: "act-first",
        title: "Accounts to act on first".into(),
        markdown: format!(
            "Identify → ideate → intervene: the {} riskiest accounts in the lowest tiers at the last snapshot date, with the metrics pulling their score down (points of 100 they cost). Start the conversation there. P(churn) is the calibrated profile's probability for one snapshot's outcome (the model is fitted on every snapshot), so it reads lower than the tiers' churn per renewal decision.\n\n{}",
            act.len(),
            act_first_markdown(act)
        ),
        charts: Vec::new(),
    });
    json_parts.insert(
        "act_first".into(),
        serde_json::to_value(act).expect("the list serialises"),
    );
    sections.push(Section {
        id: "audit",
        title: "Data quality".into(),
        markdown: html::demote(&aurep::markdown(&pack.audit), 3),
        charts: Vec::new(),
    });
    json_parts.insert("audit".into(), parse_json(&aurep::json(&pack.audit)));
    let summary_md = executive_summary(
        pack.calibration.as_ref(),
        pack.validation.as_ref(),
        &pack.tiers,
        &pack.cohorts,
        act,
        &pack.audit,
    );
    let md = html::markdown(&title, &summary_md, &sections);
    let page = html::html_page(&title, &summary_md, &sections);
    let mut top = serde_json::Map::new();
    top.insert("title".into(), title.clone().into());
    top.insert("summary".into(), summary_md.clone().into());
    top.insert(
        "gate_passed".into(),
        pack.validation.as_ref().map(|v| v.passed).into(),
    );
    top.extend(json_parts);
    let json = serde_json::to_string_pretty(&serde_json::Value::Object(top))
        .expect("JSON value serialises")
        + "\n";
    let mut files: Vec<(String, String)> = vec![
        ("index.html".into(), page),
        ("report.md".into(), md),
        ("report.json".into(), json),
    ];
    for s in sections {
        files.extend(s.charts);
    }
    files
}

/// A renderer's JSON text as a value, to nest in the pack's.
fn parse_json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("the renderers write valid JSON")
}

/// Churn by tier and band, the score distribution, and the trend when there are dates.
fn tiers_section(pack: &Pack, ctx: &ReportContext) -> Section {
    let t = &pack.tiers;
    let sub = format!(
        "'{}' on {}: {} accounts' renewal decisions, {} churned",
        ctx.profile, ctx.data, t.units, t.churned
    );
    let (churned, retained) = &pack.scores_by_outcome;
    let mut charts = vec![
        (
            "tiers.svg".into(),
            churn_charts::churn_bars_svg(
                "Churn across health tiers",
                &sub,
                &t.tiers,
                t.overall_rate,
            ),
        ),
        (
            "bands.svg".into(),
            churn_charts::churn_bars_svg(
                "Churn across score bands",
                &sub,
                &t.bands,
                t.overall_rate,
            ),
        ),
        (
            "score-distribution.svg".into(),
            pack_charts::score_distribution_svg(
                "Scores of churned and retained accounts",
                &sub,
                churned,
                retained,
            ),
        ),
    ];
    // A trend needs dates: single-snapshot data (no date column) gets no trend chart.
    if ctx.dates.is_some() {
        charts.push((
            "score-trend.svg".into(),
            pack_charts::score_trend_svg(
                "Health score and churn per quarter",
                &format!("'{}' on {}, every snapshot", ctx.profile, ctx.data),
                &t.trend,
            ),
        ));
    }
    Section {
        id: "tiers",
        title: "Churn by health tier".into(),
        markdown: html::demote(&analysis::tiers_markdown(t, ctx, None), 3),
        charts,
    }
}

/// Cohort × tier, metric deciles and retention.
fn cohorts_section(pack: &Pack, ctx: &ReportContext) -> Section {
    let c = &pack.cohorts;
    let mut charts = Vec::new();
    if let Some(t) = &c.cohorts {
        charts.push((
            "cohort-tiers.svg".to_string(),
            pack_charts::cohort_heatmap_svg(t, &pack.scored.tier_names),
        ));
    }
    if !c.metric_cohorts.is_empty() {
        charts.push((
            "metric-cohorts.svg".into(),
            churn_charts::metric_cohorts_svg(
                &format!("Churn by metric decile: '{}'", ctx.profile),
                &c.metric_cohorts,
                c.overall_rate,
            ),
        ));
    }
    if let Some(r) = &c.retention {
        charts.push((
            "retention.svg".into(),
            churn_charts::retention_svg(&format!("Retention by {}", r.by), r),
        ));
    }
    Section {
        id: "cohorts",
        title: "Which segments churn most".into(),
        markdown: html::demote(&analysis::cohorts_markdown(c, ctx), 3),
        charts,
    }
}

/// The act-first list as a Markdown table.
pub fn act_first_markdown(rows: &[ActFirst]) -> String {
    if rows.is_empty() {
        return "No account in the lowest tiers at the last snapshot date.\n".into();
    }
    let has_p = rows.iter().any(|r| r.probability.is_some());
    let has_arr = rows.iter().any(|r| r.arr.is_some());
    let mut s = String::from("| # | account | score | tier |");
    if has_p {
        s.push_str(" P(churn) |");
    }
    if has_arr {
        s.push_str(" ARR |");
    }
    s.push_str(" what pulls the score down (points) |\n|---:|---|---:|---|");
    if has_p {
        s.push_str("---:|");
    }
    if has_arr {
        s.push_str("---:|");
    }
    s.push_str("---|\n");
    for (n, r) in rows.iter().enumerate() {
        s.push_str(&format!(
            "| {} | {} | {:.1} | {} |",
            n + 1,
            md_cell(&r.account),
            r.score,
            md_cell(&r.tier)
        ));
        if has_p {
            s.push_str(&format!(
                " {} |",
                r.probability
                    .map_or("–".into(), |p| format!("{:.1} %", 100.0 * p))
            ));
        }
        if has_arr {
            s.push_str(&format!(
                " {} |",
                r.arr.map_or("–".into(), |a| format!("{a:.0}"))
            ));
        }
        let reasons: Vec<String> = r
            .reasons
            .iter()
            .map(|(m, p)| format!("{} ({:.1})", md_cell(m), p))
            .collect();
        s.push_str(&format!(" {} |\n", reasons.join(", ")));
    }
    s
}

/// The summary a customer-success leader reads first, in plain words.
fn executive_summary(
    calibration: Option<&crate::calibrate::Calibration>,
    validation: Option<&crate::validate::Validation>,
    tiers: &TierReport,
    cohorts: &CohortReport,
    act: &[ActFirst],
    audit: &crate::audit::Audit,
) -> String {
    let mut s = String::new();
    if let Some(c) = calibration {
        s.push_str(&format!("- **Weights.** {}", md_cell(&summary::verdict(c))));
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
        use crate::validate::Status;
        let failed = vrep::named(&v.checks, Status::Fail);
        let warned = vrep::named(&v.checks, Status::Warn);
        if v.passed {
            s.push_str(&format!(
                "- **Gate.** '{}' passes the pre-rollout gate against '{}': no model defect (AUC {:.3} vs {:.3} on {} validation rows).{}\n",
                md_cell(&v.candidate.name),
                md_cell(&v.incumbent.name),
                v.candidate.auc,
                v.incumbent.auc,
                v.validation_rows,
                if warned.is_empty() {
                    String::new()
                } else {
                    format!(" Look at: {}.", md_cell(&warned.join("; ")))
                }
            ));
        } else {
            s.push_str(&format!(
                "- **Gate.** '{}' does **not** pass the pre-rollout gate against '{}': {} failed. Keep the incumbent until that is fixed.\n",
                md_cell(&v.candidate.name),
                md_cell(&v.incumbent.name),
                md_cell(&failed.join("; "))
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
            if let Some(h) = analysis::band_headline(tiers) {
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
        audit.count(crate::audit::Severity::Error),
        audit.count(crate::audit::Severity::Warn)
    ));
    s
}
