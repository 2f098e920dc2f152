//! `/metrics` in the Prometheus text format: per-edge last contact, queue and
//! lag, sessions, bytes, refusals; HTTP latency histograms per route; the sizes
//! of the store's families (the projections among them).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jilu_store::journal::now_ms;

use super::error::ApiError;
use super::Api;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) → latencies
    http: Mutex<BTreeMap<(String, u16), Histogram>>,
    refusals: AtomicU64,
}

impl Metrics {
    pub fn refused(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, route: String, status: u16, secs: f64) {
        let mut m = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let h = m.entry((route, status)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }
}

/// Times every request under its route template.
pub async fn track(State(api): State<Api>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let resp = next.run(req).await;
    api.metrics.observe(
        route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

/// name, type, value of one edge at a time
type Gauge = (
    &'static str,
    &'static str,
    fn(&crate::center::PeerRecord, i64) -> f64,
);

fn render(api: &Api) -> anyhow::Result<String> {
    let mut out = String::new();
    let c = &api.center;
    let now = now_ms();
    let peers = c.peers()?;
    let gauges: [Gauge; 9] = [
        ("jilu_edge_last_contact_seconds", "gauge", |p, _| {
            p.last_contact as f64 / 1000.0
        }),
        ("jilu_edge_lag_seconds", "gauge", |p, now| {
            (now - p.last_contact) as f64 / 1000.0
        }),
        ("jilu_edge_connected", "gauge", |p, _| {
            f64::from(u8::from(p.connected))
        }),
        ("jilu_edge_queue_items", "gauge", |p, _| {
            p.pending_items as f64
        }),
        ("jilu_edge_queue_bytes", "gauge", |p, _| {
            p.pending_bytes as f64
        }),
        ("jilu_edge_sessions_total", "counter", |p, _| {
            p.sessions as f64
        }),
        ("jilu_edge_received_bytes_total", "counter", |p, _| {
            p.bytes_received as f64
        }),
        ("jilu_edge_items_verified_total", "counter", |p, _| {
            p.items_verified as f64
        }),
        ("jilu_edge_refused", "gauge", |p, _| {
            f64::from(u8::from(p.last_refusal.is_some()))
        }),
    ];
    for (name, kind, f) in gauges {
        writeln!(out, "# TYPE {name} {kind}")?;
        for p in &peers {
            writeln!(
                out,
                "{name}{{node=\"{}\",county=\"{}\"}} {}",
                label(&p.node),
                label(&p.county),
                f(p, now)
            )?;
        }
    }
    writeln!(out, "# TYPE jilu_http_refusals_total counter")?;
    writeln!(
        out,
        "jilu_http_refusals_total {}",
        api.metrics.refusals.load(Ordering::Relaxed)
    )?;
    writeln!(out, "# TYPE jilu_quic_refusals_total counter")?;
    for (reason, n) in c.refusals.counts() {
        writeln!(
            out,
            "jilu_quic_refusals_total{{reason=\"{}\"}} {n}",
            reason.label()
        )?;
    }
    writeln!(out, "# TYPE jilu_store_keys gauge")?;
    for family in crate::schema::FAMILIES
        .iter()
        .chain(jilu_store::db::BASE.iter())
    {
        let cf = c.journal.store.cf(family)?;
        let n = c
            .journal
            .store
            .db
            .property_int_value_cf(&cf, "rocksdb.estimate-num-keys")
            .ok()
            .flatten()
            .unwrap_or(0);
        writeln!(out, "jilu_store_keys{{family=\"{family}\"}} {n}")?;
    }
    writeln!(out, "# TYPE jilu_http_request_duration_seconds histogram")?;
    let http = api
        .metrics
        .http
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for ((route, status), h) in http {
        let l = format!("route=\"{}\",status=\"{status}\"", label(&route));
        for (b, n) in BUCKETS.iter().zip(h.counts) {
            writeln!(
                out,
                "jilu_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {n}"
            )?;
        }
        writeln!(
            out,
            "jilu_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
            h.count
        )?;
        writeln!(
            out,
            "jilu_http_request_duration_seconds_sum{{{l}}} {}",
            h.sum
        )?;
        writeln!(
            out,
            "jilu_http_request_duration_seconds_count{{{l}}} {}",
            h.count
        )?;
    }
    Ok(out)
}

pub async fn serve(State(api): State<Api>) -> Result<Response, ApiError> {
    let text = tokio::task::spawn_blocking(move || render(&api))
        .await
        .map_err(ApiError::internal)??;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(resp)
}
