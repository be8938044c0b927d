//! The calibration summary as Markdown and JSON: pure functions from results to text.

use serde_json::json;

use crate::calibrate::transforms::TransformFit;
use crate::calibrate::{Calibration, CalibrationWarning, Comparison};

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

/// λ as the summaries write it (`∞` for the prior's weights).
pub fn lambda_text(l: f64) -> String {
    let note = if l.is_infinite() {
        " (prior weights kept)"
    } else if l == 0.0 {
        " (no shrinkage)"
    } else {
        ""
    };
    format!("{}{note}", lambda_label(l))
}

/// λ as written in reports: `∞`, `0`, or scientific notation.
pub fn lambda_label(l: f64) -> String {
    if l.is_infinite() {
        "∞".into()
    } else if l == 0.0 {
        "0".into()
    } else {
        format!("{l:.3e}")
    }
}

/// What the calibration concluded, in plain words: whether the data supports moving the
/// prior's weights, and what moving them bought out of sample.
pub fn verdict(c: &Calibration) -> String {
    let moved: f64 = c
        .metrics
        .iter()
        .map(|m| (m.weight - m.prior_weight).abs())
        .sum::<f64>()
        / 2.0;
    let cv = &c.cross_validation;
    let least = c
        .lambda_path
        .iter()
        .min_by(|a, b| a.lambda.total_cmp(&b.lambda));
    if moved < 2.0 {
        format!(
            "The data does not support moving the prior's weights: cross-validation kept them (λ = {}), \
             {moved:.1} points of 100 moved. With {} churn events the less-shrunk weights do not beat the prior out of sample \
             (CV log-loss {:.4} for the prior vs {:.4} at the smallest λ tried, {}).",
            lambda_label(c.lambda),
            c.events,
            cv.prior.log_loss,
            least.map_or(f64::NAN, |p| p.cv_log_loss),
            least.map_or("–".to_string(), |p| lambda_label(p.lambda)),
        )
    } else {
        format!(
            "Calibration moved {moved:.1} points of 100 between metrics; out of sample the AUC went from {:.3} to {:.3} and the log-loss from {:.4} to {:.4}.",
            cv.prior.auc, cv.calibrated.auc, cv.prior.log_loss, cv.calibrated.log_loss
        )
    }
}

/// A calibration warning in plain words.
pub fn warning(w: &CalibrationWarning) -> String {
    match w {
        CalibrationWarning::CaseControl { kept, controls, rate } => format!(
            "fitted on a case-control sample: every churned snapshot and {kept} of {controls} retained ones (rate {rate}); the intercept is corrected by ln {rate} = {:.4}. AUC is unaffected; log-loss, Brier and the tier table's churn rates are those of the sample",
            rate.ln()
        ),
        CalibrationWarning::FewEvents { events, weights, per_weight } => format!(
            "{events} churn events for {weights} weights: {per_weight:.1} events per weight is below 10; weights will be noisy (Harrell suggests 15)"
        ),
        CalibrationWarning::Unscored { snapshots } => {
            format!("{snapshots} snapshots with no metric present were left out of the fit")
        }
        CalibrationWarning::WeakPrior { slope } => format!(
            "the prior score barely separates churners (fitted slope {slope:.2} per 100 points); shrinkage uses a slope of 0.1"
        ),
        CalibrationWarning::ReferenceNotConverged => "the unconstrained reference fit did not converge (sub-scores that separate churners perfectly, or collinear metrics): its coefficients, intervals and the unconstrained model's figures are not reliable".into(),
        CalibrationWarning::ConstantSubScore { metric } => format!(
            "'{metric}' has the same sub-score on every row: the data cannot tell its weight from the intercept, so its weight is where the shrinkage puts it"
        ),
        CalibrationWarning::Separable { auc } => format!(
            "the calibrated score separates churned from retained snapshots almost perfectly (cross-validated AUC {auc:.3}): with separable data the weights are set by the shrinkage rather than the data; check the audit for a leaking metric"
        ),
        CalibrationWarning::FinalNotConverged { reason, iterations } => format!(
            "the final fit's solver did not converge: {reason} after {iterations} iterations"
        ),
        CalibrationWarning::DirectionConflict { metric, coefficient, ci } => format!(
            "direction conflict: '{metric}' churns more as its sub-score rises (unconstrained coefficient {coefficient:.2}, 95 % CI {:.2} to {:.2}); its declared direction or transform may be wrong. Its weight is held at ≥ 0, not flipped",
            ci[0], ci[1]
        ),
    }
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

/// The revenue-weighted fit beside the one counting every snapshot once.
fn revenue_comparison(c: &Calibration, r: &crate::calibrate::RevenueComparison) -> String {
    let mut s = String::from(
        "## Weighted by revenue, or every snapshot once?\n\n\
         Both fits on the same folds, each with its own λ; out-of-fold AUC / log-loss counted per snapshot and per unit of revenue. \
         The revenue-weighted fit is the one to use when the team is judged on revenue kept and the large accounts churn for other reasons than the small; \
         when both fits rank revenue alike, the unweighted one is steadier (it uses every account equally).\n\n\
         | fit | λ | per snapshot | per unit of revenue |\n|---|---|---|---|\n",
    );
    for (name, w) in [
        ("every snapshot once", &r.by_snapshot),
        ("revenue-weighted", &r.by_revenue),
    ] {
        s.push_str(&format!(
            "| {name} | {} | {} / {} | {} / {} |\n",
            lambda_text(w.lambda),
            f(w.by_snapshot.auc, 3),
            f(w.by_snapshot.log_loss, 4),
            f(w.by_revenue.auc, 3),
            f(w.by_revenue.log_loss, 4)
        ));
    }
    s.push_str(
        "\n| metric | weight, every snapshot once | weight, revenue-weighted |\n|---|---:|---:|\n",
    );
    for (m, (a, b)) in c
        .metrics
        .iter()
        .zip(r.by_snapshot.weights.iter().zip(&r.by_revenue.weights))
    {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            md_cell(&m.name),
            f(*a, 1),
            f(*b, 1)
        ));
    }
    s.push('\n');
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
    s.push_str(&format!("**{}**\n\n", md_cell(&verdict(c))));
    if c.revenue_weighted {
        s.push_str(
            "Each snapshot is weighted by its revenue: the fit maximises the revenue-weighted likelihood, so the weights \
             rank the accounts that carry the revenue; the cross-validation, holdout, bootstrap and tier figures are \
             revenue-weighted, and the cross-validation is shown unweighted as well.\n\n",
        );
    }
    if !c.warnings.is_empty() {
        s.push_str("## Warnings\n\n");
        for w in &c.warnings {
            s.push_str(&format!("- {}\n", md_cell(&warning(w))));
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
    if let Some(u) = &c.cross_validation_unweighted {
        s.push_str(&comparison_table(u));
        s.push('\n');
    }
    if let Some(r) = &c.revenue_comparison {
        s.push_str(&revenue_comparison(c, r));
    }
    match (&c.holdout, &c.holdout_note) {
        (Some(h), _) => {
            s.push_str(&comparison_table(h));
            s.push('\n');
        }
        (None, Some(n)) => s.push_str(&format!("No out-of-time holdout: {}.\n\n", md_cell(n))),
        _ => {}
    }
    s.push_str("## Tiers of the calibrated profile\n\n");
    let revenue = c.tiers.iter().any(|t| t.revenue.is_some());
    s.push_str(
        "On the fitting data, every snapshot with an outcome; rates with Wilson 95 % intervals",
    );
    if revenue {
        s.push_str("; revenue churn rates (churned revenue / revenue) with 95 % intervals by linearisation, accounts as clusters");
    }
    s.push_str(".\n\n| tier | min score | snapshots | churned | churn rate | 95 % interval |");
    if revenue {
        s.push_str(" revenue | churned revenue | revenue churn rate | 95 % interval |");
    }
    s.push_str("\n|---|---:|---:|---:|---:|---|");
    if revenue {
        s.push_str("---:|---:|---:|---|");
    }
    s.push('\n');
    for t in &c.tiers {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} – {} |",
            md_cell(&t.tier),
            f(t.min, 1),
            t.snapshots,
            t.churned,
            pct(t.rate),
            pct(t.rate_ci[0]),
            pct(t.rate_ci[1])
        ));
        if let Some(r) = &t.revenue {
            s.push_str(&format!(
                " {} | {} | {} | {} – {} |",
                super::analysis::money(r.revenue),
                super::analysis::money(r.churned),
                pct(r.rate),
                pct(r.rate_ci[0]),
                pct(r.rate_ci[1])
            ));
        }
        s.push('\n');
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
    let mut calibration = serde_json::to_value(c).expect("the calibration serialises");
    let fields = calibration
        .as_object_mut()
        .expect("a struct serialises to an object");
    fields.insert("verdict".into(), json!(verdict(c)));
    let warnings: Vec<String> = c.warnings.iter().map(warning).collect();
    fields.insert("warnings".into(), json!(warnings));
    let v = json!({
        "data": ctx.data,
        "dates": ctx.dates.as_ref().map(|(a, b)| json!({"first": a, "last": b})),
        "profile_file": ctx.profile_file,
        "calibration": calibration,
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
