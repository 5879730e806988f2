//! Reading entries back from a file [`EntryWriter`](crate::EntryWriter)
//! wrote (or any Parquet file with a `raw` string column of entries).

use activitylog_client::RawEvent;
use arrow_array::{Array, RecordBatch, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;

use crate::Error;
use crate::row::RAW;

/// The entries of a Parquet file, in file order, each exactly as received
/// (its `raw` column; the other columns are not read).
///
/// `file` is a [`std::fs::File`], or the file's bytes ([`bytes::Bytes`]).
pub fn read_entries<R: ChunkReader + 'static>(file: R) -> Result<Entries, Error> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let Some(index) = builder.schema().index_of(RAW).ok() else {
        return Err(Error::Schema(format!("no `{RAW}` column")));
    };
    let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
    let batches = builder.with_projection(mask).build()?;
    Ok(Entries {
        batches,
        batch: None,
        next: 0,
    })
}

/// The entries of a file ([`read_entries`]), a batch in memory at a time.
pub struct Entries {
    batches: ParquetRecordBatchReader,
    batch: Option<StringArray>,
    next: usize,
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries").finish_non_exhaustive()
    }
}

impl Iterator for Entries {
    type Item = Result<RawEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = &self.batch
                && self.next < batch.len()
            {
                let i = self.next;
                self.next += 1;
                if batch.is_null(i) {
                    return Some(Err(Error::Schema(format!("a null `{RAW}`"))));
                }
                return Some(RawEvent::parse(batch.value(i)).map_err(Error::from));
            }
            let batch: RecordBatch = match self.batches.next()? {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e.into())),
            };
            let Some(strings) = batch.column(0).as_any().downcast_ref::<StringArray>() else {
                return Some(Err(Error::Schema(format!("`{RAW}` is not a string"))));
            };
            self.batch = Some(strings.clone());
            self.next = 0;
        }
    }
}
