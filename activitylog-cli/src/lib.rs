//! `activitylog`: the command-line tool for the IONOS Cloud Activity Log API.
//!
//! The binary (`src/main.rs`) calls [`main`]; the library target lets the
//! end-to-end tests build the same program from the current source, and the
//! fuzz targets use its modules.
//!
//! The modules, in layers; each imports only from the layers below it:
//!
//! - dispatch: this file parses the command line and calls one command.
//! - `commands`: one module per command, each a leaf.
//! - reading and writing: `reader` (the API or what `sync` stored, for `entries`,
//!   `summary` and `mcp`), `which_contracts` (the contracts a command reads),
//!   `stored` (an archive or a lake), `connect` (credentials, the config file, `--sandbox`), `export` (the
//!   one path from events to bytes: stdout or `--out FILE`, checkpoints,
//!   locks), `report` (`summary`'s SVG and HTML files), `counting` (the
//!   filter-and-count loop of `summary` and the MCP server's `summarize`).
//! - the command line: `args` (every flag, with its value parser).
//! - ground: `output` (formats), `filter`, [`when`], `text`, `omitted`,
//!   `signals`, `progress`, `clock`, `error` (messages and exit codes).

#![warn(missing_docs)]

mod args;
mod clock;
mod commands;
mod connect;
mod counting;
mod error;
mod export;
pub mod filter;
mod omitted;
mod output;
mod progress;
mod reader;
mod report;
mod signals;
mod stored;
mod text;
/// The `WHEN` parser of `--since`/`--until`; public for the fuzz target `when`.
#[doc(hidden)]
pub mod when;
mod which_contracts;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
#[cfg(feature = "mcp")]
use crate::commands::mcp;
#[cfg(feature = "lake")]
use crate::commands::verify;
use crate::commands::{
    completions, config, contracts, entries, follow, info, sandbox, summary, sync,
};
use crate::error::Failure;
use crate::output::Format;
use crate::signals::Signals;

/// Runs `activitylog` with the process's arguments; the exit code says how it went.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "error: internal error{location}: {}; please report it",
            error::one_line(&payload)
        );
        std::process::exit(i32::from(error::EXIT_FAILURE));
    }));

    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    init_tracing(cli.global.verbose, std::env::var(LOG_LEVEL).ok().as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(error::EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(run(cli));
    // Do not wait for in-flight requests of an abandoned download.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let message = failure.message();
            if !message.is_empty() {
                // Not eprintln!: a closed stderr must not turn into a panic.
                let _ = writeln!(std::io::stderr(), "error: {message}");
            }
            ExitCode::from(failure.code())
        }
    }
}

/// Parses the command line; clap's own errors become one line and exit 2.
fn parse() -> Result<Cli, ExitCode> {
    let command = Cli::command().mut_subcommand("entries", |entries| {
        entries.after_long_help(output::csv::help())
    });
    let parsed = command
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    parsed.map_err(|error| {
        use clap::error::ErrorKind;
        match error.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = error.print();
                ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(error::EXIT_USAGE))
            }
            _ => {
                eprintln!("error: {}", error::clap_message(&error));
                ExitCode::from(error::EXIT_USAGE)
            }
        }
    })
}

/// Environment variable of the IONOS SDKs: `off`, `debug` or `trace` (any
/// case) sends the SDK's log to stderr when no `-v` is given.
const LOG_LEVEL: &str = "IONOS_LOG_LEVEL";

/// `-v` logs what happens (retries included) to stderr, `-vv` details
/// (windows, checkpoints), `-vvv` everything (HTTP internals included).
/// Without `-v`, `IONOS_LOG_LEVEL=debug` logs the SDK's requests and
/// statuses, `trace` their headers too (`Authorization` redacted) and bodies.
fn init_tracing(verbose: u8, log_level: Option<&str>) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let targets = match (verbose, log_level_filter(log_level)) {
        (0, Ok(None)) => return,
        (0, Ok(Some(sdk))) => Targets::new()
            .with_target("activitylog_client", sdk)
            .with_default(LevelFilter::WARN),
        (0, Err(message)) => {
            let _ = writeln!(std::io::stderr(), "warning: {message}");
            return;
        }
        (verbose, _) => {
            let (ours, others) = match verbose {
                1 => (LevelFilter::INFO, LevelFilter::WARN),
                2 => (LevelFilter::DEBUG, LevelFilter::WARN),
                _ => (LevelFilter::TRACE, LevelFilter::DEBUG),
            };
            Targets::new()
                .with_target("activitylog", ours)
                .with_target("activitylog_client", ours)
                .with_target("activitylog_sandbox", ours)
                .with_default(others)
        }
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init();
}

/// The SDK's level `IONOS_LOG_LEVEL` asks for: `None` for off or unset.
fn log_level_filter(
    value: Option<&str>,
) -> Result<Option<tracing::level_filters::LevelFilter>, String> {
    use tracing::level_filters::LevelFilter;
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.to_ascii_lowercase().as_str() {
        "off" => Ok(None),
        "debug" => Ok(Some(LevelFilter::DEBUG)),
        "trace" => Ok(Some(LevelFilter::TRACE)),
        _ => Err(format!(
            "{LOG_LEVEL}=`{value}` is not off, debug or trace; not logging"
        )),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let global = &cli.global;
    // `entries` checks the format it resolves (see `Format::refusal`).
    if global.format == Some(Format::Parquet) && !matches!(cli.command, Command::Entries(_)) {
        return Err(Failure::usage(
            "--format parquet is a file of entries: use it with `activitylog entries --out FILE.parquet`",
        ));
    }
    // Caught before anything is created, so that nothing is left behind.
    let signals = match &cli.command {
        Command::Completions { .. } | Command::Sandbox(_) | Command::Config => Signals::none(),
        _ => Signals::install()?,
    };
    match &cli.command {
        Command::Completions { shell } => completions::run(*shell),
        Command::Sandbox(args) => sandbox::serve(args).await,
        Command::Config => config::run(global).await,
        Command::Info => info::run(global, &signals).await,
        Command::Contracts => contracts::run(global, &signals).await,
        Command::Entries(args) if args.follow => follow::run(global, args, &signals).await,
        Command::Entries(args) => entries::run(global, args, &signals).await,
        Command::Summary(args) => summary::run(global, args, &signals).await,
        #[cfg(feature = "mcp")]
        Command::Mcp(args) => signals.or_stop(mcp::serve(global, args)).await,
        Command::Sync(args) => sync::run(global, args, &signals).await,
        #[cfg(feature = "lake")]
        Command::Verify(args) => verify::run(args, &signals).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn the_log_level_is_off_debug_or_trace_in_any_case() {
        assert_eq!(log_level_filter(None), Ok(None));
        assert_eq!(log_level_filter(Some("OFF")), Ok(None));
        assert_eq!(
            log_level_filter(Some("Debug")),
            Ok(Some(LevelFilter::DEBUG))
        );
        assert_eq!(
            log_level_filter(Some(" trace ")),
            Ok(Some(LevelFilter::TRACE))
        );
        assert!(
            log_level_filter(Some("loud"))
                .unwrap_err()
                .contains("IONOS_LOG_LEVEL")
        );
    }
}
