//! What the ingests in flight hold: free-space reservations and ingest lanes.
//!
//! An ingest is refused before anything is written when the store's disk cannot
//! hold it (a store that runs out of space mid-flush is left for recovery, and
//! RocksDB's error paths there are its least exercised). With several cameras
//! docked at once, the free space `statvfs` reports does not yet include what the
//! ingests already running will still write, so eight ingests that each fit alone
//! could together overfill the disk. Each ingest therefore reserves what it will
//! write before it starts, the check counts every other reservation as already
//! used, and the reservation shrinks as the ingest's bytes reach the disk and is
//! released when the ingest ends, however it ends.
//!
//! An ingest lane (see [`crate::store`]) is a footage column family that one
//! ingest at a time writes: two ingests in one lane would share memtables, and
//! their flushes would mix both items' blobs in the same files.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{anyhow, Result};

use crate::store::{self, LANES_MEMTABLE_BUDGET};

/// What the ingests in flight in this process hold.
#[derive(Debug, Default)]
pub struct Inflight {
    pub space: Reservations,
    lanes: Mutex<BTreeSet<u32>>,
    /// the lane count each footage column family's memtables are sized for:
    /// resizing rewrites the OPTIONS file (and syncs it), so only on a change
    sized: Mutex<HashMap<String, usize>>,
}

/// Bytes reserved by the ingests in flight in this process.
#[derive(Debug, Default)]
pub struct Reservations {
    reserved: Mutex<u64>,
}

/// An ingest lane in use; freed on drop.
#[derive(Debug)]
pub struct LaneGuard<'a> {
    owner: &'a Inflight,
    pub lane: u32,
}

impl Inflight {
    /// Takes the lowest ingest lane no other ingest of this process is writing
    /// through. Every ingest takes its lane this way (a dock worker, a keeper's
    /// command through the running node), so concurrent ingests never share one,
    /// and N ingests at once use lanes 0..N: no more footage families than the
    /// most ingests that ran together.
    pub fn take_lane(&self) -> Result<LaneGuard<'_>> {
        let mut busy = self
            .lanes
            .lock()
            .map_err(|_| anyhow!("the ingest lanes are poisoned"))?;
        let lane = (0u32..)
            .find(|l| !busy.contains(l))
            .ok_or_else(|| anyhow!("no free ingest lane"))?;
        busy.insert(lane);
        Ok(LaneGuard { owner: self, lane })
    }

    /// True (once) when column family `cf` must be resized for `lanes` lanes. A
    /// family opens (or is created) sized for one lane, so a lone ingest never
    /// resizes.
    pub fn needs_sizing(&self, cf: &str, lanes: usize) -> bool {
        match self.sized.lock() {
            Ok(mut sized) => sized.insert(cf.to_string(), lanes).unwrap_or(1) != lanes,
            Err(_) => true,
        }
    }
}

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.owner.lanes.lock() {
            busy.remove(&self.lane);
        }
    }
}

/// One ingest's share of [`Reservations`]; released on drop.
#[derive(Debug)]
pub struct Reservation<'a> {
    pool: &'a Reservations,
    needed: u64,
    /// what is still counted against the disk
    held: u64,
}

/// What an ingest of `len` bytes writes at most: the footage, plus room for its
/// SSTs, the manifest and the WAL.
pub fn needed_for(len: u64) -> u64 {
    len + len / 100 + (16 << 20)
}

impl Reservations {
    /// Reserves room for an ingest of `len` bytes of `path` into the store at
    /// `store_path`, or refuses with [`store::StoreError::DiskFull`] when the disk's
    /// free space, less every other reservation, cannot hold it.
    pub fn reserve(&self, store_path: &Path, path: &Path, len: u64) -> Result<Reservation<'_>> {
        let needed = needed_for(len);
        // Hold the lock across statvfs and the update: two ingests checking at
        // once must not both see the same free bytes.
        let mut reserved = self
            .reserved
            .lock()
            .map_err(|_| anyhow!("the free-space reservations are poisoned"))?;
        let st = rustix::fs::statvfs(store_path)
            .map_err(|e| anyhow!("cannot read free space of {}: {e}", store_path.display()))?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        let usable = free.saturating_sub(*reserved);
        if usable < needed {
            let others = if *reserved > 0 {
                format!(
                    " ({} MiB of it reserved by ingests in progress)",
                    *reserved >> 20
                )
            } else {
                String::new()
            };
            return Err(
                anyhow!(store::StoreError::DiskFull(store_path.to_path_buf())).context(format!(
                    "{} needs {} MiB and the store's disk has {} MiB free{others}",
                    path.display(),
                    needed >> 20,
                    free >> 20
                )),
            );
        }
        *reserved += needed;
        Ok(Reservation {
            pool: self,
            needed,
            held: needed,
        })
    }

    /// Bytes reserved right now.
    pub fn reserved(&self) -> u64 {
        self.reserved.lock().map(|r| *r).unwrap_or(0)
    }

    fn give_back(&self, bytes: u64) {
        if let Ok(mut r) = self.reserved.lock() {
            *r = r.saturating_sub(bytes);
        }
    }
}

impl Reservation<'_> {
    /// The ingest has handed `done` bytes to the store. Bytes still in memtables
    /// are not on disk yet (and `statvfs` does not count them), so up to one
    /// lane budget of them stays reserved until the ingest ends.
    pub fn advance(&mut self, done: u64) {
        let on_disk = done.saturating_sub(LANES_MEMTABLE_BUDGET as u64);
        let held = self.needed.saturating_sub(on_disk);
        if held < self.held {
            self.pool.give_back(self.held - held);
            self.held = held;
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pool.give_back(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_against_free_space_and_are_released() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Reservations::default();
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        let free = st.f_bavail * st.f_frsize;
        // two ingests of 40% of the free space each fit; a third does not
        let len = free / 10 * 4;
        let a = pool.reserve(dir.path(), Path::new("a"), len).unwrap();
        let mut b = pool.reserve(dir.path(), Path::new("b"), len).unwrap();
        let err = pool.reserve(dir.path(), Path::new("c"), len).unwrap_err();
        assert!(
            err.to_string().contains("reserved by ingests in progress"),
            "{err:#}"
        );
        assert!(matches!(
            err.downcast_ref::<store::StoreError>(),
            Some(store::StoreError::DiskFull(_))
        ));
        // b's bytes reach the disk: only what is not yet there stays held
        b.advance(len);
        assert_eq!(
            pool.reserved(),
            needed_for(len) * 2 - (len - LANES_MEMTABLE_BUDGET as u64)
        );
        drop(a);
        drop(b);
        assert_eq!(pool.reserved(), 0);
        pool.reserve(dir.path(), Path::new("c"), len).unwrap();
    }

    #[test]
    fn a_family_is_resized_only_when_its_lane_count_changes() {
        let inflight = Inflight::default();
        assert!(!inflight.needs_sizing("2026-12", 1));
        assert!(inflight.needs_sizing("2026-12", 8));
        assert!(!inflight.needs_sizing("2026-12", 8));
        assert!(inflight.needs_sizing("2026-12", 1));
        assert!(inflight.needs_sizing("2026-12.3", 8));
    }

    #[test]
    fn a_lane_serves_one_ingest_at_a_time() {
        let inflight = Inflight::default();
        let a = inflight.take_lane().unwrap();
        let b = inflight.take_lane().unwrap();
        let c = inflight.take_lane().unwrap();
        assert_eq!((a.lane, b.lane, c.lane), (0, 1, 2));
        drop(b);
        // the lowest free lane is reused, the busy ones are not
        assert_eq!(inflight.take_lane().unwrap().lane, 1);
        drop(a);
        let again = inflight.take_lane().unwrap();
        assert_eq!(again.lane, 0);
        assert_eq!(inflight.take_lane().unwrap().lane, 1);
        drop(c);
    }
}
