//! A faithful local fake of the IONOS Cloud Activity Log API, served over HTTP on 127.0.0.1.
//!
//! It serves `GET /activitylog/v1`, `GET /activitylog/v1/contracts` and
//! `GET /activitylog/v1/contracts/{contractNumber}` with seeded, deterministic events,
//! enforces the live service's limits (limit cap, Elasticsearch result window,
//! maximum date range), and can misbehave on purpose (latency, faults, wire deviations,
//! live growth) so clients can be tested against it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), activitylog_sandbox::SandboxError> {
//! use activitylog_sandbox::{Faults, Sandbox, MAIN_CONTRACT};
//!
//! let sandbox = Sandbox::builder()
//!     .events(50_000) // events in the main contract 31721060
//!     .seed(7)
//!     .faults(Faults::rate(0.1))
//!     .start()
//!     .await?;
//! let url = sandbox.url(); // http://127.0.0.1:PORT
//! let token = &sandbox.credentials().token; // "sandbox-token"
//! let expected = sandbox.event_uuids(MAIN_CONTRACT, sandbox.span_start(), sandbox.end());
//! # let _ = (url, token, expected);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # In your own tests
//!
//! Add it as a dev-dependency (`activitylog-sandbox = "0.1"` under
//! `[dev-dependencies]`). A sandbox binds a free port of 127.0.0.1, hands you
//! its URL and credentials, and stops when dropped. Turn on the behaviours
//! of the real service your code must survive, each off by default:
//!
//! ```no_run
//! # async fn demo() -> Result<(), activitylog_sandbox::SandboxError> {
//! use std::time::Duration;
//! use activitylog_sandbox::{BadPages, Credentials, Faults, Sandbox, TotalForm};
//!
//! let sandbox = Sandbox::builder()
//!     .events(20_000)
//!     .seed(42)
//!     .credentials(Credentials { token: "test-token".into(), ..Credentials::default() })
//!     .latency(Duration::from_millis(20))
//!     .faults(Faults::rate(0.05))               // 429, 5xx, resets, cut bodies
//!     .bad_pages(BadPages::rate(0.05))          // 200s that are not pages
//!     .total_cap(Some(10_000))                  // ES counts only to 10,000
//!     .total_form(TotalForm::Tracked)           // {"value", "relation": "gte"}
//!     .unordered(true)                          // index order, not time order
//!     .ingestion_lag(Duration::from_secs(1))    // entries show up late
//!     .start()
//!     .await?;
//! let (url, token) = (sandbox.url().to_string(), sandbox.credentials().token.clone());
//! // ... point the code under test at `url` with `token` ...
//! # let _ = (url, token);
//! drop(sandbox); // stops serving
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! * Credentials: `sandbox@example.com` / `sandbox` (Basic) or `Bearer sandbox-token`;
//!   they see [`MAIN_CONTRACT`] and [`SECOND_CONTRACT`], not [`FOREIGN_CONTRACT`].
//!   Missing or wrong credentials answer 401; an invisible or unknown contract 403.
//! * Events are ordered by (time, `@uuid`); `dateStart` is inclusive, `dateEnd` exclusive,
//!   each `YYYY-MM-DD` (midnight UTC) or RFC 3339. `limit` (default 20) is silently capped
//!   at 1000; `offset + limit > 10_000` and ranges over 90 days answer 400 with the IONOS
//!   error body `{"httpStatus": 400, "messages": [{"errorCode", "message"}]}`.
//! * The same configuration (including a fixed [`SandboxBuilder::end`]) gives byte-identical
//!   answers. Without `end`, the events end at the wall clock of start-up.
//! * Test knobs, all off by default. The sandbox is the opponent, not the mirror: each knob
//!   shows a behaviour the real service may show, so tests can prove a client survives it.
//!   * Latency ([`SandboxBuilder::latency`]).
//!   * [`Faults`]: 429 with `Retry-After`, 500, 502, 503, 504, connection reset, truncated body.
//!   * Wire variants ([`SandboxBuilder::wire_variants`]): integer contract numbers, numeric
//!     `auditVersion`, string `queueRefId`, unknown statuses and methods, unknown fields,
//!     nulls, sparse events, Elasticsearch envelope fields.
//!   * Live growth of the main contract ([`SandboxBuilder::live`]).
//!   * Capped totals ([`SandboxBuilder::total_cap`], [`SandboxBuilder::total_form`]):
//!     `hits.total` stops at the cap (Elasticsearch counts to 10,000 by default) while the
//!     hits are still served, written as a number or as `{"value", "relation": "eq"|"gte"}`.
//!     The cap may be any number, 0 included.
//!   * A count that changes from page to page ([`SandboxBuilder::total_jitter`]): each page's
//!     `hits.total` is off the truth by its own amount, still written as exact.
//!   * A smaller result window ([`SandboxBuilder::result_window`]): a page past it answers
//!     400 with Elasticsearch's message and the limit in brackets, or without the limit
//!     ([`SandboxBuilder::result_window_unstated`]).
//!   * [`BadPages`]: 200 answers to a contract page that are not a page: an HTML maintenance
//!     page, `{}`, JSON without `hits`, `hits` without `total`, or the page as `text/plain`.
//!   * Any order ([`SandboxBuilder::unordered`]): hits in index order, as Elasticsearch
//!     returns them without a sort: unrelated to time and different between ranges, but
//!     stable for repeated requests of the same range.
//!   * Late arrivals ([`SandboxBuilder::ingestion_lag`]): each event shows up only after its
//!     own lag in `[0, lag]` past its time, in no page and no total before; so events of
//!     the recent past appear out of time order. [`Sandbox::visible_event_uuids`] tells
//!     what is visible now, [`Sandbox::event_uuids`] what will be.
//!   * Crowded seconds ([`ContractSpec::burst`]): many events inside one second.
//!   * Whole-second dates ([`SandboxBuilder::whole_second_dates`]): `dateStart` and `dateEnd`
//!     lose their fractions before filtering, as a service with second precision would.
//!   * A clock of its own ([`SandboxBuilder::clock_offset`]): the service's now runs ahead
//!     of the machine's or behind it, in its `Date` header (every answer has one), the
//!     stamps of live events, the ingestion lag and the default `end`.
//!   * Any `Retry-After` ([`SandboxBuilder::retry_after`]): the text given, sent as is
//!     with injected 429 and 503 answers (huge numbers, HTTP dates, garbage).
//! * HTTPS (feature `tls`): `SandboxBuilder::tls` serves with a CA and a certificate for
//!   `127.0.0.1` generated at start, which nothing trusts until a client is given the CA or
//!   the pin (`Sandbox::tls`); [`Sandbox::connections`] counts the handshakes tried.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod bad_pages;
mod catalog;
mod config;
mod data;
mod faults;
mod injection;
mod json;
mod query;
mod render;
mod requests;
mod rng;
mod sandbox;
mod server;
#[cfg(feature = "tls")]
mod tls;
mod view;

pub use bad_pages::{BadPageKind, BadPages};
pub use config::{
    ContractSpec, Credentials, DEFAULT_EVENTS, DEFAULT_LIMIT, DEFAULT_MAX_LIMIT,
    DEFAULT_RESULT_WINDOW, DEFAULT_SEED, FOREIGN_CONTRACT, MAIN_CONTRACT, SECOND_CONTRACT,
    SandboxConfig, TotalForm, default_contracts, default_max_range, default_span,
};
pub use faults::{FaultCounts, FaultKind, Faults};
pub use injection::{Injection, Kind};
pub use query::{ERR_INVALID_PARAMETER, ERR_INVALID_RANGE, ERR_RESULT_WINDOW, ParamError};
pub use requests::RequestRecord;
pub use sandbox::{Sandbox, SandboxBuilder, SandboxError};
pub use server::{
    ERR_FORBIDDEN, ERR_METHOD_NOT_ALLOWED, ERR_NOT_FOUND, ERR_SERVICE, ERR_UNAUTHORIZED,
};
#[cfg(feature = "tls")]
pub use tls::SandboxTls;
