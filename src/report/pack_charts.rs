//! The report pack's remaining charts: score distribution of churned vs retained accounts,
//! cumulative gains of two profiles, heatmaps (cohort × tier churn, tier migration), and the
//! score trend per quarter.
//!
//! Same look as [`super::chart`]; text from data is escaped by plotters' SVG backend, and
//! every chart has sensible output for empty input (a "no data" note, never NaN
//! coordinates).

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::chart::{canvas, clip, text, y_grid, GRID, INK, MUTED};
use super::churn_charts::{nice_axis, pct};
use crate::analysis::cohorts::CohortTable;
use crate::analysis::tiers::TrendRow;
use crate::validate::{ModelEval, Validation};

const RETAINED: RGBColor = RGBColor(120, 144, 156);
const CHURNED: RGBColor = RGBColor(198, 40, 40);
const CANDIDATE: RGBColor = RGBColor(21, 101, 192);
const INCUMBENT: RGBColor = RGBColor(230, 81, 0);

fn no_data(root: &DrawingArea<SVGBackend, plotters::coord::Shift>, w: i32, h: i32) {
    let _ = root.draw(&Text::new(
        "no data to show",
        (w / 2, h / 2),
        text(14, &MUTED, HPos::Center),
    ));
}

/// Share of churned and of retained accounts per 5-point score bin (each group sums to
/// 100 %): where the two distributions separate, the score discriminates.
pub fn score_distribution_svg(
    title: &str,
    subtitle: &str,
    churned: &[f64],
    retained: &[f64],
) -> String {
    let (width, height) = (900i32, 460i32);
    let (left, right, top, bottom) = (80i32, 30i32, 96i32, 64i32);
    const BINS: usize = 20;
    let hist = |v: &[f64]| {
        let mut h = [0f64; BINS];
        let mut n = 0f64;
        for &s in v.iter().filter(|s| s.is_finite()) {
            h[((s / 5.0).floor().max(0.0) as usize).min(BINS - 1)] += 1.0;
            n += 1.0;
        }
        if n > 0.0 {
            for x in h.iter_mut() {
                *x /= n;
            }
        }
        h
    };
    let (hc, hr) = (hist(churned), hist(retained));
    let max = hc.iter().chain(hr.iter()).fold(0f64, |a, &b| a.max(b));
    let (y_max, step) = nice_axis(max * 1.05, 5.0);
    let plot_h = (height - top - bottom) as f64;
    let ys = |v: f64| top + ((1.0 - v.clamp(0.0, y_max) / y_max) * plot_h).round() as i32;
    let slot = (width - left - right) / BINS as i32;
    canvas(
        width as u32,
        height as u32,
        title,
        (subtitle, 130),
        |root| {
            if churned.is_empty() && retained.is_empty() {
                no_data(root, width, height);
                return;
            }
            y_grid(root, (left, width - right), y_max, step, &ys, &|v| pct(v));
            let _ = root.draw(&Text::new(
                "share of the group",
                (20, top - 16),
                text(12, &INK, HPos::Left),
            ));
            for (i, (c, r)) in hc.iter().zip(&hr).enumerate() {
                let x0 = left + slot * i as i32;
                let bw = (slot - 4) / 2;
                let _ = root.draw(&Rectangle::new(
                    [(x0 + 2, ys(*r)), (x0 + 2 + bw, ys(0.0))],
                    RETAINED.filled(),
                ));
                let _ = root.draw(&Rectangle::new(
                    [(x0 + 2 + bw, ys(*c)), (x0 + 2 + 2 * bw, ys(0.0))],
                    CHURNED.filled(),
                ));
                if i % 2 == 0 {
                    let _ = root.draw(&Text::new(
                        format!("{}", i * 5),
                        (x0, height - bottom + 16),
                        text(12, &MUTED, HPos::Center),
                    ));
                }
            }
            let _ = root.draw(&Text::new(
                "100",
                (width - right, height - bottom + 16),
                text(12, &MUTED, HPos::Center),
            ));
            let _ = root.draw(&PathElement::new(
                vec![(left, ys(0.0)), (width - right, ys(0.0))],
                MUTED.stroke_width(1),
            ));
            let _ = root.draw(&Text::new(
                "health score (5-point bins)",
                ((left + width - right) / 2, height - 20),
                text(12, &INK, HPos::Center),
            ));
            let lx = width - right - 330;
            for (j, (label, color)) in [
                (format!("retained ({})", retained.len()), RETAINED),
                (format!("churned ({})", churned.len()), CHURNED),
            ]
            .into_iter()
            .enumerate()
            {
                let x = lx + 170 * j as i32;
                let _ = root.draw(&Rectangle::new(
                    [(x, top - 22), (x + 14, top - 10)],
                    color.filled(),
                ));
                let _ = root.draw(&Text::new(
                    label,
                    (x + 20, top - 16),
                    text(12, &INK, HPos::Left),
                ));
            }
        },
    )
}

/// Cumulative gains: the share of churners caught when flagging the riskiest x % of rows,
/// for the candidate and the incumbent, against random flagging (the diagonal).
pub fn gains_svg(
    title: &str,
    subtitle: &str,
    candidate: &ModelEval,
    incumbent: &ModelEval,
) -> String {
    let (width, height) = (640i32, 560i32);
    let (left, right, top, bottom) = (80i32, 30i32, 96i32, 64i32);
    let pw = (width - left - right) as f64;
    let ph = (height - top - bottom) as f64;
    let xs = |v: f64| left + (v.clamp(0.0, 1.0) * pw).round() as i32;
    let ys = |v: f64| top + ((1.0 - v.clamp(0.0, 1.0)) * ph).round() as i32;
    canvas(
        width as u32,
        height as u32,
        title,
        (subtitle, 130),
        |root| {
            y_grid(root, (left, width - right), 1.0, 0.2, &ys, &|v| {
                format!("{:.0} %", 100.0 * v)
            });
            for i in 0..=5 {
                let v = i as f64 / 5.0;
                let _ = root.draw(&PathElement::new(
                    vec![(xs(v), top), (xs(v), ys(0.0))],
                    GRID.stroke_width(1),
                ));
                let _ = root.draw(&Text::new(
                    format!("{:.0} %", 100.0 * v),
                    (xs(v), height - bottom + 16),
                    text(12, &MUTED, HPos::Center),
                ));
            }
            let _ = root.draw(&PathElement::new(
                vec![(xs(0.0), ys(0.0)), (xs(1.0), ys(1.0))],
                MUTED.stroke_width(1),
            ));
            let _ = root.draw(&Text::new(
                "share of churners caught",
                (20, top - 16),
                text(12, &INK, HPos::Left),
            ));
            let _ = root.draw(&Text::new(
                "share of rows flagged, riskiest first",
                ((left + width - right) / 2, height - 20),
                text(12, &INK, HPos::Center),
            ));
            // The incumbent first and wider, so that the candidate stays visible on top of it
            // where the curves coincide.
            for (j, m) in [incumbent, candidate].into_iter().enumerate() {
                let (color, width_px) = if j == 0 {
                    (INCUMBENT, 5)
                } else {
                    (CANDIDATE, 2)
                };
                let pts: Vec<(i32, i32)> = std::iter::once((xs(0.0), ys(0.0)))
                    .chain(
                        m.lift_deciles
                            .iter()
                            .filter(|r| r.share.is_finite() && r.capture.is_finite())
                            .map(|r| (xs(r.share), ys(r.capture))),
                    )
                    // Flagging every row catches every churner.
                    .chain(std::iter::once((xs(1.0), ys(1.0))))
                    .collect();
                let _ = root.draw(&PathElement::new(pts.clone(), color.stroke_width(width_px)));
                for p in &pts[1..pts.len() - 1] {
                    let _ = root.draw(&Circle::new(*p, 3, color.filled()));
                }
                // Legend in the empty corner under the diagonal.
                let y = ys(0.2) + 20 * (1 - j as i32);
                let lx = xs(0.45);
                let _ = root.draw(&PathElement::new(
                    vec![(lx, y), (lx + 22, y)],
                    color.stroke_width(3),
                ));
                let _ = root.draw(&Text::new(
                    clip(&format!("{} (AUC {:.3})", m.name, m.auc), 44),
                    (lx + 28, y),
                    text(12, &INK, HPos::Left),
                ));
            }
            let _ = root.draw(&Text::new(
                "diagonal: random flagging",
                (xs(0.45) + 28, ys(0.2) + 40),
                text(11, &MUTED, HPos::Left),
            ));
        },
    )
}

/// A cell of a heatmap: its shade in [0, 1] and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Colour intensity, 0 (white) to 1 (full); `None` draws an empty (hatched grey) cell.
    pub shade: Option<f64>,
    /// Text inside the cell.
    pub label: String,
}

/// A heatmap with row and column labels; `note` explains the shading under the grid.
pub fn heatmap_svg(
    title: &str,
    subtitle: &str,
    (row_title, col_title): (&str, &str),
    rows: &[String],
    cols: &[String],
    cells: &[Vec<Cell>],
    note: &str,
) -> String {
    let cell_w = 118i32;
    let cell_h = 34i32;
    let (left, top, bottom) = (230i32, 118i32, 56i32);
    let width = (left + cell_w * cols.len().max(1) as i32 + 30).max(640);
    let height = top + cell_h * rows.len().max(1) as i32 + bottom;
    canvas(
        width as u32,
        height as u32,
        title,
        (subtitle, 130),
        |root| {
            if rows.is_empty() || cols.is_empty() {
                no_data(root, width, height);
                return;
            }
            let _ = root.draw(&Text::new(
                clip(col_title, 60),
                (left, top - 46),
                text(12, &INK, HPos::Left),
            ));
            let _ = root.draw(&Text::new(
                clip(row_title, 30),
                (20, top - 18),
                text(12, &INK, HPos::Left),
            ));
            for (j, c) in cols.iter().enumerate() {
                let _ = root.draw(&Text::new(
                    clip(c, 16),
                    (left + cell_w * j as i32 + cell_w / 2, top - 18),
                    text(12, &INK, HPos::Center),
                ));
            }
            for (i, r) in rows.iter().enumerate() {
                let y0 = top + cell_h * i as i32;
                let _ = root.draw(&Text::new(
                    clip(r, 30),
                    (left - 10, y0 + cell_h / 2),
                    text(12, &INK, HPos::Right),
                ));
                for (j, cell) in cells
                    .get(i)
                    .map(|v| v.as_slice())
                    .unwrap_or(&[])
                    .iter()
                    .enumerate()
                    .take(cols.len())
                {
                    let x0 = left + cell_w * j as i32;
                    let (fill, ink) = match cell.shade.filter(|s| s.is_finite()) {
                        Some(s) => {
                            let s = s.clamp(0.0, 1.0);
                            let mix =
                                |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * s).round() as u8;
                            (
                                RGBColor(mix(255, 183), mix(255, 28), mix(255, 28)),
                                if s > 0.55 { WHITE } else { INK },
                            )
                        }
                        None => (RGBColor(238, 238, 238), MUTED),
                    };
                    let _ = root.draw(&Rectangle::new(
                        [(x0 + 1, y0 + 1), (x0 + cell_w - 1, y0 + cell_h - 1)],
                        fill.filled(),
                    ));
                    let _ = root.draw(&Text::new(
                        clip(&cell.label, 16),
                        (x0 + cell_w / 2, y0 + cell_h / 2),
                        text(12, &ink, HPos::Center),
                    ));
                }
            }
            let _ = root.draw(&Text::new(
                clip(note, 120),
                (20, height - 20),
                text(11, &MUTED, HPos::Left),
            ));
        },
    )
}

/// Quarter of a `YYYY-MM…` period label: `YYYY Qn` (the label itself when it has no month).
fn quarter(period: &str) -> String {
    match (
        period.get(0..4),
        period.get(5..7).and_then(|m| m.parse::<u32>().ok()),
    ) {
        (Some(y), Some(m)) if (1..=12).contains(&m) => format!("{y} Q{}", (m - 1) / 3 + 1),
        _ => period.to_string(),
    }
}

/// Mean score and snapshot churn rate per calendar quarter (snapshot-weighted over the
/// quarter's dates), two panels sharing the time axis.
pub fn score_trend_svg(title: &str, subtitle: &str, trend: &[TrendRow]) -> String {
    // Aggregate per quarter, in time order.
    let mut q: Vec<(String, f64, f64, f64)> = Vec::new(); // label, Σ n·score, n, churned
    for t in trend
        .iter()
        .filter(|t| t.snapshots > 0 && t.mean_score.is_finite())
    {
        let label = quarter(&t.period);
        let n = t.snapshots as f64;
        match q.last_mut() {
            Some(last) if last.0 == label => {
                last.1 += n * t.mean_score;
                last.2 += n;
                last.3 += t.churned as f64;
            }
            _ => q.push((label, n * t.mean_score, n, t.churned as f64)),
        }
    }
    let (width, height) = (900i32, 560i32);
    let (left, right, top, bottom) = (80i32, 40i32, 90i32, 60i32);
    let gap = 50i32;
    let panel = (height - top - bottom - gap) / 2;
    let n = q.len().max(1);
    let slot = (width - left - right) as f64 / n as f64;
    let xs = |i: usize| left + (slot * (i as f64 + 0.5)).round() as i32;
    canvas(
        width as u32,
        height as u32,
        title,
        (subtitle, 130),
        |root| {
            if q.is_empty() {
                no_data(root, width, height);
                return;
            }
            let scores: Vec<f64> = q.iter().map(|r| r.1 / r.2).collect();
            let rates: Vec<f64> = q.iter().map(|r| r.3 / r.2).collect();
            // Score panel: 0–100.
            let ys1 =
                |v: f64| top + ((1.0 - v.clamp(0.0, 100.0) / 100.0) * panel as f64).round() as i32;
            y_grid(root, (left, width - right), 100.0, 25.0, &ys1, &|v| {
                format!("{v:.0}")
            });
            let _ = root.draw(&Text::new(
                "mean health score",
                (20, top - 16),
                text(12, &INK, HPos::Left),
            ));
            let pts: Vec<(i32, i32)> = scores
                .iter()
                .enumerate()
                .map(|(i, &s)| (xs(i), ys1(s)))
                .collect();
            let _ = root.draw(&PathElement::new(pts.clone(), CANDIDATE.stroke_width(2)));
            for (p, s) in pts.iter().zip(&scores) {
                let _ = root.draw(&Circle::new(*p, 3, CANDIDATE.filled()));
                if n <= 12 {
                    let _ = root.draw(&Text::new(
                        format!("{s:.1}"),
                        (p.0, p.1 - 12),
                        text(11, &INK, HPos::Center),
                    ));
                }
            }
            // Churn panel.
            let top2 = top + panel + gap;
            let max = rates.iter().cloned().fold(0f64, f64::max);
            let (y_max, step) = nice_axis(max * 1.1, 4.0);
            let ys2 =
                |v: f64| top2 + ((1.0 - v.clamp(0.0, y_max) / y_max) * panel as f64).round() as i32;
            y_grid(root, (left, width - right), y_max, step, &ys2, &|v| pct(v));
            let _ = root.draw(&Text::new(
                "snapshot churn rate",
                (20, top2 - 16),
                text(12, &INK, HPos::Left),
            ));
            let bw = ((slot * 0.5) as i32).max(2);
            for (i, &r) in rates.iter().enumerate() {
                let _ = root.draw(&Rectangle::new(
                    [(xs(i) - bw / 2, ys2(r)), (xs(i) + bw / 2, ys2(0.0))],
                    CHURNED.filled(),
                ));
            }
            let every = n.div_ceil(12);
            for (i, r) in q.iter().enumerate() {
                if i % every == 0 {
                    let _ = root.draw(&Text::new(
                        r.0.clone(),
                        (xs(i), height - bottom + 16),
                        text(12, &MUTED, HPos::Center),
                    ));
                }
            }
            let _ = root.draw(&Text::new(
                "calendar quarter of the snapshot",
                ((left + width - right) / 2, height - 18),
                text(12, &INK, HPos::Center),
            ));
        },
    )
}

/// Churn per cohort (rows, riskiest first, at most 20) × tier (columns).
pub fn cohort_heatmap_svg(t: &CohortTable, tiers: &[String]) -> String {
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
    heatmap_svg(
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
pub fn migration_heatmap_svg(v: &Validation) -> String {
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
    heatmap_svg(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_of_periods() {
        assert_eq!(quarter("2025-01-31"), "2025 Q1");
        assert_eq!(quarter("2025-12"), "2025 Q4");
        assert_eq!(quarter("all"), "all");
    }

    #[test]
    fn empty_inputs_draw_a_note_not_nan() {
        for svg in [
            score_distribution_svg("t", "s", &[], &[]),
            score_trend_svg("t", "s", &[]),
            heatmap_svg("t", "s", ("r", "c"), &[], &[], &[], "n"),
        ] {
            assert!(svg.contains("no data to show"));
            assert!(!svg.contains("NaN") && !svg.contains("inf"));
        }
    }
}
