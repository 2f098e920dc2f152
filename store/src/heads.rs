//! The heads index: every document's digest and every bucket's digest
//! ([`jilu_common::doc_summary`]), kept in the `heads` column family and updated
//! in the same batch as the document ([`crate::journal::Tx::put_doc`]), so the
//! heads exchange reads what changed instead of loading every document.
//!
//! | key                                         | value                          |
//! |---------------------------------------------|--------------------------------|
//! | `d` ++ scope ++ NUL ++ bucket (u16 BE) ++ name | the document's digest (32 bytes) |
//! | `b` ++ scope ++ NUL ++ bucket (u16 BE)       | XOR of its documents' digests  |
//!
//! A *scope* is who owns the documents: a county's code, or the empty string for
//! the city's ([`jilu_common::sync::Owner`]); an edge of a county sees its
//! county's scope and the city's. Names outside the grammar are not indexed (they
//! are never synced). A bucket whose digest returns to zero is deleted, so an
//! empty scope has no keys.

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use automerge::AutoCommit;
use jilu_common::doc_name::DocName;
use jilu_common::doc_summary::{bucket, doc_digest, key_order, xor_into, Digest, Summary};
use jilu_common::sync::Owner;
use jilu_common::wire::DocDigest;
use rocksdb::WriteBatch;

use crate::db::{self, Store, StoreError};

/// The index's column family.
pub const HEADS: &str = "heads";

/// The city's scope.
pub const CITY: &str = "";

/// The scope a document belongs to; `None` for a name outside the grammar.
pub fn scope_of(name: &str) -> Option<String> {
    DocName::parse(name).ok().map(|n| match n.owner() {
        Owner::County(c) => c,
        Owner::City => CITY.to_string(),
    })
}

fn bucket_prefix(scope: &str, b: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + 4);
    k.push(b'b');
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(&b.to_be_bytes());
    k
}

/// `b` ++ scope ++ NUL ++ bucket.
pub fn bucket_key(scope: &str, b: u16) -> Vec<u8> {
    bucket_prefix(scope, b)
}

/// `d` ++ scope ++ NUL ++ bucket: the prefix of a bucket's documents.
fn docs_prefix(scope: &str, b: u16) -> Vec<u8> {
    let mut k = bucket_prefix(scope, b);
    k[0] = b'd';
    k
}

/// `d` ++ scope ++ NUL ++ bucket ++ name.
pub fn doc_key(scope: &str, name: &str) -> Vec<u8> {
    let mut k = docs_prefix(scope, bucket(name));
    k.extend_from_slice(name.as_bytes());
    k
}

fn digest_of(v: &[u8]) -> Digest {
    v.get(..32)
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 32])
}

/// Index writes of one batch not yet committed: a key's latest value (`None`:
/// deleted), so two documents of one bucket written in one batch add up.
#[derive(Debug, Default)]
pub struct Pending(HashMap<Vec<u8>, Option<Digest>>);

impl Pending {
    fn get(&self, store: &Store, key: &[u8]) -> Result<Option<Digest>> {
        match self.0.get(key) {
            Some(v) => Ok(*v),
            None => Ok(store.get(HEADS, key)?.map(|v| digest_of(&v))),
        }
    }

    fn set(
        &mut self,
        store: &Store,
        batch: &mut WriteBatch,
        key: Vec<u8>,
        v: Option<Digest>,
    ) -> Result<()> {
        let cf = store.cf(HEADS)?;
        match v {
            Some(d) => batch.put_cf(&cf, &key, d),
            None => batch.delete_cf(&cf, &key),
        }
        self.0.insert(key, v);
        Ok(())
    }

    /// Records that document `name` now has `heads`, in `batch`.
    pub fn index(
        &mut self,
        store: &Store,
        batch: &mut WriteBatch,
        name: &str,
        heads: &[[u8; 32]],
    ) -> Result<()> {
        let Some(scope) = scope_of(name) else {
            return Ok(());
        };
        let new = doc_digest(name, heads);
        let dkey = doc_key(&scope, name);
        let old = self.get(store, &dkey)?;
        if old == Some(new) {
            return Ok(());
        }
        let bkey = bucket_key(&scope, bucket(name));
        let mut b = self.get(store, &bkey)?.unwrap_or([0; 32]);
        if let Some(o) = old {
            xor_into(&mut b, &o);
        }
        xor_into(&mut b, &new);
        self.set(store, batch, dkey, Some(new))?;
        self.set(store, batch, bkey, (b != [0; 32]).then_some(b))
    }
}

/// The bucket digests of `scope` as the index holds them.
pub fn summary(store: &Store, scope: &str) -> Result<Summary> {
    let mut prefix = vec![b'b'];
    prefix.extend_from_slice(scope.as_bytes());
    prefix.push(0);
    let mut out = Summary::default();
    for (k, v) in store.scan_prefix(HEADS, &prefix)? {
        let b = k
            .get(prefix.len()..)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
            .filter(|&b| (b as usize) < out.buckets.len())
            .ok_or_else(|| {
                anyhow!(
                    "a bucket key in the heads index of {} is damaged",
                    store.path.display()
                )
            })?;
        out.buckets[b as usize] = digest_of(&v);
    }
    Ok(out)
}

/// The summary of what an edge of `county` sees: its county's and the city's.
pub fn visible_summary(store: &Store, county: &str) -> Result<Summary> {
    let mut s = summary(store, county)?;
    s.combine(&summary(store, CITY)?);
    Ok(s)
}

/// The documents of `buckets` (in order) that an edge of `county` sees, after
/// `after` in key order, at most `limit`.
pub fn docs_after(
    store: &Store,
    county: &str,
    buckets: &[u16],
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<DocDigest>> {
    let start = after.map(bucket);
    let mut out: Vec<DocDigest> = Vec::new();
    for &b in buckets {
        if out.len() >= limit {
            break;
        }
        if start.is_some_and(|s| b < s) {
            continue;
        }
        let mut in_bucket = Vec::new();
        for scope in [county, CITY] {
            let prefix = docs_prefix(scope, b);
            let cf = store.cf(HEADS)?;
            let mut from = prefix.clone();
            if let Some(a) = after.filter(|a| bucket(a) == b) {
                from.extend_from_slice(a.as_bytes());
            }
            for entry in store.db.iterator_cf(
                &cf,
                rocksdb::IteratorMode::From(&from, rocksdb::Direction::Forward),
            ) {
                let (k, v) = entry.map_err(|e| store.err(e))?;
                if !k.starts_with(&prefix) || in_bucket.len() > limit {
                    break;
                }
                let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                if after.is_some_and(|a| a == name) {
                    continue;
                }
                in_bucket.push(DocDigest {
                    name,
                    digest: digest_of(&v),
                });
            }
        }
        in_bucket.sort_by(|x, y| key_order(&x.name, &y.name));
        out.extend(in_bucket);
    }
    out.truncate(limit);
    Ok(out)
}

/// Rebuilds the index from every stored document (a store written before the
/// index existed): clears it, then indexes each document, in batches.
pub fn rebuild(store: &Store) -> Result<()> {
    let cf = store.cf(HEADS)?;
    let mut batch = WriteBatch::default();
    // every key of the index starts with `b` or `d`
    batch.delete_range_cf(&cf, b"a".as_slice(), b"e".as_slice());
    store.commit(batch)?;
    let mut pending = Pending::default();
    let mut batch = WriteBatch::default();
    // one document at a time: a store of 200,000 documents does not fit in memory
    let docs = store.cf(db::DOCS)?;
    for entry in store.db.iterator_cf(&docs, rocksdb::IteratorMode::Start) {
        let (k, v) = entry.map_err(|e| store.err(e))?;
        let name = String::from_utf8_lossy(&k).into_owned();
        let mut d = AutoCommit::load(&v).map_err(|e| {
            anyhow!(
                "document {name} in {} is corrupt: {e}",
                store.path.display()
            )
        })?;
        let heads: Vec<[u8; 32]> = d.get_heads().into_iter().map(|h| h.0).collect();
        pending.index(store, &mut batch, &name, &heads)?;
        if batch.len() >= 10_000 {
            store.commit(std::mem::take(&mut batch))?;
            pending = Pending::default();
        }
    }
    store.commit(batch)?;
    Ok(())
}

/// [`rebuild`] as a layout migration step (its errors as the store's).
pub fn migrate(store: &Store) -> Result<(), StoreError> {
    rebuild(store).map_err(|e| StoreError::Other {
        path: store.path.clone(),
        detail: format!("rebuilding the heads index: {e:#}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Mode;
    use crate::journal::Journal;
    use jilu_common::doc_summary::BUCKETS;

    fn open(dir: &std::path::Path) -> Journal {
        let store = Store::open(dir, Mode::ReadWrite, true, &[HEADS], &|_| {
            db::plain_options()
        })
        .unwrap();
        Journal::new(store, "edge-a").unwrap()
    }

    fn write(j: &Journal, names: &[String], value: i64) {
        let mut tx = j.begin();
        for n in names {
            let mut d = j.load_or_new_doc(n).unwrap();
            automerge::transaction::Transactable::put(&mut d, automerge::ROOT, "v", value).unwrap();
            tx.put_doc(n, &mut d).unwrap();
        }
        tx.commit().unwrap();
    }

    /// The summary of `county` computed from the documents themselves.
    fn from_docs(j: &Journal, county: &str) -> Summary {
        let mut s = Summary::default();
        for n in j.doc_names("").unwrap() {
            if !jilu_common::sync::visible_to(&n, county) {
                continue;
            }
            let mut d = j.load_doc(&n).unwrap().unwrap();
            let heads: Vec<[u8; 32]> = d.get_heads().into_iter().map(|h| h.0).collect();
            s.toggle(&n, &doc_digest(&n, &heads));
        }
        s
    }

    #[test]
    fn the_index_follows_every_write_and_equals_a_rebuild() {
        let tmp = tempfile::tempdir().unwrap();
        let j = open(tmp.path());
        let names: Vec<String> = (0..3000)
            .map(|i| format!("activity/410422/A-{i}"))
            .collect();
        let other: Vec<String> = (0..50).map(|i| format!("activity/410499/A-{i}")).collect();
        write(&j, &names, 1);
        write(&j, &other, 1);
        write(
            &j,
            &["catalogue".to_string(), "policy/retention".to_string()],
            1,
        );
        // changed twice in one batch, and documents of one bucket in one batch
        let mut tx = j.begin();
        for v in [2, 3] {
            let mut d = j.load_doc(&names[5]).unwrap().unwrap();
            automerge::transaction::Transactable::put(&mut d, automerge::ROOT, "v", v).unwrap();
            tx.put_doc(&names[5], &mut d).unwrap();
        }
        tx.commit().unwrap();
        write(&j, &names[..40], 4);
        // not in the grammar: not indexed
        write(&j, &["junk/x".to_string()], 1);
        let sum = visible_summary(&j.store, "410422").unwrap();
        assert_eq!(sum, from_docs(&j, "410422"));
        assert_eq!(
            visible_summary(&j.store, "410499").unwrap(),
            from_docs(&j, "410499")
        );
        assert_ne!(summary(&j.store, "410499").unwrap(), Summary::default());
        let before = j.store.scan(HEADS).unwrap();
        rebuild(&j.store).unwrap();
        assert_eq!(
            j.store.scan(HEADS).unwrap(),
            before,
            "a rebuild finds what the writes left"
        );
        // an index that was lost is rebuilt whole
        let cf = j.store.cf(HEADS).unwrap();
        let mut b = WriteBatch::default();
        b.delete_range_cf(&cf, b"a".as_slice(), b"e".as_slice());
        j.store.commit(b).unwrap();
        assert_eq!(
            visible_summary(&j.store, "410422").unwrap(),
            Summary::default()
        );
        rebuild(&j.store).unwrap();
        assert_eq!(j.store.scan(HEADS).unwrap(), before);
    }

    #[test]
    fn documents_after_a_key_in_key_order() {
        let tmp = tempfile::tempdir().unwrap();
        let j = open(tmp.path());
        let mut names: Vec<String> = (0..500).map(|i| format!("activity/410422/A-{i}")).collect();
        names.push("catalogue".into());
        names.push("policy/p1".into());
        write(&j, &names, 1);
        write(&j, &["activity/410499/A-1".to_string()], 1);
        let all: Vec<u16> = (0..BUCKETS).collect();
        let every = docs_after(&j.store, "410422", &all, None, usize::MAX).unwrap();
        let mut want = names.clone();
        want.sort_by(|a, b| key_order(a, b));
        assert_eq!(
            every.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            want
        );
        // paging by `after` and `limit` walks the same list
        let mut walked = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = docs_after(&j.store, "410422", &all, after.as_deref(), 37).unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|d| d.name.clone());
            walked.extend(page);
        }
        assert_eq!(walked, every);
        // only the buckets asked for
        let some: Vec<u16> = vec![bucket(&names[3]), bucket("catalogue")];
        let mut some = some;
        some.sort();
        some.dedup();
        let got = docs_after(&j.store, "410422", &some, None, usize::MAX).unwrap();
        assert!(got.iter().all(|d| some.contains(&bucket(&d.name))));
        assert!(got.iter().any(|d| d.name == names[3]));
        assert!(got.iter().any(|d| d.name == "catalogue"));
    }
}
