//! The edge ⇄ center sync protocol: its messages, and what it is for.
//!
//! # Goals
//! - **Nothing unverified is called verified.** The edge sends each item's chunk
//!   chaining values with its offer; the center checks that they rebuild the item's
//!   root hash, checks every chunk against its value as it arrives (a bad chunk is
//!   caught on its own and asked for again) and re-hashes the whole blob before it
//!   answers `Verified`.
//! - **Resume after every cut.** The center remembers which verified chunks it holds
//!   durably; a new offer of the same item is answered with only the missing ranges.
//! - **One round trip for everything unchanged.** The edge lists every document's
//!   Automerge heads in one frame; only documents whose heads differ run the Automerge
//!   sync protocol.
//! - **Identity from the certificate.** No message carries who the sender is; the
//!   center takes node, county and role from the client certificate.
//! - **Bad input changes nothing.** Every frame is length-prefixed and size-limited
//!   before it is decoded (see [`crate::codec`]); duplicates and replays are harmless
//!   because every request is idempotent (offers, chunks and sync messages all
//!   describe state, not deltas to apply blindly).
//!
//! # Non-goals
//! - Center → edge footage transfer (edges never need footage back).
//! - Peer-to-peer sync between edges.
//!
//! # Streams
//! One QUIC connection per edge. The first bidirectional stream is the control
//! stream: `Hello`/`Welcome`, then document sync. Each item travels on a
//! bidirectional stream of its own: `Offer` → `Have`, `Chunk`s, `Done` → `Verified`
//! or `Have` again (chunks still missing) or `Refused`.

use serde::{Deserialize, Serialize};

use crate::item::Item;
use crate::time::Millis;

/// Bumped on any incompatible change; a center refuses other versions by name.
/// Version 2: proof of possession (`Prove`/`Proof`).
/// Version 3: an `Item`'s hash travels as 32 bytes, not as 64 hex digits.
pub const PROTOCOL_VERSION: u16 = 3;

/// ALPN protocol id on the QUIC handshake.
pub const ALPN: &[u8] = b"jilu/1";

/// Heads of one Automerge document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    pub name: String,
    pub heads: Vec<[u8; 32]>,
}

/// What an edge offers for upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// BLAKE3 root, also `item.hash` in hex
    pub hash: [u8; 32],
    pub size: u64,
    /// chaining value of every chunk: they must rebuild `hash`
    pub cvs: Vec<[u8; 32]>,
    /// the edge's record of the item (attributed to the sending node by the center)
    pub item: Item,
}

/// Edge → center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Hello {
        version: u16,
        software: String,
    },
    /// every document the edge holds, with its heads
    Heads {
        docs: Vec<DocHeads>,
    },
    /// an Automerge sync message for `name` (None: nothing more to send)
    DocSync {
        name: String,
        message: Option<Vec<u8>>,
    },
    /// the document sync is over for this session
    DocsDone,
    /// what the edge still has to upload (shown in `center edges`)
    Queue {
        items: u64,
        bytes: u64,
    },
    Offer(Box<Offer>),
    Chunk {
        index: u64,
        /// one byte string: see [`byte_buf`]
        #[serde(with = "byte_buf")]
        data: Vec<u8>,
    },
    /// all chunks the center asked for were sent
    Done,
    /// answer to [`Response::Prove`]: see [`crate::holder::proof`]
    Proof {
        mac: [u8; 32],
    },
}

/// Center → edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Welcome {
        version: u16,
        center: String,
        node: String,
        county: String,
    },
    /// the request was not accepted; `reason` says why in words for the operator
    Refused { reason: String },
    /// documents whose heads differ or that only the center holds
    Differ { names: Vec<String> },
    DocSync {
        name: String,
        message: Option<Vec<u8>>,
    },
    /// chunk index ranges `[start, end)` the center still needs for the offered item
    Have { missing: Vec<(u64, u64)> },
    /// a chunk did not match its chaining value; the edge should re-read and resend it
    ChunkRejected { index: u64 },
    /// every byte matched; the custody event the center recorded
    Verified { at: Millis, center: String },
    /// the center holds the item already: prove possession of these chunks, keyed
    /// with `nonce` (see [`crate::holder`])
    Prove { nonce: [u8; 32], chunks: Vec<u64> },
}

impl Request {
    /// The message's kind, for logs (never its payload: see [`crate::log_escape`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "Hello",
            Request::Heads { .. } => "Heads",
            Request::DocSync { .. } => "DocSync",
            Request::DocsDone => "DocsDone",
            Request::Queue { .. } => "Queue",
            Request::Offer(_) => "Offer",
            Request::Chunk { .. } => "Chunk",
            Request::Done => "Done",
            Request::Proof { .. } => "Proof",
        }
    }
}

/// Serde for a chunk's bytes as one byte string instead of a sequence of `u8`.
///
/// bincode writes both the same way (a varint length, then the bytes), so the
/// wire format does not change; but serde's default for `Vec<u8>` makes one
/// visitor call per byte, which for 1 MiB chunks was the largest single cost of
/// the center's receive loop (and of the edge's encode) in `jilu-bench-sync`.
/// The length is still checked against the codec's limit before anything is
/// allocated.
mod byte_buf {
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            // self-describing formats may hand over a sequence
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}

/// Compresses sorted chunk indices into `[start, end)` ranges.
pub fn to_ranges(indices: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for i in indices {
        match out.last_mut() {
            Some((_, end)) if *end == i => *end += 1,
            _ => out.push((i, i + 1)),
        }
    }
    out
}

/// Expands ranges, refusing ones that exceed `limit` chunks in total (a hostile or
/// broken peer must not make us allocate without bound).
pub fn from_ranges(ranges: &[(u64, u64)], limit: u64) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    for &(start, end) in ranges {
        if end < start || end > limit {
            return None;
        }
        out.extend(start..end);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk's bytes as one byte string encode exactly as a plain `Vec<u8>`
    /// field did, so centers and edges of either build understand each other.
    #[test]
    fn chunk_bytes_keep_the_wire_format() {
        #[derive(Serialize)]
        enum Before {
            _Hello,
            _Heads,
            _DocSync,
            _DocsDone,
            _Queue,
            _Offer,
            Chunk { index: u64, data: Vec<u8> },
        }
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let old = crate::codec::encode(&Before::Chunk {
            index: 5,
            data: data.clone(),
        })
        .unwrap();
        let new = crate::codec::encode(&Request::Chunk { index: 5, data }).unwrap();
        assert_eq!(old, new);
        let back: Request = crate::codec::decode_body(&new[4..]).unwrap();
        assert!(matches!(back, Request::Chunk { index: 5, ref data } if data.len() == 300));
    }

    #[test]
    fn ranges_round_trip() {
        let idx = vec![0, 1, 2, 5, 7, 8];
        let r = to_ranges(idx.clone());
        assert_eq!(r, vec![(0, 3), (5, 6), (7, 9)]);
        assert_eq!(from_ranges(&r, 9), Some(idx));
        assert_eq!(from_ranges(&r, 8), None);
        assert_eq!(from_ranges(&[(5, 2)], 10), None);
    }
}
