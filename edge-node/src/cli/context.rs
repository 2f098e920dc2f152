//! What a command runs with: its output, who acts, the node's store, the user's
//! files, and whether the user asked to stop. One command runs the same way in
//! this process (no node running) and inside the running node (through the
//! control socket): only what [`Ctx`] holds differs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::output::Out;
use crate::edge::Edge;
use crate::service::Service;
use crate::store::Mode;

/// Where the node's store comes from.
#[derive(Debug)]
pub enum Node {
    /// No node is running: this process opens the store at `dir`, and keeps the
    /// read-write handle once it has one.
    Local { dir: PathBuf, rw: Option<Arc<Edge>> },
    /// Inside the running node: its open store.
    Running(Arc<Edge>),
}

/// Files the user names on the command line (recordings to ingest, an export's
/// destination) are opened with the user's own rights: by this process, or by the
/// CLI on the other end of the control socket, which passes the open file across.
/// The running node may run as a service account that cannot (and should not)
/// read a keeper's USB stick or write into their home folder.
pub trait Files {
    /// The files of `paths` in ingest order (folders walked), as [`crate::ingest::plan`].
    fn plan(&mut self, paths: &[PathBuf]) -> Result<Vec<PathBuf>>;
    /// Opens a recording: a regular file, for reading ([`crate::ingest::open_source`]).
    fn open_source(&mut self, path: &Path) -> Result<File>;
    /// Whether `path` exists.
    fn exists(&mut self, path: &Path) -> Result<bool>;
    /// Creates `path`, which must not exist, for writing.
    fn create_new(&mut self, path: &Path) -> Result<File>;
    /// Moves a finished file into place.
    fn rename(&mut self, from: &Path, to: &Path) -> Result<()>;
    /// Removes a file left unfinished.
    fn remove(&mut self, path: &Path) -> Result<()>;
    /// How an ingest can tell that a file opened here is still the same file.
    fn watch(&self) -> crate::ingest::Watch;
}

/// The files of this process's user.
#[derive(Debug, Default)]
pub struct OwnFiles;

impl Files for OwnFiles {
    fn plan(&mut self, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        crate::ingest::plan(paths)
    }
    fn open_source(&mut self, path: &Path) -> Result<File> {
        crate::ingest::open_source(path)
    }
    fn exists(&mut self, path: &Path) -> Result<bool> {
        Ok(path.exists())
    }
    fn create_new(&mut self, path: &Path) -> Result<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    }
    fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(|e| anyhow!("cannot write {}: {e}", to.display()))
    }
    fn remove(&mut self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(|e| anyhow!("cannot remove {}: {e}", path.display()))
    }
    fn watch(&self) -> crate::ingest::Watch {
        crate::ingest::Watch::Path
    }
}

pub struct Ctx<'a> {
    pub out: Out<'a>,
    /// who acts, as written in the audit log: the `--as` name and the OS user of
    /// the process that asked (the CLI on the other end of the control socket, or
    /// this process), so a shared kiosk account is visible
    pub actor: jilu_common::subject::Actor,
    pub node: Node,
    pub files: &'a mut dyn Files,
    /// true once the user asked to stop (Ctrl-C, or the CLI went away)
    pub cancel: &'a dyn Fn() -> bool,
    /// the running node's services, when the command runs inside it
    pub service: Option<&'a Service>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("actor", &self.actor)
            .field("node", &self.node)
            .finish()
    }
}

impl Ctx<'_> {
    /// The store, for a command that changes things. Opening it here cleans up
    /// after an interrupted ingest first, and says so.
    pub fn rw(&mut self) -> Result<Arc<Edge>> {
        match &mut self.node {
            Node::Running(edge) => Ok(edge.clone()),
            Node::Local { rw: Some(edge), .. } => Ok(edge.clone()),
            Node::Local { dir, rw } => {
                let edge = Arc::new(open_rw(dir, &mut self.out)?);
                *rw = Some(edge.clone());
                Ok(edge)
            }
        }
    }

    /// The store, for a command that only reads: beside a running writer, a
    /// read-only open works without waiting for it.
    pub fn ro(&mut self) -> Result<Arc<Edge>> {
        match &self.node {
            Node::Running(edge) => Ok(edge.clone()),
            Node::Local { rw: Some(edge), .. } => Ok(edge.clone()),
            Node::Local { dir, .. } => Ok(Arc::new(Edge::open(dir, Mode::ReadOnly)?)),
        }
    }
}

/// Opens the store read-write and discards ingests a crash interrupted.
pub fn open_rw(dir: &Path, out: &mut Out<'_>) -> Result<Edge> {
    let edge = Edge::open(dir, Mode::ReadWrite)?;
    let n = edge.recover()?;
    if n > 0 {
        out.note(format!("note: discarded {n} ingest(s) interrupted before they were acknowledged (their files are still on the device; see `edge-node audit show`)"));
    }
    Ok(edge)
}
