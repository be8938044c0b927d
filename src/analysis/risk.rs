//! Revenue at risk: from a calibrated profile, the revenue expected to churn over the next
//! horizon (Σ P(churn) × revenue over the accounts' snapshots at one date) per tier and per
//! value of any segment column (an owner, a region), with intervals for the calibration's
//! uncertainty and for chance, the expected survival and lifetime per tier when each
//! snapshot period's churn is a discrete-time hazard, and, when the date's outcomes are
//! known, observed against expected.
//!
//! The calibration's uncertainty: the profile's score is refitted to the outcomes before the
//! date (intercept and slope, by Newton) on B bootstrap resamples of accounts; each
//! replicate moves the profile's own intercept and slope by its difference from the fit on
//! all those rows. Each replicate gives an expected revenue (their 2.5–97.5 % range is the
//! interval of the expectation) and one draw of which accounts churn (the range of those
//! draws is the prediction interval the observed revenue is judged against).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::calibrate::problem::fit_two;
use crate::data::{parse, Day, Snapshots};
use crate::profile::Calibration;
use crate::score::Scored;
use crate::stats::binned_slope::BinnedLogits;
use crate::stats::{self, sigmoid};

/// Parameters of the revenue-at-risk stage.
#[derive(Debug, Clone)]
pub struct RiskParams {
    at: Option<Day>,
    by: Vec<String>,
    bootstrap: usize,
    seed: u64,
    periods: usize,
}

impl Default for RiskParams {
    fn default() -> Self {
        RiskParams {
            at: None,
            by: Vec::new(),
            bootstrap: 200,
            seed: 42,
            periods: 20,
        }
    }
}

/// Why revenue at risk cannot be computed.
#[derive(Debug, Error)]
pub enum RiskError {
    /// The profile has no calibration, so no P(churn).
    #[error("revenue at risk needs P(churn): calibrate the profile first")]
    NotCalibrated,
    /// No revenue column.
    #[error("revenue at risk needs a revenue column, and none was loaded")]
    NoRevenue,
    /// No snapshot dates.
    #[error("revenue at risk needs snapshot dates")]
    NoDates,
    /// No scored snapshot at the date.
    #[error("no scored snapshot on {0}")]
    NothingAt(String),
    /// A segment column to group by was not loaded.
    #[error("no segment column '{0}' in the data")]
    NoSegment(String),
    /// A revenue value that cannot be summed.
    #[error("{path}, row {row}, column '{column}': revenue {value} is not a number ≥ 0")]
    BadRevenue {
        /// The data file.
        path: String,
        /// The revenue column.
        column: String,
        /// 1-based data row.
        row: u32,
        /// The value (NaN: missing).
        value: f64,
    },
    /// A parameter out of range.
    #[error("{0}")]
    BadParam(String),
}

impl RiskParams {
    /// The snapshot date whose accounts are at risk. Default: the last date.
    pub fn at(mut self, d: Option<Day>) -> Self {
        self.at = d;
        self
    }
    /// Segment columns to break the revenue down by (besides the tiers). Default none.
    pub fn by(mut self, columns: Vec<String>) -> Self {
        self.by = columns;
        self
    }
    /// Bootstrap replicates of the calibration. Default 200.
    pub fn bootstrap(mut self, b: usize) -> Self {
        self.bootstrap = b;
        self
    }
    /// Seed of the bootstrap and the draws. Default 42.
    pub fn seed(mut self, s: u64) -> Self {
        self.seed = s;
        self
    }
    /// Snapshot periods the survival curves run over. Default 20.
    pub fn periods(mut self, n: usize) -> Self {
        self.periods = n;
        self
    }
    /// Refuse parameters out of range.
    pub fn check(&self) -> Result<(), RiskError> {
        if !(1..=400).contains(&self.periods) {
            return Err(RiskError::BadParam(format!(
                "the survival curves run over 1 to 400 periods, not {}",
                self.periods
            )));
        }
        if self.bootstrap == 1 {
            return Err(RiskError::BadParam(
                "one bootstrap replicate gives no interval: use 0 or at least 2".into(),
            ));
        }
        Ok(())
    }
}

/// Revenue at risk at one date.
#[derive(Debug, Clone, Serialize)]
pub struct RevenueAtRisk {
    /// The date whose snapshots are scored.
    pub at: String,
    /// Days between consecutive snapshot dates (the median gap): the horizon of one
    /// period's churn.
    pub period_days: f64,
    /// Snapshots (accounts) at the date.
    pub accounts: usize,
    /// Snapshots before the date with an outcome, the calibration's uncertainty is fitted on.
    pub history_rows: usize,
    /// Bootstrap replicates (0: intervals for chance only).
    pub bootstrap: usize,
    /// Whether the date's outcomes are known (observed against expected).
    pub checked: bool,
    /// Overall, per tier, per value of each segment column.
    pub groups: Vec<RiskGroup>,
    /// Expected survival per tier.
    pub survival: Vec<TierSurvival>,
}

/// Expected and (when known) observed churn of one group of accounts.
#[derive(Debug, Clone, Serialize)]
pub struct RiskGroup {
    /// `all`, `tier`, or the segment column.
    pub by: String,
    /// The tier or segment value (`all` for everything).
    pub label: String,
    /// Accounts in the group.
    pub accounts: usize,
    /// Their revenue.
    pub revenue: f64,
    /// Expected churned revenue: Σ P(churn) × revenue.
    pub expected: f64,
    /// 95 % interval of the expectation (the calibration's uncertainty).
    pub expected_ci: [f64; 2],
    /// 95 % prediction interval of the churned revenue (calibration and chance).
    pub predicted: [f64; 2],
    /// Expected churned accounts: Σ P(churn).
    pub expected_accounts: f64,
    /// 95 % prediction interval of the churned accounts.
    pub predicted_accounts: [f64; 2],
    /// Churned revenue observed, when the date's outcomes are known.
    pub observed: Option<f64>,
    /// Churned accounts observed.
    pub observed_accounts: Option<usize>,
}

impl RiskGroup {
    /// Whether the observed churned revenue lies inside its prediction interval.
    pub fn within(&self) -> Option<bool> {
        self.observed
            .map(|o| o >= self.predicted[0] - 1e-9 && o <= self.predicted[1] + 1e-9)
    }
}

/// A tier's expected survival if each of its accounts kept its current per-period churn
/// probability (a discrete-time hazard): `S(t) = mean over accounts of (1 − p)^t`.
#[derive(Debug, Clone, Serialize)]
pub struct TierSurvival {
    /// The tier.
    pub tier: String,
    /// Accounts in it at the date.
    pub accounts: usize,
    /// Their mean churn probability per period.
    pub hazard: f64,
    /// `S(0) = 1, S(1), …, S(periods)`.
    pub curve: Vec<f64>,
    /// Expected lifetime within the curve's span (restricted mean survival,
    /// `Σ_{t<periods} S(t)`), in periods.
    pub lifetime_periods: f64,
}

/// One replicate's per-group figures: expected churned revenue under its calibration, and
/// one draw's churned revenue and accounts.
type Replicate = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Each row's calibration: one profile's, or each row's own in a profile set.
pub struct Calibrations<'a> {
    /// The calibrations.
    pub list: Vec<&'a Calibration>,
    /// Per row, its calibration's index (none: the first for every row).
    pub which: Option<&'a [u8]>,
}

impl RiskParams {
    /// Revenue at risk of `data` scored as `scored` under `cal`.
    pub fn run(
        &self,
        data: &Snapshots,
        scored: &Scored,
        cal: &Calibrations,
    ) -> Result<RevenueAtRisk, RiskError> {
        self.check()?;
        if cal.list.is_empty() || scored.probability.is_none() {
            return Err(RiskError::NotCalibrated);
        }
        let arr = data.arr.as_ref().ok_or(RiskError::NoRevenue)?;
        let dates = data.date.as_ref().ok_or(RiskError::NoDates)?;
        let distinct = crate::data::order::distinct_days(dates);
        let at = match self.at {
            Some(d) => d,
            None => *distinct.last().ok_or(RiskError::NoDates)?,
        };
        let period_days = {
            let mut gaps: Vec<f64> = distinct.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
            gaps.sort_by(f64::total_cmp);
            if gaps.is_empty() {
                f64::NAN
            } else {
                gaps[gaps.len() / 2]
            }
        };
        let now: Vec<usize> = (0..data.rows)
            .filter(|&i| dates[i] == at && !scored.score[i].is_nan())
            .collect();
        if now.is_empty() {
            return Err(RiskError::NothingAt(parse::format_day(at)));
        }
        if let Some(&i) = now
            .iter()
            .find(|&&i| !(arr[i] >= 0.0 && arr[i].is_finite()))
        {
            return Err(RiskError::BadRevenue {
                path: data.source.clone(),
                column: data.arr_column.clone().unwrap_or_else(|| "revenue".into()),
                row: data.source_row[i],
                value: arr[i],
            });
        }
        let which = |i: usize| cal.which.map_or(0, |w| w[i] as usize);
        let outcome = data.outcome.as_ref();
        let history: Vec<usize> = match outcome {
            Some(_) => (0..data.rows)
                .filter(|&i| dates[i] < at && !scored.score[i].is_nan())
                .collect(),
            None => Vec::new(),
        };

        // Each replicate's (intercept, slope) shift per calibration.
        let stage = tracing::info_span!("risk: the calibration's bootstrap").entered();
        let shifts = self.calibration_shifts(data, scored, &history, cal, &which);
        let b = shifts.len();
        drop(stage);
        let _stage = tracing::info_span!("risk: replicates at the date, survival").entered();

        // Groupings of the rows at the date: all, tier, each segment column.
        let mut groupings: Vec<(String, Vec<String>, Vec<usize>)> = vec![
            ("all".into(), vec!["all".into()], vec![0; now.len()]),
            (
                "tier".into(),
                scored.tier_names.clone(),
                now.iter().map(|&i| scored.tier[i] as usize).collect(),
            ),
        ];
        for col in &self.by {
            let seg = data
                .segments
                .iter()
                .find(|s| &s.name == col)
                .ok_or_else(|| RiskError::NoSegment(col.clone()))?;
            groupings.push((
                col.clone(),
                seg.labels.clone(),
                now.iter().map(|&i| seg.codes[i] as usize).collect(),
            ));
        }
        let offsets: Vec<usize> = groupings
            .iter()
            .scan(0, |acc, g| {
                let o = *acc;
                *acc += g.1.len();
                Some(o)
            })
            .collect();
        let n_groups: usize = groupings.iter().map(|g| g.1.len()).sum();
        let cell = |r: usize, gi: usize| offsets[gi] + groupings[gi].2[r];

        let p_now: Vec<f64> = {
            let p = scored.probability.as_ref().expect("checked");
            now.iter().map(|&i| p[i]).collect()
        };
        // Point figures and observed.
        let mut accounts = vec![0usize; n_groups];
        let mut revenue = vec![0.0; n_groups];
        let mut expected = vec![0.0; n_groups];
        let mut expected_n = vec![0.0; n_groups];
        let mut observed = vec![0.0; n_groups];
        let mut observed_n = vec![0usize; n_groups];
        let checked = outcome.is_some_and(|o| now.iter().all(|&i| o[i] <= 1));
        for (r, &i) in now.iter().enumerate() {
            for gi in 0..groupings.len() {
                let c = cell(r, gi);
                accounts[c] += 1;
                revenue[c] += arr[i];
                expected[c] += p_now[r] * arr[i];
                expected_n[c] += p_now[r];
                if let Some(o) = outcome.filter(|_| checked) {
                    observed[c] += f64::from(o[i]) * arr[i];
                    observed_n[c] += o[i] as usize;
                }
            }
        }
        // Replicates: the expectation under the shifted calibration, and one draw of who
        // churns (with the point calibration when there is no bootstrap).
        let draws = b.max(200);
        let reps: Vec<Replicate> = (0..draws)
            .into_par_iter()
            .map(|r| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(7_000_000 + r as u64);
                let mut e = vec![0.0; n_groups];
                let mut o = vec![0.0; n_groups];
                let mut on = vec![0.0; n_groups];
                for (row, &i) in now.iter().enumerate() {
                    let k = which(i);
                    let p = match shifts.get(r % b.max(1)) {
                        Some(s) if b > 0 => {
                            let c = cal.list[k];
                            let (da, db) = s[k];
                            sigmoid(c.intercept + da + (c.slope + db) * scored.score[i] / 100.0)
                        }
                        _ => p_now[row],
                    };
                    let churns = rng.random::<f64>() < p;
                    for gi in 0..groupings.len() {
                        let c = cell(row, gi);
                        e[c] += p * arr[i];
                        if churns {
                            o[c] += arr[i];
                            on[c] += 1.0;
                        }
                    }
                }
                (e, o, on)
            })
            .collect();
        let range = |f: &dyn Fn(&Replicate) -> f64, only: usize| {
            let mut v: Vec<f64> = reps.iter().take(only).map(f).collect();
            v.sort_by(f64::total_cmp);
            [
                stats::quantile_sorted(&v, 0.025),
                stats::quantile_sorted(&v, 0.975),
            ]
        };
        let mut groups = Vec::with_capacity(n_groups);
        for (gi, (by, labels, _)) in groupings.iter().enumerate() {
            for (l, label) in labels.iter().enumerate() {
                let c = offsets[gi] + l;
                if accounts[c] == 0 {
                    continue;
                }
                groups.push(RiskGroup {
                    by: by.clone(),
                    label: label.clone(),
                    accounts: accounts[c],
                    revenue: revenue[c],
                    expected: expected[c],
                    expected_ci: if b > 0 {
                        range(&|x| x.0[c], b)
                    } else {
                        [expected[c]; 2]
                    },
                    predicted: range(&|x| x.1[c], draws),
                    expected_accounts: expected_n[c],
                    predicted_accounts: range(&|x| x.2[c], draws),
                    observed: checked.then_some(observed[c]),
                    observed_accounts: checked.then_some(observed_n[c]),
                });
            }
        }
        // Survival per tier.
        let survival = scored
            .tier_names
            .iter()
            .enumerate()
            .filter_map(|(t, name)| {
                let ps: Vec<f64> = now
                    .iter()
                    .zip(&p_now)
                    .filter(|(&i, _)| scored.tier[i] as usize == t)
                    .map(|(_, &p)| p)
                    .collect();
                if ps.is_empty() {
                    return None;
                }
                let curve: Vec<f64> = (0..=self.periods)
                    .map(|k| {
                        ps.iter().map(|p| (1.0 - p).powi(k as i32)).sum::<f64>() / ps.len() as f64
                    })
                    .collect();
                Some(TierSurvival {
                    tier: name.clone(),
                    accounts: ps.len(),
                    hazard: ps.iter().sum::<f64>() / ps.len() as f64,
                    lifetime_periods: curve[..self.periods].iter().sum(),
                    curve,
                })
            })
            .collect();
        Ok(RevenueAtRisk {
            at: parse::format_day(at),
            period_days,
            accounts: now.len(),
            history_rows: history.len(),
            bootstrap: b,
            checked,
            groups,
            survival,
        })
    }

    /// Per replicate and calibration, the (intercept, slope) shift of a bootstrap refit of
    /// the profile's score to the history's outcomes from the refit on all of it; empty
    /// without replicates or history.
    fn calibration_shifts(
        &self,
        data: &Snapshots,
        scored: &Scored,
        history: &[usize],
        cal: &Calibrations,
        which: &dyn Fn(usize) -> usize,
    ) -> Vec<Vec<(f64, f64)>> {
        let Some(outcome) = data.outcome.as_ref() else {
            return Vec::new();
        };
        if self.bootstrap == 0 || history.is_empty() {
            return Vec::new();
        }
        let k = cal.list.len();
        // The history's accounts, drawn with replacement.
        let mut ids: Vec<u32> = history.iter().map(|&i| data.account[i]).collect();
        ids.sort_unstable();
        ids.dedup();
        let slot: rustc_hash::FxHashMap<u32, u32> = ids
            .iter()
            .enumerate()
            .map(|(j, &a)| (a, j as u32))
            .collect();
        // Per calibration, its history rows' scores (0–1), outcomes and account slots.
        let parts: Vec<(Vec<f64>, Vec<u8>, Vec<u32>)> = (0..k)
            .map(|c| {
                let rows: Vec<usize> = history.iter().copied().filter(|&i| which(i) == c).collect();
                (
                    rows.iter().map(|&i| scored.score[i] / 100.0).collect(),
                    rows.iter().map(|&i| outcome[i]).collect(),
                    rows.iter().map(|&i| slot[&data.account[i]]).collect(),
                )
            })
            .collect();
        drop(slot);
        let full: Vec<(f64, f64)> = parts
            .iter()
            .zip(&cal.list)
            .map(|((s, y, _), c)| {
                if s.is_empty() {
                    (c.intercept, c.slope)
                } else {
                    let (a, b, _) = fit_two(s, y, &vec![1.0; s.len()], (c.intercept, c.slope));
                    (a, b)
                }
            })
            .collect();
        // Each replicate's refit from 4,096 bins of the scores (one pass over the history,
        // then Newton over the bins: within 1e-8 of the row-by-row fit; see
        // `stats::binned_slope`).
        (0..self.bootstrap)
            .into_par_iter()
            .map(|r| {
                let drawn = stats::resample_counts(self.seed, 5_000_000 + r as u64, ids.len());
                parts
                    .iter()
                    .zip(&full)
                    .map(|((s, y, acc), &(a0, b0))| {
                        if s.is_empty() {
                            return (0.0, 0.0);
                        }
                        let mut bins = BinnedLogits::new(0.0, 1.0);
                        let mut events = 0.0;
                        for ((&x, &yy), &a) in s.iter().zip(y).zip(acc) {
                            let w = drawn[a as usize];
                            if w != 0.0 {
                                bins.add(x, yy, w);
                                events += w * f64::from(yy);
                            }
                        }
                        if events == 0.0 {
                            return (0.0, 0.0);
                        }
                        let (a, b) = bins.fit_from((a0, b0));
                        (a - a0, b - b0)
                    })
                    .collect()
            })
            .collect()
    }
}
