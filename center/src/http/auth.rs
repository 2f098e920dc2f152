//! Bearer tokens on every API request: the token is checked, the request is
//! written to the audit log under the user's name (or, refused, with the reason),
//! and a denial the handler returns is audited too. Handlers run off the reactor.

use axum::http::HeaderMap;
use jilu_common::access::Principal;
use jilu_common::audit::Action;
use serde_json::json;

use super::error::ApiError;
use super::Api;
use crate::accounts::{Accounts, Refusal};
use crate::center::Center;

fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?;
    let text = value.to_str().map_err(|_| Refusal::Malformed)?;
    text.strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or(Refusal::Malformed)
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
    headers: &HeaderMap,
    request: String,
    f: impl FnOnce(&Center, &Principal) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let center = api.center.clone();
    let metrics = api.metrics.clone();
    let token = bearer(headers).map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let checked = token.and_then(|t| Accounts(&center).authenticate(&t));
        let (principal, tok) = match checked {
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
            json!({"token": tok.id, "role": principal.role, "request": request}),
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
        run(&self.api, &self.headers, self.request, f).await
    }
}
