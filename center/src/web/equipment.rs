//! The device page (registry entry, check-out ledger with pre-use checks,
//! overrides and clock offsets) and the equipment ratio report (art. 3), over
//! the API's queries of [`crate::http::equipment`].

use axum::extract::{Path, Query};
use axum::response::Response;
use jilu_web::pages::{CheckoutLine, DevicePage, RatioLine, RegisteredLine, ReportPage};
use jilu_web::Lang;
use serde_json::Value;

use super::pages::{get, next_url, params, Q};
use super::view::{text, when};
use super::WebCall;
use crate::http::equipment::{self, DEVICE_PARAMS, REPORT_PARAMS};

fn checkout_line(v: &Value) -> CheckoutLine {
    let failures: Vec<&str> = v["check_failures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let check = &v["check"];
    CheckoutLine {
        id: text(v, "id"),
        officer: text(v, "officer"),
        out_at: v["out_at"].as_i64().map(when).unwrap_or_default(),
        in_at: v["in_at"].as_i64().map(when).unwrap_or_default(),
        in_note: text(v, "in_note"),
        purpose: text(v, "purpose"),
        battery: check["battery_pct"].as_u64().unwrap_or(0).min(100) as u8,
        free_mb: check["free_storage_mb"].as_u64().unwrap_or(0),
        works: check["works"].as_bool().unwrap_or(false),
        clock_offset_ms: check["clock_offset_ms"].as_i64().unwrap_or(0),
        failures: failures.join("; "),
        override_reason: text(v, "override_reason"),
    }
}

fn registered(lang: Lang, v: &Value) -> Option<RegisteredLine> {
    (!v.is_null()).then(|| RegisteredLine {
        kind: lang.label(&text(v, "kind")).to_string(),
        serial: text(v, "serial"),
        unit: text(v, "unit"),
        status: lang.label(&text(v, "status")).to_string(),
    })
}

/// `/web/devices/{county}/{device}?cursor=`.
pub async fn device(
    call: WebCall,
    Path((county, device)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    let lang = call.lang;
    call.page("devices", move |c, who, chrome| {
        let v = equipment::one_device(c, who, (&county, &device), &params(&q, &DEVICE_PARAMS)?)?;
        let items = v["items"].as_u64().unwrap_or(0);
        Ok(DevicePage {
            c: chrome,
            registered: registered(lang, &v["registered"]),
            items,
            last_capture: v["last_capture"]
                .as_i64()
                .map(when)
                .unwrap_or_else(|| "—".into()),
            rows: v["checkouts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(checkout_line)
                .collect(),
            next: next_url(
                &format!("/web/devices/{county}/{device}"),
                &q,
                &[],
                v["next"].as_str(),
            ),
            county,
            device,
        })
    })
    .await
}

/// `/web/report?county=&cursor=`: devices per officer of each county against
/// the configured target, units below it flagged.
pub async fn report(call: WebCall, Query(q): Q) -> Response {
    call.page("report", move |c, who, chrome| {
        let v = equipment::equipment_report(c, who, &params(&q, &REPORT_PARAMS)?)?;
        Ok(ReportPage {
            c: chrome,
            county: get(&q, "county"),
            target: format!("{:.2}", v["target"].as_f64().unwrap_or(0.0)),
            rows: v["units"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|u| RatioLine {
                    county: text(u, "county"),
                    officers: u["officers"].as_u64().unwrap_or(0),
                    devices: u["devices"].as_u64().unwrap_or(0),
                    ratio: u["ratio"]
                        .as_f64()
                        .map(|r| format!("{r:.2}"))
                        .unwrap_or_default(),
                    below: u["below"].as_bool().unwrap_or(false),
                })
                .collect(),
            next: next_url("/web/report", &q, &["county"], v["next"].as_str()),
        })
    })
    .await
}
