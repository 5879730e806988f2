//! The HTTP side: accepting connections, routing, answering, and injecting faults.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::auth::is_authorized;
use crate::bad_pages::{BadPageInjector, BadPageKind, MAINTENANCE_HTML};
use crate::config::{Credentials, TotalForm};
use crate::data::{ContractLog, EventStore};
use crate::faults::{Fault, FaultInjector, FaultKind};
use crate::query::{Limits, PageQuery, bound_millis};
use crate::render::{self, Total};
use crate::requests::{RequestLog, RequestRecord};
use crate::view::{Lag, Matching, order_key};

/// Error code sent with 401.
pub const ERR_UNAUTHORIZED: &str = "315";
/// Error code sent with 403.
pub const ERR_FORBIDDEN: &str = "317";
/// Error code sent with 404.
pub const ERR_NOT_FOUND: &str = "309";
/// Error code sent with 405.
pub const ERR_METHOD_NOT_ALLOWED: &str = "320";
/// Error code sent with injected 429, 500 and 503.
pub const ERR_SERVICE: &str = "300";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// Everything the request handlers share.
#[derive(Debug)]
pub(crate) struct State {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub credentials: Credentials,
    pub limits: Limits,
    pub wire_variants: f64,
    pub latency: Option<Duration>,
    pub store: RwLock<EventStore>,
    pub faults: FaultInjector,
    pub requests: RequestLog,
    /// Seed of the data, also keying the index order.
    pub seed: u64,
    pub total_cap: Option<usize>,
    pub total_form: TotalForm,
    /// Largest amount a page's total is off by; `None` (never `Some(0)`) when exact.
    pub total_jitter: Option<usize>,
    /// Contract pages answered so far: numbers each one for its jitter.
    pub page_requests: AtomicU64,
    pub bad_pages: BadPageInjector,
    pub unordered: bool,
    /// Largest ingestion lag in milliseconds; `None` (never `Some(0)`) when off.
    pub ingestion_lag_ms: Option<i64>,
    pub whole_second_dates: bool,
    /// How far this service's clock is from the machine's.
    pub clock_offset: chrono::TimeDelta,
    /// `Retry-After` of injected 429 and 503 answers, when set.
    pub retry_after: Option<HeaderValue>,
    /// Connections accepted (TLS handshakes attempted, when serving HTTPS).
    pub connections: AtomicU64,
}

/// The machine's clock moved by `offset` (saturating at chrono's ends).
pub(crate) fn now_with(offset: chrono::TimeDelta) -> chrono::DateTime<chrono::Utc> {
    let machine = chrono::Utc::now();
    machine.checked_add_signed(offset).unwrap_or(machine)
}

/// What turns an accepted TCP connection into a TLS one.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// What turns an accepted TCP connection into a TLS one (none without the `tls` feature).
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

impl State {
    /// Read access to the events (a poisoned lock is still readable: the data is append-only).
    pub(crate) fn store(&self) -> RwLockReadGuard<'_, EventStore> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A date bound in milliseconds, as this service filters with it.
    pub(crate) fn bound(&self, t: chrono::DateTime<chrono::Utc>) -> i64 {
        bound_millis(t, self.whole_second_dates)
    }

    /// Now by this service's clock (the machine's, moved by the clock offset).
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        now_with(self.clock_offset)
    }

    /// The ingestion lag as it stands at this service's now, if there is one.
    pub(crate) fn lag_now(&self) -> Option<Lag> {
        self.ingestion_lag_ms.map(|max_ms| Lag {
            max_ms,
            now_ms: self.now().timestamp_millis(),
        })
    }

    /// What a page says it counted of `real` matching events: `real`, or off by this
    /// request's own amount within the jitter.
    pub(crate) fn counted(&self, real: usize) -> usize {
        let Some(jitter) = self.total_jitter else {
            return real;
        };
        let request = self.page_requests.fetch_add(1, Ordering::Relaxed);
        let span = jitter.saturating_mul(2).saturating_add(1);
        let draw = crate::rng::pick(crate::rng::hash3(self.seed, request, 0x7075_7A1E), span);
        match draw.checked_sub(jitter) {
            Some(more) => real.saturating_add(more),
            None => real.saturating_sub(jitter - draw),
        }
    }

    /// The events of `log` visible in `[start, end)` (bounds in milliseconds) under `lag`.
    pub(crate) fn matching(
        &self,
        log: &ContractLog,
        start: Option<i64>,
        end: Option<i64>,
        lag: Option<Lag>,
    ) -> Matching {
        Matching::new(log, log.range(start, end), lag)
    }
}

/// An answer before it becomes an HTTP response.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Answer {
    fn json(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: "application/json",
            body,
            headers: Vec::new(),
        }
    }

    fn error(status: StatusCode, error_code: &str, message: &str) -> Self {
        Self::json(
            status,
            render::error_json(status.as_u16(), error_code, message),
        )
    }

    fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }
}

/// Marker error: the service asks hyper to drop the connection without answering.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for ResetConnection {}

/// Accepts connections until `shutdown` fires (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    acceptor: Option<Acceptor>,
    live: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut live_ticks = live.filter(|d| !d.is_zero()).map(|period| {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.connections.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(serve_connection(stream, Arc::clone(&state), acceptor.clone()));
                }
                Err(error) => {
                    // E.g. too many open files: back off briefly instead of spinning.
                    tracing::warn!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = async {
                match live_ticks.as_mut() {
                    Some(interval) => interval.tick().await,
                    None => std::future::pending().await,
                }
            } => {
                crate::sandbox::append_now(&state);
            }
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, state: Arc<State>, acceptor: Option<Acceptor>) {
    let _ = stream.set_nodelay(true);
    let stream = match acceptor {
        None => Stream::Plain(stream),
        #[cfg(feature = "tls")]
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => Stream::Tls(Box::new(tls)),
            Err(error) => {
                tracing::debug!(%error, "sandbox TLS handshake failed");
                return;
            }
        },
        #[cfg(not(feature = "tls"))]
        Some(never) => match never {},
    };
    let reset = Arc::new(AtomicBool::new(false));
    let io = ConnectionIo {
        io: TokioIo::new(stream),
        reset: Arc::clone(&reset),
    };
    let service = service_fn(move |request: Request<Incoming>| {
        let state = Arc::clone(&state);
        let reset = Arc::clone(&reset);
        async move { respond(&state, &reset, request).await }
    });
    if let Err(error) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(%error, "sandbox connection ended with an error");
    }
}

/// Answers one request: latency, fault injection, routing, logging.
async fn respond(
    state: &State,
    reset: &AtomicBool,
    request: Request<Incoming>,
) -> Result<Response<Body>, ResetConnection> {
    let method = request.method().clone();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    if let Some(latency) = state.latency {
        tokio::time::sleep(latency).await;
    }
    let fault = state.faults.draw();
    let mut record = RequestRecord {
        method: method.to_string(),
        target,
        status: None,
        fault: fault.map(|f| f.kind),
    };
    let response = match fault {
        Some(Fault {
            kind: FaultKind::ConnectionReset,
            ..
        }) => {
            reset.store(true, Ordering::SeqCst);
            state.requests.record(record);
            return Err(ResetConnection);
        }
        Some(Fault {
            kind: FaultKind::TruncatedBody,
            ..
        }) => truncated(route(state, &request)),
        Some(fault) => complete(fault_answer(fault, state.retry_after.as_ref())),
        None => complete(route(state, &request)),
    };
    let mut response = response;
    // This service's time, as HTTP says it (hyper would send the machine's).
    let date = state.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(date) = HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, date);
    }
    record.status = Some(response.status().as_u16());
    state.requests.record(record);
    Ok(response)
}

fn fault_answer(fault: Fault, retry_after: Option<&HeaderValue>) -> Answer {
    let answer = fault_answer_of(fault);
    match (fault.kind, retry_after) {
        (FaultKind::TooManyRequests | FaultKind::ServiceUnavailable, Some(text)) => {
            let mut answer = answer;
            answer
                .headers
                .retain(|(name, _)| name != header::RETRY_AFTER);
            answer.headers.push((header::RETRY_AFTER, text.clone()));
            answer
        }
        _ => answer,
    }
}

fn fault_answer_of(fault: Fault) -> Answer {
    const GATEWAY_HTML: &str = "text/html";
    match fault.kind {
        FaultKind::TooManyRequests => Answer::error(
            StatusCode::TOO_MANY_REQUESTS,
            ERR_SERVICE,
            "Too many requests: the rate limit was exceeded, retry later",
        )
        .with_header(
            header::RETRY_AFTER,
            if fault.retry_after == 0 { "0" } else { "1" },
        ),
        FaultKind::InternalServerError => Answer::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ERR_SERVICE,
            "Internal server error",
        ),
        FaultKind::ServiceUnavailable => Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            ERR_SERVICE,
            "Service temporarily unavailable",
        ),
        FaultKind::BadGateway => Answer {
            status: StatusCode::BAD_GATEWAY,
            content_type: GATEWAY_HTML,
            body: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n".to_vec(),
            headers: Vec::new(),
        },
        FaultKind::GatewayTimeout | FaultKind::ConnectionReset | FaultKind::TruncatedBody => Answer {
            status: StatusCode::GATEWAY_TIMEOUT,
            content_type: GATEWAY_HTML,
            body: b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n".to_vec(),
            headers: Vec::new(),
        },
    }
}

fn head(answer: &Answer, content_length: usize) -> hyper::http::response::Builder {
    let mut builder = Response::builder()
        .status(answer.status)
        .header(header::CONTENT_TYPE, answer.content_type)
        .header(header::CONTENT_LENGTH, content_length);
    for (name, value) in &answer.headers {
        builder = builder.header(name, value);
    }
    builder
}

fn complete(answer: Answer) -> Response<Body> {
    let builder = head(&answer, answer.body.len());
    let body = Full::new(Bytes::from(answer.body))
        .map_err(|never: Infallible| match never {})
        .boxed();
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(empty()))
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Announces the full length, sends about half the body, then fails the stream.
fn truncated(answer: Answer) -> Response<Body> {
    let length = answer.body.len();
    let builder = head(&answer, length);
    let mut body = Bytes::from(answer.body);
    let part = body.split_to(length / 2);
    let frames = futures::stream::unfold(Some(part), |state| async move {
        match state {
            Some(part) => Some((Ok::<_, BoxError>(Frame::data(part)), None)),
            None => {
                // Let hyper flush what it has before the connection is torn down.
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Err::<Frame<Bytes>, BoxError>("injected truncated body".into()),
                    None,
                ))
            }
        }
    });
    let body = BodyExt::boxed(StreamBody::new(frames));
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(empty()))
}

/// Routes a request to its handler; never panics.
fn route(state: &State, request: &Request<Incoming>) -> Answer {
    let path = request.uri().path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    enum Route<'a> {
        Info,
        Contracts,
        Contract(&'a str),
    }
    let found = match path {
        "/activitylog/v1" => Route::Info,
        "/activitylog/v1/contracts" => Route::Contracts,
        _ => match path.strip_prefix("/activitylog/v1/contracts/") {
            Some(number) if !number.contains('/') => Route::Contract(number),
            _ => {
                return Answer::error(
                    StatusCode::NOT_FOUND,
                    ERR_NOT_FOUND,
                    &format!(
                        "The requested resource '{}' was not found",
                        truncate(path, 200)
                    ),
                );
            }
        },
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            ERR_METHOD_NOT_ALLOWED,
            "Method not allowed: the Activity Log API is read-only",
        )
        .with_header(header::ALLOW, "GET");
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !is_authorized(authorization, &state.credentials) {
        return Answer::error(
            StatusCode::UNAUTHORIZED,
            ERR_UNAUTHORIZED,
            "Unauthorized: the credentials are missing or invalid",
        )
        .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"IONOS Cloud\"");
    }
    match found {
        Route::Info => Answer::json(StatusCode::OK, render::info_json(&state.base_url)),
        Route::Contracts => {
            let visible: Vec<u64> = state
                .store()
                .contracts()
                .iter()
                .map(|c| c.number)
                .filter(|n| state.credentials.contracts.contains(n))
                .collect();
            Answer::json(
                StatusCode::OK,
                render::contracts_json(&state.base_url, &visible),
            )
        }
        Route::Contract(number) => contract_page(state, number, request.uri().query()),
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `GET /activitylog/v1/contracts/{contractNumber}`.
fn contract_page(state: &State, text: &str, query: Option<&str>) -> Answer {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Answer::error(
            StatusCode::BAD_REQUEST,
            crate::query::ERR_INVALID_PARAMETER,
            &format!(
                "Parameter 'contractNumber' must be an integer, got '{}'",
                truncate(text, 40)
            ),
        );
    }
    let forbidden = || {
        Answer::error(
            StatusCode::FORBIDDEN,
            ERR_FORBIDDEN,
            &format!(
                "Access to the activity log of contract {} is forbidden",
                truncate(text, 40)
            ),
        )
    };
    // Any integer is a contract number the spec allows; one that is negative
    // or too large for any contract is simply not one the credentials can see.
    let Some(number) = text
        .parse::<u64>()
        .ok()
        .filter(|n| state.credentials.contracts.contains(n))
    else {
        return forbidden();
    };
    let page = match PageQuery::parse(query, state.limits) {
        Ok(page) => page,
        Err(error) => {
            return Answer::error(StatusCode::BAD_REQUEST, error.error_code, &error.message);
        }
    };
    let store = state.store();
    let Some(contract) = store.contract(number) else {
        return forbidden();
    };
    let bad = state.bad_pages.draw();
    match bad {
        Some(BadPageKind::HtmlMaintenance) => {
            return Answer {
                status: StatusCode::OK,
                content_type: "text/html",
                body: MAINTENANCE_HTML.as_bytes().to_vec(),
                headers: Vec::new(),
            };
        }
        Some(BadPageKind::EmptyObject) => return Answer::json(StatusCode::OK, b"{}".to_vec()),
        Some(BadPageKind::NoHits) => {
            return Answer::json(StatusCode::OK, br#"{"took":3,"timed_out":false}"#.to_vec());
        }
        Some(BadPageKind::NoTotal | BadPageKind::WrongContentType) | None => {}
    }
    let start = page.start.map(|t| state.bound(t));
    let end = page.end.map(|t| state.bound(t));
    let matching = state.matching(contract, start, end, state.lag_now());
    let events = if state.unordered {
        let key = order_key(state.seed, number, start, end);
        std::borrow::Cow::Owned(matching.shuffled_page(contract, key, page.offset, page.limit))
    } else {
        matching.page(contract, page.offset, page.limit)
    };
    let counted = state.counted(matching.len());
    let total = (bad != Some(BadPageKind::NoTotal))
        .then(|| Total::new(counted, state.total_cap, state.total_form));
    let body = render::page_json(contract, total, &events, state.wire_variants);
    let mut answer = Answer::json(StatusCode::OK, body);
    if bad == Some(BadPageKind::WrongContentType) {
        answer.content_type = "text/plain";
    }
    answer
}

/// An accepted connection: plain TCP, or TLS over TCP.
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }
}

/// A connection that can be torn down with RST instead of FIN.
struct ConnectionIo {
    io: TokioIo<Stream>,
    reset: Arc<AtomicBool>,
}

impl ConnectionIo {
    fn resetting(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

impl Drop for ConnectionIo {
    fn drop(&mut self) {
        if self.resetting() {
            let _ = self.io.inner().tcp().set_zero_linger();
        }
    }
}

impl hyper::rt::Read for ConnectionIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ConnectionIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.resetting() {
            // Skip the orderly FIN: dropping with zero linger sends RST.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
