//! Everything the center keeps in RocksDB, in one place: every column family,
//! every key, and the record stored under each. Keys are built here and nowhere
//! else.
//!
//! | column family | key                             | value                                          |
//! |---------------|---------------------------------|------------------------------------------------|
//! | `meta`        | `layout`                        | this store's layout version, u32 BE ([`LAYOUT`]) |
//! | `meta`        | `audit_head`                    | next sequence (u64 BE) ++ last entry's hash      |
//! | `docs`        | document name ([`DocName`](jilu_common::doc_name::DocName)) | saved Automerge document (its own format) |
//! | `audit`       | sequence (u64 BE)               | audit [`Entry`](jilu_common::audit::Entry), the exact bytes hashed |
//! | `custody`     | item hash ++ sequence           | (empty) index of an item's audit entries        |
//! | `items`       | root hash (32 bytes)            | [`CenterItem`]                                  |
//! | `partial`     | root hash ++ node name          | [`Partial`]: chunks of an unfinished upload held durably |
//! | `peers`       | node name                       | [`PeerRecord`]                                  |
//! | `syncstate`   | node name ++ NUL ++ document name | Automerge sync state with that node (its own format) |
//! | `users`       | account name                    | [`crate::accounts::User`]                       |
//! | `tokens`      | `h` ++ BLAKE3 of a token; `i` ++ token id | [`crate::accounts::Token`]; that hash  |
//! | `grants`      | user ++ NUL ++ target           | [`crate::grants::Grant`] (the latest for that pair) |
//! | `websessions` | BLAKE3 of a session id          | [`crate::web::sessions::WebSession`] (the id itself is only in the browser's cookie) |
//! | `index`       | see [`crate::index::keys`]      | the projections of merged documents and items ([`crate::projection`]) |
//! | `heads`       | see [`jilu_store::heads`]       | every document's and bucket's digest, written with each merge (the heads exchange) |
//! | `deliveries`  | `s` NUL document NUL about      | [`crate::delivery::Sent`]: decisions made at the center on that document (`about`: an item's hash, or empty), and when an edge received each |
//! | `deliveries`  | `p` NUL document NUL about      | (empty) while one of them waits for the edge |
//!
//! Every record is versioned ([`jilu_common::record`]); records written before
//! versions (bare JSON) are format 0 and read as the current shape. The store
//! carries [`LAYOUT`], checked at open: a newer layout is refused by name.
//! Layout 0 → 1: partial uploads became per node (`partial` keys gained the node
//! name, so two nodes never share a receive lock or a partial file); layout-0
//! progress records are dropped (their nodes resend those chunks) and their files
//! expire with every other orphaned partial.
//! Layout 1 → 2: the `heads` index, rebuilt from every stored document once.

use jilu_common::item::Item;
use jilu_common::record::{Record, RecordError};
use jilu_common::time::Millis;
use jilu_store::db::{Store, StoreError};
use serde::{Deserialize, Serialize};

pub use jilu_store::db::{AUDIT, CUSTODY, DOCS, META};
pub use jilu_store::heads::HEADS;

pub const ITEMS: &str = "items";
pub const PARTIAL: &str = "partial";
pub const PEERS: &str = "peers";
pub const SYNCSTATE: &str = "syncstate";
pub const USERS: &str = "users";
pub const TOKENS: &str = "tokens";
pub const GRANTS: &str = "grants";
pub const INDEX: &str = "index";
pub const WEBSESSIONS: &str = "websessions";
pub const DELIVERIES: &str = "deliveries";
/// The center's own families (beside the store's base ones).
pub const FIXED: [&str; 11] = [
    ITEMS,
    PARTIAL,
    PEERS,
    SYNCSTATE,
    USERS,
    TOKENS,
    GRANTS,
    INDEX,
    HEADS,
    WEBSESSIONS,
    DELIVERIES,
];
/// The same list, by the name the metrics use.
pub const FAMILIES: [&str; 11] = FIXED;

/// This build's store layout (see the module doc for what changed).
pub const LAYOUT: u32 = 2;

/// An item as the center holds it: the edge's record, who sent it, when verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterItem {
    pub item: Item,
    /// node whose certificate uploaded it first
    pub origin: String,
    pub verified_at: Millis,
    /// every node that uploaded these bytes or proved it holds them
    /// ([`jilu_common::holder`]); custody, so never a node that only named the hash
    pub holders: Vec<String>,
}

impl Record for CenterItem {
    const NAME: &'static str = "center item";
    const VERSION: u16 = 1;
}

/// What the center knows of a peer (for `center edges` and the edge queue view).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerRecord {
    pub node: String,
    pub county: String,
    pub role: String,
    pub first_seen: Millis,
    pub last_contact: Millis,
    pub connected: bool,
    pub sessions: u64,
    /// bytes of chunks that were new to the center (duplicates not counted)
    pub bytes_received: u64,
    pub items_verified: u64,
    /// bytes per second over the last finished item
    pub recent_rate: f64,
    /// what the edge last said it still had to send
    pub pending_items: u64,
    pub pending_bytes: u64,
    /// the last refusal, escaped ([`jilu_common::log_escape`])
    pub last_refusal: Option<String>,
    /// refusals of this peer since the center started counting them
    #[serde(default)]
    pub refusals: u64,
}

impl Record for PeerRecord {
    const NAME: &'static str = "peer";
    const VERSION: u16 = 1;
}

/// A node's unfinished upload of one item: which chunks are durable in its
/// partial file, and when it last made progress (for expiry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    pub node: String,
    pub size: u64,
    /// one bit per chunk ([`jilu_common::transfer::encode_bits`])
    pub bits: Vec<u8>,
    pub updated_at: Millis,
}

impl Record for Partial {
    const NAME: &'static str = "partial upload";
    const VERSION: u16 = 1;

    fn upgrade(version: u16, _body: &[u8]) -> Result<Self, RecordError> {
        // layout 0 stored a bare bitmap: nothing to read it as
        Err(RecordError::NoUpgrade {
            name: Self::NAME,
            found: version,
        })
    }
}

/// `partial` key: root hash ++ node name.
pub fn partial_key(hash: &[u8; 32], node: &str) -> Vec<u8> {
    let mut k = hash.to_vec();
    k.extend_from_slice(node.as_bytes());
    k
}

/// `syncstate` key: node ++ NUL ++ document name.
pub fn sync_state_key(node: &str, doc: &str) -> Vec<u8> {
    format!("{node}\u{0}{doc}").into_bytes()
}

/// `deliveries` key of the decisions on `doc` (about `about`): `s`, or `p` for
/// the marker of one still waiting.
pub fn delivery_key(tag: u8, doc: &str, about: &str) -> Vec<u8> {
    let mut k = vec![tag, 0];
    k.extend_from_slice(doc.as_bytes());
    k.push(0);
    k.extend_from_slice(about.as_bytes());
    k
}

/// `deliveries` prefix of the waiting markers of `doc`.
pub fn delivery_waiting(doc: &str) -> Vec<u8> {
    delivery_key(b'p', doc, "")
}

/// Migrates a store of layout `found` to [`LAYOUT`], step by step.
pub fn migrate(store: &Store, found: u32) -> Result<(), StoreError> {
    if found < 1 {
        drop_hash_partials(store)?;
    }
    if found < 2 {
        jilu_store::heads::migrate(store)?;
    }
    Ok(())
}

/// Layout 0 → 1: drop the per-hash partial records (32-byte keys).
fn drop_hash_partials(store: &Store) -> Result<(), StoreError> {
    let old: Vec<Vec<u8>> = store
        .scan(PARTIAL)?
        .into_iter()
        .map(|(k, _)| k.to_vec())
        .filter(|k| k.len() == 32)
        .collect();
    if old.is_empty() {
        return Ok(());
    }
    let mut batch = rocksdb::WriteBatch::default();
    let cf = store.cf(PARTIAL)?;
    for k in old {
        batch.delete_cf(&cf, k);
    }
    store.commit(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_records() {
        assert_eq!(sync_state_key("edge-a", "catalogue"), b"edge-a\0catalogue");
        let k = partial_key(&[1u8; 32], "edge-a");
        assert_eq!(&k[..32], &[1u8; 32]);
        assert_eq!(&k[32..], b"edge-a");
        // a record of format 0 (bare JSON) reads as the current shape
        let old = br#"{"node":"n","county":"1","role":"edge","first_seen":1,"last_contact":2,"connected":false,"sessions":3,"bytes_received":4,"items_verified":0,"recent_rate":0.0,"pending_items":0,"pending_bytes":0,"last_refusal":null}"#;
        let p: PeerRecord = jilu_common::record::decode(old).unwrap();
        assert_eq!(p.sessions, 3);
        let again: PeerRecord =
            jilu_common::record::decode(&jilu_common::record::encode(&p)).unwrap();
        assert_eq!(again, p);
    }
}
