//! `GET /api/v1/items` and `/items/{hash}`: items from the projections, one
//! page at a time, each decided for the caller (what is hidden is absent);
//! `expires_before` lists what the ordinary retention lets a keeper clear.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::Json;
use jilu_common::access::{Op, Principal, Role, Verdict};
use jilu_common::time::Millis;
use serde_json::{json, Value};

use super::auth::Call;
use super::error::ApiError;
use super::visibility::Seer;
use crate::center::Center;
use crate::index::keys::{self, Key};
use crate::index::query::{self, Range};
use crate::index::{ItemRow, ItemState};
use crate::schema::INDEX;

pub use super::activities::{activities, activity, findings};
pub use super::operations::{audit, devices, edges};

/// Query parameters, checked by name (an unknown one is a 400, not ignored).
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new(q: BTreeMap<String, String>, known: &[&str]) -> Result<Params, ApiError> {
        if let Some(k) = q.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(ApiError::bad_request(format!(
                "unknown parameter '{k}': use {}",
                known.join(", ")
            )));
        }
        Ok(Params(q))
    }

    pub fn text(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A time: milliseconds since the epoch, or RFC 3339.
    pub fn time(&self, k: &str) -> Result<Option<Millis>, ApiError> {
        let Some(v) = self.text(k) else {
            return Ok(None);
        };
        if let Ok(ms) = v.parse::<i64>() {
            return Ok(Some(ms));
        }
        jilu_common::time::parse(v).map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "{k}={v:?} is not a time: give milliseconds since 1970 or RFC 3339"
            ))
        })
    }

    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.text("limit") {
            None => Ok(50),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=500).contains(&n) => Ok(n),
                _ => Err(ApiError::bad_request(format!("limit={v:?}: give 1 to 500"))),
            },
        }
    }

    pub fn cursor(&self) -> Result<Option<Vec<u8>>, ApiError> {
        self.text("cursor")
            .map(query::decode_cursor)
            .transpose()
            .map_err(|e| ApiError::new(400, "bad_cursor", &e.to_string()))
    }

    pub fn flag(&self, k: &str) -> Result<bool, ApiError> {
        match self.text(k) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!(
                "{k}={v:?}: give true or false"
            ))),
        }
    }
}

/// Keys a keeper or an officer is bound to: a filter they gave must match it.
/// The filter to apply; `None`: the filter names another scope than the
/// user's own, so the list is empty.
pub fn scoped<'a>(given: Option<&'a str>, own: Option<&'a str>) -> Option<Option<&'a str>> {
    match (given, own) {
        (Some(g), Some(o)) if g != o => None,
        (_, Some(o)) => Some(Some(o)),
        (g, None) => Some(g),
    }
}

/// The 32 bytes of a full hash given as text (64 hex digits), if it is one.
pub fn hex32(s: &str) -> Option<[u8; 32]> {
    s.parse::<jilu_common::hash::Hash>()
        .ok()
        .map(<[u8; 32]>::from)
}

/// The byte range of item keys whose hash starts with hex `prefix`.
fn hash_range(prefix: &str) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    if prefix.len() < 4 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(format!(
            "hash={prefix:?}: give 4 to 64 hex digits"
        )));
    }
    let lo = format!("{prefix:0<64}");
    let hi = format!("{prefix:f<64}");
    let (lo, hi) = (
        hex32(&lo.to_lowercase()).ok_or_else(|| ApiError::bad_request("bad hash"))?,
        hex32(&hi.to_lowercase()).ok_or_else(|| ApiError::bad_request("bad hash"))?,
    );
    let mut upper = keys::item_row(&hi);
    upper.push(0);
    Ok((keys::item_row(&lo), upper))
}

/// An item as the API shows it: its record, state, effective class and, under
/// the ordinary retention, when it may be cleared (`expires_at`; null when held).
pub fn item_json(seer: &mut Seer<'_>, row: &ItemRow) -> anyhow::Result<Value> {
    let class = seer.item_class(&row.item)?;
    let expires = seer.item_expiry(row)?;
    let mut v = serde_json::to_value(&row.item)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("state".into(), json!(row.state));
        o.insert("class".into(), json!(class));
        o.insert("expires_at".into(), json!(expires));
    }
    Ok(v)
}

pub const ITEM_PARAMS: [&str; 11] = [
    "county",
    "activity",
    "officer",
    "device",
    "from",
    "to",
    "state",
    "hash",
    "expires_before",
    "limit",
    "cursor",
];

pub fn list_items(c: &Center, who: &Principal, p: &Params) -> Result<Value, ApiError> {
    if who.role == Role::Admin {
        return Err(ApiError::forbidden("an admin account reads no records"));
    }
    let empty = || Ok(json!({"items": [], "next": null}));
    let own_county = who.county.as_deref();
    let Some(county) = scoped(p.text("county"), own_county) else {
        return empty();
    };
    let own_badge = (who.role == Role::Officer).then_some(who.name.as_str());
    let Some(officer) = scoped(p.text("officer"), own_badge) else {
        return empty();
    };
    let (activity, device) = (p.text("activity"), p.text("device"));
    let state =
        match p.text("state") {
            None => None,
            Some(s) => Some(ItemState::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!("state={s:?}: give verified or held"))
            })?),
        };
    let (from, to) = (p.time("from")?, p.time("to")?);
    let expires_before = p.time("expires_before")?;
    let limit = p.limit()?;
    let timed = |prefix: Vec<u8>| Range {
        lower: from.map(|t| {
            let mut k = prefix.clone();
            k.extend_from_slice(&keys::time(t));
            k
        }),
        upper: to.map(|t| {
            let mut k = prefix.clone();
            k.extend_from_slice(&keys::time(t));
            k
        }),
        prefix,
        cursor: None,
    };
    let mut range = if let Some(h) = p.text("hash") {
        let (lo, hi) = hash_range(h)?;
        Range {
            prefix: b"is\0".to_vec(),
            lower: Some(lo),
            upper: Some(hi),
            cursor: None,
        }
    } else if let Some(t) = expires_before {
        Range {
            prefix: Key::new("ie").done(),
            upper: Some(Key::new("ie").time(t).done()),
            ..Range::default()
        }
    } else if let Some(a) = activity {
        let county =
            county.ok_or_else(|| ApiError::bad_request("activity=... needs county=..."))?;
        Range {
            prefix: Key::new("ia").text(county).text(a).done(),
            ..Range::default()
        }
    } else if let Some(o) = officer {
        timed(Key::new("io").text(o).done())
    } else if let Some(d) = device {
        timed(Key::new("iv").text(d).done())
    } else if let Some(cty) = county {
        timed(Key::new("ic").text(cty).done())
    } else if let Some(s) = state {
        timed(Key::new("ib").text(s.as_str()).done())
    } else {
        timed(Key::new("it").done())
    };
    range.cursor = p.cursor()?;
    let mut seer = Seer::new(c, who);
    let mut out = Vec::new();
    let next = query::scan(&c.journal.store, &range, limit, limit * 20 + 200, |k| {
        let Some(h) = keys::trailing_hash(k) else {
            return Ok(false);
        };
        let Some(row) = c
            .journal
            .store
            .get_record::<ItemRow>(INDEX, &keys::item_row(&h))?
        else {
            return Ok(false);
        };
        let i = &row.item;
        let keep = county.is_none_or(|x| i.county == x)
            && officer.is_none_or(|x| i.officer == x)
            && device.is_none_or(|x| i.device == x)
            && activity.is_none_or(|x| i.activity.as_deref() == Some(x))
            && state.is_none_or(|s| row.state == s)
            && from.is_none_or(|t| i.capture_start >= t)
            && to.is_none_or(|t| i.capture_start < t);
        if !keep || seer.item(Op::ReadRecord, i)? != Verdict::Allow {
            return Ok(false);
        }
        let v = item_json(&mut seer, &row)?;
        let expiring =
            expires_before.is_none_or(|t| v["expires_at"].as_i64().is_some_and(|e| e < t));
        if expiring {
            out.push(v);
        }
        Ok(expiring)
    })?;
    Ok(json!({"items": out, "next": next.map(|k| query::encode_cursor(&k))}))
}

pub async fn items(
    call: Call,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| list_items(c, who, &Params::new(q, &ITEM_PARAMS)?))
        .await
        .map(Json)
}

pub fn one_item(c: &Center, who: &Principal, hash: &str) -> Result<Value, ApiError> {
    let h = hex32(&hash.to_lowercase()).ok_or_else(|| {
        ApiError::bad_request(format!("{hash:?} is not an item hash (64 hex digits)"))
    })?;
    let (Some(rec), Some(row)) = (
        c.item(&h)?,
        c.journal
            .store
            .get_record::<ItemRow>(INDEX, &keys::item_row(&h))?,
    ) else {
        return Err(ApiError::not_found("such item"));
    };
    let mut seer = Seer::new(c, who);
    match seer.item(Op::ReadRecord, &rec.item)? {
        Verdict::Allow => {}
        Verdict::Hidden => return Err(ApiError::hidden("such item")),
        Verdict::Forbidden => return Err(ApiError::forbidden("your role reads no records")),
    }
    let custody = c.journal.custody(&h)?;
    let registry = format!("registry/{}", rec.item.county);
    let sent = crate::delivery::of(c, &registry, &rec.item.hash.to_hex())?;
    Ok(json!({
        "deliveries": sent,
        "item": item_json(&mut seer, &row)?,
        "origin": rec.origin,
        "verified_at": rec.verified_at,
        "holders": rec.holders,
        "custody": custody,
    }))
}

pub async fn item(call: Call, Path(hash): Path<String>) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| one_item(c, who, &hash))
        .await
        .map(Json)
}
