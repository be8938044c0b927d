//! Group scores and reason codes, computed piece by piece (for the score table, as it is
//! written) or for every row (for the pack's act-first list).

use super::*;

/// Working memory of [`SubScores::reasons_into`], reused from call to call.
#[derive(Debug, Default)]
pub(super) struct ReasonScratch {
    pub(super) den: Vec<f64>,
    pub(super) lost: Vec<f64>,
    pub(super) top: Vec<[(u16, f64); REASONS]>,
}

/// A score table's per-row detail — each group's score and the reason codes — computed a
/// range of rows at a time from the sub-scores, so that writing a table of 10M rows never
/// holds the detail of them all (0.8 GB at 8 groups).
pub struct Detail<'a> {
    pub(super) subs: &'a SubScores,
    pub(super) weights: Vec<f64>,
    pub(super) group_weights: Vec<Vec<f64>>,
    /// Group labels, in profile order.
    pub group_labels: Vec<String>,
    /// Metric names, in profile order (what reason codes index).
    pub metric_names: Vec<String>,
    /// With a profile set: each row's profile, and each profile's detail.
    per_row: Option<(&'a [u8], Vec<Detail<'a>>)>,
}

/// The detail of a range of rows (see [`Detail::fill`]), indexed from the range's start.
#[derive(Debug, Default)]
pub struct DetailRows {
    /// Each group's scores.
    pub groups: Vec<Vec<f64>>,
    /// [`REASONS`] metric indices per row (`u16::MAX`: none).
    pub reasons: Vec<u16>,
    /// The score points each reason costs.
    pub points: Vec<f32>,
    pub(super) den: Vec<f64>,
    pub(super) scratch: ReasonScratch,
}

impl<'a> Detail<'a> {
    /// The detail of `profile`'s scores of `subs`.
    pub fn new(profile: &Profile, subs: &'a SubScores) -> Self {
        let weights = profile.effective_weights();
        let (group_labels, group_of) = profile.group_labels();
        let group_weights = (0..group_labels.len())
            .map(|g| {
                weights
                    .iter()
                    .zip(&group_of)
                    // A tiny floor keeps zero-weight metrics in their group's mean.
                    .map(|(&w, gi)| if *gi == Some(g) { w.max(1e-300) } else { 0.0 })
                    .collect()
            })
            .collect();
        Detail {
            subs,
            weights,
            group_weights,
            group_labels,
            metric_names: profile.metrics.iter().map(|m| m.name.clone()).collect(),
            per_row: None,
        }
    }

    /// The detail of each row's own profile's scores of `subs` (`main`'s alone without an
    /// assignment).
    pub fn assigned(
        main: &Profile,
        subs: &'a SubScores,
        assignment: Option<&'a super::Assignment>,
    ) -> Self {
        let mut d = Detail::new(main, subs);
        if let Some(a) = assignment {
            let parts = a.profiles.iter().map(|p| Detail::new(p, subs)).collect();
            d.per_row = Some((&a.which, parts));
        }
        d
    }

    /// The detail of `rows` into `out`, whose buffers are reused from call to call.
    pub fn fill(&self, rows: Range<usize>, out: &mut DetailRows) {
        if let Some((which, parts)) = &self.per_row {
            let which = &which[rows.clone()];
            let mut filled = false;
            let mut tmp = DetailRows::default();
            for (p, part) in parts.iter().enumerate() {
                if !which.iter().any(|&w| w as usize == p) {
                    continue;
                }
                if !filled {
                    part.fill(rows.clone(), out);
                    filled = true;
                    continue;
                }
                part.fill(rows.clone(), &mut tmp);
                for (j, _) in which.iter().enumerate().filter(|(_, &w)| w as usize == p) {
                    for (o, t) in out.groups.iter_mut().zip(&tmp.groups) {
                        o[j] = t[j];
                    }
                    let r = j * REASONS..(j + 1) * REASONS;
                    out.reasons[r.clone()].copy_from_slice(&tmp.reasons[r.clone()]);
                    out.points[r.clone()].copy_from_slice(&tmp.points[r]);
                }
            }
            if filled {
                return;
            }
        }
        let n = rows.len();
        out.groups.resize_with(self.group_weights.len(), Vec::new);
        for (g, w) in out.groups.iter_mut().zip(&self.group_weights) {
            g.clear();
            g.resize(n, 0.0);
            out.den.clear();
            out.den.resize(n, 0.0);
            self.subs.scores_into(w, rows.start, g, &mut out.den);
        }
        out.reasons.resize(n * REASONS, u16::MAX);
        out.points.resize(n * REASONS, 0.0);
        self.subs.reasons_into(
            &self.weights,
            rows.start,
            &mut out.reasons,
            &mut out.points,
            &mut out.scratch,
        );
    }
}

/// The [`REASONS`] metrics costing each row the most score points.
pub(super) fn reasons(subs: &SubScores, weights: &[f64]) -> (Vec<u16>, Vec<f32>) {
    let n = subs.rows;
    let mut idx = vec![u16::MAX; n * REASONS];
    let mut pts = vec![0f32; n * REASONS];
    idx.par_chunks_mut(CHUNK * REASONS)
        .zip(pts.par_chunks_mut(CHUNK * REASONS))
        .enumerate()
        .for_each_init(ReasonScratch::default, |scratch, (c, (idx, pts))| {
            subs.reasons_into(weights, c * CHUNK, idx, pts, scratch)
        });
    (idx, pts)
}
