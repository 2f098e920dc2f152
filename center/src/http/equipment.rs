//! `GET /api/v1/devices/{county}/{device}`: a device with its registry entry and
//! a page of its check-out ledger (who took it, when, returned; the pre-use
//! check, any override and its reason, the clock offset measured at check-out);
//! `GET /api/v1/reports/equipment`: devices per officer of each county against
//! `[report] devices_per_officer` (art. 3). Both from the projections of the
//! counties' registry and ledger documents ([`crate::equipment`]); operational
//! metadata, so a keeper sees the own county's, and a ledger line is shown only
//! to whom its officer's records are visible.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::Json;
use jilu_common::access::{Op, Principal, Verdict};
use jilu_common::equipment;
use serde_json::{json, Value};

use super::auth::Call;
use super::error::ApiError;
use super::operations::operations;
use super::records::Params;
use super::visibility::Seer;
use crate::center::Center;
use crate::index::keys::{self, Key};
use crate::index::query::{self, Range};
use crate::index::{DeviceRow, LedgerRow, RegistryRow};
use crate::schema::INDEX;

pub const DEVICE_PARAMS: [&str; 2] = ["limit", "cursor"];

pub fn one_device(
    c: &Center,
    who: &Principal,
    (county, device): (&str, &str),
    p: &Params,
) -> Result<Value, ApiError> {
    operations(who)?;
    if who.county.as_deref().is_some_and(|own| own != county) {
        return Err(ApiError::hidden("such device"));
    }
    let row: DeviceRow = c
        .journal
        .store
        .get_record(INDEX, &keys::device_row(county, device))?
        .ok_or_else(|| ApiError::not_found("such device"))?;
    let range = Range {
        prefix: keys::ledger_lines(county, device),
        cursor: p.cursor()?,
        ..Range::default()
    };
    let limit = p.limit()?;
    let seer = Seer::new(c, who);
    let mut lines = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit * 20 + 200, |k| {
        let Some(l) = c.journal.store.get_record::<LedgerRow>(INDEX, k)? else {
            return Ok(false);
        };
        let officers = std::slice::from_ref(&l.checkout.officer);
        if seer.plain(Op::ReadRecord, county, officers) != Verdict::Allow {
            return Ok(false);
        }
        lines.push(serde_json::to_value(&l)?);
        Ok(true)
    })?;
    Ok(json!({
        "county": row.county,
        "device": row.device,
        "registered": row.registered,
        "items": row.items,
        "last_capture": (row.items > 0).then_some(row.last_capture),
        "checkouts": lines,
        "next": next.map(|k| query::encode_cursor(&k)),
    }))
}

pub async fn device(
    call: Call,
    Path((county, device)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| one_device(c, who, (&county, &device), &Params::new(q, &DEVICE_PARAMS)?))
        .await
        .map(Json)
}

pub const REPORT_PARAMS: [&str; 3] = ["county", "limit", "cursor"];

/// One page of counties with their equipment ratio; `below`: under the target.
pub fn equipment_report(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    operations(who)?;
    let target = c.cfg.report.devices_per_officer;
    let county = match (p.text("county"), who.county.as_deref()) {
        (Some(g), Some(own)) if g != own => {
            return Ok(json!({"target": target, "units": [], "next": null}))
        }
        (g, own) => own.or(g),
    };
    let range = Range {
        prefix: match county {
            Some(cty) => keys::registry_row(cty),
            None => Key::new("rg").done(),
        },
        cursor: p.cursor()?,
        ..Range::default()
    };
    let limit = p.limit()?;
    let mut units = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit, |k| {
        let Some(r) = c.journal.store.get_record::<RegistryRow>(INDEX, k)? else {
            return Ok(false);
        };
        let mut v = serde_json::to_value(equipment::ratio(r.officers, r.devices, target))?;
        v["county"] = json!(r.county);
        units.push(v);
        Ok(true)
    })?;
    Ok(json!({
        "target": target,
        "units": units,
        "next": next.map(|k| query::encode_cursor(&k)),
    }))
}

pub async fn report(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| equipment_report(c, who, &Params::new(q, &REPORT_PARAMS)?))
        .await
        .map(Json)
}
