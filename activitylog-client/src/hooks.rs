//! The generated client's hooks: every operation goes through the retry
//! policy and the client-wide throttle.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use crate::auth::Credentials;
use crate::clock::ServiceClock;
use crate::requests::RequestCount;

use crate::generated::Client;
use crate::retry::{self, Attempt, Fault, RetryPolicy, Throttle};

/// What the generated [`Client`] carries for its hooks: the credentials
/// every request is signed with, the retry policy, and the throttle and the
/// service's clock (learned from every answer's `Date`) shared by all
/// requests of one client. There is no default: a client without
/// credentials cannot be built by accident.
///
/// ```
/// use activitylog_client::{Client, Credentials, Hooks, RetryPolicy};
/// let hooks = Hooks::new(&Credentials::token("my-token"), RetryPolicy::default()).unwrap();
/// let client = Client::new("https://api.ionos.com", hooks);
/// # let _ = client;
/// ```
#[derive(Clone, Debug)]
pub struct Hooks {
    /// `Authorization`, marked sensitive (never shown by `Debug`).
    authorization: HeaderValue,
    contract_number: Option<HeaderValue>,
    pub(crate) retry: RetryPolicy,
    pub(crate) throttle: Arc<Throttle>,
    pub(crate) clock: Arc<ServiceClock>,
    /// Every request sent through these hooks (a download's own: see
    /// [`Hooks::counting`]).
    pub(crate) requests: RequestCount,
}

impl Hooks {
    /// Hooks that sign every request with `credentials` and retry with `retry`.
    pub fn new(credentials: &Credentials, retry: RetryPolicy) -> crate::Result<Self> {
        crate::tls::ensure_crypto_provider();
        Ok(Hooks {
            authorization: credentials.header_value()?,
            contract_number: None,
            retry,
            throttle: Arc::default(),
            clock: Arc::default(),
            requests: RequestCount::default(),
        })
    }

    /// Also sends `X-Contract-Number` with every request (reseller accounts).
    pub fn contract_number_header(mut self, contract: u64) -> Self {
        self.contract_number = Some(HeaderValue::from(contract));
        self
    }

    /// These hooks counting their requests into `requests` (the retry
    /// policy, throttle and clock still shared with the original).
    pub(crate) fn counting(&self, requests: RequestCount) -> Self {
        Hooks {
            requests,
            ..self.clone()
        }
    }
}

tokio::task_local! {
    /// How the last request run in this scope went.
    static OUTCOME: Cell<Outcome>;
    /// Set while a generated operation is only being built, not sent.
    static CAPTURE: RefCell<Option<reqwest::Request>>;
}

/// Runs a generated operation's `send()` without sending anything: returns
/// the request it built (path, parameters and headers as the spec says), or
/// `None` if it could not build one (a parameter out of the spec's range).
///
/// The download engine sends pages this way and reads their bodies raw, so
/// a spec change to `getByContract` changes what it sends, or stops the
/// build where a builder method changed.
pub(crate) async fn built_request<T>(send: impl Future<Output = T>) -> Option<reqwest::Request> {
    CAPTURE
        .scope(RefCell::new(None), async {
            // The operation sees an empty answer; its result is of no interest.
            let _ = send.await;
            CAPTURE.with(|slot| slot.borrow_mut().take())
        })
        .await
}

/// How a generated operation's request went, beyond what it returns.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// Attempts made.
    pub attempts: u32,
    /// Time waited between them.
    pub waited: Duration,
    /// The status of the last answer, if one came (the generated code
    /// loses it when an error body does not decode).
    pub status: Option<u16>,
}

/// Runs `future` and reports how its (last) request went.
pub(crate) async fn with_outcome<T>(future: impl Future<Output = T>) -> (T, Outcome) {
    OUTCOME
        .scope(Cell::new(Outcome::default()), async {
            let value = future.await;
            (value, OUTCOME.with(Cell::get))
        })
        .await
}

fn record_outcome(outcome: Outcome) {
    let _ = OUTCOME.try_with(|cell| cell.set(outcome));
}

fn status_of(result: &reqwest::Result<reqwest::Response>) -> Option<u16> {
    result
        .as_ref()
        .ok()
        .map(|response| response.status().as_u16())
}

impl ClientHooks<Hooks> for Client {
    /// Signs the request: the credentials travel with every request, whichever
    /// `reqwest::Client` sends it.
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let hooks = self.inner();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, hooks.authorization.clone());
        if let Some(contract) = &hooks.contract_number {
            headers.insert(
                HeaderName::from_static("x-contract-number"),
                contract.clone(),
            );
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let mut unsent = Some(request);
        let captured = CAPTURE.try_with(|slot| *slot.borrow_mut() = unsent.take());
        let Some(request) = unsent else {
            debug_assert!(captured.is_ok());
            return Ok(reqwest::Response::from(http::Response::new(
                Vec::<u8>::new(),
            )));
        };
        let hooks = self.inner();
        let Some(template) = request.try_clone() else {
            let result = execute(self, request, info.operation_id).await;
            record_outcome(Outcome {
                attempts: 1,
                waited: Duration::ZERO,
                status: status_of(&result),
            });
            return result;
        };
        let mut first = Some(request);
        let last: Mutex<Option<reqwest::Result<reqwest::Response>>> = Mutex::new(None);
        let mut attempts = 0;
        let outcome = retry::run(&hooks.retry, &hooks.throttle, info.operation_id, || {
            let request = first.take().or_else(|| template.try_clone());
            let last = &last;
            attempts += 1;
            async move {
                let Some(request) = request else {
                    return Attempt::Done(Ok::<(), ()>(()));
                };
                let result = execute(self, request, info.operation_id).await;
                let fault = match &result {
                    Ok(response) if retry::is_retryable_status(response.status()) => Fault {
                        status: Some(response.status().as_u16()),
                        reason: format!("HTTP {}", response.status()),
                        retry_after: retry::retry_after(response.headers()),
                    },
                    Ok(_) => {
                        store(last, result);
                        return Attempt::Done(Ok(()));
                    }
                    Err(error) => match retry::transport_error(error) {
                        Ok(fault) => fault,
                        Err(_) => {
                            // Not retried: the caller maps the error itself.
                            store(last, result);
                            return Attempt::Done(Ok(()));
                        }
                    },
                };
                store(last, result);
                Attempt::Retry(fault)
            }
        })
        .await;
        let waited = outcome
            .err()
            .map_or(Duration::ZERO, |exhausted| exhausted.waited);
        let result = last
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expect("at least one attempt ran");
        record_outcome(Outcome {
            attempts,
            waited,
            status: status_of(&result),
        });
        result
    }
}

/// Sends `request` once through `client` (counting it in its hooks'
/// [`RequestCount`]), learning the service's clock from the answer, and
/// logging it: at debug level the method, URL, status
/// and time taken; at trace level the headers too, `Authorization` and
/// cookies redacted, and the answer's body (see [`log_body`]; the download
/// engine, which reads page bodies itself, logs them where it reads them).
pub(crate) async fn execute(
    client: &Client,
    request: reqwest::Request,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    let hooks = client.inner();
    hooks.requests.add_one();
    let result = execute_logged(client.client(), request, operation).await;
    if let Ok(response) = &result {
        hooks.clock.observe(response.headers());
    }
    result
}

/// [`execute`] without learning the clock.
async fn execute_logged(
    client: &reqwest::Client,
    request: reqwest::Request,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return client.execute(request).await;
    }
    let method = request.method().clone();
    let url = request.url().to_string();
    tracing::trace!(
        operation,
        %method,
        url,
        headers = ?redacted(request.headers()),
        "sending"
    );
    let started = std::time::Instant::now();
    let result = client.execute(request).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(response) => {
            tracing::debug!(
                operation,
                %method,
                url,
                status = response.status().as_u16(),
                elapsed_ms,
                "answered"
            );
            tracing::trace!(operation, headers = ?redacted(response.headers()), "answer headers");
        }
        Err(error) => {
            tracing::debug!(operation, %method, url, error = %error, elapsed_ms, "no answer");
        }
    }
    match result {
        Ok(response) if tracing::enabled!(tracing::Level::TRACE) && operation != PAGE_OPERATION => {
            with_body_logged(response, operation).await
        }
        other => other,
    }
}

/// The operation whose bodies the download engine reads (and logs) itself.
const PAGE_OPERATION: &str = "getByContract";

/// Reads the body of `response` to log it, and hands back an equal response.
async fn with_body_logged(
    response: reqwest::Response,
    operation: &'static str,
) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    log_body(operation, &body);
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}

/// The most of a body the log shows.
const BODY_LOG_LIMIT: usize = 4096;

/// Logs an answer's body at trace level: its length, and its first
/// [`BODY_LOG_LIMIT`] bytes as text. Answers carry no credentials.
pub(crate) fn log_body(operation: &'static str, body: &[u8]) {
    if !tracing::enabled!(tracing::Level::TRACE) {
        return;
    }
    let shown = String::from_utf8_lossy(&body[..body.len().min(BODY_LOG_LIMIT)]);
    let truncated = if body.len() > BODY_LOG_LIMIT {
        format!(
            " [truncated: first {BODY_LOG_LIMIT} of {} bytes]",
            body.len()
        )
    } else {
        String::new()
    };
    tracing::trace!(
        operation,
        bytes = body.len(),
        "answer body: {shown}{truncated}"
    );
}

/// Headers for the log: names and values, secrets replaced.
fn redacted(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let secret = value.is_sensitive()
                || matches!(
                    name.as_str(),
                    "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
                );
            let shown = if secret {
                "[REDACTED]".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_string(), shown)
        })
        .collect()
}

fn store<T>(slot: &Mutex<Option<T>>, value: T) {
    *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
}
