//! The running node: what `edge-node run` (and `sync`, and `dock watch`) is while
//! it holds the store. It opens the store once, serves every other command
//! through the control socket ([`crate::control`]), runs its own work (sync with
//! the center, dock watch), and stops in a fixed order within a deadline.
//!
//! Shutdown (SIGTERM, SIGINT, or the work ending): the root token is cancelled;
//! the control socket stops taking commands; a dock ingest or a forwarded ingest
//! stops at its next chunk and is discarded as a crash would be (nothing partial
//! becomes visible); the sync stops (each document's sync state was committed
//! with the document; an item stream cut short leaves the center its durable
//! chunks to resume from). Whatever has not ended by the deadline is left to
//! the crash protocol: the process exits, and the next open discards any
//! unacknowledged ingest.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use jilu_common::time::Millis;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::output::Out;
use crate::control;
use crate::edge::{now_ms, Edge};
use crate::store::StoreError;
use crate::uplink::Hooks;

/// How long a node waits, by default, for its work to stop after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's own continuous sync.
#[derive(Debug, Clone)]
pub struct Sync {
    pub hooks: Hooks,
}

/// A running node, as the commands it serves see it.
#[derive(Debug)]
pub struct Service {
    pub edge: Arc<Edge>,
    pub rt: tokio::runtime::Handle,
    /// cancelled when the node stops
    pub stop: CancellationToken,
    /// `edge-node run`, `edge-node sync` or `edge-node dock watch`
    pub what: String,
    pub pid: u32,
    pub since: Millis,
    /// set when the node syncs with the center on its own
    pub sync: Mutex<Option<Sync>>,
    /// dock folders being watched
    pub docks: Mutex<Vec<PathBuf>>,
    /// what each docked camera's ingest has done and has left (`status`)
    pub dock_progress: crate::dock::progress::SharedProgress,
}

impl Service {
    /// The node as the one-line description used in messages.
    pub fn describe(&self) -> String {
        format!(
            "{} (pid {}, since {})",
            self.what,
            self.pid,
            jilu_common::time::format(self.since)
        )
    }

    /// The docked cameras' progress, when the node watches a dock.
    pub fn dock_snapshot(&self) -> Option<crate::dock::progress::DockSnapshot> {
        let running = !self
            .docks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        running.then(|| {
            self.dock_progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .snapshot()
        })
    }

    pub fn sync_hooks(&self) -> Option<Hooks> {
        self.sync
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.hooks.clone())
    }

    /// Claims dock folder `dir` for a watch; refused when it is already watched.
    pub fn claim_dock(&self, dir: &Path) -> Result<DockClaim<'_>> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut docks = self.docks.lock().unwrap_or_else(|p| p.into_inner());
        if docks.contains(&dir) {
            bail!(
                "{} is already watched by the running node, {}",
                dir.display(),
                self.describe()
            );
        }
        docks.push(dir.clone());
        Ok(DockClaim { service: self, dir })
    }
}

/// A dock folder being watched; released on drop.
#[derive(Debug)]
pub struct DockClaim<'a> {
    service: &'a Service,
    dir: PathBuf,
}

impl Drop for DockClaim<'_> {
    fn drop(&mut self) {
        self.service
            .docks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|d| d != &self.dir);
    }
}

/// How often a node that waits for the store says so.
const WAIT_NOTE: Duration = Duration::from_secs(10);

/// Opens the store read-write for a node that is starting. Another command that
/// still holds it is waited for (a one-shot command ends); a node already
/// running is an error naming it. Interrupted ingests are discarded.
pub fn open_for_service(dir: &Path, out: &mut Out<'_>) -> Result<Edge> {
    let started = Instant::now();
    let mut noted = None::<Instant>;
    loop {
        if let Some(running) = control::client::running_node(dir)? {
            bail!("this node is already running: {running}; stop it first (or send it commands: they reach it)");
        }
        match crate::cli::context::open_rw(dir, out) {
            Ok(edge) => return Ok(edge),
            Err(e) if matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Locked(_))) => {
                if noted.is_none_or(|t| t.elapsed() >= WAIT_NOTE) {
                    info!(
                        waited_s = started.elapsed().as_secs(),
                        "another edge-node command holds the store: waiting for it to finish"
                    );
                    noted = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Starts serving: binds the control socket and takes commands until `stop`.
/// Returns the service and the task that serves the socket.
pub fn start(
    edge: Arc<Edge>,
    rt: &tokio::runtime::Runtime,
    what: &str,
) -> Result<(Arc<Service>, tokio::task::JoinHandle<()>)> {
    let service = Arc::new(Service {
        edge,
        rt: rt.handle().clone(),
        stop: CancellationToken::new(),
        what: what.to_string(),
        pid: std::process::id(),
        since: now_ms(),
        sync: Mutex::new(None),
        docks: Mutex::new(Vec::new()),
        dock_progress: crate::dock::progress::DockProgress::shared(),
    });
    let dir = service
        .edge
        .store
        .path
        .parent()
        .ok_or_else(|| anyhow!("the store has no data directory"))?
        .to_path_buf();
    let listener = {
        let _guard = rt.enter();
        control::server::bind(&dir)?
    };
    let serving = rt.spawn(control::server::serve(listener, service.clone()));
    info!(node = %service.edge.cfg.node, "serving commands on {}", control::socket_path(&dir).display());
    Ok((service, serving))
}

/// Waits for SIGTERM or SIGINT, or for `done` to be cancelled (the node's work
/// ended on its own).
pub async fn until_signal(done: &CancellationToken) -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = done.cancelled() => {}
    }
    Ok(())
}

/// Stops the node: cancels everything it runs and waits for the socket's
/// commands to end, at most until `deadline`.
pub async fn shutdown(service: &Service, serving: tokio::task::JoinHandle<()>, deadline: Instant) {
    service.stop.cancel();
    let left = deadline.saturating_duration_since(Instant::now());
    if tokio::time::timeout(left, serving).await.is_err() {
        warn!("commands still running at the stop deadline were left to the crash protocol");
    } else {
        info!("stopping: the control socket is closed and its commands have ended");
    }
    let dir = service.edge.store.path.parent().map(Path::to_path_buf);
    if let Some(dir) = dir {
        let _ = std::fs::remove_file(control::socket_path(&dir));
    }
}
