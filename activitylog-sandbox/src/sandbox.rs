//! The running sandbox: builder, handle, expectations for tests, and shutdown.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bad_pages::{BadPageInjector, BadPages};
use crate::config::{ContractSpec, Credentials, SandboxConfig, TotalForm, default_contracts};
use crate::data::EventStore;
use crate::faults::{FaultCounts, FaultInjector, Faults};
use crate::query::Limits;
use crate::render;
use crate::requests::{RequestLog, RequestRecord};
use crate::server::{State, accept_loop};

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding 127.0.0.1 on the requested port failed.
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind {
        /// The requested port (0 = ephemeral).
        port: u16,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The configuration cannot be served.
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),
    /// The TLS certificate could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// Builds a [`Sandbox`] step by step; every knob defaults to [`SandboxConfig::default`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SandboxBuilder {
    config: SandboxConfig,
}

impl SandboxBuilder {
    /// Starts from an existing configuration.
    pub fn from_config(config: SandboxConfig) -> Self {
        Self { config }
    }

    /// Number of events in the main contract (31721060); 12345678 gets a fifth
    /// of that and 98765432 a tenth. Replaces any earlier [`Self::contracts`].
    pub fn events(mut self, main_events: usize) -> Self {
        self.config.contracts = default_contracts(main_events);
        self
    }

    /// Replaces the contract layout; the first contract is the main one.
    pub fn contracts(mut self, contracts: Vec<ContractSpec>) -> Self {
        self.config.contracts = contracts;
        self
    }

    /// Seed for all generated data.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// End of the generated time span (default: now at start-up). Fix it for byte-identical runs.
    pub fn end(mut self, end: DateTime<Utc>) -> Self {
        self.config.end = Some(end);
        self
    }

    /// Length of the generated time span (default 90 days).
    pub fn span(mut self, span: TimeDelta) -> Self {
        self.config.span = span;
        self
    }

    /// Silent cap on `limit` (default `Some(1000)`); `None` disables it.
    pub fn max_limit(mut self, max_limit: Option<usize>) -> Self {
        self.config.max_limit = max_limit;
        self
    }

    /// Largest `offset + limit` allowed (default `Some(10_000)`); `None` disables the check.
    pub fn result_window(mut self, window: Option<usize>) -> Self {
        self.config.result_window = window;
        self
    }

    /// Largest `dateEnd - dateStart` allowed (default `Some(90 days)`); `None` disables the check.
    pub fn max_range(mut self, max_range: Option<TimeDelta>) -> Self {
        self.config.max_range = max_range;
        self
    }

    /// Delay added before every response.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.config.latency = Some(latency);
        self
    }

    /// Fault injection settings.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.config.faults = faults;
        self
    }

    /// Fraction in `[0, 1]` of events rendered with the live service's deviations from the spec.
    pub fn wire_variants(mut self, fraction: f64) -> Self {
        self.config.wire_variants = fraction;
        self
    }

    /// Appends an event stamped "now" to the main contract at this interval.
    pub fn live(mut self, interval: Duration) -> Self {
        self.config.live = Some(interval);
        self
    }

    /// The accepted credentials and the contracts they see.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = credentials;
        self
    }

    /// Port on 127.0.0.1 (default 0: an ephemeral port).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Whether to keep the request log (default on).
    pub fn request_log(mut self, enabled: bool) -> Self {
        self.config.request_log = enabled;
        self
    }

    /// Caps `hits.total` at `cap` (default `None`: exact), as Elasticsearch stops counting
    /// at 10,000 hits unless told otherwise; the hits themselves are still served.
    pub fn total_cap(mut self, cap: Option<usize>) -> Self {
        self.config.total_cap = cap;
        self
    }

    /// How `hits.total` is written (default [`TotalForm::Integer`]).
    pub fn total_form(mut self, form: TotalForm) -> Self {
        self.config.total_form = form;
        self
    }

    /// Makes each page's `hits.total` off the true count by up to `jitter` either way, a
    /// different amount for each request, still written as exact (default `None`: exact),
    /// as a live count that changes between the pages of one window. Applied before
    /// [`Self::total_cap`].
    pub fn total_jitter(mut self, jitter: Option<usize>) -> Self {
        self.config.total_jitter = jitter;
        self
    }

    /// Refuses a page past the [`Self::result_window`] with a 400 that does not say how
    /// deep the service pages (default off: Elasticsearch's message, `[N]` included).
    pub fn result_window_unstated(mut self, yes: bool) -> Self {
        self.config.result_window_unstated = yes;
        self
    }

    /// Replaces some contract pages that would have been served with 200 answers that are
    /// not a page (a gateway's maintenance page, `{}`, no `hits`, no `total`, wrong
    /// content type), as a gateway or a broken backend would send.
    pub fn bad_pages(mut self, bad: BadPages) -> Self {
        self.config.bad_pages = bad;
        self
    }

    /// Serves hits in index order, as Elasticsearch does without a sort: unrelated to time,
    /// different between date ranges, but the same for repeated requests of the same
    /// contract and range (so offset paging stays consistent).
    pub fn unordered(mut self, yes: bool) -> Self {
        self.config.unordered = yes;
        self
    }

    /// Delays each event's visibility by its own lag in `[0, lag]` past its time, as an
    /// ingestion pipeline would: until then it is in no page and no total.
    pub fn ingestion_lag(mut self, lag: Duration) -> Self {
        self.config.ingestion_lag = Some(lag);
        self
    }

    /// Truncates `dateStart` and `dateEnd` to the whole second before filtering, as a
    /// service honouring only second precision would (default: millisecond precision).
    pub fn whole_second_dates(mut self, yes: bool) -> Self {
        self.config.whole_second_dates = yes;
        self
    }

    /// Moves the service's clock `offset` from the machine's (negative: behind): its
    /// `Date` header, the stamps of live events, the ingestion lag and the default `end`.
    pub fn clock_offset(mut self, offset: TimeDelta) -> Self {
        self.config.clock_offset = Some(offset);
        self
    }

    /// Sends `text` as `Retry-After` with injected 429 and 503 answers, as given.
    pub fn retry_after(mut self, text: impl Into<String>) -> Self {
        self.config.retry_after = Some(text.into());
        self
    }

    /// The configuration built so far.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Serves HTTPS with a CA and a certificate for `127.0.0.1` generated at
    /// start; [`Sandbox::tls`] gives the CA and the pin clients need.
    #[cfg(feature = "tls")]
    pub fn tls(mut self) -> Self {
        self.config.tls = true;
        self
    }

    /// Generates the events, binds the port and starts serving in the background.
    pub async fn start(self) -> Result<Sandbox, SandboxError> {
        Sandbox::start(self.config).await
    }
}

/// A running fake of the Activity Log API. Stops on [`Sandbox::shutdown`] or when dropped.
///
/// Must be started inside a Tokio runtime.
#[derive(Debug)]
pub struct Sandbox {
    state: Arc<State>,
    config: SandboxConfig,
    addr: SocketAddr,
    end: DateTime<Utc>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::SandboxTls>,
}

impl Sandbox {
    /// A builder with default settings.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Generates the events, binds 127.0.0.1 and starts serving in the background.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        if config.contracts.is_empty() {
            return Err(SandboxError::InvalidConfig(
                "at least one contract is required".to_owned(),
            ));
        }
        #[cfg(feature = "tls")]
        let (tls, acceptor) = match config.tls {
            true => {
                let (tls, acceptor) = crate::tls::generate()?;
                (Some(tls), Some(acceptor))
            }
            false => (None, None),
        };
        #[cfg(not(feature = "tls"))]
        let acceptor: Option<crate::server::Acceptor> = match config.tls {
            true => {
                return Err(SandboxError::InvalidConfig(
                    "TLS needs activitylog-sandbox's `tls` feature".to_owned(),
                ));
            }
            false => None,
        };
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            port: config.port,
            source,
        })?;
        let clock_offset = config.clock_offset.unwrap_or_default();
        let retry_after = match &config.retry_after {
            None => None,
            Some(text) => Some(hyper::header::HeaderValue::from_str(text).map_err(|_| {
                SandboxError::InvalidConfig(format!("`{text}` cannot be sent as Retry-After"))
            })?),
        };
        let end = config.end.unwrap_or_else(|| {
            DateTime::from_timestamp_millis(
                crate::server::now_with(clock_offset).timestamp_millis(),
            )
            .unwrap_or_default()
        });
        let store = EventStore::generate(&config, end);
        let wire_variants = if config.wire_variants.is_nan() {
            0.0
        } else {
            config.wire_variants.clamp(0.0, 1.0)
        };
        let state = Arc::new(State {
            base_url: format!("{scheme}://{addr}"),
            credentials: config.credentials.clone(),
            limits: Limits {
                max_limit: config.max_limit,
                result_window: config.result_window,
                result_window_unstated: config.result_window_unstated,
                max_range: config.max_range,
            },
            wire_variants,
            latency: config.latency.filter(|d| !d.is_zero()),
            store: RwLock::new(store),
            faults: FaultInjector::new(config.faults.clone(), config.seed),
            requests: RequestLog::new(config.request_log),
            seed: config.seed,
            total_cap: config.total_cap,
            total_form: config.total_form,
            total_jitter: config.total_jitter.filter(|&jitter| jitter > 0),
            page_requests: Default::default(),
            bad_pages: BadPageInjector::new(&config.bad_pages, config.seed),
            unordered: config.unordered,
            ingestion_lag_ms: config
                .ingestion_lag
                .map(|lag| i64::try_from(lag.as_millis()).unwrap_or(i64::MAX))
                .filter(|&ms| ms > 0),
            whole_second_dates: config.whole_second_dates,
            clock_offset,
            retry_after,
            connections: Default::default(),
        });
        let (shutdown, receiver) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&state),
            acceptor,
            config.live,
            receiver,
        ));
        tracing::info!(url = %state.base_url, "activity log sandbox listening");
        Ok(Self {
            state,
            config,
            addr,
            end,
            shutdown,
            task: Some(task),
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` with TLS; the API lives under `/activitylog/v1`).
    pub fn url(&self) -> &str {
        &self.state.base_url
    }

    /// The CA and the pin of a sandbox serving HTTPS ([`SandboxBuilder::tls`]).
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::tls::SandboxTls> {
        self.tls.as_ref()
    }

    /// Connections accepted so far (with TLS: handshakes attempted, whether
    /// or not the client accepted the certificate).
    pub fn connections(&self) -> u64 {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accepted credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.state.credentials
    }

    /// The configuration the sandbox was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The generated events lie in `[end - span, end)`; this is `end`.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Start of the generated time span (`end - span`).
    pub fn span_start(&self) -> DateTime<Utc> {
        self.end
            .checked_sub_signed(self.config.span)
            .unwrap_or(self.end)
    }

    /// Numbers of all contracts served (visible or not), main contract first.
    pub fn contract_numbers(&self) -> Vec<u64> {
        self.state
            .store()
            .contracts()
            .iter()
            .map(|c| c.number)
            .collect()
    }

    /// The `@uuid`s the API holds for a contract in `[start, end)`, in API order
    /// (ascending time, then uuid). Empty for an unknown contract.
    ///
    /// With [`SandboxBuilder::ingestion_lag`] these are all stored events, the ones that
    /// will eventually be visible; [`Self::visible_event_uuids`] gives those visible now.
    /// With [`SandboxBuilder::unordered`] the API serves the same set in another order.
    pub fn event_uuids(
        &self,
        contract: u64,
        start: impl Into<Option<DateTime<Utc>>>,
        end: impl Into<Option<DateTime<Utc>>>,
    ) -> Vec<String> {
        self.with_range(contract, start.into(), end.into(), |_, events| {
            events.iter().map(|e| e.id.uuid()).collect()
        })
    }

    /// How many events a contract holds in `[start, end)`: the `total` the API reports
    /// (without a [`SandboxBuilder::total_cap`], once every event is visible).
    pub fn event_count(
        &self,
        contract: u64,
        start: impl Into<Option<DateTime<Utc>>>,
        end: impl Into<Option<DateTime<Utc>>>,
    ) -> usize {
        self.with_range(contract, start.into(), end.into(), |_, events| events.len())
    }

    /// The exact `_source` JSON texts the API serves for a contract in `[start, end)`, in order.
    pub fn event_sources(
        &self,
        contract: u64,
        start: impl Into<Option<DateTime<Utc>>>,
        end: impl Into<Option<DateTime<Utc>>>,
    ) -> Vec<String> {
        let wire = self.state.wire_variants;
        self.with_range(contract, start.into(), end.into(), |log, events| {
            events
                .iter()
                .map(|&e| render::event_json(log, e, wire))
                .collect()
        })
    }

    /// The `@uuid`s of a contract's events in `[start, end)` that are visible at this moment
    /// under [`SandboxBuilder::ingestion_lag`], in time order (all of them without a lag).
    pub fn visible_event_uuids(
        &self,
        contract: u64,
        start: impl Into<Option<DateTime<Utc>>>,
        end: impl Into<Option<DateTime<Utc>>>,
    ) -> Vec<String> {
        let (start, end) = (start.into(), end.into());
        let store = self.state.store();
        let Some(log) = store.contract(contract) else {
            return Vec::new();
        };
        let matching = self.state.matching(
            log,
            start.map(|t| self.state.bound(t)),
            end.map(|t| self.state.bound(t)),
            self.state.lag_now(),
        );
        let events = log.events();
        matching.positions().map(|i| events[i].id.uuid()).collect()
    }

    fn with_range<T: Default>(
        &self,
        contract: u64,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        f: impl FnOnce(&crate::data::ContractLog, &[crate::data::StoredEvent]) -> T,
    ) -> T {
        let store = self.state.store();
        match store.contract(contract) {
            Some(log) => {
                let range = log.range(
                    start.map(|t| self.state.bound(t)),
                    end.map(|t| self.state.bound(t)),
                );
                f(log, log.slice(range))
            }
            None => T::default(),
        }
    }

    /// Appends one event stamped "now" to a contract, as live mode does; returns its `@uuid`.
    pub fn append_event(&self, contract: u64) -> Option<String> {
        append_to(&self.state, contract)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests.snapshot()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.state.requests.clear();
    }

    /// How many faults of each kind were injected so far.
    pub fn fault_counts(&self) -> FaultCounts {
        self.state.faults.counts()
    }

    /// How many bad pages ([`SandboxBuilder::bad_pages`]) were served so far.
    pub fn bad_pages_served(&self) -> u64 {
        self.state.bad_pages.served()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until `signal` completes (e.g. `tokio::signal::ctrl_c()`), then shuts down.
    pub async fn serve_until<F: Future>(self, signal: F) {
        signal.await;
        self.shutdown().await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Appends a "now" event to the main contract (live mode tick).
pub(crate) fn append_now(state: &State) {
    let main = state.store().contracts().first().map(|c| c.number);
    if let Some(main) = main {
        append_to(state, main);
    }
}

fn append_to(state: &State, contract: u64) -> Option<String> {
    let now = state.now().timestamp_millis();
    let mut store = state.store.write().unwrap_or_else(|e| e.into_inner());
    store.append(contract, now).map(|id| id.uuid())
}
