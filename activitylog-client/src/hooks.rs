//! The generated client's hooks: every operation goes through the retry
//! policy and the client-wide throttle.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

use crate::generated::Client;
use crate::retry::{self, Attempt, Fault, RetryPolicy, Throttle};

/// What the generated [`Client`] carries for its hooks: the retry policy and
/// the throttle shared by all requests of one client.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    pub(crate) retry: RetryPolicy,
    pub(crate) throttle: Arc<Throttle>,
}

impl Hooks {
    /// Hooks that retry with `retry`.
    pub fn new(retry: RetryPolicy) -> Self {
        Hooks {
            retry,
            throttle: Arc::default(),
        }
    }
}

tokio::task_local! {
    /// Attempts made and time waited by the last request run in this scope.
    static OUTCOME: Cell<(u32, Duration)>;
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

/// Runs `future` and reports how many attempts its (last) request took.
pub(crate) async fn with_outcome<T>(future: impl Future<Output = T>) -> (T, u32, Duration) {
    OUTCOME
        .scope(Cell::new((0, Duration::ZERO)), async {
            let value = future.await;
            let (attempts, waited) = OUTCOME.with(Cell::get);
            (value, attempts, waited)
        })
        .await
}

fn record_outcome(attempts: u32, waited: Duration) {
    let _ = OUTCOME.try_with(|cell| cell.set((attempts, waited)));
}

impl ClientHooks<Hooks> for Client {
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
            record_outcome(1, Duration::ZERO);
            return self.client().execute(request).await;
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
                let result = self.client().execute(request).await;
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
        record_outcome(attempts, waited);
        last.into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expect("at least one attempt ran")
    }
}

fn store<T>(slot: &Mutex<Option<T>>, value: T) {
    *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(value);
}
