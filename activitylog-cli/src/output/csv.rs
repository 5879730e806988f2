//! `csv`: one row per event in a fixed set of columns (RFC 4180 quoting).
//!
//! The columns are [`COLUMNS`], all of them in that order unless `--columns`
//! picks some ([`super::columns`]); `activitylog entries --help` lists them.
//! Times are as sent unless `--tz`/`--local` asks for a zone ([`super::zone`]). Multi-valued fields are joined
//! with `;`. For every field as sent, use `ndjson`.
//!
//! Cells a spreadsheet would evaluate as a formula (CSV injection, see
//! OWASP's "CSV Injection") get a leading `'`: see [`FORMULA_STARTS`].

use std::io::{self, Write};

use activitylog_client::types::Activity;

use super::columns::{COLUMNS, Columns};
use super::fields;
use super::zone::Zone;

/// First characters that make a spreadsheet read a cell as a formula
/// (OWASP: `=`, `+`, `-`, `@`, tab, carriage return).
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The column list for `--help`.
pub fn help() -> String {
    let mut text = String::from(
        "CSV columns (all, in this order, unless --columns picks some; empty when absent):\n",
    );
    for (name, field) in COLUMNS {
        text.push_str(&format!("  {name:<15} {field}\n"));
    }
    text.push_str(
        "\nCSV cells that begin with =, +, -, @, a tab or a carriage return get a leading ' \
         so that spreadsheets show them as text instead of running them as formulas \
         (CSV injection); --format ndjson keeps every value as sent.\n",
    );
    text
}

/// The values of one event's row, in [`COLUMNS`] order.
pub fn row(activity: &Activity) -> Vec<String> {
    let meta = activity.meta.as_ref();
    let principal = activity.principal.as_ref();
    let identity = principal.and_then(|p| p.identity.as_ref());
    let event = activity.event.as_ref();
    let param = event.and_then(|e| e.param.as_ref());
    let resources = fields::resources(activity);
    let text = |value: Option<&String>| value.cloned().unwrap_or_default();
    vec![
        text(meta.and_then(|m| m.time.as_ref())),
        text(activity.uuid.as_ref()),
        identity
            .and_then(|i| i.contract_number.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        text(identity.and_then(|i| i.username.as_ref())),
        text(principal.and_then(|p| p.source_ip.as_ref())),
        text(principal.and_then(|p| p.source_service.as_ref())),
        text(event.and_then(|e| e.type_.as_ref())),
        event
            .and_then(|e| e.status.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        param
            .and_then(|p| p.action.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        text(param.and_then(|p| p.uri.as_ref())),
        join(
            resources
                .iter()
                .map(|r| r.type_.as_deref().unwrap_or_default()),
        ),
        join(
            resources
                .iter()
                .map(|r| r.id.as_deref().unwrap_or_default()),
        ),
        join(fields::actions(activity)),
        text(param.and_then(|p| p.error_code.as_ref())),
        text(event.and_then(|e| e.message.as_ref())),
        text(meta.and_then(|m| m.request_id.as_ref())),
    ]
}

fn join<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.collect::<Vec<_>>().join(";")
}

/// [`row`] with the time shown in `zone` (as sent when UTC).
pub fn row_in(activity: &Activity, zone: &Zone) -> Vec<String> {
    let mut values = row(activity);
    if let Some(time) = values.first_mut()
        && !zone.is_utc()
    {
        *time = zone.full(time);
    }
    values
}

/// Writes the header row.
pub fn write_header(out: &mut impl Write) -> io::Result<()> {
    write_header_of(out, &Columns::all())
}

/// Writes the header row of the `columns` picked.
pub fn write_header_of(out: &mut impl Write, columns: &Columns) -> io::Result<()> {
    write_record(out, columns.names())
}

/// Writes one event's row: the `columns` picked, times in `zone`.
pub fn write_row_of(
    out: &mut impl Write,
    activity: &Activity,
    columns: &Columns,
    zone: &Zone,
) -> io::Result<()> {
    let values = row_in(activity, zone);
    write_record(
        out,
        columns
            .indexes()
            .iter()
            .map(|&i| values.get(i).map(String::as_str).unwrap_or_default()),
    )
}

/// Writes one record: fields separated by commas, quoted when needed, CRLF-free
/// (`\n` line ends, as most tools expect on Unix).
fn write_record<'a>(out: &mut impl Write, values: impl Iterator<Item = &'a str>) -> io::Result<()> {
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(quote(value).as_bytes())?;
    }
    out.write_all(b"\n")
}

/// One cell as written: a value a spreadsheet would run as a formula gets
/// a leading `'` ([`FORMULA_STARTS`]); then the cell is quoted when it holds
/// a comma, a quote, a line break or edge spaces, quotes inside doubled
/// (RFC 4180).
pub fn quote(value: &str) -> std::borrow::Cow<'_, str> {
    let value: std::borrow::Cow<'_, str> = if value.starts_with(FORMULA_STARTS) {
        format!("'{value}").into()
    } else {
        value.into()
    };
    let needs_quotes =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity() -> Activity {
        serde_json::from_str(
            r#"{"@uuid":"u-1",
                "meta":{"time":"2024-05-01T12:00:00.123Z","requestId":"r-1","auditVersion":"0.1"},
                "principal":{"sourceIP":"192.0.2.1","sourceService":"PUBLIC_REST_V6",
                             "identity":{"contractNumber":31721060,"username":"alice@example.com"}},
                "event":{"type":"RequestAccepted","status":"DONE","message":"said \"hi\", then left",
                         "param":{"action":"POST","uri":"/cloudapi/v6/datacenters","errorCode":null},
                         "resources":[{"type":"server","id":"s-1","action":["vr.server.create","vr.nic.create"]},
                                      {"type":"datacenter","id":"d-1","action":["vr.datacenter.update"]}]},
                "x-new":"kept only in ndjson"}"#,
        )
        .unwrap()
    }

    #[test]
    fn header_and_rows_have_every_column_in_order() {
        let mut out = Vec::new();
        write_header(&mut out).unwrap();
        write_row_of(&mut out, &activity(), &Columns::all(), &Zone::Utc).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "time,uuid,contract,user,source_ip,source_service,type,status,method,uri,\
             resource_types,resource_ids,actions,error_code,message,request_id"
        );
        assert_eq!(
            lines.next().unwrap(),
            "2024-05-01T12:00:00.123Z,u-1,31721060,alice@example.com,192.0.2.1,PUBLIC_REST_V6,\
             RequestAccepted,DONE,POST,/cloudapi/v6/datacenters,server;datacenter,s-1;d-1,\
             vr.server.create;vr.nic.create;vr.datacenter.update,,\"said \"\"hi\"\", then left\",r-1"
        );
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn a_bare_event_gives_a_full_row_of_empty_fields() {
        let bare: Activity = serde_json::from_str("{}").unwrap();
        assert_eq!(row(&bare), vec![String::new(); COLUMNS.len()]);
        assert_eq!(row(&activity()).len(), COLUMNS.len());
    }

    #[test]
    fn picked_columns_in_a_zone() {
        let columns: Columns = "request_id,time,user".parse().unwrap();
        let zone = Zone::named("Asia/Tokyo").unwrap();
        let mut out = Vec::new();
        write_header_of(&mut out, &columns).unwrap();
        write_row_of(&mut out, &activity(), &columns, &zone).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "request_id,time,user\nr-1,2024-05-01T21:00:00.123+09:00,alice@example.com\n"
        );
    }

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(""), "");
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
        assert_eq!(quote("cr\r"), "\"cr\r\"");
        assert_eq!(quote(" padded "), "\" padded \"");
    }

    #[test]
    fn formulas_are_defused_with_a_leading_quote() {
        assert_eq!(quote("=1+1"), "'=1+1");
        assert_eq!(quote("+49 30 1234"), "'+49 30 1234");
        assert_eq!(quote("-2"), "'-2");
        assert_eq!(quote("@SUM(A1:A9)"), "'@SUM(A1:A9)");
        assert_eq!(quote("\tx"), "'\tx");
        assert_eq!(quote("\rx"), "\"'\rx\"");
        assert_eq!(
            quote("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(quote("a=b"), "a=b", "only the first character counts");
        assert_eq!(quote("alice@example.com"), "alice@example.com");
    }

    #[test]
    fn help_lists_every_column() {
        let help = help();
        for (name, field) in COLUMNS {
            assert!(help.contains(name) && help.contains(field), "{name}");
        }
        assert!(help.contains("CSV injection"), "{help}");
    }
}
