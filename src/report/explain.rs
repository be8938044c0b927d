//! Words and pictures for [`Explanation`]: the portfolio's mean change as a waterfall of its
//! metrics, the tier migration, and the accounts that moved most.

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;

use super::chart::{canvas, clip, text, GRID, INK, MUTED};
use crate::data::{parse, Snapshots};
use crate::explain::attribution::Method;
use crate::explain::Explanation;

const UP: RGBColor = RGBColor(46, 125, 50);
const DOWN: RGBColor = RGBColor(198, 40, 40);
const TOTAL: RGBColor = RGBColor(21, 101, 192);

/// Bars the waterfall shows before it folds the smallest metrics into one.
const MAX_BARS: usize = 12;

/// The mean score then and now over the accounts whose change was split.
pub fn mean_scores(ex: &Explanation) -> (f64, f64) {
    let (mut a, mut b, mut n) = (0.0, 0.0, 0usize);
    for c in &ex.changes {
        if matches!(c.method, Method::Linear | Method::Shapley { .. }) {
            a += c.score[0];
            b += c.score[1];
            n += 1;
        }
    }
    let n = n.max(1) as f64;
    (a / n, b / n)
}

/// The metrics' mean contributions, largest first, the smallest folded into "other
/// metrics" past [`MAX_BARS`].
fn bars(ex: &Explanation) -> Vec<(String, f64)> {
    let mut m: Vec<(String, f64)> = ex
        .metrics
        .iter()
        .cloned()
        .zip(ex.mean_by_metric.iter().copied())
        .collect();
    m.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    if m.len() > MAX_BARS {
        let rest: f64 = m[MAX_BARS - 1..].iter().map(|(_, v)| v).sum();
        let folded = m.len() - (MAX_BARS - 1);
        m.truncate(MAX_BARS - 1);
        m.push((format!("{folded} other metrics"), rest));
    }
    m
}

/// The mean score's change as a waterfall: each metric's mean contribution in turn, from 0
/// to the total change.
pub fn waterfall_svg(ex: &Explanation) -> String {
    let bars = bars(ex);
    let (then, now) = mean_scores(ex);
    let rows = bars.len() + 1;
    let (w, row_h, top, left, right) = (760u32, 30i32, 80i32, 210i32, 700i32);
    let h = (top + row_h * rows as i32 + 70) as u32;
    let title = format!(
        "Why the mean score moved, {} → {}",
        parse::format_day(ex.from),
        parse::format_day(ex.to)
    );
    let subtitle = format!(
        "{:.1} → {:.1} over {} accounts: each metric's mean points, exact per account",
        then,
        now,
        ex.changes.len() - ex.unexplained
    );
    canvas(w, h, &title, (&subtitle, 110), |root| {
        let mut cum = 0.0f64;
        let mut lo = 0.0f64;
        let mut hi = 0.0f64;
        for (_, v) in &bars {
            cum += v;
            lo = lo.min(cum);
            hi = hi.max(cum);
        }
        let span = (hi - lo).max(1e-9);
        let (lo, hi) = (lo - 0.08 * span, hi + 0.08 * span);
        let xs = |v: f64| left + ((v - lo) / (hi - lo) * (right - left) as f64).round() as i32;
        let bottom = top + row_h * rows as i32;
        // Grid: about five steps of a round size.
        let raw = (hi - lo) / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let mut g = (lo / step).ceil() * step;
        while g <= hi {
            let x = xs(g);
            let ink = if g.abs() < step * 1e-9 { MUTED } else { GRID };
            let _ = root.draw(&PathElement::new(
                vec![(x, top - 6), (x, bottom)],
                ink.stroke_width(1),
            ));
            let label = if g.abs() < step * 1e-9 {
                "0".to_string()
            } else {
                format!("{g:+.2}")
            };
            let _ = root.draw(&Text::new(
                label,
                (x, bottom + 14),
                text(11, &MUTED, HPos::Center),
            ));
            g += step;
        }
        let _ = root.draw(&Text::new(
            "score points (mean over accounts)".to_string(),
            ((left + right) / 2, bottom + 36),
            text(12, &INK, HPos::Center),
        ));
        let mut cum = 0.0;
        for (k, (name, v)) in bars.iter().enumerate() {
            let y = top + row_h * k as i32;
            let (a, b) = (cum, cum + v);
            cum = b;
            let color = if *v >= 0.0 { UP } else { DOWN };
            let (x0, x1) = (xs(a.min(b)), xs(a.max(b)).max(xs(a.min(b)) + 1));
            let _ = root.draw(&Rectangle::new(
                [(x0, y + 6), (x1, y + row_h - 6)],
                color.filled(),
            ));
            if k + 1 < bars.len() {
                let _ = root.draw(&PathElement::new(
                    vec![(xs(b), y + row_h - 6), (xs(b), y + row_h + 6)],
                    MUTED.stroke_width(1),
                ));
            }
            let _ = root.draw(&Text::new(
                clip(name, 30),
                (left - 10, y + row_h / 2),
                text(12, &INK, HPos::Right),
            ));
            let label_x = if *v >= 0.0 { x1 + 6 } else { x0 - 6 };
            let anchor = if *v >= 0.0 { HPos::Left } else { HPos::Right };
            let _ = root.draw(&Text::new(
                format!("{v:+.2}"),
                (label_x, y + row_h / 2),
                text(11, &MUTED, anchor),
            ));
        }
        let y = top + row_h * bars.len() as i32;
        let (x0, x1) = (xs(cum.min(0.0)), xs(cum.max(0.0)).max(xs(cum.min(0.0)) + 1));
        let _ = root.draw(&Rectangle::new(
            [(x0, y + 6), (x1, y + row_h - 6)],
            TOTAL.filled(),
        ));
        let _ = root.draw(&Text::new(
            "change of the mean score".to_string(),
            (left - 10, y + row_h / 2),
            text(12, &INK, HPos::Right),
        ));
        let (label_x, anchor) = if cum >= 0.0 {
            (x1 + 6, HPos::Left)
        } else {
            (x0 - 6, HPos::Right)
        };
        let _ = root.draw(&Text::new(
            format!("{cum:+.2}"),
            (label_x, y + row_h / 2),
            text(11, &INK, anchor),
        ));
    })
}

/// The portfolio view in Markdown: the mean change by metric (and by segment, for the
/// data's segment columns), the tier migration, and the ten accounts whose scores fell
/// most, with the metrics that moved them.
pub fn summary_md(ex: &Explanation, data: &Snapshots) -> String {
    let mut t = format!(
        "# What changed, {} → {}\n\n{}",
        parse::format_day(ex.from),
        parse::format_day(ex.to),
        portfolio_md(ex, Some("waterfall.svg"))
    );
    for seg in &data.segments {
        t.push_str(&by_segment(ex, seg));
    }
    t.push_str(&migration_md(ex));
    t.push_str(&falls_md(ex, &|a| data.account_name(a).into_owned()));
    t
}

/// The mean change and its split by metric, with the waterfall chart at `chart` (`None`:
/// the chart is placed by the caller).
pub fn portfolio_md(ex: &Explanation, chart: Option<&str>) -> String {
    let (then, now) = mean_scores(ex);
    let mut t = format!(
        "{} accounts scored at both dates: the mean score went from {then:.1} to {now:.1} ({:+.2}).",
        ex.changes.len(),
        ex.mean_change
    );
    if ex.only_before + ex.only_after > 0 {
        t.push_str(&format!(
            " {} accounts were snapshotted at the earlier date only, {} at the later only.",
            ex.only_before, ex.only_after
        ));
    }
    if ex.unexplained > 0 {
        t.push_str(&format!(
            " {} accounts have no score at one of the dates and are not split.",
            ex.unexplained
        ));
    }
    if let Some(s) = &ex.split {
        let n = s.profile_part.len().max(1) as f64;
        let part = |v: &[f64]| v.iter().filter(|x| x.is_finite()).sum::<f64>() / n;
        t.push_str(&format!(
            " Against the scores of '{}' at the earlier date, the profile's change accounts for {:+.2} points of the mean and the accounts' data for {:+.2}.",
            md(&s.previous),
            part(&s.profile_part),
            part(&s.data_part)
        ));
    }
    if let Some(chart) = chart {
        t.push_str(&format!("\n\n![Why the mean score moved]({chart})"));
    }
    t.push_str("\n\n## By metric\n\n| metric | mean points |\n|---|---:|\n");
    for (name, v) in bars(ex) {
        t.push_str(&format!("| {} | {v:+.3} |\n", md(&name)));
    }
    t
}

/// The tier migration table.
pub fn migration_md(ex: &Explanation) -> String {
    let mut t = String::from(
        "\n## Tier migration\n\nAccounts by tier then (rows) and now (columns).\n\n| then \\ now |",
    );
    for name in &ex.tiers {
        t.push_str(&format!(" {} |", md(name)));
    }
    t.push_str("\n|---|");
    t.push_str(&"---:|".repeat(ex.tiers.len()));
    t.push('\n');
    for (i, name) in ex.tiers.iter().enumerate() {
        t.push_str(&format!("| {} |", md(name)));
        for n in &ex.migration[i] {
            t.push_str(&format!(" {n} |"));
        }
        t.push('\n');
    }
    t
}

/// The ten largest falls with the metrics that moved them; `name` names an account.
pub fn falls_md(ex: &Explanation, name: &dyn Fn(u32) -> String) -> String {
    let n = ex.metrics.len();
    let mut t = String::from(
        "\n## The largest falls\n\n| account | then | now | change | what moved it |\n|---|---:|---:|---:|---|\n",
    );
    for i in ex.largest_falls(10) {
        let c = &ex.changes[i];
        let mut m: Vec<(usize, f64)> = (0..n).map(|k| (k, ex.contributions[i * n + k])).collect();
        m.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let moved: Vec<String> = m
            .iter()
            .take(3)
            .filter(|(_, v)| v.abs() >= 0.05)
            .map(|(k, v)| format!("{} {v:+.1}", md(&ex.metrics[*k])))
            .collect();
        t.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:+.1} | {} |\n",
            md(&name(c.account)),
            c.score[0],
            c.score[1],
            c.score[1] - c.score[0],
            moved.join(", ")
        ));
    }
    t
}

/// The mean change per value of a segment, with the metrics that moved it most.
fn by_segment(ex: &Explanation, seg: &crate::data::Segment) -> String {
    let n = ex.metrics.len();
    let mut t = format!(
        "\n## By {}\n\n| {} | accounts | mean change | largest mean contributions |\n|---|---:|---:|---|\n",
        md(&seg.name),
        md(&seg.name)
    );
    // Per label: accounts, summed change, summed contributions (the segment now).
    let mut sums = vec![(0usize, 0.0f64, vec![0.0f64; n]); seg.labels.len()];
    for (i, c) in ex.changes.iter().enumerate() {
        if !matches!(c.method, Method::Linear | Method::Shapley { .. }) {
            continue;
        }
        let Some(s) = sums.get_mut(seg.codes[c.rows[1]] as usize) else {
            continue;
        };
        s.0 += 1;
        s.1 += c.score[1] - c.score[0];
        for (acc, v) in s.2.iter_mut().zip(&ex.contributions[i * n..(i + 1) * n]) {
            *acc += v;
        }
    }
    let mean = |l: usize| sums[l].1 / sums[l].0 as f64;
    let mut order: Vec<usize> = (0..seg.labels.len()).filter(|&l| sums[l].0 > 0).collect();
    order.sort_by(|&a, &b| {
        mean(a)
            .total_cmp(&mean(b))
            .then(seg.labels[a].cmp(&seg.labels[b]))
    });
    for l in order {
        let (count, _, by) = &sums[l];
        let m = *count as f64;
        let mut top: Vec<(usize, f64)> = by.iter().map(|v| v / m).enumerate().collect();
        top.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|(k, v)| format!("{} {v:+.2}", md(&ex.metrics[*k])))
            .collect();
        t.push_str(&format!(
            "| {} | {count} | {:+.2} | {} |\n",
            md(&seg.labels[l]),
            mean(l),
            top.join(", ")
        ));
    }
    t
}

/// Text from data made safe in a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', " ")
}
