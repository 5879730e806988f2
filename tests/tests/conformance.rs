//! Conformance: every request the SDK and the CLI can send is acceptable to a
//! server that knows nothing but the spec, Stoplight Prism mocking
//! `openapi/activitylog.json`. Prism validates each request against the spec
//! (422 for a parameter that violates it, 401 without credentials, 404 for a
//! path the spec does not have) before it answers with data made up from the
//! response schemas.
//!
//! The tests need a running Prism named by `PRISM_URL`, so they are
//! `#[ignore]`d: `conformance/run.sh` (called by `.ci/run`) starts Prism and
//! runs them with `--ignored`. Run with `--ignored` but without `PRISM_URL`,
//! they fail: no test reports "ok" without having run. Every request goes through a recording
//! proxy in this process, so the assertions are on the status Prism gave each
//! request, not only on what the SDK or the CLI made of the answer.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use activitylog_client::{ActivityLog, Config, Credentials, DateBound, RetryPolicy, Update};
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Where a running Prism listens, e.g. `http://127.0.0.1:4010`.
const PRISM_URL: &str = "PRISM_URL";

/// `host:port` of the Prism named by `PRISM_URL`.
fn prism(test: &str) -> String {
    let url = std::env::var(PRISM_URL)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("{test}: {PRISM_URL} is not set; conformance/run.sh starts Prism and sets it")
        });
    let address = url
        .trim()
        .trim_end_matches('/')
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{PRISM_URL} must be an http:// URL, got {url}"));
    address.to_string()
}

/// One request as Prism answered it.
#[derive(Clone, Debug)]
struct Exchange {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// The scheme of the `Authorization` header (`Basic`, `Bearer`), if any.
    auth_scheme: Option<String>,
    status: u16,
    /// The start of Prism's answer, to explain a rejection.
    body: String,
}

impl Exchange {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The names of the query parameters, in order.
    fn query_names(&self) -> Vec<&str> {
        self.target
            .split_once('?')
            .map(|(_, query)| {
                query
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| pair.split('=').next().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (auth {}) -> {} {}",
            self.method,
            self.target,
            self.auth_scheme.as_deref().unwrap_or("none"),
            self.status,
            self.body
        )
    }
}

/// A recording HTTP/1.1 proxy on 127.0.0.1 in front of Prism: one request
/// per connection (`Connection: close` both ways); stops when dropped.
struct Proxy {
    url: String,
    log: Arc<Mutex<Vec<Exchange>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, log) = (upstream.clone(), shared.clone());
                tokio::spawn(async move {
                    if let Err(error) = relay(client, &upstream, &log).await {
                        eprintln!("proxy: {error}");
                    }
                });
            }
        });
        Proxy { url, log, task }
    }

    fn url(&self) -> &str {
        &self.url
    }

    /// The exchanges so far, and forgets them.
    fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads up to the end of the header block (GET requests have no body).
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..read]);
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head over 64 KiB"));
        }
    }
    Ok(Some(head))
}

/// The header block with any `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut lines = head.trim_end_matches("\r\n").split("\r\n");
    let mut out = format!("{}\r\n", lines.next().unwrap_or_default());
    for line in lines {
        let name = line.split(':').next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn header<'a>(head: &'a str, wanted: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case(wanted)
            .then_some(value.trim())
    })
}

async fn relay(
    mut client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Exchange>>,
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut client).await? else {
        return Ok(());
    };
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("read_head stops after the blank line")
        + 4;
    let request = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut words = request.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default().to_string();
    let auth_scheme = header(&request, "authorization")
        .and_then(|value| value.split_whitespace().next())
        .map(str::to_string);

    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(closing(&request).as_bytes()).await?;
    server.write_all(&head[end..]).await?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;

    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |at| at + 4);
    let response_head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = response_head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body: String = String::from_utf8_lossy(&response[split..])
        .chars()
        .take(400)
        .collect();
    // Recorded before the client sees the answer, so a finished call is always in the log.
    log.lock().unwrap().push(Exchange {
        method,
        target,
        auth_scheme,
        status,
        body,
    });
    client.write_all(closing(&response_head).as_bytes()).await?;
    client.write_all(&response[split..]).await?;
    client.shutdown().await
}

/// Fails, listing them, if Prism refused any request (anything but 2xx).
fn assert_all_accepted(exchanges: &[Exchange]) {
    assert!(!exchanges.is_empty(), "no request reached Prism");
    let refused: Vec<String> = exchanges
        .iter()
        .filter(|e| !(200..300).contains(&e.status))
        .map(Exchange::to_string)
        .collect();
    assert!(
        refused.is_empty(),
        "Prism refused {} of {} requests:\n{}",
        refused.len(),
        exchanges.len(),
        refused.join("\n")
    );
}

fn log_for(proxy: &Proxy, credentials: Credentials) -> Config {
    // A 5xx or 429 must show up as such, not be retried away.
    Config::new(credentials)
        .api_url(proxy.url())
        .retry(RetryPolicy::none())
}

fn token() -> Credentials {
    Credentials::token("prism-token")
}

fn basic() -> Credentials {
    Credentials::basic("conformance@example.com", "pass:word with spaces")
}

/// One GET straight to Prism: its status.
async fn status_of(address: &str, target: &str, authorization: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(address).await.expect("Prism answers");
    let auth = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\n{auth}Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Without this, "Prism accepted everything" could mean a Prism that checks nothing.
#[ignore = "needs Prism: conformance/run.sh starts it and runs these with --ignored"]
#[tokio::test]
async fn prism_refuses_what_the_spec_forbids() {
    let address = prism("prism_refuses_what_the_spec_forbids");
    let bearer = Some("Bearer prism-token");
    let cases = [
        ("/activitylog/v1", bearer, 200),
        ("/activitylog/v1", None, 401),
        ("/activitylog/v1/contracts", None, 401),
        (
            "/activitylog/v1/contracts/31721060?offset=0&limit=10",
            bearer,
            200,
        ),
        ("/activitylog/v1/contracts/abc", bearer, 422),
        (
            "/activitylog/v1/contracts/31721060?offset=first",
            bearer,
            422,
        ),
        ("/activitylog/v1/contracts/31721060?limit=1.5", bearer, 422),
        ("/activitylog/v2/contracts", bearer, 404),
    ];
    for (target, authorization, expected) in cases {
        let status = status_of(&address, target, authorization).await;
        assert_eq!(status, expected, "GET {target} with {authorization:?}");
    }
}

#[ignore = "needs Prism: conformance/run.sh starts it and runs these with --ignored"]
#[tokio::test]
async fn info_and_contracts_with_basic_and_bearer_auth() {
    let address = prism("info_and_contracts_with_basic_and_bearer_auth");
    let proxy = Proxy::start(address).await;
    for credentials in [token(), basic()] {
        for reseller in [false, true] {
            let mut config = log_for(&proxy, credentials.clone());
            if reseller {
                config = config.contract_number_header(31721060);
            }
            let log = ActivityLog::new(config).unwrap();
            let info = log.info().await.expect("getInfo");
            assert!(info.name.is_some(), "{info:?}");
            log.contracts().await.expect("getAvailableContracts");
        }
    }
    let exchanges = proxy.take();
    assert_all_accepted(&exchanges);
    assert_eq!(exchanges.len(), 8);
    let schemes: BTreeSet<_> = exchanges
        .iter()
        .filter_map(|e| e.auth_scheme.as_deref())
        .collect();
    assert_eq!(schemes, BTreeSet::from(["Basic", "Bearer"]));
    let paths: BTreeSet<_> = exchanges.iter().map(Exchange::path).collect();
    assert_eq!(
        paths,
        BTreeSet::from(["/activitylog/v1", "/activitylog/v1/contracts"])
    );
}

#[ignore = "needs Prism: conformance/run.sh starts it and runs these with --ignored"]
#[tokio::test]
async fn get_by_contract_with_each_optional_parameter_present_or_absent() {
    let address = prism("get_by_contract_with_each_optional_parameter_present_or_absent");
    let proxy = Proxy::start(address).await;
    // The documented date forms, and the SDK's rendering of instants with milliseconds.
    let date_styles = [
        ("2016-07-01", "2016-07-30"),
        ("2021-09-23T11:43:51Z", "2021-09-27T10:31:15.250Z"),
    ];
    let mut expected = Vec::new();
    for (style, (start, end)) in date_styles.into_iter().enumerate() {
        let credentials = if style == 0 { token() } else { basic() };
        let log = ActivityLog::new(log_for(&proxy, credentials)).unwrap();
        for mask in 0u8..16 {
            let mut request = log.client().get_by_contract().contract_number(31721060);
            let mut names = Vec::new();
            if mask & 1 != 0 {
                request = request.date_start(start);
                names.push("dateStart");
            }
            if mask & 2 != 0 {
                request = request.date_end(end);
                names.push("dateEnd");
            }
            if mask & 4 != 0 {
                request = request.offset(9_000);
                names.push("offset");
            }
            if mask & 8 != 0 {
                request = request.limit(1_000);
                names.push("limit");
            }
            let page = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("getByContract with {names:?}: {e}"));
            assert!(page.into_inner().hits.is_some());
            names.sort_unstable();
            expected.push(names);
        }
    }
    let exchanges = proxy.take();
    assert_all_accepted(&exchanges);
    let mut sent: Vec<Vec<&str>> = exchanges
        .iter()
        .map(|e| {
            let mut names = e.query_names();
            names.sort_unstable();
            names
        })
        .collect();
    sent.sort();
    expected.sort();
    assert_eq!(sent, expected, "each combination sent exactly once");
    assert!(
        exchanges
            .iter()
            .all(|e| e.path() == "/activitylog/v1/contracts/31721060")
    );
}

fn instant(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[ignore = "needs Prism: conformance/run.sh starts it and runs these with --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_engine_page_requests() {
    let address = prism("download_engine_page_requests");
    let proxy = Proxy::start(address).await;
    let log = ActivityLog::new(log_for(&proxy, token())).unwrap();
    let day = |text: &str| text.parse::<DateBound>().unwrap();

    // Dates; instants with and without milliseconds; the default range (the
    // last 90 days, closed now); a year (cut into 90-day windows) a page of
    // one entry at a time, 8 in flight, with Basic auth.
    let raw: Vec<_> = log
        .entries(31721060)
        .since(day("2024-01-01"))
        .until(day("2024-02-01"))
        .page_size(1000)
        .raw()
        .try_collect()
        .await
        .expect("raw download by dates");
    assert!(!raw.is_empty(), "Prism's page has one made-up event");
    log.entries(12345678)
        .since(instant("2024-03-01T10:00:00.125Z"))
        .until(instant("2024-03-02T00:00:00Z"))
        .page_size(50)
        .raw()
        .try_collect::<Vec<_>>()
        .await
        .expect("raw download by instants");
    log.entries(31721060)
        .raw()
        .try_collect::<Vec<_>>()
        .await
        .expect("download of the default range");
    let by_basic = ActivityLog::new(log_for(&proxy, basic()).concurrency(8)).unwrap();
    by_basic
        .entries(31721060)
        .since(day("2023-01-01"))
        .until(day("2024-01-01"))
        .page_size(1)
        .stream()
        .try_collect::<Vec<_>>()
        .await
        .expect("typed download of a year");
    let count = log
        .entries(31721060)
        .since(Utc::now() - TimeDelta::days(200))
        .count()
        .await
        .expect("count");
    assert!(count >= 1);
    let updates: Vec<Update> = log
        .entries(31721060)
        .since(day("2024-05-01"))
        .until(instant("2024-05-02T12:30:00Z"))
        .updates()
        .try_collect()
        .await
        .expect("updates");
    assert!(
        updates
            .iter()
            .any(|u| matches!(u, Update::Completed { .. }))
    );

    let exchanges = proxy.take();
    assert_all_accepted(&exchanges);
    for exchange in &exchanges {
        let mut names = exchange.query_names();
        names.sort_unstable();
        assert_eq!(
            names,
            ["dateEnd", "dateStart", "limit", "offset"],
            "{exchange}"
        );
        assert!(exchange.path().starts_with("/activitylog/v1/contracts/"));
    }
    // The year was cut into windows: more than one request per download.
    assert!(exchanges.len() >= 10, "{} requests", exchanges.len());
}

/// The `activitylog` program built from the current source (see `cli.rs`).
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// Runs the binary with `env` (and no other IONOS_ variable) and `args`.
async fn cli(env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut command = Command::new(binary());
    for name in [
        "IONOS_TOKEN",
        "IONOS_USERNAME",
        "IONOS_PASSWORD",
        "IONOS_API_URL",
    ] {
        command.env_remove(name);
    }
    command
        .envs(env.iter().copied())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = stdin.map(str::to_string);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the activitylog binary runs");
        if let (Some(input), Some(mut pipe)) = (input, child.stdin.take()) {
            std::io::Write::write_all(&mut pipe, input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Environment, arguments, and what to write to stdin.
type CliRun<'a> = (&'a [(&'a str, &'a str)], Vec<&'a str>, Option<&'a str>);

#[ignore = "needs Prism: conformance/run.sh starts it and runs these with --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands() {
    let address = prism("cli_commands");
    let proxy = Proxy::start(address).await;
    let url = proxy.url().to_string();
    let with_path = format!("{url}/activitylog/v1/");
    let token_env = [
        ("IONOS_API_URL", url.as_str()),
        ("IONOS_TOKEN", "prism-token"),
    ];
    let basic_env = [
        ("IONOS_API_URL", with_path.as_str()),
        ("IONOS_USERNAME", "conformance@example.com"),
        ("IONOS_PASSWORD", "secret"),
    ];
    let stdin_env = [("IONOS_API_URL", url.as_str())];
    let scratch =
        std::env::temp_dir().join(format!("activitylog-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let out = scratch.join("export.ndjson");
    let out = out.to_str().unwrap();

    let runs: Vec<CliRun> = vec![
        (&token_env, vec!["info"], None),
        (&token_env, vec!["contracts"], None),
        (&basic_env, vec!["info", "--format", "json"], None),
        (&basic_env, vec!["contracts", "--format", "csv"], None),
        (
            &token_env,
            vec![
                "entries",
                "31721060",
                "--since",
                "2024-01-01",
                "--until",
                "2024-02-01",
            ],
            None,
        ),
        (
            &basic_env,
            vec![
                "entries",
                "12345678",
                "--since",
                "7d",
                "--page-size",
                "10",
                "--concurrency",
                "2",
                "--format",
                "json",
            ],
            None,
        ),
        (
            &token_env,
            vec![
                "entries",
                "31721060",
                "--since",
                "2024-01-01T00:00:00Z",
                "--until",
                "2024-04-15T12:00:00.250+02:00",
                "--out",
                out,
                "--resume",
                "--status",
                "DONE",
            ],
            None,
        ),
        (&token_env, vec!["entries", "31721060"], None),
        (
            &stdin_env,
            vec!["--token-stdin", "contracts"],
            Some("prism-token\n"),
        ),
    ];
    for (env, args, stdin) in runs {
        let (code, stderr) = cli(env, &args, stdin).await;
        let exchanges = proxy.take();
        assert_eq!(code, 0, "activitylog {args:?} failed:\n{stderr}");
        assert!(!exchanges.is_empty(), "activitylog {args:?} sent nothing");
        assert_all_accepted(&exchanges);
        if args[0] == "entries" {
            // Pages name all four parameters; `getInfo` (the service's
            // clock, asked once before an open range) names none.
            let pages: Vec<_> = exchanges
                .iter()
                .filter(|e| e.path().starts_with("/activitylog/v1/contracts/"))
                .collect();
            assert!(!pages.is_empty(), "{args:?}");
            assert!(
                pages
                    .iter()
                    .all(|e| e.query_names().len() == 4 && e.target.contains("dateStart=")),
                "{args:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
