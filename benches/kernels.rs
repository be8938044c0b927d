//! Criterion benchmarks of the hot kernels, on synthetic data built outside the timed loop.
//!
//! Run: `cargo bench --bench kernels`. Rows are snapshots of the synth generator (8 per
//! account); metrics are the 13 of the `eight-pillars` preset.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use churncal::calibrate::problem::{evaluate_objective, fit_constrained, FitData, TIGHT};
use churncal::profile::presets;
use churncal::score::{score_subscores, SubScores};
use churncal::synth::{generate, SynthParams};

fn data(rows: usize) -> (churncal::profile::Profile, SubScores, Vec<u8>) {
    let synth = generate(&SynthParams {
        accounts: rows / 8,
        target_churned: rows as f64 / 8.0 * 0.065,
        ..Default::default()
    });
    let profile = presets::preset("eight-pillars").expect("preset");
    let subs = SubScores::compute(&profile, &synth.snapshots).expect("scores");
    let y = synth.snapshots.outcome.clone().expect("outcome");
    (profile, subs, y)
}

fn scoring(c: &mut Criterion) {
    let mut g = c.benchmark_group("score");
    g.sample_size(10);
    for rows in [100_000usize, 1_000_000] {
        let (profile, subs, _) = data(rows);
        g.throughput(Throughput::Elements(subs.rows as u64));
        g.bench_with_input(
            BenchmarkId::new("score+tier+reasons", subs.rows),
            &subs,
            |b, s| b.iter(|| score_subscores(&profile, s)),
        );
    }
    g.finish();
}

fn constrained_fit(c: &mut Criterion) {
    let mut g = c.benchmark_group("constrained_fit");
    g.sample_size(10);
    for rows in [100_000usize, 1_000_000] {
        let (profile, subs, y) = data(rows);
        let all: Vec<usize> = (0..subs.rows).collect();
        let fd = FitData::from_columns(&subs.columns, &y, &all);
        let w0 = profile.effective_weights();
        let prior: Vec<f64> = w0.iter().map(|w| 5.0 * w / 100.0).collect();
        g.throughput(Throughput::Elements(fd.n as u64));
        g.bench_with_input(BenchmarkId::new("lambda=1e-3", fd.n), &fd, |b, d| {
            b.iter(|| fit_constrained(d, &prior, 1e-3, (-4.0, &prior), None, 1000, TIGHT))
        });
    }
    g.finish();
}

/// One pass of the fit's objective: value and gradient (most solver steps), and with the
/// Fisher information (the steps that refresh the curvature).
fn objective(c: &mut Criterion) {
    let mut g = c.benchmark_group("objective");
    g.sample_size(10);
    let (profile, subs, y) = data(1_000_000);
    let all: Vec<usize> = (0..subs.rows).collect();
    let fd = FitData::from_columns(&subs.columns, &y, &all);
    let prior: Vec<f64> = profile
        .effective_weights()
        .iter()
        .map(|w| 5.0 * w / 100.0)
        .collect();
    let theta: Vec<f64> = std::iter::once(-4.0).chain(prior.iter().copied()).collect();
    g.throughput(Throughput::Elements(fd.n as u64));
    for (name, curvature) in [("gradient", false), ("gradient+information", true)] {
        g.bench_with_input(BenchmarkId::new(name, fd.n), &fd, |b, d| {
            b.iter(|| evaluate_objective(d, &prior, 1e-3, &theta, curvature))
        });
    }
    g.finish();
}

criterion_group!(benches, scoring, constrained_fit, objective);
criterion_main!(benches);
