//! A calibration by segment in words and pictures: the verdict, the pooled versus segmented
//! table out of fold, the likelihood-ratio test, the weights side by side (Markdown, JSON)
//! and the chart of each segment's weights with their intervals.

use plotters::prelude::*;
use plotters::style::text_anchor::HPos;
use serde_json::json;

use super::calibration::{lambda_text, md_cell};
use super::chart::{canvas, clip, text, weight_scale, whisker_h, x_grid, GRID, INK};
use crate::calibrate::{KeptPooled, SegmentComparison, Segmented};

fn f(v: f64, d: usize) -> String {
    if v.is_finite() {
        format!("{v:.d$}")
    } else {
        "–".into()
    }
}

/// Whether segmenting pays, in one sentence.
pub fn verdict(s: &Segmented) -> String {
    let own = s.segments.iter().filter(|g| g.own.is_some()).count();
    let o = &s.overall;
    let Some(t) = &s.test else {
        return format!(
            "Keep the pooled profile: {} of {} segments of '{}' {} enough churn events for a profile of {}own (at least {} per weight).",
            own,
            s.segments.len(),
            s.column,
            if own == 1 { "has" } else { "have" },
            if own == 1 { "its " } else { "their " },
            s.min_events_per_weight
        );
    };
    let gain = o.recalibrated.log_loss - o.segmented.log_loss;
    let test = format!(
        "likelihood-ratio test χ² = {:.1} on {} degrees of freedom, p = {}",
        t.statistic,
        t.df,
        p_text(t.p_value)
    );
    if t.p_value < 0.05 && gain > 0.0 {
        format!(
            "Segmenting by '{}' pays: the segments' weights differ ({test}) and their own profiles predict better out of fold (log-loss {} against {} for the pooled weights with each segment's own intercept and slope).",
            s.column,
            f(o.segmented.log_loss, 4),
            f(o.recalibrated.log_loss, 4)
        )
    } else if t.p_value < 0.05 {
        format!(
            "The weights differ by '{}' ({test}), but the segments' own profiles do not predict better out of fold (log-loss {} against {}): keep the pooled profile, or gather more data.",
            s.column,
            f(o.segmented.log_loss, 4),
            f(o.recalibrated.log_loss, 4)
        )
    } else {
        format!(
            "No evidence that the weights differ by '{}' ({test}): keep the pooled profile.",
            s.column
        )
    }
}

fn p_text(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A segment's profile file: the pooled profile's file name with the value in place of
/// `calibrated`.
pub fn segment_file(pooled_file: &str, label: &str) -> String {
    let stem = pooled_file
        .strip_suffix("-calibrated.toml")
        .unwrap_or(pooled_file);
    format!("{stem}-{}.toml", crate::output::safe_file_name(label))
}

/// File of each segment's profile, as the caller wrote them.
pub struct SegmentFiles<'a> {
    /// The pooled profile's file.
    pub pooled: &'a str,
    /// The set's index file.
    pub index: &'a str,
    /// Per segment (in [`Segmented::segments`]' order), its own profile's file.
    pub own: &'a [Option<String>],
}

fn comparison_row(label: &str, c: &SegmentComparison) -> String {
    format!(
        "| {} | {} | {} | {} / {} | {} / {} | {} / {} |\n",
        label,
        c.rows,
        c.events,
        f(c.pooled.log_loss, 4),
        f(c.pooled.auc, 3),
        f(c.recalibrated.log_loss, 4),
        f(c.recalibrated.auc, 3),
        f(c.segmented.log_loss, 4),
        f(c.segmented.auc, 3)
    )
}

/// The summary's segment sections (the pooled calibration's own summary follows them).
pub fn markdown(s: &Segmented, files: &SegmentFiles) -> String {
    let mut out = format!(
        "# Calibration by `{}`\n\n**{}**\n\n",
        md_cell(&s.column),
        md_cell(&verdict(s))
    );
    out.push_str(&format!(
        "One profile per value of `{}`, each shrunk toward the pooled calibrated profile (`{}`) by its own λ, \
         chosen by the pooled calibration's {}-fold cross-validation grouped by account: in each fold, the pooled fit on the other folds is the segment's prior. \
         A segment with fewer than {} churn events per weight keeps the pooled profile. \
         The set is `{}`: give it to `score`, `tiers`, `cohorts`, `risk`, `validate`, `explain` or `sql` as the profile.\n\n",
        md_cell(&s.column),
        md_cell(files.pooled),
        s.pooled.folds,
        s.min_events_per_weight,
        md_cell(files.index)
    ));
    out.push_str("## Profiles\n\n| segment | snapshots | accounts | churn events | events per weight | profile | λ |\n|---|---:|---:|---:|---:|---|---|\n");
    for (g, file) in s.segments.iter().zip(files.own) {
        let (profile, lambda) = match (&g.own, g.kept_pooled) {
            (Some(c), _) => (
                format!("own: `{}`", md_cell(file.as_deref().unwrap_or(""))),
                lambda_text(c.lambda),
            ),
            (None, Some(KeptPooled::FewAccounts)) => (
                format!("pooled (fewer accounts than {} folds)", s.pooled.folds),
                "–".into(),
            ),
            (None, _) => (
                format!(
                    "pooled (below {} events per weight)",
                    s.min_events_per_weight
                ),
                "–".into(),
            ),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            md_cell(&g.label),
            g.rows,
            g.accounts,
            g.events,
            f(g.events_per_weight, 1),
            profile,
            lambda
        ));
    }
    out.push_str("\n## Pooled against segmented, out of fold\n\n");
    out.push_str(
        "Log-loss / AUC of each model on rows its fit did not see (the same folds for all three). \
         *Pooled*: one profile for all. *Pooled, recalibrated*: the pooled weights with each segment's own intercept and slope \
         (what segmenting gains from different base rates alone). *Segmented*: each segment's own profile.\n\n\
         | segment | snapshots | churn events | pooled | pooled, recalibrated | segmented |\n|---|---:|---:|---|---|---|\n",
    );
    for g in &s.segments {
        out.push_str(&comparison_row(&md_cell(&g.label), &g.comparison));
    }
    out.push_str(&comparison_row("**all**", &s.overall));
    out.push('\n');
    if let Some(t) = &s.test {
        out.push_str(&format!(
            "## Do the weights differ?\n\nLikelihood-ratio test over the {} segments with their own profile ({} snapshots): the unconstrained logistic regression on the sub-scores \
             (a missing one read as the row's pooled score) with one intercept per segment and common coefficients, against one regression per segment. \
             χ² = {:.2} on {} degrees of freedom (the coefficients the separate fits identify less the common fit's: (segments − 1) × metrics when every metric varies within every segment), p = {}. The test takes snapshots as independent given their sub-scores.\n\n",
            t.segments,
            t.rows,
            t.statistic,
            t.df,
            p_text(t.p_value)
        ));
    }
    out.push_str(&weights_table(s));
    out
}

fn weights_table(s: &Segmented) -> String {
    let own: Vec<_> = s.segments.iter().filter(|g| g.own.is_some()).collect();
    let mut out = String::from(
        "## Weights by segment\n\nCalibrated weight (points out of 100) and, in brackets, the 2.5–97.5 % bootstrap interval of the weight the data alone supports (λ = 0). \
         † marks a weight whose interval does not overlap the pooled one's; ‡ a metric that is the same for every row of the segment, whose weight the segment cannot tell.\n\n| metric | pooled |",
    );
    for g in &own {
        out.push_str(&format!(" {} |", md_cell(&g.label)));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(own.len()));
    out.push('\n');
    for (m, pm) in s.pooled.metrics.iter().enumerate() {
        let cell = |w: f64, ci: [f64; 2]| format!("{} [{}–{}]", f(w, 1), f(ci[0], 1), f(ci[1], 1));
        out.push_str(&format!(
            "| {} | {} |",
            md_cell(&pm.name),
            cell(pm.weight, pm.weight_ci)
        ));
        for g in &own {
            let c = g.own.as_ref().expect("own");
            let mm = &c.metrics[m];
            let dagger = if g.differing.contains(&mm.name) {
                " †"
            } else if g.constant.contains(&mm.name) {
                " ‡"
            } else {
                ""
            };
            out.push_str(&format!(" {}{dagger} |", cell(mm.weight, mm.weight_ci)));
        }
        out.push('\n');
    }
    out.push('\n');
    for g in &own {
        if !g.constant.is_empty() {
            out.push_str(&format!(
                "In '{}', {} {} the same on every row: the data-alone fit can put any share of the 100 points there, so its intervals are not compared with the pooled ones (and not drawn).\n\n",
                md_cell(&g.label),
                g.constant.iter().map(|c| format!("'{}'", md_cell(c))).collect::<Vec<_>>().join(", "),
                if g.constant.len() == 1 { "is" } else { "are" }
            ));
        }
    }
    out
}

/// The machine-readable summary: the whole result with its verdict.
pub fn json(s: &Segmented) -> serde_json::Value {
    let mut v = serde_json::to_value(s).expect("the segmented calibration serialises");
    v["verdict"] = json!(verdict(s));
    v
}

/// Colours of the pooled profile and of up to eight segments.
const PALETTE: [RGBColor; 9] = [
    RGBColor(120, 144, 156),
    RGBColor(21, 101, 192),
    RGBColor(230, 81, 0),
    RGBColor(46, 125, 50),
    RGBColor(106, 27, 154),
    RGBColor(0, 131, 143),
    RGBColor(198, 40, 40),
    RGBColor(121, 85, 72),
    RGBColor(158, 157, 36),
];

/// A profile's label and, per metric, its weight and the weight's interval.
type Series = (String, Vec<(f64, [f64; 2])>);

/// Each profile's calibrated weights side by side, per metric: a dot per profile (pooled
/// first) with its data-alone bootstrap interval.
pub fn weights_svg(s: &Segmented) -> String {
    // A segment with a metric constant on its rows has data-alone intervals that do not
    // compare (see the table's note): its dots are drawn without them.
    let no_interval = |c: &crate::calibrate::Calibration| -> Vec<(f64, [f64; 2])> {
        c.metrics
            .iter()
            .map(|m| (m.weight, [f64::NAN; 2]))
            .collect()
    };
    let mut series: Vec<Series> = vec![(
        "pooled".into(),
        s.pooled
            .metrics
            .iter()
            .map(|m| (m.weight, m.weight_ci))
            .collect(),
    )];
    for g in &s.segments {
        if let Some(c) = &g.own {
            series.push((
                g.label.clone(),
                if g.constant.is_empty() {
                    c.metrics.iter().map(|m| (m.weight, m.weight_ci)).collect()
                } else {
                    no_interval(c)
                },
            ));
        }
    }
    series.truncate(PALETTE.len());
    let k = s.pooled.metrics.len();
    let line = 14i32;
    let row_h = line * series.len() as i32 + 14;
    let (left, right, top, bottom) = (250i32, 40i32, 96i32, 52i32);
    let width = 980i32;
    let height = top + bottom + k as i32 * row_h;
    let max_v = series
        .iter()
        .flat_map(|(_, v)| v.iter().flat_map(|(w, ci)| [*w, ci[1]]))
        .filter(|v| v.is_finite())
        .fold(10.0f64, f64::max);
    let (x_max, step) = weight_scale(max_v);
    let plot_w = (width - left - right) as f64;
    let xs = |v: f64| left + (v.clamp(0.0, x_max) / x_max * plot_w).round() as i32;
    let title = format!("Weights by '{}': pooled and each segment's own", s.column);
    let subtitle =
        "dot: calibrated weight · line: 95 % bootstrap interval of the data-alone weight";
    canvas(
        width as u32,
        height as u32,
        &title,
        (subtitle, 110),
        |root| {
            // Legend
            let mut x = 20;
            for (i, (label, _)) in series.iter().enumerate() {
                let _ = root.draw(&Circle::new((x + 5, 72), 5, PALETTE[i].filled()));
                let l = clip(label, 24);
                let _ = root.draw(&Text::new(
                    l.clone(),
                    (x + 15, 72),
                    text(12, &INK, HPos::Left),
                ));
                x += 30 + 7 * l.chars().count() as i32;
            }
            let plot_bottom = height - bottom;
            x_grid(root, (top, plot_bottom), (x_max, step), &xs);
            let _ = root.draw(&Text::new(
                "weight (points out of 100)",
                (left + plot_w as i32 / 2, plot_bottom + 36),
                text(13, &INK, HPos::Center),
            ));
            for (m, pm) in s.pooled.metrics.iter().enumerate() {
                let y0 = top + m as i32 * row_h;
                let _ = root.draw(&Text::new(
                    clip(&pm.name, 34),
                    (left - 12, y0 + row_h / 2),
                    text(13, &INK, HPos::Right),
                ));
                for (i, (_, v)) in series.iter().enumerate() {
                    let y = y0 + 7 + i as i32 * line + line / 2;
                    let (w, ci) = v[m];
                    if ci.iter().all(|c| c.is_finite()) {
                        whisker_h(root, y, (xs(ci[0]), xs(ci[1])), 3, &PALETTE[i]);
                    }
                    if w.is_finite() {
                        let _ = root.draw(&Circle::new((xs(w), y), 4, PALETTE[i].filled()));
                    }
                }
                let _ = root.draw(&PathElement::new(
                    vec![(left, y0 + row_h), (width - right, y0 + row_h)],
                    GRID.stroke_width(1),
                ));
            }
        },
    )
}
