//! `edge-node status`: what the archive keeper must act on, in one view.

use anyhow::Result;
use jilu_common::compliance::{self, Finding};
use jilu_common::time::{self, Millis};
use serde::Serialize;

use crate::dock::progress::{self, DockSnapshot};
use crate::edge::{now_ms, Edge};
use crate::store;

#[derive(Debug, Serialize)]
pub struct Status {
    pub node: String,
    pub county: String,
    pub now: Millis,
    pub items: u64,
    pub bytes: u64,
    /// not yet verified at the center
    pub upload_items: u64,
    pub upload_bytes: u64,
    pub oldest_waiting: Option<Millis>,
    /// devices out in the field
    pub checked_out: Vec<String>,
    /// ingests interrupted and not yet cleaned up (a read-write command cleans them)
    pub interrupted_ingests: u64,
    pub audit_entries: u64,
    pub findings: Vec<Finding>,
    /// the link to the center, if one is configured
    pub link: Option<crate::uplink::LinkState>,
    pub center_configured: bool,
    /// items found damaged in this node's store (not uploaded)
    pub locally_corrupt: Vec<String>,
    /// items the center refused from this node, with its reason
    pub refused: Vec<(String, String)>,
}

impl Edge {
    pub fn status(&self) -> Result<Status> {
        let now = now_ms();
        let items = self.items()?;
        let activities = self.activities()?;
        let matters = self.matters()?;
        let plain: Vec<_> = items.iter().map(|r| r.item.clone()).collect();
        let findings = compliance::check(&activities, &plain, &matters, &self.cfg.rules, now);
        let waiting: Vec<_> = items
            .iter()
            .filter(|r| r.center_verified_at.is_none())
            .collect();
        let checked_out = self
            .devices()?
            .into_iter()
            .filter(|d| d.status == jilu_common::registry::DeviceStatus::CheckedOut)
            .map(|d| d.id)
            .collect();
        Ok(Status {
            node: self.cfg.node.clone(),
            county: self.cfg.county.clone(),
            now,
            items: items.len() as u64,
            bytes: items.iter().map(|r| r.item.size).sum(),
            upload_items: waiting.len() as u64,
            upload_bytes: waiting.iter().map(|r| r.item.size).sum(),
            oldest_waiting: waiting.iter().map(|r| r.item.ingested_at).min(),
            checked_out,
            interrupted_ingests: self.store.scan(store::PENDING)?.len() as u64,
            audit_entries: self.head().next,
            findings,
            link: crate::uplink::link_state(self)?,
            center_configured: self.cfg.center.is_some(),
            locally_corrupt: crate::uplink::corrupt_items(self)?
                .into_iter()
                .map(|(h, _)| h)
                .collect(),
            refused: crate::uplink::refused_items(self)?,
        })
    }
}

impl Status {
    /// How long what waits takes to upload at the link's recent rate, if known.
    pub fn eta_ms(&self) -> Option<Millis> {
        match &self.link {
            Some(l) if l.recent_rate > 0.0 && self.upload_bytes > 0 => {
                Some((self.upload_bytes as f64 / l.recent_rate * 1000.0) as Millis)
            }
            _ => None,
        }
    }
}

/// The status with the docking station's progress, as `--json` prints it. The
/// process that runs the dock owns the progress; without one, `docked_cameras`
/// is null.
#[derive(Debug, Serialize)]
pub struct StatusView<'a> {
    #[serde(flatten)]
    pub status: &'a Status,
    pub docked_cameras: Option<&'a DockSnapshot>,
}

/// The status as an archive keeper reads it.
pub fn render(s: &Status) -> String {
    render_with_dock(s, None)
}

/// [`render`] with a "docked cameras" section from `dock`, when given.
pub fn render_with_dock(s: &Status, dock: Option<&DockSnapshot>) -> String {
    let mut out = String::new();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    out.push_str(&format!(
        "Jilu edge {} (county {}) at {}\n",
        s.node,
        s.county,
        time::format(s.now)
    ));
    out.push_str(&format!(
        "  stored:            {} items, {:.1} MiB\n",
        s.items,
        mib(s.bytes)
    ));
    let oldest = s
        .oldest_waiting
        .map(|t| format!(", oldest waiting {}", time::human_duration(s.now - t)))
        .unwrap_or_default();
    let eta = s
        .eta_ms()
        .map(|ms| {
            format!(
                ", drains in about {} at the recent rate",
                time::human_duration(ms)
            )
        })
        .unwrap_or_default();
    out.push_str(&format!(
        "  waiting to upload: {} items, {:.1} MiB{oldest}{eta}\n",
        s.upload_items,
        mib(s.upload_bytes)
    ));
    match (&s.link, s.center_configured) {
        (_, false) => out.push_str("  center link:       none configured (offline node)\n"),
        (None, true) => out.push_str("  center link:       never connected\n"),
        (Some(l), true) => out.push_str(&format!(
            "  center link:       {} since {}; last contact {}; {:.1} MiB sent, {} items verified{}\n",
            l.state,
            time::format(l.since),
            l.last_contact.map(time::format).unwrap_or_else(|| "never".into()),
            l.bytes_sent as f64 / 1048576.0,
            l.items_verified,
            l.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
        )),
    }
    for (h, why) in &s.refused {
        out.push_str(&format!(
            "  REFUSED BY CENTER: item {}: {why}\n",
            &h[..16.min(h.len())]
        ));
    }
    for h in &s.locally_corrupt {
        out.push_str(&format!(
            "  LOCAL CORRUPTION:  item {} is damaged in this store and is not uploaded\n",
            &h[..16.min(h.len())]
        ));
    }
    out.push_str(&format!(
        "  devices out:       {}\n",
        if s.checked_out.is_empty() {
            "none".to_string()
        } else {
            s.checked_out.join(", ")
        }
    ));
    out.push_str(&format!(
        "  audit log:         {} entries\n",
        s.audit_entries
    ));
    if s.interrupted_ingests > 0 {
        out.push_str(&format!(
            "  interrupted ingests: {} (cleaned up by the next ingest or dock run)\n",
            s.interrupted_ingests
        ));
    }
    if let Some(d) = dock {
        out.push_str(&progress::render(d));
    }
    if s.findings.is_empty() {
        out.push_str("  findings:          none\n");
        return out;
    }
    out.push_str(&format!("  findings:          {}\n", s.findings.len()));
    for f in &s.findings {
        let line = match f {
            Finding::Unlinked { item, name } => format!(
                "recording {} ({name}) is not linked to any activity",
                item.short()
            ),
            Finding::NoRecording { activity, matter } => {
                format!("activity {activity} (listed matter {matter}) has no recording")
            }
            Finding::CoverageGap { activity, from, to } => format!(
                "activity {activity}: no recording from {} to {} ({}) and no interruption record",
                time::format(*from),
                time::format(*to),
                time::human_duration(to - from)
            ),
            Finding::HandoverOverdue { activity, deadline } => {
                format!(
                    "activity {activity}: nothing handed over, deadline was {}",
                    time::format(*deadline)
                )
            }
            Finding::HandedOverLate {
                item,
                deadline,
                ingested_at,
            } => format!(
                "recording {} handed over {} after its deadline",
                item.short(),
                time::human_duration(ingested_at - deadline)
            ),
            Finding::CheckOverridden { device, reason, .. } => {
                format!("device {device} left although its pre-use check failed: {reason}")
            }
            Finding::InterruptionPending {
                activity,
                interruption,
                ..
            } => format!("activity {activity}: interruption {interruption} waits for approval"),
        };
        out.push_str(&format!("    [{}] {line}\n", f.article()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dock::progress::DockProgress;

    fn quiet_status() -> Status {
        Status {
            node: "edge-t".into(),
            county: "410402".into(),
            now: 1_800_000_000_000,
            items: 0,
            bytes: 0,
            upload_items: 0,
            upload_bytes: 0,
            oldest_waiting: None,
            checked_out: Vec::new(),
            interrupted_ingests: 0,
            audit_entries: 1,
            findings: Vec::new(),
            link: None,
            center_configured: false,
            locally_corrupt: Vec::new(),
            refused: Vec::new(),
        }
    }

    #[test]
    fn docked_cameras_show_only_when_a_snapshot_is_given() {
        let s = quiet_status();
        assert!(!render(&s).contains("docked cameras"));
        let mut p = DockProgress::default();
        p.found("cam-03", 2, 10 << 20);
        p.start("cam-03", "V1.MP4", 4 << 20, 1);
        p.advance("cam-03", 1 << 20);
        let snap = p.snapshot();
        let text = render_with_dock(&s, Some(&snap));
        assert!(
            text.contains("docked cameras:    1 (1 ingesting now)"),
            "{text}"
        );
        assert!(
            text.contains("cam-03: 0/2 files, 1.0 MiB stored, 9.0 MiB left"),
            "{text}"
        );
        let json = serde_json::to_value(StatusView {
            status: &s,
            docked_cameras: Some(&snap),
        })
        .unwrap();
        assert_eq!(json["docked_cameras"]["cameras"][0]["bytes_left"], 9 << 20);
        assert_eq!(json["node"], "edge-t");
    }
}
