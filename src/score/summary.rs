//! The per-tier summary of a scored population, printed after `score`.

use serde::Serialize;

use super::Scored;

/// One tier's row of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierRow {
    /// Tier name.
    pub tier: String,
    /// Lowest score in the tier.
    pub min: f64,
    /// Snapshots in the tier.
    pub snapshots: usize,
    /// Share of the scored snapshots.
    pub share: f64,
    /// Mean score in the tier (NaN when empty).
    pub mean_score: f64,
    /// Churned snapshots, when the outcome is known.
    pub churned: Option<usize>,
}

/// Count snapshots per tier, with churn when `outcome` is given.
pub fn tier_summary(s: &Scored, outcome: Option<&[u8]>) -> Vec<TierRow> {
    let k = s.tier_names.len();
    let mut n = vec![0usize; k];
    let mut sum = vec![0f64; k];
    let mut churned = vec![0usize; k];
    for (i, &t) in s.tier.iter().enumerate() {
        if t == u8::MAX {
            continue;
        }
        let t = t as usize;
        n[t] += 1;
        sum[t] += s.score[i];
        if let Some(o) = outcome {
            churned[t] += o[i] as usize;
        }
    }
    let scored: usize = n.iter().sum();
    (0..k)
        .map(|t| TierRow {
            tier: s.tier_names[t].clone(),
            min: s.tier_mins[t],
            snapshots: n[t],
            share: if scored > 0 {
                n[t] as f64 / scored as f64
            } else {
                0.0
            },
            mean_score: if n[t] > 0 {
                sum[t] / n[t] as f64
            } else {
                f64::NAN
            },
            churned: outcome.map(|_| churned[t]),
        })
        .collect()
}

/// A plain-text table of the summary for a terminal.
pub fn render_text(rows: &[TierRow], unscored: usize) -> String {
    let with_churn = rows.iter().any(|r| r.churned.is_some());
    let mut out = String::new();
    out.push_str(&format!(
        "{:<18} {:>6} {:>10} {:>7} {:>6}",
        "tier", "min", "snapshots", "share", "mean"
    ));
    if with_churn {
        out.push_str(&format!(" {:>8} {:>7}", "churned", "rate"));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{:<18} {:>6.1} {:>10} {:>6.1}% {:>6}",
            r.tier,
            r.min,
            r.snapshots,
            100.0 * r.share,
            if r.mean_score.is_nan() {
                "-".to_string()
            } else {
                format!("{:.1}", r.mean_score)
            }
        ));
        if let Some(c) = r.churned {
            let rate = if r.snapshots > 0 {
                format!("{:.1}%", 100.0 * c as f64 / r.snapshots as f64)
            } else {
                "-".into()
            };
            out.push_str(&format!(" {c:>8} {rate:>7}"));
        }
        out.push('\n');
    }
    if unscored > 0 {
        out.push_str(&format!(
            "{unscored} snapshots have no metric present and no score\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        let s = Scored {
            score: vec![80.0, 20.0, 30.0, f64::NAN],
            group_labels: vec![],
            group_scores: vec![],
            tier: vec![0, 1, 1, u8::MAX],
            tier_names: vec!["good".into(), "bad".into()],
            tier_colors: vec![],
            tier_mins: vec![50.0, 0.0],
            probability: None,
            metric_names: vec![],
            reasons: vec![],
            reason_points: vec![],
            reasons_per_row: 3,
            unscored: 1,
        };
        let rows = tier_summary(&s, Some(&[0, 1, 0, 1]));
        assert_eq!(rows[1].snapshots, 2);
        assert_eq!(rows[1].churned, Some(1));
        assert!((rows[1].mean_score - 25.0).abs() < 1e-12);
        assert!((rows[0].share - 1.0 / 3.0).abs() < 1e-12);
        let t = render_text(&rows, 1);
        assert!(t.contains("50.0%"), "{t}");
        assert!(t.contains("1 snapshots have no metric present"));
    }
}
