//! `issued.json`: every certificate the CA has issued, whether and why it was
//! revoked, and the CRL's sequence number. The CRL is regenerated from it, so a
//! certificate missing here could not be revoked — it is written before any
//! certificate leaves the CA.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::CertError;
use crate::identity::Identity;
use crate::revoke_reason::RevokeReason;
use crate::role::Role;
use crate::staged_file::{StagedFile, PUBLIC_MODE};

/// The registry layout written by this version. Bump it (and keep a reader for the
/// old layout) when the fields change.
pub const FORMAT: u32 = 1;

/// How long a CRL stays valid unless `certs crl --days` says otherwise. The center
/// refuses connections once its CRL has expired, so the operator re-signs it (`certs
/// crl`) and copies it to the center well within this time.
pub const DEFAULT_CRL_DAYS: u32 = 30;

/// The CA's record of what it issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Layout version of this file.
    pub format: u32,
    /// Number of the CRL currently in `crl.pem`; each new CRL takes the next one.
    pub crl_number: u64,
    /// Validity in days used when `revoke` or `issue --replace` re-signs the CRL.
    pub crl_days: u32,
    /// Every certificate issued, oldest first.
    pub certificates: Vec<CertRecord>,
}

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRecord {
    /// The node name (CN, DNS name and last part of the identity URI).
    pub node: String,
    /// The node's county code.
    pub county: String,
    /// The node's role.
    pub role: Role,
    /// The certificate's serial number, lowercase hex.
    pub serial: String,
    /// Start of validity.
    #[serde(with = "rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "rfc3339")]
    pub not_after: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(with = "rfc3339_opt", default)]
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked, if it was.
    #[serde(default)]
    pub reason: Option<RevokeReason>,
}

/// Where a certificate stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within its validity and not revoked.
    Valid,
    /// Past its `not_after` (or before its `not_before`), not revoked.
    Expired,
    /// On the CRL.
    Revoked,
}

impl CertRecord {
    /// The identity inside this certificate.
    pub fn identity(&self) -> Identity {
        Identity {
            node: self.node.clone(),
            county: self.county.clone(),
            role: self.role,
        }
    }

    /// Where the certificate stands at `now`.
    pub fn status(&self, now: OffsetDateTime) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if now < self.not_before || now >= self.not_after {
            Status::Expired
        } else {
            Status::Valid
        }
    }

    /// The serial number as bytes.
    pub fn serial_bytes(&self) -> Result<Vec<u8>, String> {
        hex_decode(&self.serial)
    }
}

impl Registry {
    /// An empty registry whose CRL number will be 1.
    pub fn new() -> Self {
        Registry {
            format: FORMAT,
            crl_number: 1,
            crl_days: DEFAULT_CRL_DAYS,
            certificates: Vec::new(),
        }
    }

    /// Reads and checks `issued.json`. `Ok(None)` if the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, CertError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CertError::io("reading", path, source)),
        };
        let corrupt = |why: String| CertError::Corrupt {
            path: path.to_owned(),
            why,
        };
        let registry: Registry =
            serde_json::from_slice(&bytes).map_err(|err| corrupt(err.to_string()))?;
        if registry.format != FORMAT {
            return Err(corrupt(format!(
                "layout version {} is not the {FORMAT} this certs understands",
                registry.format
            )));
        }
        for record in &registry.certificates {
            Identity::new(&record.node, &record.county, record.role)
                .map_err(|err| corrupt(err.to_string()))?;
            record
                .serial_bytes()
                .map_err(|why| corrupt(format!("serial {:?}: {why}", record.serial)))?;
            if record.revoked_at.is_some() != record.reason.is_some() {
                return Err(corrupt(format!(
                    "serial {} has a revocation time without a reason or the reverse",
                    record.serial
                )));
            }
        }
        Ok(Some(registry))
    }

    /// Stages the registry as `path`, written but not yet in place.
    pub(crate) fn stage(&self, path: &Path) -> Result<StagedFile, CertError> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|err| CertError::Corrupt {
            path: path.to_owned(),
            why: err.to_string(),
        })?;
        json.push(b'\n');
        StagedFile::write(path, &json, PUBLIC_MODE)
    }

    /// The node's certificates that are not revoked (valid or expired).
    pub fn unrevoked<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a CertRecord> + 'a {
        self.certificates
            .iter()
            .filter(move |r| r.node == node && r.revoked_at.is_none())
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(hex: &str) -> Result<Vec<u8>, String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 40 {
        return Err("expected 1 to 20 bytes of hex".to_owned());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| "not hex".to_owned())
        })
        .collect()
}

/// Formats a time as RFC 3339 (`2026-11-28T01:00:00Z`).
pub fn format_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// RFC 3339 serde for [`OffsetDateTime`] (the workspace's `time` has no serde feature).
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

/// RFC 3339 serde for `Option<OffsetDateTime>` (`null` when absent).
mod rfc3339_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record() -> CertRecord {
        CertRecord {
            node: "edge-1".into(),
            county: "410422".into(),
            role: Role::Edge,
            serial: "7f00aa".into(),
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2027-01-01 0:00 UTC),
            revoked_at: None,
            reason: None,
        }
    }

    #[test]
    fn round_trips_through_json() {
        let mut registry = Registry::new();
        registry.certificates.push(record());
        let mut revoked = record();
        revoked.revoked_at = Some(datetime!(2026-06-01 12:30:05 UTC));
        revoked.reason = Some(RevokeReason::KeyCompromise);
        registry.certificates.push(revoked);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issued.json");
        registry.stage(&path).unwrap().commit().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"2026-06-01T12:30:05Z\""), "{text}");
        assert!(text.contains("\"keyCompromise\""), "{text}");
        assert_eq!(Registry::load(&path).unwrap().unwrap(), registry);
    }

    #[test]
    fn status_follows_time_and_revocation() {
        let mut r = record();
        assert_eq!(r.status(datetime!(2026-06-01 0:00 UTC)), Status::Valid);
        assert_eq!(r.status(datetime!(2027-01-01 0:00 UTC)), Status::Expired);
        r.revoked_at = Some(datetime!(2026-06-01 0:00 UTC));
        assert_eq!(r.status(datetime!(2026-06-01 0:00 UTC)), Status::Revoked);
    }

    #[test]
    fn damaged_files_are_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("issued.json");
        let mut bad_serial = Registry::new();
        bad_serial.certificates.push(CertRecord {
            serial: "xyz".into(),
            ..record()
        });
        let bad_serial = serde_json::to_string(&bad_serial).unwrap();
        let mut bad_name = Registry::new();
        bad_name.certificates.push(CertRecord {
            node: "../x".into(),
            ..record()
        });
        let bad_name = serde_json::to_string(&bad_name).unwrap();
        for text in ["{", "{\"format\": 9}", &bad_serial, &bad_name] {
            fs::write(&path, text).unwrap();
            let err = Registry::load(&path).unwrap_err();
            assert!(matches!(err, CertError::Corrupt { .. }), "{text}: {err}");
        }
        fs::remove_file(&path).unwrap();
        assert!(Registry::load(&path).unwrap().is_none());
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0x7f, 0x00, 0xab];
        assert_eq!(hex_decode(&hex_encode(&bytes)).unwrap(), bytes);
        assert!(hex_decode("abc").is_err());
        assert!(hex_decode("").is_err());
    }
}
