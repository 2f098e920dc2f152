//! An open edge node: its store, its configuration and the one way to change
//! anything, a [`Tx`] that writes documents, records and the audit entries that
//! describe them in one synced RocksDB batch. A change and its trace land together
//! or not at all (invariant 6).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::{anyhow, Context, Result};
use automerge::AutoCommit;
use jilu_common::audit::{self, Action, Entry, GENESIS};
use jilu_common::doc;
use jilu_common::item::Item;
use jilu_common::time::Millis;
use rocksdb::WriteBatch;
use serde::{Deserialize, Serialize};

use crate::config::EdgeConfig;
use crate::store::{self, be64, Mode, Store};

/// The stored form of an item: the shared record plus what only this node knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    #[serde(flatten)]
    pub item: Item,
    /// ingest id: the key prefix of the item's chunks in `chunks-<period>`
    pub ingest: u64,
    /// set once the center has verified every byte (sync issue); until then the item waits to upload
    #[serde(default)]
    pub center_verified_at: Option<Millis>,
}

/// Position of the audit chain: the next sequence number and the last entry's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub next: u64,
    pub last: [u8; 32],
}

const HEAD_KEY: &[u8] = b"audit_head";
const COUNTER_PREFIX: &str = "counter/";

pub struct Edge {
    pub store: Store,
    pub cfg: EdgeConfig,
    head: Mutex<Head>,
    actor: automerge::ActorId,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("store", &self.store)
            .field("node", &self.cfg.node)
            .finish()
    }
}

/// The station's clock.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

impl Edge {
    pub fn open(dir: &Path, mode: Mode) -> Result<Edge> {
        let cfg = EdgeConfig::load(dir)?;
        let store = Store::open(&dir.join("db"), mode, false)?;
        Self::with(store, cfg)
    }

    pub fn with(store: Store, cfg: EdgeConfig) -> Result<Edge> {
        let head = match store.get(store::META, HEAD_KEY)? {
            Some(v) if v.len() == 40 => Head {
                next: store::read_be64(&v).unwrap_or(0),
                last: v[8..40].try_into().unwrap_or(GENESIS),
            },
            Some(_) => {
                return Err(anyhow!(
                    "the audit head in {} is damaged: run `edge-node audit verify`",
                    store.path.display()
                ))
            }
            None => Head {
                next: 0,
                last: GENESIS,
            },
        };
        let actor = doc::actor_for(&cfg.node);
        Ok(Edge {
            store,
            cfg,
            head: Mutex::new(head),
            actor,
        })
    }

    pub fn head(&self) -> Head {
        *self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a change. Holding the audit head for the whole change keeps the chain
    /// linear even if two threads (dock watch) write at once.
    pub fn begin(&self) -> Tx<'_> {
        let guard = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let next = *guard;
        Tx {
            edge: self,
            batch: WriteBatch::default(),
            guard,
            next,
            counters: Default::default(),
        }
    }

    /// A saved document, with this node as the actor of any change made to it.
    pub fn load_doc(&self, name: &str) -> Result<Option<AutoCommit>> {
        match self.store.get(store::DOCS, name.as_bytes())? {
            None => Ok(None),
            Some(bytes) => {
                let d = AutoCommit::load(&bytes).map_err(|e| {
                    anyhow!(
                        "document {name} in {} is corrupt: {e}",
                        self.store.path.display()
                    )
                })?;
                Ok(Some(d.with_actor(self.actor.clone())))
            }
        }
    }

    pub fn load_or_new_doc(&self, name: &str) -> Result<AutoCommit> {
        Ok(self
            .load_doc(name)?
            .unwrap_or_else(|| AutoCommit::new().with_actor(self.actor.clone())))
    }

    /// Every document name under a prefix (e.g. `activity/`).
    pub fn doc_names(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .scan_prefix(store::DOCS, prefix.as_bytes())?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    pub fn item(&self, hash: &[u8; 32]) -> Result<Option<ItemRecord>> {
        match self.store.get(store::ITEMS, hash)? {
            None => Ok(None),
            Some(v) => Ok(Some(
                serde_json::from_slice(&v).context("an item record is unreadable")?,
            )),
        }
    }

    pub fn items(&self) -> Result<Vec<ItemRecord>> {
        self.store
            .scan(store::ITEMS)?
            .into_iter()
            .map(|(_, v)| serde_json::from_slice(&v).context("an item record is unreadable"))
            .collect()
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
        let text = text.trim().to_lowercase();
        if text.len() < 6 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(anyhow!("'{text}' is not an item hash: give at least 6 hex digits of it (see `edge-node items`)"));
        }
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

    /// Reads every audit entry's stored bytes in order.
    pub fn audit_entries(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .store
            .scan(store::AUDIT)?
            .into_iter()
            .map(|(k, v)| (store::read_be64(&k).unwrap_or(u64::MAX), v))
            .collect())
    }

    /// Checks the audit chain against the recorded head.
    pub fn verify_audit(&self) -> Result<audit::Report> {
        let head = self.head();
        let recorded = (head.next > 0).then(|| (head.next - 1, head.last));
        Ok(audit::verify(self.audit_entries()?, recorded))
    }

    /// Entries whose subject is `subject`, decoded.
    pub fn custody(&self, hash: &[u8; 32]) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for (k, _) in self.store.scan_prefix(store::CUSTODY, hash)? {
            if let Some(seq) = k.get(32..).and_then(store::read_be64) {
                if let Some(bytes) = self.store.get(store::AUDIT, &be64(seq))? {
                    out.push(
                        Entry::decode(&bytes).context(
                            "an audit entry is unreadable: run `edge-node audit verify`",
                        )?,
                    );
                }
            }
        }
        Ok(out)
    }
}

/// One atomic change: documents, records and audit entries, committed together.
pub struct Tx<'a> {
    edge: &'a Edge,
    pub batch: WriteBatch,
    guard: MutexGuard<'a, Head>,
    next: Head,
    counters: std::collections::HashMap<String, u64>,
}

impl Tx<'_> {
    /// Appends an audit entry; `items` are the item hashes it is custody of.
    pub fn audit(
        &mut self,
        actor: &str,
        action: Action,
        subject: &str,
        detail: serde_json::Value,
        items: &[[u8; 32]],
    ) -> Result<Entry> {
        let entry = Entry {
            seq: self.next.next,
            at: now_ms(),
            node: self.edge.cfg.node.clone(),
            actor: actor.to_string(),
            action,
            subject: subject.to_string(),
            detail,
            prev: self.next.last,
        };
        let bytes = entry.encode();
        self.batch
            .put_cf(&self.edge.store.cf(store::AUDIT)?, be64(entry.seq), &bytes);
        for hash in items {
            let mut key = hash.to_vec();
            key.extend_from_slice(&be64(entry.seq));
            self.batch
                .put_cf(&self.edge.store.cf(store::CUSTODY)?, key, b"");
        }
        self.next = Head {
            next: entry.seq + 1,
            last: audit::entry_hash(&bytes),
        };
        Ok(entry)
    }

    pub fn put_doc(&mut self, name: &str, d: &mut AutoCommit) -> Result<()> {
        d.commit();
        self.batch
            .put_cf(&self.edge.store.cf(store::DOCS)?, name.as_bytes(), d.save());
        Ok(())
    }

    pub fn put_item(&mut self, rec: &ItemRecord) -> Result<()> {
        let key = parse_hash(&rec.item.hash)?;
        self.batch.put_cf(
            &self.edge.store.cf(store::ITEMS)?,
            key,
            serde_json::to_vec(rec)?,
        );
        Ok(())
    }

    pub fn put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.put_cf(&self.edge.store.cf(cf)?, key, value);
        Ok(())
    }

    pub fn delete(&mut self, cf: &str, key: &[u8]) -> Result<()> {
        self.batch.delete_cf(&self.edge.store.cf(cf)?, key);
        Ok(())
    }

    /// Hands out the next number of a named counter (activity and check-out ids).
    pub fn next_counter(&mut self, name: &str) -> Result<u64> {
        let key = format!("{COUNTER_PREFIX}{name}");
        let current = match self.counters.get(&key) {
            Some(n) => *n,
            None => self
                .edge
                .store
                .get(store::META, key.as_bytes())?
                .and_then(|v| store::read_be64(&v))
                .unwrap_or(0),
        };
        let n = current + 1;
        self.counters.insert(key.clone(), n);
        self.put(store::META, key.as_bytes(), &be64(n))?;
        Ok(n)
    }

    /// Writes everything, synced, and only then moves the audit head.
    pub fn commit(mut self) -> Result<()> {
        let mut head = [0u8; 40];
        head[..8].copy_from_slice(&be64(self.next.next));
        head[8..].copy_from_slice(&self.next.last);
        let meta = self.edge.store.cf(store::META)?;
        self.batch.put_cf(&meta, HEAD_KEY, head);
        let batch = std::mem::take(&mut self.batch);
        self.edge.store.commit(batch)?;
        *self.guard = self.next;
        Ok(())
    }
}

pub fn parse_hash(hex: &str) -> Result<[u8; 32]> {
    audit::hex32::from_hex(hex)
        .ok_or_else(|| anyhow!("'{hex}' is not a BLAKE3 hash (64 hex digits)"))
}

impl Edge {
    /// Creates a new edge store in `dir`: `edge.toml`, the database and the seeded
    /// matter catalogue. Refuses to touch an existing one.
    pub fn init(dir: &Path, node: &str, county: &str) -> Result<Edge> {
        crate::registry::check_id("node name", node)?;
        crate::registry::check_id("county code", county)?;
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
        let store = Store::open(&dir.join("db"), Mode::ReadWrite, true)?;
        let edge = Edge::with(store, cfg.clone())?;
        let mut catalogue = crate::registry::seed_catalogue()?;
        let mut tx = edge.begin();
        tx.put_doc(crate::registry::CATALOGUE, &mut catalogue)?;
        tx.audit(
            "jilu",
            Action::NodeInitialised,
            &format!("node:{node}"),
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
