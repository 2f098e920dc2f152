//! A Jilu node's durable state, shared by the edge node and the center: one RocksDB
//! database, an append-only audit journal, and Automerge documents, all changed
//! through a [`journal::Tx`] that commits a change and its audit entry in one
//! synced batch.
//!
//! # Layout
//! - [`db`] — opening RocksDB with a node's column families; errors a user can act on.
//! - [`heads`] — the heads index: document and bucket digests for the heads exchange.
//! - [`journal`] — the audit head, documents and the one way to change anything.

pub mod db;
pub mod heads;
pub mod journal;
