//! The candidate metrics: each numeric column's transform and direction, label columns'
//! points from their churn rates, and the strongest kept when churn events are few.

use super::*;

/// Each metric's AUC alone (its guessed direction) added to its reason; with fewer than
/// ten churn events per metric, only the strongest are kept (a fit of more is refused or
/// noisy), the others listed as left out.
pub(super) fn keep_the_strongest(
    g: &mut Guess,
    columns: &[(String, Vec<Option<String>>)],
    churned: &[bool],
    style: NumberStyle,
) {
    let events = churned.iter().filter(|c| **c).count();
    let mut strength: Vec<f64> = Vec::with_capacity(g.metrics.len());
    for m in &mut g.metrics {
        let values = &columns
            .iter()
            .find(|(n, _)| *n == m.column)
            .expect("a column")
            .1;
        let (mut risk, mut y) = (Vec::new(), Vec::new());
        for (v, &c) in values.iter().zip(churned) {
            let Some(t) = v.as_deref() else { continue };
            let x = match &m.transform {
                Transform::Categories { map } => map.get(t.trim()).copied(),
                _ => match numbers::read(
                    t,
                    NumberStyle {
                        lenient: true,
                        ..style
                    },
                ) {
                    Ok(Read::Plain(x) | Read::Stripped(x)) => Some(x),
                    _ => None,
                },
            };
            if let Some(x) = x {
                // Risk rises as the sub-score falls.
                risk.push(match (&m.transform, m.direction) {
                    (Transform::Categories { .. }, _) | (_, Direction::HigherIsBetter) => -x,
                    (_, Direction::LowerIsBetter) => x,
                });
                y.push(u8::from(c));
            }
        }
        let auc = stats::auc(&risk, &y);
        if auc.is_finite() {
            m.why.push_str(&format!("; AUC {auc:.2} alone"));
        }
        strength.push(if auc.is_finite() { auc } else { 0.0 });
    }
    let allowed = (events / 10).max(1);
    if g.metrics.len() <= allowed {
        return;
    }
    let mut order: Vec<usize> = (0..g.metrics.len()).collect();
    order.sort_by(|&a, &b| strength[b].total_cmp(&strength[a]).then(a.cmp(&b)));
    let keep: Vec<usize> = order[..allowed].to_vec();
    let metrics = std::mem::take(&mut g.metrics);
    for (i, m) in metrics.into_iter().enumerate() {
        if keep.contains(&i) {
            g.metrics.push(m);
        } else {
            g.skipped.push(Pick {
                column: m.column,
                why: format!(
                    "{events} churn events allow about {allowed} metrics at 10 events each: \
                     kept the strongest, not this one (AUC {:.2} alone)",
                    strength[i]
                ),
            });
        }
    }
}

/// A value rounded to two significant digits, as a reader would write a threshold.
fn round2(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return 0.0;
    }
    // Through the decimal text, so that 4.8 stays 4.8 (not 4.800000000000001).
    format!("{v:.1e}").parse().unwrap_or(v)
}

pub(super) fn numeric_metric(
    c: &Profiled,
    x: &[f64],
    values: &[Option<String>],
    churned: Option<&[bool]>,
    style: NumberStyle,
) -> MetricGuess {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| stats::quantile_sorted(&sorted, p);
    let (p5, p50, p95) = (q(0.05), q(0.5), q(0.95));
    let (lo, hi) = (round2(p5), round2(p95));
    let two = c.distinct.len() == 2 && sorted.iter().all(|v| *v == 0.0 || *v == 1.0);
    let skewed = p5 >= 0.0
        && p95 > 0.0
        && (p95 > 4.0 * p50.max(f64::MIN_POSITIVE) || *sorted.last().unwrap_or(&0.0) > 10.0 * p95);
    let (transform, shape_why) = if two {
        (Transform::Boolean, "two values, 0 and 1".to_string())
    } else if lo >= hi {
        (
            Transform::Linear {
                lo: sorted[0],
                hi: *sorted.last().unwrap_or(&1.0),
            },
            format!(
                "linear over its range {}–{}",
                sorted[0],
                sorted.last().unwrap_or(&1.0)
            ),
        )
    } else if skewed {
        (
            Transform::Log { lo, hi },
            format!(
                "skewed (median {}, 95th percentile {}): log between {lo} and {hi}",
                round2(p50),
                round2(p95)
            ),
        )
    } else {
        (
            Transform::Linear { lo, hi },
            format!("linear between its 5th and 95th percentiles, {lo} and {hi}"),
        )
    };
    let (direction, dir_why) = match churned {
        Some(ch) => {
            let (mut s1, mut n1, mut s0, mut n0) = (0.0, 0usize, 0.0, 0usize);
            for (v, &y) in values.iter().zip(ch) {
                let Some(Ok(Read::Plain(v) | Read::Stripped(v))) = v.as_deref().map(|t| {
                    numbers::read(
                        t,
                        NumberStyle {
                            lenient: true,
                            ..style
                        },
                    )
                }) else {
                    continue;
                };
                if y {
                    s1 += v;
                    n1 += 1;
                } else {
                    s0 += v;
                    n0 += 1;
                }
            }
            let (m1, m0) = (s1 / n1.max(1) as f64, s0 / n0.max(1) as f64);
            let d = if m1 <= m0 {
                Direction::HigherIsBetter
            } else {
                Direction::LowerIsBetter
            };
            (
                d,
                format!(
                    "churned accounts average {} against {} for retained",
                    sig(m1),
                    sig(m0)
                ),
            )
        }
        None => {
            let bad = [
                "tickets",
                "errors",
                "error",
                "complaints",
                "due",
                "overdue",
                "late",
                "days",
                "incidents",
                "bugs",
                "escalations",
                "churn",
            ];
            match has_word(c, &bad) {
                Some(w) => (
                    Direction::LowerIsBetter,
                    format!("no outcome to tell: the name says '{w}'"),
                ),
                None => (
                    Direction::HigherIsBetter,
                    "no outcome to tell: assumed".to_string(),
                ),
            }
        }
    };
    MetricGuess {
        column: c.name.into(),
        transform,
        direction,
        why: format!("{shape_why}; {dir_why}"),
    }
}

/// A number with four significant digits, for reasons.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

pub(super) fn label_metric(
    c: &Profiled,
    values: &[Option<String>],
    churned: &[bool],
) -> MetricGuess {
    let mut rates: Vec<(String, f64, usize)> = c
        .distinct
        .iter()
        .map(|l| {
            let (mut n, mut k) = (0usize, 0usize);
            for (v, &y) in values.iter().zip(churned) {
                if v.as_deref().map(str::trim) == Some(l) {
                    n += 1;
                    k += y as usize;
                }
            }
            (l.to_string(), k as f64 / n.max(1) as f64, n)
        })
        .collect();
    rates.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let (best, worst) = (rates[0].1, rates[rates.len() - 1].1);
    let points: Vec<(String, f64)> = rates
        .iter()
        .map(|(l, r, _)| {
            let p = if worst > best {
                100.0 * (worst - r) / (worst - best)
            } else {
                50.0
            };
            (l.clone(), (p / 5.0).round() * 5.0)
        })
        .collect();
    let why = format!(
        "{} labels, points from their churn rates ({})",
        rates.len(),
        rates
            .iter()
            .map(|(l, r, _)| format!("'{l}' {:.1} %", 100.0 * r))
            .collect::<Vec<_>>()
            .join(", ")
    );
    MetricGuess {
        column: c.name.into(),
        transform: Transform::Categories {
            map: points.into_iter().collect(),
        },
        direction: Direction::HigherIsBetter,
        why,
    }
}
