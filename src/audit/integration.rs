//! Integration: missing values overall and by segment, redundant metrics (|r| > 0.9) and
//! collinearity (variance inflation).

use super::*;

/// Missing values per metric column, and segments where a column is missing far more often.
pub(super) fn missing(x: &Input<'_>, f: &mut Findings) {
    let Input { profile, data, .. } = *x;
    let n = data.rows;
    // Each metric column once, in profile order; their missing values counted in parallel
    // (per segment label only for a column with any).
    let mut once: Vec<&crate::profile::Metric> = Vec::new();
    for m in &profile.metrics {
        if !once.iter().any(|o| o.column == m.column) {
            once.push(m);
        }
    }
    let missing: Vec<Option<MissingCounts>> = {
        use rayon::prelude::*;
        once.par_iter()
            .map(|m| {
                let c = data.metric(&m.column)?;
                let miss = (0..n).filter(|&i| c.is_missing(i)).count();
                // (rows, missing) per label of each segment
                let per_segment = if miss == 0 {
                    Vec::new()
                } else {
                    data.segments
                        .iter()
                        .map(|seg| {
                            let mut per = vec![(0, 0); seg.labels.len()];
                            for i in 0..n {
                                let p: &mut (usize, usize) = &mut per[seg.codes[i] as usize];
                                p.0 += 1;
                                p.1 += usize::from(c.is_missing(i));
                            }
                            per
                        })
                        .collect()
                };
                Some((miss, per_segment))
            })
            .collect()
    };
    for (m, counts) in once.iter().zip(&missing) {
        let Some((miss, per_segment)) = counts else {
            continue;
        };
        let miss = *miss;
        if miss > 0 {
            let share = miss as f64 / n as f64;
            // A profile that redistributes a metric's weight expects it to be missing often.
            let expected = m.missing == crate::profile::Missing::Redistribute;
            f.add(
                "integration",
                if share > 0.5 && !expected {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                "missing values",
                &m.column,
                Issue::Missing {
                    count: miss,
                    share,
                    policy: m.missing,
                },
            );
            for (seg, per) in data.segments.iter().zip(per_segment) {
                for (l, &(rows, mi)) in per.iter().enumerate() {
                    let s = mi as f64 / rows.max(1) as f64;
                    if rows >= 30 && s > 0.2 && s > 2.0 * share {
                        f.add(
                            "integration",
                            Severity::Warn,
                            "missing by segment",
                            &m.column,
                            Issue::MissingBySegment {
                                share: s,
                                segment: seg.name.clone(),
                                label: seg.labels[l].clone(),
                                overall: share,
                            },
                        );
                    }
                }
            }
        }
    }
}

/// Correlated metric pairs and each numeric metric's variance inflation factor.
pub(super) fn redundancy(x: &Input<'_>, f: &mut Findings) -> (Vec<Correlated>, Vec<(String, f64)>) {
    let numeric = numeric(x);
    let k = numeric.len();
    let pairs: Vec<(usize, usize)> = (0..k)
        .flat_map(|a| (a + 1..k).map(move |b| (a, b)))
        .collect();
    let r_of: Vec<f64> = {
        use rayon::prelude::*;
        pairs
            .par_iter()
            .map(|&(a, b)| pearson(numeric[a].1, numeric[b].1))
            .collect()
    };
    let r_at = |a: usize, b: usize| -> f64 {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        r_of[pairs.iter().position(|&p| p == (a, b)).expect("pair")]
    };
    let mut correlated = Vec::new();
    for a in 0..numeric.len() {
        for b in a + 1..numeric.len() {
            let r = r_at(a, b);
            if r.abs() > 0.9 {
                correlated.push((numeric[a].0.to_string(), numeric[b].0.to_string(), r));
                f.add(
                    "integration",
                    Severity::Warn,
                    "redundant metrics",
                    &format!("{} ~ {}", numeric[a].0, numeric[b].0),
                    Issue::Redundant { r },
                );
            }
        }
    }
    let mut vif = Vec::new();
    if numeric.len() >= 2 {
        let corr: Vec<Vec<f64>> = (0..numeric.len())
            .map(|a| {
                (0..numeric.len())
                    .map(|b| {
                        if a == b {
                            1.0
                        } else {
                            let r = r_at(a, b);
                            if r.is_nan() {
                                0.0
                            } else {
                                r
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        let inverse = invert(&corr);
        if inverse.is_none() {
            f.add(
                "integration",
                Severity::Warn,
                "collinearity",
                "",
                Issue::Singular,
            );
        }
        if let Some(inv) = inverse {
            for (a, (name, _)) in numeric.iter().enumerate() {
                let v = inv[a][a];
                vif.push((name.to_string(), v));
                if v > 10.0 {
                    f.add(
                        "integration",
                        Severity::Warn,
                        "collinearity",
                        name,
                        Issue::Collinear { vif: v },
                    );
                }
            }
        }
    }
    (correlated, vif)
}

/// The numeric metric columns, in profile order.
fn numeric<'a>(x: &Input<'a>) -> Vec<(&'a str, &'a Vec<f64>)> {
    let Input { profile, data, .. } = *x;
    profile
        .metrics
        .iter()
        .filter_map(|m| match data.metric(&m.column) {
            Some(MetricColumn::Numeric(v)) => Some((m.column.as_str(), v)),
            _ => None,
        })
        .collect()
}

/// Two metric columns and their correlation.
type Correlated = (String, String, f64);

/// A metric column's missing values: how many, and `(rows, missing)` per label of each
/// segment (none when nothing is missing).
pub(super) type MissingCounts = (usize, Vec<Vec<(usize, usize)>>);
