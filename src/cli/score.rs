//! `churncal score`: score every snapshot and write the table.

use std::process::ExitCode;

use anyhow::Context;

use churncal::data::OutcomeNeed;
use churncal::output::{self, Sink};
use churncal::profile::set::Profiles;
use churncal::score::{self, summary, table};

use super::{Input, Ui};

/// Arguments of `churncal score`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: Input,
    /// Output table: .csv or .parquet; - writes CSV to standard output
    /// [default: reports/<profile>-scores.csv].
    #[arg(short, long, value_name = "FILE")]
    out: Option<String>,
}

pub fn run(mut a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let stage = tracing::info_span!("load").entered();
    let profiles = a.input.profiles()?;
    let profile = profiles.main().clone();
    let out = a
        .out
        .unwrap_or_else(|| format!("reports/{}-scores.csv", profile.name));
    let sink = Sink::parse(&out);
    // The table's file is known to be writable before the data is read.
    if let Sink::File(p) = &sink {
        super::check_output(p, true)?;
        // About a hundred bytes a row of CSV (id, date, score, groups, tier, reasons);
        // Parquet compresses it to about a third.
        if let Some(est) = churncal::data::memory::estimate(
            &a.input.data.data,
            churncal::data::memory::Job::Score,
            profile.metrics.len(),
        ) {
            let per_row = 100 + 8 * profile.groups.len() as u64;
            let per_row = match table::TableFormat::from_path(&out) {
                table::TableFormat::Parquet => per_row / 3,
                _ => per_row,
            };
            output::check_space(p, est.rows * per_row)
                .with_context(|| format!("writing {}", p.display()))?;
        }
    }
    let mut data = a.input.data.load_for(
        &profiles.all(),
        OutcomeNeed::Optional,
        churncal::data::memory::Job::Score,
        ui,
    )?;
    drop(stage);
    let stage = tracing::info_span!("score").entered();
    // The raw metric values are not needed past their sub-scores (a gigabyte at 10M rows
    // × 13 metrics): they become the sub-scores in place; nor are the sub-scores needed
    // past the scores.
    let (subs, assignment) = match &profiles {
        Profiles::One(p) => (score::SubScores::compute_consuming(p, &mut data)?, None),
        Profiles::Set(_) => score::subscores_for(&profiles, &data)?,
    };
    data.metrics = Vec::new();
    // The group scores and reason codes are computed piece by piece as the table is
    // written (0.8 GB at 10M rows and 8 groups, never held whole).
    let scored = score::score_assigned(&profile, &subs, assignment.as_ref(), score::Extent::Tiers);
    let detail = score::Detail::assigned(&profile, &subs, assignment.as_ref());
    drop(stage);
    let stage = tracing::info_span!("write").entered();
    let format = table::TableFormat::from_path(&out);
    let write =
        |w: &mut dyn std::io::Write| table::write_scores(&data, &scored, &detail, format, w);
    match &sink {
        Sink::File(p) => output::write_atomic_with(p, true, write)
            .with_context(|| format!("writing {}", p.display()))?,
        Sink::Stdout => output::write_stdout_with(write)
            .context("writing the score table to standard output")?,
    }
    drop(stage);
    let rows = summary::tier_summary(&scored, data.outcome.as_deref());
    ui.note(format!(
        "{}: {} snapshots of {} accounts scored with '{}'",
        data.source,
        data.rows - scored.unscored,
        data.n_accounts,
        profile.name
    ));
    if let Some(a) = &assignment {
        super::note_assignment(a, &profiles, ui);
    }
    ui.note(summary::render_text(&rows, scored.unscored).trim_end());
    if let Sink::File(p) = sink {
        ui.note(format!("wrote {}", p.display()));
    }
    Ok(ExitCode::SUCCESS)
}
