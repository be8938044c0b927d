//! The out-of-time holdout: fitted on the earlier snapshot dates, evaluated on the later.

use super::*;

impl CalibrateParams {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn holdout(
        &self,
        data: &Snapshots,
        rows: &[usize],
        fd: &FitData,
        s0: &[f64],
        w0: &[f64],
        beta0: &[f64],
        lambda: f64,
        final_fit: &ConstrainedFit,
        reference: &ReferenceFit,
    ) -> Result<(Option<Comparison>, Option<String>), CalibrateError> {
        let Some(dates) = &data.date else {
            return Ok((None, Some("the data has no snapshot dates".into())));
        };
        let row_dates: Vec<Day> = rows.iter().map(|&i| dates[i]).collect();
        let distinct_dates = crate::data::order::distinct_days(&row_dates);
        if distinct_dates.len() < 2 && self.holdout_from.is_none() {
            return Ok((None, Some("the data has a single snapshot date".into())));
        }
        let cut = self
            .holdout_from
            .unwrap_or_else(|| default_holdout(&distinct_dates));
        // The earlier rows fit (the later ones as zero weights), the later ones are scored.
        let train_w: Vec<f64> = (0..fd.n)
            .map(|i| if row_dates[i] < cut { fd.w[i] } else { 0.0 })
            .collect();
        let test: Vec<usize> = (0..fd.n).filter(|&i| row_dates[i] >= cut).collect();
        let test_y: Vec<u8> = test.iter().map(|&i| fd.y[i]).collect();
        let test_w: Vec<f64> = test.iter().map(|&i| fd.w[i]).collect();
        let fw = self.revenue_weighted.then_some(test_w.as_slice());
        let train_n = fd.n - test.len();
        let train_events = (0..fd.n)
            .filter(|&i| row_dates[i] < cut && fd.y[i] == 1)
            .count();
        drop(row_dates);
        let test_events = test_y.iter().filter(|&&y| y == 1).count();
        if train_events == 0
            || test_events == 0
            || train_events == train_n
            || test_events == test.len()
        {
            return Ok((
                None,
                Some(format!(
                    "the split at {} leaves a side without both churned and retained snapshots",
                    parse::format_day(cut)
                )),
            ));
        }
        // Transforms learned on the earlier rows only, when they are learned.
        let own = self.relearned(rows, &fd.y, &train_w, w0)?;
        let (fd, s0) = match &own {
            Some((f, s)) => (f, s.as_slice()),
            None => (fd, s0),
        };
        let tr = fd.with_weights(train_w);
        let (pa, pb, _) = fit_two(s0, &tr.y, &tr.w, (final_fit.alpha, final_fit.slope()));
        let prior_p = predict(fd, test.par_iter().copied(), pa, &beta_from(w0, -pb));
        let cal = if lambda.is_infinite() {
            prior_p.clone()
        } else {
            let f = fit_constrained(
                &tr,
                beta0,
                lambda,
                (final_fit.alpha, &final_fit.beta),
                Some(&final_fit.information),
                self.max_iters,
                LOOSE,
            );
            predict(fd, test.par_iter().copied(), f.alpha, &f.beta)
        };
        let features = features(fd, s0, &tr.w);
        let rf = refit_reference(&features, reference);
        let unc: Vec<f64> = test
            .par_iter()
            .map_init(
                || vec![0.0; fd.k],
                |row, &i| {
                    features.row_into(i, row);
                    rf.probability(row)
                },
            )
            .collect();
        Ok((
            Some(Comparison {
                scheme: format!(
                    "out-of-time: fitted before {}, evaluated from it on{}",
                    parse::format_day(cut),
                    if fw.is_some() {
                        ", revenue-weighted"
                    } else {
                        ""
                    }
                ),
                rows: test.len(),
                events: test_events,
                prior: Quality::of_w(&prior_p, &test_y, fw),
                calibrated: Quality::of_w(&cal, &test_y, fw),
                unconstrained: Quality::of_w(&unc, &test_y, fw),
            }),
            None,
        ))
    }
}

/// The first date of the default out-of-time holdout: the last 25 % of the distinct dates
/// (at least one date, and never all of them).
pub fn default_holdout(distinct_sorted_dates: &[Day]) -> Day {
    let n = distinct_sorted_dates.len();
    let take = ((n as f64) * 0.25).ceil().max(1.0) as usize;
    distinct_sorted_dates[n - take.min(n - 1)]
}
