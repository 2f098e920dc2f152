//! The edge's RocksDB: one database, one column family per kind of data.
//!
//! The families, their keys and the records under them are listed in
//! [`crate::schema`]; this module is about how the footage families are tuned.
//!
//! Footage goes to one column family per ingest month with BlobDB: chunk values are
//! written once, into blob files, when the memtable is flushed (no WAL: a chunk is
//! made durable by the flush that ends its item, not by a second copy in the log).
//! Each item ends with its own flush, so an item's blobs sit in blob files of their
//! own; freeing it later drops those files without rewriting other footage, and a
//! whole month is freed by dropping its column families.
//!
//! Concurrent ingests (a docking station with many cameras) each write through an
//! ingest *lane* of their own, and each lane has its own footage column family
//! (`chunks-YYYY-MM` for lane 0, `chunks-YYYY-MM.N` for lane N). Two ingests never
//! share a memtable, so a flush only ever holds one item's chunks and "an item's
//! blobs sit in blob files of their own" holds however many run at once; the crash
//! protocol is unchanged, it just names the lane's family. One family with all
//! ingests in it would mix items in every flush (a flush takes the whole memtable),
//! and eviction would then have to rewrite the other items' blobs. An item's
//! `period` is the suffix of the family its chunks are in (`2026-11`, `2026-11.3`):
//! everything that reads footage (`chunks-{period}`) finds it without knowing about
//! lanes, and stores written before lanes existed are lane 0 throughout.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{BoundColumnFamily, DBCompressionType, Options};

pub use jilu_store::db::{
    be64, read_be64, KeyValue, Mode, Store, StoreError, AUDIT, CUSTODY, DOCS, META,
};

use crate::schema::CHUNKS_PREFIX;
pub use crate::schema::{CVS, DOCK, HEADS, ITEMS, PENDING};
const FIXED: [&str; 5] = [ITEMS, CVS, PENDING, DOCK, HEADS];

/// Memtable size of a footage column family. Each full memtable becomes one flush,
/// and every flush ends with fdatasyncs (blob file, SST, MANIFEST), so bigger
/// memtables mean fewer sync waits per GiB; smaller ones shorten the last flush,
/// which nothing overlaps, and cost less memory. 32 MiB measured as fast as 48 or
/// 64 MiB for a 1 GiB ingest on 2 cores, at two thirds of the memory.
const CHUNK_MEMTABLE_BYTES: usize = 32 << 20;
/// Memtables a footage column family may hold (filling + waiting for or in a
/// flush). Together with [`CHUNK_MEMTABLE_BYTES`] this bounds what an ingest holds
/// in memory whatever the file size: 5 × 32 MiB, a peak RSS of about 165 MiB
/// against the 256 MiB budget. Five keep the [`FLUSH_JOBS`] flushes busy while
/// the next memtable fills; four measured ~8% slower (the writer stalls more),
/// six no faster for 32 MiB more.
const MAX_CHUNK_MEMTABLES: i32 = 5;
/// Flushes that may run at once. RocksDB gives flushes a quarter of
/// `max_background_jobs`, hence the ×4 below.
///
/// Flushing is the ingest's bottleneck: the system librocksdb (Debian, a portable
/// build, no `crc32` instruction anywhere in it) computes every blob record's
/// CRC32C in software (slicing-by-4 tables): 23-25% of the ingest's CPU in a
/// `perf` profile, 0.9-1.0 CPU-seconds per GiB, twice what BLAKE3 takes. With one
/// flush thread that CRC runs on one core, between the thread's own writes and
/// syncs; two let it use both cores; a third keeps a core busy while another
/// flush waits in the fdatasyncs that end it. Measured on an idle 2-core machine,
/// 1 GiB: 1 flush 1.45 s, 2 flushes 1.20 s, 3 flushes 1.15 s.
const FLUSH_JOBS: i32 = 3;

fn db_options() -> Options {
    let mut o = jilu_store::db::db_options();
    // FLUSH_JOBS flushes; the remaining slots go to compactions, which here only
    // merge small SSTs of keys and blob references (blob GC is off), so the extra
    // threads mostly sleep.
    o.set_max_background_jobs(FLUSH_JOBS * 4);
    // smooth write-back so the flush that acknowledges an item does not wait on a
    // large dirty-page backlog (1 MiB measured no faster than 8). Direct I/O for
    // flushes, which would save the page-cache copy, measured ~40% slower: every
    // write then blocks its flush thread until the disk has it. With 4 MiB writes
    // and eight cameras at once it saved ~0.35 CPU-s per GiB (3.5-3.8 → 3.2-3.4)
    // but took 2-3× as long (2 GiB: 8-9 s → 16-22 s), so it stays off.
    o.set_bytes_per_sync(8 << 20);
    o
}

fn chunk_options() -> Options {
    let mut o = Options::default();
    o.set_enable_blob_files(true);
    o.set_min_blob_size(0);
    o.set_blob_file_size(256 << 20);
    // footage is already compressed by the camera
    o.set_blob_compression_type(DBCompressionType::None);
    o.set_compression_type(DBCompressionType::None);
    // GC would relocate live blobs out of old files: eviction frees whole files instead
    o.set_enable_blob_gc(false);
    o.set_write_buffer_size(CHUNK_MEMTABLE_BYTES);
    o.set_max_write_buffer_number(MAX_CHUNK_MEMTABLES);
    o
}

fn cf_options(name: &str) -> Options {
    if name.starts_with(CHUNKS_PREFIX) {
        chunk_options()
    } else {
        jilu_store::db::plain_options()
    }
}

/// Opens the edge store at `path` (`create`: only `init` makes a new one), and
/// checks its layout ([`crate::schema::LAYOUT`]): a newer one is refused.
pub fn open(path: &Path, mode: Mode, create: bool) -> Result<Store, StoreError> {
    let store = Store::open_with(path, mode, create, db_options(), &FIXED, &cf_options)?;
    store.check_layout(crate::schema::LAYOUT, &crate::schema::migrate)?;
    Ok(store)
}

/// Memtable memory an ingest lane may hold when `lanes` ingest at once: the
/// single-ingest budget above ([`CHUNK_MEMTABLE_BYTES`] × [`MAX_CHUNK_MEMTABLES`],
/// 160 MiB) is what one lane gets alone; with more lanes the total is capped at
/// [`LANES_MEMTABLE_BUDGET`] so eight docked cameras stay well inside a 512 MiB
/// process. Flushing, not filling, is what the lanes wait on, so smaller memtables
/// per lane cost little: the flush threads are shared and stay busy either way.
pub const LANES_MEMTABLE_BUDGET: usize = 256 << 20;
/// Memtables per lane when several lanes run: one filling, two waiting for or in a
/// flush.
const LANE_MEMTABLES: usize = 3;
/// The smallest memtable a lane gets: below this every flush's fixed cost (three
/// fdatasyncs: blob file, SST, MANIFEST) dominates.
const MIN_LANE_MEMTABLE: usize = 8 << 20;

/// The storage period (footage column family suffix) of ingest lane `lane` in
/// `month` (`YYYY-MM`): lane 0 is the month itself, so single ingests and stores
/// from before lanes keep the plain name.
pub fn lane_period(month: &str, lane: u32) -> String {
    if lane == 0 {
        month.to_string()
    } else {
        format!("{month}.{lane}")
    }
}

/// The month (`YYYY-MM`) a storage period belongs to: the unit of retention.
pub fn period_month(period: &str) -> &str {
    period.split_once('.').map_or(period, |(m, _)| m)
}

/// The footage column family of `period`, created on first use.
pub fn chunks_cf<'a>(
    store: &'a Store,
    period: &str,
) -> Result<Arc<BoundColumnFamily<'a>>, StoreError> {
    store.cf_or_create(&crate::schema::footage_cf(period), &chunk_options())
}

/// Sizes the memtables of a lane's footage column family for `lanes` concurrent
/// ingests (see [`LANES_MEMTABLE_BUDGET`]). Both options are mutable, so this is
/// applied to the open family before its ingest starts.
pub fn size_lane(
    store: &Store,
    cf: &Arc<BoundColumnFamily<'_>>,
    lanes: usize,
) -> Result<(), StoreError> {
    let (size, count) = if lanes <= 1 {
        (CHUNK_MEMTABLE_BYTES, MAX_CHUNK_MEMTABLES as usize)
    } else {
        (
            (LANES_MEMTABLE_BUDGET / lanes / LANE_MEMTABLES).max(MIN_LANE_MEMTABLE),
            LANE_MEMTABLES,
        )
    };
    let (size, count) = (size.to_string(), count.to_string());
    store
        .db
        .set_options_cf(
            cf,
            &[
                ("write_buffer_size", size.as_str()),
                ("max_write_buffer_number", count.as_str()),
            ],
        )
        .map_err(|e| store.err(e))
}

/// Footage column families that exist, by period (lane families included).
pub fn periods(store: &Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .cf_names()?
        .into_iter()
        .filter_map(|n| n.strip_prefix(CHUNKS_PREFIX).map(str::to_string))
        .collect())
}

/// Key of chunk `index` of ingest `ingest`.
pub fn chunk_key(ingest: u64, index: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&ingest.to_be_bytes());
    k[8..].copy_from_slice(&(index as u32).to_be_bytes());
    k
}
