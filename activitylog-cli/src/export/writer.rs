//! The writer thread: an export's bytes are written on a thread of its own,
//! fed through a short queue, so that a write that blocks (a stdout whose
//! reader stopped reading without closing the pipe) holds that thread
//! alone, never the task that reads the download and watches for signals.
//!
//! Invariants:
//! - Orders run in the order they are sent: a checkpoint follows the bytes
//!   sent before it ([`Output::checkpoint`] flushes and fsyncs them first),
//!   so it never claims bytes still queued.
//! - Every wait on the queue or on the thread also watches for signals: a
//!   signal ends it at once ([`Halt::Signal`]).
//! - The thread stops at its first failure; the next order (or the commit)
//!   returns it.
//! - Given up ([`Writer::abandon`], or dropped): a file's thread is waited
//!   for (file writes end), so the temporary file is gone or `FILE.part`
//!   holds what its last checkpoint says. Stdout is waited for until it has
//!   taken what was sent, but after a signal for [`DRAIN`] at most: then the
//!   program exits without it.

use std::future::Future;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use tokio::sync::{mpsc, oneshot};

use super::destination::Output;
use crate::error::Failure;
use crate::omitted::Omitted;
use crate::signals::{Caught, Signals};

/// How long stdout may take, after a signal, to take what was sent to it
/// (a JSON array's `]`, the last page) before the program exits without it.
pub const DRAIN: Duration = Duration::from_millis(500);

/// Orders queued before sending waits: the download runs at most this many
/// pages ahead of the writes.
const QUEUE: usize = 2;

/// Why writing stopped early.
#[derive(Debug)]
pub enum Halt {
    /// SIGINT or SIGTERM came while waiting on the writer.
    Signal(Caught),
    /// Writing failed (a closed stdout is [`Failure::quiet_stop`]).
    Failed(Failure),
}

impl From<Halt> for Failure {
    fn from(halt: Halt) -> Self {
        match halt {
            Halt::Signal(caught) => caught.failure(""),
            Halt::Failed(failure) => failure,
        }
    }
}

/// What the writer thread is asked to do.
#[derive(Debug)]
enum Order {
    /// Write a page's bytes (and flush them, to stdout).
    Page(Vec<u8>),
    /// [`Output::checkpoint`], or [`Output::next_contract`] with a contract.
    Checkpoint {
        contract: Option<u64>,
        through: DateTime<Utc>,
        events: u64,
        omitted: Omitted,
        encoder: Option<String>,
    },
    /// [`Output::commit`]: the last order.
    Commit { events: u64, omitted: Omitted },
}

/// How the writer thread ended.
#[derive(Debug)]
struct Ended {
    /// The first failure, if any.
    failure: Option<Failure>,
    /// What became of the file ([`Output::abandon`]), when not committed.
    note: Option<String>,
}

/// An [`Output`] written on its own thread. Bytes written to the `Writer`
/// ([`Write`]) make up the current page, sent by [`Writer::send`].
#[derive(Debug)]
pub struct Writer {
    page: Vec<u8>,
    stdout: bool,
    orders: Option<mpsc::Sender<Order>>,
    ended: Option<oneshot::Receiver<Ended>>,
    thread: Option<JoinHandle<()>>,
    /// Tells the thread to drop what is still queued.
    abandoned: Arc<AtomicBool>,
    /// What became of the file, once the thread has said it.
    note: Option<String>,
    signals: Signals,
}

impl Writer {
    /// Starts the thread that writes to `output`. With `bar`, pages are
    /// written with that progress bar suspended (both share the terminal).
    pub fn start(output: Output, bar: Option<ProgressBar>, signals: &Signals) -> Writer {
        let stdout = output.is_stdout();
        let (orders, queue) = mpsc::channel(QUEUE);
        let (report, ended) = oneshot::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&abandoned);
        let thread = std::thread::Builder::new()
            .name("activitylog-writer".into())
            .spawn(move || {
                let _ = report.send(carry_out(output, queue, bar.as_ref(), &stop));
            });
        let (orders, ended, thread) = match thread {
            Ok(thread) => (Some(orders), Some(ended), Some(thread)),
            // Without a thread, every order fails with this.
            Err(e) => {
                let (report, ended) = oneshot::channel();
                let _ = report.send(Ended {
                    failure: Some(Failure::other(format!("could not start a thread: {e}"))),
                    note: None,
                });
                (None, Some(ended), None)
            }
        };
        Writer {
            page: Vec::new(),
            stdout,
            orders,
            ended,
            thread,
            abandoned,
            note: None,
            signals: signals.clone(),
        }
    }

    /// Whether the bytes go to stdout.
    pub fn is_stdout(&self) -> bool {
        self.stdout
    }

    /// Sends the current page (stdout flushes it); waits while the queue is full.
    pub async fn send(&mut self) -> Result<(), Halt> {
        if self.page.is_empty() {
            return Ok(());
        }
        // The next page will be about as long.
        let next = Vec::with_capacity(self.page.len());
        let page = std::mem::replace(&mut self.page, next);
        self.order(Order::Page(page)).await
    }

    /// Sends the current page, then [`Output::checkpoint`] (nothing more to stdout).
    pub async fn checkpoint(
        &mut self,
        through: DateTime<Utc>,
        events: u64,
        omitted: &Omitted,
        encoder: Option<String>,
    ) -> Result<(), Halt> {
        self.send().await?;
        if self.stdout {
            return Ok(());
        }
        let omitted = omitted.clone();
        self.order(Order::Checkpoint {
            contract: None,
            through,
            events,
            omitted,
            encoder,
        })
        .await
    }

    /// Sends the current page, then [`Output::next_contract`].
    pub async fn next_contract(
        &mut self,
        contract: u64,
        since: DateTime<Utc>,
        events: u64,
        omitted: &Omitted,
        encoder: Option<String>,
    ) -> Result<(), Halt> {
        self.send().await?;
        if self.stdout {
            return Ok(());
        }
        let omitted = omitted.clone();
        self.order(Order::Checkpoint {
            contract: Some(contract),
            through: since,
            events,
            omitted,
            encoder,
        })
        .await
    }

    /// Sends the current page and [`Output::commit`], and waits until the
    /// output is complete (stdout: see [`DRAIN`]).
    pub async fn commit(mut self, events: u64, omitted: &Omitted) -> Result<(), Halt> {
        let omitted = omitted.clone();
        let page = std::mem::take(&mut self.page);
        let patience = self.patience();
        let finishing = async {
            if !page.is_empty() {
                self.deliver(Order::Page(page)).await?;
            }
            self.deliver(Order::Commit { events, omitted }).await?;
            self.orders = None;
            match self.wait().await {
                Some(Ended {
                    failure: Some(failure),
                    ..
                }) => Err(Halt::Failed(failure)),
                _ => Ok(()),
            }
        };
        tokio::select! {
            finished = finishing => finished,
            caught = patience => Err(Halt::Signal(caught)),
        }
    }

    /// Gives up after a failure or a signal; says what becomes of the file
    /// (`None` for stdout). What is sent still goes to stdout (see [`DRAIN`]).
    pub async fn abandon(mut self) -> Option<String> {
        if !self.stdout {
            // What is queued would be cut off on resume, or removed.
            self.abandoned.store(true, Ordering::Relaxed);
        }
        self.orders = None;
        let patience = self.patience();
        tokio::select! {
            ended = self.wait() => ended.and_then(|ended| ended.note).or(self.note.take()),
            _ = patience => None,
        }
    }

    /// Queues `order`, waiting while the queue is full, unless a signal comes.
    async fn order(&mut self, order: Order) -> Result<(), Halt> {
        let signals = self.signals.clone();
        tokio::select! {
            biased;
            caught = signals.caught() => Err(Halt::Signal(caught)),
            sent = self.deliver(order) => sent,
        }
    }

    /// Queues `order`, waiting while the queue is full; the thread's
    /// failure if it has stopped.
    async fn deliver(&mut self, order: Order) -> Result<(), Halt> {
        if let Some(orders) = &self.orders
            && orders.send(order).await.is_ok()
        {
            return Ok(());
        }
        // The thread has stopped: it says why.
        self.orders = None;
        let failure = match self.wait().await {
            Some(Ended {
                failure: Some(failure),
                note,
            }) => {
                self.note = note;
                failure
            }
            _ => Failure::other("the output stopped without saying why (a bug: please report it)"),
        };
        Err(Halt::Failed(failure))
    }

    /// Waits for the thread to end (once the orders are closed); `None` if
    /// it had already said how it ended.
    async fn wait(&mut self) -> Option<Ended> {
        let ended = self.ended.take()?.await.ok();
        self.thread = None;
        ended
    }

    /// How long finishing may take: for a file, as long as it takes (file
    /// writes end); for stdout, until [`DRAIN`] after a signal.
    fn patience(&self) -> impl Future<Output = Caught> + use<> {
        let signals = self.signals.clone();
        let stdout = self.stdout;
        async move {
            if !stdout {
                return std::future::pending().await;
            }
            let caught = signals.caught().await;
            tokio::time::sleep(DRAIN).await;
            caught
        }
    }
}

impl Write for Writer {
    /// Adds to the current page (never fails, never blocks).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.page.extend_from_slice(buf);
        Ok(buf.len())
    }

    /// Nothing: pages are sent by [`Writer::send`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Writer {
    /// Dropped before the end (a failure returned early): the thread drops
    /// what is queued; a file's thread is waited for, so that its temporary
    /// file is gone when the program exits.
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        self.orders = None;
        if let Some(thread) = self.thread.take()
            && !self.stdout
        {
            let _ = thread.join();
        }
    }
}

/// The writer thread: carries out `orders` on `output` until the commit,
/// the first failure, or the end of the orders.
fn carry_out(
    mut output: Output,
    mut orders: mpsc::Receiver<Order>,
    bar: Option<&ProgressBar>,
    abandoned: &AtomicBool,
) -> Ended {
    let failed = |output: Output, failure: Failure| {
        let note = if output.is_stdout() {
            None
        } else {
            output.abandon()
        };
        Ended {
            failure: Some(failure),
            note,
        }
    };
    while let Some(order) = orders.blocking_recv() {
        if abandoned.load(Ordering::Relaxed) {
            break;
        }
        match order {
            Order::Page(bytes) => {
                let stdout = output.is_stdout();
                let mut page = || {
                    output.write_all(&bytes)?;
                    if stdout {
                        output.flush()?;
                    }
                    Ok(())
                };
                let written: io::Result<()> = match bar {
                    Some(bar) => bar.suspend(page),
                    None => page(),
                };
                if let Err(e) = written {
                    let failure = output.failure(e);
                    return failed(output, failure);
                }
            }
            Order::Checkpoint {
                contract,
                through,
                events,
                omitted,
                encoder,
            } => {
                let done = match contract {
                    Some(contract) => {
                        output.next_contract(contract, through, events, &omitted, encoder)
                    }
                    None => output.checkpoint(through, events, &omitted, encoder),
                };
                if let Err(failure) = done {
                    return failed(output, failure);
                }
            }
            Order::Commit { events, omitted } => {
                return Ended {
                    failure: output.commit(events, &omitted).err(),
                    note: None,
                };
            }
        }
    }
    // The orders ended without a commit: given up.
    if output.is_stdout() && abandoned.load(Ordering::Relaxed) {
        // Not flushed: nobody waits for it.
        return Ended {
            failure: None,
            note: None,
        };
    }
    Ended {
        failure: None,
        note: output.abandon(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::destination::Opened;
    use super::super::destination::tests::{job, names, range, temp_dir};
    use super::*;

    fn file_writer(path: &std::path::Path, resume: bool) -> Writer {
        let (since, until) = range();
        let Ok(Opened::Ready { output, .. }) = Output::file(path, resume, &job(), since, until)
        else {
            panic!("not ready");
        };
        Writer::start(output, None, &Signals::none())
    }

    #[tokio::test]
    async fn pages_reach_the_file_in_order_and_it_appears_when_committed() {
        let dir = temp_dir("writer-commit");
        let path = dir.join("out.ndjson");
        let mut writer = file_writer(&path, false);
        for line in ["a\n", "b\n", "c\n"] {
            writer.write_all(line.as_bytes()).unwrap();
            writer.send().await.unwrap();
        }
        writer.write_all(b"d\n").unwrap();
        assert!(!path.exists());
        writer.commit(4, &Omitted::default()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\nc\nd\n");
        assert_eq!(names(&dir), ["out.ndjson"]);
    }

    #[tokio::test]
    async fn a_writer_given_up_or_dropped_leaves_no_file_and_no_lock() {
        let dir = temp_dir("writer-dropped");
        let path = dir.join("out.ndjson");
        let mut writer = file_writer(&path, false);
        writer.write_all(b"a\n").unwrap();
        writer.send().await.unwrap();
        let note = writer.abandon().await.unwrap_or_default();
        assert!(note.contains("was not written"), "{note}");
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));

        let mut writer = file_writer(&path, false);
        writer.write_all(b"a\n").unwrap();
        writer.send().await.unwrap();
        drop(writer); // a failure returned early
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    }
}
