//! Configuration: explicit settings, or the IONOS environment variables.

use std::time::Duration;

use reqwest::Url;

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// The public endpoint of the IONOS Cloud API.
pub const DEFAULT_API_URL: &str = "https://api.ionos.com";

/// Environment variable: a token, sent as `Authorization: Bearer`.
pub const ENV_TOKEN: &str = "IONOS_TOKEN";
/// Environment variable: the user name for Basic auth.
pub const ENV_USERNAME: &str = "IONOS_USERNAME";
/// Environment variable: the password for Basic auth.
pub const ENV_PASSWORD: &str = "IONOS_PASSWORD";
/// Environment variable: the API's base URL (default [`DEFAULT_API_URL`]).
pub const ENV_API_URL: &str = "IONOS_API_URL";

/// Default ingestion lag allowed for: open-ended downloads end this long before now.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(120);

/// Everything an [`ActivityLog`](crate::ActivityLog) needs. `Debug` redacts secrets.
///
/// ```
/// use std::time::Duration;
/// use activitylog_client::{Config, Credentials};
/// let config = Config::new(Credentials::token("my-token"))
///     .api_url("api.ionos.com/")
///     .page_size(500)
///     .concurrency(8)
///     .request_timeout(Duration::from_secs(60));
/// assert_eq!(config.base_url(), "https://api.ionos.com");
/// assert!(!format!("{config:?}").contains("my-token"));
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) api_url: String,
    pub(crate) credentials: Credentials,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) page_size: u32,
    pub(crate) concurrency: usize,
    pub(crate) result_window: u64,
    pub(crate) max_span: Duration,
    pub(crate) settle: Duration,
    pub(crate) contract_number_header: Option<u64>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) http_client: Option<reqwest::Client>,
}

impl Config {
    /// Defaults for everything but the credentials.
    pub fn new(credentials: Credentials) -> Self {
        Config {
            api_url: DEFAULT_API_URL.to_string(),
            credentials,
            user_agent: format!("activitylog-rs/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            page_size: 1000,
            concurrency: 4,
            result_window: 10_000,
            max_span: Duration::from_secs(90 * 24 * 3600),
            settle: DEFAULT_SETTLE,
            contract_number_header: None,
            allow_insecure_http: false,
            http_client: None,
        }
    }

    /// Reads `IONOS_TOKEN` (preferred) or `IONOS_USERNAME` + `IONOS_PASSWORD`,
    /// and `IONOS_API_URL`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], reading variables through `lookup`.
    ///
    /// ```
    /// use activitylog_client::Config;
    /// let vars = [("IONOS_USERNAME", "me@example.com"), ("IONOS_PASSWORD", "pw")];
    /// let lookup = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    /// let config = Config::from_lookup(lookup).unwrap();
    /// assert_eq!(config.base_url(), "https://api.ionos.com");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let credentials = match (
            non_empty(ENV_TOKEN),
            non_empty(ENV_USERNAME),
            non_empty(ENV_PASSWORD),
        ) {
            (Some(token), _, _) => Credentials::token(token),
            (None, Some(username), Some(password)) => Credentials::basic(username, password),
            (None, Some(_), None) => {
                return Err(Error::Config(format!(
                    "{ENV_USERNAME} is set but {ENV_PASSWORD} is not: set both, or set {ENV_TOKEN}"
                )));
            }
            (None, None, _) => {
                return Err(Error::Config(format!(
                    "no credentials: set {ENV_TOKEN}, or {ENV_USERNAME} and {ENV_PASSWORD}"
                )));
            }
        };
        let config = Config::new(credentials);
        Ok(match non_empty(ENV_API_URL) {
            Some(url) => config.api_url(url),
            None => config,
        })
    }

    /// The API's base URL: with or without scheme (https is assumed), with or
    /// without a trailing slash or the `/activitylog/v1` path.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = normalize_api_url(&url.into());
        self
    }

    /// The normalized base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.api_url
    }

    /// The credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// `User-Agent` header (default `activitylog-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one request, body included (default 120 s, enough for
    /// a 1,000-entry page on a slow link).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How failed requests are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Entries asked for per page (default 1000; the server may send fewer).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Pages fetched at once by downloads (default 4).
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.concurrency = pages.max(1);
        self
    }

    /// The server's result window: `offset + limit` never exceeds it (default 10,000).
    pub fn result_window(mut self, window: u64) -> Self {
        self.result_window = window.max(1);
        self
    }

    /// The longest date range one request may span (default 90 days).
    pub fn max_span(mut self, span: Duration) -> Self {
        self.max_span = span.max(Duration::from_secs(1));
        self
    }

    /// How long after its timestamp an entry may still become visible
    /// (ingestion lag; default [`DEFAULT_SETTLE`]). A download without an end
    /// stops at `now − settle`, so no checkpoint claims a stretch of time
    /// that may still fill in.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Sends `X-Contract-Number` with every request (reseller accounts).
    pub fn contract_number_header(mut self, contract: u64) -> Self {
        self.contract_number_header = Some(contract);
        self
    }

    /// Allows sending credentials over plain `http://` to hosts that are not
    /// loopback. Off by default: anyone on the path could read them.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sends every request through `client` (proxies, extra root
    /// certificates, your own connection settings). The credentials are
    /// added to each request; the user agent and timeouts set here are then
    /// `client`'s own.
    ///
    /// ```
    /// use activitylog_client::{ActivityLog, Credentials};
    /// let http = reqwest::Client::builder().https_only(true).build().unwrap();
    /// let log = ActivityLog::builder(Credentials::token("t")).http_client(http).build();
    /// assert!(log.is_ok());
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client; see [`ActivityLog::new`](crate::ActivityLog::new).
    pub fn build(self) -> Result<crate::ActivityLog> {
        crate::ActivityLog::new(self)
    }

    /// Checks the URL and refuses to send credentials in clear text.
    pub(crate) fn validated_url(&self) -> Result<Url> {
        let url = Url::parse(&self.api_url).map_err(|e| {
            Error::Config(format!("the API URL `{}` is not a URL: {e}", self.api_url))
        })?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_insecure_http || is_loopback(&url) => Ok(url),
            "http" => Err(Error::Config(format!(
                "refusing to send credentials over plain http to {}: use https, \
                 or allow insecure http explicitly",
                url.host_str().unwrap_or("?")
            ))),
            other => Err(Error::Config(format!(
                "the API URL must be http(s), not `{other}:`"
            ))),
        }
    }
}

fn normalize_api_url(raw: &str) -> String {
    let trimmed = raw.trim().trim_end_matches('/');
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    with_scheme
        .strip_suffix("/activitylog/v1")
        .unwrap_or(&with_scheme)
        .trim_end_matches('/')
        .to_string()
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Config> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn token_wins_over_username_and_password() {
        let config = from(&[
            ("IONOS_TOKEN", "t"),
            ("IONOS_USERNAME", "u"),
            ("IONOS_PASSWORD", "p"),
        ]);
        assert!(matches!(config.unwrap().credentials, Credentials::Token(_)));
    }

    #[test]
    fn missing_credentials_name_the_variables() {
        let error = from(&[]).unwrap_err().to_string();
        for name in [ENV_TOKEN, ENV_USERNAME, ENV_PASSWORD] {
            assert!(error.contains(name), "{error}");
        }
        let error = from(&[("IONOS_USERNAME", "u")]).unwrap_err().to_string();
        assert!(error.contains(ENV_PASSWORD), "{error}");
    }

    #[test]
    fn api_url_is_normalized() {
        for (given, expected) in [
            ("api.ionos.com", "https://api.ionos.com"),
            ("https://api.ionos.com/", "https://api.ionos.com"),
            (
                "https://api.ionos.com/activitylog/v1/",
                "https://api.ionos.com",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ] {
            let config = from(&[("IONOS_TOKEN", "t"), ("IONOS_API_URL", given)]).unwrap();
            assert_eq!(config.base_url(), expected, "{given}");
        }
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        let config = Config::new(Credentials::token("t")).api_url("http://example.com");
        assert!(
            config
                .validated_url()
                .unwrap_err()
                .to_string()
                .contains("plain http")
        );
        assert!(
            config
                .clone()
                .allow_insecure_http(true)
                .validated_url()
                .is_ok()
        );
        for local in ["http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"] {
            let config = Config::new(Credentials::token("t")).api_url(local);
            assert!(config.validated_url().is_ok(), "{local}");
        }
    }
}
