//! Proxies: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (and
//! their lowercase forms) are honoured by the HTTP client as curl honours
//! them. Through a proxy, https is tunnelled (`CONNECT`) and stays
//! encrypted end to end; plain http would hand the credentials to the proxy
//! in clear text, so it is refused.

use hyper_util::client::proxy::matcher::Matcher;
use reqwest::Url;

use crate::error::{Error, Result};

/// Refuses a plain-http `url` that the proxy settings of the environment
/// would send through a proxy.
pub(crate) fn refuse_plain_http_through_proxy(url: &Url) -> Result<()> {
    if url.scheme() != "http" {
        return Ok(());
    }
    let Ok(uri) = url.as_str().parse::<http::Uri>() else {
        return Ok(());
    };
    let Some(proxy) = Matcher::from_system().intercept(&uri) else {
        return Ok(());
    };
    // The proxy's host and port only: its URL may carry a password.
    let proxy = proxy.uri();
    let at = match (proxy.host(), proxy.port_u16()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => "?".to_string(),
    };
    let host = url.host_str().unwrap_or("?");
    Err(Error::Config(format!(
        "refusing to send credentials over plain http through the proxy {at} \
         (HTTP_PROXY/ALL_PROXY): use https, which the proxy tunnels encrypted, \
         or add {host} to NO_PROXY"
    )))
}
