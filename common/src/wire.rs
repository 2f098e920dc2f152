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
//! - **One small round trip for everything unchanged, at any number of
//!   documents.** The edge sends one digest of all its documents' heads; the
//!   center answers `Same`. Only when it differs are bucket digests and then
//!   bounded pages of per-document digests exchanged (see *Documents* below), and
//!   only documents whose heads differ run the Automerge sync protocol.
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
//!
//! # Documents
//! Which documents to sync is found from digests kept up to date as documents are
//! written ([`crate::doc_summary`]; the index is `jilu_store::heads`), never by
//! listing every document:
//!
//! 1. `Summary { root }` → `Same` (done: nothing differs), or `Buckets { digests }`,
//!    the center's [`BUCKETS`](crate::doc_summary::BUCKETS) bucket digests (32 KiB).
//! 2. The edge compares them with its own and pages through the buckets that
//!    differ: `HeadsPage { buckets, after, docs, last }` carries its documents of
//!    those buckets after `after` in key order, at most
//!    [`MAX_PAGE_DOCS`](crate::doc_summary::MAX_PAGE_DOCS).
//!    The center answers `Differ { names, through }`: the documents that differ or
//!    that only one side holds, compared up to `through` (`None`: to the end). The
//!    next page starts after `through`. Neither side keeps state between pages.
//! 3. `DocSync` for each name (the Automerge sync protocol), then `DocsDone`.
//!
//! A page that breaks its rules (unordered, outside its buckets, over the limit,
//! a name outside the grammar), and any control frame that is over the frame
//! limit or does not decode, is answered `Refused` with the reason. Documents the
//! sender's county does not see are left out of the answer, not refused.

use serde::{Deserialize, Serialize};

use crate::item::Item;
use crate::time::Millis;

/// Bumped on any incompatible change; a center refuses other versions by name.
/// Version 2: proof of possession (`Prove`/`Proof`).
/// Version 3: an `Item`'s hash travels as 32 bytes, not as 64 hex digits.
/// Version 4: the heads of every document in one `Heads` frame gave way to a
/// summary and pages (`Summary`, `HeadsPage`; `Same`, `Buckets`, `Differ` with
/// `through`). `Hello`, `Welcome` and `Refused` keep their places, so an edge of
/// another version is told why it is refused.
pub const PROTOCOL_VERSION: u16 = 4;

/// ALPN protocol id on the QUIC handshake.
pub const ALPN: &[u8] = b"jilu/1";

/// A document's digest: its name and heads ([`crate::doc_summary::doc_digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocDigest {
    pub name: String,
    pub digest: [u8; 32],
}

/// One page of the edge's document digests (see *Documents* above).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadsPage {
    /// the buckets whose digests differ, in order; the same in every page
    pub buckets: Vec<u16>,
    /// the page starts after this document (in key order); `None`: at the start
    pub after: Option<String>,
    /// the edge's documents of `buckets` after `after`, in key order
    pub docs: Vec<DocDigest>,
    /// whether `docs` reach the end of the buckets
    pub last: bool,
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
    /// the root digest of every document the edge holds that its county sees
    Summary {
        root: [u8; 32],
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
    /// the edge's document digests in the buckets that differ, one page
    HeadsPage(Box<HeadsPage>),
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
    /// answer to a [`HeadsPage`]: documents whose heads differ or that one side
    /// only holds, compared up to `through` (`None`: to the end of the buckets)
    Differ {
        names: Vec<String>,
        through: Option<String>,
    },
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
    /// answer to `Summary`: the center's documents for this county have the same
    /// root digest; nothing to sync
    Same,
    /// answer to `Summary` when the roots differ: the center's bucket digests
    Buckets { digests: Vec<[u8; 32]> },
}

impl Request {
    /// The message's kind, for logs (never its payload: see [`crate::log_escape`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "Hello",
            Request::Summary { .. } => "Summary",
            Request::DocSync { .. } => "DocSync",
            Request::DocsDone => "DocsDone",
            Request::Queue { .. } => "Queue",
            Request::Offer(_) => "Offer",
            Request::Chunk { .. } => "Chunk",
            Request::Done => "Done",
            Request::Proof { .. } => "Proof",
            Request::HeadsPage(_) => "HeadsPage",
        }
    }
}

impl Response {
    /// The message's kind, for error lines (never its payload).
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Welcome { .. } => "Welcome",
            Response::Refused { .. } => "Refused",
            Response::Differ { .. } => "Differ",
            Response::DocSync { .. } => "DocSync",
            Response::Have { .. } => "Have",
            Response::ChunkRejected { .. } => "ChunkRejected",
            Response::Verified { .. } => "Verified",
            Response::Prove { .. } => "Prove",
            Response::Same => "Same",
            Response::Buckets { .. } => "Buckets",
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
            _Summary,
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
