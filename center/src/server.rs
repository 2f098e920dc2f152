//! The center's QUIC endpoint: accepts edges (and, later, the replica), reads each
//! peer's identity from its certificate, re-reads the revocation list on a timer,
//! and closes the connections of nodes revoked since they connected.

use jilu_common::subject::Subject;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use jilu_certs::identity::identity_from_der;
use jilu_certs::role::Role;
use jilu_common::audit::Action;
use rustls_pki_types::CertificateDer;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::center::Center;
use crate::refusals::Reason;
use crate::tls;

/// Open connections and the certificate serial each one authenticated with.
type Registry = Arc<Mutex<HashMap<usize, (quinn::Connection, Vec<u8>, String)>>>;

fn transport(center: &Center) -> quinn::TransportConfig {
    let l = &center.cfg.limits;
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams((l.streams_per_edge + 1).into());
    t.max_concurrent_uni_streams(0u8.into());
    t.stream_receive_window(l.stream_window.into());
    t.receive_window(l.connection_window.into());
    t.send_window(u64::from(l.connection_window));
    t.max_idle_timeout(
        Duration::from_millis(u64::from(l.idle_timeout_ms))
            .try_into()
            .ok(),
    );
    t.keep_alive_interval(Some(Duration::from_secs(3)));
    t
}

/// A running center endpoint.
pub struct Server {
    pub endpoint: quinn::Endpoint,
    pub local_addr: SocketAddr,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

fn server_config(center: &Center) -> Result<(quinn::ServerConfig, HashSet<Vec<u8>>)> {
    let (crypto, revoked) = tls::server_crypto(&center.cfg.tls)?;
    let mut sc = quinn::ServerConfig::with_crypto(crypto);
    sc.transport_config(Arc::new(transport(center)));
    Ok((sc, revoked))
}

/// Binds the endpoint and serves until `cancel`; returns once bound (the serving
/// runs on spawned tasks owned by the returned join handle).
pub async fn start(
    center: Arc<Center>,
    cancel: CancellationToken,
) -> Result<(Server, tokio::task::JoinHandle<()>)> {
    let (sc, revoked) = server_config(&center)?;
    let endpoint = quinn::Endpoint::server(sc, center.cfg.listen)
        .with_context(|| format!("cannot listen on {} (UDP)", center.cfg.listen))?;
    let local_addr = endpoint.local_addr()?;
    info!(%local_addr, node = %center.cfg.node, "center listening");
    let registry: Registry = Arc::default();
    let revoked = Arc::new(Mutex::new(revoked));
    let ep = endpoint.clone();
    let handle = tokio::spawn(async move {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(reload_crl(
            center.clone(),
            ep.clone(),
            registry.clone(),
            revoked.clone(),
            cancel.clone(),
        ));
        tasks.spawn(expire_partials(center.clone(), cancel.clone()));
        tasks.spawn(flush_connection_audit(center.clone(), cancel.clone()));
        let mut next_id = 0usize;
        loop {
            let incoming = tokio::select! {
                _ = cancel.cancelled() => break,
                i = ep.accept() => match i { Some(i) => i, None => break },
            };
            next_id += 1;
            let (center, registry, cancel, id) = (
                center.clone(),
                registry.clone(),
                cancel.child_token(),
                next_id,
            );
            tasks.spawn(async move {
                let conn = match incoming.await {
                    Ok(c) => c,
                    Err(e) => {
                        // a bad certificate, a revoked node, a wrong CA: refused in the handshake
                        info!("handshake refused: {e}");
                        // our TLS checks failed it; a dial the edge gave up on
                        // (timed out, closed by the edge) is not a refusal
                        if matches!(e, quinn::ConnectionError::TransportError(_)) {
                            center.refusals.count(Reason::Handshake);
                        }
                        return;
                    }
                };
                match identify(&conn) {
                    Ok((peer, serial)) => {
                        // A node has one live connection. An edge that redials after a
                        // cut is back before the center's idle timeout has noticed the
                        // old connection is dead; closing it now ends its streams (which
                        // record what they received) and frees its items for the new one.
                        let superseded: Vec<quinn::Connection> = {
                            let mut reg = registry.lock().unwrap_or_else(|p| p.into_inner());
                            let old: Vec<usize> = reg
                                .iter()
                                .filter(|(_, (_, _, n))| *n == peer.node)
                                .map(|(k, _)| *k)
                                .collect();
                            let conns = old
                                .iter()
                                .filter_map(|k| reg.remove(k))
                                .map(|(c, _, _)| c)
                                .collect();
                            reg.insert(id, (conn.clone(), serial, peer.node.clone()));
                            conns
                        };
                        for old in superseded {
                            old.close(
                                quinn::VarInt::from_u32(3),
                                b"superseded by a newer connection from the same node",
                            );
                        }
                        let c = center.clone();
                        let p = peer.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            c.connections
                                .connected(&c, &p, jilu_store::journal::now_ms())
                        })
                        .await;
                        crate::session::serve(center, conn, peer, cancel).await;
                        registry
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                    }
                    Err(e) => {
                        warn!("refused a connection: {e:#}");
                        center.refusals.count(Reason::Identity);
                        conn.close(quinn::VarInt::from_u32(1), format!("{e:#}").as_bytes());
                    }
                }
            });
        }
        ep.close(quinn::VarInt::from_u32(0), b"center shutting down");
        tasks.shutdown().await;
    });
    Ok((
        Server {
            endpoint,
            local_addr,
        },
        handle,
    ))
}

/// The peer's identity from its certificate; only edges (and replicas) may connect.
fn identify(conn: &quinn::Connection) -> Result<(jilu_certs::Identity, Vec<u8>)> {
    let certs = conn
        .peer_identity()
        .and_then(|i| i.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| anyhow!("the peer presented no certificate"))?;
    let leaf = certs
        .first()
        .ok_or_else(|| anyhow!("the peer presented no certificate"))?;
    let id = identity_from_der(leaf.as_ref())
        .map_err(|e| anyhow!("the peer's certificate carries no Jilu identity: {e}"))?;
    if id.role == Role::Center {
        return Err(anyhow!(
            "node {} has a center certificate: only edges and replicas connect to a center",
            id.node
        ));
    }
    let serial = tls::serial_of(leaf.as_ref())
        .ok_or_else(|| anyhow!("the peer's certificate does not parse"))?;
    Ok((id, serial))
}

/// Writes the per-minute connection summaries ([`crate::conn_audit`]).
async fn flush_connection_audit(center: Arc<Center>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        let c = center.clone();
        let done = tokio::task::spawn_blocking(move || {
            c.connections.flush(&c, jilu_store::journal::now_ms())
        })
        .await;
        if let Ok(Err(e)) = done {
            warn!("cannot write the connection audit: {e:#}");
        }
    }
}

/// Drops expired unfinished uploads ([`crate::quota::expire_partials`]) at start
/// and then every minute (or a quarter of the expiry, if shorter).
async fn expire_partials(center: Arc<Center>, cancel: CancellationToken) {
    let expiry = Duration::from_secs(center.cfg.quotas.partial_expiry_secs);
    let period = (expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        let c = center.clone();
        match tokio::task::spawn_blocking(move || crate::quota::expire_partials(&c)).await {
            Ok(Err(e)) => warn!("cannot expire unfinished uploads: {e:#}"),
            Err(e) => warn!("the expiry task failed: {e}"),
            Ok(Ok(_)) => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

/// Re-reads the CRL when it changes: new handshakes use it at once, and open
/// connections of newly revoked nodes are closed.
async fn reload_crl(
    center: Arc<Center>,
    endpoint: quinn::Endpoint,
    registry: Registry,
    revoked: Arc<Mutex<HashSet<Vec<u8>>>>,
    cancel: CancellationToken,
) {
    let path = center.cfg.tls.crl.clone();
    let period = Duration::from_secs(center.cfg.tls.crl_reload_secs.max(1));
    let mut last = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let now = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if now == last {
            continue;
        }
        last = now;
        match server_config(&center) {
            Ok((sc, set)) => {
                endpoint.set_server_config(Some(sc));
                *revoked.lock().unwrap_or_else(|p| p.into_inner()) = set.clone();
                let conns = registry
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>();
                for (conn, serial, node) in conns {
                    if set.contains(&serial) {
                        warn!(%node, "certificate revoked: closing its connection");
                        center.refusals.count(Reason::Revoked);
                        conn.close(quinn::VarInt::from_u32(2), b"certificate revoked");
                        let c = center.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            let mut tx = c.journal.begin();
                            tx.audit(
                                "jilu",
                                Action::PeerRefused,
                                Subject::Node(node.to_string()),
                                json!({"reason": "certificate revoked"}),
                                &[],
                            )?;
                            tx.commit()
                        })
                        .await;
                    }
                }
                info!(revoked = set.len(), "revocation list reloaded");
            }
            Err(e) => warn!("cannot reload the revocation list, keeping the previous one: {e:#}"),
        }
    }
}
