//! A node's role in the Jilu network, written into its certificate; it decides the
//! certificate's extended key usages and what the peer is allowed to do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CertError;

/// What a node does, and so which side of a TLS handshake its certificate may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A county office: connects to the center (TLS client only).
    Edge,
    /// The city center: accepts edges and the replica (TLS server only).
    Center,
    /// The disaster-recovery replica: accepts edges when the center is down (server)
    /// and mirrors from the center (client), so it needs both usages.
    Replica,
    /// The center's HTTPS API for browsers and scripts (TLS server only; the
    /// certificate carries the DNS names and IP addresses a browser checks).
    Web,
}

impl Role {
    /// Every role, in the order `--help` lists them.
    pub const ALL: [Role; 4] = [Role::Edge, Role::Center, Role::Replica, Role::Web];

    /// The lowercase name used on the command line, in `issued.json` and in the
    /// certificate's `jilu://<role>/...` URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Edge => "edge",
            Role::Center => "center",
            Role::Replica => "replica",
            Role::Web => "web",
        }
    }

    /// Whether certificates of this role carry the TLS client-authentication usage.
    pub fn client_auth(self) -> bool {
        matches!(self, Role::Edge | Role::Replica)
    }

    /// Whether certificates of this role carry the TLS server-authentication usage.
    pub fn server_auth(self) -> bool {
        matches!(self, Role::Center | Role::Replica | Role::Web)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| CertError::BadRole {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
    }

    #[test]
    fn rejects_unknown_roles() {
        for bad in ["", "Edge", "server", "edge "] {
            let err = bad.parse::<Role>().unwrap_err();
            assert!(matches!(err, CertError::BadRole { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn usages_follow_the_role() {
        assert!(Role::Edge.client_auth() && !Role::Edge.server_auth());
        assert!(!Role::Center.client_auth() && Role::Center.server_auth());
        assert!(Role::Replica.client_auth() && Role::Replica.server_auth());
        assert!(!Role::Web.client_auth() && Role::Web.server_auth());
    }
}
