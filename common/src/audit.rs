//! The audit and custody log (art. 18): every action is an entry that carries the
//! BLAKE3 hash of the entry before it, so an edited, dropped or reordered entry
//! breaks the chain at a place the verifier can name.
//!
//! An entry is stored as the exact bytes that are hashed (JSON with a fixed field
//! order), so verification never depends on re-encoding. The chain alone cannot
//! catch a forger who rewrites *every* entry from some point on; the head (last
//! sequence number and hash) is kept apart and later anchored at the center, which
//! turns that into a detectable fork.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Hash of the (absent) entry before the first one.
pub const GENESIS: [u8; 32] = [0; 32];

/// What happened, as the auditor reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NodeInitialised,
    DeviceRegistered,
    DeviceChanged,
    OfficerRegistered,
    MatterEdited,
    CheckOut,
    CheckIn,
    ActivityCreated,
    ActivityEdited,
    ItemLinked,
    InterruptionFiled,
    Ingest,
    IngestDiscarded,
    Verified,
    SourceWiped,
    Access,
    Export,
    /// the center verified every byte of an item (recorded at both ends)
    VerifiedAtCenter,
    /// an item's footage was freed at the edge after the center verified it
    ChunksFreed,
    /// changes to a document arrived from a peer and were merged
    DocumentMerged,
    /// changes a peer sent were refused (not its document, or not its actor)
    ChangeRefused,
    /// a node connected or was refused
    PeerConnected,
    PeerRefused,
    /// decisions taken at the center
    InterruptionDecided,
    HoldSet,
    ClassificationSet,
    /// the center's HTTP API: accounts, tokens, grants and every use of them
    UserChanged,
    TokenIssued,
    TokenRevoked,
    /// a request carried a valid token (path and outcome in the detail)
    ApiAccess,
    /// a request carried an expired, revoked, unknown or malformed token
    ApiRefused,
    /// a user asked for something the role, scope or classification withholds
    AccessDenied,
    /// bytes of an item's footage were served (which bytes in the detail)
    ContentServed,
    GrantChanged,
    /// the center's projections were rebuilt from its documents and items
    Reindexed,
    /// a web login succeeded (a new session) or a session ended (logout)
    SessionStarted,
    SessionEnded,
}

/// One log entry. `prev` is the hash of the previous entry's stored bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub at: Millis,
    /// node that wrote the entry (from its configuration, later its certificate)
    pub node: String,
    /// who acted: an officer badge, "keeper", "dock", "auditor" ...
    pub actor: String,
    pub action: Action,
    /// what it was done to: `item:<hash>`, `device:<id>`, `activity:<id>` ...
    pub subject: String,
    pub detail: serde_json::Value,
    #[serde(with = "hex32")]
    pub prev: [u8; 32],
    /// how the action reached the node, when the channel knows more than the
    /// actor's name: the OS user of a CLI on the edge's control socket, say
    /// (absent in entries written before it existed, and for the node's own acts)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// Entries are stored with a format version ([`crate::record`]); entries written
/// before versions existed are bare JSON of the same shape (without `via`), and
/// the chain hashes whatever bytes are stored, so old and new entries link alike.
impl crate::record::Record for Entry {
    const NAME: &'static str = "audit entry";
    const VERSION: u16 = 1;
}

impl Entry {
    /// The bytes stored and hashed for this entry.
    pub fn encode(&self) -> Vec<u8> {
        // serde_json writes struct fields in declaration order and `detail`'s maps in
        // key order (no `preserve_order`), so the encoding is canonical.
        crate::record::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, crate::record::RecordError> {
        crate::record::decode(bytes)
    }
}

/// Hash of an entry's stored bytes: what the next entry's `prev` must hold.
pub fn entry_hash(stored: &[u8]) -> [u8; 32] {
    *blake3::hash(stored).as_bytes()
}

/// A break in the chain, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// the stored bytes do not decode as an entry (edited by hand?)
    Unreadable { key: u64 },
    /// the entry stored under `key` says it is number `seq` (moved or reordered)
    WrongPlace { key: u64, seq: u64 },
    /// entries between `after` and `next` are missing (dropped)
    Gap { after: u64, next: u64 },
    /// entry `seq` does not carry the hash of the entry before it (edited, dropped or reordered)
    BrokenLink { seq: u64 },
    /// the last entry is not the recorded head (the tail was edited or cut off)
    HeadMismatch { head_seq: u64, last_seq: u64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreadable { key } => write!(f, "entry {key} is unreadable (altered bytes)"),
            Problem::WrongPlace { key, seq } => write!(f, "entry stored as {key} claims to be {seq} (reordered)"),
            Problem::Gap { after, next } => write!(f, "entries {}..{} are missing (dropped)", after + 1, next - 1),
            Problem::BrokenLink { seq } => {
                write!(f, "entry {seq} does not link to the entry before it (that entry was edited, dropped or reordered)")
            }
            Problem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "the log ends at entry {last_seq} but its recorded head is entry {head_seq} (the tail was edited or cut off)"
            ),
        }
    }
}

/// The outcome of walking a chain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub entries: u64,
    pub problems: Vec<Problem>,
    #[serde(with = "hex32")]
    pub last_hash: [u8; 32],
}

impl Report {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Walks `(key, stored bytes)` pairs in key order and checks every link; `head` is
/// the separately recorded `(seq, hash)` of the last entry, when there is one.
pub fn verify<I>(stored: I, head: Option<(u64, [u8; 32])>) -> Report
where
    I: IntoIterator<Item = (u64, Vec<u8>)>,
{
    let mut report = Report {
        last_hash: GENESIS,
        ..Report::default()
    };
    let mut expected_seq = 0u64;
    let mut last_seq: Option<u64> = None;
    for (key, bytes) in stored {
        report.entries += 1;
        let hash = entry_hash(&bytes);
        match Entry::decode(&bytes) {
            Err(_) => report.problems.push(Problem::Unreadable { key }),
            Ok(entry) => {
                if entry.seq != key {
                    report.problems.push(Problem::WrongPlace {
                        key,
                        seq: entry.seq,
                    });
                }
                if key > expected_seq {
                    report.problems.push(Problem::Gap {
                        after: expected_seq.wrapping_sub(1),
                        next: key,
                    });
                }
                if entry.prev != report.last_hash {
                    report.problems.push(Problem::BrokenLink { seq: entry.seq });
                }
            }
        }
        report.last_hash = hash;
        expected_seq = key + 1;
        last_seq = Some(key);
    }
    if let Some((head_seq, head_hash)) = head {
        let tail_ok = last_seq == Some(head_seq) && report.last_hash == head_hash;
        if !tail_ok {
            report.problems.push(Problem::HeadMismatch {
                head_seq,
                last_seq: last_seq.unwrap_or(0),
            });
        }
    }
    report
}

/// Serde for 32-byte hashes as lowercase hex.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }

    pub fn to_hex(v: &[u8; 32]) -> String {
        blake3::Hash::from_bytes(*v).to_hex().to_string()
    }

    pub fn from_hex(text: &str) -> Option<[u8; 32]> {
        blake3::Hash::from_hex(text).ok().map(|h| *h.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<(u64, Vec<u8>)> {
        let mut prev = GENESIS;
        (0..n)
            .map(|seq| {
                let e = Entry {
                    seq,
                    at: 1_000 + seq as i64,
                    node: "county-01".into(),
                    actor: "keeper".into(),
                    action: Action::Ingest,
                    subject: format!("item:{seq}"),
                    detail: serde_json::json!({"n": seq}),
                    prev,
                    via: None,
                };
                let bytes = e.encode();
                prev = entry_hash(&bytes);
                (seq, bytes)
            })
            .collect()
    }

    fn head(c: &[(u64, Vec<u8>)]) -> Option<(u64, [u8; 32])> {
        c.last().map(|(k, b)| (*k, entry_hash(b)))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(10);
        let r = verify(c.clone(), head(&c));
        assert!(r.is_intact(), "{:?}", r.problems);
        assert_eq!(r.entries, 10);
    }

    #[test]
    fn edit_is_detected() {
        let c = chain(10);
        let h = head(&c);
        let mut bad = c.clone();
        let mut e = Entry::decode(&bad[4].1).unwrap();
        e.actor = "someone else".into();
        bad[4].1 = e.encode();
        let r = verify(bad, h);
        assert_eq!(r.problems, vec![Problem::BrokenLink { seq: 5 }]);
    }

    #[test]
    fn edit_of_the_last_entry_is_caught_by_the_head() {
        let c = chain(5);
        let h = head(&c);
        let mut bad = c.clone();
        let mut e = Entry::decode(&bad[4].1).unwrap();
        e.detail = serde_json::json!({"n": 99});
        bad[4].1 = e.encode();
        assert_eq!(
            verify(bad, h).problems,
            vec![Problem::HeadMismatch {
                head_seq: 4,
                last_seq: 4
            }]
        );
    }

    #[test]
    fn drop_is_detected() {
        let c = chain(10);
        let h = head(&c);
        let mut bad = c.clone();
        bad.remove(3);
        let r = verify(bad, h);
        assert!(
            r.problems.contains(&Problem::Gap { after: 2, next: 4 }),
            "{:?}",
            r.problems
        );
        assert!(r.problems.contains(&Problem::BrokenLink { seq: 4 }));
        // dropping the tail is caught by the head
        let mut cut = c.clone();
        cut.pop();
        assert_eq!(
            verify(cut, h).problems,
            vec![Problem::HeadMismatch {
                head_seq: 9,
                last_seq: 8
            }]
        );
    }

    #[test]
    fn reorder_is_detected() {
        let c = chain(10);
        let h = head(&c);
        let mut bad = c.clone();
        let (a, b) = (bad[2].1.clone(), bad[6].1.clone());
        bad[2].1 = b;
        bad[6].1 = a;
        let r = verify(bad, h);
        assert!(
            r.problems.contains(&Problem::WrongPlace { key: 2, seq: 6 }),
            "{:?}",
            r.problems
        );
        assert!(r
            .problems
            .iter()
            .any(|p| matches!(p, Problem::BrokenLink { .. })));
    }

    #[test]
    fn garbage_is_detected() {
        let c = chain(3);
        let h = head(&c);
        let mut bad = c.clone();
        bad[1].1 = b"not json".to_vec();
        let r = verify(bad, h);
        assert!(r.problems.contains(&Problem::Unreadable { key: 1 }));
        assert!(r.problems.contains(&Problem::BrokenLink { seq: 2 }));
    }
}
