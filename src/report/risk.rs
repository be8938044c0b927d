//! Revenue at risk in words and pictures: the table by tier and segment (Markdown, CSV,
//! JSON), expected churned revenue by tier with its intervals (and the observed revenue
//! when the date's outcomes are known), and each tier's expected survival curve.

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;
use serde_json::json;

use super::analysis::money;
use super::calibration::md_cell;
use super::chart::{canvas, clip, text, whisker, y_grid, GRID, INK, MUTED};
use super::churn_charts::hex;
use crate::analysis::risk::{RevenueAtRisk, RiskGroup};

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1} %", 100.0 * v)
    } else {
        "–".into()
    }
}

/// The period's length in words.
fn period(r: &RevenueAtRisk) -> String {
    if r.period_days.is_finite() {
        format!("{:.0} days", r.period_days)
    } else {
        "one period".into()
    }
}

/// Observed against expected, overall, in one sentence (none without outcomes).
pub fn verdict(r: &RevenueAtRisk) -> Option<String> {
    let all = r.groups.iter().find(|g| g.by == "all")?;
    let o = all.observed?;
    let outside: Vec<String> = r
        .groups
        .iter()
        .filter(|g| g.within() == Some(false))
        .map(|g| format!("{} {}", g.by, g.label))
        .collect();
    Some(format!(
        "Churned revenue on {}: observed {} against {} expected (95 % prediction interval {} – {}): {}{}.",
        r.at,
        money(o),
        money(all.expected),
        money(all.predicted[0]),
        money(all.predicted[1]),
        if all.within() == Some(true) {
            "inside"
        } else {
            "OUTSIDE"
        },
        if outside.is_empty() {
            "; every group inside its interval".to_string()
        } else {
            format!(
                "; {} of {} groups outside theirs ({})",
                outside.len(),
                r.groups.len(),
                outside.join(", ")
            )
        }
    ))
}

/// The report a person reads.
pub fn markdown(r: &RevenueAtRisk, data: &str, profile: &str) -> String {
    let mut s = format!(
        "# Revenue at risk on {}\n\nProfile `{}`, data `{}`: {} accounts' snapshots on {}, the churn expected within the next period ({}).\n\n",
        r.at,
        md_cell(profile),
        md_cell(data),
        r.accounts,
        r.at,
        period(r)
    );
    if let Some(v) = verdict(r) {
        s.push_str(&format!("**{}**\n\n", md_cell(&v)));
    }
    s.push_str(&format!(
        "*Expected* is Σ P(churn) × revenue. Its interval is the calibration's uncertainty: the profile's score refitted to the outcomes \
         of the {} snapshots before {} on {} bootstrap resamples of accounts, each moving the profile's intercept and slope. \
         The *prediction interval* adds chance (which accounts churn), the range the observed revenue should fall in 95 times in 100.{}\n\n",
        r.history_rows,
        r.at,
        r.bootstrap,
        if r.bootstrap == 0 {
            " With no bootstrap (or no outcomes before the date) the intervals are for chance alone."
        } else {
            ""
        }
    ));
    s.push_str("| by | group | accounts | revenue | expected churned revenue | 95 % interval | prediction interval | expected churned accounts |");
    if r.checked {
        s.push_str(" observed revenue | observed accounts | inside |");
    }
    s.push_str("\n|---|---|---:|---:|---:|---|---|---:|");
    if r.checked {
        s.push_str("---:|---:|---|");
    }
    s.push('\n');
    for g in &r.groups {
        s.push_str(&row(g, r.checked));
    }
    s.push_str(&format!(
        "\n## Expected survival by tier\n\nIf each account kept its current churn probability per period ({}), the share still a customer after t periods is \
         the mean of (1 − p)^t over the tier's accounts; the expected lifetime is the mean number of periods survived within the next {} (restricted mean).\n\n\
         | tier | accounts | churn per period | after 1 | after 4 | after {} | expected lifetime (periods) |\n|---|---:|---:|---:|---:|---:|---:|\n",
        period(r),
        r.survival.first().map_or(0, |t| t.curve.len() - 1),
        r.survival.first().map_or(0, |t| t.curve.len() - 1),
    ));
    for t in &r.survival {
        let at = |k: usize| t.curve.get(k).copied().unwrap_or(f64::NAN);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} |\n",
            md_cell(&t.tier),
            t.accounts,
            pct(t.hazard),
            pct(at(1)),
            pct(at(4)),
            pct(at(t.curve.len() - 1)),
            t.lifetime_periods
        ));
    }
    s
}

fn row(g: &RiskGroup, checked: bool) -> String {
    let mut s = format!(
        "| {} | {} | {} | {} | {} | {} – {} | {} – {} | {:.1} |",
        md_cell(&g.by),
        md_cell(&g.label),
        g.accounts,
        money(g.revenue),
        money(g.expected),
        money(g.expected_ci[0]),
        money(g.expected_ci[1]),
        money(g.predicted[0]),
        money(g.predicted[1]),
        g.expected_accounts
    );
    if checked {
        s.push_str(&format!(
            " {} | {} | {} |",
            g.observed.map_or("–".into(), money),
            g.observed_accounts.map_or("–".into(), |n| n.to_string()),
            match g.within() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            }
        ));
    }
    s.push('\n');
    s
}

/// One row per group.
pub fn csv(r: &RevenueAtRisk) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "by",
        "group",
        "accounts",
        "revenue",
        "expected",
        "expected_lo",
        "expected_hi",
        "predicted_lo",
        "predicted_hi",
        "expected_accounts",
        "observed",
        "observed_accounts",
        "inside",
    ]);
    for g in &r.groups {
        let _ = w.write_record([
            g.by.clone(),
            g.label.clone(),
            g.accounts.to_string(),
            format!("{:.2}", g.revenue),
            format!("{:.2}", g.expected),
            format!("{:.2}", g.expected_ci[0]),
            format!("{:.2}", g.expected_ci[1]),
            format!("{:.2}", g.predicted[0]),
            format!("{:.2}", g.predicted[1]),
            format!("{:.3}", g.expected_accounts),
            g.observed.map_or(String::new(), |v| format!("{v:.2}")),
            g.observed_accounts.map_or(String::new(), |v| v.to_string()),
            g.within().map_or(String::new(), |v| v.to_string()),
        ]);
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8")
}

/// The machine-readable result with its verdict.
pub fn json(r: &RevenueAtRisk) -> String {
    let mut v = serde_json::to_value(r).expect("serialises");
    v["verdict"] = json!(verdict(r));
    serde_json::to_string_pretty(&v).expect("serialises") + "\n"
}

const BAR: RGBColor = RGBColor(230, 81, 0);
const OBSERVED: RGBColor = RGBColor(21, 101, 192);

/// Expected churned revenue per tier: a bar, its prediction interval, and a dot for the
/// observed revenue when known.
pub fn tiers_svg(r: &RevenueAtRisk, colors: &[String]) -> String {
    let tiers: Vec<&RiskGroup> = r.groups.iter().filter(|g| g.by == "tier").collect();
    let (w, h) = (900i32, 480i32);
    let (left, right, top, bottom) = (110i32, 40i32, 90i32, 70i32);
    let max = tiers
        .iter()
        .flat_map(|g| [g.predicted[1], g.observed.unwrap_or(0.0), g.expected])
        .fold(1.0f64, f64::max);
    let mag = 10f64.powf(max.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| max / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let y_max = (max / step).ceil() * step;
    let plot_h = (h - top - bottom) as f64;
    let ys = |v: f64| h - bottom - (v.clamp(0.0, y_max) / y_max * plot_h).round() as i32;
    let slot = (w - left - right) / tiers.len().max(1) as i32;
    let subtitle = format!(
        "{} accounts on {}, next {} · bar: expected · line: 95 % prediction interval{}",
        r.accounts,
        r.at,
        period(r),
        if r.checked { " · dot: observed" } else { "" }
    );
    canvas(
        w as u32,
        h as u32,
        "Revenue at risk by tier",
        (&subtitle, 120),
        |root| {
            y_grid(root, (left, w - right), y_max, step, &ys, &|v| money(v));
            for (t, g) in tiers.iter().enumerate() {
                let x0 = left + t as i32 * slot;
                let cx = x0 + slot / 2;
                let color = colors.get(t).map_or(BAR, |c| hex(c));
                let _ = root.draw(&Rectangle::new(
                    [(cx - slot / 4, ys(g.expected)), (cx + slot / 4, ys(0.0))],
                    color.mix(0.85).filled(),
                ));
                whisker(root, cx, (ys(g.predicted[0]), ys(g.predicted[1])), 8);
                if let Some(o) = g.observed {
                    let _ = root.draw(&Circle::new((cx, ys(o)), 6, OBSERVED.filled()));
                }
                let _ = root.draw(&Text::new(
                    clip(&g.label, 22),
                    (cx, h - bottom + 18),
                    text(13, &INK, HPos::Center),
                ));
                let _ = root.draw(&Text::new(
                    format!("{} accounts", g.accounts),
                    (cx, h - bottom + 36),
                    text(11, &MUTED, HPos::Center),
                ));
            }
            let _ = root.draw(&PathElement::new(
                vec![(left, ys(0.0)), (w - right, ys(0.0))],
                INK.stroke_width(1),
            ));
        },
    )
}

/// Each tier's expected survival over the periods ahead.
pub fn survival_svg(r: &RevenueAtRisk, colors: &[String]) -> String {
    let (w, h) = (900i32, 480i32);
    let (left, right, top, bottom) = (70i32, 190i32, 80i32, 60i32);
    let periods = r.survival.first().map_or(1, |t| t.curve.len() - 1).max(1);
    let plot_w = (w - left - right) as f64;
    let plot_h = (h - top - bottom) as f64;
    let xs = |k: f64| left + (k / periods as f64 * plot_w).round() as i32;
    let ys = |v: f64| h - bottom - (v.clamp(0.0, 1.0) * plot_h).round() as i32;
    let subtitle = format!(
        "share of each tier's accounts still customers, if each kept its churn probability per period ({})",
        period(r)
    );
    canvas(
        w as u32,
        h as u32,
        "Expected survival by tier",
        (&subtitle, 120),
        |root| {
            y_grid(root, (left, w - right), 1.0, 0.2, &ys, &|v| {
                format!("{:.0} %", 100.0 * v)
            });
            let tick = if periods > 10 { 4 } else { 1 };
            for k in (0..=periods).step_by(tick) {
                let _ = root.draw(&PathElement::new(
                    vec![(xs(k as f64), h - bottom), (xs(k as f64), h - bottom + 4)],
                    GRID.stroke_width(1),
                ));
                let _ = root.draw(&Text::new(
                    k.to_string(),
                    (xs(k as f64), h - bottom + 16),
                    text(12, &MUTED, HPos::Center),
                ));
            }
            let _ = root.draw(&Text::new(
                "periods ahead",
                (left + plot_w as i32 / 2, h - bottom + 38),
                text(13, &INK, HPos::Center),
            ));
            for (t, s) in r.survival.iter().enumerate() {
                let color = colors.get(t).map_or(BAR, |c| hex(c));
                let pts: Vec<(i32, i32)> = s
                    .curve
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| (xs(k as f64), ys(v)))
                    .collect();
                let _ = root.draw(&PathElement::new(pts.clone(), color.stroke_width(3)));
                let end = *pts.last().expect("a curve");
                let _ = root.draw(&Text::new(
                    format!(
                        "{} {:.0} %",
                        clip(&s.tier, 16),
                        100.0 * s.curve.last().copied().unwrap_or(f64::NAN)
                    ),
                    (end.0 + 8, end.1),
                    text(12, &INK, HPos::Left),
                ));
            }
        },
    )
}
