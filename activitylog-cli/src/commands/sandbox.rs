//! `activitylog sandbox`: serve the sandbox until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use activitylog_client::{ENV_API_URL, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME};
use activitylog_sandbox::{BadPages, FaultKind, Faults, MAIN_CONTRACT, Sandbox, default_contracts};

use crate::args::SandboxArgs;
use crate::error::Failure;

/// The sandbox these arguments describe, not yet started.
fn builder(args: &SandboxArgs) -> activitylog_sandbox::SandboxBuilder {
    let mut contracts = default_contracts(args.events);
    if let Some(main) = contracts.first_mut() {
        for burst in &args.burst {
            main.bursts.push((burst.at, burst.count));
        }
    }
    let mut builder = Sandbox::builder()
        .contracts(contracts)
        .seed(args.seed)
        .port(args.port)
        .request_log(false)
        .total_cap(args.total_cap)
        .total_form(args.total_form.into())
        .total_jitter(args.total_jitter)
        .result_window(Some(args.result_window))
        .result_window_unstated(args.result_window_unstated)
        .unordered(args.unordered)
        .whole_second_dates(args.whole_second_dates)
        .span(args.span);
    #[cfg(feature = "sandbox-tls")]
    if args.tls {
        builder = builder.tls();
    }
    if let Some(end) = args.end {
        builder = builder.end(end);
    }
    if let Some(offset) = args.clock_offset {
        builder = builder.clock_offset(offset);
    }
    match (&args.retry_after, args.faults > 0.0) {
        (Some(text), true) => {
            builder = builder.retry_after(text.clone()).faults(
                Faults::rate(args.faults)
                    .only([FaultKind::TooManyRequests, FaultKind::ServiceUnavailable]),
            );
        }
        (Some(text), false) => builder = builder.retry_after(text.clone()),
        (None, true) => builder = builder.faults(Faults::rate(args.faults)),
        (None, false) => {}
    }
    if args.bad_pages > 0.0 {
        builder = builder.bad_pages(BadPages::rate(args.bad_pages));
    }
    if args.latency_ms > 0 {
        builder = builder.latency(Duration::from_millis(args.latency_ms));
    }
    if let Some(lag) = args.ingestion_lag.filter(|lag| !lag.is_zero()) {
        builder = builder.ingestion_lag(lag);
    }
    if let Some(every) = args.live {
        builder = builder.live(every);
    }
    builder
}

/// Starts the sandbox, prints how to reach it, and serves until Ctrl-C.
pub async fn serve(args: &SandboxArgs) -> Result<(), Failure> {
    if args.tls && !cfg!(feature = "sandbox-tls") {
        return Err(Failure::usage(
            "this activitylog was built without the sandbox's HTTPS: build it with \
             `--features sandbox-tls` (e.g. `cargo install activitylog-cli --features sandbox-tls`)",
        ));
    }
    let sandbox = builder(args).start().await.map_err(|e| {
        Failure::other(format!(
            "could not start the sandbox: {e}; pick another --port (0 picks a free one)"
        ))
    })?;
    let credentials = sandbox.credentials();
    let mut stdout = std::io::stdout().lock();
    let lines = format!(
        "export {ENV_API_URL}={}\nexport {ENV_TOKEN}={}\nexport {ENV_USERNAME}={}\nexport {ENV_PASSWORD}={}\n{}",
        sandbox.url(),
        credentials.token,
        credentials.user,
        credentials.password,
        trust_lines(&sandbox),
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
        sandbox.event_count(MAIN_CONTRACT, None, None),
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

/// How a client trusts an HTTPS sandbox: its pin, or its CA for a config
/// file; nothing over plain HTTP.
#[cfg(feature = "sandbox-tls")]
fn trust_lines(sandbox: &Sandbox) -> String {
    use base64::Engine;
    let Some(tls) = sandbox.tls() else {
        return String::new();
    };
    let ca = base64::engine::general_purpose::STANDARD.encode(tls.ca_pem());
    format!(
        "export {}={}\n# or, instead of the pin, trust the CA: in a config file's environment, set\n# certificateAuthData: {ca}\n",
        activitylog_client::ENV_PINNED_CERT,
        tls.pin()
    )
}

/// A build without `sandbox-tls` serves plain HTTP only: nothing to trust.
#[cfg(not(feature = "sandbox-tls"))]
fn trust_lines(_: &Sandbox) -> String {
    String::new()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use activitylog_sandbox::TotalForm;
    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::args::{Cli, Command, parse_clock_offset};

    fn parse(extra: &[&str]) -> Result<SandboxArgs, clap::Error> {
        let mut argv = vec!["activitylog", "sandbox"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Sandbox(args) => args,
            _ => panic!("not the sandbox command"),
        })
    }

    #[test]
    fn defaults_leave_every_knob_off() {
        let args = parse(&[]).unwrap();
        let config = builder(&args).config().clone();
        assert_eq!(config.total_cap, None);
        assert_eq!(config.total_form, TotalForm::Integer);
        assert_eq!(config.total_jitter, None);
        assert_eq!(config.result_window, Some(10_000));
        assert!(!config.result_window_unstated);
        assert_eq!(config.bad_pages, BadPages::none());
        assert!(!config.unordered && !config.whole_second_dates);
        assert_eq!(config.ingestion_lag, None);
        assert_eq!(config.contracts, default_contracts(args.events));
        assert_eq!((config.end, config.span), (None, TimeDelta::days(90)));
        assert_eq!((config.clock_offset, config.retry_after), (None, None));
    }

    #[test]
    fn the_clock_offset_may_be_negative_and_retry_after_anything() {
        let args = parse(&[
            "--clock-offset",
            "-5m",
            "--faults",
            "0.5",
            "--retry-after",
            "18446744073709551615",
        ])
        .unwrap();
        let config = builder(&args).config().clone();
        assert_eq!(config.clock_offset, Some(TimeDelta::minutes(-5)));
        assert_eq!(config.retry_after.as_deref(), Some("18446744073709551615"));
        assert_eq!(
            config.faults,
            Faults::rate(0.5).only([FaultKind::TooManyRequests, FaultKind::ServiceUnavailable])
        );
        assert_eq!(parse_clock_offset("90s"), Ok(TimeDelta::seconds(90)));
        assert!(parse_clock_offset("soon").unwrap_err().contains("-5m"));
    }

    #[test]
    fn end_and_span_place_the_data() {
        let args = parse(&["--end", "2022-01-01T01:00:00+01:00", "--span", "365d"]).unwrap();
        let config = builder(&args).config().clone();
        assert_eq!(config.end, Some("2022-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(config.span, TimeDelta::days(365));
        assert_eq!(
            parse(&["--span", "12h"]).unwrap().span,
            TimeDelta::hours(12)
        );
    }

    #[test]
    fn knobs_reach_the_sandbox() {
        let args = parse(&[
            "--total-cap",
            "10000",
            "--total-form",
            "tracked",
            "--total-jitter",
            "25",
            "--result-window",
            "5000",
            "--result-window-unstated",
            "--bad-pages",
            "0.25",
            "--unordered",
            "--ingestion-lag",
            "2m",
            "--whole-second-dates",
            "--live",
            "250ms",
            "--burst",
            "2024-05-01T10:00:00.5Z=5000",
            "--burst",
            "2024-05-02T12:00:00+02:00=7",
        ])
        .unwrap();
        let config = builder(&args).config().clone();
        assert_eq!(config.total_cap, Some(10_000));
        assert_eq!(config.total_form, TotalForm::Tracked);
        assert_eq!(config.total_jitter, Some(25));
        assert_eq!(config.result_window, Some(5_000));
        assert!(config.result_window_unstated);
        assert_eq!(config.bad_pages, BadPages::rate(0.25));
        assert!(config.unordered && config.whole_second_dates);
        assert_eq!(config.ingestion_lag, Some(Duration::from_secs(120)));
        assert_eq!(config.live, Some(Duration::from_millis(250)));
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            config.contracts[0].bursts,
            [
                (at("2024-05-01T10:00:00.5Z"), 5_000),
                (at("2024-05-02T10:00:00Z"), 7)
            ]
        );
        assert!(config.contracts[1..].iter().all(|c| c.bursts.is_empty()));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--total-cap", "-1"][..],
            &["--total-cap", "many"],
            &["--total-form", "float"],
            &["--bad-pages", "1.5"],
            &["--bad-pages", "x"],
            &["--ingestion-lag", "soon"],
            &["--ingestion-lag", "30"],
            &["--burst", "2024-05-01T10:00:00Z"],
            &["--burst", "2024-05-01=5"],
            &["--burst", "2024-05-01T10:00:00Z=0"],
            &["--burst", "2024-05-01T10:00:00Z=-3"],
            &["--unordered", "yes"],
            &["--end", "2022-01-01"],
            &["--end", "yesterday"],
            &["--span", "365"],
            &["--span", "0s"],
            &["--span", "forever"],
            &["--span", "100000y"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}: {error}");
        }
    }

    /// A build without `sandbox-tls` refuses `--tls` with one line naming
    /// the feature, instead of serving plain HTTP or failing to start.
    #[cfg(not(feature = "sandbox-tls"))]
    #[tokio::test]
    async fn tls_in_a_build_without_it_names_the_feature() {
        let args = parse(&["--tls", "--port", "0", "--events", "10"]).unwrap();
        let served = tokio::time::timeout(Duration::from_secs(60), serve(&args)).await;
        let failure = served
            .expect("refused at once, not served")
            .expect_err("--tls without the feature fails");
        assert_eq!(failure.code(), 2);
        assert!(
            failure.message().contains("--features sandbox-tls"),
            "{}",
            failure.message()
        );
    }
}
