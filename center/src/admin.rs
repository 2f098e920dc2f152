//! Decisions taken at the city bureau (approve an interruption record, set a
//! hold) go into the merged documents and reach the edges at their next sync.
//!
//! While the center runs it holds its store, so `center approve` and `center
//! hold` send the decision over a local Unix socket (`<data_dir>/admin.sock`, mode
//! 0600: only the center's operator account reaches it); with the center stopped
//! they open the store themselves.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::center::Center;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Decision {
    Interruption {
        by: String,
        county: String,
        activity: String,
        interruption: String,
        approve: bool,
        note: Option<String>,
    },
    Hold {
        by: String,
        county: String,
        activity: String,
        reason: String,
    },
    /// a preservation copy was written: record it in the items' custody
    Export { copy: crate::export::Copy },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    pub message: String,
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// Applies a decision to the center's documents.
pub fn apply(center: &Center, d: &Decision) -> Result<String> {
    match d {
        Decision::Interruption {
            by,
            county,
            activity,
            interruption,
            approve,
            note,
        } => {
            center.decide_interruption(
                by,
                county,
                activity,
                interruption,
                *approve,
                note.clone(),
            )?;
            Ok(format!(
                "interruption {interruption} of {activity} {}",
                if *approve { "approved" } else { "rejected" }
            ))
        }
        Decision::Hold {
            by,
            county,
            activity,
            reason,
        } => {
            center.set_hold(by, county, activity, reason)?;
            Ok(format!("hold set on {activity}: {reason}"))
        }
        Decision::Export { copy } => crate::export::record(center, copy),
    }
}

/// Serves decisions on the admin socket until `cancel`.
pub async fn serve(center: Arc<Center>, cancel: CancellationToken) -> Result<()> {
    let path = socket_path(&center.cfg.data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .map_err(|e| anyhow!("cannot open the admin socket {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => break,
            s = listener.accept() => s?,
        };
        let center = center.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut line = String::new();
            if BufReader::new(r).read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<Decision>(&line) {
                Ok(d) => match tokio::task::spawn_blocking(move || apply(&center, &d)).await {
                    Ok(Ok(m)) => Reply {
                        ok: true,
                        message: m,
                    },
                    Ok(Err(e)) => Reply {
                        ok: false,
                        message: format!("{e:#}"),
                    },
                    Err(e) => Reply {
                        ok: false,
                        message: e.to_string(),
                    },
                },
                Err(e) => Reply {
                    ok: false,
                    message: format!("malformed decision: {e}"),
                },
            };
            if let Ok(text) = serde_json::to_string(&reply) {
                if let Err(e) = w.write_all(format!("{text}\n").as_bytes()).await {
                    warn!("admin reply: {e}");
                }
            }
        });
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Sends a decision to a running center; `None` when no center is running.
pub async fn send(data_dir: &Path, d: &Decision) -> Result<Option<Reply>> {
    let path = socket_path(data_dir);
    let stream = match tokio::net::UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let (r, mut w) = stream.into_split();
    w.write_all(format!("{}\n", serde_json::to_string(d)?).as_bytes())
        .await?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await?;
    Ok(Some(serde_json::from_str(&line)?))
}
