//! `churncal init`: a project file and a starter profile guessed from an export's columns.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use churncal::data::{self, numbers, Encoding, Formats, LoadRequest};
use churncal::profile::{Direction, Transform};
use churncal::project::{self, Guess, Pick};

use super::data_args::SAMPLE_DATA;
use super::Ui;

/// Arguments of `churncal init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export to read: .csv, .parquet or a spreadsheet (the bundled sample by default).
    #[arg(short, long, value_name = "FILE", default_value = SAMPLE_DATA)]
    data: String,
    /// Worksheet of a spreadsheet [default: the first].
    #[arg(long, value_name = "NAME")]
    sheet: Option<String>,
    /// CSV field separator (one character, or "tab") [default: detected from the header].
    #[arg(long, value_name = "CHAR")]
    delimiter: Option<String>,
    /// CSV text encoding: utf8 or latin1.
    #[arg(long, value_name = "ENC", default_value = "utf8")]
    encoding: String,
    /// Rows read to guess from.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    rows: u32,
    /// Project file to write.
    #[arg(short, long, value_name = "FILE", default_value = super::config::FILE)]
    out: PathBuf,
    /// Starter profile to write [default: churncal-profile.toml beside the project file].
    #[arg(long, value_name = "FILE")]
    profile_out: Option<PathBuf>,
    /// Replace the files if they exist.
    #[arg(long)]
    force: bool,
}

pub fn run(a: Args, ui: &Ui) -> anyhow::Result<ExitCode> {
    let folder = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf);
    let profile_out = a.profile_out.clone().unwrap_or_else(|| {
        folder
            .clone()
            .unwrap_or_default()
            .join("churncal-profile.toml")
    });
    super::check_output(&a.out, a.force)?;
    super::check_output(&profile_out, a.force)?;

    let req = LoadRequest {
        delimiter: match a.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t") => Some(b'\t'),
            Some(s) if s.len() == 1 => Some(s.as_bytes()[0]),
            Some(s) => anyhow::bail!("--delimiter '{s}' must be one ASCII character or \"tab\""),
        },
        encoding: match a.encoding.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Encoding::Utf8,
            "latin1" | "latin-1" | "iso-8859-1" | "windows-1252" | "cp1252" => Encoding::Latin1,
            other => anyhow::bail!("--encoding '{other}': use utf8 or latin1"),
        },
        formats: Formats {
            sheet: a.sheet.clone(),
            ..Formats::default()
        },
        ..LoadRequest::default()
    };
    let sample = data::text_sample(&a.data, &req, a.rows)?;
    let decimal_comma = sample.delimiter == Some(b';')
        && numbers::detect_decimal_comma(
            sample
                .columns
                .iter()
                .flat_map(|(_, v)| v.iter().flatten().map(String::as_str)),
        );
    let guess = project::guess(&sample.columns, decimal_comma);
    if guess.metrics.is_empty() {
        anyhow::bail!(
            "{}: no column looks like a metric (numbers, or labels with an outcome to rate them by); \
             write the profile by hand (churncal profile init three-dimensions)",
            a.data
        );
    }

    let name = Path::new(&a.data)
        .file_stem()
        .map_or("guessed".into(), |s| s.to_string_lossy().into_owned());
    let profile_text = project::profile_toml(&guess, &name, &a.data);
    // A guess that does not make a valid profile is a bug here, not the user's.
    let profile: churncal::profile::Profile =
        toml::from_str(&profile_text).context("the guessed profile does not parse")?;
    profile
        .check()
        .context("the guessed profile is not valid")?;
    let relative = |p: &Path| -> String {
        // Paths in the project file are relative to its folder.
        match &folder {
            None => p.to_string_lossy().into_owned(),
            Some(f) => p
                .strip_prefix(f)
                .map(Path::to_path_buf)
                .or_else(|_| std::path::absolute(p))
                .unwrap_or_else(|_| p.to_path_buf())
                .to_string_lossy()
                .into_owned(),
        }
    };
    let data_path = if a.data == SAMPLE_DATA {
        a.data.clone()
    } else {
        relative(Path::new(&a.data))
    };
    let project_text = project::project_toml(
        &guess,
        &data_path,
        sample.sheet.as_deref().filter(|_| a.sheet.is_some()),
        &relative(&profile_out),
    );
    churncal::output::write_atomic(&profile_out, profile_text.as_bytes(), a.force)
        .with_context(|| format!("writing {}", profile_out.display()))?;
    churncal::output::write_atomic(&a.out, project_text.as_bytes(), a.force)
        .with_context(|| format!("writing {}", a.out.display()))?;
    if !ui.quiet {
        eprint!("{}", summary(&guess, &a.data));
    }
    ui.note(format!(
        "wrote {} and {}; next: churncal report (read both files first: every guess has its reason)",
        a.out.display(),
        profile_out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// What was guessed, one line per role and metric, with the reasons.
fn summary(g: &Guess, data: &str) -> String {
    let mut t = format!("{data}: what the columns look like\n");
    let mut role = |what: &str, p: &Option<Pick>| {
        if let Some(p) = p {
            t.push_str(&format!("  {what:<16} {:<24} {}\n", p.column, p.why));
        }
    };
    role("account id", &g.id);
    role("snapshot date", &g.date);
    role("outcome", &g.outcome);
    role("churn date", &g.churn_date);
    role("customer since", &g.customer_since);
    role("revenue", &g.arr);
    for s in &g.segments {
        t.push_str(&format!("  {:<16} {:<24} {}\n", "segment", s.column, s.why));
    }
    for m in &g.metrics {
        let kind = match m.transform {
            Transform::Linear { .. } => "linear",
            Transform::Log { .. } => "log",
            Transform::Boolean => "boolean",
            Transform::Categories { .. } => "categories",
            Transform::Points { .. } => "points",
            Transform::Percentile { .. } => "percentile",
        };
        let dir = match m.direction {
            Direction::HigherIsBetter => "higher is better",
            Direction::LowerIsBetter => "lower is better",
        };
        t.push_str(&format!(
            "  {:<16} {:<24} {kind}, {dir}: {}\n",
            "metric", m.column, m.why
        ));
    }
    for s in &g.skipped {
        t.push_str(&format!(
            "  {:<16} {:<24} {}\n",
            "left out", s.column, s.why
        ));
    }
    t
}
