//! The `churncal` command: parse arguments, run the subcommand, map the result to an exit
//! code (0 success, 1 a domain verdict failed, 2 an error).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::timing::start();
    let applied = match cli::config::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let args = cli::Cli::parse_from(applied.args);
    if let Some((file, keys)) = &applied.from {
        if !args.is_quiet() && !keys.is_empty() {
            eprintln!("settings from {}: {}", file.display(), keys.join(", "));
        }
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(h) = cli::hint::for_error(&e) {
                eprintln!("hint: {h}");
            }
            ExitCode::from(2)
        }
    }
}
