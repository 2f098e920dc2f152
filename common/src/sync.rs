//! Who may write which document, and the pure decisions of a document sync.
//!
//! Document names carry their owner: `activity/<county>/<id>`,
//! `ledger/<county>/<month>` and `registry/<county>` belong to a county;
//! `catalogue` and `policy/...` to the city. An edge syncs the documents of its own
//! county and reads the city's; it may *write* only its county's, and every change it
//! sends must be authored by its own actor (derived from its certificate's node
//! name), so each change is attributable to the certificate that sent it.
//!
//! The machinery around these decisions is Jilu's own: a summary of every
//! document's heads and pages of digests for what differs ([`crate::doc_summary`]),
//! the Automerge sync protocol only for documents that differ, per-peer sync state
//! stored beside the document, over the mTLS QUIC control stream. `samod` 0.16
//! (automerge-repo for Rust, on automerge 0.12) was weighed for it and not taken:
//! - transport: it speaks automerge-repo's own CBOR protocol (handshake, per-document
//!   sync and announce messages) over any byte stream, so it could run on our QUIC
//!   stream bound to the certificate's peer id, but it syncs each active document
//!   on its own, with no summary comparison for thousands of unchanged ones;
//! - authorization: its share policy grants read-only or read-write per document and
//!   peer, and a writer's sync messages are applied straight into the document
//!   ("permissions apply to the delivering connection, not the original change
//!   author"): there is no point where a change can be refused for its author before
//!   it is merged, which `check_changes` needs;
//! - storage: an async key-value trait, one write per change or compacted snapshot
//!   under random UUID document ids, with sync states kept in memory: the merged
//!   document, its sync state and the audit entry cannot share one RocksDB batch,
//!   and our names (`activity/<county>/<id>`), from which ownership is read, would
//!   need a second index;
//! - maturity: 0.16, before 1.0, so any minor release may break its API; against
//!   it stand this module, `uplink::sync_docs` and `Center::sync_doc`, which the
//!   sync tests exercise over real QUIC.
//!
//! Its one feature Jilu lacks, read-only sync states (automerge 0.12's
//! `State::new_read_only`), does not replace the refusal either: it ignores a peer's
//! changes silently, where Jilu answers `Refused` and writes an audit entry.

use automerge::ActorId;

use crate::doc_name::DocName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    County(String),
    City,
}

/// The owner of a document, from its name; `None` for anything that is not a
/// document name ([`DocName`]'s grammar).
pub fn owner(name: &str) -> Option<Owner> {
    DocName::parse(name).ok().map(|n| n.owner())
}

/// Documents an edge of `county` receives and keeps.
pub fn visible_to(name: &str, county: &str) -> bool {
    match owner(name) {
        Some(Owner::County(c)) => c == county,
        Some(Owner::City) => true,
        None => false,
    }
}

/// Documents an edge of `county` may change.
pub fn writable_by(name: &str, county: &str) -> bool {
    matches!(owner(name), Some(Owner::County(c)) if c == county)
}

/// Why changes sent by a node were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// the document belongs to another county or to the city
    #[error("document {name} does not belong to county {county}")]
    NotOwner { name: String, county: String },
    /// a change was authored by another actor than the sending node
    #[error("document {name}: a change is authored by actor {actor}, not by node {node}")]
    ForeignActor {
        name: String,
        actor: String,
        node: String,
    },
}

/// Checks changes a node sent: `new_actors` are the authors of the changes the
/// receiver did not have before.
pub fn check_changes(
    name: &str,
    county: &str,
    node: &str,
    node_actor: &ActorId,
    new_actors: &[ActorId],
) -> Result<(), Refusal> {
    if new_actors.is_empty() {
        return Ok(());
    }
    if !writable_by(name, county) {
        return Err(Refusal::NotOwner {
            name: name.to_string(),
            county: county.to_string(),
        });
    }
    if let Some(a) = new_actors.iter().find(|a| *a != node_actor) {
        return Err(Refusal::ForeignActor {
            name: name.to_string(),
            actor: a.to_hex_string(),
            node: node.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::actor_for;

    #[test]
    fn owners_from_names() {
        assert_eq!(
            owner("activity/410422/A-1"),
            Some(Owner::County("410422".into()))
        );
        assert_eq!(
            owner("ledger/410422/2026-11"),
            Some(Owner::County("410422".into()))
        );
        assert_eq!(
            owner("registry/410422"),
            Some(Owner::County("410422".into()))
        );
        assert_eq!(owner("catalogue"), Some(Owner::City));
        assert_eq!(owner("policy/retention"), Some(Owner::City));
        for bad in [
            "",
            "activity",
            "activity/410422",
            "activity//x",
            "registry/a/b",
            "catalogue/x",
            "other/x",
            "policy/",
        ] {
            assert_eq!(owner(bad), None, "{bad}");
        }
        assert!(visible_to("catalogue", "410422"));
        assert!(!visible_to("activity/410423/A-1", "410422"));
        assert!(!writable_by("catalogue", "410422"));
    }

    #[test]
    fn only_own_county_and_own_actor() {
        let me = actor_for("edge-a");
        let other = actor_for("edge-b");
        assert!(check_changes(
            "activity/1/A",
            "1",
            "edge-a",
            &me,
            std::slice::from_ref(&me)
        )
        .is_ok());
        assert!(
            check_changes("catalogue", "1", "edge-a", &me, &[]).is_ok(),
            "no new changes: nothing to refuse"
        );
        assert!(matches!(
            check_changes(
                "activity/2/A",
                "1",
                "edge-a",
                &me,
                std::slice::from_ref(&me)
            ),
            Err(Refusal::NotOwner { .. })
        ));
        assert!(matches!(
            check_changes("catalogue", "1", "edge-a", &me, std::slice::from_ref(&me)),
            Err(Refusal::NotOwner { .. })
        ));
        assert!(matches!(
            check_changes("activity/1/A", "1", "edge-a", &me, &[me.clone(), other]),
            Err(Refusal::ForeignActor { .. })
        ));
    }
}
