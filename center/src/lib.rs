//! The Jilu center: accepts county edges over mutually authenticated QUIC,
//! verifies every byte they upload against the BLAKE3 hash taken at ingest, and
//! merges every county's metadata (Automerge) into one custody and retention view.
//!
//! # Layout
//! - [`config`] — `center.toml`.
//! - [`schema`] — every column family, key and stored record of the center, and its layout.
//! - [`holder`] — proof of possession before a node is recorded as a holder.
//! - [`quota`] — per-peer quotas and the expiry of unfinished uploads.
//! - [`conn_audit`] — connections audited per peer and minute.
//! - [`refusals`] — per-peer, rate-limited logging of refusals.
//! - [`center`] — state and every decision on what peers send (documents, offers, completion).
//! - [`blobs`] — content-addressed verified footage on local disk.
//! - [`tls`] — rustls mTLS with the CRL enforced, no resumption, no 0-RTT.
//! - [`server`] — the QUIC endpoint, peer identity, CRL reload and revocation.
//! - [`session`] — one edge's streams: control (hello, documents) and items.
//! - [`admin`] — decisions at the bureau (approvals, holds) via a local socket.
//! - [`annotate`] — a keeper's annotations, into the merged activity document.
//! - [`cli`] — the `center` command line.
//! - [`schema`] — the column families of the center's store.
//! - [`projection`], [`index`] — projections of merged documents and items, kept
//!   in the merge's own write batch, and paged queries over them.
//! - [`accounts`], [`grants`] — the bureau's users, tokens and grants to classified records.
//! - [`equipment`] — projections of registries and ledgers (device pages, art. 3 report).
//! - [`delivery`] — decisions made at the center, and when the county's edge received them.
//! - [`http`] — the JSON API served by `center run` (`[http]`).

pub mod accounts;
pub mod accounts_cli;
pub mod admin;
pub mod annotate;
pub mod blobs;
pub mod center;
pub mod classify;
pub mod cli;
pub mod config;
pub mod conn_audit;
pub mod delivery;
pub mod equipment;
pub mod export;
pub mod grants;
pub mod holder;
pub mod http;
pub mod index;
pub mod projection;
pub mod quota;
pub mod refusals;
pub mod schema;
pub mod server;
pub mod session;
pub mod tls;
pub mod totp;
pub mod web;
