//! End-to-end tests over real HTTP on 127.0.0.1 ephemeral ports.

use std::time::Duration;

use activitylog_sandbox::{
    BadPageKind, BadPages, ContractSpec, FOREIGN_CONTRACT, FaultKind, Faults, MAIN_CONTRACT,
    SECOND_CONTRACT, Sandbox, SandboxBuilder, SandboxConfig, TotalForm, default_contracts,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn end() -> DateTime<Utc> {
    "2024-06-01T00:00:00Z".parse().unwrap()
}

/// A plain reqwest client. The workspace builds reqwest's rustls without a
/// crypto provider (the SDK brings *ring*), so one is installed first.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
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
    let client = http();
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
    let post = http()
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
    let client = http();
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
    let result = http()
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

fn times(page: &Value) -> Vec<String> {
    page["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["meta"]["time"].as_str().unwrap().to_owned())
        .collect()
}

fn content_type(reply: &Reply) -> &str {
    reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A 200 `application/json` page with `hits.total` and `hits.hits`.
fn is_real_page(reply: &Reply) -> bool {
    let page = reply.json();
    reply.status == 200
        && content_type(reply) == "application/json"
        && page["hits"]["total"].is_u64()
        && page["hits"]["hits"].is_array()
}

/// Every page of a query (without offset and limit), `limit` hits at a time.
async fn all_pages(sandbox: &Sandbox, contract: u64, query: &str, limit: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut offset = 0;
    loop {
        let q = format!("{query}&offset={offset}&limit={limit}");
        let reply = get(sandbox, &page_path(contract, &q)).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let page = reply.json();
        let n = uuids(&page).len();
        pages.push(page);
        if n < limit {
            return pages;
        }
        offset += n;
    }
}

#[tokio::test]
async fn capped_total_stops_counting_but_hits_are_served() {
    let sandbox = Sandbox::builder()
        .events(25_000)
        .seed(7)
        .end(end())
        .total_cap(Some(10_000))
        .start()
        .await
        .unwrap();
    assert_eq!(sandbox.event_count(MAIN_CONTRACT, None, None), 25_000);
    let first = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1000"))
        .await
        .json();
    assert_eq!(first["hits"]["total"], 10_000);
    assert_eq!(uuids(&first).len(), 1_000);
    let last = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, "offset=9000&limit=1000"),
    )
    .await
    .json();
    assert_eq!(last["hits"]["total"], 10_000);
    assert_eq!(uuids(&last).len(), 1_000);
    // Events past the first 10,000 are still there, in a later range.
    let tail_start = "2024-05-20T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let tail = get(
        &sandbox,
        &page_path(MAIN_CONTRACT, "dateStart=2024-05-20&limit=1000"),
    )
    .await
    .json();
    let expected = sandbox.event_count(MAIN_CONTRACT, tail_start, None);
    assert!(expected < 10_000 && expected > 1_000, "{expected}");
    assert_eq!(tail["hits"]["total"], expected);
    assert_eq!(
        uuids(&tail),
        sandbox.event_uuids(MAIN_CONTRACT, tail_start, None)[..1_000]
    );
    // Above the cap the number is a lower bound; the SDK cannot tell without the form.
    let uncapped = Sandbox::builder()
        .events(25_000)
        .seed(7)
        .end(end())
        .start()
        .await
        .unwrap();
    let page = get(&uncapped, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert_eq!(page["hits"]["total"], 25_000);
}

/// A cap below the result window, down to 0, still serves every hit.
#[tokio::test]
async fn a_total_capped_at_any_value_serves_every_hit() {
    for cap in [20, 1, 0] {
        let sandbox = builder().total_cap(Some(cap)).start().await.unwrap();
        let day = "dateStart=2024-05-10&dateEnd=2024-05-11&limit=1000";
        let day_start: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
        let all = sandbox.event_uuids(MAIN_CONTRACT, day_start, day_start + TimeDelta::days(1));
        assert!(all.len() > cap, "{}", all.len());
        let page = get(&sandbox, &page_path(MAIN_CONTRACT, day)).await.json();
        assert_eq!(page["hits"]["total"], cap, "cap {cap}");
        assert_eq!(uuids(&page), all, "cap {cap}");
    }
}

/// Each page of one window says another count near the truth, still as exact.
#[tokio::test]
async fn a_jittered_total_changes_from_page_to_page() {
    let sandbox = builder()
        .total_jitter(Some(50))
        .total_form(TotalForm::Tracked)
        .start()
        .await
        .unwrap();
    let day = "dateStart=2024-05-10&dateEnd=2024-05-11&limit=10";
    let day_start: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
    let real = sandbox.event_count(MAIN_CONTRACT, day_start, day_start + TimeDelta::days(1));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let page = get(&sandbox, &page_path(MAIN_CONTRACT, day)).await.json();
        assert_eq!(page["hits"]["total"]["relation"], "eq");
        let value = page["hits"]["total"]["value"].as_u64().unwrap() as usize;
        assert!(value.abs_diff(real) <= 50, "{value} vs {real}");
        seen.insert(value);
    }
    assert!(seen.len() > 5, "{seen:?}");
}

/// A page past the result window answers 400 as Elasticsearch does, with
/// the limit in brackets, or without saying it when asked to.
#[tokio::test]
async fn a_smaller_result_window_refuses_like_elasticsearch() {
    let sandbox = builder().result_window(Some(500)).start().await.unwrap();
    let deep = page_path(MAIN_CONTRACT, "offset=400&limit=200");
    let message = assert_ionos_error(&get(&sandbox, &deep).await, 400);
    assert!(
        message.contains(
            "Result window is too large, from + size must be less than or equal to: [500] but was [600]"
        ),
        "{message}"
    );
    let quiet = builder()
        .result_window(Some(500))
        .result_window_unstated(true)
        .start()
        .await
        .unwrap();
    let message = assert_ionos_error(&get(&quiet, &deep).await, 400);
    assert!(message.contains("Result window is too large"), "{message}");
    assert!(!message.contains("500"), "{message}");
    let fits = page_path(MAIN_CONTRACT, "offset=300&limit=200");
    assert_eq!(get(&quiet, &fits).await.status, 200);
}

#[tokio::test]
async fn tracked_total_says_gte_only_when_capped() {
    let tracked = |cap| {
        Sandbox::builder()
            .events(25_000)
            .seed(7)
            .end(end())
            .total_form(TotalForm::Tracked)
            .total_cap(cap)
            .start()
    };
    let capped = tracked(Some(10_000)).await.unwrap();
    let page = get(&capped, &page_path(MAIN_CONTRACT, "limit=10"))
        .await
        .json();
    assert_eq!(
        page["hits"]["total"],
        serde_json::json!({"value": 10_000, "relation": "gte"})
    );
    assert_eq!(uuids(&page).len(), 10);
    let day = "dateStart=2024-05-10&dateEnd=2024-05-11&limit=10";
    let day_start: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
    let day_count = capped.event_count(MAIN_CONTRACT, day_start, day_start + TimeDelta::days(1));
    assert!(day_count > 10 && day_count < 10_000, "{day_count}");
    let page = get(&capped, &page_path(MAIN_CONTRACT, day)).await.json();
    assert_eq!(
        page["hits"]["total"],
        serde_json::json!({"value": day_count, "relation": "eq"})
    );
    // Exactly at the cap is exact.
    let at_cap = tracked(Some(25_000)).await.unwrap();
    let page = get(&at_cap, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert_eq!(
        page["hits"]["total"],
        serde_json::json!({"value": 25_000, "relation": "eq"})
    );
    let exact = tracked(None).await.unwrap();
    let page = get(&exact, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert_eq!(
        page["hits"]["total"],
        serde_json::json!({"value": 25_000, "relation": "eq"})
    );
}

#[tokio::test]
async fn each_bad_page_kind_has_its_shape() {
    let normal = builder().start().await.unwrap();
    let query = page_path(MAIN_CONTRACT, "dateStart=2024-05-01&limit=30");
    let real = get(&normal, &query).await;
    assert!(is_real_page(&real));
    let real_uuids = uuids(&real.json());
    assert_eq!(real_uuids.len(), 30);
    for kind in BadPageKind::ALL {
        let sandbox = builder()
            .bad_pages(BadPages::rate(1.0).only([kind]))
            .start()
            .await
            .unwrap();
        let reply = get(&sandbox, &query).await;
        assert_eq!(reply.status, 200, "{kind:?}");
        assert!(!is_real_page(&reply), "{kind:?}");
        let body = reply.json();
        match kind {
            BadPageKind::HtmlMaintenance => {
                assert!(content_type(&reply).starts_with("text/html"));
                let text = String::from_utf8_lossy(&reply.body);
                assert!(
                    text.contains("<html") && text.contains("maintenance"),
                    "{text}"
                );
                assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
            }
            BadPageKind::EmptyObject => {
                assert_eq!(content_type(&reply), "application/json");
                assert_eq!(body, serde_json::json!({}));
            }
            BadPageKind::NoHits => {
                assert_eq!(content_type(&reply), "application/json");
                assert!(body.is_object() && body.get("hits").is_none(), "{body}");
            }
            BadPageKind::NoTotal => {
                assert_eq!(content_type(&reply), "application/json");
                assert!(body["hits"].get("total").is_none(), "{body}");
                assert_eq!(uuids(&body), real_uuids);
            }
            BadPageKind::WrongContentType => {
                assert!(content_type(&reply).starts_with("text/plain"));
                assert_eq!(reply.body, real.body);
            }
        }
        assert_eq!(sandbox.bad_pages_served(), 1, "{kind:?}");
        // Only contract pages that would have been 200 are replaced.
        let info = get(&sandbox, "/activitylog/v1").await;
        assert_eq!(info.json()["version"], "v1");
        let contracts = get(&sandbox, "/activitylog/v1/contracts").await;
        assert!(contracts.json().is_array());
        assert_ionos_error(
            &get(&sandbox, &page_path(MAIN_CONTRACT, "limit=x")).await,
            400,
        );
        assert_ionos_error(&get(&sandbox, &page_path(FOREIGN_CONTRACT, "")).await, 403);
        assert_eq!(sandbox.bad_pages_served(), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn bad_pages_follow_the_rate_and_the_seed() {
    let all = builder()
        .bad_pages(BadPages::rate(1.0))
        .start()
        .await
        .unwrap();
    let mut kinds = std::collections::HashSet::new();
    for offset in 0..40 {
        let reply = get(&all, &page_path(MAIN_CONTRACT, &format!("offset={offset}"))).await;
        assert!(
            !is_real_page(&reply),
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        kinds.insert((
            content_type(&reply).to_owned(),
            reply.json().get("hits").is_some(),
        ));
    }
    assert_eq!(all.bad_pages_served(), 40);
    assert!(kinds.len() >= 4, "{kinds:?}");

    let only = builder()
        .bad_pages(BadPages::rate(1.0).only([BadPageKind::EmptyObject, BadPageKind::NoHits]))
        .start()
        .await
        .unwrap();
    for _ in 0..20 {
        let reply = get(&only, &page_path(MAIN_CONTRACT, "")).await;
        assert_eq!(content_type(&reply), "application/json");
        assert!(reply.json().get("hits").is_none());
    }

    let run = || async {
        let sandbox = builder()
            .bad_pages(BadPages::rate(0.3))
            .start()
            .await
            .unwrap();
        let mut pattern = Vec::new();
        for _ in 0..100 {
            let reply = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=5")).await;
            pattern.push(is_real_page(&reply));
        }
        let bad = pattern.iter().filter(|real| !**real).count() as u64;
        assert_eq!(sandbox.bad_pages_served(), bad);
        pattern
    };
    let a = run().await;
    assert_eq!(a, run().await);
    let bad = a.iter().filter(|real| !**real).count();
    assert!((10..=55).contains(&bad), "{bad}");
    assert_eq!(
        BadPages::none(),
        BadPages {
            rate: 0.0,
            kinds: Vec::new()
        }
    );
}

#[tokio::test]
async fn unordered_pages_are_stable_complete_and_not_in_time_order() {
    let sandbox = builder().unordered(true).start().await.unwrap();
    let start: DateTime<Utc> = "2024-05-02T00:00:00Z".parse().unwrap();
    let expected = sandbox.event_uuids(MAIN_CONTRACT, start, None);
    assert!(expected.len() > 500);

    let query = page_path(MAIN_CONTRACT, "dateStart=2024-05-02&offset=100&limit=200");
    let once = get(&sandbox, &query).await.body;
    assert_eq!(once, get(&sandbox, &query).await.body);

    let pages = all_pages(&sandbox, MAIN_CONTRACT, "dateStart=2024-05-02", 100).await;
    assert!(pages.iter().all(|p| p["hits"]["total"] == expected.len()));
    let served: Vec<String> = pages.iter().flat_map(uuids).collect();
    let unique: std::collections::HashSet<&String> = served.iter().collect();
    assert_eq!(served.len(), expected.len());
    assert_eq!(unique.len(), served.len());
    assert_eq!(
        unique,
        expected.iter().collect::<std::collections::HashSet<_>>()
    );
    assert_ne!(served, expected);
    let served_times: Vec<String> = pages.iter().flat_map(times).collect();
    assert!(served_times.windows(2).any(|w| w[0] > w[1]));

    // An overlapping range orders the shared events differently.
    let other = all_pages(&sandbox, MAIN_CONTRACT, "dateStart=2024-05-03", 100).await;
    let other: Vec<String> = other.iter().flat_map(uuids).collect();
    let shared: std::collections::HashSet<&String> = other.iter().collect();
    let in_first: Vec<&String> = served.iter().filter(|u| shared.contains(u)).collect();
    let in_second: Vec<&String> = other.iter().collect();
    assert_eq!(in_first.len(), in_second.len());
    assert_ne!(in_first, in_second);

    // Off by default: time order.
    let ordered = builder().start().await.unwrap();
    let pages = all_pages(&ordered, MAIN_CONTRACT, "dateStart=2024-05-02", 100).await;
    assert_eq!(pages.iter().flat_map(uuids).collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn ingestion_lag_hides_fresh_events_until_they_arrive() {
    let lag = Duration::from_millis(300);
    let sandbox = builder().ingestion_lag(lag).start().await.unwrap();
    let total = |page: &Value| page["hits"]["total"].as_u64().unwrap();
    // The generated events are old: all visible.
    let page = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert_eq!(total(&page), 3_000);

    let since =
        (Utc::now() - TimeDelta::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let recent = page_path(MAIN_CONTRACT, &format!("dateStart={since}&limit=100"));
    let appended: Vec<String> = (0..8)
        .map(|_| sandbox.append_event(MAIN_CONTRACT).unwrap())
        .collect();
    let before = sandbox.visible_event_uuids(MAIN_CONTRACT, None, None);
    let page = get(&sandbox, &recent).await.json();
    let after = sandbox.visible_event_uuids(MAIN_CONTRACT, None, None);
    let shown = uuids(&page);
    assert_eq!(total(&page), shown.len() as u64);
    assert!(
        shown.len() < appended.len(),
        "{} of {}",
        shown.len(),
        appended.len()
    );
    assert!(
        shown
            .iter()
            .all(|u| appended.contains(u) && after.contains(u))
    );
    assert!(
        before
            .iter()
            .filter(|u| appended.contains(u))
            .all(|u| shown.contains(u))
    );
    let full = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert!(total(&full) < 3_008);
    // The expectation helpers still count every stored event.
    assert_eq!(sandbox.event_count(MAIN_CONTRACT, None, None), 3_008);
    let all = sandbox.event_uuids(MAIN_CONTRACT, None, None);
    assert!(appended.iter().all(|u| all.contains(u)));

    tokio::time::sleep(lag + Duration::from_millis(100)).await;
    let page = get(&sandbox, &recent).await.json();
    let mut shown = uuids(&page);
    shown.sort();
    let mut expected = appended.clone();
    expected.sort();
    assert_eq!(shown, expected);
    let full = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    assert_eq!(total(&full), 3_008);
    assert_eq!(sandbox.visible_event_uuids(MAIN_CONTRACT, None, None), all);
}

#[tokio::test]
async fn late_arrivals_are_not_only_the_newest() {
    let lag = Duration::from_millis(1_000);
    let sandbox = Sandbox::builder()
        .events(400)
        .span(TimeDelta::seconds(2))
        .end(Utc::now())
        .ingestion_lag(lag)
        .start()
        .await
        .unwrap();
    let all = sandbox.event_uuids(MAIN_CONTRACT, None, None);
    let page = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1000"))
        .await
        .json();
    let shown: std::collections::HashSet<String> = uuids(&page).into_iter().collect();
    assert_eq!(page["hits"]["total"], shown.len());
    assert!(
        shown.len() < all.len() && shown.len() > 100,
        "{}",
        shown.len()
    );
    // `all` is in time order: some hidden event is older than some visible one.
    let first_hidden = all.iter().position(|u| !shown.contains(u)).unwrap();
    let last_shown = all.iter().rposition(|u| shown.contains(u)).unwrap();
    assert!(first_hidden < last_shown, "{first_hidden} {last_shown}");
    // Offset paging sees the same set as one big page (until more arrive).
    tokio::time::sleep(lag + Duration::from_millis(100)).await;
    let pages = all_pages(&sandbox, MAIN_CONTRACT, "dateStart=2000-01-01", 50).await;
    assert_eq!(pages.iter().flat_map(uuids).collect::<Vec<_>>(), all);
}

#[tokio::test]
async fn live_events_arrive_late_under_ingestion_lag() {
    let sandbox = Sandbox::builder()
        .events(100)
        .live(Duration::from_millis(5))
        .ingestion_lag(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = get(&sandbox, &page_path(MAIN_CONTRACT, "limit=1"))
        .await
        .json();
    let visible = page["hits"]["total"].as_u64().unwrap() as usize;
    let stored = sandbox.event_count(MAIN_CONTRACT, None, None);
    assert!(stored > 120, "{stored}");
    assert!(visible < stored && visible >= 100, "{visible} of {stored}");
}

#[tokio::test]
async fn bursts_crowd_one_second_and_page_through() {
    let at: DateTime<Utc> = "2024-05-20T10:00:00.750Z".parse().unwrap();
    let mut contracts = default_contracts(3_000);
    contracts[0] = contracts[0].clone().burst(at, 2_500);
    contracts[1] = contracts[1]
        .clone()
        .burst(at, 10)
        .burst(at + TimeDelta::hours(1), 20);
    let sandbox = builder().contracts(contracts).start().await.unwrap();
    let second: DateTime<Utc> = "2024-05-20T10:00:00Z".parse().unwrap();
    let expected = sandbox.event_uuids(MAIN_CONTRACT, second, second + TimeDelta::seconds(1));
    assert!(
        expected.len() >= 2_500 && expected.len() < 2_510,
        "{}",
        expected.len()
    );
    assert_eq!(sandbox.event_count(MAIN_CONTRACT, None, None), 5_500);
    assert_eq!(sandbox.event_count(SECOND_CONTRACT, None, None), 600 + 30);

    let query = "dateStart=2024-05-20T10:00:00Z&dateEnd=2024-05-20T10:00:01Z";
    let pages = all_pages(&sandbox, MAIN_CONTRACT, query, 1_000).await;
    assert!(pages.iter().all(|p| p["hits"]["total"] == expected.len()));
    assert_eq!(pages.iter().flat_map(uuids).collect::<Vec<_>>(), expected);
    let stamps: Vec<String> = pages.iter().flat_map(times).collect();
    assert!(stamps.iter().all(|t| t.starts_with("2024-05-20T10:00:00.")));
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    let distinct: std::collections::HashSet<&String> = stamps.iter().collect();
    assert!(distinct.len() > 500, "{}", distinct.len());
    // Burst events render like any other.
    let sources = sandbox.event_sources(MAIN_CONTRACT, second, second + TimeDelta::seconds(1));
    let served = serde_json::to_string(&pages[0]["hits"]["hits"][0]["_source"]).unwrap();
    let source: Value = serde_json::from_str(&sources[0]).unwrap();
    assert_eq!(served, serde_json::to_string(&source).unwrap());
}

#[tokio::test]
async fn whole_second_dates_drop_fractions() {
    let at: DateTime<Utc> = "2024-05-20T10:00:00Z".parse().unwrap();
    let mut contracts = default_contracts(3_000);
    contracts[0] = contracts[0].clone().burst(at, 2_000);
    let precise = builder()
        .contracts(contracts.clone())
        .start()
        .await
        .unwrap();
    let coarse = builder()
        .contracts(contracts)
        .whole_second_dates(true)
        .start()
        .await
        .unwrap();
    let whole = precise.event_uuids(MAIN_CONTRACT, at, at + TimeDelta::seconds(1));
    let sources = precise.event_sources(MAIN_CONTRACT, at, at + TimeDelta::seconds(1));
    let early = sources
        .iter()
        .filter(|s| {
            let v: Value = serde_json::from_str(s).unwrap();
            v["meta"]["time"].as_str().unwrap() < "2024-05-20T10:00:00.200Z"
        })
        .count();
    assert!(early > 100, "{early}");

    let query = "dateStart=2024-05-20T10:00:00.900Z&dateEnd=2024-05-20T10:00:01Z";
    let pages = all_pages(&coarse, MAIN_CONTRACT, query, 1_000).await;
    assert_eq!(pages.iter().flat_map(uuids).collect::<Vec<_>>(), whole);
    assert!(
        pages
            .iter()
            .flat_map(times)
            .any(|t| t.as_str() < "2024-05-20T10:00:00.200Z")
    );
    assert_eq!(
        coarse.event_uuids(
            MAIN_CONTRACT,
            "2024-05-20T10:00:00.900Z".parse::<DateTime<Utc>>().unwrap(),
            at + TimeDelta::seconds(1)
        ),
        whole
    );
    // With millisecond precision (the default) the fraction counts.
    let pages = all_pages(&precise, MAIN_CONTRACT, query, 1_000).await;
    let served: Vec<String> = pages.iter().flat_map(times).collect();
    assert!(!served.is_empty() && served.len() < whole.len() / 5);
    assert!(
        served
            .iter()
            .all(|t| t.as_str() >= "2024-05-20T10:00:00.900Z")
    );
    // dateEnd loses its fraction too: the burst second drops out.
    let query = "dateStart=2024-05-20T09:59:59Z&dateEnd=2024-05-20T10:00:00.999Z&limit=1000";
    let page = get(&coarse, &page_path(MAIN_CONTRACT, query)).await.json();
    assert!(
        page["hits"]["total"].as_u64().unwrap() < 10,
        "{}",
        page["hits"]["total"]
    );
    assert!(uuids(&page).iter().all(|u| !whole.contains(u)));
    let page = get(&precise, &page_path(MAIN_CONTRACT, query)).await.json();
    assert!(
        page["hits"]["total"].as_u64().unwrap() > 1_900,
        "{}",
        page["hits"]["total"]
    );
}

#[tokio::test]
async fn from_config_carries_the_new_knobs() {
    let at: DateTime<Utc> = "2024-05-20T10:00:00Z".parse().unwrap();
    let config = builder()
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, 10).burst(at, 5)])
        .total_cap(Some(7))
        .total_form(TotalForm::Tracked)
        .bad_pages(BadPages::rate(0.5).only([BadPageKind::NoTotal]))
        .unordered(true)
        .ingestion_lag(Duration::from_secs(2))
        .whole_second_dates(true)
        .total_jitter(Some(3))
        .result_window_unstated(true)
        .config()
        .clone();
    let rebuilt = SandboxBuilder::from_config(config.clone());
    let again = rebuilt.config();
    assert_eq!(again.total_cap, Some(7));
    assert_eq!(again.total_form, TotalForm::Tracked);
    assert_eq!(again.total_jitter, Some(3));
    assert!(again.result_window_unstated);
    assert_eq!(again.bad_pages, config.bad_pages);
    assert!(again.unordered && again.whole_second_dates);
    assert_eq!(again.ingestion_lag, Some(Duration::from_secs(2)));
    assert_eq!(again.contracts[0].bursts, vec![(at, 5)]);
    let debug = format!("{again:?}");
    assert!(debug.len() < 2_000, "{debug}");
    let defaults = SandboxConfig::default();
    assert_eq!(defaults.total_cap, None);
    assert_eq!(defaults.total_form, TotalForm::Integer);
    assert_eq!(defaults.total_jitter, None);
    assert!(!defaults.result_window_unstated);
    assert_eq!(defaults.bad_pages, BadPages::none());
    assert!(!defaults.unordered && !defaults.whole_second_dates);
    assert_eq!(defaults.ingestion_lag, None);
    assert!(defaults.contracts.iter().all(|c| c.bursts.is_empty()));
}
