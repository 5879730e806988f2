//! `parquet`: a Parquet file of the events (the `lake` feature), a column
//! per field filters use and each event exactly as received
//! ([`activitylog_lake::row`] has the schema).
//!
//! Written a row group at a time ([`activitylog_lake::EntryWriter`]): the
//! bytes of a row group reach the output when it is full, and the footer
//! at the end. A checkpoint is taken only where a row group ends
//! ([`Encode::settle`]): then its state (the row groups before it) lets a
//! `--resume` run continue the file cut back to the checkpoint.

use std::io::{self, Write};

use activitylog_client::RawEvent;
use activitylog_client::types::Activity;
use activitylog_lake::{EntryWriter, Limits, Resumable};

use super::{Encode, Settled};

/// The Parquet encoder.
#[derive(Debug)]
pub struct ParquetWriter {
    /// Set by [`Encode::begin`] or [`Encode::resume`].
    writer: Option<EntryWriter<Vec<u8>>>,
    limits: Limits,
}

impl ParquetWriter {
    /// An encoder with row groups of at most `rows` entries (and the
    /// default [`Limits`] otherwise).
    pub fn new(rows: u64) -> Self {
        let limits = Limits {
            row_group_rows: usize::try_from(rows).unwrap_or(usize::MAX).max(1),
            ..Limits::default()
        };
        ParquetWriter {
            writer: None,
            limits,
        }
    }

    /// The writer, once begun or resumed.
    fn writer(&mut self) -> io::Result<&mut EntryWriter<Vec<u8>>> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("internal: the Parquet file was not begun"))
    }

    /// Moves the bytes the writer has ready to `out`.
    fn pass_on(&mut self, out: &mut dyn Write) -> io::Result<()> {
        // Taken, not cleared: a row group's bytes are not kept allocated.
        let ready = std::mem::take(self.writer()?.get_mut());
        out.write_all(&ready)
    }
}

impl Encode for ParquetWriter {
    fn needs_decoding(&self) -> bool {
        false
    }

    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.writer = Some(EntryWriter::with_limits(Vec::new(), self.limits).map_err(failed)?);
        self.pass_on(out)
    }

    fn write(
        &mut self,
        out: &mut dyn Write,
        event: &RawEvent,
        _activity: Option<&Activity>,
        _first: bool,
    ) -> io::Result<()> {
        self.writer()?.write(event).map_err(failed)?;
        self.pass_on(out)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("internal: the Parquet file was not begun"))?;
        out.write_all(&writer.finish().map_err(failed)?)
    }

    /// A checkpoint where a row group ends: at once when forced or when
    /// nothing is held back, else once the row group holds at least half
    /// of its bound (so that row groups stay large, and a resumed run
    /// fetches at most about one row group again).
    fn settle(&mut self, out: &mut dyn Write, force: bool) -> io::Result<Settled> {
        let limits = self.limits;
        let writer = self.writer()?;
        let small = writer.pending_bytes() < limits.row_group_bytes / 2
            && writer.pending() < limits.row_group_rows / 2;
        if !force && writer.pending() > 0 && small {
            return Ok(Settled::Later);
        }
        let state = writer.checkpoint().map_err(failed)?;
        let text = state.to_text().map_err(failed)?;
        self.pass_on(out)?;
        Ok(Settled::Here(Some(text)))
    }

    fn resume(&mut self, bytes: u64, state: Option<&str>) -> io::Result<()> {
        let state = state.ok_or_else(|| {
            io::Error::other("the checkpoint does not record the Parquet file's row groups")
        })?;
        let state = Resumable::from_text(state, bytes).map_err(failed)?;
        let writer = EntryWriter::resume(Vec::new(), &state, self.limits).map_err(failed)?;
        self.writer = Some(writer);
        Ok(())
    }
}

fn failed(error: activitylog_lake::Error) -> io::Error {
    io::Error::other(error)
}
