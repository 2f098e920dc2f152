//! The bureau's web UI, served by `center run` on its `[http]` address beside the
//! API: server-rendered pages from the templates of `jilu-web`, zh-CN by default
//! with an English switch, over the same queries and the same access decisions
//! as the API (each page calls the API's query function for the signed-in user,
//! so what a user may not see is absent from the pages as from the API).
//!
//! - [`sessions`] — sessions in RocksDB, cookies, CSRF tokens.
//! - [`throttle`] — failed logins per account and per address.
//! - [`login`] — the login form (password and TOTP), logout, the language switch.
//! - [`pages`] — the pages; [`forms`] — the decisions (approve/return, hold,
//!   classification), through the API's decision functions.
//! - [`equipment`] — the device page and the equipment ratio report (art. 3).
//! - [`view`] — records of the API's answers into the page models.
//!
//! Every page view and form is audited like an API request; every state-changing
//! form carries the session's CSRF token and must come with this site's Origin.

pub mod equipment;
pub mod forms;
pub mod login;
pub mod pages;
pub mod sessions;
pub mod throttle;
pub mod view;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jilu_common::access::Principal;
use jilu_web::pages::{Chrome, ErrorPage};
use jilu_web::{Lang, Template};
use serde::{Deserialize, Serialize};

use crate::center::Center;
use crate::http::auth::{self, Credential};
use crate::http::error::ApiError;
use crate::http::Api;
use sessions::{cookie, Sessions, COOKIE, LANG_COOKIE};

/// `[web]` in `center.toml`: sessions and the login throttle of the web UI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A session ends after this many seconds without a request. Default 1800 (30 min).
    pub session_idle_secs: u64,
    /// A session ends this many seconds after its login, however busy. Default 43200 (12 h).
    pub session_max_secs: u64,
    /// Failed logins of one account within the window before its logins are
    /// refused until the window has passed. Default 5.
    pub login_failures_per_account: u32,
    /// Failed logins from one address within the window before its logins are refused. Default 20.
    pub login_failures_per_address: u32,
    /// The throttle's window, seconds. Default 900 (15 min).
    pub throttle_window_secs: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 1800,
            session_max_secs: 43_200,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            throttle_window_secs: 900,
        }
    }
}

impl WebConfig {
    pub fn limits(&self) -> throttle::Limits {
        throttle::Limits {
            per_account: self.login_failures_per_account,
            per_address: self.login_failures_per_address,
            window_ms: self.throttle_window_secs as i64 * 1000,
        }
    }
}

/// What the web handlers share beside the API's state.
#[derive(Debug, Default)]
pub struct WebState {
    pub throttle: throttle::Throttle,
    /// one login check at a time, so a TOTP code is used once even when two
    /// logins race with it
    pub login: Mutex<()>,
}

/// The web routes (merged into the API's router).
pub fn routes() -> Router<Api> {
    Router::new()
        .route("/", get(|| async { redirect("/web/counties") }))
        .route("/web", get(|| async { redirect("/web/counties") }))
        .route("/web/", get(|| async { redirect("/web/counties") }))
        .route("/web/jilu.css", get(css))
        .route("/web/login", get(login::form).post(login::submit))
        .route("/web/logout", post(login::logout))
        .route("/web/lang", get(login::lang))
        .route("/web/counties", get(pages::counties))
        .route("/web/activities", get(pages::activities))
        .route("/web/activities/{county}/{id}", get(pages::activity))
        .route(
            "/web/activities/{county}/{id}/interruptions/{interruption}",
            post(forms::interruption),
        )
        .route("/web/activities/{county}/{id}/hold", post(forms::hold))
        .route(
            "/web/activities/{county}/{id}/classification",
            post(forms::classification),
        )
        .route("/web/items/{hash}", get(pages::item))
        .route("/web/board", get(pages::board))
        .route("/web/audit", get(pages::audit))
        .route("/web/devices", get(pages::devices))
        .route("/web/devices/{county}/{device}", get(equipment::device))
        .route("/web/report", get(equipment::report))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        jilu_web::CSS,
    )
        .into_response()
}

/// 303 to `to`.
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An HTML response; pages are never cached and never framed.
pub fn html(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    for (k, v) in jilu_web::guard::PAGE_HEADERS {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

/// Renders a page model.
pub fn render(status: u16, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => html(500, format!("<!DOCTYPE html><p>template: {e}</p>")),
    }
}

pub use jilu_web::guard::encode;

/// The language of a request (its cookie; zh-CN without one).
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_code(cookie(headers, LANG_COOKIE).as_deref())
}

/// Whether a state-changing request comes from this site: its Origin names the
/// host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    jilu_web::guard::same_origin(get(header::ORIGIN), get(header::HOST))
}

/// A web request: the API state, its headers, its request line (for the audit
/// log), its language, its path (for the language switch) and its client address.
pub struct WebCall {
    pub api: Api,
    pub headers: HeaderMap,
    pub request: String,
    pub lang: Lang,
    pub here: String,
    pub peer: String,
}

impl axum::extract::FromRequestParts<Api> for WebCall {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        api: &Api,
    ) -> Result<WebCall, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/web/counties".into());
        Ok(WebCall {
            api: api.clone(),
            lang: lang_of(&parts.headers),
            request: auth::request_line(&parts.method, &parts.uri),
            headers: parts.headers.clone(),
            here,
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        })
    }
}

type Slot = Arc<Mutex<Option<Chrome>>>;

impl WebCall {
    fn session(&self) -> Result<Credential, crate::accounts::Refusal> {
        cookie(&self.headers, COOKIE)
            .map(Credential::Session)
            .ok_or(crate::accounts::Refusal::Missing)
    }

    fn chrome(&self, c: &Center, who: &Principal, nav: &'static str) -> Result<Chrome, ApiError> {
        let id = cookie(&self.headers, COOKIE).unwrap_or_default();
        let s = Sessions(c)
            .get(&id)?
            .ok_or_else(|| ApiError::new(401, "session_unknown", "sign in again"))?;
        Ok(Chrome {
            lang: self.lang,
            t: self.lang.strings(),
            user: who.name.clone(),
            role: self.lang.label(who.role.as_str()).to_string(),
            csrf: s.csrf,
            here: encode(&self.here),
            nav,
            office: false,
        })
    }

    /// Runs `f` for the signed-in user (audited like an API request) and
    /// returns what it answers: no session, to the login form; an error, as a page.
    async fn run<T: Send + 'static>(
        self,
        nav: &'static str,
        f: impl FnOnce(&Center, &Principal, Chrome) -> Result<T, ApiError> + Send + 'static,
        ok: impl FnOnce(T) -> Response,
    ) -> Response {
        let slot: Slot = Arc::default();
        let cred = self.session();
        let (api, request, lang) = (self.api.clone(), self.request.clone(), self.lang);
        let filled = slot.clone();
        let out = auth::run(&api, cred, request, move |c, who| {
            let chrome = self.chrome(c, who, nav)?;
            if let Ok(mut s) = filled.lock() {
                *s = Some(chrome.clone());
            }
            f(c, who, chrome)
        })
        .await;
        match out {
            Ok(v) => ok(v),
            Err(e) if e.status == 401 => redirect("/web/login"),
            Err(e) => {
                let chrome = slot.lock().ok().and_then(|mut s| s.take());
                match chrome {
                    Some(c) => render(
                        e.status,
                        &ErrorPage {
                            c,
                            status: e.status,
                            message: e.message,
                        },
                    ),
                    None => html(
                        e.status,
                        format!(
                            "<!DOCTYPE html><html lang=\"{}\"><meta charset=\"utf-8\"><p>{}</p></html>",
                            lang.code(),
                            e.code
                        ),
                    ),
                }
            }
        }
    }

    /// A page: `f` builds its model for the signed-in user.
    pub async fn page<P: Template + Send + 'static>(
        self,
        nav: &'static str,
        f: impl FnOnce(&Center, &Principal, Chrome) -> Result<P, ApiError> + Send + 'static,
    ) -> Response {
        self.run(nav, f, |p| render(200, &p)).await
    }

    /// A state-changing form: the Origin must be this site's and the form's
    /// `csrf` the session's (else 403, audited), then `f` acts and names the
    /// page to go to.
    pub async fn form(
        self,
        csrf: Option<String>,
        f: impl FnOnce(&Center, &Principal) -> Result<String, ApiError> + Send + 'static,
    ) -> Response {
        let origin_ok = same_origin(&self.headers);
        let id = cookie(&self.headers, COOKIE).unwrap_or_default();
        self.run(
            "",
            move |c, who, chrome| {
                if !origin_ok {
                    return Err(ApiError {
                        denied: Some("origin"),
                        ..ApiError::new(403, "origin", jilu_web::guard::ORIGIN_REFUSED)
                    });
                }
                let given = csrf.unwrap_or_default();
                if !sessions::same(&given, &chrome.csrf) || id.is_empty() {
                    return Err(ApiError {
                        denied: Some("csrf"),
                        ..ApiError::new(403, "csrf", jilu_web::guard::CSRF_REFUSED)
                    });
                }
                f(c, who)
            },
            |to| redirect(&to),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_the_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(!same_origin(&h), "no Origin");
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example:8080".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
