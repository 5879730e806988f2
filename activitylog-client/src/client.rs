//! [`ActivityLog`]: the configured client users start from.

use std::sync::Arc;

use crate::config::Config;
use crate::download::{Entries, Learned};
use crate::error::{Context, Error, Result};
use crate::generated::{Client, types};
use crate::hooks::{Hooks, Outcome, with_outcome};
use progenitor_client::ClientInfo;

/// The Activity Log API with auth, retries and downloads set up.
///
/// ```no_run
/// # async fn run() -> activitylog_client::Result<()> {
/// let log = activitylog_client::ActivityLog::from_env()?;
/// for contract in log.contracts().await? {
///     println!("{:?}", contract.id);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ActivityLog {
    client: Client,
    config: Arc<Config>,
    /// What downloads learned about the service (its real result window).
    learned: Arc<Learned>,
}

impl ActivityLog {
    /// A client configured from `IONOS_TOKEN` or `IONOS_USERNAME`/`IONOS_PASSWORD`,
    /// and `IONOS_API_URL`, then the profile of the IONOS config file
    /// (`~/.ionos/config`); see [`Config::from_env`].
    pub fn from_env() -> Result<Self> {
        Self::new(Config::from_env()?)
    }

    /// A client for `config`.
    pub fn new(config: Config) -> Result<Self> {
        let url = config.validated_url()?;
        if config.env_proxies && !config.allow_insecure_http && config.http_client.is_none() {
            crate::proxy::refuse_plain_http_through_proxy(&url)?;
        }
        if config.trust.accept_invalid {
            tracing::warn!(
                url = %url,
                "TLS certificates are not verified (skipTlsVerify): anyone on the path can read the credentials"
            );
        }
        let mut hooks = Hooks::new(&config.credentials, config.retry.clone())?;
        if let Some(contract) = config.contract_number_header {
            hooks = hooks.contract_number_header(contract);
        }
        let http = match &config.http_client {
            Some(_) if config.trust.is_set() => {
                return Err(Error::Config(
                    "trusted CAs, pinned certificates and skip-verify are not applied to a \
                     client given with http_client: set them on that reqwest::Client instead"
                        .to_string(),
                ));
            }
            Some(http) => http.clone(),
            None => if config.env_proxies {
                reqwest::Client::builder()
            } else {
                reqwest::Client::builder().no_proxy()
            }
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_max_idle_per_host(config.concurrency.max(8))
            .tls_backend_preconfigured(config.trust.client_config()?)
            .build()
            .map_err(|e| Error::Config(format!("could not set up HTTP: {e}")))?,
        };
        let base = url.as_str().trim_end_matches('/');
        let client = Client::new_with_client(base, http, hooks);
        Ok(ActivityLog {
            client,
            config: Arc::new(config),
            learned: Arc::default(),
        })
    }

    /// Starts a configuration from `credentials`, every other setting at its
    /// default; finish it with [`Config::build`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use activitylog_client::{ActivityLog, Credentials, RetryPolicy};
    /// let log = ActivityLog::builder(Credentials::token("my-token"))
    ///     .api_url("https://api.ionos.com")
    ///     .request_timeout(Duration::from_secs(60))
    ///     .retry(RetryPolicy::default().max_attempts(8))
    ///     .concurrency(8)
    ///     .result_window(10_000)
    ///     .settle(Duration::from_secs(300))
    ///     .build()?;
    /// assert_eq!(log.config().base_url(), "https://api.ionos.com");
    /// # Ok::<(), activitylog_client::Error>(())
    /// ```
    pub fn builder(credentials: crate::Credentials) -> Config {
        Config::new(credentials)
    }

    /// The generated client underneath, for calls this facade does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Now by the service's clock: this machine's clock corrected by the
    /// offset the last answer's `Date` header showed, when the service's is
    /// more than 5 seconds behind (a warning is logged the first time). A
    /// service clock ahead is logged too, but this machine's, the earlier,
    /// is kept: an end earlier than the service's now is only read a little
    /// later, one past it would claim entries not written yet.
    ///
    /// Before any answer has come, one cheap request (`getInfo`) is sent to
    /// learn it; if that gets no answer, this machine's clock is used (the
    /// download that follows reports the failure in its own words). Open
    /// ends of ranges are closed with this time ([`RangeRule`](crate::RangeRule)).
    pub async fn now(&self) -> chrono::DateTime<chrono::Utc> {
        service_now(&self.client).await
    }

    /// The service's clock minus this machine's, when the last answer showed
    /// them more than 5 seconds apart; `None` when they agree or before any
    /// answer.
    pub fn clock_offset(&self) -> Option<chrono::TimeDelta> {
        self.client.inner().clock.offset()
    }

    /// `GET /activitylog/v1`: the API's name and version.
    pub async fn info(&self) -> Result<types::Info> {
        let (result, outcome) = with_outcome(self.client.get_info().send()).await;
        Ok(result_of(result, "getInfo", outcome).await?.into_inner())
    }

    /// `GET /activitylog/v1/contracts`: the contracts the credentials may read.
    pub async fn contracts(&self) -> Result<Vec<types::ReferenceById>> {
        let (result, outcome) = with_outcome(self.client.get_available_contracts().send()).await;
        Ok(result_of(result, "getAvailableContracts", outcome)
            .await?
            .into_inner())
    }

    /// All entries of `contract` in a date range, as a stream.
    ///
    /// ```no_run
    /// # async fn run(log: activitylog_client::ActivityLog) -> activitylog_client::Result<()> {
    /// use futures::TryStreamExt;
    /// let since: activitylog_client::DateBound = "2024-01-01".parse()?;
    /// let mut events = log.entries(31721060).since(since).raw();
    /// while let Some(event) = events.try_next().await? {
    ///     println!("{event}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn entries(&self, contract: u64) -> Entries {
        Entries::new(
            self.client.clone(),
            contract,
            &self.config,
            Arc::clone(&self.learned),
        )
    }
}

/// Now by the service's clock, asking it once if nothing was heard yet;
/// see [`ActivityLog::now`].
pub(crate) async fn service_now(client: &Client) -> chrono::DateTime<chrono::Utc> {
    let clock = &client.inner().clock;
    if !clock.is_known() {
        // One attempt, no retries: any answer (an error status too) tells the time.
        if let Some(request) = crate::hooks::built_request(client.get_info().send()).await
            && let Err(error) = crate::hooks::execute(client, request, "getInfo").await
        {
            tracing::debug!(%error, "the service's time is unknown: using this machine's clock");
        }
    }
    clock.now()
}

/// Maps progenitor's error into the SDK's.
async fn result_of<T>(
    result: std::result::Result<T, progenitor_client::Error<types::ApiError>>,
    operation: &'static str,
    outcome: Outcome,
) -> Result<T> {
    use progenitor_client::Error as Generated;
    let context = &Context {
        operation,
        contract: None,
        attempts: outcome.attempts,
        waited: outcome.waited,
    };
    let error = match result {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    Err(match error {
        Generated::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let body = serde_json::to_vec(&response.into_inner()).unwrap_or_default();
            Error::from_status(status, &body, context)
        }
        Generated::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            Error::from_status(status, &body, context)
        }
        // An error answer whose body is not the error JSON (empty, HTML).
        Generated::InvalidResponsePayload(body, _) if outcome.status.is_some_and(|s| s >= 400) => {
            Error::from_status(outcome.status.unwrap_or_default(), &body, context)
        }
        Generated::InvalidResponsePayload(body, error) => {
            Error::decode(context.operation, &body, &error)
        }
        Generated::CommunicationError(error)
        | Generated::ResponseBodyError(error)
        | Generated::InvalidUpgrade(error) => match crate::retry::transport_error(&error) {
            Ok(fault) => Error::Server {
                operation: context.operation,
                status: fault.status,
                attempts: context.attempts,
                waited: context.waited,
                reason: fault.reason,
            },
            Err(permanent) => permanent,
        },
        Generated::InvalidRequest(message) | Generated::Custom(message) => Error::Config(message),
    })
}
