//! The center's column families beyond the journal's own (`meta`, `docs`,
//! `audit`, `custody`), each with what it holds. Records in the API's families
//! are versioned ([`jilu_common::record`]).

/// item hash (32 bytes) → `CenterItem` (JSON): every verified item
pub const ITEMS: &str = "items";
/// item hash → bitmap of the chunks received so far
pub const PARTIAL: &str = "partial";
/// node name → `PeerRecord` (JSON)
pub const PEERS: &str = "peers";
/// `peer \0 document` → Automerge sync state
pub const SYNCSTATE: &str = "syncstate";
/// account name → [`crate::accounts::User`]
pub const USERS: &str = "users";
/// `h` + BLAKE3 of a token → [`crate::accounts::Token`]; `i` + token id → that hash
pub const TOKENS: &str = "tokens";
/// `user \0 target` → [`crate::grants::Grant`] (the latest for that pair)
pub const GRANTS: &str = "grants";
/// the projections of merged documents and items ([`crate::projection`]); keys
/// are laid out in [`crate::index::keys`]
pub const INDEX: &str = "index";

/// Every family the center opens.
pub const FAMILIES: [&str; 8] = [
    ITEMS, PARTIAL, PEERS, SYNCSTATE, USERS, TOKENS, GRANTS, INDEX,
];
