//! Durable ingest: footage from a docked device into the edge store.
//!
//! A file is read in 1 MiB chunks by a reader thread (with `O_DIRECT` where the
//! file system allows it, see `ChunkReader`) that also hashes them (BLAKE3
//! chaining values, see `jilu_common::chunk_tree`), while this thread writes them
//! into the month's footage column family with the WAL off. Reading and hashing
//! overlap the writes, and RocksDB's background flushes overlap both.
//!
//! An item is acknowledged only when it is durable:
//! 1. a `pending` marker is committed (synced) naming the ingest id;
//! 2. chunks are written (no WAL) and the column family is flushed: blob files and
//!    their SSTs are synced before `flush` returns;
//! 3. one synced batch writes the item record, its chunk values, the activity link
//!    and the custody entry, and removes the marker.
//!
//! An ingest that stops before 3 for any other reason (the source shrank, vanished
//! or could not be read, as when a camera is unplugged mid-copy, or its caller
//! cancelled it) goes through the same discard as recovery, at once: its chunks and
//! marker are removed in one synced batch with an `ingest_discarded` audit entry.
//!
//! A crash before 3 leaves a marker; the next read-write open deletes that ingest's
//! chunks and records `ingest_discarded` in the audit log. The item was never
//! acknowledged and its source is still on the device. A crash after 3 loses
//! nothing. Identical bytes ingested again remain one item: the second copy's
//! chunks are dropped in the same batch that records its custody event.

use jilu_common::subject::Actor;
use jilu_common::subject::Subject;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{anyhow, bail, Context, Result};
use jilu_common::audit::Action;
use jilu_common::chunk_tree::{chunk_count, TreeHasher};
use jilu_common::item::Item;
use jilu_common::media::{self, MediaKind};
use jilu_common::time::{self, Millis};
use jilu_common::{doc, ledger::CheckOut};
use rocksdb::WriteOptions;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::activities::activity_doc;
use crate::edge::{now_ms, Edge, ItemRecord, ItemTx};
use crate::store::{self, be64, chunk_key};
use source::{changed, ChunkReader, Opened, Read};

mod source;

/// Who brought the footage in and what it belongs to.
#[derive(Debug, Clone)]
pub struct Source {
    pub device: String,
    /// defaults to the officer of the device's latest check-out
    pub officer: Option<String>,
    pub activity: Option<String>,
}

/// A resolved source: the device's clock offset and the officer to record.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub device: String,
    pub officer: String,
    pub activity: Option<String>,
    pub clock_offset_ms: i64,
    pub checkout: Option<String>,
}

/// What an acknowledged ingest returns (and `--json` prints, one line per file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ack {
    pub path: PathBuf,
    pub hash: String,
    pub size: u64,
    /// true when the same bytes were already held: one item, one more custody event
    pub duplicate: bool,
    pub item: Item,
}

/// Why an ingest stopped before it was acknowledged without any store failure.
/// Nothing of it is visible: its chunks were discarded. The source is left as it
/// is and can be ingested again.
#[derive(Debug, thiserror::Error)]
pub enum IngestAbort {
    /// the caller's cancellation hook asked to stop (Ctrl-C, service shutdown)
    #[error("ingest of {0} was cancelled before it was acknowledged; nothing of it was kept")]
    Cancelled(PathBuf),
    /// the source changed under the reader: a camera unplugged mid-copy, or still
    /// being written; ingest it again once it is docked and complete
    #[error("{path} {why} while it was being read (device unplugged or still writing?): nothing of it was kept; it is ingested again when it is back and complete")]
    SourceChanged { path: PathBuf, why: String },
}

/// How a caller steers one ingest (see [`Edge::ingest_file_with`]).
pub struct IngestControl<'a> {
    /// called after each chunk with the bytes stored so far
    pub progress: &'a mut dyn FnMut(u64),
    /// checked between chunks: returning true aborts the ingest through the
    /// discard path ([`IngestAbort::Cancelled`]); it must be cheap
    pub cancel: &'a dyn Fn() -> bool,
    /// how many ingests run at once, to size their lanes' memtables (the ingest
    /// takes a free lane of its own, see [`crate::reserve::Inflight::take_lane`])
    pub lanes: usize,
    /// how to tell that the source is still the file that was opened
    pub watch: Watch,
}

/// How an ingest tells that its source is still the file it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// by its path: this node opened it (dock watch, a command run here); a file
    /// replaced, removed, or in a folder that went away (a camera unplugged) stops
    /// the ingest
    Path,
    /// by the open descriptor only: another process opened it with its own rights
    /// and passed it over (the control socket), and its path may mean nothing
    /// here; a file removed (no links left), cut shorter or grown stops the ingest
    Descriptor,
}

impl std::fmt::Debug for IngestControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestControl")
            .field("lanes", &self.lanes)
            .finish()
    }
}

/// Chunks between checks that the source is still the file that was opened.
const SOURCE_CHECK_EVERY: usize = 8;

/// A pending ingest: what recovery needs to remove its chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    period: String,
    path: PathBuf,
    started: Millis,
}

impl jilu_common::record::Record for Pending {
    const NAME: &'static str = "pending ingest";
    const VERSION: u16 = 1;
}

/// Files of a docked device's folder (or files given one by one), in name order.
pub fn plan(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| anyhow!("cannot read {}: {e}", p.display()))?;
        if meta.is_dir() {
            let before = out.len();
            walk(p, &mut out)?;
            if out.len() == before {
                bail!(
                    "folder {} has nothing to ingest (no files in it or below it)",
                    p.display()
                );
            }
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        bail!("nothing to ingest: give files or a folder");
    }
    Ok(out)
}

/// Opens a recording for ingest: a regular file, for reading. Stat before open:
/// opening a FIFO or a device node could block or consume it.
pub fn open_source(path: &Path) -> Result<File> {
    let meta =
        std::fs::metadata(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file: only recordings (files) can be ingested",
            path.display()
        );
    }
    File::open(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("cannot read folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

impl Edge {
    /// Checks the device, officer and activity and finds the clock offset to apply.
    pub fn resolve_source(&self, src: &Source) -> Result<Resolved> {
        self.device(&src.device)?;
        let last: Option<CheckOut> = self.last_checkout(&src.device)?;
        let officer = match (&src.officer, &last) {
            (Some(o), _) => o.clone(),
            (None, Some(c)) => c.officer.clone(),
            (None, None) => bail!(
                "device '{}' has never been checked out, so its officer is unknown: give --officer BADGE",
                src.device
            ),
        };
        self.officer(&officer)?;
        if let Some(a) = &src.activity {
            self.activity(a)?;
        }
        Ok(Resolved {
            device: src.device.clone(),
            officer,
            activity: src.activity.clone(),
            clock_offset_ms: last.as_ref().map(|c| c.check.clock_offset_ms).unwrap_or(0),
            checkout: last.map(|c| c.id),
        })
    }

    /// Stores one file durably and returns its acknowledgement. `progress` gets the
    /// bytes stored so far.
    pub fn ingest_file(
        &self,
        actor: &Actor,
        path: &Path,
        ctx: &Resolved,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Ack> {
        self.ingest_file_with(
            actor,
            path,
            ctx,
            IngestControl {
                progress,
                cancel: &|| false,
                lanes: 1,
                watch: Watch::Path,
            },
        )
    }

    /// [`Edge::ingest_file`] with a cancellation hook and the ingests' count. When
    /// `ctl.cancel` returns true between two chunks, or the source shrinks, grows,
    /// vanishes, is replaced or fails to read, the ingest stops before anything of
    /// it is acknowledged: its chunks and pending marker are removed, an
    /// `ingest_discarded` audit entry says why, and the error is an
    /// [`IngestAbort`]. Chunks already written are not kept for a later retry: the
    /// next ingest of the file starts over, which costs time but never trusts
    /// bytes read from a device that went away.
    pub fn ingest_file_with(
        &self,
        actor: &Actor,
        path: &Path,
        ctx: &Resolved,
        ctl: IngestControl<'_>,
    ) -> Result<Ack> {
        let file = open_source(path)?;
        self.ingest_opened(actor, file, path, ctx, ctl)
    }

    /// [`Edge::ingest_file_with`] for a file already opened by [`open_source`],
    /// possibly by another process, which passed it over the control socket so
    /// that the user's own rights decide what can be read. `path` is what the file
    /// is called on the device.
    pub fn ingest_opened(
        &self,
        actor: &Actor,
        mut file: File,
        path: &Path,
        ctx: &Resolved,
        ctl: IngestControl<'_>,
    ) -> Result<Ack> {
        let IngestControl {
            progress,
            cancel,
            lanes,
            watch,
        } = ctl;
        let meta = file
            .metadata()
            .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a regular file: only recordings (files) can be ingested",
                path.display()
            );
        }
        let len = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0);
        let info = media::probe(&mut file, len, mtime, self.cfg.device_utc_offset_minutes);
        file.seek(SeekFrom::Start(0))
            .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;

        let lane = self.inflight.take_lane()?;
        let mut reservation = self.inflight.space.reserve(&self.store.path, path, len)?;
        let started = now_ms();
        let period = store::lane_period(&time::month(started), lane.lane);
        // 1. the marker that lets recovery find this ingest's chunks after a crash
        let mut tx = self.begin();
        let ingest = tx.next_counter("ingest")?;
        let pending = Pending {
            period: period.clone(),
            path: path.to_path_buf(),
            started,
        };
        tx.put_record(store::PENDING, &be64(ingest), &pending)?;
        tx.commit()?;

        // 2. chunks, then the flush that makes them durable
        let source = Opened::of(&meta, watch);
        let mut on_chunk = |done: u64| {
            reservation.advance(done);
            progress(done);
        };
        let chunks = Chunks {
            file: &file,
            path,
            len,
            ingest,
            period: &period,
            lanes,
            source: &source,
        };
        let written = self
            .write_chunks(chunks, &mut on_chunk, cancel)
            .and_then(|v| source.check(path, &file).map(|()| v));
        let (root, cvs) = match written {
            Ok(v) => v,
            Err(e) => {
                // leave no partial item: drop what was written (recovery would too)
                let _ = self.discard(ingest, &pending, &format!("{e:#}"));
                return Err(e);
            }
        };
        let hash = root.to_hex().to_string();
        let key = *root.as_bytes();

        // 3. the record, the custody event and the marker's removal, together
        let existing = self.item(&key)?;
        let mut tx = self.begin();
        tx.delete(store::PENDING, &be64(ingest))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let detail = json!({
            "path": path.display().to_string(),
            "device": ctx.device,
            "officer": ctx.officer,
            "activity": ctx.activity,
            "checkout": ctx.checkout,
            "size": len,
            "duplicate": existing.is_some(),
        });
        let (item, duplicate) = match existing {
            Some(rec) => {
                let cf = store::chunks_cf(&self.store, &period)?;
                tx.batch
                    .delete_range_cf(&cf, chunk_key(ingest, 0), chunk_key(ingest + 1, 0));
                (rec.item, true)
            }
            None => {
                let item = Item {
                    hash: root.into(),
                    size: len,
                    chunks: cvs.len() as u64,
                    kind: info.kind,
                    container: info.container.clone(),
                    original_name: name,
                    capture_start: info.capture_start_ms - ctx.clock_offset_ms,
                    duration_ms: info.duration_ms,
                    time_source: info.source,
                    clock_offset_ms: ctx.clock_offset_ms,
                    device: ctx.device.clone(),
                    officer: ctx.officer.clone(),
                    activity: ctx.activity.clone(),
                    ingested_at: now_ms(),
                    period: period.clone(),
                    county: self.cfg.county.clone(),
                    node: self.cfg.node.clone(),
                };
                tx.put_item(&ItemRecord {
                    item: item.clone(),
                    ingest,
                    center_verified_at: None,
                })?;
                tx.put(store::CVS, &key, &cvs.concat())?;
                if let Some(a) = &ctx.activity {
                    let doc_name = activity_doc(&self.cfg.county, a)?;
                    let mut d = self
                        .load_doc(&doc_name)?
                        .ok_or_else(|| anyhow!("unknown activity '{a}'"))?;
                    let mut act: jilu_common::activity::Activity = doc::get(&d, &["activity"])?
                        .ok_or_else(|| anyhow!("activity document {doc_name} holds no activity"))?;
                    act.items.push(item.hash);
                    doc::put(&mut d, &["activity"], &act)?;
                    tx.put_doc(&doc_name, &mut d)?;
                }
                (item, false)
            }
        };
        tx.audit(
            actor,
            Action::Ingest,
            format!("item:{hash}"),
            detail,
            &[key],
        )?;
        tx.commit()?;
        Ok(Ack {
            path: path.to_path_buf(),
            hash,
            size: len,
            duplicate,
            item,
        })
    }

    /// Step 2 of the protocol: reads, hashes and writes the chunks of one item into
    /// `chunks-<period>` with the WAL off, then flushes the column family so they
    /// are durable before the record is written.
    ///
    /// Three stages overlap: a reader thread reads 1 MiB chunks (four per request
    /// when direct) and hashes each (BLAKE3 over a chunk that is still in cache),
    /// this thread copies it into the
    /// memtable, and RocksDB's flush threads turn full memtables into blob files
    /// (see `store::FLUSH_JOBS` for why there are several). The flushes are the
    /// slowest stage, so the reader and this thread mostly wait on them; splitting
    /// hashing from reading, or hashing here after the put, measured the same on 2
    /// cores and would only add hand-offs.
    fn write_chunks(
        &self,
        job: Chunks<'_>,
        progress: &mut dyn FnMut(u64),
        cancel: &dyn Fn() -> bool,
    ) -> Result<(blake3::Hash, Vec<[u8; 32]>)> {
        let Chunks {
            file,
            path,
            len,
            ingest,
            period,
            lanes,
            source,
        } = job;
        let cf = store::chunks_cf(&self.store, period)?;
        if self.inflight.needs_sizing(period, lanes) {
            store::size_lane(&self.store, &cf, lanes)?;
        }
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        let chunks = chunk_count(len);
        // Reader + hasher on its own thread; bounded channels cap the bytes in flight
        // and hand buffers back for reuse, so memory does not grow with the file and
        // no chunk costs a fresh allocation (page faults and zeroing) after the first
        // few. Four chunks absorb the reader's jitter; a deeper queue (8, 16) measured
        // no faster, because the writer waits on flushes, not on the reader.
        const IN_FLIGHT: usize = 4;
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, Range<usize>, [u8; 32])>(IN_FLIGHT);
        let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let mut reader = ChunkReader::new(file);
        std::thread::scope(|scope| -> Result<(blake3::Hash, Vec<[u8; 32]>)> {
            let reader = scope.spawn(move || -> Result<()> {
                let mut hasher = TreeHasher::new();
                let mut index = 0;
                while index < chunks {
                    let n = reader.batch().min(chunks - index);
                    let mut bufs: Vec<Vec<u8>> = (0..n)
                        .map(|_| free_rx.try_recv().unwrap_or_default())
                        .collect();
                    let ranges = match reader.read_many(index, len, &mut bufs) {
                        Ok(Ok(r)) => r,
                        Ok(Err(Read::Long)) => return Err(changed(path, "grew")),
                        Ok(Err(_)) => return Err(changed(path, "shrank")),
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            return Err(changed(path, "shrank"))
                        }
                        Err(e) => return Err(changed(path, &format!("could not be read ({e})"))),
                    };
                    for (buf, range) in bufs.into_iter().zip(ranges) {
                        let cv = hasher.push(&buf[range.clone()], len);
                        if full_tx.send((buf, range, cv)).is_err() {
                            return Ok(()); // writer stopped; its error is reported
                        }
                    }
                    index += n;
                }
                if reader
                    .grew_past(len)
                    .map_err(|e| changed(path, &format!("could not be read ({e})")))?
                {
                    return Err(changed(path, "grew"));
                }
                Ok(())
            });
            let mut cvs = Vec::with_capacity(chunks as usize);
            let mut done = 0u64;
            let mut write_err = None;
            let mut abort = None;
            for (index, (buf, range, cv)) in full_rx.iter().enumerate() {
                if cancel() {
                    abort = Some(anyhow!(IngestAbort::Cancelled(path.to_path_buf())));
                    break;
                }
                if index % SOURCE_CHECK_EVERY == SOURCE_CHECK_EVERY - 1 {
                    if let Err(e) = source.check(path, file) {
                        abort = Some(e);
                        break;
                    }
                }
                if let Err(e) = self.store.db.put_cf_opt(
                    &cf,
                    chunk_key(ingest, index as u64),
                    &buf[range.clone()],
                    &wo,
                ) {
                    write_err = Some(self.store.err(e));
                    break;
                }
                done += range.len() as u64;
                progress(done);
                cvs.push(cv);
                let _ = free_tx.try_send(buf);
            }
            drop(full_rx);
            let read_result = reader
                .join()
                .map_err(|_| anyhow!("the reader thread panicked"))?;
            if let Some(e) = write_err {
                return Err(e.into());
            }
            if let Some(e) = abort {
                return Err(e);
            }
            read_result?;
            if cvs.len() as u64 != chunks {
                bail!("{} could not be read completely", path.display());
            }
            self.store.db.flush_cf(&cf).map_err(|e| self.store.err(e))?;
            let root = jilu_common::chunk_tree::root_from_cvs(&cvs);
            Ok((root, cvs))
        })
    }

    /// Removes an unacknowledged ingest's chunks and marker, leaving a trace.
    fn discard(&self, ingest: u64, pending: &Pending, why: &str) -> Result<()> {
        let cf = store::chunks_cf(&self.store, &pending.period)?;
        let mut tx = self.begin();
        tx.batch
            .delete_range_cf(&cf, chunk_key(ingest, 0), chunk_key(ingest + 1, 0));
        tx.delete(store::PENDING, &be64(ingest))?;
        tx.audit(
            "jilu",
            Action::IngestDiscarded,
            Subject::Ingest(ingest),
            json!({"path": pending.path.display().to_string(), "started": pending.started, "why": why}),
            &[],
        )?;
        tx.commit()
    }

    /// Finishes what a crash interrupted: every pending ingest is discarded (its
    /// item was never acknowledged). Returns how many there were.
    pub fn recover(&self) -> Result<usize> {
        let pending = self.store.scan(store::PENDING)?;
        for (k, v) in &pending {
            let ingest =
                store::read_be64(k).ok_or_else(|| anyhow!("a pending-ingest key is damaged"))?;
            let p: Pending = jilu_common::record::decode(v).context("a pending-ingest record")?;
            self.discard(
                ingest,
                &p,
                "interrupted before it was acknowledged (crash or kill)",
            )?;
            tracing::warn!(ingest, path = %p.path.display(), "discarded an ingest interrupted before acknowledgement");
        }
        Ok(pending.len())
    }

    /// Reads an item's chunks back and checks each against its chaining value and
    /// the whole against the root. Returns the first problem found.
    pub fn verify_item(&self, rec: &ItemRecord) -> Result<()> {
        let key = *rec.item.hash.as_bytes();
        let cvs = self.cvs(&key)?;
        if cvs.len() as u64 != rec.item.chunks {
            bail!(
                "item {}: {} chunk values stored, {} expected",
                rec.item.hash,
                cvs.len(),
                rec.item.chunks
            );
        }
        if jilu_common::chunk_tree::root_from_cvs(&cvs).as_bytes() != &key {
            bail!(
                "item {}: its chunk values do not add up to its hash",
                rec.item.hash
            );
        }
        self.for_each_chunk(rec, &mut |_, _| Ok(()))
    }

    /// Calls `f` with each verified chunk in order; a chunk that is missing or does
    /// not match its chaining value is reported as local corruption.
    pub fn for_each_chunk(
        &self,
        rec: &ItemRecord,
        f: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if self.chunks_freed(&rec.item.hash)? {
            bail!(
                "item {}: its footage was freed here after the center verified it; the center holds the copy",
                rec.item.hash
            );
        }
        let key = *rec.item.hash.as_bytes();
        let cvs = self.cvs(&key)?;
        let cf = self
            .store
            .cf(&crate::schema::footage_cf(&rec.item.period))
            .map_err(|_| {
                anyhow!(
                    "item {}: its footage (period {}) is not in this store",
                    rec.item.hash,
                    rec.item.period
                )
            })?;
        // Every chunk is checked against its BLAKE3 chaining value below, which
        // catches all that RocksDB's CRC32C of the blob record would; that CRC is
        // computed in software by the system librocksdb (see `store::FLUSH_JOBS`).
        // Skipping it, `verify` of 1 GiB (cold) went from 4.1 to 2.9 CPU-seconds
        // (user 1.7 → 0.6 s); the rest is the kernel reading the blob files.
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_verify_checksums(false);
        for index in 0..rec.item.chunks {
            let data = self
                .store
                .db
                .get_pinned_cf_opt(&cf, chunk_key(rec.ingest, index), &ro)
                .map_err(|e| self.store.err(e))?
                .ok_or_else(|| {
                    anyhow!(
                        "item {}: chunk {index} is missing from the store (local corruption)",
                        rec.item.hash
                    )
                })?;
            if !jilu_common::chunk_tree::verify_chunk(index, &data, rec.item.size, &cvs) {
                bail!(
                    "item {}: chunk {index} does not match its hash (local corruption)",
                    rec.item.hash
                );
            }
            f(index, &data)?;
        }
        Ok(())
    }
}

/// One item's chunks to write: the open source and where they go.
struct Chunks<'a> {
    file: &'a File,
    path: &'a Path,
    len: u64,
    ingest: u64,
    period: &'a str,
    lanes: usize,
    source: &'a Opened,
}

/// The kind to show for an item whose container said nothing.
pub fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Photo => "photo",
        MediaKind::Other => "other",
    }
}
