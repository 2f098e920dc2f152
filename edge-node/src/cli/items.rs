//! `items`, `item`, `export` and `verify`: the recordings this node holds. Looking
//! at one and copying one out are accesses, and are written in the audit log.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use jilu_common::audit::Action;
use jilu_common::time;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::Ctx;
use super::output::one_line;
use crate::edge::{Edge, ItemRecord};
use crate::ingest::kind_name;

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct ItemsArgs {
    /// Only recordings not linked to an activity.
    #[arg(long)]
    pub unlinked: bool,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct ItemArgs {
    /// The recording's hash, or a unique prefix of at least 6 hex digits.
    pub hash: String,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct ExportArgs {
    /// The recording's hash, or a unique prefix of at least 6 hex digits.
    pub hash: String,
    /// Where to write the file (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct VerifyArgs {
    /// Only this item (default: all).
    pub hash: Option<String>,
}

pub fn items(ctx: &mut Ctx<'_>, a: &ItemsArgs) -> Result<()> {
    let edge = ctx.ro()?;
    for r in edge.items()? {
        if a.unlinked && r.item.activity.is_some() {
            continue;
        }
        ctx.out.show(&serde_json::to_value(&r)?, || {
            format!(
                "{}  {:<6} {:>10} B  {}  {}  {}  {}",
                &r.item.hash.to_hex()[..16],
                kind_name(r.item.kind),
                r.item.size,
                time::format(r.item.capture_start),
                r.item.device,
                r.item.activity.as_deref().unwrap_or("(unlinked)"),
                r.item.original_name
            )
        });
    }
    Ok(())
}

pub fn item(ctx: &mut Ctx<'_>, a: &ItemArgs) -> Result<()> {
    let edge = ctx.rw()?;
    let rec = edge.resolve_item(&a.hash)?;
    let key = *rec.item.hash.as_bytes();
    let mut tx = edge.begin();
    tx.audit(
        &ctx.actor,
        Action::Access,
        format!("item:{}", rec.item.hash),
        json!({"what": "details"}),
        &[key],
    )?;
    tx.commit()?;
    let custody = edge.custody(&key)?;
    if ctx.out.json {
        ctx.out.value(&json!({"item": rec, "custody": custody}));
    } else {
        ctx.out.line(serde_json::to_string_pretty(&rec)?);
        ctx.out.line("custody:");
        for e in custody {
            ctx.out.line(format!(
                "  #{} {} {:?} by {} {}",
                e.seq,
                time::format(e.at),
                e.action,
                e.actor,
                e.detail
            ));
        }
    }
    Ok(())
}

pub fn export(ctx: &mut Ctx<'_>, a: &ExportArgs) -> Result<()> {
    let edge = ctx.rw()?;
    let rec = edge.resolve_item(&a.hash)?;
    write_out(ctx, &edge, &rec, &a.out)?;
    let out = &a.out;
    ctx.out
        .show(&json!({"exported": rec.item.hash, "to": out}), || {
            format!("exported {} to {} (verified)", rec.item.hash, out.display())
        });
    Ok(())
}

/// Writes an item out, verified chunk by chunk, to a new file (temp + fsync +
/// rename). The file is created by the user's own process ([`super::context::Files`]),
/// so it belongs to them and lands only where they may write.
fn write_out(ctx: &mut Ctx<'_>, edge: &Edge, rec: &ItemRecord, out: &Path) -> Result<()> {
    if ctx.files.exists(out)? {
        bail!("{} already exists: choose a new file name", out.display());
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.jilu-export", rec.item.hash));
    let mut f = ctx.files.create_new(&tmp)?;
    let cancel = ctx.cancel;
    let written = edge.for_each_chunk(rec, &mut |_, data| {
        if cancel() {
            bail!("export cancelled: nothing was written to {}", out.display());
        }
        Ok(f.write_all(data)?)
    });
    if let Err(e) = written.and_then(|_| Ok(f.sync_all()?)) {
        let _ = ctx.files.remove(&tmp);
        return Err(e);
    }
    drop(f);
    if let Err(e) = ctx.files.rename(&tmp, out) {
        let _ = ctx.files.remove(&tmp);
        return Err(e);
    }
    let key = *rec.item.hash.as_bytes();
    let mut tx = edge.begin();
    tx.audit(
        &ctx.actor,
        Action::Export,
        format!("item:{}", rec.item.hash),
        json!({"to": out.display().to_string()}),
        &[key],
    )?;
    tx.commit()
}

/// Exit status 1 when any item is corrupt.
pub fn verify(ctx: &mut Ctx<'_>, a: &VerifyArgs) -> Result<u8> {
    let edge = ctx.ro()?;
    let records = match &a.hash {
        Some(h) => vec![edge.resolve_item(h)?],
        None => edge.items()?,
    };
    let (mut bad, mut freed) = (0, 0);
    for r in &records {
        // footage freed after the center verified it is not corruption
        if edge.chunks_freed(&r.item.hash)? {
            freed += 1;
            if ctx.out.json {
                ctx.out
                    .value(&json!({"hash": r.item.hash, "ok": true, "freed": true}));
            }
            continue;
        }
        let result = edge.verify_item(r);
        if ctx.out.json {
            ctx.out.value(&json!({"hash": r.item.hash, "ok": result.is_ok(), "error": result.as_ref().err().map(|e| format!("{e:#}"))}));
        } else if let Err(e) = &result {
            ctx.out.line(format!("CORRUPT {}", one_line(e)));
        }
        bad += usize::from(result.is_err());
    }
    ctx.out.say(|| {
        format!(
            "{} items checked, {} intact, {} corrupt{}",
            records.len(),
            records.len() - bad - freed,
            bad,
            if freed > 0 {
                format!(", {freed} freed after center verification")
            } else {
                String::new()
            }
        )
    });
    Ok(u8::from(bad > 0))
}
