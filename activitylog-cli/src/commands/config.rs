//! `activitylog config`: the settings in force and where each comes from,
//! secrets redacted.

use std::io::Write;

use activitylog_client::{
    Credentials, ENV_CONFIG_FILE, ENV_CONTRACT_NUMBER, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME,
    Settings,
};

use crate::args::Global;
use crate::error::{Failure, stdout_failure};

/// What a secret is shown as.
const REDACTED: &str = "********";

/// Prints the resolved settings, one per line: `name: value (from SOURCE)`.
pub async fn run(global: &Global) -> Result<(), Failure> {
    let text = if global.sandbox {
        "sandbox: --sandbox runs the command against a built-in sandbox, with its own URL and \
         token; no other setting is used\n"
            .to_string()
    } else {
        render(&crate::connect::settings(global).await?)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}

/// The lines `activitylog config` prints; never a secret.
pub fn render(settings: &Settings) -> String {
    let mut lines = Vec::new();
    let mut line = |name: &str, value: String| lines.push(format!("{name:<12} {value}"));
    match &settings.file {
        Some((path, source)) => line(
            "config file:",
            format!("{} (from {source})", path.display()),
        ),
        None => line(
            "config file:",
            format!("none (set {ENV_CONFIG_FILE}, or write ~/.ionos/config)"),
        ),
    }
    match &settings.profile {
        Some((name, source)) => line("profile:", format!("{name} (from {source})")),
        None => line("profile:", "none".to_string()),
    }
    let (url, source) = &settings.api_url;
    line("api url:", format!("{url} (from {source})"));
    match &settings.credentials {
        Some((Credentials::Token(_), source)) => {
            line("token:", format!("{REDACTED} (from {source})"));
        }
        Some((Credentials::Basic { username, .. }, source)) => {
            line("username:", format!("{username} (from {source})"));
            line("password:", format!("{REDACTED} (from {source})"));
        }
        Some((_, source)) => line("credentials:", format!("{REDACTED} (from {source})")),
        None => line(
            "credentials:",
            format!(
                "none: set {ENV_TOKEN}, or {ENV_USERNAME} and {ENV_PASSWORD}, or a profile's \
                 credentials in the config file"
            ),
        ),
    }
    match &settings.contract {
        Some((number, source)) => line("contract:", format!("{number} (from {source})")),
        None => line(
            "contract:",
            format!(
                "none: `entries` reads the CONTRACT given, else the only one the credentials \
                 can read (set {ENV_CONTRACT_NUMBER} for a default)"
            ),
        ),
    }
    if let Some((pin, source)) = &settings.pinned_certificate {
        line("pinned cert:", format!("{} (from {source})", pin.trim()));
    }
    if let Some((pem, source)) = &settings.certificate_authority {
        let count = pem.matches("-----BEGIN CERTIFICATE-----").count();
        line(
            "trusted CA:",
            format!("{count} certificate(s) from certificateAuthData (from {source})"),
        );
    }
    if let Some(source) = &settings.skip_tls_verify {
        line(
            "tls verify:",
            format!("off: skipTlsVerify (from {source}); certificates are not checked"),
        );
    }
    if settings.pinned_certificate.is_none()
        && settings.certificate_authority.is_none()
        && settings.skip_tls_verify.is_none()
    {
        line("tls:", "this machine's trusted roots".to_string());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}
