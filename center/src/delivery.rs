//! Decisions made at the center (an interruption approved or returned, a hold, a
//! classification, an annotation) reach the county's edge through the merged
//! document at its next sync. Each is kept here with the document's heads right
//! after it; when an edge's sync message shows heads that cover them
//! ([`jilu_common::delivery::received`]), the decision is marked received by
//! that node, at that time, in the same batch as the sync state. The pages and
//! the API show "sent, waiting for the edge's next sync" or "received by edge
//! NODE at TIME".

use anyhow::Result;
use automerge::{AutoCommit, ChangeHash};
use jilu_common::record::Record;
use jilu_common::time::Millis;
use jilu_store::journal::{now_ms, Tx};
use serde::{Deserialize, Serialize};

use crate::center::Center;
use crate::schema::{delivery_key, delivery_waiting, DELIVERIES};

/// The latest decisions kept per document and subject.
const KEPT: usize = 32;

/// Who received a decision, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub node: String,
    pub at: Millis,
}

/// One decision and whether the edge has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// the audit action's code (`hold_set`, `interruption_decided`, ...)
    pub action: String,
    pub by: String,
    pub at: Millis,
    /// the document's heads right after the decision (hex)
    pub heads: Vec<String>,
    pub received: Option<Received>,
}

/// The decisions on one document (and subject), oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub decisions: Vec<Decision>,
}

impl Record for Sent {
    const NAME: &'static str = "decisions sent";
    const VERSION: u16 = 1;
}

fn hashes(heads: &[String]) -> Vec<ChangeHash> {
    heads.iter().filter_map(|h| h.parse().ok()).collect()
}

/// Adds a decision on `doc` (about `about`: an item's hash, or "") to `tx`,
/// with `d`'s heads after the change (`d` as just written).
pub fn record(
    center: &Center,
    tx: &mut Tx<'_>,
    (doc, about): (&str, &str),
    action: jilu_common::audit::Action,
    by: &str,
    d: &mut AutoCommit,
) -> Result<()> {
    let key = delivery_key(b's', doc, about);
    let mut sent: Sent = center
        .journal
        .store
        .get_record(DELIVERIES, &key)?
        .unwrap_or_default();
    let action = match serde_json::to_value(action)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    sent.decisions.push(Decision {
        action,
        by: by.to_string(),
        at: now_ms(),
        heads: d.get_heads().iter().map(|h| h.to_string()).collect(),
        received: None,
    });
    let drop = sent.decisions.len().saturating_sub(KEPT);
    sent.decisions.drain(..drop);
    tx.put_record(DELIVERIES, &key, &sent)?;
    tx.put(DELIVERIES, &delivery_key(b'p', doc, about), &[])
}

/// Called in a sync step with `node`, once its message (heads `theirs`) is
/// applied to `d`: marks what those heads cover as received.
pub fn on_sync(
    center: &Center,
    tx: &mut Tx<'_>,
    node: &str,
    (doc, d): (&str, &mut AutoCommit),
    theirs: &[ChangeHash],
) -> Result<()> {
    let store = &center.journal.store;
    let waiting = delivery_waiting(doc);
    for (k, _) in store.scan_prefix(DELIVERIES, &waiting)? {
        let about = String::from_utf8_lossy(&k[waiting.len()..]).into_owned();
        let key = delivery_key(b's', doc, &about);
        let mut sent: Sent = store.get_record(DELIVERIES, &key)?.unwrap_or_default();
        let mut open = false;
        let now = now_ms();
        for dec in sent.decisions.iter_mut().filter(|x| x.received.is_none()) {
            if jilu_common::delivery::received(d, theirs, &hashes(&dec.heads)) {
                dec.received = Some(Received {
                    node: node.to_string(),
                    at: now,
                });
            } else {
                open = true;
            }
        }
        tx.put_record(DELIVERIES, &key, &sent)?;
        if !open {
            tx.delete(DELIVERIES, &k)?;
        }
    }
    Ok(())
}

/// The decisions on `doc` about `about`, oldest first.
pub fn of(center: &Center, doc: &str, about: &str) -> Result<Vec<Decision>> {
    Ok(center
        .journal
        .store
        .get_record::<Sent>(DELIVERIES, &delivery_key(b's', doc, about))?
        .unwrap_or_default()
        .decisions)
}
