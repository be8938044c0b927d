//! `--fit-transforms`: fill transform parameters from the data and check each metric's
//! direction against churn before the weights are fitted.
//!
//! `linear` and `log` get `lo` / `hi` at the 5th and 95th percentiles of the metric's
//! observed values; `percentile` gets deciles as breaks. `points`, `categories` and
//! `boolean` are left as written. Each numeric metric's univariate AUC against churn says
//! whether higher raw values go with less churn, as the declared direction claims.

use serde::Serialize;

use crate::data::{MetricColumn, Snapshots};
use crate::profile::{Direction, Profile, Transform};
use crate::stats;

/// What `--fit-transforms` did to one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransformFit {
    /// Metric name.
    pub metric: String,
    /// The transform before.
    pub before: String,
    /// The transform after (same as before when left alone).
    pub after: String,
    /// AUC of the raw value (oriented by the declared direction, so > 0.5 agrees) for churn.
    pub direction_auc: Option<f64>,
    /// The data contradicts the declared direction (oriented AUC below 0.45).
    pub direction_conflict: bool,
}

/// Refit the transforms of `profile` from `data` (rows with an outcome).
pub fn fit_transforms(profile: &Profile, data: &Snapshots) -> (Profile, Vec<TransformFit>) {
    let mut out = profile.clone();
    let mut report = Vec::new();
    let outcome = data.outcome.as_deref();
    for m in out.metrics.iter_mut() {
        let before = describe(&m.transform);
        let Some(MetricColumn::Numeric(v)) = data.metric(&m.column) else {
            report.push(TransformFit {
                metric: m.name.clone(),
                before: before.clone(),
                after: before,
                direction_auc: None,
                direction_conflict: false,
            });
            continue;
        };
        let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        let p05 = stats::quantile(&present, 0.05);
        let p95 = stats::quantile(&present, 0.95);
        match &mut m.transform {
            Transform::Linear { lo, hi } if p05 < p95 => {
                *lo = round_sig(p05);
                *hi = round_sig(p95);
            }
            Transform::Log { lo, hi } if p05 < p95 && p05 > -1.0 => {
                *lo = round_sig(p05);
                *hi = round_sig(p95);
            }
            Transform::Percentile { breaks } => {
                let b: Vec<f64> = (0..=10)
                    .map(|i| round_sig(stats::quantile(&present, i as f64 / 10.0)))
                    .collect();
                if b[0] < b[10] {
                    *breaks = b;
                }
            }
            _ => {}
        }
        let direction_auc = outcome.and_then(|y| {
            let (mut risk, mut yy) = (Vec::new(), Vec::new());
            for (x, &o) in v.iter().zip(y) {
                if !x.is_nan() {
                    // Oriented so that "agrees with the declared direction" is > 0.5.
                    risk.push(match m.direction {
                        Direction::HigherIsBetter => -x,
                        Direction::LowerIsBetter => *x,
                    });
                    yy.push(o);
                }
            }
            let a = stats::auc(&risk, &yy);
            (!a.is_nan()).then_some(a)
        });
        report.push(TransformFit {
            metric: m.name.clone(),
            before,
            after: describe(&m.transform),
            direction_auc,
            direction_conflict: direction_auc.is_some_and(|a| a < 0.45),
        });
    }
    (out, report)
}

/// A transform in a few words (`linear 0 to 72`, `points (8 points)`).
pub fn describe(t: &Transform) -> String {
    match t {
        Transform::Linear { lo, hi } => format!("linear {lo} to {hi}"),
        Transform::Log { lo, hi } => format!("log {lo} to {hi}"),
        Transform::Points { map } => format!("points ({} points)", map.len()),
        Transform::Percentile { breaks } => format!("percentile ({} breaks)", breaks.len()),
        Transform::Categories { map } => format!("categories ({} labels)", map.len()),
        Transform::Boolean => "boolean".into(),
    }
}

/// Round to 4 significant digits, so that written profiles stay readable.
fn round_sig(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = v.abs().log10().floor() as i32;
    let f = 10f64.powi(3 - mag);
    (v * f).round() / f
}
