//! The project file (`churncal.toml` in the working folder, or `--config FILE`): settings
//! for the flags a command line leaves out, so that the quarterly job is `churncal report`.
//!
//! Top-level keys are flags shared by the commands that read data (`data`, `profile`,
//! `id-col`, `date-format`, ...); a `[command]` table holds one command's own flags. Keys
//! are the flags' long names. A flag given on the command line wins over the file; a key
//! that is no flag is an error naming the file and the key. Paths are relative to the
//! file's folder.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};

/// The project file's name in the working folder.
pub const FILE: &str = "churncal.toml";

/// Commands the project file does not apply to.
const EXEMPT: [&str; 3] = ["init", "profile", "help"];

/// Keys whose values are paths (resolved against the file's folder); a profile key naming
/// a preset is left as it is.
const PATH_KEYS: [&str; 6] = ["data", "profile", "out", "candidate", "incumbent", "counts"];

/// What [`apply`] did.
pub struct Applied {
    /// The command line with the file's settings added.
    pub args: Vec<OsString>,
    /// The file read, and the keys it set, when one applied.
    pub from: Option<(PathBuf, Vec<String>)>,
}

/// The project file named by `--config` in `args`, or `churncal.toml` here.
fn find(args: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            let Some(p) = it.next() else { return Ok(None) };
            return Ok(Some(PathBuf::from(p)));
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Ok(Some(PathBuf::from(p)));
        }
    }
    let here = PathBuf::from(FILE);
    Ok(here.is_file().then_some(here))
}

/// `args` with the project file's settings for every flag they leave out.
pub fn apply(args: Vec<OsString>) -> anyhow::Result<Applied> {
    let unchanged = |args| Applied { args, from: None };
    if args
        .iter()
        .skip(1)
        .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")))
    {
        return Ok(unchanged(args));
    }
    let Some(path) = find(&args)? else {
        return Ok(unchanged(args));
    };
    let cli = super::Cli::command();
    let Ok(matches) = cli.clone().ignore_errors(true).try_get_matches_from(&args) else {
        return Ok(unchanged(args));
    };
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(unchanged(args));
    };
    if EXEMPT.contains(&name) {
        return Ok(unchanged(args));
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the project file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid project file", path.display()))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let command = cli
        .find_subcommand(name)
        .expect("a parsed subcommand exists");

    // Every key must be a flag: top-level ones of some command, a table's of its command.
    let mut settings: BTreeMap<String, toml::Value> = BTreeMap::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(t) => {
                let Some(c) = cli
                    .find_subcommand(key)
                    .filter(|_| !EXEMPT.contains(&key.as_str()))
                else {
                    bail!(
                        "{}: [{key}] is no command; tables are named after commands (report, calibrate, ...)",
                        path.display()
                    );
                };
                for k in t.keys() {
                    if !c.get_arguments().any(|a| a.get_long() == Some(k)) {
                        bail!("{}: [{key}] {k}: '{key}' has no flag --{k}", path.display());
                    }
                }
            }
            _ => {
                let known = cli
                    .get_subcommands()
                    .any(|c| c.get_arguments().any(|a| a.get_long() == Some(key)));
                if !known || key == "config" {
                    bail!("{}: {key}: no command has a flag --{key}", path.display());
                }
                settings.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(toml::Value::Table(own)) = table.get(name) {
        for (k, v) in own {
            settings.insert(k.clone(), v.clone());
        }
    }

    let mut args = args;
    let mut used = Vec::new();
    for (key, value) in settings {
        let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(&key)) else {
            continue; // a shared key this command has no flag for
        };
        let id = arg.get_id().as_str();
        if sub.value_source(id) == Some(ValueSource::CommandLine) {
            continue;
        }
        // A flag the command line gave that excludes this one wins too.
        let excluded = command.get_arg_conflicts_with(arg).iter().any(|other| {
            sub.value_source(other.get_id().as_str()) == Some(ValueSource::CommandLine)
        });
        if excluded {
            continue;
        }
        let flag = format!("--{key}");
        let text = |v: &toml::Value| -> anyhow::Result<String> {
            Ok(match v {
                toml::Value::String(s) => resolve(&key, s, &base),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => bail!(
                    "{}: {key} = {other}: a string, a number, true/false or a list of them",
                    path.display()
                ),
            })
        };
        match (&value, arg.get_action()) {
            (toml::Value::Boolean(b), ArgAction::SetTrue) => {
                if *b {
                    args.push(flag.into());
                }
            }
            (toml::Value::Array(items), _) => {
                let items: Vec<String> = items.iter().map(&text).collect::<anyhow::Result<_>>()?;
                if items.is_empty() {
                    continue;
                }
                if arg.get_value_delimiter().is_some() {
                    args.push(flag.into());
                    args.push(items.join(",").into());
                } else {
                    for i in items {
                        args.push(flag.clone().into());
                        args.push(i.into());
                    }
                }
            }
            (v, ArgAction::SetTrue) => bail!(
                "{}: {key} = {v}: --{key} is a switch, set it with true or false",
                path.display()
            ),
            (v, _) => {
                args.push(flag.into());
                args.push(text(v)?.into());
            }
        }
        used.push(key);
    }
    Ok(Applied {
        args,
        from: Some((path, used)),
    })
}

/// A path setting relative to the project file's folder; a preset's name, an absolute
/// path and standard input/output (`-`) as they are.
fn resolve(key: &str, value: &str, base: &Path) -> String {
    let is_preset = churncal::profile::presets::names().contains(&value);
    if !PATH_KEYS.contains(&key)
        || value == "-"
        || is_preset
        || Path::new(value).is_absolute()
        || base.as_os_str().is_empty()
    {
        return value.to_string();
    }
    base.join(value).to_string_lossy().into_owned()
}
