//! `activitylog sandbox`: serve the sandbox until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use activitylog_client::{ENV_API_URL, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME};
use activitylog_sandbox::{Faults, MAIN_CONTRACT, Sandbox};

use crate::args::SandboxArgs;
use crate::error::Failure;

/// Starts the sandbox, prints how to reach it, and serves until Ctrl-C.
pub async fn serve(args: &SandboxArgs) -> Result<(), Failure> {
    let mut builder = Sandbox::builder()
        .events(args.events)
        .seed(args.seed)
        .port(args.port)
        .request_log(false);
    if args.faults > 0.0 {
        builder = builder.faults(Faults::rate(args.faults));
    }
    if args.latency_ms > 0 {
        builder = builder.latency(Duration::from_millis(args.latency_ms));
    }
    let sandbox = builder.start().await.map_err(|e| {
        Failure::other(format!(
            "could not start the sandbox: {e}; pick another --port (0 picks a free one)"
        ))
    })?;
    let credentials = sandbox.credentials();
    let mut stdout = std::io::stdout().lock();
    let lines = format!(
        "export {ENV_API_URL}={}\nexport {ENV_TOKEN}={}\nexport {ENV_USERNAME}={}\nexport {ENV_PASSWORD}={}\n",
        sandbox.url(),
        credentials.token,
        credentials.user,
        credentials.password,
    );
    stdout
        .write_all(lines.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("could not write to stdout: {e}")))?;
    drop(stdout);
    eprintln!(
        "sandbox on {}: {} entries in contract {MAIN_CONTRACT} from {} to {}; \
         try `activitylog entries {MAIN_CONTRACT} --since 7d` with the variables above; Ctrl-C stops it",
        sandbox.url(),
        args.events,
        sandbox.span_start().format("%Y-%m-%d"),
        sandbox.end().format("%Y-%m-%d %H:%M"),
    );
    sandbox
        .serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
