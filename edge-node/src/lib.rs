//! The Jilu edge node: everything a county office does with its enforcement
//! recordings, offline, on one RocksDB store.
//!
//! # Layout
//! - [`schema`] — every column family and `meta` key, with its record type.
//! - [`store`] — the RocksDB database: opening it, tuning the footage families.
//! - [`config`] — `edge.toml`.
//! - [`edge`] — an open node and [`edge::Tx`], the one way to change anything
//!   (documents + records + audit entries in one synced batch).
//! - [`registry`] — devices, officers, the matter catalogue.
//! - [`ledger`] — check-out / check-in with the pre-use check.
//! - [`activities`] — enforcement activities, notices, annotations, interruptions.
//! - [`ingest`] — durable, chunked, hashed footage ingest and crash recovery.
//! - [`reserve`] — free space and ingest lanes held by the ingests in flight.
//! - [`evict`] — freeing an uploaded item's footage without rewriting other footage.
//! - [`dock`] — dock watch for collection workstations: several cameras at once.
//!   [`dock::progress`] keeps what each docked camera's ingest has done and has left.
//! - [`status`] — the archive keeper's view: queue and compliance findings.
//! - [`tls`] — the edge's mutual-TLS QUIC client config (uplink, tests, benchmarks).
//! - [`uplink`] — sync with the center over mutually authenticated QUIC.
//! - [`doc_sync`] — the document part of a sync pass: the heads exchange, then
//!   the Automerge sync of each document that differs.
//! - [`service`] — the running node: owns the store, serves every command,
//!   stops in order within a deadline.
//! - [`control`] — the control socket that hands commands to the running node.
//! - [`office`] — the office page: the web UI for this county, served by
//!   `run --http` on loopback, its forms run as commands in the node.
//! - [`cli`] — the `edge-node` command line.

pub mod activities;
pub mod cli;
pub mod config;
pub mod control;
pub mod doc_sync;
pub mod dock;
pub mod edge;
pub mod evict;
pub mod ingest;
pub mod ledger;
pub mod office;
pub mod registry;
pub mod reserve;
pub mod schema;
pub mod service;
pub mod status;
pub mod store;
pub mod tls;
pub mod uplink;
