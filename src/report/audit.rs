//! The audit as Markdown and JSON.

use serde_json::json;

use super::calibration::md_cell;
use crate::audit::{Audit, Finding, Issue, Severity};
use crate::data::parse::format_day;

use super::fixed as f;

/// The audit in Markdown: findings (errors first), then each metric's signal, the churn
/// rate per date, and redundancy.
pub fn markdown(a: &Audit) -> String {
    let mut s = format!(
        "# Data-quality audit: `{}`\n\n{} rows, {} accounts, audited as of {}. **{} errors, {} warnings, {} notes.**\n\n",
        md_cell(&a.source),
        a.rows,
        a.accounts,
        a.as_of,
        a.count(Severity::Error),
        a.count(Severity::Warn),
        a.count(Severity::Info)
    );
    if a.findings.is_empty() {
        s.push_str("No findings.\n");
    } else {
        s.push_str("| severity | criterion | check | column | finding |\n|---|---|---|---|---|\n");
        for x in &a.findings {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                match x.severity {
                    Severity::Error => "**error**",
                    Severity::Warn => "warn",
                    Severity::Info => "info",
                },
                x.criterion,
                x.check,
                md_cell(&x.subject),
                md_cell(&message(x))
            ));
        }
    }
    if !a.impact.is_empty() {
        s.push_str("\n## Impact: each metric against churn\n\nAUC of the metric's sub-score in the profile's direction (above 0.5: the direction holds; for scanned extra columns, the stronger orientation), DeLong 95 % interval; information value over deciles with a 95 % interval (bin counts of churned and retained resampled 200 times, bins fixed). Suspected leakage: AUC above 0.95, or AUC of 0.75 or more from a column with at most three values (a status or flag). Information value is reported but not used for that: in churn data an ordinary usage metric reaches 0.5–1 (under a binormal model IV ≈ d′², so AUC 0.69 already gives 0.5), so the credit-scoring reading of IV > 0.5 as suspicious would flag every good metric.\n\n| metric | column | AUC | 95 % CI | information value | 95 % CI | missing | in profile |\n|---|---|---:|---|---:|---|---:|---|\n");
        for m in &a.impact {
            s.push_str(&format!(
                "| {} | {} | {} | {} – {} | {} | {} – {} | {:.1} % | {} |\n",
                md_cell(&m.metric),
                md_cell(&m.column),
                f(m.auc, 3),
                f(m.auc_ci[0], 3),
                f(m.auc_ci[1], 3),
                f(m.iv, 3),
                f(m.iv_ci[0], 3),
                f(m.iv_ci[1], 3),
                100.0 * m.missing,
                if m.in_profile { "yes" } else { "no (scanned)" }
            ));
        }
    }
    if !a.churn_by_date.is_empty() {
        s.push_str("\n## Churn rate per snapshot date\n\n| date | rows | churned | rate |\n|---|---:|---:|---:|\n");
        for (d, n, c) in &a.churn_by_date {
            s.push_str(&format!(
                "| {d} | {n} | {c} | {:.2} % |\n",
                100.0 * *c as f64 / (*n).max(1) as f64
            ));
        }
    }
    if !a.vif.is_empty() {
        s.push_str("\n## Redundancy\n\n| metric | variance inflation factor |\n|---|---:|\n");
        for (m, v) in &a.vif {
            s.push_str(&format!("| {} | {} |\n", md_cell(m), f(*v, 2)));
        }
    }
    s
}

/// A finding in plain words.
pub fn message(f: &Finding) -> String {
    match &f.issue {
        Issue::Constant { value } => {
            format!("every present value is {value}: the metric cannot separate anyone")
        }
        Issue::ImpossibleNps { count, min, max } => format!(
            "{count} values outside −100…100, impossible for an NPS (min {min}, max {max})"
        ),
        Issue::PercentAbove100 { count, max } => {
            format!("{count} values above 100 in a percentage (max {max})")
        }
        Issue::Negative { count, lo } => {
            format!("{count} negative values in a metric whose range starts at {lo}")
        }
        Issue::OutsideTransform {
            count,
            share,
            range: [lo, hi],
            observed: [min, max],
        } => format!(
            "{count} values ({:.1} %) outside the transform's {lo}…{hi}; they are clipped (observed {min}…{max})",
            100.0 * share
        ),
        Issue::DuplicateRows { count } => format!(
            "{count} rows repeat an earlier row in every column read: double-counted accounts or a repeated export"
        ),
        Issue::FutureSnapshots { count, today } => {
            format!("{count} snapshot dates after {} (today)", format_day(*today))
        }
        Issue::FutureChurnDates { count, today } => {
            format!("{count} churn dates after {} (today)", format_day(*today))
        }
        Issue::DataAge { latest, days, today } => format!(
            "the latest snapshot is {} , {days} days before {}: weights fitted now describe the past",
            format_day(*latest),
            format_day(*today)
        ),
        Issue::StaleAccounts { count, days } => format!(
            "{count} accounts have no snapshot in the last {days} days of the data and no churn: missing from the feed, or churned unrecorded"
        ),
        Issue::Gaps { accounts } => {
            format!("{accounts} accounts miss snapshot dates between their first and last")
        }
        Issue::Frozen {
            frozen,
            eligible,
            snapshots,
        } => format!(
            "{frozen} of {eligible} accounts with ≥ {snapshots} snapshots have the same value in every one: a feed that stopped updating?"
        ),
        Issue::Leakage { auc, iv, levels } => format!(
            "AUC {auc:.3}, information value {iv:.2}{}: a signal this strong usually means the column is recorded after the outcome or encodes it",
            if *levels <= 3 {
                format!(" from a column with only {levels} values (a status or flag)")
            } else {
                String::new()
            }
        ),
        Issue::AgainstDirection { auc, ci } => format!(
            "AUC {auc:.3} (95 % CI {:.3}–{:.3}) in the profile's direction: churners look healthier on this metric",
            ci[0], ci[1]
        ),
        Issue::NoSignal { auc, ci } => format!(
            "AUC {auc:.3} (95 % CI {:.3}–{:.3}): no evidence it separates churners",
            ci[0], ci[1]
        ),
        Issue::FewEvents {
            events,
            weights,
            per_weight,
        } => format!(
            "{events} churn events for {weights} weights: {per_weight:.1} per weight (below 5 calibration refuses, below 10 it is noisy)"
        ),
        Issue::LabelsCutOff { dates, median_rate } => format!(
            "the last dates ({}) churn at under a quarter of the earlier median rate ({:.2} %): their outcomes are probably not known yet; leave them out or label them with --horizon, which right-censors",
            dates.join(", "),
            100.0 * median_rate
        ),
        Issue::AfterChurn { count } => format!(
            "{count} snapshots are dated on or after their account's churn date: their metrics already show the churn (leakage)"
        ),
        Issue::NumbersStripped { count } => format!(
            "{count} values read by stripping a percent sign, a currency or thousands separators (45% as 45, $1,234.50 as 1234.5)"
        ),
        Issue::DecimalComma { detected } => format!(
            "numbers read with a decimal comma ({})",
            if *detected { "detected: the file is ;-separated and its numbers read only that way" } else { "as given" }
        ),
        Issue::DatesReadAs { format, detected } => format!(
            "dates read as {format} ({})",
            if *detected { "detected: every value reads that way" } else { "as given" }
        ),
        Issue::DroppedAfterChurn { count } => format!(
            "{count} snapshots on or after the churn date were dropped while deriving labels"
        ),
        Issue::Missing {
            count,
            share,
            policy,
        } => format!(
            "{count} missing values ({:.1} %); the profile's missing policy ({policy}) applies",
            100.0 * share
        ),
        Issue::MissingBySegment {
            share,
            segment,
            label,
            overall,
        } => format!(
            "{:.1} % missing where {segment} = {label} against {:.1} % overall: the feed may not cover that segment",
            100.0 * share,
            100.0 * overall
        ),
        Issue::Redundant { r } => format!(
            "correlation {r:.3}: the two metrics count the same thing twice, and their weights cannot be told apart"
        ),
        Issue::Singular => "the numeric metrics are exactly collinear (their correlation matrix is singular): some metric is a linear function of others".into(),
        Issue::Collinear { vif } => format!(
            "variance inflation factor {vif:.1}: the other metrics predict it almost entirely"
        ),
    }
}

/// The audit as JSON.
pub fn json(a: &Audit) -> String {
    let mut audit = serde_json::to_value(a).expect("the audit serialises");
    let findings = audit["findings"]
        .as_array_mut()
        .expect("findings serialise to an array");
    for (value, finding) in findings.iter_mut().zip(&a.findings) {
        value
            .as_object_mut()
            .expect("a finding serialises to an object")
            .insert("message".into(), json!(message(finding)));
    }
    let mut s =
        serde_json::to_string_pretty(&json!({ "audit": audit })).expect("JSON value serialises");
    s.push('\n');
    s
}
