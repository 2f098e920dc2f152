//! The pages. Each one asks the API's query function for the signed-in user
//! (the same index scans and the same [`Seer`] decisions as `/api/v1/...`) and
//! fills its page model; lists are one page of the index, with a link to the next.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query};
use axum::response::Response;
use jilu_common::access::{Class, Op, Verdict};
use jilu_common::item::Item;
use jilu_common::media::MediaKind;
use jilu_web::pages::{
    ActivitiesPage, ActivityPage, AuditPage, BoardPage, CountiesPage, CountyLine, DevicesPage,
    FindingLine, ItemPage,
};
use serde_json::Value;

use super::view::{self, when};
use super::{encode, WebCall};
use crate::http::activities::{self, ACTIVITY_PARAMS};
use crate::http::error::ApiError;
use crate::http::operations;
use crate::http::records::{self, hex32, Params};
use crate::http::visibility::Seer;
use crate::index::keys;
use crate::index::{ActivityRow, ItemRow};
use crate::schema::INDEX;

pub(crate) type Q = Query<HashMap<String, String>>;

/// The query's values of `known` (empty ones dropped), as the API's parameters.
pub(crate) fn params(q: &HashMap<String, String>, known: &[&str]) -> Result<Params, ApiError> {
    let kept: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, v)| known.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Params::new(kept, known)
}

pub(crate) fn get(q: &HashMap<String, String>, k: &str) -> String {
    q.get(k).cloned().unwrap_or_default()
}

/// `base?k=v&...&cursor=next` for the next page.
pub(crate) fn next_url(
    base: &str,
    q: &HashMap<String, String>,
    keys: &[&str],
    cursor: Option<&str>,
) -> Option<String> {
    let cursor = cursor?;
    let mut parts: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            q.get(*k)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    parts.push(format!("cursor={}", encode(cursor)));
    Some(format!("{base}?{}", parts.join("&")))
}

fn rows<T: serde::de::DeserializeOwned>(v: &Value, k: &str) -> Result<Vec<T>, ApiError> {
    Ok(serde_json::from_value(v[k].clone())?)
}

/// `/web/counties`: every county's edges (online, last contact, queue, ETA).
pub async fn counties(call: WebCall) -> Response {
    call.page("counties", |c, who, chrome| {
        let v = operations::list_edges(c, who)?;
        let mut by: BTreeMap<String, CountyLine> = BTreeMap::new();
        for e in v["edges"].as_array().into_iter().flatten() {
            let county = e["county"].as_str().unwrap_or_default().to_string();
            by.entry(county.clone())
                .or_insert_with(|| CountyLine {
                    county,
                    edges: Vec::new(),
                })
                .edges
                .push(view::edge_line(e));
        }
        Ok(CountiesPage {
            c: chrome,
            counties: by.into_values().collect(),
        })
    })
    .await
}

/// `/web/activities?county=&officer=&pending=&held=&cursor=`.
pub async fn activities(call: WebCall, Query(q): Q) -> Response {
    let lang = call.lang;
    call.page("activities", move |c, who, chrome| {
        let v = activities::list(c, who, &params(&q, &ACTIVITY_PARAMS)?)?;
        let list: Vec<ActivityRow> = rows(&v, "activities")?;
        Ok(ActivitiesPage {
            c: chrome,
            county: get(&q, "county"),
            officer: get(&q, "officer"),
            pending: get(&q, "pending") == "true",
            held: get(&q, "held") == "true",
            rows: list.iter().map(|r| view::activity_line(lang, r)).collect(),
            next: next_url(
                "/web/activities",
                &q,
                &["county", "officer", "pending", "held"],
                v["next"].as_str(),
            ),
        })
    })
    .await
}

/// `/web/activities/{county}/{id}`: the activity, its items, notice,
/// annotations and interruptions, and the forms the user's role may use.
pub async fn activity(call: WebCall, Path((county, id)): Path<(String, String)>) -> Response {
    let lang = call.lang;
    call.page("activities", move |c, who, chrome| {
        let v = activities::one(c, who, &county, &id)?;
        let row: ActivityRow = serde_json::from_value(v.clone())?;
        let mut seer = Seer::new(c, who);
        let can = |seer: &mut Seer<'_>, op| -> Result<bool, ApiError> {
            Ok(seer.activity(op, &row)? == Verdict::Allow)
        };
        let (can_decide, can_hold) = (
            can(&mut seer, Op::DecideInterruption)?,
            can(&mut seer, Op::SetHold)?,
        );
        let a = &row.activity;
        Ok(ActivityPage {
            departure: view::when_opt(a.departure),
            notice: a
                .notice
                .as_ref()
                .map(|n| format!("{} · {} · {}", when(n.at), n.by, n.words)),
            hold: a
                .hold
                .as_ref()
                .map(|h| format!("{} · {} · {}", h.reason, h.by, when(h.at))),
            class_code: row.class.as_str().to_string(),
            annotations: view::annotations(lang, &row),
            interruptions: view::interruptions(lang, &row),
            items: v["linked_items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| view::item_line(lang, i))
                .collect(),
            classes: Class::ALL
                .iter()
                .map(|k| (k.as_str().to_string(), lang.label(k.as_str()).to_string()))
                .collect(),
            can_decide,
            can_hold,
            deliveries: view::deliveries(lang, &v["deliveries"]),
            a: view::activity_line(lang, &row),
            c: chrome,
        })
    })
    .await
}

fn player(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        _ => "img",
    }
}

/// `/web/items/{hash}`: the item, its custody chain (every view included) and
/// playback through the audited content endpoint (Range requests).
pub async fn item(call: WebCall, Path(hash): Path<String>) -> Response {
    let lang = call.lang;
    call.page("activities", move |c, who, chrome| {
        let v = records::one_item(c, who, &hash)?;
        let it: Item = serde_json::from_value(v["item"].clone())?;
        let may_play = Seer::new(c, who).item(Op::ReadContent, &it)? == Verdict::Allow;
        Ok(ItemPage {
            item: view::item_line(lang, &v["item"]),
            county: it.county.clone(),
            activity: it.activity.clone(),
            size: it.size,
            device: it.device.clone(),
            duration: it
                .duration_ms
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
            class: lang
                .label(v["item"]["class"].as_str().unwrap_or("ordinary"))
                .to_string(),
            origin: v["origin"].as_str().unwrap_or_default().to_string(),
            verified_at: v["verified_at"].as_i64().map(when).unwrap_or_default(),
            holders: v["holders"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            media: if may_play { player(it.kind) } else { "" },
            mime: crate::http::content::mime(it.kind, &it.container),
            src: format!("/api/v1/items/{}/content", it.hash),
            custody: v["custody"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| view::custody_line(lang, e))
                .collect(),
            deliveries: view::deliveries(lang, &v["deliveries"]),
            c: chrome,
        })
    })
    .await
}

const ARTICLES: [&str; 4] = ["art. 5", "art. 6", "art. 8/12", "art. 13"];

/// `/web/board?county=&officer=&article=&cursor=`: the compliance board —
/// findings of a page of the findings index, by county and by officer, each
/// linked to the activity or item it concerns.
pub async fn board(call: WebCall, Query(q): Q) -> Response {
    let lang = call.lang;
    call.page("board", move |c, who, chrome| {
        let mut p = q.clone();
        p.insert("limit".into(), "200".into());
        let v = activities::list_findings(c, who, &params(&p, &activities::FINDING_PARAMS)?)?;
        let (officer, article) = (get(&q, "officer"), get(&q, "article"));
        let mut seer = Seer::new(c, who);
        let mut out = Vec::new();
        let findings = v["findings"].as_array().into_iter().flatten();
        let overdue = v["overdue"].as_array().into_iter().flatten();
        for f in findings.chain(overdue) {
            let county = f["county"].as_str().unwrap_or_default().to_string();
            let owner = f["owner"]
                .as_str()
                .or(f["activity"].as_str())
                .unwrap_or_default();
            let (officers, link, concerns) = match owner.strip_prefix("item:") {
                Some(h) => {
                    let officer = hex32(h)
                        .map(|k| {
                            c.journal
                                .store
                                .get_record::<ItemRow>(INDEX, &keys::item_row(&k))
                        })
                        .transpose()?
                        .flatten()
                        .map(|r| r.item.officer)
                        .unwrap_or_default();
                    (vec![officer], format!("/web/items/{h}"), view::short(h))
                }
                None => {
                    let officers = seer
                        .activity_row(&county, owner)?
                        .map(|r| r.activity.officers)
                        .unwrap_or_default();
                    (
                        officers,
                        format!("/web/activities/{county}/{owner}"),
                        owner.to_string(),
                    )
                }
            };
            let art = f["article"].as_str().unwrap_or_default().to_string();
            if (!officer.is_empty() && !officers.contains(&officer))
                || (!article.is_empty() && art != article)
            {
                continue;
            }
            let kind = f["finding"].as_str().unwrap_or_default();
            let at = |k: &str| f[k].as_i64().map(when);
            out.push(FindingLine {
                county,
                article: art,
                finding: lang.label(kind).to_string(),
                officers: officers.join(", "),
                concerns,
                link,
                when: match (at("from"), at("to"), at("deadline")) {
                    (Some(a), Some(b), _) => format!("{a} – {b}"),
                    (_, _, Some(d)) => d,
                    _ => String::new(),
                },
            });
        }
        let mut by_county: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_officer: BTreeMap<String, usize> = BTreeMap::new();
        for f in &out {
            *by_county.entry(f.county.clone()).or_default() += 1;
            for o in f.officers.split(", ").filter(|o| !o.is_empty()) {
                *by_officer.entry(o.to_string()).or_default() += 1;
            }
        }
        Ok(BoardPage {
            c: chrome,
            county: get(&q, "county"),
            officer,
            article,
            articles: ARTICLES.iter().map(|s| s.to_string()).collect(),
            by_county: by_county.into_iter().collect(),
            by_officer: by_officer.into_iter().collect(),
            rows: out,
            next: next_url(
                "/web/board",
                &q,
                &["county", "officer", "article"],
                v["next"].as_str(),
            ),
        })
    })
    .await
}

/// `/web/audit?actor=&action=&subject=&after=`: the audit log (auditors).
pub async fn audit(call: WebCall, Query(q): Q) -> Response {
    let lang = call.lang;
    call.page("audit", move |c, who, chrome| {
        let keys = ["after", "actor", "action", "subject", "limit"];
        let v = operations::list_audit(c, who, &params(&q, &keys)?)?;
        let next = v["next"].as_u64().map(|n| {
            let mut parts: Vec<String> = ["actor", "action", "subject"]
                .iter()
                .filter_map(|k| {
                    q.get(*k)
                        .filter(|x| !x.is_empty())
                        .map(|x| format!("{k}={}", encode(x)))
                })
                .collect();
            parts.push(format!("after={n}"));
            format!("/web/audit?{}", parts.join("&"))
        });
        Ok(AuditPage {
            c: chrome,
            actor: get(&q, "actor"),
            action: get(&q, "action"),
            subject: get(&q, "subject"),
            rows: v["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| view::audit_line(lang, e))
                .collect(),
            next,
        })
    })
    .await
}

/// `/web/devices?county=&cursor=`.
pub async fn devices(call: WebCall, Query(q): Q) -> Response {
    let lang = call.lang;
    call.page("devices", move |c, who, chrome| {
        let v = operations::list_devices(c, who, &params(&q, &["county", "limit", "cursor"])?)?;
        Ok(DevicesPage {
            c: chrome,
            county: get(&q, "county"),
            rows: v["devices"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| view::device_line(lang, d))
                .collect(),
            next: next_url("/web/devices", &q, &["county"], v["next"].as_str()),
        })
    })
    .await
}
