//! Currency: how old the data is, accounts that stopped appearing, gaps, and feeds whose
//! values never change.

use super::*;

/// Data age, stale accounts, gaps and frozen values.
pub(super) fn currency(x: &Input<'_>, f: &mut Findings) {
    let Input {
        profile,
        data,
        params,
        y,
        last_date,
        ..
    } = *x;
    if let Some(last) = last_date {
        let age = params.as_of - last;
        if age > params.stale_days {
            f.add(
                "currency",
                Severity::Warn,
                "data age",
                "",
                Issue::DataAge {
                    latest: last,
                    days: age,
                    today: params.as_of,
                },
            );
        }
    }
    let order = account_date_order(data);
    if let (Some(dates), Some(last)) = (&data.date, last_date) {
        // accounts that stopped appearing without churning
        let churn = data.churn_date.as_ref();
        let mut stopped = 0usize;
        let mut gaps = 0usize;
        let distinct = crate::data::order::distinct_days(dates);
        let pos = |d: Day| distinct.binary_search(&d).unwrap_or(0);
        for run in runs(&order, &data.account) {
            let first_i = run[0] as usize;
            let last_i = *run.last().expect("non-empty run") as usize;
            let churned = y.is_some_and(|o| run.iter().any(|&i| o[i as usize] == 1))
                || churn.is_some_and(|c| c[last_i] != NO_DAY);
            if dates[last_i] < last - params.stale_days && !churned {
                stopped += 1;
            }
            let span = pos(dates[last_i]) - pos(dates[first_i]) + 1;
            if span > run.len() {
                gaps += 1;
            }
        }
        if stopped > 0 {
            f.add(
                "currency",
                Severity::Warn,
                "stale accounts",
                "",
                Issue::StaleAccounts {
                    count: stopped,
                    days: params.stale_days,
                },
            );
        }
        if gaps > 0 {
            f.add(
                "integration",
                Severity::Info,
                "gaps",
                "",
                Issue::Gaps { accounts: gaps },
            );
        }
        // metrics that never change for an account: a stale feed (the metrics in parallel,
        // the findings in metric order)
        let frozen_counts: Vec<Option<(usize, usize)>> = {
            use rayon::prelude::*;
            profile
                .metrics
                .par_iter()
                .map(|m| {
                    if !matches!(
                        m.transform,
                        Transform::Linear { .. }
                            | Transform::Log { .. }
                            | Transform::Percentile { .. }
                    ) {
                        return None;
                    }
                    let Some(MetricColumn::Numeric(v)) = data.metric(&m.column) else {
                        return None;
                    };
                    let mut distinct_vals: Vec<u64> = v
                        .iter()
                        .filter(|x| !x.is_nan())
                        .map(|x| x.to_bits())
                        .take(100_000)
                        .collect();
                    distinct_vals.sort_unstable();
                    distinct_vals.dedup();
                    if distinct_vals.len() < 20 {
                        return None; // a coarse metric legitimately repeats
                    }
                    let (mut eligible, mut frozen) = (0usize, 0usize);
                    for run in runs(&order, &data.account) {
                        let mut present =
                            run.iter().map(|&i| v[i as usize]).filter(|x| !x.is_nan());
                        let Some(first) = present.next() else {
                            continue;
                        };
                        let (mut count, mut same) = (1usize, true);
                        for x in present {
                            count += 1;
                            same &= x == first;
                        }
                        if count >= params.stale_snapshots {
                            eligible += 1;
                            frozen += usize::from(same);
                        }
                    }
                    Some((eligible, frozen))
                })
                .collect()
        };
        for (m, counts) in profile.metrics.iter().zip(frozen_counts) {
            let Some((eligible, frozen)) = counts else {
                continue;
            };
            if eligible > 0 && frozen as f64 / eligible as f64 > 0.5 {
                f.add(
                    "currency",
                    Severity::Warn,
                    "frozen values",
                    &m.column,
                    Issue::Frozen {
                        frozen,
                        eligible,
                        snapshots: params.stale_snapshots,
                    },
                );
            }
        }
    }
}
