//! One page of `getByContract`: the request, its retries, and a lossless decode.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::window::Window;
use crate::dates::render_instant;
use crate::error::{Context, Error, Result};
use crate::event::RawEvent;
use crate::generated::Client;
use crate::hooks;
use crate::retry::{self, Attempt, Fault};
use progenitor_client::ClientInfo;

const OPERATION: &str = "getByContract";

/// A decoded page: the server's count of matching events and this page's events.
#[derive(Debug)]
pub(crate) struct Page {
    /// `hits.total`: events matching the window, not just this page.
    pub total: u64,
    /// True when the server reports `total` as a lower bound (Elasticsearch's
    /// `"relation": "gte"`), i.e. there are at least that many.
    pub total_is_lower_bound: bool,
    /// Each hit's `_source`, byte for byte.
    pub events: Vec<RawEvent>,
}

/// Which slice of which window to ask for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageRequest {
    pub contract: u64,
    pub window: Window,
    pub offset: u64,
    pub limit: u64,
}

/// Fetches and decodes one page, retrying transient faults (truncated bodies
/// included) under the client's policy.
pub(crate) async fn fetch(client: &Client, request: PageRequest) -> Result<Page> {
    let hooks = client.inner();
    // The request as the generated getByContract builds it, sent by us so
    // that the body can be read raw.
    let send = client
        .get_by_contract()
        .contract_number(request.contract)
        .date_start(render_instant(request.window.start))
        .date_end(render_instant(request.window.end))
        .offset(request.offset)
        .limit(request.limit)
        .send();
    let Some(built) = hooks::built_request(send).await else {
        return Err(Error::Config(format!(
            "contract {}, offset {} or limit {} is out of the range getByContract takes",
            request.contract, request.offset, request.limit
        )));
    };
    let mut attempts = 0;
    let outcome = retry::run(&hooks.retry, &hooks.throttle, OPERATION, || {
        attempts += 1;
        let attempt_number = attempts;
        let sent = built
            .try_clone()
            .map(|attempt| hooks::execute(client, attempt, OPERATION));
        async move {
            let Some(sent) = sent else {
                return Attempt::Done(Err(Error::Config(
                    "a page request could not be repeated".into(),
                )));
            };
            let response = match sent.await {
                Ok(response) => response,
                Err(error) => {
                    return match retry::transport_error(&error) {
                        Ok(fault) => Attempt::Retry(fault),
                        Err(permanent) => Attempt::Done(Err(permanent)),
                    };
                }
            };
            let status = response.status();
            let retry_after = retry::retry_after(response.headers());
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(error) => return Attempt::Retry(retry::transport_fault(&error)),
            };
            hooks::log_body(OPERATION, &body);
            if retry::is_retryable_status(status) {
                return Attempt::Retry(Fault {
                    status: Some(status.as_u16()),
                    reason: format!("HTTP {status}"),
                    retry_after,
                });
            }
            if !status.is_success() {
                let context = Context {
                    operation: OPERATION,
                    contract: Some(request.contract),
                    attempts: attempt_number,
                    waited: std::time::Duration::ZERO,
                };
                return Attempt::Done(Err(Error::from_status(status.as_u16(), &body, &context)));
            }
            // A 200 that is not a page (a gateway's HTML, `{}`, no `hits`, a
            // cut-off body) is a fault of the path, not an empty window:
            // retried like a 503, and never counted as a page.
            let not_json = content_type
                .as_deref()
                .is_some_and(|kind| !is_json_media_type(kind));
            let fault = if not_json {
                format!(
                    "the server answered {status} with {} instead of a page (`{}`)",
                    content_type.as_deref().unwrap_or_default(),
                    excerpt(&body)
                )
            } else {
                match decode_owned(Vec::from(body)) {
                    Ok(page) => return Attempt::Done(Ok(page)),
                    Err((error, body)) if error.is_eof() => {
                        format!("the response body was cut off after {} bytes", body.len())
                    }
                    Err((error, body)) => format!(
                        "the server answered {status} with something that is not a page: \
                         {error} (`{}`)",
                        excerpt(&body)
                    ),
                }
            };
            Attempt::Retry(Fault {
                status: Some(status.as_u16()),
                reason: fault,
                retry_after: None,
            })
        }
    })
    .await;
    match outcome {
        Ok(result) => result,
        Err(exhausted) => Err(Error::Server {
            operation: OPERATION,
            status: exhausted.fault.status,
            attempts: exhausted.attempts,
            waited: exhausted.waited,
            reason: exhausted.fault.reason,
        }),
    }
}

/// Whether a `Content-Type` is JSON (`application/json`, `…+json`, any parameters).
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// The start of a body, printable and on one line, for messages.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(120)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn not_a_page(what: &str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(what)
}

/// Decodes a page without interpreting the events: each `_source` stays raw,
/// a slice of the page's text. A body without `hits` or without
/// `hits.total` is not a page: an error, never an empty window.
pub(crate) fn decode(body: &[u8]) -> serde_json::Result<Page> {
    decode_owned(body.to_vec()).map_err(|(error, _)| error)
}

/// [`decode`], keeping the body's buffer as the page's text (no copy); a
/// body that is not a page comes back with the error, for its message.
pub(crate) fn decode_owned(body: Vec<u8>) -> Result<Page, (serde_json::Error, Vec<u8>)> {
    // JSON is UTF-8: validated once here, so serde_json need not per string.
    let text = match String::from_utf8(body) {
        Ok(text) => Arc::new(text),
        Err(error) => {
            let utf8 = error.utf8_error();
            let body = error.into_bytes();
            // Let serde_json report where, in its own words.
            let error = match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                Err(error) => error,
                Ok(_) => not_a_page(&format!("the body is not UTF-8: {utf8}")),
            };
            return Err((error, body));
        }
    };
    decode_text(&text).map_err(|error| {
        // The events made so far are gone: the text is ours again.
        let text = Arc::try_unwrap(text).unwrap_or_else(|shared| String::clone(&shared));
        (error, text.into_bytes())
    })
}

/// Decodes the page in `text`; its events share it.
fn decode_text(text: &Arc<String>) -> serde_json::Result<Page> {
    let wire: WirePage<'_> = serde_json::from_str(text)?;
    let hits = wire
        .hits
        .ok_or_else(|| not_a_page("the body has no `hits`"))?;
    let (total, total_is_lower_bound) = match hits.total {
        Some(Total::Count(count)) => (saturating(&count), false),
        Some(Total::Tracked { value, relation }) => {
            (saturating(&value), relation.as_deref() == Some("gte"))
        }
        None => return Err(not_a_page("the body has no `hits.total`")),
    };
    let base = text.as_ptr() as usize;
    let mut events = Vec::with_capacity(hits.hits.len());
    for (position, hit) in hits.hits.into_iter().enumerate() {
        let source = hit
            .source
            .ok_or_else(|| not_a_page(&format!("hit {position} of the page has no `_source`")))?
            .get();
        // `source` borrows from `text`: its place there is its offset.
        let start = (source.as_ptr() as usize).wrapping_sub(base);
        let span = start..start + source.len();
        let same_place = text
            .get(span.clone())
            .is_some_and(|slice| std::ptr::eq(slice.as_ptr(), source.as_ptr()));
        if !same_place {
            return Err(not_a_page("a `_source` is not part of the page"));
        }
        events.push(RawEvent::in_page(Arc::clone(text), span));
    }
    // A count below the hits sent cannot be right: there are at least those.
    let sent = events.len() as u64;
    Ok(Page {
        total: total.max(sent),
        total_is_lower_bound: total_is_lower_bound || total < sent,
        events,
    })
}

/// A count as a `u64`, whatever number was written: larger ones (and
/// fractions) saturate, negative ones are none. It is only a hint.
fn saturating(count: &serde_json::Number) -> u64 {
    match (count.as_u64(), count.as_i64(), count.as_f64()) {
        (Some(count), _, _) => count,
        (None, Some(_), _) => 0,
        // `as` saturates, and makes NaN 0.
        (None, None, Some(count)) => count as u64,
        (None, None, None) => u64::MAX,
    }
}

#[derive(Deserialize)]
struct WirePage<'a> {
    #[serde(borrow)]
    hits: Option<WireHits<'a>>,
}

#[derive(Deserialize)]
struct WireHits<'a> {
    total: Option<Total>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    hits: Vec<WireHit<'a>>,
}

/// `hits.total`: an integer (the spec), or Elasticsearch 7's `{value, relation}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Total {
    Count(serde_json::Number),
    Tracked {
        value: serde_json::Number,
        relation: Option<String>,
    },
}

#[derive(Deserialize)]
struct WireHit<'a> {
    #[serde(rename = "_source", borrow)]
    source: Option<&'a RawValue>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_source_byte_for_byte() {
        let body = br#"{"hits":{"total":2,"hits":[{"_source":{"@uuid":"a","x":{"deep":[1,2.50]}}},{"_index":"i","_source":{"@uuid":"b"}}]}}"#;
        let page = decode(body).unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(
            page.events[0].json(),
            r#"{"@uuid":"a","x":{"deep":[1,2.50]}}"#
        );
        assert_eq!(page.events[1].uuid().as_deref(), Some("b"));
    }

    #[test]
    fn reads_elasticsearch_style_totals() {
        let page =
            decode(br#"{"hits":{"total":{"value":10000,"relation":"gte"},"hits":[]}}"#).unwrap();
        assert_eq!((page.total, page.total_is_lower_bound), (10_000, true));
        let page =
            decode(br#"{"hits":{"total":{"value":3,"relation":"eq"},"hits":null}}"#).unwrap();
        assert_eq!((page.total, page.total_is_lower_bound), (3, false));
    }

    #[test]
    fn hostile_totals_saturate_and_a_count_below_the_hits_is_a_lower_bound() {
        let total = |text: &str| {
            let body = format!(r#"{{"hits":{{"total":{text},"hits":[{{"_source":{{}}}}]}}}}"#);
            let page = decode(body.as_bytes()).unwrap();
            (page.total, page.total_is_lower_bound)
        };
        assert_eq!(total("18446744073709551615"), (u64::MAX, false));
        assert_eq!(total("18446744073709551616"), (u64::MAX, false));
        assert_eq!(total("1e300"), (u64::MAX, false));
        assert_eq!(total("2.5"), (2, false));
        assert_eq!(total("-5"), (1, true));
        assert_eq!(total("0"), (1, true));
        assert_eq!(
            total(r#"{"value":18446744073709551615,"relation":"eq"}"#),
            (u64::MAX, false)
        );
        assert_eq!(
            total(r#"{"value":99999999999999999999999,"relation":"gte"}"#),
            (u64::MAX, true)
        );
    }

    #[test]
    fn only_json_media_types_are_pages() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/problem+json"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type("text/plain; charset=utf-8"));
    }

    #[test]
    fn a_truncated_body_is_an_eof_error() {
        let body = br#"{"hits":{"total":2,"hits":[{"_source":{"@uuid":"a"}},{"_sou"#;
        assert!(decode(body).unwrap_err().is_eof());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"{\"hits\":5}",
            b"\xff\xfe",
            b"{\"hits\":{\"hits\":[{}]}}",
            b"{}",
            b"{\"took\":3,\"timed_out\":false}",
            b"{\"hits\":{\"hits\":[{\"_source\":{\"@uuid\":\"a\"}}]}}",
            b"<html><body>maintenance</body></html>",
        ] {
            assert!(decode(body).is_err(), "{body:?}");
        }
    }
}
