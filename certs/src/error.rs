//! What can go wrong while running the CA or reading an identity, each case saying
//! what the operator can do about it.

use std::io;
use std::path::PathBuf;

/// An error from the CA ([`crate::Ca`]) or from reading a certificate's identity
/// ([`crate::identity_from_der`]).
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file or folder could not be read or written: check the path and its permissions.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },

    /// `init` found a CA already in the folder: keep using it, or pick another `--dir`.
    #[error("a CA already exists in {dir} ({found} is there); refusing to overwrite it — use it, or choose another --dir")]
    CaExists {
        /// The CA folder.
        dir: PathBuf,
        /// The file that shows a CA is there.
        found: String,
    },

    /// There is no CA in the folder: run `certs init` first, or pass the right `--dir`.
    #[error(
        "no CA in {dir} ({missing} is missing); run `certs init` first or pass the right --dir"
    )]
    NoCa {
        /// The CA folder.
        dir: PathBuf,
        /// The file that is missing.
        missing: String,
    },

    /// A CA file is unreadable or inconsistent: restore the CA folder from its backup.
    #[error("{path} is damaged: {why}; restore the CA folder from its backup")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },

    /// A node name or county code has characters or a length Jilu does not accept:
    /// use 1 to 64 of `A-Z a-z 0-9 . _ -` (and not `.` or `..`).
    #[error("invalid {what} {value:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ - (not \".\" or \"..\")")]
    BadName {
        /// "node name" or "county code".
        what: &'static str,
        /// The refused value.
        value: String,
    },

    /// The role is not one Jilu knows: use `edge`, `center` or `replica`.
    #[error("invalid role {value:?}: use edge, center or replica")]
    BadRole {
        /// The refused value.
        value: String,
    },

    /// The revocation reason is not one `certs` offers: use one of the listed reasons.
    #[error("invalid revocation reason {value:?}: use keyCompromise, superseded, cessationOfOperation or unspecified")]
    BadReason {
        /// The refused value.
        value: String,
    },

    /// The CA's name is empty, too long or has control characters: give 1 to 64
    /// printable characters.
    #[error("invalid CA name {value:?}: give 1 to 64 printable characters")]
    BadCaName {
        /// The refused value.
        value: String,
    },

    /// The CA certificate has expired, so nothing it signs can be trusted: create a new
    /// CA in a new folder and issue every node a new certificate.
    #[error("the CA certificate expired on {not_after}; create a new CA with `certs --dir NEW init` and reissue every node")]
    CaExpired {
        /// When the CA certificate expired (RFC 3339).
        not_after: String,
    },

    /// A validity period is out of range: give a number of days between 1 and 36500.
    #[error("invalid validity of {days} days: give between 1 and 36500 days")]
    BadDays {
        /// The refused number of days.
        days: u32,
    },

    /// The node already holds a valid certificate: pass `--replace` to revoke it and
    /// issue a new one, or revoke it first.
    #[error("node {node} already has a valid certificate (serial {serial}, expires {not_after}); pass --replace to revoke it and issue a new one")]
    AlreadyIssued {
        /// The node name.
        node: String,
        /// The serial number of its valid certificate, in hex.
        serial: String,
        /// When that certificate expires (RFC 3339).
        not_after: String,
    },

    /// The node holds no valid certificate to revoke: check the name with `certs list`.
    #[error("node {node} has no valid certificate to revoke; see `certs list`")]
    NothingToRevoke {
        /// The node name.
        node: String,
    },

    /// Another `certs` command is changing this CA: wait for it; if none is running
    /// (it was killed), delete the lock file.
    #[error("another certs command is changing this CA ({path} exists); wait for it, or delete that file if no certs command is running")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// Signing failed inside the certificate library: this is a bug, report it with the command.
    #[error("could not sign: {0}")]
    Sign(#[from] rcgen::Error),

    /// The bytes are not an X.509 certificate: check that the peer sent the right file.
    #[error("not a readable X.509 certificate: {why}")]
    BadCertificate {
        /// The parser's reason.
        why: String,
    },

    /// The certificate has no `jilu://` identity: it was not issued by `certs issue`;
    /// issue the node a Jilu certificate.
    #[error("the certificate carries no jilu:// identity (a URI subject alternative name); issue the node a certificate with `certs issue`")]
    NoIdentity,

    /// The certificate's `jilu://` identity is malformed: reissue the node's
    /// certificate with `certs issue --replace`.
    #[error("the certificate's identity {uri:?} is malformed: {why}; reissue it with `certs issue --replace`")]
    BadIdentity {
        /// The URI found in the certificate.
        uri: String,
        /// What is wrong with it.
        why: String,
    },
}

impl CertError {
    /// Wraps an I/O error with the action and the path it concerns.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CertError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
