//! Sandbox configuration: contracts, credentials, service limits and test knobs.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::bad_pages::BadPages;
use crate::faults::Faults;

/// The main contract: most events live here, and live events are appended to it.
pub const MAIN_CONTRACT: u64 = 31_721_060;
/// A second contract the default credentials can see.
pub const SECOND_CONTRACT: u64 = 12_345_678;
/// A contract that exists but that the default credentials cannot see (403).
pub const FOREIGN_CONTRACT: u64 = 98_765_432;

/// Events in the main contract when [`SandboxConfig::default`] is used.
pub const DEFAULT_EVENTS: usize = 10_000;
/// Default cap on `limit`, like the live service.
pub const DEFAULT_MAX_LIMIT: usize = 1_000;
/// Default Elasticsearch result window (`offset + limit` must not exceed it).
pub const DEFAULT_RESULT_WINDOW: usize = 10_000;
/// Default `limit` when the query string has none.
pub const DEFAULT_LIMIT: usize = 20;
/// Default seed.
pub const DEFAULT_SEED: u64 = 0x5A4D_B0C5;

/// Default maximum distance between `dateStart` and `dateEnd` (90 days).
pub fn default_max_range() -> TimeDelta {
    TimeDelta::days(90)
}

/// Default time span covered by the generated events (90 days, ending at `end`).
pub fn default_span() -> TimeDelta {
    TimeDelta::days(90)
}

/// One contract served by the sandbox and how many events it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSpec {
    /// The contract number, as used in `/activitylog/v1/contracts/{contractNumber}`.
    pub number: u64,
    /// How many events are generated for it at start-up.
    pub events: usize,
    /// The user names that appear as `principal.identity.username`; empty means invented ones.
    pub users: Vec<String>,
    /// Extra events crowded into single seconds: `(at, count)` adds `count` events inside
    /// the second starting at `at` truncated to the whole second.
    pub bursts: Vec<(DateTime<Utc>, usize)>,
}

impl ContractSpec {
    /// A contract with `events` events and invented user names.
    pub fn new(number: u64, events: usize) -> Self {
        Self {
            number,
            events,
            users: Vec::new(),
            bursts: Vec::new(),
        }
    }

    /// Replaces the user names that act in this contract.
    pub fn users<I, S>(mut self, users: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.users = users.into_iter().map(Into::into).collect();
        self
    }

    /// Adds `count` extra events inside the one second starting at `at` truncated to the
    /// whole second, spread over its milliseconds (deterministically, from the seed).
    ///
    /// Imitates a burst of automation: more events in one second than a client can page
    /// through without splitting the second. Can be called several times.
    pub fn burst(mut self, at: DateTime<Utc>, count: usize) -> Self {
        self.bursts.push((at, count));
        self
    }
}

/// How `hits.total` is written in a page.
///
/// Elasticsearch 6 and older write a plain number; Elasticsearch 7 and later write an
/// object saying whether the number is exact (`eq`) or a lower bound (`gte`, when
/// `track_total_hits` stopped counting, by default at 10,000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TotalForm {
    /// `"total": 1234` (the default, as the live service answers today).
    #[default]
    Integer,
    /// `"total": {"value": 1234, "relation": "eq"}`, with `"relation": "gte"` when the
    /// count was cut at [`SandboxConfig::total_cap`].
    Tracked,
}

/// The default contract layout for `main_events` events in the main contract:
/// [`MAIN_CONTRACT`] gets `main_events`, [`SECOND_CONTRACT`] a fifth of that and
/// [`FOREIGN_CONTRACT`] a tenth.
pub fn default_contracts(main_events: usize) -> Vec<ContractSpec> {
    vec![
        ContractSpec::new(MAIN_CONTRACT, main_events).users([
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
            "dave@example.com",
            "automation@example.com",
        ]),
        ContractSpec::new(SECOND_CONTRACT, main_events / 5).users([
            "erin@example.org",
            "frank@example.org",
            "grace@example.org",
        ]),
        ContractSpec::new(FOREIGN_CONTRACT, main_events / 10)
            .users(["reseller-admin@example.net", "heidi@example.net"]),
    ]
}

/// The one account the sandbox accepts, and the contracts it may read.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name for HTTP Basic authentication.
    pub user: String,
    /// Password for HTTP Basic authentication.
    pub password: String,
    /// Token for `Authorization: Bearer <token>`.
    pub token: String,
    /// Contract numbers these credentials may read; any other contract answers 403.
    pub contracts: Vec<u64>,
}

impl Default for Credentials {
    /// `sandbox@example.com` / `sandbox`, token `sandbox-token`, seeing
    /// [`MAIN_CONTRACT`] and [`SECOND_CONTRACT`] but not [`FOREIGN_CONTRACT`].
    fn default() -> Self {
        Self {
            user: "sandbox@example.com".to_owned(),
            password: "sandbox".to_owned(),
            token: "sandbox-token".to_owned(),
            contracts: vec![MAIN_CONTRACT, SECOND_CONTRACT],
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("token", &"<redacted>")
            .field("contracts", &self.contracts)
            .finish()
    }
}

/// Everything that shapes a sandbox. All test knobs are off by default.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for every generated value; same configuration means byte-identical answers.
    pub seed: u64,
    /// The contracts served; the first one is the "main" contract that live events go to.
    pub contracts: Vec<ContractSpec>,
    /// End of the generated time span; `None` means the wall clock at start-up
    /// (set it for byte-identical runs).
    pub end: Option<DateTime<Utc>>,
    /// Length of the generated time span, ending at `end`.
    pub span: TimeDelta,
    /// Cap applied silently to `limit`; `None` disables the cap.
    pub max_limit: Option<usize>,
    /// Largest allowed `offset + limit` (after capping); `None` disables the check.
    pub result_window: Option<usize>,
    /// Largest allowed `dateEnd - dateStart` when both are given; `None` disables the check.
    pub max_range: Option<TimeDelta>,
    /// Delay added before every response.
    pub latency: Option<Duration>,
    /// Injected failures (429, 5xx, resets, truncated bodies).
    pub faults: Faults,
    /// Fraction in `[0, 1]` of events rendered with live-service deviations from the spec.
    pub wire_variants: f64,
    /// When set, a new event stamped "now" is appended to the main contract at this interval.
    pub live: Option<Duration>,
    /// The accepted credentials.
    pub credentials: Credentials,
    /// TCP port on 127.0.0.1; 0 picks an ephemeral port.
    pub port: u16,
    /// Whether requests are recorded in the request log.
    pub request_log: bool,
    /// When set, `hits.total` reports at most this many (Elasticsearch stops counting at
    /// 10,000 by default); the hits themselves are still served. `None` counts exactly.
    pub total_cap: Option<usize>,
    /// How `hits.total` is written: a plain number or `{"value", "relation"}`.
    pub total_form: TotalForm,
    /// When set, each page's `hits.total` is off the true count by its own amount in
    /// `[-jitter, +jitter]` (a function of the seed and of the request's number), and still
    /// claims to be exact: a live count that changes from page to page. `None` is exact.
    pub total_jitter: Option<usize>,
    /// Refuse pages past [`SandboxConfig::result_window`] without stating the window in
    /// the message (default: Elasticsearch's words, with the limit in brackets).
    pub result_window_unstated: bool,
    /// 200 answers to contract pages that are not a page (maintenance HTML, `{}`, ...).
    pub bad_pages: BadPages,
    /// Serve the hits of a request in index order (unrelated to time, stable per
    /// contract and date range) instead of sorted by time.
    pub unordered: bool,
    /// When set, each event becomes visible only after its own lag in `[0, lag]`
    /// past its time, as an ingestion pipeline would delay it.
    pub ingestion_lag: Option<Duration>,
    /// Truncate `dateStart` and `dateEnd` to the whole second before filtering, as a
    /// service honouring only second precision would (default: milliseconds, rounded up).
    pub whole_second_dates: bool,
    /// Serve HTTPS with a certificate generated at start (needs the `tls` feature).
    pub tls: bool,
    /// How far the service's clock is from the machine's (negative: behind). Its whole
    /// notion of now moves: the `Date` header, the stamps of live events, the ingestion
    /// lag's visibility and the default `end`. `None`: the machine's clock.
    pub clock_offset: Option<TimeDelta>,
    /// The `Retry-After` text sent, as given, with injected 429 and 503 answers (a
    /// huge number, an HTTP date, garbage). `None`: `0` or `1` with 429, none with 503.
    pub retry_after: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            contracts: default_contracts(DEFAULT_EVENTS),
            end: None,
            span: default_span(),
            max_limit: Some(DEFAULT_MAX_LIMIT),
            result_window: Some(DEFAULT_RESULT_WINDOW),
            max_range: Some(default_max_range()),
            latency: None,
            faults: Faults::none(),
            wire_variants: 0.0,
            live: None,
            credentials: Credentials::default(),
            port: 0,
            request_log: true,
            total_cap: None,
            total_form: TotalForm::Integer,
            total_jitter: None,
            result_window_unstated: false,
            bad_pages: BadPages::none(),
            unordered: false,
            ingestion_lag: None,
            whole_second_dates: false,
            tls: false,
            clock_offset: None,
            retry_after: None,
        }
    }
}
