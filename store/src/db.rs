//! RocksDB for a Jilu node: opening it with the node's column families, scans,
//! synced commits, and errors an operator can act on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BoundColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBWithThreadMode, ErrorKind,
    MultiThreaded, Options, WriteBatch, WriteOptions,
};

pub type Db = DBWithThreadMode<MultiThreaded>;

/// A key and its value, as scans return them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Column families every node has (journal and documents).
pub const META: &str = "meta";
pub const DOCS: &str = "docs";
pub const AUDIT: &str = "audit";
pub const CUSTODY: &str = "custody";
pub const BASE: [&str; 4] = [META, DOCS, AUDIT, CUSTODY];

/// The meta key holding the store's layout version (see [`Store::check_layout`]).
pub const LAYOUT_KEY: &[u8] = b"layout";

/// What went wrong opening or writing the store, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// another process holds the store
    #[error("the store {0} is in use by another Jilu process: stop it (or wait for it to finish) and try again")]
    Locked(PathBuf),
    /// RocksDB found damaged files: never repaired silently
    #[error("the store {path} is corrupt ({detail}): nothing was changed; keep the directory as it is and restore it from backup or call the operator")]
    Corrupt { path: PathBuf, detail: String },
    /// the disk under the store is full
    #[error("the disk holding {0} is full: nothing was stored; free space there and try again")]
    DiskFull(PathBuf),
    /// no store has been created at this path yet
    #[error("no store at {0}: initialise it first")]
    NotInitialised(PathBuf),
    /// a newer Jilu wrote this store's layout: this build must not guess at it
    #[error("the store {path} has layout {found}, newer than this build of Jilu knows (layout {known}): run the newer Jilu that wrote it (nothing was changed)")]
    Newer {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    /// any other RocksDB failure
    #[error("store {path}: {detail}")]
    Other { path: PathBuf, detail: String },
}

/// Read-write for commands that change things; read-only lets status views run
/// beside a daemon that holds the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
}

pub struct Store {
    pub db: Db,
    pub path: PathBuf,
    pub mode: Mode,
    /// held while a column family is created: two threads creating the same one
    /// would otherwise race between RocksDB's check and the handle's registration
    creating: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .finish()
    }
}

/// Closing a read-write store flushes every family's memtable. RocksDB does not on
/// its own while the write-ahead log is on, so the next open replayed every write
/// since the last flush: after a first sync of 100,000 documents, ~100 MiB and
/// seconds of every later `edge-node sync --once` (issue 7, `jilu-bench-sync
/// --only docs`). A kill -9 still replays (nothing is lost either way); a flush
/// that fails (a full disk) leaves the log to be replayed, as before.
impl Drop for Store {
    fn drop(&mut self) {
        if self.mode != Mode::ReadWrite {
            return;
        }
        let Ok(names) = self.cf_names() else { return };
        for name in names {
            if let Some(cf) = self.db.cf_handle(&name) {
                if let Err(e) = self.db.flush_cf(&cf) {
                    tracing::warn!(path = %self.path.display(), family = %name, "flush on close: {e}");
                    return;
                }
            }
        }
    }
}

/// Options of the database as a whole.
pub fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_max_background_jobs(4);
    // smooth write-back so a synced commit does not wait on a large dirty-page backlog
    o.set_bytes_per_sync(8 << 20);
    o.set_keep_log_file_num(10);
    // No `max_total_wal_size` cap: with 16 MiB a running node on a nearly full disk
    // (24 MiB tmpfs) refused a 100 KB ingest (edge-node/tests/cli.rs
    // disk_full_in_the_running_node; RocksDB preallocates each new log at ~1.1 ×
    // the largest memtable). The replay on open is cut by flushing on close instead
    // (`impl Drop for Store`).
    o.set_paranoid_checks(true);
    o
}

/// Options for small-record column families.
pub fn plain_options() -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::None);
    o
}

impl Store {
    /// Opens the store at `path` with the column families `fixed` (plus any that
    /// exist on disk); `cf_options` gives each family's options by name. `create`
    /// makes a new store (only initialisation does that).
    pub fn open(
        path: &Path,
        mode: Mode,
        create: bool,
        fixed: &[&str],
        cf_options: &dyn Fn(&str) -> Options,
    ) -> Result<Store, StoreError> {
        Self::open_with(path, mode, create, db_options(), fixed, cf_options)
    }

    /// [`Store::open`] with the database's own options (the edge tunes its flushes).
    pub fn open_with(
        path: &Path,
        mode: Mode,
        create: bool,
        opts: Options,
        fixed: &[&str],
        cf_options: &dyn Fn(&str) -> Options,
    ) -> Result<Store, StoreError> {
        let exists = path.join("CURRENT").exists();
        if !exists && !create {
            return Err(StoreError::NotInitialised(path.to_path_buf()));
        }
        let mut names: Vec<String> = if exists {
            Db::list_cf(&opts, path).map_err(|e| classify(path, e))?
        } else {
            Vec::new()
        };
        // read-only, a store of an older build may lack the newer families (the
        // first read-write open creates them): open what it has
        let adds = mode == Mode::ReadWrite || !exists;
        for f in BASE.iter().chain(fixed) {
            if adds && !names.iter().any(|n| n == f) {
                names.push(f.to_string());
            }
        }
        let db = match mode {
            Mode::ReadWrite => {
                let descriptors: Vec<ColumnFamilyDescriptor> = names
                    .iter()
                    .map(|n| ColumnFamilyDescriptor::new(n.as_str(), cf_options(n)))
                    .collect();
                Db::open_cf_descriptors(&opts, path, descriptors).map_err(|e| classify(path, e))?
            }
            Mode::ReadOnly => read_only(&opts, path, &names, cf_options)?,
        };
        Ok(Store {
            db,
            path: path.to_path_buf(),
            mode,
            creating: std::sync::Mutex::new(()),
        })
    }

    /// Checks the store's layout version against `known`, this build's: a store
    /// written before layouts were versioned has none (layout 0, whose records
    /// the record versions of [`jilu_common::record`] upgrade as they are read).
    /// A newer layout is refused by name. Opened read-write, an older store is
    /// marked with `known` once `migrate` (given the old layout) has run.
    pub fn check_layout(
        &self,
        known: u32,
        migrate: &dyn Fn(&Store, u32) -> Result<(), StoreError>,
    ) -> Result<u32, StoreError> {
        let found = match self.get(META, LAYOUT_KEY)? {
            Some(v) => v
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: "the layout version in meta is damaged".into(),
                })?,
            None => 0,
        };
        if found > known {
            return Err(StoreError::Newer {
                path: self.path.clone(),
                found,
                known,
            });
        }
        if found < known && self.mode == Mode::ReadWrite {
            migrate(self, found)?;
            let mut batch = WriteBatch::default();
            batch.put_cf(&self.cf(META)?, LAYOUT_KEY, known.to_be_bytes());
            self.commit(batch)?;
        }
        Ok(found)
    }

    pub fn cf(&self, name: &str) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        self.db.cf_handle(name).ok_or_else(|| StoreError::Other {
            path: self.path.clone(),
            detail: format!("column family {name} is missing"),
        })
    }

    /// A column family, created on first use (read-write only).
    pub fn cf_or_create(
        &self,
        name: &str,
        opts: &Options,
    ) -> Result<Arc<BoundColumnFamily<'_>>, StoreError> {
        if self.db.cf_handle(name).is_none() {
            let _one_at_a_time = self.creating.lock().map_err(|_| StoreError::Other {
                path: self.path.clone(),
                detail: "a column family creation panicked".into(),
            })?;
            if self.db.cf_handle(name).is_none() {
                self.db.create_cf(name, opts).map_err(|e| self.err(e))?;
            }
        }
        self.cf(name)
    }

    /// Names of the column families on disk.
    pub fn cf_names(&self) -> Result<Vec<String>, StoreError> {
        Db::list_cf(&Options::default(), &self.path).map_err(|e| self.err(e))
    }

    pub fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(cf)?;
        self.db.get_cf(&cf, key).map_err(|e| self.err(e))
    }

    /// A versioned record ([`jilu_common::record`]) under `key`, upgraded from
    /// whatever format it was written in.
    pub fn get_record<R: jilu_common::record::Record>(
        &self,
        cf: &str,
        key: &[u8],
    ) -> Result<Option<R>, StoreError> {
        self.get(cf, key)?
            .map(|v| jilu_common::record::decode(&v).map_err(|e| self.unreadable(e)))
            .transpose()
    }

    /// Every record of a column family (under `prefix`), in key order.
    pub fn scan_records<R: jilu_common::record::Record>(
        &self,
        cf: &str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, R)>, StoreError> {
        self.scan_prefix(cf, prefix)?
            .into_iter()
            .map(|(k, v)| {
                jilu_common::record::decode(&v)
                    .map(|r| (k, r))
                    .map_err(|e| self.unreadable(e))
            })
            .collect()
    }

    /// A record that does not read: a newer format, or damage.
    fn unreadable(&self, e: jilu_common::record::RecordError) -> StoreError {
        match e {
            jilu_common::record::RecordError::Newer { .. } => StoreError::Other {
                path: self.path.clone(),
                detail: e.to_string(),
            },
            _ => StoreError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            },
        }
    }

    /// Every `(key, value)` of a column family, in key order.
    pub fn scan(&self, cf: &str) -> Result<Vec<KeyValue>, StoreError> {
        self.scan_prefix(cf, &[])
    }

    pub fn scan_prefix(&self, cf: &str, prefix: &[u8]) -> Result<Vec<KeyValue>, StoreError> {
        let handle = self.cf(cf)?;
        let mut out = Vec::new();
        for entry in self.db.iterator_cf(
            &handle,
            rocksdb::IteratorMode::From(prefix, rocksdb::Direction::Forward),
        ) {
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

/// How often a read-only open is tried before a missing file counts as corruption.
const READ_ONLY_TRIES: u32 = 20;

/// Opens the store read-only beside a process that may be writing it.
///
/// A read-only open reads the MANIFEST and then opens the files it lists; a
/// writer that finishes a flush or compaction in between deletes some of them,
/// and RocksDB reports the missing file as corruption. Seen in the tests: a
/// `status` beside a running ingest failed once in a few runs with "the store
/// is corrupt", which would send a keeper to restore a healthy store from
/// backup. So a missing file is tried again, with a fresh MANIFEST, for about a
/// second; real damage stays and is reported as before.
fn read_only(
    opts: &Options,
    path: &Path,
    names: &[String],
    cf_options: &dyn Fn(&str) -> Options,
) -> Result<Db, StoreError> {
    let mut tries = 0;
    loop {
        let descriptors: Vec<ColumnFamilyDescriptor> = names
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(n.as_str(), cf_options(n)))
            .collect();
        match Db::open_cf_descriptors_read_only(opts, path, descriptors, false) {
            Ok(db) => return Ok(db),
            Err(e)
                if e.kind() == ErrorKind::Corruption
                    && e.to_string().contains("No such file")
                    && tries < READ_ONLY_TRIES =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(classify(path, e)),
        }
    }
}

/// Turns a RocksDB error into one the operator can act on.
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
