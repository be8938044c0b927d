//! `churncal synth`: generate snapshots and the truth profile that drove their churn.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use churncal::data::parse;
use churncal::output;
use churncal::profile::io;
use churncal::score::table::{write_table, TableFormat};
use churncal::synth::{generate, SynthParams};

use super::Ui;

/// Arguments of `churncal synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output snapshots: .csv or .parquet.
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "notebooks-data/sample_snapshots.csv"
    )]
    out: PathBuf,
    /// Where to write the generating model as a profile [default: sample_truth.toml beside --out].
    #[arg(long, value_name = "FILE")]
    truth: Option<PathBuf>,
    /// Number of accounts.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    accounts: usize,
    /// Quarterly snapshots per account.
    #[arg(long, value_name = "N", default_value_t = 8)]
    quarters: usize,
    /// Date of the first snapshot.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2024-03-31")]
    first: String,
    /// Expected number of churned accounts.
    #[arg(long, value_name = "N", default_value_t = 130.0)]
    churned: f64,
    /// Random seed; the same seed gives the same bytes.
    #[arg(long, value_name = "N", default_value_t = 42)]
    seed: u64,
    /// Mid-Market and Enterprise accounts churn by other weights than SMB ones (the truth
    /// profile's weights reversed, written beside it as <truth>-upmarket.toml).
    #[arg(long)]
    weights_by_size: bool,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let first = match parse::date(&a.first) {
        Ok(Some(d)) => d,
        _ => anyhow::bail!("--first '{}' is not a date as YYYY-MM-DD", a.first),
    };
    anyhow::ensure!(a.accounts > 0, "--accounts must be at least 1");
    anyhow::ensure!(
        (1..=200).contains(&a.quarters),
        "--quarters must be between 1 and 200"
    );
    anyhow::ensure!(
        a.churned > 0.0 && a.churned < a.accounts as f64,
        "--churned must be between 0 and the number of accounts"
    );
    let truth_path = a.truth.clone().unwrap_or_else(|| {
        a.out
            .parent()
            .unwrap_or(Path::new("."))
            .join("sample_truth.toml")
    });
    let upmarket_path = a.weights_by_size.then(|| {
        let stem = truth_path
            .file_stem()
            .map_or("sample_truth".into(), |s| s.to_string_lossy().into_owned());
        truth_path.with_file_name(format!("{stem}-upmarket.toml"))
    });
    // Every output is checked before any is generated or written.
    for p in [&a.out, &truth_path]
        .into_iter()
        .chain(upmarket_path.as_ref())
    {
        super::check_output(p, a.force)?;
    }
    // About 180 bytes a row of CSV (the sample's 30 columns); Parquet about a third.
    let rows = (a.accounts as u64).saturating_mul(a.quarters as u64);
    let per_row = match TableFormat::from_path(&a.out.to_string_lossy()) {
        TableFormat::Parquet => 60,
        TableFormat::Csv => 180,
    };
    output::check_space(&a.out, rows.saturating_mul(per_row))
        .with_context(|| format!("writing {}", a.out.display()))?;
    let params = SynthParams {
        accounts: a.accounts,
        quarters: a.quarters,
        first,
        target_churned: a.churned,
        seed: a.seed,
        weights_by_size: a.weights_by_size,
        ..Default::default()
    };
    let synth = generate(&params);
    let mut df = synth.to_frame().context("building the snapshot table")?;
    let format = TableFormat::from_path(&a.out.to_string_lossy());
    output::write_atomic_with(&a.out, a.force, |w| {
        write_table(&mut df, format, w).map_err(std::io::Error::other)
    })
    .with_context(|| format!("writing {}", a.out.display()))?;
    output::write_atomic(&truth_path, io::to_toml(&synth.truth).as_bytes(), a.force)
        .with_context(|| format!("writing {}", truth_path.display()))?;
    if let (Some(path), Some(truth)) = (&upmarket_path, &synth.upmarket_truth) {
        output::write_atomic(path, io::to_toml(truth).as_bytes(), a.force)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let s = &synth.snapshots;
    let churned = s.churned_rows().unwrap_or(0);
    ui.note(format!(
        "wrote {} ({} snapshots of {} accounts, {} churned) and {}{}",
        a.out.display(),
        s.rows,
        s.n_accounts,
        churned,
        truth_path.display(),
        upmarket_path.as_ref().map_or(String::new(), |p| format!(
            " (SMB accounts) and {} (Mid-Market and Enterprise)",
            p.display()
        ))
    ));
    Ok(ExitCode::SUCCESS)
}
