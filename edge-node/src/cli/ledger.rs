//! `checkout`, `checkin` and `ledger`: who took which device when, after which
//! pre-use check (art. 4, 7).

use anyhow::Result;
use clap::Args;
use jilu_common::time;
use serde::{Deserialize, Serialize};

use super::context::Ctx;
use super::parse_time;
use crate::edge::now_ms;
use crate::ledger::CheckOutRequest;

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutArgs {
    pub device: String,
    /// Badge of the officer taking it.
    #[arg(long)]
    pub officer: String,
    /// What it is taken for (记录内容).
    #[arg(long)]
    pub purpose: String,
    /// Battery charge, percent.
    #[arg(long)]
    pub battery: u8,
    /// Free storage on the device, MB.
    #[arg(long)]
    pub free_mb: u64,
    /// Does the device power on and record? yes or no.
    #[arg(long, value_parser = parse_yes_no, action = clap::ArgAction::Set)]
    pub works: bool,
    /// The time the device shows right now (RFC 3339); compared with the station's clock.
    #[arg(long)]
    pub device_clock: String,
    /// Check out although the pre-use check failed, for this reason (recorded).
    #[arg(long = "override")]
    pub override_reason: Option<String>,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct CheckinArgs {
    pub device: String,
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct LedgerArgs {
    /// YYYY-MM
    #[arg(long)]
    pub month: Option<String>,
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" | "y" | "true" => Ok(true),
        "no" | "n" | "false" => Ok(false),
        _ => Err(format!("'{s}': answer yes or no")),
    }
}

pub fn checkout(ctx: &mut Ctx<'_>, a: &CheckoutArgs) -> Result<()> {
    let device_clock = parse_time(&a.device_clock)?;
    let edge = ctx.rw()?;
    let rec = edge.check_out(
        &ctx.actor,
        CheckOutRequest {
            device: a.device.clone(),
            officer: a.officer.clone(),
            purpose: a.purpose.clone(),
            battery_pct: a.battery,
            free_storage_mb: a.free_mb,
            works: a.works,
            device_clock,
            override_reason: a.override_reason.clone(),
        },
    )?;
    ctx.out.show(&serde_json::to_value(&rec)?, || {
        format!(
            "checked out {} to {} ({}); device clock offset {} ms{}",
            rec.device,
            rec.officer,
            rec.id,
            rec.check.clock_offset_ms,
            rec.override_reason
                .as_ref()
                .map(|r| format!("; check overridden: {r}"))
                .unwrap_or_default()
        )
    });
    Ok(())
}

pub fn checkin(ctx: &mut Ctx<'_>, a: &CheckinArgs) -> Result<()> {
    let edge = ctx.rw()?;
    let rec = edge.check_in(&ctx.actor, &a.device, a.note.clone())?;
    ctx.out.show(&serde_json::to_value(&rec)?, || {
        format!("checked in {} ({})", rec.device, rec.id)
    });
    Ok(())
}

pub fn ledger(ctx: &mut Ctx<'_>, a: &LedgerArgs) -> Result<()> {
    let edge = ctx.ro()?;
    let month = a.month.clone().unwrap_or_else(|| time::month(now_ms()));
    for c in edge.ledger(&month)? {
        ctx.out.show(&serde_json::to_value(&c)?, || {
            format!(
                "{}  {} -> {}  out {}  in {}  battery {}% free {} MB clock {:+} ms  {}{}",
                c.id,
                c.device,
                c.officer,
                time::format(c.out_at),
                c.in_at.map(time::format).unwrap_or_else(|| "-".into()),
                c.check.battery_pct,
                c.check.free_storage_mb,
                c.check.clock_offset_ms,
                c.purpose,
                c.override_reason
                    .as_ref()
                    .map(|r| format!("  [override: {r}]"))
                    .unwrap_or_default()
            )
        });
    }
    Ok(())
}
