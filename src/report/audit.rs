//! The audit as Markdown and JSON.

use serde_json::json;

use super::calibration::md_cell;
use crate::audit::{Audit, Severity};

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
                md_cell(&x.message)
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

/// The audit as JSON.
pub fn json(a: &Audit) -> String {
    let mut s =
        serde_json::to_string_pretty(&json!({ "audit": a })).expect("JSON value serialises");
    s.push('\n');
    s
}
