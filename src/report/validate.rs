//! The validation report: verdict table, discrimination, proper scores, calibration,
//! stability, migration and segments in Markdown and JSON; ROC curves and a reliability
//! diagram in SVG.

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;
use serde_json::json;

use super::analysis::ReportContext;
use super::calibration::md_cell;
use super::chart::{text, GRID, INK, MUTED};
use crate::validate::{Check, CheckKind, ModelEval, Status, Validation};

use super::fixed as f;

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", 100.0 * v)
    } else {
        "–".into()
    }
}

/// A check's kind in words.
pub fn kind_label(k: CheckKind) -> &'static str {
    match k {
        CheckKind::Defect => "model defect",
        CheckKind::BusinessRule => "business rule",
    }
}

/// The verdict table: check, kind, value, threshold, pass / warn / **FAIL**.
fn checks_table(checks: &[Check]) -> String {
    let mut s =
        String::from("| check | kind | value | threshold | verdict |\n|---|---|---|---|---|\n");
    for c in checks {
        let verdict = match c.status {
            Status::Fail => format!("**{}**", c.status.label()),
            other => other.label().to_string(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {verdict} |\n",
            md_cell(&c.check),
            kind_label(c.kind),
            md_cell(&c.value),
            md_cell(&c.threshold),
        ));
    }
    s
}

/// The checks with `status`, as a list of their names.
pub fn named(checks: &[Check], status: Status) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.check.clone())
        .collect()
}

fn model_rows(s: &mut String, m: &ModelEval) {
    let c = &m.calibration;
    s.push_str(&format!(
        "| {} | {} ({} – {}) | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) |\n",
        md_cell(&m.name),
        f(m.auc, 3),
        f(m.auc_ci[0], 3),
        f(m.auc_ci[1], 3),
        f(m.gini, 3),
        f(m.ks, 3),
        f(m.log_loss, 4),
        f(c.brier, 4),
        f(c.observed_expected, 3),
        f(c.intercept, 3),
        f(c.slope, 3),
        f(c.ece, 4),
        f(c.spiegelhalter_z, 2),
        if c.spiegelhalter_p < 0.0001 {
            "p < 0.0001".to_string()
        } else {
            format!("p = {}", f(c.spiegelhalter_p, 4))
        }
    ));
}

/// The validation report in Markdown.
pub fn markdown(v: &Validation, ctx: &ReportContext) -> String {
    let warned = named(&v.checks, Status::Warn);
    let verdict = if v.passed {
        format!(
            "**PASS**: `{}` may replace `{}`: no model defect.{}",
            md_cell(&v.candidate.name),
            md_cell(&v.incumbent.name),
            if warned.is_empty() {
                String::new()
            } else {
                format!(" To look at first: {}.", md_cell(&warned.join("; ")))
            }
        )
    } else {
        format!(
            "**FAIL**: `{}` must not replace `{}`: {} failed.",
            md_cell(&v.candidate.name),
            md_cell(&v.incumbent.name),
            md_cell(&named(&v.checks, Status::Fail).join("; "))
        )
    };
    let dates = ctx
        .dates
        .as_ref()
        .map_or(String::new(), |(a, b)| format!(", snapshots {a} to {b}"));
    let mut s = format!(
        "# Validation: `{}` (candidate) against `{}` (incumbent)\n\n{verdict}\n\nData: `{}`{dates}. {}. Validation: {} rows of {} accounts, {} churned; development: {} rows, {} churned.\n\n",
        md_cell(&v.candidate.name),
        md_cell(&v.incumbent.name),
        md_cell(&ctx.data),
        md_cell(&v.scheme),
        v.validation_rows,
        v.validation_accounts,
        v.validation_events,
        v.development_rows,
        v.development_events
    );
    s.push_str("## The gate\n\n");
    s.push_str(&checks_table(&v.checks));
    s.push_str("\nModel defects fail the gate; business rules warn unless the gate file lists them under `fail_on`. Thresholds: the defaults unless a gate file was given (the JSON lists those applied).\n");
    discrimination(&mut s, v);
    reliability(&mut s, v);
    lift(&mut s, v);
    stability(&mut s, v);
    segments(&mut s, v);
    optimism(&mut s, v);
    s
}

/// Both profiles' discrimination and calibration, and the paired differences.
fn discrimination(s: &mut String, v: &Validation) {
    s.push_str("\n## Discrimination and calibration on the validation rows\n\n| profile | AUC (DeLong 95 %) | Gini | KS | log-loss | Brier | observed / expected | calibration intercept | calibration slope | ECE | Spiegelhalter z |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    model_rows(s, &v.candidate);
    model_rows(s, &v.incumbent);
    s.push_str(&format!(
        "\nProbabilities: candidate from {}; incumbent from {}.\n\nΔAUC {:+.4} (95 % CI {:+.4} to {:+.4}, z = {}, p = {}; DeLong, paired). Δ log-loss {:+.5} (95 % CI {:+.5} to {:+.5}), Δ Brier {:+.5} (95 % CI {:+.5} to {:+.5}): paired bootstrap over {} resamples of validation accounts.\n",
        md_cell(&v.candidate.probabilities),
        md_cell(&v.incumbent.probabilities),
        v.delong.delta,
        v.delong.ci_delta[0],
        v.delong.ci_delta[1],
        f(v.delong.z, 2),
        f(v.delong.p, 4),
        v.delta_log_loss.delta,
        v.delta_log_loss.ci[0],
        v.delta_log_loss.ci[1],
        v.delta_brier.delta,
        v.delta_brier.ci[0],
        v.delta_brier.ci[1],
        v.bootstrap
    ));
}

/// Murphy's decomposition of the Brier score and the candidate's reliability bins.
fn reliability(s: &mut String, v: &Validation) {
    s.push_str("\n![ROC curves](roc.svg)\n\n## Brier decomposition (Murphy, over the reliability bins)\n\n| profile | Brier | reliability | resolution | uncertainty |\n|---|---:|---:|---:|---:|\n");
    for m in [&v.candidate, &v.incumbent] {
        let c = &m.calibration;
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            md_cell(&m.name),
            f(c.brier, 5),
            f(c.reliability, 5),
            f(c.resolution, 5),
            f(c.uncertainty, 5)
        ));
    }
    s.push_str("\nWith binned forecasts, reliability − resolution + uncertainty equals the Brier score up to the spread of forecasts within each bin.\n\n## Reliability (candidate)\n\n![reliability diagram](reliability.svg)\n\n| bin | rows | predicted | observed | 95 % CI |\n|---:|---:|---:|---:|---|\n");
    for (i, b) in v.candidate.calibration.bins.iter().enumerate() {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} – {} |\n",
            i + 1,
            b.n,
            pct(b.predicted),
            pct(b.observed),
            pct(b.ci[0]),
            pct(b.ci[1])
        ));
    }
}

/// Lift and capture by decile and at the candidate's tier cut-offs.
fn lift(s: &mut String, v: &Validation) {
    s.push_str("\n## Lift and capture\n\n| flagged | candidate lift | candidate capture | incumbent lift | incumbent capture |\n|---|---:|---:|---:|---:|\n");
    for (c, i) in v
        .candidate
        .lift_deciles
        .iter()
        .zip(&v.incumbent.lift_deciles)
    {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            md_cell(&c.flagged),
            f(c.lift, 2),
            pct(c.capture),
            f(i.lift, 2),
            pct(i.capture)
        ));
    }
    s.push_str("\nAt the candidate's tier cut-offs:\n\n| flagged | share | lift | capture |\n|---|---:|---:|---:|\n");
    for c in &v.candidate.lift_tiers {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            md_cell(&c.flagged),
            pct(c.share),
            f(c.lift, 2),
            pct(c.capture)
        ));
    }
}

/// The score's and the metrics' stability, and the tier migration.
fn stability(s: &mut String, v: &Validation) {
    s.push_str("\n## Stability\n\n");
    match v.psi {
        Some(p) => s.push_str(&format!(
            "Score PSI (candidate), development → validation: {} (< 0.10 stable, 0.10–0.25 investigate, ≥ 0.25 shifted).\n\n| metric | CSI |\n|---|---:|\n",
            f(p, 4)
        )),
        None => s.push_str("No out-of-time split: PSI not measured.\n"),
    }
    for (m, c) in &v.csi {
        s.push_str(&format!("| {} | {} |\n", md_cell(m), f(*c, 4)));
    }
    s.push_str("\n## Tier migration (validation accounts; rows: incumbent tier, columns: candidate tier)\n\n| incumbent \\ candidate |");
    for t in &v.candidate_tiers {
        s.push_str(&format!(" {} |", md_cell(t)));
    }
    s.push_str("\n|---|");
    for _ in &v.candidate_tiers {
        s.push_str("---:|");
    }
    s.push('\n');
    for (t, row) in v.incumbent_tiers.iter().zip(&v.migration) {
        s.push_str(&format!("| {} |", md_cell(t)));
        for n in row {
            s.push_str(&format!(" {n} |"));
        }
        s.push('\n');
    }
}

/// Per-segment figures and events per parameter.
fn segments(s: &mut String, v: &Validation) {
    if !v.segments.is_empty() {
        s.push_str("\n## Segments\n\n| segment | rows | churned | candidate AUC | incumbent AUC | candidate observed / expected |\n|---|---:|---:|---:|---:|---:|\n");
        for g in &v.segments {
            s.push_str(&format!(
                "| {} = {} | {} | {} | {} | {} | {} |\n",
                md_cell(&g.column),
                md_cell(&g.label),
                g.rows,
                g.events,
                f(g.auc_candidate, 3),
                f(g.auc_incumbent, 3),
                f(g.observed_expected, 3)
            ));
        }
    }
    s.push_str(&format!(
        "\nEvents per parameter (candidate, every scored row, as calibration counts them): {:.1}.\n",
        v.events_per_parameter
    ));
}

/// Harrell's optimism-corrected figures.
fn optimism(s: &mut String, v: &Validation) {
    match &v.optimism {
        Some(o) => {
            s.push_str(&format!(
                "\n## Optimism-corrected performance (Harrell)\n\n{} bootstrap replicates of accounts; each refits the candidate's weights at its own shrinkage λ = {} from its prior, and is scored on its own sample and on all {} scored rows.{}\n\n| | AUC | Brier | calibration slope |\n|---|---:|---:|---:|\n",
                o.replicates,
                super::calibration::lambda_label(o.lambda),
                o.rows,
                if o.not_converged > 0 {
                    format!(" {} refits stopped before converging.", o.not_converged)
                } else {
                    String::new()
                }
            ));
            for (name, x) in [
                ("apparent", o.apparent),
                ("optimism", o.optimism),
                ("corrected", o.corrected),
            ] {
                s.push_str(&format!(
                    "| {name} | {} | {} | {} |\n",
                    f(x.auc, 4),
                    f(x.brier, 5),
                    f(x.slope, 3)
                ));
            }
        }
        None => s.push_str("\nOptimism correction: not computed (the candidate carries no calibration block from `churncal calibrate`, or --optimism-bootstrap 0).\n"),
    }
}

/// The quarter-by-quarter report of one live profile, in Markdown.
pub fn monitor_markdown(m: &crate::validate::monitor::Monitor, ctx: &ReportContext) -> String {
    let dates = ctx
        .dates
        .as_ref()
        .map_or(String::new(), |(a, b)| format!(", snapshots {a} to {b}"));
    let mut s = format!(
        "# Live profile `{}`, quarter by quarter\n\n{}\n\nData: `{}`{dates}. Probabilities from {}. PSI against {}.\n\n| quarter | rows | churned | AUC (DeLong 95 %) | log-loss | Brier | observed / expected | calibration slope | ECE | tiers monotone | smallest tier | score PSI |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|\n",
        md_cell(&m.profile),
        if m.passed {
            "**PASS** on the latest quarter with churn."
        } else {
            "**FAIL** on the latest quarter with churn."
        },
        md_cell(&ctx.data),
        md_cell(&m.probabilities),
        md_cell(&m.reference)
    );
    for q in &m.quarters {
        s.push_str(&format!(
            "| {} | {} | {} | {} ({} – {}) | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            q.quarter,
            q.rows,
            q.events,
            f(q.auc, 3),
            f(q.auc_ci[0], 3),
            f(q.auc_ci[1], 3),
            f(q.log_loss, 4),
            f(q.brier, 4),
            f(q.observed_expected, 3),
            f(q.slope, 3),
            f(q.ece, 4),
            if q.tiers_monotone { "yes" } else { "**no**" },
            pct(q.min_tier_share),
            f(q.psi, 4)
        ));
    }
    s.push_str("\nThe latest quarters churn less when their outcomes are still open (right-censored or not yet labelled); read their calibration with that in mind.\n\n");
    s.push_str(&checks_table(&m.checks));
    s
}

/// The monitoring report as JSON.
pub fn monitor_json(m: &crate::validate::monitor::Monitor, ctx: &ReportContext) -> String {
    let mut s = serde_json::to_string_pretty(&json!({ "context": ctx, "monitor": m }))
        .expect("JSON value serialises");
    s.push('\n');
    s
}

/// The validation as JSON.
pub fn json(v: &Validation, ctx: &ReportContext) -> String {
    let mut s = serde_json::to_string_pretty(&json!({ "context": ctx, "validation": v }))
        .expect("JSON value serialises");
    s.push('\n');
    s
}

const CAND: RGBColor = RGBColor(21, 101, 192);
const INC: RGBColor = RGBColor(230, 81, 0);

/// A square unit plot with a title, axis labels and a legend; `draw` adds the content in
/// unit coordinates mapped by the given closure.
fn unit_plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    legend: &[(String, RGBColor)],
    tick: &dyn Fn(f64) -> String,
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>, &dyn Fn(f64, f64) -> (i32, i32)),
) -> String {
    let (w, h) = (720i32, 600i32);
    let (l, r, t, b) = (70i32, 30i32, 60i32, 110i32);
    let side = (w - l - r).min(h - t - b);
    let map = move |x: f64, y: f64| {
        (
            l + (x.clamp(0.0, 1.0) * side as f64).round() as i32,
            t + ((1.0 - y.clamp(0.0, 1.0)) * side as f64).round() as i32,
        )
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw(&Text::new(
            title.to_string(),
            (20, 26),
            text(17, &INK, HPos::Left),
        ));
        for i in 0..=10 {
            let v = i as f64 / 10.0;
            let (x, _) = map(v, 0.0);
            let (_, y) = map(0.0, v);
            let _ = root.draw(&PathElement::new(
                vec![map(v, 0.0), map(v, 1.0)],
                GRID.stroke_width(1),
            ));
            let _ = root.draw(&PathElement::new(
                vec![map(0.0, v), map(1.0, v)],
                GRID.stroke_width(1),
            ));
            if i % 2 == 0 {
                let _ = root.draw(&Text::new(
                    tick(v),
                    (x, t + side + 14),
                    text(11, &MUTED, HPos::Center),
                ));
                let _ = root.draw(&Text::new(
                    tick(v),
                    (l - 8, y),
                    text(11, &MUTED, HPos::Right),
                ));
            }
        }
        let _ = root.draw(&Text::new(
            x_label.to_string(),
            (l + side / 2, t + side + 36),
            text(13, &INK, HPos::Center),
        ));
        let _ = root.draw(&Text::new(
            y_label.to_string(),
            (20, t - 14),
            text(13, &INK, HPos::Left),
        ));
        draw(&root, &map);
        for (i, (name, color)) in legend.iter().enumerate() {
            let y = t + side + 62 + 18 * i as i32;
            let _ = root.draw(&PathElement::new(
                vec![(l, y), (l + 24, y)],
                color.stroke_width(3),
            ));
            let _ = root.draw(&Text::new(
                name.clone(),
                (l + 32, y),
                text(12, &INK, HPos::Left),
            ));
        }
        let _ = root.present();
    }
    svg
}

/// ROC curves of both profiles on the validation rows.
pub fn roc_svg(v: &Validation) -> String {
    let legend = [
        (
            format!(
                "candidate '{}': AUC {:.3}",
                v.candidate.name, v.candidate.auc
            ),
            CAND,
        ),
        (
            format!(
                "incumbent '{}': AUC {:.3}",
                v.incumbent.name, v.incumbent.auc
            ),
            INC,
        ),
    ];
    unit_plot(
        "ROC curves on the validation rows",
        "false-positive rate (retained accounts flagged)",
        "true-positive rate (churners flagged)",
        &legend,
        &|v| format!("{v:.1}"),
        |root, map| {
            let _ = root.draw(&PathElement::new(
                vec![map(0.0, 0.0), map(1.0, 1.0)],
                MUTED.stroke_width(1),
            ));
            for (m, c) in [(&v.incumbent, INC), (&v.candidate, CAND)] {
                let pts: Vec<(i32, i32)> = m.roc.iter().map(|&(x, y)| map(x, y)).collect();
                let _ = root.draw(&PathElement::new(pts, c.stroke_width(2)));
            }
        },
    )
}

/// Reliability diagram of the candidate: observed against predicted churn per bin, with
/// Wilson intervals and each bin's count; axes scaled to the data.
pub fn reliability_svg(v: &Validation) -> String {
    let bins = &v.candidate.calibration.bins;
    let top = bins
        .iter()
        .flat_map(|b| [b.predicted, b.ci[1]])
        .filter(|x| x.is_finite())
        .fold(0.01f64, f64::max);
    // axis maximum: a whole percentage under 10 %, else a multiple of 5 %
    let scale = if top * 1.1 < 0.1 {
        (top * 1.1 * 100.0).ceil() / 100.0
    } else {
        ((top * 1.1) * 20.0).ceil() / 20.0
    }
    .min(1.0);
    let n_per_bin = bins.first().map_or(0, |b| b.n);
    let legend = [(
        format!(
            "candidate '{}': {} equal-count bins of ~{n_per_bin} rows; ECE {:.4}, slope {:.2}, O/E {:.2}",
            v.candidate.name,
            bins.len(),
            v.candidate.calibration.ece,
            v.candidate.calibration.slope,
            v.candidate.calibration.observed_expected
        ),
        CAND,
    )];
    unit_plot(
        "Reliability of the candidate's probabilities",
        "predicted churn (bin mean)",
        "observed churn rate; whiskers: Wilson 95 %",
        &legend,
        &|v| {
            let p = 100.0 * v * scale;
            if p.fract() == 0.0 {
                format!("{p:.0} %")
            } else {
                format!("{p:.1} %")
            }
        },
        |root, map| {
            let _ = root.draw(&PathElement::new(
                vec![map(0.0, 0.0), map(1.0, 1.0)],
                MUTED.stroke_width(1),
            ));
            let mut pts = Vec::new();
            for b in bins {
                let x = b.predicted / scale;
                let (p, lo, hi) = (
                    map(x, b.observed / scale),
                    map(x, b.ci[0] / scale),
                    map(x, b.ci[1] / scale),
                );
                let _ = root.draw(&PathElement::new(vec![lo, hi], MUTED.stroke_width(1)));
                let _ = root.draw(&Circle::new(p, 4, CAND.filled()));
                pts.push(p);
            }
            let _ = root.draw(&PathElement::new(pts, CAND.stroke_width(1)));
        },
    )
}
