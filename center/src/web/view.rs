//! The API's answers as page models: times in China Standard Time (UTC+8, the
//! bureau's clock), codes as labels of the page's language, hashes shortened
//! for lists. Pure functions of the records; no access decisions here (those
//! were made by the query that produced the records).

use jilu_common::time::Millis;
use jilu_web::pages::{
    ActivityLine, AnnotationLine, AuditLine, CustodyLine, DeliveryLine, DeviceLine, EdgeLine,
    InterruptionLine, ItemLine,
};
use jilu_web::Lang;
use serde_json::Value;

use crate::index::ActivityRow;

/// `2026-11-20 09:00:00` in UTC+8.
pub use jilu_common::time::cst as when;

pub fn when_opt(ms: Option<Millis>) -> String {
    ms.map(when).unwrap_or_else(|| "—".into())
}

pub fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn label(lang: Lang, v: &Value, k: &str) -> String {
    lang.label(&text(v, k)).to_string()
}

/// The first 12 hex digits.
pub fn short(hash: &str) -> String {
    hash.get(..12).unwrap_or(hash).to_string()
}

pub fn activity_line(lang: Lang, r: &ActivityRow) -> ActivityLine {
    let a = &r.activity;
    ActivityLine {
        county: r.county.clone(),
        id: a.id.clone(),
        matter: a.matter.clone(),
        place: a.place.clone(),
        officers: a.officers.join(", "),
        arrival: when(a.arrival),
        items: r.items,
        pending: r.pending,
        held: a.hold.is_some(),
        class: lang.label(r.class.as_str()).to_string(),
    }
}

fn code_of<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

pub fn interruptions(lang: Lang, r: &ActivityRow) -> Vec<InterruptionLine> {
    r.activity
        .interruptions
        .iter()
        .map(|i| {
            let state = code_of(&i.approval.state);
            InterruptionLine {
                id: i.id.clone(),
                reason: lang.label(&code_of(&i.reason)).to_string(),
                basis: i.basis.clone(),
                period: format!("{} – {}", when(i.from), when(i.to)),
                written_by: i.written_by.clone(),
                pending: state == "pending",
                state: lang.label(&state).to_string(),
                decided: match (&i.approval.by, i.approval.at) {
                    (Some(by), Some(at)) => format!(
                        "{by} {}{}",
                        when(at),
                        i.approval
                            .note
                            .as_ref()
                            .map(|n| format!(" · {n}"))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                },
            }
        })
        .collect()
}

pub fn annotations(lang: Lang, r: &ActivityRow) -> Vec<AnnotationLine> {
    r.activity
        .annotations
        .iter()
        .map(|n| AnnotationLine {
            kind: lang.label(&code_of(&n.kind)).to_string(),
            text: n.text.clone(),
            by: n.by.clone(),
        })
        .collect()
}

/// An item of the API's JSON (`item_json`: the item, its state and class).
pub fn item_line(lang: Lang, v: &Value) -> ItemLine {
    let hash = text(v, "hash");
    ItemLine {
        short: short(&hash),
        hash,
        kind: label(lang, v, "kind"),
        name: text(v, "original_name"),
        captured: v["capture_start"].as_i64().map(when).unwrap_or_default(),
        officer: text(v, "officer"),
        state: label(lang, v, "state"),
    }
}

pub fn custody_line(lang: Lang, e: &Value) -> CustodyLine {
    CustodyLine {
        seq: e["seq"].as_u64().unwrap_or(0),
        at: e["at"].as_i64().map(when).unwrap_or_default(),
        node: text(e, "node"),
        actor: text(e, "actor"),
        action: action_label(lang, &text(e, "action")),
        detail: e["detail"].to_string(),
    }
}

pub fn audit_line(lang: Lang, e: &Value) -> AuditLine {
    AuditLine {
        seq: e["seq"].as_u64().unwrap_or(0),
        at: e["at"].as_i64().map(when).unwrap_or_default(),
        node: text(e, "node"),
        actor: text(e, "actor"),
        action: action_label(lang, &text(e, "action")),
        subject: text(e, "subject"),
        detail: e["detail"].to_string(),
    }
}

/// The audit actions a custody chain shows, named; others as their code.
pub fn action_label(lang: Lang, code: &str) -> String {
    let zh = match code {
        "ingest" => "采集入库",
        "verified" => "节点核验",
        "verified_at_center" => "中心核验",
        "content_served" => "查看",
        "export" => "导出",
        "chunks_freed" => "节点释放",
        "access" => "访问",
        "source_wiped" => "设备擦除",
        _ => return code.to_string(),
    };
    match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => code.replace('_', " "),
    }
}

pub fn edge_line(v: &Value) -> EdgeLine {
    let items = v["pending_items"].as_u64().unwrap_or(0);
    let bytes = v["pending_bytes"].as_u64().unwrap_or(0);
    let rate = v["recent_rate"].as_f64().unwrap_or(0.0);
    EdgeLine {
        node: text(v, "node"),
        online: v["connected"].as_bool().unwrap_or(false),
        last_contact: v["last_contact"].as_i64().map(when).unwrap_or_default(),
        queue: format!("{items} / {:.1} MiB", bytes as f64 / 1048576.0),
        eta: if items == 0 {
            "—".into()
        } else if rate > 0.0 {
            format!("{:.0} s", bytes as f64 / rate)
        } else {
            "?".into()
        },
        verified: v["items_verified"].as_u64().unwrap_or(0),
    }
}

pub fn device_line(lang: Lang, v: &Value) -> DeviceLine {
    let items = v["items"].as_u64().unwrap_or(0);
    DeviceLine {
        county: text(v, "county"),
        device: text(v, "device"),
        kind: label(lang, &v["registered"], "kind"),
        status: label(lang, &v["registered"], "status"),
        items,
        last_capture: match v["last_capture"].as_i64() {
            Some(t) if items > 0 => when(t),
            _ => "—".into(),
        },
    }
}

/// The decisions of the API's `deliveries`, newest first.
pub fn deliveries(lang: Lang, v: &Value) -> Vec<DeliveryLine> {
    let mut out: Vec<DeliveryLine> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let r = &d["received"];
            DeliveryLine {
                action: label(lang, d, "action"),
                by: text(d, "by"),
                at: d["at"].as_i64().map(when).unwrap_or_default(),
                waiting: r.is_null(),
                received: lang
                    .strings()
                    .delivery_received
                    .replace("{node}", &text(r, "node"))
                    .replace("{at}", &r["at"].as_i64().map(when).unwrap_or_default()),
            }
        })
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_china_standard_time() {
        // 2026-11-20T01:00:00Z is 09:00 in Beijing
        let ms = jilu_common::time::parse("2026-11-20T01:00:00Z").unwrap();
        assert_eq!(when(ms), "2026-11-20 09:00:00");
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(action_label(Lang::Zh, "content_served"), "查看");
        assert_eq!(action_label(Lang::En, "content_served"), "content served");
    }
}
