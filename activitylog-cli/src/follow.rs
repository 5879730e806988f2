//! `activitylog entries --follow`: the range, then new entries as they
//! become final, until Ctrl-C (exit 130) or SIGTERM (exit 143).
//!
//! Built on [`Entries::follow`](activitylog_client::Entries::follow): every
//! poll is a complete download of `[last checkpoint − settle, now − settle)`
//! deduplicated against what was written, so each entry is written once.
//! Entries are written as they arrive and stdout is flushed after every page
//! (a table fills in row by row; NDJSON and CSV can be piped on); filters
//! apply as without `--follow`. Transient failures never stop the follow
//! (`-v` reports them); a permanent one (401, 403, ...) ends it with its
//! usual message and exit code.
//!
//! Stopped by a signal:
//!
//! - to stdout, the output is closed properly (a JSON array gets its `]`);
//! - `--out FILE`, FILE is written with everything followed so far;
//! - `--out FILE --resume`, `FILE.part` and `FILE.checkpoint` stay: the
//!   checkpoint is written after every poll, recording `through`, the
//!   instant before which every entry is in `FILE.part`, and its length
//!   then. A rerun (after a signal or `kill -9`) cuts `FILE.part` to that
//!   length and follows on from `through` without an overlap: the engine's
//!   windows are exact (`[start, end)`, cut at whole seconds), and entries
//!   before `through − settle` were final when read, so it continues with
//!   no gap and no duplicate. The overlap dedupe within one run only adds
//!   entries that took longer than `--settle` to show up; a rerun does not
//!   look for those before its checkpoint. The checkpoint's recorded `until`
//!   is the end of the first run's first range; a follow never finishes,
//!   so it only says how far that first range went.

use std::io::{self, IsTerminal};

use activitylog_client::{ActivityLog, DateBound, Update};
use futures::StreamExt;
use indicatif::ProgressBar;

use crate::checkpoint::{Job, JobView};
use crate::destination::{Opened, Output};
use crate::entries::{Request, Sink, resuming, rfc3339};
use crate::error::Failure;
use crate::omitted::Omitted;
use crate::output::table::Table;
use crate::output::{EventWriter, Format};
use crate::signals::Signals;
use crate::writer::{Halt, Writer};

/// Runs `entries --follow` on `contract` until a signal or a permanent error.
pub async fn run(
    log: &ActivityLog,
    request: Request<'_>,
    contract: u64,
    format: Option<Format>,
    signals: &Signals,
) -> Result<(), Failure> {
    let Request {
        args,
        since,
        until,
        range,
    } = request;
    let format = Format::choose(format, args.out.as_deref(), io::stdout().is_terminal());
    let filter = args.filters.to_filter();
    let view = args.view.to_view();
    let mut base = log.entries(contract).settle(args.settle);
    if let Some(size) = args.page_size {
        base = base.page_size(size);
    }
    if let Some(pages) = args.concurrency {
        base = base.concurrency(usize::from(pages));
    }
    // The first range, by the SDK's range rule at the service's now; its
    // start may lie after its end (`--since now`): the follow then waits
    // until the start is final.
    let end = until.instant();
    let begin = match (range, since) {
        (Some(range), _) => range.since(),
        (None, Some(since)) => since.instant(),
        (None, None) => end,
    };
    let job = Job {
        contract,
        more_contracts: Vec::new(),
        all_contracts: false,
        since: args.since.as_ref().map(|w| w.text().to_string()),
        until: None,
        format,
        filter: filter.clone(),
        view: JobView::of(format, &view),
        follow: true,
        source: crate::checkpoint::JobSource::Api,
    };
    let (output, resumed) = match &args.out {
        None => (Output::stdout(), None),
        Some(path) => match Output::file(path, args.resume, &job, begin, end.max(begin))? {
            Opened::Ready { output, resumed } => (output, resumed),
            Opened::Complete { .. } => {
                return Err(Failure::other(format!(
                    "{} is left finished by an earlier run; a follow never finishes: \
                     delete it and its checkpoint to start over",
                    path.display()
                )));
            }
        },
    };
    let mut output = Writer::start(output, None, signals);
    if let (Some(checkpoint), Some(path)) = (&resumed, &args.out) {
        eprintln!("{}", resuming(checkpoint, path));
    }
    let fresh = resumed.is_none();
    let (start, written, mut omitted) = match resumed {
        Some(checkpoint) => (checkpoint.through, checkpoint.events, checkpoint.omitted),
        None => (begin, 0, Omitted::default()),
    };
    let mut writer = EventWriter::new(format, written, Table::terminal_width(), view);
    if fresh {
        writer
            .begin(&mut output)
            .map_err(|e| Failure::other(format!("could not write the header: {e}")))?;
        // The header (or `[`) shows at once.
        output.checkpoint(start, 0, &omitted).await?;
    }
    tracing::info!(contract, since = %start, interval = ?args.interval, format = format.name(), "following");

    let mut through = start;
    let bar = ProgressBar::hidden();
    let mut updates = base.since(DateBound::Instant(start)).follow(args.interval);
    let mut sink = Sink {
        output: &mut output,
        writer: &mut writer,
        filter: &filter,
        decode: format.needs_decoding() || !filter.is_empty(),
        bar: &bar,
        limit: None,
    };
    let ended = loop {
        let update = tokio::select! {
            biased;
            caught = signals.caught() => break Ok(caught),
            update = updates.next() => update,
        };
        let update = match update {
            Some(Ok(update)) => update,
            Some(Err(error)) => break Err(Failure::from(error)),
            None => {
                break Err(Failure::other(
                    "the follow ended without saying why (a bug: please report it)",
                ));
            }
        };
        // Written on the writer's thread: a blocked stdout still lets a
        // signal through (the writer watches for it while it waits).
        let written = match update {
            Update::Events(events) => sink.page(&events, &mut omitted).await,
            Update::Completed { through: t } => {
                let written = sink
                    .output
                    .checkpoint(t, sink.writer.written(), &omitted)
                    .await;
                if written.is_ok() {
                    tracing::debug!(through = %t, written = sink.writer.written(), "checkpoint");
                    through = t;
                }
                written
            }
            _ => Ok(()),
        };
        match written {
            Ok(()) => {}
            Err(Halt::Signal(caught)) => break Ok(caught),
            Err(Halt::Failed(failure)) => break Err(failure),
        }
    };
    drop(updates);
    let caught = match ended {
        Ok(caught) => caught,
        Err(failure) => return Err(failed(failure, output.abandon().await)),
    };
    let detail = format!(
        "followed contract {} through {}, {} entries written",
        contract,
        rfc3339(through),
        writer.written()
    );
    let note = match (&args.out, args.resume) {
        (Some(_), true) => output.abandon().await,
        (out, _) => {
            writer
                .finish(&mut output)
                .map_err(|e| Failure::other(format!("could not write the end: {e}")))?;
            // Stdout gets a moment to take the end (a JSON array's `]`).
            match output.commit(writer.written(), &omitted).await {
                Ok(()) => out.as_ref().map(|path| format!("wrote {}", path.display())),
                Err(Halt::Signal(_)) => Some("the output above is incomplete".to_string()),
                Err(Halt::Failed(failure)) => return Err(failure),
            }
        }
    };
    let detail = match note {
        Some(note) => format!("{detail}; {note}"),
        None => detail,
    };
    Err(caught.failure(&detail))
}

/// A permanent error's failure, with what became of the output.
fn failed(failure: Failure, note: Option<String>) -> Failure {
    let Some(note) = note else {
        return failure;
    };
    let message = format!("{}; {note}", failure.message());
    if failure.code() == crate::error::EXIT_USAGE {
        Failure::usage(message)
    } else {
        Failure::with_code(message, failure.code())
    }
}
