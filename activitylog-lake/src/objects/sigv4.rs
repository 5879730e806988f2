//! AWS Signature Version 4 for S3 requests, signed in headers
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>).
//! Written here on `hmac` and `sha2` (already in the build) rather than an
//! SDK: a lake needs five requests.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// An access key: the id shows in requests, the secret never.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub secret: SecretString,
    pub token: Option<SecretString>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a request signs.
pub struct Request<'a> {
    pub method: &'a str,
    /// `host[:port]` as sent in the Host header.
    pub host: &'a str,
    /// The path, already percent-encoded as sent.
    pub path: &'a str,
    /// The query's pairs, not encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// `x-amz-*` headers besides the date and the payload hash (lower case).
    pub amz_headers: &'a [(&'a str, &'a str)],
    /// The body's SHA-256, in hex.
    pub payload_sha256: &'a str,
}

/// The headers that sign `request` with `key` in `region` at `now`.
pub fn sign(
    request: &Request<'_>,
    key: &Key,
    region: &str,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), request.host.into()),
        ("x-amz-content-sha256".into(), request.payload_sha256.into()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    for (name, value) in request.amz_headers {
        headers.push(((*name).into(), (*value).into()));
    }
    if let Some(token) = &key.token {
        headers.push((
            "x-amz-security-token".into(),
            token.expose_secret().to_string(),
        ));
    }
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.trim()))
        .collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        request.path,
        query_string(request.query),
        request.payload_sha256
    );
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = format!("AWS4{}", key.secret.expose_secret());
    let mut signing = hmac(secret.as_bytes(), date.as_bytes());
    for part in [region, "s3", "aws4_request"] {
        signing = hmac(&signing, part.as_bytes());
    }
    let signature = hex(&hmac(&signing, to_sign.as_bytes()));
    headers.retain(|(name, _)| name != "host");
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            key.id
        ),
    ));
    headers
}

/// The query as both the URL and the signature carry it: pairs encoded and sorted.
pub fn query_string(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, true), encode(v, true)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// Percent-encodes all but the unreserved characters (and `/` unless `slash`).
pub fn encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` never fails for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "GET Object" in
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>.
    #[test]
    fn signs_as_aws_documents() {
        let key = Key {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
                .to_string()
                .into(),
            token: None,
        };
        let empty = hex(&Sha256::digest(b""));
        let now = DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .unwrap()
            .to_utc();
        let headers = sign(
            &Request {
                method: "GET",
                host: "examplebucket.s3.amazonaws.com",
                path: "/test.txt",
                query: &[],
                amz_headers: &[("range", "bytes=0-9")],
                payload_sha256: &empty,
            },
            &key,
            "us-east-1",
            now,
        );
        let authorization = &headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1;
        assert!(
            authorization.ends_with(
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
                 Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{authorization}"
        );
        assert!(!format!("{key:?}").contains("wJalr"));
    }
}
