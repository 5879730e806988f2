//! Connecting: credentials and URL from the environment and the global flags,
//! or a sandbox started in this process (`--sandbox`).

use std::io::BufRead;

use activitylog_client::{ActivityLog, Config, Credentials, ENV_API_URL};
use activitylog_sandbox::Sandbox;

use crate::args::Global;
use crate::error::Failure;

/// A configured client, and the sandbox it talks to when `--sandbox` started one.
#[derive(Debug)]
pub struct Connection {
    /// The client.
    pub log: ActivityLog,
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
            .api_url(sandbox.url());
        return Ok(Connection {
            log: ActivityLog::new(config)?,
            _sandbox: Some(sandbox),
        });
    }
    let config = if global.token_stdin {
        // On a blocking thread, so that Ctrl-C still ends a wait for input.
        let token = tokio::task::spawn_blocking(token_from_stdin)
            .await
            .map_err(|e| Failure::other(format!("--token-stdin could not read stdin: {e}")))??;
        let config = Config::new(Credentials::token(token));
        match std::env::var(ENV_API_URL) {
            Ok(url) if !url.trim().is_empty() => config.api_url(url),
            _ => config,
        }
    } else {
        Config::from_env().map_err(|error| {
            let message = error.to_string();
            if message.contains("no credentials") {
                Failure::other(format!(
                    "{message} (or pipe a token to --token-stdin, or try --sandbox)"
                ))
            } else {
                Failure::from(error)
            }
        })?
    };
    let config = match &global.api_url {
        Some(url) => config.api_url(url.as_str()),
        None => config,
    };
    tracing::debug!(url = config.base_url(), "using the API");
    Ok(Connection {
        log: ActivityLog::new(config)?,
        _sandbox: None,
    })
}

/// The first line of stdin, trimmed.
fn token_from_stdin() -> Result<String, Failure> {
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
    Ok(token)
}
