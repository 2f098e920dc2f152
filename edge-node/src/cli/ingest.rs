//! `ingest`: store footage durably from files or a docked device's folder, one
//! acknowledgement per file, with a progress bar on a terminal.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use super::context::Ctx;
use super::output::one_line;
use crate::ingest::{kind_name, IngestControl, Source};
use crate::store::StoreError;

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct IngestArgs {
    /// Files, or a docked device's folder.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Device the footage comes from.
    #[arg(long)]
    pub device: String,
    /// Officer who recorded it (default: the device's latest check-out).
    #[arg(long)]
    pub officer: Option<String>,
    /// Activity the footage belongs to.
    #[arg(long)]
    pub activity: Option<String>,
}

/// Exit status 1 when any file was not stored (the others are acknowledged).
pub fn ingest(ctx: &mut Ctx<'_>, a: &IngestArgs) -> Result<u8> {
    let files = ctx.files.plan(&a.paths)?;
    let edge = ctx.rw()?;
    let source = edge.resolve_source(&Source {
        device: a.device.clone(),
        officer: a.officer.clone(),
        activity: a.activity.clone(),
    })?;
    let mut failed = 0usize;
    for (n, path) in files.iter().enumerate() {
        if (ctx.cancel)() {
            bail!(
                "ingest cancelled: {} of {} files were not stored; those acknowledged above are",
                files.len() - n,
                files.len()
            );
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = ctx.files.open_source(path).and_then(|file| {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            ctx.out.bar_start(name, len);
            let out = &mut ctx.out;
            let r = edge.ingest_opened(
                &ctx.actor,
                file,
                path,
                &source,
                IngestControl {
                    progress: &mut |done| out.bar_pos(done),
                    cancel: ctx.cancel,
                    lanes: 1,
                    watch: ctx.files.watch(),
                },
            );
            ctx.out.bar_end();
            r
        });
        match result {
            Ok(ack) => {
                ctx.out.show(&serde_json::to_value(&ack)?, || {
                    format!(
                        "stored {} ({} B, {}) as {}{}",
                        path.display(),
                        ack.size,
                        kind_name(ack.item.kind),
                        ack.hash,
                        if ack.duplicate {
                            " (already held: custody event added)"
                        } else {
                            ""
                        }
                    )
                });
            }
            Err(e) => {
                if (ctx.cancel)() {
                    bail!(
                        "ingest cancelled: {} was not stored, nor the {} files after it; those acknowledged above are",
                        path.display(),
                        files.len() - n - 1
                    );
                }
                ctx.out.note(format!("error: {}", one_line(&e)));
                failed += 1;
                if matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::DiskFull(_))
                ) {
                    bail!(
                        "stopped: the store's disk is full ({} of {} files not stored)",
                        files.len() - n,
                        files.len()
                    );
                }
            }
        }
    }
    if failed > 0 {
        if !ctx.out.json && files.len() > 1 {
            ctx.out.note(format!(
                "{failed} of {} files were not stored; the others are stored and acknowledged above",
                files.len()
            ));
        }
        return Ok(1);
    }
    Ok(0)
}
