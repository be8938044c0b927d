//! Scoring with a profile set: each row's sub-scores from its own profile (computed on that
//! profile's rows only, so a category or missing value only another segment's profile would
//! refuse is not refused), its score, tier, P(churn), group scores and reasons with its
//! profile's weights.

use super::*;
use crate::profile::set::{ProfileSet, Profiles};

/// Which profile of a set scores each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The profiles, the set's default first.
    pub profiles: Vec<Profile>,
    /// Per row, the index of its profile.
    pub which: Vec<u8>,
    /// Segment values the set does not map, with their rows (scored by the default), in
    /// order of first appearance.
    pub unmapped: Vec<(String, usize)>,
    /// Rows per profile.
    pub rows: Vec<usize>,
}

impl Assignment {
    /// Assign each row of `data` its profile by the set's segment column.
    pub fn new(set: &ProfileSet, data: &Snapshots) -> Result<Assignment, ScoreError> {
        let seg = data
            .segments
            .iter()
            .find(|s| s.name == set.segment)
            .ok_or_else(|| ScoreError::NoSetSegment {
                column: set.segment.clone(),
            })?;
        // Distinct profiles (several values may share one file's profile).
        let mut profiles: Vec<Profile> = vec![set.default.clone()];
        let mut of_label: Vec<u8> = Vec::with_capacity(seg.labels.len());
        let mut mapped = Vec::with_capacity(seg.labels.len());
        for label in &seg.labels {
            let (p, known) = set.profile_of(label);
            mapped.push(known);
            let i = match profiles.iter().position(|q| q == p) {
                Some(i) => i,
                None => {
                    profiles.push(p.clone());
                    profiles.len() - 1
                }
            };
            of_label.push(u8::try_from(i).map_err(|_| ScoreError::SetTooLarge)?);
        }
        let which: Vec<u8> = seg.codes.iter().map(|&c| of_label[c as usize]).collect();
        let mut per_label = vec![0usize; seg.labels.len()];
        let mut first = vec![usize::MAX; seg.labels.len()];
        for (i, &c) in seg.codes.iter().enumerate() {
            per_label[c as usize] += 1;
            first[c as usize] = first[c as usize].min(i);
        }
        let mut unmapped: Vec<(usize, String, usize)> = seg
            .labels
            .iter()
            .enumerate()
            .filter(|&(c, _)| !mapped[c] && per_label[c] > 0)
            .map(|(c, l)| (first[c], l.clone(), per_label[c]))
            .collect();
        unmapped.sort();
        let mut rows = vec![0usize; profiles.len()];
        for &w in &which {
            rows[w as usize] += 1;
        }
        Ok(Assignment {
            profiles,
            which,
            unmapped: unmapped.into_iter().map(|(_, l, n)| (l, n)).collect(),
            rows,
        })
    }

    /// Rows scored by the default because the set does not map their value.
    pub fn unmapped_rows(&self) -> usize {
        self.unmapped.iter().map(|(_, n)| n).sum()
    }

    /// The rows of profile `p`, ascending.
    pub fn rows_of(&self, p: usize) -> Vec<usize> {
        (0..self.which.len())
            .filter(|&i| self.which[i] as usize == p)
            .collect()
    }
}

/// Sub-scores of every row under its profile, and the assignment (none for one profile).
pub fn subscores_for(
    profiles: &Profiles,
    data: &Snapshots,
) -> Result<(SubScores, Option<Assignment>), ScoreError> {
    let set = match profiles {
        Profiles::One(p) => return Ok((SubScores::compute(p, data)?, None)),
        Profiles::Set(s) => s,
    };
    let a = Assignment::new(set, data)?;
    let k = set.default.metrics.len();
    let mut subs = SubScores {
        rows: data.rows,
        columns: vec![vec![f64::NAN; data.rows]; k],
        present: vec![0; data.rows],
    };
    for (p, profile) in a.profiles.iter().enumerate() {
        let rows = a.rows_of(p);
        if rows.is_empty() {
            continue;
        }
        let part = SubScores::compute(profile, &data.select_rows(&rows))?;
        for (col, src) in subs.columns.iter_mut().zip(&part.columns) {
            for (&i, &v) in rows.iter().zip(src) {
                col[i] = v;
            }
        }
        for (&i, &v) in rows.iter().zip(&part.present) {
            subs.present[i] = v;
        }
    }
    Ok((subs, Some(a)))
}

/// [`score`] with each row's profile: the set's profiles score every row and each row keeps
/// its own profile's figures. P(churn) is given when every profile is calibrated.
pub fn score_assigned(
    main: &Profile,
    subs: &SubScores,
    assignment: Option<&Assignment>,
    extent: Extent,
) -> Scored {
    let Some(a) = assignment else {
        return score(main, subs, extent);
    };
    let mut all: Vec<Option<Scored>> = a
        .profiles
        .iter()
        .zip(&a.rows)
        .map(|(p, &n)| (n > 0).then(|| score(p, subs, extent)))
        .collect();
    let calibrated = a
        .profiles
        .iter()
        .zip(&a.rows)
        .all(|(p, &n)| n == 0 || p.calibration.is_some());
    // The first profile with rows gives the table; the others' rows are copied in.
    let Some(base) = a.rows.iter().position(|&n| n > 0) else {
        return score(main, subs, extent);
    };
    let mut out = all[base].take().expect("scored");
    let r = out.reasons_per_row;
    for (i, &w) in a.which.iter().enumerate() {
        let Some(src) = all[w as usize].as_ref() else {
            continue;
        };
        out.score[i] = src.score[i];
        out.tier[i] = src.tier[i];
        if let (Some(o), Some(s)) = (out.probability.as_mut(), src.probability.as_ref()) {
            o[i] = s[i];
        }
        for (o, s) in out.group_scores.iter_mut().zip(&src.group_scores) {
            o[i] = s[i];
        }
        if r > 0 {
            out.reasons[i * r..(i + 1) * r].copy_from_slice(&src.reasons[i * r..(i + 1) * r]);
            out.reason_points[i * r..(i + 1) * r]
                .copy_from_slice(&src.reason_points[i * r..(i + 1) * r]);
        }
    }
    if !calibrated {
        out.probability = None;
    }
    out.unscored = out.score.iter().filter(|s| s.is_nan()).count();
    out
}
