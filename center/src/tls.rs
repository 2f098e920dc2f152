//! The center's TLS: mutual authentication against the private CA with the
//! revocation list enforced (expired CRLs too), no session resumption and no 0-RTT
//! for clients, so every connection is a full handshake that checks revocation.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::RootCertStore;
use rustls_pki_types::CertificateRevocationListDer;

use crate::config::TlsFiles;

/// Serial numbers (big-endian bytes, as in the certificate) revoked by these CRLs.
pub fn revoked_serials(crls: &[CertificateRevocationListDer<'_>]) -> Result<HashSet<Vec<u8>>> {
    let mut out = HashSet::new();
    for crl in crls {
        let (_, parsed) = x509_parser::parse_x509_crl(crl.as_ref())
            .map_err(|e| anyhow!("the CRL does not parse: {e}"))?;
        for r in parsed.iter_revoked_certificates() {
            out.insert(r.raw_serial().to_vec());
        }
    }
    Ok(out)
}

/// The serial number of a DER certificate.
pub fn serial_of(der: &[u8]) -> Option<Vec<u8>> {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, c)| c.tbs_certificate.raw_serial().to_vec())
}

/// Builds the QUIC server crypto from the PEM files, and returns the revoked serials.
pub fn server_crypto(
    files: &TlsFiles,
) -> Result<(
    Arc<quinn::crypto::rustls::QuicServerConfig>,
    HashSet<Vec<u8>>,
)> {
    let certs = jilu_certs::pem::load_certs(&files.cert)?;
    let key = jilu_certs::pem::load_private_key(&files.key)?;
    let mut roots = RootCertStore::empty();
    for ca in jilu_certs::pem::load_certs(&files.ca)? {
        roots
            .add(ca)
            .with_context(|| format!("{} is not a usable CA certificate", files.ca.display()))?;
    }
    let crls = jilu_certs::pem::load_crls(&files.crl)?;
    let revoked = revoked_serials(&crls)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        .enforce_revocation_expiration()
        .build()
        .map_err(|e| {
            anyhow!(
                "cannot build the client verifier from {} and {}: {e}",
                files.ca.display(),
                files.crl.display()
            )
        })?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| anyhow!("TLS 1.3: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| anyhow!("{} / {}: {e}", files.cert.display(), files.key.display()))?;
    // every connection is a full handshake: revocation always applies
    tls.session_storage = Arc::new(NoServerSessionStorage {});
    tls.send_tls13_tickets = 0;
    tls.max_early_data_size = 0;
    tls.alpn_protocols = vec![jilu_common::wire::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| anyhow!("QUIC TLS config: {e}"))?;
    Ok((Arc::new(quic), revoked))
}
