use super::*;
use crate::profile::{Metric, Profile};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn metric(name: &str, direction: Direction, transform: Transform) -> Metric {
    Metric {
        name: name.into(),
        column: name.into(),
        group: None,
        weight: 50.0,
        direction,
        transform,
        missing: Missing::Redistribute,
        calibration: None,
    }
}

fn profile(metrics: Vec<Metric>) -> Profile {
    let mut p = crate::profile::presets::preset("three-dimensions").unwrap();
    p.metrics = metrics;
    p.groups = Vec::new();
    p
}

/// 20,000 rows: `logins` (0–40) with churn 30 % below 5, 10 % from 5 to 15, 3 % above;
/// `plan` with churn by label; `dpd` with churn rising with days past due (declared
/// higher-is-better: contradicted); `gap` missing for 20 % of rows, who churn at 40 %.
fn world() -> (Profile, Arc<Snapshots>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 20_000;
    let (mut logins, mut plan, mut dpd, mut gap, mut y) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let l = rng.random_range(0..=40) as f64;
        let c = rng.random_range(0..4u32);
        let d = rng.random_range(0..=90) as f64;
        let missing_gap = rng.random::<f64>() < 0.2;
        let mut p: f64 = if l < 5.0 {
            0.30
        } else if l < 15.0 {
            0.10
        } else {
            0.03
        };
        p += [0.0, 0.05, 0.10, 0.0][c as usize];
        p += d / 900.0;
        if missing_gap {
            p = 0.4;
        }
        logins.push(l);
        plan.push(c);
        dpd.push(d);
        gap.push(if missing_gap {
            f64::NAN
        } else {
            rng.random_range(0.0..1.0)
        });
        y.push((rng.random::<f64>() < p) as u8);
    }
    let labels: Vec<String> = ["basic", "plus", "pro", "team"].map(String::from).to_vec();
    let mut data = Snapshots::from_metrics(
        "world",
        vec![
            ("logins".into(), MetricColumn::Numeric(logins)),
            (
                "plan".into(),
                MetricColumn::Text {
                    codes: plan,
                    labels: labels.clone(),
                },
            ),
            ("dpd".into(), MetricColumn::Numeric(dpd)),
            ("gap".into(), MetricColumn::Numeric(gap)),
        ],
    );
    data.outcome = Some(y);
    let cats: BTreeMap<String, f64> = labels.iter().map(|l| (l.clone(), 50.0)).collect();
    let p = profile(vec![
        metric(
            "logins",
            Direction::HigherIsBetter,
            Transform::Linear { lo: 0.0, hi: 40.0 },
        ),
        metric(
            "plan",
            Direction::HigherIsBetter,
            Transform::Categories { map: cats },
        ),
        metric(
            "dpd",
            Direction::HigherIsBetter,
            Transform::Linear { lo: 0.0, hi: 90.0 },
        ),
        metric(
            "gap",
            Direction::HigherIsBetter,
            Transform::Linear { lo: 0.0, hi: 1.0 },
        ),
    ]);
    (p, Arc::new(data))
}

#[test]
fn steps_are_found_and_written_as_readable_points() {
    let (p, data) = world();
    let learned = LearnParams::default()
        .form(Form::Steps)
        .learner(&p, data.clone())
        .unwrap()
        .learn(None);
    learned.profile.check().unwrap();
    let logins = &learned.metrics[0];
    assert_eq!(logins.kind, "numeric");
    assert!(logins.monotone);
    // The true steps at 5 and 15 are found within one quantile pre-bin (2 logins).
    let Transform::Points { map } = &learned.profile.metrics[0].transform else {
        panic!("points")
    };
    let xs: Vec<f64> = map.iter().map(|p| p[0]).collect();
    for step in [5.0, 15.0] {
        assert!(
            xs.iter().any(|x| (x - step).abs() <= 2.0),
            "{step}: {map:?}"
        );
    }
    assert!(
        xs.iter().all(|x| x.fract() == 0.0),
        "integer data, integer edges: {xs:?}"
    );
    assert!(logins.bins.len() <= 5);
    // Healthiest bin last, at 100; the first at 0.
    assert_eq!(logins.bins[0].points, 0.0);
    assert_eq!(logins.bins.last().unwrap().points, 100.0);
    // Ramps: one point inside each bin, points rising with logins.
    let ramps = LearnParams::default()
        .learner(&p, data)
        .unwrap()
        .learn(None);
    let Transform::Points { map } = &ramps.profile.metrics[0].transform else {
        panic!("points")
    };
    assert!(map.windows(2).all(|w| w[1][1] >= w[0][1]), "{map:?}");
    assert!(map.len() <= ramps.metrics[0].bins.len(), "{map:?}");
    // Noise is not cut into bins: the present values of `gap` carry no signal.
    assert_eq!(
        ramps.metrics[3].bins.len(),
        1,
        "{:?}",
        ramps.metrics[3].bins
    );
}

#[test]
fn labels_get_points_by_churn_and_contradicted_directions_are_reported() {
    let (p, data) = world();
    let learned = LearnParams::default()
        .learner(&p, data.clone())
        .unwrap()
        .learn(None);
    let Transform::Categories { map } = &learned.profile.metrics[1].transform else {
        panic!("categories")
    };
    // pro churns most, basic and team least.
    assert!(
        map["pro"] < map["plus"] && map["plus"] < map["basic"],
        "{map:?}"
    );
    let dpd = &learned.metrics[2];
    assert!(dpd.conflict && !dpd.flipped, "{dpd:?}");
    assert_eq!(
        learned.profile.metrics[2].direction,
        Direction::HigherIsBetter
    );
    // With the flag, flipped and said so.
    let flipped = LearnParams::default()
        .flip(true)
        .learner(&p, data)
        .unwrap()
        .learn(None);
    assert!(flipped.metrics[2].flipped);
    assert_eq!(
        flipped.profile.metrics[2].direction,
        Direction::LowerIsBetter
    );
    assert!(flipped.metrics[2].bins.len() >= 2);
}

#[test]
fn missing_values_with_their_own_churn_get_their_own_score() {
    let (p, data) = world();
    let learned = LearnParams::default()
        .learner(&p, data)
        .unwrap()
        .learn(None);
    let gap = &learned.metrics[3];
    let m = gap.missing.as_ref().unwrap();
    assert!(m.p_value < 1e-6);
    // 40 % churn when missing: worse than any present bin.
    assert_eq!(learned.profile.metrics[3].missing, Missing::Score(0.0));
    // The text round-trips.
    let toml = crate::profile::io::to_toml(&learned.profile);
    assert!(toml.contains("missing = 0"), "{toml}");
    let back: Profile = toml::from_str(&toml).unwrap();
    assert_eq!(back.metrics[3].missing, Missing::Score(0.0));
}

#[test]
fn weights_are_repeated_rows() {
    let (p, data) = world();
    // Without the significance test, whose verdict depends on the counts.
    let l = LearnParams::default()
        .max_pvalue(None)
        .learner(&p, data.clone())
        .unwrap();
    let twice = l.learn(Some(&vec![2.0; data.rows]));
    let once = l.learn(None);
    // The same bins (the joint fit's penalty weighs less against doubled rows, so the
    // points may move in their last digit).
    for (a, b) in twice.metrics.iter().zip(&once.metrics) {
        let edges = |m: &MetricBins| m.bins.iter().map(|b| (b.from, b.to)).collect::<Vec<_>>();
        assert_eq!(edges(a), edges(b), "{}", a.metric);
        for (x, y) in a.bins.iter().zip(&b.bins) {
            assert_eq!(x.rows, 2.0 * y.rows);
        }
    }
    // Weight-of-evidence points are exactly invariant.
    let woe = LearnParams::default()
        .max_pvalue(None)
        .points_from(PointsFrom::Woe)
        .learner(&p, data.clone())
        .unwrap();
    assert_eq!(
        woe.learn(Some(&vec![2.0; data.rows])).profile,
        woe.learn(None).profile
    );
    // Zero weights leave rows out.
    let mut w = vec![1.0; data.rows];
    w[..10_000].fill(0.0);
    let half = l.learn(Some(&w));
    assert!(half.metrics[0].bins.iter().map(|b| b.rows).sum::<f64>() <= 10_000.0);
}

#[test]
fn bad_parameters_are_refused() {
    assert!(LearnParams::default().max_bins(0).check().is_err());
    assert!(LearnParams::default().max_bins(21).check().is_err());
    assert!(LearnParams::default().max_prebins(101).check().is_err());
    assert!(LearnParams::default().min_bin_share(0.9).check().is_err());
    assert!(LearnParams::default().prior_rows(-1.0).check().is_err());
    assert!(LearnParams::default().check().is_ok());
}

#[test]
fn every_fold_and_replicate_learns_from_its_own_rows() {
    use crate::calibrate::CalibrateParams;
    use std::sync::Mutex;
    let (p, data) = world();
    let learner = Arc::new(LearnParams::default().learner(&p, data.clone()).unwrap());
    let learned = learner.learn(None);
    let zeros = Arc::new(Mutex::new(Vec::new()));
    let inner = relearn_with(learner);
    let seen = Arc::clone(&zeros);
    let counting: crate::calibrate::Relearn = Arc::new(move |rows: &[usize], w: &[f64]| {
        seen.lock()
            .unwrap()
            .push(w.iter().filter(|&&x| x == 0.0).count() as f64 / rows.len() as f64);
        inner(rows, w)
    });
    let subs = crate::score::SubScores::compute(&learned.profile, &data).unwrap();
    CalibrateParams::default()
        .bootstrap(4)
        .lambdas(vec![0.0])
        .relearn(Some(counting))
        .fit(&learned.profile, &data, subs)
        .unwrap();
    let mut z = zeros.lock().unwrap().clone();
    z.sort_by(f64::total_cmp);
    // Five folds leave a fifth out each; four replicates leave about e⁻¹ of the accounts.
    assert_eq!(z.len(), 9, "{z:?}");
    assert!(z[..5].iter().all(|&f| (f - 0.2).abs() < 0.01), "{z:?}");
    assert!(z[5..].iter().all(|&f| (f - 0.368).abs() < 0.02), "{z:?}");
}

#[test]
fn noise_learned_in_sample_scores_chance_out_of_fold() {
    use crate::calibrate::CalibrateParams;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 4000;
    let names = ["a", "b", "c", "d", "e", "f"];
    let metrics: Vec<(String, MetricColumn)> = names
        .iter()
        .map(|m| {
            let v = (0..n).map(|_| rng.random_range(0..200) as f64).collect();
            (m.to_string(), MetricColumn::Numeric(v))
        })
        .collect();
    let mut data = Snapshots::from_metrics("noise", metrics);
    data.outcome = Some((0..n).map(|_| (rng.random::<f64>() < 0.25) as u8).collect());
    let data = Arc::new(data);
    let p = profile(
        names
            .iter()
            .map(|m| {
                metric(
                    m,
                    Direction::HigherIsBetter,
                    Transform::Linear { lo: 0.0, hi: 199.0 },
                )
            })
            .collect(),
    );
    // No significance test and shapes free to turn: every chance to fit the noise.
    let lp = LearnParams::default()
        .max_pvalue(None)
        .shape(ShapeChoice::Auto)
        .flip(true);
    let params = CalibrateParams::default().bootstrap(0).lambdas(vec![0.0]);
    let lc = lp.calibrate(&params, &p, Arc::clone(&data)).unwrap();
    let out_of_fold = lc.comparison.models[1].auc;
    // The same learned profile scored on the rows it learned from.
    let subs = crate::score::SubScores::compute(&lc.calibration.profile, &data).unwrap();
    let scored = crate::score::score(&lc.calibration.profile, &subs, crate::score::Extent::Full);
    let risk: Vec<f64> = scored.score.iter().map(|s| -s).collect();
    let in_sample = crate::stats::auc(&risk, data.outcome.as_ref().unwrap());
    assert!(out_of_fold < 0.55, "out of fold {out_of_fold}");
    assert!(
        in_sample > out_of_fold + 0.02,
        "in sample {in_sample}, out of fold {out_of_fold}"
    );
}

#[test]
fn metrics_with_nothing_to_learn_stay_as_written() {
    let n = 200;
    let mut data = Snapshots::from_metrics(
        "edge",
        vec![
            ("empty".into(), MetricColumn::Numeric(vec![f64::NAN; n])),
            ("flat".into(), MetricColumn::Numeric(vec![3.0; n])),
            (
                "x".into(),
                MetricColumn::Numeric((0..n).map(|i| i as f64).collect()),
            ),
        ],
    );
    data.outcome = Some((0..n).map(|i| (i % 4 == 0) as u8).collect());
    let data = Arc::new(data);
    let lin = Transform::Linear { lo: 0.0, hi: 10.0 };
    let p = profile(vec![
        metric("empty", Direction::HigherIsBetter, lin.clone()),
        metric("flat", Direction::HigherIsBetter, lin.clone()),
        metric("x", Direction::HigherIsBetter, lin.clone()),
    ]);
    let l = LearnParams::default().learner(&p, data.clone()).unwrap();
    let learned = l.learn(None);
    learned.profile.check().unwrap();
    assert_eq!(learned.metrics[0].kind, "kept");
    assert_eq!(learned.profile.metrics[0].transform, lin);
    // A constant: one bin, flat points.
    let Transform::Points { map } = &learned.profile.metrics[1].transform else {
        panic!("points")
    };
    assert!(map.iter().all(|p| p[1] == 50.0), "{map:?}");
    // Rows without a churn event: nothing to learn, nothing broken.
    let mut w = vec![0.0; n];
    for i in (1..n).step_by(4) {
        w[i] = 1.0;
    }
    let none = l.learn(Some(&w));
    none.profile.check().unwrap();
    assert!(none.metrics.iter().all(|m| m.kind == "kept"));
}

#[test]
fn the_prior_transform_pulls_the_points_toward_itself() {
    let (p, data) = world();
    let points = |rows: f64| {
        let l = LearnParams::default()
            .points_from(PointsFrom::Woe)
            .prior_rows(rows)
            .learner(&p, data.clone())
            .unwrap()
            .learn(None);
        l.metrics[0]
            .bins
            .iter()
            .map(|b| b.points)
            .collect::<Vec<_>>()
    };
    let free = points(0.0);
    let pulled = points(1e9);
    // The prior is `linear 0 to 40` on logins: each bin's points become the mean of
    // 2.5 × logins over its rows (uniform logins: the bin's middle value × 2.5).
    let l = LearnParams::default()
        .points_from(PointsFrom::Woe)
        .learner(&p, data.clone())
        .unwrap()
        .learn(None);
    for (b, bin) in l.metrics[0].bins.iter().enumerate() {
        let lo = bin.from.unwrap_or(0.0);
        let hi = bin.to.map_or(40.0, |t| t - 1.0);
        let mid = 2.5 * (lo + hi) / 2.0;
        assert!(
            (pulled[b] - mid).abs() < 1.5,
            "bin {b}: {} vs {mid}",
            pulled[b]
        );
    }
    assert_ne!(free, pulled);
    // A categories map blends too: every plan was written 50, so 50 it becomes.
    let cats = LearnParams::default()
        .prior_rows(1e9)
        .learner(&p, data.clone())
        .unwrap()
        .learn(None);
    let Transform::Categories { map } = &cats.profile.metrics[1].transform else {
        panic!("categories")
    };
    assert!(map.values().all(|&v| (v - 50.0).abs() < 0.2), "{map:?}");
    // In between, in between.
    let half = points(1000.0);
    for b in 0..free.len() {
        let (a, c) = (free[b].min(pulled[b]), free[b].max(pulled[b]));
        assert!(half[b] >= a - 0.05 && half[b] <= c + 0.05, "{b}: {half:?}");
    }
}

#[test]
fn large_fits_keep_every_churned_row_and_weigh_up_the_rest() {
    let y: Vec<u8> = (0..1000).map(|i| (i % 50 == 0) as u8).collect();
    let rows: Vec<usize> = (0..1000).collect();
    assert_eq!(stride_sample(&rows, &y, 2000).len(), 1000);
    let s = stride_sample(&rows, &y, 200);
    let events = s.iter().filter(|&&(i, _)| y[i] == 1).count();
    assert_eq!(events, 20);
    assert!(s.len() <= 200 + 1, "{}", s.len());
    // The weights stand for all the retained rows.
    let retained: f64 = s.iter().filter(|&&(i, _)| y[i] == 0).map(|&(_, f)| f).sum();
    assert!((retained - 980.0).abs() <= 6.0, "{retained}");
}
