//! Early writeback: a file export's bytes go to disk while the download
//! goes on, so that the fsync before the file is moved into place waits for
//! the last few megabytes, not for all of them (about 70 ms for 160 MB on
//! the benchmark's machine, a fifth of an export at no latency).
//!
//! A thread of its own syncs a second handle of the file, opened anew: a
//! write error that sync meets is reported to the export's own handle too
//! (each open file description hears of it), so the fsync of the commit,
//! which decides, still fails on it. Nothing waits for this thread: the
//! writer only nudges it, and a nudge while it is busy is dropped.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;

/// Bytes written between two nudges.
const EVERY: u64 = 8 * 1024 * 1024;

/// Syncs a file in the background every [`EVERY`] bytes written.
#[derive(Debug)]
pub struct Writeback {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The file's length at which the next nudge is due.
    next: u64,
}

impl Writeback {
    /// Starts syncing the file at `path`, whose length is `written` now.
    /// Without a second handle or a thread, there is simply no early
    /// writeback: the commit's fsync does all of it, as it always may.
    pub fn start(path: &Path, written: u64) -> Writeback {
        let (nudge, nudges) = mpsc::sync_channel::<()>(1);
        let thread = File::open(path).ok().and_then(|file| {
            std::thread::Builder::new()
                .name("activitylog-writeback".into())
                .spawn(move || {
                    for () in nudges {
                        // The commit's own fsync reports any failure.
                        let _ = file.sync_data();
                    }
                })
                .ok()
        });
        Writeback {
            nudge: thread.is_some().then_some(nudge),
            thread,
            next: written.saturating_add(EVERY),
        }
    }

    /// The file is `written` bytes long now (handed to the kernel or not).
    pub fn wrote(&mut self, written: u64) {
        if written < self.next {
            return;
        }
        self.next = written.saturating_add(EVERY);
        if let Some(nudge) = &self.nudge {
            let _ = nudge.try_send(());
        }
    }

    /// Stops the thread and waits for the sync it is doing, if any.
    pub fn finish(mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
