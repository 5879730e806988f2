//! Test support: a recording HTTP/1.1 server on 127.0.0.1 whose answers a
//! test scripts, byte for byte (so it can also cut bodies and drop
//! connections).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
}

impl Recorded {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the server does with a request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response.
    Full {
        /// HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Announces the whole body but sends only the first `keep` bytes, then closes.
    Truncated {
        /// The whole body.
        body: Vec<u8>,
        /// Bytes actually sent.
        keep: usize,
    },
    /// Closes the connection without answering.
    Drop,
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Reply::status(200, body)
    }

    /// Any status with a body.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header to a full reply.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// The recording server; stops when dropped.
pub struct MockServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    concurrency: Arc<Concurrency>,
    task: JoinHandle<()>,
}

/// Requests being answered now, and the most at once.
#[derive(Default)]
struct Concurrency {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl MockServer {
    /// Serves `events` (each an entry's JSON, the `_source` of a hit) as the
    /// API pages them: by `offset` and `limit`, with `hits.total` their count.
    pub async fn serving(events: Vec<String>) -> Self {
        Self::start(move |request| {
            let offset: usize = request.param("offset").unwrap_or("0").parse().unwrap_or(0);
            let limit: usize = request.param("limit").unwrap_or("20").parse().unwrap_or(20);
            let hits: Vec<String> = events
                .iter()
                .skip(offset)
                .take(limit)
                .map(|source| format!(r#"{{"_source":{source}}}"#))
                .collect();
            Reply::json(format!(
                r#"{{"hits":{{"total":{},"hits":[{}]}}}}"#,
                events.len(),
                hits.join(",")
            ))
        })
        .await
    }

    /// Serves `handler`'s replies on an ephemeral port of 127.0.0.1.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with_delay(std::time::Duration::ZERO, handler).await
    }

    /// Like [`MockServer::start`], answering each request after `delay`.
    pub async fn start_with_delay(
        delay: std::time::Duration,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let log = requests.clone();
        let concurrency = Arc::new(Concurrency::default());
        let counter = concurrency.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (handler, log, counter) = (handler.clone(), log.clone(), counter.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    let now = counter.now.fetch_add(1, Ordering::SeqCst) + 1;
                    counter.most.fetch_max(now, Ordering::SeqCst);
                    let reply = handler(&request);
                    log.lock().unwrap().push(request);
                    tokio::time::sleep(delay).await;
                    counter.now.fetch_sub(1, Ordering::SeqCst);
                    let _ = write_reply(&mut socket, reply).await;
                });
            }
        });
        MockServer {
            url,
            requests,
            concurrency,
            task,
        }
    }

    /// Replies from `script` in turn; the last one repeats.
    pub async fn scripted(script: Vec<Reply>) -> Self {
        let next = AtomicUsize::new(0);
        Self::start(move |_| {
            let index = next.fetch_add(1, Ordering::SeqCst).min(script.len() - 1);
            script[index].clone()
        })
        .await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The most requests that were being answered at the same time.
    pub fn most_concurrent(&self) -> usize {
        self.concurrency.most.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let head = String::from_utf8_lossy(&buffer);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Some(Recorded {
        method,
        path: path.to_string(),
        query: parse_query(query),
        headers,
    })
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn write_reply(socket: &mut tokio::net::TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body).await?;
        }
        Reply::Truncated { body, keep } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body[..keep.min(body.len())]).await?;
        }
        Reply::Drop => {}
    }
    socket.flush().await?;
    socket.shutdown().await
}

/// A fixture file of `tests/fixtures/`, as text.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Running the `activitylog` program in end-to-end tests.
pub mod cli {
    use std::ffi::OsStr;
    use std::path::Path;
    use std::process::{Command, Output, Stdio};

    /// Every variable the program reads its configuration from.
    const CONFIGURATION: [&str; 17] = [
        "IONOS_TOKEN",
        "IONOS_USERNAME",
        "IONOS_PASSWORD",
        "IONOS_API_URL",
        "IONOS_CONFIG_FILE",
        "IONOS_CURRENT_PROFILE",
        "IONOS_LOG_LEVEL",
        "IONOS_PINNED_CERT",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "IONOS_CONTRACT_NUMBER",
    ];

    /// `program` with none of the caller's IONOS_ or proxy variables, `home` as HOME
    /// (so no developer's `~/.ionos/config` leaks in), 160 columns and no stdin.
    pub fn isolated(program: impl AsRef<OsStr>, home: &Path) -> Command {
        let mut command = Command::new(program);
        for name in CONFIGURATION {
            command.env_remove(name);
        }
        command
            .env("HOME", home)
            .env_remove("USERPROFILE")
            .env("COLUMNS", "160")
            .stdin(Stdio::null());
        command
    }

    /// `program` isolated as [`isolated`] (HOME in `home`) and pointed at
    /// `sandbox` through `IONOS_API_URL` and `IONOS_TOKEN`.
    pub fn against(
        program: impl AsRef<OsStr>,
        home: &Path,
        sandbox: &activitylog_sandbox::Sandbox,
    ) -> Command {
        let mut command = isolated(program, home);
        command
            .env("IONOS_API_URL", sandbox.url())
            .env("IONOS_TOKEN", &sandbox.credentials().token);
        command
    }

    /// A HOME shared by tests that need no config file of their own.
    pub fn empty_home() -> std::path::PathBuf {
        let home = std::env::temp_dir().join("activitylog-cli-tests-home");
        let _ = std::fs::create_dir_all(&home);
        home
    }

    /// What a finished run left.
    #[derive(Debug)]
    pub struct Run {
        /// The exit code (`None` when a signal ended it).
        pub code: Option<i32>,
        /// Standard output, as text.
        pub stdout: String,
        /// Standard error, as text.
        pub stderr: String,
    }

    /// Runs `command` with `args` without blocking the runtime a sandbox serves on.
    pub async fn run(mut command: Command, args: &[&str]) -> Run {
        command.args(args);
        let output: Output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the runner thread finished")
            .expect("the activitylog binary runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

pub mod garage;
pub mod postgres;

pub mod lake;
