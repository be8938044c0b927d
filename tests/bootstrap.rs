//! The one-step bootstrap (the default) against full refits of every replicate: the same
//! resamples, the weights' 95 % intervals within their Monte Carlo error of each other.

mod common;

use churncal::calibrate::CalibrateParams;
use churncal::data::{self, LoadRequest, Roles};
use churncal::profile;
use churncal::score::SubScores;

/// Intervals of the data-alone weights, one-step and refitted, on `path` under `profile`.
fn intervals(
    path: &str,
    prof: &profile::Profile,
    roles: Roles,
) -> Vec<(String, [f64; 2], [f64; 2])> {
    let mut req = LoadRequest::for_profile(prof);
    req.roles = roles;
    let d = data::load(path, &req).unwrap();
    let fit = |full: bool| {
        CalibrateParams::default()
            .lambdas(vec![1e-3])
            .full_bootstrap(full)
            .fit(prof, &d, SubScores::compute(prof, &d).unwrap())
            .unwrap()
    };
    let (one, full) = (fit(false), fit(true));
    one.metrics
        .iter()
        .zip(&full.metrics)
        .map(|(a, b)| (a.name.clone(), a.weight_ci, b.weight_ci))
        .collect()
}

/// The Monte Carlo standard error of a 2.5 % or 97.5 % quantile of B = 200 draws from a
/// normal is 0.19 standard deviations (√(p(1−p)/B) / φ(1.96)); an interval 3.92 sd wide
/// makes two of them 0.097 of its width.
fn check(rows: &[(String, [f64; 2], [f64; 2])]) {
    for (name, one, full) in rows {
        let tol = 0.1 * (full[1] - full[0]) + 0.05;
        for e in 0..2 {
            assert!(
                (one[e] - full[e]).abs() <= tol,
                "{name}: one-step {one:?}, refitted {full:?} (tolerance {tol:.2})"
            );
        }
    }
}

#[test]
fn one_step_intervals_match_full_refits_on_the_sample_and_telco() {
    let three = profile::presets::preset("three-dimensions").unwrap();
    check(&intervals(
        &common::root()
            .join("notebooks-data/sample_snapshots.csv")
            .to_string_lossy(),
        &three,
        Roles::default(),
    ));
    let telco = profile::read_profile(&common::real("telco.toml")).unwrap();
    check(&intervals(
        &common::real("telco_customer_churn.csv"),
        &telco,
        Roles {
            id: Some("customerID".into()),
            outcome: Some("Churn".into()),
            ..Default::default()
        },
    ));
}

#[test]
fn one_step_optimism_matches_full_refits() {
    use churncal::validate::ValidateParams;
    use std::borrow::Cow;
    let candidate = profile::read_profile(
        &common::root()
            .join("reports/example/three-dimensions-calibrated.toml")
            .to_string_lossy(),
    )
    .unwrap();
    let incumbent = profile::presets::preset("three-dimensions").unwrap();
    let d = data::load(
        &common::root()
            .join("notebooks-data/sample_snapshots.csv")
            .to_string_lossy(),
        &LoadRequest::for_profile(&candidate),
    )
    .unwrap();
    let optimism = |full_refits: bool| {
        ValidateParams {
            full_refits,
            ..ValidateParams::default()
        }
        .run(&candidate, &incumbent, Cow::Borrowed(&d))
        .unwrap()
        .optimism
        .expect("a churncal calibration")
    };
    let (one, full) = (optimism(false), optimism(true));
    assert_eq!(one.apparent, full.apparent);
    // The mean over 200 replicates: its Monte Carlo error is far above these tolerances, so
    // the step, not the resampling, would be what broke them.
    assert!(
        (one.optimism.auc - full.optimism.auc).abs() < 1e-4,
        "{one:?} vs {full:?}"
    );
    assert!((one.optimism.brier - full.optimism.brier).abs() < 1e-5);
    assert!((one.optimism.slope - full.optimism.slope).abs() < 1e-3);
}
