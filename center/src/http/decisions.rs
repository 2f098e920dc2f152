//! Decisions through the API: approve or return an interruption record (art. 12,
//! the head), set a hold (art. 16) or a classification (art. 14, a supervisor),
//! annotate (art. 10, a keeper of the county), and grants to classified records. Each goes through the same [`Center`]
//! methods as `center approve` / `center hold`, so it lands in the merged
//! document and reaches the county's edge at its next sync. Also `POST /login`.

use axum::extract::{Path, State};
use axum::Json;
use jilu_common::access::{decide, Class, Op, Principal, Verdict};
use jilu_common::activity::AnnotationKind;
use jilu_common::audit::Action;
use serde::Deserialize;
use serde_json::{json, Value};

use super::activities::visible_activity;
use super::auth::Call;
use super::error::ApiError;
use super::visibility::Seer;
use super::Api;
use crate::accounts::Accounts;
use crate::annotate::NewAnnotation;
use crate::center::Center;
use crate::grants::Grants;

/// Checks that `who` sees the activity and may do `op` to it.
fn allowed(c: &Center, who: &Principal, county: &str, id: &str, op: Op) -> Result<(), ApiError> {
    let mut seer = Seer::new(c, who);
    let row = visible_activity(&mut seer, county, id)?;
    match seer.activity(op, &row)? {
        Verdict::Allow => Ok(()),
        Verdict::Hidden => Err(ApiError::hidden("such activity")),
        Verdict::Forbidden => Err(ApiError::forbidden(&format!(
            "role {} may not {}",
            who.role,
            match op {
                Op::DecideInterruption => "decide interruptions (the head does)",
                Op::SetHold => "set holds (a supervisor does)",
                Op::Annotate => "annotate (a keeper of the county does)",
                _ => "set classifications (a supervisor does)",
            }
        ))),
    }
}

fn rejected(e: anyhow::Error) -> ApiError {
    ApiError::new(422, "rejected", &format!("{e:#}"))
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InterruptionDecision {
    approve: bool,
    note: Option<String>,
}

/// The head approves or returns an interruption record (API and web form).
pub fn decide_interruption(
    c: &Center,
    who: &Principal,
    (county, id, interruption): (&str, &str, &str),
    approve: bool,
    note: Option<String>,
) -> Result<Value, ApiError> {
    allowed(c, who, county, id, Op::DecideInterruption)?;
    let a = c
        .decide_interruption(&who.name, county, id, interruption, approve, note)
        .map_err(rejected)?;
    Ok(json!({ "activity": a }))
}

pub async fn interruption(
    call: Call,
    Path((county, id, interruption)): Path<(String, String, String)>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        let d: InterruptionDecision = body(&text)?;
        decide_interruption(c, who, (&county, &id, &interruption), d.approve, d.note)
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    reason: String,
}

pub async fn hold(
    call: Call,
    Path((county, id)): Path<(String, String)>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        let h: HoldRequest = body(&text)?;
        set_hold(c, who, &county, &id, &h.reason)
    })
    .await
    .map(Json)
}

/// A supervisor sets a hold (API and web form).
pub fn set_hold(
    c: &Center,
    who: &Principal,
    county: &str,
    id: &str,
    reason: &str,
) -> Result<Value, ApiError> {
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request("a hold needs a reason"));
    }
    allowed(c, who, county, id, Op::SetHold)?;
    let a = c
        .set_hold(&who.name, county, id, reason)
        .map_err(rejected)?;
    Ok(json!({ "activity": a }))
}

/// A supervisor sets a classification (API and web form).
pub fn set_classification(
    c: &Center,
    who: &Principal,
    county: &str,
    id: &str,
    class: &str,
) -> Result<Value, ApiError> {
    let class: Class = class.parse().map_err(ApiError::bad_request)?;
    allowed(c, who, county, id, Op::SetClassification)?;
    let a = c
        .set_classification(&who.name, county, id, class)
        .map_err(rejected)?;
    Ok(json!({ "activity": a }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassRequest {
    class: String,
}

pub async fn classification(
    call: Call,
    Path((county, id)): Path<(String, String)>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        let r: ClassRequest = body(&text)?;
        set_classification(c, who, &county, &id, &r.class)
    })
    .await
    .map(Json)
}

/// `PUT /items/{hash}/classification`: a supervisor sets an item's own class.
pub async fn item_classification(
    call: Call,
    Path(hash): Path<String>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        let r: ClassRequest = body(&text)?;
        let class: Class = r.class.parse().map_err(ApiError::bad_request)?;
        let h = super::records::hex32(&hash.to_lowercase()).ok_or_else(|| {
            ApiError::bad_request(format!("{hash:?} is not an item hash (64 hex digits)"))
        })?;
        let rec = c
            .item(&h)?
            .ok_or_else(|| ApiError::not_found("such item"))?;
        match Seer::new(c, who).item(Op::SetClassification, &rec.item)? {
            Verdict::Allow => {}
            Verdict::Hidden => return Err(ApiError::hidden("such item")),
            Verdict::Forbidden => {
                return Err(ApiError::forbidden(&format!(
                    "role {} may not set classifications (a supervisor does)",
                    who.role
                )))
            }
        }
        let set = c
            .set_item_classification(&who.name, &h, class)
            .map_err(rejected)?;
        Ok(json!({"item": rec.item.hash, "classification": set}))
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotationRequest {
    kind: AnnotationKind,
    text: String,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    at: Option<i64>,
}

/// `POST .../annotations`: a keeper of the county annotates (art. 10).
pub async fn annotate(
    call: Call,
    Path((county, id)): Path<(String, String)>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        let r: AnnotationRequest = body(&text)?;
        if r.text.trim().is_empty() {
            return Err(ApiError::bad_request("an annotation needs its text"));
        }
        allowed(c, who, &county, &id, Op::Annotate)?;
        let new = NewAnnotation {
            kind: r.kind,
            text: r.text,
            item: r.item.map(|h| h.to_lowercase()),
            at: r.at,
        };
        let a = c.annotate(&who.name, &county, &id, new).map_err(rejected)?;
        Ok(json!({"activity": a}))
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    user: String,
    target: String,
    #[serde(default)]
    days: Option<u32>,
    #[serde(default)]
    revoke: bool,
}

fn may_grant(who: &Principal) -> Result<(), ApiError> {
    if decide(who, Op::Grant, None) != Verdict::Allow {
        return Err(ApiError::forbidden(
            "only a supervisor grants access to classified records",
        ));
    }
    Ok(())
}

pub async fn grant(call: Call, text: axum::body::Bytes) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        may_grant(who)?;
        let g: GrantRequest = body(&text)?;
        let grant = Grants(c)
            .set(&who.name, &g.user, &g.target, g.days.unwrap_or(7), g.revoke)
            .map_err(rejected)?;
        Ok(json!({ "grant": grant }))
    })
    .await
    .map(Json)
}

pub async fn grants(call: Call) -> Result<Json<Value>, ApiError> {
    call.run(move |c, who| {
        may_grant(who)?;
        Ok(json!({ "grants": Grants(c).list()? }))
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    name: String,
    password: String,
}

/// `POST /api/v1/login`: a password for a token valid one day.
pub async fn login(
    State(api): State<Api>,
    text: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let l: Login = body(&text)?;
    let c = api.center.clone();
    let metrics = api.metrics.clone();
    tokio::task::spawn_blocking(move || match Accounts(&c).login(&l.name, &l.password)? {
        Some((token, rec)) => Ok(Json(json!({"token": token, "expires_at": rec.expires_at}))),
        None => {
            metrics.refused();
            let mut tx = c.journal.begin();
            tx.audit(
                "anonymous",
                Action::ApiRefused,
                format!("user:{}", l.name),
                json!({"reason": "login_failed"}),
                &[],
            )?;
            tx.commit()?;
            Err(ApiError::new(
                401,
                "login_failed",
                "wrong name or password, or the account is disabled",
            ))
        }
    })
    .await
    .map_err(ApiError::internal)?
}
