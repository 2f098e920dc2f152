//! Writes a bag (RFC 8493, BagIt 1.0). The bag is assembled in `<dir>.partial` and
//! renamed into place once every file and manifest is written and synced, so a
//! bag at its final path is always whole.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::digest::{self, Algorithm, Digester, Digests};
use crate::manifest;

/// A bag being written.
#[derive(Debug)]
pub struct BagWriter {
    dir: PathBuf,
    partial: PathBuf,
    payload: BTreeMap<String, Digests>,
}

/// Where a finished bag is and what it holds.
#[derive(Debug, Clone)]
pub struct Finished {
    pub dir: PathBuf,
    pub files: usize,
    pub bytes: u64,
    /// BLAKE3 of `tagmanifest-blake3.txt`: one value that pins the whole bag
    pub tag_blake3: String,
}

/// A payload path must stay inside `data/`: relative, no `..`, no empty part.
fn check_rel(rel: &str) -> Result<()> {
    let p = Path::new(rel);
    if rel.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
        bail!("'{rel}' is not a path inside a bag's data folder");
    }
    Ok(())
}

impl BagWriter {
    /// Starts a bag at `dir`, which must not exist yet.
    pub fn create(dir: &Path) -> Result<BagWriter> {
        if dir.exists() {
            bail!(
                "{} already exists: choose a new folder for the copy",
                dir.display()
            );
        }
        let name = dir
            .file_name()
            .with_context(|| format!("{} names no folder", dir.display()))?;
        let mut partial_name = name.to_os_string();
        partial_name.push(".partial");
        let partial = dir.with_file_name(partial_name);
        if partial.exists() {
            // left by a copy that was interrupted: it was never a bag
            fs::remove_dir_all(&partial)
                .with_context(|| format!("cannot remove {}", partial.display()))?;
        }
        fs::create_dir_all(partial.join("data"))
            .with_context(|| format!("cannot create {}", partial.display()))?;
        Ok(BagWriter {
            dir: dir.to_path_buf(),
            partial,
            payload: BTreeMap::new(),
        })
    }

    /// Copies `src` into `data/<rel>`, digesting it on the way.
    pub fn add(&mut self, rel: &str, src: impl Read) -> Result<Digests> {
        check_rel(rel)?;
        if self.payload.contains_key(rel) {
            bail!("the bag already holds data/{rel}");
        }
        let path = self.partial.join("data").join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut out =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut d = Digester::new();
        digest::for_each_block(src, |b| {
            d.update(b);
            out.write_all(b)
        })
        .with_context(|| format!("cannot copy into {}", path.display()))?;
        out.sync_all()?;
        let digests = d.finish();
        self.payload.insert(rel.to_string(), digests.clone());
        Ok(digests)
    }

    /// Writes the manifests, `bagit.txt`, `bag-info.txt` (with `info`'s fields and the
    /// Payload-Oxum) and the tag manifests, then moves the bag into place.
    pub fn finish(self, info: &[(&str, String)]) -> Result<Finished> {
        let bytes: u64 = self.payload.values().map(|d| d.len).sum();
        let mut tags: Vec<(String, String)> = vec![(
            "bagit.txt".into(),
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".into(),
        )];
        let mut bag_info = String::new();
        for (k, v) in info {
            bag_info.push_str(&format!("{k}: {}\n", v.replace(['\n', '\r'], " ")));
        }
        bag_info.push_str(&format!("Payload-Oxum: {bytes}.{}\n", self.payload.len()));
        tags.push(("bag-info.txt".into(), bag_info));
        for a in Algorithm::ALL {
            let entries = self
                .payload
                .iter()
                .map(|(rel, d)| (format!("data/{rel}"), d.get(a).to_string()))
                .collect();
            tags.push((
                format!("manifest-{}.txt", a.name()),
                manifest::render(&entries),
            ));
        }
        let mut tag_digests = BTreeMap::new();
        for (name, text) in &tags {
            write_synced(&self.partial.join(name), text.as_bytes())?;
            tag_digests.insert(name.clone(), digest::of_reader(text.as_bytes())?);
        }
        let mut tag_blake3 = String::new();
        for a in Algorithm::ALL {
            let entries = tag_digests
                .iter()
                .map(|(n, d)| (n.clone(), d.get(a).to_string()))
                .collect();
            let text = manifest::render(&entries);
            if a == Algorithm::Blake3 {
                tag_blake3 = blake3::hash(text.as_bytes()).to_hex().to_string();
            }
            write_synced(
                &self.partial.join(format!("tagmanifest-{}.txt", a.name())),
                text.as_bytes(),
            )?;
        }
        fs::rename(&self.partial, &self.dir).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.partial.display(),
                self.dir.display()
            )
        })?;
        if let Some(parent) = self.dir.parent() {
            File::open(parent).and_then(|d| d.sync_all()).ok();
        }
        Ok(Finished {
            dir: self.dir,
            files: self.payload.len(),
            bytes,
            tag_blake3,
        })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
