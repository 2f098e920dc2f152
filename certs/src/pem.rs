//! Loading the PEM files `certs` writes into the types rustls takes, with errors
//! that name the file — what the center and edge nodes call at start-up.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::{self as pki_pem, PemObject};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// A PEM file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read: check the path in the configuration and its permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid PEM: copy it again from the CA folder (`certs issue` output).
    #[error("{path} is not valid PEM: {why}; copy it again from the CA's output")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser found.
        why: String,
    },

    /// The file holds no item of the expected kind: check that the configuration
    /// points at the right file (a certificate where a certificate is expected, ...).
    #[error("{path} contains no {kind}; check that the configuration names the right file")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was looked for ("certificate", "private key", ...).
        kind: &'static str,
    },
}

/// Loads every certificate in `path` (a node certificate, or a chain), in file order.
pub fn load_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, PemError> {
    load_all(path.as_ref(), "certificate")
}

/// Loads the first private key in `path` (PKCS#8, as `certs` writes, or SEC1/PKCS#1).
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>, PemError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| classify(path, "private key", err))
}

/// Loads every CRL in `path`, in file order.
pub fn load_crls(
    path: impl AsRef<Path>,
) -> Result<Vec<CertificateRevocationListDer<'static>>, PemError> {
    load_all(path.as_ref(), "certificate revocation list")
}

fn load_all<T: PemObject>(path: &Path, kind: &'static str) -> Result<Vec<T>, PemError> {
    let bytes = read(path)?;
    let items = T::pem_slice_iter(&bytes)
        .collect::<Result<Vec<T>, _>>()
        .map_err(|err| classify(path, kind, err))?;
    if items.is_empty() {
        return Err(PemError::Empty {
            path: path.to_owned(),
            kind,
        });
    }
    Ok(items)
}

fn read(path: &Path) -> Result<Vec<u8>, PemError> {
    std::fs::read(path).map_err(|source| PemError::Io {
        path: path.to_owned(),
        source,
    })
}

fn classify(path: &Path, kind: &'static str, err: pki_pem::Error) -> PemError {
    match err {
        pki_pem::Error::NoItemsFound => PemError::Empty {
            path: path.to_owned(),
            kind,
        },
        pki_pem::Error::Io(source) => PemError::Io {
            path: path.to_owned(),
            source,
        },
        other => PemError::Malformed {
            path: path.to_owned(),
            why: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ca, Role};

    #[test]
    fn loads_what_issue_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = Ca::init(dir.path().join("ca"), "Test CA", 30).unwrap();
        let issued = ca.issue("edge-1", "410422", Role::Edge, 10).unwrap();
        let cert = dir.path().join("edge-1.pem");
        let key = dir.path().join("edge-1.key");
        std::fs::write(&cert, &issued.cert_pem).unwrap();
        std::fs::write(&key, &issued.key_pem).unwrap();

        let certs = load_certs(&cert).unwrap();
        assert_eq!(certs.len(), 1);
        let id = crate::identity_from_der(&certs[0]).unwrap();
        assert_eq!(id.node, "edge-1");
        assert!(matches!(
            load_private_key(&key).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        assert_eq!(load_crls(ca.crl_path()).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = load_certs(&missing).unwrap_err();
        assert!(matches!(err, PemError::Io { .. }));
        assert!(err.to_string().contains("missing.pem"), "{err}");

        // A key file where a certificate is expected.
        let key = dir.path().join("node.key");
        std::fs::write(&key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
        let err = load_certs(&key).unwrap_err();
        assert!(matches!(err, PemError::Empty { .. }), "{err}");
        assert!(err.to_string().contains("node.key"), "{err}");
        let err = load_crls(&key).unwrap_err();
        assert!(matches!(err, PemError::Empty { .. }), "{err}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!!\n").unwrap();
        let err = load_certs(&broken).unwrap_err();
        assert!(matches!(err, PemError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("broken.pem"), "{err}");
        let err = load_private_key(&broken).unwrap_err();
        assert!(err.to_string().contains("broken.pem"), "{err}");
    }
}
