//! `churncal profile list | show | init`: the built-in presets.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use churncal::output;
use churncal::profile::{io, presets, ProfileFormat};

/// Subcommands of `churncal profile`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the built-in presets with their effective weights.
    List,
    /// Print a preset (or a profile file) with its comments.
    Show {
        /// Preset name or profile file.
        #[arg(value_name = "NAME")]
        name: String,
        /// Print as JSON instead of TOML.
        #[arg(long, value_name = "FMT", default_value = "toml", value_parser = ["toml", "json"])]
        format: String,
    },
    /// Write a preset to start from: to FILE, or standard output.
    Init {
        /// Preset name.
        #[arg(value_name = "NAME")]
        name: String,
        /// File to write (.toml or .json) [default: standard output].
        #[arg(short, long, value_name = "FILE")]
        out: Option<String>,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::List => {
            let mut text = String::new();
            for name in presets::names() {
                let p = presets::preset(name)?;
                let default = if name == presets::DEFAULT_PRESET {
                    " (default)"
                } else {
                    ""
                };
                text.push_str(&format!("{name}{default}\n  {}\n", p.description));
                let w = p.effective_weights();
                let parts: Vec<String> = p
                    .metrics
                    .iter()
                    .zip(&w)
                    .map(|(m, w)| format!("{} {:.1}", m.name, w))
                    .collect();
                text.push_str(&format!("  weights: {}\n", parts.join(", ")));
                text.push_str(&format!("  tiers: {}\n\n", p.tier_names().join(" / ")));
            }
            output::write_sink(&output::Sink::Stdout, text.as_bytes(), true)?;
        }
        Command::Show { name, format } => {
            let text = if format == "json" {
                io::to_json(&churncal::profile::read_profile(&name)?)
            } else if let Ok(src) = presets::source(&name) {
                src.to_string()
            } else {
                let p = churncal::profile::read_profile(&name)?;
                std::fs::read_to_string(&name).unwrap_or_else(|_| io::to_toml(&p))
            };
            output::write_sink(&output::Sink::Stdout, text.as_bytes(), true)?;
        }
        Command::Init { name, out, force } => {
            let src = presets::source(&name)?;
            match out {
                None => output::write_sink(&output::Sink::Stdout, src.as_bytes(), true)?,
                Some(path) => {
                    let path = Path::new(&path);
                    let text = match ProfileFormat::from_path(path) {
                        ProfileFormat::Toml => src.to_string(),
                        ProfileFormat::Json => io::to_json(&presets::preset(&name)?),
                    };
                    output::write_atomic(path, text.as_bytes(), force)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
