//! Writing a sync's windows while the next pages download.
//!
//! Each window is written in one transaction that also moves the progress
//! mark. Windows take turns on the engine's writers (one for SQLite, which
//! has one writer at a time; two connections for PostgreSQL, whose server
//! then works on two windows at once), and commit strictly in order: a
//! window's transaction waits for the window before it to be committed, so
//! a mark never covers a window that is not stored. A window whose
//! predecessor failed is rolled back.

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::row::Row;
use crate::store::{Batch, Db, Tx};

/// Pages queued per writer before the download waits.
const QUEUED: usize = 2;

/// The writers of one sync.
pub(crate) struct Writer {
    db: Db,
    contract: i64,
    writers: Vec<Handle>,
    /// Why a page could not be made ready, if it could not.
    failed: Option<sqlx::Error>,
    /// Windows handed over so far; the current one goes to `writers[window % n]`.
    window: usize,
    /// Fires once the window before the current one is committed.
    previous: Option<oneshot::Receiver<()>>,
}

struct Handle {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<Result<u64, Failed>>,
}

enum Command {
    Page(Batch),
    /// End of a window: commit it, moving the mark to `mark` if given,
    /// once `after` fires.
    Commit {
        mark: Option<DateTime<Utc>>,
        after: Option<oneshot::Receiver<()>>,
        done: oneshot::Sender<()>,
    },
}

/// Why a writer stopped.
enum Failed {
    Database(sqlx::Error),
    /// An earlier window failed, so this one was not committed.
    Earlier,
}

impl Writer {
    /// Starts the writers of `contract` on `db`.
    pub(crate) fn start(db: &Db, contract: i64) -> Writer {
        let count = match db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => 2,
        };
        let writers = (0..count)
            .map(|_| {
                let (commands, received) = mpsc::channel(QUEUED);
                let task = tokio::spawn(write(db.clone(), contract, received));
                Handle { commands, task }
            })
            .collect();
        Writer {
            db: db.clone(),
            contract,
            writers,
            failed: None,
            window: 0,
            previous: None,
        }
    }

    /// Makes `rows` ready to store (here, in the caller's task) and queues
    /// them in the current window; `Err` when a writer stopped on an error,
    /// which [`Writer::finish`] returns.
    pub(crate) async fn rows(&mut self, rows: Vec<Row>) -> Result<(), Stopped> {
        match self.db.batch(self.contract, rows) {
            Ok(batch) => self.send(Command::Page(batch)).await,
            Err(error) => {
                self.failed = Some(error);
                Err(Stopped)
            }
        }
    }

    /// Ends the current window: it commits (with `mark`, if given) after the
    /// windows before it.
    pub(crate) async fn commit(&mut self, mark: Option<DateTime<Utc>>) -> Result<(), Stopped> {
        let (done, committed) = oneshot::channel();
        let after = self.previous.replace(committed);
        self.send(Command::Commit { mark, after, done }).await?;
        self.window += 1;
        Ok(())
    }

    /// Commits what was queued after the last window (rows without a mark)
    /// and waits for every writer; returns the entries added, or the first
    /// error.
    pub(crate) async fn finish(self) -> sqlx::Result<u64> {
        let mut added = 0;
        let mut first_error = self.failed;
        for Handle { commands, task } in self.writers {
            drop(commands);
            match task.await {
                Ok(Ok(count)) => added += count,
                Ok(Err(Failed::Database(error))) => {
                    first_error.get_or_insert(error);
                }
                Ok(Err(Failed::Earlier)) => {}
                Err(join) => {
                    first_error.get_or_insert(sqlx::Error::WorkerCrashed);
                    tracing::error!(%join, "archive writer stopped");
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(added),
        }
    }

    async fn send(&mut self, command: Command) -> Result<(), Stopped> {
        let writer = &self.writers[self.window % self.writers.len()];
        writer.commands.send(command).await.map_err(|_| Stopped)
    }
}

/// A writer stopped on an error; [`Writer::finish`] returns it.
pub(crate) struct Stopped;

/// One writer: writes the pages and commits the windows it is sent.
async fn write(
    db: Db,
    contract: i64,
    mut commands: mpsc::Receiver<Command>,
) -> Result<u64, Failed> {
    let mut added = 0;
    let mut open: Option<Tx> = None;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Page(batch) => {
                let tx = match &mut open {
                    Some(tx) => tx,
                    None => open.insert(db.begin().await?),
                };
                added += tx.insert(batch).await?;
            }
            Command::Commit { mark, after, done } => {
                if let Some(after) = after {
                    // The sender is dropped unfired when that window failed.
                    after.await.map_err(|_| Failed::Earlier)?;
                }
                let mut tx = match open.take() {
                    Some(tx) => tx,
                    None => db.begin().await?,
                };
                if let Some(mark) = mark {
                    tx.set_mark(contract, mark).await?;
                }
                tx.commit().await?;
                let _ = done.send(());
            }
        }
    }
    if let Some(tx) = open {
        // Rows after the last complete window: kept, without a mark.
        tx.commit().await?;
    }
    Ok(added)
}

impl From<sqlx::Error> for Failed {
    fn from(error: sqlx::Error) -> Self {
        Failed::Database(error)
    }
}
