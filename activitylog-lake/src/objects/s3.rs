//! A lake in an S3-compatible bucket, path-style (`https://HOST/BUCKET/KEY`,
//! as IONOS Object Storage wants): PUT with `If-None-Match: *` so that an
//! object is created once and never replaced, GET, server-side copy, DELETE
//! and ListObjectsV2.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::sigv4::{self, Key, Request};
use super::{Created, Listed};
use crate::{Error, Result};

/// The SHA-256 of an empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How to reach the S3 endpoint; credentials come from the environment.
#[derive(Clone, Debug, Default)]
pub struct S3Options {
    /// The endpoint's URL (`http://127.0.0.1:3900`); else `AWS_ENDPOINT_URL`,
    /// else IONOS Object Storage's endpoint for the region.
    pub endpoint: Option<String>,
    /// The region: signs requests, and names the IONOS endpoint
    /// (`eu-central-1` → `https://s3.eu-central-1.ionoscloud.com`) [default:
    /// `AWS_REGION`, else `eu-central-1`].
    pub region: Option<String>,
}

/// The region when none is given: IONOS's Frankfurt.
pub const DEFAULT_REGION: &str = "eu-central-1";

/// A bucket, and the prefix the lake lives under in it.
#[derive(Clone, Debug)]
pub struct S3 {
    http: reqwest::Client,
    /// `scheme://host[:port]`.
    origin: String,
    /// `host[:port]`, as signed.
    host: String,
    bucket: String,
    /// Empty, or ending in `/`.
    prefix: String,
    region: String,
    key: Arc<Key>,
}

impl S3 {
    pub(crate) fn new(bucket: &str, prefix: &str, options: &S3Options) -> Result<S3> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = options
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let endpoint = options
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://s3.{region}.ionoscloud.com"));
        let endpoint = endpoint.trim_end_matches('/');
        let host = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
            .filter(|host| !host.is_empty() && !host.contains('/'))
            .ok_or_else(|| Error::Endpoint(endpoint.to_string()))?
            .to_string();
        let key = credentials()?;
        let mut prefix = prefix.trim_matches('/').to_string();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(S3 {
            http: client()?,
            origin: endpoint.to_string(),
            host,
            bucket: bucket.to_string(),
            prefix,
            region,
            key: Arc::new(key),
        })
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    fn failed(&self, key: &str, message: impl std::fmt::Display) -> Error {
        Error::Store {
            location: self.location(key),
            message: message.to_string(),
        }
    }

    /// Sends one signed request for `key` (relative to the prefix; `None`:
    /// the bucket itself).
    async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<reqwest::Response> {
        let path = match key {
            Some(key) => format!(
                "/{}/{}",
                sigv4::encode(&self.bucket, true),
                sigv4::encode(&format!("{}{key}", self.prefix), false)
            ),
            None => format!("/{}", sigv4::encode(&self.bucket, true)),
        };
        let payload = if body.is_empty() {
            EMPTY_SHA256.to_string()
        } else {
            sigv4::hex(&Sha256::digest(&body))
        };
        let signed: Vec<(&str, &str)> = headers
            .iter()
            .copied()
            .filter(|(name, _)| name.starts_with("x-amz-"))
            .collect();
        let signature = sigv4::sign(
            &Request {
                method: method.as_str(),
                host: &self.host,
                path: &path,
                query,
                amz_headers: &signed,
                payload_sha256: &payload,
            },
            &self.key,
            &self.region,
            chrono::Utc::now(),
        );
        let query = sigv4::query_string(query);
        let url = if query.is_empty() {
            format!("{}{path}", self.origin)
        } else {
            format!("{}{path}?{query}", self.origin)
        };
        let mut request = self.http.request(method, url);
        for (name, value) in signature.iter() {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in headers {
            if !name.starts_with("x-amz-") {
                request = request.header(*name, *value);
            }
        }
        let where_ = key.unwrap_or("");
        request
            .header("content-length", body.len())
            .body(body)
            .send()
            .await
            .map_err(|e| self.failed(where_, without_url(&e)))
    }

    /// The error a response that is not a success means.
    async fn refused(&self, key: &str, response: reqwest::Response) -> Error {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let code = roxmltree::Document::parse(&body)
            .ok()
            .and_then(|doc| {
                let find = |name| {
                    doc.descendants()
                        .find(|n| n.has_tag_name(name))
                        .and_then(|n| n.text())
                        .map(str::to_string)
                };
                Some(match (find("Code"), find("Message")) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code,
                    _ => return None,
                })
            })
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        self.failed(key, format!("HTTP {}: {code}", status.as_u16()))
    }

    pub(crate) async fn create(&self, key: &str, body: Bytes) -> Result<Created> {
        let response = self
            .send(Method::PUT, Some(key), &[], &[("if-none-match", "*")], body)
            .await?;
        match response.status() {
            status if status.is_success() => Ok(Created::New),
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Ok(Created::Exists),
            _ => Err(self.refused(key, response).await),
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let response = self
            .send(Method::GET, Some(key), &[], &[], Bytes::new())
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => response
                .bytes()
                .await
                .map(Some)
                .map_err(|e| self.failed(key, without_url(&e))),
            _ => Err(self.refused(key, response).await),
        }
    }

    pub(crate) async fn copy(&self, from: &str, to: &str) -> Result<Created> {
        let source = format!(
            "/{}/{}",
            self.bucket,
            sigv4::encode(&format!("{}{from}", self.prefix), false)
        );
        let response = self
            .send(
                Method::PUT,
                Some(to),
                &[],
                &[("x-amz-copy-source", &source), ("if-none-match", "*")],
                Bytes::new(),
            )
            .await?;
        match response.status() {
            StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT => Ok(Created::Exists),
            status if status.is_success() => {
                // A copy can fail after its 200 (the error is in the body).
                let body = response.text().await.unwrap_or_default();
                if body.contains("<Error>") {
                    return Err(self.failed(to, format!("copy from {from} failed: {body}")));
                }
                Ok(Created::New)
            }
            _ => Err(self.refused(to, response).await),
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        let response = self
            .send(Method::DELETE, Some(key), &[], &[], Bytes::new())
            .await?;
        match response.status() {
            status if status.is_success() || status == StatusCode::NOT_FOUND => Ok(()),
            _ => Err(self.refused(key, response).await),
        }
    }

    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let full = format!("{}{prefix}", self.prefix);
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", full.as_str())];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let response = self
                .send(Method::GET, None, &query, &[], Bytes::new())
                .await?;
            if !response.status().is_success() {
                return Err(self.refused(prefix, response).await);
            }
            let body = response
                .text()
                .await
                .map_err(|e| self.failed(prefix, without_url(&e)))?;
            let doc = roxmltree::Document::parse(&body)
                .map_err(|e| self.failed(prefix, format!("unreadable listing: {e}")))?;
            let text = |node: roxmltree::Node<'_, '_>, name: &str| {
                node.children()
                    .find(|n| n.has_tag_name(name))
                    .and_then(|n| n.text())
                    .unwrap_or_default()
                    .to_string()
            };
            for contents in doc.descendants().filter(|n| n.has_tag_name("Contents")) {
                let key = text(contents, "Key");
                let Some(key) = key.strip_prefix(&self.prefix) else {
                    continue;
                };
                found.push(Listed {
                    key: key.to_string(),
                    size: text(contents, "Size").parse().unwrap_or_default(),
                    version: text(contents, "ETag"),
                });
            }
            let root = doc.root_element();
            let truncated = text(root, "IsTruncated") == "true";
            token = Some(text(root, "NextContinuationToken")).filter(|t| !t.is_empty());
            if !truncated || token.is_none() {
                break;
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

/// The access key from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// (and `AWS_SESSION_TOKEN`), else from the profile `AWS_PROFILE` (or
/// `default`) of `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`).
fn credentials() -> Result<Key> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Key {
            id,
            secret: SecretString::from(secret),
            token: env("AWS_SESSION_TOKEN").map(SecretString::from),
        });
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
    let file = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|home| std::path::Path::new(&home).join(".aws/credentials")));
    let text = file.and_then(|f| std::fs::read_to_string(f).ok());
    text.and_then(|text| from_profile(&text, &profile))
        .ok_or(Error::Credentials { profile })
}

/// The key of `profile` in a credentials file's text.
fn from_profile(text: &str, profile: &str) -> Option<Key> {
    let mut inside = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == profile;
        } else if inside && let Some((name, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match name.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(SecretString::from(value)),
                "aws_session_token" => token = Some(SecretString::from(value)),
                _ => {}
            }
        }
    }
    Some(Key {
        id: id?,
        secret: secret?,
        token,
    })
}

/// An HTTP client with rustls (ring) and the machine's roots.
fn client() -> Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| Error::Endpoint(format!("could not load the trusted certificates: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Endpoint(format!("could not set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| Error::Endpoint(format!("could not set up HTTP: {}", without_url(&e))))
}

/// A reqwest error's text without its URL.
fn without_url(error: &reqwest::Error) -> String {
    let mut error = error.to_string();
    if let Some(at) = error.find(" for url (") {
        error.truncate(at);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_read_from_the_credentials_file() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\
                    [lake]\naws_access_key_id=C\naws_secret_access_key=D\n";
        assert_eq!(from_profile(text, "lake").unwrap().id, "C");
        assert_eq!(from_profile(text, "default").unwrap().id, "A");
        assert!(from_profile(text, "other").is_none());
    }
}
