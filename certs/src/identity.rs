//! Who a node is — name, county, role — and how that is written into and read back
//! from its certificate: the URI subject alternative name `jilu://<role>/<county>/<node>`.
//!
//! The center decides what a connection may change (invariant 5: an edge writes only
//! its own county's documents) from this identity alone, so reading it is strict:
//! exactly one `jilu://` URI, every part valid, or an error.

use std::fmt;

use x509_parser::extensions::GeneralName;

use crate::error::CertError;
use crate::role::Role;

/// The URI scheme prefix of a Jilu identity.
pub const URI_PREFIX: &str = "jilu://";

/// The longest node name or county code accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A node's identity as carried in its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The node's name; also its certificate's CN and DNS name (the TLS server name).
    pub node: String,
    /// The county code the node belongs to.
    pub county: String,
    /// What the node does.
    pub role: Role,
}

impl Identity {
    /// Builds an identity, checking the node name and county code.
    pub fn new(node: &str, county: &str, role: Role) -> Result<Self, CertError> {
        check_name("node name", node)?;
        check_name("county code", county)?;
        Ok(Identity {
            node: node.to_owned(),
            county: county.to_owned(),
            role,
        })
    }

    /// The URI written into the certificate: `jilu://<role>/<county>/<node>`.
    pub fn uri(&self) -> String {
        format!("{URI_PREFIX}{}/{}/{}", self.role, self.county, self.node)
    }

    /// Parses a `jilu://<role>/<county>/<node>` URI.
    pub fn from_uri(uri: &str) -> Result<Self, CertError> {
        let bad = |why: &str| CertError::BadIdentity {
            uri: uri.to_owned(),
            why: why.to_owned(),
        };
        let rest = uri
            .strip_prefix(URI_PREFIX)
            .ok_or_else(|| bad("it does not start with jilu://"))?;
        let mut parts = rest.split('/');
        let (Some(role), Some(county), Some(node), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected jilu://<role>/<county>/<node>"));
        };
        let role: Role = role.parse().map_err(|_| bad("unknown role"))?;
        Identity::new(node, county, role).map_err(|err| bad(&err.to_string()))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

/// Checks a node name or county code by Jilu's one id rule ([`jilu_common::id`]):
/// the same names `edge-node init` accepts (node names also become folder names
/// under `nodes/`).
pub fn check_name(what: &'static str, value: &str) -> Result<(), CertError> {
    if value.len() <= MAX_NAME_LEN && jilu_common::id::is_valid(value) {
        Ok(())
    } else {
        Err(CertError::BadName {
            what,
            value: value.to_owned(),
        })
    }
}

/// Reads the identity from a DER certificate (its `jilu://` URI subject alternative
/// name). Fails if the certificate is unreadable, carries no such URI, carries more
/// than one, or the one it carries is malformed.
pub fn identity_from_der(der: &[u8]) -> Result<Identity, CertError> {
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|err| CertError::BadCertificate {
            why: err.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(CertError::BadCertificate {
            why: format!("{} stray bytes after the certificate", rest.len()),
        });
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|err| CertError::BadCertificate {
            why: format!("subject alternative names: {err}"),
        })?;
    let mut uris = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(URI_PREFIX) => Some(*uri),
            _ => None,
        });
    let uri = uris.next().ok_or(CertError::NoIdentity)?;
    if let Some(other) = uris.next() {
        // Two identities would let a node claim whichever suits it.
        return Err(CertError::BadIdentity {
            uri: uri.to_owned(),
            why: format!("the certificate also names {other}"),
        });
    }
    Identity::from_uri(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_the_documented_set() {
        for ok in ["a", "edge-410422", "Center.City_1", &"x".repeat(64), "a..b"] {
            check_name("node name", ok).unwrap();
        }
    }

    #[test]
    fn names_refuse_everything_else() {
        let long = "x".repeat(65);
        // the rule edge-node applies too: no leading '.', ASCII only
        for bad in [
            "", ".", "..", "..a", ".hidden", "a/b", "a b", "节点", "a:b", "a\n", &long,
        ] {
            let err = check_name("node name", bad).unwrap_err();
            assert!(matches!(err, CertError::BadName { .. }), "{bad:?}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn uri_round_trips() {
        for role in Role::ALL {
            let id = Identity::new("n-1", "410422", role).unwrap();
            assert_eq!(Identity::from_uri(&id.uri()).unwrap(), id);
        }
    }

    #[test]
    fn malformed_uris_are_refused() {
        for bad in [
            "jilu://edge/410422",
            "jilu://edge/410422/n/extra",
            "jilu://boss/410422/n",
            "jilu://edge//n",
            "jilu://edge/410422/",
            "https://edge/410422/n",
            "jilu://edge/41 0422/n",
        ] {
            let err = Identity::from_uri(bad).unwrap_err();
            assert!(matches!(err, CertError::BadIdentity { .. }), "{bad}: {err}");
        }
    }
}
