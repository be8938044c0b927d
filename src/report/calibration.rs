//! The calibration summary as Markdown and JSON: pure functions from results to text.

use serde_json::json;

use crate::calibrate::transforms::TransformFit;
use crate::calibrate::{Calibration, Comparison};

/// Context a summary states beside the results.
#[derive(Debug, Clone, Default)]
pub struct SummaryContext {
    /// The data file.
    pub data: String,
    /// First and last snapshot dates.
    pub dates: Option<(String, String)>,
    /// Where the calibrated profile was written (relative to the summary).
    pub profile_file: String,
    /// Transform refits, when `--fit-transforms` was given.
    pub transforms: Vec<TransformFit>,
}

fn f(v: f64, d: usize) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.d$}")
    }
}

fn lambda_text(l: f64) -> String {
    let note = if l.is_infinite() {
        " (prior weights kept)"
    } else if l == 0.0 {
        " (no shrinkage)"
    } else {
        ""
    };
    format!("{}{note}", crate::calibrate::lambda_label(l))
}

/// Markdown escaping for table cells: pipes and backslashes, HTML's `&`, `<`, `>` (so text
/// from data cannot become markup), and no line breaks.
pub fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn comparison_table(c: &Comparison) -> String {
    let mut s = format!(
        "{} — {} snapshots, {} churn events.\n\n| model | AUC | log-loss | Brier |\n|---|---:|---:|---:|\n",
        c.scheme, c.rows, c.events
    );
    for (name, q) in [
        ("prior weights (intercept and slope refitted)", c.prior),
        ("calibrated weights", c.calibrated),
        ("unconstrained logistic regression", c.unconstrained),
    ] {
        s.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            f(q.auc, 3),
            f(q.log_loss, 4),
            f(q.brier, 4)
        ));
    }
    s
}

/// The summary a person reads.
pub fn markdown(c: &Calibration, ctx: &SummaryContext) -> String {
    let mut s = String::new();
    s.push_str(&format!("# Calibration of `{}`\n\n", md_cell(&c.prior)));
    let period = ctx
        .dates
        .as_ref()
        .map(|(a, b)| format!(", snapshots {a} to {b}"))
        .unwrap_or_default();
    s.push_str(&format!(
        "Data: `{}` — {} snapshots of {} accounts, {} churn events{period}; {:.1} events per weight.\n\n",
        md_cell(&ctx.data),
        c.rows,
        c.accounts,
        c.events,
        c.events_per_weight
    ));
    s.push_str(&format!(
        "Calibrated profile: `{}`. Shrinkage toward the prior: λ = {}, chosen by {}-fold cross-validation grouped by account (seed {}). \
         Probability of churn: P = 1 / (1 + exp(−({:.3} {} {:.3} × score / 100))).\n\n",
        md_cell(&ctx.profile_file),
        lambda_text(c.lambda),
        c.folds,
        c.seed,
        c.intercept_int,
        if c.slope_int < 0.0 { "−" } else { "+" },
        c.slope_int.abs()
    ));
    s.push_str(&format!("**{}**\n\n", md_cell(&c.verdict)));
    if !c.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &c.warnings {
            s.push_str(&format!("- {}\n", md_cell(w)));
        }
        s.push('\n');
    }
    s.push_str("## Weights\n\n");
    s.push_str(&format!(
        "Weights are points out of 100. *Calibrated* is the shrunk estimate the profile uses; *data alone* is the \
         non-negative maximum-likelihood weight (λ = 0) and its interval the 2.5–97.5 % range over {} bootstrap resamples of accounts, \
         the weights the data supports without the prior; *unstable* marks an interval wider than that weight (or 10 points). The coefficient is the unconstrained \
         logistic regression's protective effect of 100 sub-score points on the log-odds of churn (positive: protective), \
         with its 95 % Wald interval.\n\n",
        c.bootstrap
    ));
    s.push_str("| metric | group | prior | calibrated | integer | data alone (95 % interval) | coefficient (95 % CI) | notes |\n|---|---|---:|---:|---:|---|---|---|\n");
    for m in &c.metrics {
        let mut notes = Vec::new();
        if m.unstable {
            notes.push("unstable");
        }
        if m.direction_conflict {
            notes.push("direction conflict");
        }
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} ({} – {}) | {} ({} to {}) | {} |\n",
            md_cell(&m.name),
            md_cell(m.group.as_deref().unwrap_or("")),
            f(m.prior_weight, 1),
            f(m.weight, 1),
            m.weight_int,
            f(m.ml_weight, 1),
            f(m.weight_ci[0], 1),
            f(m.weight_ci[1], 1),
            f(m.coefficient, 2),
            f(m.coefficient_ci[0], 2),
            f(m.coefficient_ci[1], 2),
            notes.join(", ")
        ));
    }
    s.push_str(&format!(
        "\nRounding the weights to integers changes the in-sample log-loss from {} to {} ({:+.2e}).\n\n",
        f(c.log_loss_exact, 5),
        f(c.log_loss_int, 5),
        c.log_loss_int - c.log_loss_exact
    ));
    s.push_str("## Out-of-sample quality\n\n");
    s.push_str(&comparison_table(&c.cross_validation));
    s.push('\n');
    match (&c.holdout, &c.holdout_note) {
        (Some(h), _) => {
            s.push_str(&comparison_table(h));
            s.push('\n');
        }
        (None, Some(n)) => s.push_str(&format!("No out-of-time holdout: {}.\n\n", md_cell(n))),
        _ => {}
    }
    s.push_str("## Tiers of the calibrated profile\n\n");
    s.push_str("On the fitting data, every snapshot with an outcome; rates with Wilson 95 % intervals.\n\n| tier | min score | snapshots | churned | churn rate | 95 % interval |\n|---|---:|---:|---:|---:|---|\n");
    for t in &c.tiers {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} – {} |\n",
            md_cell(&t.tier),
            f(t.min, 1),
            t.snapshots,
            t.churned,
            pct(t.rate),
            pct(t.rate_ci[0]),
            pct(t.rate_ci[1])
        ));
    }
    s.push('\n');
    if !ctx.transforms.is_empty() {
        s.push_str("## Transforms fitted from the data\n\n| metric | before | after | direction AUC | conflict |\n|---|---|---|---:|---|\n");
        for t in &ctx.transforms {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                md_cell(&t.metric),
                md_cell(&t.before),
                md_cell(&t.after),
                t.direction_auc.map_or("–".into(), |a| f(a, 3)),
                if t.direction_conflict { "yes" } else { "" }
            ));
        }
        s.push('\n');
    }
    s.push_str("## Solver\n\n");
    s.push_str(&format!(
        "Final fit: {} after {} iterations ({}). λ search: {} fits did not converge. Bootstrap: {} of {} replicates did not converge.\n\n",
        if c.solver.converged { "converged" } else { "did NOT converge" },
        c.solver.iterations,
        md_cell(&c.solver.reason),
        c.lambda_path.iter().map(|p| p.not_converged).sum::<usize>(),
        c.bootstrap_not_converged,
        c.bootstrap
    ));
    s.push_str("| λ | CV log-loss | CV AUC | not converged |\n|---|---:|---:|---:|\n");
    for p in &c.lambda_path {
        let mark = if p.lambda == c.lambda || (p.lambda.is_infinite() && c.lambda.is_infinite()) {
            " ←"
        } else {
            ""
        };
        s.push_str(&format!(
            "| {}{mark} | {} | {} | {} |\n",
            lambda_text(p.lambda),
            f(p.cv_log_loss, 5),
            f(p.cv_auc, 4),
            p.not_converged
        ));
    }
    s
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * v)
    }
}

/// The machine-readable summary.
pub fn json(c: &Calibration, ctx: &SummaryContext) -> String {
    let v = json!({
        "data": ctx.data,
        "dates": ctx.dates.as_ref().map(|(a, b)| json!({"first": a, "last": b})),
        "profile_file": ctx.profile_file,
        "calibration": c,
        "transforms": ctx.transforms,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON value serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
        assert_eq!(md_cell("<b>&"), "&lt;b&gt;&amp;");
    }
}
