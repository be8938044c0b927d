//! Each metric's bins from weighted rows: a [`Draft`] with the bins, their weight-of-evidence
//! sub-scores and what the joint step needs to re-score them; [`Draft::finish`] writes the
//! transform and the report once the sub-scores are final.

use super::binning::{self, Bins, Constraints, Sorted, Trend};
use super::points;
use super::*;

/// A metric's learning before its points are final.
pub(super) struct Draft {
    /// The report (bins' points still the weights of evidence scaled).
    pub report: MetricBins,
    /// What the points are set on.
    pub kind: DraftKind,
}

pub(super) enum DraftKind {
    /// Left as written.
    Kept,
    /// Numeric bins on sorted values.
    Numbers {
        bins: Bins,
        s: Sorted,
        /// Health sub-score per bin.
        health: Vec<f64>,
        /// Health of the missing values when they get their own score.
        missing: Option<f64>,
        /// The shape the sub-score must keep.
        shape: Shape,
        /// The prior transform's mean health on each bin (for `--transform-prior`).
        prior_mean: Option<Vec<f64>>,
    },
    /// Label groups.
    Labels {
        bins: Bins,
        /// Bin of each label code (`None`: no rows; scored neutral).
        label_bin: Vec<Option<usize>>,
        health: Vec<f64>,
        /// The labels by code.
        labels: Vec<String>,
        /// The prior map's mean health on each bin (for `--transform-prior`).
        prior_mean: Option<Vec<f64>>,
    },
}

impl DraftKind {
    /// The bin of data row `i` (`None`: missing without a score of its own, or a label
    /// without a bin) and whether it is the missing values' own bin.
    pub(super) fn bin_of_row(&self, col: &MetricColumn, i: usize) -> Option<usize> {
        match (self, col) {
            (DraftKind::Numbers { bins, missing, .. }, MetricColumn::Numeric(v)) => {
                if v[i].is_nan() {
                    missing.map(|_| bins.len())
                } else {
                    Some(bins.bin_of(v[i]))
                }
            }
            (DraftKind::Labels { label_bin, .. }, MetricColumn::Text { codes, .. }) => {
                match codes[i] {
                    MetricColumn::MISSING_CODE => None,
                    c => label_bin[c as usize],
                }
            }
            _ => None,
        }
    }
}

impl Draft {
    /// Write the transform, the missing policy and the report's points.
    pub(super) fn finish(self, m: &mut crate::profile::Metric, form: Form) -> MetricBins {
        let mut report = self.report;
        match self.kind {
            DraftKind::Kept => {}
            DraftKind::Numbers {
                bins,
                s,
                health,
                missing,
                ..
            } => {
                // Flat neighbours are one bin when the file shows steps (ramps need both
                // ends of a flat stretch).
                let (bins, health) = if form == Form::Steps {
                    merge_equal(&bins, &health)
                } else {
                    (bins, health)
                };
                let table = points::table(&bins, &s, &health, form);
                m.transform = Transform::Points {
                    map: table
                        .points
                        .iter()
                        .map(|&[x, h]| [x, undirected(m.direction, h)])
                        .collect(),
                };
                let totals = (
                    bins.events.iter().sum::<f64>(),
                    bins.nonevents.iter().sum::<f64>(),
                );
                report.bins = (0..bins.len())
                    .map(|b| Bin {
                        from: (b > 0).then(|| table.edges[b - 1]),
                        to: (b + 1 < bins.len()).then(|| table.edges[b]),
                        labels: Vec::new(),
                        rows: bins.events[b] + bins.nonevents[b],
                        events: bins.events[b],
                        churn_rate: bins.rate(b),
                        woe: bins.woe(b, totals),
                        iv: binning::jeffrey(
                            bins.events[b] / totals.0,
                            bins.nonevents[b] / totals.1,
                        ),
                        points: table.health[b],
                    })
                    .collect();
                report.iv = bins.iv(totals);
                if let Some(h) = missing {
                    m.missing = Missing::Score(round_points(h));
                }
                if let Some(mb) = report.missing.as_mut() {
                    mb.policy = m.missing;
                }
            }
            DraftKind::Labels {
                label_bin,
                health,
                labels,
                ..
            } => {
                let health: Vec<f64> = health.into_iter().map(round_points).collect();
                let Transform::Categories { map } = &mut m.transform else {
                    unreachable!("labels come from a categories transform")
                };
                let old = std::mem::take(map);
                for (b, out) in report.bins.iter_mut().enumerate() {
                    out.points = health[b];
                }
                // Every label of the data: its bin's points, or neutral without rows.
                for (code, bin) in label_bin.iter().enumerate() {
                    let h = bin.map_or(50.0, |b| health[b]);
                    map.insert(labels[code].clone(), undirected(m.direction, h));
                }
                // Labels the prior knew that the data lacks keep a neutral score.
                for k in old.keys() {
                    map.entry(k.clone())
                        .or_insert_with(|| undirected(m.direction, 50.0));
                }
                // Least healthy first.
                report.bins.sort_by(|a, b| a.points.total_cmp(&b.points));
            }
        }
        report
    }
}

/// `raw` health values (and a missing one) scaled together: the healthiest 100, the least
/// healthy 0; all 50 when they do not differ.
pub(super) fn scaled_with(raw: &[f64], missing: Option<f64>) -> (Vec<f64>, Option<f64>) {
    let all = raw.iter().copied().chain(missing);
    let lo = all.clone().fold(f64::INFINITY, f64::min);
    let hi = all.fold(f64::NEG_INFINITY, f64::max);
    let scale = |v: f64| {
        if v.is_nan() {
            50.0
        } else if (hi - lo).partial_cmp(&1e-9) == Some(std::cmp::Ordering::Greater) {
            (100.0 * (v - lo) / (hi - lo)).clamp(0.0, 100.0)
        } else {
            50.0
        }
    };
    (raw.iter().map(|&v| scale(v)).collect(), missing.map(scale))
}

/// `bins` with neighbours of equal points (to one decimal) merged, and their points.
fn merge_equal(bins: &Bins, health: &[f64]) -> (Bins, Vec<f64>) {
    let mut ends = Vec::new();
    let mut h = Vec::new();
    for b in 0..bins.len() {
        let hb = round_points(health[b]);
        if b + 1 < bins.len() && round_points(health[b + 1]) == hb {
            continue;
        }
        ends.push(b);
        h.push(health[b]);
    }
    (binning::merged(bins, &ends), h)
}

impl Learner {
    /// A metric left as written.
    pub(super) fn kept(&self, m: &crate::profile::Metric) -> Draft {
        Draft {
            report: MetricBins {
                metric: m.name.clone(),
                column: m.column.clone(),
                kind: "kept",
                declared: m.direction,
                direction: m.direction,
                shape: None,
                conflict: false,
                flipped: false,
                g_declared: 0.0,
                g_opposite: 0.0,
                iv: 0.0,
                monotone: true,
                bins: Vec::new(),
                missing: None,
                before: describe(&m.transform),
            },
            kind: DraftKind::Kept,
        }
    }

    /// A numeric metric's bins.
    pub(super) fn numeric(
        &self,
        m: &mut crate::profile::Metric,
        order: &[u32],
        missing: &[u32],
        w: &dyn Fn(usize) -> f64,
    ) -> Draft {
        let p = &self.params;
        let y = &self.outcome;
        let before = describe(&m.transform);
        let Some(MetricColumn::Numeric(v)) = self.data.metric(&m.column) else {
            unreachable!("prepared as numbers")
        };
        let mut s = Sorted::default();
        for &i in order {
            let i = i as usize;
            let wi = w(i);
            if wi > 0.0 {
                s.x.push(v[i]);
                let e = if y[i] == 1 { wi } else { 0.0 };
                s.ev.push(e);
                s.ne.push(wi - e);
            }
        }
        // Nothing to learn from (no present value, or one outcome only): as written.
        let events: f64 = s.ev.iter().sum();
        if s.x.is_empty() || events == 0.0 || events == s.total() {
            return self.kept(m);
        }
        let (mut me, mut mn) = (0.0, 0.0);
        for &i in missing {
            let wi = w(i as usize);
            if y[i as usize] == 1 {
                me += wi;
            } else {
                mn += wi;
            }
        }
        let total = s.total() + me + mn;
        let c = Constraints {
            max_bins: p.max_bins,
            min_bin_size: (p.min_bin_share * total).ceil(),
            min_bin_events: p.min_bin_events,
            max_pvalue: p.max_pvalue,
        };
        let pre = binning::prebins(&s, p.max_prebins);
        let fit = |shape: Shape| {
            let ends = binning::optimal_merge(&pre, shape.trend(), &c);
            binning::merged(&pre, &ends)
        };
        let declared_dir = m.direction;
        let declared = Shape::of(m.direction);
        let opposite = match declared {
            Shape::Increasing => Shape::Decreasing,
            _ => Shape::Increasing,
        };
        let b_decl = fit(declared);
        let b_opp = fit(opposite);
        let (g_decl, g_opp) = (b_decl.g_statistic(), b_opp.g_statistic());
        let conflict = g_opp - g_decl >= SHAPE_G;
        let flipped = conflict && p.flip;
        let mut shape = if flipped { opposite } else { declared };
        let mut bins = if flipped { b_opp } else { b_decl };
        if p.shape == ShapeChoice::Auto {
            let g0 = bins.g_statistic();
            let mut best = (g0 + SHAPE_G, None);
            for sh in [Shape::Peaked, Shape::Valley] {
                let b = fit(sh);
                let g = b.g_statistic();
                if g >= best.0 {
                    best = (g, Some((sh, b)));
                }
            }
            if let Some((sh, b)) = best.1 {
                shape = sh;
                bins = b;
            }
        }
        if flipped {
            m.direction = match m.direction {
                Direction::HigherIsBetter => Direction::LowerIsBetter,
                Direction::LowerIsBetter => Direction::HigherIsBetter,
            };
        }
        let te: f64 = bins.events.iter().sum();
        let tn: f64 = bins.nonevents.iter().sum();
        let totals = (te, tn);
        let woes: Vec<f64> = (0..bins.len()).map(|b| bins.woe(b, totals)).collect();
        // The prior transform's mean health on each bin, for shrinking toward it.
        let prior_mean = (p.prior_rows > 0.0)
            .then(|| transform::prepare(&m.transform))
            .flatten()
            .map(|prior| {
                let mut sum = vec![0.0; bins.len()];
                let mut cnt = vec![0.0; bins.len()];
                for (j, &x) in s.x.iter().enumerate() {
                    let b = bins.bin_of(x);
                    let wt = s.ev[j] + s.ne[j];
                    sum[b] += wt * transform::directed(declared_dir, prior.apply(x));
                    cnt[b] += wt;
                }
                (0..bins.len())
                    .map(|b| if cnt[b] > 0.0 { sum[b] / cnt[b] } else { 50.0 })
                    .collect()
            });
        // Missing values: their own sub-score when they are a bin's worth and their churn
        // rate differs from the present values' (two-sided p < 0.05).
        let mut missing_woe = None;
        let missing_bin = (me + mn > 0.0).then(|| {
            let p_value = two_proportion_p(me, me + mn, te, te + tn);
            let own = me + mn >= c.min_bin_size && me >= c.min_bin_events && p_value < 0.05;
            if own {
                missing_woe = Some(binning::woe(me, mn, totals));
            }
            MissingBin {
                rows: me + mn,
                events: me,
                churn_rate: me / (me + mn),
                p_value,
                policy: m.missing,
            }
        });
        // Points over the present bins and the missing values' own bin together.
        let (health, missing_health) = scaled_with(&woes, missing_woe);
        let monotone = (1..bins.len()).all(|b| match declared {
            Shape::Increasing => bins.rate(b) <= bins.rate(b - 1),
            _ => bins.rate(b) >= bins.rate(b - 1),
        });
        let out_bins = (0..bins.len())
            .map(|b| Bin {
                from: None,
                to: None,
                labels: Vec::new(),
                rows: bins.events[b] + bins.nonevents[b],
                events: bins.events[b],
                churn_rate: bins.rate(b),
                woe: woes[b],
                iv: binning::jeffrey(bins.events[b] / te, bins.nonevents[b] / tn),
                points: health[b],
            })
            .collect();
        Draft {
            report: MetricBins {
                metric: m.name.clone(),
                column: m.column.clone(),
                kind: "numeric",
                declared: declared_dir,
                direction: m.direction,
                shape: Some(shape),
                conflict,
                flipped,
                g_declared: g_decl,
                g_opposite: g_opp,
                iv: bins.iv(totals),
                monotone,
                bins: out_bins,
                missing: missing_bin,
                before,
            },
            kind: DraftKind::Numbers {
                bins,
                s,
                health,
                missing: missing_health,
                shape,
                prior_mean,
            },
        }
    }

    /// A categorical metric's label groups.
    pub(super) fn labels(
        &self,
        m: &mut crate::profile::Metric,
        codes: &[u32],
        w: &dyn Fn(usize) -> f64,
    ) -> Draft {
        let p = &self.params;
        let y = &self.outcome;
        let before = describe(&m.transform);
        let Some(MetricColumn::Text { labels, .. }) = self.data.metric(&m.column) else {
            unreachable!("prepared as labels")
        };
        let n = labels.len();
        let (mut ev, mut ne) = (vec![0.0; n], vec![0.0; n]);
        let (mut me, mut mn) = (0.0, 0.0);
        for (i, &c) in codes.iter().enumerate() {
            let wi = w(i);
            if wi <= 0.0 {
                continue;
            }
            let e = if y[i] == 1 { wi } else { 0.0 };
            if c == MetricColumn::MISSING_CODE {
                me += e;
                mn += wi - e;
            } else {
                ev[c as usize] += e;
                ne[c as usize] += wi - e;
            }
        }
        let present: f64 = ev.iter().sum::<f64>() + ne.iter().sum::<f64>();
        let events: f64 = ev.iter().sum();
        if present == 0.0 || events == 0.0 || events == present {
            return self.kept(m);
        }
        let total = present + me + mn;
        let min_size = (p.min_bin_share * total).ceil();
        // Rare labels are pooled into one group; labels without rows get no bin.
        let rare: Vec<bool> = (0..n)
            .map(|l| ev[l] + ne[l] > 0.0 && ev[l] + ne[l] < min_size)
            .collect();
        let (pe, pn) = (0..n)
            .filter(|&l| rare[l])
            .fold((0.0, 0.0), |a, l| (a.0 + ev[l], a.1 + ne[l]));
        // Groups ordered by churn rate: the labels, then the pool.
        let mut groups: Vec<(Vec<usize>, f64, f64)> = (0..n)
            .filter(|&l| !rare[l] && ev[l] + ne[l] > 0.0)
            .map(|l| (vec![l], ev[l], ne[l]))
            .collect();
        if pe + pn > 0.0 {
            groups.push(((0..n).filter(|&l| rare[l]).collect(), pe, pn));
        }
        groups.sort_by(|a, b| (a.1 / (a.1 + a.2)).total_cmp(&(b.1 / (b.1 + b.2))));
        let s = Sorted {
            x: (0..groups.len()).map(|g| g as f64).collect(),
            ev: groups.iter().map(|g| g.1).collect(),
            ne: groups.iter().map(|g| g.2).collect(),
        };
        let splits: Vec<f64> = (1..groups.len()).map(|g| g as f64 - 0.5).collect();
        let pre = binning::refine(&s, splits);
        let c = Constraints {
            max_bins: p.max_bins,
            min_bin_size: min_size,
            min_bin_events: p.min_bin_events,
            max_pvalue: p.max_pvalue,
        };
        let bins = binning::merged(&pre, &binning::optimal_merge(&pre, Trend::Ascending, &c));
        let totals = (
            bins.events.iter().sum::<f64>(),
            bins.nonevents.iter().sum::<f64>(),
        );
        let woes: Vec<f64> = (0..bins.len()).map(|b| bins.woe(b, totals)).collect();
        let health = scaled_with(&woes, None).0;
        let mut label_bin = vec![None; n];
        let mut out_bins = Vec::new();
        for b in 0..bins.len() {
            let members: Vec<usize> = groups
                .iter()
                .enumerate()
                .filter(|(g, _)| bins.bin_of(*g as f64) == b)
                .flat_map(|(_, g)| g.0.iter().copied())
                .collect();
            for &l in &members {
                label_bin[l] = Some(b);
            }
            out_bins.push(Bin {
                from: None,
                to: None,
                labels: members.iter().map(|&l| labels[l].clone()).collect(),
                rows: bins.events[b] + bins.nonevents[b],
                events: bins.events[b],
                churn_rate: bins.rate(b),
                woe: woes[b],
                iv: binning::jeffrey(bins.events[b] / totals.0, bins.nonevents[b] / totals.1),
                points: health[b],
            });
        }
        let missing_bin = (me + mn > 0.0).then(|| MissingBin {
            rows: me + mn,
            events: me,
            churn_rate: me / (me + mn),
            p_value: two_proportion_p(me, me + mn, totals.0, totals.0 + totals.1),
            policy: m.missing,
        });
        // The prior map's mean health on each bin, its labels weighted by their rows (a
        // label the map lacks counts as neutral).
        let prior_mean = match &m.transform {
            Transform::Categories { map } if p.prior_rows > 0.0 => {
                let (mut sum, mut cnt) = (vec![0.0; bins.len()], vec![0.0; bins.len()]);
                for (l, bin) in label_bin.iter().enumerate() {
                    if let Some(b) = *bin {
                        let s = map.get(&labels[l]).copied().unwrap_or(50.0);
                        let rows = ev[l] + ne[l];
                        sum[b] += rows * transform::directed(m.direction, s);
                        cnt[b] += rows;
                    }
                }
                Some(
                    (0..bins.len())
                        .map(|b| if cnt[b] > 0.0 { sum[b] / cnt[b] } else { 50.0 })
                        .collect(),
                )
            }
            _ => None,
        };
        Draft {
            report: MetricBins {
                metric: m.name.clone(),
                column: m.column.clone(),
                kind: "categories",
                declared: m.direction,
                direction: m.direction,
                shape: None,
                conflict: false,
                flipped: false,
                g_declared: bins.g_statistic(),
                g_opposite: 0.0,
                iv: bins.iv(totals),
                monotone: true,
                bins: out_bins,
                missing: missing_bin,
                before,
            },
            kind: DraftKind::Labels {
                bins,
                label_bin,
                health,
                labels: labels.clone(),
                prior_mean,
            },
        }
    }
}
