//! Freeing an item's footage once it is safe elsewhere, without rewriting the rest.
//!
//! The layout is planned for this (see [`crate::store`]): footage lives in one
//! column family per ingest month and ingest lane (concurrent ingests never share
//! one), BlobDB keeps the 1 MiB chunk values in blob files, and every ingest ends
//! with its own flush, so an item's chunks fill blob files that hold nothing else. Freeing an item is then a range delete over its
//! keys and a compaction of that key range: the compaction rewrites only the small
//! SSTs that index the range (keys and blob references, tens of bytes per MiB of
//! footage) and leaves the item's blob files with no live blob, so RocksDB drops
//! them whole. Blob garbage collection is off, so no other item's footage is ever
//! copied. A whole month is freed later by dropping its column family.
//!
//! The item record, its chunk values and its custody trail stay: the node still
//! knows what it held and can check a copy fetched back from the center. A meta
//! key `freed/<hash>` records that its chunks are gone. When freeing is allowed
//! (the center has verified every byte) is for the caller to decide.

use jilu_common::hash::Hash;
use jilu_common::subject::Actor;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use rocksdb::{BottommostLevelCompaction, CompactOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::edge::{now_ms, Edge};
use crate::store::{self, chunk_key};

pub use crate::schema::{freed_key, FREED_PREFIX};

/// The mark of an item whose footage was freed here (`freed/<hash>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freed {
    pub at: jilu_common::time::Millis,
    pub ingest: u64,
    pub period: String,
    pub size: u64,
}

impl jilu_common::record::Record for Freed {
    const NAME: &'static str = "freed item";
    const VERSION: u16 = 1;
}

/// What freeing one item's chunks did to the store.
///
/// Sizes are taken just before and just after the call, so a flush of another
/// ingest running at the same time in this process would be counted too, and blob
/// files still pinned by an open iterator or snapshot leave the disk only when it
/// is released (the live-blob figures already exclude them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeReport {
    pub hash: Hash,
    pub period: String,
    /// the item's size: what freeing it should give back
    pub item_bytes: u64,
    /// true when the chunks had been freed before (this call only compacted again)
    pub already_freed: bool,
    /// `rocksdb.live-blob-file-size` of the period's column family, before and after
    pub live_blob_bytes_before: u64,
    pub live_blob_bytes_after: u64,
    /// bytes of the store's blob files on disk, before and after
    pub disk_blob_bytes_before: u64,
    pub disk_blob_bytes_after: u64,
    /// blob files that disappeared from disk, and their bytes
    pub blob_files_removed: usize,
    pub blob_bytes_removed: u64,
    /// footage written again by the compaction: bytes of blob files it created.
    /// Zero when the item's blobs sat in files of their own.
    pub rewritten_blob_bytes: u64,
    /// index rewritten by the compaction: bytes of the period's new SST files
    /// (keys and blob references only, no footage)
    pub rewritten_sst_bytes: u64,
    pub elapsed_ms: u64,
}

impl FreeReport {
    /// Bytes given back on disk.
    pub fn freed_bytes(&self) -> u64 {
        self.disk_blob_bytes_before
            .saturating_sub(self.disk_blob_bytes_after)
    }
}

impl Edge {
    /// True when the item's chunks have been freed by [`Edge::free_chunks`].
    pub fn chunks_freed(&self, hash: &Hash) -> Result<bool> {
        Ok(self.store.get(store::META, &freed_key(hash))?.is_some())
    }

    /// Deletes one item's chunks and compacts their key range so the space is
    /// returned, keeping the item record and marking it freed. Calling it again
    /// for a freed item only repeats the compaction (which finishes the job if a
    /// crash interrupted it after the delete was committed).
    pub fn free_chunks(&self, hash: &Hash) -> Result<FreeReport> {
        self.free_chunks_as(&Actor::system("jilu"), hash, json!({}))
    }

    /// [`Edge::free_chunks`], recording who freed it and why in the audit entry
    /// written in the same batch as the delete (a crash can never leave footage
    /// freed without a trace).
    pub fn free_chunks_as(
        &self,
        actor: &Actor,
        hash: &Hash,
        why: serde_json::Value,
    ) -> Result<FreeReport> {
        let started = Instant::now();
        let key = *hash.as_bytes();
        let rec = self
            .item(&key)?
            .ok_or_else(|| anyhow!("no item with hash {hash} at this node"))?;
        let hash = rec.item.hash;
        let cf_name = crate::schema::footage_cf(&rec.item.period);
        let cf = self.store.cf(&cf_name).map_err(|_| {
            anyhow!(
                "item {hash}: its footage (period {}) is not in this store",
                rec.item.period
            )
        })?;
        let from = chunk_key(rec.ingest, 0);
        let to = chunk_key(rec.ingest + 1, 0);

        let live_blob = |edge: &Edge| -> Result<u64> {
            Ok(edge
                .store
                .db
                .property_int_value_cf(&cf, "rocksdb.live-blob-file-size")
                .map_err(|e| edge.store.err(e))?
                .unwrap_or(0))
        };
        let blobs_before = blob_files(&self.store.path)?;
        let ssts_before = self.sst_files(&cf_name)?;
        let live_before = live_blob(self)?;

        let already_freed = self.chunks_freed(&hash)?;
        if !already_freed {
            // The delete and the mark land together, synced: from here on the item
            // is freed whether or not the compaction below completes.
            let mut tx = self.begin();
            tx.batch.delete_range_cf(&cf, from, to);
            tx.put_record(
                store::META,
                &freed_key(&hash),
                &Freed {
                    at: now_ms(),
                    ingest: rec.ingest,
                    period: rec.item.period.clone(),
                    size: rec.item.size,
                },
            )?;
            tx.audit(
                actor,
                jilu_common::audit::Action::ChunksFreed,
                format!("item:{hash}"),
                json!({"size": rec.item.size, "why": why}),
                &[key],
            )?;
            tx.commit()?;
        }

        // Compacting just this range flushes the tombstone and pushes it down over
        // the item's keys; the outputs no longer reference its blobs, so its blob
        // files are left without a live blob and are deleted. `ForceOptimized`
        // makes sure the bottommost level is processed too (the default skips it
        // when there is no compaction filter) without compacting its outputs twice.
        let mut opts = CompactOptions::default();
        opts.set_bottommost_level_compaction(BottommostLevelCompaction::ForceOptimized);
        self.store
            .db
            .compact_range_cf_opt(&cf, Some(&from[..]), Some(&to[..]), &opts);

        let live_after = live_blob(self)?;
        let blobs_after = blob_files(&self.store.path)?;
        let ssts_after = self.sst_files(&cf_name)?;
        let removed: Vec<u64> = blobs_before
            .iter()
            .filter(|(name, _)| !blobs_after.contains_key(*name))
            .map(|(_, size)| *size)
            .collect();
        let new_bytes = |before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>| -> u64 {
            after
                .iter()
                .filter(|(name, _)| !before.contains_key(*name))
                .map(|(_, size)| size)
                .sum()
        };
        Ok(FreeReport {
            hash,
            period: rec.item.period.clone(),
            item_bytes: rec.item.size,
            already_freed,
            live_blob_bytes_before: live_before,
            live_blob_bytes_after: live_after,
            disk_blob_bytes_before: blobs_before.values().sum(),
            disk_blob_bytes_after: blobs_after.values().sum(),
            blob_files_removed: removed.len(),
            blob_bytes_removed: removed.iter().sum(),
            rewritten_blob_bytes: new_bytes(&blobs_before, &blobs_after),
            rewritten_sst_bytes: new_bytes(&ssts_before, &ssts_after),
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Live SST files of one column family, by name, with their sizes.
    fn sst_files(&self, cf_name: &str) -> Result<BTreeMap<String, u64>> {
        Ok(self
            .store
            .db
            .live_files()
            .map_err(|e| self.store.err(e))?
            .into_iter()
            .filter(|f| f.column_family_name == cf_name)
            .map(|f| (f.name, f.size as u64))
            .collect())
    }
}

/// The store's blob files on disk (only footage column families have any).
fn blob_files(db: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(db).with_context(|| format!("cannot list {}", db.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", db.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".blob") {
            // a file deleted while listing is simply gone
            if let Ok(meta) = entry.metadata() {
                out.insert(name, meta.len());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use jilu_common::chunk_tree::CHUNK_SIZE;

    use super::*;
    use crate::edge::ItemRecord;
    use crate::ingest::Resolved;

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn ingest(edge: &Edge, dir: &Path, name: &str, len: usize, seed: u64) -> ItemRecord {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&bytes(len, seed)).unwrap();
        drop(f);
        let ctx = Resolved {
            device: "cam-01".into(),
            officer: "1001".into(),
            activity: None,
            clock_offset_ms: 0,
            checkout: None,
        };
        let ack = edge
            .ingest_file(&"keeper".into(), &path, &ctx, &mut |_| {})
            .unwrap();
        edge.item(&crate::edge::parse_hash(&ack.hash).unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn freeing_one_item_reclaims_its_space_and_leaves_the_others_intact() {
        let tmp = tempfile::tempdir().unwrap();
        let edge = Edge::init(&tmp.path().join("edge"), "edge-t", "410402").unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let len = 6 * CHUNK_SIZE + 1234;
        let items: Vec<ItemRecord> = (0..5)
            .map(|i| ingest(&edge, &src, &format!("v{i}.mp4"), len, i + 1))
            .collect();
        let victim = &items[2];

        let report = edge.free_chunks(&victim.item.hash).unwrap();
        assert!(!report.already_freed);
        assert!(edge.chunks_freed(&victim.item.hash).unwrap());
        // the item's blob files are gone from disk: about its size comes back
        let freed = report.freed_bytes();
        assert!(
            freed >= len as u64 && freed < len as u64 + (256 << 10),
            "freed {freed} B for an item of {len} B: {report:?}"
        );
        assert_eq!(report.blob_bytes_removed, freed, "{report:?}");
        assert_eq!(
            report.live_blob_bytes_before - report.live_blob_bytes_after,
            freed,
            "{report:?}"
        );
        // no other footage was copied
        assert_eq!(report.rewritten_blob_bytes, 0, "{report:?}");
        assert!(report.rewritten_sst_bytes < 64 << 10, "{report:?}");

        // every other item still verifies; the freed one keeps its record only
        for rec in items.iter().filter(|r| r.item.hash != victim.item.hash) {
            edge.verify_item(rec).unwrap();
            assert!(!edge.chunks_freed(&rec.item.hash).unwrap());
        }
        let rec = edge.item(victim.item.hash.as_bytes()).unwrap().unwrap();
        assert_eq!(&rec, victim);
        assert!(edge.verify_item(&rec).is_err());

        // again: nothing left to free, nothing rewritten
        let again = edge.free_chunks(&victim.item.hash).unwrap();
        assert!(again.already_freed);
        assert_eq!(again.freed_bytes(), 0, "{again:?}");
        assert_eq!(again.rewritten_blob_bytes, 0, "{again:?}");

        // and the store reopens with everything else intact
        drop(edge);
        let edge = Edge::open(&tmp.path().join("edge"), store::Mode::ReadWrite).unwrap();
        for rec in items.iter().filter(|r| r.item.hash != victim.item.hash) {
            edge.verify_item(rec).unwrap();
        }
        assert!(edge.chunks_freed(&victim.item.hash).unwrap());
    }

    #[test]
    fn freeing_an_unknown_item_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let edge = Edge::init(&tmp.path().join("edge"), "edge-t", "410402").unwrap();
        let err = edge.free_chunks(&Hash::from_bytes([0xab; 32])).unwrap_err();
        assert!(err.to_string().contains("no item"), "{err:#}");
    }
}
