//! `GET /api/v1/devices`, `/edges` and `/audit`: operational metadata (a keeper
//! sees the own county's) and the hash-linked audit log (auditors), from which
//! entries about records the auditor may not see are left out (and request lines
//! that name them are masked, [`super::audit_redact`]).

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::Json;
use jilu_common::access::{decide, Op, Principal, Verdict};
use jilu_common::audit::Entry;
use jilu_store::db::{self, be64};
use jilu_store::journal::now_ms;
use rocksdb::{Direction, IteratorMode};
use serde_json::{json, Value};

use super::audit_redact;
use super::auth::Call;
use super::error::ApiError;
use super::records::{hex32, Params};
use super::visibility::Seer;
use crate::center::Center;
use crate::index::keys::{self, Key};
use crate::index::query::{self, Range};
use crate::index::{DeviceRow, ItemRow};
use crate::projection::activity_of;
use crate::schema::INDEX;

pub(crate) fn operations(who: &Principal) -> Result<(), ApiError> {
    if decide(who, Op::ReadOperations, None) != Verdict::Allow {
        return Err(ApiError::forbidden(
            "your role does not read edges and devices",
        ));
    }
    Ok(())
}

pub fn list_devices(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    operations(who)?;
    let county = who.county.as_deref().or(p.text("county"));
    if who.county.is_some()
        && p.text("county")
            .is_some_and(|x| Some(x) != who.county.as_deref())
    {
        return Ok(json!({"devices": [], "next": null}));
    }
    let range = Range {
        prefix: match county {
            Some(cty) => Key::new("dv").text(cty).done(),
            None => Key::new("dv").done(),
        },
        cursor: p.cursor()?,
        ..Range::default()
    };
    let limit = p.limit()?;
    let mut out = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit, |k| {
        match c.journal.store.get_record::<DeviceRow>(INDEX, k)? {
            Some(d) => {
                out.push(serde_json::to_value(&d)?);
                Ok(true)
            }
            None => Ok(false),
        }
    })?;
    Ok(json!({"devices": out, "next": next.map(|k| query::encode_cursor(&k))}))
}

pub async fn devices(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| list_devices(c, who, &Params::new(q, &["county", "limit", "cursor"])?))
        .await
        .map(Json)
}

pub fn list_edges(c: &Center, who: &Principal) -> Result<Value, ApiError> {
    operations(who)?;
    let now = now_ms();
    let edges: Vec<Value> = c
        .peers()?
        .into_iter()
        .filter(|e| who.county.as_deref().is_none_or(|x| e.county == x))
        .map(|e| {
            let mut v = serde_json::to_value(&e).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("lag_ms".into(), json!(now - e.last_contact));
            }
            v
        })
        .collect();
    Ok(json!({ "edges": edges }))
}

pub async fn edges(call: Call) -> Result<Json<Value>, ApiError> {
    call.run(list_edges).await.map(Json)
}

/// Whether the auditor may see an entry about `subject`.
fn entry_visible(seer: &mut Seer<'_>, subject: &str) -> anyhow::Result<bool> {
    if let Some(h) = subject.strip_prefix("item:") {
        let Some(h) = hex32(h) else { return Ok(true) };
        return Ok(
            match seer
                .center
                .journal
                .store
                .get_record::<ItemRow>(INDEX, &keys::item_row(&h))?
            {
                Some(r) => seer.item(Op::ReadRecord, &r.item)? == Verdict::Allow,
                None => true,
            },
        );
    }
    let activity = subject
        .strip_prefix("doc:")
        .and_then(activity_of)
        .or_else(|| subject.strip_prefix("activity:")?.split_once('/'));
    if let Some((county, id)) = activity {
        return Ok(match seer.activity_row(county, id)? {
            Some(row) => seer.activity(Op::ReadRecord, &row)? == Verdict::Allow,
            None => true,
        });
    }
    Ok(true)
}

pub fn list_audit(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    if decide(who, Op::ReadAudit, None) != Verdict::Allow {
        return Err(ApiError::forbidden("only an auditor reads the audit log"));
    }
    let after = match p.text("after") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("after={v:?}: give an entry's seq")))?,
        ),
    };
    let (actor, action, subject) = (p.text("actor"), p.text("action"), p.text("subject"));
    let limit = p.limit()?;
    let start = after.map(|s| s + 1).unwrap_or(0);
    let store = &c.journal.store;
    let cf = store.cf(db::AUDIT)?;
    let mut seer = Seer::new(c, who);
    let (mut out, mut seen, mut next) = (Vec::new(), 0usize, None);
    let key = be64(start);
    for kv in store
        .db
        .iterator_cf(&cf, IteratorMode::From(&key, Direction::Forward))
    {
        let (_, v) = kv.map_err(|e| store.err(e))?;
        let e = Entry::decode(&v).map_err(ApiError::internal)?;
        if out.len() >= limit || seen >= limit * 20 + 200 {
            next = e.seq.checked_sub(1);
            break;
        }
        seen += 1;
        let keep = actor.is_none_or(|a| e.actor == a)
            && action.is_none_or(|a| json!(e.action) == json!(a))
            && subject.is_none_or(|s| e.subject.starts_with(s))
            && entry_visible(&mut seer, &e.subject)?;
        if keep {
            let mut v = serde_json::to_value(&e)?;
            audit_redact::redact(&mut v["detail"], &mut |s| entry_visible(&mut seer, s))?;
            out.push(v);
        }
    }
    Ok(json!({"entries": out, "next": next}))
}

pub async fn audit(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        list_audit(
            c,
            who,
            &Params::new(q, &["after", "actor", "action", "subject", "limit"])?,
        )
    })
    .await
    .map(Json)
}
