//! The edge's side of mutual TLS over QUIC: its certificate and key, the city CA,
//! TLS 1.3 only, and a full handshake every time (no resumption, no 0-RTT), so the
//! center checks revocation on every connection. One builder for the uplink and
//! for every test or benchmark that dials the center as an edge.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

/// The certificate files of one edge.
#[derive(Debug, Clone, Copy)]
pub struct EdgeFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub ca: &'a Path,
}

/// A QUIC client config that authenticates as the edge in `files`. `keepalive` and
/// `idle` are the link's keep-alive interval and idle timeout.
pub fn client_config(
    files: EdgeFiles<'_>,
    keepalive: Duration,
    idle: Duration,
) -> Result<quinn::ClientConfig> {
    let certs = jilu_certs::pem::load_certs(files.cert)?;
    let key = jilu_certs::pem::load_private_key(files.key)?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in jilu_certs::pem::load_certs(files.ca)? {
        roots
            .add(ca)
            .with_context(|| format!("{} is not a usable CA certificate", files.ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| anyhow!("TLS 1.3: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| anyhow!("{} / {}: {e}", files.cert.display(), files.key.display()))?;
    // a full handshake every time, so the center checks revocation every time
    tls.resumption = rustls::client::Resumption::disabled();
    tls.enable_early_data = false;
    tls.alpn_protocols = vec![jilu_common::wire::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| anyhow!("QUIC TLS config: {e}"))?;
    let mut cc = quinn::ClientConfig::new(Arc::new(quic));
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(keepalive));
    t.max_idle_timeout(idle.try_into().ok());
    t.max_concurrent_uni_streams(0u8.into());
    cc.transport_config(Arc::new(t));
    Ok(cc)
}
