//! [`Hash`]: an item's BLAKE3 root, the one way Jilu names footage. Built and
//! parsed here only: lowercase hex in text, JSON and logs; 32 raw bytes in keys
//! and on the wire (exactly as a `[u8; 32]` was, so the formats are unchanged).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Least hex digits of a hash prefix that a command accepts (as `git` does).
pub const MIN_PREFIX: usize = 6;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash([u8; 32]);

/// Why a text is not a hash (or a prefix of one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// not 64 hex digits
    #[error("'{0}' is not a BLAKE3 hash (64 hex digits)")]
    NotAHash(String),
    /// not 6 to 64 hex digits
    #[error("'{0}' is not an item hash: give at least {MIN_PREFIX} hex digits of it")]
    NotAPrefix(String),
}

impl Hash {
    pub const fn from_bytes(b: [u8; 32]) -> Hash {
        Hash(b)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// BLAKE3 of `data` (the whole content at once).
    pub fn of(data: &[u8]) -> Hash {
        Hash(*blake3::hash(data).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// The first 12 hex digits, for lines a person reads.
    pub fn short(&self) -> String {
        let mut h = self.to_hex();
        h.truncate(12);
        h
    }

    /// Whether the hex form starts with `prefix` (already lowercase hex).
    pub fn starts_with(&self, prefix: &Prefix) -> bool {
        self.to_hex().starts_with(&prefix.0)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(b: [u8; 32]) -> Hash {
        Hash(b)
    }
}

impl From<blake3::Hash> for Hash {
    fn from(h: blake3::Hash) -> Hash {
        Hash(*h.as_bytes())
    }
}

impl From<Hash> for [u8; 32] {
    fn from(h: Hash) -> [u8; 32] {
        h.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Hash, HashError> {
        let t = s.trim();
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HashError::NotAHash(s.to_string()));
        }
        blake3::Hash::from_hex(t.to_ascii_lowercase())
            .map(Hash::from)
            .map_err(|_| HashError::NotAHash(s.to_string()))
    }
}

impl Hash {
    /// The hash in 32 raw bytes, e.g. a store key.
    pub fn from_slice(b: &[u8]) -> Option<Hash> {
        b.try_into().ok().map(Hash)
    }
}

/// A prefix of a hash's hex form, as typed by a user: 6 to 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl FromStr for Prefix {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Prefix, HashError> {
        let t = s.trim().to_ascii_lowercase();
        if t.len() < MIN_PREFIX || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HashError::NotAPrefix(s.trim().to_string()));
        }
        Ok(Prefix(t))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hex in human-readable formats (JSON: records, audit entries, `--json`); 32
/// bytes as a tuple elsewhere (bincode: the wire), exactly as `[u8; 32]` is
/// encoded, so neither format changed when hashes became a type.
impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            let mut t = s.serialize_tuple(32)?;
            for b in &self.0 {
                t.serialize_element(b)?;
            }
            t.end()
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            text.parse().map_err(de::Error::custom)
        } else {
            struct Bytes;
            impl<'de> Visitor<'de> for Bytes {
                type Value = Hash;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("32 bytes")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hash, A::Error> {
                    let mut out = [0u8; 32];
                    for (i, b) in out.iter_mut().enumerate() {
                        *b = seq
                            .next_element()?
                            .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                    }
                    Ok(Hash(out))
                }
            }
            d.deserialize_tuple(32, Bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_bad_text_is_named() {
        let h = Hash::of(b"footage");
        let hex = h.to_hex();
        assert_eq!(hex, blake3::hash(b"footage").to_hex().as_str());
        assert_eq!(hex.parse::<Hash>().unwrap(), h);
        assert_eq!(hex.to_uppercase().parse::<Hash>().unwrap(), h);
        assert_eq!(h.short().len(), 12);
        for bad in [
            "",
            "abc",
            &hex[..63],
            &format!("{hex}0"),
            &hex.replace('a', "g"),
        ] {
            assert!(
                matches!(bad.parse::<Hash>(), Err(HashError::NotAHash(_))),
                "{bad}"
            );
        }
        let p: Prefix = hex[..6].to_uppercase().parse().unwrap();
        assert!(h.starts_with(&p));
        let other = Hash::of(b"other");
        assert_eq!(other.starts_with(&p), other.to_hex().starts_with(&hex[..6]));
        for bad in ["abcde", "zzzzzz", &format!("{hex}0")] {
            assert!(
                matches!(bad.parse::<Prefix>(), Err(HashError::NotAPrefix(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_is_hex_and_the_wire_is_unchanged() {
        let h = Hash::of(b"x");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        // bincode (the wire) encodes a Hash exactly as the [u8; 32] it replaced
        let old = crate::codec::encode(h.as_bytes()).unwrap();
        let new = crate::codec::encode(&h).unwrap();
        assert_eq!(old, new);
        let back: Hash = crate::codec::decode_body(&new[4..]).unwrap();
        assert_eq!(back, h);
    }
}
