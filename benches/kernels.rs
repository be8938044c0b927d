//! Criterion benchmarks of the hot kernels, by rows × metrics, on synthetic data built
//! outside the timed loop.
//!
//! Run: `cargo bench --bench kernels` (100k and 1M rows × 12 and 40 metrics);
//! `CHURNCAL_BENCH_10M=1 cargo bench --bench kernels` adds 10M rows (about 12 GB of memory
//! at 40 metrics, and a quarter of an hour). Filter as usual: `cargo bench --bench kernels
//! -- objective/`.
//!
//! Rows are snapshots of the synth generator (8 quarters per account, about 6.5 % of
//! accounts churning, a fifth of rows missing some metric). Metrics are the `eight-pillars`
//! preset's, cycled under new names to reach the count: 12 is the preset without its last
//! metric, 40 repeats its columns (same values, so the same missingness).
//!
//! Kernels: transform + score + tier + reason codes (`score`); one pass of the fit's
//! objective, with and without the Fisher information (`objective`); a constrained fit
//! from a cold start (`constrained_fit`); a bootstrap replicate (multinomial account
//! weights, warm start from the full fit, as `calibrate` runs 200 of them) (`bootstrap`);
//! AUC with its DeLong interval and DeLong's paired test (`auc`); the churn counts per
//! tier × segment behind the tier and cohort tables (`group_by`); loading the snapshot file
//! (the synth table's 30 columns, the profile's 13 metrics read) from CSV and from Parquet
//! (`load`, by rows only); and the machine's own limit, a STREAM-like triad
//! `a[i] = b[i] + s·c[i]` over three 64 MB arrays on every core (`memory`), whose bytes per
//! second are the floor a pass over the fit's matrix can approach (`docs/performance.md`,
//! "The floor").

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};

use churncal::analysis::{count_groups, unit_rows, Unit};
use churncal::calibrate::problem::{evaluate_objective, fit_constrained, FitData, LOOSE, TIGHT};
use churncal::data::{load, LoadRequest, MetricColumn, Snapshots};
use churncal::profile::{presets, Profile};
use churncal::score::{score, Extent, SubScores};
use churncal::stats::evaluation::{auc_ci, delong};
use churncal::synth::{generate, SynthParams};

fn sizes() -> Vec<usize> {
    let mut v = vec![100_000, 1_000_000];
    if std::env::var_os("CHURNCAL_BENCH_10M").is_some() {
        v.push(10_000_000);
    }
    v
}

const METRICS: [usize; 2] = [12, 40];

/// Synth snapshots with `rows` rows and a profile of `k` metrics over them.
fn data(rows: usize, k: usize) -> (Profile, Snapshots) {
    let synth = generate(&SynthParams {
        accounts: rows / 8,
        target_churned: rows as f64 / 8.0 * 0.065,
        ..Default::default()
    });
    let mut snaps = synth.snapshots;
    let base = presets::preset("eight-pillars").expect("preset");
    let mut profile = base.clone();
    profile.metrics.clear();
    for i in 0..k {
        let mut m = base.metrics[i % base.metrics.len()].clone();
        if i >= base.metrics.len() {
            let column = format!("{}_{}", m.column, i);
            let copy: MetricColumn = snaps.metric(&m.column).expect("synth column").clone();
            snaps.metrics.push((column.clone(), copy));
            m.name = format!("{} #{}", m.name, i);
            m.column = column;
        }
        profile.metrics.push(m);
    }
    // Fewer metrics than the preset has can leave a group empty, which a profile may not.
    let used: Vec<Option<String>> = profile.metrics.iter().map(|m| m.group.clone()).collect();
    profile
        .groups
        .retain(|g| used.iter().any(|u| u.as_deref() == Some(g.name.as_str())));
    profile.check().expect("bench profile");
    (profile, snaps)
}

fn fit_data(profile: &Profile, snaps: &Snapshots) -> FitData {
    let subs = SubScores::compute(profile, snaps).expect("sub-scores");
    let y = snaps.outcome.as_ref().expect("outcome");
    let rows: Vec<usize> = (0..snaps.rows).filter(|&i| subs.present[i] > 0).collect();
    FitData::from_columns(&subs.columns, y, &rows)
}

fn prior(profile: &Profile) -> Vec<f64> {
    profile
        .effective_weights()
        .iter()
        .map(|w| 5.0 * w / 100.0)
        .collect()
}

fn label(rows: usize, k: usize) -> String {
    format!("{}k rows × {k}", rows / 1000)
}

fn kernels(c: &mut Criterion) {
    for rows in sizes() {
        for k in METRICS {
            let (profile, snaps) = data(rows, k);
            let id = label(rows, k);
            let n = snaps.rows as u64;

            let mut g = c.benchmark_group("score");
            g.sample_size(10).throughput(Throughput::Elements(n));
            g.bench_function(BenchmarkId::new("transform+score+tier+reasons", &id), |b| {
                b.iter(|| {
                    score(
                        &profile,
                        &SubScores::compute(&profile, &snaps).expect("scores"),
                        Extent::Full,
                    )
                })
            });
            g.finish();

            let scored = score(
                &profile,
                &SubScores::compute(&profile, &snaps).expect("scores"),
                Extent::Full,
            );
            let mut g = c.benchmark_group("group_by");
            g.sample_size(10).throughput(Throughput::Elements(n));
            let seg = &snaps.segments[0];
            let tiers = profile.tiers.len() as u32;
            let group: Vec<u32> = (0..snaps.rows)
                .map(|i| scored.tier[i] as u32 * seg.labels.len() as u32 + seg.codes[i])
                .collect();
            let cells = (tiers as usize) * seg.labels.len();
            g.bench_function(BenchmarkId::new("decisions × tier × segment", &id), |b| {
                b.iter(|| {
                    let rows = unit_rows(&snaps, Unit::Account);
                    count_groups(&snaps, &rows, &group, cells)
                })
            });
            g.finish();

            let fd = fit_data(&profile, &snaps);
            drop(scored);
            drop(snaps);
            let beta0 = prior(&profile);
            let theta: Vec<f64> = std::iter::once(-4.0).chain(beta0.iter().copied()).collect();
            let mut g = c.benchmark_group("objective");
            g.sample_size(10)
                .throughput(Throughput::Elements(fd.n as u64));
            for (name, curvature) in [("gradient", false), ("gradient+information", true)] {
                g.bench_function(BenchmarkId::new(name, &id), |b| {
                    b.iter(|| evaluate_objective(&fd, &beta0, 1e-3, &theta, curvature))
                });
            }
            g.finish();

            let mut g = c.benchmark_group("constrained_fit");
            g.sample_size(10)
                .throughput(Throughput::Elements(fd.n as u64));
            g.bench_function(BenchmarkId::new("cold start, λ = 1e-3", &id), |b| {
                b.iter(|| fit_constrained(&fd, &beta0, 1e-3, (-4.0, &beta0), None, 1000, TIGHT))
            });
            g.finish();

            // One bootstrap replicate: multinomial counts per account (8 rows each), warm
            // start from the full-data fit and its information.
            let full = fit_constrained(&fd, &beta0, 0.0, (-4.0, &beta0), None, 1000, TIGHT);
            let accounts = fd.n.div_ceil(8);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let mut count = vec![0.0; accounts];
            for _ in 0..accounts {
                count[rng.random_range(0..accounts)] += 1.0;
            }
            let replicate = fd.with_weights((0..fd.n).map(|i| count[i / 8]).collect());
            let mut g = c.benchmark_group("bootstrap");
            g.sample_size(10)
                .throughput(Throughput::Elements(fd.n as u64));
            g.bench_function(BenchmarkId::new("one replicate, warm", &id), |b| {
                b.iter(|| {
                    fit_constrained(
                        &replicate,
                        &beta0,
                        0.0,
                        (full.alpha, &full.beta),
                        Some(&full.information),
                        1000,
                        LOOSE,
                    )
                })
            });
            g.finish();

            // AUC and DeLong depend on rows only: once per size.
            if k == METRICS[0] {
                let s1 = fd.scores(&beta0);
                let s2 = fd.scores(&full.beta);
                let r1: Vec<f64> = s1.iter().map(|s| 1.0 - s).collect();
                let r2: Vec<f64> = s2.iter().map(|s| 1.0 - s).collect();
                let mut g = c.benchmark_group("auc");
                g.sample_size(10)
                    .throughput(Throughput::Elements(fd.n as u64));
                let rows_id = format!("{}k rows", rows / 1000);
                g.bench_function(BenchmarkId::new("auc+delong interval", &rows_id), |b| {
                    b.iter(|| auc_ci(&r1, &fd.y))
                });
                g.bench_function(BenchmarkId::new("delong paired test", &rows_id), |b| {
                    b.iter(|| delong(&r1, &r2, &fd.y))
                });
                g.finish();
            }
        }
    }
}

/// Loading the synth table as `tiers` and `score` do for `eight-pillars`: the file is
/// written once outside the timed loop (to a temporary folder), read each iteration.
fn loading(c: &mut Criterion) {
    use churncal::score::table::{write_table, TableFormat};
    let dir = tempfile::tempdir().expect("temporary folder");
    let profile = presets::preset("eight-pillars").expect("preset");
    let req = LoadRequest::for_profile(&profile);
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    for rows in sizes() {
        let synth = generate(&SynthParams {
            accounts: rows / 8,
            target_churned: rows as f64 / 8.0 * 0.065,
            ..Default::default()
        });
        let mut df = synth.to_frame().expect("synth frame");
        g.throughput(Throughput::Elements(df.height() as u64));
        for (format, ext) in [(TableFormat::Csv, "csv"), (TableFormat::Parquet, "parquet")] {
            let path = dir.path().join(format!("snap-{rows}.{ext}"));
            let mut file = std::fs::File::create(&path).expect("bench file");
            write_table(&mut df, format, &mut file).expect("bench file written");
            let path = path.to_string_lossy().into_owned();
            let id = format!("{}k rows", rows / 1000);
            g.bench_function(BenchmarkId::new(ext, &id), |b| {
                b.iter(|| load(&path, &req).expect("bench file loads"))
            });
        }
    }
    g.finish();
}

/// STREAM's triad on every core: three arrays of 8M doubles (64 MB each, twice the L3
/// cache), split in contiguous chunks over rayon's threads. Criterion's throughput counts
/// the 24 bytes a row reads and writes (STREAM's convention, without the write-allocate
/// read).
fn memory(c: &mut Criterion) {
    use rayon::prelude::*;
    const N: usize = 8 << 20;
    let b: Vec<f64> = (0..N).map(|i| i as f64).collect();
    let cc: Vec<f64> = (0..N).map(|i| (N - i) as f64).collect();
    let mut a = vec![0.0f64; N];
    let s = 3.0;
    let mut g = c.benchmark_group("memory");
    g.sample_size(20)
        .throughput(Throughput::Bytes(24 * N as u64));
    g.bench_function("triad, 3 × 64 MB", |bench| {
        bench.iter(|| {
            a.par_chunks_mut(1 << 16)
                .zip(b.par_chunks(1 << 16).zip(cc.par_chunks(1 << 16)))
                .for_each(|(a, (b, c))| {
                    for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                        *a = b + s * c;
                    }
                });
            std::hint::black_box(&a);
        })
    });
    g.finish();
}

criterion_group!(benches, kernels, loading, memory);
criterion_main!(benches);
