//! `activitylog summary` end to end, over real HTTP on 127.0.0.1 against a
//! sandbox started in this test process: every number equals what counting
//! the NDJSON export of the same range directly gives, in the output, the
//! SVG chart and the HTML report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use activitylog_sandbox::Sandbox;
use activitylog_tests::cli::run;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::Value;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A command for the binary pointed at the sandbox, no other IONOS_ variable inherited.
fn at(sandbox: &Sandbox) -> Command {
    activitylog_tests::cli::against(binary(), &activitylog_tests::cli::empty_home(), sandbox)
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `COMMAND 31721060` over the sandbox's whole range with `extra` flags;
/// fails the test unless it exits 0.
async fn over_all(sandbox: &Sandbox, command: &str, extra: &[&str]) -> String {
    let since = rfc3339(sandbox.span_start());
    let until = rfc3339(sandbox.end());
    let mut args = vec![command, "31721060", "--since", &since, "--until", &until];
    args.extend_from_slice(extra);
    let result = run(at(sandbox), &args).await;
    assert_eq!(result.code, Some(0), "{args:?}: {}", result.stderr);
    result.stdout
}

/// The NDJSON export of the whole range, parsed.
async fn export(sandbox: &Sandbox) -> Vec<Value> {
    over_all(sandbox, "entries", &["--format", "ndjson"])
        .await
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

/// What one group counts: entries, failed, first and last time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Tally {
    count: u64,
    failed: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl Tally {
    fn add(&mut self, failed: bool, time: Option<DateTime<Utc>>) {
        self.count += 1;
        self.failed += u64::from(failed);
        if let Some(time) = time {
            self.first = Some(self.first.map_or(time, |f| f.min(time)));
            self.last = Some(self.last.map_or(time, |l| l.max(time)));
        }
    }
}

type Values = Vec<Option<String>>;

fn text(event: &Value, pointer: &str) -> Option<String> {
    event
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn time(event: &Value) -> Option<DateTime<Utc>> {
    let text = event.pointer("/meta/time")?.as_str()?;
    Some(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
}

/// The groups an event counts under for `keys`, computed directly: one
/// per (resource type, action) pair when a resource key is asked for.
fn groups_of(event: &Value, keys: &[&str], offset: FixedOffset) -> BTreeSet<Values> {
    let mut pairs: Vec<(Option<String>, Option<String>)> = Vec::new();
    if keys.iter().any(|k| *k == "resource-type" || *k == "action") {
        for resource in event["event"]["resources"].as_array().into_iter().flatten() {
            let kind = resource["type"].as_str().map(str::to_string);
            let actions: Vec<&str> = resource["action"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if actions.is_empty() {
                pairs.push((kind.clone(), None));
            }
            for action in actions {
                pairs.push((kind.clone(), Some(action.to_string())));
            }
        }
    }
    if pairs.is_empty() {
        pairs.push((None, None));
    }
    let local = time(event).map(|t| t.with_timezone(&offset));
    pairs
        .into_iter()
        .map(|(kind, action)| {
            keys.iter()
                .map(|key| match *key {
                    "user" => text(event, "/principal/identity/username"),
                    "type" => text(event, "/event/type"),
                    "status" => text(event, "/event/status"),
                    "method" => text(event, "/event/param/action"),
                    "source-ip" => text(event, "/principal/sourceIP"),
                    "service" => text(event, "/principal/sourceService"),
                    "resource-type" => kind.clone(),
                    "action" => action.clone(),
                    "day" => local.map(|t| t.format("%Y-%m-%d").to_string()),
                    "hour" => local.map(|t| t.format("%Y-%m-%dT%H:00").to_string()),
                    other => panic!("no key {other}"),
                })
                .collect()
        })
        .collect()
}

fn failed(event: &Value) -> bool {
    text(event, "/event/status").as_deref() == Some("FAILED")
}

/// Counting the export directly by `keys`, days and hours at `offset`.
fn expected(events: &[Value], keys: &[&str], offset: FixedOffset) -> BTreeMap<Values, Tally> {
    let mut groups: BTreeMap<Values, Tally> = BTreeMap::new();
    for event in events {
        for values in groups_of(event, keys, offset) {
            groups
                .entry(values)
                .or_default()
                .add(failed(event), time(event));
        }
    }
    groups
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

/// `summary --format json` output as groups (in output order).
fn parsed(json: &str, keys: &[&str]) -> Vec<(Values, Tally)> {
    let value: Value = serde_json::from_str(json).expect("one JSON array");
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|group| {
            let values = keys
                .iter()
                .map(|k| {
                    let v = &group[*k];
                    assert!(v.is_string() || v.is_null(), "{k} in {group}");
                    v.as_str().map(str::to_string)
                })
                .collect();
            let tally = Tally {
                count: group["count"].as_u64().unwrap(),
                failed: group["failed"].as_u64().unwrap(),
                first: instant(&group["first"]),
                last: instant(&group["last"]),
            };
            (values, tally)
        })
        .collect()
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_equal_counting_the_ndjson_export() {
    let sandbox = Sandbox::builder().events(3_000).start().await.unwrap();
    let events = export(&sandbox).await;
    assert_eq!(events.len(), 3_000);
    // Asia/Tokyo and Asia/Kolkata keep one offset all year (+09:00, +05:30).
    let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
    let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let cases: Vec<(&str, Vec<&str>, FixedOffset)> = vec![
        ("user", vec![], utc()),
        ("status,method", vec![], utc()),
        ("resource-type,action", vec![], utc()),
        ("service,source-ip", vec![], utc()),
        ("day,type", vec!["--tz", "Asia/Tokyo"], tokyo),
        ("hour", vec!["--tz", "Asia/Kolkata"], kolkata),
        ("day", vec![], utc()),
    ];
    for (by, extra, offset) in cases {
        let keys: Vec<&str> = by.split(',').collect();
        let mut args = vec!["--by", by, "--format", "json"];
        args.extend(extra.iter().copied());
        let got = parsed(&over_all(&sandbox, "summary", &args).await, &keys);
        let want = expected(&events, &keys, offset);
        let got_map: BTreeMap<Values, Tally> = got.iter().cloned().collect();
        assert_eq!(got_map.len(), got.len(), "{by}: a group appears twice");
        assert_eq!(got_map, want, "--by {by} {extra:?}");
        if by == "day" || by == "hour" {
            // A timeline: in time order.
            assert!(
                got.windows(2).all(|w| w[0].0 < w[1].0),
                "{by}: not in time order"
            );
        } else {
            // Sorted by count, largest first.
            assert!(
                got.windows(2).all(|w| w[0].1.count >= w[1].1.count),
                "{by}: not sorted by count"
            );
        }
    }

    // The filters of `entries` apply: only what they keep is counted.
    let args = [
        "--by",
        "user,action",
        "--format",
        "json",
        "--status",
        "FAILED",
        "--action",
        "vr.",
    ];
    let got = parsed(
        &over_all(&sandbox, "summary", &args).await,
        &["user", "action"],
    );
    let kept: Vec<Value> = events
        .iter()
        .filter(|e| failed(e))
        .filter(|e| {
            e["event"]["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["action"].as_array().into_iter().flatten())
                .any(|a| a.as_str().is_some_and(|a| a.starts_with("vr.")))
        })
        .cloned()
        .collect();
    assert!(!kept.is_empty());
    let got: BTreeMap<Values, Tally> = got.into_iter().collect();
    assert_eq!(got, expected(&kept, &["user", "action"], utc()), "{args:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_sets_the_entries_asked_for_per_request() {
    let sandbox = Sandbox::builder().events(1_000).start().await.unwrap();
    let events = export(&sandbox).await;
    sandbox.clear_requests();
    let args = ["--by", "user", "--format", "json", "--page-size", "100"];
    let got = parsed(&over_all(&sandbox, "summary", &args).await, &["user"]);
    let got: BTreeMap<Values, Tally> = got.into_iter().collect();
    assert_eq!(got, expected(&events, &["user"], utc()), "{args:?}");
    let limits: Vec<u32> = sandbox
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/contracts/31721060"))
        .filter_map(|r| r.query_param("limit")?.parse().ok())
        .collect();
    assert!(
        limits.contains(&100),
        "no page of 100 asked for: {limits:?}"
    );
    assert!(limits.iter().all(|&limit| limit <= 100), "{limits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_csv_and_ndjson_show_the_same_groups() {
    let sandbox = Sandbox::builder().events(1_500).start().await.unwrap();
    let keys = ["user", "status"];
    let all = parsed(
        &over_all(
            &sandbox,
            "summary",
            &["--by", "user,status", "--format", "json"],
        )
        .await,
        &keys,
    );
    assert!(all.len() > 3);
    let top = parsed(
        &over_all(
            &sandbox,
            "summary",
            &["--by", "user,status", "--format", "json", "--top", "3"],
        )
        .await,
        &keys,
    );
    assert_eq!(top, all[..3]);

    let ndjson = over_all(
        &sandbox,
        "summary",
        &["--by", "user,status", "--format", "ndjson"],
    )
    .await;
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed(&Value::Array(lines).to_string(), &keys), all);

    let csv = over_all(
        &sandbox,
        "summary",
        &["--by", "user,status", "--format", "csv"],
    )
    .await;
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("user,status,count,failed,first,last"));
    let rows: Vec<(Values, Tally)> = rows
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let value = |i: usize| (!cells[i].is_empty()).then(|| cells[i].to_string());
            let time = |i: usize| instant(&Value::String(cells[i].to_string()));
            let tally = Tally {
                count: cells[2].parse().unwrap(),
                failed: cells[3].parse().unwrap(),
                first: time(4),
                last: time(5),
            };
            (vec![value(0), value(1)], tally)
        })
        .collect();
    assert_eq!(rows, all);

    let table = over_all(&sandbox, "summary", &["--by", "user", "--format", "table"]).await;
    assert!(table.starts_with("USER"), "{table}");
    assert!(table.contains("1500 entries"), "{table}");
    let tokyo = over_all(
        &sandbox,
        "summary",
        &["--by", "user", "--format", "table", "--tz", "Asia/Tokyo"],
    )
    .await;
    let row = tokyo.lines().nth(1).unwrap();
    assert_eq!(
        row.matches("+09:00").count(),
        2,
        "first and last in the zone: {row}"
    );
}

/// The `data-count` of the chart's bars, by bucket and status.
fn bars(svg: &str) -> BTreeMap<(String, String), u64> {
    let document = roxmltree::Document::parse(svg).expect("the chart is well-formed XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    let mut bars = BTreeMap::new();
    for rect in document
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("bar"))
    {
        let key = (
            rect.attribute("data-bucket").unwrap().to_string(),
            rect.attribute("data-status").unwrap().to_string(),
        );
        let count: u64 = rect.attribute("data-count").unwrap().parse().unwrap();
        let height: f64 = rect.attribute("height").unwrap().parse().unwrap();
        assert!(height > 0.0, "a bar of {count} entries is drawn");
        assert!(
            bars.insert(key, count).is_none(),
            "one bar per bucket and status"
        );
    }
    bars
}

fn texts(document: &roxmltree::Document) -> Vec<String> {
    document
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_bars_add_up_to_the_counts() {
    let sandbox = Sandbox::builder().events(2_000).start().await.unwrap();
    let events = export(&sandbox).await;
    let dir = tempdir("chart");
    let chart = dir.join("timeline.svg");
    let chart_arg = chart.to_str().unwrap();
    let hourly = dir.join("hourly.svg");
    over_all(
        &sandbox,
        "summary",
        &["--by", "day", "--format", "json", "--chart", chart_arg],
    )
    .await;
    let svg = std::fs::read_to_string(&chart).unwrap();
    let want: BTreeMap<(String, String), u64> = expected(&events, &["day", "status"], utc())
        .into_iter()
        .map(|(values, tally)| {
            let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
            ((name(&values[0]), name(&values[1])), tally.count)
        })
        .collect();
    assert_eq!(bars(&svg), want);
    let document = roxmltree::Document::parse(&svg).unwrap();
    let labels = texts(&document);
    assert!(labels.iter().any(|t| t == "entries"), "a y axis title");
    assert!(labels.iter().any(|t| t == "day (UTC)"), "an x axis title");
    let done = want
        .iter()
        .filter(|((_, status), _)| status == "DONE")
        .map(|(_, n)| n)
        .sum::<u64>();
    assert!(
        labels.contains(&format!("DONE ({done})")),
        "a legend with totals: {labels:?}"
    );

    // Without a time key the bucket follows the range: a day is charted by hour.
    let until = sandbox.end();
    let since = until - chrono::TimeDelta::days(1);
    let result = run(
        at(&sandbox),
        &[
            "summary",
            "31721060",
            "--since",
            &rfc3339(since),
            "--until",
            &rfc3339(until),
            "--by",
            "user",
            "--format",
            "json",
            "--chart",
            hourly.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let in_range: Vec<Value> = events
        .iter()
        .filter(|e| time(e).is_some_and(|t| t >= since && t < until))
        .cloned()
        .collect();
    let per_hour = bars(&std::fs::read_to_string(&hourly).unwrap());
    assert!(per_hour.keys().all(|(bucket, _)| bucket.len() == 16));
    assert_eq!(per_hour.values().sum::<u64>(), in_range.len() as u64);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The rows of the report table `id`, as text cells.
fn table(document: &roxmltree::Document, id: &str) -> Vec<Vec<String>> {
    let table = document
        .descendants()
        .find(|n| n.has_tag_name("table") && n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no table {id}"));
    table
        .descendants()
        .filter(|n| n.has_tag_name("tbody"))
        .flat_map(|body| body.children().filter(|n| n.has_tag_name("tr")))
        .map(|row| {
            row.children()
                .filter(|n| n.has_tag_name("td"))
                .map(|cell| cell.text().unwrap_or_default().to_string())
                .collect()
        })
        .collect()
}

fn shown(time: Option<DateTime<Utc>>) -> String {
    time.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_holds_the_direct_counts_and_needs_no_network() {
    let sandbox = Sandbox::builder().events(2_000).start().await.unwrap();
    let events = export(&sandbox).await;
    let dir = tempdir("html");
    let report = dir.join("report.html");
    over_all(
        &sandbox,
        "summary",
        &[
            "--by",
            "status",
            "--format",
            "json",
            "--html",
            report.to_str().unwrap(),
        ],
    )
    .await;
    let html = std::fs::read_to_string(&report).unwrap();
    let document = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the report is well-formed markup");
    for node in document.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        assert!(
            !["script", "link", "img", "iframe", "object"].contains(&name),
            "<{name}>"
        );
        for attribute in node.attributes() {
            let external = attribute.value().contains("://") && attribute.name() != "xmlns";
            assert!(
                !external,
                "<{name} {}={}>",
                attribute.name(),
                attribute.value()
            );
        }
    }
    assert!(
        !html.contains("@import") && !html.contains("url("),
        "no external CSS"
    );
    assert_eq!(
        document
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .count(),
        1,
        "the timeline inline"
    );

    let by = |keys: &[&str], events: &[Value]| expected(events, keys, utc());
    let users = by(&["user"], &events);
    let mut users_ranked: Vec<_> = users.iter().collect();
    users_ranked.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let want: Vec<Vec<String>> = users_ranked
        .iter()
        .take(20)
        .map(|(values, tally)| {
            vec![
                values[0].clone().unwrap_or_else(|| "(none)".into()),
                tally.count.to_string(),
                tally.failed.to_string(),
                shown(tally.first),
                shown(tally.last),
            ]
        })
        .collect();
    assert_eq!(table(&document, "top-users"), want);

    let actions = by(&["action"], &events);
    let rows = table(&document, "top-actions");
    assert_eq!(rows.len(), actions.len().min(20));
    for row in &rows {
        let tally = &actions[&vec![Some(row[0].clone())]];
        assert_eq!(
            row[1..],
            [
                tally.count.to_string(),
                tally.failed.to_string(),
                shown(tally.last)
            ]
        );
    }
    let top_count = actions.values().map(|t| t.count).max().unwrap();
    assert_eq!(rows[0][1], top_count.to_string(), "the largest first");

    let failures: Vec<Value> = events.iter().filter(|e| failed(e)).cloned().collect();
    let failed_groups = by(&["user", "action"], &failures);
    let rows = table(&document, "failed");
    assert_eq!(rows.len(), failed_groups.len().min(200));
    assert!(!rows.is_empty());
    for row in &rows {
        let tally = &failed_groups[&vec![Some(row[0].clone()), Some(row[1].clone())]];
        assert_eq!(
            row[2..],
            [
                tally.count.to_string(),
                shown(tally.first),
                shown(tally.last)
            ]
        );
    }

    let addresses = by(&["user", "source-ip"], &events);
    let rows = table(&document, "source-ips");
    assert_eq!(rows.len(), addresses.len().min(200));
    for row in &rows {
        let tally = &addresses[&vec![Some(row[0].clone()), Some(row[1].clone())]];
        assert_eq!(row[2..], [tally.count.to_string(), shown(tally.first)]);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_and_unwritable_files_exit_2_in_one_line_and_failures_leave_no_file() {
    let sandbox = Sandbox::builder().events(200).start().await.unwrap();
    let result = run(
        at(&sandbox),
        &["summary", "31721060", "--by", "user,colour"],
    )
    .await;
    assert_eq!(result.code, Some(2));
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(
        result.stderr.contains("`colour` is not a key"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains(
        "user, type, status, method, resource-type, action, source-ip, service, day, hour"
    ));

    let result = run(
        at(&sandbox),
        &[
            "summary",
            "31721060",
            "--by",
            "day",
            "--html",
            "/nonexistent-dir/r.html",
        ],
    )
    .await;
    assert_eq!(result.code, Some(2));
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("--html `/nonexistent-dir/r.html` cannot be written")
    );
    assert!(sandbox.requests().is_empty(), "nothing was fetched");

    // A download that fails writes no file, and leaves no temporary one.
    let dir = tempdir("failed");
    let chart = dir.join("c.svg");
    let mut command = at(&sandbox);
    command.env("IONOS_TOKEN", "wrong");
    let since = rfc3339(sandbox.span_start());
    let result = run(
        command,
        &[
            "summary",
            "31721060",
            "--since",
            &since,
            "--by",
            "day",
            "--chart",
            chart.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(result.code, Some(1), "{}", result.stderr);
    assert!(
        result.stderr.contains("no summary was written"),
        "{}",
        result.stderr
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing left in {dir:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("activitylog-summary-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `COMMAND ARGS...` over the sandbox's whole range; fails unless it exits 0.
async fn over_range(sandbox: &Sandbox, command: Command, words: &[&str]) -> String {
    let since = rfc3339(sandbox.span_start());
    let until = rfc3339(sandbox.end());
    let mut args = words.to_vec();
    args.extend(["--since", &since, "--until", &until]);
    let result = run(command, &args).await;
    assert_eq!(result.code, Some(0), "{args:?}: {}", result.stderr);
    result.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_contracts_are_counted_together_and_the_variable_names_one() {
    let sandbox = Sandbox::builder().events(2_000).start().await.unwrap();
    let (main, other) = ("31721060", "12345678");
    let ndjson = over_range(
        &sandbox,
        at(&sandbox),
        &["entries", main, other, "--format", "ndjson"],
    )
    .await;
    let events: Vec<Value> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let of_main = over_all(&sandbox, "entries", &["--format", "ndjson"])
        .await
        .lines()
        .count();
    assert!(
        of_main > 0 && events.len() > of_main,
        "both contracts have entries"
    );

    let keys = ["user", "status"];
    let words = [
        "summary",
        main,
        other,
        "--by",
        "user,status",
        "--format",
        "json",
    ];
    let got: BTreeMap<Values, Tally> =
        parsed(&over_range(&sandbox, at(&sandbox), &words).await, &keys)
            .into_iter()
            .collect();
    assert_eq!(
        got,
        expected(&events, &keys, utc()),
        "two contracts together"
    );

    // Without CONTRACT, IONOS_CONTRACT_NUMBER names it: the same as naming it.
    let mut command = at(&sandbox);
    command.env("IONOS_CONTRACT_NUMBER", other);
    let words = ["summary", "--by", "user", "--format", "json"];
    let from_variable = over_range(&sandbox, command, &words).await;
    let words = ["summary", other, "--by", "user", "--format", "json"];
    let named = over_range(&sandbox, at(&sandbox), &words).await;
    assert_eq!(from_variable, named);
    let of_other: u64 = parsed(&named, &["user"]).iter().map(|(_, t)| t.count).sum();
    assert_eq!(of_other as usize, events.len() - of_main);

    // Several readable contracts and none named: exit 2, listing them.
    let result = run(at(&sandbox), &["summary", "--by", "user"]).await;
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains(main) && result.stderr.contains(other),
        "{}",
        result.stderr
    );
}
