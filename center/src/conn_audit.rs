//! Connections audited per peer and minute: the first connection of a node in a
//! minute gets its `peer_connected` entry at once; further ones in that minute are
//! counted and written as one summary entry (`{"minute", "connections"}`) once the
//! minute is over. A node that reconnects 500 times a minute adds two entries, not
//! 500, and every connection still leaves a trace.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use jilu_certs::identity::Identity;
use jilu_common::audit::Action;
use jilu_common::subject::Subject;
use serde_json::json;

use crate::center::Center;

#[derive(Debug)]
struct Minute {
    minute: i64,
    /// connections in that minute after the first (already audited) one
    more: u64,
    county: String,
    role: String,
}

#[derive(Debug, Default)]
pub struct ConnAudit(Mutex<HashMap<String, Minute>>);

impl ConnAudit {
    /// Audits (or counts) a connection of `peer` at `now_ms`.
    pub fn connected(&self, center: &Center, peer: &Identity, now_ms: i64) -> Result<()> {
        let minute = now_ms.div_euclid(60_000);
        let earlier = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = map.get_mut(&peer.node) {
                if m.minute == minute {
                    m.more += 1;
                    return Ok(());
                }
            }
            map.insert(
                peer.node.clone(),
                Minute {
                    minute,
                    more: 0,
                    county: peer.county.clone(),
                    role: peer.role.to_string(),
                },
            )
        };
        let mut tx = center.journal.begin();
        if let Some(m) = earlier.filter(|m| m.more > 0) {
            summary(&mut tx, &peer.node, &m)?;
        }
        tx.audit(
            &peer.node,
            Action::PeerConnected,
            Subject::Node(peer.node.to_string()),
            json!({"county": peer.county, "role": peer.role.to_string()}),
            &[],
        )?;
        tx.commit()
    }

    /// Writes the summaries of minutes that are over (run every minute).
    pub fn flush(&self, center: &Center, now_ms: i64) -> Result<()> {
        let minute = now_ms.div_euclid(60_000);
        let done: Vec<(String, Minute)> = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let old: Vec<String> = map
                .iter()
                .filter(|(_, m)| m.minute < minute)
                .map(|(k, _)| k.clone())
                .collect();
            old.into_iter()
                .filter_map(|k| map.remove(&k).map(|m| (k, m)))
                .collect()
        };
        let mut tx = center.journal.begin();
        for (node, m) in done.iter().filter(|(_, m)| m.more > 0) {
            summary(&mut tx, node, m)?;
        }
        tx.commit()
    }
}

fn summary(tx: &mut jilu_store::journal::Tx<'_>, node: &str, m: &Minute) -> Result<()> {
    tx.audit(
        node,
        Action::PeerConnected,
        Subject::Node(node.to_string()),
        json!({"county": m.county, "role": m.role, "minute": m.minute * 60_000, "connections": m.more, "aggregated": true}),
        &[],
    )?;
    Ok(())
}
