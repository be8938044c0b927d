//! Scores computed batch by batch while a file loads ([`crate::data::load_streaming`]).

use std::error::Error;

use rayon::prelude::*;

use super::{metric_column, not_loaded, Numbering, Origin, Spare, SubScores, Values};
use crate::data::{BatchColumn, MetricBatch, MetricSink};
use crate::profile::Profile;

/// The scores of a file's rows, computed batch by batch as it loads: each batch's metric
/// values become sub-scores in the loader's own buffers, then the batch's scores, so the
/// file's metric values and sub-scores are never all in memory (a gigabyte each at 10 M
/// rows × 13 metrics). The scores are [`SubScores::scores`] of the loaded table bit for
/// bit (each row's sum runs over the metrics in the same order), and a value the profile
/// refuses is refused naming the same file row.
pub struct StreamedScores<'p> {
    profile: &'p Profile,
    weights: Vec<f64>,
    /// For each metric, whether it is the only one reading its column (then its values'
    /// buffer becomes its sub-scores' buffer).
    sole_reader: Vec<bool>,
    score: Vec<f64>,
    /// Each metric's buffers from the batch before, for the next (no fresh memory per
    /// batch): its sub-scores' (unless they went back to the loader) and its presence's.
    spare: Vec<Spare>,
    /// The batch before's count of present metrics per row, for the next.
    counts: Vec<u16>,
}

impl<'p> StreamedScores<'p> {
    /// Scores with `profile`'s effective weights.
    pub fn new(profile: &'p Profile) -> Self {
        let sole_reader = profile
            .metrics
            .iter()
            .map(|m| {
                profile
                    .metrics
                    .iter()
                    .filter(|o| o.column == m.column)
                    .count()
                    == 1
            })
            .collect();
        StreamedScores {
            profile,
            weights: profile.effective_weights(),
            sole_reader,
            score: Vec::new(),
            spare: profile.metrics.iter().map(|_| Spare::default()).collect(),
            counts: Vec::new(),
        }
    }

    /// The scores of the rows taken, in file order (NaN where a row has no score).
    pub fn into_scores(self) -> Vec<f64> {
        self.score
    }
}

impl MetricSink for StreamedScores<'_> {
    fn expect_rows(&mut self, rows: usize) {
        self.score
            .reserve_exact(rows.saturating_sub(self.score.len()));
    }

    fn take(&mut self, mut batch: MetricBatch<'_>) -> Result<(), Box<dyn Error + Send + Sync>> {
        let origin = Origin {
            path: batch.path,
            rows: batch.rows,
            numbering: Numbering::From(batch.first_row + 1),
        };
        // Each metric's values; the numbers a metric alone reads are moved out of the
        // loader's buffer, which gets the sub-scores back below.
        let mut values = Vec::with_capacity(self.profile.metrics.len());
        for (m, &sole) in self.profile.metrics.iter().zip(&self.sole_reader) {
            let column = batch
                .columns
                .iter_mut()
                .find(|(c, _)| *c == m.column)
                .map(|(_, v)| v)
                .ok_or_else(|| not_loaded(m))?;
            values.push(match column {
                BatchColumn::Numbers(v) if sole => Values::Numbers(std::mem::take(*v)),
                BatchColumn::Numbers(v) => Values::Numbers(v.clone()),
                BatchColumn::Labels { codes, labels } => Values::Labels { codes, labels },
            });
        }
        let columns: Vec<(Vec<f64>, Vec<bool>)> = self
            .profile
            .metrics
            .par_iter()
            .zip(values)
            .zip(self.spare.par_drain(..))
            .map(|((m, v), spare)| metric_column(m, origin, v, spare))
            .collect::<Result<_, _>>()?;
        let (columns, presence): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
        let counts = std::mem::take(&mut self.counts);
        let subs = SubScores::from_columns(batch.rows, columns, &presence, counts);
        let start = self.score.len();
        self.score.resize(start + batch.rows, 0.0);
        subs.fill_scores(&self.weights, &mut self.score[start..]);
        // The numbers' buffers go back to the loader, to hold the next batch's values; the
        // others are kept for the next batch's sub-scores.
        self.counts = subs.present;
        for (((m, &sole), mut column), present) in self
            .profile
            .metrics
            .iter()
            .zip(&self.sole_reader)
            .zip(subs.columns)
            .zip(presence)
        {
            if let Some((_, BatchColumn::Numbers(v))) =
                batch.columns.iter_mut().find(|(c, _)| *c == m.column)
            {
                if sole {
                    std::mem::swap(*v, &mut column);
                }
            }
            self.spare.push(Spare {
                scores: column,
                present,
            });
        }
        Ok(())
    }
}
