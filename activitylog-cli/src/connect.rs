//! Connecting: credentials and URL from the global flags, the environment
//! and the IONOS config file, or a sandbox started in this process
//! (`--sandbox`).

use std::io::BufRead;

use activitylog_client::{ActivityLog, Config, ConfigFile, Credentials, Overrides, Settings};
use activitylog_sandbox::Sandbox;
use secrecy::SecretString;

use crate::args::Global;
use crate::error::Failure;

/// A configured client, and the sandbox it talks to when `--sandbox` started one.
#[derive(Debug)]
pub struct Connection {
    /// The client.
    pub log: ActivityLog,
    /// The contract `IONOS_CONTRACT_NUMBER` names (never with `--sandbox`).
    pub contract: Option<u64>,
    /// Kept alive for as long as the command runs.
    _sandbox: Option<Sandbox>,
}

/// Builds the client the global flags ask for.
pub async fn connect(global: &Global) -> Result<Connection, Failure> {
    if global.sandbox {
        let sandbox = Sandbox::builder()
            .request_log(false)
            .start()
            .await
            .map_err(|e| Failure::other(format!("could not start the sandbox: {e}")))?;
        tracing::info!(url = sandbox.url(), "using the built-in sandbox");
        let config = Config::new(Credentials::token(sandbox.credentials().token.clone()))
            .api_url(sandbox.url())
            .proxies_from_env(false);
        return Ok(Connection {
            log: ActivityLog::new(config)?,
            contract: None,
            _sandbox: Some(sandbox),
        });
    }
    let settings = settings(global).await?;
    let contract = settings.contract.as_ref().map(|(number, _)| *number);
    let config = settings.into_config()?;
    if config.accepts_invalid_certs() {
        eprintln!("{SKIP_VERIFY_WARNING}");
    }
    tracing::debug!(url = config.base_url(), "using the API");
    Ok(Connection {
        log: ActivityLog::new(config)?,
        contract,
        _sandbox: None,
    })
}

/// Said on stderr on every run with `skipTlsVerify: true`.
pub const SKIP_VERIFY_WARNING: &str = "warning: skipTlsVerify is set in the config file: the \
    server's TLS certificate is not verified, so anyone on the path can read the credentials; \
    set IONOS_PINNED_CERT or certificateAuthData instead";

/// The settings in force and where each comes from: the flags (`--api-url`,
/// `--profile`, `--token-stdin`, which reads stdin), then the environment,
/// then the config file's profile, then the defaults.
pub async fn settings(global: &Global) -> Result<Settings, Failure> {
    let lookup = |name: &str| std::env::var(name).ok();
    let file = ConfigFile::from_lookup(lookup)?;
    let mut overrides = Overrides::default();
    if let Some(url) = &global.api_url {
        overrides = overrides.api_url(url.as_str(), "--api-url");
    }
    if let Some(profile) = &global.profile {
        overrides = overrides.profile(profile.as_str(), "--profile");
    }
    if global.token_stdin {
        // On a blocking thread, so that Ctrl-C still ends a wait for input.
        let token = tokio::task::spawn_blocking(token_from_stdin)
            .await
            .map_err(|e| Failure::other(format!("--token-stdin could not read stdin: {e}")))??;
        overrides = overrides.token(token, "--token-stdin");
    }
    Ok(Settings::resolve(&overrides, lookup, file.as_ref())?)
}

/// The first line of stdin, trimmed.
fn token_from_stdin() -> Result<SecretString, Failure> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::other(format!("--token-stdin could not read stdin: {e}")))?;
    let token = line.trim().to_string();
    if token.is_empty() {
        return Err(Failure::usage(
            "--token-stdin read no token: pipe one in, e.g. `printf %s \"$TOKEN\" | activitylog --token-stdin info`",
        ));
    }
    Ok(SecretString::from(token))
}
