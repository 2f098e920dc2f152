//! The center's verified footage: content-addressed files on local disk,
//! `blobs/<2 hex>/<64 hex>`, written as `blobs/partial/<hash>.<node>` (one partial
//! file per item and sending node, so nodes never write into each other's upload)
//! until every chunk has verified, then re-hashed whole, fsynced, renamed into place and the directory
//! fsynced, so a blob under its hash is always complete and correct.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use jilu_common::chunk_tree::CHUNK_SIZE;

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

fn hex(hash: &[u8; 32]) -> String {
    blake3::Hash::from_bytes(*hash).to_hex().to_string()
}

impl Blobs {
    pub fn open(root: &Path) -> Result<Blobs> {
        std::fs::create_dir_all(root.join("partial"))
            .with_context(|| format!("cannot create {}", root.display()))?;
        Ok(Blobs {
            root: root.to_path_buf(),
        })
    }

    pub fn path(&self, hash: &[u8; 32]) -> PathBuf {
        let h = hex(hash);
        self.root.join(&h[..2]).join(h)
    }

    fn partial(&self, hash: &[u8; 32], node: &str) -> PathBuf {
        // node names follow the id rule (certificate identities): safe in a file name
        self.root
            .join("partial")
            .join(format!("{}.{node}", hex(hash)))
    }

    /// Every partial file: its path, size and last modification.
    pub fn partials(&self) -> Result<Vec<(PathBuf, u64, std::time::SystemTime)>> {
        let mut out = Vec::new();
        for e in
            std::fs::read_dir(self.root.join("partial")).context("cannot list partial blobs")?
        {
            let e = e?;
            let m = e.metadata()?;
            if m.is_file() {
                out.push((e.path(), m.len(), m.modified()?));
            }
        }
        Ok(out)
    }

    /// The partial file of `hash` from `node` (for expiry).
    pub fn partial_path(&self, hash: &[u8; 32], node: &str) -> PathBuf {
        self.partial(hash, node)
    }

    /// Reads chunk `index` of a verified blob (proofs of possession).
    pub fn read_chunk(&self, hash: &[u8; 32], index: u64, size: u64) -> Option<Vec<u8>> {
        let f = File::open(self.path(hash)).ok()?;
        let len = jilu_common::chunk_tree::chunk_len(index, size);
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, index * CHUNK_SIZE as u64).ok()?;
        Some(buf)
    }

    pub fn has(&self, hash: &[u8; 32]) -> bool {
        self.path(hash).exists()
    }

    /// Writes a verified chunk into the item's partial file.
    pub fn write_chunk(&self, hash: &[u8; 32], node: &str, index: u64, data: &[u8]) -> Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.partial(hash, node))
            .context("cannot open a partial blob")?;
        f.write_all_at(data, index * CHUNK_SIZE as u64)
            .context("cannot write a chunk")?;
        Ok(())
    }

    /// Makes written chunks durable (before they are recorded as held).
    pub fn sync(&self, hash: &[u8; 32], node: &str) -> Result<()> {
        match File::open(self.partial(hash, node)) {
            Ok(f) => f.sync_data().context("cannot fsync a partial blob"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("cannot open a partial blob"),
        }
    }

    /// Re-hashes the whole partial file; if it is the item, moves it into place.
    pub fn finish(&self, hash: &[u8; 32], node: &str, size: u64) -> Result<()> {
        let partial = self.partial(hash, node);
        if size == 0 {
            File::create(&partial).context("cannot create an empty blob")?;
        }
        let mut f = File::open(&partial).context("cannot open a partial blob")?;
        let len = f.metadata()?.len();
        if len != size {
            bail!("partial blob has {len} bytes, expected {size}");
        }
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; CHUNK_SIZE];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hasher.finalize().as_bytes() != hash {
            // never keep bytes that do not match: start this item over
            let _ = std::fs::remove_file(&partial);
            bail!("the assembled blob does not hash to {}", hex(hash));
        }
        f.sync_all()?;
        let dest = self.path(hash);
        let dir = dest
            .parent()
            .ok_or_else(|| anyhow!("blob path has no parent"))?;
        std::fs::create_dir_all(dir)?;
        std::fs::rename(&partial, &dest).context("cannot move a verified blob into place")?;
        File::open(dir)?
            .sync_all()
            .context("cannot fsync the blob directory")?;
        Ok(())
    }

    /// Drops a partial file (its bitmap was lost or the offer changed).
    pub fn discard_partial(&self, hash: &[u8; 32], node: &str) {
        let _ = std::fs::remove_file(self.partial(hash, node));
    }

    /// Reads a verified blob back whole (tests, exports, the replica later).
    pub fn read(&self, hash: &[u8; 32]) -> Result<Vec<u8>> {
        std::fs::read(self.path(hash)).with_context(|| format!("blob {} is not here", hex(hash)))
    }
}
