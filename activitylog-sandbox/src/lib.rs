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
//!     .events(50_000)
//!     .seed(7)
//!     .faults(Faults::rate(0.1))
//!     .start()
//!     .await?;
//! let url = sandbox.url(); // http://127.0.0.1:PORT
//! let expected = sandbox.event_uuids(MAIN_CONTRACT, None, None);
//! # let _ = (url, expected);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod catalog;
mod config;
mod data;
mod faults;
mod json;
mod query;
mod render;
mod requests;
mod rng;
mod sandbox;
mod server;

pub use config::{
    ContractSpec, Credentials, DEFAULT_EVENTS, DEFAULT_LIMIT, DEFAULT_MAX_LIMIT,
    DEFAULT_RESULT_WINDOW, DEFAULT_SEED, FOREIGN_CONTRACT, MAIN_CONTRACT, SECOND_CONTRACT,
    SandboxConfig, default_contracts, default_max_range, default_span,
};
pub use faults::{FaultCounts, FaultKind, Faults};
pub use query::{ERR_INVALID_PARAMETER, ERR_INVALID_RANGE, ERR_RESULT_WINDOW, ParamError};
pub use requests::RequestRecord;
pub use sandbox::{Sandbox, SandboxBuilder, SandboxError};
pub use server::{
    ERR_FORBIDDEN, ERR_METHOD_NOT_ALLOWED, ERR_NOT_FOUND, ERR_SERVICE, ERR_UNAUTHORIZED,
};
