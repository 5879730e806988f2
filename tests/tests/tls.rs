//! TLS, proxies and logging end to end: the `activitylog` binary and the SDK
//! against a sandbox serving HTTPS with a certificate generated at start
//! (`Sandbox::builder().tls()`), which nothing trusts until told to.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use activitylog_client::{ActivityLog, Credentials, Error};
use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};
use activitylog_tests::cli::{Run, run};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A fresh directory for one test's files, used as its HOME.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("activitylog-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn tls_sandbox() -> Sandbox {
    Sandbox::builder().events(200).tls().start().await.unwrap()
}

/// The CLI pointed at `sandbox` through IONOS_API_URL and IONOS_TOKEN.
fn at(sandbox: &Sandbox, home: &Path) -> Command {
    activitylog_tests::cli::against(binary(), home, sandbox)
}

fn pin(sandbox: &Sandbox) -> String {
    sandbox.tls().unwrap().pin().to_string()
}

fn ca_data(sandbox: &Sandbox) -> String {
    base64::engine::general_purpose::STANDARD.encode(sandbox.tls().unwrap().ca_pem())
}

fn listed_main_contract(run: &Run) -> bool {
    run.code == Some(0) && run.stdout.contains(&MAIN_CONTRACT.to_string())
}

#[tokio::test]
async fn without_pin_or_ca_the_certificate_is_refused_once_with_the_fix() {
    let sandbox = tls_sandbox().await;
    let home = scratch("untrusted");
    let out = run(at(&sandbox, &home), &["contracts"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("TLS certificate"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("IONOS_PINNED_CERT={}", pin(&sandbox))),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("certificateAuthData"), "{}", out.stderr);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    // Permanent: one handshake, no retries, and nothing reached the API.
    assert_eq!(sandbox.connections(), 1);
    assert!(sandbox.requests().is_empty());
}

#[tokio::test]
async fn the_right_pin_is_trusted_in_any_case_with_colons() {
    let sandbox = tls_sandbox().await;
    let home = scratch("pinned");
    let fancy = pin(&sandbox)
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let mut command = at(&sandbox, &home);
    command.env("IONOS_PINNED_CERT", &fancy);
    let out = run(command, &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
}

#[tokio::test]
async fn a_wrong_pin_or_a_pinned_ca_is_refused() {
    let sandbox = tls_sandbox().await;
    let home = scratch("wrong-pin");
    let ca = sandbox.tls().unwrap().ca_sha256().to_string();
    for wrong in ["ab".repeat(32), ca] {
        let mut command = at(&sandbox, &home);
        command.env("IONOS_PINNED_CERT", &wrong);
        let out = run(command, &["contracts"]).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(
            out.stderr.contains("matches IONOS_PINNED_CERT") && out.stderr.contains(&pin(&sandbox)),
            "{}",
            out.stderr
        );
    }
    assert!(sandbox.requests().is_empty());
    let mut command = at(&sandbox, &home);
    command.env("IONOS_PINNED_CERT", "not-hex");
    let out = run(command, &["contracts"]).await;
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("IONOS_PINNED_CERT"), "{}", out.stderr);
}

/// A config file whose profile `p` reaches `sandbox` with `environment_ca`
/// on the environment and `endpoint_extra` on the endpoint.
fn config_file(
    home: &Path,
    sandbox: &Sandbox,
    environment_ca: &str,
    endpoint_extra: &str,
) -> PathBuf {
    let text = format!(
        "\
currentProfile: p
profiles:
  - name: p
    environment: test
    credentials:
      token: {token}
environments:
  - name: test
    certificateAuthData: '{environment_ca}'
    products:
      - name: activitylog
        endpoints:
          - name: {url}
{endpoint_extra}",
        token = sandbox.credentials().token,
        url = sandbox.url(),
    );
    let path = home.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn with_file(home: &Path, file: &Path) -> Command {
    let mut command = activitylog_tests::cli::isolated(binary(), home);
    command.env("IONOS_CONFIG_FILE", file);
    command
}

#[tokio::test]
async fn the_ca_of_a_config_file_profile_is_trusted_and_the_endpoints_wins() {
    let sandbox = tls_sandbox().await;
    let other = tls_sandbox().await;
    let home = scratch("ca");

    let file = config_file(&home, &sandbox, &ca_data(&sandbox), "");
    let out = run(with_file(&home, &file), &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
    let shown = run(with_file(&home, &file), &["config"]).await;
    assert!(
        shown.stdout.contains("trusted CA:") && shown.stdout.contains("certificateAuthData"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("not applied"), "{}", shown.stdout);

    let endpoint = |ca: &str| format!("            certificateAuthData: {ca}\n");
    let file = config_file(
        &home,
        &sandbox,
        &ca_data(&other),
        &endpoint(&ca_data(&sandbox)),
    );
    let out = run(with_file(&home, &file), &["contracts"]).await;
    assert!(listed_main_contract(&out), "endpoint CA wins: {out:?}");

    let file = config_file(
        &home,
        &sandbox,
        &ca_data(&sandbox),
        &endpoint(&ca_data(&other)),
    );
    let out = run(with_file(&home, &file), &["contracts"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("certificateAuthData"), "{}", out.stderr);

    let file = config_file(&home, &sandbox, "bm90IGEgcGVt", "");
    let out = run(with_file(&home, &file), &["contracts"]).await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("certificateAuthData") && out.stderr.contains("config.yaml"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn skip_tls_verify_works_and_warns_on_every_run() {
    let sandbox = tls_sandbox().await;
    let home = scratch("skip");
    let file = config_file(&home, &sandbox, "", "            skipTlsVerify: true\n");
    for _ in 0..2 {
        let out = run(with_file(&home, &file), &["contracts"]).await;
        assert!(listed_main_contract(&out), "{out:?}");
        assert!(
            out.stderr.contains("warning: skipTlsVerify"),
            "{}",
            out.stderr
        );
    }
}

#[tokio::test]
async fn the_sdk_takes_a_pin_or_a_ca_and_names_certificate_errors() {
    let sandbox = tls_sandbox().await;
    let tls = sandbox.tls().unwrap();
    let builder = || {
        ActivityLog::builder(Credentials::token(&sandbox.credentials().token))
            .api_url(sandbox.url())
    };
    let pinned = builder().pinned_certificate(tls.pin()).build().unwrap();
    assert_eq!(pinned.contracts().await.unwrap().len(), 2);
    let with_ca = builder()
        .add_root_certificate_pem(tls.ca_pem())
        .build()
        .unwrap();
    assert_eq!(with_ca.contracts().await.unwrap().len(), 2);
    // Trust set here is not silently dropped for a client brought along.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mixed = builder()
        .http_client(reqwest::Client::new())
        .pinned_certificate(tls.pin())
        .build();
    assert!(matches!(mixed, Err(Error::Config(_))), "{mixed:?}");
    let error = builder().build().unwrap().contracts().await.unwrap_err();
    assert!(matches!(error, Error::Certificate { .. }), "{error}");
    assert!(!error.is_transient());
}

/// A CONNECT proxy on 127.0.0.1 that records the first line of every
/// request it gets and tunnels CONNECTs.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, Arc::clone(&log)));
            }
        });
        Proxy { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn tunnel(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let first = head.lines().next().unwrap_or_default().to_string();
    seen.lock().unwrap().push(head.clone());
    let target = match first.strip_prefix("CONNECT ") {
        Some(rest) => rest.split(' ').next().unwrap_or_default().to_string(),
        None => {
            let _ = client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        }
    };
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await;
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test]
async fn https_goes_through_the_proxy_and_no_proxy_bypasses_it() {
    let sandbox = tls_sandbox().await;
    let proxy = Proxy::start().await;
    let home = scratch("proxy");
    let mut command = at(&sandbox, &home);
    command
        .env("IONOS_PINNED_CERT", pin(&sandbox))
        .env("HTTPS_PROXY", &proxy.url);
    let out = run(command, &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
    let seen = proxy.seen();
    let port = sandbox.addr().port();
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|head| head.starts_with(&format!("CONNECT 127.0.0.1:{port} "))),
        "{seen:?}"
    );
    // The tunnel carries TLS: the proxy never sees the token.
    assert!(
        !seen
            .iter()
            .any(|head| head.contains(&sandbox.credentials().token))
    );

    let mut command = at(&sandbox, &home);
    command
        .env("IONOS_PINNED_CERT", pin(&sandbox))
        .env("HTTPS_PROXY", &proxy.url)
        .env("NO_PROXY", "localhost,127.0.0.1");
    let out = run(command, &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
    assert_eq!(
        proxy.seen().len(),
        seen.len(),
        "NO_PROXY bypasses the proxy"
    );
}

#[tokio::test]
async fn plain_http_through_a_proxy_is_refused() {
    let sandbox = Sandbox::builder().events(200).start().await.unwrap();
    let proxy = Proxy::start().await;
    let home = scratch("plain-proxy");
    let proxy_with_password = proxy.url.replace("http://", "http://user:proxy-s3cret@");
    for variable in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        let mut command = at(&sandbox, &home);
        command.env(variable, &proxy_with_password);
        let out = run(command, &["contracts"]).await;
        assert_ne!(out.code, Some(0), "{variable}: {out:?}");
        assert!(
            out.stderr.contains("plain http through the proxy") && out.stderr.contains("NO_PROXY"),
            "{variable}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("proxy-s3cret"), "{}", out.stderr);
    }
    assert!(proxy.seen().is_empty() && sandbox.requests().is_empty());

    let mut command = at(&sandbox, &home);
    command
        .env("HTTP_PROXY", &proxy.url)
        .env("NO_PROXY", "127.0.0.1");
    let out = run(command, &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
    assert!(proxy.seen().is_empty());
}

#[tokio::test]
async fn trace_logs_headers_redacted_and_bodies() {
    let sandbox = tls_sandbox().await;
    let home = scratch("trace");
    let token = sandbox.credentials().token.clone();
    let since = sandbox.span_start().to_rfc3339();
    let mut command = at(&sandbox, &home);
    command
        .env("IONOS_PINNED_CERT", pin(&sandbox))
        .env("IONOS_LOG_LEVEL", "trace");
    let out = run(command, &["contracts"]).await;
    assert!(listed_main_contract(&out), "{out:?}");
    assert!(out.stderr.contains("authorization"), "{}", out.stderr);
    assert!(out.stderr.contains("[REDACTED]"), "{}", out.stderr);
    assert!(!out.stderr.contains(&token), "{}", out.stderr);
    // The contracts answer's body, as sent.
    let body_line = out
        .stderr
        .lines()
        .find(|line| line.contains("answer body") && line.contains("get_available_contracts"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        body_line.contains(&MAIN_CONTRACT.to_string()),
        "{body_line}"
    );

    // Pages are read raw by the download engine: logged there, truncated.
    let mut command = at(&sandbox, &home);
    command
        .env("IONOS_PINNED_CERT", pin(&sandbox))
        .env("IONOS_LOG_LEVEL", "trace");
    let out = run(
        command,
        &["entries", &MAIN_CONTRACT.to_string(), "--since", &since],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let page_body = out
        .stderr
        .lines()
        .find(|line| line.contains("answer body") && line.contains("getByContract"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(page_body.contains("hits"), "{page_body}");
    assert!(page_body.contains("truncated"), "{page_body}");
    assert!(!out.stderr.contains(&token), "{}", out.stderr);
}

#[tokio::test]
async fn sandbox_tls_prints_a_pin_and_a_ca_that_work() {
    let home = scratch("serve");
    let mut server = activitylog_tests::cli::isolated(binary(), &home)
        .args(["sandbox", "--tls", "--port", "0", "--events", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let printed = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("# certificateAuthData:");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let value = |prefix: &str| {
        printed
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix} in {printed:?}"))
            .trim()
            .to_string()
    };
    let url = value("export IONOS_API_URL=");
    let token = value("export IONOS_TOKEN=");
    let pin = value("export IONOS_PINNED_CERT=");
    let ca = value("# certificateAuthData:");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let mut command = activitylog_tests::cli::isolated(binary(), &home);
    command
        .env("IONOS_API_URL", &url)
        .env("IONOS_TOKEN", &token)
        .env("IONOS_PINNED_CERT", &pin);
    let pinned = run(command, &["contracts"]).await;
    let file = home.join("config");
    std::fs::write(
        &file,
        format!(
            "currentProfile: p\nprofiles:\n  - name: p\n    environment: e\n    credentials:\n      token: {token}\n\
             environments:\n  - name: e\n    certificateAuthData: {ca}\n    products:\n      - name: activitylog\n        endpoints:\n          - name: {url}\n"
        ),
    )
    .unwrap();
    let with_ca = run(with_file(&home, &file), &["contracts"]).await;
    let _ = server.kill();
    let _ = server.wait();
    assert!(listed_main_contract(&pinned), "{pinned:?}");
    assert!(listed_main_contract(&with_ca), "{with_ca:?}");
}

/// A server certificate that always resolves to `certified`.
#[derive(Debug)]
struct Always(Arc<tokio_rustls::rustls::sign::CertifiedKey>);

impl tokio_rustls::rustls::server::ResolvesServerCert for Always {
    fn resolve(
        &self,
        _: tokio_rustls::rustls::server::ClientHello<'_>,
    ) -> Option<Arc<tokio_rustls::rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

#[tokio::test]
async fn a_pinned_certificate_presented_without_its_key_is_refused() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    // An impostor presents the pinned certificate but signs the handshake
    // with another key: the pin matches, the handshake signature does not.
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let pinned = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let other_key = rcgen::KeyPair::generate().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            other_key.serialize_der(),
        )))
        .unwrap();
    let certified = rustls::sign::CertifiedKey::new(vec![pinned.der().clone()], signer);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(Arc::new(certified))));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let handshakes = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&handshakes);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            *counted.lock().unwrap() += 1;
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    let pin = activitylog_client::certificate_sha256(pinned.der());
    let log = ActivityLog::builder(Credentials::token("t"))
        .api_url(&url)
        .pinned_certificate(pin)
        .build()
        .unwrap();
    let error = log.contracts().await.unwrap_err();
    assert!(matches!(error, Error::Certificate { .. }), "{error}");
    assert!(error.to_string().contains("signature"), "{error}");
    assert_eq!(*handshakes.lock().unwrap(), 1);
}
