//! End-to-end tests over real HTTP on 127.0.0.1 ephemeral ports.

use std::time::Duration;

use activitylog_sandbox::{
    FOREIGN_CONTRACT, FaultKind, Faults, MAIN_CONTRACT, SECOND_CONTRACT, Sandbox, SandboxBuilder,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn end() -> DateTime<Utc> {
    "2024-06-01T00:00:00Z".parse().unwrap()
}

fn builder() -> SandboxBuilder {
    Sandbox::builder().events(3_000).seed(7).end(end())
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn get_as(sandbox: &Sandbox, path_and_query: &str, auth: Option<&str>) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("{}{}", sandbox.url(), path_and_query));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.expect("request failed");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body failed").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(sandbox: &Sandbox, path_and_query: &str) -> Reply {
    let token = format!("Bearer {}", sandbox.credentials().token);
    get_as(sandbox, path_and_query, Some(&token)).await
}

fn page_path(contract: u64, query: &str) -> String {
    format!("/activitylog/v1/contracts/{contract}?{query}")
}

fn uuids(page: &Value) -> Vec<String> {
    page["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["@uuid"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_ionos_error(reply: &Reply, status: u16) -> String {
    assert_eq!(
        reply.status,
        status,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["httpStatus"], status);
    assert!(body["messages"][0]["errorCode"].is_string());
    body["messages"][0]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn info_and_contracts() {
    let sandbox = builder().start().await.unwrap();
    let info = get(&sandbox, "/activitylog/v1").await;
    assert_eq!(info.status, 200);
    assert_eq!(
        info.json(),
        serde_json::json!({
            "href": format!("{}/activitylog/v1", sandbox.url()),
            "name": "Activity Log Service API",
            "version": "v1",
        })
    );
    let basic = "Basic c2FuZGJveEBleGFtcGxlLmNvbTpzYW5kYm94";
    let contracts = get_as(&sandbox, "/activitylog/v1/contracts", Some(basic)).await;
    assert_eq!(contracts.status, 200);
    let list = contracts.json();
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![MAIN_CONTRACT, SECOND_CONTRACT]);
    assert_eq!(list[0]["type"], "contracts");
    assert_eq!(
        list[0]["href"],
        format!("{}/activitylog/v1/contracts/{MAIN_CONTRACT}", sandbox.url())
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn authentication_and_authorization() {
    let sandbox = builder().start().await.unwrap();
    let main = page_path(MAIN_CONTRACT, "");
    assert_eq!(get_as(&sandbox, &main, None).await.status, 401);
    assert_eq!(
        get_as(&sandbox, &main, Some("Bearer nope")).await.status,
        401
    );
    assert_ionos_error(
        &get_as(&sandbox, "/activitylog/v1", Some("Basic Zm9vOmJhcg==")).await,
        401,
    );
    assert_eq!(
        get_as(&sandbox, &main, Some("Basic !!!!")).await.status,
        401
    );
    assert_ionos_error(&get(&sandbox, &page_path(FOREIGN_CONTRACT, "")).await, 403);
    assert_ionos_error(&get(&sandbox, &page_path(11_111_111, "")).await, 403);
    assert_ionos_error(&get(&sandbox, "/activitylog/v1/contracts/abc").await, 400);
    assert_ionos_error(&get(&sandbox, "/activitylog/v1/contracts/1.5").await, 400);
    assert_ionos_error(&get(&sandbox, "/activitylog/v1/contracts/-").await, 400);
    // Any integer is a contract number (the spec's `integer`); a negative or
    // huge one is simply not visible: 403, as schemathesis expects.
    for number in ["-5", "18446744073709551616", "-9223372036854775809"] {
        let path = format!("/activitylog/v1/contracts/{number}");
        let message = assert_ionos_error(&get(&sandbox, &path).await, 403);
        assert!(message.contains(number), "{message}");
    }
    assert_eq!(get(&sandbox, "/activitylog/v2").await.status, 404);
    assert_eq!(get(&sandbox, "/").await.status, 404);
    assert_eq!(
        get(&sandbox, "/activitylog/v1/contracts/1/extra")
            .await
            .status,
        404
    );
    let post = reqwest::Client::new()
        .post(format!("{}/activitylog/v1", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
}

#[tokio::test]
async fn paging_covers_the_range_in_order() {
    let sandbox = builder().start().await.unwrap();
    let start = end() - TimeDelta::days(30);
    let expected = sandbox.event_uuids(MAIN_CONTRACT, start, None);
    assert_eq!(
        expected.len(),
        sandbox.event_count(MAIN_CONTRACT, start, None)
    );
    assert!(expected.len() > 500, "{}", expected.len());

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let query = format!("dateStart=2024-05-02&offset={offset}&limit=250");
        let page = get(&sandbox, &page_path(MAIN_CONTRACT, &query)).await;
        assert_eq!(page.status, 200);
        let page = page.json();
        assert_eq!(page["hits"]["total"], expected.len());
        let batch = uuids(&page);
        if batch.is_empty() {
            break;
        }
        offset += batch.len();
        seen.extend(batch);
    }
    assert_eq!(seen, expected);

    let default_page = get(&sandbox, &page_path(MAIN_CONTRACT, "")).await.json();
    assert_eq!(uuids(&default_page).len(), 20);
    assert_eq!(
        default_page["hits"]["total"],
        sandbox.event_count(MAIN_CONTRACT, None, None)
    );
    let capped = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=5000"))
        .await
        .json();
    assert_eq!(uuids(&capped).len(), 1_000);
    let past_end = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, "offset=9000&limit=1000"),
    )
    .await
    .json();
    assert!(uuids(&past_end).is_empty());
    assert_eq!(past_end["hits"]["total"], 3_000);
}

#[tokio::test]
async fn date_bounds_are_inclusive_then_exclusive() {
    let sandbox = builder().start().await.unwrap();
    let sources = sandbox.event_sources(MAIN_CONTRACT, None, None);
    let first: Value = serde_json::from_str(&sources[1_000]).unwrap();
    let time = first["meta"]["time"].as_str().unwrap().to_owned();
    let uuid = first["@uuid"].as_str().unwrap().to_owned();

    let from = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, &format!("dateStart={time}&limit=1")),
    )
    .await
    .json();
    assert_eq!(uuids(&from)[0], uuid);
    let until = get(
        &sandbox,
        &page_path(
            MAIN_CONTRACT,
            &format!("dateEnd={time}&limit=1000&offset=0"),
        ),
    )
    .await
    .json();
    assert!(!uuids(&until).contains(&uuid));
    assert_eq!(until["hits"]["total"], 1_000);

    let day = get(
        &sandbox,
        &page_path(
            MAIN_CONTRACT,
            "dateStart=2024-05-10&dateEnd=2024-05-11&limit=1000",
        ),
    )
    .await
    .json();
    let day_start: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
    let expected = sandbox.event_uuids(MAIN_CONTRACT, day_start, day_start + TimeDelta::days(1));
    assert_eq!(uuids(&day), expected);
    assert_eq!(day["hits"]["total"], expected.len());
}

#[tokio::test]
async fn limits_and_bad_parameters_answer_400() {
    let sandbox = builder().start().await.unwrap();
    let window = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, "offset=9500&limit=1000"),
    )
    .await;
    assert!(assert_ionos_error(&window, 400).contains("Result window is too large"));
    // limit is capped before the window check.
    assert_eq!(
        get(
            &sandbox,
            &page_path(MAIN_CONTRACT, "offset=9000&limit=4000")
        )
        .await
        .status,
        200
    );
    let range = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, "dateStart=2024-01-01&dateEnd=2024-05-01"),
    )
    .await;
    assert!(assert_ionos_error(&range, 400).contains("too long"));
    for query in [
        "dateStart=yesterday",
        "dateEnd=2024-13-01",
        "dateStart=2024-05-02&dateEnd=2024-05-01",
        "dateStart=2024-05-02&dateEnd=2024-05-02",
        "offset=-1",
        "limit=ten",
        "limit=184467440737095516160",
        "offset=%FF%FE",
        "dateStart=%",
    ] {
        let reply = get(&sandbox, &page_path(MAIN_CONTRACT, query)).await;
        assert_ionos_error(&reply, 400);
    }

    let relaxed = builder()
        .result_window(None)
        .max_range(None)
        .start()
        .await
        .unwrap();
    assert_eq!(
        get(
            &relaxed,
            &page_path(MAIN_CONTRACT, "offset=20000&limit=1000")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(
            &relaxed,
            &page_path(MAIN_CONTRACT, "dateStart=2020-01-01&dateEnd=2024-05-01")
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn garbage_on_the_wire_still_gets_an_answer() {
    let sandbox = builder().start().await.unwrap();
    for raw in [
        b"GET /activitylog/v1/contracts/31721060?dateStart=\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"
            .as_slice(),
        b"GET /activitylog/v1/contracts/99999999999999999999999999 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n\r\n",
        b"GET /activitylog/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: \xff\xff\r\n\r\n",
        b"NONSENSE\r\n\r\n",
    ] {
        let mut stream = tokio::net::TcpStream::connect(sandbox.addr()).await.unwrap();
        stream.write_all(raw).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    }
    // The server is still healthy.
    assert_eq!(get(&sandbox, "/activitylog/v1").await.status, 200);
}

#[tokio::test]
async fn same_seed_same_bytes() {
    let a = builder().start().await.unwrap();
    let b = builder().start().await.unwrap();
    let c = builder().seed(8).start().await.unwrap();
    let query = page_path(MAIN_CONTRACT, "dateStart=2024-05-01&limit=500&offset=100");
    let page_a = get(&a, &query).await.body;
    let page_b = get(&b, &query).await.body;
    let page_c = get(&c, &query).await.body;
    assert_eq!(page_a, page_b);
    assert_ne!(page_a, page_c);
    assert_eq!(
        a.event_sources(SECOND_CONTRACT, None, None),
        b.event_sources(SECOND_CONTRACT, None, None)
    );
    // The served `_source` text is exactly what event_sources promises.
    let served = String::from_utf8(page_a).unwrap();
    let start: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().unwrap();
    for source in a
        .event_sources(MAIN_CONTRACT, start, None)
        .iter()
        .skip(100)
        .take(500)
    {
        assert!(served.contains(source.as_str()));
    }
}

#[tokio::test]
async fn wire_variants_appear_when_enabled() {
    let plain = builder().start().await.unwrap();
    let page = get(&plain, &page_path(MAIN_CONTRACT, "limit=1000"))
        .await
        .json();
    for hit in page["hits"]["hits"].as_array().unwrap() {
        assert_eq!(hit.as_object().unwrap().len(), 1);
        assert!(hit["_source"]["principal"]["identity"]["contractNumber"].is_string());
    }

    let deviant = builder().wire_variants(0.5).start().await.unwrap();
    let page = get(&deviant, &page_path(MAIN_CONTRACT, "limit=1000"))
        .await
        .json();
    let hits = page["hits"]["hits"].as_array().unwrap();
    let any = |f: &dyn Fn(&Value) -> bool| hits.iter().any(|h| f(&h["_source"]));
    assert!(any(
        &|s| s["principal"]["identity"]["contractNumber"].is_u64()
    ));
    assert!(any(&|s| s["meta"]["auditVersion"].is_number()));
    assert!(any(&|s| s["meta"]["queueRefId"].is_string()));
    assert!(any(&|s| s["event"]["status"] == "CANCELLED"));
    assert!(any(&|s| s["event"]["param"]["action"] == "HEAD"));
    assert!(any(&|s| s["principal"]["geo"]["country"] == "DE"));
    assert!(any(&|s| s["x-trace"].is_string()));
    assert!(any(&|s| s["event"].get("message") == Some(&Value::Null)));
    assert!(hits[0]["_index"].is_string());
    assert!(page["took"].is_number());
}

#[tokio::test]
async fn faults_are_injected_at_roughly_the_rate() {
    let sandbox = builder().faults(Faults::rate(0.3)).start().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}{}", sandbox.url(), page_path(MAIN_CONTRACT, "limit=50"));
    let mut failures = 0u64;
    let mut retry_after_seen = false;
    for _ in 0..200 {
        let outcome = async {
            let response = client.get(&url).bearer_auth("sandbox-token").send().await?;
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        }
        .await;
        match outcome {
            Ok((200, _, body)) => {
                let page: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(uuids(&page).len(), 50);
            }
            Ok((status, retry_after, _)) => {
                assert!([429, 500, 502, 503, 504].contains(&status), "{status}");
                retry_after_seen |= status == 429 && retry_after;
                failures += 1;
            }
            Err(_) => failures += 1,
        }
    }
    let counts = sandbox.fault_counts();
    assert_eq!(counts.total(), failures);
    assert!((30..=100).contains(&failures), "{failures}");
    assert!(counts.iter().filter(|(_, n)| *n > 0).count() >= 5);
    if counts.get(FaultKind::TooManyRequests) > 0 {
        assert!(retry_after_seen);
    }
    let log = sandbox.requests();
    assert_eq!(log.len(), 200);
    let resets = log
        .iter()
        .filter(|r| r.fault == Some(FaultKind::ConnectionReset))
        .count() as u64;
    assert_eq!(resets, counts.get(FaultKind::ConnectionReset));
    assert!(
        log.iter()
            .filter(|r| r.fault == Some(FaultKind::ConnectionReset))
            .all(|r| r.status.is_none())
    );
}

#[tokio::test]
async fn truncated_body_announces_more_than_it_sends() {
    let sandbox = builder()
        .faults(Faults::rate(1.0).only([FaultKind::TruncatedBody]))
        .start()
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(sandbox.addr())
        .await
        .unwrap();
    stream
        .write_all(
            b"GET /activitylog/v1/contracts/31721060?limit=100 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sandbox-token\r\n\r\n",
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < length,
        "{} of {length}",
        body.len()
    );
    assert_eq!(sandbox.fault_counts().get(FaultKind::TruncatedBody), 1);
}

#[tokio::test]
async fn connection_reset_gives_no_response() {
    let sandbox = builder()
        .faults(Faults::rate(1.0).only([FaultKind::ConnectionReset]))
        .start()
        .await
        .unwrap();
    let result = reqwest::Client::new()
        .get(format!("{}/activitylog/v1", sandbox.url()))
        .send()
        .await;
    assert!(result.is_err());
    let log = sandbox.requests();
    assert_eq!(log[0].status, None);
    assert_eq!(log[0].fault, Some(FaultKind::ConnectionReset));
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let sandbox = builder()
        .faults(Faults::rate(1.0).only([FaultKind::TooManyRequests]))
        .start()
        .await
        .unwrap();
    let reply = get(&sandbox, "/activitylog/v1").await;
    assert_ionos_error(&reply, 429);
    let retry = reply.headers["retry-after"].to_str().unwrap();
    assert!(retry == "0" || retry == "1");
}

#[tokio::test]
async fn live_mode_grows_the_total() {
    let sandbox = Sandbox::builder()
        .events(100)
        .live(Duration::from_millis(10))
        .start()
        .await
        .unwrap();
    let total = |page: Value| page["hits"]["total"].as_u64().unwrap();
    let before = total(get(&sandbox, &page_path(MAIN_CONTRACT, "")).await.json());
    let mut after = before;
    for _ in 0..1_000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        after = total(get(&sandbox, &page_path(MAIN_CONTRACT, "")).await.json());
        if after > before {
            break;
        }
    }
    assert!(after > before, "{before} -> {after}");
    // Live events are newest, hence last in order.
    let newest = sandbox.event_uuids(MAIN_CONTRACT, None, None);
    let appended = sandbox.append_event(MAIN_CONTRACT).unwrap();
    let all = sandbox.event_uuids(MAIN_CONTRACT, None, None);
    assert!(all.len() > newest.len());
    assert!(all.contains(&appended));
}

#[tokio::test]
async fn request_log_records_targets_and_statuses() {
    let sandbox = builder().start().await.unwrap();
    get(&sandbox, &page_path(MAIN_CONTRACT, "offset=40&limit=20")).await;
    get_as(&sandbox, "/activitylog/v1", None).await;
    let log = sandbox.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path(), "/activitylog/v1/contracts/31721060");
    assert_eq!((log[0].offset(), log[0].limit()), (Some(40), Some(20)));
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[1].status, Some(401));
    sandbox.clear_requests();
    assert!(sandbox.requests().is_empty());
}

#[tokio::test]
async fn drop_stops_the_server() {
    let sandbox = builder().start().await.unwrap();
    let addr = sandbox.addr();
    drop(sandbox);
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused);
}
