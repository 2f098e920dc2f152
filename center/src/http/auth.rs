//! Bearer tokens on every API request: the token is checked, the request is
//! written to the audit log under the user's name (or, refused, with the reason),
//! and a denial the handler returns is audited too. Handlers run off the reactor.
//!
//! A request with no token but the web UI's session cookie is the same user in a
//! browser: the session is checked instead (idle and absolute expiry), for reads
//! only — a `<video>` element fetches footage this way. A state-changing request
//! of the web UI goes through its forms, which check the CSRF token and Origin.

use axum::http::HeaderMap;
use jilu_common::access::Principal;
use jilu_common::audit::Action;
use serde_json::json;

use super::error::ApiError;
use super::Api;
use crate::accounts::{Accounts, Refusal};
use crate::center::Center;

/// Who a request says it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Bearer(String),
    /// the web UI's session id (from its cookie)
    Session(String),
}

/// The credential of a request: its bearer token, or for a read without one,
/// the web session cookie.
pub fn credential(headers: &HeaderMap, read_only: bool) -> Result<Credential, Refusal> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return match crate::web::sessions::cookie(headers, crate::web::sessions::COOKIE) {
            Some(id) if read_only => Ok(Credential::Session(id)),
            _ => Err(Refusal::Missing),
        };
    };
    let text = value.to_str().map_err(|_| Refusal::Malformed)?;
    text.strip_prefix("Bearer ")
        .map(|t| Credential::Bearer(t.trim().to_string()))
        .ok_or(Refusal::Malformed)
}

/// The principal of a credential, and what identifies it in the audit log.
fn authenticate(
    center: &Center,
    cred: Result<Credential, Refusal>,
) -> Result<(Principal, serde_json::Value), Refusal> {
    match cred? {
        Credential::Bearer(t) => {
            let (p, tok) = Accounts(center).authenticate(&t)?;
            Ok((p, json!({"token": tok.id})))
        }
        Credential::Session(id) => {
            let (p, s) = crate::web::sessions::Sessions(center).check(&id)?;
            Ok((p, json!({"session": s.tag})))
        }
    }
}

fn audit(
    center: &Center,
    actor: &str,
    action: Action,
    subject: String,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let mut tx = center.journal.begin();
    tx.audit(actor, action, subject, detail, &[])?;
    tx.commit()?;
    Ok(())
}

/// Runs `f` for the caller of `request` ("GET /api/v1/items?..."), audited.
pub async fn run<T: Send + 'static>(
    api: &Api,
    cred: Result<Credential, Refusal>,
    request: String,
    f: impl FnOnce(&Center, &Principal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let center = api.center.clone();
    let metrics = api.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let checked = authenticate(&center, cred);
        let (principal, by) = match checked {
            Ok(ok) => ok,
            Err(refusal) => {
                metrics.refused();
                audit(
                    &center,
                    "anonymous",
                    Action::ApiRefused,
                    "api".to_string(),
                    json!({"reason": refusal.code(), "request": request}),
                )?;
                return Err(ApiError::new(401, refusal.code(), &refusal.to_string()));
            }
        };
        audit(
            &center,
            &principal.name,
            Action::ApiAccess,
            format!("user:{}", principal.name),
            {
                let mut d = by;
                d["role"] = json!(principal.role);
                d["request"] = json!(request);
                d
            },
        )?;
        let out = f(&center, &principal);
        if let Err(e) = &out {
            if let Some(reason) = e.denied {
                audit(
                    &center,
                    &principal.name,
                    Action::AccessDenied,
                    format!("user:{}", principal.name),
                    json!({"reason": reason, "status": e.status, "request": request}),
                )?;
            }
        }
        out
    })
    .await
    .map_err(ApiError::internal)?
}

/// "METHOD /path?query" of a request, as audited.
pub fn request_line(method: &axum::http::Method, uri: &axum::http::Uri) -> String {
    format!(
        "{method} {}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    )
}

/// What a handler needs to run a request for its caller: the API, the headers
/// (the token) and the request line (for the audit log).
pub struct Call {
    api: Api,
    headers: HeaderMap,
    request: String,
    read_only: bool,
}

impl axum::extract::FromRequestParts<Api> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &Api,
    ) -> Result<Call, Self::Rejection> {
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        Ok(Call {
            api: api.clone(),
            headers: parts.headers.clone(),
            request: request_line(&parts.method, &uri),
            read_only: parts.method == axum::http::Method::GET
                || parts.method == axum::http::Method::HEAD,
        })
    }
}

impl Call {
    /// A request header as text.
    pub fn header(&self, name: axum::http::HeaderName) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// [`run`] for this request.
    pub async fn run<T: Send + 'static>(
        self,
        f: impl FnOnce(&Center, &Principal) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let cred = credential(&self.headers, self.read_only);
        run(&self.api, cred, self.request, f).await
    }
}
