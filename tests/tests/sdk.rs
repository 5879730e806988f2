//! The SDK's behaviour over real HTTP: configuration, auth headers, secrets,
//! retries and errors.

use std::time::{Duration, Instant};

use activitylog_client::{
    ActivityLog, Config, Credentials, DateBound, Error, RawEvent, RetryPolicy,
};
use activitylog_tests::{MockServer, Reply, fixture};
use futures::{StreamExt, TryStreamExt};

const CONTRACTS: &str = r#"[{"id": 31721060, "type": "contracts", "href": "x"}]"#;

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

fn log_for(server: &MockServer, retry: RetryPolicy) -> ActivityLog {
    ActivityLog::new(
        Config::new(Credentials::token("t"))
            .api_url(server.url())
            .retry(retry),
    )
    .unwrap()
}

#[tokio::test]
async fn environment_basic_credentials_reach_the_server() {
    let server = MockServer::start(|_| Reply::json(CONTRACTS)).await;
    let vars = [
        ("IONOS_USERNAME", "me@example.com"),
        ("IONOS_PASSWORD", "pw"),
        ("IONOS_API_URL", server.url()),
    ];
    let log = ActivityLog::new(Config::from_lookup(env(&vars)).unwrap()).unwrap();
    log.contracts().await.unwrap();
    // base64("me@example.com:pw")
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Basic bWVAZXhhbXBsZS5jb206cHc=")
    );
}

#[tokio::test]
async fn environment_token_takes_precedence_and_sets_user_agent() {
    let server = MockServer::start(|_| Reply::json(CONTRACTS)).await;
    let url = format!("{}/", server.url());
    let vars = [
        ("IONOS_TOKEN", "tok"),
        ("IONOS_USERNAME", "u"),
        ("IONOS_PASSWORD", "p"),
        ("IONOS_API_URL", &url),
    ];
    let log = ActivityLog::new(Config::from_lookup(env(&vars)).unwrap()).unwrap();
    log.contracts().await.unwrap();
    let request = &server.requests()[0];
    assert_eq!(request.header("authorization"), Some("Bearer tok"));
    assert_eq!(
        request.path, "/activitylog/v1/contracts",
        "trailing slash of IONOS_API_URL handled"
    );
    assert!(
        request
            .header("user-agent")
            .unwrap()
            .starts_with("activitylog-rs/")
    );
}

#[tokio::test]
async fn reseller_contract_header_is_sent() {
    let server = MockServer::start(|_| Reply::json(CONTRACTS)).await;
    let config = Config::new(Credentials::token("t"))
        .api_url(server.url())
        .contract_number_header(12345678);
    ActivityLog::new(config).unwrap().contracts().await.unwrap();
    assert_eq!(
        server.requests()[0].header("x-contract-number"),
        Some("12345678")
    );
}

#[test]
fn missing_credentials_name_the_variables_to_set() {
    let message = Config::from_lookup(env(&[])).unwrap_err().to_string();
    assert!(
        message.contains("IONOS_TOKEN")
            && message.contains("IONOS_USERNAME")
            && message.contains("IONOS_PASSWORD")
    );
}

#[test]
fn credentials_over_plain_http_to_a_remote_host_are_refused() {
    let config = Config::new(Credentials::token("t")).api_url("http://api.example.com");
    let error = ActivityLog::new(config.clone()).unwrap_err();
    assert!(
        matches!(error, Error::Config(_)) && error.to_string().contains("plain http"),
        "{error}"
    );
    assert!(ActivityLog::new(config.allow_insecure_http(true)).is_ok());
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    for fault in [
        Reply::status(500, ""),
        Reply::status(502, ""),
        Reply::status(503, ""),
        Reply::status(504, ""),
        Reply::Drop,
    ] {
        let server = MockServer::scripted(vec![fault.clone(), Reply::json(CONTRACTS)]).await;
        let contracts = log_for(&server, fast_retries()).contracts().await.unwrap();
        assert_eq!(contracts.len(), 1, "{fault:?}");
        assert_eq!(server.requests().len(), 2, "{fault:?}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = MockServer::scripted(vec![
        Reply::status(429, "{}").with_header("retry-after", "1"),
        Reply::json(CONTRACTS),
    ])
    .await;
    let started = Instant::now();
    log_for(&server, fast_retries()).contracts().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before the server's Retry-After"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn attempts_are_bounded_and_reported() {
    let server = MockServer::start(|_| Reply::status(503, "down")).await;
    let error = log_for(&server, fast_retries().max_attempts(3))
        .contracts()
        .await
        .unwrap_err();
    assert_eq!(server.requests().len(), 3);
    match &error {
        Error::Server {
            status, attempts, ..
        } => assert_eq!((*status, *attempts), (Some(503), 3)),
        other => panic!("expected a server error, got {other}"),
    }
    assert!(error.to_string().contains("after 3 attempt"), "{error}");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let cases = [
        (
            400,
            r#"{"httpStatus":400,"messages":[{"errorCode":"422","message":"dateStart is invalid"}]}"#,
        ),
        (401, ""),
        (403, ""),
        (404, ""),
        (409, "conflict"),
    ];
    for (status, body) in cases {
        let server = MockServer::start(move |_| Reply::status(status, body)).await;
        let error = log_for(&server, fast_retries())
            .contracts()
            .await
            .unwrap_err();
        assert_eq!(server.requests().len(), 1, "HTTP {status} was retried");
        let message = error.to_string();
        match status {
            400 => assert_eq!(message, "bad request (HTTP 400): 422: dateStart is invalid"),
            401 => assert!(
                matches!(error, Error::Unauthorized) && message.contains("2-factor"),
                "{message}"
            ),
            403 => assert!(
                matches!(error, Error::Forbidden { .. }) && message.contains("privilege"),
                "{message}"
            ),
            404 => assert!(message.contains("IONOS_API_URL"), "{message}"),
            _ => assert!(message.contains("conflict"), "{message}"),
        }
        assert!(!message.contains('\n'), "one line: {message}");
    }
}

#[tokio::test]
async fn forbidden_download_names_the_contract() {
    let server = MockServer::start(|_| Reply::status(403, "")).await;
    let error = log_for(&server, fast_retries())
        .entries(98765432)
        .raw()
        .try_collect::<Vec<RawEvent>>()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("98765432"), "{error}");
}

#[tokio::test]
async fn a_truncated_body_is_retried_not_reported_as_garbage() {
    let body = fixture("seed_page.json").into_bytes();
    let keep = body.len() / 2;
    let server = MockServer::scripted(vec![
        Reply::Truncated {
            body: body.clone(),
            keep,
        },
        Reply::json(body),
    ])
    .await;
    let events: Vec<RawEvent> = log_for(&server, fast_retries())
        .entries(31721060)
        .since("2016-09-01".parse::<DateBound>().unwrap())
        .until("2016-10-01".parse::<DateBound>().unwrap())
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_page_that_stays_broken_says_what_was_not_fetched() {
    let server = MockServer::start(|_| Reply::status(502, "")).await;
    let error = log_for(&server, fast_retries().max_attempts(2))
        .entries(31721060)
        .since("2024-01-01".parse::<DateBound>().unwrap())
        .until("2024-01-08".parse::<DateBound>().unwrap())
        .raw()
        .try_collect::<Vec<RawEvent>>()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Incomplete { .. }), "{message}");
    for part in [
        "31721060",
        "2024-01-01T00:00:00Z",
        "2024-01-08T00:00:00Z",
        "502",
        "2 attempt",
    ] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

#[tokio::test]
async fn garbage_from_the_server_is_a_decode_error_with_context() {
    let server = MockServer::start(|_| {
        Reply::json(r#"{"hits": {"total": 1, "hits": [{"_source": tru }]}}"#)
    })
    .await;
    let error = log_for(&server, fast_retries())
        .entries(31721060)
        .raw()
        .try_collect::<Vec<RawEvent>>()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("getByContract") && message.contains("tru"),
        "{message}"
    );
}

#[tokio::test]
async fn a_reversed_range_is_refused_before_any_request() {
    let server = MockServer::start(|_| Reply::json("{}")).await;
    let mut events = log_for(&server, fast_retries())
        .entries(31721060)
        .since("2024-02-01".parse::<DateBound>().unwrap())
        .until("2024-01-01".parse::<DateBound>().unwrap())
        .raw();
    let error = events.next().await.unwrap().unwrap_err();
    assert!(matches!(error, Error::InvalidRange(_)), "{error}");
    assert!(events.next().await.is_none());
    assert!(server.requests().is_empty());
}

/// A user's own `reqwest::Client` (proxies, roots, default headers) sends
/// every request, downloads included, and the credentials still travel.
#[tokio::test]
async fn a_users_own_http_client_sends_every_request_with_the_credentials() {
    let server = MockServer::start(|request| match request.path.as_str() {
        "/activitylog/v1/contracts" => Reply::json(CONTRACTS),
        _ => Reply::json(r#"{"hits":{"total":0,"hits":[]}}"#),
    })
    .await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-from-my-client", "yes".parse().unwrap());
    // reqwest's rustls comes without a crypto provider here: install *ring*.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let log = ActivityLog::builder(Credentials::basic("me@example.com", "pw"))
        .api_url(server.url())
        .http_client(http)
        .build()
        .unwrap();
    log.contracts().await.unwrap();
    let events: Vec<RawEvent> = log
        .entries(31721060)
        .since(DateBound::Date("2024-01-01".parse().unwrap()))
        .until(DateBound::Date("2024-01-02".parse().unwrap()))
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert!(events.is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.header("x-from-my-client"),
            Some("yes"),
            "{request:?}"
        );
        assert_eq!(
            request.header("authorization"),
            Some("Basic bWVAZXhhbXBsZS5jb206cHc="),
            "{}",
            request.path
        );
    }
}

/// The README's SDK example is compiled code: the lines between the markers
/// of `activitylog-client/examples/readme.rs`, word for word.
#[test]
fn the_readme_sdk_example_is_this_example() {
    let normalize = |text: &str| {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let readme = include_str!("../../README.md");
    let block = readme
        .split("## The SDK in five lines")
        .nth(1)
        .and_then(|rest| rest.split("```rust").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README has the SDK example");
    let example = include_str!("../../activitylog-client/examples/readme.rs");
    let body = example
        .split("// README begin")
        .nth(1)
        .and_then(|rest| rest.split("// README end").next())
        .expect("the example marks the README's lines");
    assert_eq!(normalize(block), normalize(body));
}
