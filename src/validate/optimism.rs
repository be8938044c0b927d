//! Harrell's optimism correction: the candidate refitted on bootstrap samples, scored on
//! its own sample and on the original data.

use super::*;

/// Apparent, optimism and corrected figures of Harrell's bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    /// AUC.
    pub auc: f64,
    /// Brier score.
    pub brier: f64,
    /// Calibration slope.
    pub slope: f64,
}

/// Harrell's optimism correction of a calibrated candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Optimism {
    /// Shrinkage λ the refits use (the candidate's own).
    pub lambda: f64,
    /// Rows the candidate is judged on (every scored row of the data).
    pub rows: usize,
    /// The candidate on those rows.
    pub apparent: Figures,
    /// Mean over replicates of (refit on its own sample − refit on the original rows).
    pub optimism: Figures,
    /// Apparent − optimism.
    pub corrected: Figures,
    /// Replicates.
    pub replicates: usize,
    /// Replicates whose solver stopped before converging (their fits are still used).
    pub not_converged: usize,
}

/// AUC, Brier score and calibration slope: the figures [`vs::calibration`] would give,
/// without its bins, intercept and test, which the optimism does not report. The buffers
/// are freed (or reused) as soon as each figure is had.
pub(super) fn figures(p: Vec<f64>, y: &[u8], risk: Vec<f64>) -> Figures {
    let auc = stats::auc(&risk, y);
    drop(risk);
    Figures {
        auc,
        brier: stats::brier(&p, y),
        slope: vs::calibration_slope_consuming(p, y),
    }
}

/// One profile's share of the optimism bootstrap: its rows' matrix and everything its refits
/// start from.
struct Part<'a> {
    cal: &'a crate::profile::Calibration,
    fd: crate::calibrate::problem::FitData,
    /// Each row's account slot among the part's accounts, and each account's gradient at
    /// the candidate (for the one-step refits).
    account: Vec<u32>,
    gradients: Vec<f64>,
    /// Its accounts.
    slots: usize,
    /// Its first row's place among all the rows.
    offset: usize,
    w0: Vec<f64>,
    beta_c: Vec<f64>,
    lambda: f64,
    information: Vec<f64>,
    prior_fit: (f64, f64),
}

/// Each row's account numbered in order of first appearance among `rows` (`account`: the
/// data's account of each data row), and the number of accounts.
fn first_appearance(rows: &[usize], account: &[u32]) -> (Vec<u32>, usize) {
    let mut number: rustc_hash::FxHashMap<u32, u32> = rustc_hash::FxHashMap::default();
    let of_rows = rows
        .iter()
        .map(|&i| {
            let next = number.len() as u32;
            *number.entry(account[i]).or_insert(next)
        })
        .collect();
    (of_rows, number.len())
}

/// A replicate's counts per account, each part's refit, and whether every refit converged.
type Drawn = (Vec<f64>, Vec<(f64, Vec<f64>)>, bool);

/// What a part's one-step refits need beyond the part: per account slot its account among
/// all the rows, its rows and events, and its summed gradient of the prior's intercept and
/// slope (the shrinkage target's scale) at their fit on the original rows.
struct StepData {
    global: Vec<u32>,
    rows: Vec<f64>,
    events: Vec<f64>,
    two: Vec<[f64; 2]>,
    /// The two-parameter fit's curvature per row: `[h00, h01, h11]`.
    two_information: [f64; 3],
}

impl StepData {
    /// From the part's rows: `slot[r]` is row `r`'s account among the part's, `acct[r]`
    /// among all the rows'.
    fn new(q: &Part, slot: &[u32], acct: &[u32]) -> StepData {
        let slots = q.gradients.len() / (q.fd.k + 1);
        let mut d = StepData {
            global: vec![0; slots],
            rows: vec![0.0; slots],
            events: vec![0.0; slots],
            two: vec![[0.0; 2]; slots],
            two_information: [0.0; 3],
        };
        // The prior's scores a block of rows at a time (the same bits as all at once).
        const BLOCK: usize = 1 << 18;
        const PIECE: usize = 4096;
        let mut s0 = vec![0.0; BLOCK.min(q.fd.n)];
        let (a, b) = q.prior_fit;
        for from in (0..q.fd.n).step_by(BLOCK) {
            let block = &mut s0[..BLOCK.min(q.fd.n - from)];
            block
                .par_chunks_mut(PIECE)
                .enumerate()
                .for_each(|(c, o)| q.fd.scores_into(from + c * PIECE, &q.w0, o));
            for (r, &s) in (from..).zip(block.iter()) {
                let l = slot[r] as usize;
                let y = f64::from(q.fd.y[r]);
                d.global[l] = acct[r];
                d.rows[l] += 1.0;
                d.events[l] += y;
                let p = sigmoid(a + b * s);
                d.two[l][0] += p - y;
                d.two[l][1] += (p - y) * s;
                let v = p * (1.0 - p);
                d.two_information[0] += v;
                d.two_information[1] += v * s;
                d.two_information[2] += v * s * s;
            }
        }
        let n = q.fd.n.max(1) as f64;
        d.two_information.iter_mut().for_each(|h| *h /= n);
        d
    }

    /// The part refitted on a replicate counting account `a` `counts[a]` times: the prior's
    /// intercept and slope by one Newton step (the shrinkage target), then the candidate's
    /// weights by one constrained Newton step toward it.
    fn refit(&self, q: &Part, counts: &[f64]) -> (f64, Vec<f64>) {
        let p = q.fd.k + 1;
        let (mut total, mut events, mut g2) = (0.0, 0.0, [0.0; 2]);
        let mut g = vec![0.0; p];
        for (l, &a) in self.global.iter().enumerate() {
            let c = counts[a as usize];
            if c == 0.0 {
                continue;
            }
            total += c * self.rows[l];
            events += c * self.events[l];
            g2[0] += c * self.two[l][0];
            g2[1] += c * self.two[l][1];
            for (s, v) in g.iter_mut().zip(&q.gradients[l * p..(l + 1) * p]) {
                *s += c * v;
            }
        }
        if events == 0.0 {
            return (q.cal.intercept, q.beta_c.clone());
        }
        let [h00, h01, h11] = self.two_information;
        let det = h00 * h11 - h01 * h01;
        let (a0, slope0) = if det > 0.0 {
            let (g0, g1) = (g2[0] / total, g2[1] / total);
            (
                q.prior_fit.0 - (h11 * g0 - h01 * g1) / det,
                q.prior_fit.1 - (h00 * g1 - h01 * g0) / det,
            )
        } else {
            q.prior_fit
        };
        if q.lambda.is_infinite() {
            return (
                a0,
                q.w0.iter()
                    .map(|v| (-slope0).max(1e-6) * v / 100.0)
                    .collect(),
            );
        }
        // The replicate's mean likelihood gradient at the candidate plus the penalty's
        // toward this replicate's target.
        g.iter_mut().for_each(|v| *v /= total);
        let mut h = q.information.clone();
        for m in 0..q.fd.k {
            let target = (-slope0).max(0.1) * q.w0[m] / 100.0;
            g[m + 1] += 2.0 * q.lambda * (q.beta_c[m] - target);
            h[(m + 1) * p + m + 1] += 2.0 * q.lambda;
        }
        let lower: Vec<f64> = std::iter::once(f64::NEG_INFINITY)
            .chain(q.beta_c.iter().map(|b| -b))
            .collect();
        let d = crate::calibrate::problem::onestep::box_newton_step(&g, &h, &lower);
        (
            q.cal.intercept + d[0],
            q.beta_c
                .iter()
                .zip(&d[1..])
                .map(|(b, x)| (b + x).max(0.0))
                .collect(),
        )
    }
}

/// The part refitted to convergence on `boot` (its rows weighted by a replicate's counts),
/// and whether the solver converged.
fn full_refit(q: &Part, boot: crate::calibrate::problem::FitData) -> ((f64, Vec<f64>), bool) {
    use crate::calibrate::problem::{fit_constrained, LOOSE};
    if boot.events() == 0.0 {
        return ((q.cal.intercept, q.beta_c.clone()), true);
    }
    // The prior's own slope on the replicate sets the shrinkage target's scale, as in
    // calibration.
    let s0 = boot.scores(&q.w0);
    let (a0, slope0, _) = fit_two(&s0, &boot.y, &boot.w, q.prior_fit);
    if q.lambda.is_infinite() {
        let (a, sl, conv) = fit_two(&s0, &boot.y, &boot.w, (a0, slope0));
        return (
            (
                a,
                q.w0.iter().map(|v| (-sl).max(1e-6) * v / 100.0).collect(),
            ),
            conv,
        );
    }
    let beta0: Vec<f64> =
        q.w0.iter()
            .map(|v| (-slope0).max(0.1) * v / 100.0)
            .collect();
    let f = fit_constrained(
        &boot,
        &beta0,
        q.lambda,
        (q.cal.intercept, &q.beta_c),
        Some(&q.information),
        1000,
        LOOSE,
    );
    ((f.alpha, f.beta), f.solver.converged)
}

/// Harrell's optimism bootstrap for a candidate that carries a calibration block with its
/// prior weights: `replicates` times, resample accounts, refit the constrained weights at the
/// candidate's λ from its prior (warm-started at the candidate's own fit), score the refit on
/// its own sample and on the original rows; the mean difference is the optimism. `None` when
/// the candidate is not a churncal calibration (no prior weights to shrink toward).
///
/// With a profile set (`assignment`), every profile is refitted the same way on its own rows
/// of each resample (its prior held as it is) and the figures are those of the rows'
/// combined predictions; `None` unless every profile scoring rows is such a calibration.
///
/// Unless `full_refits`, a replicate's penalised refit is one constrained Newton step from
/// the candidate's fit ([`crate::calibrate::problem::onestep`]): its likelihood gradient from
/// the accounts' gradients computed in one pass, the penalty's toward the replicate's own
/// shrinkage target, the curvature the information plus the penalty's.
///
/// `subs` are the candidate's sub-scores on `data`; they are consumed (freed once copied into
/// the refits' matrix).
pub fn harrell_optimism(
    candidate: &Profile,
    assignment: Option<&crate::score::Assignment>,
    data: &Snapshots,
    mut subs: SubScores,
    replicates: usize,
    seed: u64,
    full_refits: bool,
) -> Result<Option<Optimism>, ValidateError> {
    assert_eq!(subs.rows, data.rows, "sub-scores of these data");
    let stage = tracing::info_span!("optimism: the candidate's matrix").entered();
    use crate::calibrate::problem::{evaluate_objective, FitData};
    let y_all = data
        .outcome
        .as_deref()
        .ok_or_else(|| ValidateError::Data("validation needs the outcome".into()))?;
    // Each profile and its rows (present, in account order: a replicate's left-out accounts
    // are runs the refits skip).
    let groups: Vec<(&Profile, Vec<usize>)> = match assignment {
        None => vec![(candidate, (0..data.rows).collect())],
        Some(a) => a
            .profiles
            .iter()
            .enumerate()
            .filter(|&(p, _)| a.rows[p] > 0)
            .map(|(p, profile)| (profile, a.rows_of(p)))
            .collect(),
    };
    let mut parts: Vec<Part> = Vec::with_capacity(groups.len());
    let mut rows: Vec<usize> = Vec::new();
    let last = groups.len().saturating_sub(1);
    for (g, (profile, mut mine)) in groups.into_iter().enumerate() {
        let Some(cal) = &profile.calibration else {
            return Ok(None);
        };
        let prior_w: Option<Vec<f64>> = profile
            .metrics
            .iter()
            .map(|m| m.calibration.as_ref().and_then(|c| c.prior_weight))
            .collect();
        let Some(w0) = prior_w else {
            return Ok(None);
        };
        mine.retain(|&i| subs.present[i] > 0);
        crate::data::order::by_account(&mut mine, &data.account, data.n_accounts);
        // The last profile's matrix takes the columns, freeing them as it is built.
        let fd = if g == last {
            FitData::from_columns_consuming(std::mem::take(&mut subs.columns), y_all, &mine)
        } else {
            FitData::from_columns(&subs.columns, y_all, &mine)
        };
        let sum_w0: f64 = w0.iter().sum();
        let w0: Vec<f64> = w0.iter().map(|w| 100.0 * w / sum_w0.max(1e-12)).collect();
        // The profile's own fit, as the starting point and the apparent model.
        let w_c = profile.effective_weights();
        let b_c = -cal.slope;
        let beta_c: Vec<f64> = w_c.iter().map(|w| b_c.max(1e-6) * w / 100.0).collect();
        // The likelihood's curvature at the profile on its original rows: each refit's
        // first Newton step (the replicates are resamples of these rows).
        let theta_c: Vec<f64> = std::iter::once(cal.intercept)
            .chain(beta_c.iter().copied())
            .collect();
        let information = evaluate_objective(&fd, &beta_c, 0.0, &theta_c, true).curvature;
        // The prior's own intercept and slope on the original rows: each replicate's start.
        let prior_fit = {
            let (a, b, _) = fit_two(&fd.scores(&w0), &fd.y, &fd.w, (cal.intercept, cal.slope));
            (a, b)
        };
        // Rows' account slots (the global numbering below is made the same way).
        let (account, slots) = first_appearance(&mine, &data.account);
        parts.push(Part {
            cal,
            account,
            // After the apparent figures (below), so that the two are not in memory together.
            gradients: Vec::new(),
            slots,
            offset: rows.len(),
            fd,
            w0,
            beta_c,
            lambda: cal.shrinkage.unwrap_or(f64::INFINITY),
            information,
            prior_fit,
        });
        rows.extend(mine);
    }
    drop(subs);
    let n = rows.len();
    let y: Vec<u8> = rows.iter().map(|&i| y_all[i]).collect();
    let own_fits: Vec<(f64, Vec<f64>)> = parts
        .iter()
        .map(|q| (q.cal.intercept, q.beta_c.clone()))
        .collect();
    // With one part the rows' accounts are its own slots (below): the row list (80 MB at
    // 10M rows) is not read again, and goes before the apparent figures and the gradients.
    let rows = if parts.len() == 1 {
        drop(rows);
        Vec::new()
    } else {
        rows
    };
    drop(stage);
    let stage = tracing::info_span!("optimism: apparent figures").entered();
    // Probabilities and risk (−score) of every row, each part at its own (α, β).
    let apparent = {
        let (mut p, mut risk) = (Vec::with_capacity(n), Vec::new());
        for (part, (alpha, beta)) in parts.iter().zip(&own_fits) {
            let mut s = part.fd.scores(beta);
            let slope = -beta.iter().sum::<f64>();
            p.extend(s.iter().map(|&v| sigmoid(alpha + slope * v)));
            // The scores become the risk in place (one buffer fewer at 10M rows).
            s.iter_mut().for_each(|v| *v = -*v);
            if risk.is_empty() {
                risk = s;
            } else {
                risk.extend_from_slice(&s);
            }
        }
        figures(p, &y, risk)
    };
    drop(stage);
    if !full_refits {
        let _stage = tracing::info_span!("optimism: accounts' gradients").entered();
        for q in &mut parts {
            let theta_c: Vec<f64> = std::iter::once(q.cal.intercept)
                .chain(q.beta_c.iter().copied())
                .collect();
            q.gradients = crate::calibrate::problem::onestep::account_gradients(
                &q.fd, &theta_c, &q.account, q.slots,
            );
        }
    }
    let _stage = tracing::info_span!("optimism: replicates").entered();

    // Accounts of the rows (in order of first appearance), for resampling: the replicates
    // draw accounts, and each part's account slots map to these.
    // With one part they are its own slots, numbered the same way.
    let (acct, na) = if let [only] = parts.as_mut_slice() {
        (std::mem::take(&mut only.account), only.slots)
    } else {
        first_appearance(&rows, &data.account)
    };
    drop(rows);
    let steps: Vec<Option<StepData>> = parts
        .iter()
        .map(|q| {
            let global = &acct[q.offset..q.offset + q.fd.n];
            let slot = if q.account.is_empty() {
                global
            } else {
                &q.account
            };
            (!full_refits).then(|| StepData::new(q, slot, global))
        })
        .collect();
    for q in &mut parts {
        // Read by the step data only.
        q.account = Vec::new();
    }
    let judged = super::replicates::Rows::new(parts.iter().map(|q| &q.fd).collect(), acct);
    let draw = |b: usize| -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0a7e_0000 ^ b as u64);
        stats::draw_counts(&mut rng, na)
    };
    // One replicate's fits: each part refitted on its rows of the resample.
    let refit = |counts: &[f64]| -> (Vec<(f64, Vec<f64>)>, bool) {
        let mut ok = true;
        let fits = parts
            .iter()
            .zip(&steps)
            .map(|(q, step)| match step {
                Some(step) => step.refit(q, counts),
                None => {
                    let w: Vec<f64> = judged
                        .accounts(q.offset, q.fd.n)
                        .iter()
                        .map(|&a| counts[a as usize])
                        .collect();
                    let (fit, conv) = full_refit(q, q.fd.with_weights(w));
                    ok &= conv;
                    fit
                }
            })
            .collect();
        (fits, ok)
    };
    // Replicates drawn and refitted a batch at a time in parallel (each a pass over its
    // accounts), then judged together in one pass parallel over the rows (each block of
    // rows read once for the batch), whatever the number of threads.
    let batch = judged.batch();
    let mut results: Vec<(Figures, Figures, bool)> = Vec::with_capacity(replicates);
    for first in (0..replicates).step_by(batch) {
        let drawn: Vec<Drawn> = (first..(first + batch).min(replicates))
            .into_par_iter()
            .map(|b| {
                let counts = draw(b);
                let (fits, ok) = refit(&counts);
                (counts, fits, ok)
            })
            .collect();
        let reps: Vec<super::replicates::Replicate> = drawn
            .iter()
            .map(|(counts, fits, _)| (fits.as_slice(), counts.as_slice()))
            .collect();
        for ((own, test), (_, _, ok)) in judged.figures_of(&reps).into_iter().zip(&drawn) {
            results.push((own, test, *ok));
        }
    }
    let nrep = results.len().max(1) as f64;
    let mean =
        |f: &dyn Fn(&(Figures, Figures, bool)) -> f64| results.iter().map(f).sum::<f64>() / nrep;
    let optimism = Figures {
        auc: mean(&|r| r.0.auc - r.1.auc),
        brier: mean(&|r| r.0.brier - r.1.brier),
        slope: mean(&|r| r.0.slope - r.1.slope),
    };
    Ok(Some(Optimism {
        lambda: parts.first().map_or(f64::INFINITY, |q| q.lambda),
        rows: n,
        apparent,
        optimism,
        corrected: Figures {
            auc: apparent.auc - optimism.auc,
            brier: apparent.brier - optimism.brier,
            slope: apparent.slope - optimism.slope,
        },
        replicates: results.len(),
        not_converged: results.iter().filter(|r| !r.2).count(),
    }))
}
