//! The edge's RocksDB: one database, one column family per kind of data.
//!
//! | column family     | key                         | value                                   |
//! |-------------------|-----------------------------|-----------------------------------------|
//! | `meta`            | name                        | node identity, audit head, indexes      |
//! | `docs`            | document name               | saved Automerge document                |
//! | `items`           | root hash (32 bytes)        | item record (JSON)                      |
//! | `cvs`             | root hash                   | chunk chaining values, 32 bytes each    |
//! | `pending`         | ingest id (u64 BE)          | an ingest whose chunks are not yet acknowledged |
//! | `audit`           | sequence (u64 BE)           | audit entry, the exact bytes hashed     |
//! | `custody`         | item hash ++ sequence       | (empty) index of an item's audit entries |
//! | `dock`            | source path                 | what dock watch saw and stored there    |
//! | `chunks-YYYY-MM`  | ingest id ++ chunk (u32 BE) | 1 MiB of footage, in BlobDB blob files  |
//!
//! Footage goes to one column family per ingest month with BlobDB: chunk values are
//! written once, into blob files, when the memtable is flushed (no WAL: a chunk is
//! made durable by the flush that ends its item, not by a second copy in the log).
//! Each item ends with its own flush, so an item's blobs sit in blob files of their
//! own; freeing it later drops those files without rewriting other footage, and a
//! whole month is freed by dropping its column family.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BoundColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBWithThreadMode, ErrorKind,
    MultiThreaded, Options, WriteBatch, WriteOptions,
};

pub type Db = DBWithThreadMode<MultiThreaded>;

/// A key and its value, as scans return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

pub const META: &str = "meta";
pub const DOCS: &str = "docs";
pub const ITEMS: &str = "items";
pub const CVS: &str = "cvs";
pub const PENDING: &str = "pending";
pub const AUDIT: &str = "audit";
pub const CUSTODY: &str = "custody";
pub const DOCK: &str = "dock";
const FIXED: [&str; 8] = [META, DOCS, ITEMS, CVS, PENDING, AUDIT, CUSTODY, DOCK];
const CHUNKS_PREFIX: &str = "chunks-";

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
/// build) computes every blob record's CRC32C in software, about 0.75 CPU-seconds
/// per GiB, more than reading and hashing the source take together. With one
/// flush thread that CRC runs on one core, between the thread's own writes and
/// syncs; two let it use both cores; a third keeps a core busy while another
/// flush waits in the fdatasyncs that end it. Measured on an idle 2-core machine,
/// 1 GiB: 1 flush 1.45 s, 2 flushes 1.20 s, 3 flushes 1.15 s.
const FLUSH_JOBS: i32 = 3;

/// What went wrong opening or writing the store, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// another process (a running `dock watch`?) holds the store
    #[error("the edge store {0} is in use by another edge-node process: stop it (or wait for it to finish) and try again")]
    Locked(PathBuf),
    /// RocksDB found damaged files: never repaired silently
    #[error("the edge store {path} is corrupt ({detail}): nothing was changed; keep the directory as it is and restore it from backup or call the operator")]
    Corrupt { path: PathBuf, detail: String },
    /// the disk under the store is full
    #[error("the disk holding {0} is full: nothing was stored; free space there and try again")]
    DiskFull(PathBuf),
    /// no store has been created at this path yet
    #[error("no edge store at {0}: run `edge-node init --node NAME --county CODE` first (or pass --data-dir)")]
    NotInitialised(PathBuf),
    /// any other RocksDB failure
    #[error("edge store {path}: {detail}")]
    Other { path: PathBuf, detail: String },
}

/// Read-write for commands that change things; read-only lets `status` and `audit
/// verify` run beside a `dock watch` that holds the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
}

pub struct Store {
    pub db: Db,
    pub path: PathBuf,
    pub mode: Mode,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .finish()
    }
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    // FLUSH_JOBS flushes; the remaining slots go to compactions, which here only
    // merge small SSTs of keys and blob references (blob GC is off), so the extra
    // threads mostly sleep.
    o.set_max_background_jobs(FLUSH_JOBS * 4);
    // smooth write-back so the flush that acknowledges an item does not wait on a
    // large dirty-page backlog (1 MiB measured no faster than 8). Direct I/O for
    // flushes, which would save the page-cache copy, measured ~40% slower: every
    // write then blocks its flush thread until the disk has it.
    o.set_bytes_per_sync(8 << 20);
    o.set_keep_log_file_num(10);
    o.set_paranoid_checks(true);
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
        let mut o = Options::default();
        o.set_compression_type(DBCompressionType::None);
        o
    }
}

impl Store {
    /// Opens the store at `path`. `create` makes a new one (only `init` does that).
    pub fn open(path: &Path, mode: Mode, create: bool) -> Result<Store, StoreError> {
        let opts = db_options();
        let exists = path.join("CURRENT").exists();
        if !exists && !create {
            return Err(StoreError::NotInitialised(path.to_path_buf()));
        }
        let mut names: Vec<String> = if exists {
            Db::list_cf(&opts, path).map_err(|e| classify(path, e))?
        } else {
            Vec::new()
        };
        for fixed in FIXED {
            if !names.iter().any(|n| n == fixed) {
                names.push(fixed.to_string());
            }
        }
        let descriptors: Vec<ColumnFamilyDescriptor> = names
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(n.as_str(), cf_options(n)))
            .collect();
        let db = match mode {
            Mode::ReadWrite => Db::open_cf_descriptors(&opts, path, descriptors),
            Mode::ReadOnly => Db::open_cf_descriptors_read_only(&opts, path, descriptors, false),
        }
        .map_err(|e| classify(path, e))?;
        Ok(Store {
            db,
            path: path.to_path_buf(),
            mode,
        })
    }

    pub fn cf(&self, name: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Other {
            path: self.path.clone(),
            detail: format!("column family {name} is missing"),
        })
    }

    /// The footage column family of `period`, created on first use.
    pub fn chunks_cf(&self, period: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        let name = format!("{CHUNKS_PREFIX}{period}");
        if self.db.cf_handle(&name).is_none() {
            self.db
                .create_cf(&name, &chunk_options())
                .map_err(|e| self.err(e))?;
        }
        self.cf(&name)
    }

    /// Footage column families that exist, by period.
    pub fn periods(&self) -> Result<Vec<String>, StoreError> {
        let names = Db::list_cf(&Options::default(), &self.path).map_err(|e| self.err(e))?;
        Ok(names
            .into_iter()
            .filter_map(|n| n.strip_prefix(CHUNKS_PREFIX).map(str::to_string))
            .collect())
    }

    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(cf)?;
        self.db.get_cf(&cf, key).map_err(|e| self.err(e))
    }

    /// Every `(key, value)` of a column family, in key order.
    pub fn scan(&self, cf: &str) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_prefix(cf, &[])
    }

    pub fn scan_prefix(&self, cf: &str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let handle = self.cf(cf)?;
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            &handle,
            rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward),
        );
        for entry in iter {
            let (k, v) = entry.map_err(|e| self.err(e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Commits `batch` durably: synced to the write-ahead log before returning.
    pub fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(|e| self.err(e))
    }

    pub fn err(&self, e: rocksdb::Error) -> StoreError {
        classify(&self.path, e)
    }
}

/// Turns a RocksDB error into one the archive keeper can act on.
pub fn classify(path: &Path, e: rocksdb::Error) -> StoreError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("no space left") {
        StoreError::DiskFull(path.to_path_buf())
    } else if e.kind() == ErrorKind::Corruption {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: text,
        }
    } else if lower.contains("lock")
        && (lower.contains("temporarily unavailable")
            || lower.contains("no locks")
            || lower.contains("hold by current process"))
    {
        StoreError::Locked(path.to_path_buf())
    } else if lower.contains("does not exist") && lower.contains("current") {
        StoreError::NotInitialised(path.to_path_buf())
    } else {
        StoreError::Other {
            path: path.to_path_buf(),
            detail: text,
        }
    }
}

/// Big-endian u64 key.
pub fn be64(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn read_be64(bytes: &[u8]) -> Option<u64> {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
}

/// Key of chunk `index` of ingest `ingest`.
pub fn chunk_key(ingest: u64, index: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&ingest.to_be_bytes());
    k[8..].copy_from_slice(&(index as u32).to_be_bytes());
    k
}
