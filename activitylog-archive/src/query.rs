//! What a read asks beyond its range ([`Query`]), and the SQL that
//! narrows a read to it in either engine.
//!
//! The SQL narrows to a superset: every entry a caller's exact filter could
//! keep is read, and perhaps others, which the caller's filter drops. A
//! page's rows come from one or more ordered index scans ("arms"), each
//! reading at most a page, merged in `(time, @uuid)` order:
//!
//! - the arm that drives: by request ids, else resource ids, else one arm
//!   per user (each an index range in time order), else the range alone;
//! - the entries the SDK cannot decode (a caller cannot check them against
//!   a filter, so they are always read: it reports them), from an index of
//!   their own.
//!
//! The other hints are checked on each row an arm reads, before its JSON is
//! read.

pub use activitylog_client::Query;

/// The engine a statement is written for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Int(i64),
    Text(String),
}

/// A statement being written, and its values in placeholder order.
pub(crate) struct Sql {
    dialect: Dialect,
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Sql {
        Sql {
            dialect,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub(crate) fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        let prefix = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        self.text.push(prefix);
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    /// Appends a placeholder for the instant `time` (fixed-width UTC text).
    pub(crate) fn time(&mut self, time: &str) -> &mut Self {
        self.bind(Bind::Text(time.to_string()));
        if self.dialect == Dialect::Postgres {
            self.push("::timestamptz");
        }
        self
    }

    /// `(?, ?, ...)` of `values`.
    fn list(&mut self, values: &[String]) -> &mut Self {
        self.push("(");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Bind::Text(value.clone()));
        }
        self.push(")")
    }
}

/// Where a page of a range starts: at `since`, or after `(time, uuid)`.
pub(crate) enum Start<'a> {
    Since(&'a str),
    After { time: &'a str, uuid: &'a str },
}

impl Start<'_> {
    /// ` AND ...` for rows from here on, their columns named `{table}time`
    /// and `{table}uuid`.
    fn after(&self, sql: &mut Sql, table: &str) {
        match self {
            Start::Since(since) => {
                sql.push(&format!(" AND {table}time >= ")).time(since);
            }
            Start::After { time, uuid } => {
                sql.push(&format!(" AND ({table}time, {table}uuid) > ("))
                    .time(time)
                    .push(", ");
                sql.bind(Bind::Text(uuid.to_string())).push(")");
            }
        }
    }
}

/// The fixed-width UTC text of PostgreSQL's `timestamptz` column `column`,
/// as [`sortable`](crate::row::sortable) writes it.
pub(crate) fn postgres_time_text(column: &str) -> String {
    format!(r#"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#)
}

impl Dialect {
    /// What a read selects of an entry `e` and its JSON `j`: `uuid`, the
    /// time as fixed-width UTC text, and the JSON as text.
    fn selected(self) -> String {
        match self {
            Dialect::Sqlite => "e.uuid, e.time, j.json".to_string(),
            Dialect::Postgres => format!(
                "e.uuid, {}, coalesce(j.json::text, j.raw)",
                postgres_time_text("e.time")
            ),
        }
    }
}

/// A hint's values as the columns compare: ASCII lower case (as
/// `lower()` folds, in SQLite and on PostgreSQL's `"C"` columns), NUL as
/// U+FFFD (as the columns store it), each once.
fn folded(values: &[String]) -> Vec<String> {
    let mut folded: Vec<String> = values
        .iter()
        .map(|v| v.replace('\0', "\u{FFFD}").to_ascii_lowercase())
        .collect();
    folded.sort();
    folded.dedup();
    folded
}

/// `text` as a `LIKE` pattern of itself (`\` escapes).
fn like_prefix(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Which index an arm reads in order.
enum Drive {
    /// The range alone (`entries_contract_time`).
    Range,
    /// One user (`entries_user`).
    User(String),
    /// The request ids (`entries_request`).
    Requests,
    /// Entries with a resource of these ids (`resources_id`).
    Resources(Vec<String>),
    /// Entries the SDK cannot decode (`entries_undecodable`).
    Undecodable,
}

/// The SQL of a [`Query`]'s reads.
pub(crate) trait QuerySql {
    /// The statement that reads a page of `contract`'s entries before
    /// `until`, from `from`, in `(time, uuid)` order, up to `limit` of them:
    /// each entry's `uuid`, time (fixed-width UTC text) and JSON text.
    /// A query that asks nothing reads the `(contract, time, uuid)` index
    /// alone; any other, the arms its hints choose.
    fn page(
        &self,
        dialect: Dialect,
        contract: i64,
        from: &Start<'_>,
        until: &str,
        limit: i64,
    ) -> Sql;

    /// Conditions for a read of untimed entries (`entries` rows): the
    /// hints, or an entry the SDK cannot decode.
    fn untimed(&self, sql: &mut Sql);
}

/// The arms that together read every entry `query` may keep.
fn drives(query: &Query) -> Vec<Drive> {
    let mut drives = if !query.request_ids.is_empty() {
        vec![Drive::Requests]
    } else if !query.resource_ids.is_empty() {
        vec![Drive::Resources(folded(&query.resource_ids))]
    } else if !query.users.is_empty() {
        folded(&query.users).into_iter().map(Drive::User).collect()
    } else {
        vec![Drive::Range]
    };
    drives.push(Drive::Undecodable);
    drives
}

/// ` AND ...` for each hint of `query`, on a row of `entries`.
fn conditions(query: &Query, sql: &mut Sql) {
    let columns = [
        ("lower(username)", &query.users),
        ("lower(type)", &query.types),
        ("lower(status)", &query.statuses),
        ("lower(request_id)", &query.request_ids),
    ];
    for (column, values) in columns {
        if !values.is_empty() {
            sql.push(" AND ").push(column).push(" IN ");
            sql.list(&folded(values));
        }
    }
    for (column, values) in [
        ("username", &query.exclude_users),
        ("type", &query.exclude_types),
    ] {
        if !values.is_empty() {
            sql.push(&format!(
                " AND ({column} IS NULL OR lower({column}) NOT IN "
            ));
            sql.list(&folded(values)).push(")");
        }
    }
    for (column, values) in [("type", &query.resource_types), ("id", &query.resource_ids)] {
        if !values.is_empty() {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM resources r WHERE r.entry = entries.entry \
                 AND lower(r.{column}) IN "
            ));
            sql.list(&folded(values)).push(")");
        }
    }
    if !query.action_prefixes.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM resources r WHERE r.entry = entries.entry AND (");
        for (i, prefix) in folded(&query.action_prefixes).iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push("lower(r.action) LIKE ")
                .bind(Bind::Text(like_prefix(prefix)))
                .push(" ESCAPE '\\'");
        }
        sql.push("))");
    }
}

/// The arms of [`QuerySql::page`], each reading up to `limit` rows.
fn arms(query: &Query, sql: &mut Sql, contract: i64, from: &Start<'_>, until: &str, limit: i64) {
    for (i, drive) in drives(query).iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ");
        }
        sql.push("SELECT * FROM (SELECT entry, uuid, time FROM ");
        if let Drive::Resources(ids) = drive {
            // The entries with those resources first (SQLite takes a
            // CROSS JOIN's tables in the order written), then their rows.
            sql.push("(SELECT DISTINCT entry AS hit FROM resources WHERE lower(id) IN ");
            sql.list(ids)
                .push(") AS hits CROSS JOIN entries WHERE entry = hit AND contract = ");
        } else {
            sql.push("entries WHERE contract = ");
        }
        sql.bind(Bind::Int(contract));
        from.after(sql, "");
        sql.push(" AND time < ").time(until);
        match drive {
            Drive::Range => conditions(query, sql),
            Drive::User(user) => {
                sql.push(" AND lower(username) = ")
                    .bind(Bind::Text(user.clone()));
                conditions(query, sql);
            }
            Drive::Requests | Drive::Resources(_) => conditions(query, sql),
            Drive::Undecodable => {
                sql.push(" AND undecodable");
            }
        }
        sql.push(" ORDER BY time, uuid LIMIT ")
            .bind(Bind::Int(limit))
            .push(&format!(") AS arm{i}"));
    }
}

impl QuerySql for Query {
    fn page(
        &self,
        dialect: Dialect,
        contract: i64,
        from: &Start<'_>,
        until: &str,
        limit: i64,
    ) -> Sql {
        let mut sql = Sql::new(dialect);
        sql.push("SELECT ").push(&dialect.selected()).push(" FROM ");
        if self.is_empty() {
            sql.push("entries e JOIN entries_json j ON j.entry = e.entry WHERE e.contract = ")
                .bind(Bind::Int(contract));
            from.after(&mut sql, "e.");
            sql.push(" AND e.time < ").time(until);
        } else {
            sql.push("(");
            arms(self, &mut sql, contract, from, until, limit);
            sql.push(") AS e JOIN entries_json j ON j.entry = e.entry");
        }
        sql.push(" ORDER BY e.time, e.uuid LIMIT ")
            .bind(Bind::Int(limit));
        sql
    }

    fn untimed(&self, sql: &mut Sql) {
        if self.is_empty() {
            return;
        }
        sql.push(" AND ((1 = 1");
        conditions(self, sql);
        sql.push(") OR undecodable)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_compare_folded_once_and_prefixes_escape_like() {
        let values = ["Alice@X".to_string(), "alice@x".into(), "a\0b".into()];
        assert_eq!(folded(&values), ["alice@x", "a\u{FFFD}b"]);
        assert_eq!(like_prefix("vr.a_b%\\"), "vr.a\\_b\\%\\\\%");
    }
}
