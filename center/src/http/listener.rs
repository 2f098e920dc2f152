//! Binds the API's TCP address and serves it until the center stops: HTTPS with
//! the `[http]` certificate (rustls, TLS 1.2 and 1.3, no client certificates:
//! users bring bearer tokens), or plain HTTP on loopback.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{router, Api, HttpConfig};

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor> {
    let certs = jilu_certs::pem::load_certs(cert)?;
    let key = jilu_certs::pem::load_private_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| anyhow!("[http] cert / key: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Binds and starts serving; returns the bound address and the serving task.
pub async fn start(
    cfg: &HttpConfig,
    api: Api,
    cancel: CancellationToken,
) -> Result<(SocketAddr, bool, tokio::task::JoinHandle<()>)> {
    let acceptor = cfg.tls().map(|(c, k)| tls_acceptor(c, k)).transpose()?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {} (TCP, [http])", cfg.listen))?;
    let addr = listener.local_addr()?;
    let app = router(api);
    let https = acceptor.is_some();
    let task = tokio::spawn(async move {
        let Some(acceptor) = acceptor else {
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
            if let Err(e) = r {
                warn!("the API stopped: {e}");
            }
            return;
        };
        loop {
            let (tcp, peer) = tokio::select! {
                _ = cancel.cancelled() => return,
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => { warn!("API accept: {e}"); continue; }
                },
            };
            // the client's address, as plain HTTP gets it from axum (login throttle)
            let app = app
                .clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
            let (acceptor, cancel) = (acceptor.clone(), cancel.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    acceptor.accept(tcp),
                )
                .await
                {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        info!(%peer, "API TLS handshake refused: {e}");
                        return;
                    }
                    Err(_) => return,
                };
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    r = conn => if let Err(e) = r { info!(%peer, "API connection: {e}") },
                }
            });
        }
    });
    Ok((addr, https, task))
}
