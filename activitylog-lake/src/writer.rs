//! [`EntryWriter`]: entries into one Parquet file, streamed.
//!
//! A Parquet file is a 4-byte magic, row groups, and a footer that lists
//! them. The writer gathers entries into Arrow batches, encodes them into
//! the current row group, and writes the row group out when it reaches
//! [`Limits`] (bytes in memory or rows): memory stays bounded whatever the
//! number of entries. The footer is written by [`EntryWriter::finish`].
//!
//! **Continuing a file.** [`EntryWriter::checkpoint`] ends the current row
//! group and returns a [`Resumable`]: the length of the bytes written so far
//! and the footer they would have if the file ended there. Those bytes never
//! change afterwards, so a file cut back to that length (after a crash) is
//! continued by [`EntryWriter::resume`] with the same state: the new row
//! groups follow at the right offsets, and the final footer lists the old
//! and the new ones. Every entry written before the checkpoint is in the
//! file once; entries after it are written again by the caller.

use std::io::{self, Write};

use activitylog_client::RawEvent;
use arrow_array::RecordBatch;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::Compression;
use parquet::file::metadata::{
    FileMetaData, ParquetMetaData, ParquetMetaDataReader, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::Error;
use crate::row::{self, RAW, Rows, TIME, UUID};

/// The length of the magic that starts a Parquet file (`PAR1`).
const MAGIC: u64 = 4;

/// The bounds of what a writer holds in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A row group is written out once its encoded columns take this many
    /// bytes of memory.
    pub row_group_bytes: usize,
    /// … or once it holds this many entries.
    pub row_group_rows: usize,
    /// Entries are encoded in batches of this many …
    pub batch_rows: usize,
    /// … or of this many bytes of JSON.
    pub batch_bytes: usize,
}

impl Default for Limits {
    /// Row groups of at most 8 MiB in memory or 128 Ki entries, encoded
    /// 1024 entries (or 4 MiB of JSON) at a time.
    fn default() -> Self {
        Limits {
            row_group_bytes: 8 << 20,
            row_group_rows: 128 << 10,
            batch_rows: 1024,
            batch_bytes: 4 << 20,
        }
    }
}

/// Writes entries into one Parquet file of [`row::schema`], streamed (see
/// the module docs).
///
/// Bytes reach `W` a row group at a time; `W` holds the whole file once
/// [`finish`](Self::finish) returns it.
pub struct EntryWriter<W: Write + Send> {
    arrow: ArrowWriter<Sink<W>>,
    rows: Rows,
    /// The row groups written before a [`resume`](Self::resume).
    earlier: Vec<RowGroupMetaData>,
    limits: Limits,
    /// Entries written, those before a resume included.
    entries: u64,
}

impl<W: Write + Send> std::fmt::Debug for EntryWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryWriter")
            .field("entries", &self.entries)
            .field("bytes", &self.arrow.bytes_written())
            .finish_non_exhaustive()
    }
}

impl<W: Write + Send> EntryWriter<W> {
    /// A new file written to `out`, with the default [`Limits`].
    pub fn new(out: W) -> Result<Self, Error> {
        Self::with_limits(out, Limits::default())
    }

    /// A new file written to `out`.
    pub fn with_limits(out: W, limits: Limits) -> Result<Self, Error> {
        Self::start(out, limits, &Resumable::default())
    }

    /// Continues the file a [`checkpoint`](Self::checkpoint) described:
    /// `out` must hold exactly its first [`Resumable::bytes`] bytes (cut
    /// back to them), positioned at their end.
    pub fn resume(out: W, state: &Resumable, limits: Limits) -> Result<Self, Error> {
        Self::start(out, limits, state)
    }

    fn start(out: W, limits: Limits, state: &Resumable) -> Result<Self, Error> {
        let mut arrow = ArrowWriter::try_new_with_options(
            Sink {
                skip: state.bytes,
                out: Some(out),
            },
            row::schema(),
            row::options().with_properties(properties(limits)),
        )?;
        // The new writer has written its magic (dropped when resuming):
        // count the earlier bytes too, so that it records the offsets of
        // its row groups in the whole file.
        let mut gap = state.bytes.saturating_sub(MAGIC);
        let zeros = [0u8; 8192];
        while gap > 0 {
            let n = gap.min(zeros.len() as u64) as usize;
            arrow.write_all(&zeros[..n])?;
            gap -= n as u64;
        }
        let entries = state.row_groups.iter().map(|g| g.num_rows() as u64).sum();
        let mut writer = EntryWriter {
            arrow,
            rows: Rows::default(),
            earlier: state.row_groups.clone(),
            limits,
            entries,
        };
        writer.deliver()?;
        Ok(writer)
    }

    /// Adds one entry (its row is written out with its row group).
    pub fn write(&mut self, event: &RawEvent) -> Result<(), Error> {
        self.rows.push(event);
        self.entries += 1;
        if self.rows.len() >= self.limits.batch_rows
            || self.rows.raw_bytes() >= self.limits.batch_bytes
        {
            self.encode()?;
            self.end_full_row_group()?;
        }
        Ok(())
    }

    /// Adds entries gathered into columns elsewhere ([`Rows::take`], a
    /// batch of [`row::schema`]), after those [`write`](Self::write) holds.
    pub fn write_rows(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.encode()?;
        self.arrow.write(batch)?;
        self.entries += batch.num_rows() as u64;
        self.end_full_row_group()
    }

    /// Writes the current row group out if it has reached the limits.
    fn end_full_row_group(&mut self) -> Result<(), Error> {
        if self.arrow.memory_size() >= self.limits.row_group_bytes
            || self.arrow.in_progress_rows() >= self.limits.row_group_rows
        {
            self.end_row_group()?;
        }
        Ok(())
    }

    /// Entries written, those before a resume included.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Entries not yet in a row group written out.
    pub fn pending(&self) -> usize {
        self.rows.len() + self.arrow.in_progress_rows()
    }

    /// Bytes of memory the entries not yet written out take (an estimate).
    pub fn pending_bytes(&self) -> usize {
        self.rows.raw_bytes() + self.arrow.memory_size()
    }

    /// The limits this writer keeps.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The output, to take what reached it so far (a row group at a time).
    pub fn get_mut(&mut self) -> Result<&mut W, Error> {
        self.arrow
            .inner_mut()
            .out
            .as_mut()
            .ok_or_else(|| Error::Resume("the output is gone".into()))
    }

    /// Ends the current row group and writes it out, and says how to
    /// continue the file from here (see the module docs).
    pub fn checkpoint(&mut self) -> Result<Resumable, Error> {
        self.end_row_group()?;
        let mut row_groups = self.earlier.clone();
        row_groups.extend(self.arrow.flushed_row_groups().iter().cloned());
        Ok(Resumable {
            bytes: self.arrow.bytes_written() as u64,
            row_groups,
        })
    }

    /// Writes the last row group and the footer; the output, complete.
    pub fn finish(mut self) -> Result<W, Error> {
        self.end_row_group()?;
        // The footer of this writer's row groups alone is dropped: the
        // file gets one of all its row groups.
        let Some(mut out) = self.arrow.inner_mut().out.take() else {
            return Err(Error::Resume("the output is gone".into()));
        };
        let metadata = self.arrow.finish()?;
        let mut row_groups = std::mem::take(&mut self.earlier);
        row_groups.extend(metadata.row_groups().iter().cloned());
        let row_groups = numbered(row_groups)?;
        let whole = metadata
            .into_builder()
            .set_row_groups(row_groups)
            .set_column_index(None)
            .set_offset_index(None)
            .build();
        ParquetMetaDataWriter::new(&mut out, &whole).finish()?;
        Ok(out)
    }

    /// Encodes the entries gathered into the current row group.
    fn encode(&mut self) -> Result<(), Error> {
        if !self.rows.is_empty() {
            let batch = self.rows.take()?;
            self.arrow.write(&batch)?;
        }
        Ok(())
    }

    /// Writes the current row group out, if it has entries.
    fn end_row_group(&mut self) -> Result<(), Error> {
        self.encode()?;
        self.arrow.flush()?;
        self.deliver()
    }

    /// Passes what the Parquet writer buffers on to the output.
    fn deliver(&mut self) -> Result<(), Error> {
        Ok(self.arrow.sync()?)
    }
}

/// The row groups with their ordinals in the whole file.
fn numbered(row_groups: Vec<RowGroupMetaData>) -> Result<Vec<RowGroupMetaData>, Error> {
    row_groups
        .into_iter()
        .enumerate()
        .map(|(i, group)| {
            let ordinal = i16::try_from(i).unwrap_or(i16::MAX);
            Ok(group.into_builder().set_ordinal(ordinal).build()?)
        })
        .collect()
}

/// Bytes of a data page, about (the page ends at the first check past it).
const PAGE_BYTES: usize = 256 << 10;

/// Entries encoded between two checks of the page's size.
const PAGE_CHECK_ROWS: usize = 256;

/// How the columns are encoded: Snappy; statistics per column chunk (so
/// that readers skip row groups by time, contract, user…), none for `raw`;
/// no dictionary for the columns that differ on every entry.
///
/// Pages are small ([`PAGE_BYTES`], checked every [`PAGE_CHECK_ROWS`]
/// entries): with entries of about 800 bytes, a page of `raw` and its
/// compressed copy stay under a megabyte, so the allocator reuses their
/// buffers from page to page rather than mapping and faulting in new
/// memory for each. With Parquet's defaults (1 MiB, checked every 1,024
/// entries of about 800 bytes) a page's buffer grew to 2 MiB, the size from
/// which the CLI's Parquet export has glibc map blocks of their own: that
/// export took 15-23% longer, with a second more of system time per
/// million entries (docs/benchmarks.md).
fn properties(limits: Limits) -> WriterProperties {
    let column = |name: &str| ColumnPath::from(name);
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_write_batch_size(PAGE_CHECK_ROWS)
        .set_created_by(format!("activitylog-lake {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_size(limits.row_group_rows.max(1))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_offset_index_disabled(true)
        .set_column_statistics_enabled(column(RAW), EnabledStatistics::None)
        .set_column_dictionary_enabled(column(RAW), false)
        .set_column_dictionary_enabled(column(UUID), false)
        .set_column_dictionary_enabled(column(TIME), false)
        .set_column_dictionary_enabled(column("request_id"), false)
        .build()
}

/// Where the Parquet writer writes: the output, but for the first `skip`
/// bytes (a resumed file's, already written) and, once the output is taken
/// back (`None`), its own footer.
struct Sink<W> {
    skip: u64,
    out: Option<W>,
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(out) = &mut self.out else {
            return Ok(buf.len());
        };
        let dropped = buf
            .len()
            .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
        self.skip -= dropped as u64;
        out.write_all(&buf[dropped..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// Where a file written by [`EntryWriter`] can be continued: its length at
/// a [`checkpoint`](EntryWriter::checkpoint) and the row groups before it.
///
/// [`to_text`](Self::to_text) and [`from_text`](Self::from_text) keep it in
/// a checkpoint file (the row groups' Parquet metadata, in Base64).
#[derive(Clone, Debug, Default)]
pub struct Resumable {
    /// The file's length: its magic and the row groups (0 before anything
    /// is written).
    bytes: u64,
    row_groups: Vec<RowGroupMetaData>,
}

impl Resumable {
    /// The file's length at the checkpoint.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries in the file at the checkpoint.
    pub fn entries(&self) -> u64 {
        self.row_groups.iter().map(|g| g.num_rows() as u64).sum()
    }

    /// The state as text, for a checkpoint file.
    pub fn to_text(&self) -> Result<String, Error> {
        let schema = ArrowSchemaConverter::new().convert(&row::schema())?;
        let file = FileMetaData::new(
            1,
            self.entries() as i64,
            None,
            None,
            std::sync::Arc::new(schema),
            None,
        );
        let metadata = ParquetMetaData::new(file, self.row_groups.clone());
        let mut footer = Vec::new();
        ParquetMetaDataWriter::new(&mut footer, &metadata).finish()?;
        // The metadata, without its length and the closing magic.
        footer.truncate(footer.len().saturating_sub(8));
        Ok(STANDARD.encode(footer))
    }

    /// The state [`to_text`](Self::to_text) wrote, for a file of `bytes`
    /// bytes; refused when its row groups do not end there.
    pub fn from_text(text: &str, bytes: u64) -> Result<Resumable, Error> {
        let footer = STANDARD
            .decode(text.trim())
            .map_err(|e| Error::Resume(format!("the state is not Base64: {e}")))?;
        let metadata = ParquetMetaDataReader::decode_metadata(&footer)?;
        let expected = row::schema();
        let leaves = ArrowSchemaConverter::new()
            .convert(&expected)?
            .num_columns();
        let mut end = if bytes == 0 { 0 } else { MAGIC };
        for group in metadata.row_groups() {
            if group.num_columns() != leaves {
                return Err(Error::Resume(format!(
                    "a row group has {} columns, entries have {leaves}",
                    group.num_columns()
                )));
            }
            for column in group.columns() {
                let start = column
                    .dictionary_page_offset()
                    .unwrap_or(column.data_page_offset());
                let stop = start
                    .checked_add(column.compressed_size())
                    .and_then(|stop| u64::try_from(stop).ok())
                    .ok_or_else(|| Error::Resume("a column chunk has no place".into()))?;
                end = end.max(stop);
            }
        }
        if end != bytes {
            return Err(Error::Resume(format!(
                "its row groups end at byte {end}, the checkpoint says {bytes}"
            )));
        }
        Ok(Resumable {
            bytes,
            row_groups: metadata.row_groups().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_entries;

    fn entry(i: usize) -> RawEvent {
        RawEvent::parse(&format!(
            r#"{{"@uuid":"u-{i}","meta":{{"time":"2024-05-01T10:00:{:02}Z"}},"principal":{{"identity":{{"contractNumber":31721060,"username":"user{}"}}}}}}"#,
            i % 60,
            i % 3
        ))
        .unwrap()
    }

    fn small() -> Limits {
        Limits {
            row_group_bytes: usize::MAX,
            row_group_rows: 7,
            batch_rows: 3,
            batch_bytes: usize::MAX,
        }
    }

    fn uuids(file: Vec<u8>) -> Vec<String> {
        read_entries(bytes::Bytes::from(file))
            .unwrap()
            .map(|e| e.unwrap().uuid().unwrap().into_owned())
            .collect()
    }

    #[test]
    fn every_entry_comes_back_in_order_across_row_groups() {
        let mut writer = EntryWriter::with_limits(Vec::new(), small()).unwrap();
        for i in 0..20 {
            writer.write(&entry(i)).unwrap();
        }
        assert!(
            writer.pending() < 7,
            "full row groups are written out as they fill"
        );
        let file = writer.finish().unwrap();
        let expected: Vec<String> = (0..20).map(|i| format!("u-{i}")).collect();
        assert_eq!(uuids(file), expected);
    }

    #[test]
    fn rows_gathered_elsewhere_follow_the_entries_written() {
        let mut writer = EntryWriter::with_limits(Vec::new(), small()).unwrap();
        writer.write(&entry(0)).unwrap();
        let mut rows = Rows::default();
        for i in 1..10 {
            rows.push(&entry(i));
        }
        writer.write_rows(&rows.take().unwrap()).unwrap();
        writer.write(&entry(10)).unwrap();
        assert_eq!(writer.entries(), 11);
        let file = writer.finish().unwrap();
        let expected: Vec<String> = (0..11).map(|i| format!("u-{i}")).collect();
        assert_eq!(uuids(file), expected);
    }

    #[test]
    fn a_file_cut_at_a_checkpoint_is_continued_without_loss_or_repeat() {
        let mut writer = EntryWriter::with_limits(Vec::new(), small()).unwrap();
        for i in 0..10 {
            writer.write(&entry(i)).unwrap();
        }
        let state = writer.checkpoint().unwrap();
        let text = state.to_text().unwrap();
        for i in 10..13 {
            writer.write(&entry(i)).unwrap(); // lost in the crash
        }
        let mut file = writer.get_mut().unwrap().clone();
        file.extend_from_slice(b"half a row group");
        drop(writer);

        file.truncate(state.bytes() as usize);
        let state = Resumable::from_text(&text, file.len() as u64).unwrap();
        assert_eq!(state.entries(), 10);
        let mut writer = EntryWriter::resume(file, &state, small()).unwrap();
        for i in 10..25 {
            writer.write(&entry(i)).unwrap();
        }
        assert_eq!(writer.entries(), 25);
        let file = writer.finish().unwrap();
        let expected: Vec<String> = (0..25).map(|i| format!("u-{i}")).collect();
        assert_eq!(uuids(file), expected);
    }

    #[test]
    fn a_state_of_another_length_is_refused() {
        let mut writer = EntryWriter::with_limits(Vec::new(), small()).unwrap();
        writer.write(&entry(1)).unwrap();
        let state = writer.checkpoint().unwrap();
        let text = state.to_text().unwrap();
        let error = Resumable::from_text(&text, state.bytes() + 1).unwrap_err();
        assert!(error.to_string().contains("end at byte"), "{error}");
        assert!(Resumable::from_text("not base64!", 4).is_err());
    }

    #[test]
    fn an_empty_file_is_a_valid_file() {
        let file = EntryWriter::new(Vec::new()).unwrap().finish().unwrap();
        assert!(uuids(file).is_empty());
    }
}
