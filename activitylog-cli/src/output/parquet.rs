//! `parquet`: a Parquet file of the events (the `lake` feature), a column
//! per field filters use and each event exactly as received
//! ([`activitylog_lake::row`] has the schema).
//!
//! Written a row group at a time ([`activitylog_lake::EntryWriter`]): the
//! bytes of a row group reach the output when it is full, and the footer
//! at the end. A checkpoint is taken only where a row group ends
//! ([`Encode::settle`]): then its state (the row groups before it) lets a
//! `--resume` run continue the file cut back to the checkpoint.
//!
//! The work is shared with a thread of its own, beside the download:
//! [`Encode::write`] gathers the entries' columns ([`Rows`], which copies
//! what it keeps, so no page of the download is held) and hands them over
//! a batch at a time (at most [`QUEUE`] batches ahead); the thread encodes
//! and compresses them into row groups, and `write` passes on the row
//! groups it has finished. A checkpoint waits for the thread to end the
//! row group, and passes on its bytes before it returns the state, so a
//! checkpoint never claims bytes the output has not been given.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use activitylog_client::RawEvent;
use activitylog_client::types::Activity;
use activitylog_lake::row::Rows;
use activitylog_lake::{EntryWriter, Limits, Resumable};

use super::{Encode, Settled};

/// Batches queued for the encoding thread before [`Encode::write`] waits.
const QUEUE: usize = 2;

/// Blocks of this many bytes or more are given back to the system when
/// freed ([`release_freed_memory`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const RELEASE_ABOVE: std::ffi::c_int = 2 << 20;

/// A row group ends once its encoded columns take this many bytes of
/// memory. Its bytes are held about three times when it ends (the encoded
/// columns, the file's bytes, the page sent to the output), so this bounds
/// most of the export's memory beyond the download's.
const ROW_GROUP_BYTES: usize = 4 << 20;

/// The Parquet encoder.
#[derive(Debug)]
pub struct ParquetWriter {
    /// Set by [`Encode::begin`] or [`Encode::resume`].
    encoding: Option<Encoding>,
    limits: Limits,
}

impl ParquetWriter {
    /// An encoder with row groups of at most `rows` entries or
    /// [`ROW_GROUP_BYTES`] (and the default [`Limits`] otherwise).
    pub fn new(rows: u64) -> Self {
        let limits = Limits {
            row_group_rows: usize::try_from(rows).unwrap_or(usize::MAX).max(1),
            row_group_bytes: ROW_GROUP_BYTES,
            ..Limits::default()
        };
        release_freed_memory();
        ParquetWriter {
            encoding: None,
            limits,
        }
    }

    /// The encoding thread, once begun or resumed.
    fn encoding(&mut self) -> io::Result<&mut Encoding> {
        self.encoding
            .as_mut()
            .ok_or_else(|| io::Error::other("internal: the Parquet file was not begun"))
    }
}

impl Encode for ParquetWriter {
    fn needs_decoding(&self) -> bool {
        false
    }

    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut writer = EntryWriter::with_limits(Vec::new(), self.limits).map_err(failed)?;
        // The magic, at once.
        out.write_all(&std::mem::take(writer.get_mut().map_err(failed)?))?;
        self.encoding = Some(Encoding::start(writer)?);
        Ok(())
    }

    fn write(
        &mut self,
        out: &mut dyn Write,
        event: &RawEvent,
        _activity: Option<&Activity>,
        _first: bool,
    ) -> io::Result<()> {
        let limits = self.limits;
        let encoding = self.encoding()?;
        encoding.rows.push(event);
        if encoding.rows.len() >= limits.batch_rows
            || encoding.rows.raw_bytes() >= limits.batch_bytes
        {
            encoding.hand_over()?;
            encoding.pass_on(out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut encoding = self
            .encoding
            .take()
            .ok_or_else(|| io::Error::other("internal: the Parquet file was not begun"))?;
        encoding.hand_over()?;
        encoding.order(Job::Finish)?;
        encoding.wait_for(out)?;
        Ok(())
    }

    /// A checkpoint where a row group ends: at once when forced or when
    /// nothing is held back, else once the row group holds at least half
    /// of its bound (so that row groups stay large, and a resumed run
    /// fetches at most about one row group again).
    fn settle(&mut self, out: &mut dyn Write, force: bool) -> io::Result<Settled> {
        let limits = self.limits;
        let encoding = self.encoding()?;
        let (pending, pending_bytes) = encoding.pending();
        let small =
            pending_bytes < limits.row_group_bytes / 2 && pending < limits.row_group_rows / 2;
        if !force && pending > 0 && small {
            return Ok(Settled::Later);
        }
        encoding.hand_over()?;
        encoding.order(Job::Checkpoint)?;
        let state = encoding.wait_for(out)?;
        Ok(Settled::Here(state))
    }

    fn resume(&mut self, bytes: u64, state: Option<&str>) -> io::Result<()> {
        let state = state.ok_or_else(|| {
            io::Error::other("the checkpoint does not record the Parquet file's row groups")
        })?;
        let state = Resumable::from_text(state, bytes).map_err(failed)?;
        let writer = EntryWriter::resume(Vec::new(), &state, self.limits).map_err(failed)?;
        self.encoding = Some(Encoding::start(writer)?);
        Ok(())
    }
}

/// What the encoding thread is asked to do, in order.
enum Job {
    /// Add these entries (boxed: a [`Rows`] is a large value to move).
    Entries(Box<Rows>),
    /// End the row group: [`Done::Bytes`] then [`Done::Checkpoint`].
    Checkpoint,
    /// Write the rest and the footer: [`Done::Bytes`] then [`Done::Finished`].
    Finish,
}

/// What the encoding thread sends back, in order.
#[derive(Debug)]
enum Done {
    /// Bytes of the file, next in order.
    Bytes(Vec<u8>),
    /// The state of a checkpoint, its bytes sent before it.
    Checkpoint(String),
    /// The file is complete, its bytes sent before.
    Finished,
}

/// How far the encoding thread got (read for [`Encoding::pending`]).
#[derive(Debug, Default)]
struct Progress {
    /// Entries it has taken from the queue.
    taken: AtomicU64,
    /// Of those, entries not yet in a row group written out.
    pending: AtomicU64,
    /// Bytes of memory they take (an estimate).
    pending_bytes: AtomicU64,
}

/// The encoding thread and its two queues.
#[derive(Debug)]
struct Encoding {
    /// Entries not yet handed over.
    rows: Rows,
    /// Entries handed over so far.
    handed: u64,
    jobs: SyncSender<Job>,
    done: Receiver<io::Result<Done>>,
    progress: Arc<Progress>,
}

impl Encoding {
    /// Starts the thread that encodes into `writer`.
    fn start(writer: EntryWriter<Vec<u8>>) -> io::Result<Encoding> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let (report, done) = mpsc::channel();
        let progress = Arc::new(Progress::default());
        let shared = Arc::clone(&progress);
        std::thread::Builder::new()
            .name("activitylog-parquet".into())
            .spawn(move || {
                if let Err(error) = encode(writer, &queue, &report, &shared) {
                    let _ = report.send(Err(error));
                }
            })?;
        Ok(Encoding {
            rows: Rows::default(),
            handed: 0,
            jobs,
            done,
            progress,
        })
    }

    /// Entries held back from the file, and the bytes of memory they take
    /// (as far as the thread has said).
    fn pending(&self) -> (usize, usize) {
        let taken = self.progress.taken.load(Ordering::Acquire);
        let queued = self.handed.saturating_sub(taken) + self.rows.len() as u64;
        let pending = self.progress.pending.load(Ordering::Acquire) + queued;
        let bytes =
            self.progress.pending_bytes.load(Ordering::Acquire) + self.rows.raw_bytes() as u64;
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        (to_usize(pending), to_usize(bytes))
    }

    /// Hands the gathered entries over (waits while the queue is full).
    fn hand_over(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        self.handed += rows.len() as u64;
        self.order(Job::Entries(Box::new(rows)))
    }

    /// Queues `job`; the thread's failure if it has stopped.
    fn order(&mut self, job: Job) -> io::Result<()> {
        if self.jobs.send(job).is_ok() {
            return Ok(());
        }
        Err(self.failure())
    }

    /// Why the thread stopped.
    fn failure(&mut self) -> io::Error {
        loop {
            match self.done.recv() {
                Ok(Err(error)) => return error,
                Ok(Ok(_)) => {}
                Err(_) => {
                    return io::Error::other("the Parquet encoding stopped without saying why");
                }
            }
        }
    }

    /// Passes on the bytes the thread has ready, without waiting.
    fn pass_on(&mut self, out: &mut dyn Write) -> io::Result<()> {
        loop {
            match self.done.try_recv() {
                Ok(Ok(Done::Bytes(bytes))) => out.write_all(&bytes)?,
                Ok(Ok(other)) => {
                    return Err(io::Error::other(format!(
                        "internal: the Parquet encoding sent {other:?} unasked"
                    )));
                }
                Ok(Err(error)) => return Err(error),
                Err(mpsc::TryRecvError::Empty) => return Ok(()),
                Err(mpsc::TryRecvError::Disconnected) => return Err(self.failure()),
            }
        }
    }

    /// Passes on the bytes up to the end of the last order (a checkpoint's
    /// state, or `None` once the file is complete).
    fn wait_for(&mut self, out: &mut dyn Write) -> io::Result<Option<String>> {
        loop {
            match self.done.recv() {
                Ok(Ok(Done::Bytes(bytes))) => out.write_all(&bytes)?,
                Ok(Ok(Done::Checkpoint(state))) => return Ok(Some(state)),
                Ok(Ok(Done::Finished)) => return Ok(None),
                Ok(Err(error)) => return Err(error),
                Err(_) => return Err(self.failure()),
            }
        }
    }
}

/// The encoding thread: takes the jobs in order until the file is finished
/// or the queue is closed (the export given up).
fn encode(
    mut writer: EntryWriter<Vec<u8>>,
    queue: &Receiver<Job>,
    report: &Sender<io::Result<Done>>,
    progress: &Progress,
) -> io::Result<()> {
    let gone = || io::Error::other("the export stopped");
    for job in queue {
        match job {
            Job::Entries(mut rows) => {
                let entries = rows.len() as u64;
                let batch = rows.take().map_err(failed)?;
                writer.write_rows(&batch).map_err(failed)?;
                progress
                    .pending
                    .store(writer.pending() as u64, Ordering::Release);
                progress
                    .pending_bytes
                    .store(writer.pending_bytes() as u64, Ordering::Release);
                progress.taken.fetch_add(entries, Ordering::AcqRel);
                let ready = std::mem::take(writer.get_mut().map_err(failed)?);
                if !ready.is_empty() {
                    report.send(Ok(Done::Bytes(ready))).map_err(|_| gone())?;
                }
            }
            Job::Checkpoint => {
                let state = writer.checkpoint().map_err(failed)?;
                let text = state.to_text().map_err(failed)?;
                progress.pending.store(0, Ordering::Release);
                progress.pending_bytes.store(0, Ordering::Release);
                let ready = std::mem::take(writer.get_mut().map_err(failed)?);
                report.send(Ok(Done::Bytes(ready))).map_err(|_| gone())?;
                report
                    .send(Ok(Done::Checkpoint(text)))
                    .map_err(|_| gone())?;
            }
            Job::Finish => {
                let rest = writer.finish().map_err(failed)?;
                report.send(Ok(Done::Bytes(rest))).map_err(|_| gone())?;
                report.send(Ok(Done::Finished)).map_err(|_| gone())?;
                return Ok(());
            }
        }
    }
    Ok(())
}

fn failed(error: activitylog_lake::Error) -> io::Error {
    io::Error::other(error)
}

/// Has glibc's allocator give freed memory back to the system.
///
/// By default glibc raises its mmap threshold to the size of the largest
/// block freed (up to 32 MiB), so once a row group's buffers of a few MiB
/// are freed, later ones come from the heaps of the threads and stay there:
/// the export's resident memory grows to about twice what it uses (measured
/// in docs/benchmarks.md). Fixed thresholds keep large blocks in their own
/// mappings, unmapped when freed, and trim a heap whose free top passes them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_memory() {
    // SAFETY: mallopt only sets the allocator's parameters, which it reads
    // under its own locks; these values are within the documented ranges.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, RELEASE_ABOVE);
        libc::mallopt(libc::M_TRIM_THRESHOLD, RELEASE_ABOVE);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> RawEvent {
        RawEvent::parse(&format!(
            r#"{{"@uuid":"u-{i}","meta":{{"time":"2024-05-01T10:00:{:02}Z"}},"principal":{{"identity":{{"contractNumber":31721060,"username":"user{}"}}}}}}"#,
            i % 60,
            i % 3
        ))
        .unwrap()
    }

    fn uuids(file: Vec<u8>) -> Vec<String> {
        let path = std::env::temp_dir().join(format!(
            "activitylog-parquet-test-{}.parquet",
            std::process::id()
        ));
        std::fs::write(&path, file).unwrap();
        let entries = activitylog_lake::read_entries(std::fs::File::open(&path).unwrap())
            .unwrap()
            .map(|e| e.unwrap().uuid().unwrap().into_owned())
            .collect();
        std::fs::remove_file(&path).unwrap();
        entries
    }

    /// What the export relies on: a checkpoint comes after the bytes it
    /// claims and holds every entry written before it, so a file cut back
    /// to it and resumed has every entry once.
    #[test]
    fn a_checkpoint_claims_exactly_the_bytes_passed_on_and_a_cut_file_resumes_exactly() {
        let mut writer = ParquetWriter::new(50);
        let mut out = Vec::new();
        writer.begin(&mut out).unwrap();
        let mut last = None;
        let mut checkpoints = 0;
        for i in 0..3_000u64 {
            writer.write(&mut out, &entry(i), None, false).unwrap();
            if i % 37 != 36 {
                continue;
            }
            if let Settled::Here(Some(state)) = writer.settle(&mut out, false).unwrap() {
                let resumable = Resumable::from_text(&state, out.len() as u64)
                    .expect("the state claims the bytes passed on, no more, no less");
                assert_eq!(resumable.entries(), i + 1, "every entry written is in it");
                checkpoints += 1;
                last = Some((out.len(), state, i + 1));
            }
        }
        assert!(checkpoints > 10, "{checkpoints} checkpoints");
        let (len, state, done) = last.unwrap();
        out.truncate(len);
        let mut resumed = ParquetWriter::new(50);
        resumed.resume(len as u64, Some(&state)).unwrap();
        for i in done..3_000 {
            resumed.write(&mut out, &entry(i), None, false).unwrap();
        }
        resumed.finish(&mut out).unwrap();
        let expected: Vec<String> = (0..3_000).map(|i| format!("u-{i}")).collect();
        assert_eq!(uuids(out), expected);
    }
}
