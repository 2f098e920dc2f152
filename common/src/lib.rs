//! Jilu's shared core: the record model of the regulation, BLAKE3 chunk trees, the
//! hash-linked audit chain, media metadata and the compliance rules.
//!
//! Nothing here does I/O or reads the clock: every function takes what it needs
//! (bytes, records, "now") as arguments, so the edge node, the center and the tests
//! all run the same deterministic logic. The one exception is [`codec`]'s `read` and
//! `write`, generic over any async stream so both drivers frame messages alike.
//!
//! # Layout
//! - [`time`] — Unix-millisecond timestamps, RFC 3339 text, calendar months.
//! - [`hash`] — [`hash::Hash`], an item's BLAKE3 root, and prefixes of it.
//! - [`id`] — the one rule for node, county, device, officer, matter and activity ids.
//! - [`record`] — stored records with a format version and a migration chain.
//! - [`subject`] — what an audit entry is about, and who acted.
//! - [`chunk_tree`] — 1 MiB chunks, their BLAKE3 chaining values and the root hash,
//!   so a copy can be verified (and resumed) chunk by chunk.
//! - [`audit`] — the append-only, hash-linked audit/custody log and its verifier.
//! - [`media`] — capture start and duration from MP4/MOV, JPEG EXIF and WAV headers.
//! - [`registry`] — devices (art. 2) and officers.
//! - [`matter`] — the catalogue of matters that must be recorded (art. 6 and annex).
//! - [`ledger`] — check-out / check-in with the pre-use check (art. 4, 7).
//! - [`activity`] — enforcement activities, notice, annotations, interruptions (art. 8–12).
//! - [`item`] — a stored recording and where its times came from (art. 11, 13).
//! - [`compliance`] — the checks `status` reports (art. 5, 6, 8, 12, 13).
//! - [`doc`] — typed records <-> Automerge documents.
//! - [`fuzzing`] — entry points that feed arbitrary bytes to every decoder (fuzz/).
//! - [`doc_name`] — [`doc_name::DocName`]: the one grammar of document names.
//! - [`doc_summary`] — digests and pages of the heads exchange: which documents to sync.
//! - [`doc_check`] — a document must decode as its kind before it is merged.
//! - [`holder`] — what makes a node a holder of an item: upload, or proof of possession.
//! - [`log_escape`] — peer-supplied text made safe (and short) for logs and audit.
//! - [`automerge`] — the Automerge release Jilu is built with, re-exported so the
//!   fixture and benchmark crates name exactly this one.
//! - [`wire`] — the sync protocol's messages, goals and non-goals.
//! - [`codec`] — length-prefixed, size-limited frames (the only user of bincode).
//! - [`sync`] — document ownership and the pure decisions of a sync session.
//! - [`transfer`] — the center's per-item receive state: verify, resume, complete.
//! - [`schedule`] — upload order, bandwidth cap and reconnect backoff.
//! - [`equipment`] — the equipment ratio of art. 3 against a target.
//! - [`delivery`] — whether an edge has received a change the center made.

pub mod access;
pub mod activity;
pub mod audit;
pub mod chunk_tree;
pub mod codec;
pub mod compliance;
pub mod delivery;
pub mod doc;
pub mod doc_check;
pub mod doc_name;
pub mod doc_summary;
pub mod equipment;
pub mod fuzzing;
pub mod hash;
pub mod holder;
pub mod id;
pub mod item;
pub mod ledger;
pub mod log_escape;
pub mod matter;
pub mod media;
pub mod record;
pub mod registry;
pub mod retention;
pub mod retention_policy;
pub mod schedule;
pub mod subject;
pub mod sync;
pub mod time;
pub mod transfer;
pub mod wire;

pub use automerge;
