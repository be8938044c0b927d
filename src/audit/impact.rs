//! Impact and outcome: each metric's AUC and information value against churn with its
//! interval, suspected leakage, events per parameter, churn by date and labels cut off at
//! the end of the window, snapshots dated after their churn.

use super::*;
use crate::stats::auc_lean::auc_ci_owned;

/// Each metric's (and each extra column's) signal, and the findings it raises.
pub(super) fn measure(x: &Input<'_>, f: &mut Findings, o: &[u8]) -> Vec<Impact> {
    let Input {
        profile,
        data,
        extra,
        params,
        ..
    } = *x;
    let n = data.rows;
    let mut impact = Vec::new();
    if params.impact {
        use rayon::prelude::*;
        // One metric's sub-scores at a time (all of them at once are a gigabyte at 10 M
        // rows × 13 metrics); a metric whose sub-scores cannot be computed is left out.
        let mine: Vec<Impact> = profile
            .metrics
            .par_iter()
            .enumerate()
            .filter_map(|(mi, m)| {
                let col = SubScores::column(m, data).ok()?;
                let raw: &[f64] = match data.metric(&m.column) {
                    Some(MetricColumn::Numeric(v)) => v,
                    _ => &col,
                };
                let missing = raw.iter().filter(|x| x.is_nan()).count();
                let ivc = information_value_ci(raw, o, 200, 42 + mi as u64);
                let levels = levels(raw);
                // The risk is the sub-score turned round, in the sub-scores' own buffer;
                // a dropped-out row (NaN) is left out.
                let mut risk = col;
                risk.iter_mut().for_each(|c| *c = -*c);
                let (auc, ci) = auc_ci_owned(risk, o);
                Some(Impact {
                    metric: m.name.clone(),
                    column: m.column.clone(),
                    auc,
                    auc_ci: ci,
                    iv: ivc.0,
                    iv_ci: ivc.1,
                    missing: missing as f64 / n as f64,
                    in_profile: true,
                    levels,
                })
            })
            .collect();
        impact.extend(mine);
    }
    for (name, v) in extra.iter().filter(|_| params.impact) {
        let (auc, ci) = match auc_ci_owned(v.clone(), o) {
            // Either direction: the column's strength, whichever way it points.
            (a, c) if a < 0.5 => (1.0 - a, [1.0 - c[1], 1.0 - c[0]]),
            other => other,
        };
        let ivc = information_value_ci(v, o, 200, 4242);
        impact.push(Impact {
            metric: name.clone(),
            column: name.clone(),
            auc,
            auc_ci: ci,
            iv: ivc.0,
            iv_ci: ivc.1,
            missing: v.iter().filter(|x| x.is_nan()).count() as f64 / n as f64,
            in_profile: false,
            levels: levels(v),
        });
    }
    for im in &impact {
        if im.auc > 0.95 || (im.levels <= 3 && im.auc >= 0.75) {
            f.add(
                "outcome",
                Severity::Warn,
                "suspected leakage",
                &im.column,
                Issue::Leakage {
                    auc: im.auc,
                    iv: im.iv,
                    levels: im.levels,
                },
            );
        }
        if !im.in_profile {
            continue;
        }
        if im.auc_ci[1] < 0.5 {
            f.add(
                "impact",
                Severity::Warn,
                "against the profile's direction",
                &im.column,
                Issue::AgainstDirection {
                    auc: im.auc,
                    ci: im.auc_ci,
                },
            );
        } else if im.auc_ci[0] <= 0.5 {
            f.add(
                "impact",
                Severity::Info,
                "no signal",
                &im.column,
                Issue::NoSignal {
                    auc: im.auc,
                    ci: im.auc_ci,
                },
            );
        }
    }
    impact
}

/// Events per parameter, churn by snapshot date, labels cut off, snapshots after churn.
pub(super) fn outcome(x: &Input<'_>, f: &mut Findings, o: &[u8]) -> Vec<(String, usize, usize)> {
    let Input { profile, data, .. } = *x;
    let n = data.rows;
    let events = o.iter().filter(|&&v| v == 1).count();
    let mut churn_by_date = Vec::new();
    // events per parameter
    let k = profile.metrics.len().max(1);
    let epv = events as f64 / k as f64;
    if epv < 10.0 {
        f.add(
            "outcome",
            if epv < 5.0 {
                Severity::Error
            } else {
                Severity::Warn
            },
            "events per parameter",
            "",
            Issue::FewEvents {
                events,
                weights: k,
                per_weight: epv,
            },
        );
    }
    // churn rate per date, and labels cut off at the end of the window
    if let Some(dates) = &data.date {
        let mut by: FxHashMap<Day, (usize, usize)> = FxHashMap::default();
        for (i, &d) in dates.iter().enumerate() {
            let e = by.entry(d).or_default();
            e.0 += 1;
            e.1 += o[i] as usize;
        }
        let mut v: Vec<(Day, (usize, usize))> = by.into_iter().collect();
        v.sort_by_key(|x| x.0);
        let rates: Vec<f64> = v.iter().map(|x| x.1 .1 as f64 / x.1 .0 as f64).collect();
        if rates.len() >= 4 {
            let mut earlier: Vec<f64> = rates[..rates.len() - 1].to_vec();
            earlier.sort_by(f64::total_cmp);
            let median = stats::quantile(&earlier, 0.5);
            let cut: Vec<String> = v
                .iter()
                .zip(&rates)
                .rev()
                .take_while(|(_, &r)| r < 0.25 * median)
                .map(|(x, _)| parse::format_day(x.0))
                .collect();
            if !cut.is_empty() && median > 0.0 {
                f.add(
                    "outcome",
                    Severity::Warn,
                    "labels cut off",
                    data.outcome_source.as_deref().unwrap_or("outcome"),
                    Issue::LabelsCutOff {
                        dates: cut.into_iter().rev().collect(),
                        median_rate: median,
                    },
                );
            }
        }
        churn_by_date = v
            .into_iter()
            .map(|(d, (rows, ch))| (parse::format_day(d), rows, ch))
            .collect();
        // leakage: snapshots on or after their churn date with a given outcome column
        if let Some(c) = &data.churn_date {
            let after = (0..n)
                .filter(|&i| c[i] != NO_DAY && dates[i] >= c[i])
                .count();
            if after > 0 {
                f.add(
                    "outcome",
                    Severity::Error,
                    "snapshots after churn",
                    "churn date",
                    Issue::AfterChurn { count: after },
                );
            }
        }
    }
    churn_by_date
}

/// Snapshots dropped while deriving labels because they were on or after the churn date.
pub(super) fn after_churn(x: &Input<'_>, f: &mut Findings) {
    let Input { data, .. } = *x;
    if data.notes.after_churn > 0 {
        f.add(
            "outcome",
            Severity::Info,
            "snapshots after churn",
            "churn date",
            Issue::DroppedAfterChurn {
                count: data.notes.after_churn,
            },
        );
    }
}

/// How the loader read values not written in the contract's plain form: counted, so that
/// a conversion is visible in the audit.
pub(super) fn read_formats(x: &Input<'_>, f: &mut Findings) {
    let formats = &x.data.notes.formats;
    if let Some(o) = formats.decimal_comma {
        f.add(
            "accuracy",
            Severity::Info,
            "number format",
            "all numbers",
            Issue::DecimalComma {
                detected: o == crate::data::Origin::Detected,
            },
        );
    }
    for (column, format, o) in &formats.dates {
        f.add(
            "accuracy",
            Severity::Info,
            "date format",
            column,
            Issue::DatesReadAs {
                format: format.describe(),
                detected: *o == crate::data::Origin::Detected,
            },
        );
    }
    for (column, count) in &formats.stripped {
        f.add(
            "accuracy",
            Severity::Info,
            "number format",
            column,
            Issue::NumbersStripped { count: *count },
        );
    }
}
