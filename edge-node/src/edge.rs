//! An open edge node: its store (through the shared [`Journal`]: documents, the
//! audit chain and [`Tx`], the one way to change anything) and its configuration.
//! A change and its trace land together or not at all (invariant 6).

use jilu_common::subject::Subject;
use std::ops::Deref;
use std::path::Path;

use anyhow::{anyhow, Result};
use jilu_common::audit::Action;
use jilu_common::hash::Prefix;
use jilu_common::item::Item;
use jilu_common::time::Millis;
pub use jilu_store::journal::{now_ms, Head, Journal, Tx};
use serde::{Deserialize, Serialize};

use crate::config::EdgeConfig;
use crate::reserve::Inflight;
use crate::store::{self, Mode};

/// The stored form of an item: the shared record plus what only this node knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    #[serde(flatten)]
    pub item: Item,
    /// ingest id: the key prefix of the item's chunks in `chunks-<period>`
    pub ingest: u64,
    /// set once the center has verified every byte; until then the item waits to upload
    #[serde(default)]
    pub center_verified_at: Option<Millis>,
}

pub struct Edge {
    pub journal: Journal,
    pub cfg: EdgeConfig,
    /// disk space and ingest lanes held by the ingests in flight
    pub inflight: Inflight,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("journal", &self.journal)
            .field("county", &self.cfg.county)
            .finish()
    }
}

/// An edge is its journal plus configuration: `edge.store`, `edge.begin()`,
/// `edge.load_doc(..)` are the journal's.
impl Deref for Edge {
    type Target = Journal;
    fn deref(&self) -> &Journal {
        &self.journal
    }
}

/// Item records in a change.
pub trait ItemTx {
    fn put_item(&mut self, rec: &ItemRecord) -> Result<()>;
}

impl ItemTx for Tx<'_> {
    fn put_item(&mut self, rec: &ItemRecord) -> Result<()> {
        self.put_record(store::ITEMS, rec.item.hash.as_bytes(), rec)
    }
}

/// Format 0 (bare JSON) had the same fields; `center_verified_at` was already
/// optional.
impl jilu_common::record::Record for ItemRecord {
    const NAME: &'static str = "item";
    const VERSION: u16 = 1;
}

impl Edge {
    pub fn open(dir: &Path, mode: Mode) -> Result<Edge> {
        let cfg = EdgeConfig::load(dir)?;
        let store = store::open(&dir.join("db"), mode, false)?;
        Ok(Edge {
            journal: Journal::new(store, &cfg.node)?,
            cfg,
            inflight: Inflight::default(),
        })
    }

    pub fn item(&self, hash: &[u8; 32]) -> Result<Option<ItemRecord>> {
        Ok(self.store.get_record(store::ITEMS, hash)?)
    }

    pub fn items(&self) -> Result<Vec<ItemRecord>> {
        Ok(self
            .store
            .scan_records(store::ITEMS, &[])?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    pub fn cvs(&self, hash: &[u8; 32]) -> Result<Vec<[u8; 32]>> {
        let raw = self.store.get(store::CVS, hash)?.unwrap_or_default();
        Ok(raw
            .chunks_exact(32)
            .filter_map(|c| c.try_into().ok())
            .collect())
    }

    /// Resolves a hash or a unique hex prefix of one (as `git` does).
    pub fn resolve_item(&self, text: &str) -> Result<ItemRecord> {
        let text: Prefix = text
            .parse()
            .map_err(|e| anyhow!("{e} (see `edge-node items`)"))?;
        let matches: Vec<ItemRecord> = self
            .items()?
            .into_iter()
            .filter(|r| r.item.hash.starts_with(&text))
            .collect();
        match matches.len() {
            0 => Err(anyhow!(
                "no item with hash {text} at this node (see `edge-node items`)"
            )),
            1 => Ok(matches
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("no item"))?),
            n => Err(anyhow!("{n} items start with {text}: give more digits")),
        }
    }
}

pub fn parse_hash(hex: &str) -> Result<[u8; 32]> {
    jilu_common::audit::hex32::from_hex(hex)
        .ok_or_else(|| anyhow!("'{hex}' is not a BLAKE3 hash (64 hex digits)"))
}

impl Edge {
    /// Creates a new edge store in `dir`: `edge.toml`, the database and the seeded
    /// matter catalogue. Refuses to touch an existing one.
    pub fn init(dir: &Path, node: &str, county: &str) -> Result<Edge> {
        jilu_common::id::check("node name", node)?;
        jilu_common::id::check("county code", county)?;
        let cfg_path = dir.join(crate::config::FILE_NAME);
        if cfg_path.exists() || dir.join("db").join("CURRENT").exists() {
            return Err(anyhow!(
                "{} already holds an edge store: nothing was changed",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
        let cfg = EdgeConfig::new(node, county);
        let store = store::open(&dir.join("db"), Mode::ReadWrite, true)?;
        let edge = Edge {
            journal: Journal::new(store, node)?,
            cfg: cfg.clone(),
            inflight: Inflight::default(),
        };
        let mut catalogue = jilu_common::matter::seed_catalogue()?;
        let mut tx = edge.begin();
        tx.put_doc(jilu_common::matter::CATALOGUE, &mut catalogue)?;
        tx.audit(
            "jilu",
            Action::NodeInitialised,
            Subject::Node(node.to_string()),
            serde_json::json!({"county": county}),
            &[],
        )?;
        tx.commit()?;
        // the config last: its presence is what marks a finished init
        let tmp = dir.join(".edge.toml.tmp");
        std::fs::write(&tmp, cfg.to_toml())
            .map_err(|e| anyhow!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &cfg_path)
            .map_err(|e| anyhow!("cannot write {}: {e}", cfg_path.display()))?;
        Ok(edge)
    }
}
