//! `audit verify`, `audit show` and `docs`: what an auditor checks (art. 18) and
//! the Automerge documents the node holds.

use anyhow::{anyhow, Result};
use clap::Subcommand;
use jilu_common::audit;
use jilu_common::time;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::Ctx;

#[derive(Subcommand, Debug, Clone, Serialize, Deserialize)]
pub enum AuditCmd {
    /// Check the whole log: any edited, dropped or reordered entry is reported.
    Verify,
    /// Print the log.
    Show {
        /// Only entries about this subject (e.g. device:cam-01, item:HASH).
        #[arg(long)]
        subject: Option<String>,
    },
}

/// Exit status 1 when the log is broken.
pub fn audit(ctx: &mut Ctx<'_>, cmd: &AuditCmd) -> Result<u8> {
    match cmd {
        AuditCmd::Verify => {
            let edge = ctx.ro()?;
            let report = edge.verify_audit()?;
            if ctx.out.json {
                ctx.out.value(&serde_json::to_value(&report)?);
            } else if report.is_intact() {
                ctx.out.line(format!(
                    "audit log intact: {} entries, head {}",
                    report.entries,
                    audit::hex32::to_hex(&report.last_hash)
                ));
            } else {
                ctx.out.line(format!(
                    "audit log BROKEN: {} entries, {} problems",
                    report.entries,
                    report.problems.len()
                ));
                for p in &report.problems {
                    ctx.out.line(format!("  {p}"));
                }
            }
            Ok(u8::from(!report.is_intact()))
        }
        AuditCmd::Show { subject } => {
            let edge = ctx.ro()?;
            for (_, bytes) in edge.audit_entries()? {
                let e = audit::Entry::decode(&bytes).map_err(|_| {
                    anyhow!("an audit entry is unreadable: run `edge-node audit verify`")
                })?;
                if subject
                    .as_ref()
                    .is_some_and(|s| !e.subject.starts_with(s.as_str()))
                {
                    continue;
                }
                ctx.out.show(&serde_json::to_value(&e)?, || {
                    format!(
                        "#{:<5} {}  {:<18} {:<10} {}  {}",
                        e.seq,
                        time::format(e.at),
                        format!("{:?}", e.action),
                        e.actor,
                        e.subject,
                        e.detail
                    )
                });
            }
            Ok(0)
        }
    }
}

pub fn docs(ctx: &mut Ctx<'_>) -> Result<()> {
    let edge = ctx.ro()?;
    for name in edge.doc_names("")? {
        if let Some(mut d) = edge.load_doc(&name)? {
            let mut heads: Vec<String> = d.get_heads().iter().map(|h| h.to_string()).collect();
            heads.sort();
            if ctx.out.json {
                ctx.out.value(
                    &json!({"name": name, "heads": heads, "content": jilu_common::doc::to_json(&d)?}),
                );
            } else {
                ctx.out.line(format!("{name:<40} {}", heads.join(",")));
            }
        }
    }
    Ok(())
}
