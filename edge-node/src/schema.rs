//! Everything the edge keeps in RocksDB, in one place: every column family, every
//! key of `meta`, and the record type stored under each. Keys are built here and
//! nowhere else. How the footage families are tuned is in [`crate::store`].
//!
//! | column family      | key                          | value                                         |
//! |--------------------|------------------------------|-----------------------------------------------|
//! | `meta`             | see below                    | see below                                     |
//! | `docs`             | document name                | saved Automerge document (its own format; its schema version in its `format` field) |
//! | `items`            | root hash (32 bytes)         | [`ItemRecord`](crate::edge::ItemRecord)         |
//! | `cvs`              | root hash                    | chunk chaining values, 32 bytes each (raw)     |
//! | `pending`          | ingest id (u64 BE)           | [`Pending`](crate::ingest::Pending): an ingest not yet acknowledged |
//! | `audit`            | sequence (u64 BE)            | [`Entry`](jilu_common::audit::Entry), the exact bytes hashed |
//! | `custody`          | item hash ++ sequence        | (empty) index of an item's audit entries       |
//! | `dock`             | source path                  | [`Seen`](crate::dock::Seen): what dock watch stored from it |
//! | `heads`            | see [`jilu_store::heads`]    | every document's and bucket's digest, written with the document (the heads exchange) |
//! | `chunks-YYYY-MM`   | ingest id ++ chunk (u32 BE)  | 1 MiB of footage, in BlobDB blob files (raw)   |
//! | `chunks-YYYY-MM.N` | ingest id ++ chunk (u32 BE)  | the same, written by ingest lane N ≥ 1         |
//!
//! `meta`:
//!
//! | key                        | value                                                  |
//! |----------------------------|--------------------------------------------------------|
//! | `layout`                   | this store's layout version, u32 BE ([`LAYOUT`])       |
//! | `audit_head`               | next sequence (u64 BE) ++ last entry's hash (raw)      |
//! | `counter/<name>`           | last number handed out, u64 BE (ingest, activity ids)  |
//! | `link/state`               | [`LinkState`](crate::uplink::LinkState)                |
//! | `syncstate/center/<doc>`   | Automerge sync state with the center (its own format)  |
//! | `corrupt/<hash>`           | [`SetAside`](crate::uplink::SetAside): found damaged here, not uploaded |
//! | `refused/<hash>`           | [`SetAside`](crate::uplink::SetAside): refused by the center |
//! | `freed/<hash>`             | [`Freed`](crate::evict::Freed): footage freed after the center verified it |
//! | `checkout/open/<device>`   | [`Pointer`](crate::ledger::Pointer) to the open check-out |
//! | `checkout/last/<device>`   | [`Pointer`](crate::ledger::Pointer) to the latest check-out |
//!
//! Every record is versioned ([`jilu_common::record`]): an older one is upgraded
//! as it is read, a newer one refused by name. The store as a whole carries
//! [`LAYOUT`], checked when it opens: a store of a newer layout is refused (see
//! [`jilu_store::db::Store::check_layout`]), an older one migrated ([`migrate`]).

use jilu_common::hash::Hash;

pub use jilu_store::db::{AUDIT, CUSTODY, DOCS, META};
pub use jilu_store::heads::HEADS;

pub const ITEMS: &str = "items";
pub const CVS: &str = "cvs";
pub const PENDING: &str = "pending";
pub const DOCK: &str = "dock";
/// Footage families: `chunks-<period>`, where a period is `YYYY-MM` or `YYYY-MM.N`.
pub const CHUNKS_PREFIX: &str = "chunks-";

/// This build's store layout. Layout 0 (stores from before layouts were
/// numbered) has the same families and keys as 1; its records are upgraded as
/// read. Layout 2 added the `heads` index, rebuilt from the documents on open.
pub const LAYOUT: u32 = 2;

/// Migrates a store of layout `found` to [`LAYOUT`].
pub fn migrate(
    store: &jilu_store::db::Store,
    found: u32,
) -> Result<(), jilu_store::db::StoreError> {
    // layout 0 → 1 changed no family or key
    if found < 2 {
        jilu_store::heads::migrate(store)?;
    }
    Ok(())
}

/// The footage family of `period`.
pub fn footage_cf(period: &str) -> String {
    format!("{CHUNKS_PREFIX}{period}")
}

pub const LINK_STATE: &[u8] = b"link/state";
pub const CORRUPT_PREFIX: &str = "corrupt/";
pub const REFUSED_PREFIX: &str = "refused/";
pub const FREED_PREFIX: &str = "freed/";

/// `corrupt/<hash>`: an item found damaged in this store.
pub fn corrupt_key(hash: &Hash) -> Vec<u8> {
    format!("{CORRUPT_PREFIX}{hash}").into_bytes()
}

/// `refused/<hash>`: an item the center refused from this node.
pub fn refused_key(hash: &Hash) -> Vec<u8> {
    format!("{REFUSED_PREFIX}{hash}").into_bytes()
}

/// `freed/<hash>`: an item whose footage was freed here.
pub fn freed_key(hash: &Hash) -> Vec<u8> {
    format!("{FREED_PREFIX}{hash}").into_bytes()
}

/// `syncstate/center/<doc>`: the Automerge sync state of a document with the center.
pub fn sync_state_key(doc: &str) -> Vec<u8> {
    format!("syncstate/center/{doc}").into_bytes()
}

/// `checkout/open/<device>`: the device's open check-out.
pub fn checkout_open_key(device: &str) -> Vec<u8> {
    format!("checkout/open/{device}").into_bytes()
}

/// `checkout/last/<device>`: the device's latest check-out.
pub fn checkout_last_key(device: &str) -> Vec<u8> {
    format!("checkout/last/{device}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_ones_stores_already_hold() {
        let h = Hash::of(b"x");
        assert_eq!(
            corrupt_key(&h),
            format!("corrupt/{}", h.to_hex()).into_bytes()
        );
        assert_eq!(
            refused_key(&h),
            format!("refused/{}", h.to_hex()).into_bytes()
        );
        assert_eq!(freed_key(&h), format!("freed/{}", h.to_hex()).into_bytes());
        assert_eq!(sync_state_key("catalogue"), b"syncstate/center/catalogue");
        assert_eq!(checkout_open_key("cam-01"), b"checkout/open/cam-01");
        assert_eq!(checkout_last_key("cam-01"), b"checkout/last/cam-01");
        assert_eq!(footage_cf("2026-11.3"), "chunks-2026-11.3");
    }
}
