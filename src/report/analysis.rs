//! The tier report and the cohort report as Markdown, CSV and JSON: pure functions from
//! results to text. Strings from data go through [`md_cell`] (Markdown) or the CSV and JSON
//! writers' own quoting.

use serde::Serialize;
use serde_json::json;

use super::calibration::md_cell;
use crate::analysis::cohorts::{CohortRow, CohortTable};
use crate::analysis::metric_cohorts::MetricCohort;
use crate::analysis::stage::{CohortReport, Skipped};
use crate::analysis::survival::Retention;
use crate::analysis::tiers::{GroupRow, Monotonicity, TierReport};
use crate::analysis::ChurnCount;

/// What a report states beside its results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportContext {
    /// The data file.
    pub data: String,
    /// First and last snapshot dates.
    pub dates: Option<(String, String)>,
    /// Profile name.
    pub profile: String,
    /// Whether the profile carries a calibration block (probabilities are shown).
    pub calibrated: bool,
}

/// Tier cut-offs proposed from data, with the table they give.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    /// How they were fitted.
    pub method: String,
    /// Tier minimums, best first.
    pub mins: Vec<f64>,
    /// The profile file written with them.
    pub file: String,
    /// The tier table under the proposed cut-offs.
    pub report: TierReport,
}

use super::fixed as f;

fn pct(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v != 0.0 && v.abs() < 0.001 {
        format!("{:.2} %", 100.0 * v)
    } else {
        format!("{:.1} %", 100.0 * v)
    }
}

fn ci(c: [f64; 2]) -> String {
    format!("{} – {}", pct(c[0]), pct(c[1]))
}

/// A money figure with thousands separators, no decimals.
pub(crate) fn money(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn header(ctx: &ReportContext, r: &TierReport) -> String {
    let dates = ctx
        .dates
        .as_ref()
        .map_or(String::new(), |(a, b)| format!(", snapshots {a} to {b}"));
    format!(
        "Data: `{}`{dates}. Profile: `{}`.\n\nUnit of analysis: {}. {} rows of {} accounts, {} churned: overall churn {} (95 % CI {}).{}\n",
        md_cell(&ctx.data),
        md_cell(&ctx.profile),
        r.unit.describe(),
        r.units,
        r.accounts,
        r.churned,
        pct(r.overall_rate),
        ci(r.overall_ci),
        if r.unscored > 0 {
            format!(
                " {} rows have no metric present and no score; they are left out.",
                r.unscored
            )
        } else {
            String::new()
        }
    )
}

fn group_table(rows: &[GroupRow], first: &str, with_pred: bool) -> String {
    let with_arr = rows.iter().any(|r| r.count.arr.is_some());
    let mut s = format!(
        "| {first} | scores | accounts | rows | snapshots | churned | churn rate | 95 % CI | share of churners | lift | mean score |"
    );
    let mut sep = String::from("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|");
    if with_pred {
        s.push_str(" predicted |");
        sep.push_str("---:|");
    }
    if with_arr {
        s.push_str(" ARR | ARR churned | revenue churn |");
        sep.push_str("---:|---:|---:|");
    }
    s.push('\n');
    s.push_str(&sep);
    s.push('\n');
    for r in rows {
        let c = &r.count;
        s.push_str(&format!(
            "| {} | {}–{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md_cell(&r.label),
            f(r.from, 1),
            f(r.to, 1),
            c.accounts,
            c.units,
            r.snapshots,
            c.churned,
            pct(c.rate),
            if c.units > 0 { ci(c.ci) } else { "–".into() },
            pct(c.churn_share),
            if c.lift.is_finite() {
                format!("{:.2}×", c.lift)
            } else {
                "–".into()
            },
            f(r.mean_score, 1),
        ));
        if with_pred {
            s.push_str(&format!(" {} |", pct(r.predicted.unwrap_or(f64::NAN))));
        }
        if with_arr {
            s.push_str(&format!(
                " {} | {} | {} |",
                money(c.arr.unwrap_or(f64::NAN)),
                money(c.arr_churned.unwrap_or(f64::NAN)),
                pct(c.arr_rate().unwrap_or(f64::NAN))
            ));
        }
        s.push('\n');
    }
    s
}

fn monotone_text(m: &Monotonicity, what: &str) -> String {
    let mut s = if m.monotone {
        format!("**Monotone:** churn rises strictly from each {what} to the next worse one.\n\n")
    } else {
        let bad: Vec<String> = m
            .steps
            .iter()
            .filter(|s| !s.increases)
            .map(|s| format!("{} → {}", md_cell(&s.better), md_cell(&s.worse)))
            .collect();
        format!(
            "**Not monotone:** churn does not rise at {}.\n\n",
            bad.join(", ")
        )
    };
    if !m.steps.is_empty() {
        s.push_str("| better → worse | rises | z | one-sided p |\n|---|---|---:|---:|\n");
        for st in &m.steps {
            s.push_str(&format!(
                "| {} → {} | {} | {} | {} |\n",
                md_cell(&st.better),
                md_cell(&st.worse),
                if st.increases { "yes" } else { "**no**" },
                f(st.z, 2),
                if st.p.is_finite() && st.p < 0.0001 {
                    "< 0.0001".into()
                } else {
                    f(st.p, 4)
                }
            ));
        }
        s.push_str("\nz: two-proportion test of the worse group's rate against the better one's (pooled standard error).\n");
    }
    s
}

/// The headline of the band table, as in the HBR study: the worst band's churn against the
/// best band's.
pub fn band_headline(r: &TierReport) -> Option<String> {
    let best = r.bands.first()?;
    let worst = r.bands.last()?;
    if best.count.units == 0 || worst.count.units == 0 {
        return None;
    }
    let ratio = worst.count.rate / best.count.rate;
    let times = if ratio.is_finite() {
        format!(", {ratio:.1}× the rate of accounts scoring {}", best.label)
    } else {
        format!(" while none of the accounts scoring {} churned", best.label)
    };
    Some(format!(
        "Accounts scoring {} churned at {} (95 % CI {}){times}, {} (95 % CI {}).",
        worst.label,
        pct(worst.count.rate),
        ci(worst.count.ci),
        pct(best.count.rate),
        ci(best.count.ci),
    ))
}

/// The tier report in Markdown.
pub fn tiers_markdown(r: &TierReport, ctx: &ReportContext, proposal: Option<&Proposal>) -> String {
    let mut s = format!(
        "# Churn across health tiers: `{}`\n\n",
        md_cell(&ctx.profile)
    );
    s.push_str(&header(ctx, r));
    s.push_str("\n## By tier\n\n");
    s.push_str(&group_table(&r.tiers, "tier", ctx.calibrated));
    s.push('\n');
    s.push_str(&monotone_text(&r.tier_check, "tier"));
    s.push_str("\n![churn across health tiers](tiers.svg)\n");
    s.push_str("\n## By score band\n\n");
    if let Some(h) = band_headline(r) {
        s.push_str(&h);
        s.push_str("\n\n");
    }
    s.push_str(&group_table(&r.bands, "band", ctx.calibrated));
    s.push_str("\nA score on a cut point belongs to the band above it, except on the lowest cut point, which belongs to the bottom band (≤ 30 / 31–49 / ≥ 50 for whole-number scores, as in the HBR study).\n\n");
    s.push_str(&monotone_text(&r.band_check, "band"));
    s.push_str("\n![churn across score bands](bands.svg)\n");
    s.push_str(&format!(
        "\n## Scores of churned and retained accounts\n\nMean score of churned rows {}, of retained rows {}: retained accounts score {}× as high.\n",
        f(r.mean_score_churned, 1),
        f(r.mean_score_retained, 1),
        f(r.score_ratio, 2)
    ));
    if let Some(p) = proposal {
        s.push_str(&format!(
            "\n## Proposed tier cut-offs ({})\n\nWritten to `{}`. Tier minimums, best first: {}.\n\n",
            md_cell(&p.method),
            md_cell(&p.file),
            p.mins
                .iter()
                .zip(&p.report.tiers)
                .map(|(m, t)| format!("{} ≥ {}", md_cell(&t.label), f(*m, 1)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        s.push_str(&group_table(&p.report.tiers, "tier", ctx.calibrated));
        s.push('\n');
        s.push_str(&monotone_text(&p.report.tier_check, "tier"));
    }
    if !r.trend.is_empty() {
        s.push_str("\n## Score trend\n\nEvery scored snapshot, per snapshot date.\n\n| date | snapshots | mean score |");
        for t in &r.tier_names {
            s.push_str(&format!(" {} |", md_cell(t)));
        }
        s.push_str(" churned | churn rate |\n|---|---:|---:|");
        for _ in &r.tier_names {
            s.push_str("---:|");
        }
        s.push_str("---:|---:|\n");
        for t in &r.trend {
            s.push_str(&format!(
                "| {} | {} | {} |",
                t.period,
                t.snapshots,
                f(t.mean_score, 1)
            ));
            for sh in &t.tier_share {
                s.push_str(&format!(" {} |", pct(*sh)));
            }
            s.push_str(&format!(" {} | {} |\n", t.churned, pct(t.rate)));
        }
        s.push_str("\nThe churn rate of the latest dates is low when their outcomes are still open (right-censored or not yet labelled).\n");
    }
    s
}

/// CSV columns of [`count_fields`].
const COUNT_COLUMNS: [&str; 9] = [
    "churned",
    "churn_rate",
    "ci_low",
    "ci_high",
    "churn_share",
    "lift",
    "arr",
    "arr_churned",
    "revenue_churn_rate",
];

fn count_fields(c: &ChurnCount) -> [String; 9] {
    [
        c.churned.to_string(),
        num(c.rate),
        num(c.ci[0]),
        num(c.ci[1]),
        num(c.churn_share),
        num(c.lift),
        c.arr.map_or(String::new(), num),
        c.arr_churned.map_or(String::new(), num),
        c.arr_rate().map_or(String::new(), num),
    ]
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn csv_text(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The tier and band tables as one CSV (`table` = tier, band or proposed_tier).
pub fn tiers_csv(r: &TierReport, proposal: Option<&Proposal>) -> String {
    let mut rows = Vec::new();
    let mut add = |table: &str, groups: &[GroupRow]| {
        for g in groups {
            let mut row = vec![
                table.to_string(),
                g.label.clone(),
                num(g.from),
                num(g.to),
                g.count.units.to_string(),
                g.count.accounts.to_string(),
                g.snapshots.to_string(),
            ];
            row.extend(count_fields(&g.count));
            row.push(num(g.mean_score));
            row.push(g.predicted.map_or(String::new(), num));
            rows.push(row);
        }
    };
    add("tier", &r.tiers);
    add("band", &r.bands);
    if let Some(p) = proposal {
        add("proposed_tier", &p.report.tiers);
    }
    csv_text(
        &[
            &[
                "table",
                "group",
                "score_from",
                "score_to",
                "rows",
                "accounts",
                "snapshots",
            ][..],
            &COUNT_COLUMNS,
            &["mean_score", "predicted"],
        ]
        .concat(),
        rows,
    )
}

/// The tier report as JSON.
pub fn tiers_json(r: &TierReport, ctx: &ReportContext, proposal: Option<&Proposal>) -> String {
    let v = json!({
        "context": ctx,
        "tiers": r,
        "proposal": proposal,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON value serialises");
    s.push('\n');
    s
}

/// Why a section of the cohort report is missing, in words.
fn skipped_note(s: Skipped) -> &'static str {
    match s {
        Skipped::NoCohortKeys => {
            "no cohort keys given (--by industry,tenure,…): segment tables skipped"
        }
        Skipped::NoChurnDates => "no churn-date column: retention curves skipped",
    }
}

fn cohort_rows_md(rows: &[CohortRow], by_tier: bool, min_size: usize) -> String {
    let mut s = String::from("| cohort |");
    if by_tier {
        s.push_str(" tier |");
    }
    s.push_str(
        " accounts | rows | churned | churn rate | 95 % CI | lift | share of churners |\n|---|",
    );
    if by_tier {
        s.push_str("---|");
    }
    s.push_str("---:|---:|---:|---:|---|---:|---:|\n");
    for r in rows {
        s.push_str(&format!("| {} |", md_cell(&r.cohort.join(" · "))));
        if let Some(t) = &r.tier {
            s.push_str(&format!(" {} |", md_cell(t)));
        }
        s.push_str(&format!(" {} | {} |", r.accounts, r.units));
        match &r.churn {
            Some(c) => s.push_str(&format!(
                " {} | {} | {} | {} | {} |\n",
                c.churned,
                pct(c.rate),
                ci(c.ci),
                if c.lift.is_finite() {
                    format!("{:.2}×", c.lift)
                } else {
                    "–".into()
                },
                pct(c.churn_share)
            )),
            None => s.push_str(&format!(" suppressed | (< {min_size} accounts) | | | |\n")),
        }
    }
    s
}

/// The cohort report in Markdown.
pub fn cohorts_markdown(r: &CohortReport, ctx: &ReportContext) -> String {
    let dates = ctx
        .dates
        .as_ref()
        .map_or(String::new(), |(a, b)| format!(", snapshots {a} to {b}"));
    let mut s = format!(
        "# Cohort churn: `{}`\n\nData: `{}`{dates}. Profile: `{}`.\n\nUnit of analysis: {}. {} rows of {} accounts, {} churned: overall churn {}.\n",
        md_cell(&ctx.profile),
        md_cell(&ctx.data),
        md_cell(&ctx.profile),
        r.unit.describe(),
        r.units,
        r.accounts,
        r.churned,
        pct(r.overall_rate)
    );
    for &n in &r.skipped {
        s.push_str(&format!("\nNote: {}\n", md_cell(skipped_note(n))));
    }
    if let Some(t) = &r.cohorts {
        let by =
            t.by.iter()
                .map(|b| md_cell(b))
                .collect::<Vec<_>>()
                .join(" × ");
        s.push_str(&format!(
            "\n## By {by}\n\nRiskiest first. Cohorts with fewer than {} accounts are shown as suppressed.\n\n",
            t.min_size
        ));
        s.push_str(&cohort_rows_md(&t.cohorts, false, t.min_size));
        s.push_str(&format!("\n## By {by} and tier\n\n"));
        s.push_str(&cohort_rows_md(&t.by_tier, true, t.min_size));
    }
    if !r.metric_cohorts.is_empty() {
        s.push_str(&format!(
            "\n## Metric cohorts\n\nEach metric's counted rows in decile bins of the raw value (edges at the values of ranks ⌊j·n/10⌋; a value equal to an edge goes to the bin above, equal values share a bin, so tied metrics have fewer bins, and a metric with at most ten values gets a bin per value{}; missing values in their own bin). Trend: the Cochran–Armitage test across the bins in metric order (|z| > 1.96); *mixed* means an adjacent step goes significantly against the trend (two-proportion z beyond ±1.96): not monotone.\n\n![metric cohorts](metric-cohorts.svg)\n\n| metric | column | bins | churn as the metric grows | monotone | against the profile's direction |\n|---|---|---:|---|---|---|\n",
            if r.zero_bin { "; zeros in a bin of their own" } else { "" }
        ));
        for m in &r.metric_cohorts {
            s.push_str(&format!(
                "| {} | {} | {} | {:?} | {} | {} |\n",
                md_cell(&m.metric),
                md_cell(&m.column),
                m.bins.len(),
                m.trend,
                if m.monotone { "yes" } else { "**no**" },
                if m.direction_conflict {
                    "**yes**"
                } else {
                    "no"
                }
            ));
        }
        for m in &r.metric_cohorts {
            s.push_str(&format!(
                "\n### {}\n\n| bin | rows | mean value | churned | churn rate | 95 % CI |\n|---|---:|---:|---:|---:|---|\n",
                md_cell(&m.metric)
            ));
            for b in &m.bins {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    md_cell(&b.label),
                    b.count.units,
                    f(b.mean, 3),
                    b.count.churned,
                    pct(b.count.rate),
                    ci(b.count.ci)
                ));
            }
        }
    }
    if let Some(ret) = &r.retention {
        s.push_str(&format!(
            "\n## Retention curves by {}\n\nKaplan–Meier, time from {}; accounts still customers are censored at {}. Intervals: Greenwood 95 % on the log(−log) scale. Each curve starts where at least 10 accounts (or the whole cohort) are at risk; a cohort that signed up before the data starts is seen only from its first snapshot, so its curve is retention given survival to that point, and retention before it is shown as –.\n\n![retention curves](retention.svg)\n\n| cohort | accounts | churned |",
            md_cell(&ret.by),
            md_cell(&ret.origin),
            ret.censored_at
        ));
        for (_, name) in crate::analysis::survival::READ_AT_DAYS {
            s.push_str(&format!(" retained at {name} |"));
        }
        s.push_str(" median survival | curve starts at |\n|---|---:|---:|");
        for _ in crate::analysis::survival::READ_AT_DAYS {
            s.push_str("---|");
        }
        s.push_str("---:|---:|\n");
        for c in &ret.curves {
            s.push_str(&format!(
                "| {} | {} | {} |",
                md_cell(&c.label),
                c.accounts,
                c.churned
            ));
            if c.suppressed {
                s.push_str(&format!(
                    " suppressed (< {} accounts) |",
                    r.cohorts.as_ref().map_or(30, |t| t.min_size)
                ));
                for _ in 1..crate::analysis::survival::READ_AT_DAYS.len() {
                    s.push_str(" |");
                }
                s.push_str(" | |\n");
                continue;
            }
            for (_, v, lo, hi) in &c.read_at {
                if v.is_finite() {
                    s.push_str(&format!(" {} ({} – {}) |", pct(*v), pct(*lo), pct(*hi)));
                } else {
                    s.push_str(" – |");
                }
            }
            s.push_str(&format!(
                " {} | {:.1} months |\n",
                c.median_days.map_or("not reached".into(), |d| format!(
                    "{:.1} months",
                    d / 30.4375
                )),
                c.observed_from_days / 30.4375
            ));
        }
        for (why, n) in &ret.excluded {
            s.push_str(&format!("\n{n} accounts left out: {}.", md_cell(why)));
        }
        s.push('\n');
    }
    s
}

/// The cohort tables as CSV: segment cohorts and cohort × tier rows.
pub fn cohorts_csv(t: &CohortTable) -> String {
    let rows = t
        .cohorts
        .iter()
        .chain(&t.by_tier)
        .map(|r| {
            let mut row = vec![
                if r.tier.is_some() {
                    "cohort_tier"
                } else {
                    "cohort"
                }
                .to_string(),
                r.cohort.join(" · "),
                r.tier.clone().unwrap_or_default(),
                r.units.to_string(),
                r.accounts.to_string(),
                r.suppressed.to_string(),
            ];
            match &r.churn {
                Some(c) => row.extend(count_fields(c)),
                None => row.extend(std::iter::repeat_n(String::new(), 9)),
            }
            row
        })
        .collect();
    csv_text(
        &[
            &["table", "cohort", "tier", "rows", "accounts", "suppressed"][..],
            &COUNT_COLUMNS,
        ]
        .concat(),
        rows,
    )
}

/// The metric cohorts as CSV, one row per bin.
pub fn metric_cohorts_csv(m: &[MetricCohort]) -> String {
    let rows = m
        .iter()
        .flat_map(|mc| {
            mc.bins.iter().map(move |b| {
                let mut row = vec![
                    mc.metric.clone(),
                    mc.column.clone(),
                    b.label.clone(),
                    num(b.lo),
                    num(b.hi),
                    num(b.mean),
                    b.count.units.to_string(),
                ];
                row.extend(count_fields(&b.count));
                row
            })
        })
        .collect();
    csv_text(
        &[
            &["metric", "column", "bin", "lo", "hi", "mean", "rows"][..],
            &COUNT_COLUMNS,
        ]
        .concat(),
        rows,
    )
}

/// The retention curves as CSV, one row per curve point.
pub fn retention_csv(r: &Retention) -> String {
    let rows = r
        .curves
        .iter()
        .flat_map(|c| {
            c.points.iter().map(move |p| {
                vec![
                    c.label.clone(),
                    num(p.t),
                    num(p.at_risk),
                    num(p.events),
                    num(p.removed),
                    num(p.survival),
                    num(p.greenwood),
                    num(p.ci[0]),
                    num(p.ci[1]),
                ]
            })
        })
        .collect();
    csv_text(
        &[
            "cohort",
            "days",
            "at_risk",
            "churned",
            "removed",
            "retained",
            "greenwood",
            "ci_low",
            "ci_high",
        ],
        rows,
    )
}

/// The cohort report as JSON.
pub fn cohorts_json(r: &CohortReport, ctx: &ReportContext) -> String {
    let mut report = serde_json::to_value(r).expect("the report serialises");
    let notes: Vec<&str> = r.skipped.iter().map(|&n| skipped_note(n)).collect();
    report
        .as_object_mut()
        .expect("a struct serialises to an object")
        .insert("notes".into(), json!(notes));
    let v = json!({ "context": ctx, "report": report });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON value serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(1234567.4), "1,234,567");
        assert_eq!(money(999.0), "999");
        assert_eq!(money(-1000.0), "-1,000");
    }

    #[test]
    fn csv_quotes_fields_from_data() {
        let s = csv_text(&["a", "b"], vec![vec!["x,y".into(), "say \"hi\"".into()]]);
        assert_eq!(s, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n");
    }
}
