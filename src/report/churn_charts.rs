//! SVG charts of churn analysis: churn across health tiers (bars with Wilson whiskers in the
//! profile's tier colours), metric cohorts (small multiples), and retention curves.
//!
//! Same look as [`super::chart`]: a title, labelled axes with units, legends, readable at
//! 100 % zoom; text from data is escaped by plotters' SVG backend.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{canvas, clip, text, y_grid, y_grid_labelled, FONT, GRID, INK, MUTED};

use crate::analysis::metric_cohorts::MetricCohort;
use crate::analysis::survival::Retention;
use crate::analysis::tiers::GroupRow;

const LINE: RGBColor = RGBColor(21, 101, 192);
const OVERALL: RGBColor = RGBColor(120, 120, 120);

/// `#rrggbb` to a colour (grey when malformed).
pub(crate) fn hex(c: &str) -> RGBColor {
    let h = c.trim_start_matches('#');
    let p = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    if h.len() == 6 {
        RGBColor(p(0), p(2), p(4))
    } else {
        RGBColor(128, 128, 128)
    }
}

/// A "nice" axis maximum and step for values up to `max`.
pub(crate) fn nice_axis(max: f64, ticks: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / ticks;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

pub(crate) fn pct(v: f64) -> String {
    if v == 0.0 {
        "0 %".into()
    } else if v >= 0.01 {
        format!("{:.1} %", 100.0 * v)
    } else {
        format!("{:.2} %", 100.0 * v)
    }
}

/// Churn rate per group (tier or band), best first left to right, with Wilson 95 %
/// whiskers, the group's size under its name, and the overall rate as a dashed line.
pub fn churn_bars_svg(title: &str, subtitle: &str, rows: &[GroupRow], overall: f64) -> String {
    let (width, height) = (900i32, 520i32);
    let (left, right, top, bottom) = (80i32, 110i32, 86i32, 96i32);
    let hi_max = rows
        .iter()
        .flat_map(|r| [r.count.ci[1], r.count.rate])
        .filter(|v| v.is_finite())
        .fold(overall.max(0.0), f64::max);
    let (y_max, step) = nice_axis(hi_max * 1.08, 5.0);
    let plot_h = (height - top - bottom) as f64;
    let ys = |v: f64| top + ((1.0 - v.clamp(0.0, y_max) / y_max) * plot_h).round() as i32;
    let n = rows.len().max(1) as i32;
    let slot = (width - left - right) / n;
    let bar_w = (slot as f64 * 0.56) as i32;

    canvas(
        width as u32,
        height as u32,
        title,
        (subtitle, 120),
        |root| {
            // grid and y axis
            y_grid(root, (left, width - right), y_max, step, &ys, &|v| pct(v));
            let _ = root.draw(&Text::new(
                "churn rate",
                (20, top - 16),
                text(12, &INK, HPos::Left),
            ));
            for (i, r) in rows.iter().enumerate() {
                let cx = left + slot * i as i32 + slot / 2;
                let color = hex(&r.color);
                if r.count.units > 0 {
                    let _ = root.draw(&Rectangle::new(
                        [
                            (cx - bar_w / 2, ys(r.count.rate)),
                            (cx + bar_w / 2, ys(0.0)),
                        ],
                        color.filled(),
                    ));
                    let (lo, hi) = (ys(r.count.ci[0]), ys(r.count.ci[1]));
                    super::chart::whisker(root, cx, (lo, hi), 7);
                    let _ = root.draw(&Text::new(
                        pct(r.count.rate),
                        (cx + 10, hi - 10),
                        text(13, &INK, HPos::Left),
                    ));
                }
                let _ = root.draw(&Text::new(
                    clip(&r.label, 22),
                    (cx, height - bottom + 18),
                    text(13, &INK, HPos::Center),
                ));
                let _ = root.draw(&Text::new(
                    format!("{} of {} churned", r.count.churned, r.count.units),
                    (cx, height - bottom + 38),
                    text(11, &MUTED, HPos::Center),
                ));
                let _ = root.draw(&Text::new(
                    format!("{:.0} % of churners", 100.0 * r.count.churn_share),
                    (cx, height - bottom + 54),
                    text(11, &MUTED, HPos::Center),
                ));
            }
            if overall.is_finite() {
                let y = ys(overall);
                let mut x = left;
                while x < width - right {
                    let _ = root.draw(&PathElement::new(
                        vec![(x, y), ((x + 6).min(width - right), y)],
                        OVERALL.stroke_width(1),
                    ));
                    x += 10;
                }
                let _ = root.draw(&Text::new(
                    format!("overall {}", pct(overall)),
                    (width - right + 6, y),
                    text(11, &MUTED, HPos::Left),
                ));
            }
            let _ = root.draw(&PathElement::new(
                vec![(left, ys(0.0)), (width - right, ys(0.0))],
                MUTED.stroke_width(1),
            ));
            let _ = root.draw(&Text::new(
                "bars: churn rate; whiskers: Wilson 95 % interval",
                (width - right, height - 12),
                text(11, &MUTED, HPos::Right),
            ));
        },
    )
}

/// Metric cohorts as small multiples: churn rate per bin against the bin's mean value
/// (numeric metrics) or per label (text metrics), with Wilson whiskers.
pub fn metric_cohorts_svg(title: &str, cohorts: &[MetricCohort], overall: f64) -> String {
    let cols = 3i32;
    let (pw, ph) = (320i32, 230i32);
    let rows_n = (cohorts.len() as i32 + cols - 1) / cols;
    let (width, head) = (cols * pw + 20, 70i32);
    let height = head + rows_n.max(1) * ph + 20;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw(&Text::new(
            clip(title, 90),
            (20, 24),
            text(18, &INK, HPos::Left),
        ));
        let _ = root.draw(&Text::new(
            "churn rate per decile bin of each metric (x: the bin's mean value); whiskers: Wilson 95 %; dashed: overall rate; red title: non-monotone or against the profile's direction",
            (20, 48),
            text(11, &MUTED, HPos::Left),
        ));
        for (i, mc) in cohorts.iter().enumerate() {
            let (c, r) = (i as i32 % cols, i as i32 / cols);
            let (x0, y0) = (10 + c * pw, head + r * ph);
            metric_panel(&root, mc, (x0, y0), (pw, ph), overall);
        }
        let _ = root.present();
    }
    svg
}

/// One metric's panel of [`metric_cohorts_svg`], its corner at `(x0, y0)`, `(pw, ph)` in
/// size: churn per bin with whiskers, the overall rate dashed, the value range below.
fn metric_panel(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    mc: &MetricCohort,
    (x0, y0): (i32, i32),
    (pw, ph): (i32, i32),
    overall: f64,
) {
    let (l, rt, t, b) = (x0 + 52, x0 + pw - 14, y0 + 30, y0 + ph - 40);
    let flag = !mc.monotone || mc.direction_conflict;
    let title_color = if flag { RGBColor(198, 40, 40) } else { INK };
    let _ = root.draw(&Text::new(
        clip(&mc.metric, 38),
        (x0 + 8, y0 + 12),
        TextStyle::from((FONT, 13).into_font().style(FontStyle::Bold))
            .color(&title_color)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ));
    let bins: Vec<_> = mc.bins.iter().filter(|b| b.count.units > 0).collect();
    let y_top = bins
        .iter()
        .map(|b| b.count.ci[1])
        .filter(|v| v.is_finite())
        .fold(overall.max(0.0), f64::max);
    let (y_max, step) = nice_axis(y_top * 1.05, 4.0);
    let ys = |v: f64| b - ((v.clamp(0.0, y_max) / y_max) * (b - t) as f64).round() as i32;
    y_grid_labelled(root, (l, rt), (y_max, step), &ys, &|v| pct(v), (5, 10));
    // x: bin mean for numeric metrics, evenly spaced otherwise (and for the
    // missing bin, set apart at the right).
    let numeric: Vec<_> = bins.iter().filter(|b| b.mean.is_finite()).collect();
    let (xmin, xmax) = numeric
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, b| {
            (a.0.min(b.mean), a.1.max(b.mean))
        });
    let has_missing = bins.iter().any(|b| !b.mean.is_finite());
    let span_r = if has_missing && !numeric.is_empty() {
        rt - 36
    } else {
        rt
    };
    let nb = bins.len().max(1) as i32;
    let mut pts: Vec<(i32, i32)> = Vec::new();
    for (j, bin) in bins.iter().enumerate() {
        let x = if !numeric.is_empty() && bin.mean.is_finite() {
            if xmax > xmin {
                l + 8
                    + (((bin.mean - xmin) / (xmax - xmin)) * (span_r - l - 16) as f64).round()
                        as i32
            } else {
                (l + span_r) / 2
            }
        } else if !numeric.is_empty() {
            rt - 12
        } else {
            l + (rt - l) * (2 * j as i32 + 1) / (2 * nb)
        };
        let y = ys(bin.count.rate);
        let (lo, hi) = (ys(bin.count.ci[0]), ys(bin.count.ci[1]));
        let _ = root.draw(&PathElement::new(
            vec![(x, lo), (x, hi)],
            MUTED.stroke_width(1),
        ));
        let _ = root.draw(&Circle::new((x, y), 3, LINE.filled()));
        if bin.mean.is_finite() {
            pts.push((x, y));
        } else {
            let _ = root.draw(&Text::new(
                if numeric.is_empty() {
                    clip(&bin.label, 10)
                } else {
                    "n/a".into()
                },
                (x, b + 12),
                text(9, &MUTED, HPos::Center),
            ));
        }
    }
    if pts.len() > 1 {
        let _ = root.draw(&PathElement::new(pts, LINE.stroke_width(2)));
    }
    if overall.is_finite() {
        let y = ys(overall);
        let mut x = l;
        while x < rt {
            let _ = root.draw(&PathElement::new(
                vec![(x, y), ((x + 4).min(rt), y)],
                OVERALL.stroke_width(1),
            ));
            x += 8;
        }
    }
    let _ = root.draw(&PathElement::new(
        vec![(l, b), (rt, b)],
        MUTED.stroke_width(1),
    ));
    if !numeric.is_empty() {
        let fmt = |v: f64| {
            if v.abs() >= 10.0 || v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        };
        let _ = root.draw(&Text::new(
            fmt(xmin),
            (l + 8, b + 12),
            text(10, &MUTED, HPos::Center),
        ));
        let _ = root.draw(&Text::new(
            fmt(xmax),
            (span_r - 8, b + 12),
            text(10, &MUTED, HPos::Center),
        ));
    }
    let _ = root.draw(&Text::new(
        clip(
            &format!("{} ({:?})", mc.column, mc.trend).to_lowercase(),
            44,
        ),
        ((l + rt) / 2, b + 28),
        text(10, &MUTED, HPos::Center),
    ));
}

/// Kaplan–Meier retention curves with Greenwood 95 % bands, time in months.
pub fn retention_svg(title: &str, r: &Retention) -> String {
    let (width, height) = (900i32, 540i32);
    let (left, right, top, bottom) = (70i32, 200i32, 96i32, 60i32);
    let curves: Vec<_> = r.curves.iter().filter(|c| !c.points.is_empty()).collect();
    let t_max_days = curves
        .iter()
        .filter_map(|c| c.points.last().map(|p| p.t))
        .fold(30.0f64, f64::max);
    let (x_max, x_step) = nice_axis(t_max_days / 30.4375, 6.0);
    let y_min = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.ci[0]))
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::min);
    let y_lo = ((y_min - 0.02) * 10.0).floor().max(0.0) / 10.0;
    let (pw, ph) = (
        (width - left - right) as f64,
        (height - top - bottom) as f64,
    );
    let xs = |days: f64| left + ((days / 30.4375).min(x_max) / x_max * pw).round() as i32;
    let ys = |s: f64| top + ((1.0 - (s.max(y_lo) - y_lo) / (1.0 - y_lo)) * ph).round() as i32;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw(&Text::new(
            clip(title, 80),
            (20, 24),
            text(18, &INK, HPos::Left),
        ));
        let _ = root.draw(&Text::new(
            clip(
                &format!(
                    "Kaplan–Meier, time from {}; censored at {}",
                    r.origin, r.censored_at
                ),
                150,
            ),
            (20, 46),
            text(11, &MUTED, HPos::Left),
        ));
        let mut v = y_lo;
        while v <= 1.0 + 1e-9 {
            let y = ys(v);
            let _ = root.draw(&PathElement::new(
                vec![(left, y), (width - right, y)],
                GRID.stroke_width(1),
            ));
            let _ = root.draw(&Text::new(
                format!("{:.0} %", 100.0 * v),
                (left - 8, y),
                text(12, &MUTED, HPos::Right),
            ));
            v += 0.1;
        }
        let mut m = 0.0;
        while m <= x_max + 1e-9 {
            let x = xs(m * 30.4375);
            let _ = root.draw(&Text::new(
                format!("{m:.0}"),
                (x, height - bottom + 14),
                text(12, &MUTED, HPos::Center),
            ));
            m += x_step;
        }
        let _ = root.draw(&Text::new(
            "months",
            (left + pw as i32 / 2, height - bottom + 36),
            text(13, &INK, HPos::Center),
        ));
        let _ = root.draw(&Text::new(
            "bands: Greenwood 95 %; each curve drawn while at least 10 accounts are at risk",
            (20, 64),
            text(11, &MUTED, HPos::Left),
        ));
        let _ = root.draw(&Text::new(
            "accounts retained",
            (20, top - 16),
            text(12, &INK, HPos::Left),
        ));
        for (i, c) in curves.iter().enumerate() {
            let color = hex(&c.color);
            // band as a step polygon
            let mut upper: Vec<(i32, i32)> = Vec::new();
            let mut lower: Vec<(i32, i32)> = Vec::new();
            let mut line: Vec<(i32, i32)> = Vec::new();
            let mut prev: Option<&crate::analysis::survival::KmPoint> = None;
            for p in &c.points {
                let x = xs(p.t);
                if let Some(q) = prev {
                    line.push((x, ys(q.survival)));
                    upper.push((x, ys(q.ci[1])));
                    lower.push((x, ys(q.ci[0])));
                }
                line.push((x, ys(p.survival)));
                upper.push((x, ys(p.ci[1])));
                lower.push((x, ys(p.ci[0])));
                prev = Some(p);
            }
            let mut poly = upper.clone();
            poly.extend(lower.iter().rev());
            let _ = root.draw(&Polygon::new(poly, color.mix(0.12).filled()));
            let _ = root.draw(&PathElement::new(line, color.stroke_width(2)));
            let ly = top + 10 + i as i32 * 36;
            let lx = width - right + 16;
            let _ = root.draw(&PathElement::new(
                vec![(lx, ly), (lx + 22, ly)],
                color.stroke_width(3),
            ));
            let _ = root.draw(&Text::new(
                clip(&c.label, 20),
                (lx + 28, ly),
                text(12, &INK, HPos::Left),
            ));
            let _ = root.draw(&Text::new(
                format!("{} accounts, {} churned", c.accounts, c.churned),
                (lx + 28, ly + 15),
                text(10, &MUTED, HPos::Left),
            ));
        }
        let suppressed = r.curves.iter().filter(|c| c.suppressed).count();
        if suppressed > 0 {
            let _ = root.draw(&Text::new(
                format!("{suppressed} cohort(s) under the minimum size not drawn"),
                (width - right + 16, height - bottom),
                text(10, &MUTED, HPos::Left),
            ));
        }
        let _ = root.draw(&PathElement::new(
            vec![(left, ys(y_lo)), (width - right, ys(y_lo))],
            MUTED.stroke_width(1),
        ));
        let _ = root.present();
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ChurnCount;

    #[test]
    fn bars_escape_labels_and_draw_one_bar_per_group() {
        let row = |label: &str, k: usize, n: usize| {
            let mut count = ChurnCount {
                units: n,
                accounts: n,
                churned: k,
                ..Default::default()
            };
            count.finish(10, 0.05);
            GroupRow {
                label: label.into(),
                from: 0.0,
                to: 100.0,
                color: "#2e7d32".into(),
                count,
                snapshots: n,
                mean_score: 50.0,
                predicted: None,
            }
        };
        let svg = churn_bars_svg(
            "Churn <tiers>",
            "sub & title",
            &[row("good & <b>", 1, 100), row("bad", 9, 100)],
            0.05,
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("good &amp; &lt;b&gt;"));
        assert!(!svg.contains("<b>"));
        assert!(!svg.contains("NaN"));
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 2,
            "background and two bars"
        );
    }

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(0.073, 5.0), (0.08, 0.02));
        assert_eq!(nice_axis(0.0, 5.0), (1.0, 0.2));
    }
}
