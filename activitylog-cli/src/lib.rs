//! `activitylog`: the command-line tool for the IONOS Cloud Activity Log API.
//!
//! The binary (`src/main.rs`) calls [`main`]; the library target lets the
//! end-to-end tests build the same program from the current source, and the
//! fuzz targets use its modules.
//!
//! One module per job: `args` (the command line), [`when`] (`--since` and
//! `--until`), `filter` (client-side filters), `output` (formats),
//! `destination` (where the bytes go: stdout, or a temporary file renamed
//! at the end, or `FILE.part` with `--resume`), `checkpoint` (resume
//! checkpoints), `lock` (one export per file), `entries` (the download
//! loop), `summary` (`activitylog summary`; `report` its SVG and HTML files), `follow` (`entries --follow`), `omitted` (entries that cannot be shown), `signals` (Ctrl-C
//! and SIGTERM), `commands` (`info`, `contracts`, `completions`),
//! `sync` (`activitylog sync` and the archive's location), `sandbox` (`activitylog sandbox`), `mcp` (`activitylog mcp`, the `mcp` feature), `connect` (credentials, the
//! IONOS config file and `--sandbox`), `contracts` (which contracts a command reads), `reader` (the API or an archive, for `entries` and `summary`), `config_command` (`activitylog config`), `progress` (the progress bar) and `error` (messages and
//! exit codes).

#![warn(missing_docs)]

mod args;
mod checkpoint;
mod clock;
mod commands;
mod config_command;
mod connect;
mod contracts;
mod destination;
mod entries;
mod error;
mod filter;
mod follow;
mod lock;
#[cfg(feature = "mcp")]
mod mcp;
mod omitted;
mod output;
mod progress;
mod reader;
mod report;
mod sandbox;
mod signals;
mod summary;
mod sync;
/// The `WHEN` parser of `--since`/`--until`; public for the fuzz target `when`.
#[doc(hidden)]
pub mod when;
mod writer;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::error::Failure;
use crate::reader::Reader;
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
    // Caught before anything is created, so that nothing is left behind.
    let signals = match &cli.command {
        Command::Completions { .. } | Command::Sandbox(_) | Command::Config => Signals::none(),
        _ => Signals::install()?,
    };
    match &cli.command {
        Command::Completions { shell } => commands::completions(*shell),
        Command::Sandbox(args) => sandbox::serve(args).await,
        Command::Config => config_command::run(global).await,
        Command::Info => {
            signals
                .or_stop(async {
                    let connection = connect::connect(global).await?;
                    commands::info(&connection.log, global.format).await
                })
                .await
        }
        Command::Contracts => {
            signals
                .or_stop(async {
                    let connection = connect::connect(global).await?;
                    commands::contracts(&connection.log, global.format).await
                })
                .await
        }
        Command::Entries(args) => {
            let request = entries::prepare(args)?;
            let (reader, contracts) = signals
                .or_stop(Reader::open(global, args.db.as_deref(), &args.contracts))
                .await?;
            entries::run(
                reader.source(),
                request,
                &contracts,
                global.format,
                &signals,
            )
            .await
        }
        Command::Summary(args) => {
            let request = summary::prepare(args)?;
            let (reader, contracts) = signals
                .or_stop(Reader::open(global, args.db.as_deref(), &args.contracts))
                .await?;
            summary::run(
                reader.source(),
                request,
                &contracts,
                global.format,
                &signals,
            )
            .await
        }
        #[cfg(feature = "mcp")]
        Command::Mcp(args) => signals.or_stop(mcp::serve(global, args)).await,
        Command::Sync(args) => {
            let url = sync::archive_url(args.db.as_deref())?;
            signals
                .or_stop(async {
                    let archive = sync::open(&url).await?;
                    let connection = connect::connect(global).await?;
                    let contracts = contracts::resolve(&args.contracts, &connection).await?;
                    let synced = sync::run(&connection.log, &archive, &contracts, args).await;
                    // The connections end before the process does (PostgreSQL
                    // sessions end cleanly rather than by a dropped socket).
                    archive.close().await;
                    synced
                })
                .await
        }
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
