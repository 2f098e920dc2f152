//! The center's JSON API, served by `center run` when `center.toml` has an
//! `[http]` section: HTTPS with a `certs issue --role web` certificate, or plain
//! HTTP on a loopback address only (behind a reverse proxy).
//!
//! - [`error`] — JSON errors with stable codes.
//! - [`auth`] — bearer tokens; every use and every refusal audited.
//! - [`visibility`] — the access decision of [`jilu_common::access`] for records.
//! - [`audit_redact`] — masks the records a request line in the audit log names.
//! - [`records`], [`activities`], [`operations`] — items; activities and
//!   findings; devices, edges and the audit log (paged).
//! - [`equipment`] — a device's ledger, checks, overrides and clock offsets;
//!   the equipment ratio report (art. 3).
//! - [`content`] — footage with HTTP Range, streamed from the blob store.
//! - [`decisions`] — approvals, holds, classification, grants, login.
//! - [`metrics`] — `/metrics` (Prometheus text) and the request latency histograms.
//! - [`openapi`] — the OpenAPI 3.1 document at `/api/v1/openapi.json`.
//! - [`listener`] — binding, TLS and serving.
//!
//! The web UI ([`crate::web`]) is served on the same address, under `/web/`.

pub mod activities;
pub mod audit_redact;
pub mod auth;
pub mod content;
pub mod decisions;
pub mod equipment;
pub mod error;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod records;
pub mod visibility;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::center::Center;

/// `[http]` in `center.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// TCP address of the API, e.g. "0.0.0.0:8443" (HTTPS) or "127.0.0.1:8080" (plain HTTP).
    pub listen: SocketAddr,
    /// Certificate (PEM) from `certs issue --role web`; with `key`, the API speaks HTTPS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl HttpConfig {
    /// Makes paths absolute (relative to `base`) and checks the section.
    pub fn resolve(&mut self, base: &Path) -> Result<(), String> {
        for p in [&mut self.cert, &mut self.key].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        match (&self.cert, &self.key) {
            (Some(_), Some(_)) => Ok(()),
            (None, None) if self.listen.ip().is_loopback() => Ok(()),
            (None, None) => Err(format!(
                "listen {} is not a loopback address: plain HTTP is allowed only on loopback (behind a reverse proxy); give cert and key (certs issue --role web) for HTTPS",
                self.listen
            )),
            _ => Err("cert and key go together: give both for HTTPS, or neither for plain HTTP on loopback".into()),
        }
    }

    pub fn tls(&self) -> Option<(&Path, &Path)> {
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((c, k)),
            _ => None,
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct Api {
    pub center: Arc<Center>,
    pub metrics: Arc<metrics::Metrics>,
    /// the web UI's login throttle ([`crate::web`])
    pub web: Arc<crate::web::WebState>,
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(api): State<Api>) -> Result<Json<Value>, error::ApiError> {
    let c = api.center.clone();
    tokio::task::spawn_blocking(move || c.journal.store.get(jilu_store::db::META, b"layout"))
        .await
        .map_err(error::ApiError::internal)?
        .map_err(|e| {
            error::ApiError::new(503, "not_ready", &format!("the store does not answer: {e}"))
        })?;
    Ok(Json(
        json!({"status": "ready", "node": api.center.cfg.node}),
    ))
}

/// The API's routes.
pub fn router(api: Api) -> Router {
    let v1 = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/login", post(decisions::login))
        .route("/items", get(records::items))
        .route("/items/{hash}", get(records::item))
        .route("/items/{hash}/content", get(content::content))
        .route(
            "/items/{hash}/classification",
            put(decisions::item_classification),
        )
        .route("/activities", get(records::activities))
        .route("/activities/{county}/{id}", get(records::activity))
        .route(
            "/activities/{county}/{id}/interruptions/{interruption}/decision",
            post(decisions::interruption),
        )
        .route("/activities/{county}/{id}/hold", post(decisions::hold))
        .route(
            "/activities/{county}/{id}/annotations",
            post(decisions::annotate),
        )
        .route(
            "/activities/{county}/{id}/classification",
            put(decisions::classification),
        )
        .route("/grants", get(decisions::grants).post(decisions::grant))
        .route("/devices", get(records::devices))
        .route("/devices/{county}/{device}", get(equipment::device))
        .route("/reports/equipment", get(equipment::report))
        .route("/edges", get(records::edges))
        .route("/findings", get(records::findings))
        .route("/audit", get(records::audit));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::serve))
        .nest("/api/v1", v1)
        .merge(crate::web::routes())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            metrics::track,
        ))
        .with_state(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(listen: &str, tls: bool) -> HttpConfig {
        HttpConfig {
            listen: listen.parse().unwrap(),
            cert: tls.then(|| "c.pem".into()),
            key: tls.then(|| "k.pem".into()),
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let base = Path::new("/etc/jilu");
        assert!(http("127.0.0.1:8080", false).resolve(base).is_ok());
        assert!(http("[::1]:8080", false).resolve(base).is_ok());
        let err = http("0.0.0.0:8080", false).resolve(base).unwrap_err();
        assert!(
            err.contains("plain HTTP is allowed only on loopback"),
            "{err}"
        );
        assert!(http("10.1.0.5:8443", false).resolve(base).is_err());
        let mut ok = http("0.0.0.0:8443", true);
        assert!(ok.resolve(base).is_ok());
        assert_eq!(ok.cert.as_deref(), Some(Path::new("/etc/jilu/c.pem")));
        let mut half = http("0.0.0.0:8443", true);
        half.key = None;
        assert!(half
            .resolve(base)
            .unwrap_err()
            .contains("cert and key go together"));
    }

    #[test]
    fn the_example_config_reads() {
        let tmp = std::env::temp_dir().join(format!("jilu-example-{}.toml", std::process::id()));
        std::fs::write(&tmp, crate::config::CenterConfig::example()).unwrap();
        let cfg = crate::config::CenterConfig::load(&tmp).unwrap();
        let _ = std::fs::remove_file(&tmp);
        assert!(cfg.http.is_some());
        assert_eq!(cfg.accounts.hash_passes, 2);
    }
}
