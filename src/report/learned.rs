//! Learned transforms in words and pictures: the out-of-fold comparison, each metric's bins
//! (edges, churn rate, points, information value) and a chart per metric of its points
//! against the churn rate of each bin.

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::calibration::md_cell;
use super::chart::{canvas, clip, text, whisker, y_grid, INK, MUTED};
use super::churn_charts::{nice_axis, pct};
use crate::learn::{Bin, LearnComparison, MetricBins};
use crate::profile::Direction;

const BAR: RGBColor = RGBColor(230, 81, 0);
const MISSING_BAR: RGBColor = RGBColor(176, 190, 197);
const POINTS: RGBColor = RGBColor(21, 101, 192);

/// A number as a reader wants it in a range: integral values without decimals, others
/// with the digits they have (edges are already rounded to the data's precision).
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The value range of a numeric bin, or its labels.
pub fn bin_label(b: &Bin) -> String {
    if !b.labels.is_empty() {
        return b.labels.join(", ");
    }
    match (b.from, b.to) {
        (None, None) => "all values".into(),
        (None, Some(t)) => format!("< {}", num(t)),
        (Some(f), None) => format!("≥ {}", num(f)),
        (Some(f), Some(t)) => format!("{} – < {}", num(f), num(t)),
    }
}

fn shape_word(m: &MetricBins) -> String {
    match m.shape {
        Some(s) => serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        None => "by label".into(),
    }
}

fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::HigherIsBetter => "higher is better",
        Direction::LowerIsBetter => "lower is better",
    }
}

/// Whether learning paid, in plain words: the learned and hand-written transforms'
/// out-of-fold AUC and log-loss side by side, and what to do.
pub fn verdict(c: &LearnComparison) -> String {
    let (Some(hand), Some(learned)) = (c.models.first(), c.models.get(1)) else {
        return String::new();
    };
    let binned = c.models.get(3).map_or(f64::NAN, |m| m.auc);
    let better = learned.log_loss < hand.log_loss && learned.auc >= hand.auc - 0.002;
    format!(
        "Out of fold, the learned transforms score AUC {:.3} and log-loss {:.4} against the hand-written ones' {:.3} and {:.4} (binned logistic regression, no readable profile: {:.3}). {}",
        learned.auc,
        learned.log_loss,
        hand.auc,
        hand.log_loss,
        binned,
        if better {
            "The learned profile predicts better: check it against the one in use with `churncal validate` before rollout."
        } else if c.events < 500 {
            "The learned profile does not predict better: keep the hand-written transforms (with more churn events that may change)."
        } else {
            "The learned profile does not predict better: keep the hand-written transforms."
        }
    )
}

/// The Markdown section of the calibration summary; `charts` names each metric's chart
/// file (same order as `metrics`, `None` for metrics left as written).
pub fn markdown(c: &LearnComparison, metrics: &[MetricBins], charts: &[Option<String>]) -> String {
    let mut s = String::from("## Learned transforms\n\n");
    s.push_str(&verdict(c));
    s.push_str("\n\n");
    s.push_str(&format!(
        "Out of sample ({}; {} rows, {} churned):\n\n| model | AUC | log-loss | a readable profile |\n|---|---:|---:|---|\n",
        c.scheme, c.rows, c.events
    ));
    for m in &c.models {
        s.push_str(&format!(
            "| {} | {:.4} | {:.5} | {} |\n",
            m.model,
            m.auc,
            m.log_loss,
            if m.readable { "yes" } else { "no" }
        ));
    }
    s.push('\n');
    s.push_str("| metric | was | bins | shape | IV | monotone as declared | missing | note |\n|---|---|---:|---|---:|---|---|---|\n");
    for m in metrics {
        if m.kind == "kept" {
            s.push_str(&format!(
                "| {} | {} | – | – | – | – | – | left as written |\n",
                md_cell(&m.metric),
                md_cell(&m.before)
            ));
            continue;
        }
        let note = if m.flipped {
            format!(
                "direction flipped to {} (G {:.1} against {:.1} as declared)",
                direction_word(m.direction),
                m.g_opposite,
                m.g_declared
            )
        } else if m.conflict {
            format!(
                "the data contradicts \"{}\" (G {:.1} for the opposite, {:.1} as declared); --flip-directions would flip it",
                direction_word(m.declared),
                m.g_opposite,
                m.g_declared
            )
        } else if m.bins.len() <= 1 {
            "no bins pass the constraints: one flat sub-score".into()
        } else {
            String::new()
        };
        let missing = m.missing.as_ref().map_or("none".to_string(), |mb| {
            format!(
                "{:.0} rows, {} churn; {}",
                mb.rows,
                pct(mb.churn_rate),
                mb.policy
            )
        });
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {} | {} | {} |\n",
            md_cell(&m.metric),
            md_cell(&m.before),
            m.bins.len(),
            shape_word(m),
            m.iv,
            if m.monotone { "yes" } else { "no" },
            md_cell(&missing),
            md_cell(&note)
        ));
    }
    s.push('\n');
    for (m, chart) in metrics.iter().zip(charts) {
        if m.kind == "kept" {
            continue;
        }
        s.push_str(&format!("### {}\n\n", md_cell(&m.metric)));
        if let Some(file) = chart {
            s.push_str(&format!("![{}]({})\n\n", md_cell(&m.metric), file));
        }
        s.push_str("| bin | rows | churned | churn rate | WoE | points |\n|---|---:|---:|---:|---:|---:|\n");
        for b in &m.bins {
            s.push_str(&format!(
                "| {} | {:.0} | {:.0} | {} | {:.3} | {:.1} |\n",
                md_cell(&bin_label(b)),
                b.rows,
                b.events,
                pct(b.churn_rate),
                b.woe,
                b.points
            ));
        }
        s.push('\n');
    }
    s
}

/// A learned metric's chart: churn rate per bin (bars, Wilson 95 % whiskers, the missing
/// values grey) and the bin's points (dots on the right-hand 0–100 axis).
pub fn bins_svg(m: &MetricBins) -> String {
    let mut bars: Vec<(String, f64, f64, Option<f64>, bool)> = m
        .bins
        .iter()
        .map(|b| (bin_label(b), b.rows, b.events, Some(b.points), false))
        .collect();
    if let Some(mb) = &m.missing {
        let pts = match mb.policy {
            crate::profile::Missing::Score(v) => Some(v),
            crate::profile::Missing::Neutral => Some(50.0),
            crate::profile::Missing::Worst => Some(0.0),
            _ => None,
        };
        bars.push(("missing".into(), mb.rows, mb.events, pts, true));
    }
    let n = bars.len().max(1) as i32;
    let (width, height) = ((220 + 120 * n).max(620), 460i32);
    let (left, right, top, bottom) = (80i32, 80i32, 86i32, 86i32);
    let ci = |e: f64, r: f64| crate::stats::wilson(e.round() as usize, r.round().max(1.0) as usize);
    let hi = bars.iter().map(|b| ci(b.2, b.1).1).fold(0.0f64, f64::max);
    let (y_max, step) = nice_axis(hi * 1.08, 5.0);
    let plot_h = (height - top - bottom) as f64;
    let ys = |v: f64| top + ((1.0 - v.clamp(0.0, y_max) / y_max) * plot_h).round() as i32;
    let yp = |p: f64| top + ((1.0 - p.clamp(0.0, 100.0) / 100.0) * plot_h).round() as i32;
    let slot = (width - left - right) / n;
    let bar_w = (slot as f64 * 0.5) as i32;
    let subtitle = format!(
        "{} ({}), {}; IV {:.3}{}",
        m.column,
        direction_word(m.direction),
        shape_word(m),
        m.iv,
        if m.flipped { "; direction flipped" } else { "" }
    );
    canvas(
        width as u32,
        height as u32,
        &format!("Learned points of '{}' against churn", clip(&m.metric, 50)),
        (&subtitle, 110),
        |root| {
            y_grid(root, (left, width - right), y_max, step, &ys, &|v| pct(v));
            let _ = root.draw(&Text::new(
                "churn rate",
                (20, top - 16),
                text(12, &INK, HPos::Left),
            ));
            let _ = root.draw(&Text::new(
                "points",
                (width - 20, top - 16),
                text(12, &POINTS, HPos::Right),
            ));
            for p in [0.0, 50.0, 100.0] {
                let _ = root.draw(&Text::new(
                    format!("{p:.0}"),
                    (width - right + 8, yp(p)),
                    text(12, &POINTS, HPos::Left),
                ));
            }
            let mut line = Vec::new();
            for (i, (label, rows, events, pts, missing)) in bars.iter().enumerate() {
                let cx = left + slot * i as i32 + slot / 2;
                let rate = if *rows > 0.0 { events / rows } else { 0.0 };
                let color = if *missing { MISSING_BAR } else { BAR };
                let _ = root.draw(&Rectangle::new(
                    [(cx - bar_w / 2, ys(rate)), (cx + bar_w / 2, ys(0.0))],
                    color.mix(0.85).filled(),
                ));
                let (lo, hi) = ci(*events, *rows);
                let (lo, hi) = (ys(lo), ys(hi));
                whisker(root, cx, (lo, hi), 6);
                let _ = root.draw(&Text::new(
                    pct(rate),
                    (cx - bar_w / 2 - 4, ys(rate) - 10),
                    text(12, &INK, HPos::Right),
                ));
                let _ = root.draw(&Text::new(
                    clip(label, 18),
                    (cx, height - bottom + 18),
                    text(12, &INK, HPos::Center),
                ));
                let _ = root.draw(&Text::new(
                    format!("{rows:.0} rows"),
                    (cx, height - bottom + 36),
                    text(11, &MUTED, HPos::Center),
                ));
                if let Some(p) = pts {
                    let y = yp(*p);
                    if !missing {
                        line.push((cx, y));
                    }
                    let _ = root.draw(&Circle::new((cx, y), 5, POINTS.filled()));
                    // Right of the bar, clear of the whiskers.
                    let _ = root.draw(&Text::new(
                        format!("{p:.0}"),
                        (cx + bar_w / 2 + 6, y - 10),
                        text(12, &POINTS, HPos::Left),
                    ));
                }
            }
            if line.len() > 1 {
                let _ = root.draw(&PathElement::new(line, POINTS.stroke_width(2)));
            }
            let _ = root.draw(&PathElement::new(
                vec![(left, ys(0.0)), (width - right, ys(0.0))],
                MUTED.stroke_width(1),
            ));
            let _ = root.draw(&Text::new(
                "bars: churn rate per bin, whiskers Wilson 95 %; dots: the bin's points (0–100)",
                (width - right, height - 14),
                text(11, &MUTED, HPos::Right),
            ));
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::{Bin, MetricBins};

    fn bins(label: &str) -> MetricBins {
        let bin = |labels: Vec<String>, points: f64| Bin {
            from: None,
            to: None,
            labels,
            rows: 100.0,
            events: 10.0,
            churn_rate: 0.1,
            woe: 0.0,
            iv: 0.0,
            points,
        };
        MetricBins {
            metric: format!("plan {label}"),
            column: label.into(),
            kind: "categories",
            declared: Direction::HigherIsBetter,
            direction: Direction::HigherIsBetter,
            shape: None,
            conflict: false,
            flipped: false,
            g_declared: 1.0,
            g_opposite: 0.0,
            iv: 0.1,
            monotone: true,
            bins: vec![
                bin(vec![label.into()], 0.0),
                bin(vec!["gold".into()], 100.0),
            ],
            missing: None,
            before: "categories (2 labels)".into(),
        }
    }

    #[test]
    fn labels_from_data_are_escaped_in_markdown_and_svg() {
        let evil = "<script>alert(1)</script>";
        let m = bins(evil);
        let c = LearnComparison {
            scheme: "test".into(),
            rows: 200,
            events: 20,
            models: Vec::new(),
        };
        let md = markdown(&c, std::slice::from_ref(&m), &[None]);
        assert!(!md.contains("<script>"), "{md}");
        assert!(md.contains("&lt;script&gt;"));
        let svg = bins_svg(&m);
        assert!(!svg.contains("<script>"), "{svg}");
    }
}
