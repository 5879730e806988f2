//! The Parquet schema of an entry, and the columns of a batch of entries.
//!
//! | column | Parquet type | from the entry |
//! |---|---|---|
//! | `time` | `INT64` `TIMESTAMP(MICROS, isAdjustedToUTC)` | `meta.time` |
//! | `uuid` | `BYTE_ARRAY` `STRING` | `@uuid` |
//! | `contract` | `INT64` | `principal.identity.contractNumber` (sent as a number or a string) |
//! | `user` | `STRING` | `principal.identity.username` |
//! | `source_ip` | `STRING` | `principal.sourceIP` |
//! | `source_service` | `STRING` | `principal.sourceService` |
//! | `type` | `STRING` | `event.type` |
//! | `status` | `STRING` | `event.status` |
//! | `method` | `STRING` | `event.param.action` (the HTTP method) |
//! | `request_id` | `STRING` | `meta.requestId` |
//! | `resources` | `LIST` of `{type, id, action}` | one element per action of each of `event.resources` |
//! | `undecodable` | `BOOLEAN` | the SDK cannot decode the entry: the columns come from a lenient reading |
//! | `raw` | `STRING` | the entry's JSON exactly as received |
//!
//! Every column but `undecodable` and `raw` is nullable: a field the entry
//! lacks (or sends in a shape the SDK does not know) is null, and `raw`
//! still holds it. The column names are those of the CLI's CSV.

use std::sync::{Arc, LazyLock};

use activitylog_client::{BorrowedColumns, RawEvent};
use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::ArrowWriterOptions;

use crate::Error;

/// The `raw` column: the entry exactly as received.
pub const RAW: &str = "raw";

/// The `time` column.
pub const TIME: &str = "time";

/// The `contract` column.
pub const CONTRACT: &str = "contract";

/// The `uuid` column.
pub const UUID: &str = "uuid";

/// The fields of a `resources` element.
fn resource_fields() -> Fields {
    Fields::from(vec![
        Field::new("type", DataType::Utf8, true),
        Field::new("id", DataType::Utf8, true),
        Field::new("action", DataType::Utf8, true),
    ])
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new(
            TIME,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        text(UUID),
        Field::new(CONTRACT, DataType::Int64, true),
        text("user"),
        text("source_ip"),
        text("source_service"),
        text("type"),
        text("status"),
        text("method"),
        text("request_id"),
        Field::new(
            "resources",
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(resource_fields()),
                true,
            ))),
            true,
        ),
        Field::new("undecodable", DataType::Boolean, false),
        Field::new(RAW, DataType::Utf8, false),
    ]))
});

/// The Arrow schema of an entry (Parquet's follows from it: see the module docs).
///
/// ```
/// let schema = activitylog_lake::row::schema();
/// assert_eq!(schema.field(0).name(), "time");
/// assert!(schema.field_with_name("raw").is_ok());
/// ```
pub fn schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// The writer options that go with [`schema`] (no Arrow schema in the
/// file's metadata: the Parquet types say it all).
pub(crate) fn options() -> ArrowWriterOptions {
    ArrowWriterOptions::new().with_skip_arrow_metadata(true)
}

/// Entries gathered into columns, turned into one [`RecordBatch`] at a time.
#[derive(Debug)]
pub struct Rows {
    time: TimestampMicrosecondBuilder,
    uuid: StringBuilder,
    contract: Int64Builder,
    user: StringBuilder,
    source_ip: StringBuilder,
    source_service: StringBuilder,
    kind: StringBuilder,
    status: StringBuilder,
    method: StringBuilder,
    request_id: StringBuilder,
    resource_lengths: Vec<usize>,
    resource_kind: StringBuilder,
    resource_id: StringBuilder,
    resource_action: StringBuilder,
    undecodable: BooleanBuilder,
    raw: StringBuilder,
    /// Bytes of `raw` gathered.
    raw_bytes: usize,
}

impl Default for Rows {
    fn default() -> Self {
        Rows {
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            uuid: StringBuilder::new(),
            contract: Int64Builder::new(),
            user: StringBuilder::new(),
            source_ip: StringBuilder::new(),
            source_service: StringBuilder::new(),
            kind: StringBuilder::new(),
            status: StringBuilder::new(),
            method: StringBuilder::new(),
            request_id: StringBuilder::new(),
            resource_lengths: Vec::new(),
            resource_kind: StringBuilder::new(),
            resource_id: StringBuilder::new(),
            resource_action: StringBuilder::new(),
            undecodable: BooleanBuilder::new(),
            raw: StringBuilder::new(),
            raw_bytes: 0,
        }
    }
}

impl Rows {
    /// Adds one entry.
    pub fn push(&mut self, event: &RawEvent) {
        let columns = BorrowedColumns::of(event);
        self.time
            .append_option(columns.time.map(|t| t.timestamp_micros()));
        self.uuid.append_option(columns.uuid);
        self.contract.append_option(columns.contract);
        self.user.append_option(columns.user);
        self.source_ip.append_option(columns.source_ip);
        self.source_service.append_option(columns.source_service);
        self.kind.append_option(columns.kind);
        self.status.append_option(columns.status);
        self.method.append_option(columns.method);
        self.request_id.append_option(columns.request_id);
        self.resource_lengths.push(columns.resources.len());
        for resource in columns.resources {
            self.resource_kind.append_option(resource.kind);
            self.resource_id.append_option(resource.id);
            self.resource_action.append_option(resource.action);
        }
        self.undecodable.append_value(columns.undecodable);
        self.raw.append_value(event.json());
        self.raw_bytes += event.json().len();
    }

    /// Entries gathered.
    pub fn len(&self) -> usize {
        self.resource_lengths.len()
    }

    /// Whether none are gathered.
    pub fn is_empty(&self) -> bool {
        self.resource_lengths.is_empty()
    }

    /// Bytes of JSON gathered.
    pub fn raw_bytes(&self) -> usize {
        self.raw_bytes
    }

    /// The entries gathered, as a batch of [`schema`]; empties the rows.
    pub fn take(&mut self) -> Result<RecordBatch, Error> {
        let resources = StructArray::try_new(
            resource_fields(),
            vec![
                Arc::new(self.resource_kind.finish()) as ArrayRef,
                Arc::new(self.resource_id.finish()),
                Arc::new(self.resource_action.finish()),
            ],
            None,
        )?;
        let lengths = std::mem::take(&mut self.resource_lengths);
        let resources = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(resource_fields()),
                true,
            )),
            arrow_buffer::OffsetBuffer::from_lengths(lengths),
            Arc::new(resources),
            None,
        )?;
        self.raw_bytes = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.uuid.finish()),
            Arc::new(self.contract.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.source_ip.finish()),
            Arc::new(self.source_service.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(resources),
            Arc::new(self.undecodable.finish()),
            Arc::new(self.raw.finish()),
        ];
        Ok(RecordBatch::try_new(schema(), columns)?)
    }
}
