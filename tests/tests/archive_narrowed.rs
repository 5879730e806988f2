//! Archive reads narrowed in SQL (`Archive::pages_where`, which `entries
//! --db` and `summary --db` use with their filters) keep exactly what the
//! whole read keeps once the CLI's filter runs: for every filter kind, in
//! SQLite and a real PostgreSQL server, over entries a sandbox serves (odd
//! case, wire variants) and entries written by hand into an archive of
//! version 4 that opening migrates (missing fields, `null` objects,
//! several resources, no readable time, a NUL, entries the SDK cannot
//! decode). The narrowed reads also read less.

use std::path::PathBuf;

use activitylog_archive::{Archive, Query};
use activitylog_cli::filter::Filter;
use activitylog_client::{ActivityLog, Config, Credentials, RawEvent, SyncOptions};
use activitylog_sandbox::{ContractSpec, MAIN_CONTRACT, Sandbox};
use activitylog_tests::postgres::Postgres;
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;

fn end() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn start() -> DateTime<Utc> {
    end() - TimeDelta::days(30)
}

/// Entries as an older version stored them; times inside the sandbox's span.
const CRAFTED: &[&str] = &[
    r#"{"@uuid":"c-01","meta":{"time":"2024-12-10T00:00:00Z","requestId":"REQ-A"},"principal":{"sourceIP":"192.0.2.1","identity":{"username":"Alice@Example.COM"}},"event":{"type":"requestaccepted","status":"done","resources":[{"type":"Server","id":"S-1","action":["VR.server.create","vr.a_b%c"]},{"type":"nic","id":"n-2"}]}}"#,
    r#"{"@uuid":"c-02","meta":null,"principal":{"identity":{"username":"alice@example.com"}},"event":{"type":"Provision"}}"#,
    r#"{"@uuid":"c-03","meta":{"time":"2024-12-11T00:00:00Z"},"principal":null,"event":null}"#,
    r#"{"@uuid":"c-04","meta":{"time":"2024-12-12T00:00:00Z"},"principal":{"identity":{"username":"zed@example.com"}},"event":{"type":"Error","status":7}}"#,
    r#"{"@uuid":"c-05","meta":{"time":"2024-12-13T00:00:00Z","requestId":5},"principal":{"identity":{"username":"zed@example.com"}}}"#,
    r#"{"@uuid":"c-06","meta":{"time":"2024-12-14T00:00:00Z","requestId":"req-b"},"principal":{"identity":{"username":"BOB@example.com"}},"event":{"type":"RequestAccepted","resources":[{"type":"volume","id":"V-9","action":null},{"type":null,"id":"s-1"}]}}"#,
    r#"{"@uuid":"c-07","meta":{"time":"yesterday","requestId":"req-a"},"principal":{"identity":{"username":"alice@example.com"}}}"#,
    r#"{"@uuid":"c-08","meta":{"time":"2024-12-15T00:00:00Z"},"principal":{"identity":null},"event":{"param":null,"resources":null,"type":"DCDUserEvent","status":"CANCELLED"}}"#,
    r#"{"@uuid":"c-09","event":{"status":false},"principal":{"identity":{"username":"alice@example.com"}}}"#,
    r#"{"@uuid":"c-10","meta":{"time":"2024-12-16T00:00:00Z"},"principal":{"identity":{"username":"a\u0000b"}}}"#,
    r#"{"@uuid":"c-11","meta":{"time":"2024-12-17T00:00:00Z","requestId":"REQ-a"},"principal":{"identity":{"username":"carol_%@example.com"}},"event":{"type":"provision","status":"FAILED","resources":[{"type":"SERVER","id":"s-1","action":["sec.user.create"]},{"type":"lan","id":"l-1","action":["vr.lan.update"]}]}}"#,
];

/// An archive for one test, and what keeps it alive.
struct Target {
    url: String,
    postgres: bool,
    _server: Option<Postgres>,
    dir: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `sql` (statements separated by `;`) on the archive's engine.
async fn execute(target: &Target, sql: &str) {
    if target.postgres {
        let pool = sqlx::PgPool::connect(&target.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let url = format!("{}?mode=rwc", target.url);
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// [`CRAFTED`] in an archive of schema version 4, only their key, time and
/// JSON written (the columns are the migration's to fill).
async fn version_4_archive(target: &Target) {
    use activitylog_archive::schema;
    let steps = if target.postgres {
        &schema::POSTGRES[..4]
    } else {
        &schema::SQLITE[..4]
    };
    let mut sql: Vec<String> = steps.concat().into_iter().map(String::from).collect();
    sql.push(schema::VERSION_TABLE.to_string());
    sql.push("INSERT INTO archive_schema (version) VALUES (4)".to_string());
    for json in CRAFTED {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let uuid = value["@uuid"].as_str().unwrap();
        let time = value["meta"]["time"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok());
        let time = match (time, target.postgres) {
            (Some(t), _) => format!("'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
            (None, true) => "NULL".to_string(),
            (None, false) => "''".to_string(),
        };
        sql.push(format!(
            "INSERT INTO entries (uuid, contract, time) VALUES ('{uuid}', {MAIN_CONTRACT}, {time})"
        ));
        let column = if target.postgres && json.contains(r"\u0000") {
            "raw"
        } else {
            "json"
        };
        sql.push(format!(
            "INSERT INTO entries_json (entry, {column}) SELECT entry, '{}' FROM entries WHERE uuid = '{uuid}'",
            json.replace('\'', "''")
        ));
    }
    execute(target, &sql.join(";\n")).await;
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// A filter of each kind, in odd case, several values, and together.
fn filters() -> Vec<Filter> {
    let none = Filter::default;
    vec![
        Filter {
            users: strings(&["ALICE@example.com"]),
            ..none()
        },
        Filter {
            users: strings(&["alice@example.com", "bob@EXAMPLE.com", "Alice@Example.com"]),
            ..none()
        },
        Filter {
            users: strings(&["nobody@example.com"]),
            ..none()
        },
        Filter {
            users: strings(&["a\0b"]),
            ..none()
        },
        Filter {
            users: strings(&["carol_%@example.com"]),
            ..none()
        },
        Filter {
            exclude_users: strings(&["alice@example.com", "ZED@example.com"]),
            ..none()
        },
        Filter {
            types: strings(&["REQUESTACCEPTED"]),
            ..none()
        },
        Filter {
            types: strings(&["provision", "dcduserevent"]),
            ..none()
        },
        Filter {
            exclude_types: strings(&["Provision"]),
            ..none()
        },
        Filter {
            statuses: strings(&["Done"]),
            ..none()
        },
        Filter {
            statuses: strings(&["cancelled", "failed"]),
            ..none()
        },
        Filter {
            resource_types: strings(&["SERVER"]),
            ..none()
        },
        Filter {
            resource_types: strings(&["volume", "LAN"]),
            ..none()
        },
        Filter {
            resource_ids: strings(&["s-1"]),
            ..none()
        },
        Filter {
            resource_ids: strings(&["no-such-resource"]),
            ..none()
        },
        Filter {
            actions: strings(&["vr.SERVER"]),
            ..none()
        },
        Filter {
            actions: strings(&["vr.a_b%", "SEC."]),
            ..none()
        },
        Filter {
            actions: strings(&["vr.ab"]),
            ..none()
        },
        Filter {
            request_ids: strings(&["req-a"]),
            ..none()
        },
        Filter {
            request_ids: strings(&["REQ-NONE"]),
            ..none()
        },
        Filter {
            source_ips: vec!["192.0.2.0/24".parse().unwrap()],
            ..none()
        },
        Filter {
            grep: vec!["servers".parse().unwrap()],
            ..none()
        },
        Filter {
            users: strings(&["alice@example.com"]),
            types: strings(&["requestaccepted"]),
            ..none()
        },
        Filter {
            request_ids: strings(&["req-a", "req-b"]),
            users: strings(&["bob@example.com"]),
            ..none()
        },
        Filter {
            resource_ids: strings(&["S-1"]),
            exclude_users: strings(&["alice@example.com"]),
            statuses: strings(&["failed", "done"]),
            ..none()
        },
    ]
}

/// What the CLI keeps of `events` with `filter`: the JSON of those that
/// match, and the `@uuid`s of those that do not decode (reported).
fn kept(events: &[RawEvent], filter: &Filter) -> (Vec<String>, Vec<String>) {
    let (mut json, mut omitted) = (Vec::new(), Vec::new());
    for event in events {
        match event.decode() {
            Ok(activity) if filter.matches(&activity) => json.push(event.json().to_string()),
            Ok(_) => {}
            Err(_) => omitted.push(event.uuid().unwrap().into_owned()),
        }
    }
    (json, omitted)
}

async fn narrowed_reads_keep_what_the_whole_read_keeps(target: Target) {
    version_4_archive(&target).await;
    let users = [
        "Alice@Example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ];
    let sandbox = Sandbox::builder()
        .end(end())
        .span(TimeDelta::days(30))
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, 1500).users(users)])
        .wire_variants(0.3)
        .start()
        .await
        .unwrap();
    let config = Config::new(Credentials::token("sandbox-token")).api_url(sandbox.url());
    let log = ActivityLog::new(config).unwrap();
    let archive = Archive::open(&target.url).await.unwrap();
    let options = SyncOptions::default().since(start()).until(end());
    archive
        .sync(&log, MAIN_CONTRACT)
        .options(options)
        .run()
        .await
        .unwrap();

    let whole: Vec<RawEvent> = archive
        .entries(MAIN_CONTRACT, start(), end())
        .try_collect()
        .await
        .unwrap();
    let untimed: Vec<Vec<RawEvent>> = archive.untimed(MAIN_CONTRACT).try_collect().await.unwrap();
    let untimed: Vec<RawEvent> = untimed.into_iter().flatten().collect();
    assert!(whole.len() > 1500, "{} entries", whole.len());
    assert_eq!(
        untimed.len(),
        3,
        "c-02, c-07 and c-09 have no readable time"
    );
    let undecodable = whole.iter().filter(|e| e.decode().is_err()).count();
    assert_eq!(undecodable, 2, "c-04 and c-05 do not decode");

    for filter in filters() {
        let query = filter.query();
        let narrowed: Vec<RawEvent> = archive
            .entries_where(MAIN_CONTRACT, start(), end(), &query)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            kept(&narrowed, &filter),
            kept(&whole, &filter),
            "{}: {filter:?}",
            archive.location()
        );
        let narrowed_untimed: Vec<Vec<RawEvent>> = archive
            .untimed_where(MAIN_CONTRACT, &query)
            .try_collect()
            .await
            .unwrap();
        let narrowed_untimed: Vec<RawEvent> = narrowed_untimed.into_iter().flatten().collect();
        assert_eq!(
            kept(&narrowed_untimed, &filter),
            kept(&untimed, &filter),
            "untimed, {}: {filter:?}",
            archive.location()
        );
        if filter.source_ips.is_empty() && filter.grep.is_empty() {
            assert!(
                narrowed.len() < whole.len(),
                "{filter:?} read all {} entries",
                whole.len()
            );
        }
    }

    // A lookup that matches nothing reads only the entries no filter can check.
    for query in [
        Query {
            users: strings(&["nobody@example.com"]),
            ..Query::default()
        },
        Query {
            resource_ids: strings(&["no-such-resource"]),
            ..Query::default()
        },
        Query {
            request_ids: strings(&["REQ-NONE"]),
            ..Query::default()
        },
    ] {
        let read: Vec<RawEvent> = archive
            .entries_where(MAIN_CONTRACT, start(), end(), &query)
            .try_collect()
            .await
            .unwrap();
        let uuids: Vec<String> = read
            .iter()
            .map(|e| e.uuid().unwrap().into_owned())
            .collect();
        assert_eq!(uuids, ["c-04", "c-05"], "{query:?}");
    }
    archive.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_narrowed_reads_keep_what_the_whole_read_keeps() {
    let dir = std::env::temp_dir().join(format!("activitylog-narrowed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = Target {
        url: format!("sqlite:{}", dir.join("archive.sqlite").display()),
        postgres: false,
        _server: None,
        dir: Some(dir),
    };
    narrowed_reads_keep_what_the_whole_read_keeps(target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_narrowed_reads_keep_what_the_whole_read_keeps() {
    let server = Postgres::start();
    let target = Target {
        url: server.database("narrowed"),
        postgres: true,
        _server: Some(server),
        dir: None,
    };
    narrowed_reads_keep_what_the_whole_read_keeps(target).await;
}
