//! How the server is reached: stdio (the assistant runs `activitylog mcp`),
//! or streamable HTTP on a loopback address (`--listen`).

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::server::Server;
use crate::error::Failure;

/// Serves one client on stdin and stdout until it hangs up.
pub async fn stdio(server: Server) -> Result<(), Failure> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Failure::other(format!("the MCP client did not start a session: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Failure::other(format!("the MCP session ended abnormally: {e}")))?;
    Ok(())
}

/// Serves streamable HTTP at `http://ADDRESS/mcp` until the process ends;
/// says on stderr where.
pub async fn http(server: Server, address: SocketAddr) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure::other(format!("--listen {address}: could not listen: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::other(format!("--listen {address}: {e}")))?;
    let mut config = StreamableHttpServerConfig::default();
    // The Host header names the address asked for (DNS rebinding stays out).
    config.allowed_hosts = vec![
        bound.to_string(),
        bound.ip().to_string(),
        "localhost".to_string(),
        format!("localhost:{}", bound.port()),
    ];
    let service = TowerToHyperService::new(StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    ));
    eprintln!("serving MCP over streamable HTTP at http://{bound}/mcp (read-only; Ctrl-C stops)");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(%error, "could not accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let served = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "an HTTP connection ended with an error");
            }
        });
    }
}
