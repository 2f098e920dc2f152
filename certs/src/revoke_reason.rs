//! Why a certificate was revoked, as recorded in `issued.json` and in the CRL entry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CertError;

/// The revocation reasons `certs revoke` offers (a subset of RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevokeReason {
    /// No reason given (the CRL entry then carries no reason code, as RFC 5280 asks).
    Unspecified,
    /// The node's private key may be known to someone else (stolen or copied machine).
    KeyCompromise,
    /// A new certificate replaces this one (`certs issue --replace`).
    Superseded,
    /// The node is decommissioned.
    CessationOfOperation,
}

impl RevokeReason {
    /// Every reason, in the order `--help` lists them.
    pub const ALL: [RevokeReason; 4] = [
        RevokeReason::KeyCompromise,
        RevokeReason::Superseded,
        RevokeReason::CessationOfOperation,
        RevokeReason::Unspecified,
    ];

    /// The name used on the command line and in `issued.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Unspecified => "unspecified",
            RevokeReason::KeyCompromise => "keyCompromise",
            RevokeReason::Superseded => "superseded",
            RevokeReason::CessationOfOperation => "cessationOfOperation",
        }
    }

    pub(crate) fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            RevokeReason::Unspecified => rcgen::RevocationReason::Unspecified,
            RevokeReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            RevokeReason::Superseded => rcgen::RevocationReason::Superseded,
            RevokeReason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
        }
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevokeReason {
    type Err = CertError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevokeReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| CertError::BadReason {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_prints_and_serde_agrees() {
        for reason in RevokeReason::ALL {
            assert_eq!(reason.as_str().parse::<RevokeReason>().unwrap(), reason);
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{reason}\""));
        }
        assert!("KeyCompromise".parse::<RevokeReason>().is_err());
    }
}
