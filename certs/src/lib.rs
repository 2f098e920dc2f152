//! Jilu's private CA. It issues each node — county edge, city center, disaster-recovery
//! replica — a certificate that carries the node's identity
//! (`jilu://<role>/<county>/<node>`), so the center knows from the TLS handshake alone
//! who is connected and what it may change (DESIGN.md invariant 5), and it publishes
//! the revocation list the center enforces (invariant 7: revoked nodes are refused).
//!
//! The files are plain PEM that `openssl verify` accepts; the `certs` binary is the
//! operator's front end to [`Ca`].
//!
//! # Layout
//!
//! - [`role`]: [`Role`], which decides a certificate's key usages.
//! - [`identity`]: [`Identity`], the URI written into certificates, and
//!   [`identity_from_der`], which the center and edges use to read a peer's identity.
//! - [`ca`]: [`Ca`], the CA folder — init, issue, revoke, CRL.
//! - [`registry`]: `issued.json`, the CA's record of every certificate.
//! - [`revoke_reason`]: why a certificate was revoked.
//! - [`pem`]: loading PEM files into rustls types, for the center and edges.
//! - [`error`]: [`CertError`], what can go wrong and what to do about it.
//! - `staged_file`, `dir_lock`: crash-safe writes and one writer per CA folder.

pub mod ca;
mod dir_lock;
pub mod error;
pub mod identity;
pub mod pem;
pub mod registry;
pub mod revoke_reason;
pub mod role;
mod staged_file;

pub use ca::{Ca, IssueReport, IssueRequest, Issued};
pub use error::CertError;
pub use identity::{identity_from_der, Identity};
pub use registry::{CertRecord, Status};
pub use revoke_reason::RevokeReason;
pub use role::Role;
