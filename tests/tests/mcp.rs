//! `activitylog mcp` end to end, driven by real MCP clients: the official
//! Python SDK (tests/mcp/client.py; `pip install mcp`) over stdio and
//! streamable HTTP, and the MCP Inspector's CLI mode (npm
//! `@modelcontextprotocol/inspector`). Answers are compared with what
//! `entries` and `summary` say for the same question.
//!
//! The clients are not optional. Unless `ACTIVITYLOG_TEST_PYTHON` (a Python
//! with `mcp`) and `ACTIVITYLOG_TEST_INSPECTOR` (the inspector's program)
//! name them, the first test installs both into `target/mcp-clients` with
//! tests/mcp/install.sh (PyPI and npm); an install that fails fails the
//! tests, saying what is missing.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::Stdio;

use activitylog_sandbox::{MAIN_CONTRACT, Sandbox, SandboxBuilder};
use activitylog_tests::cli;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

fn end() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The 30 days before [`end`], in the forms tools and flags take.
fn since() -> String {
    rfc3339(end() - TimeDelta::days(30))
}

/// A sandbox of `events` entries in the `days` before [`end`].
fn builder(days: i64, events: usize) -> SandboxBuilder {
    Sandbox::builder()
        .end(end())
        .span(TimeDelta::days(days))
        .events(events)
}

async fn sandbox() -> Sandbox {
    builder(30, 3000).start().await.unwrap()
}

/// `arguments` with the members of `extra` added.
fn merged(arguments: &Value, extra: Value) -> Value {
    let mut merged = arguments.clone();
    merged
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    merged
}

fn python() -> String {
    std::env::var("ACTIVITYLOG_TEST_PYTHON")
        .unwrap_or_else(|_| installed().join("venv/bin/python").display().to_string())
}

/// The inspector's program, as `python` finds the Python.
fn inspector() -> String {
    std::env::var("ACTIVITYLOG_TEST_INSPECTOR").unwrap_or_else(|_| {
        installed()
            .join("npm/node_modules/.bin/mcp-inspector")
            .display()
            .to_string()
    })
}

/// `target/mcp-clients`, with both clients installed there once per run of
/// this test binary (tests/mcp/install.sh; idempotent across runs).
fn installed() -> &'static PathBuf {
    static CLIENTS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CLIENTS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../mcp-clients");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mcp/install.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        assert!(
            status.success(),
            "{script} could not install the MCP clients into {} (it needs python3 with venv, npm, \
             and PyPI and npm reachable); or set ACTIVITYLOG_TEST_PYTHON and \
             ACTIVITYLOG_TEST_INSPECTOR",
            dir.display()
        );
        dir
    })
}

/// The driver with `mode` (`stdio PROGRAM ARGS` or `http URL`) making
/// `calls`; its output (tools, results).
fn drive(mode: &[&str], calls: &Value, env: &[(&str, &str)]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mcp/client.py");
    let mut command = cli::isolated(python(), &cli::empty_home());
    command
        .arg(script)
        .args(mode)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot run {} ({e}): install Python 3 with the MCP SDK (`pip install mcp`) and set \
             ACTIVITYLOG_TEST_PYTHON to it",
            python()
        )
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(calls.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the MCP driver failed (is `mcp` installed for {}? `pip install mcp`): {stderr}",
        python()
    );
    serde_json::from_slice(&output.stdout).expect("the driver prints JSON")
}

/// The driver over stdio, the server started with `server_args` against `sandbox`.
fn over_stdio(sandbox: &Sandbox, server_args: &[&str], calls: Value) -> Value {
    let program = binary();
    let mut mode = vec!["stdio", program.to_str().unwrap(), "mcp"];
    mode.extend_from_slice(server_args);
    drive(
        &mode,
        &calls,
        &[
            ("IONOS_API_URL", sandbox.url()),
            ("IONOS_TOKEN", &sandbox.credentials().token),
        ],
    )
}

/// A tool call's result: its answer, or (for an error) its message.
fn answer(result: &Value) -> &Value {
    assert_eq!(
        result["is_error"], false,
        "a tool error: {}",
        result["text"]
    );
    &result["structured"]
}

fn error(result: &Value) -> String {
    assert_eq!(result["is_error"], true, "not an error: {result}");
    result["text"].as_str().unwrap().to_string()
}

/// `activitylog ARGS` against `sandbox`; its stdout.
async fn activitylog(sandbox: &Sandbox, args: &[&str]) -> String {
    let run = cli::run(cli::against(binary(), &cli::empty_home(), sandbox), args).await;
    assert_eq!(run.code, Some(0), "activitylog {args:?}: {}", run.stderr);
    run.stdout
}

fn ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `entries` of `user` with status FAILED in the 30 days before [`end`],
/// `RequestStatusUpdate` left out: what search_entries answers by default.
async fn failures_of(sandbox: &Sandbox, user: &str) -> Vec<Value> {
    let until = rfc3339(end());
    let contract = MAIN_CONTRACT.to_string();
    let args = [
        "entries",
        &contract,
        "--since",
        &since(),
        "--until",
        &until,
        "--user",
        user,
        "--status",
        "FAILED",
        "--exclude-type",
        "RequestStatusUpdate",
        "--format",
        "ndjson",
    ];
    ndjson(&activitylog(sandbox, &args).await)
}

/// `summary --format json` groups as (values, count, failed).
fn summary_groups(text: &str) -> BTreeSet<(String, u64, u64)> {
    let value: Value = serde_json::from_str(text).unwrap();
    let groups = value["groups"].as_array().or(value.as_array()).unwrap();
    groups
        .iter()
        .map(|g| {
            (
                g["user"]
                    .as_str()
                    .or(g["source-ip"].as_str())
                    .unwrap_or("")
                    .to_string(),
                g["count"].as_u64().unwrap(),
                g["failed"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn tool_groups(answer: &Value, key: &str) -> BTreeSet<(String, u64, u64)> {
    answer["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["values"][key].as_str().unwrap_or("").to_string(),
                g["count"].as_u64().unwrap(),
                g["failed"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_tools_have_documented_read_only_schemas_and_answer_as_entries_and_summary_do() {
    let sandbox = sandbox().await;
    let until = rfc3339(end());
    let contract = MAIN_CONTRACT;
    let range = json!({ "contract": contract, "since": since(), "until": until });
    let with = |extra: Value| merged(&range, extra);
    // A question small enough to page through: one user's failures.
    let user = "alice@example.com";
    let question = with(json!({ "user": user, "status": "FAILED", "limit": 7 }));
    let first = over_stdio(
        &sandbox,
        &[],
        json!([
            { "tool": "list_contracts" },
            { "tool": "summarize", "arguments": with(json!({ "by": "user" })) },
            { "tool": "search_entries", "arguments": question },
            { "tool": "user_activity", "arguments": with(json!({ "user": user })) },
            { "tool": "search_entries", "arguments": with(json!({ "user": user, "limit": 500 })) },
        ]),
    );

    // Tools: five, read-only, every argument described.
    let tools = first["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "list_contracts",
            "search_entries",
            "summarize",
            "get_entry",
            "user_activity"
        ]
    );
    for tool in tools {
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        assert!(tool["outputSchema"].is_object(), "{tool}");
        let properties = tool["inputSchema"]["properties"].as_object();
        for (name, property) in properties.into_iter().flatten() {
            assert!(
                property["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{}: argument {name} is not described",
                tool["name"]
            );
        }
    }
    let search = &tools[1]["inputSchema"];
    assert_eq!(
        search["required"],
        Value::Null,
        "every search argument is optional"
    );
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["by"]));
    assert!(
        first["instructions"]
            .as_str()
            .unwrap()
            .contains("Read-only"),
        "the instructions say it is read-only"
    );

    let results = first["results"].as_array().unwrap();
    let contracts = answer(&results[0])["contracts"].as_array().unwrap();
    assert!(contracts.iter().any(|c| c["contract"] == contract));

    // summarize = summary.
    let summary = activitylog(
        &sandbox,
        &[
            "summary",
            &contract.to_string(),
            "--by",
            "user",
            "--since",
            &since(),
            "--until",
            &until,
            "--format",
            "json",
        ],
    )
    .await;
    let summarized = answer(&results[1]);
    assert_eq!(tool_groups(summarized, "user"), summary_groups(&summary));
    assert!(summarized["entries"].as_u64().unwrap() > 0);

    // search_entries, paged with its cursor = entries with the same filters
    // (and RequestStatusUpdate left out, as the answer says).
    let entries = failures_of(&sandbox, user).await;
    let expected: BTreeSet<String> = entries
        .iter()
        .map(|e| e["@uuid"].as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() > 7, "the question needs several pages");
    let mut seen = Vec::new();
    let mut page = answer(&results[2]).clone();
    assert!(
        page["notes"][0]
            .as_str()
            .unwrap()
            .contains("RequestStatusUpdate")
    );
    loop {
        let rows = page["rows"].as_array().unwrap();
        assert!(rows.len() <= 7);
        for row in rows {
            assert_eq!(row["user"], user);
            assert_eq!(row["status"], "FAILED");
            seen.push(row["uuid"].as_str().unwrap().to_string());
        }
        if page["more"] == false {
            break;
        }
        let mut next = question.clone();
        next["cursor"] = page["cursor"].clone();
        let more = over_stdio(
            &sandbox,
            &[],
            json!([{ "tool": "search_entries", "arguments": next }]),
        );
        page = answer(&more["results"][0]).clone();
    }
    assert_eq!(seen.len(), expected.len(), "each entry once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);

    // RequestStatusUpdate entries, which the user has, are left out unless asked.
    let by_type = activitylog(
        &sandbox,
        &[
            "summary",
            &contract.to_string(),
            "--by",
            "type",
            "--user",
            user,
            "--since",
            &since(),
            "--until",
            &until,
            "--format",
            "json",
        ],
    )
    .await;
    assert!(by_type.contains("\"RequestStatusUpdate\""), "{by_type}");
    let rows = answer(&results[4])["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["type"] != "RequestStatusUpdate"),
        "noise in {rows:?}"
    );

    // user_activity: the user's count as summary has it, and the addresses
    // marked new are exactly those not used in the 30 days before.
    let activity = answer(&results[3]);
    let by_user = summary_groups(&summary);
    let (_, count, failed) = by_user.iter().find(|(u, _, _)| u == user).unwrap();
    assert_eq!(
        (
            activity["entries"].as_u64().unwrap(),
            activity["failed"].as_u64().unwrap()
        ),
        (*count, *failed)
    );
    let earlier = summary_groups(
        &activitylog(
            &sandbox,
            &[
                "summary",
                &contract.to_string(),
                "--by",
                "source-ip",
                "--user",
                user,
                "--since",
                &rfc3339(end() - TimeDelta::days(60)),
                "--until",
                &since(),
                "--format",
                "json",
            ],
        )
        .await,
    );
    let known: BTreeSet<&str> = earlier.iter().map(|(ip, _, _)| ip.as_str()).collect();
    for address in activity["addresses"].as_array().unwrap() {
        let ip = address["value"].as_str().unwrap();
        assert_eq!(address["new"], !known.contains(ip), "{ip}");
    }

    // get_entry: the first entry whole, as `entries` received it.
    let wanted = &entries[0];
    let got = over_stdio(
        &sandbox,
        &[],
        json!([{ "tool": "get_entry", "arguments": {
            "contract": contract,
            "uuid": wanted["@uuid"],
            "time": wanted["meta"]["time"],
        }}]),
    );
    assert_eq!(&answer(&got["results"][0])["entry"], wanted);
}

/// The `@uuid`s of `entries`' ndjson in time order, ties by `@uuid`: the
/// order search_entries promises.
fn in_time_order(entries: &[Value]) -> Vec<String> {
    let mut keyed: Vec<(DateTime<Utc>, String)> = entries
        .iter()
        .map(|e| {
            (
                e["meta"]["time"].as_str().unwrap().parse().unwrap(),
                e["@uuid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, uuid)| uuid).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_entries_pages_on_from_a_position_in_time_order_when_the_service_shuffles() {
    // The service promises no order within a range: this one serves each
    // range in an order of its own, unrelated to time.
    let sandbox = builder(30, 3000).unordered(true).start().await.unwrap();
    let until = rfc3339(end());
    let (user, limit) = ("carol@example.com", 4);
    let question = json!({ "contract": MAIN_CONTRACT, "since": since(), "until": until,
        "user": user, "status": "FAILED", "limit": limit });
    let entries = failures_of(&sandbox, user).await;
    let expected = in_time_order(&entries);
    let as_served: Vec<&str> = entries
        .iter()
        .map(|e| e["@uuid"].as_str().unwrap())
        .collect();
    assert_ne!(as_served, expected, "the sandbox shuffles");
    assert!(
        expected.len() > 3 * limit,
        "several pages: {}",
        expected.len()
    );

    let out = over_stdio(
        &sandbox,
        &[],
        json!([{ "tool": "search_entries", "arguments": question, "all_pages": true }]),
    );
    let pages = out["results"][0]["pages"].as_array().unwrap();
    let mut seen = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let rows = page["rows"].as_array().unwrap();
        let last = i + 1 == pages.len();
        assert_eq!(page["more"], !last);
        if !last {
            assert_eq!(rows.len(), limit, "a full page before the last");
        }
        seen.extend(rows.iter().map(|r| r["uuid"].as_str().unwrap().to_string()));
    }
    // Exactly `entries`' answer, each entry once, in time order.
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_over_more_than_90_days_report_the_requests_the_sandbox_saw() {
    let sandbox = builder(200, 20_000).start().await.unwrap();
    let (start, middle) = (end() - TimeDelta::days(200), end() - TimeDelta::days(100));
    let (since, half, until) = (rfc3339(start), rfc3339(middle), rfc3339(end()));
    let range = json!({ "contract": MAIN_CONTRACT, "since": since, "until": until });
    let with = |extra: Value| merged(&range, extra);
    let page_path = format!("/activitylog/v1/contracts/{MAIN_CONTRACT}");
    // One call per session: the sandbox's log then holds its requests alone.
    let asked = |tool: &str, arguments: Value| {
        sandbox.clear_requests();
        let out = over_stdio(
            &sandbox,
            &[],
            json!([{ "tool": tool, "arguments": arguments }]),
        );
        let answer = answer(&out["results"][0]).clone();
        let seen = sandbox
            .requests()
            .iter()
            .filter(|r| r.path() == page_path)
            .count() as u64;
        assert_eq!(answer["requests"], seen, "{tool}: {answer}");
        answer
    };
    let summarized = asked("summarize", with(json!({ "by": "day" })));
    assert_eq!(
        summarized["entries"],
        sandbox.event_count(MAIN_CONTRACT, start, end()) as u64
    );
    let requests = summarized["requests"].as_u64().unwrap();
    // 200 days are three ranges of at most 90 days, of 1000-entry pages.
    assert!(requests >= 20, "{requests} requests");

    let activity = asked(
        "user_activity",
        json!({ "contract": MAIN_CONTRACT, "user": "bob@example.com", "since": half,
                "until": until }),
    );
    assert!(activity["requests"].as_u64().unwrap() > 1);
    // No match: the whole range is searched, in parts.
    let none = asked(
        "search_entries",
        with(json!({ "user": "nobody@example.com" })),
    );
    assert_eq!(none["rows"], json!([]));
    assert_eq!(none["more"], false);
    assert!(none["requests"].as_u64().unwrap() >= requests);
    // 50 rows stop the download early: far fewer requests than the range holds.
    let first = asked("search_entries", with(json!({ "limit": 50 })));
    assert_eq!(first["rows"].as_array().unwrap().len(), 50);
    let early = first["requests"].as_u64().unwrap();
    assert!(early * 4 < requests, "{early} requests of {requests}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_questions_get_one_sentence_tool_errors_and_the_server_keeps_serving() {
    let sandbox = sandbox().await;
    let until = rfc3339(end());
    let other_question = over_stdio(
        &sandbox,
        &[],
        json!([{ "tool": "search_entries", "arguments": {
            "contract": MAIN_CONTRACT, "since": since(), "until": until, "limit": 1 } }]),
    );
    let foreign_cursor = answer(&other_question["results"][0])["cursor"].clone();
    assert!(foreign_cursor.is_string());
    let out = over_stdio(
        &sandbox,
        &[],
        json!([
            { "tool": "search_entries", "arguments": {
                "contract": MAIN_CONTRACT, "since": until, "until": since() } },
            { "tool": "summarize", "arguments": { "by": "colour" } },
            { "tool": "search_entries", "arguments": { "contract": 5 } },
            { "tool": "search_entries", "arguments": {
                "contract": MAIN_CONTRACT, "since": since(), "until": until,
                "user": "bob@example.com",
                "cursor": foreign_cursor } },
            { "tool": "search_entries", "arguments": { "limit": 100000 } },
            { "tool": "search_entries", "arguments": { "usr": "bob@example.com" } },
            { "tool": "get_entry", "arguments": { "contract": MAIN_CONTRACT, "uuid": "x" } },
            { "tool": "list_contracts" },
        ]),
    );
    let results = out["results"].as_array().unwrap();
    let messages: Vec<String> = results[..7].iter().map(error).collect();
    for message in &messages {
        assert!(
            !message.contains('\n') && message.len() < 300,
            "one sentence: {message}"
        );
    }
    assert!(
        messages[0].contains("is not before the end"),
        "{}",
        messages[0]
    );
    assert!(messages[1].contains("`colour` is not a key") && messages[1].contains("user"));
    assert!(
        messages[2].contains("cannot read contract 5"),
        "{}",
        messages[2]
    );
    assert!(messages[3].contains("another question"), "{}", messages[3]);
    assert!(messages[4].contains("limit 100000"), "{}", messages[4]);
    assert!(messages[5].contains("no argument `usr`"), "{}", messages[5]);
    assert!(messages[6].contains("time"), "{}", messages[6]);
    // Still serving after all of them.
    assert!(answer(&results[7])["contracts"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_archive_answers_offline_up_to_its_mark_and_says_how_to_fill_the_rest() {
    let sandbox = sandbox().await;
    let dir = std::env::temp_dir().join(format!("activitylog-mcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite:{}", dir.join("archive.sqlite").display());
    let synced_until = rfc3339(end() - TimeDelta::days(5));
    let (contract, from) = (MAIN_CONTRACT.to_string(), since());
    let synced = ["--db", &db, "--since", &from, "--until", &synced_until];
    activitylog(&sandbox, &[&["sync", &contract][..], &synced].concat()).await;
    let range = json!({ "since": since(), "until": synced_until, "by": ["user"] });
    let archived = ndjson(
        &activitylog(
            &sandbox,
            &[&["entries"][..], &synced, &["--format", "ndjson"]].concat(),
        )
        .await,
    );
    let wanted = &archived[archived.len() / 2];
    let uuid = wanted["@uuid"].as_str().unwrap();
    let far_off = rfc3339(end() - TimeDelta::days(60));
    let out = over_stdio(
        &sandbox,
        &["--db", &db],
        json!([
            { "tool": "list_contracts" },
            { "tool": "summarize", "arguments": range },
            { "tool": "search_entries", "arguments": { "since": since(), "until": rfc3339(end()) } },
            // By the archive's key: no time needed, and a wrong one does not matter.
            { "tool": "get_entry", "arguments": { "uuid": uuid } },
            { "tool": "get_entry", "arguments": { "uuid": uuid, "time": far_off } },
            { "tool": "get_entry", "arguments": { "uuid": "no-such-entry" } },
        ]),
    );
    let results = out["results"].as_array().unwrap();
    let listed = answer(&results[0]);
    assert_eq!(listed["contracts"][0]["contract"], MAIN_CONTRACT);
    assert_eq!(listed["contracts"][0]["complete_through"], synced_until);
    let summary = activitylog(
        &sandbox,
        &[
            "summary",
            "--db",
            &db,
            "--by",
            "user",
            "--since",
            &since(),
            "--until",
            &synced_until,
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        tool_groups(answer(&results[1]), "user"),
        summary_groups(&summary)
    );
    let message = error(&results[2]);
    assert!(message.contains("activitylog sync"), "{message}");
    assert_eq!(&answer(&results[3])["entry"], wanted);
    assert_eq!(&answer(&results[4])["entry"], wanted);
    let missing = error(&results[5]);
    assert!(
        missing.contains("holds no entry no-such-entry"),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `get_entry` on a lake (`--db file://`): the entry by its uuid alone,
/// as `entries --db` prints it, and a uuid the lake does not hold named as
/// missing from the lake.
#[tokio::test(flavor = "multi_thread")]
async fn a_lake_finds_an_entry_by_its_uuid_alone() {
    let sandbox = sandbox().await;
    let dir = std::env::temp_dir().join(format!("activitylog-mcp-lake-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = format!("file://{}", dir.display());
    let until = rfc3339(end());
    let (contract, from) = (MAIN_CONTRACT.to_string(), since());
    let synced = ["--db", &db, "--since", &from, "--until", &until];
    activitylog(&sandbox, &[&["sync", &contract][..], &synced].concat()).await;
    let stored = ndjson(
        &activitylog(
            &sandbox,
            &[&["entries"][..], &synced, &["--format", "ndjson"]].concat(),
        )
        .await,
    );
    let (first, last) = (&stored[0], &stored[stored.len() - 1]);
    let uuid = |entry: &Value| entry["@uuid"].as_str().unwrap().to_string();
    let out = over_stdio(
        &sandbox,
        &["--db", &db],
        json!([
            { "tool": "get_entry", "arguments": { "uuid": uuid(first) } },
            { "tool": "get_entry", "arguments": { "uuid": uuid(last), "contract": MAIN_CONTRACT } },
            { "tool": "get_entry", "arguments": { "uuid": "no-such-entry" } },
        ]),
    );
    let results = out["results"].as_array().unwrap();
    assert_eq!(&answer(&results[0])["entry"], first);
    assert_eq!(&answer(&results[1])["entry"], last);
    let missing = error(&results[2]);
    assert!(
        missing.contains(&format!("the lake {db} holds no entry no-such-entry")),
        "{missing}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_fit_the_size_budget_and_say_how_to_go_on() {
    let sandbox = sandbox().await;
    let range = json!({ "contract": MAIN_CONTRACT, "since": since(), "until": rfc3339(end()) });
    let mut search = range.clone();
    search["limit"] = json!(50);
    let mut activity = range.clone();
    activity["user"] = json!("bob@example.com");
    let out = over_stdio(
        &sandbox,
        &["--max-answer-bytes", "2000"],
        json!([
            { "tool": "search_entries", "arguments": search },
            { "tool": "user_activity", "arguments": activity },
        ]),
    );
    for result in out["results"].as_array().unwrap() {
        let answer = answer(result);
        assert!(answer.to_string().len() <= 2000, "{answer}");
        let notes = answer["notes"].to_string();
        assert!(notes.contains("answer size (2000 bytes)"), "{notes}");
    }
    let page = answer(&out["results"][0]);
    let rows = page["rows"].as_array().unwrap().len();
    assert!(rows > 0 && rows < 50, "{rows} rows");
    assert_eq!(page["more"], true);
    // The cursor goes on right after the rows that fit.
    search["cursor"] = page["cursor"].clone();
    search["limit"] = json!(1);
    let first = over_stdio(
        &sandbox,
        &[],
        json!([
            { "tool": "search_entries", "arguments": { "contract": MAIN_CONTRACT, "since": since(),
              "until": rfc3339(end()), "limit": rows + 1 } },
            { "tool": "search_entries", "arguments": search },
        ]),
    );
    let whole = answer(&first["results"][0])["rows"]
        .as_array()
        .unwrap()
        .clone();
    let next = answer(&first["results"][1])["rows"][0].clone();
    let uuids: Vec<&Value> = whole.iter().map(|r| &r["uuid"]).collect();
    assert!(
        uuids.contains(&&next["uuid"]),
        "the next row is the one after the cut"
    );
    let shown: Vec<&Value> = page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["uuid"])
        .collect();
    assert!(!shown.contains(&&next["uuid"]), "no row twice");
}

/// A child process killed when dropped (a failing test leaves no server).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streamable_http_on_loopback_answers_as_stdio_does() {
    let sandbox = sandbox().await;
    let mut server = Killed(
        cli::against(binary(), &cli::empty_home(), &sandbox)
            .args(["mcp", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(server.0.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server said no URL"
        );
    }
    let url = line[line.find("http://").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let question = json!({
        "contract": MAIN_CONTRACT, "since": since(), "until": rfc3339(end()), "by": "day" });
    let calls = json!([{ "tool": "summarize", "arguments": question }]);
    let over_http = drive(&["http", &url], &calls, &[]);
    drop(server);
    let over_stdio = over_stdio(&sandbox, &[], calls);
    assert_eq!(over_http["tools"], over_stdio["tools"]);
    assert_eq!(
        answer(&over_http["results"][0])["groups"],
        answer(&over_stdio["results"][0])["groups"]
    );

    let refused = cli::run(
        cli::against(binary(), &cli::empty_home(), &sandbox),
        &["mcp", "--listen", "0.0.0.0:0"],
    )
    .await;
    assert_eq!(refused.code, Some(2));
    assert!(
        refused.stderr.contains("not a loopback address"),
        "{}",
        refused.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mcp_inspector_cli_lists_the_tools_and_calls_one() {
    let sandbox = sandbox().await;
    let inspector = inspector();
    let words: Vec<&str> = inspector.split_whitespace().collect();
    let program = binary();
    let run = |method: &[&str]| {
        let mut command = cli::against(words[0], &cli::empty_home(), &sandbox);
        command
            .args(&words[1..])
            .arg("--cli")
            .arg(&program)
            .arg("mcp")
            .arg("--method")
            .args(method);
        let output = command.output().unwrap_or_else(|e| {
            panic!("cannot run the MCP Inspector `{inspector}` ({e}): see tests/mcp/install.sh")
        });
        assert!(
            output.status.success(),
            "the MCP Inspector failed (is it installed? `npm install @modelcontextprotocol/inspector`, or set ACTIVITYLOG_TEST_INSPECTOR): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).expect("the inspector prints JSON")
    };
    let listed = run(&["tools/list"]);
    assert_eq!(listed["tools"].as_array().unwrap().len(), 5);
    let called = run(&["tools/call", "--tool-name", "list_contracts"]);
    assert_ne!(called["isError"], true, "{called}");
    assert!(
        called["structuredContent"]["contracts"].is_array(),
        "{called}"
    );
}
