//! The county office page: `edge-node run --http 127.0.0.1:PORT` (or `[http]
//! listen` in edge.toml) serves the bureau's web UI for this node's own county —
//! the same templates, strings and stylesheet (`jilu-web`), with the office's
//! menu: devices out and the check-out form ([`checkout`]), today's activities,
//! the docked cameras' progress, the upload queue with its ETA, and the findings
//! `edge-node status` reports ([`pages`], filled by [`view`]).
//!
//! # Safety on loopback
//! The page has no login: it is served on loopback only (any other address is
//! refused at start), for the keeper at the office's workstation, like the CLI.
//! Any local user can reach a loopback port, and a browser visiting a hostile
//! site can send requests to it, so:
//! - every request must name a loopback host with this port (`Host`): a hostile
//!   name resolving to 127.0.0.1 (DNS rebinding) is refused before it can read a
//!   page or its token;
//! - every state-changing form carries this run's CSRF token (random, in the
//!   pages only) and must come with this site's `Origin`;
//! - a check-out names its acting keeper; the audit log records that name and
//!   that it came through the office page, from which client address.
//!
//! Writes go through [`crate::control::server::run_command`], the path every CLI
//! command takes inside the running node: the same handler, the same checks and
//! error lines, serialised with the node's own work by the store's transactions.

pub mod checkout;
pub mod pages;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use axum::extract::{ConnectInfo, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jilu_web::guard;
use jilu_web::pages::{Chrome, ErrorPage};
use jilu_web::{Lang, Template};
use tracing::{info, warn};

use crate::service::Service;

/// The language cookie the bureau's pages use too.
const LANG_COOKIE: &str = "jilu_lang";

/// Refuses an address that is not loopback: the office page has no login.
pub fn check_listen(addr: SocketAddr) -> Result<()> {
    if !addr.ip().is_loopback() {
        bail!(
            "office page address {addr} (--http, or [http] listen in edge.toml): the office page is served on loopback only (127.0.0.1 or [::1], e.g. 127.0.0.1:8470): it has no login, so another address would open the check-out form to the network"
        );
    }
    Ok(())
}

/// Binds the office page's address (before the node starts, so a port in use
/// fails the start with nothing changed).
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener> {
    check_listen(addr)?;
    let l = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} (the office page, --http)"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// What the office page's handlers share.
#[derive(Debug)]
pub struct Office {
    pub service: Arc<Service>,
    /// the bound address (requests must name it, or `localhost`, as `Host`)
    pub addr: SocketAddr,
    /// this run's CSRF token
    pub csrf: String,
}

/// 32 random bytes from the kernel, hex.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| anyhow!("cannot read /dev/urandom for the office page's token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Serves the office page on `listener` until the node stops; returns the
/// address it serves.
pub fn start(service: Arc<Service>, listener: std::net::TcpListener) -> Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let office = Arc::new(Office {
        service: service.clone(),
        addr,
        csrf: random_token()?,
    });
    let listener = {
        let _guard = service.rt.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let app = router(office).into_make_service_with_connect_info::<SocketAddr>();
    let stop = service.stop.clone();
    service.rt.spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = r {
            warn!("the office page stopped: {e}");
        }
    });
    info!("office page on http://{addr}/web/office");
    Ok(addr)
}

fn router(office: Arc<Office>) -> Router {
    Router::new()
        .route("/", get(|_: Call| async { redirect("/web/office") }))
        .route("/web", get(|_: Call| async { redirect("/web/office") }))
        .route("/web/", get(|_: Call| async { redirect("/web/office") }))
        .route("/web/jilu.css", get(css))
        .route("/web/lang", get(lang))
        .route("/web/office", get(pages::devices))
        .route("/web/office/checkout", post(checkout::submit))
        .route("/web/office/activities", get(pages::activities))
        .route("/web/office/dock", get(pages::dock))
        .route("/web/office/queue", get(pages::queue))
        .route("/web/office/findings", get(pages::findings))
        .with_state(office)
}

/// A request to the office page, from a loopback `Host` (else refused).
pub struct Call {
    pub office: Arc<Office>,
    pub lang: Lang,
    /// this page's path and query, for the language switch
    pub here: String,
    /// the form came with this site's Origin
    pub origin_ok: bool,
    /// the client's address
    pub peer: String,
}

fn header_text(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl axum::extract::FromRequestParts<Arc<Office>> for Call {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        office: &Arc<Office>,
    ) -> Result<Call, Response> {
        let h = &parts.headers;
        let host = header_text(h, header::HOST);
        if !guard::loopback_host(host, office.addr.port()) {
            warn!(host = ?host, "office page: refused a request naming another host");
            return Err(text(
                StatusCode::MISDIRECTED_REQUEST,
                "this office page answers only to its loopback address",
            ));
        }
        Ok(Call {
            office: office.clone(),
            lang: Lang::from_code(
                guard::cookie(
                    h.get_all(header::COOKIE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                    LANG_COOKIE,
                )
                .as_deref(),
            ),
            here: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/web/office".into()),
            origin_ok: guard::same_origin(header_text(h, header::ORIGIN), host),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_else(|| "unknown".into()),
        })
    }
}

impl Call {
    /// The header of every office page: the node, its county, the menu entry.
    pub fn chrome(&self, nav: &'static str) -> Chrome {
        let cfg = &self.office.service.edge.cfg;
        Chrome {
            lang: self.lang,
            t: self.lang.strings(),
            user: cfg.node.clone(),
            role: cfg.county.clone(),
            csrf: self.office.csrf.clone(),
            here: guard::encode(&self.here),
            nav,
            office: true,
        }
    }

    /// The error page, in this office's chrome.
    pub fn error(&self, status: StatusCode, message: String) -> Response {
        render(
            status,
            &ErrorPage {
                c: self.chrome(""),
                status: status.as_u16(),
                message,
            },
        )
    }
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, body).into_response()
}

/// A rendered page with the headers every page carries.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    let (status, body) = match page.render() {
        Ok(body) => (status, body),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<!DOCTYPE html><p>template: {e}</p>"),
        ),
    };
    let mut r = (status, body).into_response();
    for (k, v) in guard::PAGE_HEADERS {
        r.headers_mut().insert(k, HeaderValue::from_static(v));
    }
    r
}

/// 303 to `to`.
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn css(_: Call) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        jilu_web::CSS,
    )
        .into_response()
}

/// `GET /web/lang?to=en&back=/web/office/...`: the language cookie, and back.
async fn lang(_: Call, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let to = Lang::from_code(q.get("to").map(String::as_str));
    let back = guard::back_path(q.get("back").map(String::as_str), "/web/office");
    let mut r = redirect(back);
    if let Ok(v) = HeaderValue::from_str(&guard::set_cookie(
        LANG_COOKIE,
        to.code(),
        Some(365 * 86_400),
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_served() {
        assert!(check_listen("127.0.0.1:8470".parse().unwrap()).is_ok());
        assert!(check_listen("[::1]:8470".parse().unwrap()).is_ok());
        let e = check_listen("0.0.0.0:8470".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("loopback only"), "{e}");
        assert!(check_listen("10.1.0.5:8470".parse().unwrap()).is_err());
        assert_eq!(random_token().unwrap().len(), 64);
    }
}
