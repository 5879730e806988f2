//! Configuration: explicit settings, or the IONOS environment variables and
//! config file.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::profile::{ConfigFile, ENV_CONFIG_FILE, ENV_CURRENT_PROFILE, Endpoint};
use crate::retry::RetryPolicy;
use crate::tls::{ENV_PINNED_CERT, Trust};

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
/// Environment variable: the contract to read when a command is given none
/// (a contract number given on the command line wins).
pub const ENV_CONTRACT_NUMBER: &str = "IONOS_CONTRACT_NUMBER";

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
    pub(crate) trust: Trust,
    pub(crate) env_proxies: bool,
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
            trust: Trust::default(),
            env_proxies: true,
            http_client: None,
        }
    }

    /// Reads `IONOS_TOKEN` (preferred) or `IONOS_USERNAME` + `IONOS_PASSWORD`,
    /// and `IONOS_API_URL`; what they leave unset comes from the profile of
    /// the IONOS config file (`IONOS_CONFIG_FILE`, else `~/.ionos/config`;
    /// see [`Settings::resolve`]).
    pub fn from_env() -> Result<Self> {
        let lookup = |name: &str| std::env::var(name).ok();
        let file = ConfigFile::from_lookup(lookup)?;
        Settings::resolve(&Overrides::default(), lookup, file.as_ref())?.into_config()
    }

    /// Reads the environment variables only (no config file) through `lookup`.
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
                return Err(Error::NoCredentials {
                    looked_in: vec![
                        ENV_TOKEN.to_string(),
                        format!("{ENV_USERNAME} and {ENV_PASSWORD}"),
                    ],
                });
            }
        };
        let mut config = Config::new(credentials);
        if let Some(url) = non_empty(ENV_API_URL) {
            config = config.api_url(url);
        }
        if let Some(pin) = non_empty(ENV_PINNED_CERT) {
            config = config.pinned_certificate(pin);
        }
        Ok(config)
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

    /// The server's result window as downloads first assume it: `offset + limit`
    /// never exceeds it (default 10,000). A service that refuses a page as too deep
    /// teaches the client its real window, which later downloads start from.
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

    /// The settle time set ([`Config::settle`]): what every open end of
    /// this client's ranges is closed with, the archive's syncs included.
    pub fn settle_time(&self) -> Duration {
        self.settle
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

    /// Also trusts the CA certificates of `pem` (one or more
    /// `-----BEGIN CERTIFICATE-----` blocks), besides this machine's roots.
    /// A PEM that does not parse fails [`Config::build`].
    ///
    /// ```
    /// use activitylog_client::{Config, Credentials};
    /// let config = Config::new(Credentials::token("t")).add_root_certificate_pem("not a pem");
    /// assert!(config.build().unwrap_err().to_string().contains("CA certificate"));
    /// ```
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.trust.roots_pem.push(pem.as_ref().to_vec());
        self
    }

    /// Trusts the server when a non-CA certificate of its chain has this
    /// SHA-256 (hex, any case; colons and spaces are ignored), even where
    /// no root vouches for it; as `IONOS_PINNED_CERT` in the IONOS Go SDK.
    /// With a pin set, a server whose chain does not match it is refused,
    /// whatever the roots say. Handshake signatures are always verified.
    pub fn pinned_certificate(mut self, sha256: impl Into<String>) -> Self {
        self.trust.pins.push(sha256.into());
        self
    }

    /// Accepts any server certificate (`skipTlsVerify` of the config file).
    /// Anyone on the path can then read the credentials: for tests only.
    /// Handshake signatures are still verified; a pin still applies.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.trust.accept_invalid = accept;
        self
    }

    /// Whether [`Config::danger_accept_invalid_certs`] is on.
    pub fn accepts_invalid_certs(&self) -> bool {
        self.trust.accept_invalid
    }

    /// Whether requests go through the proxies of `HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (default true, as curl).
    /// Through a proxy, https is tunnelled and stays encrypted; plain http
    /// through a proxy is refused, so the credentials never reach it in
    /// clear text (unless [`Config::allow_insecure_http`]).
    pub fn proxies_from_env(mut self, honour: bool) -> Self {
        self.env_proxies = honour;
        self
    }

    /// Sends every request through `client` (your own connection
    /// settings). The credentials are added to each request; the user
    /// agent, timeouts, proxies and TLS trust are then `client`'s own
    /// (setting TLS trust here as well fails [`Config::build`]).
    ///
    /// The SDK uses rustls with the *ring* provider, and `reqwest` without a
    /// provider of its own: a `reqwest::Client` built before the SDK's first
    /// use needs one installed (the SDK installs *ring* as the process's
    /// provider when none is, at [`Hooks::new`](crate::Hooks::new)).
    ///
    /// ```
    /// use activitylog_client::{ActivityLog, Credentials};
    /// let _ = rustls::crypto::ring::default_provider().install_default();
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

pub(crate) fn normalize_api_url(raw: &str) -> String {
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

/// Where a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A command-line flag (or another explicit override), by name.
    Flag(String),
    /// An environment variable (or two), by name.
    Env(String),
    /// The config file, and the profile in it (none: the file's top level).
    File {
        /// The file.
        path: PathBuf,
        /// The profile.
        profile: Option<String>,
    },
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) | Source::Env(name) => f.write_str(name),
            Source::File {
                path,
                profile: Some(profile),
            } => write!(f, "{}, profile {profile}", path.display()),
            Source::File {
                path,
                profile: None,
            } => write!(f, "{}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// Settings given explicitly (command-line flags), ahead of the environment
/// and the config file. Each carries the name of the flag it came from.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    api_url: Option<(String, String)>,
    profile: Option<(String, String)>,
    token: Option<(SecretString, String)>,
}

impl Overrides {
    /// The API's base URL, from `flag`.
    pub fn api_url(mut self, url: impl Into<String>, flag: impl Into<String>) -> Self {
        self.api_url = Some((url.into(), flag.into()));
        self
    }

    /// The profile of the config file to use, from `flag`.
    pub fn profile(mut self, name: impl Into<String>, flag: impl Into<String>) -> Self {
        self.profile = Some((name.into(), flag.into()));
        self
    }

    /// A token, from `flag`.
    pub fn token(mut self, token: SecretString, flag: impl Into<String>) -> Self {
        self.token = Some((token, flag.into()));
        self
    }
}

/// The resolved settings and where each came from: overrides (flags), then
/// the environment (`IONOS_TOKEN` before `IONOS_USERNAME`/`IONOS_PASSWORD`;
/// `IONOS_API_URL`), then the config file's profile, then the defaults.
/// `Debug` redacts secrets.
///
/// ```
/// use std::path::Path;
/// use activitylog_client::{ConfigFile, Overrides, Settings, Source};
/// let file = ConfigFile::parse(
///     "currentProfile: p\nprofiles:\n  - name: p\n    credentials:\n      token: file-token\n",
///     Path::new("/home/me/.ionos/config"),
/// )?;
/// let vars = [("IONOS_API_URL", "https://example.com")];
/// let lookup = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
/// let settings = Settings::resolve(&Overrides::default(), lookup, Some(&file))?;
/// assert_eq!(settings.api_url.1, Source::Env("IONOS_API_URL".into()));
/// assert_eq!(settings.credentials.as_ref().unwrap().1.to_string(), "/home/me/.ionos/config, profile p");
/// let config = settings.into_config()?;
/// assert_eq!(config.base_url(), "https://example.com");
/// # Ok::<(), activitylog_client::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// The config file read, and how it was found (`IONOS_CONFIG_FILE` or the default location).
    pub file: Option<(PathBuf, Source)>,
    /// The profile used, if any.
    pub profile: Option<(String, Source)>,
    /// The normalized base URL.
    pub api_url: (String, Source),
    /// The credentials, if any were found.
    pub credentials: Option<(Credentials, Source)>,
    /// The config file's `activitylog` endpoint of the profile's environment.
    pub endpoint: Option<Endpoint>,
    /// The SHA-256 of a certificate to trust (`IONOS_PINNED_CERT`).
    pub pinned_certificate: Option<(String, Source)>,
    /// CA certificates (PEM) to trust besides the machine's: the
    /// `certificateAuthData` of the file's endpoint, else of its environment.
    /// Only when the API URL is the file's: they describe that endpoint.
    pub certificate_authority: Option<(String, Source)>,
    /// The file's endpoint says `skipTlsVerify: true` (and the API URL is the file's).
    pub skip_tls_verify: Option<Source>,
    /// The contract [`ENV_CONTRACT_NUMBER`] names, for commands given none.
    pub contract: Option<(u64, Source)>,
}

impl Settings {
    /// Resolves the settings from `overrides`, the variables `lookup` reads
    /// and the config `file`. Errors: `IONOS_USERNAME` without
    /// `IONOS_PASSWORD`, a profile asked for that the file lacks (or with no
    /// file), a profile's environment that the file lacks, an
    /// `IONOS_CONTRACT_NUMBER` that is not a positive number.
    pub fn resolve(
        overrides: &Overrides,
        lookup: impl Fn(&str) -> Option<String>,
        file: Option<&ConfigFile>,
    ) -> Result<Settings> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let env = |name: &str| Source::Env(name.to_string());

        let file_source = file.map(|file| {
            let how = if file.named_by_env() {
                env(ENV_CONFIG_FILE)
            } else {
                Source::Default
            };
            (file.path().to_path_buf(), how)
        });

        // The profile: flag, IONOS_CURRENT_PROFILE, the file's currentProfile.
        let chosen = match (&overrides.profile, non_empty(ENV_CURRENT_PROFILE)) {
            (Some((name, flag)), _) => Some((name.clone(), Source::Flag(flag.clone()))),
            (None, Some(name)) => Some((name, env(ENV_CURRENT_PROFILE))),
            (None, None) => file.and_then(|file| {
                let name = file.current_profile.clone()?;
                (!name.trim().is_empty()).then(|| {
                    (
                        name,
                        Source::File {
                            path: file.path().to_path_buf(),
                            profile: None,
                        },
                    )
                })
            }),
        };
        let profile = match (&chosen, file) {
            (None, _) => None,
            (Some((name, _)), Some(file)) => Some(file.profile(name)?),
            (Some((name, source)), None) => {
                let path = crate::profile::default_dir(&lookup)
                    .map(|dir| dir.join("config"))
                    .unwrap_or_else(|| PathBuf::from("~/.ionos/config"));
                return Err(crate::profile::file_error(
                    &path,
                    format!(
                        "not found, so there is no profile `{name}` ({source} asks for it; \
                         {ENV_CONFIG_FILE} names another file)"
                    ),
                ));
            }
        };
        let from_file = || Source::File {
            path: file.map(|f| f.path().to_path_buf()).unwrap_or_default(),
            profile: profile.map(|p| p.name.clone()),
        };
        let endpoint = match (profile, file) {
            (Some(profile), Some(file)) => file.endpoint(profile)?.cloned(),
            _ => None,
        };

        let credentials = match (
            &overrides.token,
            non_empty(ENV_TOKEN),
            non_empty(ENV_USERNAME),
            non_empty(ENV_PASSWORD),
        ) {
            (Some((token, flag)), _, _, _) => Some((
                Credentials::Token(token.clone()),
                Source::Flag(flag.clone()),
            )),
            (None, Some(token), _, _) => Some((Credentials::token(token), env(ENV_TOKEN))),
            (None, None, Some(username), Some(password)) => Some((
                Credentials::basic(username, password),
                env(&format!("{ENV_USERNAME}, {ENV_PASSWORD}")),
            )),
            (None, None, Some(_), None) => {
                return Err(Error::Config(format!(
                    "{ENV_USERNAME} is set but {ENV_PASSWORD} is not: set both, or set {ENV_TOKEN}"
                )));
            }
            (None, None, None, _) => match profile.map(|p| &p.credentials) {
                Some(given) => match (&given.token, &given.username, &given.password) {
                    (Some(token), _, _) => Some((Credentials::Token(token.clone()), from_file())),
                    (None, Some(username), Some(password)) => Some((
                        Credentials::Basic {
                            username: username.clone(),
                            password: password.clone(),
                        },
                        from_file(),
                    )),
                    (None, Some(_), None) => {
                        return Err(crate::profile::file_error(
                            file.map(ConfigFile::path).unwrap_or_else(|| "".as_ref()),
                            format!(
                                "profile `{}` has a username but no password: add one, or a token",
                                profile.map(|p| p.name.as_str()).unwrap_or_default()
                            ),
                        ));
                    }
                    (None, None, _) => None,
                },
                None => None,
            },
        };

        let api_url = if let Some((url, flag)) = &overrides.api_url {
            (normalize_api_url(url), Source::Flag(flag.clone()))
        } else if let Some(url) = non_empty(ENV_API_URL) {
            (normalize_api_url(&url), env(ENV_API_URL))
        } else if let Some(endpoint) = &endpoint {
            (endpoint.url(), from_file())
        } else {
            (DEFAULT_API_URL.to_string(), Source::Default)
        };

        let pinned_certificate = non_empty(ENV_PINNED_CERT).map(|pin| (pin, env(ENV_PINNED_CERT)));
        let (mut certificate_authority, mut skip_tls_verify) = (None, None);
        if let (Some(endpoint), Some(file), Some(profile), Source::File { .. }) =
            (&endpoint, file, profile, &api_url.1)
        {
            let environment = file
                .environments
                .iter()
                .find(|e| Some(&e.name) == profile.environment.as_ref());
            let data = [
                (endpoint.certificate_auth_data.as_deref(), "endpoint"),
                (
                    environment.and_then(|e| e.certificate_auth_data.as_deref()),
                    "environment",
                ),
            ]
            .into_iter()
            .find_map(|(data, level)| data.filter(|d| !d.trim().is_empty()).map(|d| (d, level)));
            if let Some((data, level)) = data {
                let pem = crate::tls::decode_authority(data).map_err(|reason| {
                    crate::profile::file_error(
                        file.path(),
                        format!(
                            "the certificateAuthData of the {level} of profile `{}` {reason}",
                            profile.name
                        ),
                    )
                })?;
                certificate_authority = Some((pem, from_file()));
            }
            if endpoint.skip_tls_verify {
                skip_tls_verify = Some(from_file());
            }
        }
        let contract = match non_empty(ENV_CONTRACT_NUMBER) {
            Some(value) => Some((contract_number(&value)?, env(ENV_CONTRACT_NUMBER))),
            None => None,
        };

        Ok(Settings {
            file: file_source,
            profile: chosen,
            api_url,
            credentials,
            endpoint,
            pinned_certificate,
            certificate_authority,
            skip_tls_verify,
            contract,
        })
    }

    /// The configuration these settings make; an error if there are no credentials.
    pub fn into_config(self) -> Result<Config> {
        let Some((credentials, _)) = self.credentials else {
            return Err(Error::NoCredentials {
                looked_in: vec![
                    ENV_TOKEN.to_string(),
                    format!("{ENV_USERNAME} and {ENV_PASSWORD}"),
                    format!(
                        "a profile in the IONOS config file ({ENV_CONFIG_FILE}, \
                         default ~/.ionos/config)"
                    ),
                ],
            });
        };
        let mut config = Config::new(credentials).api_url(self.api_url.0);
        if let Some((pin, _)) = self.pinned_certificate {
            config = config.pinned_certificate(pin);
        }
        if let Some((pem, _)) = self.certificate_authority {
            config = config.add_root_certificate_pem(pem);
        }
        if self.skip_tls_verify.is_some() {
            config = config.danger_accept_invalid_certs(true);
        }
        Ok(config)
    }
}

/// Parses the value of [`ENV_CONTRACT_NUMBER`]: a positive number.
fn contract_number(value: &str) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(Error::ContractNumber {
            value: value.to_string(),
        }),
    }
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

    const FILE: &str = "\
currentProfile: user
profiles:
  - name: user
    environment: sandbox
    credentials:
      username: me@example.com
      password: hunter2
  - name: robot
    credentials:
      token: robot-token
environments:
  - name: sandbox
    products:
      - name: activitylog
        endpoints:
          - name: 127.0.0.1:9/activitylog/v1
";

    fn settings(
        overrides: &Overrides,
        vars: &[(&str, &str)],
        file: Option<&str>,
    ) -> Result<Settings> {
        let file = file
            .map(|text| ConfigFile::parse(text, std::path::Path::new("/h/.ionos/config")))
            .transpose()?;
        Settings::resolve(
            overrides,
            |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            },
            file.as_ref(),
        )
    }

    fn in_file(profile: &str) -> Source {
        Source::File {
            path: "/h/.ionos/config".into(),
            profile: Some(profile.into()),
        }
    }

    #[test]
    fn the_current_profile_gives_credentials_and_endpoint() {
        let settings = settings(&Overrides::default(), &[], Some(FILE)).unwrap();
        let (credentials, source) = settings.credentials.clone().unwrap();
        assert!(matches!(credentials, Credentials::Basic { .. }));
        assert_eq!(source, in_file("user"));
        assert_eq!(
            settings.api_url,
            ("https://127.0.0.1:9".to_string(), in_file("user"))
        );
        assert_eq!(
            settings.profile.as_ref().unwrap().1.to_string(),
            "/h/.ionos/config"
        );
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn the_environment_beats_the_file_and_flags_beat_both() {
        let vars = [
            ("IONOS_TOKEN", "env-token"),
            ("IONOS_API_URL", "env.example.com"),
        ];
        let s = settings(&Overrides::default(), &vars, Some(FILE)).unwrap();
        assert_eq!(s.credentials.unwrap().1, Source::Env("IONOS_TOKEN".into()));
        assert_eq!(
            s.api_url,
            (
                "https://env.example.com".to_string(),
                Source::Env("IONOS_API_URL".into())
            )
        );
        let flags = Overrides::default()
            .api_url("flag.example.com", "--api-url")
            .token(SecretString::from("flag-token"), "--token-stdin");
        let s = settings(&flags, &vars, Some(FILE)).unwrap();
        assert_eq!(
            s.credentials.unwrap().1,
            Source::Flag("--token-stdin".into())
        );
        assert_eq!(s.api_url.0, "https://flag.example.com");
        let basic = [("IONOS_USERNAME", "u"), ("IONOS_PASSWORD", "p")];
        let s = settings(&Overrides::default(), &basic, Some(FILE)).unwrap();
        assert_eq!(
            s.credentials.unwrap().1,
            Source::Env("IONOS_USERNAME, IONOS_PASSWORD".into())
        );
    }

    #[test]
    fn the_contract_variable_is_a_positive_number() {
        let s = settings(&Overrides::default(), &[], None).unwrap();
        assert_eq!(s.contract, None);
        let vars = [("IONOS_CONTRACT_NUMBER", " 31721060 ")];
        let s = settings(&Overrides::default(), &vars, None).unwrap();
        assert_eq!(
            s.contract,
            Some((31721060, Source::Env(ENV_CONTRACT_NUMBER.into())))
        );
        for bad in ["abc", "0", "-5", "3.5"] {
            let vars = [("IONOS_CONTRACT_NUMBER", bad)];
            let error = settings(&Overrides::default(), &vars, None).unwrap_err();
            assert!(matches!(error, Error::ContractNumber { .. }), "{error}");
            assert!(error.to_string().contains(&format!("`{bad}`")), "{error}");
        }
    }

    #[test]
    fn the_profile_flag_beats_the_variable_which_beats_current_profile() {
        let vars = [("IONOS_CURRENT_PROFILE", "robot")];
        let s = settings(&Overrides::default(), &vars, Some(FILE)).unwrap();
        assert_eq!(s.credentials.unwrap().1, in_file("robot"));
        assert_eq!(s.api_url, (DEFAULT_API_URL.to_string(), Source::Default));
        let flag = Overrides::default().profile("user", "--profile");
        let s = settings(&flag, &vars, Some(FILE)).unwrap();
        assert_eq!(s.credentials.unwrap().1, in_file("user"));
        assert_eq!(s.profile.unwrap().1, Source::Flag("--profile".into()));
    }

    #[test]
    fn a_missing_profile_or_file_is_a_config_file_error() {
        let flag = Overrides::default().profile("nope", "--profile");
        let error = settings(&flag, &[], Some(FILE)).unwrap_err();
        assert!(matches!(error, Error::ConfigFile { .. }), "{error}");
        assert!(error.to_string().contains("user, robot"), "{error}");
        let error = settings(&flag, &[("HOME", "/h")], None).unwrap_err();
        assert!(matches!(error, Error::ConfigFile { .. }), "{error}");
        assert!(error.to_string().contains("/h/.ionos/config"), "{error}");
    }

    #[test]
    fn the_files_tls_settings_apply_to_its_endpoint_only() {
        use base64::Engine;
        let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
        let data = base64::engine::general_purpose::STANDARD.encode(pem);
        let file = FILE.replace(
            "          - name: 127.0.0.1:9/activitylog/v1\n",
            &format!(
                "          - name: 127.0.0.1:9/activitylog/v1\n            skipTlsVerify: true\n            certificateAuthData: {data}\n"
            ),
        );
        let s = settings(&Overrides::default(), &[], Some(&file)).unwrap();
        assert_eq!(
            s.certificate_authority,
            Some((pem.to_string(), in_file("user")))
        );
        assert_eq!(s.skip_tls_verify, Some(in_file("user")));
        assert!(s.into_config().unwrap().accepts_invalid_certs());
        // Another URL is not the endpoint the settings describe.
        let vars = [("IONOS_API_URL", "https://elsewhere.example.com")];
        let s = settings(&Overrides::default(), &vars, Some(&file)).unwrap();
        assert!(s.certificate_authority.is_none() && s.skip_tls_verify.is_none());
        let pin = [("IONOS_PINNED_CERT", "AB:CD")];
        let s = settings(&Overrides::default(), &pin, Some(&file)).unwrap();
        assert_eq!(
            s.pinned_certificate.unwrap().1,
            Source::Env("IONOS_PINNED_CERT".into())
        );
        let broken = file.replace(&data, "bm90IGEgcGVt");
        let error = settings(&Overrides::default(), &[], Some(&broken)).unwrap_err();
        assert!(matches!(error, Error::ConfigFile { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("certificateAuthData of the endpoint"),
            "{error}"
        );
    }

    #[test]
    fn no_credentials_anywhere_names_every_place() {
        let s = settings(&Overrides::default(), &[], Some("profiles: []\n")).unwrap();
        assert!(s.credentials.is_none() && s.profile.is_none());
        let error = s.into_config().unwrap_err().to_string();
        for name in [ENV_TOKEN, ENV_USERNAME, ENV_CONFIG_FILE, "~/.ionos/config"] {
            assert!(error.contains(name), "{error}");
        }
    }
}
