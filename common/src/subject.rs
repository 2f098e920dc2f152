//! What an audit entry is about ([`Subject`]) and who acted ([`Actor`]), each
//! built and parsed in one place. An entry stores the subject as its text
//! (`item:<hash>`, `device:<id>`, `doc:<name>` …), so the stored log did not
//! change when subjects became a type, and an auditor's `--subject item:` filter
//! still matches by prefix.

use std::fmt;
use std::str::FromStr;

use crate::hash::Hash;

/// What an audit entry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// a recording
    Item(Hash),
    /// a registered device
    Device(String),
    /// an officer, by badge
    Officer(String),
    /// a row of the matter catalogue
    Matter(String),
    /// an enforcement activity of this node's county, by id
    Activity(String),
    /// an Automerge document, by name
    Doc(String),
    /// a node, by name (initialisation, connections)
    Node(String),
    /// an ingest that never became an item (discarded), by ingest id
    Ingest(u64),
    /// an offer a peer sent that was refused before it named a valid item
    Offer,
}

/// A text that is not a subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an audit subject: use item:HASH, device:ID, officer:BADGE, matter:ID, activity:ID, doc:NAME, node:NAME or ingest:N")]
pub struct SubjectError(pub String);

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Item(h) => write!(f, "item:{h}"),
            Subject::Device(id) => write!(f, "device:{id}"),
            Subject::Officer(b) => write!(f, "officer:{b}"),
            Subject::Matter(id) => write!(f, "matter:{id}"),
            Subject::Activity(id) => write!(f, "activity:{id}"),
            Subject::Doc(name) => write!(f, "doc:{name}"),
            Subject::Node(n) => write!(f, "node:{n}"),
            Subject::Ingest(n) => write!(f, "ingest:{n}"),
            Subject::Offer => f.write_str("offer"),
        }
    }
}

impl FromStr for Subject {
    type Err = SubjectError;
    fn from_str(s: &str) -> Result<Subject, SubjectError> {
        let bad = || SubjectError(s.to_string());
        if s == "offer" {
            return Ok(Subject::Offer);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        Ok(match kind {
            "item" => Subject::Item(rest.parse().map_err(|_| bad())?),
            "device" => Subject::Device(rest.to_string()),
            "officer" => Subject::Officer(rest.to_string()),
            "matter" => Subject::Matter(rest.to_string()),
            "activity" => Subject::Activity(rest.to_string()),
            "doc" => Subject::Doc(rest.to_string()),
            "node" => Subject::Node(rest.to_string()),
            "ingest" => Subject::Ingest(rest.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    }
}

/// Who acted, as an audit entry records it: the actor's name (a badge, a keeper,
/// a bureau user, or the node itself: "jilu", "dock", "center") and, when the
/// action came through a channel that knows more, who was on its other end (the
/// OS user of a CLI on the edge's control socket, say), so a shared kiosk
/// account or a shared badge is visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub via: Option<String>,
}

impl Actor {
    /// The node acting on its own (recovery, sync, dock watch).
    pub fn system(name: &str) -> Actor {
        Actor {
            name: name.to_string(),
            via: None,
        }
    }

    pub fn new(name: &str, via: Option<String>) -> Actor {
        Actor {
            name: name.to_string(),
            via,
        }
    }
}

impl From<&str> for Actor {
    fn from(name: &str) -> Actor {
        Actor::system(name)
    }
}

impl From<&String> for Actor {
    fn from(name: &String) -> Actor {
        Actor::system(name)
    }
}

impl From<&Actor> for Actor {
    fn from(a: &Actor) -> Actor {
        a.clone()
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.via {
            Some(via) => write!(f, "{} (via {via})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_bad_ones_are_refused() {
        let h = Hash::of(b"x");
        for s in [
            Subject::Item(h),
            Subject::Device("cam-01".into()),
            Subject::Officer("1001".into()),
            Subject::Matter("1".into()),
            Subject::Activity("A-1".into()),
            Subject::Doc("activity/410422/A-1".into()),
            Subject::Node("edge-410422".into()),
            Subject::Ingest(7),
            Subject::Offer,
        ] {
            assert_eq!(s.to_string().parse::<Subject>().unwrap(), s);
        }
        assert_eq!(Subject::Item(h).to_string(), format!("item:{}", h.to_hex()));
        for bad in [
            "",
            "item",
            "item:",
            "item:abc",
            "nothing:x",
            "ingest:x",
            "device",
        ] {
            assert!(bad.parse::<Subject>().is_err(), "{bad}");
        }
    }
}
