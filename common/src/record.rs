//! Records kept on disk outlive releases (invariant 10): every stored record
//! carries its format version, and reading goes through one migration chain per
//! record type. An older version is read and upgraded; a newer one is refused by
//! name, never misread with defaults.
//!
//! The stored form is a 3-byte header — [`MAGIC`], then the version as a
//! big-endian `u16` — followed by the record as JSON. Records written before
//! versions existed are bare JSON (their first byte is `{`): they are version 0.
//! `MAGIC` is a UTF-8 continuation byte, so no JSON text can start with it.
//!
//! As in garage's `Migrate`, each type states its current version and how to read
//! the versions before it ([`Record::upgrade`]); the default reads version 0 as the
//! current shape, which holds for every type whose fields only grew with serde
//! defaults since. A change that is not additive bumps `VERSION`, keeps the old
//! shape as a private type, and upgrades from it.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// First byte of every versioned record.
pub const MAGIC: u8 = 0xA5;

/// Why a stored record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// a newer Jilu wrote it: this build must not guess what it means
    #[error("a stored {name} record has format {found}, newer than this build of Jilu reads (format {known}): run a newer Jilu on this store")]
    Newer {
        name: &'static str,
        found: u16,
        known: u16,
    },
    /// the bytes are not a record of the version they claim (damaged, or edited by hand)
    #[error("a stored {name} record (format {version}) is unreadable: {detail}")]
    Malformed {
        name: &'static str,
        version: u16,
        detail: String,
    },
    /// an old version this build has no upgrade for
    #[error("a stored {name} record has format {found}, which this build cannot upgrade")]
    NoUpgrade { name: &'static str, found: u16 },
}

/// A type stored on disk, with its format version and the way up from older ones.
pub trait Record: Serialize + DeserializeOwned {
    /// The record's name in error messages ("item", "peer", "link state").
    const NAME: &'static str;
    /// The format this build writes.
    const VERSION: u16;

    /// Reads `body`, written in an older format `version` (< [`Record::VERSION`]).
    fn upgrade(version: u16, body: &[u8]) -> Result<Self, RecordError> {
        match version {
            0 => json(Self::NAME, version, body),
            found => Err(RecordError::NoUpgrade {
                name: Self::NAME,
                found,
            }),
        }
    }
}

/// `body` as JSON of type `T` (for [`Record::upgrade`] chains).
pub fn json<T: DeserializeOwned>(
    name: &'static str,
    version: u16,
    body: &[u8],
) -> Result<T, RecordError> {
    serde_json::from_slice(body).map_err(|e| RecordError::Malformed {
        name,
        version,
        detail: e.to_string(),
    })
}

/// The stored form of `r`.
pub fn encode<R: Record>(r: &R) -> Vec<u8> {
    let mut out = vec![MAGIC];
    out.extend_from_slice(&R::VERSION.to_be_bytes());
    // serialising a plain data record to JSON cannot fail (no maps with non-string keys)
    out.extend_from_slice(&serde_json::to_vec(r).unwrap_or_default());
    out
}

/// The format version of stored bytes (0: written before versions existed).
pub fn version_of(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [MAGIC, hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        [b'{', ..] => Some(0),
        _ => None,
    }
}

/// Reads stored bytes of any known version of `R`.
pub fn decode<R: Record>(bytes: &[u8]) -> Result<R, RecordError> {
    let Some(version) = version_of(bytes) else {
        return Err(RecordError::Malformed {
            name: R::NAME,
            version: 0,
            detail: "no format header".into(),
        });
    };
    let body = if version == 0 && bytes.first() == Some(&b'{') {
        bytes
    } else {
        &bytes[3..]
    };
    match version.cmp(&R::VERSION) {
        std::cmp::Ordering::Equal => json(R::NAME, version, body),
        std::cmp::Ordering::Less => R::upgrade(version, body),
        std::cmp::Ordering::Greater => Err(RecordError::Newer {
            name: R::NAME,
            found: version,
            known: R::VERSION,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// Format 1 had `minutes`; format 2 keeps seconds.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Timer {
        seconds: u64,
        #[serde(default)]
        label: String,
    }

    #[derive(Deserialize)]
    struct TimerV1 {
        minutes: u64,
    }

    impl Record for Timer {
        const NAME: &'static str = "timer";
        const VERSION: u16 = 2;
        fn upgrade(version: u16, body: &[u8]) -> Result<Self, RecordError> {
            // 0 and 1 share a shape: 0 was written before headers
            match version {
                0 | 1 => {
                    let old: TimerV1 = json(Self::NAME, version, body)?;
                    Ok(Timer {
                        seconds: old.minutes * 60,
                        label: String::new(),
                    })
                }
                found => Err(RecordError::NoUpgrade {
                    name: Self::NAME,
                    found,
                }),
            }
        }
    }

    #[test]
    fn current_older_legacy_and_newer_formats() {
        let t = Timer {
            seconds: 90,
            label: "a".into(),
        };
        let stored = encode(&t);
        assert_eq!(&stored[..3], &[MAGIC, 0, 2]);
        assert_eq!(decode::<Timer>(&stored).unwrap(), t);
        // format 1, with its header
        let mut v1 = vec![MAGIC, 0, 1];
        v1.extend_from_slice(br#"{"minutes":2}"#);
        assert_eq!(decode::<Timer>(&v1).unwrap().seconds, 120);
        // bare JSON from before versions
        assert_eq!(decode::<Timer>(br#"{"minutes":3}"#).unwrap().seconds, 180);
        // a newer format is refused by name, not read with defaults
        let mut v9 = vec![MAGIC, 0, 9];
        v9.extend_from_slice(br#"{"seconds":1}"#);
        let e = decode::<Timer>(&v9).unwrap_err();
        assert!(
            matches!(
                e,
                RecordError::Newer {
                    found: 9,
                    known: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("timer record has format 9"), "{e}");
        // damage is named too
        assert!(matches!(
            decode::<Timer>(&[MAGIC, 0, 2, b'{']),
            Err(RecordError::Malformed { .. })
        ));
        assert!(matches!(
            decode::<Timer>(b"junk"),
            Err(RecordError::Malformed { .. })
        ));
        assert!(matches!(
            decode::<Timer>(&[MAGIC]),
            Err(RecordError::Malformed { .. })
        ));
    }
}
