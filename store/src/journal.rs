//! The audit journal and the documents of a node, and [`Tx`], the one way to change
//! anything: documents, records and the audit entries that describe them are
//! written in one synced RocksDB batch, so a change and its trace land together or
//! not at all (invariant 6).

use std::sync::{Mutex, MutexGuard};

use anyhow::{anyhow, Context, Result};
use automerge::{ActorId, AutoCommit};
use jilu_common::audit::{self, Action, Entry, GENESIS};
use jilu_common::doc;
use jilu_common::subject::Actor;
use jilu_common::time::Millis;
use rocksdb::WriteBatch;

use crate::db::{self, be64, Store};

/// Position of the audit chain: the next sequence number and the last entry's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub next: u64,
    pub last: [u8; 32],
}

const HEAD_KEY: &[u8] = b"audit_head";
const COUNTER_PREFIX: &str = "counter/";

/// The station's clock.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

pub struct Journal {
    pub store: Store,
    /// the node name written in every audit entry and that derives the Automerge actor
    pub node: String,
    head: Mutex<Head>,
    actor: ActorId,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("store", &self.store)
            .field("node", &self.node)
            .finish()
    }
}

impl Journal {
    pub fn new(store: Store, node: &str) -> Result<Journal> {
        let head = match store.get(db::META, HEAD_KEY)? {
            Some(v) if v.len() == 40 => Head {
                next: db::read_be64(&v).unwrap_or(0),
                last: v[8..40].try_into().unwrap_or(GENESIS),
            },
            Some(_) => {
                return Err(anyhow!(
                    "the audit head in {} is damaged: verify the audit log",
                    store.path.display()
                ))
            }
            None => Head {
                next: 0,
                last: GENESIS,
            },
        };
        Ok(Journal {
            store,
            node: node.to_string(),
            head: Mutex::new(head),
            actor: doc::actor_for(node),
        })
    }

    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    pub fn head(&self) -> Head {
        *self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a change. Holding the audit head for the whole change keeps the chain
    /// linear when several tasks write at once.
    pub fn begin(&self) -> Tx<'_> {
        let guard = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let next = *guard;
        Tx {
            journal: self,
            batch: WriteBatch::default(),
            guard,
            next,
            counters: Default::default(),
            heads: Default::default(),
        }
    }

    /// A saved document, with this node as the actor of any change made to it.
    /// A document of a newer format than this build's is refused by name.
    pub fn load_doc(&self, name: &str) -> Result<Option<AutoCommit>> {
        match self.store.get(db::DOCS, name.as_bytes())? {
            None => Ok(None),
            Some(bytes) => {
                let d = AutoCommit::load(&bytes).map_err(|e| {
                    anyhow!(
                        "document {name} in {} is corrupt: {e}",
                        self.store.path.display()
                    )
                })?;
                doc::check_format(&d).map_err(|e| anyhow!("{name}: {e}"))?;
                Ok(Some(d.with_actor(self.actor.clone())))
            }
        }
    }

    /// A saved document, or an empty one to receive a peer's changes into (a
    /// replica of someone else's document: it gets no changes of ours).
    pub fn load_or_new_doc(&self, name: &str) -> Result<AutoCommit> {
        Ok(self
            .load_doc(name)?
            .unwrap_or_else(|| AutoCommit::new().with_actor(self.actor.clone())))
    }

    /// A saved document, or a new one this node starts (its owner), marked with
    /// this build's document format.
    pub fn load_or_create_doc(&self, name: &str) -> Result<AutoCommit> {
        match self.load_doc(name)? {
            Some(d) => Ok(d),
            None => Ok(doc::new_document(self.actor.clone())?),
        }
    }

    /// Every document name under a prefix (e.g. `activity/`).
    pub fn doc_names(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .scan_prefix(db::DOCS, prefix.as_bytes())?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect())
    }

    /// Reads every audit entry's stored bytes in order.
    pub fn audit_entries(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .store
            .scan(db::AUDIT)?
            .into_iter()
            .map(|(k, v)| (db::read_be64(&k).unwrap_or(u64::MAX), v))
            .collect())
    }

    /// Checks the audit chain against the recorded head.
    pub fn verify_audit(&self) -> Result<audit::Report> {
        let head = self.head();
        let recorded = (head.next > 0).then_some((head.next - 1, head.last));
        Ok(audit::verify(self.audit_entries()?, recorded))
    }

    /// The audit entries that are custody of item `hash`, decoded.
    pub fn custody(&self, hash: &[u8; 32]) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for (k, _) in self.store.scan_prefix(db::CUSTODY, hash)? {
            if let Some(seq) = k.get(32..).and_then(db::read_be64) {
                if let Some(bytes) = self.store.get(db::AUDIT, &be64(seq))? {
                    out.push(
                        Entry::decode(&bytes)
                            .context("an audit entry is unreadable: verify the audit log")?,
                    );
                }
            }
        }
        Ok(out)
    }
}

/// One atomic change: documents, records and audit entries, committed together.
pub struct Tx<'a> {
    journal: &'a Journal,
    pub batch: WriteBatch,
    guard: MutexGuard<'a, Head>,
    next: Head,
    counters: std::collections::HashMap<String, u64>,
    /// the heads index's writes in this batch ([`crate::heads`])
    heads: crate::heads::Pending,
}

impl Tx<'_> {
    /// Appends an audit entry; `items` are the item hashes it is custody of.
    ///
    /// `actor` is a name (`"jilu"`, a badge) or an [`Actor`] that says how it
    /// reached the node; `subject` is a [`jilu_common::subject::Subject`] (or, for
    /// callers not yet typed, its text).
    pub fn audit<'s>(
        &mut self,
        actor: impl Into<Actor>,
        action: Action,
        subject: impl std::fmt::Display + 's,
        detail: serde_json::Value,
        items: &[[u8; 32]],
    ) -> Result<Entry> {
        let actor: Actor = actor.into();
        let entry = Entry {
            seq: self.next.next,
            at: now_ms(),
            node: self.journal.node.clone(),
            actor: actor.name,
            action,
            subject: subject.to_string(),
            detail,
            prev: self.next.last,
            via: actor.via,
        };
        let bytes = entry.encode();
        self.batch
            .put_cf(&self.journal.store.cf(db::AUDIT)?, be64(entry.seq), &bytes);
        for hash in items {
            let mut key = hash.to_vec();
            key.extend_from_slice(&be64(entry.seq));
            self.batch
                .put_cf(&self.journal.store.cf(db::CUSTODY)?, key, b"");
        }
        self.next = Head {
            next: entry.seq + 1,
            last: audit::entry_hash(&bytes),
        };
        Ok(entry)
    }

    /// Saves a document, and its digest in the heads index in the same batch.
    pub fn put_doc(&mut self, name: &str, d: &mut AutoCommit) -> Result<()> {
        d.commit();
        let store = &self.journal.store;
        self.batch
            .put_cf(&store.cf(db::DOCS)?, name.as_bytes(), d.save());
        let heads: Vec<[u8; 32]> = d.get_heads().into_iter().map(|h| h.0).collect();
        self.heads.index(store, &mut self.batch, name, &heads)
    }

    /// Puts a versioned record ([`jilu_common::record`]).
    pub fn put_record<R: jilu_common::record::Record>(
        &mut self,
        cf: &str,
        key: &[u8],
        record: &R,
    ) -> Result<()> {
        self.put(cf, key, &jilu_common::record::encode(record))
    }

    pub fn put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.put_cf(&self.journal.store.cf(cf)?, key, value);
        Ok(())
    }

    pub fn delete(&mut self, cf: &str, key: &[u8]) -> Result<()> {
        self.batch.delete_cf(&self.journal.store.cf(cf)?, key);
        Ok(())
    }

    /// Hands out the next number of a named counter (ids of activities, check-outs, ingests).
    pub fn next_counter(&mut self, name: &str) -> Result<u64> {
        let key = format!("{COUNTER_PREFIX}{name}");
        let current = match self.counters.get(&key) {
            Some(n) => *n,
            None => self
                .journal
                .store
                .get(db::META, key.as_bytes())?
                .and_then(|v| db::read_be64(&v))
                .unwrap_or(0),
        };
        let n = current + 1;
        self.counters.insert(key.clone(), n);
        self.put(db::META, key.as_bytes(), &be64(n))?;
        Ok(n)
    }

    /// Writes everything, synced, and only then moves the audit head.
    pub fn commit(mut self) -> Result<()> {
        let mut head = [0u8; 40];
        head[..8].copy_from_slice(&be64(self.next.next));
        head[8..].copy_from_slice(&self.next.last);
        let meta = self.journal.store.cf(db::META)?;
        self.batch.put_cf(&meta, HEAD_KEY, head);
        let batch = std::mem::take(&mut self.batch);
        self.journal.store.commit(batch)?;
        *self.guard = self.next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Mode;

    #[test]
    fn changes_and_their_trace_commit_together() {
        let tmp = tempfile::tempdir().unwrap();
        let open = || {
            Store::open(tmp.path(), Mode::ReadWrite, true, &["things"], &|_| {
                crate::db::plain_options()
            })
            .unwrap()
        };
        {
            let j = Journal::new(open(), "n1").unwrap();
            let mut tx = j.begin();
            tx.put("things", b"a", b"1").unwrap();
            tx.audit(
                "me",
                Action::DeviceRegistered,
                "device:a",
                serde_json::json!({}),
                &[[7; 32]],
            )
            .unwrap();
            assert_eq!(tx.next_counter("x").unwrap(), 1);
            assert_eq!(tx.next_counter("x").unwrap(), 2);
            tx.commit().unwrap();
            // a change dropped before commit leaves nothing
            let mut tx = j.begin();
            tx.put("things", b"b", b"2").unwrap();
            tx.audit(
                "me",
                Action::DeviceRegistered,
                "device:b",
                serde_json::json!({}),
                &[],
            )
            .unwrap();
            drop(tx);
        }
        let j = Journal::new(open(), "n1").unwrap();
        assert_eq!(j.head().next, 1);
        assert!(j.store.get("things", b"b").unwrap().is_none());
        assert!(j.verify_audit().unwrap().is_intact());
        assert_eq!(j.custody(&[7; 32]).unwrap().len(), 1);
        let mut tx = j.begin();
        assert_eq!(tx.next_counter("x").unwrap(), 3);
    }
}
