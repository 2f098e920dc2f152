//! The node's records as the office page's models: times in China Standard
//! Time, codes as labels of the page's language, sizes in MiB. Pure functions.

use std::collections::HashMap;

use jilu_common::activity::{Activity, ApprovalState};
use jilu_common::compliance::Finding;
use jilu_common::ledger::CheckOut;
use jilu_common::time::{cst, human_duration, Millis};
use jilu_web::office::{CameraLine, OutLine};
use jilu_web::pages::{ActivityLine, EdgeLine, FindingLine};
use jilu_web::Lang;

use crate::dock::progress::CameraSnapshot;
use crate::status::Status;

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1_048_576.0)
}

pub fn out_line(c: &CheckOut) -> OutLine {
    OutLine {
        device: c.device.clone(),
        officer: c.officer.clone(),
        purpose: c.purpose.clone(),
        out_at: cst(c.out_at),
        battery: c.check.battery_pct,
        free_mb: c.check.free_storage_mb,
        clock_offset: c.check.clock_offset_ms,
        overridden: c.override_reason.clone().unwrap_or_default(),
    }
}

/// Activities that arrived on site on the China Standard Time day from `day_start`.
pub fn today(
    lang: Lang,
    county: &str,
    all: &[Activity],
    day_start: Millis,
) -> Vec<(ActivityLine, String)> {
    let mut rows: Vec<&Activity> = all
        .iter()
        .filter(|a| a.arrival >= day_start && a.arrival < day_start + 86_400_000)
        .collect();
    rows.sort_by_key(|a| a.arrival);
    rows.into_iter()
        .map(|a| {
            let pending = a
                .interruptions
                .iter()
                .filter(|i| i.approval.state == ApprovalState::Pending)
                .count() as u64;
            let line = ActivityLine {
                county: county.to_string(),
                id: a.id.clone(),
                matter: a.matter.clone(),
                place: a.place.clone(),
                officers: a.officers.join(", "),
                arrival: cst(a.arrival),
                items: a.items.len() as u64,
                pending,
                held: a.hold.is_some(),
                class: lang
                    .label(a.classification.as_deref().unwrap_or("ordinary"))
                    .to_string(),
            };
            (line, a.departure.map(cst).unwrap_or_else(|| "—".into()))
        })
        .collect()
}

pub fn camera_line(k: &CameraSnapshot) -> CameraLine {
    CameraLine {
        device: k.device.clone(),
        files: format!("{}/{}", k.files_done, k.files_seen),
        failed: k.files_failed,
        stored: mib(k.bytes_ingested),
        left: mib(k.bytes_left),
        current: k
            .current
            .as_ref()
            .map(|p| format!("{p} ({} / {})", mib(k.current_done), mib(k.current_size)))
            .unwrap_or_default(),
        rate: format!("{}/s", mib(k.rate_bytes_per_sec as u64)),
        eta: k.eta_ms.map(human_duration).unwrap_or_else(|| "—".into()),
    }
}

/// The node as the bureau's counties page shows an edge, with the queue's ETA
/// as `edge-node status` computes it.
pub fn edge_line(s: &Status) -> EdgeLine {
    let link = s.link.as_ref();
    EdgeLine {
        node: s.node.clone(),
        online: link.is_some_and(|l| l.state == "online"),
        last_contact: link
            .and_then(|l| l.last_contact)
            .map(cst)
            .unwrap_or_else(|| "—".into()),
        queue: format!("{} / {}", s.upload_items, mib(s.upload_bytes)),
        eta: match s.eta_ms() {
            Some(ms) => human_duration(ms),
            None if s.upload_items == 0 => "—".into(),
            None => "?".into(),
        },
        verified: link.map_or(0, |l| l.items_verified),
    }
}

/// A finding of `edge-node status`, with the officers of the activity it concerns.
pub fn finding_line(
    lang: Lang,
    county: &str,
    f: &Finding,
    officers: &HashMap<String, String>,
) -> FindingLine {
    let of = |a: &str| officers.get(a).cloned().unwrap_or_default();
    let (concerns, who, when) = match f {
        Finding::Unlinked { item, name } => (
            format!("{} ({name})", item.short()),
            String::new(),
            String::new(),
        ),
        Finding::NoRecording { activity, matter } => (
            format!("{activity} ({matter})"),
            of(activity),
            String::new(),
        ),
        Finding::CoverageGap { activity, from, to } => (
            activity.clone(),
            of(activity),
            format!("{} – {}", cst(*from), cst(*to)),
        ),
        Finding::HandoverOverdue { activity, deadline } => {
            (activity.clone(), of(activity), cst(*deadline))
        }
        Finding::HandedOverLate { item, deadline, .. } => {
            (item.short(), String::new(), cst(*deadline))
        }
        Finding::CheckOverridden {
            device,
            officer,
            out_at,
            reason,
            ..
        } => (format!("{device}: {reason}"), officer.clone(), cst(*out_at)),
        Finding::InterruptionPending {
            activity,
            interruption,
            from,
            to,
        } => (
            format!("{activity} / {interruption}"),
            of(activity),
            format!("{} – {}", cst(*from), cst(*to)),
        ),
    };
    let code = serde_json::to_value(f)
        .ok()
        .and_then(|v| v["finding"].as_str().map(str::to_string))
        .unwrap_or_default();
    FindingLine {
        county: county.to_string(),
        article: f.article().to_string(),
        finding: lang.label(&code).to_string(),
        officers: who,
        concerns,
        link: String::new(),
        when,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_labelled_in_the_pages_language() {
        let f = Finding::HandoverOverdue {
            activity: "A-1".into(),
            deadline: jilu_common::time::parse("2026-11-20T01:00:00Z").unwrap(),
        };
        let officers = HashMap::from([("A-1".to_string(), "1001".to_string())]);
        let zh = finding_line(Lang::Zh, "410402", &f, &officers);
        assert_eq!(zh.finding, "逾期未移交");
        assert_eq!(
            (zh.officers.as_str(), zh.when.as_str()),
            ("1001", "2026-11-20 09:00:00")
        );
        let f = Finding::CheckOverridden {
            checkout: "c".into(),
            device: "cam-01".into(),
            officer: "1001".into(),
            out_at: 0,
            failures: vec![],
            reason: "spare".into(),
        };
        assert_eq!(
            finding_line(Lang::En, "410402", &f, &officers).finding,
            "check-out despite a failed pre-use check"
        );
    }
}
