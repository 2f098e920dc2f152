//! `GET /api/v1/activities`, `/activities/{county}/{id}` and `/findings`: the
//! activity projections and the compliance findings kept with them, paged.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::Json;
use jilu_common::access::{Op, Principal, Role, Verdict};
use jilu_common::compliance::Finding;
use jilu_common::hash::Hash;
use jilu_store::journal::now_ms;
use serde_json::{json, Value};

use super::auth::Call;
use super::error::ApiError;
use super::records::{scoped, Params};
use super::visibility::Seer;
use crate::center::Center;
use crate::index::keys::{self, Key};
use crate::index::query::{self, Range};
use crate::index::{ActivityRow, FindingRow, ItemRow};
use crate::schema::INDEX;

pub const ACTIVITY_PARAMS: [&str; 6] = ["county", "officer", "pending", "held", "limit", "cursor"];

fn no_admin(who: &Principal) -> Result<(), ApiError> {
    if who.role == Role::Admin {
        return Err(ApiError::forbidden("an admin account reads no records"));
    }
    Ok(())
}

pub fn list(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    no_admin(who)?;
    let empty = || Ok(json!({"activities": [], "next": null}));
    let Some(county) = scoped(p.text("county"), who.county.as_deref()) else {
        return empty();
    };
    let badge = (who.role == Role::Officer).then_some(who.name.as_str());
    let Some(officer) = scoped(p.text("officer"), badge) else {
        return empty();
    };
    let (pending, held) = (p.flag("pending")?, p.flag("held")?);
    let with_county = |tag: &str| match county {
        Some(cty) => Key::new(tag).text(cty).done(),
        None => Key::new(tag).done(),
    };
    // the key's fixed part before `county NUL id NUL`
    let (prefix, skip_time) = if pending {
        (with_county("ap"), false)
    } else if held {
        (with_county("ah"), false)
    } else if let Some(o) = officer {
        (Key::new("ao").text(o).done(), true)
    } else if let Some(cty) = county {
        (Key::new("ac").text(cty).done(), true)
    } else {
        (Key::new("as").done(), false)
    };
    // ap/ah/as keys are tag county id; with a county in the prefix, skip the tag only
    let skip = if skip_time { prefix.len() + 8 } else { 3 };
    let range = Range {
        prefix,
        cursor: p.cursor()?,
        ..Range::default()
    };
    let limit = p.limit()?;
    let mut seer = Seer::new(c, who);
    let mut out = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit * 20 + 200, |k| {
        let Some((cty, id)) = keys::county_and_id(k, skip) else {
            return Ok(false);
        };
        let Some(row) = seer.activity_row(&cty, &id)? else {
            return Ok(false);
        };
        let a = &row.activity;
        let keep = county.is_none_or(|x| row.county == x)
            && officer.is_none_or(|x| a.officers.iter().any(|o| o == x))
            && (!pending || row.pending > 0)
            && (!held || a.hold.is_some());
        if !keep || seer.activity(Op::ReadRecord, &row)? != Verdict::Allow {
            return Ok(false);
        }
        out.push(serde_json::to_value(&row)?);
        Ok(true)
    })?;
    Ok(json!({"activities": out, "next": next.map(|k| query::encode_cursor(&k))}))
}

pub async fn activities(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| list(c, who, &Params::new(q, &ACTIVITY_PARAMS)?))
        .await
        .map(Json)
}

/// An activity the caller may see, or the 404 that hides it.
pub fn visible_activity(
    seer: &mut Seer<'_>,
    county: &str,
    id: &str,
) -> Result<ActivityRow, ApiError> {
    let row = seer
        .activity_row(county, id)?
        .ok_or_else(|| ApiError::not_found("such activity"))?;
    match seer.activity(Op::ReadRecord, &row)? {
        Verdict::Allow => Ok(row),
        Verdict::Hidden => Err(ApiError::hidden("such activity")),
        Verdict::Forbidden => Err(ApiError::forbidden("your role reads no records")),
    }
}

pub fn one(c: &Center, who: &Principal, county: &str, id: &str) -> Result<Value, ApiError> {
    no_admin(who)?;
    let mut seer = Seer::new(c, who);
    let row = visible_activity(&mut seer, county, id)?;
    let mut items = Vec::new();
    let range = Range {
        prefix: Key::new("ia").text(county).text(id).done(),
        ..Range::default()
    };
    query::scan(&c.journal.store, &range, 1000, 5000, |k| {
        let Some(h) = keys::trailing_hash(k) else {
            return Ok(false);
        };
        let Some(r) = c
            .journal
            .store
            .get_record::<ItemRow>(INDEX, &keys::item_row(&h))?
        else {
            return Ok(false);
        };
        if seer.item(Op::ReadRecord, &r.item)? != Verdict::Allow {
            return Ok(false);
        }
        items.push(super::records::item_json(&mut seer, &r)?);
        Ok(true)
    })?;
    let name = crate::center::activity_name(county, id)?;
    let sent = crate::delivery::of(c, name.as_str(), "")?;
    let mut v = serde_json::to_value(&row)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("linked_items".into(), Value::Array(items));
        o.insert("deliveries".into(), serde_json::to_value(sent)?);
    }
    Ok(v)
}

pub async fn activity(
    call: Call,
    Path((county, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| one(c, who, &county, &id))
        .await
        .map(Json)
}

pub const FINDING_PARAMS: [&str; 3] = ["county", "limit", "cursor"];

/// The item a finding without an activity is about.
fn finding_item(f: &Finding) -> Option<&Hash> {
    match f {
        Finding::Unlinked { item, .. } | Finding::HandedOverLate { item, .. } => Some(item),
        _ => None,
    }
}

pub fn list_findings(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    no_admin(who)?;
    let empty = || Ok(json!({"findings": [], "overdue": [], "next": null}));
    let Some(county) = scoped(p.text("county"), who.county.as_deref()) else {
        return empty();
    };
    let limit = p.limit()?;
    let cursor = p.cursor()?;
    let with_county = |tag: &str| match county {
        Some(cty) => Key::new(tag).text(cty).done(),
        None => Key::new(tag).done(),
    };
    let mut seer = Seer::new(c, who);
    // art. 13 overdue, from the deadlines passed: on the first page
    let mut overdue = Vec::new();
    if cursor.is_none() {
        let now = now_ms();
        let prefix = with_county("ad");
        let range = Range {
            prefix: prefix.clone(),
            ..Range::default()
        };
        query::scan(&c.journal.store, &range, limit, limit * 20 + 200, |k| {
            let skip = if county.is_some() {
                prefix.len()
            } else {
                3 + k[3..].iter().position(|b| *b == 0).unwrap_or(0) + 1
            };
            let Some(deadline) = k
                .get(skip..skip + 8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
            else {
                return Ok(false);
            };
            let deadline = (u64::from_be_bytes(deadline) ^ (1 << 63)) as i64;
            if deadline >= now {
                return Ok(false);
            }
            let Some((cty, id)) = keys::county_and_id(k, skip + 8) else {
                return Ok(false);
            };
            let Some(row) = seer.activity_row(&cty, &id)? else {
                return Ok(false);
            };
            if seer.activity(Op::ReadRecord, &row)? != Verdict::Allow {
                return Ok(false);
            }
            overdue.push(json!({
                "county": cty, "activity": id, "article": "art. 13",
                "finding": "handover_overdue", "deadline": deadline,
            }));
            Ok(true)
        })?;
    }
    let range = Range {
        prefix: with_county("fi"),
        cursor,
        ..Range::default()
    };
    let mut out = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit * 20 + 200, |k| {
        let Some(row) = c.journal.store.get_record::<FindingRow>(INDEX, k)? else {
            return Ok(false);
        };
        let ledger = row.owner.starts_with(crate::projection::LEDGER_OWNER);
        let activity = (!row.owner.starts_with("item:") && !ledger).then_some(row.owner.as_str());
        let allowed = match (activity, finding_item(&row.finding)) {
            _ if ledger => match &row.finding {
                Finding::CheckOverridden { officer, .. } => {
                    seer.plain(Op::ReadRecord, &row.county, std::slice::from_ref(officer))
                        == Verdict::Allow
                }
                _ => false,
            },
            (Some(id), _) => match seer.activity_row(&row.county, id)? {
                Some(a) => seer.activity(Op::ReadRecord, &a)? == Verdict::Allow,
                None => false,
            },
            (None, Some(h)) => match c
                .journal
                .store
                .get_record::<ItemRow>(INDEX, &keys::item_row(h.as_bytes()))?
            {
                Some(r) => seer.item(Op::ReadRecord, &r.item)? == Verdict::Allow,
                None => false,
            },
            (None, None) => false,
        };
        if allowed {
            out.push(serde_json::to_value(&row)?);
        }
        Ok(allowed)
    })?;
    Ok(json!({"findings": out, "overdue": overdue, "next": next.map(|k| query::encode_cursor(&k))}))
}

pub async fn findings(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| list_findings(c, who, &Params::new(q, &FINDING_PARAMS)?))
        .await
        .map(Json)
}
