//! SVG charts drawn with plotters' SVG backend: pure functions from results to SVG text.
//!
//! Charts share one look: a title, axis labels with units, a legend, readable at 100 % zoom.
//! Text that came from data (metric and group names) is escaped for XML by plotters' SVG
//! backend, which a test checks.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::calibrate::MetricResult;

/// The charts' one look: font and ink colours, shared by every chart module.
pub(crate) const FONT: &str = "sans-serif";
pub(crate) const INK: RGBColor = RGBColor(33, 33, 33);
pub(crate) const MUTED: RGBColor = RGBColor(97, 97, 97);
pub(crate) const GRID: RGBColor = RGBColor(224, 224, 224);
const PRIOR: RGBColor = RGBColor(176, 190, 197);
const CALIBRATED: RGBColor = RGBColor(21, 101, 192);
const DATA: RGBColor = RGBColor(230, 81, 0);

/// Shorten a label to `max` characters with an ellipsis.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max - 1).collect();
        format!("{t}…")
    }
}

/// Text of `size` in `color`, anchored horizontally at `h` and centred vertically.
pub(crate) fn text(size: u32, color: &RGBColor, h: HPos) -> TextStyle<'_> {
    TextStyle::from((FONT, size).into_font())
        .color(color)
        .pos(Pos::new(h, VPos::Center))
}

/// A white `w × h` SVG canvas with the charts' title and subtitle (clipped to
/// `subtitle_max` characters); `draw` adds the rest. Returns the SVG text.
pub(crate) fn canvas(
    w: u32,
    h: u32,
    title: &str,
    (subtitle, subtitle_max): (&str, usize),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>),
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = root.draw(&Text::new(
            clip(title, 80),
            (20, 24),
            text(18, &INK, HPos::Left),
        ));
        let _ = root.draw(&Text::new(
            clip(subtitle, subtitle_max),
            (20, 48),
            text(12, &MUTED, HPos::Left),
        ));
        draw(&root);
        let _ = root.present();
    }
    svg
}

/// A vertical interval whisker at `x` from pixel `lo` to `hi`, with caps `half` wide.
pub(crate) fn whisker(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    x: i32,
    (lo, hi): (i32, i32),
    half: i32,
) {
    for seg in [
        vec![(x, lo), (x, hi)],
        vec![(x - half, lo), (x + half, lo)],
        vec![(x - half, hi), (x + half, hi)],
    ] {
        let _ = root.draw(&PathElement::new(seg, INK.stroke_width(1)));
    }
}

/// A horizontal interval whisker at height `y` from pixel `lo` to `hi`, with caps `half`
/// high, in `color`.
pub(crate) fn whisker_h(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    y: i32,
    (lo, hi): (i32, i32),
    half: i32,
    color: &RGBColor,
) {
    for seg in [
        vec![(lo, y), (hi, y)],
        vec![(lo, y - half), (lo, y + half)],
        vec![(hi, y - half), (hi, y + half)],
    ] {
        let _ = root.draw(&PathElement::new(seg, color.stroke_width(1)));
    }
}

/// The weight axis for values up to `max_v`: its end (a multiple of the step) and its step
/// (5 points, or 10 beyond 50).
pub(crate) fn weight_scale(max_v: f64) -> (f64, f64) {
    let step = if max_v > 50.0 { 10.0 } else { 5.0 };
    ((max_v / step).ceil() * step, step)
}

/// Vertical grid lines from pixel `top` to `bottom` with whole-number labels below, for
/// values 0..=`max` in `step`s.
pub(crate) fn x_grid(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    (top, bottom): (i32, i32),
    (max, step): (f64, f64),
    xs: &dyn Fn(f64) -> i32,
) {
    let mut v = 0.0;
    while v <= max + 1e-9 {
        let x = xs(v);
        let _ = root.draw(&PathElement::new(
            vec![(x, top), (x, bottom)],
            GRID.stroke_width(1),
        ));
        let _ = root.draw(&Text::new(
            format!("{v:.0}"),
            (x, bottom + 14),
            text(12, &MUTED, HPos::Center),
        ));
        v += step;
    }
}

/// Horizontal grid lines with labels from `fmt`, for values 0..=`max` in `step`s.
pub(crate) fn y_grid(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    span: (i32, i32),
    max: f64,
    step: f64,
    ys: &dyn Fn(f64) -> i32,
    fmt: &dyn Fn(f64) -> String,
) {
    y_grid_labelled(root, span, (max, step), ys, fmt, (8, 12));
}

/// [`y_grid`] with its labels `gap` pixels left of the grid in `size`-point text.
pub(crate) fn y_grid_labelled(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    (left, right): (i32, i32),
    (max, step): (f64, f64),
    ys: &dyn Fn(f64) -> i32,
    fmt: &dyn Fn(f64) -> String,
    (gap, size): (i32, u32),
) {
    let mut v = 0.0;
    while v <= max + 1e-12 {
        let y = ys(v);
        let _ = root.draw(&PathElement::new(
            vec![(left, y), (right, y)],
            GRID.stroke_width(1),
        ));
        let _ = root.draw(&Text::new(
            fmt(v),
            (left - gap, y),
            text(size, &MUTED, HPos::Right),
        ));
        v += step;
    }
}

/// Prior vs calibrated weights with bootstrap intervals, grouped by dimension.
pub fn weights_svg(title: &str, metrics: &[MetricResult]) -> String {
    // Group metrics in order of first appearance of their group.
    let mut groups: Vec<Option<String>> = Vec::new();
    for m in metrics {
        if !groups.contains(&m.group) {
            groups.push(m.group.clone());
        }
    }
    let has_groups = groups.iter().any(|g| g.is_some());
    let row_h = 38i32;
    let head_h = if has_groups { 26 } else { 0 };
    let (left, right, top, bottom) = (250i32, 130i32, 78i32, 58i32);
    let width = 980i32;
    let height = top + bottom + metrics.len() as i32 * row_h + groups.len() as i32 * head_h;
    let max_v = metrics
        .iter()
        .flat_map(|m| [m.prior_weight, m.weight, m.weight_ci[1]])
        .filter(|v| v.is_finite())
        .fold(10.0f64, f64::max);
    let (x_max, step) = weight_scale(max_v);
    let plot_w = (width - left - right) as f64;
    let xs = |v: f64| left + (v.clamp(0.0, x_max) / x_max * plot_w).round() as i32;

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
        weights_legend(&root, width - right - 420, (width - right + 12, top - 12));

        let plot_bottom = height - bottom;
        // Grid and x axis
        x_grid(&root, (top - 6, plot_bottom), (x_max, step), &xs);
        let _ = root.draw(&PathElement::new(
            vec![(left, plot_bottom), (width - right, plot_bottom)],
            MUTED.stroke_width(1),
        ));
        let _ = root.draw(&Text::new(
            "weight (points out of 100)",
            (left + plot_w as i32 / 2, plot_bottom + 36),
            text(13, &INK, HPos::Center),
        ));

        let mut y = top;
        for g in &groups {
            if has_groups {
                let label = g.as_deref().unwrap_or("(no group)");
                let _ = root.draw(&Text::new(
                    clip(label, 40),
                    (12, y + head_h / 2),
                    TextStyle::from((FONT, 13).into_font().style(FontStyle::Bold))
                        .color(&INK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ));
                y += head_h;
            }
            for m in metrics.iter().filter(|m| &m.group == g) {
                weight_row(&root, m, y + row_h / 2, left, width - right + 12, &xs);
                y += row_h;
            }
        }
        let _ = root.present();
    }
    svg
}

/// The weights chart's legend, from `lx`, and the heading of its value column at `value_at`.
fn weights_legend(root: &DrawingArea<SVGBackend<'_>, Shift>, lx: i32, value_at: (i32, i32)) {
    let _ = root.draw(&Rectangle::new([(lx, 46), (lx + 18, 56)], PRIOR.filled()));
    let _ = root.draw(&Text::new(
        "prior",
        (lx + 24, 51),
        text(13, &INK, HPos::Left),
    ));
    let _ = root.draw(&Rectangle::new(
        [(lx + 80, 46), (lx + 98, 56)],
        CALIBRATED.filled(),
    ));
    let _ = root.draw(&Text::new(
        "calibrated",
        (lx + 104, 51),
        text(13, &INK, HPos::Left),
    ));
    let _ = root.draw(&PathElement::new(
        vec![(lx + 190, 51), (lx + 214, 51)],
        DATA.stroke_width(1),
    ));
    let _ = root.draw(&PathElement::new(
        vec![(lx + 190, 47), (lx + 190, 55)],
        DATA.stroke_width(1),
    ));
    let _ = root.draw(&PathElement::new(
        vec![(lx + 214, 47), (lx + 214, 55)],
        DATA.stroke_width(1),
    ));
    let _ = root.draw(&Circle::new((lx + 202, 51), 4, DATA.filled()));
    let _ = root.draw(&Text::new(
        "data alone, 95 % bootstrap interval",
        (lx + 220, 51),
        text(13, &INK, HPos::Left),
    ));
    let _ = root.draw(&Text::new(
        "prior → calibrated",
        value_at,
        text(11, &MUTED, HPos::Left),
    ));
}

/// One metric's row of the weights chart at height `cy`: its name, prior and calibrated
/// bars, the data-alone weight with its interval, and "prior → calibrated" at `value_x`.
fn weight_row(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    m: &MetricResult,
    cy: i32,
    left: i32,
    value_x: i32,
    xs: &impl Fn(f64) -> i32,
) {
    let _ = root.draw(&Text::new(
        clip(&m.name, 34),
        (left - 10, cy),
        text(13, &INK, HPos::Right),
    ));
    let _ = root.draw(&Rectangle::new(
        [(xs(0.0), cy - 12), (xs(m.prior_weight), cy - 4)],
        PRIOR.filled(),
    ));
    let _ = root.draw(&Rectangle::new(
        [(xs(0.0), cy - 2), (xs(m.weight), cy + 6)],
        CALIBRATED.filled(),
    ));
    let dy = cy + 12;
    if m.weight_ci[0].is_finite() && m.weight_ci[1].is_finite() {
        let (a, b) = (xs(m.weight_ci[0]), xs(m.weight_ci[1]));
        let _ = root.draw(&PathElement::new(
            vec![(a, dy), (b, dy)],
            DATA.stroke_width(1),
        ));
        let _ = root.draw(&PathElement::new(
            vec![(a, dy - 4), (a, dy + 4)],
            DATA.stroke_width(1),
        ));
        let _ = root.draw(&PathElement::new(
            vec![(b, dy - 4), (b, dy + 4)],
            DATA.stroke_width(1),
        ));
    }
    if m.ml_weight.is_finite() {
        let _ = root.draw(&Circle::new((xs(m.ml_weight), dy), 4, DATA.filled()));
    }
    let label = format!("{:.1} → {:.1}", m.prior_weight, m.weight);
    let _ = root.draw(&Text::new(label, (value_x, cy), text(12, &INK, HPos::Left)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, group: Option<&str>, p: f64, w: f64) -> MetricResult {
        MetricResult {
            name: name.into(),
            group: group.map(Into::into),
            prior_weight: p,
            weight: w,
            weight_int: w.round() as u32,
            ml_weight: w,
            weight_ci: [w * 0.5, w * 1.5],
            unstable: false,
            coefficient: 1.0,
            coefficient_ci: [0.5, 1.5],
            coefficient_se: 0.25,
            direction_conflict: false,
        }
    }

    #[test]
    fn weights_chart_is_well_formed_and_escapes_names() {
        let svg = weights_svg(
            "Weights <prior> & calibrated",
            &[
                m("NPS <survey>", Some("relationship & trust"), 30.0, 20.0),
                m("Usage", Some("usage"), 70.0, 80.0),
            ],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("NPS &lt;survey&gt;"));
        assert!(svg.contains("relationship &amp; trust"));
        assert!(!svg.contains("<survey>"));
        assert!(!svg.contains("NaN"));
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 2 + 4,
            "background, legend, bars"
        );
    }
}
