//! Why scores moved: every account's change between two snapshot dates split exactly into
//! one contribution per metric ([`attribution`]), optionally into the profile's part and
//! the data's part (a recalibration explained before rollout), and the worklist of accounts
//! that need a call.
//!
//! The stage has the shape of the others: [`ExplainParams`] with `check()` and
//! [`ExplainParams::run`] on loaded snapshots, returning an [`Explanation`] of numbers.

pub mod attribution;

use rayon::prelude::*;
use thiserror::Error;

use crate::data::{parse, ColumnRole, Day, Snapshots};
use crate::profile::set::Profiles;
use crate::profile::Profile;
use crate::score::{self, SubScores};
use attribution::{attribute, Method};

/// What the explain stage can refuse.
#[derive(Debug, Error)]
pub enum ExplainError {
    /// A parameter out of range.
    #[error("{param}: {message}")]
    BadParam {
        /// The parameter.
        param: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Explaining a change needs dated snapshots.
    #[error("explaining a change needs the {0} column")]
    NeedsColumn(ColumnRole),
    /// Fewer than two snapshot dates.
    #[error("the data has {0} snapshot date(s); a change needs two")]
    OneDate(usize),
    /// A date the data does not have.
    #[error("no snapshots dated {date}; the data's dates are {}", .dates.join(", "))]
    NoSuchDate {
        /// The date asked for.
        date: String,
        /// The data's dates (the last ten).
        dates: Vec<String>,
    },
    /// The two profiles do not read the same metrics.
    #[error("the previous profile's metrics differ from the current one's: {0}")]
    Profiles(String),
    /// Scoring failed.
    #[error(transparent)]
    Score(#[from] score::ScoreError),
}

/// Parameters of the explain stage.
#[derive(Debug, Clone)]
pub struct ExplainParams {
    /// The earlier date (`None`: the date before `to`).
    pub from: Option<Day>,
    /// The later date (`None`: the last).
    pub to: Option<Day>,
    /// An account on the worklist dropped by at least this many points.
    pub drop: f64,
    /// … or its P(churn) rose by at least this much (calibrated profiles).
    pub rise: f64,
}

impl Default for ExplainParams {
    fn default() -> Self {
        ExplainParams {
            from: None,
            to: None,
            drop: 10.0,
            rise: 0.05,
        }
    }
}

/// Why an account is on the worklist (bit flags).
pub mod why {
    /// It crossed into a worse tier.
    pub const WORSE_TIER: u8 = 1;
    /// Its score dropped by at least the threshold.
    pub const DROPPED: u8 = 2;
    /// Its P(churn) rose by at least the threshold.
    pub const RISK_ROSE: u8 = 4;
}

/// What happened to a metric of an account between the dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Present at both dates.
    Both,
    /// Missing before, present now.
    Appeared,
    /// Present before, missing now.
    Disappeared,
    /// Missing at both.
    Neither,
}

/// One account's change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The account (index into the snapshots' account names).
    pub account: u32,
    /// Its snapshot rows at the two dates.
    pub rows: [usize; 2],
    /// Its scores then and now.
    pub score: [f64; 2],
    /// Its tiers then and now (index, best first; `u8::MAX` unscored).
    pub tier: [u8; 2],
    /// Its P(churn) then and now (NaN without a calibration).
    pub probability: [f64; 2],
    /// How the change was split.
    pub method: Method,
    /// Worklist flags ([`why`]); 0 when not on it.
    pub flags: u8,
}

/// The split of the change into the profile's part and the data's part, each per metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSplit {
    /// The previous profile's name.
    pub previous: String,
    /// Per account (in [`Explanation::changes`] order): the profile's part.
    pub profile_part: Vec<f64>,
    /// Per account: the data's part.
    pub data_part: Vec<f64>,
    /// Per account × metric: the profile's part of each metric (NaN when the two profiles
    /// transform a metric differently: then only the total is split).
    pub profile_contributions: Vec<f64>,
    /// Per account × metric: the data's part (the mean of the two profiles' attributions).
    pub data_contributions: Vec<f64>,
}

/// What [`ExplainParams::run`] found.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The earlier date.
    pub from: Day,
    /// The later date.
    pub to: Day,
    /// Metric names, in profile order.
    pub metrics: Vec<String>,
    /// Tier names, best first.
    pub tiers: Vec<String>,
    /// Accounts with a snapshot at both dates.
    pub changes: Vec<Change>,
    /// Per account × metric (`metrics.len()` per account): each metric's points of the
    /// change; they sum to the change exactly.
    pub contributions: Vec<f64>,
    /// Per account × metric: presence at the two dates.
    pub presence: Vec<Presence>,
    /// Accounts at the earlier date only (left, or not snapshotted again).
    pub only_before: usize,
    /// Accounts at the later date only (new).
    pub only_after: usize,
    /// Accounts whose change could not be split (no score at a date, or no metric in
    /// common in between).
    pub unexplained: usize,
    /// Mean score change over the accounts with a split, and its split by metric.
    pub mean_change: f64,
    /// Per metric: mean contribution over the accounts with a split.
    pub mean_by_metric: Vec<f64>,
    /// Tier migration: `[from][to]` counts of accounts scored at both dates.
    pub migration: Vec<Vec<usize>>,
    /// The worklist: indices into `changes`, riskiest and most valuable first.
    pub worklist: Vec<usize>,
    /// The split into the profile's and the data's parts, with a previous profile.
    pub split: Option<ProfileSplit>,
}

impl Explanation {
    /// The `k` accounts whose scores fell most (indices into [`Explanation::changes`]),
    /// largest fall first; accounts whose change was not split are left out.
    pub fn largest_falls(&self, k: usize) -> Vec<usize> {
        let mut falls: Vec<usize> = (0..self.changes.len())
            .filter(|&i| {
                matches!(
                    self.changes[i].method,
                    Method::Linear | Method::Shapley { .. }
                )
            })
            .collect();
        let d = |i: usize| self.changes[i].score[1] - self.changes[i].score[0];
        falls.sort_by(|&a, &b| d(a).total_cmp(&d(b)).then(a.cmp(&b)));
        falls.truncate(k);
        falls
    }
}

impl ExplainParams {
    /// Refuse parameters out of range before any work.
    pub fn check(&self) -> Result<(), ExplainError> {
        if !(self.drop.is_finite() && self.drop >= 0.0) {
            return Err(ExplainError::BadParam {
                param: "drop",
                message: format!("{} is not a number of points ≥ 0", self.drop),
            });
        }
        if !(self.rise.is_finite() && (0.0..=1.0).contains(&self.rise)) {
            return Err(ExplainError::BadParam {
                param: "rise",
                message: format!("{} is not a probability between 0 and 1", self.rise),
            });
        }
        if let (Some(a), Some(b)) = (self.from, self.to) {
            if a >= b {
                return Err(ExplainError::BadParam {
                    param: "from",
                    message: format!(
                        "{} is not before {}",
                        parse::format_day(a),
                        parse::format_day(b)
                    ),
                });
            }
        }
        Ok(())
    }

    /// Explain the change of every account's score under `profile` between the two dates;
    /// with `previous`, also split it into the profile's part (old → new profile) and the
    /// data's part (old → new snapshot).
    pub fn run(
        &self,
        profile: &Profile,
        previous: Option<&Profile>,
        data: &Snapshots,
    ) -> Result<Explanation, ExplainError> {
        self.run_sets(&Profiles::One(profile.clone()), previous, data)
    }

    /// [`ExplainParams::run`] with a profile or a profile set: each account's change is
    /// split by its profile's weights; an account whose segment value picks another profile
    /// at the second date is listed with [`Method::ProfileChanged`], unsplit. The split by
    /// profile and data (`previous`) takes one profile.
    pub fn run_sets(
        &self,
        profiles: &Profiles,
        previous: Option<&Profile>,
        data: &Snapshots,
    ) -> Result<Explanation, ExplainError> {
        let keep = self.rows_needed(profiles, data)?;
        let two_dates = keep.as_ref().map(|keep| data.select_rows(keep));
        self.run_selected(
            profiles,
            previous,
            two_dates.as_ref().unwrap_or(data),
            keep.as_deref(),
        )
    }

    /// The rows of `data` that explaining reads: those at the two dates (`None`: every row,
    /// when they are every row or when a tier's bound is a quantile of every row's score).
    pub fn rows_needed(
        &self,
        profiles: &Profiles,
        data: &Snapshots,
    ) -> Result<Option<Vec<usize>>, ExplainError> {
        self.check()?;
        let dates = data
            .date
            .as_ref()
            .ok_or(ExplainError::NeedsColumn(ColumnRole::SnapshotDate))?;
        let (from, to) = self.dates(dates)?;
        Ok(profiles
            .all()
            .iter()
            .all(|p| p.tiers_by_quantile.is_none())
            .then(|| {
                (0..dates.len())
                    .filter(|&i| dates[i] == from || dates[i] == to)
                    .collect::<Vec<usize>>()
            })
            .filter(|keep| keep.len() < data.rows))
    }

    /// [`ExplainParams::run_sets`] on `data`, the rows `keep` of the data as
    /// [`ExplainParams::rows_needed`] gives them (`None`: every row): the changes' row
    /// numbers are the data's.
    pub fn run_selected(
        &self,
        profiles: &Profiles,
        previous: Option<&Profile>,
        data: &Snapshots,
        keep: Option<&[usize]>,
    ) -> Result<Explanation, ExplainError> {
        self.check()?;
        let profile = profiles.main();
        if previous.is_some() && matches!(profiles, Profiles::Set(_)) {
            return Err(ExplainError::Profiles(
                "the split into the profile's part and the data's takes one profile, not a set"
                    .into(),
            ));
        }
        let dates = data
            .date
            .as_ref()
            .ok_or(ExplainError::NeedsColumn(ColumnRole::SnapshotDate))?;
        let (from, to) = self.dates(dates)?;
        let stage = tracing::info_span!("explain: sub-scores and scores").entered();
        let (subs, assignment) = score::subscores_for(profiles, data)?;
        let weights = profile.effective_weights();
        let n = weights.len();
        let scored =
            score::score_assigned(profile, &subs, assignment.as_ref(), score::Extent::Tiers);

        // Each account's rows at the two dates.
        let mut at = vec![[usize::MAX; 2]; data.n_accounts];
        for (i, &d) in dates.iter().enumerate() {
            if d == from {
                at[data.account[i] as usize][0] = i;
            } else if d == to {
                at[data.account[i] as usize][1] = i;
            }
        }
        let both: Vec<(u32, [usize; 2])> = at
            .iter()
            .enumerate()
            .filter(|(_, r)| r[0] != usize::MAX && r[1] != usize::MAX)
            .map(|(a, r)| (a as u32, *r))
            .collect();
        let only_before = at
            .iter()
            .filter(|r| r[0] != usize::MAX && r[1] == usize::MAX)
            .count();
        let only_after = at
            .iter()
            .filter(|r| r[0] == usize::MAX && r[1] != usize::MAX)
            .count();

        drop(stage);
        let _stage = tracing::info_span!("explain: attribution").entered();
        let (contributions, methods) = match &assignment {
            None => attribute_all(&subs, &weights, &both),
            Some(a) => attribute_assigned(&subs, a, &both),
        };
        let presence: Vec<Presence> = both
            .iter()
            .flat_map(|(_, [r0, r1])| {
                let subs = &subs;
                (0..n).map(move |k| {
                    match (subs.columns[k][*r0].is_nan(), subs.columns[k][*r1].is_nan()) {
                        (false, false) => Presence::Both,
                        (true, false) => Presence::Appeared,
                        (false, true) => Presence::Disappeared,
                        (true, true) => Presence::Neither,
                    }
                })
            })
            .collect();
        let prob = |r: usize| scored.probability.as_ref().map_or(f64::NAN, |p| p[r]);
        let mut changes: Vec<Change> = both
            .iter()
            .zip(&methods)
            .map(|(&(account, rows), &method)| Change {
                account,
                rows,
                score: rows.map(|r| scored.score[r]),
                tier: rows.map(|r| scored.tier[r]),
                probability: rows.map(prob),
                method,
                flags: 0,
            })
            .collect();
        for c in &mut changes {
            let [t0, t1] = c.tier;
            if t0 != u8::MAX && t1 != u8::MAX && t1 > t0 {
                c.flags |= why::WORSE_TIER;
            }
            if c.score[0] - c.score[1] >= self.drop && self.drop > 0.0 {
                c.flags |= why::DROPPED;
            }
            if c.probability[1] - c.probability[0] >= self.rise && self.rise > 0.0 {
                c.flags |= why::RISK_ROSE;
            }
        }

        let tiers = scored.tier_names.clone();
        let mut migration = vec![vec![0usize; tiers.len()]; tiers.len()];
        for c in &changes {
            let [t0, t1] = c.tier;
            if t0 != u8::MAX && t1 != u8::MAX {
                migration[t0 as usize][t1 as usize] += 1;
            }
        }
        let explained: Vec<usize> = (0..changes.len())
            .filter(|&i| matches!(changes[i].method, Method::Linear | Method::Shapley { .. }))
            .collect();
        let m = explained.len().max(1) as f64;
        let mean_change = explained
            .iter()
            .map(|&i| changes[i].score[1] - changes[i].score[0])
            .sum::<f64>()
            / m;
        let mut mean_by_metric = vec![0.0; n];
        for &i in &explained {
            for (k, s) in mean_by_metric.iter_mut().enumerate() {
                *s += contributions[i * n + k];
            }
        }
        mean_by_metric.iter_mut().for_each(|s| *s /= m);

        let split = previous
            .map(|old| profile_split(profile, old, data, &subs, &both, &contributions))
            .transpose()?;
        let worklist = worklist(&changes, data.arr.as_deref());
        if let Some(keep) = keep {
            for c in &mut changes {
                c.rows = c.rows.map(|r| keep[r]);
            }
        }
        Ok(Explanation {
            from,
            to,
            metrics: profile.metrics.iter().map(|m| m.name.clone()).collect(),
            tiers,
            unexplained: changes.len() - explained.len(),
            changes,
            contributions,
            presence,
            only_before,
            only_after,
            mean_change,
            mean_by_metric,
            migration,
            worklist,
            split,
        })
    }

    /// The two dates: as given, or the last two of the data.
    fn dates(&self, dates: &[Day]) -> Result<(Day, Day), ExplainError> {
        let mut distinct: Vec<Day> = dates.to_vec();
        distinct.par_sort_unstable();
        distinct.dedup();
        let listed = || {
            distinct
                .iter()
                .rev()
                .take(10)
                .rev()
                .map(|d| parse::format_day(*d))
                .collect::<Vec<_>>()
        };
        let known = |d: Day| -> Result<Day, ExplainError> {
            if distinct.binary_search(&d).is_ok() {
                Ok(d)
            } else {
                Err(ExplainError::NoSuchDate {
                    date: parse::format_day(d),
                    dates: listed(),
                })
            }
        };
        if distinct.len() < 2 {
            return Err(ExplainError::OneDate(distinct.len()));
        }
        let to = match self.to {
            Some(d) => known(d)?,
            None => *distinct.last().expect("two dates"),
        };
        let from = match self.from {
            Some(d) => known(d)?,
            None => match distinct.iter().rev().find(|&&d| d < to) {
                Some(&d) => d,
                None => return Err(ExplainError::OneDate(1)),
            },
        };
        if from >= to {
            return Err(ExplainError::BadParam {
                param: "from",
                message: format!(
                    "{} is not before {}",
                    parse::format_day(from),
                    parse::format_day(to)
                ),
            });
        }
        Ok((from, to))
    }
}

/// [`attribute_all`] with each account's own profile of a set; an account whose two rows
/// have different profiles gets [`Method::ProfileChanged`] and NaN contributions.
fn attribute_assigned(
    subs: &SubScores,
    a: &score::Assignment,
    both: &[(u32, [usize; 2])],
) -> (Vec<f64>, Vec<Method>) {
    let n = subs.columns.len();
    let mut contributions = vec![f64::NAN; both.len() * n];
    let mut methods = vec![Method::ProfileChanged; both.len()];
    for (p, profile) in a.profiles.iter().enumerate() {
        let mine: Vec<usize> = (0..both.len())
            .filter(|&j| {
                let [r0, r1] = both[j].1;
                a.which[r0] as usize == p && a.which[r1] as usize == p
            })
            .collect();
        if mine.is_empty() {
            continue;
        }
        let sub: Vec<(u32, [usize; 2])> = mine.iter().map(|&j| both[j]).collect();
        let (c, m) = attribute_all(subs, &profile.effective_weights(), &sub);
        for (t, &j) in mine.iter().enumerate() {
            contributions[j * n..(j + 1) * n].copy_from_slice(&c[t * n..(t + 1) * n]);
            methods[j] = m[t];
        }
    }
    (contributions, methods)
}

/// Every account's contributions (row-major, `weights.len()` per account) and methods,
/// in parallel, with one scratch buffer per thread.
fn attribute_all(
    subs: &SubScores,
    weights: &[f64],
    both: &[(u32, [usize; 2])],
) -> (Vec<f64>, Vec<Method>) {
    let n = weights.len();
    let mut contributions = vec![0.0; both.len() * n];
    let mut methods = vec![Method::Linear; both.len()];
    contributions
        .par_chunks_mut(n.max(1))
        .zip(methods.par_iter_mut())
        .zip(both.par_iter())
        .for_each_init(
            || (vec![0.0; n], vec![0.0; n], Vec::new()),
            |(from, to, scratch), ((out, method), (_, [r0, r1]))| {
                // A row with no raw value present has no score, whatever the policies
                // fill in (as `SubScores::scores` says).
                if subs.present[*r0] == 0 || subs.present[*r1] == 0 {
                    out.fill(f64::NAN);
                    *method = Method::Unscored;
                    return;
                }
                for k in 0..n {
                    from[k] = subs.columns[k][*r0];
                    to[k] = subs.columns[k][*r1];
                }
                *method = attribute(weights, from, to, out, scratch);
            },
        );
    (contributions, methods)
}

/// The profile's and the data's parts of each change (symmetric: the mean of the two
/// orders), each per metric: the data's part is the mean of the attributions under the two
/// profiles; the profile's part of a metric is its Aumann–Shapley share of the move from
/// the old weights to the new at each date (exact for a score that is a weighted mean),
/// when both profiles read and transform the metrics alike.
fn profile_split(
    new: &Profile,
    old: &Profile,
    data: &Snapshots,
    new_subs: &SubScores,
    both: &[(u32, [usize; 2])],
    new_contrib: &[f64],
) -> Result<ProfileSplit, ExplainError> {
    let n = new.metrics.len();
    let same = SubScores::same_for(new, old);
    if !same
        && (old.metrics.len() != n
            || old
                .metrics
                .iter()
                .zip(&new.metrics)
                .any(|(a, b)| a.column != b.column))
    {
        return Err(ExplainError::Profiles(
            "the split needs the same metric columns in the same order".into(),
        ));
    }
    let old_subs = if same {
        std::borrow::Cow::Borrowed(new_subs)
    } else {
        std::borrow::Cow::Owned(SubScores::compute(old, data)?)
    };
    let (w_new, w_old) = (new.effective_weights(), old.effective_weights());
    // The old weights' contributions become the data's part in their own buffer.
    let (mut data_contributions, _) = attribute_all(&old_subs, &w_old, both);
    // Buffers reused across accounts: a row's sub-scores under each profile, and the
    // weight-path shares at each date.
    let (mut row, mut row0, mut row1) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let (mut at0, mut at1) = (vec![0.0; n], vec![0.0; n]);
    let mut s = |subs: &SubScores, w: &[f64], r: usize| -> f64 {
        if subs.present[r] == 0 {
            return f64::NAN;
        }
        for (x, c) in row.iter_mut().zip(&subs.columns) {
            *x = c[r];
        }
        attribution::score_of(w, &row)
    };
    let mut profile_part = Vec::with_capacity(both.len());
    let mut data_part = Vec::with_capacity(both.len());
    let mut profile_contributions = vec![f64::NAN; both.len() * n];
    for (a, (_, [r0, r1])) in both.iter().enumerate() {
        let (new0, new1) = (s(new_subs, &w_new, *r0), s(new_subs, &w_new, *r1));
        let (old0, old1) = (s(&old_subs, &w_old, *r0), s(&old_subs, &w_old, *r1));
        profile_part.push(0.5 * ((new0 - old0) + (new1 - old1)));
        data_part.push(0.5 * ((new1 - new0) + (old1 - old0)));
        for k in 0..n {
            let old = data_contributions[a * n + k];
            data_contributions[a * n + k] = 0.5 * (new_contrib[a * n + k] + old);
        }
        if same {
            for ((a, b), c) in row0.iter_mut().zip(row1.iter_mut()).zip(&new_subs.columns) {
                (*a, *b) = (c[*r0], c[*r1]);
            }
            weight_path(&w_old, &w_new, &row0, &mut at0);
            weight_path(&w_old, &w_new, &row1, &mut at1);
            for k in 0..n {
                profile_contributions[a * n + k] = 0.5 * (at0[k] + at1[k]);
            }
        }
    }
    Ok(ProfileSplit {
        previous: old.name.clone(),
        profile_part,
        data_part,
        profile_contributions,
        data_contributions,
    })
}

/// Each metric's share of `score(new weights) − score(old weights)` at sub-scores `s`: the
/// Aumann–Shapley attribution along the straight path of weights, in closed form. With
/// `N(t)`, `W(t)` the weighted sum and total weight of the present metrics (linear in `t`),
/// metric `i` gets `Δw_i ∫₀¹ (s_i W − N) / W² dt`; the shares sum to the change exactly.
pub fn weight_path(old: &[f64], new: &[f64], s: &[f64], out: &mut [f64]) {
    let (mut w0, mut w1, mut n0, mut n1) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..s.len() {
        if !s[i].is_nan() {
            w0 += old[i];
            w1 += new[i];
            n0 += old[i] * s[i];
            n1 += new[i] * s[i];
        }
    }
    out.fill(0.0);
    if w0 <= 0.0 || w1 <= 0.0 {
        out.fill(f64::NAN);
        return;
    }
    let (dw, dn) = (w1 - w0, n1 - n0);
    // ∫ dt / W and ∫ dt / W² over [0, 1].
    let (inv, inv2) = if dw.abs() < 1e-12 * w0 {
        (1.0 / w0, 1.0 / (w0 * w0))
    } else {
        ((w1 / w0).ln() / dw, (1.0 / w0 - 1.0 / w1) / dw)
    };
    // ∫ N / W² dt with N = n0 + t dn and t = (W − w0) / dw: ∫ (n0 + dn t) / W² dt.
    // ∫ t / W² dt = (∫ dt / W − w0 ∫ dt / W²) / dw, or ½ / w0² when dw = 0.
    let t_over_w2 = if dw.abs() < 1e-12 * w0 {
        0.5 / (w0 * w0)
    } else {
        (inv - w0 * inv2) / dw
    };
    let n_over_w2 = n0 * inv2 + dn * t_over_w2;
    for i in 0..s.len() {
        if !s[i].is_nan() {
            out[i] = (new[i] - old[i]) * (s[i] * inv - n_over_w2);
        }
    }
}

/// The worklist: accounts flagged, riskiest and most valuable first: by expected ARR lost
/// (P(churn) × ARR) when both are known, else by P(churn), else by score, lowest first;
/// ties by account.
fn worklist(changes: &[Change], arr: Option<&[f64]>) -> Vec<usize> {
    let mut list: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].flags != 0)
        .collect();
    let key = |i: usize| -> f64 {
        let c = &changes[i];
        let p = c.probability[1];
        let value = arr.map_or(f64::NAN, |a| a[c.rows[1]]);
        match (p.is_nan(), value.is_nan()) {
            (false, false) => p * value,
            (false, true) => p,
            _ => -c.score[1],
        }
    };
    list.sort_by(|&a, &b| {
        key(b)
            .total_cmp(&key(a))
            .then(changes[a].account.cmp(&changes[b].account))
    });
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::MetricColumn;
    use proptest::prelude::*;

    /// A profile of `n` linear metrics `m0..` with these weights and missing policies.
    fn profile(name: &str, weights: &[f64], missing: &[u8]) -> Profile {
        let mut t = format!(
            "name = \"{name}\"\nformat = 1\n[[tiers]]\nname = \"ok\"\nmin = 50\n[[tiers]]\nname = \"low\"\nmin = 0\n"
        );
        for (k, (w, m)) in weights.iter().zip(missing).enumerate() {
            let policy = ["redistribute", "neutral", "worst"][*m as usize % 3];
            let dir = if k % 2 == 0 {
                "higher-is-better"
            } else {
                "lower-is-better"
            };
            t.push_str(&format!(
                "[[metrics]]\nname = \"m{k}\"\ncolumn = \"m{k}\"\nweight = {w}\ndirection = \"{dir}\"\n\
                 transform = {{ kind = \"linear\", lo = 0, hi = 100 }}\nmissing = \"{policy}\"\n"
            ));
        }
        toml::from_str(&t).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        /// Through the stage, with real transforms, missing policies and two profiles: each
        /// account's contributions sum to its change; the profile's and the data's parts sum
        /// to the rollout change, and each part's per-metric split sums to the part.
        #[test]
        fn the_stage_splits_every_change_exactly(
            n in 1usize..7,
            accounts in 1usize..12,
            w_new in prop::collection::vec(1u32..40, 7),
            w_old in prop::collection::vec(1u32..40, 7),
            missing in prop::collection::vec(0u8..3, 7),
            values in prop::collection::vec(prop_oneof![3 => -20.0..120.0f64, 1 => Just(f64::NAN)], 7 * 2 * 12),
        ) {
            let new = profile("new", &w_new[..n].iter().map(|&w| w as f64).collect::<Vec<_>>(), &missing[..n]);
            let old = profile("old", &w_old[..n].iter().map(|&w| w as f64).collect::<Vec<_>>(), &missing[..n]);
            let rows = 2 * accounts;
            let metrics = (0..n)
                .map(|k| (format!("m{k}"), MetricColumn::Numeric((0..rows).map(|r| values[k * 24 + r]).collect())))
                .collect();
            let mut data = Snapshots::from_metrics("x", metrics);
            data.account = (0..rows as u32).map(|r| r / 2).collect();
            data.n_accounts = accounts;
            data.date = Some((0..rows).map(|r| (r % 2) as Day * 90).collect());
            let ex = ExplainParams::default().run(&new, Some(&old), &data).unwrap();
            let split = ex.split.as_ref().unwrap();
            let score = |p: &Profile, r: usize| {
                let subs = SubScores::compute(p, &data).unwrap();
                subs.scores(&p.effective_weights())[r]
            };
            for (a, c) in ex.changes.iter().enumerate() {
                let pts: f64 = ex.contributions[a * n..(a + 1) * n].iter().sum();
                if matches!(c.method, Method::Linear | Method::Shapley { .. }) {
                    prop_assert!((pts - (c.score[1] - c.score[0])).abs() < 1e-9);
                }
                let total = score(&new, c.rows[1]) - score(&old, c.rows[0]);
                prop_assert_eq!(total.is_finite(), (split.profile_part[a] + split.data_part[a]).is_finite());
                if total.is_finite() {
                    let (p, d) = (split.profile_part[a], split.data_part[a]);
                    prop_assert!((p + d - total).abs() < 1e-9, "{p} + {d} vs {total}");
                    let ps: f64 = split.profile_contributions[a * n..(a + 1) * n].iter().sum();
                    prop_assert!((ps - p).abs() < 1e-7, "{ps} vs {p}");
                    let ds: f64 = split.data_contributions[a * n..(a + 1) * n].iter().sum();
                    if split.data_contributions[a * n..(a + 1) * n].iter().all(|v| v.is_finite()) {
                        prop_assert!((ds - d).abs() < 1e-9, "{ds} vs {d}");
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// The weight-path shares sum to the score's change between the two weightings.
        #[test]
        fn weight_path_shares_sum_to_the_change(
            n in 1usize..12,
            seed in prop::collection::vec((0.0..50.0f64, 0.0..50.0f64, prop_oneof![3 => 0.0..=100.0f64, 1 => Just(f64::NAN)]), 12),
        ) {
            let (old, new, s): (Vec<f64>, Vec<f64>, Vec<f64>) =
                seed[..n].iter().map(|&(a, b, c)| (a, b, c)).fold((vec![], vec![], vec![]), |mut acc, (a, b, c)| {
                    acc.0.push(a); acc.1.push(b); acc.2.push(c); acc
                });
            let mut out = vec![0.0; n];
            weight_path(&old, &new, &s, &mut out);
            let change = attribution::score_of(&new, &s) - attribution::score_of(&old, &s);
            if change.is_finite() {
                let sum: f64 = out.iter().sum();
                prop_assert!((sum - change).abs() < 1e-7 * (1.0 + change.abs()), "{sum} vs {change}");
            }
        }
    }
}
