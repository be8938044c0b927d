//! The unconstrained baselines the learned transforms are judged against: logistic
//! regression on the profile's metrics (scikit-learn's defaults, [`crate::stats::logistic`]),
//! numbers either standardised (`linear`) or cut into quantile bins (`binned`), labels
//! one-hot, a missing value an indicator of its own. Every encoding (means, deviations,
//! bin edges, label sets) is learned on the training rows of each fold.

use rayon::prelude::*;

use crate::data::{MetricColumn, Snapshots};
use crate::profile::Profile;
use crate::stats::{self, binning, logistic};

/// How a numeric metric enters the regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Standardised value (missing: the training mean, plus an indicator).
    Linear,
    /// One indicator per quantile bin but the first (plus one for missing).
    Binned(usize),
}

/// One metric's encoding as learned from training rows.
enum Coder<'a> {
    Linear {
        v: &'a [f64],
        mean: f64,
        sd: f64,
        missing: bool,
    },
    Binned {
        v: &'a [f64],
        edges: Vec<f64>,
        missing: bool,
    },
    Labels {
        codes: &'a [u32],
        keep: Vec<u32>,
        missing: bool,
    },
}

impl Coder<'_> {
    fn width(&self) -> usize {
        match self {
            Coder::Linear { missing, .. } => 1 + *missing as usize,
            Coder::Binned { edges, missing, .. } => edges.len() + *missing as usize,
            Coder::Labels { keep, missing, .. } => keep.len() + *missing as usize,
        }
    }

    fn write(&self, i: usize, out: &mut [f64]) {
        out.fill(0.0);
        match self {
            Coder::Linear {
                v,
                mean,
                sd,
                missing,
            } => {
                if v[i].is_nan() {
                    if *missing {
                        out[1] = 1.0;
                    }
                } else {
                    out[0] = (v[i] - mean) / sd;
                }
            }
            Coder::Binned { v, edges, missing } => {
                if v[i].is_nan() {
                    if *missing {
                        out[edges.len()] = 1.0;
                    }
                } else {
                    let b = binning::bin_of(v[i], edges);
                    if b > 0 {
                        out[b - 1] = 1.0;
                    }
                }
            }
            Coder::Labels {
                codes,
                keep,
                missing,
            } => {
                let c = codes[i];
                if c == MetricColumn::MISSING_CODE {
                    if *missing {
                        out[keep.len()] = 1.0;
                    }
                } else if let Some(j) = keep.iter().position(|&k| k == c) {
                    out[j] = 1.0;
                }
            }
        }
    }
}

fn coder<'a>(col: &'a MetricColumn, train: &[usize], enc: Encoding) -> Coder<'a> {
    match col {
        MetricColumn::Numeric(v) => {
            let mut present: Vec<f64> = train
                .iter()
                .map(|&i| v[i])
                .filter(|x| !x.is_nan())
                .collect();
            let missing = present.len() < train.len();
            match enc {
                Encoding::Linear => {
                    let n = present.len().max(1) as f64;
                    let mean = present.iter().sum::<f64>() / n;
                    let var = present.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                    let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
                    Coder::Linear {
                        v,
                        mean,
                        sd,
                        missing,
                    }
                }
                Encoding::Binned(bins) => Coder::Binned {
                    v,
                    edges: binning::bin_edges(&mut present, bins),
                    missing,
                },
            }
        }
        MetricColumn::Text { codes, labels } => {
            let mut count = vec![0usize; labels.len()];
            let mut missing = false;
            for &i in train {
                match codes[i] {
                    MetricColumn::MISSING_CODE => missing = true,
                    c => count[c as usize] += 1,
                }
            }
            // Every label seen in training but the most frequent (the reference level).
            let top = (0..labels.len()).max_by_key(|&l| count[l]);
            let keep = (0..labels.len() as u32)
                .filter(|&l| count[l as usize] > 0 && Some(l as usize) != top)
                .collect();
            Coder::Labels {
                codes,
                keep,
                missing,
            }
        }
    }
}

/// Out-of-fold P(churn) of each of `rows` (data rows with an outcome), fold `fold_of[j]`
/// of `folds`, from logistic regression on `profile`'s metric columns encoded as `enc`.
pub fn out_of_fold(
    profile: &Profile,
    data: &Snapshots,
    rows: &[usize],
    fold_of: &[usize],
    folds: usize,
    enc: Encoding,
) -> Vec<f64> {
    let y_all = data.outcome.as_ref().expect("rows with an outcome");
    let mut seen = std::collections::HashSet::new();
    let cols: Vec<&MetricColumn> = profile
        .metrics
        .iter()
        .filter(|m| seen.insert(m.column.clone()))
        .filter_map(|m| data.metric(&m.column))
        .collect();
    let per_fold: Vec<(usize, Vec<f64>)> = (0..folds)
        .into_par_iter()
        .map(|f| {
            let train: Vec<usize> = rows
                .iter()
                .zip(fold_of)
                .filter(|(_, &g)| g != f)
                .map(|(&i, _)| i)
                .collect();
            let coders: Vec<Coder> = cols.iter().map(|c| coder(c, &train, enc)).collect();
            let k: usize = coders.iter().map(Coder::width).sum();
            let encode = |i: usize, out: &mut [f64]| {
                let mut at = 0;
                for c in &coders {
                    let wdt = c.width();
                    c.write(i, &mut out[at..at + wdt]);
                    at += wdt;
                }
            };
            // The training rows (beyond FIT_ROWS: every churned one and an even stride of
            // the retained, weighted up), encoded; the test rows are encoded one at a time.
            let fit_rows = super::stride_sample(&train, y_all, FIT_ROWS);
            let mut x = vec![0.0; fit_rows.len() * k];
            for (j, &(i, _)) in fit_rows.iter().enumerate() {
                encode(i, &mut x[j * k..(j + 1) * k]);
            }
            let fy: Vec<u8> = fit_rows.iter().map(|&(i, _)| y_all[i]).collect();
            let fw: Vec<f64> = fit_rows.iter().map(|&(_, f)| f).collect();
            let model = logistic::fit(&x, k, &fy, &fw, 1.0);
            drop(x);
            let mut row = vec![0.0; k];
            let p = rows
                .iter()
                .zip(fold_of)
                .filter(|(_, &g)| g == f)
                .map(|(&i, _)| {
                    encode(i, &mut row);
                    model.probability(&row)
                })
                .collect();
            (f, p)
        })
        .collect();
    let mut out = vec![0.0; rows.len()];
    for (f, p) in per_fold {
        for (j, v) in (0..rows.len()).filter(|&j| fold_of[j] == f).zip(p) {
            out[j] = v;
        }
    }
    out
}

/// Training rows the baselines fit on beyond this many: every churned row and an even
/// stride of the retained ones, weighted up to stand for all of them.
pub const FIT_ROWS: usize = 100_000;

/// AUC and log-loss of predictions `p` for outcomes `y`.
pub fn quality(p: &[f64], y: &[u8]) -> (f64, f64) {
    (stats::auc(p, y), stats::log_loss(p, y))
}
